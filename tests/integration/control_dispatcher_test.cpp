// The control dispatcher (control/dispatcher.h) over a real in-process runtime with scripted
// sources that offer set points and operations: writes go to a named service, to the service
// that ingests an asset, or to every control service (one refusal does not stop the others); a
// service that does not run is refused with its mode; ACLs refuse users, roles and service types
// (counted, kept in recent() and refusals()); scripts run nested (inline and on the threads),
// skip steps by their conditions, substitute parameters, change a real service's settings, wait;
// a script loop is refused by set_definitions; a full queue refuses with kResourceExhausted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <nlohmann/json.hpp>

#include "control/dispatcher.h"
#include "fixtures/api_harness.h"
#include "fixtures/scripted_services.h"
#include "fixtures/test_support.h"

namespace sluice::control {
namespace {

using nlohmann::json;
using runtime::Caller;
using runtime::ControlOutcome;
using runtime::ControlRequest;
using runtime::ControlTarget;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "fan"
type = "scripted"
acl = "fan-acl"
[[sources]]
name = "pump"
type = "scripted"
[[sources]]
name = "motor"
type = "scripted"
[[sources]]
name = "valve"
type = "scripted"
enabled = false
[[sources]]
name = "door"
type = "scripted"
acl = "ghost"
[[sources]]
name = "sim"
type = "simulator"
rate = 10
series = 1
)";

const Caller kOperator = Caller::user("otto", "operator");
const Caller kViewer = Caller::user("vera", "viewer");
const Caller kNotification = Caller::service("overheat", "notification");
const Caller kMqtt = Caller::service("plant-bus", "mqtt");

using Log = std::vector<std::pair<std::string, Value>>;

ControlRequest write_to(ControlTarget target, Log values) {
  ControlRequest r;
  r.action = ControlRequest::Action::kWrite;
  r.target = std::move(target);
  r.values = std::move(values);
  return r;
}
ControlTarget service(std::string name) { return {ControlTarget::Kind::kService, std::move(name)}; }
ControlRequest run_script(std::string name, runtime::OperationParams params = {}) {
  ControlRequest r;
  r.action = ControlRequest::Action::kScript;
  r.script = std::move(name);
  r.params = std::move(params);
  return r;
}

Script script_from(const std::string& text) {
  Result<Script> s = script_from_json(json::parse(text));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? *s : Script{};
}

class ControlDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::reset_scripted_services();
    using Kind = runtime::ControlPoint::Kind;
    for (const std::string name : {"fan", "pump", "motor", "valve", "door"}) {
      testing::feed(name).points = {{"speed", Kind::kSetPoint, ValueType::kDouble, "register 1"},
                                    {"run", Kind::kSetPoint, ValueType::kBool, "coil 1"},
                                    {"reset", Kind::kOperation, ValueType::kDouble, "resets"}};
    }
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.serve = false, .types = &types_}));
    rt_ = harness_.runtime();
    ASSERT_TRUE(testing::eventually([&] {
      size_t running = 0;
      for (const runtime::SourceStatus& s : rt_->sources()) {
        running += s.mode == runtime::Mode::kRunning ? 1 : 0;
      }
      return running == 5;  // all but valve
    }));
    dispatcher_ = std::make_unique<Dispatcher>(*rt_);
    acls_ = {Acl{"fan-acl", "", {}, {"notification"}, {"bob"}, {"operator"}},
             Acl{"ops", "", {}, {}, {}, {"operator"}}};
    ASSERT_TRUE(dispatcher_->set_definitions({}, acls_).ok());
  }
  void TearDown() override {
    dispatcher_.reset();  // before the runtime it drives
    harness_.stop();
    testing::reset_scripted_services();
  }

  static Log log_of(const std::string& name) {
    testing::Feed& f = testing::feed(name);
    std::lock_guard lock(f.mu);
    return f.control_log;
  }
  static void answer(const std::string& name, const std::string& point, Status s) {
    testing::Feed& f = testing::feed(name);
    std::lock_guard lock(f.mu);
    f.control_answer[point] = std::move(s);
  }
  void define(std::vector<std::string> scripts) {
    std::vector<Script> parsed;
    for (const std::string& s : scripts) parsed.push_back(script_from(s));
    const Status st = dispatcher_->set_definitions(std::move(parsed), acls_);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  const runtime::SourceTypes types_ = testing::scripted_types();
  testing::TempDir dir_;
  testing::ApiHarness harness_;
  runtime::Runtime* rt_ = nullptr;
  std::vector<Acl> acls_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

// ---- Targets --------------------------------------------------------------------------------

TEST_F(ControlDispatcherTest, WritesToANamedServiceInOrder) {
  auto r = dispatcher_->dispatch(
      write_to(service("fan"), {{"speed", 1200.5}, {"run", true}, {"speed", int64_t{7}}}),
      kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->services.size(), 1u);
  EXPECT_EQ(r->services[0].service, "fan");
  EXPECT_THAT(r->services[0].done, ElementsAre("speed", "run", "speed"));
  EXPECT_EQ(log_of("fan"), (Log{{"speed", 1200.5}, {"run", true}, {"speed", int64_t{7}}}));
  const DispatcherStats st = dispatcher_->stats();
  EXPECT_EQ(st.requests, 1u);
  EXPECT_EQ(st.ok, 1u);
  ASSERT_EQ(dispatcher_->recent().size(), 1u);
  EXPECT_TRUE(dispatcher_->recent()[0].ok);
  EXPECT_EQ(dispatcher_->recent()[0].caller, "user 'otto' (operator)");
  EXPECT_THAT(dispatcher_->recent()[0].outcome, HasSubstr("service 'fan': did speed, run, speed"));
}

TEST_F(ControlDispatcherTest, OperationsCarryTheirParameters) {
  ControlRequest op;
  op.action = ControlRequest::Action::kOperation;
  op.target = service("pump");
  op.operation = "reset";
  op.params = {{"mode", "soft"}};
  auto r = dispatcher_->dispatch(op, kViewer);  // pump has no ACL
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(log_of("pump"), (Log{{"op:reset", std::string("mode=soft;")}}));
  op.operation = "rest";
  r = dispatcher_->dispatch(op, kViewer);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("service 'pump' has no operation 'rest' (its "
                                              "operations: reset)"));
}

