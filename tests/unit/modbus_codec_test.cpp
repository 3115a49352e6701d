// Register words to values and back (sources/modbus/modbus_codec.h): every type in every byte
// and word order, scale and offset, strings, bits, and the range checks of writes.
#include "sources/modbus/modbus_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

namespace sluice::sources::modbus {
namespace {

Encoding enc(DataType type, std::string_view order = "ABCD", double scale = 1, double offset = 0) {
  Encoding e;
  e.table = Table::kHoldingRegister;
  e.type = type;
  EXPECT_TRUE(parse_order(order, true, &e.order)) << order;
  e.scale = scale;
  e.offset = offset;
  return e;
}

Value decode(const Encoding& e, std::vector<uint16_t> regs) { return decode_registers(e, regs); }

TEST(ModbusCodecTest, Int32InEveryOrder) {
  // 0x12345678: A=12 B=34 C=56 D=78.
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kInt32, "ABCD"), {0x1234, 0x5678})), 0x12345678);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kInt32, "CDAB"), {0x5678, 0x1234})), 0x12345678);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kInt32, "BADC"), {0x3412, 0x7856})), 0x12345678);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kInt32, "DCBA"), {0x7856, 0x3412})), 0x12345678);
}

TEST(ModbusCodecTest, SignedAndUnsignedDifferOnlyInTheSignBit) {
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kInt16), {0xFFFE})), -2);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kUint16), {0xFFFE})), 65534);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kInt32), {0xFFFF, 0xFFFF})), -1);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kUint32), {0xFFFF, 0xFFFF})), 4294967295);
  // A 16-bit value sees the byte swap only.
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kUint16, "BADC"), {0x3412})), 0x1234);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kUint16, "CDAB"), {0x1234})), 0x1234);
}

TEST(ModbusCodecTest, Int64InEveryOrder) {
  const int64_t v = 0x0102030405060708;
  EXPECT_EQ(std::get<int64_t>(
                decode(enc(DataType::kInt64, "ABCDEFGH"), {0x0102, 0x0304, 0x0506, 0x0708})),
            v);
  EXPECT_EQ(std::get<int64_t>(
                decode(enc(DataType::kInt64, "GHEFCDAB"), {0x0708, 0x0506, 0x0304, 0x0102})),
            v);
  EXPECT_EQ(std::get<int64_t>(
                decode(enc(DataType::kInt64, "BADCFEHG"), {0x0201, 0x0403, 0x0605, 0x0807})),
            v);
  EXPECT_EQ(std::get<int64_t>(
                decode(enc(DataType::kInt64, "HGFEDCBA"), {0x0807, 0x0605, 0x0403, 0x0201})),
            v);
  // The four-letter names mean the same swaps.
  EXPECT_EQ(
      std::get<int64_t>(decode(enc(DataType::kInt64, "CDAB"), {0x0708, 0x0506, 0x0304, 0x0102})),
      v);
  EXPECT_EQ(std::get<int64_t>(decode(enc(DataType::kInt64), {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE})), -2);
}

TEST(ModbusCodecTest, FloatsInEveryOrder) {
  const uint32_t f = std::bit_cast<uint32_t>(230.5f);  // 0x43668000
  const uint16_t hi = static_cast<uint16_t>(f >> 16);
  const uint16_t lo = static_cast<uint16_t>(f & 0xFFFF);
  const auto swap = [](uint16_t r) { return static_cast<uint16_t>(r << 8 | r >> 8); };
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kFloat32, "ABCD"), {hi, lo})), 230.5);
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kFloat32, "CDAB"), {lo, hi})), 230.5);
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kFloat32, "BADC"), {swap(hi), swap(lo)})), 230.5);
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kFloat32, "DCBA"), {swap(lo), swap(hi)})), 230.5);
  const uint64_t d = std::bit_cast<uint64_t>(-12345.625);
  std::vector<uint16_t> regs = {static_cast<uint16_t>(d >> 48), static_cast<uint16_t>(d >> 32),
                                static_cast<uint16_t>(d >> 16), static_cast<uint16_t>(d)};
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kFloat64), regs)), -12345.625);
  std::vector<uint16_t> reversed(regs.rbegin(), regs.rend());
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kFloat64, "GHEFCDAB"), reversed)), -12345.625);
}

TEST(ModbusCodecTest, ScaleAndOffsetMakeDoubles) {
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kInt16, "ABCD", 0.1, 0), {0xFF9C})), -10.0);
  EXPECT_EQ(std::get<double>(decode(enc(DataType::kUint16, "ABCD", 2, -5), {100})), 195.0);
  EXPECT_EQ(
      std::get<double>(decode(enc(DataType::kFloat32, "ABCD", 1000, 0), {0x3F80, 0x0000})),  // 1.0f
      1000.0);
  EXPECT_EQ(enc(DataType::kInt32, "ABCD", 1, 0).value_type(), ValueType::kInt64);
  EXPECT_EQ(enc(DataType::kInt32, "ABCD", 1, 1).value_type(), ValueType::kDouble);
}

TEST(ModbusCodecTest, StringsStopAtNulAndDropTrailingSpaces) {
  Encoding e = enc(DataType::kString);
  e.string_length = 4;
  EXPECT_EQ(std::get<std::string>(decode(e, {0x5344, 0x4D36, 0x3330, 0x0000})), "SDM630");
  EXPECT_EQ(std::get<std::string>(decode(e, {0x4142, 0x2020, 0x2020, 0x2020})), "AB");
  // Bytes swapped inside each register; bytes outside printable ASCII become '?'.
  Encoding swapped = enc(DataType::kString, "BADC");
  swapped.string_length = 2;
  EXPECT_EQ(std::get<std::string>(decode(swapped, {0x4241, 0x0143})), "ABC?");
}

