// The edge-control routes of the REST API over real HTTP, with users and tokens, against edge
// control as `sluice run` has it and scripted sources that offer set points: rules and
// notifications are created, listed, refused (bad bodies name the key, taken names, unknown
// names, references to a missing rule or from a notification) and guarded by roles; a toggled
// notification writes its trigger and then its cleared values to a source as its rule triggers
// and clears, and shows its sends and history; control requests go through the dispatcher and a
// source's ACL; documents made through the API survive a restart beside those of the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "auth/auth.h"
#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/scripted_services.h"
#include "fixtures/test_support.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using LogEntry = std::pair<std::string, Value>;

// "motor" has no ACL; "fan" has the file's ACL "fan-acl", which grants only the user "ada". The
// file also seeds the rule "seeded".
constexpr std::string_view kConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "motor"
type = "scripted"
[[sources]]
name = "fan"
type = "scripted"
acl = "fan-acl"
[[acls]]
name = "fan-acl"
users = ["ada"]
[[rules]]
name = "seeded"
type = "deadman"
series = ["Motor.speed"]
timeout = "1h"
)";

constexpr std::string_view kHotRule = R"({"name": "hot", "type": "threshold",
  "series": "Motor.temperature", "comparison": ">", "threshold": 35})";

constexpr std::string_view kCooling = R"({"name": "cooling", "rule": "hot", "type": "toggled",
  "deliveries": [{"type": "set_point", "service": "motor",
                  "trigger_values": {"fan": true, "speed": 1200},
                  "cleared_values": {"fan": false, "speed": 0}}]})";

class ApiEdgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::reset_scripted_services();
    for (const char* source : {"motor", "fan"}) {
      testing::Feed& f = testing::feed(source);
      f.points = {
          {"speed", runtime::ControlPoint::Kind::kSetPoint, ValueType::kDouble, "register 1"},
          {"fan", runtime::ControlPoint::Kind::kSetPoint, ValueType::kBool, "coil 0"},
      };
    }
    start();
    auth::Auth* a = harness_->auth();
    admin_ = token_of(a, "root", auth::Role::kAdmin);
    operator_ = token_of(a, "otto", auth::Role::kOperator);
    ada_ = token_of(a, "ada", auth::Role::kOperator);
    viewer_ = token_of(a, "vera", auth::Role::kViewer);
  }
  void TearDown() override {
    harness_.reset();  // the scripted sources refer to their feeds until they stop
    testing::reset_scripted_services();
  }

  // Starts (or starts again) edge control on the test's directory and waits until both
  // scripted sources run.
  void start() {
    harness_ = std::make_unique<testing::ApiHarness>();
    ASSERT_TRUE(harness_->start(dir_, kConfig, {.auth = true, .types = &types_, .control = true}));
    for (const char* source : {"motor", "fan"}) {
      ASSERT_TRUE(testing::eventually([&] {
        return harness_->runtime()
            ->with_source(source, [](auto&, auto&) { return Status::ok_status(); })
            .ok();
      })) << source;
    }
  }

  static std::string token_of(auth::Auth* a, const std::string& user, auth::Role role) {
    EXPECT_TRUE(a->users().create(user, "a password of some length", role).ok());
    return new_token(a, user);
  }
  static std::string new_token(auth::Auth* a, const std::string& user) {
    auto t = a->tokens().create(user, auth::TokenKind::kApi, "test", 0);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? t->token : std::string();
  }
  testing::HttpClient::Response call(const std::string& method, const std::string& path,
                                     std::string_view body, const std::string& token) {
    return client_.request(
        method, harness_->url(path), std::string(body),
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  }
  static json parse(const testing::HttpClient::Response& r) {
    return json::parse(r.body, nullptr, false);
  }
  static std::string message(const testing::HttpClient::Response& r) {
    const json j = parse(r);
    return j.is_object() && j.contains("error") ? j["error"].value("message", "") : r.body;
  }
  static std::vector<LogEntry> log(const std::string& source) {
    testing::Feed& f = testing::feed(source);
    std::lock_guard lock(f.mu);
    return f.control_log;
  }
  // One sample of Motor.temperature through the scripted source, at increasing times.
  void ingest_temperature(double value) {
    Batch b;
    b.samples.push_back(Sample{"Motor.temperature", next_ts_, value});
    next_ts_ += 1'000'000'000;
    testing::feed("motor").push(std::move(b));
  }
  static const json* find_named(const json& list, const std::string& name) {
    for (const json& d : list) {
      if (d.value("name", "") == name) return &d;
    }
    return nullptr;
  }

  const runtime::SourceTypes types_ = testing::scripted_types();
  testing::TempDir dir_;
  std::unique_ptr<testing::ApiHarness> harness_;
  std::string admin_, operator_, ada_, viewer_;
  testing::HttpClient client_;
  int64_t next_ts_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
};

