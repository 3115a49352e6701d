// The control routes of the REST API over real HTTP with users and tokens, against a scripted
// source that offers set points and an operation: the control points are listed; values are
// written in the order given and only after every name was checked; a refusal stops the request
// and says what was written before; operations carry their parameters; a source without control,
// an unknown source, a viewer and bad bodies are refused; every request is in the audit log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/control_api.h"
#include "auth/auth.h"
#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/scripted_services.h"
#include "fixtures/test_support.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr std::string_view kConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "motor"
type = "scripted"
[[sources]]
name = "sim"
type = "simulator"
rate = 10
series = 1
)";

class ApiControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::reset_scripted_services();
    testing::Feed& f = testing::feed("motor");
    f.points = {
        {"speed", runtime::ControlPoint::Kind::kSetPoint, ValueType::kDouble, "holding register 1"},
        {"run", runtime::ControlPoint::Kind::kSetPoint, ValueType::kBool, "coil 1"},
        {"reset", runtime::ControlPoint::Kind::kOperation, ValueType::kDouble, "writes 0 to speed"},
    };
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true, .types = &types_}));
    auth_ = harness_.auth();
    operator_ = token_of("otto", auth::Role::kOperator);
    viewer_ = token_of("vera", auth::Role::kViewer);
    ASSERT_TRUE(testing::eventually(
        [&] { return call("GET", "/api/v1/services/motor/control", "", viewer_).status == 200; }));
  }
  void TearDown() override {
    harness_.stop();  // the scripted source refers to its feed until it stops
    testing::reset_scripted_services();
  }

  std::string token_of(const std::string& user, auth::Role role) {
    EXPECT_TRUE(auth_->users().create(user, "a password of some length", role).ok());
    auto t = auth_->tokens().create(user, auth::TokenKind::kApi, "test", 0);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? t->token : std::string();
  }
  testing::HttpClient::Response call(const std::string& method, const std::string& path,
                                     const std::string& body, const std::string& token) {
    return client_.request(
        method, harness_.url(path), body,
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  }
  testing::HttpClient::Response control(const std::string& body) {
    return call("POST", "/api/v1/services/motor/control", body, operator_);
  }
  static json parse(const testing::HttpClient::Response& r) {
    return json::parse(r.body, nullptr, false);
  }
  std::vector<std::pair<std::string, Value>> log() {
    testing::Feed& f = testing::feed("motor");
    std::lock_guard lock(f.mu);
    return f.control_log;
  }

  const runtime::SourceTypes types_ = testing::scripted_types();
  testing::TempDir dir_;
  testing::ApiHarness harness_;
  auth::Auth* auth_ = nullptr;
  std::string operator_, viewer_;
  testing::HttpClient client_;
};

TEST_F(ApiControlTest, ControlPointsAreListedWithKindTypeAndDescription) {
  const auto r = call("GET", "/api/v1/services/motor/control", "", viewer_);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = parse(r);
  EXPECT_EQ(j["service"], "motor");
  EXPECT_EQ(j["type"], "scripted");
  ASSERT_EQ(j["points"].size(), 3u);
  EXPECT_EQ(j["points"][0], json({{"name", "speed"},
                                  {"kind", "set_point"},
                                  {"type", "double"},
                                  {"description", "holding register 1"}}));
  EXPECT_EQ(j["points"][1]["type"], "bool");
  EXPECT_EQ(j["points"][2]["kind"], "operation");
  EXPECT_FALSE(j["points"][2].contains("type"));
}

TEST_F(ApiControlTest, ValuesAreWrittenInListOrderAndConfirmed) {
  const auto r = control(R"({"values": [{"name": "speed", "value": 1200.5},
                                       {"name": "run", "value": true},
                                       {"name": "speed", "value": 7}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r)["written"].size(), 3u);
  const auto got = log();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], (std::pair<std::string, Value>{"speed", 1200.5}));
  EXPECT_EQ(got[1], (std::pair<std::string, Value>{"run", true}));
  EXPECT_EQ(got[2], (std::pair<std::string, Value>{"speed", int64_t{7}}));
}

TEST_F(ApiControlTest, AnUnknownNameRefusesTheWholeRequestBeforeAnythingIsWritten) {
  const auto r = control(R"({"values": {"run": true, "speeed": 3}})");
  EXPECT_EQ(r.status, 404) << r.body;
  const json e = parse(r)["error"];
  EXPECT_EQ(e["field"], "values.speeed");
  EXPECT_THAT(e["message"].get<std::string>(), HasSubstr("its set points: speed, run"));
  EXPECT_TRUE(log().empty());
}

