// The sessions of the REST API over a real runtime and a real server: the status screen's list
// with counters, rates, states and totals; pause and unpause (data keeps buffering, nothing is
// lost or delivered twice, a batch in flight is delivered once, the pause survives a restart);
// purge (the buffered data moves to the purged folder, the backlog goes to 0); compare as CSV;
// and the 400s and 404s that name what is wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/api.h"
#include "api/http_server.h"
#include "fixtures/http_client.h"
#include "fixtures/scripted_services.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"
#include "sluice/version.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using testing::eventually;
using ::testing::HasSubstr;

constexpr std::string_view kConfig = R"(
[instance]
name = "edge-1"
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "feed"
type = "scripted"
[[sources]]
name = "sim"
type = "simulator"
rate = 200
series = 3
[[sinks]]
name = "out"
type = "collector"
sources = ["feed"]
[[sinks]]
name = "tap"
type = "collector"
sources = ["sim", "feed"]
[[sinks]]
name = "lake"
type = "files"
dir = "lake"
interval = "1h"
sources = ["sim"]
)";

// `n` samples of series "feed.x" with values first .. first + n - 1.
Batch numbers(int first, int n) {
  Batch b;
  for (int i = 0; i < n; ++i) {
    b.samples.push_back(Sample{"feed.x", 1'700'000'000'000'000'000 + (first + i) * 1'000'000LL,
                               static_cast<double>(first + i)});
  }
  return b;
}

class ApiSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::reset_scripted_services();
    std::ofstream(dir_.file("sluice.toml")) << kConfig;
    open_runtime();
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (runtime_) {
      EXPECT_TRUE(runtime_->stop().ok());
    }
  }

  void open_runtime() {
    auto config = runtime::load_config(dir_.file("sluice.toml"), types_);
    ASSERT_TRUE(config.ok()) << config.status().message();
    auto rt =
        runtime::Runtime::open(*config, {.config_text = std::string(kConfig), .types = &types_});
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    runtime_ = std::move(rt).value();
    ASSERT_TRUE(runtime_->start().ok());
    api_ = std::make_unique<Api>(*runtime_);
    auto s =
        HttpServer::start({.port = 0}, [this](const HttpRequest& r) { return api_->handle(r); });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
  }
  // Stops and opens everything again on the same store and state database.
  void restart() {
    server_->stop();
    server_.reset();
    api_.reset();
    ASSERT_TRUE(runtime_->stop().ok());
    runtime_.reset();
    open_runtime();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  json call(const std::string& method, const std::string& path, int want,
            const std::string& body = {}) {
    const auto r = client_.request(method, url(path), body);
    EXPECT_EQ(r.status, want) << method << " " << path << ": " << r.error << r.body;
    return json::parse(r.body, nullptr, false);
  }
  json get(const std::string& path, int want = 200) { return call("GET", path, want); }
  json session(const std::string& stream, const std::string& sink) {
    return get("/api/v1/sessions/" + stream + "/" + sink);
  }
  // Waits until the scripted source ingested `n` samples in all.
  void wait_ingested(uint64_t n) {
    ASSERT_TRUE(eventually([&] { return testing::feed("feed").ingested.load() >= n; }))
        << testing::feed("feed").ingested.load();
  }

  testing::TempDir dir_;
  const runtime::SourceTypes types_ = testing::scripted_types();
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  testing::HttpClient client_;
};

