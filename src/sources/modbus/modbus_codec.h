// How values sit in Modbus registers and coils, with no sockets: the data types, the byte and
// word orders, scale and offset. The poll loop decodes the registers of a reply into sample
// values with decode_registers(); write() turns a set point's value into the registers or the
// coil to send with encode_registers() / encode_bit(). Everything here is pure and total: any
// register words decode to some value (the fuzz target checks this), and a value that cannot
// be written is refused with kInvalidArgument saying why.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"
#include "core/status.h"

namespace sluice::sources::modbus {

// The four Modbus tables. Coils and holding registers can be written.
enum class Table : uint8_t { kCoil, kDiscreteInput, kInputRegister, kHoldingRegister };
// "coil", "discrete input", "input register", "holding register".
const char* table_name(Table table);
inline bool is_bit_table(Table t) { return t == Table::kCoil || t == Table::kDiscreteInput; }

enum class DataType : uint8_t {
  kBool,
  kInt16,
  kUint16,
  kInt32,
  kUint32,
  kInt64,
  kFloat32,
  kFloat64,
  kString,
};
// "bool", "int16", ... "string".
const char* data_type_name(DataType type);
// Registers a value of the type takes (bool: 1; string: its configured length).
uint16_t registers_of(DataType type, uint16_t string_length);

// Where the bytes of a multi-register value are, named after the big-endian value A B C D
// (or A..H for 64 bits): ABCD is the Modbus default (high word first, high byte first); CDAB
// swaps the words (registers in reverse order), BADC swaps the bytes inside each register,
// DCBA does both. For 64-bit values the same two swaps give ABCDEFGH, GHEFCDAB, BADCFEHG and
// HGFEDCBA. 16-bit values see only the byte swap; strings only the byte swap (each register
// holds two characters, the first in the high byte unless bytes are swapped).
struct Order {
  bool swap_words = false;
  bool swap_bytes = false;

  bool operator==(const Order&) const = default;
};
// Accepts the four-letter names for every width and the eight-letter names (for 64-bit types
// only: `registers` 4); false if `name` is neither.
bool parse_order(std::string_view name, bool allow_eight, Order* out);
// The name for a value of `registers` registers: "CDAB", or "GHEFCDAB" for 4.
std::string order_name(Order order, uint16_t registers);

// Where an item lives and how its registers become a value.
struct Encoding {
  Table table = Table::kHoldingRegister;
  uint16_t address = 0;  // zero-based protocol address
  DataType type = DataType::kUint16;
  Order order;
  uint16_t string_length = 0;  // registers of a string
  int bit = -1;                // bool in a register: that bit (0 = least significant); -1: != 0
  double scale = 1;            // value = raw * scale + offset
  double offset = 0;

  // Registers (or bits, in a bit table) the item covers.
  uint16_t count() const { return is_bit_table(table) ? 1 : registers_of(type, string_length); }
  // With scale 1 and offset 0 an integer type stays an int64; otherwise values are doubles.
  bool scaled() const { return scale != 1 || offset != 0; }
  // The Value type of its samples and set points.
  ValueType value_type() const;
  // "holding register 100 (float32, CDAB, x0.1 +5)", for a person.
  std::string describe() const;
};

// The value of an item from its registers; `regs` must hold exactly count() words.
Value decode_registers(const Encoding& enc, std::span<const uint16_t> regs);
// The value of an item in a bit table.
inline Value decode_bit(bool bit) { return Value(bit); }
// A sample value of the item's type for Bad samples (0, false or "").
Value placeholder_value(const Encoding& enc);

// The registers to write for `value`: raw = (value - offset) / scale, rounded to the nearest
// integer for integer types, range-checked, laid out in the encoding's order. kInvalidArgument
// if the value has the wrong type or is out of range, with the reason.
Result<std::vector<uint16_t>> encode_registers(const Encoding& enc, const Value& value);
// The coil state to write for `value` (a bool, or 0 / 1).
Result<bool> encode_bit(const Value& value);

// A value given as text (an operation's parameter) read as the encoding's value type: "true",
// "false", "1", "0" for bools; a number for numbers; the text itself for strings.
Result<Value> value_from_text(const Encoding& enc, std::string_view text);

}  // namespace sluice::sources::modbus
