// The device platform's MQTT adapter end to end: a real mosquitto with the dynamic-security
// plugin, a Sluice runtime with a platform source whose mqtt_* keys point at it, and the device
// registry changed as the REST API changes it. Devices are Sluice's own MQTT Connection.
//   - a thing connected to a channel publishes and the samples land in the store, labelled;
//   - a thing not connected cannot publish or subscribe there (its message never arrives);
//   - a key rotation drops the old key's connection and refuses it, the new key works;
//   - a disconnect drops the thing and its channel is closed to it after it reconnects;
//   - a removed thing's client is gone; things made while the adapter was off are reported
//     and a rotation repairs them;
//   - 1,000 things provisioned in bulk all get their broker clients (timed, printed).
//
// "Not delivered" is shown without waiting for nothing: the forbidden message is published first
// and an allowed marker after it on the same connection; the broker keeps one client's messages
// in order, so once the marker is in the store the forbidden one would be too.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/api_harness.h"
#include "fixtures/mosquitto.h"
#include "fixtures/mqtt_test_client.h"
#include "fixtures/test_support.h"
#include "platform/mqtt_adapter.h"
#include "platform/registry.h"
#include "protocols/mqtt/connection.h"
#include "protocols/mqtt/packet.h"

namespace sluice::platform {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::Mosquitto;
using testing::MosquittoOptions;

constexpr const char* kAdmin = "admin";
constexpr const char* kAdminPassword = "admin-secret";
constexpr auto kDeadline = std::chrono::seconds(60);

MosquittoOptions dynsec_broker() {
  MosquittoOptions o;
  o.dynsec_admin = MosquittoOptions::DynsecAdmin{kAdmin, kAdminPassword};
  return o;
}

using Device = testing::MqttTestClient;

class PlatformMqttTest : public ::testing::Test {
 protected:
  PlatformMqttTest() : broker_(dir_.path(), dynsec_broker()) {}

  void SetUp() override {
    const std::string config = fmt::format(R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "things"
type = "platform"
mqtt_host = "127.0.0.1"
mqtt_port = {}
mqtt_admin_username = "{}"
mqtt_admin_password = "{}"
)",
                                           broker_.port(), kAdmin, kAdminPassword);
    ASSERT_TRUE(harness_.start(dir_, config, {.serve = false}));
    registry_ = harness_.platform();
    ASSERT_TRUE(wait_healthy());
  }

  bool wait_healthy() {
    return testing::eventually(
        [&] {
          for (const auto& s : harness_.runtime()->sources()) {
            if (s.name == "things") return s.health.state == runtime::HealthState::kHealthy;
          }
          return false;
        },
        kDeadline);
  }

  std::string detail(const std::string& name) {
    for (const auto& s : harness_.runtime()->sources()) {
      for (const auto& d : s.details) {
        if (d.name == name) return d.value;
      }
    }
    return "<none>";
  }

  runtime::Health health() {
    for (const auto& s : harness_.runtime()->sources()) {
      if (s.name == "things") return s.health;
    }
    return {};
  }

  std::string channel(const std::string& name) {
    auto made = registry_->create_channels(Scope::everything(), {NewChannel{.name = name}});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? made->at(0).id : std::string();
  }
  IssuedThing thing(const std::string& name) {
    auto made = registry_->create_things(Scope::everything(), {NewThing{.name = name}});
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    return made.ok() ? made->at(0) : IssuedThing{};
  }

  // A device that connected (the broker learns of a new thing just after the registry does).
  std::unique_ptr<Device> device(const IssuedThing& t, const std::string& key) {
    std::unique_ptr<Device> d;
    const bool ok = testing::eventually(
        [&] {
          d = std::make_unique<Device>(broker_, t.thing.id, key);
          return d->connect().ok();
        },
        kDeadline);
    EXPECT_TRUE(ok) << "thing " << t.thing.id << " could not connect";
    return d;
  }

  std::optional<runtime::LastValue> last(const std::string& series) {
    return harness_.runtime()->last_values().find("things", series);
  }
  bool arrives(const std::string& series) {
    return testing::eventually([&] { return last(series).has_value(); }, kDeadline);
  }