TEST_F(ApiEdgeTest, RulesAndNotificationsAreCreatedListedAndRefusedWithTheRightStatus) {
  const auto rule = call("POST", "/api/v1/rules", kHotRule, admin_);
  ASSERT_EQ(rule.status, 201) << rule.body;
  EXPECT_EQ(parse(rule)["origin"], "api");
  EXPECT_EQ(parse(rule)["threshold"], 35.0);

  const auto note = call("POST", "/api/v1/notifications", kCooling, admin_);
  ASSERT_EQ(note.status, 201) << note.body;
  EXPECT_EQ(parse(note)["type"], "toggled");
  EXPECT_TRUE(parse(note)["status"]["running"].get<bool>()) << note.body;

  const auto rules = call("GET", "/api/v1/rules", "", viewer_);
  ASSERT_EQ(rules.status, 200) << rules.body;
  const json rule_list = parse(rules)["rules"];
  const json* hot = find_named(rule_list, "hot");
  ASSERT_NE(hot, nullptr) << rules.body;
  EXPECT_EQ((*hot)["origin"], "api");
  const json* seeded = find_named(rule_list, "seeded");
  ASSERT_NE(seeded, nullptr) << rules.body;
  EXPECT_EQ((*seeded)["origin"], "config");
  const auto notes = call("GET", "/api/v1/notifications", "", viewer_);
  ASSERT_EQ(notes.status, 200) << notes.body;
  ASSERT_EQ(parse(notes)["notifications"].size(), 1u) << notes.body;
  EXPECT_EQ(parse(notes)["notifications"][0]["origin"], "api");

  // Bad bodies: 400, naming the key at fault.
  const std::pair<std::string, std::string> bad[] = {
      {R"({"name": "h2", "type": "threshold", "series": "Motor.temperature"})", "threshold"},
      {R"({"name": "h2", "type": "threshold", "series": "Motor.temperature", "threshold": 1,
           "comparison": "=="})",
       "comparison"},
      {R"({"name": "h2", "type": "thermal"})", "type"},
      {R"({"name": "h2", "type": "deadman", "series": ["a"], "timeout": "1h", "colour": 1})",
       "colour"},
      {R"([1, 2])", "JSON object"},
  };
  for (const auto& [body, key] : bad) {
    const auto r = call("POST", "/api/v1/rules", body, admin_);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_THAT(message(r), HasSubstr(key)) << body;
  }
  const auto bad_delivery = call("POST", "/api/v1/notifications",
                                 R"({"name": "n2", "rule": "hot", "deliveries":
                                     [{"type": "webhook", "url": "ftp://x"}]})",
                                 admin_);
  EXPECT_EQ(bad_delivery.status, 400) << bad_delivery.body;
  EXPECT_THAT(message(bad_delivery), HasSubstr("url"));

  // A taken name, unknown names.
  EXPECT_EQ(call("POST", "/api/v1/rules", kHotRule, admin_).status, 409);
  EXPECT_EQ(call("GET", "/api/v1/rules/cold", "", viewer_).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/notifications/cold", "", admin_).status, 404);
  EXPECT_EQ(call("PUT", "/api/v1/rules/cold",
                 R"({"name": "cold", "type": "deadman", "series": ["a"], "timeout": "1s"})", admin_)
                .status,
            404);
  EXPECT_EQ(call("GET", "/api/v1/notifications/cold/history", "", viewer_).status, 404);

  // References: a notification on a missing rule, deleting a rule in use.
  const auto orphan = call("POST", "/api/v1/notifications",
                           R"({"name": "orphan", "rule": "cold",
                               "deliveries": [{"type": "log"}]})",
                           admin_);
  EXPECT_EQ(orphan.status, 409) << orphan.body;
  EXPECT_THAT(message(orphan), HasSubstr("cold"));
  const auto in_use = call("DELETE", "/api/v1/rules/hot", "", admin_);
  EXPECT_EQ(in_use.status, 409) << in_use.body;
  EXPECT_EQ(call("GET", "/api/v1/rules/hot", "", viewer_).status, 200);

  // Roles: a viewer or an operator cannot change documents.
  const std::string cold = R"({"name": "cold", "type": "deadman", "series": ["a"],
                               "timeout": "1s"})";
  EXPECT_EQ(call("POST", "/api/v1/rules", cold, viewer_).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/rules", cold, operator_).status, 403);
  EXPECT_EQ(call("DELETE", "/api/v1/notifications/cooling", "", operator_).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/rules/cold", "", viewer_).status, 404);

  // Once the notification is gone, the rule may go.
  EXPECT_EQ(call("DELETE", "/api/v1/notifications/cooling", "", admin_).status, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/rules/hot", "", admin_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/rules/hot", "", viewer_).status, 404);
}