TEST(ModbusCodecTest, BoolFromRegisterIsNonZeroOrItsBit) {
  Encoding e = enc(DataType::kBool);
  EXPECT_EQ(std::get<bool>(decode(e, {0})), false);
  EXPECT_EQ(std::get<bool>(decode(e, {0x0100})), true);
  e.bit = 8;
  EXPECT_EQ(std::get<bool>(decode(e, {0x0100})), true);
  e.bit = 0;
  EXPECT_EQ(std::get<bool>(decode(e, {0x0100})), false);
}

TEST(ModbusCodecTest, EncodeIsTheInverseOfDecodeInEveryOrder) {
  for (const std::string_view order : {"ABCD", "CDAB", "BADC", "DCBA"}) {
    SCOPED_TRACE(order);
    for (const DataType t : {DataType::kInt16, DataType::kUint16, DataType::kInt32,
                             DataType::kUint32, DataType::kInt64}) {
      const Encoding e = enc(t, order);
      const int64_t v =
          t == DataType::kUint16 ? 54321 : (t == DataType::kUint32 ? 3000000000 : -1234);
      Result<std::vector<uint16_t>> regs = encode_registers(e, Value(v));
      ASSERT_TRUE(regs.ok()) << regs.status().to_string();
      EXPECT_EQ(regs->size(), registers_of(t, 0));
      EXPECT_EQ(std::get<int64_t>(decode_registers(e, *regs)), v) << data_type_name(t);
    }
    const Encoding f = enc(DataType::kFloat64, order);
    Result<std::vector<uint16_t>> regs = encode_registers(f, Value(3.25));
    ASSERT_TRUE(regs.ok());
    EXPECT_EQ(std::get<double>(decode_registers(f, *regs)), 3.25);
  }
}

TEST(ModbusCodecTest, WriteAppliesInverseScaling) {
  // raw = (value - offset) / scale, rounded.
  const Encoding e = enc(DataType::kUint16, "ABCD", 0.1, 0);
  Result<std::vector<uint16_t>> regs = encode_registers(e, Value(50.0));
  ASSERT_TRUE(regs.ok());
  EXPECT_EQ((*regs)[0], 500);
  const Encoding off = enc(DataType::kInt16, "ABCD", 2, 10);
  regs = encode_registers(off, Value(int64_t{4}));
  ASSERT_TRUE(regs.ok());
  EXPECT_EQ((*regs)[0], 0xFFFD);  // (4 - 10) / 2 = -3
  const Encoding f = enc(DataType::kFloat32, "CDAB", 10, 0);
  regs = encode_registers(f, Value(25.0));
  ASSERT_TRUE(regs.ok());
  EXPECT_EQ(std::get<double>(decode_registers(f, *regs)), 25.0);
}

TEST(ModbusCodecTest, WriteRefusesOutOfRangeAndWrongTypes) {
  EXPECT_EQ(encode_registers(enc(DataType::kUint16), Value(int64_t{65536})).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(encode_registers(enc(DataType::kUint16), Value(-1.0)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(encode_registers(enc(DataType::kInt16, "ABCD", 0.1, 0), Value(4000.0)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(encode_registers(enc(DataType::kInt32), Value(std::string("7"))).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(encode_registers(enc(DataType::kFloat32), Value(1e300)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(encode_registers(enc(DataType::kInt64), Value(9.3e18)).status().code(),
            Code::kInvalidArgument);
  Encoding s = enc(DataType::kString);
  s.string_length = 2;
  EXPECT_EQ(encode_registers(s, Value(std::string("12345"))).status().code(),
            Code::kInvalidArgument);
  Result<std::vector<uint16_t>> ok = encode_registers(s, Value(std::string("abc")));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<uint16_t>{0x6162, 0x6300}));
  EXPECT_FALSE(encode_bit(Value(int64_t{2})).ok());
  EXPECT_TRUE(*encode_bit(Value(int64_t{1})));
  EXPECT_FALSE(*encode_bit(Value(false)));
}

TEST(ModbusCodecTest, OrderNamesRoundTrip) {
  Order o;
  EXPECT_FALSE(parse_order("ABDC", true, &o));
  EXPECT_FALSE(parse_order("GHEFCDAB", false, &o));
  ASSERT_TRUE(parse_order("GHEFCDAB", true, &o));
  EXPECT_TRUE(o.swap_words);
  EXPECT_FALSE(o.swap_bytes);
  EXPECT_EQ(order_name(o, 4), "GHEFCDAB");
  EXPECT_EQ(order_name(o, 2), "CDAB");
}

TEST(ModbusCodecTest, ParameterTextIsReadAsTheSetPointsType) {
  EXPECT_EQ(std::get<bool>(*value_from_text(enc(DataType::kBool), "true")), true);
  EXPECT_EQ(std::get<int64_t>(*value_from_text(enc(DataType::kUint16), "42")), 42);
  EXPECT_EQ(std::get<double>(*value_from_text(enc(DataType::kUint16, "ABCD", 0.1), "4.5")), 4.5);
  EXPECT_FALSE(value_from_text(enc(DataType::kInt32), "4x").ok());
  EXPECT_FALSE(value_from_text(enc(DataType::kBool), "yes").ok());
}

}  // namespace
}  // namespace sluice::sources::modbus
