// CRC-32C: published test vectors, streaming (extend) equals one-shot, the hardware and the
// portable paths agree on every length and alignment, and masking round-trips.
#include "core/crc32c.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace sluice {
namespace {

uint32_t crc_of(const std::string& s) { return crc32c(s.data(), s.size()); }

TEST(Crc32c, MatchesPublishedVectors) {
  EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
  EXPECT_EQ(crc_of(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc_of(std::string(32, '\xff')), 0x62A8AB43u);
  // RFC 3720 (iSCSI) B.4: 32 bytes counting up and counting down.
  std::string up(32, '\0');
  std::string down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc_of(up), 0x46DD794Eu);
  EXPECT_EQ(crc_of(down), 0x113FDB5Cu);
}

TEST(Crc32c, EmptyInputLeavesTheCrcUnchanged) {
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
  EXPECT_EQ(crc32c_extend(0x12345678u, nullptr, 0), 0x12345678u);
}

TEST(Crc32c, PortablePathMatchesPublishedVectors) {
  const std::string digits = "123456789";
  EXPECT_EQ(crc32c_extend_portable(0, digits.data(), digits.size()), 0xE3069283u);
  const std::string ones(32, '\xff');
  EXPECT_EQ(crc32c_extend_portable(0, ones.data(), ones.size()), 0x62A8AB43u);
}

TEST(Crc32c, DifferentDataGivesDifferentCrc) {
  EXPECT_NE(crc_of("a"), crc_of("foo"));
  EXPECT_NE(crc_of(std::string(32, '\0')), crc_of(std::string(33, '\0')));
}

RC_GTEST_PROP(Crc32c, ExtendOfPartsEqualsCrcOfWhole, (const std::string& a, const std::string& b)) {
  const uint32_t whole = crc_of(a + b);
  RC_ASSERT(crc32c_extend(crc_of(a), b.data(), b.size()) == whole);
  RC_ASSERT(crc32c_extend_portable(crc32c_extend_portable(0, a.data(), a.size()), b.data(),
                                   b.size()) == whole);
}

// The hardware path handles a head before 8-byte alignment, 8-byte words and a tail; the
// portable path a head before 4-byte alignment, 8-byte slices and a tail. Random offsets
// into a buffer and random lengths exercise every split.
RC_GTEST_PROP(Crc32c, HardwareAndPortablePathsAgree, ()) {
  const auto bytes = *rc::gen::container<std::vector<uint8_t>>(rc::gen::arbitrary<uint8_t>());
  const size_t offset = *rc::gen::inRange<size_t>(0, 16);
  std::vector<uint8_t> buffer(offset + bytes.size());
  if (!bytes.empty()) std::memcpy(buffer.data() + offset, bytes.data(), bytes.size());
  const uint32_t seed = *rc::gen::arbitrary<uint32_t>();
  const uint8_t* p = buffer.data() + offset;
  const uint32_t portable = crc32c_extend_portable(seed, p, bytes.size());
  RC_ASSERT(crc32c_extend_hardware(seed, p, bytes.size()) == portable);
  RC_ASSERT(crc32c_extend(seed, p, bytes.size()) == portable);
}

TEST(Crc32c, HardwareAndPortableAgreeOnLargeBuffers) {
  std::vector<uint8_t> buffer(1 << 20);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto& b : buffer) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  for (size_t offset : {0, 1, 3, 7}) {
    const size_t n = buffer.size() - offset;
    EXPECT_EQ(crc32c_extend_hardware(0, buffer.data() + offset, n),
              crc32c_extend_portable(0, buffer.data() + offset, n))
        << "offset " << offset;
  }
}

TEST(Crc32c, ReportsWhetherTheHardwarePathIsUsed) {
  // Not an assertion about the machine, only that the answer is stable and logged.
  const bool hw = crc32c_hardware_available();
  EXPECT_EQ(hw, crc32c_hardware_available());
  std::printf("crc32c hardware path: %s\n", hw ? "sse4.2" : "none (portable)");
}

RC_GTEST_PROP(Crc32c, UnmaskUndoesMask, (uint32_t crc)) {
  RC_ASSERT(crc32c_unmask(crc32c_mask(crc)) == crc);
}

TEST(Crc32c, MaskedCrcOfDataDiffersFromPlainCrc) {
  const uint32_t crc = crc_of("foo");
  EXPECT_NE(crc, crc32c_mask(crc));
  EXPECT_NE(crc, crc32c_mask(crc32c_mask(crc)));
  EXPECT_EQ(crc, crc32c_unmask(crc32c_mask(crc)));
}

}  // namespace
}  // namespace sluice
