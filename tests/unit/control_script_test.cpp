// Automation scripts (control/script.h): every step kind read from JSON and from the config
// file's [[scripts]] tables; each error names its whole key; conditions compare numbers as numbers
// and the rest as strings, and a missing parameter makes them false; `$param$` substitution with
// `$$` and unknown references kept; substituted values become numbers or booleans only when a
// reference was replaced; check_calls finds loops (naming the cycle) and calls to unknown
// scripts; to_json reads back to the same script. Also set_table_key (runtime/config_text.h),
// which the configure step uses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "control/script.h"
#include "runtime/config.h"
#include "runtime/config_text.h"
#include "runtime/source_types.h"

namespace sluice::control {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

Script parse(const json& j) {
  Result<Script> r = script_from_json(j, "scripts[0]");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Script{};
}

std::string error_of(const json& j) {
  Result<Script> r = script_from_json(j, "scripts[0]");
  EXPECT_FALSE(r.ok()) << "expected an error for " << j.dump();
  return r.ok() ? std::string() : r.status().message();
}

// A script named "s" with these steps.
json with_steps(json steps) { return {{"name", "s"}, {"steps", std::move(steps)}}; }
// The error of a script whose only step (steps[0]) is `step`.
std::string step_error(json step) { return error_of(with_steps(json::array({std::move(step)}))); }

TEST(ControlScript, EveryStepKindIsReadFromJson) {
  const Script s = parse(json::parse(R"({
    "name": "start-line", "description": "starts line 1", "acl": "ops",
    "steps": [
      {"kind": "write", "service": "fan", "values": {"speed": "$speed$", "run": true}},
      {"kind": "operation", "asset": "Motor", "operation": "reset", "params": {"mode": "$mode$", "n": 2}},
      {"kind": "delay", "delay": "1500ms", "condition": {"param": "mode", "op": "==", "value": "auto"}},
      {"kind": "configure", "service": "sim", "key": "rate", "value": "$rate$"},
      {"kind": "script", "script": "purge", "params": {"line": "1"}, "parallel": true},
      {"kind": "write", "all": true, "values": {"stop": false}}
    ]})"));
  EXPECT_EQ(s.name, "start-line");
  EXPECT_EQ(s.description, "starts line 1");
  EXPECT_EQ(s.acl, "ops");
  ASSERT_EQ(s.steps.size(), 6u);

  const Step& write = s.steps[0];
  EXPECT_EQ(write.kind, Step::Kind::kWrite);
  EXPECT_EQ(write.target, (runtime::ControlTarget{runtime::ControlTarget::Kind::kService, "fan"}));
  ASSERT_EQ(write.values.size(), 2u);
  EXPECT_EQ(write.values[0], (std::pair<std::string, Value>{"run", true}));  // by key
  EXPECT_EQ(write.values[1], (std::pair<std::string, Value>{"speed", std::string("$speed$")}));
  EXPECT_FALSE(write.condition.has_value());

  const Step& op = s.steps[1];
  EXPECT_EQ(op.kind, Step::Kind::kOperation);
  EXPECT_EQ(op.target, (runtime::ControlTarget{runtime::ControlTarget::Kind::kAsset, "Motor"}));
  EXPECT_EQ(op.operation, "reset");
  EXPECT_EQ(op.params, (runtime::OperationParams{{"mode", "$mode$"}, {"n", "2"}}));

  const Step& delay = s.steps[2];
  EXPECT_EQ(delay.kind, Step::Kind::kDelay);
  EXPECT_EQ(delay.delay, std::chrono::milliseconds(1500));
  ASSERT_TRUE(delay.condition.has_value());
  EXPECT_EQ(*delay.condition, (Condition{"mode", Condition::Op::kEq, "auto"}));

  const Step& configure = s.steps[3];
  EXPECT_EQ(configure.kind, Step::Kind::kConfigure);
  EXPECT_EQ(configure.service, "sim");
  EXPECT_EQ(configure.key, "rate");
  EXPECT_EQ(configure.value, "$rate$");

  const Step& call = s.steps[4];
  EXPECT_EQ(call.kind, Step::Kind::kScript);
  EXPECT_EQ(call.script, "purge");
  EXPECT_EQ(call.params, (runtime::OperationParams{{"line", "1"}}));
  EXPECT_TRUE(call.parallel);

  EXPECT_EQ(s.steps[5].target.kind, runtime::ControlTarget::Kind::kAll);
}

TEST(ControlScript, ToJsonReadsBackToTheSameScript) {
  const Script s = parse(json::parse(R"({
    "name": "a", "acl": "ops", "steps": [
      {"kind": "write", "asset": "Motor", "values": {"speed": 1.5, "n": 3, "on": true, "m": "x"},
       "condition": {"param": "n", "op": ">", "value": 2}},
      {"kind": "operation", "all": true, "operation": "reset"},
      {"kind": "delay", "delay": "2s"},
      {"kind": "configure", "service": "sim", "key": "rate", "value": "20"},
      {"kind": "script", "script": "b"}]})"));
  Result<Script> back = script_from_json(to_json(s));
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << to_json(s).dump(2);
  EXPECT_EQ(*back, s);
}

TEST(ControlScript, ScriptKeysAreCheckedWithTheirNames) {
  EXPECT_THAT(error_of({{"steps", json::array({{{"kind", "delay"}, {"delay", "1s"}}})}}),
              HasSubstr("key 'scripts[0].name': missing"));
  EXPECT_THAT(
      error_of({{"name", "a b"}, {"steps", json::array({{{"kind", "delay"}, {"delay", "1s"}}})}}),
      HasSubstr("key 'scripts[0].name': expected a name"));
  EXPECT_THAT(error_of({{"name", "s"}}), HasSubstr("key 'scripts[0].steps': missing"));
  EXPECT_THAT(error_of(with_steps(json::array())), HasSubstr("key 'scripts[0].steps': empty"));
  EXPECT_THAT(error_of(with_steps(json::object())),
              HasSubstr("key 'scripts[0].steps': expected an array of objects"));
  EXPECT_THAT(error_of({{"name", "s"},
                        {"acl", ""},
                        {"steps", json::array({{{"kind", "delay"}, {"delay", "1s"}}})}}),
              HasSubstr("key 'scripts[0].acl': expected the name of an [[acls]] entry"));
  EXPECT_THAT(error_of({{"name", "s"},
                        {"step", 1},
                        {"steps", json::array({{{"kind", "delay"}, {"delay", "1s"}}})}}),
              HasSubstr("key 'scripts[0].step': unknown key"));
}

TEST(ControlScript, TooManyStepsAreRefused) {
  json steps = json::array();
  for (size_t i = 0; i <= kMaxScriptSteps; ++i)
    steps.push_back({{"kind", "delay"}, {"delay", "1ms"}});
  EXPECT_THAT(error_of(with_steps(steps)),
              HasSubstr("key 'scripts[0].steps': 1001 steps; a script has at most 1000"));
}

TEST(ControlScript, AStepsKindIsRequiredAndMustBeKnown) {
  EXPECT_THAT(step_error({{"service", "fan"}}),
              HasSubstr("key 'scripts[0].steps[0].kind': missing"));
  const std::string e = step_error({{"kind", "wait"}, {"delay", "1s"}});
  EXPECT_THAT(e, HasSubstr("key 'scripts[0].steps[0].kind': expected one of \"write\", "
                           "\"operation\", \"delay\", \"configure\", \"script\", got \"wait\""));
  EXPECT_THAT(e, Not(HasSubstr("unknown key")));  // one error says it all
}

TEST(ControlScript, TheErrorOfALaterStepNamesItsIndex) {
  const std::string e = error_of(with_steps(json::array({{{"kind", "delay"}, {"delay", "1s"}},
                                                         {{"kind", "delay"}, {"delay", "1s"}},
                                                         {{"kind", "delay"}, {"delay", "2h"}}})));
  EXPECT_THAT(e, HasSubstr("key 'scripts[0].steps[2].delay': expected a duration from 1ms to 1h"));
}

TEST(ControlScript, DelayErrors) {
  EXPECT_THAT(step_error({{"kind", "delay"}}),
              HasSubstr("key 'scripts[0].steps[0].delay': missing"));
  EXPECT_THAT(step_error({{"kind", "delay"}, {"delay", 0}}),
              HasSubstr("key 'scripts[0].steps[0].delay': expected a duration from 1ms to 1h"));
  EXPECT_THAT(step_error({{"kind", "delay"}, {"delay", "500us"}}),
              HasSubstr("scripts[0].steps[0].delay"));
  EXPECT_THAT(step_error({{"kind", "delay"}, {"delay", 500}}),
              HasSubstr("scripts[0].steps[0].delay"));
  // A key of another kind is not silently ignored.
  EXPECT_THAT(step_error({{"kind", "delay"}, {"delay", "1s"}, {"service", "fan"}}),
              HasSubstr("key 'scripts[0].steps[0].service': unknown key"));
}

TEST(ControlScript, WriteAndOperationTargetErrors) {
  EXPECT_THAT(step_error({{"kind", "write"}, {"values", {{"a", 1}}}}),
              HasSubstr("key 'scripts[0].steps[0].service': missing; a write step needs a "
                        "target"));
  EXPECT_THAT(
      step_error({{"kind", "write"}, {"service", "fan"}, {"asset", "M"}, {"values", {{"a", 1}}}}),
      HasSubstr("key 'scripts[0].steps[0].asset': a step has one target"));
  EXPECT_THAT(step_error({{"kind", "write"}, {"all", false}, {"values", {{"a", 1}}}}),
              HasSubstr("key 'scripts[0].steps[0].all': all = false names no target"));
  EXPECT_THAT(step_error({{"kind", "write"}, {"service", ""}, {"values", {{"a", 1}}}}),
              HasSubstr("key 'scripts[0].steps[0].service': expected the name of a source"));
  EXPECT_THAT(step_error({{"kind", "operation"}, {"service", "fan"}}),
              HasSubstr("key 'scripts[0].steps[0].operation': missing"));
  EXPECT_THAT(
      step_error({{"kind", "operation"},
                  {"service", "fan"},
                  {"operation", "r"},
                  {"params", {{"a", {1}}}}}),
      HasSubstr("key 'scripts[0].steps[0].params.a': expected a number, boolean or string"));
}

TEST(ControlScript, WriteValuesErrors) {
  EXPECT_THAT(step_error({{"kind", "write"}, {"service", "fan"}}),
              HasSubstr("key 'scripts[0].steps[0].values': missing"));
  EXPECT_THAT(step_error({{"kind", "write"}, {"service", "fan"}, {"values", json::object()}}),
              HasSubstr("key 'scripts[0].steps[0].values': empty"));
  EXPECT_THAT(step_error({{"kind", "write"}, {"service", "fan"}, {"values", {1, 2}}}),
              HasSubstr("key 'scripts[0].steps[0].values': expected a table of set point names"));
  EXPECT_THAT(step_error({{"kind", "write"}, {"service", "fan"}, {"values", {{"speed", nullptr}}}}),
              HasSubstr("key 'scripts[0].steps[0].values.speed'"));
}

TEST(ControlScript, ConfigureErrors) {
  const json base = {{"kind", "configure"}, {"service", "sim"}, {"key", "rate"}, {"value", "2"}};
  json j = base;
  j.erase("service");
  EXPECT_THAT(step_error(j), HasSubstr("key 'scripts[0].steps[0].service': missing"));
  j = base;
  j["key"] = "name";
  EXPECT_THAT(step_error(j), HasSubstr("key 'scripts[0].steps[0].key': expected a top-level key"));
  j["key"] = "a.b";
  EXPECT_THAT(step_error(j), HasSubstr("key 'scripts[0].steps[0].key'"));
  j = base;
  j["value"] = "500ms";  // not TOML: a string must be quoted
  EXPECT_THAT(step_error(j),
              HasSubstr("key 'scripts[0].steps[0].value': '500ms' is not a TOML value"));
  j["value"] = "1\nother = 2";
  EXPECT_THAT(step_error(j), HasSubstr("key 'scripts[0].steps[0].value'"));
  j["value"] = 2;
  EXPECT_THAT(step_error(j),
              HasSubstr("key 'scripts[0].steps[0].value': expected a TOML value as text"));
  j["value"] = "$rate$ms";  // checked when it runs, after substitution
  EXPECT_TRUE(script_from_json(with_steps(json::array({j}))).ok());
}

TEST(ControlScript, ScriptStepErrors) {
  EXPECT_THAT(step_error({{"kind", "script"}}),
              HasSubstr("key 'scripts[0].steps[0].script': missing"));
  EXPECT_THAT(step_error({{"kind", "script"}, {"script", "b"}, {"parallel", "yes"}}),
              HasSubstr("key 'scripts[0].steps[0].parallel': expected true or false"));
}

TEST(ControlScript, ConditionErrorsNameTheConditionsKey) {
  const json step = {{"kind", "delay"}, {"delay", "1s"}};
  auto with = [&](json condition) {
    json j = step;
    j["condition"] = std::move(condition);
    return step_error(j);
  };
  EXPECT_THAT(with({{"param", "mode"}, {"op", "=~"}, {"value", "a"}}),
              HasSubstr("key 'scripts[0].steps[0].condition.op': expected one of \"==\", \"!=\", "
                        "\"<\", \">\", got =~"));
  EXPECT_THAT(with({{"param", "mode"}, {"op", "=="}}),
              HasSubstr("key 'scripts[0].steps[0].condition.value': missing"));
  EXPECT_THAT(with({{"op", "=="}, {"value", 1}}),
              HasSubstr("key 'scripts[0].steps[0].condition.param': missing"));
  EXPECT_THAT(with({{"param", ""}, {"op", "=="}, {"value", 1}}),
              HasSubstr("key 'scripts[0].steps[0].condition.param': expected the name of a "
                        "parameter"));
  EXPECT_THAT(with({{"param", "m"}, {"op", "=="}, {"value", 1}, {"else", 2}}),
              HasSubstr("key 'scripts[0].steps[0].condition.else': unknown key"));
  EXPECT_THAT(with("mode == auto"),
              HasSubstr("key 'scripts[0].steps[0].condition': expected a table"));
}

TEST(ControlScript, ConditionsCompareNumbersAsNumbersAndOtherwiseAsStrings) {
  const runtime::OperationParams p = {{"n", "10"}, {"mode", "auto"}, {"x", "1.0"}, {"code", "10a"}};
  using Op = Condition::Op;
  EXPECT_TRUE(condition_holds({"mode", Op::kEq, "auto"}, p));
  EXPECT_FALSE(condition_holds({"mode", Op::kEq, "Auto"}, p));
  EXPECT_TRUE(condition_holds({"mode", Op::kNe, "manual"}, p));
  EXPECT_FALSE(condition_holds({"mode", Op::kNe, "auto"}, p));
  // Numbers: 10 > 9 (as strings "10" < "9"), 1.0 == 1.
  EXPECT_TRUE(condition_holds({"n", Op::kGt, "9"}, p));
  EXPECT_FALSE(condition_holds({"n", Op::kLt, "9"}, p));
  EXPECT_TRUE(condition_holds({"n", Op::kLt, "10.5"}, p));
  EXPECT_TRUE(condition_holds({"x", Op::kEq, "1"}, p));
  EXPECT_FALSE(condition_holds({"x", Op::kNe, "1"}, p));
  // One side not a number: strings, byte by byte ("10a" < "9").
  EXPECT_TRUE(condition_holds({"code", Op::kLt, "9"}, p));
  EXPECT_TRUE(condition_holds({"mode", Op::kGt, "about"}, p));
  EXPECT_FALSE(condition_holds({"mode", Op::kLt, "about"}, p));
}

TEST(ControlScript, AMissingParameterMakesEveryConditionFalse) {
  const runtime::OperationParams none;
  for (Condition::Op op :
       {Condition::Op::kEq, Condition::Op::kNe, Condition::Op::kLt, Condition::Op::kGt}) {
    EXPECT_FALSE(condition_holds({"mode", op, "auto"}, none)) << op_text(op);
  }
}

TEST(ControlScript, ParametersAreSubstitutedAndUnknownReferencesStay) {
  const runtime::OperationParams p = {{"speed", "1200"}, {"unit", "rpm"}};
  size_t n = 0;
  EXPECT_EQ(substitute_params("$speed$ $unit$", p, &n), "1200 rpm");
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(substitute_params("costs $$5", p, &n), "costs $5");
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(substitute_params("$speedd$ stays", p, &n), "$speedd$ stays");
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(substitute_params("a lone $ then $speed$", p, &n), "a lone $ then 1200");
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(substitute_params("$speed$$unit$", p), "1200rpm");
  EXPECT_EQ(substitute_params("ends with $", p), "ends with $");
  EXPECT_EQ(substitute_params("", p), "");
}

TEST(ControlScript, ASubstitutedValueBecomesANumberOrBooleanOnlyWhenAReferenceWasReplaced) {
  const runtime::OperationParams p = {
      {"i", "42"},    {"neg", "-7"},    {"d", "1.5"},  {"e", "1e3"},
      {"on", "true"}, {"off", "false"}, {"s", "fast"}, {"big", "99999999999999999999"}};
  EXPECT_EQ(substitute_value(std::string("$i$"), p), Value(int64_t{42}));
  EXPECT_EQ(substitute_value(std::string("$neg$"), p), Value(int64_t{-7}));
  EXPECT_EQ(substitute_value(std::string("$d$"), p), Value(1.5));
  EXPECT_EQ(substitute_value(std::string("$e$"), p), Value(1000.0));
  EXPECT_EQ(substitute_value(std::string("$big$"), p), Value(1e20));  // too big for int64
  EXPECT_EQ(substitute_value(std::string("$on$"), p), Value(true));
  EXPECT_EQ(substitute_value(std::string("$off$"), p), Value(false));
  EXPECT_EQ(substitute_value(std::string("$s$"), p), Value(std::string("fast")));
  EXPECT_EQ(substitute_value(std::string("$i$ rpm"), p), Value(std::string("42 rpm")));
  EXPECT_EQ(substitute_value(std::string("$i$$i$"), p), Value(int64_t{4242}));
  // Without a replaced reference, a string stays a string.
  EXPECT_EQ(substitute_value(std::string("42"), p), Value(std::string("42")));
  EXPECT_EQ(substitute_value(std::string("$x$"), p), Value(std::string("$x$")));
  EXPECT_EQ(substitute_value(std::string("$$5"), p), Value(std::string("$5")));
  // Numbers and booleans are written as given.
  EXPECT_EQ(substitute_value(Value(2.5), p), Value(2.5));
  EXPECT_EQ(substitute_value(Value(true), p), Value(true));
}

Script calling(std::string name, std::vector<std::string> callees) {
  Script s;
  s.name = std::move(name);
  for (std::string& c : callees) {
    Step step;
    step.kind = Step::Kind::kScript;
    step.script = std::move(c);
    s.steps.push_back(std::move(step));
  }
  if (s.steps.empty()) {
    Step d;
    d.kind = Step::Kind::kDelay;
    d.delay = std::chrono::milliseconds(1);
    s.steps.push_back(d);
  }
  return s;
}

TEST(ControlScript, CheckCallsRefusesAScriptThatCallsItself) {
  const Status s = check_calls({calling("a", {"a"})});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("script 'a' calls itself: a → a"));
}