TEST_F(ApiSessionsTest, ListShowsEveryStreamSinkPairWithCountersStatesAndTotals) {
  testing::feed("feed").push(numbers(0, 10));
  wait_ingested(10);
  ASSERT_TRUE(eventually([&] { return testing::collector("out").size() == 10; }));
  json list;
  ASSERT_TRUE(eventually([&] {
    list = get("/api/v1/sessions");
    return list["sessions"].size() == 4 && list["sessions"][1]["tags"] == 3 &&
           list["sessions"][3]["buffer"].get<uint64_t>() > 0;
  })) << list.dump(2);
  // Sinks in order, each with its streams in its read order.
  const json& feed_out = list["sessions"][0];
  EXPECT_EQ(feed_out["name"], "feed/out");
  EXPECT_EQ(feed_out["stream"], "feed");
  EXPECT_EQ(feed_out["sink"], "out");
  EXPECT_EQ(feed_out["source"]["name"], "feed");
  EXPECT_EQ(feed_out["source"]["type"], "scripted");
  EXPECT_EQ(feed_out["destination"]["sink"], "out");
  EXPECT_EQ(feed_out["destination"]["type"], "collector");
  EXPECT_EQ(feed_out["destination"]["target"], "into the test's memory");
  EXPECT_EQ(feed_out["hops"], json::array({"edge-1"}));  // a local source: this instance only
  EXPECT_EQ(feed_out["hop_count"], 1);
  EXPECT_EQ(feed_out["tags"], 1);  // feed.x
  EXPECT_EQ(feed_out["input"]["count"], 10);
  EXPECT_EQ(feed_out["input"]["state"], "open");
  EXPECT_EQ(feed_out["output"]["count"], 10);
  EXPECT_EQ(feed_out["output"]["state"], "open");
  EXPECT_EQ(feed_out["paused"], false);
  EXPECT_EQ(feed_out["buffer"], 0);
  EXPECT_EQ(feed_out["cursor"], 10);
  EXPECT_EQ(feed_out["readable_end"], 10);
  EXPECT_EQ(feed_out["queue_order"], 1);
  EXPECT_THAT(feed_out["created"].get<std::string>(), HasSubstr("T"));
  EXPECT_GT(feed_out["created_ns"].get<int64_t>(), 0);
  EXPECT_EQ(list["sessions"][1]["name"], "sim/tap");
  EXPECT_EQ(list["sessions"][2]["name"], "feed/tap");
  EXPECT_EQ(list["sessions"][2]["queue_order"], 2);
  const json& sim_lake = list["sessions"][3];
  EXPECT_EQ(sim_lake["name"], "sim/lake");
  EXPECT_EQ(sim_lake["tags"], 3);
  EXPECT_EQ(sim_lake["source"]["type"], "simulator");
  EXPECT_THAT(sim_lake["destination"]["target"].get<std::string>(), HasSubstr("lake"));
  EXPECT_EQ(sim_lake["output"]["state"], "open");  // running, healthy; waits for its interval

  const json& totals = list["totals"];
  EXPECT_EQ(totals["sessions"], 4);
  EXPECT_EQ(totals["streams"], 2);
  EXPECT_EQ(totals["version"], kVersion);
  uint64_t buffer = 0;
  for (const json& s : list["sessions"]) buffer += s["buffer"].get<uint64_t>();
  EXPECT_EQ(totals["buffer"], buffer);

  // Rates: from counters sampled at least a second apart; the simulator writes 200/s.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  list = get("/api/v1/sessions");
  const json& sim_tap = list["sessions"][1];
  EXPECT_GT(sim_tap["input"]["per_second"].get<double>(), 50.0) << sim_tap.dump();
  EXPECT_GT(sim_tap["output"]["per_second"].get<double>(), 0.0) << sim_tap.dump();
  EXPECT_EQ(list["sessions"][0]["output"]["per_second"].get<double>(), 0.0);  // nothing new
  EXPECT_EQ(list["sessions"][3]["output"]["per_second"].get<double>(), 0.0);  // lake waits
  EXPECT_GT(list["totals"]["input_per_second"].get<double>(), 50.0);
  EXPECT_GT(list["totals"]["output_per_second"].get<double>(), 0.0);

  // One session by its path.
  const json one = session("sim", "lake");
  EXPECT_EQ(one["name"], "sim/lake");
  EXPECT_GT(one["buffer"].get<uint64_t>(), 0u);
}

TEST_F(ApiSessionsTest, UnknownStreamOrSinkIs404NamingIt) {
  json e = get("/api/v1/sessions/feed/nope", 404);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("no sink named 'nope'"));
  e = get("/api/v1/sessions/nope/out", 404);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("no stream named 'nope'"));
  e = get("/api/v1/sessions/feed/lake", 404);  // lake reads sim only
  EXPECT_THAT(e["error"]["message"].get<std::string>(),
              HasSubstr("sink 'lake' does not read stream 'feed'"));
  e = call("POST", "/api/v1/sessions/feed/nope/pause", 404);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("'nope'"));
  e = call("POST", "/api/v1/sessions/nope/out/unpause", 404);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("'nope'"));
  EXPECT_EQ(client_.request("GET", url("/api/v1/sessions/feed/out/pause")).status, 405);
}

