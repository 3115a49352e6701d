// Users: who may sign in, with which role, and their argon2id password hashes (auth_users in
// the state database, auth_db.h). The API server and the `sluice user` commands call this; every
// change is durable when the call returns.
//
// Rules kept here, not by callers:
// - names are 1-64 characters of [A-Za-z0-9_.@-], unique without regard to ASCII case;
// - passwords are at least kMinPasswordLength characters (crypto.h);
// - the last enabled admin cannot be removed, disabled or demoted (FailedPrecondition that says
//   what to do instead), so the gateway never ends up without anybody who can manage it;
// - a new password, removal or disabling ends the user's login sessions (API tokens are kept
//   through a password change: scripts should not break because a person changed a password;
//   they stop working while the user is disabled and are deleted with the user).
//
// Thread safety: every method may be called from any thread. `db` and `clock` must outlive the
// store.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_db.h"
#include "auth/crypto.h"
#include "auth/roles.h"
#include "core/clock.h"
#include "core/status.h"

namespace sluice::auth {

struct User {
  int64_t id = 0;
  std::string name;
  Role role = Role::kViewer;
  std::string org = "platform";  // the organization (platform/registry.h) the user belongs to
  bool enabled = true;
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
};

constexpr size_t kMaxUserNameLength = 64;
// Ok, or an InvalidArgument that names the rule the name breaks.
Status check_user_name(std::string_view name);

// The id of the platform's own organization (platform::kPlatformOrg), whose members see every
// organization and whose admins manage every user.
constexpr std::string_view kPlatformOrgId = "platform";

// The name of the user that ensure_first_admin() creates.
constexpr std::string_view kFirstAdminName = "admin";

class UserStore {
 public:
  UserStore(AuthDb& db, Clock& clock, PasswordParams params = {});

  // AlreadyExists if the name is taken; InvalidArgument for a bad name or password.
  // `org`: the organization's id (the caller checks that it exists).
  Result<User> create(std::string_view name, std::string_view password, Role role,
                      std::string_view org = "platform");
  Status set_org(std::string_view name, std::string_view org);
  // NotFound if there is no such user. Ends the user's login sessions.
  Status set_password(std::string_view name, std::string_view password);
  Status set_role(std::string_view name, Role role);
  Status set_enabled(std::string_view name, bool enabled);
  // Removes the user and every token of theirs (the audit log keeps their name).
  Status remove(std::string_view name);

  Result<std::optional<User>> find(std::string_view name);
  // Every user, by name.
  Result<std::vector<User>> list();

  // The user if `password` is theirs and they are enabled. A wrong password and an unknown name
  // give the same NotFound "wrong user name or password" after the same work (an argon2id
  // verification against a dummy hash), so that neither the answer nor its time tells whether a
  // name exists. A disabled user with the right password: FailedPrecondition.
  Result<User> verify_password(std::string_view name, std::string_view password);

  // On first run, when there is no user at all: creates the admin user kFirstAdminName with a
  // random password and returns that password, which the caller shows once (it is stored only
  // hashed). Returns nullopt, creating nothing, when any user exists.
  Result<std::optional<std::string>> ensure_first_admin();

 private:
  // FailedPrecondition if `user` is the only enabled admin; the caller holds the lock inside a
  // transaction.
  Status check_not_last_admin(const User& user, std::string_view change);
  Result<std::optional<User>> find_locked(std::string_view name);
  Status insert_locked(std::string_view name, const std::string& hash, Role role, User* out);
  const std::string& dummy_hash();

  AuthDb& db_;
  Clock& clock_;
  PasswordParams params_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // set once under dummy_once_
};

}  // namespace sluice::auth
