// Services and series belong to organizations too: a member of an organization sees and
// controls only its organization's services (the `org` key of [[sources]] and [[sinks]]) and
// series (its services' own, and the device platform's labelled with its org); the rest of the
// API (rules, control, sessions ...) is the platform's. Over real HTTP with users and tokens.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"

namespace sluice {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr std::string_view kConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "acme-line"
type = "simulator"
org = "acme"
asset = "acme"
rate = 50
series = 2
[[sources]]
name = "plant"
type = "simulator"
asset = "plant"
rate = 50
series = 2
[[sources]]
name = "things"
type = "platform"
)";

class PlatformOrgsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true}));
    ASSERT_TRUE(harness_.platform()
                    ->create_org(platform::Scope::everything(), "Acme", json::object(), "acme")
                    .ok());
    admin_ = harness_.user_token("root", auth::Role::kAdmin);
    member_ = harness_.user_token("ann", auth::Role::kOperator, "acme");
    // Both simulators have values.
    ASSERT_TRUE(testing::eventually([&] {
      return harness_.runtime()->last_values().find("acme-line", "acme.sine0").has_value() &&
             harness_.runtime()->last_values().find("plant", "plant.sine0").has_value();
    }));
  }
  testing::HttpClient::Response call(const std::string& method, const std::string& path,
                                     const std::string& token, const std::string& body = "") {
    return client_.request(
        method, harness_.url(path), body,
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  }
  static json parse(const testing::HttpClient::Response& r) { return testing::answer_json(r); }
  static std::vector<std::string> names(const json& list, const char* field) {
    std::vector<std::string> out;
    for (const json& item : list) out.push_back(item[field]);
    return out;
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  testing::HttpClient client_;
  std::string admin_, member_;
};

TEST_F(PlatformOrgsTest, AMemberSeesAndControlsOnlyItsOrganizationsServices) {
  const auto mine = call("GET", "/api/v1/services", member_);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(names(parse(mine)["services"], "name"), std::vector<std::string>{"acme-line"});
  EXPECT_EQ(parse(mine)["services"][0]["org"], "acme");
  const auto all = call("GET", "/api/v1/services", admin_);
  EXPECT_THAT(names(parse(all)["services"], "name"),
              ::testing::UnorderedElementsAre("acme-line", "plant", "things"));

  EXPECT_EQ(call("GET", "/api/v1/services/plant", member_).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/services/plant/disable", member_).status, 404);
  const auto off = call("POST", "/api/v1/services/acme-line/disable", member_);
  EXPECT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(parse(off)["mode"], "DISABLED");
  // Changing the config stays with the platform's admins.
  EXPECT_EQ(call("DELETE", "/api/v1/services/acme-line", member_).status, 403);
}

TEST_F(PlatformOrgsTest, AMemberSeesOnlyItsOrganizationsSeries) {
  const auto mine = call("GET", "/api/v1/series", member_);
  ASSERT_EQ(mine.status, 200) << mine.body;
  for (const std::string& name : names(parse(mine)["series"], "name")) {
    EXPECT_TRUE(name.starts_with("acme.")) << name;
  }
  EXPECT_GE(parse(mine)["count"].get<int>(), 1);
  EXPECT_EQ(call("GET", "/api/v1/series/acme.sine0", member_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/series/plant.sine0", member_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/series/plant.sine0/samples", member_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/series/acme.sine0/samples?stream=plant", member_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/series/acme.sine0/samples", member_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/series/plant.sine0", admin_).status, 200);

  // The device platform's series are the channel's organization's.
  auto channel = harness_.platform()->create_channels(platform::Scope::of("acme"),
                                                      {platform::NewChannel{.name = "lab"}});
  ASSERT_TRUE(channel.ok());
  auto thing = harness_.platform()->create_things(platform::Scope::of("acme"),
                                                  {platform::NewThing{.name = "probe"}});
  ASSERT_TRUE(thing.ok());
  ASSERT_TRUE(
      harness_.platform()
          ->connect(platform::Scope::of("acme"), {thing->at(0).thing.id}, {channel->at(0).id})
          .ok());
  const auto sent = client_.request(
      "POST", harness_.url("/channels/" + channel->at(0).id + "/messages"), R"({"ph": 7})",
      {{"Authorization", "Thing " + thing->at(0).key}, {"Content-Type", "application/json"}});
  ASSERT_EQ(sent.status, 202) << sent.body;
  EXPECT_EQ(call("GET", "/api/v1/series/" + channel->at(0).id + ".ph", member_).status, 200);
}

TEST_F(PlatformOrgsTest, TheRestOfTheApiIsThePlatforms) {
  for (const char* path : {"/api/v1/sessions", "/api/v1/audit"}) {
    const auto r = call("GET", path, member_);
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_THAT(r.body, HasSubstr("belongs to organization 'acme'")) << path;
  }
  EXPECT_EQ(call("GET", "/api/v1/me", member_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/things", member_).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/sessions", admin_).status, 200);
}

TEST(ServiceOrgConfigTest, AnEmptyOrgIsRefusedWithItsKey) {
  std::vector<runtime::ConfigError> errors;
  auto config = runtime::parse_config(R"(
[store]
dir = "data"
[[sources]]
name = "a"
type = "simulator"
org = ""
)",
                                      "sluice.toml", cli::builtin_source_types(), &errors);
  EXPECT_FALSE(config.ok());
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].key, "sources[0].org");
}

}  // namespace
}  // namespace sluice
