// Sample quality: a 32-bit OPC UA style status code (Part 4, 7.34). The top two bits give the
// severity (00 Good, 01 Uncertain, 10 Bad); the next 14 bits the sub-code. Every sample carries
// one, so a source can say "this value is stale" or "no data here" without a side channel.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

using Quality = uint32_t;

namespace quality {
inline constexpr Quality kGood = 0x00000000;
inline constexpr Quality kUncertain = 0x40000000;
inline constexpr Quality kBad = 0x80000000;
// Sub-codes used by Sluice's own sources and filters.
inline constexpr Quality kUncertainLastUsableValue = 0x40900000;
inline constexpr Quality kBadCommunicationError = 0x80050000;
inline constexpr Quality kBadTimeout = 0x800A0000;
inline constexpr Quality kBadNoCommunication = 0x80310000;
inline constexpr Quality kBadWaitingForInitialData = 0x80320000;
inline constexpr Quality kBadOutOfRange = 0x803C0000;
inline constexpr Quality kBadConfigurationError = 0x80890000;
inline constexpr Quality kBadNotConnected = 0x808A0000;
inline constexpr Quality kBadDeviceFailure = 0x808B0000;
inline constexpr Quality kBadSensorFailure = 0x808C0000;
inline constexpr Quality kBadNoData = 0x809B0000;

enum class Severity { kSeverityGood, kSeverityUncertain, kSeverityBad };

inline Severity severity(Quality q) {
  switch (q >> 30) {
    case 0: return Severity::kSeverityGood;
    case 1: return Severity::kSeverityUncertain;
    default: return Severity::kSeverityBad;  // 10 and the reserved 11 are both treated as Bad
  }
}
inline bool is_good(Quality q) { return severity(q) == Severity::kSeverityGood; }
inline bool is_bad(Quality q) { return severity(q) == Severity::kSeverityBad; }

// "Good", "Bad", "BadTimeout", or "Bad(0x80AB0000)" for a code without a name here.
std::string to_string(Quality q);
}  // namespace quality

}  // namespace sluice
