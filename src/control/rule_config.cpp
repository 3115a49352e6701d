// Reading rules and notifications from config tables and JSON (see rule_config.h).
#include "control/rule_config.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <regex>

#include "rules/expr.h"
#include "runtime/json_table.h"
#include "runtime/units.h"

namespace sluice::control {
namespace {

using nlohmann::json;
using std::chrono::nanoseconds;

constexpr std::string_view kNameExpected = "a name of letters, digits, '_', '.' or '-'";
constexpr size_t kMaxSeriesName = 1024;
constexpr size_t kMaxDeliveries = 32;
constexpr int64_t kNanosPerMs = 1'000'000;

bool valid_name(const std::string& v) {
  static const std::regex re("[A-Za-z0-9_.-]{1,128}");
  return std::regex_match(v, re);
}

bool valid_series(const std::string& v) { return !v.empty() && v.size() <= kMaxSeriesName; }

std::string read_name(runtime::ConfigTable& t, std::string_view what) {
  std::string name = t.string("name", "", kNameExpected, valid_name);
  if (!t.has("name")) t.error("name", fmt::format("missing; every {} needs a name", what));
  return name;
}

rules::Comparison read_comparison(runtime::ConfigTable& t, std::string_view key) {
  static constexpr rules::Comparison kAll[] = {rules::Comparison::kGreater,
                                               rules::Comparison::kGreaterOrEqual,
                                               rules::Comparison::kLess,
                                               rules::Comparison::kLessOrEqual};
  return kAll[t.choice(key, 0, {">", ">=", "<", "<="})];
}

rules::Aggregate read_aggregate(runtime::ConfigTable& t, nanoseconds* window) {
  static constexpr rules::Aggregate kAll[] = {rules::Aggregate::kValue, rules::Aggregate::kMin,
                                              rules::Aggregate::kMax, rules::Aggregate::kAverage};
  const rules::Aggregate a = kAll[t.choice("aggregate", 0, {"value", "min", "max", "average"})];
  *window = t.duration("window", nanoseconds{0}, "a window length such as \"10s\" (0: none)",
                       [](nanoseconds d) { return d >= nanoseconds{0}; });
  if (a != rules::Aggregate::kValue && *window <= nanoseconds{0}) {
    t.error("window", fmt::format("missing; aggregate '{}' needs a window length, e.g. \"30s\"",
                                  rules::aggregate_name(a)));
  }
  return a;
}

std::string read_one_series(runtime::ConfigTable& t) {
  std::string series = t.string("series", "", "a series name such as \"Motor.temperature\"",
                                valid_series);
  if (!t.has("series")) t.error("series", "missing; name the series to watch, e.g. \"Motor.temperature\"");
  return series;
}

std::vector<std::pair<std::string, std::string>> read_text_map(runtime::ConfigTable& t,
                                                               std::string_view key) {
  std::vector<std::pair<std::string, std::string>> out;
  if (auto values = t.values(key, "a table of names and values")) {
    for (auto& [name, value] : *values) {
      std::string text = std::visit(
          [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
              return x;
            } else if constexpr (std::is_same_v<T, bool>) {
              return x ? "true" : "false";
            } else {
              return fmt::format("{}", x);
            }
          },
          value);
      out.emplace_back(std::move(name), std::move(text));
    }
  }
  return out;
}

void read_target(runtime::ConfigTable& t, runtime::ControlTarget* target) {
  const int given = int{t.has("service")} + int{t.has("asset")} + int{t.has("all")};
  if (given != 1) {
    t.error("service", "say where it goes with exactly one of service = \"name\", asset = "
                       "\"name\" or all = true");
  }
  if (t.has("service")) {
    target->kind = runtime::ControlTarget::Kind::kService;
    target->name = t.string("service", "", kNameExpected, valid_name);
  } else if (t.has("asset")) {
    target->kind = runtime::ControlTarget::Kind::kAsset;
    target->name = t.string("asset", "", "an asset name", [](const std::string& v) {
      return !v.empty() && v.size() <= kMaxSeriesName;
    });
  } else if (t.has("all")) {
    target->kind = runtime::ControlTarget::Kind::kAll;
    if (!t.boolean("all", false)) t.error("all", "expected true (or use service or asset)");
  }
}

DeliveryDef read_delivery(runtime::ConfigTable& t) {
  DeliveryDef d;
  if (!t.has("type")) {
    t.error("type", "missing; the delivery types are log, webhook, mqtt, set_point, operation, "
                    "script");
    t.ignore_unknown_keys();
    return d;
  }
  const size_t type =
      t.choice("type", 99, {"log", "webhook", "mqtt", "set_point", "operation", "script"});
  if (type == 99) {
    t.ignore_unknown_keys();
    return d;
  }
  d.type = static_cast<DeliveryDef::Type>(type);
  const auto required = [&t](std::string_view key, std::string_view what) {
    if (!t.has(key)) t.error(key, fmt::format("missing; {}", what));
  };
  switch (d.type) {
    case DeliveryDef::Type::kLog: {
      static constexpr const char* kLevels[] = {"info", "warn", "error"};
      d.level = kLevels[t.choice("level", 1, {"info", "warn", "error"})];
      d.text = t.string("text", "");
      break;
    }
    case DeliveryDef::Type::kWebhook: {
      d.url = t.string("url", "", "an http:// or https:// URL", [](const std::string& v) {
        return v.starts_with("http://") || v.starts_with("https://");
      });
      required("url", "a webhook needs the URL to POST to");
      d.body = t.string("body", "");
      d.content_type = t.string("content_type", d.content_type, "a media type",
                                [](const std::string& v) { return !v.empty(); });
      d.headers = read_text_map(t, "headers");
      d.retries = static_cast<int>(t.integer("retries", d.retries, "a count from 0 to 20",
                                             [](int64_t v) { return v >= 0 && v <= 20; }));
      d.timeout = t.duration("timeout", d.timeout, "a duration from 100ms to 5m", [](nanoseconds v) {
        return v >= std::chrono::milliseconds(100) && v <= std::chrono::minutes(5);
      });
      break;
    }
    case DeliveryDef::Type::kMqtt: {
      d.host = t.string("host", d.host, "a host name or address",
                        [](const std::string& v) { return !v.empty(); });
      d.port = static_cast<int>(t.integer("port", d.port, "a port from 1 to 65535",
                                          [](int64_t v) { return v >= 1 && v <= 65535; }));
      d.topic = t.string("topic", "", "a topic without wildcards", [](const std::string& v) {
        return !v.empty() && v.find_first_of("+#") == std::string::npos;
      });
      required("topic", "an mqtt delivery needs the topic to publish to");
      d.payload = t.string("payload", "");
      d.qos = static_cast<int>(
          t.integer("qos", d.qos, "0 or 1", [](int64_t v) { return v == 0 || v == 1; }));
      d.retain = t.boolean("retain", false);
      d.username = t.string("username", "");
      d.password = t.string("password", "");
      d.client_id = t.string("client_id", "");
      break;
    }
    case DeliveryDef::Type::kSetPoint: {
      read_target(t, &d.target);
      if (auto v = t.values("trigger_values", "a table of set point names and values")) {
        d.trigger_values = std::move(*v);
      }
      if (auto v = t.values("cleared_values", "a table of set point names and values")) {
        d.cleared_values = std::move(*v);
      }
      if (d.trigger_values.empty() && d.cleared_values.empty()) {
        t.error("trigger_values",
                "missing; a set point delivery needs trigger_values and/or cleared_values, "
                "e.g. trigger_values = { speed = 1200 }");
      }
      d.on_triggered = !d.trigger_values.empty();
      d.on_cleared = !d.cleared_values.empty();
      break;
    }
    case DeliveryDef::Type::kOperation: {
      read_target(t, &d.target);
      d.operation = t.string("operation", "", "an operation name",
                             [](const std::string& v) { return !v.empty(); });
      d.params = read_text_map(t, "params");
      d.cleared_operation = t.string("cleared_operation", "", "an operation name",
                                     [](const std::string& v) { return !v.empty(); });
      d.cleared_params = read_text_map(t, "cleared_params");
      if (d.operation.empty() && d.cleared_operation.empty()) {
        required("operation", "an operation delivery needs operation and/or cleared_operation");
      }
      d.on_triggered = !d.operation.empty();
      d.on_cleared = !d.cleared_operation.empty();
      break;
    }
    case DeliveryDef::Type::kScript: {
      d.script = t.string("script", "", kNameExpected, valid_name);
      d.cleared_script = t.string("cleared_script", "", kNameExpected, valid_name);
      d.params = read_text_map(t, "params");
      if (d.script.empty() && d.cleared_script.empty()) {
        required("script", "a script delivery needs script and/or cleared_script");
      }
      d.on_triggered = !d.script.empty();
      d.on_cleared = !d.cleared_script.empty();
      break;
    }
  }
  return d;
}

json value_json(const Value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

json values_json(const std::vector<std::pair<std::string, Value>>& values) {
  json out = json::object();
  for (const auto& [k, v] : values) out[k] = value_json(v);
  return out;
}

json text_map_json(const std::vector<std::pair<std::string, std::string>>& values) {
  json out = json::object();
  for (const auto& [k, v] : values) out[k] = v;
  return out;
}

std::string duration_text(nanoseconds d) {
  if (d.count() == 0) return "0s";
  if (d.count() % kNanosPerMs == 0) return fmt::format("{}ms", d.count() / kNanosPerMs);
  return fmt::format("{}ns", d.count());
}

void target_json(const runtime::ControlTarget& target, json& j) {
  switch (target.kind) {
    case runtime::ControlTarget::Kind::kService: j["service"] = target.name; break;
    case runtime::ControlTarget::Kind::kAsset: j["asset"] = target.name; break;
    case runtime::ControlTarget::Kind::kAll: j["all"] = true; break;
  }
}

json delivery_json(const DeliveryDef& d) {
  json j = {{"type", delivery_type_name(d.type)}};
  switch (d.type) {
    case DeliveryDef::Type::kLog:
      j["level"] = d.level;
      if (!d.text.empty()) j["text"] = d.text;
      break;
    case DeliveryDef::Type::kWebhook:
      j["url"] = d.url;
      if (!d.body.empty()) j["body"] = d.body;
      j["content_type"] = d.content_type;
      if (!d.headers.empty()) j["headers"] = text_map_json(d.headers);
      j["retries"] = d.retries;
      j["timeout"] = duration_text(d.timeout);
      break;
    case DeliveryDef::Type::kMqtt:
      j["host"] = d.host;
      j["port"] = d.port;
      j["topic"] = d.topic;
      if (!d.payload.empty()) j["payload"] = d.payload;
      j["qos"] = d.qos;
      j["retain"] = d.retain;
      if (!d.username.empty()) j["username"] = d.username;
      if (!d.password.empty()) j["password"] = d.password;
      if (!d.client_id.empty()) j["client_id"] = d.client_id;
      break;
    case DeliveryDef::Type::kSetPoint:
      target_json(d.target, j);
      if (!d.trigger_values.empty()) j["trigger_values"] = values_json(d.trigger_values);
      if (!d.cleared_values.empty()) j["cleared_values"] = values_json(d.cleared_values);
      break;
    case DeliveryDef::Type::kOperation:
      target_json(d.target, j);
      if (!d.operation.empty()) j["operation"] = d.operation;
      if (!d.params.empty()) j["params"] = text_map_json(d.params);
      if (!d.cleared_operation.empty()) j["cleared_operation"] = d.cleared_operation;
      if (!d.cleared_params.empty()) j["cleared_params"] = text_map_json(d.cleared_params);
      break;
    case DeliveryDef::Type::kScript:
      if (!d.script.empty()) j["script"] = d.script;
      if (!d.cleared_script.empty()) j["cleared_script"] = d.cleared_script;
      if (!d.params.empty()) j["params"] = text_map_json(d.params);
      break;
  }
  return j;
}

template <typename T, typename Read>
Result<T> from_json(const json& object, std::string_view what, Read read) {
  if (!object.is_object()) {
    return invalid_argument(fmt::format("a {} is a JSON object, got {}", what,
                                        runtime::show_json(object)));
  }
  std::vector<std::string> errors;
  const std::string base_dir = ".";
  runtime::JsonTable table(object, "", base_dir, errors);
  T value = read(table);
  table.report_unknown_keys();
  if (!errors.empty()) {
    std::string message;
    for (const std::string& e : errors) message += (message.empty() ? "" : "; ") + e;
    return invalid_argument(message);
  }
  return value;
}

}  // namespace

const char* rule_type_name(RuleDef::Type type) {
  switch (type) {
    case RuleDef::Type::kThreshold: return "threshold";
    case RuleDef::Type::kOutOfRange: return "out_of_range";
    case RuleDef::Type::kRateOfChange: return "rate_of_change";
    case RuleDef::Type::kDeadman: return "deadman";
    case RuleDef::Type::kExpression: return "expression";
  }
  return "?";
}

const char* delivery_type_name(DeliveryDef::Type type) {
  switch (type) {
    case DeliveryDef::Type::kLog: return "log";
    case DeliveryDef::Type::kWebhook: return "webhook";
    case DeliveryDef::Type::kMqtt: return "mqtt";
    case DeliveryDef::Type::kSetPoint: return "set_point";
    case DeliveryDef::Type::kOperation: return "operation";
    case DeliveryDef::Type::kScript: return "script";
  }
  return "?";
}

RuleDef read_rule(runtime::ConfigTable& t) {
  RuleDef r;
  r.name = read_name(t, "rule");
  r.description = t.string("description", "");
  if (!t.has("type")) {
    t.error("type", "missing; the rule types are threshold, out_of_range, rate_of_change, "
                    "deadman, expression");
    t.ignore_unknown_keys();
    return r;
  }
  const size_t type = t.choice(
      "type", 99, {"threshold", "out_of_range", "rate_of_change", "deadman", "expression"});
  if (type == 99) {
    t.ignore_unknown_keys();
    return r;
  }
  r.type = static_cast<RuleDef::Type>(type);
  const auto finite = [](double v) { return std::isfinite(v); };
  switch (r.type) {
    case RuleDef::Type::kThreshold:
      r.series = {read_one_series(t)};
      r.comparison = read_comparison(t, "comparison");
      r.threshold = t.number("threshold", 0.0, "a number", finite);
      if (!t.has("threshold")) t.error("threshold", "missing; the value to compare with");
      r.aggregate = read_aggregate(t, &r.window);
      break;
    case RuleDef::Type::kOutOfRange:
      r.series = {read_one_series(t)};
      r.low = t.number("low", 0.0, "a number", finite);
      r.high = t.number("high", 0.0, "a number", finite);
      if (!t.has("low")) t.error("low", "missing; the lowest value in range");
      if (!t.has("high")) t.error("high", "missing; the highest value in range");
      if (r.high < r.low) t.error("high", fmt::format("{} is below low ({})", r.high, r.low));
      r.aggregate = read_aggregate(t, &r.window);
      break;
    case RuleDef::Type::kRateOfChange:
      r.series = {read_one_series(t)};
      r.comparison = read_comparison(t, "comparison");
      r.limit = t.number("limit", 0.0, "a number of units per second", finite);
      if (!t.has("limit")) t.error("limit", "missing; the rate in units per second");
      r.magnitude = t.boolean("magnitude", false);
      r.window = t.duration("window", nanoseconds{0}, "a window length such as \"10s\" (0: the "
                            "last two samples)",
                            [](nanoseconds d) { return d >= nanoseconds{0}; });
      break;
    case RuleDef::Type::kDeadman: {
      r.series = t.strings("series", {}, "an array of series names", valid_series);
      if (!t.has("series") || r.series.empty()) {
        t.error("series", "missing; name the series that must keep coming, e.g. "
                          "[\"Motor.temperature\"]");
      }
      std::vector<std::string> sorted = r.series;
      std::sort(sorted.begin(), sorted.end());
      if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
        t.error("series", "a series is named twice");
      }
      r.timeout = t.duration("timeout", nanoseconds{0}, "a duration such as \"30s\"",
                             [](nanoseconds d) { return d > nanoseconds{0}; });
      if (!t.has("timeout")) t.error("timeout", "missing; how long a series may be silent");
      break;
    }
    case RuleDef::Type::kExpression: {
      r.expression = t.string("expression", "", "an expression");
      if (!t.has("expression")) {
        t.error("expression", "missing; e.g. \"Motor.temperature > 35 && Motor.speed < 100\"");
        break;
      }
      size_t column = 0;
      Result<rules::Expression> e = rules::Expression::compile(r.expression, &column);
      if (!e.ok()) {
        t.error("expression", fmt::format("{} (column {})\n{}", e.status().message(), column,
                                          rules::caret_line(r.expression, column)));
      } else if (e->names().empty()) {
        t.error("expression", "names no series, so it can never be evaluated; refer to a "
                              "datapoint such as Motor.temperature");
      } else {
        r.series = e->names();
      }
      break;
    }
  }
  return r;
}

