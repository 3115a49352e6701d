// The simulator's arithmetic, free of threads and clocks so that tests can check it exactly:
// SimulatorGenerator makes the samples (which series, which timestamp, which value), and
// Schedule and Pacing say when each sample is due and when the loop should wake next. The
// source (simulator.h) runs them against a Clock.
//
// The sample stream. Samples are numbered k = 0, 1, 2 ... over all series; sample k belongs to
// series k % series_count and is due `Schedule::offset_of(k)` ns after the start, i.e. `rate`
// samples per second spread evenly over the series. Its timestamp is the start time plus that
// offset (source time is the schedule, not the moment a slow loop got round to it).
//
// The shapes, for a series with amplitude A, offset O and period P (values are then given
// gaussian noise of stddev `noise` and rounded to `decimals` places):
//   sine         O + A sin(2π (ts mod P) / P + φ), φ spreading the series of this shape evenly
//   ramp         rises linearly from O - A to O + A over each period, then wraps to O - A
//   square       O + A in the first half of each period, O - A in the second
//   random_walk  starts at O, moves by gaussian steps of stddev A/20, reflected into [O-A, O+A]
//   counter      an int64: O (rounded) for the series' first sample, then +1 per sample
// Ramp and square are shifted per series like sine. Every value depends only on the options,
// the start time, k and the seed: two generators built alike produce identical batches.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/sample.h"

namespace sluice::sources {

enum class Shape { kSine, kRamp, kRandomWalk, kSquare, kCounter, kMixed };

const char* shape_name(Shape shape);  // "sine", "ramp", "random_walk", "square", "counter", "mixed"

struct SimulatorOptions {
  double rate = 10;      // samples per second over all series
  uint32_t series = 10;  // number of series
  std::string asset = "sim";
  Shape shape = Shape::kMixed;  // kMixed: series cycle through the five shapes
  std::chrono::nanoseconds period = std::chrono::seconds(60);
  double amplitude = 10;
  double offset = 0;
  double noise = 0;            // stddev of gaussian noise added to double values
  int decimals = 2;            // round values to this many places; -1: no rounding
  uint32_t batch_size = 1000;  // at most this many samples per batch
  // The longest a due sample waits for its batch to fill before a partial batch is sent.
  std::chrono::nanoseconds flush_interval = std::chrono::milliseconds(100);
  uint64_t seed = 1;
};

// When sample k is due: offset_of(k) = floor(k * 1e9 / rate) ns after the start.
class Schedule {
 public:
  explicit Schedule(double rate) : rate_(rate) {}
  int64_t offset_of(uint64_t k) const;
  // How many samples are due at `elapsed_ns` after the start: the k with offset_of(k) <= elapsed.
  uint64_t count_due(int64_t elapsed_ns) const;
  double rate() const { return rate_; }

 private:
  double rate_;
};

// When the pacing loop wakes: when a full batch is due, or when the oldest due sample has
// waited flush_interval, whichever is first; but never before the next sample is due.
class Pacing {
 public:
  Pacing(double rate, uint32_t batch_size, std::chrono::nanoseconds flush_interval);
  const Schedule& schedule() const { return schedule_; }
  // `emitted` samples are out and it is `elapsed_ns` after the start: when to wake next
  // (ns after the start).
  int64_t next_wake(uint64_t emitted, int64_t elapsed_ns) const;
  // A loop that fell more than this many samples behind (a blocked store, a slow machine)
  // skips the oldest rather than catching up forever: 5 s worth, and at least 10 batches.
  uint64_t max_backlog() const;

 private:
  Schedule schedule_;
  uint32_t batch_size_;
  int64_t flush_ns_;
};

class SimulatorGenerator {
 public:
  // `start` is the wall-clock time of sample 0.
  SimulatorGenerator(const SimulatorOptions& options, Timestamp start);

  // Appends the next `count` samples (numbers next_index() ...) to out->samples.
  void generate(uint64_t count, Batch* out);
  // Moves past `count` samples without making them. Counters jump as if they had been made;
  // random walks go on from where they were.
  void skip(uint64_t count);
  uint64_t next_index() const { return next_; }

  Timestamp timestamp_of(uint64_t k) const { return start_ + schedule_.offset_of(k); }
  const std::vector<std::string>& series_names() const { return names_; }
  Shape shape_of(uint32_t series) const { return series_[series].shape; }

 private:
  struct Series {
    Shape shape = Shape::kSine;
    int64_t shift_ns = 0;  // where in the period this series starts
    double walk = 0;       // random walk position
    uint64_t rng = 0;      // splitmix64 state
  };
  double gaussian(Series& s);
  Value value_of(Series& s, uint64_t per_series_index, Timestamp ts);

  SimulatorOptions options_;
  Schedule schedule_;
  Timestamp start_;
  int64_t period_ns_;
  double round_scale_;  // 10^decimals, or 0 for no rounding
  std::vector<Series> series_;
  std::vector<std::string> names_;
  uint64_t next_ = 0;
};

}  // namespace sluice::sources
