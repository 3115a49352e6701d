// The modbus source's config (sources/modbus/modbus_config.cpp, modbus_map.h): devices with
// inline maps and JSON map files, and errors that name the key, in the config file and in the
// map file alike.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "cli/builtin_sources.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "sources/modbus/modbus_source.h"

namespace sluice::sources {
namespace {

using runtime::Config;
using runtime::ConfigError;
using ::testing::HasSubstr;

const modbus::ModbusOptions& options_of(const Config& c, size_t source = 0) {
  const auto* s = dynamic_cast<const ModbusSettings*>(c.sources.at(source).settings.get());
  EXPECT_NE(s, nullptr);
  static const modbus::ModbusOptions kNone;
  return s != nullptr ? s->options() : kNone;
}

Result<Config> parse(std::string_view text, std::string_view file = "/etc/sluice/plant.toml",
                     std::vector<ConfigError>* errors = nullptr) {
  return runtime::parse_config(text, file, cli::builtin_source_types(), errors);
}

std::vector<ConfigError> errors_of(std::string_view text,
                                   std::string_view file = "/etc/sluice/plant.toml") {
  std::vector<ConfigError> errors;
  Result<Config> c = parse(text, file, &errors);
  EXPECT_FALSE(c.ok()) << "expected errors in:\n" << text;
  return errors;
}

constexpr std::string_view kHeader = R"(
[store]
dir = "/tmp/unused"
[[sources]]
name = "plc"
type = "modbus"
)";

TEST(ModbusConfigTest, InlineDeviceWithGroupsValuesAndOperations) {
  const std::string text = std::string(kHeader) + R"(
[[sources.devices]]
name = "press1"
host = "10.0.0.5"
port = 1502
unit_id = 7
timeout = "250ms"
interval = "2s"
order = "CDAB"
max_gap = 4
[[sources.devices.groups]]
name = "fast"
interval = "100ms"
[[sources.devices.items]]
name = "pressure"
holding_register = 100
type = "float32"
group = "fast"
unit = "bar"
[[sources.devices.items]]
name = "count"
input_register = 10
type = "uint32"
order = "ABCD"
asset = "line1"
[[sources.devices.items]]
name = "running"
coil = 3
[[sources.devices.values]]
name = "run"
coil = 1
[[sources.devices.values]]
name = "speed"
register = 1
type = "int16"
scale = 0.1
[[sources.devices.operations]]
name = "start"
writes = [{ name = "speed", value = 50.5 }, { name = "run", value = true }]
)";
  Result<Config> c = parse(text);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const modbus::ModbusOptions& o = options_of(*c);
  ASSERT_EQ(o.devices.size(), 1u);
  const modbus::DeviceOptions& d = o.devices[0];
  EXPECT_EQ(d.host, "10.0.0.5");
  EXPECT_EQ(d.port, 1502);
  EXPECT_EQ(d.unit_id, 7);
  EXPECT_EQ(d.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(d.plan.max_gap, 4);
  ASSERT_EQ(d.map.groups.size(), 2u);
  EXPECT_EQ(d.map.groups[0].interval, std::chrono::seconds(2));
  EXPECT_EQ(d.map.groups[1].interval, std::chrono::milliseconds(100));
  ASSERT_EQ(d.map.items.size(), 3u);
  EXPECT_EQ(d.map.items[0].series, "press1.pressure");
  EXPECT_EQ(d.map.items[0].group, 1u);
  EXPECT_EQ(d.map.items[0].enc.table, modbus::Table::kHoldingRegister);
  EXPECT_TRUE(d.map.items[0].enc.order.swap_words);  // the device's order
  EXPECT_EQ(d.map.items[1].series, "line1.count");
  EXPECT_FALSE(d.map.items[1].enc.order.swap_words);
  EXPECT_EQ(d.map.items[2].enc.type, modbus::DataType::kBool);
  ASSERT_EQ(d.map.values.size(), 2u);
  EXPECT_EQ(d.map.values[1].enc.scale, 0.1);
  ASSERT_EQ(d.map.operations.size(), 1u);
  ASSERT_EQ(d.map.operations[0].writes.size(), 2u);
  EXPECT_EQ(std::get<double>(d.map.operations[0].writes[0].fixed), 50.5);
  EXPECT_EQ(std::get<bool>(d.map.operations[0].writes[1].fixed), true);

  Result<std::unique_ptr<runtime::Source>> src = c->sources[0].settings->create("plc");
  ASSERT_TRUE(src.ok());
  const std::vector<runtime::ControlPoint> points = (*src)->control_points();
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].name, "run");
  EXPECT_EQ(points[0].type, ValueType::kBool);
  EXPECT_EQ(points[1].type, ValueType::kDouble);
  EXPECT_THAT(points[1].description, HasSubstr("holding register 1 (int16, x0.1)"));
  EXPECT_EQ(points[2].kind, runtime::ControlPoint::Kind::kOperation);
  EXPECT_EQ((*src)->write("run", Value(true)).code(), Code::kUnavailable);  // not running
}

