// Tag units from the KEPServerEX Configuration API, end to end: a stand-in for the API
// (tests/fixtures/fake_kepware_config_api.py, a Python http.server with basic auth answering the
// documented tags collections), a real mosquitto, Kepware IoT Gateway JSON, the mqtt source
// with units_api_url, the state database and the files sink. Plus the pure pieces: tag id
// split, percent-encoding, the JSON of a tags collection.
#include "sources/mqtt/kepware_units.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

#include "cli/builtin_sources.h"
#include "fixtures/fake_kepware.h"
#include "fixtures/mosquitto.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"
#include "sources/mqtt/mqtt_source.h"

namespace sluice {
namespace {

using testing::eventually;

namespace fs = std::filesystem;

using testing::FakeKepwareConfigApi;

// One IoT Gateway message with Temp, Pressure and Group1.Flow of Channel1.Device1 at `t_ms`.
std::string kepware_message(int64_t t_ms, int value) {
  return fmt::format(R"({{"timestamp":{0},"values":[)"
                     R"({{"id":"Channel1.Device1.Temp","v":{1},"q":true,"t":{0}}},)"
                     R"({{"id":"Channel1.Device1.Pressure","v":{2},"q":true,"t":{0}}},)"
                     R"({{"id":"Channel1.Device1.Group1.Flow","v":{3},"q":true,"t":{0}}}]}})",
                     t_ms, value, value + 1, value + 2);
}

// Every CSV row under `dir` (without the header and the trailing CR).
std::vector<std::string> csv_lines(const std::string& dir) {
  std::vector<std::string> lines;
  if (!fs::exists(dir)) return lines;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".csv") continue;
    std::ifstream in(entry.path());
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  }
  return lines;
}

// The config of a Kepware mqtt source with tag units from `api_url`, and a files sink.
std::string config_text(const std::string& dir, int broker_port, const std::string& api_url,
                        const std::string& password) {
  return fmt::format(R"(
[store]
dir = "{0}/data"
[log]
status_interval = 0
[[sources]]
name = "kepware"
type = "mqtt"
host = "127.0.0.1"
port = {1}
topic = "iotgateway/#"
qos = 1
format = "kepware"
units_api_url = "{2}"
units_api_username = "Administrator"
units_api_password = "{3}"
units_refresh = "1h"
[[sinks]]
name = "lake"
type = "files"
dir = "{0}/lake"
interval = "1s"
allow_short_interval = true
)",
                     dir, broker_port, api_url, password);
}

std::string unit_of(runtime::Runtime& rt, const std::string& series) {
  auto meta = rt.series().find(series);
  return meta ? meta->unit : std::string();
}

