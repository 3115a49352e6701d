// Access control lists: who may send control requests to a service ([[sources]] `acl`) or run
// an automation script (the script's `acl`). The control dispatcher (control/dispatcher.h)
// checks them on every request, whatever its origin (REST API, notification, MQTT command topic,
// a script's step), against the runtime::Caller that asked.
//
// An ACL is read through runtime::ConfigTable, so the same code reads an [[acls]] table of the
// config file and a JSON object sent to the REST API, with the same checks and messages. The keys
// are described in docs/control.md, "Access control lists".
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/config_table.h"
#include "runtime/control.h"

namespace sluice::control {

// The longest name of an ACL or script, and the most entries in one of an ACL's lists: limits
// on outside input (config, REST bodies).
constexpr size_t kMaxDefinitionNameLength = 100;
constexpr size_t kMaxAclEntries = 1000;

struct Acl {
  std::string name;  // unique among ACLs; [A-Za-z0-9_.-]+
  std::string description;
  // Callers it grants. A service caller (Caller::Kind::kService) is granted by its name
  // (`services`) or its type (`service_types`, e.g. "notification", "mqtt"); a user
  // (Caller::Kind::kUser) by its name (`users`) or its role (`roles`, e.g. "operator").
  std::vector<std::string> services;
  std::vector<std::string> service_types;
  std::vector<std::string> users;
  std::vector<std::string> roles;

  bool operator==(const Acl&) const = default;
};

// Whether `name` is a valid ACL or script name: 1 to kMaxDefinitionNameLength characters of
// [A-Za-z0-9_.-].
bool valid_definition_name(std::string_view name);

// Reads and checks every key of one ACL table: `name` (required), `description`, `services`,
// `service_types`, `users`, `roles` (arrays of non-empty strings, at most kMaxAclEntries each).
// An ACL must grant something: one that lists nobody would refuse every caller, which is never
// what was meant (it is most likely a misspelt key), so that is an error at `name`. Errors are
// recorded in `table` (each names its key); the returned Acl is meaningful only without errors.
Acl read_acl(runtime::ConfigTable& table);

// Reads one ACL from a JSON object (a REST body, a config document's JSON) through
// runtime::JsonTable; `path` prefixes the keys in errors ("acls[0]" gives "key 'acls[0].users':
// ..."). Unknown keys are errors. kInvalidArgument with every error, one per line.
Result<Acl> acl_from_json(const nlohmann::json& object, std::string_view path = {});

// The ACL as a JSON object with every key (what acl_from_json reads back to the same Acl).
nlohmann::json to_json(const Acl& acl);

// Whether `acl` grants `caller`: a user by name or role, a service by name or type. Exact,
// case-sensitive matches.
bool grants(const Acl& acl, const runtime::Caller& caller);

}  // namespace sluice::control
