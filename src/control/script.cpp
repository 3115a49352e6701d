// Automation scripts: reading a [[scripts]] table (or its JSON), parameter substitution,
// conditions, and the check of calls between scripts (see script.h).
#include "control/script.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include "control/acl.h"
#include "rules/substitution.h"
#include "runtime/config_text.h"
#include "runtime/json_table.h"

namespace sluice::control {
namespace {

using runtime::ConfigTable;

// The most values one write step writes, and parameters one step passes.
constexpr size_t kMaxStepEntries = 1000;

constexpr std::string_view kKinds = R"("write", "operation", "delay", "configure", "script")";

// A whole string as a finite double.
std::optional<double> as_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double d = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

// A whole string as an int64.
std::optional<int64_t> as_integer(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t i = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return i;
}

bool valid_service_name(const std::string& v) {
  return !v.empty() && v.size() <= kMaxDefinitionNameLength && v.front() != '.' &&
         valid_definition_name(v);
}

// A table of scalars read as parameters: strings as they are, numbers and booleans as their
// text (rules::format_value).
runtime::OperationParams read_params(ConfigTable& t) {
  runtime::OperationParams out;
  auto values = t.values("params", "a table of parameter names and values");
  if (!values) return out;
  if (values->size() > kMaxStepEntries) {
    t.error("params", fmt::format("{} parameters; a step passes at most {}", values->size(),
                                  kMaxStepEntries));
    return out;
  }
  for (const auto& [name, value] : *values) out[name] = rules::format_value(value);
  return out;
}

std::optional<Condition> read_condition(ConfigTable& t) {
  auto values = t.values("condition", R"(a table { param = "name", op = "==", value = "x" })");
  if (!values) return std::nullopt;
  Condition c;
  bool has_param = false;
  bool has_op = false;
  bool has_value = false;
  bool good = true;
  for (const auto& [name, value] : *values) {
    if (name == "param") {
      has_param = true;
      if (value_type(value) != ValueType::kString || std::get<std::string>(value).empty()) {
        t.error("condition.param", fmt::format("expected the name of a parameter, got {}",
                                               rules::format_value(value)));
        good = false;
        continue;
      }
      c.param = std::get<std::string>(value);
    } else if (name == "op") {
      has_op = true;
      const std::string text =
          value_type(value) == ValueType::kString ? std::get<std::string>(value) : "";
      if (text == "==") {
        c.op = Condition::Op::kEq;
      } else if (text == "!=") {
        c.op = Condition::Op::kNe;
      } else if (text == "<") {
        c.op = Condition::Op::kLt;
      } else if (text == ">") {
        c.op = Condition::Op::kGt;
      } else {
        t.error("condition.op", fmt::format(R"(expected one of "==", "!=", "<", ">", got {})",
                                            rules::format_value(value)));
        good = false;
      }
    } else if (name == "value") {
      has_value = true;
      c.value = rules::format_value(value);
    } else {
      t.error("condition." + name, "unknown key; the keys of a condition are param, op, value");
      good = false;
    }
  }
  for (const auto& [given, key] :
       {std::pair{has_param, "param"}, std::pair{has_op, "op"}, std::pair{has_value, "value"}}) {
    if (!given) {
      t.error(std::string("condition.") + key,
              R"(missing; a condition reads { param = "name", op = "==", value = "x" })");
      good = false;
    }
  }
  if (!good) return std::nullopt;
  return c;
}

// service = "x" | asset = "x" | all = true, exactly one.
runtime::ControlTarget read_target(ConfigTable& t, std::string_view kind) {
  runtime::ControlTarget target;
  const int given = int{t.has("service")} + int{t.has("asset")} + int{t.has("all")};
  if (given == 0) {
    t.error("service", fmt::format("missing; a {} step needs a target: service = \"name\", "
                                   "asset = \"name\" or all = true",
                                   kind));
    return target;
  }
  if (t.has("service")) {
    target.kind = runtime::ControlTarget::Kind::kService;
    target.name = t.string("service", "", "the name of a source",
                           [](const std::string& v) { return valid_service_name(v); });
  }
  if (t.has("asset")) {
    if (given > 1) {
      t.error("asset", "a step has one target: service, asset or all, not several");
    }
    target.kind = runtime::ControlTarget::Kind::kAsset;
    target.name = t.string("asset", "", "the name of an asset",
                           [](const std::string& v) { return !v.empty(); });
  }
  if (t.has("all")) {
    if (given > 1) t.error("all", "a step has one target: service, asset or all, not several");
    if (t.boolean("all", false)) {
      target.kind = runtime::ControlTarget::Kind::kAll;
      target.name.clear();
    } else if (given == 1) {
      t.error("all", "all = false names no target; write all = true, or service or asset");
    }
  }
  return target;
}

std::string required_string(ConfigTable& t, std::string_view key, std::string_view what,
                            std::string_view expected,
                            const ConfigTable::Check<std::string>& check) {
  if (!t.has(key)) {
    t.error(key, fmt::format("missing; {}", what));
    return {};
  }
  return t.string(key, "", expected, check);
}

Step read_step(ConfigTable& t) {
  Step step;
  if (!t.has("kind")) {
    t.error("kind", fmt::format("missing; each step says what it does: one of {}", kKinds));
    t.ignore_unknown_keys();  // its other keys cannot be judged without the kind
    return step;
  }
  constexpr size_t kUnknown = ~size_t{0};
  const size_t kind =
      t.choice("kind", kUnknown, {"write", "operation", "delay", "configure", "script"});
  if (kind == kUnknown) {
    t.ignore_unknown_keys();
    return step;
  }
  step.kind = static_cast<Step::Kind>(kind);
  step.condition = read_condition(t);
  switch (step.kind) {
    case Step::Kind::kWrite: {
      step.target = read_target(t, "write");
      if (!t.has("values")) {
        t.error("values", "missing; a write step writes values = { name = value, ... }");
        break;
      }
      auto values = t.values("values", "a table of set point names and values");
      if (!values) break;
      if (values->empty()) {
        t.error("values", "empty; a write step writes at least one set point");
      } else if (values->size() > kMaxStepEntries) {
        t.error("values", fmt::format("{} values; a step writes at most {}", values->size(),
                                      kMaxStepEntries));
      } else {
        step.values = std::move(*values);
      }
      break;
    }
    case Step::Kind::kOperation:
      step.target = read_target(t, "operation");
      step.operation = required_string(
          t, "operation", "an operation step names the operation to run",
          "the name of an operation", [](const std::string& v) { return !v.empty(); });
      step.params = read_params(t);
      break;
    case Step::Kind::kDelay: {
      using std::chrono::nanoseconds;
      if (!t.has("delay")) {
        t.error("delay", "missing; a delay step waits delay = \"500ms\" (up to 1h)");
        break;
      }
      const nanoseconds d =
          t.duration("delay", nanoseconds{0}, "a duration from 1ms to 1h, e.g. \"500ms\" or \"2s\"",
                     [](const nanoseconds& v) {
                       return v >= std::chrono::milliseconds(1) && v <= nanoseconds(kMaxDelay);
                     });
      step.delay = std::chrono::duration_cast<std::chrono::milliseconds>(d);
      break;
    }
    case Step::Kind::kConfigure: {
      step.service = required_string(t, "service", "a configure step names the service to change",
                                     "the name of a service",
                                     [](const std::string& v) { return valid_service_name(v); });
      step.key = required_string(
          t, "key", "a configure step names the key of the service's settings to set",
          "a top-level key of the service's settings ([A-Za-z0-9_-]+; not name or type)",
          [](const std::string& v) {
            return v != "name" && v != "type" &&
                   std::all_of(v.begin(), v.end(),
                               [](char c) {
                                 return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                        c == '-';
                               }) &&
                   !v.empty();
          });
      step.value = required_string(
          t, "value",
          R"(a configure step gives the key's new value as TOML text, e.g. "2" or "\"500ms\"")",
          R"(a TOML value as text, e.g. "2" or "\"500ms\"")",
          [](const std::string& v) { return !v.empty(); });
      // Without references the value is final: check it now rather than when the script runs.
      if (!step.value.empty() && step.value.find('$') == std::string::npos) {
        const Result<std::string> check = runtime::set_table_key("", "v", step.value);
        if (!check.ok()) t.error("value", check.status().message());
      }
      break;
    }
    case Step::Kind::kScript:
      step.script = required_string(t, "script", "a script step names the script to run",
                                    "the name of a script",
                                    [](const std::string& v) { return valid_definition_name(v); });
      step.params = read_params(t);
      step.parallel = t.boolean("parallel", false);
      break;
  }
  return step;
}

