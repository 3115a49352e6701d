// Tokens on the auth_tokens table: creation, authentication, revocation.
#include "auth/tokens.h"

#include <ctime>

#include "auth/crypto.h"

namespace sluice::auth {
namespace {

constexpr const char* kTokenColumns =
    "t.id, u.name, t.kind, t.name, t.created_ns, t.expires_ns, t.last_used_ns, t.revoked_ns";

TokenInfo row_to_token(Stmt& s) {
  TokenInfo t;
  t.id = s.integer(0);
  t.user = s.text(1);
  t.kind = s.text(2) == "session" ? TokenKind::kSession : TokenKind::kApi;
  t.name = s.text(3);
  t.created_ns = s.integer(4);
  t.expires_ns = s.integer(5);
  t.last_used_ns = s.integer(6);
  t.revoked_ns = s.integer(7);
  return t;
}

Status check_token_name(std::string_view name) {
  if (name.empty()) return invalid_argument("the token needs a name (what or who uses it)");
  if (name.size() > kMaxTokenNameLength) {
    return invalid_argument("the token name is longer than " + std::to_string(kMaxTokenNameLength) +
                            " characters");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return invalid_argument("the token name has a control character");
    }
  }
  return Status::ok_status();
}

}  // namespace

const char* token_kind_name(TokenKind kind) {
  return kind == TokenKind::kSession ? "session" : "api";
}

std::string format_time_utc(int64_t ns) {
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TokenStore::TokenStore(AuthDb& db, Clock& clock, TokenOptions options)
    : db_(db), clock_(clock), options_(options) {}

Result<IssuedToken> TokenStore::create(std::string_view user, TokenKind kind, std::string_view name,
                                       int64_t expires_ns) {
  SLUICE_RETURN_IF_ERROR(check_token_name(name));
  const int64_t now = clock_.now();
  if (expires_ns != 0 && expires_ns <= now) {
    return invalid_argument("the token's expiry " + format_time_utc(expires_ns) +
                            " is not in the future");
  }
  SLUICE_ASSIGN_OR_RETURN(std::string text, new_token_text());
  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(),
         "INSERT INTO auth_tokens(user_id, kind, name, token_hash, created_ns, expires_ns) "
         "SELECT id, ?2, ?3, ?4, ?5, ?6 FROM auth_users WHERE name = ?1");
  if (!s.ok()) return db_.error("state database: create token");
  s.bind(1, user);
  s.bind(2, std::string_view(token_kind_name(kind)));
  s.bind(3, name);
  s.bind_blob(4, sha256(text));
  s.bind(5, now);
  s.bind(6, expires_ns);
  if (s.step() != SQLITE_DONE) return db_.error("state database: create token");
  if (sqlite3_changes(db_.handle()) == 0) {
    return not_found("there is no user '" + std::string(user) + "' (sluice user list shows them)");
  }
  IssuedToken out;
  out.info.id = sqlite3_last_insert_rowid(db_.handle());
  out.info.user = std::string(user);
  out.info.kind = kind;
  out.info.name = std::string(name);
  out.info.created_ns = now;
  out.info.expires_ns = expires_ns;
  out.token = std::move(text);
  return out;
}

Result<IssuedToken> TokenStore::create_session(std::string_view user, std::string_view name) {
  return create(user, TokenKind::kSession, name, clock_.now() + options_.session_lifetime.count());
}

