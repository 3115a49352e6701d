// Control requests: what the control dispatcher (control/dispatcher.h) carries out, whoever
// asks — a notification's set point or operation delivery, the REST API, an MQTT command topic
// (a source acting as a north control input), an automation script's step. One request type
// and one entry point (ControlRouter::dispatch), so ACLs, the "service not running" refusal,
// the audit and the counters apply the same way to every origin.
//
// Pure types and the router interface; the dispatcher implements it and the runtime hands it to
// sources through SourceContext::submit_control().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sample.h"
#include "core/status.h"
#include "runtime/service.h"

namespace sluice::runtime {

// Where a write or an operation goes (FogLAMP's control dispatcher destinations).
struct ControlTarget {
  enum class Kind {
    kService,  // the source named `name`
    kAsset,    // the source that ingests the asset `name` (the asset tracker)
    kAll,      // every running source that offers control points; `name` unused
  };
  Kind kind = Kind::kService;
  std::string name;

  bool operator==(const ControlTarget&) const = default;
};

// "service 'fan'", "asset 'Motor'", "every control service".
std::string describe_target(const ControlTarget& target);

struct ControlRequest {
  enum class Action {
    kWrite,      // write `values` (in order) to the target's set points
    kOperation,  // run `operation` with `params` on the target
    kScript,     // run the automation script `script` with `params`; no target
  };
  Action action = Action::kWrite;
  ControlTarget target;
  std::vector<std::pair<std::string, Value>> values;  // kWrite
  std::string operation;                              // kOperation
  std::string script;                                 // kScript
  OperationParams params;                             // kOperation, kScript

  // One line for logs and the audit: "write speed=1200, fan=true to service 'fan'".
  std::string describe() const;
};

// Who asks: what ACLs grant or refuse (control/acl.h).
struct Caller {
  enum class Kind {
    kUser,     // an API caller: `name` is the user, `role` its role
    kService,  // a service: `name` its name, `type` its type ("notification" for a
               // notification's delivery, "mqtt" for an MQTT command topic)
  };
  Kind kind = Kind::kUser;
  std::string name;
  std::string role;  // kUser
  std::string type;  // kService

  static Caller user(std::string name, std::string role) {
    return Caller{Kind::kUser, std::move(name), std::move(role), {}};
  }
  static Caller service(std::string name, std::string type) {
    return Caller{Kind::kService, std::move(name), {}, std::move(type)};
  }
  // "user 'ada' (operator)", "notification 'overheat'", "mqtt service 'plant-bus'".
  std::string describe() const;
};

// What a request did.
struct ControlOutcome {
  // The services the request went to, in order, each with what it wrote or ran (all of it on
  // success).
  struct ServiceResult {
    std::string service;
    std::vector<std::string> done;  // set point names written, or the operation's name
    Status status;                  // ok, or why that service refused
  };
  std::vector<ServiceResult> services;
  // A script: the steps it ran and the ones skipped by their condition.
  uint64_t steps_run = 0;
  uint64_t steps_skipped = 0;
};

// Told the outcome of a submitted request (ControlRouter::submit).
using ControlDone = std::function<void(const Result<ControlOutcome>&)>;

// Carries out control requests. Thread-safe.
class ControlRouter {
 public:
  virtual ~ControlRouter() = default;

  // Checks the request (names, the ACLs of the target services or script for `caller`, that the
  // target is running) and carries it out; returns once done, or the first refusal (kNotFound,
  // kInvalidArgument, kPermissionDenied for an ACL, kUnavailable for a service not running,
  // kTimeout, kFailedPrecondition...). A refusal is logged and counted; nothing is dropped
  // silently.
  virtual Result<ControlOutcome> dispatch(const ControlRequest& request, const Caller& caller) = 0;

  // The same, on one of the dispatcher's threads: returns once queued (or refused because the
  // queue is full, kResourceExhausted). Its outcome is logged and counted, and given to `done`
  // (if set) on the thread that carried it out; `done` is called exactly once when submit()
  // returned ok, never when it refused.
  virtual Status submit(ControlRequest request, Caller caller, ControlDone done) = 0;
};

// ---- Control requests as JSON (the MQTT command topic, the REST API) ----------------------
//
// The one JSON form of a control request:
//   {"service": "fan", "values": {"speed": 1200, "on": true}}         write to a named service
//   {"asset": "Motor", "values": [{"name": "speed", "value": 1200}]}  write to an asset's service
//   {"all": true, "operation": "stop", "params": {"why": "fire"}}     operation on every service
//   {"script": "cool-down", "params": {"speed": "1200"}}              run an automation script
// Exactly one of service, asset and all (which must be true) goes with values or operation;
// none with script. values is an object (written in name order) or a list of {name, value}
// (written in the list's order); a value is a JSON number (an integer becomes int64, any other
// number a double), boolean or string. params (with operation or script) map names to strings;
// numbers and booleans are taken as their JSON text. No other field is allowed.

// Limits on a request from outside (MQTT payloads, REST bodies).
inline constexpr size_t kMaxControlRequestBytes = 64 * 1024;
inline constexpr size_t kMaxControlValues = 1'000;   // values, and params, of one request
inline constexpr size_t kMaxControlNameBytes = 256;  // service, asset, script, operation, names
inline constexpr size_t kMaxControlDepth = 8;        // nesting of JSON arrays and objects

// Parses one request; kInvalidArgument otherwise, with a message that names the field at fault,
// e.g. "field 'values[2].value': expected a number, boolean or string".
Result<ControlRequest> parse_control_request(std::string_view json_text);

// The request in the JSON form above (values as a list, so the order is kept); what
// parse_control_request() reads back to an equal request.
std::string control_request_json(const ControlRequest& request);

}  // namespace sluice::runtime
