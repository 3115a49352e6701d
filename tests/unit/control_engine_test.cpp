// The rules engine (control/engine.h) on scripted series: what each notification type sends
// through its set point delivery, the retrigger time, several samples in one batch, substitution
// into set point values, and definitions replaced while keeping unchanged state. The control
// router records the requests it gets, as the dispatcher would receive them.
#include "control/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "runtime/json_table.h"

namespace sluice::control {
namespace {

using nlohmann::json;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSecond;

class RecordingRouter final : public runtime::ControlRouter {
 public:
  Result<runtime::ControlOutcome> dispatch(const runtime::ControlRequest& request,
                                           const runtime::Caller& caller) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    callers_.push_back(caller);
    return runtime::ControlOutcome{};
  }
  Status submit(runtime::ControlRequest request, runtime::Caller caller,
                runtime::ControlDone done) override {
    Result<runtime::ControlOutcome> outcome = dispatch(request, caller);
    if (done) done(outcome);
    return Status::ok_status();
  }
  // The requests to `service`, waiting up to `timeout` for at least `n` of them.
  std::vector<runtime::ControlRequest> wait_for(
      const std::string& service, size_t n,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::vector<runtime::ControlRequest> out;
      {
        std::lock_guard lock(mu_);
        for (const auto& r : requests_) {
          if (r.target.name == service) out.push_back(r);
        }
      }
      if (out.size() >= n || std::chrono::steady_clock::now() > end) return out;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::vector<runtime::Caller> callers() {
    std::lock_guard lock(mu_);
    return callers_;
  }

 private:
  std::mutex mu_;
  std::vector<runtime::ControlRequest> requests_;
  std::vector<runtime::Caller> callers_;
};

RuleDef rule(const json& j) {
  Result<RuleDef> r = rule_from_json(j);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : RuleDef{};
}

NotificationDef notification(const json& j) {
  Result<NotificationDef> n = notification_from_json(j);
  EXPECT_TRUE(n.ok()) << n.status().message();
  return n.ok() ? *n : NotificationDef{};
}

// A notification of `type` on rule "hot" writing fan = true / false to service `service`.
NotificationDef fan_notification(const std::string& name, const std::string& type,
                                 const std::string& retrigger = "0s") {
  return notification({{"name", name},
                       {"rule", "hot"},
                       {"type", type},
                       {"retrigger", retrigger},
                       {"deliveries",
                        {{{"type", "set_point"},
                          {"service", name},
                          {"trigger_values", {{"fan", true}}},
                          {"cleared_values", {{"fan", false}}}}}}});
}

std::vector<runtime::LiveSample> series(const std::vector<std::pair<int64_t, double>>& points) {
  std::vector<runtime::LiveSample> out;
  for (const auto& [t, v] : points) {
    out.push_back({"motor", Sample{"Motor.temperature", kT0 + t * kSecond, v, quality::kGood}});
  }
  return out;
}

// The fan values written, in order.
std::vector<bool> fan_writes(const std::vector<runtime::ControlRequest>& requests) {
  std::vector<bool> out;
  for (const auto& r : requests) {
    EXPECT_EQ(r.action, runtime::ControlRequest::Action::kWrite);
    EXPECT_EQ(r.values.size(), 1u);
    if (r.values.size() == 1) out.push_back(std::get<bool>(r.values[0].second));
  }
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  runtime::LiveTap tap_;
  RecordingRouter router_;
  ManualClock clock_{kT0};
};

TEST_F(EngineTest, EachTypeSendsWhatOperatorsExpectWhenSamplesArriveInOneBatch) {
  Engine engine(tap_, &router_, clock_, nullptr);
  ASSERT_TRUE(engine
                  .set_definitions({rule({{"name", "hot"},
                                          {"type", "threshold"},
                                          {"series", "Motor.temperature"},
                                          {"comparison", ">"},
                                          {"threshold", 35}})},
                                   {fan_notification("oneshot", "one shot"),
                                    fan_notification("toggled", "toggled"),
                                    fan_notification("retriggered", "retriggered")})
                  .ok());
  // One batch: up, up again, down, up, down. The spike at t=3 is inside the batch.
  engine.process(series({{0, 30}, {1, 40}, {2, 41}, {3, 30}, {4, 42}, {5, 20}}));
  // one shot: triggered at 1 and again at 4 (it cleared at 3); never a cleared value.
  EXPECT_EQ(fan_writes(router_.wait_for("oneshot", 2)), (std::vector<bool>{true, true}));
  // toggled: triggered, cleared, triggered, cleared.
  EXPECT_EQ(fan_writes(router_.wait_for("toggled", 4)),
            (std::vector<bool>{true, false, true, false}));
  // retriggered: every triggering evaluation (1, 2, 4).
  EXPECT_EQ(fan_writes(router_.wait_for("retriggered", 3)),
            (std::vector<bool>{true, true, true}));
  for (const runtime::Caller& c : router_.callers()) EXPECT_EQ(c.type, "notification");
  // Nothing more came meanwhile.
  EXPECT_EQ(router_.wait_for("oneshot", 0).size(), 2u);
  EXPECT_EQ(router_.wait_for("retriggered", 0).size(), 3u);

  const std::vector<HistoryEntry> h = engine.history(100, "toggled");
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].send, rules::Send::kCleared);  // newest first
  EXPECT_EQ(h[3].send, rules::Send::kTriggered);
  EXPECT_EQ(h[3].ts, kT0 + 1 * kSecond);
}