TEST(KepwareUnitsTest, UnitsFromTheConfigurationApiReachTheStateDatabaseAndLaterCsvRows) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/broker");
  testing::Mosquitto broker(dir.path() + "/broker", {});
  FakeKepwareConfigApi api(dir.path(), "Administrator", "kep-pass");
  auto config = runtime::parse_config(config_text(dir.path(), broker.port(), api.url(), "kep-pass"),
                                      dir.file("sluice.toml"), cli::builtin_source_types());
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto rt = runtime::Runtime::open(*config);
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] {
    auto s = (*rt)->sources();
    return !s.empty() && s[0].health.state == runtime::HealthState::kHealthy;
  }));

  broker.publish("iotgateway/line1", kepware_message(1'700'000'000'000, 10), 1);
  ASSERT_TRUE(eventually([&] {
    return unit_of(**rt, "Channel1.Device1.Temp") == "DegC" &&
           unit_of(**rt, "Channel1.Device1.Pressure") == "bar" &&
           unit_of(**rt, "Channel1.Device1.Group1.Flow") == "m3/h";
  })) << "units: '"
      << unit_of(**rt, "Channel1.Device1.Temp") << "' '"
      << unit_of(**rt, "Channel1.Device1.Pressure") << "' '"
      << unit_of(**rt, "Channel1.Device1.Group1.Flow") << "'; health "
      << (*rt)->sources()[0].health.reason;
  EXPECT_EQ((*rt)->series().find("Channel1.Device1.Temp")->source, "kepware");

  // Written after the units arrived: every row carries its tag's unit.
  broker.publish("iotgateway/line1", kepware_message(1'700'000'100'000, 20), 1);
  std::vector<std::string> lines;
  ASSERT_TRUE(eventually([&] {
    lines = csv_lines(dir.path() + "/lake");
    return std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
             return l.starts_with("2023-11-14T22:15:00.000Z");
           }) == 3;
  })) << lines.size()
      << " rows";
  const auto health = (*rt)->sources()[0].health;
  ASSERT_TRUE((*rt)->stop().ok());

  std::vector<std::string> later;
  for (const std::string& l : lines) {
    if (l.starts_with("2023-11-14T22:15:00.000Z")) later.push_back(l);
  }
  std::sort(later.begin(), later.end());
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[0], "2023-11-14T22:15:00.000Z,Channel1.Device1.Group1.Flow,22,Good,m3/h");
  EXPECT_EQ(later[1], "2023-11-14T22:15:00.000Z,Channel1.Device1.Pressure,21,Good,bar");
  EXPECT_EQ(later[2], "2023-11-14T22:15:00.000Z,Channel1.Device1.Temp,20,Good,DegC");
  EXPECT_EQ(health.state, runtime::HealthState::kHealthy) << health.reason;

  // One GET for the device and one for its tag group, with the documented paths.
  const std::vector<std::string> requests = api.requests();
  EXPECT_EQ(std::count(requests.begin(), requests.end(),
                       "/config/v1/project/channels/Channel1/devices/Device1/tags"),
            1);
  EXPECT_EQ(
      std::count(requests.begin(), requests.end(),
                 "/config/v1/project/channels/Channel1/devices/Device1/tag_groups/Group1/tags"),
      1);
}

TEST(KepwareUnitsTest, WrongPasswordShowsWarningNaming401AndDataStillFlows) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/broker");
  testing::Mosquitto broker(dir.path() + "/broker", {});
  FakeKepwareConfigApi api(dir.path(), "Administrator", "kep-pass");
  auto config = runtime::parse_config(config_text(dir.path(), broker.port(), api.url(), "wrong"),
                                      dir.file("sluice.toml"), cli::builtin_source_types());
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto rt = runtime::Runtime::open(*config);
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] {
    auto s = (*rt)->sources();
    return !s.empty() && s[0].health.state == runtime::HealthState::kHealthy;
  }));

  broker.publish("iotgateway/line1", kepware_message(1'700'000'000'000, 10), 1);
  ASSERT_TRUE(eventually([&] {
    const auto h = (*rt)->sources()[0].health;
    return h.state == runtime::HealthState::kWarning && h.reason.find("401") != std::string::npos;
  })) << (*rt)->sources()[0].health.reason;
  // The samples are stored and written all the same, without units.
  broker.publish("iotgateway/line1", kepware_message(1'700'000'100'000, 20), 1);
  std::vector<std::string> lines;
  ASSERT_TRUE(eventually([&] {
    lines = csv_lines(dir.path() + "/lake");
    return lines.size() == 6;
  })) << lines.size()
      << " rows";
  EXPECT_GE((*rt)->sources()[0].samples, 6u);
  const auto health = (*rt)->sources()[0].health;
  ASSERT_TRUE((*rt)->stop().ok());
  EXPECT_NE(health.reason.find("units_api_password"), std::string::npos) << health.reason;
  for (const std::string& l : lines) EXPECT_TRUE(l.ends_with(",Good,")) << l;
  EXPECT_EQ(unit_of(**rt, "Channel1.Device1.Temp"), "");
}