TEST_F(ApiEdgeTest, AnOperatorRunsAScriptButCannotCreateOne) {
  const std::string script = R"({"name": "spin", "steps": [
      {"kind": "write", "service": "motor", "values": {"speed": "$speed$"}}]})";
  EXPECT_EQ(call("POST", "/api/v1/scripts", script, operator_).status, 403);
  ASSERT_EQ(call("POST", "/api/v1/scripts", script, admin_).status, 201);
  EXPECT_EQ(call("POST", "/api/v1/scripts/spin/run", R"({"params": {"speed": 7}})", viewer_).status,
            403);
  EXPECT_TRUE(log("motor").empty());
  const auto run =
      call("POST", "/api/v1/scripts/spin/run", R"({"params": {"speed": 7}})", operator_);
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(parse(run)["steps_run"], 1);
  EXPECT_EQ(log("motor"), (std::vector<LogEntry>{{"speed", int64_t{7}}}));
  EXPECT_EQ(call("POST", "/api/v1/scripts/nope/run", "", operator_).status, 404);
  const auto bad = call("POST", "/api/v1/scripts/spin/run", R"({"speed": 7})", operator_);
  EXPECT_EQ(bad.status, 400) << bad.body;
}

TEST_F(ApiEdgeTest, ScriptsThatCallScriptsKeepTheirReferencesWhole) {
  const std::string child = R"({"name": "child", "steps": [
      {"kind": "write", "service": "motor", "values": {"speed": 1}}]})";
  const std::string parent = R"({"name": "parent", "steps": [
      {"kind": "script", "script": "child"}]})";
  // A call to a script that does not exist yet: 409, naming both.
  const auto early = call("POST", "/api/v1/scripts", parent, admin_);
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_THAT(message(early), HasSubstr("runs script 'child'"));
  ASSERT_EQ(call("POST", "/api/v1/scripts", child, admin_).status, 201);
  ASSERT_EQ(call("POST", "/api/v1/scripts", parent, admin_).status, 201);
  // The called script cannot go while a script calls it: 409, and both stay.
  const auto in_use = call("DELETE", "/api/v1/scripts/child", "", admin_);
  EXPECT_EQ(in_use.status, 409) << in_use.body;
  EXPECT_THAT(message(in_use), HasSubstr("script 'parent'"));
  EXPECT_EQ(call("GET", "/api/v1/scripts/child", "", viewer_).status, 200);
  // A loop is a wrong script: 400.
  const auto loop = call("PUT", "/api/v1/scripts/child", R"({"name": "child", "steps": [
      {"kind": "script", "script": "parent"}]})",
                         admin_);
  EXPECT_EQ(loop.status, 400) << loop.body;
  // A script attached to an ACL that does not exist: 409.
  const auto no_acl = call("POST", "/api/v1/scripts", R"({"name": "guarded", "acl": "nobody",
      "steps": [{"kind": "delay", "delay": "1ms"}]})",
                           admin_);
  EXPECT_EQ(no_acl.status, 409) << no_acl.body;
  EXPECT_THAT(message(no_acl), HasSubstr("ACL 'nobody'"));
  // Once the caller is gone, the called script may go.
  EXPECT_EQ(call("DELETE", "/api/v1/scripts/parent", "", admin_).status, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/scripts/child", "", admin_).status, 200);
}