TEST_F(EngineTest, RetriggerTimeHoldsBackSendsWhateverTheType) {
  Engine engine(tap_, &router_, clock_, nullptr);
  ASSERT_TRUE(engine
                  .set_definitions({rule({{"name", "hot"},
                                          {"type", "threshold"},
                                          {"series", "Motor.temperature"},
                                          {"threshold", 35}})},
                                   {fan_notification("retriggered", "retriggered", "10s"),
                                    fan_notification("toggled", "toggled", "10s")})
                  .ok());
  engine.process(series({{0, 40}, {1, 41}, {5, 20}, {11, 42}}));
  // retriggered: 0 sent; 1 inside the dead period; 11 sent.
  EXPECT_EQ(fan_writes(router_.wait_for("retriggered", 2)), (std::vector<bool>{true, true}));
  // toggled: triggered at 0; the clear at 5 is deferred; at 11 the rule triggers again, so the
  // deferred clear is no longer owed and nothing is sent.
  std::vector<runtime::ControlRequest> toggled = router_.wait_for("toggled", 1);
  EXPECT_EQ(fan_writes(toggled), (std::vector<bool>{true}));
  // Cleared again, after the dead period: the clear goes out at once.
  engine.process(series({{20, 10}}));
  EXPECT_EQ(fan_writes(router_.wait_for("toggled", 2)), (std::vector<bool>{true, false}));
  // A deferred clear is sent by a tick once the dead period ends.
  engine.process(series({{21, 50}}));  // inside the dead period of the clear at 20
  engine.process(series({{25, 10}}));
  // The trigger at 21 is held back, and owed no more at 25.
  EXPECT_EQ(router_.wait_for("toggled", 3, std::chrono::milliseconds(300)).size(), 2u);
  engine.tick(kT0 + 40 * kSecond);
  const auto notes = engine.notifications();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_GT(notes[1].state.held_back, 0u);
}

TEST_F(EngineTest, SetPointValuesSubstituteTheTriggeringValue) {
  Engine engine(tap_, &router_, clock_, nullptr);
  ASSERT_TRUE(
      engine
          .set_definitions(
              {rule({{"name", "hot"},
                     {"type", "threshold"},
                     {"series", "Motor.temperature"},
                     {"threshold", 35}})},
              {notification({{"name", "speed"},
                             {"rule", "hot"},
                             {"type", "retriggered"},
                             {"deliveries",
                              {{{"type", "set_point"},
                                {"service", "fan"},
                                {"trigger_values",
                                 {{"speed", "$Motor.temperature$0"}, {"label", "at $time$"}}}}}}})})
          .ok());
  engine.process(series({{0, 45}}));
  std::vector<runtime::ControlRequest> r = router_.wait_for("fan", 1);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].values.size(), 2u);
  // Values come in name order (a TOML or JSON table): label, speed.
  EXPECT_EQ(std::get<std::string>(r[0].values[0].second), "at " + iso8601_ms(kT0));
  EXPECT_EQ(std::get<int64_t>(r[0].values[1].second), 450);
}

