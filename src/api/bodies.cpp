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

}  // namespace sluice::api