nlohmann::json value_json(const Value& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

}  // namespace

const char* op_text(Condition::Op op) {
  switch (op) {
    case Condition::Op::kEq: return "==";
    case Condition::Op::kNe: return "!=";
    case Condition::Op::kLt: return "<";
    case Condition::Op::kGt: return ">";
  }
  return "?";
}

const char* step_kind_name(Step::Kind kind) {
  switch (kind) {
    case Step::Kind::kWrite: return "write";
    case Step::Kind::kOperation: return "operation";
    case Step::Kind::kDelay: return "delay";
    case Step::Kind::kConfigure: return "configure";
    case Step::Kind::kScript: return "script";
  }
  return "?";
}

bool condition_holds(const Condition& c, const runtime::OperationParams& params) {
  const auto it = params.find(c.param);
  if (it == params.end()) return false;
  const std::string& actual = it->second;
  const std::optional<double> a = as_number(actual);
  const std::optional<double> b = as_number(c.value);
  int cmp = 0;  // <0, 0, >0 as actual compares with c.value
  if (a && b) {
    cmp = *a < *b ? -1 : (*a > *b ? 1 : 0);
  } else {
    cmp = actual.compare(c.value);
  }
  switch (c.op) {
    case Condition::Op::kEq: return cmp == 0;
    case Condition::Op::kNe: return cmp != 0;
    case Condition::Op::kLt: return cmp < 0;
    case Condition::Op::kGt: return cmp > 0;
  }
  return false;
}