TEST_F(ControlDispatcherTest, AnUnknownNameRefusesTheWholeRequestBeforeAnythingIsWritten) {
  auto r =
      dispatcher_->dispatch(write_to(service("pump"), {{"run", true}, {"speeed", 3.0}}), kOperator);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_THAT(r.status().message(),
              HasSubstr("service 'pump' has no set point 'speeed' (its set points: speed, run)"));
  EXPECT_TRUE(log_of("pump").empty());
  EXPECT_EQ(dispatcher_->stats().refused_other, 1u);

  r = dispatcher_->dispatch(write_to(service("nope"), {{"run", true}}), kOperator);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("no service named 'nope' (the sources: fan, pump"));
}

TEST_F(ControlDispatcherTest, ADeviceRefusalStopsTheRequestAndSaysWhatWasDoneBefore) {
  answer("pump", "run", Status(Code::kIoError, "Modbus exception 2: illegal data address"));
  auto r = dispatcher_->dispatch(
      write_to(service("pump"), {{"speed", 1.0}, {"run", true}, {"speed", 2.0}}), kOperator);
  EXPECT_EQ(r.status().code(), Code::kIoError);
  EXPECT_THAT(r.status().message(), HasSubstr("service 'pump' refused writing 'run': Modbus "
                                              "exception 2: illegal data address"));
  EXPECT_THAT(r.status().message(), HasSubstr("(done before: speed)"));
  EXPECT_EQ(log_of("pump"), (Log{{"speed", 1.0}}));  // the third value was not sent
  EXPECT_EQ(dispatcher_->stats().failed, 1u);
}

