// The mqtt source's config keys as `sluice validate` sees them: good tables give the options
// the source runs with, and each bad value is reported with file, line and key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/config.h"
#include "sources/mqtt/mqtt_source.h"

namespace sluice::sources {
namespace {

class NullParser final : public formats::PayloadParser {
 public:
  std::string_view name() const override { return "kv"; }
  Status parse(std::string_view, const formats::ParseContext&, formats::Parsed*) override {
    return Status::ok_status();
  }
};

runtime::SourceTypes types() {
  runtime::SourceTypes t;
  register_mqtt(t, [](std::string_view format, const formats::ParserOptions& options)
                       -> Result<std::unique_ptr<formats::PayloadParser>> {
    if (format == "kv") return std::unique_ptr<formats::PayloadParser>(new NullParser);
    return formats::make_parser(format, options);
  });
  return t;
}

const MqttOptions& options_of(const runtime::Config& config) {
  return dynamic_cast<const MqttSettings&>(*config.sources.at(0).settings).options();
}

std::vector<runtime::ConfigError> errors_of(const std::string& source_keys) {
  const std::string text =
      "[store]\ndir = \"data\"\n\n[[sources]]\nname = \"m\"\ntype = \"mqtt\"\n" + source_keys;
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> config = runtime::parse_config(text, "plant.toml", types(), &errors);
  EXPECT_FALSE(config.ok()) << "expected errors for:\n" << source_keys;
  return errors;
}

TEST(MqttConfig, DefaultsAndAllKeysAreRead) {
  const std::string text = R"([store]
dir = "data"

[[sources]]
name = "broker1"
type = "mqtt"
host = "10.0.0.5"
tls = true
username = "plc"
password = "secret"
ca_file = "/etc/ca.crt"
insecure_skip_verify = false
clean_session = false
protocol = "5"
keep_alive = "20s"
topics = ["plant/+/temp", "plant/#"]
qos = 2
format = "kv"
)";
  Result<runtime::Config> config = runtime::parse_config(text, "plant.toml", types());
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  const MqttOptions& o = options_of(*config);
  EXPECT_EQ(o.host, "10.0.0.5");
  EXPECT_EQ(o.port, 8883);  // the TLS default
  EXPECT_EQ(o.username, "plc");
  EXPECT_FALSE(o.clean_session);
  EXPECT_EQ(o.protocol, 5);
  EXPECT_EQ(o.keep_alive_s, 20);
  ASSERT_EQ(o.subscriptions.size(), 2u);
  EXPECT_EQ(o.subscriptions[1].filter, "plant/#");
  EXPECT_EQ(o.subscriptions[1].qos, 2);
  EXPECT_EQ(o.subscriptions[1].format, "kv");
}

TEST(MqttConfig, PlainDefaultsArePort1883CleanSessionQos1Kepware) {
  const std::string text =
      "[store]\ndir = \"d\"\n[[sources]]\nname = \"m\"\ntype = \"mqtt\"\ntopic = \"a/#\"\n";
  Result<runtime::Config> config = runtime::parse_config(text, "plant.toml", types());
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  const MqttOptions& o = options_of(*config);
  EXPECT_EQ(o.host, "localhost");
  EXPECT_EQ(o.port, 1883);
  EXPECT_TRUE(o.clean_session);
  EXPECT_EQ(o.protocol, 4);
  ASSERT_EQ(o.subscriptions.size(), 1u);
  EXPECT_EQ(o.subscriptions[0].qos, 1);
  EXPECT_EQ(o.subscriptions[0].format, "kepware");
}

TEST(MqttConfig, BadValuesAreReportedWithFileLineAndKey) {
  struct Case {
    std::string keys;
    std::string key;  // the key the error names
    int line;         // the line it points at (the source keys start on line 7)
  };
  const std::vector<Case> cases = {
      {"topic = \"a\"\nport = 70000\n", "sources[0].port", 8},
      {"topic = \"a\"\nqos = 3\n", "sources[0].qos", 8},
      {"topic = \"\"\n", "sources[0].topic", 7},
      {"topic = \"plant/#/x\"\n", "sources[0].topic", 7},
      {"topic = \"plant+\"\n", "sources[0].topic", 7},
      {"topics = [\"ok/#\", \"bad/#/x\"]\n", "sources[0].topics", 7},
      {"topic = \"a\"\nformat = \"xml\"\n", "sources[0].format", 8},
      {"topic = \"a\"\nprotocol = \"3\"\n", "sources[0].protocol", 8},
      {"topic = \"a\"\nca_file = \"ca.crt\"\n", "sources[0].ca_file", 8},
      {"topic = \"a\"\nkeep_alive = \"0s\"\n", "sources[0].keep_alive", 8},
      {"host = \"h\"\n", "sources[0].topic", 4},
  };
  for (const Case& c : cases) {
    const std::vector<runtime::ConfigError> errors = errors_of(c.keys);
    ASSERT_FALSE(errors.empty()) << c.keys;
    EXPECT_EQ(errors[0].file, "plant.toml") << c.keys;
    EXPECT_EQ(errors[0].key, c.key) << c.keys << errors[0].to_string();
    EXPECT_EQ(errors[0].line, c.line) << c.keys << errors[0].to_string();
  }
}

TEST(MqttConfig, TopicAndTopicsTogetherIsOneErrorAtTopics) {
  const std::vector<runtime::ConfigError> errors = errors_of("topic = \"a\"\ntopics = [\"b\"]\n");
  ASSERT_EQ(errors.size(), 1u) << errors[0].to_string();
  EXPECT_EQ(errors[0].key, "sources[0].topics");
  EXPECT_EQ(errors[0].line, 8);
  EXPECT_EQ(errors[0].message, "give either topic or topics, not both");
}

TEST(MqttConfig, SubscriptionTablesGiveEachFilterItsOwnQosAndFormat) {
  const std::string text = R"([store]
dir = "data"

[[sources]]
name = "plant"
type = "mqtt"
[[sources.subscriptions]]
topic = "kepware/#"
qos = 1
format = "kepware"
[[sources.subscriptions]]
topic = "meters/+/senml"
qos = 2
format = "senml"
[[sources.subscriptions]]
topics = ["kv/a", "kv/b"]
qos = 0
format = "kv"
[[sources.subscriptions]]
topic = "defaults/#"
)";
  Result<runtime::Config> config = runtime::parse_config(text, "plant.toml", types());
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  const MqttOptions& o = options_of(*config);
  ASSERT_EQ(o.subscriptions.size(), 5u);
  const auto expect = [&o](size_t i, std::string_view filter, int qos, std::string_view format) {
    EXPECT_EQ(o.subscriptions[i].filter, filter) << i;
    EXPECT_EQ(o.subscriptions[i].qos, qos) << i;
    EXPECT_EQ(o.subscriptions[i].format, format) << i;
  };
  expect(0, "kepware/#", 1, "kepware");
  expect(1, "meters/+/senml", 2, "senml");
  expect(2, "kv/a", 0, "kv");
  expect(3, "kv/b", 0, "kv");
  expect(4, "defaults/#", 1, "kepware");  // the same defaults as the source-level keys
  EXPECT_THAT(config->sources[0].settings->summary(),
              ::testing::HasSubstr("'meters/+/senml' qos 2 as senml"));
}

