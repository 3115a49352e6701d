// Edge to central over the device platform: an edge runtime whose `channel` sink publishes what a
// scripted source ingests, as a thing, to a REAL central Sluice (the API harness with the device
// registry and the HTTP adapter, a platform source storing what it accepts). What the edge stored
// arrives in the central's store under "<channel>.<series>" with its values, times and units; a
// key the central refuses makes the sink CRITICAL with refused_credentials and loses nothing,
// and everything arrives once the sink has the right key; a central that is not there yet gets
// everything once it is up; a key file is read when the sink starts; messages over the central's
// size limit are split, and a sample that can never fit is skipped and counted.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "api/http_server.h"
#include "fixtures/api_harness.h"
#include "fixtures/scripted_services.h"
#include "fixtures/test_support.h"
#include "platform/registry.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice {
namespace {

using testing::eventually;
using ::testing::HasSubstr;

constexpr std::string_view kCentralConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "things"
type = "platform"
)";

// Chosen here so that an edge can be configured before its central exists.
constexpr std::string_view kChannel = "edge-plant-1";
const std::string kKey = std::string(32, 'a') + std::string(32, '7');
const std::string kWrongKey = std::string(64, 'b');

constexpr Timestamp kT0 = 1'700'000'000'000'000'000;
constexpr int64_t kTimeToleranceNs = 1'000;

class ChannelSinkTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::reset_scripted_services(); }
  void TearDown() override {
    if (edge_) {
      EXPECT_TRUE(edge_->stop().ok());
    }
    if (server_) server_->stop();
  }

  // The central, with the edge's thing connected to its channel; serving on a free port
  // (`port` 0) or on `port`.
  void start_central(int port = 0, std::string_view config = kCentralConfig) {
    ASSERT_TRUE(central_.start(central_dir_, config, {.serve = port == 0}));
    if (port != 0) {
      api::HttpServerOptions o;
      o.port = static_cast<uint16_t>(port);
      auto s = api::HttpServer::start(
          o, [this](const api::HttpRequest& r) { return central_.api()->handle(r); });
      ASSERT_TRUE(s.ok()) << s.status().message();
      server_ = std::move(s).value();
      central_.api()->set_server(server_.get());
    }
    platform::Registry& reg = *central_.platform();
    const auto scope = platform::Scope::everything();
    auto channel = reg.create_channels(
        scope, {platform::NewChannel{.name = "plant 1", .id = std::string(kChannel)}});
    ASSERT_TRUE(channel.ok()) << channel.status().message();
    auto thing = reg.create_things(scope, {platform::NewThing{.name = "edge-1", .key = kKey}});
    ASSERT_TRUE(thing.ok()) << thing.status().message();
    const Status connected = reg.connect(scope, {(*thing)[0].thing.id}, {std::string(kChannel)});
    ASSERT_TRUE(connected.ok()) << connected.message();
    ASSERT_TRUE(eventually([&] {
      return central_.runtime()
          ->with_source("things", [](auto&, auto&) { return Status::ok_status(); })
          .ok();
    }));
  }

  // The sink's table (without name and type), for the config and for update_settings; `key`
  // is the key, or with `file` the path of the key file.
  static std::string sink_keys(const std::string& url, const std::string& key, bool file = false) {
    return fmt::format(R"(url = "{}"
channel = "{}"
{} = "{}"
batch_samples = 100
max_message_bytes = "2KiB"
retry_min = "20ms"
retry_max = "200ms"
)",
                       url, kChannel, file ? "key_file" : "key", key);
  }

  void start_edge(const std::string& url, const std::string& key, bool file = false) {
    edge_text_ = fmt::format(R"(
[store]
dir = "{}/data"
[log]
status_interval = 0
[[sources]]
name = "plc"
type = "scripted"
[[sinks]]
name = "up"
type = "channel"
{})",
                             edge_dir_.path(), sink_keys(url, key, file));
    const std::string path = edge_dir_.file("sluice.toml");
    auto config = runtime::parse_config(edge_text_, path, types_);
    ASSERT_TRUE(config.ok()) << config.status().message();
    auto rt = runtime::Runtime::open(*config, {.config_text = edge_text_, .types = &types_});
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    edge_ = std::move(rt).value();
    ASSERT_TRUE(edge_->start().ok());
  }

  // `n` samples over 5 series of the asset "press", in batches of 50: doubles, int64 and bools.
  std::vector<Sample> feed_edge(size_t n, size_t first = 0) {
    testing::Feed& feed = testing::feed("plc");
    feed.describe(SeriesMeta{.name = "press.temperature", .unit = "Cel"});
    std::vector<Sample> sent;
    Batch batch;
    for (size_t i = first; i < first + n; ++i) {
      Sample s;
      s.ts = kT0 + static_cast<int64_t>(i) * 1'000'000 + 123'000;
      switch (i % 5) {
        case 0: s.series = "press.temperature", s.value = 20.0 + static_cast<double>(i) / 8; break;
        case 1: s.series = "press.count", s.value = static_cast<int64_t>(i) * 1000; break;
        case 2: s.series = "press.running", s.value = i % 2 == 0; break;
        case 3: s.series = "press.line2.speed", s.value = -static_cast<double>(i); break;
        default: s.series = "mode", s.value = static_cast<double>(i % 3); break;
      }
      sent.push_back(s);
      batch.samples.push_back(std::move(s));
      if (batch.size() == 50) feed.push(std::exchange(batch, {}));
    }
    if (!batch.empty()) feed.push(std::move(batch));
    return sent;
  }

  // Everything the central stored from things, in order.
  std::vector<Sample> central_samples() {
    std::vector<Sample> out;
    auto reader = central_.runtime()->store().open_reader("things", 0);
    EXPECT_TRUE(reader.ok()) << reader.status().message();
    if (!reader.ok()) return out;
    store::ReadItem item;
    for (;;) {
      auto got = (*reader)->next(10'000, &item);
      EXPECT_TRUE(got.ok()) << got.status().message();
      if (!got.ok() || !*got) break;
      for (Sample& s : item.batch.samples) out.push_back(std::move(s));
    }
    return out;
  }

  // The central keeps a message's samples grouped by series, so the two are compared in
  // (series, time) order.
  void expect_arrived(std::vector<Sample> sent) {
    std::vector<Sample> got = central_samples();
    ASSERT_EQ(got.size(), sent.size());
    for (Sample& s : sent) s.series = std::string(kChannel) + "." + s.series;
    const auto order = [](const Sample& a, const Sample& b) {
      return std::tie(a.series, a.ts) < std::tie(b.series, b.ts);
    };
    std::sort(sent.begin(), sent.end(), order);
    std::sort(got.begin(), got.end(), order);
    for (size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(got[i].series, sent[i].series) << i;
      Value want = sent[i].value;
      if (const int64_t* v = std::get_if<int64_t>(&want)) want = static_cast<double>(*v);
      EXPECT_TRUE(identical(got[i].value, want)) << i << ": " << got[i].series;
      EXPECT_LE(std::llabs(got[i].ts - sent[i].ts), kTimeToleranceNs) << i;
    }
  }

  runtime::SinkStatus sink() {
    auto sinks = edge_->sinks();
    EXPECT_EQ(sinks.size(), 1u);
    return sinks.empty() ? runtime::SinkStatus{} : sinks[0];
  }
  std::string detail(const std::string& name) {
    for (const auto& d : sink().details) {
      if (d.name == name) return d.value;
    }
    return "<none>";
  }
  uint64_t backlog() {
    uint64_t n = 0;
    for (const auto& s : edge_->sessions()) n += s.backlog;
    return n;
  }

  testing::TempDir central_dir_;
  testing::TempDir edge_dir_;
  const runtime::SourceTypes types_ = testing::scripted_types();
  testing::ApiHarness central_;
  std::unique_ptr<api::HttpServer> server_;  // the central's, when it serves on a given port
  std::unique_ptr<runtime::Runtime> edge_;
  std::string edge_text_;
};

