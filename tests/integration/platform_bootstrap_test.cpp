// Device bootstrap over real HTTP: an operator prepares a config, the device bootstraps with its
// external key and sends with the thing key it got; each bootstrap rotates that key; the
// device's refusals (no header, a wrong key, an unknown id, a config that is off); the
// encrypted answer opens with the configured key only; bodies that do not parse name their
// field; and a member of another organization neither sees nor changes the configs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/test_support.h"
#include "platform/bootstrap.h"

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
name = "things"
type = "platform"
)";

const std::string kSealKey(platform::kBootstrapKeyBytes, '\x5a');

class PlatformBootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override { start(kSealKey); }
  void start(std::optional<std::string> seal_key) {
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true, .bootstrap_key = seal_key}));
    admin_ = harness_.user_token("root", auth::Role::kAdmin);
    operator_ = harness_.user_token("otto", auth::Role::kOperator);
    viewer_ = harness_.user_token("vera", auth::Role::kViewer);
    ASSERT_TRUE(testing::eventually([&] {
      return harness_.runtime()
          ->with_source("things", [](auto&, auto&) { return Status::ok_status(); })
          .ok();
    }));
  }
  testing::HttpClient::Response call(const std::string& method, const std::string& path,
                                     const std::string& body, const std::string& token) {
    return client_.request(
        method, harness_.url(path), body,
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  }
  // A device's request: no user, its own Authorization header (none if empty).
  testing::HttpClient::Response device(const std::string& method, const std::string& path,
                                       const std::string& authorization,
                                       const std::string& body = {}) {
    std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}};
    if (!authorization.empty()) headers["Authorization"] = authorization;
    return client_.request(method, harness_.url(path), body, headers);
  }
  static json parse(const testing::HttpClient::Response& r) { return testing::answer_json(r); }
  static std::string message(const testing::HttpClient::Response& r) {
    return testing::answer_message(r);
  }
  static std::string field(const testing::HttpClient::Response& r) {
    return testing::answer_field(r);
  }
  std::string make_channel(const std::string& name, const std::string& token) {
    const auto c = call("POST", "/api/v1/channels", json({{"name", name}}).dump(), token);
    EXPECT_EQ(c.status, 201) << c.body;
    return parse(c).value("id", "");
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  testing::HttpClient client_;
  std::string admin_, operator_, viewer_;
};

TEST_F(PlatformBootstrapTest, ADeviceBootstrapsAndSendsWithTheKeyItGot) {
  const std::string channel = make_channel("line-1", operator_);
  const json config = {{"external_id", "00:1a:2b:3c:4d:5e"},
                       {"name", "press-7"},
                       {"channels", {channel}},
                       {"content", {{"poll", "5s"}, {"registers", {40001, 40002}}}}};
  EXPECT_EQ(call("POST", "/api/v1/bootstrap", config.dump(), viewer_).status, 403);
  const auto made = call("POST", "/api/v1/bootstrap", config.dump(), operator_);
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string external_key = parse(made)["external_key"];
  EXPECT_EQ(external_key.size(), 64u);
  EXPECT_EQ(parse(made)["key_hint"], external_key.substr(0, 4));
  EXPECT_EQ(parse(made)["state"], "on");
  const std::string thing = parse(made)["thing_id"];

  // The key is not shown again.
  const auto read = call("GET", "/api/v1/bootstrap/00:1a:2b:3c:4d:5e", "", viewer_);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_FALSE(parse(read).contains("external_key"));
  EXPECT_EQ(parse(read)["channels"], json({channel}));
  const auto list = call("GET", "/api/v1/bootstrap?name=PRESS", "", viewer_);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(parse(list)["total"], 1);
  EXPECT_FALSE(parse(list)["configs"][0].contains("external_key"));

  // The device asks, without a user login.
  const auto boot = device("GET", "/things/bootstrap/00:1a:2b:3c:4d:5e", "Thing " + external_key);
  ASSERT_EQ(boot.status, 200) << boot.body;
  EXPECT_EQ(boot.headers.at("cache-control"), "no-store");
  const json answer = parse(boot);
  EXPECT_EQ(answer["thing_id"], thing);
  EXPECT_EQ(answer["content"], config["content"]);
  ASSERT_EQ(answer["channels"].size(), 1u);
  EXPECT_EQ(answer["channels"][0]["id"], channel);
  EXPECT_EQ(answer["channels"][0]["name"], "line-1");
  const std::string thing_key = answer["thing_key"];

  // The thing key works on the HTTP adapter, on the channel the config connected.
  const std::string messages = "/channels/" + channel + "/messages";
  const auto sent = device("POST", messages, "Thing " + thing_key, R"({"pressure": 4.5})");
  EXPECT_EQ(sent.status, 202) << sent.body;

  // A second bootstrap gives a new key; the first stops working.
  const auto again = device("GET", "/things/bootstrap/00:1a:2b:3c:4d:5e", "thing " + external_key);
  ASSERT_EQ(again.status, 200) << again.body;
  const std::string new_key = parse(again)["thing_key"];
  EXPECT_NE(new_key, thing_key);
  EXPECT_EQ(device("POST", messages, "Thing " + thing_key, R"({"pressure": 4.6})").status, 401);
  EXPECT_EQ(device("POST", messages, "Thing " + new_key, R"({"pressure": 4.7})").status, 202);
  EXPECT_EQ(harness_.bootstrap()->stats().bootstrapped, 2u);
}