TEST(MqttConfig, SubscriptionTablesMayBeWrittenInline) {
  const std::string text =
      "[store]\ndir = \"d\"\n[[sources]]\nname = \"m\"\ntype = \"mqtt\"\n"
      "subscriptions = [{ topic = \"a/#\", qos = 0 }, { topic = \"b/#\", format = \"kv\" }]\n";
  Result<runtime::Config> config = runtime::parse_config(text, "plant.toml", types());
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  const MqttOptions& o = options_of(*config);
  ASSERT_EQ(o.subscriptions.size(), 2u);
  EXPECT_EQ(o.subscriptions[0].qos, 0);
  EXPECT_EQ(o.subscriptions[1].format, "kv");
}

TEST(MqttConfig, BadSubscriptionTablesAreReportedWithLineAndWholeKey) {
  struct Case {
    std::string keys;     // the source keys start on line 7
    std::string key;      // the key the error names
    int line;             // the line it points at
    std::string message;  // a part of the message
  };
  const std::string sub = "[[sources.subscriptions]]\n";
  const std::vector<Case> cases = {
      // Source-level keys that belong in the subscriptions.
      {"topic = \"a/#\"\n" + sub + "topic = \"b/#\"\n", "sources[0].topic", 7,
       "give either topic or [[sources.subscriptions]] tables, not both; move topic into a "
       "[[sources.subscriptions]] table"},
      {"topics = [\"a/#\"]\n" + sub + "topic = \"b/#\"\n", "sources[0].topics", 7,
       "give either topics or [[sources.subscriptions]] tables, not both"},
      {"qos = 2\n" + sub + "topic = \"b/#\"\n", "sources[0].qos", 7,
       "move qos into each [[sources.subscriptions]] table that needs it"},
      {"format = \"kv\"\n" + sub + "topic = \"b/#\"\n", "sources[0].format", 7,
       "move format into each [[sources.subscriptions]] table that needs it"},
      // One subscription's own keys.
      {sub + "topic = \"a/#\"\n" + sub + "qos = 1\n", "sources[0].subscriptions[1].topic", 9,
       "missing; say which topic filter to subscribe to"},
      {sub + "topic = \"a/#\"\ntopics = [\"b/#\"]\n", "sources[0].subscriptions[0].topics", 9,
       "give either topic or topics, not both"},
      {sub + "topic = \"a/#\"\n" + sub + "topic = \"b/#\"\nqos = 3\n",
       "sources[0].subscriptions[1].qos", 11, "expected a QoS of 0, 1 or 2, got 3"},
      {sub + "topic = \"a/#\"\nformat = \"xml\"\n", "sources[0].subscriptions[0].format", 9,
       "unknown payload format \"xml\""},
      {sub + "topic = \"a/#/b\"\n", "sources[0].subscriptions[0].topic", 8,
       "expected a topic filter"},
      {sub + "topics = [\"a/#\", \"b/#/c\"]\n", "sources[0].subscriptions[0].topics", 8,
       "expected a topic filter"},
      {sub + "topics = []\n", "sources[0].subscriptions[0].topics", 8,
       "an empty list subscribes to nothing"},
      {sub + "topic = \"a/#\"\nqso = 2\n", "sources[0].subscriptions[0].qso", 9,
       "unknown key; did you mean 'qos'?"},
      // The subscriptions key itself.
      {"subscriptions = \"a/#\"\n", "sources[0].subscriptions", 7,
       "expected an array of tables written [[sources.subscriptions]], got \"a/#\""},
      {"subscriptions = [\"a/#\"]\n", "sources[0].subscriptions[0]", 7,
       "expected a table written [[sources.subscriptions]], got \"a/#\""},
      {"subscriptions = []\n", "sources[0].subscriptions", 7,
       "an empty list subscribes to nothing"},
  };
  for (const Case& c : cases) {
    const std::vector<runtime::ConfigError> errors = errors_of(c.keys);
    std::string all;
    for (const runtime::ConfigError& e : errors) all += e.to_string() + "\n";
    ASSERT_EQ(errors.size(), 1u) << c.keys << all;
    EXPECT_EQ(errors[0].file, "plant.toml") << c.keys;
    EXPECT_EQ(errors[0].key, c.key) << c.keys << errors[0].to_string();
    EXPECT_EQ(errors[0].line, c.line) << c.keys << errors[0].to_string();
    EXPECT_THAT(errors[0].message, ::testing::HasSubstr(c.message)) << c.keys;
  }
}

