// Notifications: what turns a rule's evaluations into deliveries. A Notification is the state
// machine of one notification instance: it takes its rule's evaluations (and clock ticks) with
// their times and says what to send now — nothing, "triggered" or "cleared" — and keeps the
// state the API and the UI show. Deliveries (log, webhook, MQTT, set point, operation, script)
// act on what it returns; they are not here.
//
// The types, as FogLAMP operators know them:
// - one shot: "triggered" is sent when the rule triggers, and not again until the rule has
//   cleared (an evaluation that does not trigger) and triggers anew. Nothing is sent on clear.
// - toggled: "triggered" when the rule triggers, "cleared" when it clears; the two alternate,
//   starting with "triggered" (a rule that is clear from the start sends nothing).
// - retriggered: "triggered" on every evaluation that triggers. Nothing is sent on clear.
//
// Retrigger time: after any send at time s, nothing at all is sent before s + retrigger time,
// whatever the type and whether "triggered" or "cleared" (FogLAMP applies it to sending in
// general). What the dead period holds back:
// - retriggered: the evaluation is simply not sent (the next triggering one after the dead
//   period is).
// - one shot and toggled: the send is deferred, not lost. The notification still owes its
//   receivers the change, and sends it at the first evaluation or tick after the dead period
//   if the rule is then still in that state; if the rule went back meanwhile, nothing is owed
//   and nothing is sent. So a toggled notification's receivers always see triggered and
//   cleared alternate and end in the rule's state (a fan switched on is switched off), and a
//   one-shot trigger inside the dead period is sent when the dead period ends.
// The retrigger time counts on the evaluations' times (sample source time, or tick time); with a
// retrigger time, a time earlier than the last send counts as inside the dead period.
//
// Thread safety: none; one thread feeds a notification at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/sample.h"
#include "rules/rule.h"

namespace sluice::rules {

enum class NotificationType { kOneShot, kToggled, kRetriggered };

// "one shot", "toggled", "retriggered" (FogLAMP's words).
const char* notification_type_name(NotificationType type);
// Accepts the names above, case-insensitively, with "oneshot" and "one_shot" for one shot.
std::optional<NotificationType> parse_notification_type(std::string_view text);

// What a notification sends now.
enum class Send { kNone, kTriggered, kCleared };
const char* send_name(Send send);  // "none", "triggered", "cleared"

// A notification's visible state.
struct NotificationState {
  bool triggered = false;  // the rule's latest evaluation triggered
  bool announced = false;  // the last thing sent was "triggered" (toggled: what receivers know)
  bool deferred = false;   // a send is owed, held back by the retrigger time
  std::optional<Timestamp> last_evaluation;  // time of the latest evaluation
  std::optional<Timestamp> last_sent;        // time of the latest send
  Send last_send = Send::kNone;
  uint64_t evaluations = 0;
  uint64_t triggers = 0;  // evaluations where the rule went from clear to triggered
  uint64_t clears = 0;    // evaluations where it went from triggered to clear
  uint64_t sends = 0;     // sent_triggered + sent_cleared
  uint64_t sent_triggered = 0;
  uint64_t sent_cleared = 0;
  uint64_t held_back = 0;  // evaluations whose send the retrigger time held back
  // The values of the latest evaluation: what deliveries substitute after a send. A send made
  // by tick() goes out with them too: the latest evaluation is in the state being sent.
  std::vector<NamedValue> last_values;
};

class Notification {
 public:
  // `retrigger_ns` >= 0; 0 means no dead period.
  Notification(NotificationType type, int64_t retrigger_ns);

  // One evaluation of the rule at time `ts`: what to send now. Copies `values` into the state
  // (assigning in place, so no allocation once the sizes have been seen).
  Send evaluate(Timestamp ts, bool triggered, std::span<const NamedValue> values);
  Send evaluate(const Evaluation& e) { return evaluate(e.ts, e.triggered, e.values); }

  // The clock moved to `now`: sends a deferred change whose dead period has passed. The rule's
  // state is the one of its latest evaluation.
  Send tick(Timestamp now);

  NotificationType type() const { return type_; }
  int64_t retrigger_ns() const { return retrigger_; }
  const NotificationState& state() const { return state_; }

 private:
  bool in_dead_period(Timestamp t) const;
  // What the type wants sent given the rule's current state, ignoring the retrigger time.
  Send wanted() const;
  Send send(Timestamp t, Send what);

  NotificationType type_;
  int64_t retrigger_;
  bool armed_ = true;  // one shot: no "triggered" sent since the rule last cleared
  NotificationState state_;
};

}  // namespace sluice::rules
