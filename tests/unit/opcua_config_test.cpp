// The `opcua` source's configuration: defaults, every key mapped, and errors that name the key
// and line (a bad node id with what is wrong in it, security mode and policy that do not go
// together, a source that reads nothing); browse paths.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/builtin_sources.h"
#include "runtime/config.h"
#include "sources/opcua/opcua_source.h"

namespace sluice::sources {
namespace {

using ::testing::HasSubstr;

std::string with_source(const std::string& keys) {
  return "[store]\ndir = \"data\"\n[[sources]]\nname = \"plc\"\ntype = \"opcua\"\n" + keys;
}

OpcuaOptions parse_ok(const std::string& keys) {
  auto config = runtime::parse_config(with_source(keys), "plant.toml", cli::builtin_source_types());
  EXPECT_TRUE(config.ok()) << config.status().message();
  if (!config.ok()) return {};
  const auto* s = dynamic_cast<const OpcuaSettings*>(config->sources.at(0).settings.get());
  EXPECT_NE(s, nullptr);
  return s != nullptr ? s->options() : OpcuaOptions{};
}

std::string errors_of(const std::string& keys) {
  std::vector<runtime::ConfigError> errors;
  auto config =
      runtime::parse_config(with_source(keys), "plant.toml", cli::builtin_source_types(), &errors);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.status().message();
}

TEST(OpcuaConfigTest, DefaultsAreASubscriptionWithoutSecurity) {
  const OpcuaOptions o =
      parse_ok("endpoint = \"opc.tcp://plc1:4840\"\n[[sources.nodes]]\nnode_id = \"ns=2;s=T\"\n");
  EXPECT_EQ(o.client.endpoint_url, "opc.tcp://plc1:4840");
  EXPECT_EQ(o.client.policy, opcua::SecurityPolicy::kNone);
  EXPECT_EQ(o.client.mode, opcua::SecurityMode::kNone);
  EXPECT_TRUE(o.subscribe);
  EXPECT_EQ(o.publishing_interval_ms, 1000);
  EXPECT_EQ(o.sampling_interval_ms, -1);
  EXPECT_EQ(o.queue_size, 10u);
  EXPECT_EQ(o.deadband, opcua::DeadbandType::kNone);
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].node_id, "ns=2;s=T");
  EXPECT_TRUE(o.client.user.empty());
}