TEST_F(ApiSessionsTest, PauseBuffersAndUnpauseDeliversEverythingExactlyOnce) {
  testing::Collected& out = testing::collector("out");
  testing::Feed& feed = testing::feed("feed");
  feed.push(numbers(0, 100));
  ASSERT_TRUE(eventually([&] { return out.size() == 100; })) << out.size();

  // A batch read but not yet committed when the pause comes: delivered once, then nothing more.
  out.hold_next = true;
  feed.push(numbers(100, 10));
  ASSERT_TRUE(eventually([&] { return out.holding.load(); }));
  json paused = call("POST", "/api/v1/sessions/feed/out/pause", 200);
  EXPECT_EQ(paused["paused"], true);
  EXPECT_EQ(paused["output"]["state"], "paused");
  out.release = true;
  ASSERT_TRUE(eventually([&] { return out.size() == 110; })) << out.size();

  feed.push(numbers(110, 200));
  wait_ingested(310);
  json s;
  ASSERT_TRUE(eventually([&] {
    s = session("feed", "out");
    return s["buffer"] == 200;
  })) << s.dump();
  EXPECT_EQ(s["output"]["state"], "paused");
  EXPECT_EQ(s["cursor"], 110);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // give it a chance to read
  EXPECT_EQ(out.size(), 110u);
  // The other sink's session on the same stream goes on.
  const json tap = session("feed", "tap");
  EXPECT_EQ(tap["output"]["state"], "open");
  EXPECT_EQ(tap["buffer"], 0);
  EXPECT_EQ(tap["output"]["count"], 310);

  json unpaused = call("POST", "/api/v1/sessions/feed/out/unpause", 200);
  EXPECT_EQ(unpaused["paused"], false);
  ASSERT_TRUE(eventually([&] { return out.size() >= 310; })) << out.size();
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["buffer"] == 0; }));
  std::vector<uint64_t> seqs;
  for (const testing::Delivered& d : out.copy()) {
    if (d.stream != "feed") continue;
    EXPECT_EQ(std::get<double>(d.sample.value), static_cast<double>(d.seq));
    seqs.push_back(d.seq);
  }
  ASSERT_EQ(seqs.size(), 310u);
  for (uint64_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i) << "in order, once each";
}

TEST_F(ApiSessionsTest, PauseSurvivesARestart) {
  testing::Feed& feed = testing::feed("feed");
  feed.push(numbers(0, 5));
  ASSERT_TRUE(eventually([&] { return testing::collector("out").size() == 5; }));
  call("POST", "/api/v1/sessions/feed/out/pause", 200);
  restart();
  testing::collector("out").clear();  // what the first run delivered
  feed.push(numbers(5, 20));          // the same feed: the new source instance finds it by name
  wait_ingested(25);
  json s;
  ASSERT_TRUE(eventually([&] {
    s = session("feed", "out");
    return s["buffer"] == 20;
  })) << s.dump();
  EXPECT_EQ(s["paused"], true);
  EXPECT_EQ(s["output"]["state"], "paused");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::set<uint64_t> delivered;
  for (const auto& d : testing::collector("out").copy()) {
    if (d.stream == "feed") delivered.insert(d.seq);
  }
  EXPECT_TRUE(delivered.empty()) << "nothing of feed is read while paused";
  call("POST", "/api/v1/sessions/feed/out/unpause", 200);
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["buffer"] == 0; }));
  for (const auto& d : testing::collector("out").copy()) {
    if (d.stream == "feed") delivered.insert(d.seq);
  }
  EXPECT_EQ(delivered.size(), 20u);
  EXPECT_EQ(*delivered.begin(), 5u);
  // Unpaused is kept too.
  restart();
  EXPECT_EQ(session("feed", "out")["paused"], false);
}

TEST_F(ApiSessionsTest, FailingSinkWithAGrowingBacklogIsThrottledThenOpenAgain) {
  testing::Collected& out = testing::collector("out");
  out.fail = true;
  testing::feed("feed").push(numbers(0, 10));
  wait_ingested(10);
  ASSERT_TRUE(eventually(
      [&] { return session("feed", "out")["destination"]["health"]["state"] == "WARNING"; }));
  get("/api/v1/sessions");  // the first sample of the counters
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  testing::feed("feed").push(numbers(10, 10));
  wait_ingested(20);
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["readable_end"] == 20; }));
  const json s = session("feed", "out");
  EXPECT_EQ(s["output"]["state"], "throttled") << s.dump();
  EXPECT_EQ(s["buffer"], 20);
  out.fail = false;
  ASSERT_TRUE(eventually([&] { return out.size() == 20; }));
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["output"]["state"] == "open"; }));
}

