// The mqtt source's config keys (docs/configuration.md, "mqtt"): one [[sources]] table becomes
// MqttOptions, with every error named by file, line and key.
#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <string_view>

#include "sources/mqtt/mqtt_source.h"

namespace sluice::sources {
namespace {

constexpr size_t kMaxClientIdBytes = 65535;
constexpr int kMaxKeepAliveSeconds = 65535;

// Checks a subscription's format and parser options by making its parser once.
Status check_parser(const ParserFactory& parsers, const MqttSubscription& s) {
  if (s.format == kAutoFormat) return {};
  if (!parsers) {
    return failed_precondition("payload format '" + s.format +
                               "' is not available: no payload parsers are built into this "
                               "binary yet");
  }
  return parsers(s.format, s.parser).status();
}

bool json_pointer(const std::string& v) { return v.empty() || v.front() == '/'; }

// The payload parser's options of one table: the JSON mapping (format "json") and the
// line-protocol timestamp precision (format "influx"). Keys of another format are errors.
void parse_parser_options(runtime::ConfigTable& t, const std::string& format,
                          formats::ParserOptions* out) {
  constexpr std::string_view kPointer = "a JSON pointer such as \"/value\" (RFC 6901)";
  formats::JsonOptions& j = out->json;
  const std::string_view json_keys[] = {"json_name",        "json_value",   "json_time",
                                        "json_time_format", "json_quality", "json_flat",
                                        "json_prefix"};
  if (format == "json") {
    const std::string name = t.string(
        "json_name", j.name_pointer,
        "a JSON pointer to the series name such as \"/name\", or \"{topic}\" for the topic",
        [](const std::string& v) { return v == "{topic}" || (!v.empty() && v.front() == '/'); });
    if (name == "{topic}") {
      j.name_from = formats::JsonOptions::NameFrom::kTopic;
    } else {
      j.name_pointer = name;
    }
    j.value_pointer = t.string("json_value", j.value_pointer, kPointer,
                               [](const std::string& v) { return !v.empty() && v[0] == '/'; });
    j.time_pointer = t.string("json_time", j.time_pointer, kPointer, json_pointer);
    static constexpr formats::JsonOptions::TimeFormat kTimeFormats[] = {
        formats::JsonOptions::TimeFormat::kSeconds, formats::JsonOptions::TimeFormat::kMillis,
        formats::JsonOptions::TimeFormat::kMicros, formats::JsonOptions::TimeFormat::kNanos,
        formats::JsonOptions::TimeFormat::kIso8601};
    j.time_format =
        kTimeFormats[t.choice("json_time_format", 1, {"s", "ms", "us", "ns", "iso8601"})];
    j.quality_pointer = t.string("json_quality", j.quality_pointer, kPointer, json_pointer);
    j.flat = t.boolean("json_flat", j.flat);
    j.prefix = t.string("json_prefix", j.prefix);
  } else {
    for (const std::string_view key : json_keys) {
      if (t.has(key))
        t.error(key, "set but format is not \"json\"; remove it or set format = \"json\"");
    }
  }
  if (format == "influx") {
    static constexpr formats::TimeUnit kUnits[] = {
        formats::TimeUnit::kNanos, formats::TimeUnit::kMicros, formats::TimeUnit::kMillis,
        formats::TimeUnit::kSeconds};
    out->influx.precision = kUnits[t.choice("influx_precision", 0, {"ns", "us", "ms", "s"})];
  } else if (t.has("influx_precision")) {
    t.error("influx_precision",
            "set but format is not \"influx\"; remove it or set format = \"influx\"");
  }
}

}  // namespace

std::string MqttSettings::summary() const {
  const MqttOptions& o = options_;
  std::string s = fmt::format("{}://{}:{}", o.tls ? "mqtts" : "mqtt", o.host, o.port);
  s += o.protocol == 5 ? fmt::format(", MQTT 5 (receive maximum {})", o.receive_maximum)
                       : std::string(", MQTT 3.1.1");
  if (!o.username.empty()) s += fmt::format(", user '{}'", o.username);
  if (o.tls && o.insecure_skip_verify) s += ", certificate NOT verified";
  s += o.clean_session ? ", clean session" : ", persistent session";
  for (const MqttSubscription& sub : o.subscriptions) {
    s += fmt::format(", '{}' qos {} as {}", sub.filter, sub.qos, sub.format);
  }
  if (!o.command_topic.empty()) {
    s += fmt::format(", commands on '{}' qos {}", o.command_topic, o.command_qos);
    if (!o.command_reply_topic.empty())
      s += fmt::format(" (replies to '{}')", o.command_reply_topic);
  }
  if (!o.units_api.url.empty()) {
    s += fmt::format(", tag units from {}", o.units_api.url);
    if (o.units_api.insecure_skip_verify) s += " (certificate NOT verified)";
  }
  return s;
}

Result<std::unique_ptr<runtime::Source>> MqttSettings::create(const std::string& name) const {
  return std::unique_ptr<runtime::Source>(std::make_unique<MqttSource>(name, options_, parsers_));
}

namespace {

// The topic filters of one table: `topic` (one) or `topics` (a list), exactly one of them.
// `example` is where the missing-key message says to put them.
std::vector<std::string> parse_filters(runtime::ConfigTable& t, std::string_view example) {
  const auto valid_filter = [](const std::string& f) { return check_topic_filter(f).empty(); };
  constexpr std::string_view kExpected =
      "a topic filter: not empty, '+' alone in its level, '#' alone in the last level, e.g. "
      "\"plant/+/temperature\" or \"plant/#\"";
  // Both are read even when both are given, so that neither is also reported as unknown.
  std::vector<std::string> filters;
  if (t.has("topic")) {
    std::string f = t.string("topic", "", kExpected, valid_filter);
    if (!f.empty()) filters.push_back(std::move(f));
  }
  if (t.has("topics")) {
    // The fallback (one empty filter, never a valid one) tells a bad value, already reported,
    // from an empty list.
    const std::vector<std::string> bad = {std::string()};
    std::vector<std::string> list = t.strings("topics", bad, kExpected, valid_filter);
    if (list.empty()) t.error("topics", "an empty list subscribes to nothing");
    if (list != bad) filters.insert(filters.end(), list.begin(), list.end());
  }
  if (t.has("topic") && t.has("topics")) {
    t.error("topics", "give either topic or topics, not both");
  } else if (!t.has("topic") && !t.has("topics")) {
    t.error("topic", "missing; say which topic filter to subscribe to" + std::string(example));
  }
  return filters;
}

// The filters of one table with the qos and format they share (defaults 1 and "kepware").
void parse_subscription_group(runtime::ConfigTable& t, const ParserFactory& parsers,
                              std::string_view example, std::vector<MqttSubscription>* out) {
  std::vector<std::string> filters = parse_filters(t, example);
  const int qos = static_cast<int>(
      t.integer("qos", 1, "a QoS of 0, 1 or 2", [](int64_t v) { return v >= 0 && v <= 2; }));
  MqttSubscription sub;
  sub.qos = qos;
  sub.format = t.string("format", "kepware",
                        "a payload format: kepware, json, senml, openmetrics, prometheus, influx "
                        "or auto");
  parse_parser_options(t, sub.format, &sub.parser);
  if (Status st = check_parser(parsers, sub); !st.ok()) t.error("format", st.message());
  for (std::string& f : filters) {
    sub.filter = std::move(f);
    out->push_back(sub);
  }
}

}  // namespace

std::vector<MqttSubscription> parse_mqtt_subscriptions(runtime::ConfigTable& t,
                                                       const ParserFactory& parsers) {
  std::vector<MqttSubscription> out;
  // Read even when absent, so that a misspelt [[sources.subscription]] gets a suggestion.
  const std::optional<runtime::ConfigTable::Tables> subscriptions = t.tables("subscriptions");
  if (!t.has("subscriptions")) {
    parse_subscription_group(t, parsers,
                             ", e.g. topic = \"plant/#\" or topics = [\"plant/+/temp\", "
                             "\"plant/+/level\"], or in [[sources.subscriptions]] tables",
                             &out);
    return out;
  }
  // [[sources.subscriptions]]: every subscription says its own topics, qos and format.
  for (const std::string_view key : {"topic", "topics"}) {
    if (t.has(key)) {
      t.error(key, "give either " + std::string(key) +
                       " or [[sources.subscriptions]] tables, not both; move " + std::string(key) +
                       " into a [[sources.subscriptions]] table");
    }
  }
  for (const std::string_view key : {"qos", "format"}) {
    if (t.has(key)) {
      t.error(key, "with [[sources.subscriptions]] tables each subscription has its own " +
                       std::string(key) + "; move " + std::string(key) +
                       " into each [[sources.subscriptions]] table that needs it");
    }
  }
  if (!subscriptions) return out;  // not an array of tables: reported by tables()
  if (subscriptions->empty()) {
    t.error("subscriptions",
            "an empty list subscribes to nothing; add a [[sources.subscriptions]] table with "
            "topic = \"...\"");
  }
  for (runtime::ConfigTable& sub : *subscriptions) {
    parse_subscription_group(sub, parsers,
                             ", e.g. topic = \"plant/#\" or topics = [\"plant/+/temp\", "
                             "\"plant/+/level\"]",
                             &out);
  }
  return out;
}

std::shared_ptr<const runtime::SourceSettings> parse_mqtt_settings(runtime::ConfigTable& t,
                                                                   const ParserFactory& parsers) {
  MqttOptions o;
  o.host = t.string("host", o.host, "a host name or IP address",
                    [](const std::string& v) { return !v.empty() && v.size() <= 253; });
  o.tls = t.boolean("tls", o.tls);
  o.port = static_cast<int>(t.integer("port", o.tls ? 8883 : 1883, "a TCP port from 1 to 65535",
                                      [](int64_t v) { return v >= 1 && v <= 65535; }));
  o.username = t.string("username", o.username);
  o.password = t.string("password", o.password);
  if (!o.password.empty() && o.username.empty()) {
    t.error("password", "a password without a username; add username = \"...\"");
  }
  const auto file_key = [&t, &o](std::string_view key) {
    std::string path =
        t.string(key, "", "a file path", [](const std::string& v) { return !v.empty(); });
    if (!path.empty() && !o.tls) {
      t.error(key, "set but tls is false; add tls = true or remove it");
    }
    return path;
  };
  o.ca_file = file_key("ca_file");
  o.cert_file = file_key("cert_file");
  o.key_file = file_key("key_file");
  if (o.cert_file.empty() != o.key_file.empty()) {
    t.error(o.cert_file.empty() ? "key_file" : "cert_file",
            "a client certificate needs both cert_file and key_file");
  }
  o.insecure_skip_verify = t.boolean("insecure_skip_verify", o.insecure_skip_verify);
  if (o.insecure_skip_verify && !o.tls) {
    t.error("insecure_skip_verify", "set but tls is false; add tls = true or remove it");
  }
  o.client_id =
      t.string("client_id", o.client_id, "a client identifier of 1 to 65535 bytes",
               [](const std::string& v) { return !v.empty() && v.size() <= kMaxClientIdBytes; });
  o.clean_session = t.boolean("clean_session", o.clean_session);
  o.protocol = t.choice("protocol", 0, {"3.1.1", "5"}) == 1 ? 5 : 4;
  o.keep_alive_s = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(
          t.duration("keep_alive", std::chrono::seconds(o.keep_alive_s),
                     "a keep-alive interval of whole seconds from 1s to 65535s, e.g. \"30s\"",
                     [](std::chrono::nanoseconds d) {
                       return d >= std::chrono::seconds(1) &&
                              d <= std::chrono::seconds(kMaxKeepAliveSeconds) &&
                              d % std::chrono::seconds(1) == std::chrono::nanoseconds{0};
                     }))
          .count());
  o.receive_maximum = static_cast<int>(t.integer("receive_maximum", o.receive_maximum,
                                                 "a number of messages from 1 to 65535",
                                                 [](int64_t v) { return v >= 1 && v <= 65535; }));
  if (t.has("receive_maximum") && o.protocol != 5) {
    t.error("receive_maximum",
            "is an MQTT 5 setting; add protocol = \"5\", or set the window in the broker "
            "(mosquitto: max_inflight_messages)");
  }
  o.max_message_bytes = static_cast<size_t>(
      t.size("max_message_bytes", o.max_message_bytes, "a size from 1KiB to 256MiB, e.g. \"16MiB\"",
             [](uint64_t v) { return v >= 1024 && v <= (256u << 20); }));