TEST_F(ChannelSinkTest, WhatTheEdgeStoredArrivesCentrallyWithSeriesValuesTimesAndUnits) {
  start_central();
  start_edge(central_.url(""), kKey);
  const std::vector<Sample> sent = feed_edge(1000);
  ASSERT_TRUE(eventually([&] { return central_samples().size() >= sent.size(); }))
      << "central has " << central_samples().size() << "; sink: " << sink().health.reason;
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }));
  expect_arrived(sent);

  const auto unit = central_.runtime()->series().find(std::string(kChannel) + ".press.temperature");
  ASSERT_TRUE(unit.has_value());
  EXPECT_EQ(unit->unit, "Cel");
  EXPECT_EQ(unit->labels.at("channel"), kChannel);
  EXPECT_EQ(sink().health.state, runtime::HealthState::kHealthy) << sink().health.reason;
  EXPECT_EQ(detail("samples_posted"), "1000");
  // 100 samples a batch and 2 KiB a message: each batch went as several messages.
  EXPECT_GT(std::stoull(detail("messages_posted")), 10u);
  EXPECT_EQ(detail("credentials"), "accepted");
  EXPECT_EQ(detail("refused_payload"), "0");
  EXPECT_EQ(detail("skipped_samples"), "0");
}

TEST_F(ChannelSinkTest, ARefusedKeyIsCriticalAndLosesNothingUntilTheSinkHasTheRightKey) {
  start_central();
  start_edge(central_.url(""), kWrongKey);
  const std::vector<Sample> sent = feed_edge(300);
  ASSERT_TRUE(eventually([&] { return detail("credentials") == "refused"; }))
      << sink().health.reason;
  const runtime::SinkStatus refused = sink();
  EXPECT_EQ(refused.health.state, runtime::HealthState::kCritical);
  EXPECT_THAT(refused.health.reason, HasSubstr("refused thing key bbbb..."));
  EXPECT_THAT(refused.health.reason, HasSubstr("bootstrap again"));
  EXPECT_GE(std::stoull(detail("refused_credentials")), 1u);
  EXPECT_EQ(detail("samples_posted"), "0");
  EXPECT_TRUE(central_samples().empty());
  ASSERT_TRUE(eventually([&] { return backlog() == sent.size(); })) << backlog();

  // The key is replaced as the bootstrap will: new settings, and the sink restarts with them.
  const Status st = edge_->update_settings("up", sink_keys(central_.url(""), kKey));
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(eventually([&] { return central_samples().size() >= sent.size(); }))
      << sink().health.reason;
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }));
  expect_arrived(sent);
  EXPECT_EQ(detail("credentials"), "accepted");
  EXPECT_EQ(sink().health.state, runtime::HealthState::kHealthy) << sink().health.reason;
}

