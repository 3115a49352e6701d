// The KEPServerEX connector end to end, with the real `sluice` binary as a process: a mosquitto
// broker (user and password, TLS with a generated CA), Kepware IoT Gateway JSON published at
// QoS 1, the fake Kepware Configuration API for tag units, and a small HTTP server receiving the
// CSV uploads. Every published value is uploaded exactly once, with its unit, through an outage
// of the upload server; and when Sluice is SIGKILLed mid-stream and restarted, every value the
// broker acknowledged to the publisher is delivered.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "fixtures/fake_kepware.h"
#include "fixtures/http_receiver.h"
#include "fixtures/mosquitto.h"
#include "fixtures/sluice_process.h"
#include "fixtures/test_support.h"

namespace sluice {
namespace {

using testing::eventually;
namespace fs = std::filesystem;

constexpr int64_t kBaseMs = 1'700'000'000'000;

// Message m: the fake project's three tags with values m, 1000 + m and 2000 + m at base + m s.
std::string kepware_message(int m) {
  const int64_t t = kBaseMs + int64_t{m} * 1000;
  return fmt::format(R"({{"timestamp":{0},"values":[)"
                     R"({{"id":"Channel1.Device1.Temp","v":{1},"q":true,"t":{0}}},)"
                     R"({{"id":"Channel1.Device1.Pressure","v":{2},"q":true,"t":{0}}},)"
                     R"({{"id":"Channel1.Device1.Group1.Flow","v":{3},"q":true,"t":{0}}}]}})",
                     t, m, 1000 + m, 2000 + m);
}

std::string messages(int from, int to) {
  std::string lines;
  for (int m = from; m < to; ++m) lines += kepware_message(m) + "\n";
  return lines;
}

struct Row {
  int count = 0;
  std::string unit;
};

// "series,value" of every row of CSV text (timestamp,series,value,quality,unit) → count, unit.
void add_rows(const std::string& csv, std::map<std::string, Row>* rows) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t a = line.find(',');
    const size_t b = line.find(',', a + 1);
    const size_t c = line.find(',', b + 1);
    const size_t d = line.find(',', c + 1);
    Row& row = (*rows)[line.substr(a + 1, c - a - 1)];
    ++row.count;
    row.unit = line.substr(d + 1);
  }
}

std::map<std::string, Row> uploaded_rows(const testing::HttpReceiver& receiver) {
  std::map<std::string, Row> rows;
  for (const auto& r : receiver.requests()) {
    if (r.answered >= 200 && r.answered < 300) add_rows(r.body, &rows);
  }
  return rows;
}

std::map<std::string, Row> dir_rows(const std::string& dir) {
  std::map<std::string, Row> rows;
  if (!fs::exists(dir)) return rows;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".csv") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    add_rows(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
             &rows);
  }
  return rows;
}

// The message numbers whose Temp value is not among the rows, as ranges "a-b".
std::string missing_messages(const std::map<std::string, Row>& rows, int messages) {
  std::string out;
  int start = -1;
  for (int m = 0; m <= messages; ++m) {
    const bool missing = m < messages && !rows.contains(fmt::format("Channel1.Device1.Temp,{}", m));
    if (missing && start < 0) start = m;
    if (!missing && start >= 0) {
      out += fmt::format("{}{}-{}", out.empty() ? "" : ", ", start, m - 1);
      start = -1;
    }
  }
  return out.empty() ? "none" : out;
}

// The sum of N over the log's "units of N tag(s)" lines.
int units_learned(const std::string& log) {
  static const std::regex re("units of ([0-9]+) tag");
  int n = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator();
       ++it) {
    n += std::stoi((*it)[1]);
  }
  return n;
}

TEST(KepwareEndToEndTest, TlsBrokerToHttpUploadEveryValueOnceWithUnitsThroughAnUploadOutage) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/broker");
  testing::Mosquitto broker(dir.path() + "/broker",
                            {.username = "kep", .password = "s3cret", .tls = true});
  testing::FakeKepwareConfigApi api(dir.path(), "Administrator", "kep-pass");
  testing::HttpReceiver receiver;
  std::ofstream(dir.file("sluice.toml"))
      << fmt::format(R"(
[store]
dir = "{0}/data"
[[sources]]
name = "kepware"
type = "mqtt"
host = "127.0.0.1"
port = {1}
tls = true
ca_file = "{2}"
username = "kep"
password = "s3cret"
topic = "iotgateway/#"
qos = 1
format = "kepware"
clean_session = false
client_id = "sluice-e2e-tls"
units_api_url = "{3}"
units_api_username = "Administrator"
units_api_password = "kep-pass"
[[sinks]]
name = "lake"
type = "files"
url = "{4}"
interval = "1s"
allow_short_interval = true
)",
                     dir.path(), broker.port(), broker.ca_file(), api.url(), receiver.url());
  testing::SluiceProcess sluice(dir.file("sluice.toml"), dir.file("sluice.log"));
  ASSERT_TRUE(eventually([&] { return sluice.log().find("connected to") != std::string::npos; }))
      << sluice.log();

  // The first message makes the source read the units of its tags; it is uploaded with
  // whatever was known when its file was made.
  broker.publish("iotgateway/line1", kepware_message(0), 1);
  ASSERT_TRUE(eventually([&] { return units_learned(sluice.log()) >= 3; })) << sluice.log();
  ASSERT_TRUE(eventually([&] { return uploaded_rows(receiver).size() >= 3; })) << sluice.log();

  // The data lake goes away for several upload intervals while values keep coming.
  receiver.set_status(503);
  constexpr int kMessages = 300;
  broker.publish_lines("iotgateway/line1", messages(1, 1 + kMessages), 1);
  ASSERT_TRUE(eventually([&] {
    size_t refused = 0;
    for (const auto& r : receiver.requests()) refused += r.answered == 503 ? 1 : 0;
    return refused >= 3;
  })) << sluice.log();
  receiver.set_status(200);

  std::map<std::string, Row> rows;
  ASSERT_TRUE(eventually([&] {
    rows = uploaded_rows(receiver);
    return rows.size() >= static_cast<size_t>(3 * (1 + kMessages));
  })) << rows.size()
      << " rows; log:\n"
      << sluice.log();
  EXPECT_EQ(sluice.terminate(), 0) << sluice.log();

  rows = uploaded_rows(receiver);
  EXPECT_EQ(rows.size(), static_cast<size_t>(3 * (1 + kMessages)));
  const std::pair<const char*, const char*> tags[] = {{"Channel1.Device1.Temp", "DegC"},
                                                      {"Channel1.Device1.Pressure", "bar"},
                                                      {"Channel1.Device1.Group1.Flow", "m3/h"}};
  for (int m = 0; m <= kMessages; ++m) {
    for (int i = 0; i < 3; ++i) {
      const std::string key = fmt::format("{},{}", tags[i].first, i * 1000 + m);
      auto it = rows.find(key);
      ASSERT_NE(it, rows.end()) << "missing " << key;
      EXPECT_EQ(it->second.count, 1) << key << " arrived " << it->second.count << " times";
      if (m > 0) EXPECT_EQ(it->second.unit, tags[i].second) << key;
    }
  }
  // Every file that failed was sent again: no upload is lost, none is partial.
  for (const auto& r : receiver.requests()) {
    if (r.answered == 200) EXPECT_TRUE(r.body.starts_with("timestamp,series,value,quality,unit"));
  }
}

