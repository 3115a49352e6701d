// Descriptions of control requests and callers (see control.h), and the SourceContext's
// default control(): no dispatcher.
#include "runtime/control.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace sluice::runtime {
namespace {

std::string value_text(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return "\"" + x + "\"";
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else {
          return fmt::format("{}", x);
        }
      },
      v);
}

}  // namespace

std::string describe_target(const ControlTarget& target) {
  switch (target.kind) {
    case ControlTarget::Kind::kService: return "service '" + target.name + "'";
    case ControlTarget::Kind::kAsset: return "the service of asset '" + target.name + "'";
    case ControlTarget::Kind::kAll: return "every control service";
  }
  return "?";
}

std::string ControlRequest::describe() const {
  std::string out;
  switch (action) {
    case Action::kWrite: {
      out = "write ";
      bool first = true;
      for (const auto& [name, value] : values) {
        if (!first) out += ", ";
        first = false;
        out += name + "=" + value_text(value);
      }
      return out + " to " + describe_target(target);
    }
    case Action::kOperation:
    case Action::kScript: {
      out = action == Action::kScript ? "run script '" + script + "'"
                                      : "operation '" + operation + "'";
      if (!params.empty()) {
        out += " (";
        bool first = true;
        for (const auto& [k, v] : params) {
          if (!first) out += ", ";
          first = false;
          out += k + "=" + v;
        }
        out += ")";
      }
      if (action == Action::kOperation) out += " on " + describe_target(target);
      return out;
    }
  }
  return out;
}

std::string Caller::describe() const {
  if (kind == Kind::kUser) return fmt::format("user '{}' ({})", name, role);
  if (type == "notification") return fmt::format("notification '{}'", name);
  return fmt::format("{} service '{}'", type, name);
}

Status SourceContext::submit_control(const ControlRequest& request,
                                     std::function<void(const Result<ControlOutcome>&)> /*done*/) {
  return Status(Code::kUnavailable, "no control dispatcher runs here; '" + request.describe() +
                                        "' was not carried out");
}

// ---- parse_control_request ---------------------------------------------------------------

namespace {

using json = nlohmann::json;

Status field_error(std::string_view field, std::string_view what) {
  return invalid_argument(fmt::format("field '{}': {}", field, what));
}

// The deepest nesting of arrays and objects in `text` (strings skipped), counted before parsing
// so that the parser's and the value's recursion stay bounded.
size_t nesting_depth(std::string_view text) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<std::string> name_field(const json& v, std::string_view field) {
  if (!v.is_string()) return field_error(field, "expected a string");
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty()) return field_error(field, "is empty");
  if (s.size() > kMaxControlNameBytes) {
    return field_error(field, fmt::format("{} bytes; at most {}", s.size(), kMaxControlNameBytes));
  }
  return s;
}

Result<Value> value_field(const json& v, std::string_view field) {
  switch (v.type()) {
    case json::value_t::number_integer: return Value(v.get<int64_t>());
    case json::value_t::number_unsigned: {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) {
        return field_error(field, "an integer beyond the 64-bit signed range");
      }
      return Value(static_cast<int64_t>(u));
    }
    case json::value_t::number_float: return Value(v.get<double>());
    case json::value_t::boolean: return Value(v.get<bool>());
    case json::value_t::string: return Value(v.get<std::string>());
    default: return field_error(field, "expected a number, boolean or string");
  }
}

Status read_values(const json& values, ControlRequest* out) {
  if (!(values.is_object() || values.is_array()) || values.empty()) {
    return field_error("values",
                       "expected a non-empty object {\"name\": value} or list of "
                       "{\"name\": ..., \"value\": ...}");
  }
  if (values.size() > kMaxControlValues) {
    return field_error("values", fmt::format("{} entries; at most {} per request", values.size(),
                                             kMaxControlValues));
  }
  if (values.is_object()) {  // nlohmann's object is ordered by name
    for (const auto& [name, v] : values.items()) {
      const std::string field = "values." + name;
      SLUICE_ASSIGN_OR_RETURN(std::string checked, name_field(json(name), "values"));
      SLUICE_ASSIGN_OR_RETURN(Value value, value_field(v, field));
      out->values.emplace_back(std::move(checked), std::move(value));
    }
    return Status::ok_status();
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const json& e = values[i];
    const std::string at = fmt::format("values[{}]", i);
    if (!e.is_object()) return field_error(at, "expected {\"name\": ..., \"value\": ...}");
    for (const auto& [key, v] : e.items()) {
      if (key != "name" && key != "value") {
        return field_error(at + "." + key, "unknown; an entry has only name and value");
      }
    }
    const auto name = e.find("name");
    if (name == e.end()) return field_error(at + ".name", "missing");
    SLUICE_ASSIGN_OR_RETURN(std::string n, name_field(*name, at + ".name"));
    const auto v = e.find("value");
    if (v == e.end()) return field_error(at + ".value", "missing");
    SLUICE_ASSIGN_OR_RETURN(Value value, value_field(*v, at + ".value"));
    out->values.emplace_back(std::move(n), std::move(value));
  }
  return Status::ok_status();
}