TEST(ModbusConfigTest, ErrorsNameTheKeyInsideDevicesAndItems) {
  const std::string text = std::string(kHeader) + R"(
[[sources.devices]]
name = "press1"
port = 70000
[[sources.devices.items]]
name = "a"
holding_register = 1
type = "float33"
[[sources.devices.items]]
name = "b"
coil = 1
type = "int16"
[[sources.devices.items]]
name = "c"
input_register = 2
group = "nope"
[[sources.devices.items]]
name = "d"
holding_register = 65535
type = "int32"
[[sources.devices.items]]
name = "e"
input_register = 1
holding_register = 2
[[sources.devices.items]]
name = "f"
input_register = 1
type = "string"
[[sources.devices.items]]
name = "g"
input_register = 1
ordre = "CDAB"
[[sources.devices.values]]
name = "h"
input_register = 1
)";
  const std::vector<ConfigError> errors = errors_of(text);
  std::map<std::string, std::string> by_key;
  for (const ConfigError& e : errors) by_key[e.key] += e.message + "|";
  EXPECT_THAT(by_key["sources[0].devices[0].host"], HasSubstr("missing"));
  EXPECT_THAT(by_key["sources[0].devices[0].port"], HasSubstr("expected a TCP port"));
  EXPECT_THAT(by_key["sources[0].devices[0].items[0].type"], HasSubstr("got \"float33\""));
  EXPECT_THAT(by_key["sources[0].devices[0].items[1].type"], HasSubstr("its type is bool"));
  EXPECT_THAT(by_key["sources[0].devices[0].items[2].group"], HasSubstr("no poll group 'nope'"));
  EXPECT_THAT(by_key["sources[0].devices[0].items[3].type"], HasSubstr("past address 65535"));
  EXPECT_THAT(by_key["sources[0].devices[0].items[4].holding_register"], HasSubstr("not several"));
  EXPECT_THAT(by_key["sources[0].devices[0].items[5].length"], HasSubstr("missing"));
  EXPECT_THAT(by_key["sources[0].devices[0].items[6].ordre"], HasSubstr("did you mean 'order'"));
  EXPECT_THAT(by_key["sources[0].devices[0].values[0].input_register"], HasSubstr("read-only"));
  for (const ConfigError& e : errors) EXPECT_GT(e.line, 0) << e.to_string();
}

TEST(ModbusConfigTest, DuplicateSeriesAndControlNamesAcrossDevicesAreRefused) {
  const std::string text = std::string(kHeader) + R"(
[[sources.devices]]
name = "a"
host = "h1"
asset = "line"
items = [{ name = "x", holding_register = 0 }]
values = [{ name = "run", coil = 0 }]
[[sources.devices]]
name = "b"
host = "h2"
asset = "line"
items = [{ name = "x", holding_register = 0 }]
values = [{ name = "run", coil = 0 }]
)";
  const std::vector<ConfigError> errors = errors_of(text);
  std::string all;
  for (const ConfigError& e : errors) all += e.to_string() + "\n";
  EXPECT_THAT(all, HasSubstr("series 'line.x' is polled twice (also by device 'a')"));
  EXPECT_THAT(all, HasSubstr("'run' is also a set point of device 'a'"));
}

TEST(ModbusConfigTest, MapFileErrorsNameTheFileAndTheKey) {
  testing::TempDir dir;
  {
    std::ofstream f(dir.file("bad.json"));
    f << R"({"items": [{"name": "v", "input_register": 0, "type": "float32", "order": "ABDC"},
                       {"name": "w", "input_register": 2, "scael": 2}],
             "operations": [{"name": "go", "writes": [{"name": "missing", "value": 1}]}]})";
  }
  const std::string text = std::string(kHeader) + R"(