TEST_F(PlatformBootstrapTest, ADeviceIsRefusedWithTheReason) {
  const std::string key = "factory-secret-0001";
  const auto made = call(
      "POST", "/api/v1/bootstrap",
      json({{"external_id", "SN-1"}, {"name", "meter"}, {"external_key", key}}).dump(), operator_);
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_FALSE(parse(made).contains("external_key"));  // given, so not answered

  const auto none = device("GET", "/things/bootstrap/SN-1", "");
  EXPECT_EQ(none.status, 401) << none.body;
  ASSERT_TRUE(none.headers.contains("www-authenticate"));
  EXPECT_THAT(none.headers.at("www-authenticate"), HasSubstr("Thing"));
  EXPECT_EQ(device("GET", "/things/bootstrap/SN-1", "Bearer " + key).status, 401);
  EXPECT_EQ(device("GET", "/things/bootstrap/SN-1", "Thing").status, 401);
  // A user's token is not an external key either.
  EXPECT_EQ(device("GET", "/things/bootstrap/SN-1", "Bearer " + admin_).status, 401);
  const auto wrong = device("GET", "/things/bootstrap/SN-1", "Thing " + key + "x");
  EXPECT_EQ(wrong.status, 403) << wrong.body;
  const auto unknown = device("GET", "/things/bootstrap/SN-2", "Thing " + key);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_THAT(message(unknown), HasSubstr("SN-2"));

  const auto off = call("PUT", "/api/v1/bootstrap/SN-1/state", R"({"state": "off"})", operator_);
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(parse(off)["state"], "off");
  const auto refused = device("GET", "/things/bootstrap/SN-1", "Thing " + key);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_THAT(message(refused), HasSubstr("is off"));
  ASSERT_EQ(call("PUT", "/api/v1/bootstrap/SN-1/state", R"({"state": "on"})", operator_).status,
            200);
  EXPECT_EQ(device("GET", "/things/bootstrap/SN-1", "Thing " + key).status, 200);

  const platform::BootstrapStats s = harness_.bootstrap()->stats();
  EXPECT_EQ(s.unauthenticated, 4u);
  EXPECT_EQ(s.wrong_key, 1u);
  EXPECT_EQ(s.unknown, 1u);
  EXPECT_EQ(s.off, 1u);
  EXPECT_EQ(s.bootstrapped, 1u);
}

