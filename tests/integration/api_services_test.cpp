// The services routes of the REST API over real HTTP, with users and tokens: list and get with
// settings, version and last_seen; add, change and remove a service from TOML text; enable and
// disable through the mode route; settings errors that name the key and line; the roles each
// change needs (403), bad tokens (401), malformed and oversized bodies, unknown services, and
// concurrent changes of one service.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <barrier>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "api/api.h"
#include "api/http_server.h"
#include "api/services_api.h"
#include "auth/auth.h"
#include "cli/builtin_sources.h"
#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using ::testing::AnyOf;
using testing::eventually;
using ::testing::HasSubstr;

constexpr std::string_view kConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "sim"
type = "simulator"
rate = 1000
series = 5
[[sinks]]
name = "lake"
type = "files"
dir = "lake"
interval = "1h"
)";

const std::map<std::string, std::string> kToml = {{"Content-Type", "application/toml"}};

class ApiServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true}));
    runtime_ = harness_.runtime();
    auth_ = harness_.auth();
    admin_ = token_of("ada", auth::Role::kAdmin);
    operator_ = token_of("otto", auth::Role::kOperator);
    viewer_ = token_of("vera", auth::Role::kViewer);
  }
  // A user of that role and an API token of theirs.
  std::string token_of(const std::string& user, auth::Role role) {
    EXPECT_TRUE(auth_->users().create(user, "a password of some length", role).ok());
    auto t = auth_->tokens().create(user, auth::TokenKind::kApi, "test", 0);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? t->token : std::string();
  }
  std::string url(const std::string& path) const { return harness_.url(path); }
  static std::map<std::string, std::string> as(const std::string& token,
                                               std::map<std::string, std::string> headers = {}) {
    headers["Authorization"] = "Bearer " + token;
    return headers;
  }
  // A request as the admin with a TOML body.
  testing::HttpClient::Response toml(const std::string& method, const std::string& path,
                                     const std::string& body) {
    return client_.request(method, url(path), body, as(admin_, kToml));
  }
  json get(const std::string& path, int want = 200) {
    const auto r = client_.request("GET", url(path), "", as(viewer_));
    EXPECT_EQ(r.status, want) << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  static json error_of(const testing::HttpClient::Response& r) {
    const json j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"] : json();
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  runtime::Runtime* runtime_ = nullptr;
  auth::Auth* auth_ = nullptr;
  std::string admin_, operator_, viewer_;
  testing::HttpClient client_;
};

TEST_F(ApiServicesTest, ServicesCarryTheirSettingsVersionAndLastSeen) {
  json list = get("/api/v1/services");
  ASSERT_EQ(list["services"].size(), 2u) << list.dump();
  const json& sim = list["services"][0];
  EXPECT_EQ(sim["name"], "sim");
  EXPECT_THAT(sim["settings"].get<std::string>(), HasSubstr("rate = 1000"));
  EXPECT_FALSE(sim["version"].get<std::string>().empty());
  EXPECT_EQ(sim["origin"], "config");
  EXPECT_TRUE(list["services"][1]["settings"].is_string());
  // last_seen: set once a later request sees the counter move.
  ASSERT_TRUE(eventually([&] { return get("/api/v1/services/sim")["last_seen"].is_string(); }));
  EXPECT_THAT(get("/api/v1/services/sim")["last_seen"].get<std::string>(), HasSubstr("Z"));
}

TEST_F(ApiServicesTest, ASourceIsAddedChangedAndRemovedFromItsTomlText) {
  auto r = client_.request("POST", url("/api/v1/services?kind=source"),
                           "name = \"sim2\"\ntype = \"simulator\"\nrate = 100\nseries = 2\n",
                           as(admin_, {{"Content-Type", "text/plain; charset=utf-8"}}));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.at("location"), "/api/v1/services/sim2");
  json added = json::parse(r.body);
  EXPECT_EQ(added["kind"], "source");
  EXPECT_EQ(added["type"], "simulator");
  EXPECT_EQ(added["origin"], "api");
  const std::string first_version = added["version"];
  ASSERT_TRUE(eventually([&] { return get("/api/v1/services/sim2")["mode"] == "RUNNING"; }));

  r = toml("PUT", "/api/v1/services/sim2", "rate = 50\nseries = 3\n");
  ASSERT_EQ(r.status, 200) << r.body;
  const json changed = json::parse(r.body);
  EXPECT_THAT(changed["settings"].get<std::string>(), HasSubstr("rate = 50"));
  EXPECT_GE(changed["version"].get<std::string>(), first_version);
  auto row = runtime_->service_row("sim2");
  ASSERT_TRUE(row.ok());
  EXPECT_THAT(row->settings, HasSubstr("series = 3"));

  r = client_.request("DELETE", url("/api/v1/services/sim2"), "", as(admin_));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["removed"], "sim2");
  get("/api/v1/services/sim2", 404);
  EXPECT_EQ(get("/api/v1/services")["services"].size(), 2u);
}