TEST_F(ChannelSinkTest, ACentralThatIsNotUpYetGetsEverythingOnceItIs) {
  const int port = testing::free_port();
  start_edge(fmt::format("http://127.0.0.1:{}", port), kKey);
  const std::vector<Sample> sent = feed_edge(400);
  ASSERT_TRUE(eventually([&] { return std::stoull(detail("retries")) >= 3; }));
  EXPECT_THAT(detail("last_error"), HasSubstr("cannot reach http://127.0.0.1:"));
  EXPECT_NE(sink().health.state, runtime::HealthState::kHealthy);
  EXPECT_EQ(detail("samples_posted"), "0");

  start_central(port);
  ASSERT_TRUE(eventually([&] { return central_samples().size() >= sent.size(); }))
      << sink().health.reason;
  ASSERT_TRUE(eventually([&] { return backlog() == 0; }));
  expect_arrived(sent);
  EXPECT_EQ(sink().health.state, runtime::HealthState::kHealthy) << sink().health.reason;
}

TEST_F(ChannelSinkTest, AKeyFileIsReadWhenTheSinkStartsAndAMissingOneIsNamed) {
  start_central();
  const std::string key_file = edge_dir_.file("central.key");
  start_edge(central_.url(""), key_file, /*file=*/true);
  const std::vector<Sample> sent = feed_edge(100);
  ASSERT_TRUE(eventually([&] { return sink().health.state == runtime::HealthState::kCritical; }));
  EXPECT_THAT(sink().health.reason, HasSubstr("key_file '" + key_file + "' cannot be read"));
  EXPECT_TRUE(central_samples().empty());

  // The runtime starts the sink again after a back-off; by then the file is there.
  { std::ofstream(key_file) << kKey << "\n"; }
  ASSERT_EQ(::chmod(key_file.c_str(), 0600), 0);
  ASSERT_TRUE(eventually([&] { return backlog() == 0 && central_samples().size() == 100; }))
      << sink().health.reason;
  expect_arrived(sent);
}

TEST_F(ChannelSinkTest, MessagesOverTheCentralsLimitAreSplitAndASampleThatNeverFitsIsSkipped) {
  // The central takes messages of 1 KiB at most; the edge makes them up to 2 KiB.
  start_central(0, std::string(kCentralConfig) + "max_message_bytes = \"1KiB\"\n");
  start_edge(central_.url(""), kKey);
  std::vector<Sample> sent = feed_edge(40);
  Sample huge;
  huge.series = "press.note";
  huge.ts = kT0 + 40'000'000;
  huge.value = std::string(1500, 'x');  // alone over 1 KiB: the central can never take it
  testing::feed("plc").push(Batch{{huge}});
  const std::vector<Sample> after = feed_edge(40, 41);
  sent.insert(sent.end(), after.begin(), after.end());
  ASSERT_TRUE(eventually([&] { return backlog() == 0 && detail("samples_posted") == "80"; }))
      << sink().health.reason;
  expect_arrived(sent);
  EXPECT_EQ(detail("refused_payload"), "1");
  EXPECT_EQ(detail("refused_samples"), "1");
  EXPECT_THAT(detail("last_error"), HasSubstr("HTTP 413"));
  EXPECT_THAT(detail("last_error"), HasSubstr("skipped"));
}

}  // namespace
}  // namespace sluice