TEST_F(ApiSessionsTest, PurgeMovesTheBufferedDataAndTheBacklogGoesToZero) {
  testing::Feed& feed = testing::feed("feed");
  call("POST", "/api/v1/sessions/feed/out/pause", 200);
  feed.push(numbers(0, 50));
  wait_ingested(50);
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["buffer"] == 50; }));
  const uint64_t lake_before = session("sim", "lake")["buffer"].get<uint64_t>();
  ASSERT_TRUE(eventually([&] { return session("feed", "tap")["output"]["count"] == 50; }));

  const json r = call("POST", "/api/v1/sessions/purge", 200,
                      R"({"sessions": [{"stream": "feed", "sink": "out"}]})");
  ASSERT_EQ(r["purged"].size(), 1u) << r.dump();
  const json& p = r["purged"][0];
  EXPECT_EQ(p["stream"], "feed");
  EXPECT_EQ(p["sink"], "out");
  EXPECT_EQ(p["samples"], 50);
  EXPECT_EQ(p["from_seq"], 0);
  EXPECT_EQ(p["to_seq"], 50);
  const std::string backup = p["backup_dir"].get<std::string>();
  EXPECT_TRUE(std::filesystem::exists(backup + "/MANIFEST")) << backup;
  EXPECT_THAT(backup, HasSubstr("purged"));
  EXPECT_EQ(session("feed", "out")["buffer"], 0);
  // Only that session: the lake's backlog on sim is untouched (it only grows), and the other
  // sink of the same stream has delivered it all.
  EXPECT_GE(session("sim", "lake")["buffer"].get<uint64_t>(), lake_before);
  EXPECT_EQ(session("feed", "tap")["output"]["count"], 50);

  // After unpausing, only what came after the purge is delivered.
  call("POST", "/api/v1/sessions/feed/out/unpause", 200);
  feed.push(numbers(50, 5));
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["output"]["count"] == 5; }));
  std::vector<uint64_t> seqs;
  for (const auto& d : testing::collector("out").copy()) {
    if (d.stream == "feed") seqs.push_back(d.seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{50, 51, 52, 53, 54}));
}

TEST_F(ApiSessionsTest, PurgeOfASessionTheSinkIsReadingFollowsTheCursor) {
  // Not paused: the sink's reader is positioned in the stream. After the purge it goes on from the
  // new cursor (it never delivers purged data) and never commits behind it.
  testing::Collected& out = testing::collector("out");
  testing::feed("feed").push(numbers(0, 10));
  ASSERT_TRUE(eventually([&] { return out.size() == 10; }));
  out.hold_next = true;
  testing::feed("feed").push(numbers(10, 10));
  ASSERT_TRUE(eventually([&] { return out.holding.load(); }));  // holds 10 .. 19, uncommitted
  testing::feed("feed").push(numbers(20, 10));                  // 20 .. 29: not read yet
  wait_ingested(30);
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["readable_end"] == 30; }));
  const json r = call("POST", "/api/v1/sessions/purge", 200,
                      R"({"sessions": [{"stream": "feed", "sink": "out"}]})");
  EXPECT_EQ(r["purged"][0]["samples"], 20) << r.dump();  // from the cursor (10) to 30
  EXPECT_EQ(r["purged"][0]["from_seq"], 10);
  out.release = true;  // the held batch is delivered; its commit is behind the cursor: no-op
  testing::feed("feed").push(numbers(30, 3));
  ASSERT_TRUE(eventually([&] {
    const json s = session("feed", "out");
    return s["cursor"] == 33 && s["buffer"] == 0;
  }));
  std::vector<uint64_t> seqs;
  for (const auto& d : out.copy()) {
    if (d.stream == "feed") seqs.push_back(d.seq);
  }
  std::vector<uint64_t> want;
  for (uint64_t i = 0; i < 20; ++i) want.push_back(i);
  for (uint64_t i = 30; i < 33; ++i) want.push_back(i);
  EXPECT_EQ(seqs, want) << "20 .. 29 were purged before the sink read them";
  EXPECT_EQ(session("feed", "out")["output"]["state"], "open");
}