TEST_F(ControlDispatcherTest, WritesToTheServiceThatIngestsTheAsset) {
  auto r = dispatcher_->dispatch(write_to({ControlTarget::Kind::kAsset, "Motor"}, {{"run", true}}),
                                 kOperator);
  EXPECT_EQ(r.status().code(), Code::kNotFound);  // nothing ingested it yet
  EXPECT_THAT(r.status().message(), HasSubstr("no service has ingested asset 'Motor'"));

  Batch b;
  b.samples.push_back({"Motor.speed", SystemClock::instance().now(), 42.0, quality::kGood});
  testing::feed("motor").push(std::move(b));
  ASSERT_TRUE(testing::eventually([&] { return rt_->source_of_asset("Motor").has_value(); }));
  r = dispatcher_->dispatch(write_to({ControlTarget::Kind::kAsset, "Motor"}, {{"run", true}}),
                            kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->services[0].service, "motor");
  EXPECT_EQ(log_of("motor"), (Log{{"run", true}}));
  EXPECT_TRUE(log_of("pump").empty());
}

TEST_F(ControlDispatcherTest, EveryControlServiceGetsTheRequestAndOneRefusalDoesNotStopTheOthers) {
  answer("pump", "speed", Status(Code::kTimeout, "no answer within 1s"));
  // The viewer is not granted by fan's ACL and door's ACL is not defined: both refuse; pump's
  // device times out; motor takes it. valve (disabled) and sim (no control points) are not
  // control services now.
  auto r =
      dispatcher_->dispatch(write_to({ControlTarget::Kind::kAll, ""}, {{"speed", 5.0}}), kViewer);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::map<std::string, Status> by_service;
  for (const ControlOutcome::ServiceResult& s : r->services) by_service[s.service] = s.status;
  ASSERT_EQ(by_service.size(), 4u) << dispatcher_->recent().back().outcome;
  EXPECT_TRUE(by_service.at("motor").ok());
  EXPECT_EQ(by_service.at("fan").code(), Code::kPermissionDenied);
  EXPECT_EQ(by_service.at("door").code(), Code::kPermissionDenied);
  EXPECT_EQ(by_service.at("pump").code(), Code::kTimeout);
  EXPECT_EQ(log_of("motor"), (Log{{"speed", 5.0}}));
  EXPECT_TRUE(log_of("fan").empty());
  const DispatcherStats st = dispatcher_->stats();
  EXPECT_EQ(st.ok, 1u);
  EXPECT_EQ(st.refused_acl, 2u);
  EXPECT_EQ(st.failed, 1u);

  // None carries it out: the request fails with every service's reason.
  answer("motor", "speed", Status(Code::kTimeout, "no answer"));
  r = dispatcher_->dispatch(write_to({ControlTarget::Kind::kAll, ""}, {{"speed", 6.0}}), kViewer);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("no control service carried out the request"));
  EXPECT_THAT(r.status().message(), HasSubstr("ACL 'fan-acl' of service 'fan' does not grant"));
}

TEST_F(ControlDispatcherTest, AServiceThatDoesNotRunIsRefusedWithItsModeAndCounted) {
  auto r = dispatcher_->dispatch(write_to(service("valve"), {{"run", true}}), kOperator);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("service 'valve' is not running (DISABLED)"));

  ASSERT_TRUE(rt_->set_enabled("pump", false).ok());
  r = dispatcher_->dispatch(write_to(service("pump"), {{"run", true}}), kOperator);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("service 'pump' is not running (DISABLED)"));
  EXPECT_TRUE(log_of("pump").empty());

  const DispatcherStats st = dispatcher_->stats();
  EXPECT_EQ(st.refused_unavailable, 2u);
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.ok, 0u);
  const std::vector<ControlEvent> refusals = dispatcher_->refusals();
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[1].code, Code::kUnavailable);
  EXPECT_EQ(refusals[1].request, "write run=true to service 'pump'");
}

// ---- ACLs ----------------------------------------------------------------------------------

TEST_F(ControlDispatcherTest, TheServicesAclGrantsByRoleUserAndServiceType) {
  const ControlRequest req = write_to(service("fan"), {{"run", true}});
  EXPECT_TRUE(dispatcher_->dispatch(req, kOperator).ok());                      // role
  EXPECT_TRUE(dispatcher_->dispatch(req, Caller::user("bob", "viewer")).ok());  // user
  EXPECT_TRUE(dispatcher_->dispatch(req, kNotification).ok());                  // service type
  EXPECT_EQ(log_of("fan").size(), 3u);
}