json to_json(const RuleDef& r) {
  json j = {{"name", r.name}, {"type", rule_type_name(r.type)}};
  if (!r.description.empty()) j["description"] = r.description;
  switch (r.type) {
    case RuleDef::Type::kThreshold:
      j["series"] = r.series.empty() ? "" : r.series[0];
      j["comparison"] = rules::comparison_name(r.comparison);
      j["threshold"] = r.threshold;
      break;
    case RuleDef::Type::kOutOfRange:
      j["series"] = r.series.empty() ? "" : r.series[0];
      j["low"] = r.low;
      j["high"] = r.high;
      break;
    case RuleDef::Type::kRateOfChange:
      j["series"] = r.series.empty() ? "" : r.series[0];
      j["comparison"] = rules::comparison_name(r.comparison);
      j["limit"] = r.limit;
      j["magnitude"] = r.magnitude;
      if (r.window.count() > 0) j["window"] = duration_text(r.window);
      break;
    case RuleDef::Type::kDeadman:
      j["series"] = r.series;
      j["timeout"] = duration_text(r.timeout);
      break;
    case RuleDef::Type::kExpression: j["expression"] = r.expression; break;
  }
  if ((r.type == RuleDef::Type::kThreshold || r.type == RuleDef::Type::kOutOfRange) &&
      r.aggregate != rules::Aggregate::kValue) {
    j["aggregate"] = rules::aggregate_name(r.aggregate);
    j["window"] = duration_text(r.window);
  }
  return j;
}

