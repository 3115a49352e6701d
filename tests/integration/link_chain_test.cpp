// A → B → C through outages (stops, kills, a cut link): C holds every sample A acknowledged,
// exactly once, in order. The long version (many more events) is tests/slow/link_chain_test.cpp.
#include "fixtures/link_chain.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(LinkChain, EverySampleArrivesAtCExactlyOnceThroughOutages) {
  const uint64_t verified = testing::run_link_chain({.events = 6, .rate = 100'000, .seed = 7});
  EXPECT_GT(verified, 100'000u);
}

}  // namespace
}  // namespace sluice