  o.units_api.url = t.string(
      "units_api_url", "",
      "the Kepware Configuration API's base URL, e.g. \"https://kepware:57512\"",
      [](const std::string& v) { return v.starts_with("http://") || v.starts_with("https://"); });
  o.units_api.username = t.string("units_api_username", "");
  o.units_api.password = t.string("units_api_password", "");
  o.units_api.insecure_skip_verify = t.boolean("units_api_insecure_skip_verify", false);
  o.units_api.refresh = std::chrono::duration_cast<std::chrono::milliseconds>(
      t.duration("units_refresh", std::chrono::hours(1), "a duration from 1s to 7d, e.g. \"1h\"",
                 [](std::chrono::nanoseconds d) {
                   return d >= std::chrono::seconds(1) && d <= std::chrono::hours(7 * 24);
                 }));
  for (const std::string_view key : {"units_api_username", "units_api_password",
                                     "units_api_insecure_skip_verify", "units_refresh"}) {
    if (t.has(key) && o.units_api.url.empty()) {
      t.error(key, "set but units_api_url is not; add units_api_url = \"https://kepware:57512\"");
    }
  }
  if (!o.units_api.password.empty() && o.units_api.username.empty()) {
    t.error("units_api_password", "a password without a user; add units_api_username = \"...\"");
  }