Result<std::unique_ptr<rules::Rule>> make_rule(const RuleDef& r) {
  const std::string& series = r.series.empty() ? std::string() : r.series[0];
  switch (r.type) {
    case RuleDef::Type::kThreshold: {
      rules::ThresholdRule::Config c{series, r.comparison, r.threshold, r.aggregate,
                                     r.window.count()};
      SLUICE_RETURN_IF_ERROR(rules::ThresholdRule::validate(c));
      return std::unique_ptr<rules::Rule>(new rules::ThresholdRule(r.name, c));
    }
    case RuleDef::Type::kOutOfRange: {
      rules::OutOfRangeRule::Config c{series, r.low, r.high, r.aggregate, r.window.count()};
      SLUICE_RETURN_IF_ERROR(rules::OutOfRangeRule::validate(c));
      return std::unique_ptr<rules::Rule>(new rules::OutOfRangeRule(r.name, c));
    }
    case RuleDef::Type::kRateOfChange: {
      rules::RateOfChangeRule::Config c{series, r.comparison, r.limit, r.magnitude,
                                        r.window.count()};
      SLUICE_RETURN_IF_ERROR(rules::RateOfChangeRule::validate(c));
      return std::unique_ptr<rules::Rule>(new rules::RateOfChangeRule(r.name, c));
    }
    case RuleDef::Type::kDeadman: {
      rules::DeadmanRule::Config c{r.series, r.timeout.count()};
      SLUICE_RETURN_IF_ERROR(rules::DeadmanRule::validate(c));
      return std::unique_ptr<rules::Rule>(new rules::DeadmanRule(r.name, c));
    }
    case RuleDef::Type::kExpression: {
      SLUICE_ASSIGN_OR_RETURN(rules::Expression e, rules::Expression::compile(r.expression));
      std::vector<std::string> names = e.names();
      SLUICE_RETURN_IF_ERROR(rules::ExpressionRule::validate(names));
      return std::unique_ptr<rules::Rule>(new rules::ExpressionRule(
          r.name, std::move(names),
          [e = std::move(e)](const rules::ExpressionInputs& in) { return e.evaluate(in.values); }));
    }
  }
  return internal_error("unknown rule type");
}

