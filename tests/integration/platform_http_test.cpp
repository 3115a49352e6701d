// The device platform over real HTTP: provisioning through the REST API (roles, bulk, keys shown
// once, organizations), and the HTTP adapter's authentication matrix (no key, a wrong key, a
// user's token, a thing not connected, an unknown channel, a connected thing), payloads (SenML
// with two records of the same name and time, a JSON object on a subtopic, bad ones) and that
// what was accepted is in the store with its labels, read back through the series API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/test_support.h"

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
max_message_bytes = "2KiB"
)";

class PlatformHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true}));
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
  testing::HttpClient::Response send(const std::string& path, const std::string& body,
                                     const std::string& authorization,
                                     const std::string& content_type = "application/json") {
    std::map<std::string, std::string> headers = {{"Content-Type", content_type}};
    if (!authorization.empty()) headers["Authorization"] = authorization;
    return client_.request("POST", harness_.url(path), body, headers);
  }
  static json parse(const testing::HttpClient::Response& r) { return testing::answer_json(r); }
  static std::string message(const testing::HttpClient::Response& r) {
    return testing::answer_message(r);
  }
  std::string detail(const std::string& name) {
    for (const auto& s : harness_.runtime()->sources()) {
      for (const auto& d : s.details) {
        if (d.name == name) return d.value;
      }
    }
    return "<none>";
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  testing::HttpClient client_;
  std::string admin_, operator_, viewer_;
};