Status read_params(const json& params, ControlRequest* out) {
  if (!params.is_object()) return field_error("params", "expected an object {\"name\": value}");
  if (params.size() > kMaxControlValues) {
    return field_error("params",
                       fmt::format("{} entries; at most {}", params.size(), kMaxControlValues));
  }
  for (const auto& [key, v] : params.items()) {
    const std::string field = "params." + key;
    SLUICE_RETURN_IF_ERROR(name_field(json(key), "params").status());
    if (v.is_string()) {
      out->params[key] = v.get<std::string>();
    } else if (v.is_number() || v.is_boolean()) {
      out->params[key] = v.dump();
    } else {
      return field_error(field, "expected a string, number or boolean");
    }
  }
  return Status::ok_status();
}

}  // namespace

Result<ControlRequest> parse_control_request(std::string_view text) {
  if (text.size() > kMaxControlRequestBytes) {
    return invalid_argument(
        fmt::format("control request: {} bytes; at most {}", text.size(), kMaxControlRequestBytes));
  }
  if (nesting_depth(text) > kMaxControlDepth) {
    return invalid_argument(
        fmt::format("control request: nested deeper than {} levels", kMaxControlDepth));
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return invalid_argument(fmt::format("control request: not JSON: {}", e.what()));
  }
  if (!j.is_object()) {
    return invalid_argument(
        "control request: expected a JSON object such as {\"service\": \"fan\", \"values\": "
        "{\"speed\": 1200}}");
  }
  static constexpr std::string_view kFields[] = {"service", "asset",     "all",   "script",
                                                 "values",  "operation", "params"};
  for (const auto& [key, v] : j.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      return field_error(key,
                         "unknown; expected service, asset, all, script, values, "
                         "operation or params");
    }
  }
  ControlRequest r;
  const bool has_target = j.contains("service") || j.contains("asset") || j.contains("all");
  if (j.contains("script")) {
    if (has_target) {
      return field_error("script", "a script has no target; remove service, asset and all");
    }
    for (const char* key : {"values", "operation"}) {
      if (j.contains(key)) {
        return field_error(key, "not with script; a script's inputs go in params");
      }
    }
    r.action = ControlRequest::Action::kScript;
    SLUICE_ASSIGN_OR_RETURN(r.script, name_field(j["script"], "script"));
    if (j.contains("params")) SLUICE_RETURN_IF_ERROR(read_params(j["params"], &r));
    return r;
  }
  const int targets = static_cast<int>(j.contains("service")) +
                      static_cast<int>(j.contains("asset")) + static_cast<int>(j.contains("all"));
  if (targets != 1) {
    return field_error(targets == 0 ? "service" : "all",
                       "give exactly one target: service, asset or all (or a script)");
  }
  if (j.contains("service")) {
    r.target.kind = ControlTarget::Kind::kService;
    SLUICE_ASSIGN_OR_RETURN(r.target.name, name_field(j["service"], "service"));
  } else if (j.contains("asset")) {
    r.target.kind = ControlTarget::Kind::kAsset;
    SLUICE_ASSIGN_OR_RETURN(r.target.name, name_field(j["asset"], "asset"));
  } else {
    if (!j["all"].is_boolean() || !j["all"].get<bool>()) {
      return field_error("all", "expected true (every control service)");
    }
    r.target.kind = ControlTarget::Kind::kAll;
  }
  const bool has_values = j.contains("values");
  if (has_values == j.contains("operation")) {
    return field_error(has_values ? "operation" : "values",
                       "give either values (set points to write) or operation");
  }
  if (has_values) {
    if (j.contains("params")) {
      return field_error("params", "params belong to an operation or a script, not to values");
    }
    r.action = ControlRequest::Action::kWrite;
    SLUICE_RETURN_IF_ERROR(read_values(j["values"], &r));
    return r;
  }
  r.action = ControlRequest::Action::kOperation;
  SLUICE_ASSIGN_OR_RETURN(r.operation, name_field(j["operation"], "operation"));
  if (j.contains("params")) SLUICE_RETURN_IF_ERROR(read_params(j["params"], &r));
  return r;
}

std::string control_request_json(const ControlRequest& request) {
  json j = json::object();
  if (request.action == ControlRequest::Action::kScript) {
    j["script"] = request.script;
  } else {
    switch (request.target.kind) {
      case ControlTarget::Kind::kService: j["service"] = request.target.name; break;
      case ControlTarget::Kind::kAsset: j["asset"] = request.target.name; break;
      case ControlTarget::Kind::kAll: j["all"] = true; break;
    }
  }
  if (request.action == ControlRequest::Action::kWrite) {
    json list = json::array();
    for (const auto& [name, value] : request.values) {
      json v;
      std::visit([&v](const auto& x) { v = x; }, value);
      list.push_back(json{{"name", name}, {"value", std::move(v)}});
    }
    j["values"] = std::move(list);
  } else {
    if (request.action == ControlRequest::Action::kOperation) j["operation"] = request.operation;
    if (!request.params.empty()) j["params"] = request.params;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace sluice::runtime