  testing::TempDir dir_;
  Mosquitto broker_;
  testing::ApiHarness harness_;
  Registry* registry_ = nullptr;
};

TEST_F(PlatformMqttTest, ConnectedThingPublishesAndTheSamplesLandLabelled) {
  const std::string c = channel("lab");
  const IssuedThing t = thing("reactor-1");
  ASSERT_TRUE(registry_->connect(Scope::everything(), {t.thing.id}, {c}).ok());
  auto d = device(t, t.key);
  ASSERT_TRUE(d);
  // SenML with a base name and relative times, and a plain JSON object on another subtopic.
  ASSERT_TRUE(d->publish("channels/" + c + "/messages/room1",
                         R"([{"bn":"reactor:","bt":1700000000,"n":"temp","u":"Cel","v":36.6},)"
                         R"({"n":"temp","t":1,"v":36.8}])"));
  ASSERT_TRUE(d->publish("channels/" + c + "/messages", R"({"ph": 7.1})"));
  ASSERT_TRUE(arrives(c + ".ph"));
  ASSERT_TRUE(arrives(c + ".room1.reactor:temp"));
  EXPECT_EQ(std::get<double>(last(c + ".room1.reactor:temp")->value), 36.8);
  EXPECT_EQ(std::get<double>(last(c + ".ph")->value), 7.1);

  std::optional<SeriesMeta> meta = harness_.runtime()->series().find(c + ".room1.reactor:temp");
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->unit, "Cel");
  EXPECT_EQ(meta->labels["channel"], c);
  EXPECT_EQ(meta->labels["channel_name"], "lab");
  EXPECT_EQ(meta->labels["subtopic"], "room1");
  EXPECT_EQ(meta->labels["protocol"], "mqtt");
  EXPECT_EQ(meta->labels.count("publisher"), 0u);  // the broker does not say who published
  EXPECT_EQ(detail("mqtt_messages"), "2");
  EXPECT_EQ(detail("mqtt_samples"), "3");
}

TEST_F(PlatformMqttTest, ThingNotConnectedCannotPublishOrSubscribeOnTheChannel) {
  const std::string open = channel("open");
  const std::string closed = channel("closed");
  const IssuedThing t = thing("sensor");
  ASSERT_TRUE(registry_->connect(Scope::everything(), {t.thing.id}, {open}).ok());
  auto d = device(t, t.key);
  ASSERT_TRUE(d);
  EXPECT_GE(d->subscribe("channels/" + closed + "/messages/#"), 0x80);
  EXPECT_LT(d->subscribe("channels/" + open + "/messages/#"), 0x80);
  ASSERT_TRUE(d->publish("channels/" + closed + "/messages", R"({"forbidden": 1})"));
  ASSERT_TRUE(d->publish("channels/" + open + "/messages", R"({"marker": 1})"));
  ASSERT_TRUE(arrives(open + ".marker"));
  EXPECT_FALSE(last(closed + ".forbidden").has_value());

  // A key that is not a thing's is refused by the broker.
  Device stranger(broker_, t.thing.id, std::string(kKeyHexLength, '0'));
  EXPECT_FALSE(stranger.connect().ok());
}

TEST_F(PlatformMqttTest, RotatedKeyDropsAndRefusesTheOldOne) {
  const std::string c = channel("lab");
  const IssuedThing t = thing("pump");
  ASSERT_TRUE(registry_->connect(Scope::everything(), {t.thing.id}, {c}).ok());
  auto old_device = device(t, t.key);
  ASSERT_TRUE(old_device);

  const auto rotated_at = std::chrono::steady_clock::now();
  Result<IssuedThing> rotated = registry_->rotate_key(Scope::everything(), t.thing.id);
  ASSERT_TRUE(rotated.ok()) << rotated.status().to_string();
  ASSERT_TRUE(testing::eventually([&] { return old_device->dropped(); }, kDeadline));
  std::cout << "rotation to dropped connection: "
            << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() -
                                                        rotated_at)
                   .count()
            << " ms\n";
  Device again(broker_, t.thing.id, t.key);
  EXPECT_FALSE(again.connect().ok());
  auto fresh = device(*rotated, rotated->key);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(fresh->publish("channels/" + c + "/messages", R"({"flow": 3.5})"));
  ASSERT_TRUE(arrives(c + ".flow"));
}

