// The expression language (rules/expr.h) plugged into an ExpressionRule (rules/rule.h) as its
// header describes, driving a toggled notification whose deliveries substitute the values: the
// fan example of issue 7 at the level of the rules' logic (no runtime, no devices).
#include "rules/rule.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/expr.h"
#include "rules/notification.h"
#include "rules/substitution.h"

namespace sluice::rules {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

ExpressionRule compiled_rule(const std::string& text) {
  Result<Expression> e = Expression::compile(text);
  EXPECT_TRUE(e.ok()) << e.status().message();
  Expression expression = std::move(e).value();
  std::vector<std::string> names = expression.names();
  return ExpressionRule(
      "hot", std::move(names),
      [e = std::move(expression)](const ExpressionInputs& in) { return e.evaluate(in.values); });
}

Sample sample(const std::string& series, int64_t ts, double v) {
  Sample s;
  s.series = series;
  s.ts = ts;
  s.value = v;
  return s;
}

TEST(RulesExpressionRuleTest, ACompiledExpressionTriggersAToggledNotificationWithItsValues) {
  ExpressionRule rule =
      compiled_rule("MotorTemperature.temperature > 35 && MotorTemperature.load >= 0.5");
  Notification fan(NotificationType::kToggled, 0);
  std::vector<std::string> sent;
  // One batch with a spike in the middle: each sample is evaluated in order.
  Batch batch;
  batch.samples = {sample("MotorTemperature.load", 1 * kSecond, 0.8),
                   sample("MotorTemperature.temperature", 2 * kSecond, 30),
                   sample("MotorTemperature.temperature", 3 * kSecond, 45),
                   sample("MotorTemperature.temperature", 4 * kSecond, 33)};
  rule.observe(batch, [&](const Evaluation& e) {
    const Send s = fan.evaluate(e);
    if (s == Send::kNone) return;
    sent.push_back(std::string(send_name(s)) + ": " +
                   substitute("speed $MotorTemperature.temperature$00", e.values));
  });
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], "triggered: speed 4500");
  EXPECT_EQ(sent[1], "cleared: speed 3300");
  EXPECT_EQ(fan.state().triggered, false);
}

TEST(RulesExpressionRuleTest, NothingIsEvaluatedUntilEveryNameHasAValue) {
  ExpressionRule rule = compiled_rule("a + b > 1");
  EXPECT_FALSE(rule.observe(sample("a", kSecond, 5)).has_value());
  const auto e = rule.observe(sample("b", 2 * kSecond, 0));
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->triggered);
  EXPECT_EQ(e->measured, 1.0);
}

}  // namespace
}  // namespace sluice::rules