TEST_F(ApiEdgeTest, AToggledNotificationWritesTheTriggerThenTheClearedValues) {
  ASSERT_EQ(call("POST", "/api/v1/rules", kHotRule, admin_).status, 201);
  ASSERT_EQ(call("POST", "/api/v1/notifications", kCooling, admin_).status, 201);
  const std::vector<LogEntry> on = {{"fan", true}, {"speed", int64_t{1200}}};
  const std::vector<LogEntry> off = {{"fan", false}, {"speed", int64_t{0}}};

  ingest_temperature(30.0);  // clear from the start: nothing is sent
  ingest_temperature(45.0);
  ASSERT_TRUE(
      testing::eventually([&] { return log("motor").size() >= 2; }, std::chrono::seconds(20)))
      << log("motor").size();
  EXPECT_EQ(log("motor"), on);

  ingest_temperature(25.0);
  ASSERT_TRUE(
      testing::eventually([&] { return log("motor").size() >= 4; }, std::chrono::seconds(20)))
      << log("motor").size();
  std::vector<LogEntry> both = on;
  both.insert(both.end(), off.begin(), off.end());
  EXPECT_EQ(log("motor"), both);

  // The delivery counts a send once the dispatcher answered: poll for it.
  json status;
  ASSERT_TRUE(testing::eventually(
      [&] {
        const auto r = call("GET", "/api/v1/notifications/cooling", "", viewer_);
        if (r.status != 200) return false;
        status = parse(r)["status"];
        return status["deliveries"][0]["sent"] == 2;
      },
      std::chrono::seconds(20)))
      << status.dump();
  EXPECT_EQ(status["sends"], 2);
  EXPECT_EQ(status["sent_triggered"], 1);
  EXPECT_EQ(status["sent_cleared"], 1);
  EXPECT_EQ(status["deliveries"][0]["type"], "set_point");
  EXPECT_EQ(status["deliveries"][0]["failed"], 0) << status.dump();

  const auto history = call("GET", "/api/v1/notifications/cooling/history", "", viewer_);
  ASSERT_EQ(history.status, 200) << history.body;
  const json h = parse(history)["history"];
  ASSERT_EQ(h.size(), 2u) << history.body;
  EXPECT_EQ(h[0]["send"], "cleared");  // newest first
  EXPECT_EQ(h[0]["values"]["Motor.temperature"], 25.0);
  EXPECT_EQ(h[1]["send"], "triggered");
  EXPECT_EQ(h[1]["values"]["Motor.temperature"], 45.0);
  EXPECT_EQ(h[1]["rule"], "hot");
  const auto all = call("GET", "/api/v1/notification-history?limit=1", "", viewer_);
  ASSERT_EQ(all.status, 200) << all.body;
  ASSERT_EQ(parse(all)["history"].size(), 1u);
  EXPECT_EQ(parse(all)["history"][0]["send"], "cleared");
}

