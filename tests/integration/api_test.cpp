// The REST API server with a running runtime, over real HTTP (libcurl) and HTTPS: liveness and
// readiness, services with MODE and HEALTH, enable/disable persisted, manual upload, /metrics,
// and the server's own answers: 404, 405 with Allow, 413 for an oversized body, keep-alive.
#include "api/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "auth/auth.h"
#include "cli/builtin_sources.h"
#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/scripted_services.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice::api {
namespace {

using nlohmann::json;
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

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = false, .serve = false}));
    runtime_ = harness_.runtime();
    api_ = harness_.api();
  }

  void serve(HttpServerOptions options = {}) {
    ASSERT_TRUE(harness_.serve(std::move(options)));
    server_ = harness_.server();
  }
  std::string url(const std::string& path) const { return harness_.url(path); }
  json get_json(testing::HttpClient& client, const std::string& path, int want = 200) {
    const auto r = client.get(url(path));
    EXPECT_EQ(r.status, want) << path << ": " << r.error << r.body;
    EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "",
              "application/json")
        << path;
    return json::parse(r.body, nullptr, false);
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  runtime::Runtime* runtime_ = nullptr;
  Api* api_ = nullptr;
  HttpServer* server_ = nullptr;
};

TEST_F(ApiTest, LivenessReadinessAndServicesWithModeAndHealth) {
  serve();
  testing::HttpClient client;
  EXPECT_EQ(get_json(client, "/healthz")["status"], "ok");
  ASSERT_TRUE(eventually([&] { return client.get(url("/readyz")).status == 200; }));
  json services;
  ASSERT_TRUE(eventually([&] {
    services = get_json(client, "/api/v1/services");
    return services["services"].size() == 2 &&
           services["services"][0]["health"]["state"] == "HEALTHY";
  })) << services.dump();
  const json& sim = services["services"][0];
  EXPECT_EQ(sim["kind"], "source");
  EXPECT_EQ(sim["name"], "sim");
  EXPECT_EQ(sim["type"], "simulator");
  EXPECT_EQ(sim["mode"], "RUNNING");
  const json& lake = services["services"][1];
  EXPECT_EQ(lake["kind"], "sink");
  EXPECT_EQ(lake["type"], "files");
  EXPECT_TRUE(lake["details"].contains("files_pending")) << lake.dump();
  EXPECT_EQ(get_json(client, "/api/v1/services/lake")["name"], "lake");
  // One connection for all of it: the server keeps it alive.
  EXPECT_EQ(server_->stats().connections, 1u);
}

TEST_F(ApiTest, UnknownPathsMethodsAndServicesGetClearErrors) {
  serve();
  testing::HttpClient client;
  json e = get_json(client, "/api/v1/nothing", 404);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("/api/v1/nothing"));
  e = get_json(client, "/api/v1/services/nope", 404);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("'nope'"));
  const auto r = client.request("DELETE", url("/healthz"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.at("allow"), "GET");
  const auto bad = client.request("POST", url("/api/v1/sinks/sim/upload"));
  EXPECT_EQ(bad.status, 404) << bad.body;  // sim is a source: no such sink
}

TEST_F(ApiTest, OversizedBodyIsRefusedWith413AndCounted) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  serve(o);
  testing::HttpClient client;
  const auto r =
      client.request("POST", url("/api/v1/services/sim/disable"), std::string(4096, 'x'));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_THAT(r.body, HasSubstr("over the limit of 1024 bytes"));
  EXPECT_EQ(server_->stats().rejected_too_large, 1u);
  // The service was not touched.
  testing::HttpClient again;
  EXPECT_EQ(get_json(again, "/api/v1/services/sim")["mode"], "RUNNING");
}

