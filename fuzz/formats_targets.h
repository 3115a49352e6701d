// Fuzz target body for the payload parsers (src/formats/): arbitrary bytes through every parser
// and the format detector. Kept apart from targets.h so the formats library can be fuzzed alone.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// Byte 0 picks the parser (kepware, json mapped, json flat, senml, openmetrics, prometheus text,
// influx); the rest is the payload. Aborts if a parser breaks its contract (touches `out` on
// failure, emits an empty or over-long series name, or more samples than the limit).
int formats(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