TEST(ControlScript, CheckCallsRefusesALoopThroughOthersNamingTheCycle) {
  const Status s = check_calls({calling("a", {"b"}), calling("b", {"a"})});
  EXPECT_THAT(s.message(), HasSubstr("calls itself: a → b → a"));
  // A loop that does not go through the first script: only the cycle is named.
  const Status t = check_calls(
      {calling("a", {"b"}), calling("b", {"c"}), calling("c", {"d", "b"}), calling("d", {})});
  EXPECT_THAT(t.message(), HasSubstr("script 'b' calls itself: b → c → b"));
}

TEST(ControlScript, CheckCallsRefusesACallToAnUnknownScript) {
  const Status s = check_calls({calling("a", {"b", "nope"}), calling("b", {})});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("script 'a' steps[1] calls script 'nope', which does not "
                                     "exist (the scripts: a, b)"));
}

TEST(ControlScript, CheckCallsRefusesTwoScriptsOfOneName) {
  EXPECT_THAT(check_calls({calling("a", {}), calling("a", {})}).message(),
              HasSubstr("script name 'a' is used twice"));
}

TEST(ControlScript, CheckCallsAcceptsSharedCalleesWithoutALoop) {
  // a → b → d and a → c → d: d is called twice, which is not a loop.
  const Status s = check_calls(
      {calling("a", {"b", "c"}), calling("b", {"d"}), calling("c", {"d"}), calling("d", {})});
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(ControlScript, TheConfigFilesTablesAreReadWithLineAndWholeKey) {
  runtime::SourceTypes types;
  types.add_document({"scripts", [](runtime::ConfigTable& t) { (void)read_script(t); }});
  const std::string good = R"([store]
dir = "data"

[[scripts]]
name = "start"
acl = "ops"

[[scripts.steps]]
kind = "write"
service = "fan"
values = { speed = "$speed$", run = true }
condition = { param = "mode", op = "==", value = "auto" }

[[scripts.steps]]
kind = "delay"
delay = "500ms"
)";
  Result<runtime::Config> ok = runtime::parse_config(good, "plant.toml", types);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_EQ(ok->documents.size(), 1u);
  const Script s = parse(json::parse(ok->documents[0].json));
  ASSERT_EQ(s.steps.size(), 2u);
  EXPECT_EQ(s.steps[0].values.size(), 2u);
  EXPECT_EQ(s.steps[1].delay, std::chrono::milliseconds(500));

  const std::string bad = R"([store]
dir = "data"
[[scripts]]
name = "start"
[[scripts.steps]]
kind = "delay"
delay = "1s"
[[scripts.steps]]
kind = "delay"
delay = "2h"
)";
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> r = runtime::parse_config(bad, "plant.toml", types, &errors);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(errors.size(), 1u) << r.status().message();
  EXPECT_EQ(errors[0].key, "scripts[0].steps[1].delay");
  EXPECT_EQ(errors[0].line, 10);
}