TEST_F(ApiControlTest, ARefusalStopsTheRequestAndSaysWhatWasWrittenBefore) {
  {
    testing::Feed& f = testing::feed("motor");
    std::lock_guard lock(f.mu);
    f.control_answer["run"] = Status(Code::kIoError, "Modbus exception 2: illegal data address");
  }
  const auto r = control(R"({"values": [{"name": "speed", "value": 1},
                                       {"name": "run", "value": true},
                                       {"name": "speed", "value": 2}]})");
  EXPECT_EQ(r.status, 502) << r.body;
  const json j = parse(r);
  EXPECT_EQ(j["error"]["field"], "values.run");
  EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr("illegal data address"));
  ASSERT_EQ(j["written"].size(), 1u);
  EXPECT_EQ(j["written"][0]["name"], "speed");
  EXPECT_EQ(log().size(), 1u);  // the third value was not sent
}

TEST_F(ApiControlTest, DeviceErrorsMapToGatewayStatuses) {
  const std::pair<Code, int> cases[] = {{Code::kTimeout, 504},
                                        {Code::kUnavailable, 503},
                                        {Code::kInvalidArgument, 400},
                                        {Code::kCorruption, 502}};
  for (const auto& [code, http] : cases) {
    {
      testing::Feed& f = testing::feed("motor");
      std::lock_guard lock(f.mu);
      f.control_answer["speed"] = Status(code, "device says no");
    }
    const auto r = control(R"({"values": {"speed": 1}})");
    EXPECT_EQ(r.status, http) << code_name(code) << ": " << r.body;
    EXPECT_EQ(control_http_status(code), http);
  }
}

TEST_F(ApiControlTest, AnOperationCarriesItsParameters) {
  const auto r = control(R"({"operation": "reset", "params": {"to": 12, "mode": "soft"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r)["operation"], "reset");
  const auto got = log();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (std::pair<std::string, Value>{"op:reset", "mode=soft;to=12;"}));

  const auto unknown = control(R"({"operation": "explode"})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_THAT(unknown.body, HasSubstr("its operations: reset"));
}

TEST_F(ApiControlTest, SourcesWithoutControlUnknownSourcesAndViewersAreRefused) {
  const auto sim =
      call("POST", "/api/v1/services/sim/control", R"({"values": {"x": 1}})", operator_);
  EXPECT_EQ(sim.status, 409) << sim.body;
  EXPECT_THAT(sim.body, HasSubstr("has no control points"));
  const auto none =
      call("POST", "/api/v1/services/nope/control", R"({"values": {"x": 1}})", operator_);
  EXPECT_EQ(none.status, 404) << none.body;
  const auto viewer =
      call("POST", "/api/v1/services/motor/control", R"({"values": {"speed": 1}})", viewer_);
  EXPECT_EQ(viewer.status, 403) << viewer.body;
  EXPECT_TRUE(log().empty());
}

TEST_F(ApiControlTest, BadBodiesNameTheField) {
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "body"},
      {R"({"values": {"speed": 1}, "operation": "reset"})", "body"},
      {R"({"values": {}})", "values"},
      {R"({"values": {"speed": null}})", "values.speed"},
      {R"({"values": [{"name": "speed"}]})", "values[0].value"},
      {R"({"values": [{"name": "", "value": 1}]})", "values[0].name"},
      {R"({"values": {"speed": 1}, "params": {}})", "params"},
      {R"({"operation": "reset", "params": {"to": [1]}})", "params.to"},
      {R"({"operation": "reset", "extra": 1})", "extra"},
  };
  for (const auto& [body, field] : cases) {
    const auto r = control(body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_EQ(parse(r)["error"]["field"], field) << body;
  }
  EXPECT_TRUE(log().empty());
}

TEST_F(ApiControlTest, EveryRequestIsAuditedWithItsBodyAndOutcome) {
  ASSERT_EQ(control(R"({"values": {"speed": 5}})").status, 200);
  {
    testing::Feed& f = testing::feed("motor");
    std::lock_guard lock(f.mu);
    f.control_answer["run"] = Status(Code::kTimeout, "no answer in 1000 ms");
  }
  ASSERT_EQ(control(R"({"values": {"run": false}})").status, 504);
  auto entries = auth_->audit().list({});
  ASSERT_TRUE(entries.ok()) << entries.status().message();
  std::vector<json> control_entries;
  for (const auth::AuditEntry& e : *entries) {
    if (e.action == "POST /api/v1/services/motor/control") {
      control_entries.push_back(json::parse(e.details));
      EXPECT_EQ(e.user, "otto");
    }
  }
  ASSERT_EQ(control_entries.size(), 2u);
  // Newest first or oldest first: find each by its status.
  bool saw_ok = false, saw_timeout = false;
  for (const json& d : control_entries) {
    if (d["status"] == 200) {
      saw_ok = true;
      EXPECT_EQ(d["request"], json::parse(R"({"values": {"speed": 5}})"));
    } else if (d["status"] == 504) {
      saw_timeout = true;
      EXPECT_THAT(d["error"]["message"].get<std::string>(), HasSubstr("no answer in 1000 ms"));
    }
  }
  EXPECT_TRUE(saw_ok);
  EXPECT_TRUE(saw_timeout);
}

}  // namespace
}  // namespace sluice::api