TEST(KepwareEndToEndTest, SigkillMidStreamThenRestartDeliversEveryValueTheBrokerAcknowledged) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/broker");
  testing::Mosquitto broker(dir.path() + "/broker", {.username = "kep", .password = "s3cret"});
  std::ofstream(dir.file("sluice.toml")) << fmt::format(R"(
[store]
dir = "{0}/data"
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
client_id = "sluice-e2e-kill"
[[sinks]]
name = "lake"
type = "files"
dir = "{0}/lake"
interval = "1s"
allow_short_interval = true
)",
                                                        dir.path(), broker.port());
  const std::string lake = dir.path() + "/lake";

  auto sluice =
      std::make_unique<testing::SluiceProcess>(dir.file("sluice.toml"), dir.file("sluice.log"));
  // Subscribed first: the broker keeps messages for a session only once it exists.
  ASSERT_TRUE(eventually([&] { return sluice->log().find("connected to") != std::string::npos; }))
      << sluice->log();
  // The publisher sends batches of messages at QoS 1; mosquitto_pub returns once the broker
  // acknowledged every one of them, so everything it sent is what the broker acknowledged.
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 100;
  std::atomic<int> batches_done{0};
  std::thread publisher([&] {
    for (int b = 0; b < kBatches; ++b) {
      broker.publish_lines("iotgateway/line1", messages(b * kPerBatch, (b + 1) * kPerBatch), 1);
      batches_done.store(b + 1);
    }
  });

  // Killed twice while the publisher is sending: messages are in flight between broker, socket,
  // store and acknowledgement at that moment, and files are being delivered.
  for (const int after_batches : {5, 12}) {
    const bool reached = eventually([&] { return batches_done.load() >= after_batches; });
    if (!reached) {
      publisher.join();
      FAIL() << "the publisher did not get to batch " << after_batches;
    }
    sluice->kill();
    sluice =
        std::make_unique<testing::SluiceProcess>(dir.file("sluice.toml"), dir.file("sluice.log"));
  }
  publisher.join();

  constexpr size_t kValues = size_t{3} * kBatches * kPerBatch;
  std::map<std::string, Row> rows;
  ASSERT_TRUE(eventually([&] {
    rows = dir_rows(lake);
    return rows.size() >= kValues;
  })) << rows.size()
      << " of " << kValues << " values; missing messages "
      << missing_messages(rows, kBatches * kPerBatch) << "; store:\n"
      << testing::run_command(testing::sluice_binary() + " store inspect '" + dir.path() + "/data'")
             .output
      << "log:\n"
      << sluice->log();
  EXPECT_EQ(sluice->terminate(), 0) << sluice->log();

  rows = dir_rows(lake);
  size_t duplicates = 0;
  for (int m = 0; m < kBatches * kPerBatch; ++m) {
    for (const auto& [tag, offset] :
         {std::pair{"Channel1.Device1.Temp", 0}, std::pair{"Channel1.Device1.Pressure", 1000},
          std::pair{"Channel1.Device1.Group1.Flow", 2000}}) {
      const std::string key = fmt::format("{},{}", tag, offset + m);
      auto it = rows.find(key);
      ASSERT_NE(it, rows.end()) << "lost " << key;
      duplicates += it->second.count - 1;
    }
  }
  // At least once across a crash: a message stored but not yet acknowledged when Sluice died
  // is sent again by the broker and stored again. Reported, not asserted.
  RecordProperty("duplicate_rows", static_cast<int>(duplicates));
  std::printf("duplicate rows after two SIGKILLs: %zu of %zu values\n", duplicates, kValues);

  testing::CommandResult fsck =
      testing::run_command(testing::sluice_binary() + " store fsck '" + dir.path() + "/data'");
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

}  // namespace
}  // namespace sluice
