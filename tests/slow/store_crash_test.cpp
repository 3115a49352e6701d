// The store under SIGKILL, long version of tests/integration/store_crash_test.cpp: a hundred
// kills, more streams, longer runs, so that kills land in rolls, group commits and recovery
// (a writer killed while it opens the store) many times over.
#include <gtest/gtest.h>

#include "fixtures/crash_harness.h"
#include "fixtures/test_support.h"

namespace sluice::testing {
namespace {

TEST(StoreCrashSlowTest, HundredSigkillsAtRandomMomentsLoseNoAcknowledgedSample) {
  TempDir tmp;
  CrashTestOptions opts;
  opts.kills = 100;
  opts.threads = 4;
  opts.min_delay = std::chrono::milliseconds(20);
  opts.max_delay = std::chrono::milliseconds(1000);
  opts.early_kill_percent = 15;
  const CrashTestTotals totals = run_crash_test(tmp.path(), opts);
  if (HasFailure()) return;  // run_crash_test reported what went wrong, with the seed
  EXPECT_EQ(totals.kills, opts.kills) << "seed " << totals.seed;
  EXPECT_GT(totals.acked_samples, 0u) << "no append was acknowledged (seed " << totals.seed
                                      << "); see crash_writer's stderr in the output above";
}

}  // namespace
}  // namespace sluice::testing
