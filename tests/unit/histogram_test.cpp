// LatencyHistogram: every observation lands in the first bucket whose bound holds it, the
// snapshot is cumulative, and sum and count add up.
#include "core/histogram.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(LatencyHistogramTest, BucketsAreCumulativeWithSumAndCount) {
  LatencyHistogram h;
  h.observe(10'000);          // <= 50 µs
  h.observe(50'000);          // on the bound: still the first bucket
  h.observe(3'000'000);       // <= 5 ms
  h.observe(20'000'000'000);  // over 10 s: +Inf only
  const LatencyHistogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[5], 2u);  // <= 2.5 ms
  EXPECT_EQ(s.cumulative[6], 3u);  // <= 5 ms
  EXPECT_EQ(s.cumulative[LatencyHistogram::kBoundsNs.size() - 1], 3u);
  EXPECT_EQ(s.cumulative.back(), 4u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum_ns, 10'000 + 50'000 + 3'000'000 + 20'000'000'000);
}

}  // namespace
}  // namespace sluice