TEST_F(PlatformHttpTest, AnOperatorProvisionsThingsInBulkAndSeesEachKeyOnce) {
  // A viewer reads but does not provision.
  EXPECT_EQ(call("POST", "/api/v1/things", R"({"name": "x"})", viewer_).status, 403);
  std::string bulk = R"({"things": [)";
  for (int i = 0; i < 1000; ++i) {
    bulk += (i ? "," : "") + std::string(R"({"name": "sensor-)") + std::to_string(i) + "\"}";
  }
  bulk += "]}";
  const auto made = call("POST", "/api/v1/things", bulk, operator_);
  ASSERT_EQ(made.status, 201) << made.body;
  const json things = parse(made)["things"];
  ASSERT_EQ(things.size(), 1000u);
  EXPECT_EQ(things[0]["key"].get<std::string>().size(), 64u);
  const std::string id = things[17]["id"];

  // The key is not shown again; the list pages.
  const auto one = call("GET", "/api/v1/things/" + id, "", viewer_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_FALSE(parse(one).contains("key"));
  EXPECT_EQ(parse(one)["key_hint"], things[17]["key"].get<std::string>().substr(0, 4));
  const auto page = call("GET", "/api/v1/things?offset=990&limit=50", "", viewer_);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(parse(page)["total"], 1000);
  EXPECT_EQ(parse(page)["things"].size(), 10u);
  EXPECT_EQ(call("GET", "/api/v1/things?limit=5000", "", viewer_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/things?colour=red", "", viewer_).status, 400);

  // A bad entry refuses the whole bulk and names itself.
  const auto bad =
      call("POST", "/api/v1/things",
           R"({"things": [{"name": "ok"}, {"name": "ok2", "colour": "red"}]})", operator_);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_THAT(message(bad), HasSubstr("things[1].colour"));
  EXPECT_EQ(parse(call("GET", "/api/v1/things?limit=1", "", viewer_))["total"], 1000);

  // Rotation answers the new key once; the old one stops at once.
  const auto rotated = call("POST", "/api/v1/things/" + id + "/key", "", operator_);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_NE(parse(rotated)["key"], things[17]["key"]);
  EXPECT_FALSE(harness_.platform()->authenticate(things[17]["key"].get<std::string>()).ok());
}

TEST_F(PlatformHttpTest, TheAdapterAdmitsOnlyAConnectedThingWithItsKey) {
  const json chan = parse(call("POST", "/api/v1/channels", R"({"name": "plant"})", operator_));
  const std::string channel = chan["id"];
  const json t1 = parse(call("POST", "/api/v1/things", R"({"name": "reactor-1"})", operator_));
  const json t2 = parse(call("POST", "/api/v1/things", R"({"name": "reactor-2"})", operator_));
  const auto connected =
      call("POST", "/api/v1/connect",
           json{{"thing_ids", {t1["id"]}}, {"channel_ids", {channel}}}.dump(), operator_);
  ASSERT_EQ(connected.status, 200) << connected.body;
  const std::string path = "/channels/" + channel + "/messages";
  const std::string body = R"({"temperature": 21.5})";
  const std::string key1 = "Thing " + t1["key"].get<std::string>();

  EXPECT_EQ(send(path, body, "").status, 401);
  EXPECT_EQ(send(path, body, "Thing " + std::string(64, 'a')).status, 401);
  EXPECT_EQ(send(path, body, "Bearer " + admin_).status, 401);  // a user's token is no key
  const auto other = send(path, body, "Thing " + t2["key"].get<std::string>());
  EXPECT_EQ(other.status, 403);
  EXPECT_THAT(message(other), HasSubstr("not connected"));
  EXPECT_EQ(send("/channels/nope/messages", body, key1).status, 403);
  const auto ok = send(path, body, key1);
  ASSERT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(parse(ok)["samples"], 1);

  // After a disconnect the same key is refused.
  ASSERT_EQ(call("POST", "/api/v1/disconnect",
                 json{{"thing_ids", {t1["id"]}}, {"channel_ids", {channel}}}.dump(), operator_)
                .status,
            200);
  EXPECT_EQ(send(path, body, key1).status, 403);
  EXPECT_EQ(detail("messages"), "1");
  EXPECT_EQ(detail("refused_unauthenticated"), "3");
  EXPECT_EQ(detail("refused_not_connected"), "2");
  EXPECT_EQ(detail("refused_unknown_channel"), "1");
}

TEST_F(PlatformHttpTest, SenmlAndJsonMessagesLandInTheStoreWithTheirLabels) {
  const json chan = parse(call("POST", "/api/v1/channels", R"({"name": "lab"})", operator_));
  const std::string channel = chan["id"];
  const json thing = parse(call("POST", "/api/v1/things", R"({"name": "bioreactor"})", operator_));
  ASSERT_EQ(call("POST", "/api/v1/connect",
                 json{{"thing_ids", {thing["id"]}}, {"channel_ids", {channel}}}.dump(), operator_)
                .status,
            200);
  const std::string key = "Thing " + thing["key"].get<std::string>();
  // Two records of the same name and time: both are kept.
  const std::string senml =
      R"([{"bn": "br1:", "bt": 1700000000, "n": "ph", "u": "pH", "v": 7.1},
          {"n": "ph", "v": 7.2}, {"n": "do", "t": 1, "v": 41.5}])";
  const auto s = send("/channels/" + channel + "/messages", senml, key, "application/senml+json");
  ASSERT_EQ(s.status, 202) << s.body;
  EXPECT_EQ(parse(s)["samples"], 3);
  const auto j =
      send("/channels/" + channel + "/messages/room1/air", R"({"co2": 412, "ok": true})", key);
  ASSERT_EQ(j.status, 202) << j.body;

  const std::string ph = channel + ".br1:ph";
  const auto samples = call(
      "GET", "/api/v1/series/" + ph + "/samples?from=1699999999000&to=1700000010000", "", viewer_);
  ASSERT_EQ(samples.status, 200) << samples.body;
  const json rows = parse(samples)["samples"];
  ASSERT_EQ(rows.size(), 2u) << samples.body;
  EXPECT_EQ(rows[0]["ts"], rows[1]["ts"]);
  const auto meta = call("GET", "/api/v1/series/" + ph, "", viewer_);
  ASSERT_EQ(meta.status, 200) << meta.body;
  const json m = parse(meta);
  EXPECT_EQ(m["unit"], "pH");
  EXPECT_EQ(m["labels"]["channel"], channel);
  EXPECT_EQ(m["labels"]["channel_name"], "lab");
  EXPECT_EQ(m["labels"]["publisher"], thing["id"]);
  EXPECT_EQ(m["labels"]["protocol"], "http");
  const auto co2 = call("GET", "/api/v1/series/" + channel + ".room1.air.co2", "", viewer_);
  ASSERT_EQ(co2.status, 200) << co2.body;
  EXPECT_EQ(parse(co2)["labels"]["subtopic"], "room1/air");

  // Bad input: a clear 400 (or 413), counted, nothing stored.
  const std::string path = "/channels/" + channel + "/messages";
  const auto broken = send(path, R"([{"n": "x", "v": "text"}])", key, "application/senml+json");
  EXPECT_EQ(broken.status, 400) << broken.body;
  EXPECT_THAT(message(broken), HasSubstr("SenML"));
  EXPECT_EQ(send(path, "21.5", key).status, 400);
  EXPECT_EQ(send(path, R"({"a": 1})", key, "text/plain").status, 400);
  EXPECT_EQ(send(path + "/bad$sub", R"({"a": 1})", key).status, 400);
  EXPECT_EQ(send(path, R"({"a": ")" + std::string(3000, 'x') + "\"}", key).status, 413);
  EXPECT_EQ(detail("messages"), "2");
  EXPECT_EQ(detail("samples"), "5");
  EXPECT_EQ(detail("refused_payload"), "3");
  EXPECT_EQ(detail("refused_too_large"), "1");
}