TEST_F(ControlDispatcherTest, CallersTheAclDoesNotGrantAreRefusedCountedAndKept) {
  const ControlRequest req = write_to(service("fan"), {{"run", true}});
  auto r = dispatcher_->dispatch(req, kViewer);  // a role it does not grant
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(r.status().message(),
              HasSubstr("ACL 'fan-acl' of service 'fan' does not grant user 'vera' (viewer)"));
  r = dispatcher_->dispatch(req, Caller::user("bobby", "guest"));  // a user it does not list
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  r = dispatcher_->dispatch(req, kMqtt);  // a service type it does not grant
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("does not grant mqtt service 'plant-bus'"));
  EXPECT_TRUE(log_of("fan").empty());

  EXPECT_EQ(dispatcher_->stats().refused_acl, 3u);
  const std::vector<ControlEvent> recent = dispatcher_->recent();
  ASSERT_EQ(recent.size(), 3u);
  for (const ControlEvent& e : recent) {
    EXPECT_FALSE(e.ok);
    EXPECT_EQ(e.code, Code::kPermissionDenied);
    EXPECT_EQ(e.request, "write run=true to service 'fan'");
  }
  EXPECT_EQ(recent[2].caller, "mqtt service 'plant-bus'");
  EXPECT_EQ(dispatcher_->refusals().size(), 3u);
}

TEST_F(ControlDispatcherTest, AServiceWhoseAclIsNotDefinedRefusesEveryone) {
  auto r = dispatcher_->dispatch(write_to(service("door"), {{"run", true}}), kOperator);
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("service 'door' is guarded by ACL 'ghost', which is "
                                              "not defined"));
  EXPECT_TRUE(log_of("door").empty());
}

// ---- Scripts -------------------------------------------------------------------------------

TEST_F(ControlDispatcherTest, AScriptRunsItsStepsInOrderWithSubstitutedParameters) {
  define({R"({"name": "start", "steps": [
      {"kind": "write", "service": "pump", "values": {"speed": "$speed$"}},
      {"kind": "operation", "service": "pump", "operation": "reset", "params": {"mode": "$mode$"}},
      {"kind": "write", "service": "pump", "values": {"run": "$on$"}}]})"});
  auto r = dispatcher_->dispatch(
      run_script("start", {{"speed", "1200"}, {"mode", "soft"}, {"on", "true"}}), kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->steps_run, 3u);
  EXPECT_EQ(
      log_of("pump"),
      (Log{{"speed", int64_t{1200}}, {"op:reset", std::string("mode=soft;")}, {"run", true}}));
  const DispatcherStats st = dispatcher_->stats();
  EXPECT_EQ(st.scripts_run, 1u);
  EXPECT_EQ(st.steps_run, 3u);
}

TEST_F(ControlDispatcherTest, StepsWhoseConditionIsFalseAreSkippedAndCounted) {
  define({R"({"name": "cond", "steps": [
      {"kind": "write", "service": "pump", "values": {"speed": 1},
       "condition": {"param": "mode", "op": "==", "value": "auto"}},
      {"kind": "write", "service": "pump", "values": {"speed": 2},
       "condition": {"param": "n", "op": ">", "value": 9}},
      {"kind": "write", "service": "pump", "values": {"speed": 3},
       "condition": {"param": "n", "op": "<", "value": 9}},
      {"kind": "write", "service": "pump", "values": {"speed": 4},
       "condition": {"param": "absent", "op": "!=", "value": "x"}}]})"});
  auto r = dispatcher_->dispatch(run_script("cond", {{"mode", "auto"}, {"n", "10"}}), kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->steps_run, 2u);
  EXPECT_EQ(r->steps_skipped, 2u);
  // 10 > 9 as numbers; a missing parameter skips the step even with "!=".
  EXPECT_EQ(log_of("pump"), (Log{{"speed", int64_t{1}}, {"speed", int64_t{2}}}));
  EXPECT_EQ(dispatcher_->stats().steps_skipped, 2u);
}