std::string describe(const DeliveryDef& d) {
  const auto names = [](const auto& values) {
    std::string out;
    for (const auto& [k, v] : values) out += (out.empty() ? "" : ", ") + k;
    return out;
  };
  switch (d.type) {
    case DeliveryDef::Type::kLog: return "log at " + d.level;
    case DeliveryDef::Type::kWebhook: return "POST " + d.url;
    case DeliveryDef::Type::kMqtt:
      return fmt::format("publish to '{}' on {}:{}", d.topic, d.host, d.port);
    case DeliveryDef::Type::kSetPoint:
      return fmt::format("set point {} on {}",
                         names(d.trigger_values.empty() ? d.cleared_values : d.trigger_values),
                         runtime::describe_target(d.target));
    case DeliveryDef::Type::kOperation:
      return fmt::format("operation '{}' on {}",
                         d.operation.empty() ? d.cleared_operation : d.operation,
                         runtime::describe_target(d.target));
    case DeliveryDef::Type::kScript:
      return "script '" + (d.script.empty() ? d.cleared_script : d.script) + "'";
  }
  return "?";
}

NotificationDef read_notification(runtime::ConfigTable& t) {
  NotificationDef n;
  n.name = read_name(t, "notification");
  n.description = t.string("description", "");
  n.enabled = t.boolean("enabled", true);
  n.rule = t.string("rule", "", kNameExpected, valid_name);
  if (!t.has("rule")) t.error("rule", "missing; name the [[rules]] entry this notification watches");
  if (t.has("type")) {
    const std::string type = t.string("type", "", "one shot, toggled or retriggered");
    if (std::optional<rules::NotificationType> parsed = rules::parse_notification_type(type)) {
      n.type = *parsed;
    } else if (!type.empty()) {
      t.error("type", fmt::format("expected \"one shot\", \"toggled\" or \"retriggered\", got "
                                  "\"{}\"",
                                  type));
    }
  }
  n.retrigger = t.duration("retrigger", nanoseconds{0},
                           "a dead period such as \"60s\" (0: none)",
                           [](nanoseconds d) { return d >= nanoseconds{0}; });
  if (std::optional<runtime::ConfigTable::Tables> deliveries = t.tables("deliveries")) {
    if (deliveries->size() > kMaxDeliveries) {
      t.error("deliveries", fmt::format("{} deliveries; at most {}", deliveries->size(),
                                        kMaxDeliveries));
    }
    for (runtime::ConfigTable& d : *deliveries) n.deliveries.push_back(read_delivery(d));
  }
  if (n.deliveries.empty()) {
    t.error("deliveries", "missing; a notification needs at least one [[notifications.deliveries]] "
                          "(log, webhook, mqtt, set_point, operation or script)");
  }
  return n;
}

