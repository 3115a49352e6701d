// The series of the REST API over a real runtime and a real server: the list with metadata
// from the state database and the last value from the runtime's cache; raw samples in a time
// range with a limit; aggregates per interval checked on known data; and the 400s that name the
// parameter at fault and the 404s for unknown series and streams.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/http_server.h"
#include "api/series_api.h"
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
name = "feed"
type = "scripted"
[[sources]]
name = "other"
type = "scripted"
)";

// 2023-11-14T22:14:00Z: a whole minute, so that minute intervals start on a sample.
constexpr int64_t kBaseMs = 1'699'999'999'000 + 41'000;
constexpr int64_t kMs = 1'000'000;

class ApiSeriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::reset_scripted_services();
    std::ofstream(dir_.file("sluice.toml")) << kConfig;
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
  void TearDown() override {
    if (server_) server_->stop();
    if (runtime_) {
      EXPECT_TRUE(runtime_->stop().ok());
    }
  }

  // line.temp: one sample every 10 s for 10 minutes, value i (0 .. 59) at kBaseMs + i * 10 s;
  // line.state: strings "run" / "stop" every minute; both in stream "feed", in two batches out of
  // time order. line.temp has a unit and labels in the state database.
  void load_known_data() {
    testing::Feed& feed = testing::feed("feed");
    SeriesMeta temp;
    temp.name = "line.temp";
    temp.unit = "degC";
    temp.description = "oven temperature";
    temp.labels = {{"line", "1"}};
    feed.describe(temp);
    Batch late;
    Batch early;
    for (int i = 0; i < 60; ++i) {
      Batch& b = i >= 30 ? late : early;
      b.samples.push_back(
          Sample{"line.temp", (kBaseMs + i * 10'000) * kMs, static_cast<double>(i)});
    }
    for (int m = 0; m < 10; ++m) {
      late.samples.push_back(
          Sample{"line.state", (kBaseMs + m * 60'000) * kMs, std::string(m % 2 ? "stop" : "run")});
    }
    feed.push(std::move(late));
    feed.push(std::move(early));
    ASSERT_TRUE(eventually([&] { return feed.ingested.load() == 70; }));
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  json get(const std::string& path, int want = 200) {
    const auto r = client_.get(url(path));
    EXPECT_EQ(r.status, want) << path << ": " << r.error << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // The field a 400 names.
  std::string bad(const std::string& path) {
    const json e = get(path, 400);
    return e["error"].value("field", std::string("(none)"));
  }
  std::string range(int64_t from_ms, int64_t to_ms) const {
    return "from=" + std::to_string(from_ms) + "&to=" + std::to_string(to_ms);
  }

  testing::TempDir dir_;
  const runtime::SourceTypes types_ = testing::scripted_types();
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  testing::HttpClient client_;
};

TEST_F(ApiSeriesTest, ListHasMetadataAndTheNewestValueOfEverySeries) {
  load_known_data();
  const json list = get("/api/v1/series");
  ASSERT_EQ(list["count"], 2) << list.dump(2);
  const json& state = list["series"][0];
  EXPECT_EQ(state["name"], "line.state");
  EXPECT_EQ(state["type"], "string");
  EXPECT_EQ(state["source"], "feed");
  EXPECT_EQ(state["last"]["value"], "stop");
  const json& temp = list["series"][1];
  EXPECT_EQ(temp["name"], "line.temp");
  EXPECT_EQ(temp["unit"], "degC");
  EXPECT_EQ(temp["description"], "oven temperature");
  EXPECT_EQ(temp["labels"], json({{"line", "1"}}));
  EXPECT_EQ(temp["source"], "feed");
  EXPECT_EQ(temp["streams"], json::array({"feed"}));
  // The newest by time, though its batch was ingested first.
  EXPECT_EQ(temp["last"]["value"], 59.0);
  EXPECT_EQ(temp["last"]["ts_ms"], kBaseMs + 590'000);
  EXPECT_EQ(temp["last"]["ts"], "2023-11-14T22:23:50.000Z");
  EXPECT_EQ(temp["last"]["quality"], "Good");
  EXPECT_EQ(temp["last"]["stream"], "feed");

  EXPECT_EQ(get("/api/v1/series?prefix=line.t")["count"], 1);
  EXPECT_EQ(get("/api/v1/series?stream=other")["count"], 0);
  EXPECT_EQ(get("/api/v1/series?stream=nope", 404)["error"]["field"], "stream");
  EXPECT_EQ(bad("/api/v1/series?sort=name"), "sort");
  EXPECT_EQ(get("/api/v1/series/line.temp")["last"]["value"], 59.0);
  EXPECT_THAT(get("/api/v1/series/nope", 404)["error"]["message"].get<std::string>(),
              HasSubstr("no series named 'nope'"));
}

TEST_F(ApiSeriesTest, RawSamplesInATimeRangeInTimeOrderWithALimit) {
  load_known_data();
  // [minute 1, minute 2): samples 6 .. 11, given as epoch ms and as ISO-8601.
  json r = get("/api/v1/series/line.temp/samples?" + range(kBaseMs + 60'000, kBaseMs + 120'000));
  ASSERT_EQ(r["samples"].size(), 6u) << r.dump();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(r["samples"][i]["value"], 6.0 + i);
    EXPECT_EQ(r["samples"][i]["ts_ms"], kBaseMs + (6 + i) * 10'000);
    EXPECT_EQ(r["samples"][i]["stream"], "feed");
  }
  EXPECT_EQ(r["truncated"], false);
  EXPECT_EQ(r["series"], "line.temp");
  const json iso = get(
      "/api/v1/series/line.temp/samples?from=2023-11-14T22:15:00Z&to=2023-11-14T23:16:00%2B01:00");
  EXPECT_EQ(iso["samples"], r["samples"]);
  EXPECT_EQ(get("/api/v1/series/line.temp/samples?from=2023-11-14T22:15:00.000Z&to=2023-11-14T"
                "22:16:00&stream=feed")["samples"],
            r["samples"]);

  // The whole range, out of ingest order, comes back in time order; the limit cuts it.
  r = get("/api/v1/series/line.temp/samples?" + range(kBaseMs, kBaseMs + 600'000) + "&limit=100");
  ASSERT_EQ(r["samples"].size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(r["samples"][i]["value"], static_cast<double>(i));
  r = get("/api/v1/series/line.temp/samples?" + range(kBaseMs, kBaseMs + 600'000) + "&limit=5");
  EXPECT_EQ(r["samples"].size(), 5u);
  EXPECT_EQ(r["truncated"], true);
  EXPECT_EQ(r["limit"], 5);
  // Another stream has none of it.
  EXPECT_EQ(get("/api/v1/series/line.temp/samples?" + range(kBaseMs, kBaseMs + 600'000) +
                "&stream=other")["samples"]
                .size(),
            0u);
}

TEST_F(ApiSeriesTest, AggregatesPerIntervalAreRightOnKnownData) {
  load_known_data();
  const std::string base =
      "/api/v1/series/line.temp/samples?" + range(kBaseMs, kBaseMs + 600'000) + "&interval=1m";
  const auto points = [&](const std::string& aggregate) {
    const json r = get(base + "&aggregate=" + aggregate);
    EXPECT_EQ(r["aggregate"], aggregate);
    EXPECT_EQ(r["interval"], "1m");
    EXPECT_EQ(r["points"].size(), 10u) << r.dump();
    return r["points"];
  };
  // Minute k holds the values 6k .. 6k + 5.
  const json min = points("min");
  const json max = points("max");
  const json avg = points("avg");
  const json first = points("first");
  const json last = points("last");
  const json count = points("count");
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(min[k]["ts_ms"], kBaseMs + k * 60'000);
    EXPECT_EQ(min[k]["value"], 6.0 * k);
    EXPECT_EQ(max[k]["value"], 6.0 * k + 5);
    EXPECT_DOUBLE_EQ(avg[k]["value"].get<double>(), 6.0 * k + 2.5);
    EXPECT_EQ(first[k]["value"], 6.0 * k);
    EXPECT_EQ(last[k]["value"], 6.0 * k + 5);
    EXPECT_EQ(count[k]["value"], 6);
    EXPECT_EQ(count[k]["count"], 6);
  }
  // Intervals start at multiples of the interval since the epoch, not at `from`: five-minute
  // buckets from 22:10, 22:15 and 22:20 hold the values 0 .. 5, 6 .. 35 and 36 .. 59.
  json r = get("/api/v1/series/line.temp/samples?" + range(kBaseMs, kBaseMs + 600'000) +
               "&aggregate=avg&interval=5m");
  ASSERT_EQ(r["points"].size(), 3u) << r.dump();
  EXPECT_EQ(r["points"][0]["ts"], "2023-11-14T22:10:00.000Z");
  EXPECT_DOUBLE_EQ(r["points"][0]["value"].get<double>(), 2.5);
  EXPECT_EQ(r["points"][0]["count"], 6);
  EXPECT_DOUBLE_EQ(r["points"][1]["value"].get<double>(), 20.5);
  EXPECT_DOUBLE_EQ(r["points"][2]["value"].get<double>(), 47.5);
  EXPECT_EQ(r["points"][2]["count"], 24);
  // Strings: first, last and count work; min, max and avg have no number to give.
  const std::string state =
      "/api/v1/series/line.state/samples?" + range(kBaseMs, kBaseMs + 600'000) + "&interval=2m";
  r = get(state + "&aggregate=last");
  ASSERT_EQ(r["points"].size(), 5u);
  EXPECT_EQ(r["points"][0]["value"], "stop");
  EXPECT_EQ(get(state + "&aggregate=first")["points"][0]["value"], "run");
  EXPECT_TRUE(get(state + "&aggregate=max")["points"][0]["value"].is_null());
}

TEST_F(ApiSeriesTest, BadParametersAre400NamingTheParameter) {
  load_known_data();
  const std::string s = "/api/v1/series/line.temp/samples?";
  EXPECT_EQ(bad(s + "from=yesterday"), "from");
  EXPECT_EQ(bad(s + "to=2023-13-01T00:00:00Z"), "to");
  EXPECT_EQ(bad(s + "from=2023-11-14T22:15:00Q"), "from");
  EXPECT_EQ(bad(s + range(kBaseMs + 1000, kBaseMs)), "from");  // from after to
  EXPECT_EQ(bad(s + "limit=0"), "limit");
  EXPECT_EQ(bad(s + "limit=ten"), "limit");
  const json over = get(s + "limit=100001", 400);
  EXPECT_EQ(over["error"]["field"], "limit");
  EXPECT_THAT(over["error"]["message"].get<std::string>(), HasSubstr("100000"));
  EXPECT_EQ(bad(s + "aggregate=median&interval=1m"), "aggregate");
  EXPECT_EQ(bad(s + "interval=1m"), "aggregate");
  EXPECT_EQ(bad(s + "aggregate=avg"), "interval");
  EXPECT_EQ(bad(s + "aggregate=avg&interval=0"), "interval");
  EXPECT_EQ(bad(s + "aggregate=avg&interval=soon"), "interval");
  // 600000 one-millisecond intervals in ten minutes: over the limit of buckets.
  const json buckets =
      get(s + range(kBaseMs, kBaseMs + 600'000) + "&aggregate=avg&interval=1ms", 400);
  EXPECT_EQ(buckets["error"]["field"], "interval");
  EXPECT_THAT(buckets["error"]["message"].get<std::string>(), HasSubstr("100000"));
  EXPECT_EQ(bad(s + "step=1m"), "step");
  EXPECT_EQ(get(s + "stream=nope", 404)["error"]["field"], "stream");
  EXPECT_THAT(get("/api/v1/series/nope/samples", 404)["error"]["message"].get<std::string>(),
              HasSubstr("'nope'"));
}

TEST_F(ApiSeriesTest, LastValueCacheKeepsItsBound) {
  runtime::LastValues cache(3);
  runtime::LastValues::Stream& s = cache.stream("a");
  Batch b;
  for (int i = 0; i < 5; ++i) b.samples.push_back(Sample{"s" + std::to_string(i), i, 1.0 * i});
  s.update(b);
  EXPECT_EQ(cache.series_count("a"), 3u);
  EXPECT_EQ(cache.refused(), 2u);
  // Known series still update; an older sample does not replace a newer one.
  Batch again;
  again.samples.push_back(Sample{"s0", 10, 7.0});
  again.samples.push_back(Sample{"s1", -1, 9.0});
  s.update(again);
  EXPECT_EQ(std::get<double>(cache.find("a", "s0")->value), 7.0);
  EXPECT_EQ(std::get<double>(cache.find("a", "s1")->value), 1.0);
  EXPECT_FALSE(cache.find("a", "s4").has_value());
  EXPECT_FALSE(cache.find("b", "s0").has_value());
}

}  // namespace
}  // namespace sluice::api
