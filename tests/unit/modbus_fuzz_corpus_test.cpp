// Replays every kept input of the Modbus fuzz target (fuzz/corpus/modbus/*) through its body, so
// that what a fuzzer once found stays fixed, with or without libFuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fixtures/test_support.h"
#include "fuzz/modbus_targets.h"

namespace sluice {
namespace {

TEST(ModbusFuzzCorpusTest, MapAndRegisterCorpusReplaysCleanly) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / "modbus";
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(
        fuzz::modbus_map_registers(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
        0);
    ++n;
  }
  EXPECT_GT(n, 0u);
}

TEST(ModbusFuzzCorpusTest, ArbitraryBytesNeverCrashTheTarget) {
  // A cheap stand-in for the fuzzer in every test run: prefixes of a valid input and noise.
  const std::string valid =
      std::string(R"({"items":[{"name":"a","holding_register":0,"type":"int64","order":"DCBA"},)"
                  R"({"name":"s","input_register":1,"type":"string","length":3}]})") +
      std::string(1, '\0') + "\x80\x00\x7f\xff\x12\x34\x56";
  for (size_t len = 0; len <= valid.size(); ++len) {
    EXPECT_EQ(fuzz::modbus_map_registers(reinterpret_cast<const uint8_t*>(valid.data()), len), 0);
  }
  uint32_t x = 12345;
  for (int i = 0; i < 200; ++i) {
    std::string noise = valid;
    for (int k = 0; k < 4; ++k) {
      x = x * 1103515245 + 12345;
      noise[x % noise.size()] = static_cast<char>(x >> 16);
    }
    EXPECT_EQ(
        fuzz::modbus_map_registers(reinterpret_cast<const uint8_t*>(noise.data()), noise.size()),
        0);
  }
}

}  // namespace
}  // namespace sluice