std::string substitute_params(std::string_view text, const runtime::OperationParams& params,
                              size_t* replaced) {
  return rules::substitute_with(
      text,
      [&params](std::string_view name, std::string& out) {
        const auto it = params.find(std::string(name));
        if (it != params.end()) out += it->second;
        return it != params.end();
      },
      replaced);
}

Value substitute_value(const Value& value, const runtime::OperationParams& params) {
  if (value_type(value) != ValueType::kString) return value;
  size_t replaced = 0;
  std::string text = substitute_params(std::get<std::string>(value), params, &replaced);
  if (replaced == 0) return text;
  if (text == "true") return true;
  if (text == "false") return false;
  if (const auto i = as_integer(text)) return *i;
  if (const auto d = as_number(text)) return *d;
  return text;
}

Script read_script(ConfigTable& t) {
  Script script;
  if (!t.has("name")) t.error("name", "missing; every script needs a name, which callers use");
  script.name =
      t.string("name", "",
               fmt::format("a name of 1 to {} characters [A-Za-z0-9_.-]", kMaxDefinitionNameLength),
               [](const std::string& v) { return valid_definition_name(v); });
  script.description = t.string("description", "", "a string");
  script.acl = t.string("acl", "", "the name of an [[acls]] entry",
                        [](const std::string& v) { return valid_definition_name(v); });
  if (!t.has("steps")) {
    t.error("steps", "missing; a script runs at least one step ([[scripts.steps]])");
    return script;
  }
  const std::optional<ConfigTable::Tables> steps = t.tables("steps");
  if (!steps) return script;
  if (steps->empty()) {
    t.error("steps", "empty; a script runs at least one step");
    return script;
  }
  if (steps->size() > kMaxScriptSteps) {
    t.error("steps",
            fmt::format("{} steps; a script has at most {}", steps->size(), kMaxScriptSteps));
    return script;
  }
  for (ConfigTable& step : *steps) script.steps.push_back(read_step(step));
  return script;
}

Result<Script> script_from_json(const nlohmann::json& object, std::string_view path) {
  if (!object.is_object()) {
    return invalid_argument(fmt::format("{}: expected a JSON object, got {}",
                                        path.empty() ? std::string("script") : std::string(path),
                                        runtime::show_json(object)));
  }
  std::vector<std::string> errors;
  const std::string base_dir;
  runtime::JsonTable table(object, std::string(path), base_dir, errors);
  Script script = read_script(table);
  table.report_unknown_keys();
  if (!errors.empty()) return invalid_argument(fmt::format("{}", fmt::join(errors, "\n")));
  return script;
}

