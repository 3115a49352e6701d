// The modbus source's config keys (docs/configuration.md, "modbus"): [[sources.devices]] tables
// with their register maps inline and/or in a JSON map file, every error named by its key.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "runtime/units.h"
#include "sources/modbus/modbus_source.h"

namespace sluice::sources {
namespace {

using modbus::DeviceOptions;
using modbus::MapDefaults;
using std::chrono::nanoseconds;

constexpr size_t kMaxDevices = 1000;

bool valid_name(const std::string& v) {
  static const std::regex kPattern("[A-Za-z0-9_.-]+");
  return !v.empty() && v.size() <= 200 && std::regex_match(v, kPattern);
}

// Reads the map file of a device into `map`; its errors are reported at `map_file`. False if
// it could not be read at all.
bool read_map_file(runtime::ConfigTable& t, const std::string& path, const MapDefaults& defaults,
                   modbus::DeviceMap* map) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    t.error("map_file", fmt::format("cannot read {}: {}", path, ec.message()));
    return false;
  }
  if (size > modbus::kMaxMapFileBytes) {
    t.error("map_file", fmt::format("{} is {} bytes, more than the limit of {}", path, size,
                                    modbus::kMaxMapFileBytes));
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    t.error("map_file", fmt::format("cannot read {}", path));
    return false;
  }
  modbus::JsonMap json(text.str(), std::filesystem::path(path).parent_path().string());
  if (runtime::ConfigTable* root = json.root()) {
    MapDefaults d = defaults;
    (void)root->string("description", "");
    modbus::parse_default_order(*root, &d);
    modbus::parse_groups(*root, true, map);
    modbus::parse_entries(*root, d, map);
  }
  const std::vector<std::string> errors = json.finish();
  for (const std::string& e : errors) t.error("map_file", fmt::format("in {}: {}", path, e));
  return errors.empty();
}

DeviceOptions parse_device(runtime::ConfigTable& t) {
  DeviceOptions d;
  d.name = t.string("name", "", "a device name of letters, digits, '_', '.' and '-'", valid_name);
  if (!t.has("name")) t.error("name", "missing; every device needs a name");
  d.host = t.string("host", "", "a host name or IP address",
                    [](const std::string& v) { return !v.empty() && v.size() <= 253; });
  if (!t.has("host")) t.error("host", "missing; say where the device is, e.g. host = \"10.0.0.5\"");
  d.port = static_cast<int>(t.integer("port", d.port, "a TCP port from 1 to 65535",
                                      [](int64_t v) { return v >= 1 && v <= 65535; }));
  d.unit_id = static_cast<int>(t.integer("unit_id", d.unit_id, "a unit id from 0 to 255",
                                         [](int64_t v) { return v >= 0 && v <= 255; }));
  d.timeout = t.duration(
      "timeout", d.timeout, "a response timeout from 10ms to 60s, e.g. \"1s\"", [](nanoseconds v) {
        return v >= std::chrono::milliseconds(10) && v <= std::chrono::seconds(60);
      });
  const nanoseconds interval =
      t.duration("interval", std::chrono::seconds(1),
                 "a poll interval from 0 (as fast as the device answers) to 24h, e.g. \"1s\"",
                 [](nanoseconds v) { return v >= nanoseconds{0} && v <= std::chrono::hours(24); });
  d.reconnect_min =
      t.duration("reconnect_min", d.reconnect_min, "a duration from 10ms to 1h", [](nanoseconds v) {
        return v >= std::chrono::milliseconds(10) && v <= std::chrono::hours(1);
      });
  d.reconnect_max =
      t.duration("reconnect_max", d.reconnect_max, "a duration from 10ms to 1h", [](nanoseconds v) {
        return v >= std::chrono::milliseconds(10) && v <= std::chrono::hours(1);
      });
  if (d.reconnect_max < d.reconnect_min) {
    t.error("reconnect_max", "is shorter than reconnect_min");
  }
  d.plan.max_gap = static_cast<uint16_t>(
      t.integer("max_gap", d.plan.max_gap,
                "a number of addresses from 0 to 124 that may be read and thrown away to merge "
                "two requests",
                [](int64_t v) { return v >= 0 && v <= 124; }));
  d.plan.max_registers = static_cast<uint16_t>(
      t.integer("max_registers", d.plan.max_registers, "a number of registers from 1 to 125",
                [](int64_t v) { return v >= 1 && v <= modbus::kMaxReadRegisters; }));
  d.plan.max_bits = static_cast<uint16_t>(
      t.integer("max_bits", d.plan.max_bits, "a number of coils or inputs from 1 to 2000",
                [](int64_t v) { return v >= 1 && v <= modbus::kMaxReadBits; }));

  MapDefaults defaults;
  defaults.asset =
      t.string("asset", d.name, "an asset name of letters, digits, '_', '.' and '-'", valid_name);
  modbus::parse_default_order(t, &defaults);
  d.map.groups.push_back(modbus::PollGroup{"", interval});
  modbus::parse_groups(t, false, &d.map);
  d.map_file = t.file_path("map_file", "", "the path of a JSON register map");
  const bool map_ok = d.map_file.empty() || read_map_file(t, d.map_file, defaults, &d.map);
  modbus::parse_entries(t, defaults, &d.map);

  for (const modbus::Item& item : d.map.items) {
    const uint16_t limit =
        modbus::is_bit_table(item.enc.table) ? d.plan.max_bits : d.plan.max_registers;
    if (item.enc.count() > limit) {
      t.error("max_registers", fmt::format("item '{}' takes {} registers, more than max_registers",
                                           item.series, item.enc.count()));
    }
  }
  if (map_ok && d.map.items.empty() && d.map.values.empty()) {
    t.error("items",
            "the device has no items and no set points; add [[sources.devices.items]] or "
            "map_file = \"...\"");
  }
  return d;
}

}  // namespace