TEST_F(PlatformBootstrapTest, TheEncryptedAnswerOpensWithTheConfiguredKeyOnly) {
  const std::string key = "factory-secret-0001";
  ASSERT_EQ(call("POST", "/api/v1/bootstrap",
                 json({{"external_id", "SN-1"},
                       {"name", "meter"},
                       {"external_key", key},
                       {"content", "opaque text"}})
                     .dump(),
                 operator_)
                .status,
            201);
  const auto sealed = device("GET", "/things/bootstrap/secure/SN-1", "Thing " + key);
  ASSERT_EQ(sealed.status, 200) << sealed.body;
  EXPECT_EQ(sealed.headers.at("content-type"), "application/octet-stream");
  EXPECT_EQ(sealed.body.find("thing_key"), std::string::npos);
  auto opened = platform::decrypt_answer(kSealKey, sealed.body);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  const json answer = json::parse(*opened, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << *opened;
  EXPECT_EQ(answer["content"], "opaque text");
  EXPECT_TRUE(harness_.platform()->authenticate(answer["thing_key"].get<std::string>()).ok());
  const std::string other(platform::kBootstrapKeyBytes, '\x5b');
  EXPECT_EQ(platform::decrypt_answer(other, sealed.body).status().code(), Code::kCorruption);
  // The secure route refuses like the plain one.
  EXPECT_EQ(device("GET", "/things/bootstrap/secure/SN-1", "Thing wrong-key-0000000").status, 403);
  EXPECT_EQ(device("GET", "/things/bootstrap/secure/SN-1", "").status, 401);
}

TEST(PlatformBootstrapPlainTest, WithoutAKeyFileTheEncryptedRouteSaysItIsOff) {
  testing::TempDir dir;  // outlives the harness
  testing::ApiHarness plain;
  testing::HttpClient client_;
  ASSERT_TRUE(plain.start(dir, kConfig, {.auth = false}));
  auto made = plain.bootstrap()->create(
      platform::Scope::everything(),
      {.external_id = "SN-1", .external_key = "factory-secret-0001", .name = "meter"});
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  const auto r = client_.request("GET", plain.url("/things/bootstrap/secure/SN-1"), "",
                                 {{"Authorization", "Thing factory-secret-0001"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_THAT(r.body, HasSubstr("bootstrap_key_file"));
  // Refused before the key was rotated: nothing was bootstrapped.
  EXPECT_EQ(plain.bootstrap()->stats().bootstrapped, 0u);
  EXPECT_EQ(client_
                .request("GET", plain.url("/things/bootstrap/SN-1"), "",
                         {{"Authorization", "Thing factory-secret-0001"}})
                .status,
            200);
}

TEST_F(PlatformBootstrapTest, BadBodiesNameTheFieldAndConflictsAre409) {
  const std::string channel = make_channel("line-1", operator_);
  const auto bad = [&](const std::string& method, const std::string& path, const json& body,
                       int status, const std::string& want_field) {
    const auto r = call(method, path, body.dump(), operator_);
    EXPECT_EQ(r.status, status) << method << " " << path << " " << body.dump() << ": " << r.body;
    EXPECT_EQ(field(r), want_field) << r.body;
  };
  bad("POST", "/api/v1/bootstrap", {{"name", "x"}}, 400, "external_id");
  bad("POST", "/api/v1/bootstrap", {{"external_id", "SN-1"}}, 400, "name");
  bad("POST", "/api/v1/bootstrap", {{"external_id", "SN-1"}, {"name", "x"}, {"colour", "red"}}, 400,
      "colour");
  bad("POST", "/api/v1/bootstrap", {{"external_id", 7}, {"name", "x"}}, 400, "external_id");
  bad("POST", "/api/v1/bootstrap", {{"external_id", "SN-1"}, {"name", "x"}, {"channels", "c"}}, 400,
      "channels");
  bad("POST", "/api/v1/bootstrap",
      {{"external_id", "SN-1"}, {"name", "x"}, {"channels", {channel, 3}}}, 400, "channels[1]");
  bad("POST", "/api/v1/bootstrap",
      {{"external_id", "SN-1"}, {"name", "x"}, {"external_key", "short"}}, 400, "external_key");
  bad("POST", "/api/v1/bootstrap", {{"external_id", "a b"}, {"name", "x"}}, 400, "external_id");
  EXPECT_EQ(call("POST", "/api/v1/bootstrap", "[1, 2]", operator_).status, 400);
  bad("POST", "/api/v1/bootstrap",
      {{"external_id", "SN-1"}, {"name", "x"}, {"channels", {channel, "nope"}}}, 409,
      "channels[1]");
  bad("POST", "/api/v1/bootstrap", {{"external_id", "SN-1"}, {"name", "x"}, {"thing_id", "nope"}},
      409, "thing_id");
  ASSERT_EQ(call("POST", "/api/v1/bootstrap", json({{"external_id", "SN-1"}, {"name", "x"}}).dump(),
                 operator_)
                .status,
            201);
  bad("POST", "/api/v1/bootstrap", {{"external_id", "SN-1"}, {"name", "y"}}, 409, "external_id");
  bad("PUT", "/api/v1/bootstrap/SN-1", {{"state", "off"}}, 400, "state");
  bad("PUT", "/api/v1/bootstrap/SN-1", {{"external_id", "SN-9"}}, 400, "external_id");
  bad("PUT", "/api/v1/bootstrap/SN-1", {{"channels", {"nope"}}}, 409, "channels[0]");
  bad("PUT", "/api/v1/bootstrap/SN-1/state", {{"state", "maybe"}}, 400, "state");
  bad("PUT", "/api/v1/bootstrap/SN-9", {{"name", "z"}}, 404, "");
  // A good change goes through, and a list parameter that does not exist is refused.
  const auto changed = call(
      "PUT", "/api/v1/bootstrap/SN-1",
      json({{"name", "renamed"}, {"channels", {channel}}, {"content", {1, 2}}}).dump(), operator_);
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(parse(changed)["name"], "renamed");
  EXPECT_EQ(parse(changed)["content"], json({1, 2}));
  EXPECT_TRUE(
      harness_.platform()->connected(parse(changed)["thing_id"].get<std::string>(), channel));
  EXPECT_EQ(call("GET", "/api/v1/bootstrap?colour=red", "", viewer_).status, 400);
  const auto removed = call("DELETE", "/api/v1/bootstrap/SN-1", "", operator_);
  EXPECT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(call("GET", "/api/v1/bootstrap/SN-1", "", viewer_).status, 404);
  // The thing stays.
  EXPECT_EQ(
      call("GET", "/api/v1/things/" + parse(changed)["thing_id"].get<std::string>(), "", viewer_)
          .status,
      200);
}

TEST_F(PlatformBootstrapTest, AMemberOfAnotherOrganizationNeitherSeesNorChangesConfigs) {
  ASSERT_EQ(call("POST", "/api/v1/orgs", R"({"name": "acme", "id": "acme"})", admin_).status, 201);
  ASSERT_TRUE(harness_.auth()
                  ->users()
                  .create("amy", "a password of some length", auth::Role::kOperator, "acme")
                  .ok());
  auto t = harness_.auth()->tokens().create("amy", auth::TokenKind::kApi, "test", 0);
  ASSERT_TRUE(t.ok());
  const std::string amy = t->token;

  const std::string channel = make_channel("hq-line", operator_);
  const auto hq = call("POST", "/api/v1/bootstrap",
                       json({{"external_id", "HQ-1"},
                             {"name", "hq"},
                             {"external_key", "factory-secret-0001"},
                             {"channels", {channel}}})
                           .dump(),
                       operator_);
  ASSERT_EQ(hq.status, 201) << hq.body;
  EXPECT_EQ(call("GET", "/api/v1/bootstrap/HQ-1", "", amy).status, 404);
  EXPECT_EQ(call("PUT", "/api/v1/bootstrap/HQ-1", R"({"name": "mine"})", amy).status, 404);
  EXPECT_EQ(call("PUT", "/api/v1/bootstrap/HQ-1/state", R"({"state": "off"})", amy).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/bootstrap/HQ-1", "", amy).status, 404);
  EXPECT_EQ(parse(call("GET", "/api/v1/bootstrap", "", amy))["total"], 0);
  // Nor can amy point her config at hq's channel: it does not exist for her.
  const auto sneaky =
      call("POST", "/api/v1/bootstrap",
           json({{"external_id", "AC-1"}, {"name", "a"}, {"channels", {channel}}}).dump(), amy);
  EXPECT_EQ(sneaky.status, 409) << sneaky.body;
  EXPECT_EQ(field(sneaky), "channels[0]");
  // Her own config is hers, in acme, and the platform sees both.
  const auto mine =
      call("POST", "/api/v1/bootstrap", json({{"external_id", "AC-1"}, {"name", "a"}}).dump(), amy);
  ASSERT_EQ(mine.status, 201) << mine.body;
  EXPECT_EQ(parse(mine)["org"], "acme");
  EXPECT_EQ(parse(call("GET", "/api/v1/bootstrap", "", amy))["total"], 1);
  EXPECT_EQ(parse(call("GET", "/api/v1/bootstrap", "", viewer_))["total"], 2);
  const auto still = call("GET", "/api/v1/bootstrap/HQ-1", "", viewer_);
  ASSERT_EQ(still.status, 200);
  EXPECT_EQ(parse(still)["name"], "hq");
  EXPECT_EQ(parse(still)["state"], "on");
}

}  // namespace
}  // namespace sluice