TEST(MqttConfig, MisspeltSubscriptionTablesGetASuggestion) {
  const std::vector<runtime::ConfigError> errors =
      errors_of("[[sources.subscription]]\ntopic = \"a/#\"\n");
  ASSERT_EQ(errors.size(), 2u);
  // No subscription was given, so the source has no topic either.
  EXPECT_EQ(errors[0].key, "sources[0].topic");
  EXPECT_EQ(errors[0].line, 4);
  EXPECT_THAT(errors[0].message, ::testing::HasSubstr("[[sources.subscriptions]]"));
  EXPECT_EQ(errors[1].key, "sources[0].subscription");
  EXPECT_EQ(errors[1].line, 7);
  EXPECT_THAT(errors[1].message, ::testing::HasSubstr("did you mean 'subscriptions'?"));
}

}  // namespace
}  // namespace sluice::sources

namespace sluice::sources {
namespace {

TEST(MqttConfig, JsonMappingAndInfluxPrecisionAreReadPerSubscription) {
  const std::string text = R"(
[store]
dir = "data"
[[sources]]
name = "m"
type = "mqtt"
max_message_bytes = "1MiB"
[[sources.subscriptions]]
topic = "devices/+/json"
format = "json"
json_name = "{topic}"
json_value = "/reading/value"
json_time = "/ts"
json_time_format = "iso8601"
json_quality = "/ok"
[[sources.subscriptions]]
topic = "influx/#"
format = "influx"
influx_precision = "ms"
[[sources.subscriptions]]
topic = "any/#"
format = "auto"
)";
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> config = runtime::parse_config(text, "plant.toml", types(), &errors);
  ASSERT_TRUE(config.ok()) << (errors.empty() ? config.status().message() : errors[0].message);
  const MqttOptions& o = options_of(*config);
  ASSERT_EQ(o.subscriptions.size(), 3u);
  const formats::JsonOptions& j = o.subscriptions[0].parser.json;
  EXPECT_EQ(j.name_from, formats::JsonOptions::NameFrom::kTopic);
  EXPECT_EQ(j.value_pointer, "/reading/value");
  EXPECT_EQ(j.time_pointer, "/ts");
  EXPECT_EQ(j.time_format, formats::JsonOptions::TimeFormat::kIso8601);
  EXPECT_EQ(j.quality_pointer, "/ok");
  EXPECT_EQ(o.subscriptions[1].parser.influx.precision, formats::TimeUnit::kMillis);
  EXPECT_EQ(o.subscriptions[2].format, "auto");
  for (const MqttSubscription& s : o.subscriptions) {
    EXPECT_EQ(s.parser.limits.max_payload_bytes, 1u << 20);
  }
}

TEST(MqttConfig, ParserKeysOfAnotherFormatOrBadPointersAreErrorsNamingTheKey) {
  const std::vector<runtime::ConfigError> errors = errors_of(
      "topic = \"a/#\"\nformat = \"kepware\"\njson_value = \"/v\"\n"
      "influx_precision = \"ms\"\n");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "sources[0].json_value");
  EXPECT_THAT(errors[0].message, ::testing::HasSubstr("format is not \"json\""));
  EXPECT_EQ(errors[1].key, "sources[0].influx_precision");
  const std::vector<runtime::ConfigError> bad_pointer =
      errors_of("topic = \"a/#\"\nformat = \"json\"\njson_value = \"value\"\n");
  ASSERT_EQ(bad_pointer.size(), 1u);
  EXPECT_EQ(bad_pointer[0].key, "sources[0].json_value");
  EXPECT_THAT(bad_pointer[0].message, ::testing::HasSubstr("JSON pointer"));
}

}  // namespace
}  // namespace sluice::sources
