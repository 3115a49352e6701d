// CRC-32C for record checksums: a hardware path (x86 SSE4.2 crc32 instruction) chosen once at
// run time, and a portable slicing-by-8 path for other CPUs. The CRC uses the reflected
// Castagnoli polynomial 0x82F63B78 with initial value and final xor 0xFFFFFFFF.
#include "core/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define SLUICE_CRC32C_X86 1
#endif

namespace sluice {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli
constexpr int kSlices = 8;

using Tables = std::array<std::array<uint32_t, 256>, kSlices>;

// tables[0] advances the CRC by one byte; tables[k] by one byte followed by k zero bytes, so
// eight bytes can be folded with eight independent look-ups.
constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kPolynomial : 0u);
    t[0][i] = crc;
  }
  for (int k = 1; k < kSlices; ++k) {
    for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xffu];
  }
  return t;
}

constexpr Tables kTables = make_tables();

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

#if SLUICE_CRC32C_X86
__attribute__((target("sse4.2"))) uint32_t extend_sse42(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t l = crc ^ 0xffffffffu;
  // Byte steps up to an 8-byte boundary keep the wide loads aligned.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
    l = _mm_crc32_u8(l, *p++);
    --n;
  }
#if defined(__x86_64__)
  uint64_t l64 = l;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    l64 = _mm_crc32_u64(l64, word);
    p += 8;
    n -= 8;
  }
  l = static_cast<uint32_t>(l64);
#endif
  while (n >= 4) {
    uint32_t word;
    std::memcpy(&word, p, sizeof(word));
    l = _mm_crc32_u32(l, word);
    p += 4;
    n -= 4;
  }
  while (n > 0) {
    l = _mm_crc32_u8(l, *p++);
    --n;
  }
  return l ^ 0xffffffffu;
}
#endif

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t l = crc ^ 0xffffffffu;
  const auto& t = kTables;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 3u) != 0) {
    l = t[0][(l ^ *p++) & 0xffu] ^ (l >> 8);
    --n;
  }
  while (n >= 8) {
    const uint32_t lo = load_le32(p) ^ l;
    const uint32_t hi = load_le32(p + 4);
    l = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^ t[4][lo >> 24] ^
        t[3][hi & 0xffu] ^ t[2][(hi >> 8) & 0xffu] ^ t[1][(hi >> 16) & 0xffu] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    l = t[0][(l ^ *p++) & 0xffu] ^ (l >> 8);
    --n;
  }
  return l ^ 0xffffffffu;
}

bool crc32c_hardware_available() {
#if SLUICE_CRC32C_X86
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
#else
  return false;
#endif
}

uint32_t crc32c_extend_hardware(uint32_t crc, const void* data, size_t n) {
#if SLUICE_CRC32C_X86
  if (crc32c_hardware_available()) return extend_sse42(crc, static_cast<const uint8_t*>(data), n);
#endif
  return crc32c_extend_portable(crc, data, n);
}

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n) {
#if SLUICE_CRC32C_X86
  if (crc32c_hardware_available()) return extend_sse42(crc, static_cast<const uint8_t*>(data), n);
#endif
  return crc32c_extend_portable(crc, data, n);
}

}  // namespace sluice