TEST_F(PlatformMqttTest, DisconnectDropsTheThingAndClosesTheChannel) {
  const std::string a = channel("a");
  const std::string b = channel("b");
  const IssuedThing t = thing("valve");
  ASSERT_TRUE(registry_->connect(Scope::everything(), {t.thing.id}, {a, b}).ok());
  auto d = device(t, t.key);
  ASSERT_TRUE(d);
  ASSERT_TRUE(registry_->disconnect(Scope::everything(), {t.thing.id}, {a}).ok());
  ASSERT_TRUE(testing::eventually([&] { return d->dropped(); }, kDeadline));

  auto again = device(t, t.key);  // the key still works; channel a no longer does
  ASSERT_TRUE(again);
  EXPECT_GE(again->subscribe("channels/" + a + "/messages/#"), 0x80);
  ASSERT_TRUE(again->publish("channels/" + a + "/messages", R"({"forbidden": 1})"));
  ASSERT_TRUE(again->publish("channels/" + b + "/messages", R"({"marker": 1})"));
  ASSERT_TRUE(arrives(b + ".marker"));
  EXPECT_FALSE(last(a + ".forbidden").has_value());
}

TEST_F(PlatformMqttTest, BadPayloadsAndUnknownChannelsAreCountedNotStored) {
  const std::string c = channel("lab");
  const IssuedThing t = thing("meter");
  ASSERT_TRUE(registry_->connect(Scope::everything(), {t.thing.id}, {c}).ok());
  auto d = device(t, t.key);
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->publish("channels/" + c + "/messages", "not json"));
  ASSERT_TRUE(d->publish("channels/" + c + "/messages", R"({"ok": 1})"));
  ASSERT_TRUE(arrives(c + ".ok"));
  EXPECT_EQ(detail("mqtt_refused"), "1");
  EXPECT_EQ(detail("mqtt_messages"), "2");  // received, the refused one too

  // A channel removed from the registry while the thing still holds its ACL for a moment.
  ASSERT_TRUE(registry_->remove_channel(Scope::everything(), c).ok());
  ASSERT_TRUE(testing::eventually([&] { return d->dropped(); }, kDeadline));
}

TEST_F(PlatformMqttTest, RemovedThingLosesItsClientAndThingsMadeWhileOffAreReported) {
  const std::string c = channel("lab");
  const IssuedThing gone = thing("gone");
  ASSERT_TRUE(registry_->connect(Scope::everything(), {gone.thing.id}, {c}).ok());
  auto d = device(gone, gone.key);
  ASSERT_TRUE(d);
  ASSERT_TRUE(registry_->remove_thing(Scope::everything(), gone.thing.id).ok());
  ASSERT_TRUE(testing::eventually([&] { return d->dropped(); }, kDeadline));
  Device again(broker_, gone.thing.id, gone.key);
  EXPECT_FALSE(again.connect().ok());

  // The adapter off: a thing made now cannot get a broker client (its key is not kept).
  ASSERT_TRUE(harness_.runtime()->set_enabled("things", false).ok());
  const IssuedThing late = thing("late");
  ASSERT_TRUE(registry_->connect(Scope::everything(), {late.thing.id}, {c}).ok());
  ASSERT_TRUE(harness_.runtime()->set_enabled("things", true).ok());
  ASSERT_TRUE(testing::eventually(
      [&] { return detail("mqtt_missing_clients").starts_with("1 (" + late.thing.id); }, kDeadline))
      << detail("mqtt_missing_clients");
  EXPECT_EQ(health().state, runtime::HealthState::kWarning);
  EXPECT_THAT(health().reason, HasSubstr("rotate their keys"));
  Device refused(broker_, late.thing.id, late.key);
  EXPECT_FALSE(refused.connect().ok());

  // The rotation the report asks for makes the client.
  Result<IssuedThing> rotated = registry_->rotate_key(Scope::everything(), late.thing.id);
  ASSERT_TRUE(rotated.ok());
  auto fixed = device(*rotated, rotated->key);
  ASSERT_TRUE(fixed);
  ASSERT_TRUE(testing::eventually([&] { return detail("mqtt_missing_clients") == "0"; }));
  ASSERT_TRUE(wait_healthy());
}