TEST(KepwareUnitsTest, UnitsKeysWithoutUrlOrWithABadUrlAreConfigErrorsNamingTheKey) {
  const auto errors = [](const std::string& keys) {
    const std::string text =
        "[store]\ndir = \"data\"\n[[sources]]\nname = \"k\"\ntype = "
        "\"mqtt\"\ntopic = \"iotgateway/#\"\n" +
        keys;
    std::vector<runtime::ConfigError> out;
    auto config = runtime::parse_config(text, "plant.toml", cli::builtin_source_types(), &out);
    EXPECT_FALSE(config.ok()) << keys;
    std::string keys_named;
    for (const auto& e : out) keys_named += e.key + ";";
    return keys_named;
  };
  EXPECT_EQ(errors("units_refresh = \"10m\"\n"), "sources[0].units_refresh;");
  EXPECT_EQ(errors("units_api_url = \"kepware:57412\"\n"), "sources[0].units_api_url;");
  EXPECT_EQ(errors("units_api_url = \"http://k:57412\"\nunits_api_password = \"x\"\n"),
            "sources[0].units_api_password;");

  const std::string good =
      "[store]\ndir = \"data\"\n[[sources]]\nname = \"k\"\ntype = \"mqtt\"\ntopic = "
      "\"iotgateway/#\"\nunits_api_url = \"https://k:57512\"\nunits_api_username = \"u\"\n"
      "units_api_password = \"p\"\nunits_api_insecure_skip_verify = true\nunits_refresh = "
      "\"10m\"\n";
  auto config = runtime::parse_config(good, "plant.toml", cli::builtin_source_types());
  ASSERT_TRUE(config.ok()) << config.status().message();
  const auto& o =
      dynamic_cast<const sources::MqttSettings&>(*config->sources.at(0).settings).options();
  EXPECT_EQ(o.units_api.url, "https://k:57512");
  EXPECT_EQ(o.units_api.username, "u");
  EXPECT_EQ(o.units_api.password, "p");
  EXPECT_TRUE(o.units_api.insecure_skip_verify);
  EXPECT_EQ(o.units_api.refresh, std::chrono::minutes(10));
}

TEST(KepwareUnitsTest, TagIdSplitsIntoChannelDeviceGroupsAndTag) {
  auto p = sources::parse_kepware_tag_id("Channel1.Device1.Group1.Sub.Tag1");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->channel, "Channel1");
  EXPECT_EQ(p->device, "Device1");
  EXPECT_EQ(p->groups, (std::vector<std::string>{"Group1", "Sub"}));
  EXPECT_EQ(p->tag, "Tag1");
  EXPECT_FALSE(sources::parse_kepware_tag_id("Channel1.Tag1").has_value());
  EXPECT_FALSE(sources::parse_kepware_tag_id("Channel1..Tag1").has_value());
  EXPECT_FALSE(sources::parse_kepware_tag_id("Channel1.Device1._System._Error").has_value());
}

TEST(KepwareUnitsTest, UrlPathSegmentsArePercentEncoded) {
  sources::KepwareTagPath p{"Line A", "PLC/1", {"Zone#2", "50%"}, ""};
  EXPECT_EQ(sources::kepware_tags_url("https://kepware:57512/", p),
            "https://kepware:57512/config/v1/project/channels/Line%20A/devices/PLC%2F1/"
            "tag_groups/Zone%232/tag_groups/50%25/tags");
}

TEST(KepwareUnitsTest, TagsCollectionGivesUnitsByNameAndRejectsNonArrays) {
  auto units = sources::parse_kepware_tags(
      R"([{"PROJECT_ID":1,"common.ALLTYPES_NAME":"Temp","servermain.TAG_SCALING_UNITS":"DegC"},)"
      R"({"common.ALLTYPES_NAME":"Raw"},{"servermain.TAG_SCALING_UNITS":"nameless"}])");
  ASSERT_TRUE(units.ok()) << units.status().message();
  EXPECT_EQ(*units, (std::map<std::string, std::string>{{"Temp", "DegC"}, {"Raw", ""}}));
  EXPECT_FALSE(sources::parse_kepware_tags(R"({"code":401,"message":"Unauthorized"})").ok());
  EXPECT_FALSE(sources::parse_kepware_tags("[{").ok());
}

}  // namespace
}  // namespace sluice