TEST_F(ApiTest, DisableAndEnableChangeTheModeAndArePersisted) {
  serve();
  testing::HttpClient client;
  auto r = client.request("POST", url("/api/v1/services/sim/disable"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["mode"], "DISABLED");
  auto row = runtime_->service_row("sim");
  ASSERT_TRUE(row.ok()) << row.status().message();
  EXPECT_FALSE(row->enabled);
  r = client.request("POST", url("/api/v1/services/sim/enable"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(
      eventually([&] { return get_json(client, "/api/v1/services/sim")["mode"] == "RUNNING"; }));
}

TEST_F(ApiTest, ManualUploadDeliversWithoutWaitingForTheInterval) {
  serve();
  testing::HttpClient client;
  ASSERT_TRUE(eventually([&] { return runtime_->sources()[0].samples > 0; }));
  const auto r = client.request("POST", url("/api/v1/sinks/lake/upload"));
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(eventually([&] {
    return std::filesystem::exists(dir_.file("lake")) &&
           !std::filesystem::is_empty(dir_.file("lake"));
  }));
}

TEST_F(ApiTest, MetricsAreInThePrometheusTextFormat) {
  serve();
  testing::HttpClient client;
  ASSERT_TRUE(eventually([&] { return runtime_->sources()[0].samples > 0; }));
  const auto r = client.get(url("/metrics"));
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.headers.at("content-type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r.body, HasSubstr("# TYPE sluice_source_samples_total counter\n"));
  EXPECT_THAT(r.body, HasSubstr("sluice_source_samples_total{source=\"sim\"} "));
  EXPECT_THAT(r.body, HasSubstr("sluice_sink_backlog_samples{sink=\"lake\"} "));
  EXPECT_THAT(r.body,
              HasSubstr("sluice_store_dropped_samples_total{cause=\"full_drop_oldest\"} 0"));
  EXPECT_THAT(r.body, HasSubstr("sluice_http_requests_total "));
  // Histograms: the store's fsync rounds and the server's own request times.
  EXPECT_THAT(r.body, HasSubstr("# TYPE sluice_store_sync_seconds histogram\n"));
  EXPECT_THAT(r.body, HasSubstr("sluice_store_sync_seconds_bucket{le=\"0.001\"} "));
  EXPECT_THAT(r.body, HasSubstr("sluice_store_sync_seconds_bucket{le=\"+Inf\"} "));
  EXPECT_THAT(r.body, HasSubstr("sluice_http_request_seconds_count "));
}

TEST_F(ApiTest, HttpsWithTheServersCertificate) {
  testing::make_test_certificates(dir_.path());
  HttpServerOptions o;
  o.cert_file = dir_.file("server.crt");
  o.key_file = dir_.file("server.key");
  serve(o);
  ASSERT_TRUE(server_->tls());
  testing::HttpClient trusted(dir_.file("ca.crt"));
  EXPECT_EQ(get_json(trusted, "/healthz")["status"], "ok");
  testing::HttpClient untrusted(dir_.file("wrong-ca.crt"));
  const auto r = untrusted.get(url("/healthz"));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST_F(ApiTest, LiveWebSocketSendsOnlyTheChosenSeriesInOrder) {
  HttpServerOptions o;
  o.websocket = [this](const HttpRequest& r) { return api_->open_websocket(r); };
  o.websocket_poll = std::chrono::milliseconds(50);
  serve(o);
  std::vector<runtime::LastValue> known;
  ASSERT_TRUE(eventually([&] {
    known = runtime_->last_values().all();
    return known.size() >= 2;
  }));
  const std::string wanted = known[0].series;

  namespace asio = boost::asio;
  namespace beast = boost::beast;
  asio::io_context io;
  beast::websocket::stream<asio::ip::tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), server_->port()});
  ws.handshake("127.0.0.1", "/api/v1/live?series=" + wanted);
  // Two messages, with samples of the chosen series only, each newer than the one before.
  int64_t last_ts = 0;
  for (int i = 0; i < 2; ++i) {
    beast::flat_buffer buffer;
    ws.read(buffer);
    const json m = json::parse(beast::buffers_to_string(buffer.data()));
    ASSERT_FALSE(m["samples"].empty()) << m.dump();
    for (const json& sample : m["samples"]) {
      EXPECT_EQ(sample["series"], wanted);
      EXPECT_GT(sample["ts_ms"].get<int64_t>(), last_ts);
      last_ts = sample["ts_ms"].get<int64_t>();
    }
  }
  ws.close(beast::websocket::close_code::normal);
  EXPECT_EQ(server_->stats().websockets, 1u);

  // Without series: refused with 400 before the upgrade.
  beast::websocket::stream<asio::ip::tcp::socket> bad(io);
  bad.next_layer().connect({asio::ip::make_address("127.0.0.1"), server_->port()});
  beast::websocket::response_type answer;
  beast::error_code ec;
  bad.handshake(answer, "127.0.0.1", "/api/v1/live", ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(answer.result_int(), 400);
}

constexpr std::string_view kScriptedConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "feed"
type = "scripted"
)";

// One WebSocket message as JSON, or null if none came within 30 s (a test that waits for what
// never comes fails rather than hangs). `buffer` outlives a read that timed out.
json read_message(boost::asio::io_context& io,
                  boost::beast::websocket::stream<boost::asio::ip::tcp::socket>& ws,
                  boost::beast::flat_buffer& buffer) {
  buffer.clear();
  bool done = false;
  boost::beast::error_code error;
  ws.async_read(buffer, [&](boost::beast::error_code ec, size_t) {
    error = ec;
    done = true;
  });
  io.restart();
  io.run_for(std::chrono::seconds(30));
  if (!done || error) {
    ADD_FAILURE() << (done ? "WebSocket read: " + error.message() : "no WebSocket message in 30 s");
    return nullptr;
  }
  return json::parse(boost::beast::buffers_to_string(buffer.data()));
}

TEST(ApiLiveTest, LiveWebSocketDeliversEverySampleOfTheChosenSeriesInOrder) {
  testing::reset_scripted_services();
  const runtime::SourceTypes types = testing::scripted_types();
  testing::TempDir dir;
  testing::ApiHarness harness;
  ASSERT_TRUE(harness.start(dir, kScriptedConfig, {.serve = false, .types = &types}));
  Api& api = *harness.api();
  HttpServerOptions o;
  o.websocket = [&api](const HttpRequest& r) { return api.open_websocket(r); };
  o.websocket_poll = std::chrono::milliseconds(50);
  ASSERT_TRUE(harness.serve(o));
  testing::Feed& feed = testing::feed("feed");
  constexpr int64_t kBaseNs = 1'700'000'000'000'000'000;
  constexpr int64_t kMs = 1'000'000;
  // A value known before the client connects: the first message starts with it.
  feed.push(Batch{{Sample{"line.temp", kBaseNs - kMs, -1.0}}});
  ASSERT_TRUE(eventually([&] { return feed.ingested.load() == 1; }));

  namespace asio = boost::asio;
  namespace beast = boost::beast;
  asio::io_context io;
  beast::websocket::stream<asio::ip::tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), harness.server()->port()});
  ws.handshake("127.0.0.1", "/api/v1/live?series=line.temp,line.idle");

  // 500 samples of line.temp, 1 ms apart, between samples of a series nobody chose, ingested as
  // fast as the source can: far more than one per poll.
  constexpr int kSamples = 500;
  for (int b = 0; b < kSamples / 10; ++b) {
    Batch batch;
    for (int i = b * 10; i < (b + 1) * 10; ++i) {
      batch.samples.push_back(Sample{"line.temp", kBaseNs + i * kMs, static_cast<double>(i)});
      batch.samples.push_back(Sample{"line.noise", kBaseNs + i * kMs, 0.5});
    }
    feed.push(std::move(batch));
  }
  beast::flat_buffer buffer;
  std::vector<double> values;
  bool first = true;
  while (values.size() < kSamples + 1) {
    const json m = read_message(io, ws, buffer);
    ASSERT_TRUE(m.contains("samples")) << m.dump();
    EXPECT_FALSE(m.contains("dropped")) << m.dump();
    if (first) {
      ASSERT_FALSE(m["samples"].empty());
      EXPECT_EQ(m["samples"][0]["ts_ms"], (kBaseNs - kMs) / kMs) << "the cached value comes first";
      first = false;
    }
    for (const json& sample : m["samples"]) {
      ASSERT_EQ(sample["series"], "line.temp") << m.dump();
      EXPECT_EQ(sample["stream"], "feed");
      values.push_back(sample["value"].get<double>());
    }
  }
  std::vector<double> want{-1.0};
  for (int i = 0; i < kSamples; ++i) want.push_back(i);
  EXPECT_EQ(values, want) << "every sample, once, in the order ingested";

  // A client that falls behind by more than its queue holds is told how many it missed: one
  // batch of 10,500 keeps the newest 10,000.
  Batch flood;
  for (int i = 0; i < 10'500; ++i) {
    flood.samples.push_back(Sample{"line.idle", kBaseNs + i * kMs, static_cast<double>(i)});
  }
  feed.push(std::move(flood));
  uint64_t dropped = 0;
  values.clear();
  while (values.size() < 10'000) {
    const json m = read_message(io, ws, buffer);
    ASSERT_TRUE(m.contains("samples")) << m.dump();
    dropped += m.value("dropped", uint64_t{0});
    for (const json& sample : m["samples"]) values.push_back(sample["value"].get<double>());
  }
  EXPECT_EQ(dropped, 500u);
  ASSERT_EQ(values.size(), 10'000u);
  EXPECT_EQ(values.front(), 500.0);
  EXPECT_EQ(values.back(), 10'499.0);
  ws.close(beast::websocket::close_code::normal);
}

TEST(HttpServerTest, BindingAPortInUseSaysWhichAndWhy) {
  auto first = HttpServer::start({.port = 0}, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(first.ok());
  HttpServerOptions o;
  o.port = (*first)->port();
  auto second = HttpServer::start(o, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(o.port)));
  auto bad_cert = HttpServer::start(
      {.port = 0, .cert_file = "/nonexistent.crt", .key_file = "/nonexistent.key"},
      [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_FALSE(bad_cert.ok());
  EXPECT_THAT(bad_cert.status().message(), HasSubstr("/nonexistent.crt"));
}

TEST(HttpServerTest, PercentDecodingRefusesBrokenEscapes) {
  std::string out;
  EXPECT_TRUE(percent_decode("a%20b%2Fc", &out));
  EXPECT_EQ(out, "a b/c");
  EXPECT_FALSE(percent_decode("a%2", &out));
  EXPECT_FALSE(percent_decode("a%zz", &out));
}

}  // namespace
}  // namespace sluice::api

namespace sluice::api {
namespace {

// The API with users and tokens: login, 401 without or with a bad token, 403 without the role,
// rate-limited logins, API tokens for scripts, and the audit log of changes.
class ApiAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true}));
    runtime_ = harness_.runtime();
    auth_ = harness_.auth();
    ASSERT_TRUE(auth_->users().create("ada", "correct horse battery", auth::Role::kAdmin).ok());
    ASSERT_TRUE(auth_->users().create("otto", "operator password 1", auth::Role::kOperator).ok());
    ASSERT_TRUE(auth_->users().create("vera", "viewer password 12", auth::Role::kViewer).ok());
  }
  std::string url(const std::string& path) const { return harness_.url(path); }
  std::string login(const std::string& user, const std::string& password) {
    testing::HttpClient c;
    const auto r = c.request("POST", url("/api/v1/login"),
                             json{{"user", user}, {"password", password}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["token"].get<std::string>() : std::string();
  }
  static std::map<std::string, std::string> bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  runtime::Runtime* runtime_ = nullptr;
  auth::Auth* auth_ = nullptr;
};

TEST_F(ApiAuthTest, PublicRoutesNeedNoTokenAndTheOthersAnswer401) {
  testing::HttpClient c;
  EXPECT_EQ(c.get(url("/healthz")).status, 200);
  EXPECT_EQ(c.get(url("/metrics")).status, 200);
  auto r = c.get(url("/api/v1/services"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.at("www-authenticate"), "Bearer realm=\"sluice\"");
  EXPECT_THAT(r.body, HasSubstr("POST /api/v1/login"));
  r = c.request("GET", url("/api/v1/services"), "", bearer("slu_not-a-real-token"));
  EXPECT_EQ(r.status, 401) << r.body;
  // Unknown paths are 404 before any authentication.
  EXPECT_EQ(c.get(url("/api/v1/nothing")).status, 404);
}

TEST_F(ApiAuthTest, LoginGivesATokenAndACookieThatBothWork) {
  testing::HttpClient c;
  const auto r = c.request("POST", url("/api/v1/login"),
                           json{{"user", "vera"}, {"password", "viewer password 12"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string token = json::parse(r.body)["token"];
  EXPECT_THAT(r.headers.at("set-cookie"), HasSubstr("sluice_token=" + token));
  EXPECT_THAT(r.headers.at("set-cookie"), HasSubstr("HttpOnly"));
  auto me = c.request("GET", url("/api/v1/me"), "", bearer(token));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body)["role"], "viewer");
  me = c.request("GET", url("/api/v1/me"), "", {{"Cookie", "theme=dark; sluice_token=" + token}});
  EXPECT_EQ(me.status, 200) << me.body;
  // Logged out, the token is dead.
  EXPECT_EQ(c.request("POST", url("/api/v1/logout"), "", bearer(token)).status, 200);
  EXPECT_EQ(c.request("GET", url("/api/v1/me"), "", bearer(token)).status, 401);
}

TEST_F(ApiAuthTest, BadLoginBodiesAndWrongPasswordsAreRefusedAndRateLimited) {
  testing::HttpClient c;
  auto r = c.request("POST", url("/api/v1/login"), "{not json");
  EXPECT_EQ(r.status, 400);
  r = c.request("POST", url("/api/v1/login"), R"({"user":"vera"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["field"], "password");
  int last = 0;
  for (int i = 0; i < 6; ++i) {
    last = c.request("POST", url("/api/v1/login"),
                     json{{"user", "vera"}, {"password", "wrong password!!"}}.dump())
               .status;
  }
  EXPECT_EQ(last, 429);
  // Locked: even the right password waits.
  r = c.request("POST", url("/api/v1/login"),
                json{{"user", "vera"}, {"password", "viewer password 12"}}.dump());
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_THAT(r.body, HasSubstr("try again"));
}

TEST_F(ApiAuthTest, RolesDecideWhoMayActAndChangesAreAudited) {
  const std::string viewer = login("vera", "viewer password 12");
  const std::string op = login("otto", "operator password 1");
  const std::string admin = login("ada", "correct horse battery");
  testing::HttpClient c;
  EXPECT_EQ(c.request("GET", url("/api/v1/services"), "", bearer(viewer)).status, 200);
  auto r = c.request("POST", url("/api/v1/services/sim/disable"), "", bearer(viewer));
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("needs the operator role"));
  r = c.request("POST", url("/api/v1/services/sim/disable"), "", bearer(op));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(c.request("GET", url("/api/v1/users"), "", bearer(op)).status, 403);
  r = c.request(
      "POST", url("/api/v1/users"),
      json{{"name", "newbie"}, {"password", "a long password"}, {"role", "viewer"}}.dump(),
      bearer(admin));
  EXPECT_EQ(r.status, 201) << r.body;
  r = c.request("POST", url("/api/v1/users"),
                json{{"name", "x"}, {"password", "a long password"}, {"role", "king"}}.dump(),
                bearer(admin));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["field"], "role");

  auto audit = auth_->audit().list({});
  ASSERT_TRUE(audit.ok());
  bool denied = false;
  bool disabled = false;
  for (const auto& e : *audit) {
    if (e.user == "vera" && e.action == "POST /api/v1/services/sim/disable" &&
        e.outcome == auth::AuditOutcome::kDenied) {
      denied = true;
    }
    if (e.user == "otto" && e.action == "POST /api/v1/services/sim/disable" &&
        e.outcome == auth::AuditOutcome::kOk) {
      disabled = true;
    }
  }
  EXPECT_TRUE(denied);
  EXPECT_TRUE(disabled);
}

TEST_F(ApiAuthTest, ApiTokensServeScriptsUntilRevoked) {
  const std::string admin = login("ada", "correct horse battery");
  testing::HttpClient c;
  auto r = c.request("POST", url("/api/v1/tokens"),
                     json{{"user", "vera"}, {"name", "grafana"}, {"expires_in_days", 30}}.dump(),
                     bearer(admin));
  ASSERT_EQ(r.status, 201) << r.body;
  const json t = json::parse(r.body);
  const std::string token = t["token"];
  EXPECT_EQ(c.request("GET", url("/api/v1/services"), "", bearer(token)).status, 200);
  r = c.request("DELETE", url("/api/v1/tokens/" + std::to_string(t["id"].get<int64_t>())), "",
                bearer(admin));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(c.request("GET", url("/api/v1/services"), "", bearer(token)).status, 401);
  EXPECT_EQ(c.request("DELETE", url("/api/v1/tokens/abc"), "", bearer(admin)).status, 400);
}

}  // namespace
}  // namespace sluice::api
