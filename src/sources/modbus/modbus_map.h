// A device's register map: the items it polls (grouped by poll interval), the set points it
// lets the control dispatcher write, and the operations (named lists of writes). The same keys
// are read from the config file's [[sources.devices]] tables and from a JSON map file
// (`map_file`), through one parser over ConfigTable, so that a ready-made map (examples/modbus/)
// and an inline one mean the same and report errors the same way (naming the key).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"
#include "runtime/config_table.h"
#include "sources/modbus/modbus_codec.h"

namespace sluice::sources::modbus {

// Limits on what a map may hold (bounded allocations for a map file from anywhere).
inline constexpr size_t kMaxItemsPerDevice = 100'000;
inline constexpr uint16_t kMaxStringRegisters = 123;  // the most one write request can carry
inline constexpr size_t kMaxMapFileBytes = 16u << 20;

struct PollGroup {
  std::string name;  // "" is the device's default group (the device's `interval`)
  std::chrono::nanoseconds interval{std::chrono::seconds(1)};
};

// One polled value: a series `<asset>.<name>`.
struct Item {
  std::string asset;
  std::string name;
  std::string series;  // asset + "." + name
  std::string unit;
  std::string description;
  Encoding enc;
  size_t group = 0;  // index into DeviceMap::groups
};

// A set point: written by Source::write(name, value).
struct ControlValue {
  std::string name;
  Encoding enc;
  bool multiple = false;  // always function code 15 / 16, even for one coil or register
};

// An operation: its writes, done in order by Source::operation(name, params). A parameter
// named after one of the set points replaces that write's value.
struct OperationWrite {
  size_t value = 0;  // index into DeviceMap::values
  Value fixed;
};
struct Operation {
  std::string name;
  std::vector<OperationWrite> writes;
};

struct DeviceMap {
  std::vector<PollGroup> groups;  // [0] is the default group
  std::vector<Item> items;
  std::vector<ControlValue> values;
  std::vector<Operation> operations;
};

// What items take when they do not say: the device's asset and byte/word order.
struct MapDefaults {
  std::string asset;
  Order order;
};

// Reads the [[groups]] of a table into `map` (name and interval). With `keep_existing`, a
// group whose name is already there keeps its interval (the config file's groups override a
// map file's).
void parse_groups(runtime::ConfigTable& t, bool keep_existing, DeviceMap* map);
// Reads `order` (a table's default byte/word order) into `defaults`, if present.
void parse_default_order(runtime::ConfigTable& t, MapDefaults* defaults);
// Reads the items, values (set points) and operations of a table into `map`; items name groups
// already in `map`, operations name values already in it or defined here.
void parse_entries(runtime::ConfigTable& t, const MapDefaults& defaults, DeviceMap* map);

// A ConfigTable over a parsed JSON object (a map file), whose errors are collected as
// "<path>: <message>" lines. The root's path is "" (keys show as "items[3].type").
class JsonMap {
 public:
  // Parses `text`; a syntax error, or a root that is not an object, is the one error.
  JsonMap(std::string_view text, std::string base_dir);
  ~JsonMap();
  JsonMap(const JsonMap&) = delete;
  JsonMap& operator=(const JsonMap&) = delete;

  // Null if the text was not a JSON object.
  runtime::ConfigTable* root();
  // Reports keys no getter asked for (call when done), then returns every error.
  std::vector<std::string> finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a whole JSON map (groups, order, items, values, operations) into `map`, as a map file
// is read for a device; returns the errors ("items[3].type: expected ...").
std::vector<std::string> parse_json_map(std::string_view text, MapDefaults defaults,
                                        DeviceMap* map);

}  // namespace sluice::sources::modbus