nlohmann::json to_json(const Script& script) {
  nlohmann::json steps = nlohmann::json::array();
  for (const Step& s : script.steps) {
    nlohmann::json j = {{"kind", step_kind_name(s.kind)}};
    if (s.condition) {
      j["condition"] = {{"param", s.condition->param},
                        {"op", op_text(s.condition->op)},
                        {"value", s.condition->value}};
    }
    if (s.kind == Step::Kind::kWrite || s.kind == Step::Kind::kOperation) {
      switch (s.target.kind) {
        case runtime::ControlTarget::Kind::kService: j["service"] = s.target.name; break;
        case runtime::ControlTarget::Kind::kAsset: j["asset"] = s.target.name; break;
        case runtime::ControlTarget::Kind::kAll: j["all"] = true; break;
      }
    }
    switch (s.kind) {
      case Step::Kind::kWrite: {
        nlohmann::json values = nlohmann::json::object();
        for (const auto& [name, value] : s.values) values[name] = value_json(value);
        j["values"] = std::move(values);
        break;
      }
      case Step::Kind::kOperation:
        j["operation"] = s.operation;
        j["params"] = s.params;
        break;
      case Step::Kind::kDelay: j["delay"] = fmt::format("{}ms", s.delay.count()); break;
      case Step::Kind::kConfigure:
        j["service"] = s.service;
        j["key"] = s.key;
        j["value"] = s.value;
        break;
      case Step::Kind::kScript:
        j["script"] = s.script;
        j["params"] = s.params;
        j["parallel"] = s.parallel;
        break;
    }
    steps.push_back(std::move(j));
  }
  nlohmann::json out = {{"name", script.name}, {"description", script.description}};
  if (!script.acl.empty()) out["acl"] = script.acl;
  out["steps"] = std::move(steps);
  return out;
}

Status check_calls(const std::vector<Script>& scripts) {
  std::map<std::string, size_t> index;
  std::vector<std::string> errors;
  for (size_t i = 0; i < scripts.size(); ++i) {
    auto [it, inserted] = index.emplace(scripts[i].name, i);
    if (!inserted) {
      errors.push_back(
          fmt::format("script name '{}' is used twice (scripts[{}] and scripts[{}]); "
                      "names are unique",
                      scripts[i].name, it->second, i));
    }
  }
  for (const Script& s : scripts) {
    for (size_t k = 0; k < s.steps.size(); ++k) {
      const Step& step = s.steps[k];
      if (step.kind != Step::Kind::kScript || index.count(step.script) != 0) continue;
      std::string names;
      for (const auto& [name, i] : index) names += (names.empty() ? "" : ", ") + name;
      errors.push_back(
          fmt::format("script '{}' steps[{}] calls script '{}', which does not "
                      "exist (the scripts: {})",
                      s.name, k, step.script, names.empty() ? "none" : names));
    }
  }
  if (!errors.empty()) return invalid_argument(fmt::format("{}", fmt::join(errors, "\n")));

  // Depth-first search for a cycle; `path` is the chain of calls being followed.
  enum class Mark { kNew, kOnPath, kDone };
  std::vector<Mark> mark(scripts.size(), Mark::kNew);
  std::vector<size_t> path;
  std::function<std::optional<std::string>(size_t)> visit =
      [&](size_t i) -> std::optional<std::string> {
    mark[i] = Mark::kOnPath;
    path.push_back(i);
    for (const Step& step : scripts[i].steps) {
      if (step.kind != Step::Kind::kScript) continue;
      const size_t j = index.at(step.script);
      if (mark[j] == Mark::kOnPath) {
        std::string cycle;
        const auto from = std::find(path.begin(), path.end(), j);
        for (auto it = from; it != path.end(); ++it) cycle += scripts[*it].name + " → ";
        cycle += scripts[j].name;
        return fmt::format("script '{}' calls itself: {}", scripts[j].name, cycle);
      }
      if (mark[j] == Mark::kNew) {
        if (auto found = visit(j)) return found;
      }
    }
    path.pop_back();
    mark[i] = Mark::kDone;
    return std::nullopt;
  };
  for (size_t i = 0; i < scripts.size(); ++i) {
    if (mark[i] != Mark::kNew) continue;
    if (auto cycle = visit(i)) {
      return invalid_argument(*cycle +
                              "; a script may not call itself, directly or through "
                              "others");
    }
  }
  return Status::ok_status();
}

}  // namespace sluice::control