TEST_F(EngineTest, UnchangedDefinitionsKeepTheirStateAndBadOnesChangeNothing) {
  Engine engine(tap_, &router_, clock_, nullptr);
  const RuleDef hot = rule(
      {{"name", "hot"}, {"type", "threshold"}, {"series", "Motor.temperature"}, {"threshold", 35}});
  ASSERT_TRUE(engine.set_definitions({hot}, {fan_notification("toggled", "toggled")}).ok());
  engine.process(series({{0, 40}}));
  ASSERT_EQ(router_.wait_for("toggled", 1).size(), 1u);
  // Adding another notification keeps "toggled" triggered: the clear still comes.
  ASSERT_TRUE(engine
                  .set_definitions({hot}, {fan_notification("toggled", "toggled"),
                                           fan_notification("other", "one shot")})
                  .ok());
  engine.process(series({{1, 20}}));
  EXPECT_EQ(fan_writes(router_.wait_for("toggled", 2)), (std::vector<bool>{true, false}));
  // A notification on a rule that does not exist is kept, not run, and says why.
  NotificationDef orphan = fan_notification("orphan", "toggled");
  orphan.rule = "missing";
  ASSERT_TRUE(engine.set_definitions({hot}, {orphan}).ok());
  const auto notes = engine.notifications();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].rule_error, "no rule named 'missing'");
}

TEST_F(EngineTest, SeesTheLiveStreamAtIngest) {
  Engine engine(tap_, &router_, clock_, nullptr, {.tick = std::chrono::milliseconds(10)});
  ASSERT_TRUE(engine
                  .set_definitions({rule({{"name", "hot"},
                                          {"type", "threshold"},
                                          {"series", "Motor.temperature"},
                                          {"threshold", 35}})},
                                   {fan_notification("toggled", "toggled")})
                  .ok());
  engine.start();
  Batch b;
  b.samples.push_back(Sample{"Motor.temperature", kT0, 50.0, quality::kGood});
  tap_.publish(b.samples[0].series, b);  // after the store: not what the engine watches
  tap_.publish_ingest("motor", b);
  EXPECT_EQ(fan_writes(router_.wait_for("toggled", 1)), (std::vector<bool>{true}));
  engine.stop();
  EXPECT_EQ(engine.stats().samples, 1u);
}

TEST(RuleConfigTest, ErrorsNameTheKey) {
  Result<RuleDef> r = rule_from_json(
      {{"name", "x"}, {"type", "threshold"}, {"series", "a.b"}, {"threshold", "hot"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("key 'threshold': expected a number"), std::string::npos)
      << r.status().message();
  r = rule_from_json({{"name", "x"}, {"type", "expression"}, {"expression", "a.b > > 3"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("column"), std::string::npos) << r.status().message();
  r = rule_from_json({{"name", "x"}, {"type", "threshold"}, {"series", "a.b"}, {"threshold", 1},
                      {"aggregate", "average"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("key 'window'"), std::string::npos) << r.status().message();
  Result<NotificationDef> n = notification_from_json(
      {{"name", "n"}, {"rule", "r"}, {"type", "sometimes"}, {"deliveries", json::array()}});
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("key 'type'"), std::string::npos) << n.status().message();
  EXPECT_NE(n.status().message().find("key 'deliveries'"), std::string::npos);
  n = notification_from_json({{"name", "n"},
                              {"rule", "r"},
                              {"deliveries", {{{"type", "set_point"}, {"speed", 3}}}}});
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("deliveries[0]"), std::string::npos)
      << n.status().message();
}

TEST(RuleConfigTest, ToValueReadsNumbersAndBooleans) {
  EXPECT_EQ(std::get<int64_t>(to_value("1200")), 1200);
  EXPECT_DOUBLE_EQ(std::get<double>(to_value("12.5")), 12.5);
  EXPECT_EQ(std::get<bool>(to_value("true")), true);
  EXPECT_EQ(std::get<std::string>(to_value("12 rpm")), "12 rpm");
  EXPECT_EQ(std::get<std::string>(to_value("")), "");
}

}  // namespace
}  // namespace sluice::control