TEST_F(PlatformMqttTest, AThousandThingsProvisionedInBulkAllGetClients) {
  constexpr size_t kThings = 1000;
  const std::string c = channel("fleet");
  std::vector<NewThing> batch(kThings);
  for (size_t i = 0; i < kThings; ++i) batch[i].name = "device-" + std::to_string(i);
  const auto began = std::chrono::steady_clock::now();
  auto made = registry_->create_things(Scope::everything(), std::move(batch));
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  std::vector<std::string> ids;
  for (const IssuedThing& t : *made) ids.push_back(t.thing.id);
  ASSERT_TRUE(registry_->connect(Scope::everything(), ids, {c}).ok());
  ASSERT_TRUE(testing::eventually(
      [&] {
        return detail("mqtt_sync_pending") == "0" && std::stoull(detail("mqtt_synced")) >= kThings;
      },
      std::chrono::minutes(5)))
      << detail("mqtt_synced") << " " << detail("mqtt_last_sync_error");
  std::cout
      << kThings << " things into the broker: "
      << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - began).count()
      << " ms\n";
  // The first, the middle and the last can publish.
  for (const size_t i : {size_t{0}, kThings / 2, kThings - 1}) {
    auto d = device((*made)[i], (*made)[i].key);
    ASSERT_TRUE(d);
    ASSERT_TRUE(
        d->publish("channels/" + c + "/messages", fmt::format(R"({{"device{}": {}}})", i, i)));
    ASSERT_TRUE(arrives(fmt::format("{}.device{}", c, i)));
  }
  EXPECT_EQ(detail("mqtt_missing_clients"), "0");
}

TEST(PlatformMqttConfigTest, KeysAreCheckedAndNamed) {
  std::vector<runtime::ConfigError> errors;
  const std::string text = R"(
[store]
dir = "data"
[[sources]]
name = "things"
type = "platform"
mqtt_port = 1883
)";
  auto config = runtime::parse_config(text, "sluice.toml", cli::builtin_source_types(), &errors);
  EXPECT_FALSE(config.ok());
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors[0].message, HasSubstr("mqtt_host is not"));

  errors.clear();
  const std::string no_admin = R"(
[store]
dir = "data"
[[sources]]
name = "things"
type = "platform"
mqtt_host = "127.0.0.1"
)";
  config = runtime::parse_config(no_admin, "sluice.toml", cli::builtin_source_types(), &errors);
  EXPECT_FALSE(config.ok());
  std::string all;
  for (const auto& e : errors) all += e.key + ": " + e.message + "\n";
  EXPECT_THAT(all, HasSubstr("mqtt_admin_username"));
  EXPECT_THAT(all, HasSubstr("mqtt_admin_password_file"));
}

TEST(PlatformMqttTopicTest, TopicsAreParsedOrRefusedWithTheReason) {
  auto t = parse_channel_topic("channels/abc/messages");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->channel, "abc");
  EXPECT_EQ(t->subtopic, "");
  t = parse_channel_topic("channels/abc/messages/room1/temp");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->subtopic, "room1/temp");
  EXPECT_FALSE(parse_channel_topic("channels/abc/messagesX").ok());
  EXPECT_FALSE(parse_channel_topic("channels//messages").ok());
  EXPECT_FALSE(parse_channel_topic("other/abc/messages").ok());
  EXPECT_FALSE(parse_channel_topic("channels/abc/messages/a//b").ok());
}

}  // namespace
}  // namespace sluice::platform