TEST_F(PlatformHttpTest, OrganizationsAreCreatedOnlyByPlatformAdmins) {
  EXPECT_EQ(call("POST", "/api/v1/orgs", R"({"name": "acme"})", operator_).status, 403);
  const auto made = call("POST", "/api/v1/orgs", R"({"name": "acme", "id": "acme"})", admin_);
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(call("POST", "/api/v1/orgs", R"({"name": "ACME"})", admin_).status, 409);
  const auto t = call("POST", "/api/v1/things", R"({"name": "x", "org": "acme"})", operator_);
  ASSERT_EQ(t.status, 201) << t.body;
  EXPECT_EQ(parse(t)["org"], "acme");
  const auto busy = call("DELETE", "/api/v1/orgs/acme", "", admin_);
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_EQ(parse(call("GET", "/api/v1/things?org=acme", "", viewer_))["total"], 1);
}

TEST_F(PlatformHttpTest, AMemberOfAnOrganizationSeesAndChangesOnlyItsOwn) {
  ASSERT_EQ(call("POST", "/api/v1/orgs", R"({"name": "acme", "id": "acme"})", admin_).status, 201);
  // A user of acme, made through the API by a platform admin.
  const auto made = call("POST", "/api/v1/users",
                         R"({"name": "amy", "password": "a password of some length",
                             "role": "admin", "org": "acme"})",
                         admin_);
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(parse(made)["org"], "acme");
  EXPECT_EQ(call("POST", "/api/v1/users",
                 R"({"name": "bob", "password": "a password of some length", "role": "viewer",
                     "org": "nope"})",
                 admin_)
                .status,
            404);
  auto t = harness_.auth()->tokens().create("amy", auth::TokenKind::kApi, "test", 0);
  ASSERT_TRUE(t.ok());
  const std::string amy = t->token;

  const json platform_thing =
      parse(call("POST", "/api/v1/things", R"({"name": "hq-meter"})", operator_));
  const auto mine = call("POST", "/api/v1/things", R"({"name": "acme-meter"})", amy);
  ASSERT_EQ(mine.status, 201) << mine.body;
  EXPECT_EQ(parse(mine)["org"], "acme");
  const json listed = parse(call("GET", "/api/v1/things", "", amy));
  ASSERT_EQ(listed["total"], 1) << listed.dump();
  EXPECT_EQ(listed["things"][0]["name"], "acme-meter");
  const std::string other = "/api/v1/things/" + platform_thing["id"].get<std::string>();
  EXPECT_EQ(call("GET", other, "", amy).status, 404);
  EXPECT_EQ(call("DELETE", other, "", amy).status, 404);
  EXPECT_EQ(call("POST", other + "/key", "", amy).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/things", R"({"name": "x", "org": "platform"})", amy).status, 403);
  // Even an admin of acme manages no users, no organizations and no configuration.
  EXPECT_EQ(call("GET", "/api/v1/users", "", amy).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/orgs", R"({"name": "evil"})", amy).status, 403);
  const json orgs = parse(call("GET", "/api/v1/orgs", "", amy));
  ASSERT_EQ(orgs["total"], 1) << orgs.dump();
  EXPECT_EQ(orgs["orgs"][0]["id"], "acme");
  // The platform sees both.
  EXPECT_EQ(parse(call("GET", "/api/v1/things", "", viewer_))["total"], 2);
}

}  // namespace
}  // namespace sluice
