// The REST API's JSON request bodies (see bodies.h).
#include "api/bodies.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <utility>

namespace sluice::api {
namespace {

using nlohmann::json;

bool refuse(ParamError* error, std::string field, std::string message) {
  error->field = std::move(field);
  error->message = std::move(message);
  return false;
}

// The JSON object of an auth route's body; false with the error (no field) otherwise.
bool body_object(std::string_view body, json* out, ParamError* error) {
  *out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return refuse(error, "", "the body is not valid JSON");
  if (!out->is_object()) return refuse(error, "", "the body must be a JSON object");
  return true;
}

// A required string field of a body object.
bool string_field(const json& j, const char* name, std::string* out, ParamError* error) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return refuse(error, name, fmt::format("'{}' is required and must be a string", name));
  }
  *out = it->get<std::string>();
  return true;
}

}  // namespace

bool parse_login_body(std::string_view body, LoginBody* out, ParamError* error) {
  json j;
  return body_object(body, &j, error) && string_field(j, "user", &out->user, error) &&
         string_field(j, "password", &out->password, error);
}

bool parse_new_user_body(std::string_view body, NewUserBody* out, ParamError* error) {
  json j;
  std::string role;
  if (!body_object(body, &j, error) || !string_field(j, "name", &out->name, error) ||
      !string_field(j, "password", &out->password, error) ||
      !string_field(j, "role", &role, error)) {
    return false;
  }
  const std::optional<auth::Role> parsed = auth::parse_role(role);
  if (!parsed) return refuse(error, "role", "'role' must be admin, operator or viewer");
  out->role = *parsed;
  if (const auto it = j.find("org"); it != j.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
      return refuse(error, "org", "'org' must be an organization's id");
    }
    out->org = it->get<std::string>();
  }
  return true;
}

bool parse_new_token_body(std::string_view body, NewTokenBody* out, ParamError* error) {
  json j;
  if (!body_object(body, &j, error) || !string_field(j, "user", &out->user, error) ||
      !string_field(j, "name", &out->name, error)) {
    return false;
  }
  out->expires_in_days.reset();
  if (const auto it = j.find("expires_in_days"); it != j.end()) {
    // An unsigned number above INT64_MAX reads as negative and is refused with the rest.
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxTokenDays) {
      return refuse(
          error, "expires_in_days",
          fmt::format("'expires_in_days' must be a whole number from 1 to {}", kMaxTokenDays));
    }
    out->expires_in_days = it->get<int64_t>();
  }
  return true;
}

bool parse_mode_body(std::string_view body, ModeBody* out, ParamError* error) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return refuse(error, "body", "the body must be a JSON object {\"mode\": \"RUNNING\"}");
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "mode") return refuse(error, key, "unknown field '" + key + "'");
  }
  const auto it = j.find("mode");
  if (it == j.end() || !it->is_string() || (*it != "RUNNING" && *it != "DISABLED")) {
    return refuse(error, "mode", "'mode' must be \"RUNNING\" or \"DISABLED\"");
  }
  out->running = *it == "RUNNING";
  return true;
}

bool parse_purge_body(std::string_view body, PurgeBody* out, ParamError* error) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return refuse(error, "body",
                  "the body must be a JSON object such as "
                  "{\"sessions\": [{\"stream\": \"sim\", \"sink\": \"lake\"}]}");
  }
  const auto list = j.find("sessions");
  if (list == j.end()) {
    return refuse(error, "sessions",
                  "missing 'sessions': a list of {\"stream\", \"sink\"} objects");
  }
  if (!list->is_array() || list->empty()) {
    return refuse(error, "sessions",
                  "'sessions' must be a non-empty list of {\"stream\", \"sink\"}");
  }
  if (list->size() > kMaxPurgeSessions) {
    return refuse(error, "sessions",
                  fmt::format("'sessions' has {} entries; at most {} per request", list->size(),
                              kMaxPurgeSessions));
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "sessions") return refuse(error, key, fmt::format("unknown field '{}'", key));
  }
  out->sessions.clear();
  out->sessions.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    const std::string at = fmt::format("sessions[{}]", i);
    if (!entry.is_object()) {
      return refuse(error, at, at + " must be an object {\"stream\", \"sink\"}");
    }
    SessionRef ref;
    for (auto [key, name] : {std::pair{"stream", &ref.stream}, std::pair{"sink", &ref.sink}}) {
      const std::string field = at + "." + key;
      const auto it = entry.find(key);
      if (it == entry.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        return refuse(error, field, fmt::format("{} must be a non-empty string", field));
      }
      *name = it->get<std::string>();
    }
    for (const auto& [key, value] : entry.items()) {
      if (key != "stream" && key != "sink") {
        return refuse(error, at + "." + key, fmt::format("{}: unknown field '{}'", at, key));
      }
    }
    out->sessions.push_back(std::move(ref));
  }
  return true;
}