TEST_F(ApiServicesTest, SettingsErrorsNameTheKeyAndTheLineAndChangeNothing) {
  auto r = toml("PUT", "/api/v1/services/sim", "series = 3\nrate = \"fast\"\n");
  ASSERT_EQ(r.status, 400) << r.body;
  json e = error_of(r);
  EXPECT_EQ(e["status"], 400);
  EXPECT_EQ(e["field"], "rate") << r.body;
  EXPECT_EQ(e["line"], 2) << r.body;
  EXPECT_THAT(e["message"].get<std::string>(), HasSubstr("rate"));

  r = toml("PUT", "/api/v1/services/sim", "rate = 10\nseries = = 3\n");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r)["line"], 2) << r.body;

  r = toml("PUT", "/api/v1/services/sim", "rate = 10\nratte = 5\n");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r)["field"], "ratte") << r.body;
  EXPECT_EQ(error_of(r)["line"], 2) << r.body;

  r = toml("PUT", "/api/v1/services/sim", "name = \"other\"\n");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r)["field"], "name") << r.body;

  EXPECT_THAT(get("/api/v1/services/sim")["settings"].get<std::string>(), HasSubstr("rate = 1000"));
}

TEST_F(ApiServicesTest, AddNeedsAKindTomlTextAndAFreeName) {
  const std::string sim3 = "name = \"sim3\"\ntype = \"simulator\"\n";
  auto r = toml("POST", "/api/v1/services", sim3);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r)["field"], "kind");
  r = toml("POST", "/api/v1/services?kind=pump", sim3);
  EXPECT_EQ(error_of(r)["field"], "kind");
  r = toml("POST", "/api/v1/services?kind=source&knd=sink", sim3);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["field"], "knd");
  r = client_.request("POST", url("/api/v1/services?kind=source"),
                      R"({"name":"sim3","type":"simulator"})",
                      as(admin_, {{"Content-Type", "application/json"}}));
  EXPECT_EQ(r.status, 415) << r.body;
  r = toml("POST", "/api/v1/services?kind=source", "  \n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["field"], "body");
  r = toml("POST", "/api/v1/services?kind=source", "name = \"sim\"\ntype = \"simulator\"\n");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(error_of(r)["field"], "name");
  r = toml("POST", "/api/v1/services?kind=sink", "name = \"x\"\ntype = \"simulator\"\n");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_of(r)["field"], "type");
  EXPECT_EQ(get("/api/v1/services")["services"].size(), 2u);
}

TEST_F(ApiServicesTest, OversizedAndBinaryBodiesAreRefused) {
  std::string big = "rate = 10\n";
  while (big.size() <= kMaxSettingsBytes) big += "# padding padding padding padding\n";
  auto r = toml("PUT", "/api/v1/services/sim", big);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(error_of(r)["field"], "body");
  // Over the server's own limit (1 MiB): refused before the route.
  r = toml("PUT", "/api/v1/services/sim", std::string(2u << 20, 'x'));
  EXPECT_EQ(r.status, 413);
  r = toml("PUT", "/api/v1/services/sim", std::string("rate = 1\0\xff\xfe", 11));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(get("/api/v1/services/sim")["settings"].get<std::string>(), HasSubstr("rate = 1000"));
}

TEST_F(ApiServicesTest, ConfigChangesNeedAdminAndModeNeedsOperator) {
  testing::HttpClient c;
  const std::string body = "rate = 10\n";
  auto r = c.request("PUT", url("/api/v1/services/sim"), body, as(operator_, kToml));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_THAT(r.body, HasSubstr("needs the admin role"));
  EXPECT_EQ(c.request("POST", url("/api/v1/services?kind=source"), body, as(viewer_, kToml)).status,
            403);
  EXPECT_EQ(c.request("DELETE", url("/api/v1/services/sim"), "", as(operator_)).status, 403);
  r = c.request("PUT", url("/api/v1/services/sim/mode"), R"({"mode":"DISABLED"})", as(viewer_));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_THAT(r.body, HasSubstr("needs the operator role"));
  r = c.request("PUT", url("/api/v1/services/sim/mode"), R"({"mode":"DISABLED"})", as(operator_));
  EXPECT_EQ(r.status, 200) << r.body;
  // Without a token or with a bad one: 401, whatever the role would be.
  EXPECT_EQ(c.request("PUT", url("/api/v1/services/sim"), body, kToml).status, 401);
  EXPECT_EQ(c.request("DELETE", url("/api/v1/services/sim"), "", as("slu_forged")).status, 401);
  EXPECT_EQ(c.request("GET", url("/api/v1/services"), "", as("slu_forged")).status, 401);
  // Nothing the refused requests asked for happened.
  EXPECT_THAT(get("/api/v1/services/sim")["settings"].get<std::string>(), HasSubstr("rate = 1000"));
}

