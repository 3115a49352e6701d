// The first full path of the KEPServerEX connector, with real components: a mosquitto broker
// (user and password), Kepware IoT Gateway JSON published at QoS 1, the mqtt source, the
// store, and the files sink writing one CSV file per interval. Every published value arrives in
// exactly one CSV row, across a Sluice restart and a broker restart.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <thread>

#include "cli/builtin_sources.h"
#include "fixtures/mosquitto.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice {
namespace {

using testing::eventually;

namespace fs = std::filesystem;

// Message m of the test: 10 tags of Channel1.Device<m % 3>, values m * 100 + tag.
std::string kepware_message(int m) {
  std::string values;
  const int64_t t = 1'700'000'000'000 + m;  // ms
  for (int tag = 0; tag < 10; ++tag) {
    if (!values.empty()) values += ",";
    values += fmt::format(R"({{"id":"Channel1.Device{}.Tag{}","v":{},"q":true,"t":{}}})", m % 3,
                          tag, m * 100 + tag, t);
  }
  return fmt::format(R"({{"timestamp":{},"values":[{}]}})", t, values);
}

// series,value of every CSV row under `dir` -> how many times it was seen.
std::map<std::string, int> csv_rows(const std::string& dir) {
  std::map<std::string, int> rows;
  if (!fs::exists(dir)) return rows;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".csv") continue;
    std::ifstream in(entry.path());
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // timestamp,series,value,quality,unit
      const size_t a = line.find(',');
      const size_t b = line.find(',', a + 1);
      const size_t c = line.find(',', b + 1);
      ++rows[line.substr(a + 1, c - a - 1)];
    }
  }
  return rows;
}

TEST(KepwareToFilesTest, EveryPublishedValueArrivesInExactlyOneCsvRow) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/broker");
  testing::Mosquitto broker(dir.path() + "/broker", {.username = "kep", .password = "s3cret"});
  const std::string text = fmt::format(R"(
[store]
dir = "{0}/data"
[log]
status_interval = 0
[[sources]]
name = "kepware"
type = "mqtt"
host = "127.0.0.1"
port = {1}
username = "kep"
password = "s3cret"
topic = "iotgateway/#"
qos = 1
format = "kepware"
clean_session = false
client_id = "sluice-kepware-test"
[[sinks]]
name = "lake"
type = "files"
dir = "{0}/lake"
interval = "1s"
allow_short_interval = true
)",
                                       dir.path(), broker.port());
  auto config = runtime::parse_config(text, dir.file("sluice.toml"), cli::builtin_source_types());
  ASSERT_TRUE(config.ok()) << config.status().message();

  auto published = [&](int from, int to) {
    std::string lines;
    for (int m = from; m < to; ++m) lines += kepware_message(m) + "\n";
    broker.publish_lines("iotgateway/line1", lines, 1);
  };
  auto connected = [](runtime::Runtime& rt) {
    auto s = rt.sources();
    return !s.empty() && s[0].health.state == runtime::HealthState::kHealthy;
  };

  int sent = 0;
  {
    auto rt = runtime::Runtime::open(*config);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->start().ok());
    ASSERT_TRUE(eventually([&] { return connected(**rt); }));
    published(0, 200);
    sent = 200;
    ASSERT_TRUE(eventually([&] { return (*rt)->sources()[0].samples >= 2000; }));
    ASSERT_TRUE((*rt)->stop().ok());
  }
  // Published while Sluice is down: the persistent session keeps them at the broker.
  published(200, 300);
  sent = 300;
  {
    auto rt = runtime::Runtime::open(*config);
    ASSERT_TRUE(rt.ok());
    ASSERT_TRUE((*rt)->start().ok());
    // What the broker kept for the session arrives first.
    ASSERT_TRUE(eventually([&] { return (*rt)->sources()[0].samples >= 1000; }));
    // The broker restarts (it keeps nothing in memory: the test broker has no persistence);
    // the source notices, reconnects, subscribes again and goes on.
    broker.kill();
    ASSERT_TRUE(eventually([&] { return !connected(**rt); }));
    broker.start();
    ASSERT_TRUE(eventually([&] { return connected(**rt); }));
    published(300, 400);
    sent = 400;
    ASSERT_TRUE(eventually([&] {
      const auto rows = csv_rows(dir.path() + "/lake");
      return rows.size() >= static_cast<size_t>(sent) * 10;
    })) << "rows "
        << csv_rows(dir.path() + "/lake").size() << ", ingested " << (*rt)->sources()[0].samples
        << " in this run, delivered " << (*rt)->sinks()[0].delivered << ", health "
        << (*rt)->sources()[0].health.reason;
    ASSERT_TRUE((*rt)->stop().ok());
  }
  const auto rows = csv_rows(dir.path() + "/lake");
  EXPECT_EQ(rows.size(), static_cast<size_t>(sent) * 10);
  for (int m = 0; m < sent; ++m) {
    for (int tag = 0; tag < 10; ++tag) {
      const std::string key = fmt::format("Channel1.Device{}.Tag{},{}", m % 3, tag, m * 100 + tag);
      auto it = rows.find(key);
      ASSERT_NE(it, rows.end()) << "missing " << key;
      EXPECT_EQ(it->second, 1) << key << " arrived " << it->second << " times";
    }
  }
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Units travel from the payload (SenML "u") through the state database to the CSV unit column,
// and a later message without a unit keeps the known one.
TEST(KepwareToFilesTest, UnitsFromPayloadsReachTheCsvUnitColumn) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/broker");
  testing::Mosquitto broker(dir.path() + "/broker", {});
  const std::string text = fmt::format(R"(
[store]
dir = "{0}/data"
[log]
status_interval = 0
[[sources]]
name = "tanks"
type = "mqtt"
host = "127.0.0.1"
port = {1}
topic = "senml/#"
qos = 1
format = "senml"
[[sinks]]
name = "lake"
type = "files"
dir = "{0}/lake"
interval = "1s"
allow_short_interval = true
)",
                                       dir.path(), broker.port());
  auto config = runtime::parse_config(text, dir.file("sluice.toml"), cli::builtin_source_types());
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto rt = runtime::Runtime::open(*config);
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] {
    auto s = (*rt)->sources();
    return !s.empty() && s[0].health.state == runtime::HealthState::kHealthy;
  }));
  broker.publish("senml/tank1", R"([{"bn":"tank1.","n":"temp","u":"Cel","v":21.5,"t":1700000000}])",
                 1);
  broker.publish("senml/tank1", R"([{"bn":"tank1.","n":"temp","v":22.5,"t":1700000001}])", 1);
  std::vector<std::string> lines;
  ASSERT_TRUE(eventually([&] {
    lines.clear();
    if (!fs::exists(dir.path() + "/lake")) return false;
    for (const auto& entry : fs::directory_iterator(dir.path() + "/lake")) {
      if (entry.path().extension() != ".csv") continue;
      std::ifstream in(entry.path());
      std::string line;
      std::getline(in, line);
      while (std::getline(in, line)) lines.push_back(line);
    }
    return lines.size() >= 2;
  }));
  ASSERT_TRUE((*rt)->stop().ok());
  ASSERT_EQ(lines.size(), 2u);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines[0], "2023-11-14T22:13:20.000Z,tank1.temp,21.5,Good,Cel\r");
  EXPECT_EQ(lines[1], "2023-11-14T22:13:21.000Z,tank1.temp,22.5,Good,Cel\r");
  auto meta = (*rt)->series().find("tank1.temp");
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->unit, "Cel");
  EXPECT_EQ(meta->source, "tanks");
}

}  // namespace
}  // namespace sluice
