// The fan example end to end, with a real Modbus TCP device (pymodbus, tests/fixtures/
// modbus_server.py): holding register 0 holds the motor's temperature, coil 0 the fan and holding
// register 1 the fan's speed. Sluice polls the device (a modbus source, asset "Motor"), the rule
// "hot" triggers above 35, and the toggled notification "cooling" writes fan = true and
// speed = 1200 to the same source; when the temperature drops (the test plays the physics and
// writes the register), the cleared values fan = false and speed = 0 are written. All of it
// configured in the config file, as an operator would, and run by the same control plane as
// `sluice run`.
#include <gtest/gtest.h>
#include <modbus/modbus.h>

#include <fmt/format.h>

#include "fixtures/api_harness.h"
#include "fixtures/modbus_peer.h"
#include "fixtures/test_support.h"

namespace sluice::testing {
namespace {

// The test's own Modbus client: what the plant's physics does and what the device shows.
class Device {
 public:
  explicit Device(int port) : ctx_(modbus_new_tcp("127.0.0.1", port)) {
    if (ctx_ == nullptr || modbus_connect(ctx_) != 0) throw std::runtime_error("modbus connect");
  }
  ~Device() {
    modbus_close(ctx_);
    modbus_free(ctx_);
  }
  void set_temperature(uint16_t t) { ASSERT_EQ(modbus_write_register(ctx_, 0, t), 1); }
  std::optional<uint16_t> speed() {
    uint16_t v = 0;
    if (modbus_read_registers(ctx_, 1, 1, &v) != 1) return std::nullopt;
    return v;
  }
  std::optional<bool> fan() {
    uint8_t v = 0;
    if (modbus_read_bits(ctx_, 0, 1, &v) != 1) return std::nullopt;
    return v != 0;
  }

 private:
  modbus_t* ctx_;
};

std::string fan_config(const TempDir& dir, int port) {
  return fmt::format(R"(
[store]
dir = "{}"

[[sources]]
name = "motor"
type = "modbus"

[[sources.devices]]
name = "drive"
asset = "Motor"
host = "127.0.0.1"
port = {}
unit_id = 1
interval = "50ms"
items = [
  {{ name = "temperature", holding_register = 0, type = "uint16" }},
  {{ name = "speed", holding_register = 1, type = "uint16" }},
  {{ name = "fan", coil = 0 }},
]
values = [
  {{ name = "fan", coil = 0 }},
  {{ name = "speed", register = 1, type = "uint16" }},
]

[[rules]]
name = "hot"
type = "threshold"
series = "Motor.temperature"
comparison = ">"
threshold = 35

[[notifications]]
name = "cooling"
rule = "hot"
type = "toggled"

[[notifications.deliveries]]
type = "set_point"
service = "motor"
trigger_values = {{ fan = true, speed = 1200 }}
cleared_values = {{ fan = false, speed = 0 }}

[[notifications.deliveries]]
type = "log"
text = "motor at $Motor.temperature$ degrees: fan $state$"
)",
                     dir.file("data"), port);
}

TEST(EdgeControlFanTest, TheMotorOverheatsTheFanTurnsOnItCoolsTheFanTurnsOff) {
  TempDir dir;
  ModbusPeer peer(dir.path(), {.image_json = R"({"hr": {"0": [30, 0]}, "co": {"0": [false]}})"});
  ApiHarness sluice;
  ASSERT_TRUE(sluice.start(dir, fan_config(dir, peer.port()), {.serve = false, .control = true}));
  Device device(peer.port());

  // Cool: Sluice polls, the rule evaluates and stays clear; nothing is written.
  ASSERT_TRUE(eventually([&] {
    auto n = sluice.control()->engine().notifications();
    return !n.empty() && n[0].state.evaluations >= 3;
  }));
  EXPECT_EQ(device.fan(), false);
  EXPECT_EQ(device.speed(), 0);

  // The motor overheats: the fan turns on at 1200 RPM.
  device.set_temperature(45);
  ASSERT_TRUE(eventually([&] { return device.fan() == true && device.speed() == 1200; }))
      << "fan " << device.fan().value_or(false) << ", speed " << device.speed().value_or(0);

  // It cools: the fan turns off.
  device.set_temperature(25);
  ASSERT_TRUE(eventually([&] { return device.fan() == false && device.speed() == 0; }))
      << "fan " << device.fan().value_or(true) << ", speed " << device.speed().value_or(0);

  const auto notes = sluice.control()->engine().notifications();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].state.sent_triggered, 1u);
  EXPECT_EQ(notes[0].state.sent_cleared, 1u);
  ASSERT_EQ(notes[0].deliveries.size(), 2u);
  EXPECT_EQ(notes[0].deliveries[0].sent, 2u);  // the trigger and the cleared writes
  EXPECT_EQ(notes[0].deliveries[0].failed, 0u) << notes[0].deliveries[0].last_error;
  const control::DispatcherStats stats = sluice.control()->dispatcher().stats();
  EXPECT_EQ(stats.ok, 2u);
  EXPECT_EQ(stats.failed, 0u);
}

TEST(EdgeControlFanTest, AWriteToAServiceThatIsDownIsRefusedWithTheReasonAndCounted) {
  TempDir dir;
  ModbusPeer peer(dir.path(), {.image_json = R"({"hr": {"0": [30, 0]}, "co": {"0": [false]}})"});
  ApiHarness sluice;
  ASSERT_TRUE(sluice.start(dir, fan_config(dir, peer.port()), {.serve = false, .control = true}));
  ASSERT_TRUE(eventually([&] {
    auto n = sluice.control()->engine().notifications();
    return !n.empty() && n[0].state.evaluations >= 1;
  }));
  ASSERT_TRUE(sluice.runtime()->set_enabled("motor", false).ok());
  runtime::ControlRequest request;
  request.target = {runtime::ControlTarget::Kind::kService, "motor"};
  request.values = {{"fan", true}};
  Result<runtime::ControlOutcome> r =
      sluice.control()->dispatcher().dispatch(request, runtime::Caller::user("ada", "operator"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("motor"), std::string::npos) << r.status().message();
  EXPECT_EQ(sluice.control()->dispatcher().stats().refused_unavailable, 1u);
}

}  // namespace
}  // namespace sluice::testing
