// Data substitution: `$Asset.datapoint$` replaced by the triggering values with the literal text
// around it kept, `$$` as a literal `$`, unknown names and lone `$` left as they are, and values
// formatted shortest-round-trip, booleans as words, strings as they are.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "rules/substitution.h"

namespace sluice::rules {
namespace {

const std::vector<NamedValue> kValues{
    {"MotorTemperature.temperature", 45.0}, {"Motor.speed", int64_t{1200}}, {"Motor.running", true},
    {"Motor.mode", std::string("auto")},    {"Motor.avg", 36.25},
};

TEST(Substitution, LiteralTextAroundAReferenceStays) {
  EXPECT_EQ(substitute("$MotorTemperature.temperature$00", kValues), "4500");
  EXPECT_EQ(substitute("temp=$MotorTemperature.temperature$C speed=$Motor.speed$", kValues),
            "temp=45C speed=1200");
  EXPECT_EQ(substitute("no references here", kValues), "no references here");
  EXPECT_EQ(substitute("", kValues), "");
}

TEST(Substitution, EachTypeIsFormattedAsOperatorsExpect) {
  EXPECT_EQ(substitute("$Motor.running$ $Motor.mode$ $Motor.avg$", kValues), "true auto 36.25");
}

TEST(Substitution, DoubleDollarIsALiteralDollar) {
  EXPECT_EQ(substitute("cost $$5", kValues), "cost $5");
  EXPECT_EQ(substitute("$$$Motor.speed$$$", kValues), "$1200$");
}

TEST(Substitution, UnknownNamesAndLoneDollarsAreLeftAsTheyAre) {
  EXPECT_EQ(substitute("$Motor.nope$ stays", kValues), "$Motor.nope$ stays");
  EXPECT_EQ(substitute("trailing $", kValues), "trailing $");
  EXPECT_EQ(substitute("$Motor.speed", kValues), "$Motor.speed");
  // After a `$` that starts no reference the scan goes on, so the real reference is found.
  EXPECT_EQ(substitute("costs $5, now $Motor.speed$", kValues), "costs $5, now 1200");
  EXPECT_EQ(substitute("x", {}), "x");
  EXPECT_EQ(substitute("$Motor.speed$", {}), "$Motor.speed$");
}

TEST(Substitution, ARuleOnAnAverageSubstitutesTheAverage) {
  ThresholdRule rule("hot", {"MotorTemperature.temperature", Comparison::kGreater, 35,
                             Aggregate::kAverage, 10'000'000'000});
  Batch b;
  for (const auto& [t, v] : std::vector<std::pair<int64_t, double>>{{0, 30}, {1, 42}, {2, 45}}) {
    b.samples.push_back(Sample{"MotorTemperature.temperature", t * 1'000'000'000, v});
  }
  std::vector<std::string> texts;
  rule.observe(b, [&](const Evaluation& e) {
    if (e.triggered) texts.push_back(substitute("avg $MotorTemperature.temperature$", e.values));
  });
  EXPECT_EQ(texts, (std::vector<std::string>{"avg 36", "avg 39"}));
}

TEST(FormatValue, NumbersUseTheShortestFormThatRoundTrips) {
  EXPECT_EQ(format_value(45.0), "45");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(-2.5), "-2.5");
  EXPECT_EQ(format_value(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(format_value(1e21), "1e+21");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_value(std::nan("")), "nan");
  EXPECT_EQ(format_value(int64_t{-9223372036854775807 - 1}), "-9223372036854775808");
  EXPECT_EQ(format_value(false), "false");
  EXPECT_EQ(format_value(std::string("a $b$ c")), "a $b$ c");  // values are not substituted again
  const double x = 0.1 + 0.2;
  EXPECT_EQ(std::stod(format_value(x)), x);
}

}  // namespace
}  // namespace sluice::rules