json to_json(const NotificationDef& n) {
  json j = {{"name", n.name},
            {"enabled", n.enabled},
            {"rule", n.rule},
            {"type", rules::notification_type_name(n.type)},
            {"retrigger", duration_text(n.retrigger)}};
  if (!n.description.empty()) j["description"] = n.description;
  json deliveries = json::array();
  for (const DeliveryDef& d : n.deliveries) deliveries.push_back(delivery_json(d));
  j["deliveries"] = std::move(deliveries);
  return j;
}

Value to_value(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  if (!text.empty()) {
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    int64_t i = 0;
    if (auto [p, ec] = std::from_chars(begin, end, i); ec == std::errc() && p == end) return i;
    double d = 0.0;
    if (auto [p, ec] = std::from_chars(begin, end, d); ec == std::errc() && p == end &&
                                                      std::isfinite(d)) {
      return d;
    }
  }
  return text;
}

Result<RuleDef> rule_from_json(const json& object) {
  return from_json<RuleDef>(object, "rule", [](runtime::ConfigTable& t) { return read_rule(t); });
}

Result<NotificationDef> notification_from_json(const json& object) {
  return from_json<NotificationDef>(object, "notification",
                                    [](runtime::ConfigTable& t) { return read_notification(t); });
}

}  // namespace sluice::control
