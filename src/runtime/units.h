// Sizes and durations as people write them in the config file ("64MiB", "10ms", "1h30m") and
// as the logs and `sluice validate` print them back. Parsing is strict: a unit that is not
// listed here is an error that says which units exist, never a silent guess.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::runtime {

// A byte count: a plain non-negative integer string ("1048576") or a number with a unit:
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024); the unit is
// case-insensitive, a space before it is allowed and the number may have a fraction
// ("1.5GiB"; the result is rounded down to whole bytes). kInvalidArgument on anything else
// or on a value over 2^63.
Result<uint64_t> parse_size(std::string_view text);

// A duration: one or more <number><unit> parts, added up ("250ms", "1m30s", "1.5h"). Units:
// ns, us (or µs), ms, s, m (or min), h, d. A number without a unit is an error, except "0".
// Negative durations are errors. kInvalidArgument on anything else or on overflow.
Result<std::chrono::nanoseconds> parse_duration(std::string_view text);

// The shortest exact form in the largest fitting binary unit: 67108864 -> "64MiB",
// 1000 -> "1000B", 1536 -> "1.5KiB" (up to two decimals, else bytes).
std::string format_size(uint64_t bytes);
// Rounded for logs and status lines: 2758 -> "2.7KiB", 67108864 -> "64.0MiB", 999 -> "999B".
std::string format_bytes(uint64_t bytes);
// The largest unit that divides the duration: 10'000'000ns -> "10ms", 90s -> "90s", 0 -> "0s".
std::string format_duration(std::chrono::nanoseconds d);

// What the parsers accept, for error messages.
inline constexpr std::string_view kSizeUnitsHelp =
    "a size such as 64MiB or 500MB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a byte count";
inline constexpr std::string_view kDurationUnitsHelp =
    "a duration such as 10ms, 60s or 1h30m (units ns, us, ms, s, m, h, d)";

}  // namespace sluice::runtime
