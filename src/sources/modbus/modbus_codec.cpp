// Register words to values and back: byte and word order, scale and offset, range checks.
#include "sources/modbus/modbus_codec.h"

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace sluice::sources::modbus {
namespace {

constexpr size_t kMaxValueBytes = 8;

// The value's bytes in big-endian order (A first), from the registers as the device sent them.
// `out` has 2 * regs.size() bytes.
void logical_bytes(Order order, std::span<const uint16_t> regs, uint8_t* out) {
  const size_t n = regs.size();
  for (size_t i = 0; i < n; ++i) {
    const uint16_t r = regs[order.swap_words ? n - 1 - i : i];
    const uint8_t hi = static_cast<uint8_t>(r >> 8);
    const uint8_t lo = static_cast<uint8_t>(r & 0xFF);
    out[2 * i] = order.swap_bytes ? lo : hi;
    out[2 * i + 1] = order.swap_bytes ? hi : lo;
  }
}

// The inverse of logical_bytes: registers to send for big-endian bytes `in`.
void registers_from_bytes(Order order, const uint8_t* in, std::span<uint16_t> regs) {
  const size_t n = regs.size();
  for (size_t i = 0; i < n; ++i) {
    const uint8_t a = in[2 * i];
    const uint8_t b = in[2 * i + 1];
    const uint16_t r =
        order.swap_bytes ? static_cast<uint16_t>(b << 8 | a) : static_cast<uint16_t>(a << 8 | b);
    regs[order.swap_words ? n - 1 - i : i] = r;
  }
}

uint64_t big_endian(const uint8_t* bytes, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | bytes[i];
  return v;
}

Value scaled(const Encoding& enc, int64_t raw) {
  if (!enc.scaled()) return Value(raw);
  return Value(static_cast<double>(raw) * enc.scale + enc.offset);
}

// A string from register bytes: up to the first NUL, trailing spaces dropped, bytes outside
// printable ASCII shown as '?' (the samples must stay valid UTF-8 for every sink).
std::string decode_string(const uint8_t* bytes, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && bytes[i] != 0; ++i) {
    const uint8_t c = bytes[i];
    s += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '?';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

struct IntRange {
  double min;
  double max;
};

IntRange range_of(DataType t) {
  switch (t) {
    case DataType::kInt16: return {-32768.0, 32767.0};
    case DataType::kUint16: return {0, 65535.0};
    case DataType::kInt32: return {-2147483648.0, 2147483647.0};
    case DataType::kUint32: return {0, 4294967295.0};
    default: return {-9223372036854775808.0, 9223372036854775807.0};
  }
}

Result<double> number_of(const Value& value) {
  if (const auto* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) return invalid_argument(fmt::format("{} is not a finite number", *d));
    return *d;
  }
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return invalid_argument(
      fmt::format("expected a number, got a {}", value_type_name(value_type(value))));
}

}  // namespace

const char* table_name(Table table) {
  switch (table) {
    case Table::kCoil: return "coil";
    case Table::kDiscreteInput: return "discrete input";
    case Table::kInputRegister: return "input register";
    case Table::kHoldingRegister: return "holding register";
  }
  return "?";
}

const char* data_type_name(DataType type) {
  switch (type) {
    case DataType::kBool: return "bool";
    case DataType::kInt16: return "int16";
    case DataType::kUint16: return "uint16";
    case DataType::kInt32: return "int32";
    case DataType::kUint32: return "uint32";
    case DataType::kInt64: return "int64";
    case DataType::kFloat32: return "float32";
    case DataType::kFloat64: return "float64";
    case DataType::kString: return "string";
  }
  return "?";
}

uint16_t registers_of(DataType type, uint16_t string_length) {
  switch (type) {
    case DataType::kBool:
    case DataType::kInt16:
    case DataType::kUint16: return 1;
    case DataType::kInt32:
    case DataType::kUint32:
    case DataType::kFloat32: return 2;
    case DataType::kInt64:
    case DataType::kFloat64: return 4;
    case DataType::kString: return string_length;
  }
  return 1;
}

bool parse_order(std::string_view name, bool allow_eight, Order* out) {
  static constexpr std::string_view kFour[] = {"ABCD", "CDAB", "BADC", "DCBA"};
  static constexpr std::string_view kEight[] = {"ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"};
  for (int i = 0; i < 4; ++i) {
    if (name == kFour[i] || (allow_eight && name == kEight[i])) {
      out->swap_words = i == 1 || i == 3;
      out->swap_bytes = i == 2 || i == 3;
      return true;
    }
  }
  return false;
}

std::string order_name(Order order, uint16_t registers) {
  const int i = (order.swap_words ? 1 : 0) + (order.swap_bytes ? 2 : 0);
  static constexpr const char* kFour[] = {"ABCD", "CDAB", "BADC", "DCBA"};
  static constexpr const char* kEight[] = {"ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"};
  return registers == 4 ? kEight[i] : kFour[i];
}

ValueType Encoding::value_type() const {
  switch (type) {
    case DataType::kBool: return ValueType::kBool;
    case DataType::kString: return ValueType::kString;
    case DataType::kFloat32:
    case DataType::kFloat64: return ValueType::kDouble;
    default: return scaled() ? ValueType::kDouble : ValueType::kInt64;
  }
}

std::string Encoding::describe() const {
  std::string s = fmt::format("{} {} ({}", table_name(table), address, data_type_name(type));
  if (type == DataType::kString) s += fmt::format("[{}]", string_length);
  const uint16_t regs = registers_of(type, string_length);
  if (!is_bit_table(table) && type != DataType::kBool && (regs > 1 || order.swap_bytes)) {
    s += ", " + order_name(order, regs);
  }
  if (bit >= 0) s += fmt::format(", bit {}", bit);
  if (scale != 1) s += fmt::format(", x{:g}", scale);
  if (offset != 0) s += fmt::format(", {:+g}", offset);
  return s + ")";
}

Value decode_registers(const Encoding& enc, std::span<const uint16_t> regs) {
  if (regs.empty()) return placeholder_value(enc);
  if (enc.type == DataType::kBool) {
    const uint16_t r = regs[0];
    return Value(enc.bit >= 0 && enc.bit < 16 ? ((r >> enc.bit) & 1) != 0 : r != 0);
  }
  if (enc.type == DataType::kString) {
    std::vector<uint8_t> bytes(regs.size() * 2);
    // Strings take only the byte swap: their registers are always in address order.
    logical_bytes(Order{false, enc.order.swap_bytes}, regs, bytes.data());
    return Value(decode_string(bytes.data(), bytes.size()));
  }
  uint8_t bytes[kMaxValueBytes] = {};
  const size_t n = std::min<size_t>(regs.size(), kMaxValueBytes / 2);
  logical_bytes(enc.order, regs.first(n), bytes);
  const uint64_t raw = big_endian(bytes, 2 * n);
  switch (enc.type) {
    case DataType::kInt16: return scaled(enc, static_cast<int16_t>(raw));
    case DataType::kUint16: return scaled(enc, static_cast<uint16_t>(raw));
    case DataType::kInt32: return scaled(enc, static_cast<int32_t>(raw));
    case DataType::kUint32: return scaled(enc, static_cast<uint32_t>(raw));
    case DataType::kInt64: return scaled(enc, static_cast<int64_t>(raw));
    case DataType::kFloat32: {
      const float f = std::bit_cast<float>(static_cast<uint32_t>(raw));
      return Value(static_cast<double>(f) * enc.scale + enc.offset);
    }
    case DataType::kFloat64: return Value(std::bit_cast<double>(raw) * enc.scale + enc.offset);
    default: return placeholder_value(enc);
  }
}

Value placeholder_value(const Encoding& enc) {
  switch (enc.value_type()) {
    case ValueType::kBool: return Value(false);
    case ValueType::kInt64: return Value(int64_t{0});
    case ValueType::kString: return Value(std::string());
    case ValueType::kDouble: break;
  }
  return Value(0.0);
}

Result<bool> encode_bit(const Value& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b;
  if (const auto* i = std::get_if<int64_t>(&value); i != nullptr && (*i == 0 || *i == 1)) {
    return *i == 1;
  }
  if (const auto* d = std::get_if<double>(&value); d != nullptr && (*d == 0 || *d == 1)) {
    return *d == 1;
  }
  return invalid_argument("expected true or false (or 1 or 0)");
}

Result<std::vector<uint16_t>> encode_registers(const Encoding& enc, const Value& value) {
  const uint16_t n = registers_of(enc.type, enc.string_length);
  std::vector<uint16_t> regs(n);
  if (enc.type == DataType::kBool) {
    if (enc.bit >= 0) {
      return invalid_argument("a bool in one bit of a register cannot be written on its own");
    }
    SLUICE_ASSIGN_OR_RETURN(const bool b, encode_bit(value));
    regs[0] = b ? 1 : 0;
    return regs;
  }
  if (enc.type == DataType::kString) {
    const auto* s = std::get_if<std::string>(&value);
    if (s == nullptr) {
      return invalid_argument(
          fmt::format("expected a string, got a {}", value_type_name(value_type(value))));
    }
    if (s->size() > 2u * n) {
      return invalid_argument(
          fmt::format("a string of {} bytes does not fit in {} registers "
                      "({} bytes)",
                      s->size(), n, 2 * n));
    }
    std::vector<uint8_t> bytes(2u * n, 0);
    std::memcpy(bytes.data(), s->data(), s->size());
    registers_from_bytes(Order{false, enc.order.swap_bytes}, bytes.data(), regs);
    return regs;
  }

  uint64_t raw = 0;
  const bool exact_integer = !enc.scaled() && std::holds_alternative<int64_t>(value);
  if (enc.type == DataType::kFloat32 || enc.type == DataType::kFloat64) {
    SLUICE_ASSIGN_OR_RETURN(const double v, number_of(value));
    const double r = (v - enc.offset) / enc.scale;
    if (enc.type == DataType::kFloat32) {
      if (std::fabs(r) > std::numeric_limits<float>::max()) {
        return invalid_argument(fmt::format("{:g} is out of range for float32", r));
      }
      raw = std::bit_cast<uint32_t>(static_cast<float>(r));
    } else {
      raw = std::bit_cast<uint64_t>(r);
    }
  } else if (exact_integer) {
    const int64_t v = std::get<int64_t>(value);
    const IntRange range = range_of(enc.type);
    if (enc.type != DataType::kInt64 &&
        (static_cast<double>(v) < range.min || static_cast<double>(v) > range.max)) {
      return invalid_argument(fmt::format("{} is out of range for {} ({:.0f} to {:.0f})", v,
                                          data_type_name(enc.type), range.min, range.max));
    }
    raw = static_cast<uint64_t>(v);
  } else {
    SLUICE_ASSIGN_OR_RETURN(const double v, number_of(value));
    const double r = std::nearbyint((v - enc.offset) / enc.scale);
    const IntRange range = range_of(enc.type);
    // 2^63 itself is not an int64; the comparison with max (rounded up to 2^63) must be strict.
    if (!std::isfinite(r) || r < range.min ||
        (enc.type == DataType::kInt64 ? r >= range.max : r > range.max)) {
      return invalid_argument(
          fmt::format("{:g} is out of range for {} ({:.0f} to {:.0f}) after scaling (raw {:g})", v,
                      data_type_name(enc.type), range.min, range.max, r));
    }
    raw = static_cast<uint64_t>(static_cast<int64_t>(r));
  }
  uint8_t bytes[kMaxValueBytes] = {};
  for (size_t i = 0; i < 2u * n; ++i) {
    bytes[i] = static_cast<uint8_t>(raw >> (8 * (2u * n - 1 - i)));
  }
  registers_from_bytes(enc.order, bytes, regs);
  return regs;
}

Result<Value> value_from_text(const Encoding& enc, std::string_view text) {
  switch (enc.value_type()) {
    case ValueType::kBool:
      if (text == "true" || text == "1") return Value(true);
      if (text == "false" || text == "0") return Value(false);
      return invalid_argument(fmt::format("'{}' is not true, false, 1 or 0", text));
    case ValueType::kString: return Value(std::string(text));
    case ValueType::kInt64: {
      int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && ptr == text.data() + text.size()) return Value(v);
      [[fallthrough]];
    }
    case ValueType::kDouble: {
      double v = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
        return invalid_argument(fmt::format("'{}' is not a number", text));
      }
      return Value(v);
    }
  }
  return invalid_argument("unknown type");
}

}  // namespace sluice::sources::modbus
