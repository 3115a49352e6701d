// Users on the auth_users table: validation, argon2id hashes, the last-admin rule.
#include "auth/users.h"

namespace sluice::auth {
namespace {

constexpr const char* kUserColumns = "id, name, role, enabled, created_ns, updated_ns, org";

User row_to_user(Stmt& s) {
  User u;
  u.id = s.integer(0);
  u.name = s.text(1);
  u.role = parse_role(s.text(2)).value_or(Role::kViewer);
  u.enabled = s.integer(3) != 0;
  u.created_ns = s.integer(4);
  u.updated_ns = s.integer(5);
  u.org = s.text(6);
  return u;
}

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

Status no_such_user(std::string_view name) {
  return not_found("there is no user " + quoted(name) + " (sluice user list shows them)");
}

}  // namespace

Status check_user_name(std::string_view name) {
  if (name.empty()) return invalid_argument("the user name is empty");
  if (name.size() > kMaxUserNameLength) {
    return invalid_argument("the user name is " + std::to_string(name.size()) +
                            " characters long; at most " + std::to_string(kMaxUserNameLength) +
                            " are allowed");
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-' || c == '@';
    if (!ok) {
      return invalid_argument("the user name " + quoted(name) +
                              " has a character that is not allowed; use letters, digits and "
                              "_ . - @ only");
    }
  }
  return Status::ok_status();
}

UserStore::UserStore(AuthDb& db, Clock& clock, PasswordParams params)
    : db_(db), clock_(clock), params_(params) {}

Result<std::optional<User>> UserStore::find_locked(std::string_view name) {
  Stmt s(db_.handle(),
         (std::string("SELECT ") + kUserColumns + " FROM auth_users WHERE name = ?1").c_str());
  if (!s.ok()) return db_.error("state database: read user");
  s.bind(1, name);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<User>();
  if (rc != SQLITE_ROW) return db_.error("state database: read user " + quoted(name));
  return std::optional<User>(row_to_user(s));
}

Status UserStore::insert_locked(std::string_view name, const std::string& hash, Role role,
                                User* out) {
  SLUICE_ASSIGN_OR_RETURN(std::optional<User> existing, find_locked(name));
  if (existing) {
    return {Code::kAlreadyExists, "there is already a user " + quoted(existing->name)};
  }
  const int64_t now = clock_.now();
  Stmt s(db_.handle(),
         "INSERT INTO auth_users(name, role, password_hash, enabled, created_ns, updated_ns) "
         "VALUES(?1, ?2, ?3, 1, ?4, ?4)");
  if (!s.ok()) return db_.error("state database: create user");
  s.bind(1, name);
  s.bind(2, std::string_view(role_name(role)));
  s.bind(3, hash);
  s.bind(4, now);
  if (s.step() != SQLITE_DONE) return db_.error("state database: create user " + quoted(name));
  out->id = sqlite3_last_insert_rowid(db_.handle());
  out->name = std::string(name);
  out->role = role;
  out->enabled = true;
  out->created_ns = now;
  out->updated_ns = now;
  return Status::ok_status();
}

Result<User> UserStore::create(std::string_view name, std::string_view password, Role role,
                               std::string_view org) {
  SLUICE_RETURN_IF_ERROR(check_user_name(name));
  if (org.empty() || org.size() > 64) {
    return invalid_argument("the organization id must be 1 to 64 characters");
  }
  SLUICE_RETURN_IF_ERROR(check_password_policy(password));
  // Hashing takes a while and 64 MiB: done before taking the lock.
  SLUICE_ASSIGN_OR_RETURN(std::string hash, hash_password(password, params_));
  std::lock_guard lock(db_.mu());
  Transaction tx(db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  User user;
  SLUICE_RETURN_IF_ERROR(insert_locked(name, hash, role, &user));
  if (org != kPlatformOrgId) {
    Stmt s(db_.handle(), "UPDATE auth_users SET org = ?1 WHERE id = ?2");
    if (!s.ok()) return db_.error("state database: create user");
    s.bind(1, org);
    s.bind(2, user.id);
    if (s.step() != SQLITE_DONE) return db_.error("state database: create user");
    user.org = std::string(org);
  }
  SLUICE_RETURN_IF_ERROR(tx.commit());
  return user;
}

Status UserStore::set_org(std::string_view name, std::string_view org) {
  if (org.empty() || org.size() > 64) {
    return invalid_argument("the organization id must be 1 to 64 characters");
  }
  std::lock_guard lock(db_.mu());
  Transaction tx(db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  SLUICE_ASSIGN_OR_RETURN(std::optional<User> user, find_locked(name));
  if (!user) return no_such_user(name);
  if (user->org == org) return Status::ok_status();
  SLUICE_RETURN_IF_ERROR(
      check_not_last_admin(*user, "move to organization '" + std::string(org) + "'"));
  Stmt s(db_.handle(), "UPDATE auth_users SET org = ?1, updated_ns = ?2 WHERE id = ?3");
  if (!s.ok()) return db_.error("state database: set organization");
  s.bind(1, org);
  s.bind(2, clock_.now());
  s.bind(3, user->id);
  if (s.step() != SQLITE_DONE) return db_.error("state database: set organization");
  return tx.commit();
}

Status UserStore::set_password(std::string_view name, std::string_view password) {
  SLUICE_RETURN_IF_ERROR(check_password_policy(password));
  SLUICE_ASSIGN_OR_RETURN(std::string hash, hash_password(password, params_));
  std::lock_guard lock(db_.mu());
  Transaction tx(db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  SLUICE_ASSIGN_OR_RETURN(std::optional<User> user, find_locked(name));
  if (!user) return no_such_user(name);
  const int64_t now = clock_.now();
  {
    Stmt s(db_.handle(), "UPDATE auth_users SET password_hash = ?1, updated_ns = ?2 WHERE id = ?3");
    if (!s.ok()) return db_.error("state database: set password");
    s.bind(1, hash);
    s.bind(2, now);
    s.bind(3, user->id);
    if (s.step() != SQLITE_DONE) return db_.error("state database: set password");
  }
  {
    Stmt s(db_.handle(),
           "UPDATE auth_tokens SET revoked_ns = ?1 "
           "WHERE user_id = ?2 AND kind = 'session' AND revoked_ns = 0");
    if (!s.ok()) return db_.error("state database: end sessions");
    s.bind(1, now);
    s.bind(2, user->id);
    if (s.step() != SQLITE_DONE) return db_.error("state database: end sessions");
  }
  return tx.commit();
}

Status UserStore::check_not_last_admin(const User& user, std::string_view change) {
  // Only the platform organization's admins manage users of every organization.
  if (user.role != Role::kAdmin || !user.enabled || user.org != kPlatformOrgId) {
    return Status::ok_status();
  }
  Stmt s(db_.handle(),
         "SELECT COUNT(*) FROM auth_users WHERE role = 'admin' AND enabled = 1 "
         "AND org = 'platform' AND id <> ?1");
  if (!s.ok()) return db_.error("state database: count admins");
  s.bind(1, user.id);
  if (s.step() != SQLITE_ROW) return db_.error("state database: count admins");
  if (s.integer(0) > 0) return Status::ok_status();
  return failed_precondition(
      "cannot " + std::string(change) + " " + quoted(user.name) +
      ": it is the last enabled admin, and without one nobody could manage users; create or "
      "enable another admin first (sluice user add NAME --role admin)");
}

Status UserStore::set_role(std::string_view name, Role role) {
  std::lock_guard lock(db_.mu());
  Transaction tx(db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  SLUICE_ASSIGN_OR_RETURN(std::optional<User> user, find_locked(name));
  if (!user) return no_such_user(name);
  if (user->role == role) return Status::ok_status();
  if (role != Role::kAdmin) {
    SLUICE_RETURN_IF_ERROR(
        check_not_last_admin(*user, std::string("make ") + role_name(role) + " the user"));
  }
  Stmt s(db_.handle(), "UPDATE auth_users SET role = ?1, updated_ns = ?2 WHERE id = ?3");
  if (!s.ok()) return db_.error("state database: set role");
  s.bind(1, std::string_view(role_name(role)));
  s.bind(2, clock_.now());
  s.bind(3, user->id);
  if (s.step() != SQLITE_DONE) return db_.error("state database: set role");
  return tx.commit();
}

Status UserStore::set_enabled(std::string_view name, bool enabled) {
  std::lock_guard lock(db_.mu());
  Transaction tx(db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  SLUICE_ASSIGN_OR_RETURN(std::optional<User> user, find_locked(name));
  if (!user) return no_such_user(name);
  if (user->enabled == enabled) return Status::ok_status();
  if (!enabled) SLUICE_RETURN_IF_ERROR(check_not_last_admin(*user, "disable the user"));
  const int64_t now = clock_.now();
  {
    Stmt s(db_.handle(), "UPDATE auth_users SET enabled = ?1, updated_ns = ?2 WHERE id = ?3");
    if (!s.ok()) return db_.error("state database: enable user");
    s.bind(1, int64_t{enabled ? 1 : 0});
    s.bind(2, now);
    s.bind(3, user->id);
    if (s.step() != SQLITE_DONE) return db_.error("state database: enable user");
  }
  if (!enabled) {
    Stmt s(db_.handle(),
           "UPDATE auth_tokens SET revoked_ns = ?1 "
           "WHERE user_id = ?2 AND kind = 'session' AND revoked_ns = 0");
    if (!s.ok()) return db_.error("state database: end sessions");
    s.bind(1, now);
    s.bind(2, user->id);
    if (s.step() != SQLITE_DONE) return db_.error("state database: end sessions");
  }
  return tx.commit();
}

Status UserStore::remove(std::string_view name) {
  std::lock_guard lock(db_.mu());
  Transaction tx(db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  SLUICE_ASSIGN_OR_RETURN(std::optional<User> user, find_locked(name));
  if (!user) return no_such_user(name);
  SLUICE_RETURN_IF_ERROR(check_not_last_admin(*user, "remove the user"));
  for (const char* sql :
       {"DELETE FROM auth_tokens WHERE user_id = ?1", "DELETE FROM auth_users WHERE id = ?1"}) {
    Stmt s(db_.handle(), sql);
    if (!s.ok()) return db_.error("state database: remove user");
    s.bind(1, user->id);
    if (s.step() != SQLITE_DONE) return db_.error("state database: remove user " + quoted(name));
  }
  return tx.commit();
}

Result<std::optional<User>> UserStore::find(std::string_view name) {
  std::lock_guard lock(db_.mu());
  return find_locked(name);
}

Result<std::vector<User>> UserStore::list() {
  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(),
         (std::string("SELECT ") + kUserColumns + " FROM auth_users ORDER BY name").c_str());
  if (!s.ok()) return db_.error("state database: list users");
  std::vector<User> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(row_to_user(s));
  if (rc != SQLITE_DONE) return db_.error("state database: list users");
  return out;
}

const std::string& UserStore::dummy_hash() {
  std::call_once(dummy_once_, [this] {
    Result<std::string> h = hash_password("not a password of anybody", params_);
    dummy_hash_ = h.ok() ? *h : std::string();
  });
  return dummy_hash_;
}

Result<User> UserStore::verify_password(std::string_view name, std::string_view password) {
  const Status wrong = not_found("wrong user name or password");
  std::optional<User> user;
  std::string hash;
  {
    std::lock_guard lock(db_.mu());
    Stmt s(db_.handle(), (std::string("SELECT ") + kUserColumns +
                          ", password_hash FROM auth_users WHERE name = ?1")
                             .c_str());
    if (!s.ok()) return db_.error("state database: read user");
    s.bind(1, name);
    const int rc = s.step();
    if (rc == SQLITE_ROW) {
      user = row_to_user(s);
      hash = s.text(7);  // after the user columns
    } else if (rc != SQLITE_DONE) {
      return db_.error("state database: read user");
    }
  }
  if (!user || password.size() > kMaxPasswordLength) {
    // The same work as for a real user, so that the time does not tell that the name is unknown.
    const std::string& dummy = dummy_hash();
    if (!dummy.empty()) (void)auth::verify_password(password.substr(0, kMaxPasswordLength), dummy);
    return wrong;
  }
  SLUICE_ASSIGN_OR_RETURN(bool match, auth::verify_password(password, hash));
  if (!match) return wrong;
  if (!user->enabled) {
    return failed_precondition("the user " + quoted(user->name) +
                               " is disabled; an admin can enable it again");
  }
  return *user;
}

Result<std::optional<std::string>> UserStore::ensure_first_admin() {
  {
    std::lock_guard lock(db_.mu());
    Stmt s(db_.handle(), "SELECT EXISTS (SELECT 1 FROM auth_users)");
    if (!s.ok() || s.step() != SQLITE_ROW) return db_.error("state database: count users");
    if (s.integer(0) != 0) return std::optional<std::string>();
  }
  SLUICE_ASSIGN_OR_RETURN(std::string password, random_password());
  SLUICE_ASSIGN_OR_RETURN(std::string hash, hash_password(password, params_));
  std::lock_guard lock(db_.mu());
  Transaction tx(db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  // Checked again inside the transaction: another process (`sluice user add`) may have been first.
  {
    Stmt s(db_.handle(), "SELECT EXISTS (SELECT 1 FROM auth_users)");
    if (!s.ok() || s.step() != SQLITE_ROW) return db_.error("state database: count users");
    if (s.integer(0) != 0) return std::optional<std::string>();
  }
  User user;
  SLUICE_RETURN_IF_ERROR(insert_locked(kFirstAdminName, hash, Role::kAdmin, &user));
  SLUICE_RETURN_IF_ERROR(tx.commit());
  return std::optional<std::string>(std::move(password));
}

}  // namespace sluice::auth
