// A → B → C through many outages at a high rate (see tests/fixtures/link_chain.h).
#include "fixtures/link_chain.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(LinkChainSlow, EverySampleArrivesAtCExactlyOnceThroughManyOutages) {
  for (uint64_t seed : {11u, 12u, 13u}) {
    const uint64_t verified =
        testing::run_link_chain({.events = 40, .rate = 500'000, .seed = seed});
    EXPECT_GT(verified, 1'000'000u) << "seed " << seed;
  }
}

}  // namespace
}  // namespace sluice
