// Tokens: login sessions and API tokens, the bearer secrets the API server accepts (auth_tokens
// in the state database, auth_db.h).
//
// A token is 32 bytes from OpenSSL's RAND_bytes, shown once as "slu_" + base64url (47
// characters) and stored only as its SHA-256 digest: a copy of state.db does not let anyone sign
// in. The digest, not a password hash, is enough because the token has 256 bits of entropy (no
// dictionary to try) and it must be checked on every request. The lookup is by digest, so its
// timing tells an attacker nothing about any stored token; the fetched digest is compared again
// in constant time regardless.
//
// Lifetimes:
// - login session: a fixed lifetime from login (12 h by default), not sliding. A shift fits in
//   it, a stolen session cookie is useful for at most that long, and the check needs no write.
// - API token: the expiry given when it is created, or none.
// - last_used is written at most once per `last_used_resolution` (60 s) per token, so that
//   authenticating a request does not cost an fsync each time.
//
// Thread safety: every method may be called from any thread. `db` and `clock` must outlive the
// store.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_db.h"
#include "auth/roles.h"
#include "core/clock.h"
#include "core/status.h"

namespace sluice::auth {

enum class TokenKind { kSession, kApi };
const char* token_kind_name(TokenKind kind);  // "session", "api"

// One row of auth_tokens, without the digest.
struct TokenInfo {
  int64_t id = 0;
  std::string user;
  TokenKind kind = TokenKind::kApi;
  std::string name;  // the label given at creation ("grafana", "login from 10.0.0.5")
  int64_t created_ns = 0;
  int64_t expires_ns = 0;    // 0: never
  int64_t last_used_ns = 0;  // 0: never
  int64_t revoked_ns = 0;    // 0: not revoked

  bool active(int64_t now_ns) const {
    return revoked_ns == 0 && (expires_ns == 0 || now_ns < expires_ns);
  }
};

// A token just created: `token` is the secret, shown to its owner once and never again.
struct IssuedToken {
  TokenInfo info;
  std::string token;
};

// Who a request comes from, as authenticate() found it. The role is the user's current one.
struct Principal {
  int64_t user_id = 0;
  std::string user;
  Role role = Role::kViewer;
  int64_t token_id = 0;
  TokenKind kind = TokenKind::kApi;
  // The organization the user belongs to (platform/registry.h); "platform" sees all.
  std::string org = "platform";
};

struct TokenOptions {
  std::chrono::nanoseconds session_lifetime = std::chrono::hours(12);
  std::chrono::nanoseconds last_used_resolution = std::chrono::seconds(60);
};

constexpr size_t kMaxTokenNameLength = 128;

class TokenStore {
 public:
  TokenStore(AuthDb& db, Clock& clock, TokenOptions options = {});

  // A new token for `user` (NotFound if there is no such user). `expires_ns` 0: never; an
  // expiry in the past is an InvalidArgument. `name` is a label of 1-128 printable characters.
  Result<IssuedToken> create(std::string_view user, TokenKind kind, std::string_view name,
                             int64_t expires_ns);
  // A login session for `user`, expiring session_lifetime from now.
  Result<IssuedToken> create_session(std::string_view user, std::string_view name);

  // The principal a token stands for. Errors (the API answers 401 to every one but IoError):
  //   InvalidArgument     not of the token's shape
  //   NotFound            no such token (never issued, or its user was removed)
  //   FailedPrecondition  revoked, expired, or its user is disabled (the message says which)
  Result<Principal> authenticate(std::string_view token);

  // Revokes one token; NotFound if there is none with that id. Revoking twice is ok.
  Status revoke(int64_t id);
  // Revokes every active token of `user` (of one kind, if given); returns how many.
  Result<int64_t> revoke_all(std::string_view user, std::optional<TokenKind> kind = std::nullopt);

  Result<std::optional<TokenInfo>> find(int64_t id);
  // The tokens of `user` (all users if empty), newest first; revoked and expired ones included.
  Result<std::vector<TokenInfo>> list(std::string_view user = {});
  // Deletes tokens that expired or were revoked before `before_ns` (housekeeping, so that the
  // table does not grow with every login); returns how many.
  Result<int64_t> forget_inactive(int64_t before_ns);

 private:
  AuthDb& db_;
  Clock& clock_;
  TokenOptions options_;
};

// "2026-11-24T05:43:39Z" (UTC, seconds), for messages and listings.
std::string format_time_utc(int64_t ns);

}  // namespace sluice::auth