TEST_F(ApiSessionsTest, PurgeWithABadBodyIs400NamingTheField) {
  const auto field_of = [&](const std::string& body) {
    const json e = call("POST", "/api/v1/sessions/purge", 400, body);
    return e["error"].value("field", std::string("(none)"));
  };
  EXPECT_EQ(field_of("not json"), "body");
  EXPECT_EQ(field_of("[1]"), "body");
  EXPECT_EQ(field_of("{}"), "sessions");
  EXPECT_EQ(field_of(R"({"sessions": []})"), "sessions");
  EXPECT_EQ(field_of(R"({"sessions": {"stream": "feed"}})"), "sessions");
  EXPECT_EQ(field_of(R"({"sessions": [5]})"), "sessions[0]");
  EXPECT_EQ(field_of(R"({"sessions": [{"stream": "feed", "sink": "out"}, {"stream": "feed"}]})"),
            "sessions[1].sink");
  EXPECT_EQ(field_of(R"({"sessions": [{"stream": 3, "sink": "out"}]})"), "sessions[0].stream");
  EXPECT_EQ(field_of(R"({"sessions": [{"stream": "feed", "sink": "out", "x": 1}]})"),
            "sessions[0].x");
  EXPECT_EQ(field_of(R"({"sessions": [{"stream": "feed", "sink": "out"}], "all": true})"), "all");
  // An unknown session: 404, and nothing was purged (not even the known one before it).
  call("POST", "/api/v1/sessions/feed/out/pause", 200);
  testing::feed("feed").push(numbers(0, 7));
  wait_ingested(7);
  ASSERT_TRUE(eventually([&] { return session("feed", "out")["buffer"] == 7; }));
  const json e = call("POST", "/api/v1/sessions/purge", 404,
                      R"({"sessions": [{"stream": "feed", "sink": "out"},
                                       {"stream": "feed", "sink": "nope"}]})");
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("'nope'"));
  EXPECT_EQ(session("feed", "out")["buffer"], 7);
}

TEST_F(ApiSessionsTest, CompareAnswersCsvWithOneRowPerSettingAndSeries) {
  testing::feed("feed").push(numbers(0, 3));
  wait_ingested(3);
  ASSERT_TRUE(eventually([&] { return runtime_->last_values().series_count("sim") == 3; }));
  const auto r = client_.get(url("/api/v1/sessions/compare?a=feed/out&b=sim/tap"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.at("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(r.body.substr(0, r.body.find("\r\n")), "setting,a,b,same");
  EXPECT_THAT(r.body, HasSubstr("\r\nstream,feed,sim,no\r\n"));
  EXPECT_THAT(r.body, HasSubstr("\r\nsink,out,tap,no\r\n"));
  EXPECT_THAT(r.body, HasSubstr("\r\nsink.type,collector,collector,yes\r\n"));
  EXPECT_THAT(r.body, HasSubstr("\r\nsource.type,scripted,simulator,no\r\n"));
  EXPECT_THAT(r.body, HasSubstr("\r\nsource.rate,,200,no\r\n"));
  EXPECT_THAT(r.body, HasSubstr("\r\nseries.feed.x,present,,no\r\n"));
  EXPECT_THAT(r.body, HasSubstr("\r\nhops,\"[\"\"edge-1\"\"]\",\"[\"\"edge-1\"\"]\",yes\r\n"));
  // A session compared with itself is the same on every row.
  const auto self = client_.get(url("/api/v1/sessions/compare?a=sim/lake&b=sim/lake"));
  ASSERT_EQ(self.status, 200);
  EXPECT_THAT(self.body, ::testing::Not(HasSubstr(",no\r\n")));
  EXPECT_THAT(self.body, HasSubstr("sink.interval,"));

  EXPECT_EQ(get("/api/v1/sessions/compare?a=feed/out", 400)["error"]["field"], "b");
  EXPECT_EQ(get("/api/v1/sessions/compare?a=feed&b=sim/out", 400)["error"]["field"], "a");
  EXPECT_EQ(get("/api/v1/sessions/compare?a=feed/out&b=sim/tap&c=1", 400)["error"]["field"], "c");
  EXPECT_THAT(get("/api/v1/sessions/compare?a=feed/out&b=sim/nope", 404)["error"]["message"]
                  .get<std::string>(),
              HasSubstr("'nope'"));
}

}  // namespace
}  // namespace sluice::api
