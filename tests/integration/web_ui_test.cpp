// The web UI end to end: a real `sluice run` (simulator source, files sink) with a user made by
// `sluice user add`, driven by tests/e2e/ui.test.mjs in Debian's headless Chromium through
// playwright-core (web/node_modules, from scripts/setup). The script logs in, sees the simulator
// RUNNING/HEALTHY, the series chart move, a session paused and unpaused, a purge confirmed, a bad
// setting's error next to its field, edge control built from its pages, a set point written
// and an operation run on a real Modbus device (pymodbus) from the control page (read back here
// from the device), the device platform provisioned from its pages (an organization, a channel,
// things with their keys shown once, connections) with the script sending messages with those
// keys to the HTTP adapter (the platform source "things"), device bootstrap configs made, turned
// off and on, edited and deleted from the Bootstrap pages with the script bootstrapping as the
// device (GET /things/bootstrap/<external id>), and no console error. Its screenshots
// are kept in <build>/test-artifacts/web_ui/ (copied there whether the test passes or fails).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <modbus/modbus.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "fixtures/modbus_peer.h"
#include "fixtures/sluice_process.h"
#include "fixtures/test_support.h"

namespace sluice {
namespace {

using testing::eventually;
using testing::run_command;
using testing::source_dir;
using testing::TempDir;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kUser = "ops-admin";
constexpr const char* kPassword = "a long test password";

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The port from the line "API listening on http://127.0.0.1:PORT" of Sluice's log; 0 until then.
int api_port(const std::string& log) {
  static const std::regex kListening(R"(API listening on http://127\.0\.0\.1:(\d+))");
  std::smatch m;
  return std::regex_search(log, m, kListening) ? std::stoi(m[1]) : 0;
}

TEST(WebUiTest, AdminLogsInWatchesSeriesPausesPurgesAndEditsSettingsInChromium) {
  namespace fs = std::filesystem;
  const std::string web = source_dir() + "/web";
  if (!fs::exists(web + "/node_modules/playwright-core") || !fs::exists(kChromium) ||
      run_command("node --version").exit_code != 0) {
    // A missing peer is a failed set-up, never a silent skip.
    FAIL() << "needs node, " << kChromium << " and " << web
           << "/node_modules (playwright-core): run scripts/setup";
  }
  TempDir tmp;
  // The fan: coil 0 turns it on, holding register 1 is its speed; off and still at first.
  testing::ModbusPeer fan(tmp.path(), {.image_json = R"({"hr": {"1": [0]}, "co": {"0": [false]}})"});
  std::ofstream(tmp.file("sluice.toml")) << R"([store]
dir = "store"
[log]
status_interval = 0
[api]
listen = "127.0.0.1:0"
[[sources]]
name = "sim"
type = "simulator"
rate = 200
series = 3
asset = "line1"
shape = "sine"
period = "20s"
[[sources]]
name = "fan"
type = "modbus"
[[sources.devices]]
name = "fan-drive"
asset = "Fan"
host = "127.0.0.1"
port = )" + std::to_string(fan.port()) + R"(
unit_id = 1
interval = "200ms"
items = [
  { name = "speed", holding_register = 1, type = "uint16" },
  { name = "on", coil = 0 },
]
values = [
  { name = "on", coil = 0 },
  { name = "speed", register = 1, type = "uint16" },
]
operations = [
  { name = "boost", writes = [{ name = "speed", value = 1500 }, { name = "on", value = true }] },
]
[[sources]]
name = "things"
type = "platform"
[[sinks]]
name = "lake"
type = "files"
dir = "lake"
interval = "1h"
sources = ["sim"]
[[rules]]
name = "sine-high"
type = "threshold"
series = "line1.sine0"
comparison = ">"
threshold = 2.0
[[notifications]]
name = "sine-alarm"
rule = "sine-high"
[[notifications.deliveries]]
type = "log"
level = "info"
)";
  const testing::CommandResult added = run_command(
      "printf '%s\\n' " + quote(kPassword) + " | " + testing::sluice_binary() + " user add " +
      kUser + " --role admin --config " + quote(tmp.file("sluice.toml")));
  ASSERT_EQ(added.exit_code, 0) << added.output;

  setenv("SLUICE_WEB_DIR", web.c_str(), 1);  // the child serves this checkout's UI
  testing::SluiceProcess sluice(tmp.file("sluice.toml"), tmp.file("sluice.log"));
  ASSERT_TRUE(eventually([&] { return api_port(sluice.log()) != 0; }, std::chrono::seconds(30)))
      << sluice.log();
  const std::string base = "http://127.0.0.1:" + std::to_string(api_port(sluice.log()));

  const std::string shots = tmp.file("screenshots");
  const testing::CommandResult ui =
      run_command("timeout 120 node " + quote(source_dir() + "/tests/e2e/ui.test.mjs") + " " +
                  quote(base) + " " + quote(kUser) + " " + quote(kPassword) + " " + quote(shots));

  // The screenshots are the test's artifacts: kept in the build folder, pass or fail.
  const fs::path artifacts = fs::path(SLUICE_TEST_ARTIFACTS_DIR) / "web_ui";
  std::error_code ec;
  fs::remove_all(artifacts, ec);
  fs::create_directories(artifacts, ec);
  fs::copy(shots, artifacts, fs::copy_options::recursive | fs::copy_options::overwrite_existing,
           ec);
  EXPECT_FALSE(ec) << "copying the screenshots to " << artifacts << ": " << ec.message();

  EXPECT_EQ(ui.exit_code, 0) << ui.output << "\n--- sluice log ---\n" << sluice.log();
  // What the control page did is on the device: the operation "boost" with speed=1800 ran last.
  modbus_t* device = modbus_new_tcp("127.0.0.1", fan.port());
  ASSERT_NE(device, nullptr);
  ASSERT_EQ(modbus_connect(device), 0) << modbus_strerror(errno);
  uint16_t speed = 0;
  uint8_t on = 0;
  EXPECT_EQ(modbus_read_registers(device, 1, 1, &speed), 1);
  EXPECT_EQ(modbus_read_bits(device, 0, 1, &on), 1);
  modbus_close(device);
  modbus_free(device);
  EXPECT_EQ(speed, 1800);
  EXPECT_EQ(on, 1);
  EXPECT_THAT(ui.output, ::testing::HasSubstr("all checks passed"));
  std::cout << ui.output;  // the steps and their times, and any SKIPPED check
  EXPECT_EQ(sluice.terminate(), 0) << sluice.log();
}

}  // namespace
}  // namespace sluice