namespace {

// A set point's value from JSON: a number, boolean or string; false for anything else.
bool control_value(const json& j, Value* out) {
  if (j.is_boolean()) {
    *out = j.get<bool>();
  } else if (j.is_number_integer()) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return false;
    }
    *out = j.get<int64_t>();
  } else if (j.is_number_float()) {
    *out = j.get<double>();
  } else if (j.is_string()) {
    *out = j.get<std::string>();
  } else {
    return false;
  }
  return true;
}

constexpr const char* kControlExample =
    "the body must be a JSON object such as {\"values\": {\"speed\": 1200}} or "
    "{\"operation\": \"reset\", \"params\": {}}";

}  // namespace

bool parse_control_body(std::string_view body, ControlBody* out, ParamError* error) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return refuse(error, "body", kControlExample);
  for (const auto& [key, value] : j.items()) {
    if (key != "values" && key != "operation" && key != "params") {
      return refuse(error, key, fmt::format("unknown field '{}'", key));
    }
  }
  const auto values = j.find("values");
  const auto operation = j.find("operation");
  if ((values == j.end()) == (operation == j.end())) {
    return refuse(error, "body", "give either 'values' (set points to write) or 'operation'");
  }
  *out = ControlBody{};
  if (values != j.end()) {
    if (j.contains("params")) {
      return refuse(error, "params", "'params' belongs to an 'operation', not to 'values'");
    }
    if (!(values->is_object() || values->is_array()) || values->empty()) {
      return refuse(error, "values",
                    "'values' must be a non-empty object {\"name\": value} or list of "
                    "{\"name\", \"value\"}");
    }
    if (values->size() > kMaxControlValues) {
      return refuse(error, "values",
                    fmt::format("'values' has {} entries; at most {} per request", values->size(),
                                kMaxControlValues));
    }
    if (values->is_object()) {
      for (const auto& [name, v] : values->items()) {
        const std::string field = "values." + name;
        if (name.empty()) return refuse(error, "values", "a set point name is empty");
        Value value;
        if (!control_value(v, &value)) {
          return refuse(error, field,
                        fmt::format("'{}' must be a number, boolean or string", field));
        }
        out->values.emplace_back(name, std::move(value));
      }
    } else {
      for (size_t i = 0; i < values->size(); ++i) {
        const json& e = (*values)[i];
        const std::string at = fmt::format("values[{}]", i);
        if (!e.is_object()) return refuse(error, at, at + " must be {\"name\", \"value\"}");
        for (const auto& [key, v] : e.items()) {
          if (key != "name" && key != "value") {
            return refuse(error, at + "." + key, fmt::format("unknown field '{}.{}'", at, key));
          }
        }
        const auto name = e.find("name");
        if (name == e.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
          return refuse(error, at + ".name", at + ".name is required: a non-empty string");
        }
        const auto v = e.find("value");
        Value value;
        if (v == e.end() || !control_value(*v, &value)) {
          return refuse(error, at + ".value",
                        at + ".value is required: a number, boolean or string");
        }
        out->values.emplace_back(name->get<std::string>(), std::move(value));
      }
    }
    return true;
  }
  if (!operation->is_string() || operation->get_ref<const std::string&>().empty()) {
    return refuse(error, "operation", "'operation' must be a non-empty string");
  }
  out->operation = operation->get<std::string>();
  if (const auto params = j.find("params"); params != j.end()) {
    if (!params->is_object()) {
      return refuse(error, "params", "'params' must be an object {\"name\": value}");
    }
    if (params->size() > kMaxControlValues) {
      return refuse(error, "params", fmt::format("'params' has {} entries; at most {}",
                                                 params->size(), kMaxControlValues));
    }
    for (const auto& [key, v] : params->items()) {
      if (v.is_string()) {
        out->params[key] = v.get<std::string>();
      } else if (v.is_number() || v.is_boolean()) {
        out->params[key] = v.dump();
      } else {
        return refuse(error, "params." + key,
                      fmt::format("'params.{}' must be a string, number or boolean", key));
      }
    }
  }
  return true;
}

}  // namespace sluice::api
