// The mqtt source's config keys as `sluice validate` sees them: good tables give the options
// the source runs with, and each bad value is reported with file, line and key.
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
  register_mqtt(t, [](std::string_view format) -> Result<std::unique_ptr<formats::PayloadParser>> {
    if (format == "kv" || format == "kepware") {
      return std::unique_ptr<formats::PayloadParser>(new NullParser);
    }
    return invalid_argument("unknown payload format '" + std::string(format) +
                            "'; the formats are kepware, kv");
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

}  // namespace
}  // namespace sluice::sources