TEST_F(ControlDispatcherTest, ABlockingChildScriptRunsInlineWithItsOwnParameters) {
  define({R"({"name": "outer", "steps": [
      {"kind": "write", "service": "pump", "values": {"speed": 1}},
      {"kind": "script", "script": "inner", "params": {"v": "$level$"}},
      {"kind": "write", "service": "pump", "values": {"speed": 3}}]})",
          R"({"name": "inner", "steps": [
      {"kind": "write", "service": "motor", "values": {"speed": "$v$"}},
      {"kind": "write", "service": "motor", "values": {"run": "$level$"}}]})"});
  auto r = dispatcher_->dispatch(run_script("outer", {{"level", "2"}}), kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // The child ran before the parent's next step; it sees only the parameters its step passes
  // ($level$ is not one of them and stays as written).
  EXPECT_EQ(log_of("pump"), (Log{{"speed", int64_t{1}}, {"speed", int64_t{3}}}));
  EXPECT_EQ(log_of("motor"), (Log{{"speed", int64_t{2}}, {"run", std::string("$level$")}}));
  EXPECT_EQ(r->steps_run, 5u);
  EXPECT_EQ(dispatcher_->stats().scripts_run, 2u);
  EXPECT_EQ(dispatcher_->stats().requests, 1u);
}

TEST_F(ControlDispatcherTest, AParallelChildScriptRunsOnTheThreadsAsARequestOfItsOwn) {
  define({R"({"name": "outer", "steps": [
      {"kind": "script", "script": "child", "params": {"v": "$v$"}, "parallel": true},
      {"kind": "write", "service": "pump", "values": {"speed": 1}}]})",
          R"({"name": "child", "steps": [
      {"kind": "write", "service": "motor", "values": {"speed": "$v$"}}]})"});
  auto r = dispatcher_->dispatch(run_script("outer", {{"v", "9"}}), kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(log_of("pump"), (Log{{"speed", int64_t{1}}}));
  ASSERT_TRUE(testing::eventually([&] { return dispatcher_->stats().requests == 2; }));
  EXPECT_EQ(log_of("motor"), (Log{{"speed", int64_t{9}}}));
  // The child may end before or after its parent: find it by its request.
  const std::vector<ControlEvent> recent = dispatcher_->recent();
  ASSERT_EQ(recent.size(), 2u);
  const auto child = std::find_if(recent.begin(), recent.end(), [](const ControlEvent& e) {
    return e.request == "run script 'child' (v=9)";
  });
  ASSERT_NE(child, recent.end());
  EXPECT_EQ(child->caller, "user 'otto' (operator)");  // the same caller
  EXPECT_TRUE(child->ok) << child->outcome;
}

TEST_F(ControlDispatcherTest, AScriptsWritesAreCheckedWithTheCallerWhoAsked) {
  // The script has no ACL of its own; its write goes to fan, whose ACL does not grant viewers.
  define({R"({"name": "fan-on", "steps": [
      {"kind": "write", "service": "pump", "values": {"run": true}},
      {"kind": "write", "service": "fan", "values": {"run": true}}]})"});
  auto r = dispatcher_->dispatch(run_script("fan-on"), kViewer);
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("script 'fan-on' steps[1] (write): ACL 'fan-acl' of "
                                              "service 'fan' does not grant user 'vera'"));
  EXPECT_EQ(log_of("pump"), (Log{{"run", true}}));  // the step before it ran
  EXPECT_TRUE(log_of("fan").empty());
  EXPECT_EQ(dispatcher_->stats().refused_acl, 1u);
  ASSERT_EQ(dispatcher_->refusals().size(), 1u);
  EXPECT_EQ(dispatcher_->refusals()[0].request, "write run=true to service 'fan'");

  EXPECT_TRUE(dispatcher_->dispatch(run_script("fan-on"), kNotification).ok());
  EXPECT_EQ(log_of("fan"), (Log{{"run", true}}));
}

