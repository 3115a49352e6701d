// The JSON request bodies of the REST API, parsed from the bytes a client sent into plain values
// before a route acts on them: login, a new user, a new API token, a service's mode and a
// sessions purge. (Service settings are TOML and go to the runtime's config parser.) Each parser
// is pure, so that the fuzz target fuzz/api_bodies_fuzz.cpp and the unit tests drive it without a
// server; a refusal names the field at fault and carries the 400 answer's message word for word.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/query_params.h"
#include "auth/roles.h"
#include "core/sample.h"
#include "runtime/service.h"

namespace sluice::api {

// An API token lives at most this many days.
constexpr int64_t kMaxTokenDays = 3650;
// At most this many sessions in one purge request.
constexpr size_t kMaxPurgeSessions = 10'000;

// POST /api/v1/login: {"user": "...", "password": "..."}.
struct LoginBody {
  std::string user;
  std::string password;
};

// POST /api/v1/users: {"name": "...", "password": "...", "role": "admin|operator|viewer"}.
struct NewUserBody {
  std::string name;
  std::string password;
  auth::Role role = auth::Role::kViewer;
  std::string org = "platform";  // optional "org": the organization's id
};

// POST /api/v1/tokens: {"user": "...", "name": "...", "expires_in_days": 1..3650 (optional)}.
struct NewTokenBody {
  std::string user;
  std::string name;
  std::optional<int64_t> expires_in_days;  // none: the token does not expire
};

// PUT /api/v1/services/{name}/mode: {"mode": "RUNNING" | "DISABLED"}, nothing else.
struct ModeBody {
  bool running = false;
};

// One session of a purge request: a sink's flow of one stream.
struct SessionRef {
  std::string stream;
  std::string sink;
  bool operator==(const SessionRef&) const = default;
};

// POST /api/v1/sessions/purge: {"sessions": [{"stream": "...", "sink": "..."}, ...]}, 1 to
// kMaxPurgeSessions entries with non-empty names, no other field.
struct PurgeBody {
  std::vector<SessionRef> sessions;
};

// At most this many set points in one control request.
constexpr size_t kMaxControlValues = 1'000;

// POST /api/v1/services/{name}/control: set points to write, in order, or one operation:
//   {"values": {"speed": 1200, "run": true}}              (written in name order)
//   {"values": [{"name": "speed", "value": 1200}, ...]}   (written in the list's order)
//   {"operation": "reset", "params": {"to": "12"}}       (params optional; numbers and booleans
//                                                         are passed as their JSON text)
// A value is a JSON number (an integer becomes int64, any other a double), boolean or string.
struct ControlBody {
  std::vector<std::pair<std::string, Value>> values;  // empty for an operation
  std::string operation;                              // empty for values
  runtime::OperationParams params;
};

// Each parser fills *out and returns true, or returns false with *error set: error->field is the
// field at fault ("sessions[2].sink"; "body" or empty when the body as a whole is wrong, as the
// route has always answered) and error->message the text of the 400 answer.
bool parse_login_body(std::string_view body, LoginBody* out, ParamError* error);
bool parse_new_user_body(std::string_view body, NewUserBody* out, ParamError* error);
bool parse_new_token_body(std::string_view body, NewTokenBody* out, ParamError* error);
bool parse_mode_body(std::string_view body, ModeBody* out, ParamError* error);
bool parse_purge_body(std::string_view body, PurgeBody* out, ParamError* error);
bool parse_control_body(std::string_view body, ControlBody* out, ParamError* error);

}  // namespace sluice::api
