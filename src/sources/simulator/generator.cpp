// The simulator's schedule and value shapes (see generator.h for the definitions). Randomness
// is a splitmix64 stream per series with Box-Muller gaussians, so results are the same on every
// platform and do not depend on how the samples are cut into batches.
#include "sources/simulator/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>

namespace sluice::sources {
namespace {

constexpr long double kNsPerSecond = 1e9L;
constexpr std::array<Shape, 5> kMixedCycle{Shape::kSine, Shape::kRamp, Shape::kRandomWalk,
                                           Shape::kSquare, Shape::kCounter};
// Random walk step stddev as a fraction of the amplitude.
constexpr double kWalkStepFraction = 1.0 / 20;
constexpr int64_t kBacklogSeconds = 5;
constexpr uint64_t kBacklogBatches = 10;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform double in (0, 1].
double uniform(uint64_t& state) {
  return static_cast<double>((splitmix64(state) >> 11) + 1) * 0x1.0p-53;
}

}  // namespace

const char* shape_name(Shape shape) {
  switch (shape) {
    case Shape::kSine: return "sine";
    case Shape::kRamp: return "ramp";
    case Shape::kRandomWalk: return "random_walk";
    case Shape::kSquare: return "square";
    case Shape::kCounter: return "counter";
    case Shape::kMixed: return "mixed";
  }
  return "unknown";
}

// ---- Schedule and Pacing -------------------------------------------------------------------

int64_t Schedule::offset_of(uint64_t k) const {
  const long double ns = std::floor(static_cast<long double>(k) * kNsPerSecond / rate_);
  if (ns >= static_cast<long double>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(ns);
}

uint64_t Schedule::count_due(int64_t elapsed_ns) const {
  if (elapsed_ns < 0) return 0;
  // An estimate, then corrected so that it agrees exactly with offset_of().
  auto count = static_cast<uint64_t>(
      std::floor(static_cast<long double>(elapsed_ns) * rate_ / kNsPerSecond) + 1);
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();  // offset_of saturates here
  while (offset_of(count) <= elapsed_ns && offset_of(count) != kNever) ++count;
  while (count > 0 && offset_of(count - 1) > elapsed_ns) --count;
  return count;
}

Pacing::Pacing(double rate, uint32_t batch_size, std::chrono::nanoseconds flush_interval)
    : schedule_(rate),
      batch_size_(std::max<uint32_t>(batch_size, 1)),
      flush_ns_(flush_interval.count()) {}

int64_t Pacing::next_wake(uint64_t emitted, int64_t elapsed_ns) const {
  const int64_t next_sample = schedule_.offset_of(emitted);
  const int64_t batch_full = schedule_.offset_of(emitted + batch_size_ - 1);
  const int64_t flush = elapsed_ns > std::numeric_limits<int64_t>::max() - flush_ns_
                            ? std::numeric_limits<int64_t>::max()
                            : elapsed_ns + flush_ns_;
  return std::min(batch_full, std::max(next_sample, flush));
}

uint64_t Pacing::max_backlog() const {
  const auto by_time = static_cast<uint64_t>(schedule_.rate() * kBacklogSeconds);
  return std::max<uint64_t>(by_time, kBacklogBatches * batch_size_);
}

// ---- SimulatorGenerator --------------------------------------------------------------------

SimulatorGenerator::SimulatorGenerator(const SimulatorOptions& options, Timestamp start)
    : options_(options),
      schedule_(options.rate),
      start_(start),
      period_ns_(std::max<int64_t>(options.period.count(), 1)),
      round_scale_(options.decimals < 0 ? 0 : std::pow(10.0, options.decimals)) {
  const uint32_t n = std::max<uint32_t>(options.series, 1);
  series_.resize(n);
  names_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Series& s = series_[i];
    uint32_t rank = i;
    uint32_t of_shape = n;
    if (options.shape == Shape::kMixed) {
      const uint32_t cycle = kMixedCycle.size();
      s.shape = kMixedCycle[i % cycle];
      rank = i / cycle;
      of_shape = (n - i % cycle + cycle - 1) / cycle;  // series that share this shape
    } else {
      s.shape = options.shape;
    }
    s.shift_ns = static_cast<int64_t>(static_cast<long double>(period_ns_) * rank / of_shape);
    s.walk = options.offset;
    s.rng = options.seed ^ (0xd1b54a32d192ed03ULL * (static_cast<uint64_t>(i) + 1));
    names_[i] = options.asset + "." + shape_name(s.shape) + std::to_string(rank);
  }
}

double SimulatorGenerator::gaussian(Series& s) {
  const double u1 = uniform(s.rng);
  const double u2 = uniform(s.rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

Value SimulatorGenerator::value_of(Series& s, uint64_t per_series_index, Timestamp ts) {
  const double a = options_.amplitude;
  const double o = options_.offset;
  if (s.shape == Shape::kCounter) {
    return static_cast<int64_t>(std::llround(o)) + static_cast<int64_t>(per_series_index);
  }
  // Where in its period this series is, in [0, 1).
  int64_t in_period = (ts % period_ns_ + s.shift_ns) % period_ns_;
  if (in_period < 0) in_period += period_ns_;
  const double phase = static_cast<double>(in_period) / static_cast<double>(period_ns_);

  double v = o;
  switch (s.shape) {
    case Shape::kSine: v = o + a * std::sin(2 * std::numbers::pi * phase); break;
    case Shape::kRamp: v = o - a + 2 * a * phase; break;
    case Shape::kSquare: v = phase < 0.5 ? o + a : o - a; break;
    case Shape::kRandomWalk: {
      s.walk += gaussian(s) * a * kWalkStepFraction;
      const double lo = o - a;
      const double hi = o + a;
      if (s.walk > hi) s.walk = 2 * hi - s.walk;
      if (s.walk < lo) s.walk = 2 * lo - s.walk;
      s.walk = std::clamp(s.walk, lo, hi);
      v = s.walk;
      break;
    }
    case Shape::kCounter:
    case Shape::kMixed: break;  // handled above / never a series' own shape
  }
  if (options_.noise > 0) v += gaussian(s) * options_.noise;
  if (round_scale_ > 0) v = std::round(v * round_scale_) / round_scale_;
  return v;
}

void SimulatorGenerator::generate(uint64_t count, Batch* out) {
  const uint64_t n = series_.size();
  out->samples.reserve(out->samples.size() + count);
  for (uint64_t c = 0; c < count; ++c) {
    const uint64_t k = next_++;
    const auto i = static_cast<size_t>(k % n);
    const Timestamp ts = timestamp_of(k);
    Sample& sample = out->samples.emplace_back();
    sample.series = names_[i];
    sample.ts = ts;
    sample.value = value_of(series_[i], k / n, ts);
  }
}

void SimulatorGenerator::skip(uint64_t count) { next_ += count; }

}  // namespace sluice::sources