Result<Principal> TokenStore::authenticate(std::string_view token) {
  if (!looks_like_token(token)) {
    return invalid_argument("not a Sluice token (expected slu_ followed by 43 characters)");
  }
  const std::string digest = sha256(token);
  const int64_t now = clock_.now();
  std::lock_guard lock(db_.mu());
  Principal p;
  int64_t last_used = 0;
  {
    Stmt s(db_.handle(),
           "SELECT t.id, t.token_hash, t.kind, t.expires_ns, t.revoked_ns, t.last_used_ns,"
           "       u.id, u.name, u.role, u.enabled, u.org "
           "FROM auth_tokens t JOIN auth_users u ON u.id = t.user_id WHERE t.token_hash = ?1");
    if (!s.ok()) return db_.error("state database: authenticate");
    s.bind_blob(1, digest);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return not_found("unknown token");
    if (rc != SQLITE_ROW) return db_.error("state database: authenticate");
    if (!constant_time_equal(s.blob(1), digest)) return not_found("unknown token");
    p.token_id = s.integer(0);
    p.kind = s.text(2) == "session" ? TokenKind::kSession : TokenKind::kApi;
    const int64_t expires = s.integer(3);
    const int64_t revoked = s.integer(4);
    last_used = s.integer(5);
    p.user_id = s.integer(6);
    p.user = s.text(7);
    p.role = parse_role(s.text(8)).value_or(Role::kViewer);
    const bool enabled = s.integer(9) != 0;
    p.org = s.text(10);
    const std::string what = std::string(p.kind == TokenKind::kSession ? "session " : "token ") +
                             std::to_string(p.token_id);
    if (revoked != 0) {
      return failed_precondition(what + " was revoked at " + format_time_utc(revoked) +
                                 (p.kind == TokenKind::kSession ? "; sign in again" : ""));
    }
    if (expires != 0 && now >= expires) {
      return failed_precondition(
          what + " expired at " + format_time_utc(expires) +
          (p.kind == TokenKind::kSession ? "; sign in again" : "; create a new token"));
    }
    if (!enabled) {
      return failed_precondition("the user '" + p.user +
                                 "' is disabled; an admin can enable it again");
    }
  }
  if (now - last_used >= options_.last_used_resolution.count()) {
    Stmt u(db_.handle(), "UPDATE auth_tokens SET last_used_ns = ?1 WHERE id = ?2");
    if (!u.ok()) return db_.error("state database: token last used");
    u.bind(1, now);
    u.bind(2, p.token_id);
    if (u.step() != SQLITE_DONE) return db_.error("state database: token last used");
  }
  return p;
}

Status TokenStore::revoke(int64_t id) {
  std::lock_guard lock(db_.mu());
  {
    Stmt s(db_.handle(), "SELECT revoked_ns FROM auth_tokens WHERE id = ?1");
    if (!s.ok()) return db_.error("state database: revoke token");
    s.bind(1, id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) {
      return not_found("there is no token " + std::to_string(id) +
                       " (sluice token list shows them)");
    }
    if (rc != SQLITE_ROW) return db_.error("state database: revoke token");
    if (s.integer(0) != 0) return Status::ok_status();
  }
  Stmt s(db_.handle(), "UPDATE auth_tokens SET revoked_ns = ?1 WHERE id = ?2 AND revoked_ns = 0");
  if (!s.ok()) return db_.error("state database: revoke token");
  s.bind(1, clock_.now());
  s.bind(2, id);
  if (s.step() != SQLITE_DONE) return db_.error("state database: revoke token");
  return Status::ok_status();
}

Result<int64_t> TokenStore::revoke_all(std::string_view user, std::optional<TokenKind> kind) {
  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(),
         "UPDATE auth_tokens SET revoked_ns = ?1 WHERE revoked_ns = 0"
         " AND user_id = (SELECT id FROM auth_users WHERE name = ?2)"
         " AND (?3 = '' OR kind = ?3)");
  if (!s.ok()) return db_.error("state database: revoke tokens");
  s.bind(1, clock_.now());
  s.bind(2, user);
  s.bind(3, std::string_view(kind ? token_kind_name(*kind) : ""));
  if (s.step() != SQLITE_DONE) return db_.error("state database: revoke tokens");
  return int64_t{sqlite3_changes(db_.handle())};
}

Result<std::optional<TokenInfo>> TokenStore::find(int64_t id) {
  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(), (std::string("SELECT ") + kTokenColumns +
                        " FROM auth_tokens t JOIN auth_users u ON u.id = t.user_id WHERE t.id = ?1")
                           .c_str());
  if (!s.ok()) return db_.error("state database: read token");
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<TokenInfo>();
  if (rc != SQLITE_ROW) return db_.error("state database: read token");
  return std::optional<TokenInfo>(row_to_token(s));
}

Result<std::vector<TokenInfo>> TokenStore::list(std::string_view user) {
  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(), (std::string("SELECT ") + kTokenColumns +
                        " FROM auth_tokens t JOIN auth_users u ON u.id = t.user_id"
                        " WHERE ?1 = '' OR u.name = ?1 ORDER BY t.id DESC")
                           .c_str());
  if (!s.ok()) return db_.error("state database: list tokens");
  s.bind(1, user);
  std::vector<TokenInfo> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(row_to_token(s));
  if (rc != SQLITE_DONE) return db_.error("state database: list tokens");
  return out;
}

Result<int64_t> TokenStore::forget_inactive(int64_t before_ns) {
  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(),
         "DELETE FROM auth_tokens WHERE (revoked_ns <> 0 AND revoked_ns < ?1)"
         " OR (expires_ns <> 0 AND expires_ns < ?1)");
  if (!s.ok()) return db_.error("state database: forget tokens");
  s.bind(1, before_ns);
  if (s.step() != SQLITE_DONE) return db_.error("state database: forget tokens");
  return int64_t{sqlite3_changes(db_.handle())};
}

}  // namespace sluice::auth
