// Rules on scripted series: each rule's condition, samples evaluated one by one in batch order
// (a spike inside a batch is seen), window boundaries, the running min/max/average against a
// brute-force recomputation, what is skipped (Bad quality, non-numbers, out of order), the
// deadman rule on ticks, and the expression rule's plug-in point.
#include "rules/rule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace sluice::rules {
namespace {

constexpr Timestamp sec(double s) { return static_cast<Timestamp>(s * 1e9); }

Sample sample(const std::string& series, Timestamp ts, Value value,
              Quality quality = quality::kGood) {
  return Sample{series, ts, std::move(value), quality};
}

// Series "M.t" at the given (seconds, value) points, as one batch.
Batch batch(std::initializer_list<std::pair<double, double>> points,
            const std::string& series = "M.t") {
  Batch b;
  for (const auto& [s, v] : points) b.samples.push_back(sample(series, sec(s), v));
  return b;
}

struct Seen {
  Timestamp ts;
  bool triggered;
  double measured;
  std::vector<NamedValue> values;
};

std::vector<Seen> feed(Rule& rule, const Batch& b) {
  std::vector<Seen> out;
  rule.observe(b, [&](const Evaluation& e) {
    out.push_back(Seen{e.ts, e.triggered, e.measured, {e.values.begin(), e.values.end()}});
  });
  return out;
}

std::vector<bool> triggered(const std::vector<Seen>& seen) {
  std::vector<bool> out;
  for (const Seen& s : seen) out.push_back(s.triggered);
  return out;
}

std::vector<double> measured(const std::vector<Seen>& seen) {
  std::vector<double> out;
  for (const Seen& s : seen) out.push_back(s.measured);
  return out;
}

ThresholdRule threshold(Comparison c, double limit, Aggregate a = Aggregate::kValue,
                        int64_t window = 0) {
  return ThresholdRule("r", ThresholdRule::Config{"M.t", c, limit, a, window});
}

// ---- threshold ------------------------------------------------------------------------------

TEST(ThresholdRule, EachComparisonOnSingleValues) {
  const Batch b = batch({{0, 30}, {1, 35}, {2, 36}});
  struct Case {
    Comparison c;
    std::vector<bool> expected;
  };
  for (const Case& c : {Case{Comparison::kGreater, {false, false, true}},
                        Case{Comparison::kGreaterOrEqual, {false, true, true}},
                        Case{Comparison::kLess, {true, false, false}},
                        Case{Comparison::kLessOrEqual, {true, true, false}}}) {
    ThresholdRule rule = threshold(c.c, 35);
    EXPECT_EQ(triggered(feed(rule, b)), c.expected) << comparison_name(c.c);
  }
}

TEST(ThresholdRule, SpikeInsideOneBatchIsEvaluatedAndCarriesItsValue) {
  ThresholdRule rule = threshold(Comparison::kGreater, 35);
  // The batch starts and ends below the threshold; only the middle sample is above.
  const std::vector<Seen> seen = feed(rule, batch({{0, 30}, {1, 31}, {2, 50}, {3, 32}}));
  ASSERT_EQ(triggered(seen), (std::vector<bool>{false, false, true, false}));
  EXPECT_EQ(seen[2].ts, sec(2));
  ASSERT_EQ(seen[2].values.size(), 1u);
  EXPECT_EQ(seen[2].values[0], (NamedValue{"M.t", 50.0}));
  EXPECT_EQ(rule.counters().evaluations, 4u);
  EXPECT_EQ(rule.counters().triggered, 1u);
}

TEST(ThresholdRule, ValueKeepsTheSampleTypeAndBoolsCountAsZeroOne) {
  ThresholdRule rule = threshold(Comparison::kGreaterOrEqual, 1);
  Batch b;
  b.samples = {sample("M.t", 0, int64_t{45}), sample("M.t", 1, true), sample("M.t", 2, false)};
  const std::vector<Seen> seen = feed(rule, b);
  ASSERT_EQ(triggered(seen), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(seen[0].values[0], (NamedValue{"M.t", int64_t{45}}));
  EXPECT_EQ(seen[1].values[0], (NamedValue{"M.t", true}));
}

TEST(ThresholdRule, BadQualityNonNumbersAndOtherSeriesAreSkipped) {
  ThresholdRule rule = threshold(Comparison::kGreater, 35);
  Batch b;
  b.samples = {sample("M.t", sec(0), 99.0, quality::kBadSensorFailure),
               sample("M.t", sec(1), std::string("hot")),
               sample("M.t", sec(2), std::nan("")),
               sample("M.t", sec(3), INFINITY),
               sample("Other.t", sec(4), 99.0),
               sample("M.t", sec(5), 40.0, quality::kUncertainLastUsableValue)};
  const std::vector<Seen> seen = feed(rule, b);
  ASSERT_EQ(seen.size(), 1u);  // only the Uncertain one is evaluated
  EXPECT_EQ(seen[0].ts, sec(5));
  EXPECT_TRUE(seen[0].triggered);
  EXPECT_EQ(rule.counters().samples, 5u);  // the other series' sample is not counted
  EXPECT_EQ(rule.counters().skipped_bad_quality, 1u);
  EXPECT_EQ(rule.counters().skipped_not_number, 3u);
}

TEST(ThresholdRule, SampleOlderThanTheLatestIsSkipped) {
  ThresholdRule rule = threshold(Comparison::kGreater, 35);
  const std::vector<Seen> seen = feed(rule, batch({{5, 30}, {4, 99}, {5, 40}}));
  EXPECT_EQ(triggered(seen), (std::vector<bool>{false, true}));  // equal time is accepted
  EXPECT_EQ(rule.counters().skipped_out_of_order, 1u);
}

TEST(ThresholdRule, AverageOfWindowTriggersAndIsTheValueReported) {
  ThresholdRule rule = threshold(Comparison::kGreater, 35, Aggregate::kAverage, sec(10));
  // At t=10 the sample of t=0 has left the window (10 s older than the newest): avg(20, 60).
  const std::vector<Seen> seen = feed(rule, batch({{0, 10}, {5, 20}, {10, 60}}));
  EXPECT_EQ(measured(seen), (std::vector<double>{10, 15, 40}));
  EXPECT_EQ(triggered(seen), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(seen[2].values[0], (NamedValue{"M.t", 40.0}));
}

TEST(ThresholdRule, WindowBoundaryKeepsASampleJustUnderTheLength) {
  ThresholdRule rule = threshold(Comparison::kGreater, 1000, Aggregate::kMax, sec(10));
  Batch b;
  b.samples = {sample("M.t", sec(0), 100.0), sample("M.t", sec(10) - 1, 1.0),
               sample("M.t", sec(10), 2.0), sample("M.t", sec(20) - 1, 3.0)};
  // 10 s - 1 ns after the 100: still in; exactly 10 s after it: gone.
  EXPECT_EQ(measured(feed(rule, b)), (std::vector<double>{100, 100, 2, 3}));
}

TEST(ThresholdRule, MinAndMaxFollowTheWindowAsItSlides) {
  ThresholdRule min_rule = threshold(Comparison::kLess, 2, Aggregate::kMin, sec(3));
  ThresholdRule max_rule = threshold(Comparison::kGreater, 4, Aggregate::kMax, sec(3));
  const Batch b = batch({{0, 5}, {1, 3}, {2, 4}, {3, 1}, {4, 2}, {5, 6}, {6, 6}, {9, 0}});
  const std::vector<Seen> mins = feed(min_rule, b);
  const std::vector<Seen> maxs = feed(max_rule, b);
  EXPECT_EQ(measured(mins), (std::vector<double>{5, 3, 3, 1, 1, 1, 2, 0}));
  EXPECT_EQ(measured(maxs), (std::vector<double>{5, 5, 5, 4, 4, 6, 6, 0}));
  EXPECT_EQ(triggered(mins),
            (std::vector<bool>{false, false, false, true, true, true, false, true}));
  EXPECT_EQ(triggered(maxs),
            (std::vector<bool>{true, true, true, false, false, true, true, false}));
}

TEST(SlidingWindow, RunningMinMaxAverageMatchRecomputationOnRandomSeries) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> step(0, 3'000);
  std::uniform_real_distribution<double> value(-1000, 1000);
  const int64_t length = 10'000;
  SlidingWindow window(length);
  std::vector<std::pair<Timestamp, double>> all;
  Timestamp t = 0;
  for (int i = 0; i < 5'000; ++i) {
    t += step(rng);
    const double x = i % 50 == 0 ? 1e12 : value(rng);  // some huge values to test the sum
    window.push(t, x);
    all.emplace_back(t, x);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t n = 0;
    for (const auto& [ts, v] : all) {
      if (t - ts >= length) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
      ++n;
    }
    ASSERT_EQ(window.size(), n) << "at " << i;
    ASSERT_EQ(window.min(), lo) << "at " << i;
    ASSERT_EQ(window.max(), hi) << "at " << i;
    // Relative to the largest magnitude in the window: once a huge value has left, the average
    // of the small ones must be exact again (no drift carried in the running sum).
    const double scale = std::max({1.0, std::fabs(lo), std::fabs(hi)});
    ASSERT_NEAR(window.average(), sum / static_cast<double>(n), 1e-9 * scale) << "at " << i;
  }
}

TEST(SlidingWindow, HoldsAtMostMaxSamplesDroppingTheOldestEarly) {
  SlidingWindow window(sec(100), 3);
  const std::vector<double> xs{9, 1, 2, 3, 4};  // all well inside the 100 s
  for (size_t i = 0; i < xs.size(); ++i) window.push(sec(static_cast<double>(i)), xs[i]);
  EXPECT_EQ(window.size(), 3u);
  EXPECT_EQ(window.truncated(), 2u);
  EXPECT_EQ(window.oldest(), 2.0);
  EXPECT_EQ(window.max(), 4.0);
  EXPECT_EQ(window.min(), 2.0);
  EXPECT_EQ(window.average(), 3.0);
}

TEST(ThresholdRule, ValidateNamesWhatIsWrong) {
  EXPECT_TRUE(ThresholdRule::validate({"M.t", Comparison::kGreater, 1, Aggregate::kValue, 0}).ok());
  const Status no_window =
      ThresholdRule::validate({"M.t", Comparison::kGreater, 1, Aggregate::kAverage, 0});
  EXPECT_EQ(no_window.code(), Code::kInvalidArgument);
  EXPECT_NE(no_window.message().find("window"), std::string::npos);
  EXPECT_FALSE(ThresholdRule::validate({"", Comparison::kGreater, 1, Aggregate::kValue, 0}).ok());
  EXPECT_FALSE(
      ThresholdRule::validate({"M.t", Comparison::kGreater, NAN, Aggregate::kValue, 0}).ok());
}

// ---- out of range ---------------------------------------------------------------------------

TEST(OutOfRangeRule, TriggersOutsideTheBoundsNotOnThem) {
  OutOfRangeRule rule("r", {"M.t", 10, 20, Aggregate::kValue, 0});
  const std::vector<Seen> seen =
      feed(rule, batch({{0, 10}, {1, 20}, {2, 9.5}, {3, 20.5}, {4, 15}}));
  EXPECT_EQ(triggered(seen), (std::vector<bool>{false, false, true, true, false}));
  EXPECT_EQ(seen[2].values[0], (NamedValue{"M.t", 9.5}));
}

TEST(OutOfRangeRule, OnWindowAverageASingleSpikeIsSmoothed) {
  OutOfRangeRule rule("r", {"M.t", 10, 20, Aggregate::kAverage, sec(4)});
  // 40 alone is out of range, but the average of the last 4 s is not until two spikes.
  const std::vector<Seen> seen = feed(rule, batch({{0, 15}, {1, 15}, {2, 15}, {3, 40}, {4, 40}}));
  EXPECT_EQ(measured(seen), (std::vector<double>{15, 15, 15, 21.25, 27.5}));
  EXPECT_EQ(triggered(seen), (std::vector<bool>{false, false, false, true, true}));
  EXPECT_FALSE(OutOfRangeRule::validate({"M.t", 20, 10, Aggregate::kValue, 0}).ok());
}

// ---- rate of change -------------------------------------------------------------------------

TEST(RateOfChangeRule, LastTwoSamplesPerSecondOfSourceTime) {
  RateOfChangeRule rule("r", {"M.t", Comparison::kGreater, 1.0, false, 0});
  // First sample: no rate yet. Same time twice: no rate. Half a second for +1: 2/s.
  const std::vector<Seen> seen =
      feed(rule, batch({{0, 10}, {1, 12}, {1, 13}, {3, 13.5}, {3.5, 14.5}}));
  EXPECT_EQ(measured(seen), (std::vector<double>{2, 0.25, 2}));
  EXPECT_EQ(triggered(seen), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(seen[0].values[0], (NamedValue{"M.t", 12.0}));  // the datapoint's value, not the rate
}

TEST(RateOfChangeRule, SpikeInsideOneBatchIsSeen) {
  RateOfChangeRule rule("r", {"M.t", Comparison::kGreater, 10.0, false, 0});
  const std::vector<Seen> seen = feed(rule, batch({{0, 10}, {1, 10}, {2, 30}, {3, 10}}));
  EXPECT_EQ(measured(seen), (std::vector<double>{0, 20, -20}));
  EXPECT_EQ(triggered(seen), (std::vector<bool>{false, true, false}));
}

TEST(RateOfChangeRule, MagnitudeCatchesAFallAsWellAsARise) {
  RateOfChangeRule rule("r", {"M.t", Comparison::kGreaterOrEqual, 3.0, true, 0});
  EXPECT_EQ(triggered(feed(rule, batch({{0, 10}, {1, 5}, {2, 6}, {3, 9}}))),
            (std::vector<bool>{true, false, true}));
}

TEST(RateOfChangeRule, OverAWindowFromItsOldestSample) {
  RateOfChangeRule rule("r", {"M.t", Comparison::kGreater, 4.0, false, sec(10)});
  // At t=8 the window holds t=0..8: (40 - 0) / 8 s. At t=12, t=0 and t=2 have left: from t=4.
  const std::vector<Seen> seen = feed(rule, batch({{0, 0}, {2, 1}, {4, 2}, {8, 40}, {12, 42}}));
  EXPECT_EQ(measured(seen), (std::vector<double>{0.5, 0.5, 5, 5}));
  EXPECT_EQ(triggered(seen), (std::vector<bool>{false, false, true, true}));
}

// ---- deadman --------------------------------------------------------------------------------

TEST(DeadmanRule, TriggersOnATickOnceNoDataForTheTimeoutAndClearsOnData) {
  DeadmanRule rule("r", {{"M.t"}, sec(10)});
  std::vector<bool> seen;
  auto on = [&](const std::optional<Evaluation>& e) {
    ASSERT_TRUE(e.has_value());
    seen.push_back(e->triggered);
  };
  on(rule.observe(sample("M.t", sec(0), 1.0)));
  on(rule.tick(sec(5)));
  on(rule.tick(sec(10) - 1));
  on(rule.tick(sec(10)));  // 10 s without data: triggered
  on(rule.observe(sample("M.t", sec(11), 2.0)));
  on(rule.tick(sec(20)));
  on(rule.tick(sec(21)));
  EXPECT_EQ(seen, (std::vector<bool>{false, false, false, true, false, false, true}));
  EXPECT_EQ(rule.counters().triggered, 2u);
}

TEST(DeadmanRule, ASeriesNeverSeenIsSilentSinceTheFirstTick) {
  DeadmanRule rule("r", {{"M.t"}, sec(10)});
  EXPECT_FALSE(rule.tick(sec(100))->triggered);
  const std::optional<Evaluation> e = rule.tick(sec(110));
  EXPECT_TRUE(e->triggered);
  EXPECT_EQ(e->measured, 10.0);
  EXPECT_TRUE(e->values.empty());  // no value to substitute yet
}

TEST(DeadmanRule, BadSampleIsNotDataButMovesTheClock) {
  DeadmanRule rule("r", {{"M.t"}, sec(10)});
  EXPECT_FALSE(rule.observe(sample("M.t", sec(0), 7.0))->triggered);
  EXPECT_FALSE(rule.observe(sample("M.t", sec(5), 0.0, quality::kBadNoCommunication))->triggered);
  const std::optional<Evaluation> bad =
      rule.observe(sample("M.t", sec(10), 0.0, quality::kBadNoCommunication));
  ASSERT_TRUE(bad.has_value());
  EXPECT_TRUE(bad->triggered);  // Bad samples keep coming, but no data for 10 s
  ASSERT_EQ(bad->values.size(), 1u);
  EXPECT_EQ(bad->values[0], (NamedValue{"M.t", 7.0}));  // the last good value
}

TEST(DeadmanRule, NamesTheSilentSeriesAmongSeveral) {
  DeadmanRule rule("r", {{"A.x", "B.y"}, sec(10)});
  Batch b;  // A keeps reporting, several samples per batch; B said something once
  b.samples = {sample("B.y", sec(0), 1.0), sample("A.x", sec(4), 1.0), sample("A.x", sec(8), 1.0),
               sample("A.x", sec(12), 1.0)};
  std::vector<bool> seen;
  rule.observe(b, [&](const Evaluation& e) { seen.push_back(e.triggered); });
  EXPECT_EQ(seen, (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(rule.silent_series(), (std::vector<std::string_view>{"B.y"}));
}

TEST(DeadmanRule, ValidateRefusesARepeatedSeriesAndNoTimeout) {
  EXPECT_TRUE(DeadmanRule::validate({{"A.x", "B.y"}, sec(1)}).ok());
  const Status twice = DeadmanRule::validate({{"A.x", "A.x"}, sec(1)});
  EXPECT_NE(twice.message().find("A.x is named twice"), std::string::npos) << twice.to_string();
  EXPECT_FALSE(DeadmanRule::validate({{}, sec(1)}).ok());
  EXPECT_FALSE(DeadmanRule::validate({{"A.x"}, 0}).ok());
}

TEST(ValueRules, DoNotEvaluateOnTicks) {
  ThresholdRule rule = threshold(Comparison::kGreater, 35);
  EXPECT_FALSE(rule.tick(sec(100)).has_value());
}

// ---- expression (plug-in point) -------------------------------------------------------------

TEST(ExpressionRule, EvaluatesOnceEveryInputIsKnownThenOnEachSample) {
  std::vector<Timestamp> calls;
  ExpressionRule rule("r", {"M.temperature", "M.limit"}, [&](const ExpressionInputs& in) {
    calls.push_back(in.ts);
    return *in.find("M.temperature") > in[1] ? 1.0 : 0.0;
  });
  Batch b;
  b.samples = {sample("M.temperature", sec(0), 50.0), sample("M.temperature", sec(1), 30.0),
               sample("M.limit", sec(1), int64_t{35}), sample("M.temperature", sec(2), 36.0),
               sample("M.temperature", sec(3), 20.0)};
  const std::vector<Seen> seen = feed(rule, b);
  EXPECT_EQ(triggered(seen), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(calls, (std::vector<Timestamp>{sec(1), sec(2), sec(3)}));
  EXPECT_EQ(seen[1].values,
            (std::vector<NamedValue>{{"M.temperature", 36.0}, {"M.limit", int64_t{35}}}));
}

TEST(ExpressionRule, ValidateRefusesNoSeriesOrARepeatedOne) {
  EXPECT_TRUE(ExpressionRule::validate({"A.x", "B.y"}).ok());
  EXPECT_FALSE(ExpressionRule::validate({"A.x", "B.y", "A.x"}).ok());
  EXPECT_FALSE(ExpressionRule::validate({}).ok());
}

TEST(ExpressionRule, NanResultDoesNotTrigger) {
  ExpressionRule rule("r", {"M.t"}, [](const ExpressionInputs&) { return std::nan(""); });
  EXPECT_FALSE(rule.observe(sample("M.t", 0, 1.0))->triggered);
}

}  // namespace
}  // namespace sluice::rules