TEST(ControlScriptSetTableKey, AKeyIsReplacedOrAddedAndTheRestKept) {
  Result<std::string> r = runtime::set_table_key("name = \"sim\"\nrate = 10\n", "rate", "20");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(runtime::service_text_has(*r, "name"));
  EXPECT_THAT(*r, HasSubstr("rate = 20"));
  EXPECT_THAT(*r, Not(HasSubstr("rate = 10")));
  r = runtime::set_table_key(*r, "interval", "\"500ms\"");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_THAT(*r,
              ::testing::AnyOf(HasSubstr("interval = '500ms'"), HasSubstr("interval = \"500ms\"")));
  EXPECT_THAT(*r, HasSubstr("rate = 20"));
}

TEST(ControlScriptSetTableKey, ADottedKeyAndABadValueAreRefused) {
  EXPECT_THAT(runtime::set_table_key("a = 1", "sub.b", "2").status().message(),
              HasSubstr("'sub.b' is not a top-level key"));
  EXPECT_THAT(runtime::set_table_key("a = 1", "b", "500ms").status().message(),
              HasSubstr("'500ms' is not a TOML value"));
  EXPECT_THAT(runtime::set_table_key("a = 1", "b", "1\nc = 2").status().message(),
              HasSubstr("is not one TOML value"));
  EXPECT_EQ(runtime::set_table_key("a = ", "b", "1").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::control
