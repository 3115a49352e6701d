// CRC-32C (Castagnoli): the checksum of store records and, later, of forward-link frames. One
// entry point picks the SSE4.2 instruction when the CPU has it and a portable slicing-by-8
// table otherwise; both give the same value for every input.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

// The CRC-32C of data[0, n) appended to a stream whose CRC so far is `crc` (0 to start), so
// crc32c_extend(crc32c(a), b) == crc32c(a + b). Thread-safe.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n);

inline uint32_t crc32c(const void* data, size_t n) { return crc32c_extend(0, data, n); }

// A CRC stored next to (or inside) data that is itself checksummed is masked first: the CRC
// of a string that contains its own CRC is otherwise prone to degenerate values.
inline constexpr uint32_t kCrc32cMaskDelta = 0xa282ead8u;

inline uint32_t crc32c_mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kCrc32cMaskDelta;  // rotate right 15, then add
}

inline uint32_t crc32c_unmask(uint32_t masked) {
  const uint32_t rot = masked - kCrc32cMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// The two implementations behind crc32c_extend, exposed so tests can compare them.
uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t n);
// True when this CPU has the CRC-32C instruction (x86 SSE4.2).
bool crc32c_hardware_available();
// Only valid when crc32c_hardware_available(); otherwise it is the portable path.
uint32_t crc32c_extend_hardware(uint32_t crc, const void* data, size_t n);

}  // namespace sluice
