// The simulator: each shape keeps its promise (bounds, increments, wraps, alternation,
// determinism by seed, rounding), the schedule and pacing arithmetic is exact, and the pacing
// loop, run against a ManualClock, produces exactly the scheduled samples.
#include "sources/simulator/simulator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cmath>
#include <limits>
#include <map>

#include "core/clock.h"
#include "sources/simulator/generator.h"

namespace sluice::sources {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A round start time (a multiple of every period used here), so phases start at 0.
constexpr Timestamp kStart = 1'700'000'000'000'000'000;
constexpr int64_t kSecond = 1'000'000'000;

SimulatorOptions options_for(Shape shape) {
  SimulatorOptions o;
  o.shape = shape;
  o.series = 1;
  o.rate = 100;
  o.period = seconds(1);
  o.amplitude = 5;
  o.offset = 100;
  o.noise = 0;
  o.decimals = -1;
  return o;
}

Batch generate(const SimulatorOptions& o, uint64_t n, Timestamp start = kStart) {
  SimulatorGenerator g(o, start);
  Batch b;
  g.generate(n, &b);
  return b;
}

std::vector<double> doubles(const Batch& b) {
  std::vector<double> v;
  for (const Sample& s : b.samples) v.push_back(std::get<double>(s.value));
  return v;
}

TEST(SimulatorGeneratorTest, SineStaysWithinAmplitudeAroundOffsetAndReachesBothEnds) {
  SimulatorOptions o = options_for(Shape::kSine);
  o.series = 4;
  o.rate = 4000;  // 1000 samples per series per period
  std::vector<double> v = doubles(generate(o, 40'000));
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lo, 95.0);
  EXPECT_LE(*hi, 105.0);
  EXPECT_LT(*lo, 95.01);
  EXPECT_GT(*hi, 104.99);
}

TEST(SimulatorGeneratorTest, SineSeriesOfOneShapeArePhaseShifted) {
  SimulatorOptions o = options_for(Shape::kSine);
  o.series = 4;
  o.rate = 400;
  Batch b = generate(o, 4);  // the first sample of each series, 2.5 ms apart
  // Quarter-period shifts: sin(0), sin(π/2), sin(π), sin(3π/2) (plus the 2.5 ms steps).
  EXPECT_NEAR(std::get<double>(b.samples[0].value), 100, 0.1);
  EXPECT_NEAR(std::get<double>(b.samples[1].value), 105, 0.1);
  EXPECT_NEAR(std::get<double>(b.samples[2].value), 100, 0.2);
  EXPECT_NEAR(std::get<double>(b.samples[3].value), 95, 0.1);
}

TEST(SimulatorGeneratorTest, CounterIncrementsByOnePerSampleOfItsSeries) {
  SimulatorOptions o = options_for(Shape::kCounter);
  o.series = 3;
  o.offset = 7;
  Batch b = generate(o, 9);
  std::map<std::string, std::vector<int64_t>> per_series;
  for (const Sample& s : b.samples) {
    ASSERT_TRUE(std::holds_alternative<int64_t>(s.value)) << "counters are int64";
    per_series[s.series].push_back(std::get<int64_t>(s.value));
  }
  ASSERT_EQ(per_series.size(), 3u);
  for (const auto& [name, values] : per_series) EXPECT_THAT(values, ElementsAre(7, 8, 9)) << name;
}

TEST(SimulatorGeneratorTest, CounterJumpsOverSkippedSamples) {
  SimulatorOptions o = options_for(Shape::kCounter);
  SimulatorGenerator g(o, kStart);
  Batch b;
  g.generate(2, &b);
  g.skip(10);
  g.generate(1, &b);
  EXPECT_EQ(std::get<int64_t>(b.samples[2].value), 100 + 12);
  EXPECT_EQ(b.samples[2].ts, g.timestamp_of(12));
}

TEST(SimulatorGeneratorTest, RampRisesOverEachPeriodAndWraps) {
  SimulatorOptions o = options_for(Shape::kRamp);
  o.rate = 10;  // 10 samples per 1 s period
  std::vector<double> v = doubles(generate(o, 30));
  for (size_t k = 0; k < v.size(); ++k) {
    EXPECT_NEAR(v[k], 95 + 10 * static_cast<double>(k % 10) / 10, 1e-9) << k;
  }
  int drops = 0;
  for (size_t k = 1; k < v.size(); ++k) drops += v[k] < v[k - 1] ? 1 : 0;
  EXPECT_EQ(drops, 2);  // wrapped at k = 10 and k = 20
}

TEST(SimulatorGeneratorTest, SquareAlternatesEveryHalfPeriod) {
  SimulatorOptions o = options_for(Shape::kSquare);
  o.rate = 4;  // 4 samples per 1 s period
  EXPECT_THAT(doubles(generate(o, 8)), ElementsAre(105, 105, 95, 95, 105, 105, 95, 95));
}

TEST(SimulatorGeneratorTest, RandomWalkIsDeterministicBySeedAndBounded) {
  SimulatorOptions o = options_for(Shape::kRandomWalk);
  o.series = 3;
  o.seed = 7;
  Batch a = generate(o, 30'000);
  Batch b = generate(o, 30'000);
  EXPECT_TRUE(identical(a, b));
  for (double v : doubles(a)) {
    ASSERT_GE(v, 95);
    ASSERT_LE(v, 105);
  }
  o.seed = 8;
  EXPECT_FALSE(identical(a, generate(o, 30'000)));
  // It moves: not stuck at the offset.
  std::vector<double> v = doubles(a);
  EXPECT_GT(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()), 1.0);
}

TEST(SimulatorGeneratorTest, OutputDoesNotDependOnHowItIsCutIntoBatches) {
  SimulatorOptions o;  // mixed shapes, with noise
  o.noise = 0.3;
  o.series = 7;
  SimulatorGenerator whole(o, kStart);
  SimulatorGenerator pieces(o, kStart);
  Batch a;
  Batch b;
  whole.generate(1000, &a);
  for (uint64_t n : {1, 299, 7, 693}) pieces.generate(n, &b);
  EXPECT_TRUE(identical(a, b));
}

TEST(SimulatorGeneratorTest, ValuesAreRoundedToDecimals) {
  SimulatorOptions o = options_for(Shape::kSine);
  o.noise = 0.37;
  o.decimals = 1;
  o.series = 5;
  for (double v : doubles(generate(o, 2000))) {
    ASSERT_EQ(v, std::round(v * 10) / 10) << v;
  }
  o.decimals = 0;
  for (double v : doubles(generate(o, 2000))) ASSERT_EQ(v, std::round(v)) << v;
}

TEST(SimulatorGeneratorTest, MinusOneDecimalsKeepsFullPrecision) {
  SimulatorOptions o = options_for(Shape::kSine);
  o.noise = 0.37;
  o.decimals = -1;
  int unrounded = 0;
  for (double v : doubles(generate(o, 100))) {
    unrounded += v != std::round(v * 100) / 100 ? 1 : 0;
  }
  EXPECT_GT(unrounded, 90);
}

TEST(SimulatorGeneratorTest, NoiseHasTheConfiguredSpread) {
  SimulatorOptions o = options_for(Shape::kSquare);
  o.noise = 2;
  o.rate = 1;  // one sample per period: always in the first half, so the mean is 105
  std::vector<double> v = doubles(generate(o, 20'000));
  double sum = 0;
  double sum_sq = 0;
  for (double x : v) {
    sum += x - 105;
    sum_sq += (x - 105) * (x - 105);
  }
  const double n = static_cast<double>(v.size());
  EXPECT_NEAR(sum / n, 0, 0.1);
  EXPECT_NEAR(std::sqrt(sum_sq / n), 2, 0.1);
}

TEST(SimulatorGeneratorTest, MixedCyclesThroughTheShapesAndNamesSeriesAssetDatapoint) {
  SimulatorOptions o;
  o.asset = "plant";
  o.series = 7;
  SimulatorGenerator g(o, kStart);
  EXPECT_THAT(g.series_names(),
              ElementsAre("plant.sine0", "plant.ramp0", "plant.random_walk0", "plant.square0",
                          "plant.counter0", "plant.sine1", "plant.ramp1"));
  EXPECT_EQ(g.shape_of(4), Shape::kCounter);
  Batch b;
  g.generate(7, &b);
  EXPECT_TRUE(std::holds_alternative<int64_t>(b.samples[4].value));
  EXPECT_TRUE(std::holds_alternative<double>(b.samples[0].value));
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(b.samples[i].series, g.series_names()[i]);
}

TEST(SimulatorGeneratorTest, TimestampsFollowTheSchedule) {
  SimulatorOptions o;
  o.rate = 1000;
  Batch b = generate(o, 5);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(b.samples[k].ts, kStart + static_cast<int64_t>(k) * 1'000'000);
    EXPECT_EQ(b.samples[k].quality, quality::kGood);
  }
}

// ---- schedule and pacing -------------------------------------------------------------------

TEST(ScheduleTest, SpreadsTheRateEvenly) {
  EXPECT_EQ(Schedule(1000).offset_of(1000), kSecond);
  EXPECT_EQ(Schedule(1000).offset_of(1), 1'000'000);
  EXPECT_EQ(Schedule(1.0 / 60).offset_of(1), 60 * kSecond);
  EXPECT_EQ(Schedule(3).offset_of(1), 333'333'333);
  EXPECT_EQ(Schedule(1000).count_due(0), 1u);  // sample 0 is due at the start
  EXPECT_EQ(Schedule(1000).count_due(-1), 0u);
  EXPECT_EQ(Schedule(1000).count_due(kSecond), 1001u);
  EXPECT_EQ(Schedule(1000).count_due(kSecond - 1), 1000u);
}

TEST(ScheduleTest, CountDueAgreesExactlyWithOffsets) {
  rc::check([] {
    const double rate =
        *rc::gen::inRange(1, 10'000'000) / static_cast<double>(*rc::gen::inRange(1, 61));
    const int64_t elapsed = *rc::gen::inRange<int64_t>(0, int64_t{1} << 50);
    const Schedule s(rate);
    const uint64_t due = s.count_due(elapsed);
    RC_ASSERT(due >= 1);
    RC_ASSERT(s.offset_of(due - 1) <= elapsed);
    RC_ASSERT(s.offset_of(due) > elapsed);
  });
}

TEST(PacingTest, WakesAfterTheFlushIntervalWhenBatchesFillSlowly) {
  const Pacing p(1000, 1000, milliseconds(100));
  EXPECT_EQ(p.next_wake(1, 0), 100 * 1'000'000);
}

TEST(PacingTest, WakesWhenABatchIsFullAtHighRates) {
  const Pacing p(1'000'000, 1000, milliseconds(100));
  EXPECT_EQ(p.next_wake(1, 0), 1'000'000);  // sample 1000 is due after 1 ms
}

TEST(PacingTest, SleepsUntilTheNextSampleAtVeryLowRates) {
  const Pacing p(1.0 / 60, 1000, milliseconds(100));
  EXPECT_EQ(p.next_wake(1, 0), 60 * kSecond);
}

TEST(PacingTest, BacklogLimitIsFiveSecondsAndAtLeastTenBatches) {
  EXPECT_EQ(Pacing(1000, 100, milliseconds(100)).max_backlog(), 5000u);
  EXPECT_EQ(Pacing(10, 100, milliseconds(100)).max_backlog(), 1000u);
}

// ---- the pacing loop against a ManualClock -------------------------------------------------

// A SourceContext whose sleeps move a ManualClock instead of waiting, and which stops the
// source once a sleep would take the clock past `run_for`.
class FakeContext final : public runtime::SourceContext {
 public:
  explicit FakeContext(int64_t run_for_ns) : end_mono_(clock_.monotonic() + run_for_ns) {}

  using SourceContext::ingest;
  Result<store::AppendResult> ingest(Batch&& batch, store::AppendOptions) override {
    clock_.advance(ingest_cost_ns);
    if (fail_ingests) return Status(Code::kNoSpace, "store full");
    batches.push_back(std::move(batch));
    return store::AppendResult{};
  }
  uint64_t wait_durable(uint64_t end_seq, std::chrono::milliseconds) override { return end_seq; }
  Clock& clock() override { return clock_; }
  bool stopping() const override { return stop_.stop_requested(); }
  std::stop_token stop_token() const override { return stop_.get_token(); }
  bool sleep_until(int64_t monotonic_ns) override {
    ++sleeps;
    const int64_t now = clock_.monotonic();
    if (monotonic_ns > now) clock_.advance(monotonic_ns - now);
    if (clock_.monotonic() > end_mono_) stop_.request_stop();
    return !stop_.stop_requested();
  }

  ManualClock clock_;
  std::vector<Batch> batches;
  int sleeps = 0;
  int64_t ingest_cost_ns = 0;
  bool fail_ingests = false;

 private:
  int64_t end_mono_;
  std::stop_source stop_;
};

TEST(SimulatorSourceTest, EmitsExactlyTheScheduledSamplesInFlushSizedBatches) {
  SimulatorOptions o;
  o.rate = 1000;
  o.series = 10;
  o.batch_size = 1000;
  o.flush_interval = milliseconds(100);
  SimulatorSource source("sim", o);
  FakeContext ctx(10 * kSecond);
  const Timestamp start = ctx.clock_.now();
  ASSERT_TRUE(source.start(ctx).ok());

  uint64_t total = 0;
  std::vector<Timestamp> ts;
  for (const Batch& b : ctx.batches) {
    EXPECT_LE(b.size(), 101u);  // 100 ms of samples, plus the one due at the wake-up instant
    total += b.size();
    for (const Sample& s : b.samples) ts.push_back(s.ts);
  }
  // Every sample due up to the last wake-up, each with its scheduled timestamp.
  EXPECT_EQ(total, Schedule(1000).count_due(10 * kSecond));
  for (size_t k = 0; k < ts.size(); ++k)
    ASSERT_EQ(ts[k], start + static_cast<int64_t>(k) * 1'000'000);
  EXPECT_EQ(source.health().state, runtime::HealthState::kHealthy);
  EXPECT_EQ(source.skipped_samples(), 0u);
}

TEST(SimulatorSourceTest, HighRatesAreCutIntoBatchSizeBatches) {
  SimulatorOptions o;
  o.rate = 100'000;
  o.batch_size = 500;
  SimulatorSource source("sim", o);
  FakeContext ctx(kSecond);
  ASSERT_TRUE(source.start(ctx).ok());
  uint64_t total = 0;
  for (const Batch& b : ctx.batches) {
    EXPECT_LE(b.size(), 500u);
    total += b.size();
  }
  EXPECT_EQ(total, Schedule(100'000).count_due(kSecond));
}

TEST(SimulatorSourceTest, FallingBehindSkipsSamplesAndWarns) {
  SimulatorOptions o;
  o.rate = 1000;
  o.batch_size = 100;
  SimulatorSource source("sim", o);
  FakeContext ctx(30 * kSecond);
  ctx.ingest_cost_ns = 10 * kSecond;  // a store that takes 10 s per batch
  ASSERT_TRUE(source.start(ctx).ok());
  EXPECT_GT(source.skipped_samples(), 0u);
  EXPECT_EQ(source.health().state, runtime::HealthState::kWarning);
  EXPECT_THAT(source.health().reason, HasSubstr("skipped"));
}

TEST(SimulatorSourceTest, RefusedBatchesAreCountedAndTheSourceGoesOn) {
  SimulatorOptions o;
  o.rate = 100;
  SimulatorSource source("sim", o);
  FakeContext ctx(2 * kSecond);
  ctx.fail_ingests = true;
  ASSERT_TRUE(source.start(ctx).ok());
  EXPECT_GT(source.failed_batches(), 1u);
  EXPECT_EQ(source.health().state, runtime::HealthState::kWarning);
  EXPECT_THAT(source.health().reason, HasSubstr("store full"));
}

TEST(SimulatorSourceTest, StopsAtOnceWhenAskedBeforeStarting) {
  SimulatorSource source("sim", SimulatorOptions{});
  FakeContext ctx(0);
  ASSERT_TRUE(source.start(ctx).ok());
  EXPECT_LE(ctx.sleeps, 1);
}

TEST(SimulatorSourceTest, RefusesControl) {
  SimulatorSource source("sim", SimulatorOptions{});
  Status w = source.write("setpoint", Value{1.0});
  EXPECT_EQ(w.code(), Code::kFailedPrecondition);
  EXPECT_THAT(w.message(), HasSubstr("does not support control"));
  EXPECT_EQ(source.operation("reset", {}).code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace sluice::sources