  // topic/topics, qos and format here, or [[sources.subscriptions]] tables with their own.
  o.subscriptions = parse_mqtt_subscriptions(t, parsers);
  for (MqttSubscription& sub : o.subscriptions) {
    sub.parser.limits.max_payload_bytes = o.max_message_bytes;
  }

  // A north control input: control requests in JSON on command_topic.
  o.command_topic = t.string(
      "command_topic", "",
      "a topic filter for control requests, e.g. \"sluice/control\" or \"plant/+/control\"",
      [](const std::string& f) { return check_topic_filter(f).empty(); });
  o.command_qos = static_cast<int>(t.integer("command_qos", o.command_qos, "a QoS of 0, 1 or 2",
                                             [](int64_t v) { return v >= 0 && v <= 2; }));
  o.command_reply_topic = t.string(
      "command_reply_topic", "", "a topic name without wildcards, e.g. \"sluice/control/reply\"",
      [](const std::string& v) {
        return !v.empty() && v.size() <= kMaxClientIdBytes &&
               v.find_first_of(std::string_view("+#\0", 3)) == std::string::npos;
      });
  for (const std::string_view key : {"command_qos", "command_reply_topic"}) {
    if (t.has(key) && o.command_topic.empty()) {
      t.error(key, "set but command_topic is not; add command_topic = \"sluice/control\"");
    }
  }
  if (!o.command_topic.empty()) {
    for (const MqttSubscription& sub : o.subscriptions) {
      if (sub.filter == o.command_topic) {
        t.error("command_topic",
                "is also a data topic; commands and data need different topics (a message "
                "matching command_topic is a command, never data)");
        break;
      }
    }
    if (!o.command_reply_topic.empty() && topic_matches(o.command_topic, o.command_reply_topic)) {
      t.error("command_reply_topic",
              "matches command_topic, so every reply would come back as a command; use another "
              "topic");
    }
  }
  return std::make_shared<const MqttSettings>(std::move(o), parsers);
}

void register_mqtt(runtime::SourceTypes& types, ParserFactory parsers) {
  types.add({"mqtt", [parsers = std::move(parsers)](runtime::ConfigTable& t) {
               return parse_mqtt_settings(t, parsers);
             }});
}

}  // namespace sluice::sources