std::string ModbusSettings::summary() const {
  std::string s;
  for (const DeviceOptions& d : options_.devices) {
    if (!s.empty()) s += "; ";
    std::string groups;
    for (const modbus::PollGroup& g : d.map.groups) {
      size_t n = 0;
      for (const modbus::Item& i : d.map.items) n += &d.map.groups[i.group] == &g ? 1 : 0;
      if (n == 0) continue;
      groups += fmt::format("{}{} every {}", groups.empty() ? "" : ", ", n,
                            runtime::format_duration(g.interval));
    }
    s += fmt::format("'{}' modbus://{}:{} unit {}: {} items ({}), {} set points, {} operations",
                     d.name, d.host, d.port, d.unit_id, d.map.items.size(),
                     groups.empty() ? "none polled" : groups, d.map.values.size(),
                     d.map.operations.size());
  }
  return s;
}

Result<std::unique_ptr<runtime::Source>> ModbusSettings::create(const std::string& name) const {
  return std::unique_ptr<runtime::Source>(std::make_unique<ModbusSource>(name, options_));
}

std::shared_ptr<const runtime::SourceSettings> parse_modbus_settings(runtime::ConfigTable& t) {
  modbus::ModbusOptions o;
  const std::optional<runtime::ConfigTable::Tables> devices = t.tables("devices");
  if (!t.has("devices")) {
    t.error("devices", "missing; add a [[sources.devices]] table with name, host and items");
  } else if (devices && devices->empty()) {
    t.error("devices", "an empty list polls nothing; add a [[sources.devices]] table");
  }
  if (!devices) return std::make_shared<const ModbusSettings>(std::move(o));
  if (devices->size() > kMaxDevices) {
    t.error("devices", fmt::format("more than {} devices in one source", kMaxDevices));
  }
  std::set<std::string> names;
  std::map<std::string, std::string> series;    // series → device
  std::map<std::string, std::string> controls;  // name → device "\n" kind
  for (runtime::ConfigTable& dt : *devices) {
    DeviceOptions d = parse_device(dt);
    if (!d.name.empty() && !names.insert(d.name).second) {
      dt.error("name", fmt::format("device '{}' is defined twice in this source", d.name));
    }
    for (const modbus::Item& item : d.map.items) {
      auto [it, inserted] = series.emplace(item.series, d.name);
      if (!inserted && !item.name.empty()) {
        dt.error("items",
                 fmt::format("series '{}' is polled twice{}; give the items different "
                             "names or assets",
                             item.series,
                             it->second == d.name ? "" : " (also by device '" + it->second + "')"));
      }
    }
    const auto control = [&](const std::string& name, std::string_view key, bool operation) {
      if (name.empty()) return;
      const std::string kind = operation ? "operation" : "set point";
      auto [it, inserted] = controls.emplace(name, d.name + "\n" + kind);
      if (inserted) return;
      const std::string other_device = it->second.substr(0, it->second.find('\n'));
      const std::string other_kind = it->second.substr(it->second.find('\n') + 1);
      if (other_device != d.name) {
        dt.error(key, fmt::format("'{}' is also a {} of device '{}'; control names must be "
                                  "unique in the source",
                                  name, other_kind, other_device));
      } else if (other_kind != kind) {
        dt.error(key, fmt::format("'{}' is both a set point and an operation", name));
      }
    };
    for (const modbus::ControlValue& v : d.map.values) control(v.name, "values", false);
    for (const modbus::Operation& op : d.map.operations) control(op.name, "operations", true);
    o.devices.push_back(std::move(d));
  }
  return std::make_shared<const ModbusSettings>(std::move(o));
}

void register_modbus(runtime::SourceTypes& types) { types.add({"modbus", parse_modbus_settings}); }

}  // namespace sluice::sources