TEST_F(ApiServicesTest, ModeRouteDisablesAndEnablesAndChecksItsBody) {
  auto r = client_.request("PUT", url("/api/v1/services/lake/mode"), R"({"mode":"DISABLED"})",
                           as(operator_));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["mode"], "DISABLED");
  auto row = runtime_->service_row("lake");
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->enabled);
  r = client_.request("PUT", url("/api/v1/services/lake/mode"), R"({"mode":"RUNNING"})",
                      as(operator_));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] { return get("/api/v1/services/lake")["mode"] == "RUNNING"; }));

  for (const char* bad : {R"({"mode":"running"})", R"({"mode":1})", R"({})", R"(["RUNNING"])",
                          "{not json", R"({"mode":"RUNNING","force":true})"}) {
    r = client_.request("PUT", url("/api/v1/services/lake/mode"), bad, as(operator_));
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_THAT(error_of(r)["field"].get<std::string>(), AnyOf("mode", "body", "force")) << bad;
  }
}

TEST_F(ApiServicesTest, UnknownServicesAre404AndARemovalASinkPreventsIs409) {
  EXPECT_EQ(toml("PUT", "/api/v1/services/nope", "rate = 1\n").status, 404);
  EXPECT_EQ(client_.request("DELETE", url("/api/v1/services/nope"), "", as(admin_)).status, 404);
  auto r = client_.request("PUT", url("/api/v1/services/nope/mode"), R"({"mode":"RUNNING"})",
                           as(admin_));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(error_of(r)["message"].get<std::string>(), HasSubstr("'nope'"));
  get("/api/v1/services/nope", 404);

  r = toml("PUT", "/api/v1/services/lake",
           "dir = \"lake\"\ninterval = \"1h\"\nsources = [\"sim\"]\n");
  ASSERT_EQ(r.status, 200) << r.body;
  r = client_.request("DELETE", url("/api/v1/services/sim"), "", as(admin_));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(error_of(r)["message"].get<std::string>(), HasSubstr("lake"));
}

TEST_F(ApiServicesTest, ConcurrentChangesOfOneServiceEachGetAnAnswerAndOneWins) {
  constexpr int kRounds = 4;
  std::barrier start(2);
  std::vector<int> statuses[2];
  auto writer = [&](int who) {
    testing::HttpClient c;
    for (int round = 0; round < kRounds; ++round) {
      start.arrive_and_wait();
      const auto r = c.request(
          "PUT", url("/api/v1/services/sim"),
          "rate = " + std::to_string(100 + who) + "\nseries = " + std::to_string(10 + round) + "\n",
          as(admin_, kToml));
      statuses[who].push_back(r.status);
      EXPECT_TRUE(json::parse(r.body, nullptr, false).is_object()) << r.body;
    }
  };
  std::thread a(writer, 0);
  std::thread b(writer, 1);
  a.join();
  b.join();
  for (const auto& s : statuses) EXPECT_THAT(s, ::testing::Each(200));
  // The stored settings are one writer's last text, whole: not a mix.
  const std::string settings = get("/api/v1/services/sim")["settings"];
  const std::string series = "series = " + std::to_string(10 + kRounds - 1);
  EXPECT_THAT(settings, HasSubstr(series));
  EXPECT_THAT(settings, AnyOf(HasSubstr("rate = 100\n"), HasSubstr("rate = 101\n"))) << settings;
  ASSERT_TRUE(eventually([&] { return get("/api/v1/services/sim")["mode"] == "RUNNING"; }));
}

TEST(SettingsErrorPlaceTest, ReadsTheLineColumnAndKeyOfTheFirstError) {
  SettingsErrorPlace p = settings_error_place(
      "settings of source 'a':3:7: key 'rate': expected a number\nsecond:9:9: key 'x': y");
  EXPECT_EQ(p.line, 3);
  EXPECT_EQ(p.column, 7);
  EXPECT_EQ(p.key, "rate");
  p = settings_error_place("settings of sink 'lake': key 'name': the name cannot change");
  EXPECT_EQ(p.line, 0);
  EXPECT_EQ(p.key, "name");
  p = settings_error_place("settings:1:5: syntax error: expected a value");
  EXPECT_EQ(p.line, 1);
  EXPECT_EQ(p.key, "");
  p = settings_error_place("no source or sink is named 'x'");
  EXPECT_EQ(p.line, 0);
  EXPECT_EQ(p.key, "");
}

}  // namespace
}  // namespace sluice::api
