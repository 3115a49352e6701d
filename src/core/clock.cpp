// Time as text (see clock.h).
#include "core/clock.h"

#include <fmt/format.h>

#include <ctime>

namespace sluice {

std::string iso8601_ms(Timestamp ns) {
  constexpr int64_t kNsPerSecond = 1'000'000'000;
  constexpr int64_t kNsPerMs = 1'000'000;
  const int64_t secs = ns >= 0 ? ns / kNsPerSecond : (ns - (kNsPerSecond - 1)) / kNsPerSecond;
  const int64_t ms = (ns - secs * kNsPerSecond) / kNsPerMs;
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

}  // namespace sluice
