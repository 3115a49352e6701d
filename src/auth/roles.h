// Roles and what each may do: the API server asks `allows(principal.role, required_role(action))`
// before it acts. Roles are ordered: admin > operator > viewer, and a higher role may do all that
// a lower one may.
//
//   viewer    reads: status, series, services, sessions, the audit log.
//   operator  also acts on services and sessions: pause/resume, enable/disable, purge, manual
//             upload; writes set points and runs operations on equipment; provisions things
//             and channels of their organization.
//   admin     also manages users, API tokens and the configuration.
#pragma once

#include <optional>
#include <string_view>

namespace sluice::auth {

// The numeric order is the privilege order (tests and `allows` rely on it).
enum class Role : int { kViewer = 0, kOperator = 1, kAdmin = 2 };

const char* role_name(Role role);  // "viewer", "operator", "admin"
// Parses a role name as written by role_name (lower case only); nullopt otherwise.
std::optional<Role> parse_role(std::string_view name);

// True when a principal holding `have` may do what needs `need`.
constexpr bool allows(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

// What the API does, grouped by the role it needs.
enum class Action {
  kRead,            // any GET
  kControlService,  // pause, resume, enable, disable a source or sink
  kControlEquipment,  // write set points and run operations on the equipment behind a source
  kManageSession,   // purge, manual upload of a files-sink session
  kManageDevices,   // provision things and channels, connect them, rotate keys
  kManageUsers,     // create, change, remove users
  kManageTokens,    // create or revoke API tokens of any user
  kChangeConfig,    // add, change or remove services; settings
};

constexpr Role required_role(Action action) {
  switch (action) {
    case Action::kRead: return Role::kViewer;
    case Action::kControlService:
    case Action::kControlEquipment:
    case Action::kManageSession:
    case Action::kManageDevices: return Role::kOperator;
    case Action::kManageUsers:
    case Action::kManageTokens:
    case Action::kChangeConfig: return Role::kAdmin;
  }
  return Role::kAdmin;  // unreachable; the strictest answer if it ever is
}

}  // namespace sluice::auth
