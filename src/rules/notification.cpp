// Notifications: the one shot / toggled / retriggered state machine with its retrigger time.
#include "rules/notification.h"

#include <cassert>
#include <cctype>
#include <string>

namespace sluice::rules {

const char* notification_type_name(NotificationType type) {
  switch (type) {
    case NotificationType::kOneShot: return "one shot";
    case NotificationType::kToggled: return "toggled";
    case NotificationType::kRetriggered: return "retriggered";
  }
  return "unknown";
}

std::optional<NotificationType> parse_notification_type(std::string_view text) {
  std::string lower;
  lower.reserve(text.size());
  for (char c : text)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "one shot" || lower == "oneshot" || lower == "one_shot") {
    return NotificationType::kOneShot;
  }
  if (lower == "toggled") return NotificationType::kToggled;
  if (lower == "retriggered") return NotificationType::kRetriggered;
  return std::nullopt;
}

const char* send_name(Send send) {
  switch (send) {
    case Send::kNone: return "none";
    case Send::kTriggered: return "triggered";
    case Send::kCleared: return "cleared";
  }
  return "unknown";
}

Notification::Notification(NotificationType type, int64_t retrigger_ns)
    : type_(type), retrigger_(retrigger_ns) {
  assert(retrigger_ns >= 0 && "the retrigger time must not be negative");
}

bool Notification::in_dead_period(Timestamp t) const {
  if (!state_.last_sent || retrigger_ == 0) return false;
  return t - *state_.last_sent < retrigger_;
}

Send Notification::wanted() const {
  switch (type_) {
    case NotificationType::kOneShot:
      return state_.triggered && armed_ ? Send::kTriggered : Send::kNone;
    case NotificationType::kToggled:
      if (state_.triggered == state_.announced) return Send::kNone;
      return state_.triggered ? Send::kTriggered : Send::kCleared;
    case NotificationType::kRetriggered: return state_.triggered ? Send::kTriggered : Send::kNone;
  }
  return Send::kNone;
}

Send Notification::send(Timestamp t, Send what) {
  state_.deferred = false;
  state_.last_sent = t;
  state_.last_send = what;
  ++state_.sends;
  if (what == Send::kTriggered) {
    ++state_.sent_triggered;
    state_.announced = true;
    armed_ = false;
  } else {
    ++state_.sent_cleared;
    state_.announced = false;
  }
  return what;
}

Send Notification::evaluate(Timestamp ts, bool triggered, std::span<const NamedValue> values) {
  const bool was = state_.triggered;
  ++state_.evaluations;
  state_.last_evaluation = ts;
  state_.last_values.assign(values.begin(), values.end());
  if (triggered && !was) ++state_.triggers;
  if (!triggered && was) ++state_.clears;
  state_.triggered = triggered;
  if (!triggered) armed_ = true;

  const Send want = wanted();
  if (want == Send::kNone) {
    state_.deferred = false;  // nothing owed: the rule went back to what receivers know
    return Send::kNone;
  }
  if (in_dead_period(ts)) {
    ++state_.held_back;
    state_.deferred = type_ != NotificationType::kRetriggered;
    return Send::kNone;
  }
  return send(ts, want);
}

Send Notification::tick(Timestamp now) {
  if (!state_.deferred || in_dead_period(now)) return Send::kNone;
  const Send want = wanted();
  if (want == Send::kNone) {
    state_.deferred = false;
    return Send::kNone;
  }
  return send(now, want);
}

}  // namespace sluice::rules
