// Workload W1, the standard sensor stream of the benchmarks: 10,000 series named like
// `plant.line3.asset0042.temperature`, one double reading per series per second, each a slow
// sine (period of hours, own phase and amplitude) plus gaussian noise, rounded to 2 decimals.
// Batches hold 1,000 samples in series order: batch k covers series (k*1000) % 10000 .. +999
// at second (k*1000) / 10000, all with the same whole-second timestamp. Deterministic: batch k
// is the same in every run and in every benchmark that uses it (codec, store).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <string>
#include <vector>

#include "core/sample.h"

namespace sluice::bench {

inline constexpr uint32_t kW1Series = 10'000;
inline constexpr uint32_t kW1BatchSamples = 1'000;
inline constexpr Timestamp kW1Start = 1'700'000'000'000'000'000;  // 2023-11-14, ns
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;

namespace w1_detail {

inline uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
// Uniform in [0, 1) from a hash.
inline double unit(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

struct Measure {
  const char* name;
  double base_lo, base_hi;  // the series' mean, drawn from this range
  double amp_lo, amp_hi;    // sine amplitude
  double noise;             // standard deviation of the noise, a fraction of the amplitude
};
inline constexpr Measure kMeasures[] = {
    {"temperature", 20.0, 90.0, 0.5, 5.0, 0.05}, {"pressure", 1.0, 10.0, 0.05, 0.5, 0.05},
    {"flow", 10.0, 500.0, 1.0, 50.0, 0.02},      {"level", 5.0, 95.0, 1.0, 20.0, 0.01},
    {"vibration", 0.5, 10.0, 0.1, 2.0, 0.1},
};
inline constexpr uint32_t kMeasureCount = sizeof(kMeasures) / sizeof(kMeasures[0]);
inline constexpr uint32_t kSeriesPerLine = 1'000;

}  // namespace w1_detail

// Series i: line i/1000, asset (i%1000)/5, measure i%5.
inline std::string w1_series_name(uint32_t series) {
  using namespace w1_detail;
  const uint32_t line = series / kSeriesPerLine;
  const uint32_t asset = (series % kSeriesPerLine) / kMeasureCount;
  char digits[8];
  std::snprintf(digits, sizeof(digits), "%04u", asset);
  return "plant.line" + std::to_string(line) + ".asset" + digits + "." +
         kMeasures[series % kMeasureCount].name;
}

// The reading of `series` at `second` (seconds since kW1Start), already rounded to 2 decimals.
inline double w1_value(uint32_t series, uint64_t second) {
  using namespace w1_detail;
  const Measure& m = kMeasures[series % kMeasureCount];
  const uint64_t h = mix(series);
  const double base = m.base_lo + (m.base_hi - m.base_lo) * unit(mix(h ^ 1));
  const double amp = m.amp_lo + (m.amp_hi - m.amp_lo) * unit(mix(h ^ 2));
  const double period_s = 3600.0 * (1.0 + 5.0 * unit(mix(h ^ 3)));  // 1 to 6 hours
  const double phase = 2.0 * std::numbers::pi * unit(mix(h ^ 4));
  // Box-Muller from two hashes of (series, second).
  const uint64_t n = mix(h ^ mix(second));
  const double u1 = 1.0 - unit(n);  // (0, 1]
  const double u2 = unit(mix(n));
  const double gauss = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  const double v =
      base +
      amp * std::sin(2.0 * std::numbers::pi * static_cast<double>(second) / period_s + phase) +
      m.noise * amp * gauss;
  return std::round(v * 100.0) / 100.0;
}

inline uint32_t w1_first_series(uint64_t batch_index) {
  return static_cast<uint32_t>((batch_index * kW1BatchSamples) % kW1Series);
}
inline uint64_t w1_second(uint64_t batch_index) {
  return (batch_index * kW1BatchSamples) / kW1Series;
}

// Batch k of the stream.
inline Batch w1_batch(uint64_t batch_index) {
  const uint32_t first = w1_first_series(batch_index);
  const uint64_t second = w1_second(batch_index);
  const Timestamp ts = kW1Start + static_cast<Timestamp>(second) * kNanosPerSecond;
  Batch b;
  b.samples.reserve(kW1BatchSamples);
  for (uint32_t i = 0; i < kW1BatchSamples; ++i) {
    const uint32_t series = first + i;
    b.samples.push_back({w1_series_name(series), ts, w1_value(series, second), quality::kGood});
  }
  return b;
}

// The series ids of batch k as a catalog that numbers series in order of first appearance
// would assign them: W1 series i gets id i.
inline std::vector<uint32_t> w1_series_ids(uint64_t batch_index) {
  std::vector<uint32_t> ids(kW1BatchSamples);
  const uint32_t first = w1_first_series(batch_index);
  for (uint32_t i = 0; i < kW1BatchSamples; ++i) ids[i] = first + i;
  return ids;
}

}  // namespace sluice::bench
