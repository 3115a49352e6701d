// Rules and notifications as an operator writes them: the config file's [[rules]] and
// [[notifications]] tables, and the same objects as JSON through the REST API (both read through
// runtime::ConfigTable, so the keys, checks and messages are one). A rule is a named test on the
// live stream (rules/rule.h); a notification names a rule, says when to send (its type and
// retrigger time, rules/notification.h) and what to do when it sends (its deliveries). Several
// notifications may share a rule. The reference of every key is docs/control.md.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sample.h"
#include "core/status.h"
#include "runtime/config_table.h"
#include "runtime/control.h"
#include "rules/notification.h"
#include "rules/rule.h"

namespace sluice::control {

struct RuleDef {
  enum class Type { kThreshold, kOutOfRange, kRateOfChange, kDeadman, kExpression };
  std::string name;
  std::string description;
  Type type = Type::kThreshold;
  std::vector<std::string> series;  // one for value rules; the watched ones for deadman
  rules::Comparison comparison = rules::Comparison::kGreater;
  double threshold = 0.0;  // threshold
  double low = 0.0;        // out of range
  double high = 0.0;
  double limit = 0.0;  // rate of change, units per second
  bool magnitude = false;
  rules::Aggregate aggregate = rules::Aggregate::kValue;
  std::chrono::nanoseconds window{0};
  std::chrono::nanoseconds timeout{0};  // deadman
  std::string expression;               // expression
};

const char* rule_type_name(RuleDef::Type type);  // "threshold", "out_of_range", ...

// Reads and checks one rule's keys; errors go through the table. `name` is required.
RuleDef read_rule(runtime::ConfigTable& table);
nlohmann::json to_json(const RuleDef& rule);
// The rule to run; the definition must have been read without errors.
Result<std::unique_ptr<rules::Rule>> make_rule(const RuleDef& rule);

// What a notification does when it sends. Text fields are templates: `$Asset.datapoint$` is the
// value that made the rule trigger (rules/substitution.h), and `$notification$`, `$rule$`,
// `$state$` ("triggered" or "cleared") and `$time$` (ISO-8601 UTC) describe the send.
struct DeliveryDef {
  enum class Type { kLog, kWebhook, kMqtt, kSetPoint, kOperation, kScript };
  Type type = Type::kLog;
  // Which sends it acts on: log, webhook and mqtt on both by default; set_point on both (the
  // cleared values when it clears); operation and script on "triggered" (their cleared_ keys
  // add an action on clear).
  bool on_triggered = true;
  bool on_cleared = true;

  // log
  std::string level = "warn";  // info, warn, error
  std::string text;            // empty: a line naming the notification, state and values

  // webhook
  std::string url;
  std::string body;  // empty: the JSON document (docs/control.md)
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  int retries = 3;
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);

  // mqtt
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string topic;
  std::string payload;  // empty: the JSON document
  int qos = 1;
  bool retain = false;
  std::string username;
  std::string password;
  std::string client_id;

  // set_point, operation: where
  runtime::ControlTarget target;
  // set_point: values written when it triggers / clears (strings are templates; after
  // substitution a string that reads as a number or a boolean is one, see to_value)
  std::vector<std::pair<std::string, Value>> trigger_values;
  std::vector<std::pair<std::string, Value>> cleared_values;
  // operation: run on trigger (and cleared_operation on clear, if set)
  std::string operation;
  std::vector<std::pair<std::string, std::string>> params;
  std::string cleared_operation;
  std::vector<std::pair<std::string, std::string>> cleared_params;
  // script: run on trigger (and cleared_script on clear, if set), with params
  std::string script;
  std::string cleared_script;
};

const char* delivery_type_name(DeliveryDef::Type type);  // "log", "webhook", "mqtt", ...
// One line for the UI: "set point speed, fan on service 'fan'", "POST http://...".
std::string describe(const DeliveryDef& delivery);

struct NotificationDef {
  std::string name;
  std::string description;
  bool enabled = true;
  std::string rule;
  rules::NotificationType type = rules::NotificationType::kToggled;
  std::chrono::nanoseconds retrigger{0};
  std::vector<DeliveryDef> deliveries;
};

NotificationDef read_notification(runtime::ConfigTable& table);
nlohmann::json to_json(const NotificationDef& notification);

// A substituted template as a set point value: "1200" → int64 1200, "12.5" → 12.5,
// "true"/"false" → bool, anything else the string itself.
Value to_value(const std::string& text);

// Runs read_* on a JSON object and returns the definition, or every error in one message
// ("key 'threshold': expected a number, got \"x\"; key 'series': missing").
Result<RuleDef> rule_from_json(const nlohmann::json& object);
Result<NotificationDef> notification_from_json(const nlohmann::json& object);

}  // namespace sluice::control
