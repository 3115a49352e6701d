// Fuzz target bodies for the Modbus reply decoding (sources/modbus/), shared by the libFuzzer
// binary and the unit test that replays fuzz/corpus/modbus.
#include "fuzz/modbus_targets.h"

#include <cstdlib>
#include <string_view>
#include <vector>

#include "sources/modbus/modbus_codec.h"
#include "sources/modbus/modbus_map.h"

namespace sluice::fuzz {
namespace {
constexpr size_t kMaxDecodedItems = 1000;
}  // namespace

int modbus_map_registers(const uint8_t* data, size_t size) {
  using namespace sources::modbus;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  const std::string_view tail = nul == std::string_view::npos ? "" : input.substr(nul + 1);
  std::vector<uint16_t> words;
  for (size_t i = 0; i + 1 < tail.size(); i += 2) {
    words.push_back(static_cast<uint16_t>(static_cast<uint8_t>(tail[i]) << 8 |
                                          static_cast<uint8_t>(tail[i + 1])));
  }
  if (words.empty()) words.push_back(0);

  DeviceMap map;
  map.groups.push_back(PollGroup{});
  (void)parse_json_map(json, MapDefaults{"fuzz", Order{}}, &map);
  if (map.items.size() > kMaxItemsPerDevice) abort();
  std::vector<uint16_t> regs;
  for (size_t n = 0; n < map.items.size() && n < kMaxDecodedItems; ++n) {
    const Encoding& enc = map.items[n].enc;
    if (map.items[n].group >= map.groups.size()) abort();
    const uint16_t count = enc.count();
    if (count == 0 || count > kMaxStringRegisters + 2) abort();
    if (is_bit_table(enc.table)) {
      if (!std::holds_alternative<bool>(decode_bit((words[0] & 1) != 0))) abort();
      continue;
    }
    regs.assign(count, 0);
    for (size_t i = 0; i < count; ++i) regs[i] = words[(n + i) % words.size()];
    const Value v = decode_registers(enc, regs);
    if (value_type(v) != enc.value_type()) abort();
    const bool integer = enc.type == DataType::kInt16 || enc.type == DataType::kUint16 ||
                         enc.type == DataType::kInt32 || enc.type == DataType::kUint32 ||
                         enc.type == DataType::kInt64;
    if (integer && !enc.scaled()) {
      Result<std::vector<uint16_t>> back = encode_registers(enc, v);
      if (!back.ok() || *back != regs) abort();
    }
  }
  for (const ControlValue& v : map.values) {
    if (v.enc.table != Table::kCoil && v.enc.table != Table::kHoldingRegister) abort();
  }
  return 0;
}

}  // namespace sluice::fuzz
