// Notification types against scripted sequences of rule evaluations: each row is (time, what the
// rule said or a clock tick) and what must be sent. One shot, toggled and retriggered with and
// without a retrigger time; deferred sends after the dead period; the visible state and counts;
// and a rule fed one batch of several samples driving a toggled notification.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rules/notification.h"
#include "rules/rule.h"

namespace sluice::rules {
namespace {

constexpr Timestamp sec(double s) { return static_cast<Timestamp>(s * 1e9); }

enum class Input { kTriggered, kClear, kTick };

struct Step {
  double t;  // seconds
  Input input;
  Send expected;
};

constexpr Input T = Input::kTriggered;
constexpr Input F = Input::kClear;
constexpr Input kTick = Input::kTick;
constexpr Send none = Send::kNone;
constexpr Send trig = Send::kTriggered;
constexpr Send clr = Send::kCleared;

void run(Notification& n, const std::vector<Step>& steps) {
  const std::vector<NamedValue> values{{"M.t", 1.0}};
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    const Send got =
        s.input == kTick ? n.tick(sec(s.t)) : n.evaluate(sec(s.t), s.input == T, values);
    EXPECT_EQ(send_name(got), std::string(send_name(s.expected)))
        << "step " << i << " at " << s.t << " s (" << notification_type_name(n.type()) << ")";
  }
}

TEST(Notification, OneShotSendsOnceUntilTheRuleClears) {
  Notification n(NotificationType::kOneShot, 0);
  run(n, {{0, F, none}, {1, T, trig}, {2, T, none}, {3, F, none}, {4, T, trig}, {5, T, none}});
  EXPECT_EQ(n.state().sends, 2u);
  EXPECT_EQ(n.state().sent_cleared, 0u);
}

TEST(Notification, ToggledSendsTriggeredThenCleared) {
  Notification n(NotificationType::kToggled, 0);
  run(n, {{0, F, none},
          {1, T, trig},
          {2, T, none},
          {3, F, clr},
          {4, F, none},
          {5, T, trig},
          {6, F, clr}});
  EXPECT_EQ(n.state().sent_triggered, 2u);
  EXPECT_EQ(n.state().sent_cleared, 2u);
}

TEST(Notification, RetriggeredSendsOnEveryTriggeringEvaluation) {
  Notification n(NotificationType::kRetriggered, 0);
  run(n, {{0, F, none}, {1, T, trig}, {2, T, trig}, {3, F, none}, {4, T, trig}});
}

TEST(Notification, RetriggerTimeSilencesRetriggeredForTheDeadPeriod) {
  Notification n(NotificationType::kRetriggered, sec(10));
  run(n, {{0, T, trig},
          {5, T, none},
          {9.999, T, none},
          {10, T, trig},  // exactly the retrigger time after the last send: allowed
          {15, F, none},
          {19, T, none},
          {20, kTick, none},  // a retriggered send held back is not owed later
          {21, T, trig}});
  EXPECT_EQ(n.state().held_back, 3u);
  EXPECT_FALSE(n.state().deferred);
}

TEST(Notification, OneShotTriggerInsideTheDeadPeriodIsSentWhenItEnds) {
  Notification n(NotificationType::kOneShot, sec(10));
  run(n, {{0, T, trig},
          {1, F, none},
          {2, T, none},  // re-armed, but inside the dead period: deferred
          {5, T, none},
          {10, T, trig},  // the first evaluation after the dead period sends it
          {11, F, none},
          {12, T, none},  // deferred again ...
          {13, F, none},  // ... and no longer owed: the rule cleared
          {30, kTick, none},
          {31, T, trig}});
}

TEST(Notification, ToggledClearedInsideTheDeadPeriodIsDeferredNotLost) {
  Notification n(NotificationType::kToggled, sec(10));
  run(n, {{0, T, trig},
          {2, F, none},  // held: cleared is owed
          {5, F, none},
          {9, kTick, none},
          {10, kTick, clr},  // sent by the tick once the dead period is over
          {11, T, none},     // held
          {12, F, none},     // the rule is back where receivers think it is: nothing owed
          {20, kTick, none},
          {25, T, trig},
          {26, F, none},
          {36, F, clr}});
  EXPECT_EQ(n.state().sent_triggered, 2u);
  EXPECT_EQ(n.state().sent_cleared, 2u);
  EXPECT_EQ(n.state().held_back, 4u);
}

TEST(Notification, ToggledFlappingInsideTheDeadPeriodEndsInTheRuleState) {
  Notification n(NotificationType::kToggled, sec(10));
  run(n, {{0, T, trig}, {1, F, none}, {2, T, none}, {3, F, none}, {10, kTick, clr}});
  EXPECT_FALSE(n.state().announced);
}

TEST(Notification, StateKeepsCountsTimesAndTheLatestValues) {
  Notification n(NotificationType::kToggled, 0);
  EXPECT_EQ(n.evaluate(sec(1), false, {}), Send::kNone);
  const std::vector<NamedValue> hot{{"MotorTemperature.temperature", 45.0}};
  EXPECT_EQ(n.evaluate(sec(2), true, hot), Send::kTriggered);
  const NotificationState& s = n.state();
  EXPECT_TRUE(s.triggered);
  EXPECT_TRUE(s.announced);
  EXPECT_EQ(s.last_sent, sec(2));
  EXPECT_EQ(s.last_send, Send::kTriggered);
  EXPECT_EQ(s.last_values, hot);
  const std::vector<NamedValue> cool{{"MotorTemperature.temperature", 30.0}};
  EXPECT_EQ(n.evaluate(sec(3), false, cool), Send::kCleared);
  EXPECT_EQ(n.evaluate(sec(4), false, cool), Send::kNone);
  EXPECT_FALSE(s.triggered);
  EXPECT_EQ(s.last_evaluation, sec(4));
  EXPECT_EQ(s.last_sent, sec(3));
  EXPECT_EQ(s.evaluations, 4u);
  EXPECT_EQ(s.triggers, 1u);
  EXPECT_EQ(s.clears, 1u);
  EXPECT_EQ(s.sends, 2u);
  EXPECT_EQ(s.last_values, cool);
}

TEST(Notification, SeveralSamplesInOneBatchEachReachTheNotification) {
  // The fan example: above 35 the fan goes on, below it goes off; one batch holds the whole
  // excursion and each sample must count.
  ThresholdRule rule("overheat",
                     {"Motor.temperature", Comparison::kGreater, 35, Aggregate::kValue, 0});
  Notification n(NotificationType::kToggled, 0);
  Batch b;
  for (const auto& [t, v] :
       std::vector<std::pair<double, double>>{{0, 30}, {1, 36}, {2, 37}, {3, 34}, {4, 33}}) {
    b.samples.push_back(Sample{"Motor.temperature", sec(t), v});
  }
  std::vector<std::string> sends;
  rule.observe(b, [&](const Evaluation& e) {
    const Send s = n.evaluate(e);
    if (s != Send::kNone)
      sends.push_back(std::string(send_name(s)) + "@" + std::to_string(e.ts / sec(1)));
  });
  EXPECT_EQ(sends, (std::vector<std::string>{"triggered@1", "cleared@3"}));
  EXPECT_EQ(n.state().last_values, (std::vector<NamedValue>{{"Motor.temperature", 33.0}}));
}

TEST(Notification, DeadmanOnTicksDrivesAToggledNotification) {
  DeadmanRule rule("silent", {{"Meter.power"}, sec(10)});
  Notification n(NotificationType::kToggled, 0);
  std::vector<std::string> sends;
  auto feed = [&](std::optional<Evaluation> e) {
    ASSERT_TRUE(e.has_value());
    const Send s = n.evaluate(*e);
    if (s != Send::kNone)
      sends.push_back(std::string(send_name(s)) + "@" + std::to_string(e->ts / sec(1)));
  };
  feed(rule.observe(Sample{"Meter.power", sec(0), 5.0}));
  for (int t = 1; t <= 12; ++t) feed(rule.tick(sec(t)));
  feed(rule.observe(Sample{"Meter.power", sec(13), 6.0}));
  feed(rule.tick(sec(14)));
  EXPECT_EQ(sends, (std::vector<std::string>{"triggered@10", "cleared@13"}));
  EXPECT_EQ(n.state().triggers, 1u);
  EXPECT_EQ(n.state().clears, 1u);
}

// Random evaluation sequences against what each type promises: sends at least a retrigger time
// apart; toggled sends alternate, starting with triggered, and catch up with the rule once the
// dead period is over; a one shot is not sent twice without a clear in between; nothing is left
// owed after a tick past the dead period.
TEST(Notification, RandomSequencesKeepEachTypesPromises) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 300; ++round) {
    const auto type = static_cast<NotificationType>(round % 3);
    const int64_t retrigger = sec(static_cast<double>(rng() % 4));
    Notification n(type, retrigger);
    Timestamp t = 0;
    std::optional<Timestamp> last_send;
    Send last_kind = Send::kNone;
    bool cleared_since_send = true;
    for (int i = 0; i < 60; ++i) {
      t += static_cast<Timestamp>(rng() % sec(2));
      const bool is_tick = rng() % 4 == 0;
      const bool triggered = rng() % 2 == 0;
      const Send s = is_tick ? n.tick(t) : n.evaluate(t, triggered, {});
      if (!is_tick && !triggered) cleared_since_send = true;
      if (s == Send::kNone) continue;
      SCOPED_TRACE(std::string(notification_type_name(type)) + " round " + std::to_string(round));
      if (last_send) {
        EXPECT_GE(t - *last_send, retrigger);
      }
      switch (type) {
        case NotificationType::kToggled:
          EXPECT_NE(s, last_kind);
          if (last_kind == Send::kNone) {
            EXPECT_EQ(s, Send::kTriggered);
          }
          break;
        case NotificationType::kOneShot:
          EXPECT_EQ(s, Send::kTriggered);
          EXPECT_TRUE(cleared_since_send);
          break;
        case NotificationType::kRetriggered:
          EXPECT_EQ(s, Send::kTriggered);
          EXPECT_FALSE(is_tick);
          break;
      }
      EXPECT_EQ(n.state().triggered, s == Send::kTriggered);  // a send follows the rule's state
      last_send = t;
      last_kind = s;
      cleared_since_send = false;
    }
    (void)n.tick(t + retrigger);
    EXPECT_FALSE(n.state().deferred);
    if (type == NotificationType::kToggled) {
      EXPECT_EQ(n.state().announced, n.state().triggered);
    }
    EXPECT_EQ(n.state().sends, n.state().sent_triggered + n.state().sent_cleared);
  }
}

TEST(Notification, TypeNamesRoundTrip) {
  for (NotificationType t :
       {NotificationType::kOneShot, NotificationType::kToggled, NotificationType::kRetriggered}) {
    EXPECT_EQ(parse_notification_type(notification_type_name(t)), t);
  }
  EXPECT_EQ(parse_notification_type("One_Shot"), NotificationType::kOneShot);
  EXPECT_EQ(parse_notification_type("RETRIGGERED"), NotificationType::kRetriggered);
  EXPECT_FALSE(parse_notification_type("twice").has_value());
}

}  // namespace
}  // namespace sluice::rules
