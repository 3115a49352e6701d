// Access control lists: reading an [[acls]] table (or its JSON) and deciding whether a caller is
// granted (see acl.h).
#include "control/acl.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/json_table.h"

namespace sluice::control {
namespace {

// The longest user, role, service or type name an ACL may list.
constexpr size_t kMaxEntryLength = 200;

bool valid_entry(const std::string& v) {
  if (v.empty() || v.size() > kMaxEntryLength) return false;
  return std::none_of(v.begin(), v.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

std::vector<std::string> read_list(runtime::ConfigTable& t, std::string_view key,
                                   std::string_view what) {
  std::vector<std::string> out = t.strings(
      key, {}, fmt::format("an array of {} (non-empty strings without control characters)", what),
      valid_entry);
  if (out.size() > kMaxAclEntries) {
    t.error(key, fmt::format("{} entries; an ACL lists at most {} in one key", out.size(),
                             kMaxAclEntries));
    out.clear();
  }
  return out;
}

}  // namespace

bool valid_definition_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxDefinitionNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

Acl read_acl(runtime::ConfigTable& t) {
  Acl acl;
  if (!t.has("name")) {
    t.error("name", "missing; every ACL needs a name, which services and scripts refer to");
  }
  acl.name =
      t.string("name", "",
               fmt::format("a name of 1 to {} characters [A-Za-z0-9_.-]", kMaxDefinitionNameLength),
               [](const std::string& v) { return valid_definition_name(v); });
  acl.description = t.string("description", "", "a string");
  acl.services = read_list(t, "services", "service names");
  acl.service_types = read_list(t, "service_types", "service types (e.g. \"notification\")");
  acl.users = read_list(t, "users", "user names");
  acl.roles = read_list(t, "roles", "role names (e.g. \"operator\")");
  if (acl.services.empty() && acl.service_types.empty() && acl.users.empty() && acl.roles.empty()) {
    t.error("name",
            fmt::format("{} grants nothing, so it would refuse every caller; list who it "
                        "grants in services, service_types, users or roles",
                        acl.name.empty() ? std::string("this ACL") : "ACL '" + acl.name + "'"));
  }
  return acl;
}

Result<Acl> acl_from_json(const nlohmann::json& object, std::string_view path) {
  if (!object.is_object()) {
    return invalid_argument(fmt::format("{}: expected a JSON object, got {}",
                                        path.empty() ? std::string("ACL") : std::string(path),
                                        runtime::show_json(object)));
  }
  std::vector<std::string> errors;
  const std::string base_dir;
  runtime::JsonTable table(object, std::string(path), base_dir, errors);
  Acl acl = read_acl(table);
  table.report_unknown_keys();
  if (!errors.empty()) return invalid_argument(fmt::format("{}", fmt::join(errors, "\n")));
  return acl;
}

nlohmann::json to_json(const Acl& acl) {
  return {{"name", acl.name},         {"description", acl.description},
          {"services", acl.services}, {"service_types", acl.service_types},
          {"users", acl.users},       {"roles", acl.roles}};
}

bool grants(const Acl& acl, const runtime::Caller& caller) {
  if (caller.kind == runtime::Caller::Kind::kUser) {
    return contains(acl.users, caller.name) || contains(acl.roles, caller.role);
  }
  return contains(acl.services, caller.name) || contains(acl.service_types, caller.type);
}

}  // namespace sluice::control
