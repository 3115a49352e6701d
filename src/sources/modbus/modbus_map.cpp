// The register map parser (over ConfigTable, for the config file and JSON map files alike) and
// the JSON view of a map file.
#include "sources/modbus/modbus_map.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "runtime/json_table.h"
#include "runtime/units.h"

namespace sluice::sources::modbus {
namespace {

using std::chrono::nanoseconds;

constexpr size_t kMaxNameLength = 200;
constexpr int64_t kMaxAddress = 65535;
constexpr size_t kMaxJsonDepth = 16;

bool valid_name(const std::string& v) {
  static const std::regex kPattern("[A-Za-z0-9_.-]+");
  return v.size() <= kMaxNameLength && std::regex_match(v, kPattern);
}
constexpr std::string_view kNameExpected =
    "a name of letters, digits, '_', '.' and '-' (at most 200)";

struct AddressKey {
  std::string_view key;
  Table table;
};
constexpr AddressKey kAddressKeys[] = {
    {"coil", Table::kCoil},
    {"discrete_input", Table::kDiscreteInput},
    {"input_register", Table::kInputRegister},
    {"holding_register", Table::kHoldingRegister},
    {"register", Table::kHoldingRegister},
};

// The table and address of an item or set point: exactly one of the address keys. `writable`
// allows only coils and holding registers. False if missing or bad (reported).
bool parse_address(runtime::ConfigTable& t, bool writable, Encoding* enc) {
  int found = 0;
  for (const AddressKey& k : kAddressKeys) {
    if (!t.has(k.key)) continue;
    const int64_t a = t.integer(k.key, -1, "a zero-based address from 0 to 65535",
                                [](int64_t v) { return v >= 0 && v <= kMaxAddress; });
    if (found++ > 0) {
      t.error(k.key,
              "give one address key (coil, discrete_input, input_register or "
              "holding_register), not several");
      continue;
    }
    if (writable && (k.table == Table::kDiscreteInput || k.table == Table::kInputRegister)) {
      t.error(k.key, fmt::format("a set point must be a coil or a holding register; {}s are "
                                 "read-only",
                                 table_name(k.table)));
      return false;
    }
    if (a < 0) return false;
    enc->table = k.table;
    enc->address = static_cast<uint16_t>(a);
  }
  if (found == 0) {
    t.error(writable ? "register" : "holding_register",
            writable ? "missing; say where the set point is, e.g. coil = 1 or register = 100"
                     : "missing; say where the item is: one of coil, discrete_input, "
                       "input_register or holding_register = <address>, e.g. input_register = 0");
    return false;
  }
  return found == 1;
}

// type, order, length, bit, scale and offset of an item or set point (after its address).
void parse_encoding(runtime::ConfigTable& t, const MapDefaults& defaults, Encoding* enc) {
  static constexpr DataType kTypes[] = {DataType::kBool,    DataType::kInt16,   DataType::kUint16,
                                        DataType::kInt32,   DataType::kUint32,  DataType::kInt64,
                                        DataType::kFloat32, DataType::kFloat64, DataType::kString};
  const bool bits = is_bit_table(enc->table);
  enc->type = kTypes[t.choice(
      "type", bits ? 0 : 2,
      {"bool", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64", "string"})];
  if (bits && enc->type != DataType::kBool) {
    t.error("type", fmt::format("a {} holds one bit: its type is bool (or leave type out)",
                                table_name(enc->table)));
    enc->type = DataType::kBool;
  }
  // Every key is read (absent keys give their fallback) so that a misspelt one gets a
  // suggestion.
  const int64_t length =
      t.integer("length", 0, "a number of registers from 1 to 123 (two characters each)",
                [](int64_t v) { return v >= 1 && v <= kMaxStringRegisters; });
  if (enc->type == DataType::kString) {
    enc->string_length = static_cast<uint16_t>(length > 0 ? length : 1);
    if (!t.has("length")) t.error("length", "missing; a string needs its length in registers");
  } else if (t.has("length")) {
    t.error("length", "only a string has a length; remove it or set type = \"string\"");
  }
  enc->order = defaults.order;
  const bool eight = registers_of(enc->type, enc->string_length) == 4;
  const std::string order =
      t.string("order", "",
               eight ? "a byte order: ABCD, CDAB, BADC, DCBA (or ABCDEFGH, GHEFCDAB, BADCFEHG, "
                       "HGFEDCBA)"
                     : "a byte order: ABCD, CDAB, BADC or DCBA",
               [eight](const std::string& v) {
                 Order o;
                 return parse_order(v, eight, &o);
               });
  if (!order.empty()) {
    (void)parse_order(order, eight, &enc->order);
    if (bits) t.error("order", "a coil or discrete input has no byte order; remove it");
  }
  enc->bit = static_cast<int>(t.integer("bit", -1, "a bit number from 0 (least significant) to 15",
                                        [](int64_t v) { return v >= 0 && v <= 15; }));
  if (enc->bit >= 0 && (bits || enc->type != DataType::kBool)) {
    t.error("bit", "only a bool in a register takes a bit; remove it or set type = \"bool\"");
    enc->bit = -1;
  }
  enc->scale = t.number("scale", 1, "a number other than 0", [](double v) { return v != 0; });
  enc->offset = t.number("offset", 0, "a number");
  if ((enc->scale != 1 || enc->offset != 0) &&
      (enc->type == DataType::kBool || enc->type == DataType::kString)) {
    t.error(
        t.has("scale") ? "scale" : "offset",
        fmt::format("a {} cannot be scaled; remove scale and offset", data_type_name(enc->type)));
    enc->scale = 1;
    enc->offset = 0;
  }
  if (static_cast<int64_t>(enc->address) + enc->count() - 1 > kMaxAddress) {
    t.error("type", fmt::format("the value at {} takes {} registers and runs past address 65535",
                                enc->address, enc->count()));
  }
}

void parse_items(runtime::ConfigTable& t, const MapDefaults& defaults, DeviceMap* map) {
  const std::optional<runtime::ConfigTable::Tables> items = t.tables("items");
  if (!items) return;
  for (runtime::ConfigTable& it : *items) {
    if (map->items.size() >= kMaxItemsPerDevice) {
      it.ignore_unknown_keys();
      t.error("items", fmt::format("more than {} items in one device", kMaxItemsPerDevice));
      return;
    }
    Item item;
    item.name = it.string("name", "", kNameExpected, valid_name);
    if (!it.has("name")) it.error("name", "missing; every item needs a name (its datapoint)");
    item.asset = it.string("asset", defaults.asset, kNameExpected, valid_name);
    item.unit = it.string("unit", "");
    item.description = it.string("description", "");
    if (parse_address(it, false, &item.enc)) parse_encoding(it, defaults, &item.enc);
    const std::string group = it.string("group", "", kNameExpected, valid_name);
    bool found = false;
    for (size_t g = 0; g < map->groups.size(); ++g) {
      if (map->groups[g].name == group) {
        item.group = g;
        found = true;
      }
    }
    if (!found) {
      std::string names;
      for (size_t g = 1; g < map->groups.size(); ++g) {
        names += (names.empty() ? "" : ", ") + map->groups[g].name;
      }
      it.error("group", fmt::format("no poll group '{}'; {}", group,
                                    names.empty() ? std::string("define it in [[groups]]")
                                                  : "the groups are " + names));
    }
    item.series = item.asset + "." + item.name;
    map->items.push_back(std::move(item));
  }
}

void parse_values(runtime::ConfigTable& t, const MapDefaults& defaults, DeviceMap* map) {
  const std::optional<runtime::ConfigTable::Tables> values = t.tables("values");
  if (!values) return;
  for (runtime::ConfigTable& vt : *values) {
    ControlValue v;
    v.name = vt.string("name", "", kNameExpected, valid_name);
    if (!vt.has("name")) vt.error("name", "missing; every set point needs a name");
    if (parse_address(vt, true, &v.enc)) parse_encoding(vt, defaults, &v.enc);
    if (v.enc.bit >= 0) {
      vt.error("bit",
               "a set point cannot be one bit of a register; use a coil or a whole register");
    }
    v.multiple = vt.boolean("multiple", false);
    for (const ControlValue& other : map->values) {
      if (other.name == v.name && !v.name.empty()) {
        vt.error("name", fmt::format("set point '{}' is defined twice", v.name));
      }
    }
    map->values.push_back(std::move(v));
  }
}

// The value of an operation's write, read as the set point's type.
Value parse_fixed_value(runtime::ConfigTable& w, const Encoding& enc) {
  if (!w.has("value")) {
    w.error("value", "missing; say what to write");
    return placeholder_value(enc);
  }
  switch (enc.value_type()) {
    case ValueType::kBool: return Value(w.boolean("value", false));
    case ValueType::kString: return Value(w.string("value", ""));
    case ValueType::kInt64: {
      const double d = w.number("value", 0, "a whole number",
                                [](double v) { return std::floor(v) == v && std::fabs(v) < 9e18; });
      return Value(static_cast<int64_t>(d));
    }
    case ValueType::kDouble: break;
  }
  return Value(w.number("value", 0, "a number"));
}

void parse_operations(runtime::ConfigTable& t, DeviceMap* map) {
  const std::optional<runtime::ConfigTable::Tables> ops = t.tables("operations");
  if (!ops) return;
  for (runtime::ConfigTable& ot : *ops) {
    Operation op;
    op.name = ot.string("name", "", kNameExpected, valid_name);
    if (!ot.has("name")) ot.error("name", "missing; every operation needs a name");
    const std::optional<runtime::ConfigTable::Tables> writes = ot.tables("writes");
    if (!ot.has("writes")) {
      ot.error("writes",
               "missing; list what the operation writes, e.g. writes = [{ name = "
               "\"run\", value = true }]");
    }
    if (writes) {
      for (runtime::ConfigTable& w : *writes) {
        const std::string name = w.string("name", "", "the name of a set point in values");
        size_t index = map->values.size();
        for (size_t i = 0; i < map->values.size(); ++i) {
          if (map->values[i].name == name) index = i;
        }
        if (index == map->values.size()) {
          w.ignore_unknown_keys();
          w.error("name", fmt::format("no set point '{}' in this device's values", name));
          continue;
        }
        Value fixed = parse_fixed_value(w, map->values[index].enc);
        if (Status st = is_bit_table(map->values[index].enc.table)
                            ? encode_bit(fixed).status()
                            : encode_registers(map->values[index].enc, fixed).status();
            !st.ok()) {
          w.error("value", fmt::format("cannot be written to '{}': {}", name, st.message()));
        }
        op.writes.push_back(OperationWrite{index, std::move(fixed)});
      }
      if (writes->empty()) ot.error("writes", "an operation must write something");
    }
    for (const Operation& other : map->operations) {
      if (other.name == op.name && !op.name.empty()) {
        ot.error("name", fmt::format("operation '{}' is defined twice", op.name));
      }
    }
    map->operations.push_back(std::move(op));
  }
}


}  // namespace

void parse_groups(runtime::ConfigTable& t, bool keep_existing, DeviceMap* map) {
  if (map->groups.empty()) map->groups.push_back(PollGroup{});
  const std::optional<runtime::ConfigTable::Tables> groups = t.tables("groups");
  if (!groups) return;
  for (runtime::ConfigTable& g : *groups) {
    PollGroup group;
    group.name = g.string("name", "", kNameExpected,
                          [](const std::string& v) { return !v.empty() && valid_name(v); });
    if (!g.has("name")) g.error("name", "missing; every poll group needs a name");
    group.interval = g.duration(
        "interval", group.interval,
        "a poll interval from 0 (as fast as the device answers) to 24h, e.g. \"500ms\"",
        [](nanoseconds d) { return d >= nanoseconds{0} && d <= std::chrono::hours(24); });
    bool exists = false;
    for (PollGroup& other : map->groups) {
      if (other.name != group.name || group.name.empty()) continue;
      exists = true;
      if (!keep_existing)
        g.error("name", fmt::format("poll group '{}' is defined twice", group.name));
    }
    if (!exists) map->groups.push_back(std::move(group));
  }
}

void parse_default_order(runtime::ConfigTable& t, MapDefaults* defaults) {
  if (!t.has("order")) return;
  const std::string name =
      t.string("order", "ABCD", "a byte order: ABCD, CDAB, BADC or DCBA (the default of items)",
               [](const std::string& v) {
                 Order o;
                 return parse_order(v, false, &o);
               });
  (void)parse_order(name, false, &defaults->order);
}

void parse_entries(runtime::ConfigTable& t, const MapDefaults& defaults, DeviceMap* map) {
  parse_items(t, defaults, map);
  parse_values(t, defaults, map);
  parse_operations(t, map);
}

struct JsonMap::Impl {
  nlohmann::json doc;
  std::string base_dir;
  std::vector<std::string> errors;
  std::unique_ptr<runtime::JsonTable> root;
};

JsonMap::JsonMap(std::string_view text, std::string base_dir) : impl_(std::make_unique<Impl>()) {
  impl_->base_dir = std::move(base_dir);
  if (text.size() > kMaxMapFileBytes) {
    impl_->errors.push_back(fmt::format("the map is {} bytes, more than the limit of {}",
                                        text.size(), kMaxMapFileBytes));
    return;
  }
  // Nesting deeper than any map needs is refused before it is built (bounded recursion).
  size_t depth = 0;
  size_t max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  if (max_depth > kMaxJsonDepth) {
    impl_->errors.push_back(fmt::format("nested more than {} levels deep", kMaxJsonDepth));
    return;
  }
  try {
    impl_->doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    impl_->errors.push_back(fmt::format("not valid JSON: {}", e.what()));
    return;
  }
  if (!impl_->doc.is_object()) {
    impl_->errors.push_back(
        "expected a JSON object with items, groups, values or operations, got " + runtime::show_json(impl_->doc));
    return;
  }
  impl_->root = std::make_unique<runtime::JsonTable>(impl_->doc, "", impl_->base_dir, impl_->errors);
}

JsonMap::~JsonMap() = default;

runtime::ConfigTable* JsonMap::root() { return impl_->root.get(); }

std::vector<std::string> JsonMap::finish() {
  if (impl_->root) impl_->root->report_unknown_keys();
  return impl_->errors;
}

std::vector<std::string> parse_json_map(std::string_view text, MapDefaults defaults,
                                        DeviceMap* map) {
  JsonMap json(text, ".");
  if (runtime::ConfigTable* root = json.root()) {
    (void)root->string("description", "");
    parse_default_order(*root, &defaults);
    parse_groups(*root, true, map);
    parse_entries(*root, defaults, map);
  }
  return json.finish();
}

}  // namespace sluice::sources::modbus