TEST(OpcuaConfigTest, EveryKeyIsMapped) {
  const OpcuaOptions o = parse_ok(R"(endpoint = "opc.tcp://plc1:4840/UA"
security_policy = "Basic256Sha256"
user = "op"
password = "pw"
mode = "poll"
poll_interval = "250ms"
publishing_interval = "200ms"
sampling_interval = "50ms"
queue_size = 5
deadband = "percent"
deadband_value = 2.5
request_timeout = "3s"
session_timeout = "30s"
asset = "Line1"
[[sources.nodes]]
node_id = "nsu=urn:plant;s=Speed"
series = "Line1.speed"
sampling_interval = "10ms"
queue_size = 3
[[sources.browse]]
root = "ns=1;s=Plant"
include = ["Motor.*"]
exclude = ["*.Diag*"]
max_depth = 4
[[sources.control]]
name = "speed"
node_id = "ns=1;s=Motor.Speed"
type = "Double"
[[sources.operations]]
name = "reset"
object = "ns=1;s=Motor"
method = "ns=1;s=Motor.Reset"
)");
  EXPECT_EQ(o.client.policy, opcua::SecurityPolicy::kBasic256Sha256);
  EXPECT_EQ(o.client.mode, opcua::SecurityMode::kSignAndEncrypt);  // the default with security
  EXPECT_EQ(o.client.user, "op");
  EXPECT_EQ(o.client.password, "pw");
  EXPECT_FALSE(o.subscribe);
  EXPECT_EQ(o.poll_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(o.publishing_interval_ms, 200);
  EXPECT_EQ(o.sampling_interval_ms, 50);
  EXPECT_EQ(o.queue_size, 5u);
  EXPECT_EQ(o.deadband, opcua::DeadbandType::kPercent);
  EXPECT_EQ(o.deadband_value, 2.5);
  EXPECT_EQ(o.client.request_timeout, std::chrono::seconds(3));
  EXPECT_EQ(o.client.session_timeout, std::chrono::seconds(30));
  EXPECT_EQ(o.asset, "Line1");
  ASSERT_EQ(o.nodes.size(), 1u);
  EXPECT_EQ(o.nodes[0].series, "Line1.speed");
  EXPECT_EQ(o.nodes[0].sampling_interval_ms, 10);
  EXPECT_EQ(o.nodes[0].queue_size, 3u);
  ASSERT_EQ(o.browse.size(), 1u);
  EXPECT_EQ(o.browse[0].root, "ns=1;s=Plant");
  EXPECT_EQ(o.browse[0].include, std::vector<std::string>{"Motor.*"});
  EXPECT_EQ(o.browse[0].exclude, std::vector<std::string>{"*.Diag*"});
  EXPECT_EQ(o.browse[0].max_depth, 4);
  ASSERT_EQ(o.control.size(), 1u);
  EXPECT_EQ(o.control[0].type, "Double");
  ASSERT_EQ(o.operations.size(), 1u);
  EXPECT_EQ(o.operations[0].method_id, "ns=1;s=Motor.Reset");
}

TEST(OpcuaConfigTest, ErrorsNameTheKeyAndWhatIsWrong) {
  EXPECT_THAT(errors_of("[[sources.nodes]]\nnode_id = \"i=85\"\n"),
              HasSubstr("key 'sources[0].endpoint': is required"));
  EXPECT_THAT(errors_of("endpoint = \"http://plc1\"\n[[sources.nodes]]\nnode_id = \"i=85\"\n"),
              HasSubstr("sources[0].endpoint"));
  EXPECT_THAT(
      errors_of("endpoint = \"opc.tcp://plc1\"\n[[sources.nodes]]\nnode_id = \"ns=x;s=1\"\n"),
      HasSubstr("key 'sources[0].nodes[0].node_id': 'ns=x;s=1' is not a node id"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\nsecurity_mode = \"Sign\"\n"
                        "[[sources.nodes]]\nnode_id = \"i=85\"\n"),
              HasSubstr("Sign and SignAndEncrypt need security_policy = \"Basic256Sha256\""));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\nsecurity_policy = \"Basic256Sha256\"\n"
                        "security_mode = \"None\"\n[[sources.nodes]]\nnode_id = \"i=85\"\n"),
              HasSubstr("needs Sign or SignAndEncrypt"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\n"), HasSubstr("the source reads nothing"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\nserver_thumbprint = \"12:zz\"\n"
                        "[[sources.nodes]]\nnode_id = \"i=85\"\n"),
              HasSubstr("key 'sources[0].server_thumbprint': expected the SHA-1 thumbprint"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\ndeadband = \"absolute\"\n"
                        "[[sources.nodes]]\nnode_id = \"i=85\"\n"),
              HasSubstr("deadband_value': is required"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\nuser = \"op\"\n"
                        "[[sources.nodes]]\nnode_id = \"i=85\"\n"),
              HasSubstr("password': is required with user"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\n[[sources.nodes]]\nnode_id = \"i=85\"\n"
                        "[[sources.control]]\nname = \"x\"\nnode_id = \"i=1\"\ntype = \"Real\"\n"),
              HasSubstr("sources[0].control[0].type"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\n[[sources.nodes]]\nnode_id = \"i=85\"\n"
                        "serie = \"x\"\n"),
              HasSubstr("serie"));
}

TEST(OpcuaConfigTest, BrowsePathsNameEachElementsNamespace) {
  auto p = parse_browse_path("1:Plant/Objects/12:Motor 1");
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0], (opcua::QualifiedName{1, "Plant"}));
  EXPECT_EQ((*p)[1], (opcua::QualifiedName{0, "Objects"}));
  EXPECT_EQ((*p)[2], (opcua::QualifiedName{12, "Motor 1"}));
  EXPECT_FALSE(parse_browse_path("").ok());
  EXPECT_THAT(parse_browse_path("1:Plant//x").status().message(), HasSubstr("empty element"));
  EXPECT_THAT(parse_browse_path("70000:x").status().message(), HasSubstr("out of range"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\n[[sources.nodes]]\npath = \"a//b\"\n"),
              HasSubstr("key 'sources[0].nodes[0].path'"));
  EXPECT_THAT(errors_of("endpoint = \"opc.tcp://plc1\"\n[[sources.browse]]\nroot = \"i=85\"\n"
                        "root_path = \"1:Plant\"\n"),
              HasSubstr("give either root or root_path"));
}

}  // namespace
}  // namespace sluice::sources