TEST_F(ControlDispatcherTest, AScriptsOwnAclIsChecked) {
  define({R"({"name": "guarded", "acl": "ops", "steps": [
      {"kind": "write", "service": "pump", "values": {"run": true}}]})"});
  auto r = dispatcher_->dispatch(run_script("guarded"), kNotification);
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  EXPECT_THAT(r.status().message(),
              HasSubstr("ACL 'ops' of script 'guarded' does not grant notification 'overheat'"));
  EXPECT_TRUE(log_of("pump").empty());
  EXPECT_TRUE(dispatcher_->dispatch(run_script("guarded"), kOperator).ok());
  EXPECT_EQ(log_of("pump").size(), 1u);
  EXPECT_EQ(dispatcher_->dispatch(run_script("nope"), kOperator).status().code(), Code::kNotFound);
}

TEST_F(ControlDispatcherTest, AConfigureStepChangesARealServiceSetting) {
  define({R"({"name": "faster", "steps": [
      {"kind": "configure", "service": "sim", "key": "rate", "value": "$rate$"}]})"});
  Result<runtime::ServiceRow> before = rt_->service_row("sim");
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_THAT(before->settings, HasSubstr("rate = 10"));

  auto r = dispatcher_->dispatch(run_script("faster", {{"rate", "25"}}), kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->services.size(), 1u);
  EXPECT_THAT(r->services[0].done, ElementsAre("rate = 25"));
  Result<runtime::ServiceRow> after = rt_->service_row("sim");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_THAT(after->settings, HasSubstr("rate = 25"));
  EXPECT_THAT(after->settings, HasSubstr("series = 1"));  // the other keys are kept
  EXPECT_EQ(after->origin, runtime::ServiceOrigin::kApi);

  // A value the service refuses changes nothing and says why.
  r = dispatcher_->dispatch(run_script("faster", {{"rate", "\"fast\""}}), kOperator);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("setting 'rate' of service 'sim'"));
  EXPECT_THAT(rt_->service_row("sim")->settings, HasSubstr("rate = 25"));
  r = dispatcher_->dispatch(run_script("faster", {{"rate", "fast"}}), kOperator);  // not TOML
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'fast' is not a TOML value"));
}

TEST_F(ControlDispatcherTest, ADelayStepWaitsThenTheScriptGoesOn) {
  define({R"({"name": "later", "steps": [
      {"kind": "delay", "delay": "20ms"},
      {"kind": "write", "service": "pump", "values": {"run": true}}]})"});
  auto r = dispatcher_->dispatch(run_script("later"), kOperator);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->steps_run, 2u);
  EXPECT_EQ(log_of("pump"), (Log{{"run", true}}));
}

TEST_F(ControlDispatcherTest, StopWakesADelayAndTheScriptEndsAborted) {
  define({R"({"name": "forever", "steps": [
      {"kind": "delay", "delay": "1h"},
      {"kind": "write", "service": "pump", "values": {"run": true}}]})"});
  auto done = std::async(std::launch::async, [&] {
    return dispatcher_->dispatch(run_script("forever"), kOperator).status();
  });
  ASSERT_TRUE(testing::eventually([&] { return dispatcher_->stats().scripts_run == 1; }));
  dispatcher_->stop();
  const Status s = done.get();  // returns only because stop() woke the delay
  EXPECT_EQ(s.code(), Code::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("script 'forever' steps[0] (delay)"));
  EXPECT_TRUE(log_of("pump").empty());
  EXPECT_EQ(dispatcher_->dispatch(run_script("forever"), kOperator).status().code(),
            Code::kUnavailable);
}

TEST_F(ControlDispatcherTest, SetDefinitionsRefusesALoopAndKeepsTheOldDefinitions) {
  define({R"({"name": "a", "steps": [{"kind": "delay", "delay": "1ms"}]})"});
  const Status s = dispatcher_->set_definitions(
      {script_from(R"({"name": "a", "steps": [{"kind": "script", "script": "b"}]})"),
       script_from(R"({"name": "b", "steps": [{"kind": "script", "script": "a"}]})")},
      acls_);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("calls itself: a → b → a"));
  ASSERT_EQ(dispatcher_->scripts().size(), 1u);
  EXPECT_EQ(dispatcher_->scripts()[0].steps[0].kind, Step::Kind::kDelay);

  const Status t = dispatcher_->set_definitions(
      {script_from(
          R"({"name": "x", "acl": "nobody", "steps": [{"kind": "delay", "delay": "1ms"}]})")},
      acls_);
  EXPECT_THAT(t.message(), HasSubstr("script 'x' names ACL 'nobody', which is not defined (the "
                                     "ACLs: fan-acl, ops)"));
  EXPECT_EQ(dispatcher_->scripts().size(), 1u);
}