TEST_F(ApiEdgeTest, ControlRequestsGoThroughTheDispatcherAndTheSourcesAcl) {
  const auto motor =
      call("POST", "/api/v1/control", R"({"service": "motor", "values": {"speed": 3}})", operator_);
  ASSERT_EQ(motor.status, 200) << motor.body;
  EXPECT_EQ(parse(motor)["services"][0]["ok"], true) << motor.body;
  EXPECT_EQ(log("motor"), (std::vector<LogEntry>{{"speed", int64_t{3}}}));

  // "fan-acl" grants ada, not otto; either way the role must allow control requests.
  const std::string fan = R"({"service": "fan", "values": {"fan": true}})";
  const auto refused = call("POST", "/api/v1/control", fan, operator_);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_THAT(message(refused), HasSubstr("fan-acl"));
  EXPECT_EQ(call("POST", "/api/v1/services/fan/control", R"({"values": {"fan": true}})", operator_)
                .status,
            403);
  EXPECT_TRUE(log("fan").empty());
  EXPECT_EQ(call("POST", "/api/v1/control", fan, viewer_).status, 403);
  const auto granted = call("POST", "/api/v1/control", fan, ada_);
  ASSERT_EQ(granted.status, 200) << granted.body;
  EXPECT_EQ(log("fan"), (std::vector<LogEntry>{{"fan", true}}));

  const auto bad = call("POST", "/api/v1/control", R"({"service": "fan"})", ada_);
  EXPECT_EQ(bad.status, 400) << bad.body;

  const auto st = call("GET", "/api/v1/control", "", viewer_);
  ASSERT_EQ(st.status, 200) << st.body;
  const json j = parse(st);
  EXPECT_EQ(j["dispatcher"]["refused_acl"], 2) << st.body;
  EXPECT_EQ(j["dispatcher"]["ok"], 2) << st.body;
  ASSERT_EQ(j["refusals"].size(), 2u) << st.body;
  for (const json& e : j["refusals"]) {
    EXPECT_THAT(e["caller"].get<std::string>(), HasSubstr("otto"));
    EXPECT_EQ(e["code"], "PERMISSION_DENIED") << e.dump();
    EXPECT_FALSE(e["ok"].get<bool>());
  }
}

TEST_F(ApiEdgeTest, ADocumentMadeThroughTheApiSurvivesARestartBesideTheSeededOnes) {
  ASSERT_EQ(call("POST", "/api/v1/rules", kHotRule, admin_).status, 201);
  ASSERT_EQ(call("DELETE", "/api/v1/rules/seeded", "", admin_).status, 200);
  harness_.reset();
  start();
  const std::string token = new_token(harness_->auth(), "vera");

  const auto rules = call("GET", "/api/v1/rules", "", token);
  ASSERT_EQ(rules.status, 200) << rules.body;
  const json list = parse(rules)["rules"];
  const json* hot = find_named(list, "hot");
  ASSERT_NE(hot, nullptr) << rules.body;
  EXPECT_EQ((*hot)["origin"], "api");
  EXPECT_EQ((*hot)["series"], "Motor.temperature");
  // Deleted through the API: its tombstone keeps the file's table from bringing it back.
  EXPECT_EQ(find_named(list, "seeded"), nullptr) << rules.body;
  const auto acls = call("GET", "/api/v1/acls", "", token);
  ASSERT_EQ(acls.status, 200) << acls.body;
  const json acl_list = parse(acls)["acls"];
  const json* acl = find_named(acl_list, "fan-acl");
  ASSERT_NE(acl, nullptr) << acls.body;
  EXPECT_EQ((*acl)["origin"], "config");
  EXPECT_EQ(harness_->control()->engine().stats().rules, 1u);
}

}  // namespace
}  // namespace sluice::api
