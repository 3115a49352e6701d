// Automation scripts: a named list of steps that the control dispatcher (control/dispatcher.h)
// runs in order when a script request comes (the REST API, a notification's script delivery,
// another script): write set points, run an operation, wait, change one key of a service's
// settings, run another script. Steps take the request's parameters through `$name$`
// references and may be skipped by a condition on a parameter.
//
// A script is read through runtime::ConfigTable, so the same code reads a [[scripts]] table of
// the config file and a JSON object sent to the REST API. Every key is described, with
// examples, in docs/control.md, "Automation scripts". This file holds the pure parts (parsing,
// substitution, conditions, the check of calls between scripts); running them is the
// dispatcher's.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sample.h"
#include "core/status.h"
#include "runtime/config_table.h"
#include "runtime/control.h"

namespace sluice::control {

// Limits on outside input: steps in one script, and the longest delay step.
constexpr size_t kMaxScriptSteps = 1000;
constexpr std::chrono::hours kMaxDelay{1};

// `condition = { param = "mode", op = "==", value = "auto" }`: the step runs only if it holds.
struct Condition {
  enum class Op { kEq, kNe, kLt, kGt };
  std::string param;
  Op op = Op::kEq;
  std::string value;  // a number or a boolean given in the config is kept as its text

  bool operator==(const Condition&) const = default;
};

// "==", "!=", "<", ">".
const char* op_text(Condition::Op op);

// Whether the condition holds for the request's parameters. When both the parameter's value and
// `value` read entirely as finite numbers (std::from_chars, as doubles), they are compared as
// numbers ("10" > "9", "1.0" == "1"); otherwise as strings, byte by byte ("b" > "a"). A
// parameter that is not among `params` makes the condition false, whatever the operator (even
// "!="): a step that depends on a parameter the caller did not give is skipped, not run on a
// guess.
bool condition_holds(const Condition& condition, const runtime::OperationParams& params);

struct Step {
  enum class Kind { kWrite, kOperation, kDelay, kConfigure, kScript };
  Kind kind = Kind::kWrite;
  std::optional<Condition> condition;  // none: always runs

  // kWrite, kOperation: where it goes (service = "x", asset = "x" or all = true).
  runtime::ControlTarget target;
  // kWrite: the set points to write, in the order the table keeps them (by key, as for the
  // REST API's object form). String values may hold `$param$` references (see
  // substitute_value).
  std::vector<std::pair<std::string, Value>> values;
  std::string operation;            // kOperation: the operation's name
  runtime::OperationParams params;  // kOperation: its parameters; kScript: the child's; `$param$`
  std::chrono::milliseconds delay{0};  // kDelay: (0, kMaxDelay]
  std::string service;                 // kConfigure: the service whose settings change
  std::string key;                     // kConfigure: the top-level key set
  std::string value;                   // kConfigure: its new value as TOML value text; `$param$`
  std::string script;                  // kScript: the script to run
  bool parallel = false;               // kScript: run on the dispatcher's threads and go on

  bool operator==(const Step&) const = default;
};

// "write", "operation", "delay", "configure", "script".
const char* step_kind_name(Step::Kind kind);

struct Script {
  std::string name;  // unique among scripts; [A-Za-z0-9_.-]+
  std::string description;
  std::string acl;  // the ACL a caller must be granted to run it; "": none of its own
  std::vector<Step> steps;

  bool operator==(const Script&) const = default;
};

// `text` with each `$name$` replaced by the parameter `name`'s value; `$$` is one `$`; a `$name$`
// whose name is not a parameter stays as it is (so a mistyped name shows), and so does a lone
// `$` (the scan goes on after it). The same convention as the rules' data substitution
// (rules/substitution.h). `replaced`, if given, receives how many references were replaced.
std::string substitute_params(std::string_view text, const runtime::OperationParams& params,
                              size_t* replaced = nullptr);

// A write step's value after substitution. A string is substituted (substitute_params); if at
// least one reference was replaced and the result reads entirely as a number or a boolean, it
// becomes one: an integer that fits int64 ("42", "-7") an int64, another number ("1.5",
// "1e3") a double, "true"/"false" a bool. So `speed = "$speed$"` with speed=1200 writes the
// integer 1200. A string written without references stays a string ("42" is the string "42"),
// and numbers and booleans are written as given.
Value substitute_value(const Value& value, const runtime::OperationParams& params);

// Reads and checks every key of one script table: `name` (required), `description`, `acl`,
// `steps` (required, 1 to kMaxScriptSteps tables; each has `kind` and the keys of that kind,
// see docs/control.md). Errors are recorded in `table`, each naming its whole key
// ("scripts[0].steps[2].delay"); the returned Script is meaningful only without errors.
Script read_script(runtime::ConfigTable& table);

// Reads one script from a JSON object through runtime::JsonTable; `path` prefixes the keys in
// errors. Unknown keys are errors. kInvalidArgument with every error, one per line.
Result<Script> script_from_json(const nlohmann::json& object, std::string_view path = {});

// The script as a JSON object (what script_from_json reads back to the same Script).
nlohmann::json to_json(const Script& script);

// Checks the calls between scripts: names are unique, every `script` step names a script of the
// set, and no script calls itself, directly or through others. The error (kInvalidArgument)
// names the script and step and, for a loop, the whole cycle: "script 'a' calls itself:
// a → b → a".
Status check_calls(const std::vector<Script>& scripts);

}  // namespace sluice::control