TEST_F(ControlDispatcherTest, CallsDeeperThanTheLimitAreRefused) {
  dispatcher_ = std::make_unique<Dispatcher>(*rt_, DispatcherOptions{.max_depth = 2});
  ASSERT_TRUE(
      dispatcher_
          ->set_definitions(
              {script_from(R"({"name": "a", "steps": [{"kind": "script", "script": "b"}]})"),
               script_from(R"({"name": "b", "steps": [{"kind": "script", "script": "c"}]})"),
               script_from(R"({"name": "c", "steps": [{"kind": "script", "script": "d"}]})"),
               script_from(R"({"name": "d", "steps": [{"kind": "delay", "delay": "1ms"}]})")},
              acls_)
          .ok());
  EXPECT_TRUE(dispatcher_->dispatch(run_script("b"), kOperator).ok());  // b → c → d: depth 2
  auto r = dispatcher_->dispatch(run_script("a"), kOperator);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("script 'd' would run 3 calls deep"));
}

// ---- The queue -----------------------------------------------------------------------------

TEST_F(ControlDispatcherTest, SubmitRefusesWhenTheQueueIsFullAndStopRefusesWhatIsLeft) {
  dispatcher_ =
      std::make_unique<Dispatcher>(*rt_, DispatcherOptions{.threads = 1, .queue_capacity = 1});
  ASSERT_TRUE(dispatcher_
                  ->set_definitions({script_from(R"({"name": "wait", "steps": [
                      {"kind": "delay", "delay": "1h"}]})")},
                                    acls_)
                  .ok());
  // Each accepted request's outcome reaches its callback exactly once; a refused one's never.
  std::mutex done_mu;
  std::vector<Code> done_codes;
  const auto collect = [&](const Result<runtime::ControlOutcome>& outcome) {
    std::lock_guard lock(done_mu);
    done_codes.push_back(outcome.status().code());
  };
  ASSERT_TRUE(dispatcher_->submit(run_script("wait"), kOperator, collect).ok());
  // The one thread takes it and waits in its delay; the queue is empty again.
  ASSERT_TRUE(testing::eventually([&] {
    const DispatcherStats st = dispatcher_->stats();
    return st.running == 1 && st.queued == 0;
  }));
  ASSERT_TRUE(dispatcher_->submit(run_script("wait"), kOperator, collect).ok());  // fills the queue
  const Status full = dispatcher_->submit(run_script("wait"), kMqtt, collect);
  EXPECT_EQ(full.code(), Code::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("the control queue is full"));
  DispatcherStats st = dispatcher_->stats();
  EXPECT_EQ(st.queued, 1u);
  EXPECT_EQ(st.threads, 1u);
  EXPECT_EQ(st.refused_other, 1u);
  ASSERT_EQ(dispatcher_->recent().size(), 1u);
  EXPECT_EQ(dispatcher_->recent()[0].code, Code::kResourceExhausted);
  EXPECT_EQ(dispatcher_->recent()[0].caller, "mqtt service 'plant-bus'");

  dispatcher_->stop();  // the running one is woken, the queued one refused: none is lost
  st = dispatcher_->stats();
  EXPECT_EQ(st.requests, 3u);
  EXPECT_EQ(st.ok, 0u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.threads, 0u);
  const std::vector<ControlEvent> recent = dispatcher_->recent();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[1].code, Code::kAborted);
  EXPECT_EQ(recent[2].code, Code::kAborted);
  {
    std::lock_guard lock(done_mu);
    EXPECT_EQ(done_codes, (std::vector<Code>{Code::kAborted, Code::kAborted}));
  }
  EXPECT_EQ(dispatcher_->submit(run_script("wait"), kOperator, collect).code(),
            Code::kUnavailable);
  std::lock_guard lock(done_mu);
  EXPECT_EQ(done_codes.size(), 2u);
}

}  // namespace
}  // namespace sluice::control