[[sources.devices]]
name = "m"
host = "h"
map_file = "bad.json"
)";
  const std::vector<ConfigError> errors = errors_of(text, dir.file("plant.toml"));
  std::string all;
  for (const ConfigError& e : errors) {
    EXPECT_EQ(e.key, "sources[0].devices[0].map_file");
    all += e.message + "\n";
  }
  EXPECT_THAT(all, HasSubstr("in " + dir.file("bad.json") +
                             ": key 'items[0].order': expected a "
                             "byte order"));
  EXPECT_THAT(all, HasSubstr("key 'items[1].scael': unknown key"));
  EXPECT_THAT(all, HasSubstr("key 'operations[0].writes[0].name': no set point 'missing'"));

  const std::vector<ConfigError> missing = errors_of(std::string(kHeader) + R"(
[[sources.devices]]
name = "m"
host = "h"
map_file = "nope.json"
)",
                                                     dir.file("plant.toml"));
  ASSERT_FALSE(missing.empty());
  EXPECT_EQ(missing[0].key, "sources[0].devices[0].map_file");
  EXPECT_THAT(missing[0].message, HasSubstr("cannot read " + dir.file("nope.json")));
}

TEST(ModbusConfigTest, ConfigGroupsOverrideTheMapFilesIntervals) {
  modbus::DeviceMap map;
  map.groups.push_back({"", std::chrono::seconds(1)});
  map.groups.push_back({"slow", std::chrono::seconds(30)});  // as the config file gave it
  const std::vector<std::string> errors = modbus::parse_json_map(
      R"({"groups": [{"name": "slow", "interval": "10s"}, {"name": "fast", "interval": "50ms"}],
          "items": [{"name": "e", "input_register": 72, "type": "float32", "group": "slow"},
                    {"name": "f", "input_register": 70, "type": "float32", "group": "fast"}]})",
      {"meter", {}}, &map);
  EXPECT_TRUE(errors.empty()) << errors.front();
  ASSERT_EQ(map.groups.size(), 3u);
  EXPECT_EQ(map.groups[1].interval, std::chrono::seconds(30));
  EXPECT_EQ(map.groups[2].interval, std::chrono::milliseconds(50));
  EXPECT_EQ(map.items[0].group, 1u);
  EXPECT_EQ(map.items[1].group, 2u);
  EXPECT_EQ(map.items[1].series, "meter.f");
}

TEST(ModbusConfigTest, BrokenJsonIsOneClearError) {
  modbus::DeviceMap map;
  std::vector<std::string> errors = modbus::parse_json_map(R"({"items": [)", {"a", {}}, &map);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("not valid JSON"));
  errors = modbus::parse_json_map("[1, 2]", {"a", {}}, &map);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("expected a JSON object"));
}

TEST(ModbusConfigTest, TheShippedSdm630ExampleIsValid) {
  Result<Config> c = runtime::load_config(testing::source_dir() + "/examples/modbus/sdm630.toml",
                                          cli::builtin_source_types());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const modbus::DeviceOptions& d = options_of(*c).devices.at(0);
  ASSERT_EQ(d.map.items.size(), 17u);
  for (const modbus::Item& item : d.map.items) {
    EXPECT_EQ(item.enc.table, modbus::Table::kInputRegister) << item.series;
    EXPECT_EQ(item.enc.type, modbus::DataType::kFloat32) << item.series;
    EXPECT_EQ(item.enc.order, modbus::Order{}) << item.series;
  }
  EXPECT_EQ(d.map.items[0].series, "meter1.voltage_l1");
  EXPECT_EQ(d.map.items[13].series, "meter1.frequency");
  EXPECT_EQ(d.map.items[13].enc.address, 70);
  EXPECT_EQ(d.map.items[14].unit, "kWh");
  // One request of 76 registers for the map's 16 values, one for the item of the slow group.
  std::vector<size_t> fast;
  for (size_t i = 0; i < d.map.items.size(); ++i) {
    if (d.map.items[i].group == 0) fast.push_back(i);
  }
  const std::vector<modbus::ReadRequest> plan = modbus::plan_reads(d.map.items, fast, d.plan);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].count, 76);
}

}  // namespace
}  // namespace sluice::sources
