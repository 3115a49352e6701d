// Notification deliveries to real peers: a webhook to a real HTTP server (tests/fixtures/
// http_receiver.h) that fails once and is retried, an MQTT publish to a real mosquitto (read
// back with Debian's mosquitto_sub), an operation and a script on a scripted source. One toggled
// notification on a threshold rule, fed through a scripted source, so the values come the way
// the runtime ingests them; substitution is checked in every delivery.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>

#include "fixtures/api_harness.h"
#include "fixtures/http_receiver.h"
#include "fixtures/mosquitto.h"
#include "fixtures/scripted_services.h"
#include "fixtures/test_support.h"

namespace sluice::testing {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

void feed_temperature(double value, int64_t second) {
  Batch b;
  b.samples.push_back(
      Sample{"Motor.temperature", kT0 + second * 1'000'000'000, value, quality::kGood});
  feed("motor").push(std::move(b));
}

// The first line mosquitto_sub prints for `topic` (a retained message comes at once).
std::string retained(const Mosquitto& broker, const std::string& topic) {
  const std::string cmd = fmt::format("mosquitto_sub -h 127.0.0.1 -p {} -t '{}' -C 1 -W 10",
                                      broker.port(), topic);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class NotificationDeliveryTest : public ::testing::Test {
 protected:
  void TearDown() override {
    sluice_.stop();
    reset_scripted_services();
  }
  TempDir dir_;
  runtime::SourceTypes types_ = scripted_types();
  ApiHarness sluice_;
};

TEST_F(NotificationDeliveryTest, WebhookMqttOperationAndScriptEachGetTheirSends) {
  HttpReceiver web;
  web.script_statuses({503});  // the first POST fails and is retried
  Mosquitto broker(dir_.path(), {});
  feed("motor").points = {{"stop", runtime::ControlPoint::Kind::kOperation, ValueType::kDouble,
                           "stop the motor"},
                          {"fan", runtime::ControlPoint::Kind::kSetPoint, ValueType::kBool, "fan"}};
  const std::string config = fmt::format(R"(
[store]
dir = "{}"
[[sources]]
name = "motor"
type = "scripted"
[[rules]]
name = "hot"
type = "threshold"
series = "Motor.temperature"
threshold = 35
[[scripts]]
name = "cool-down"
[[scripts.steps]]
kind = "write"
service = "motor"
values = {{ fan = "$on$" }}
[[notifications]]
name = "overheat"
rule = "hot"
type = "toggled"
[[notifications.deliveries]]
type = "webhook"
url = "{}"
body = "$notification$ $state$ at $Motor.temperature$"
content_type = "text/plain"
[[notifications.deliveries]]
type = "mqtt"
host = "127.0.0.1"
port = {}
topic = "plant/alerts"
retain = true
[[notifications.deliveries]]
type = "operation"
service = "motor"
operation = "stop"
params = {{ why = "too hot: $Motor.temperature$" }}
[[notifications.deliveries]]
type = "script"
script = "cool-down"
cleared_script = "cool-down"
params = {{ on = "true" }}
)",
                                         dir_.file("data"), web.url("/hook"), broker.port());
  ASSERT_TRUE(sluice_.start(dir_, config, {.serve = false, .types = &types_, .control = true}));

  feed_temperature(30, 0);
  feed_temperature(45, 1);
  feed_temperature(20, 2);

  // Webhook: triggered (after one retry), then cleared, with the substituted body.
  ASSERT_TRUE(eventually([&] {
    size_t ok = 0;
    for (const auto& r : web.requests()) ok += r.answered == 200 ? 1 : 0;
    return ok >= 2;
  }));
  std::vector<std::string> bodies;
  for (const auto& r : web.requests()) {
    if (r.answered == 200) bodies.push_back(r.body);
    EXPECT_EQ(r.header("content-type"), "text/plain");
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"overheat triggered at 45", "overheat cleared at 20"}));
  EXPECT_EQ(web.requests().front().answered, 503);

  // MQTT: the last send is retained on the topic, as the default JSON document.
  std::string payload;
  ASSERT_TRUE(eventually([&] {
    payload = retained(broker, "plant/alerts");
    return payload.find("cleared") != std::string::npos;
  })) << payload;
  const json doc = json::parse(payload, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << payload;
  EXPECT_EQ(doc["notification"], "overheat");
  EXPECT_EQ(doc["state"], "cleared");
  EXPECT_EQ(doc["values"]["Motor.temperature"], 20);

  // The operation on trigger only (no cleared_operation), and the script on both: its write
  // substituted $on$ into a boolean.
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(feed("motor").mu);
    return feed("motor").control_log.size() >= 3;
  }));
  {
    std::lock_guard lock(feed("motor").mu);
    const auto& log = feed("motor").control_log;
    ASSERT_EQ(log.size(), 3u);
    size_t ops = 0;
    size_t fans = 0;
    for (const auto& [name, value] : log) {
      if (name == "op:stop") {
        ++ops;
        EXPECT_EQ(std::get<std::string>(value), "why=too hot: 45;");
      } else if (name == "fan") {
        ++fans;
        EXPECT_EQ(std::get<bool>(value), true);
      }
    }
    EXPECT_EQ(ops, 1u);
    EXPECT_EQ(fans, 2u);
  }
  // Every delivery counted what it sent.
  ASSERT_TRUE(eventually([&] {
    auto n = sluice_.control()->engine().notifications();
    if (n.size() != 1) return false;
    const auto& d = n[0].deliveries;
    return d.size() == 4 && d[0].sent == 2 && d[1].sent == 2 && d[2].sent == 1 && d[3].sent == 2;
  }));
  const auto n = sluice_.control()->engine().notifications();
  for (const auto& d : n[0].deliveries) EXPECT_EQ(d.failed, 0u) << d.summary << ": " << d.last_error;
}

TEST_F(NotificationDeliveryTest, AFailingDeliveryIsCountedWithItsReason) {
  feed("motor").points = {{"fan", runtime::ControlPoint::Kind::kSetPoint, ValueType::kBool, "fan"}};
  feed("motor").control_answer["fan"] = Status(Code::kUnavailable, "the drive does not answer");
  const std::string config = fmt::format(R"(
[store]
dir = "{}"
[[sources]]
name = "motor"
type = "scripted"
[[rules]]
name = "hot"
type = "threshold"
series = "Motor.temperature"
threshold = 35
[[notifications]]
name = "overheat"
rule = "hot"
[[notifications.deliveries]]
type = "set_point"
service = "motor"
trigger_values = {{ fan = true }}
)",
                                         dir_.file("data"));
  ASSERT_TRUE(sluice_.start(dir_, config, {.serve = false, .types = &types_, .control = true}));
  feed_temperature(45, 1);
  ASSERT_TRUE(eventually([&] {
    auto n = sluice_.control()->engine().notifications();
    return n.size() == 1 && n[0].deliveries.size() == 1 && n[0].deliveries[0].failed == 1;
  }));
  const auto n = sluice_.control()->engine().notifications();
  EXPECT_NE(n[0].deliveries[0].last_error.find("the drive does not answer"), std::string::npos)
      << n[0].deliveries[0].last_error;
  EXPECT_EQ(sluice_.control()->dispatcher().stats().failed, 1u);
}

}  // namespace
}  // namespace sluice::testing
