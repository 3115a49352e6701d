// The mqtt source as a north control input: a real mosquitto, an in-process Runtime with an mqtt
// source whose command_topic carries control requests in JSON, and a recording ControlRouter in
// place of the control dispatcher. A valid command reaches the router with the source as the
// caller; a bad or refused one is counted, logged and never ingested; data topics go on working;
// the reply topic gets the outcome. With the real dispatcher, a command whose script reconfigures
// the very source it came on runs on the dispatcher's thread (the source restarts, no deadlock).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <vector>

#include "cli/builtin_sources.h"
#include "control/control_plane.h"
#include "control/dispatcher.h"
#include "fixtures/mosquitto.h"
#include "fixtures/test_support.h"
#include "protocols/mqtt/connection.h"
#include "runtime/config.h"
#include "runtime/control.h"
#include "runtime/runtime.h"

namespace sluice {
namespace {

using testing::eventually;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

// Records every request with its caller; refuses requests to the service "locked" as an ACL
// would.
class RecordingRouter final : public runtime::ControlRouter {
 public:
  struct Call {
    runtime::ControlRequest request;
    runtime::Caller caller;
  };
  Result<runtime::ControlOutcome> dispatch(const runtime::ControlRequest& request,
                                           const runtime::Caller& caller) override {
    std::lock_guard lock(mu_);
    calls_.push_back(Call{request, caller});
    if (request.target.name == "locked") {
      return permission_denied("the ACL of service 'locked' does not allow mqtt service 'plant'");
    }
    return runtime::ControlOutcome{};
  }
  Status submit(runtime::ControlRequest request, runtime::Caller caller,
                runtime::ControlDone done) override {
    Result<runtime::ControlOutcome> outcome = dispatch(request, caller);
    if (done) done(outcome);
    return Status::ok_status();
  }
  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

std::string config_text(const std::string& dir, int port) {
  return fmt::format(R"(
[store]
dir = "{0}/data"
[log]
status_interval = 0
[[sources]]
name = "plant"
type = "mqtt"
host = "127.0.0.1"
port = {1}
topic = "plant/#"
qos = 1
format = "json"
command_topic = "sluice/control"
command_qos = 1
command_reply_topic = "sluice/reply"
)",
                     dir, port);
}

std::string detail(const runtime::SourceStatus& s, const std::string& name) {
  for (const auto& d : s.details) {
    if (d.name == name) return d.value;
  }
  return "<none>";
}

class MqttCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path() + "/broker");
    broker_ =
        std::make_unique<testing::Mosquitto>(dir_.path() + "/broker", testing::MosquittoOptions{});
    auto config = runtime::parse_config(config_text(dir_.path(), broker_->port()),
                                        dir_.file("sluice.toml"), cli::builtin_source_types());
    ASSERT_TRUE(config.ok()) << config.status().message();
    auto rt = runtime::Runtime::open(*config);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    rt_ = std::move(rt).value();
    rt_->set_control_router(&router_);
    ASSERT_TRUE(rt_->start().ok());
    ASSERT_TRUE(eventually([&] { return source().health.state == runtime::HealthState::kHealthy; }))
        << source().health.reason;
  }
  void TearDown() override {
    if (rt_) {
      EXPECT_TRUE(rt_->stop().ok());
    }
  }
  runtime::SourceStatus source() const {
    auto s = rt_->sources();
    return s.empty() ? runtime::SourceStatus{} : s[0];
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::Mosquitto> broker_;
  RecordingRouter router_;
  std::unique_ptr<runtime::Runtime> rt_;
};

TEST_F(MqttCommandTest, ValidCommandReachesTheRouterWithTheSourceAsCaller) {
  broker_->publish("sluice/control", R"({"service": "fan", "values": {"speed": 1200, "on": true}})",
                   1);
  ASSERT_TRUE(eventually([&] { return router_.calls().size() == 1; }));
  const RecordingRouter::Call call = router_.calls()[0];
  EXPECT_EQ(call.caller.kind, runtime::Caller::Kind::kService);
  EXPECT_EQ(call.caller.name, "plant");
  EXPECT_EQ(call.caller.type, "mqtt");
  EXPECT_EQ(call.request.action, runtime::ControlRequest::Action::kWrite);
  EXPECT_EQ(call.request.target,
            (runtime::ControlTarget{runtime::ControlTarget::Kind::kService, "fan"}));
  ASSERT_EQ(call.request.values.size(), 2u);
  EXPECT_EQ(call.request.values[0], (std::pair<std::string, Value>{"on", true}));
  EXPECT_EQ(call.request.values[1], (std::pair<std::string, Value>{"speed", int64_t{1200}}));
  ASSERT_TRUE(eventually([&] { return detail(source(), "commands") == "1"; }));
  EXPECT_EQ(detail(source(), "commands_failed"), "0");
  EXPECT_EQ(source().samples, 0u);  // a command is never data
}

TEST_F(MqttCommandTest, BadAndRefusedCommandsAreCountedAndNotIngestedWhileDataFlows) {
  broker_->publish("sluice/control", R"({"service": "fan", "values": [{"name": "x"}]})", 1);
  ASSERT_TRUE(eventually([&] { return detail(source(), "commands_failed") == "1"; }));
  EXPECT_THAT(detail(source(), "last_command_error"), HasSubstr("field 'values[0].value'"));
  EXPECT_TRUE(router_.calls().empty());  // never reached the dispatcher

  broker_->publish("sluice/control", R"({"service": "locked", "operation": "open"})", 1);
  ASSERT_TRUE(eventually([&] { return detail(source(), "commands_failed") == "2"; }));
  EXPECT_THAT(detail(source(), "last_command_error"), HasSubstr("does not allow"));
  EXPECT_EQ(router_.calls().size(), 1u);

  // Data topics work on, and only the data is stored.
  broker_->publish("plant/temp", R"({"name": "temp", "value": 21.5})", 1);
  ASSERT_TRUE(eventually([&] { return source().samples == 1; }));
  broker_->publish("sluice/control", R"({"script": "cool-down"})", 1);
  ASSERT_TRUE(eventually([&] { return detail(source(), "commands") == "3"; }));
  broker_->publish("plant/temp", R"({"name": "temp", "value": 22.5})", 1);
  ASSERT_TRUE(eventually([&] { return source().samples == 2; }));
  EXPECT_EQ(detail(source(), "commands"), "3");
  EXPECT_EQ(detail(source(), "commands_failed"), "2");
  EXPECT_EQ(source().samples, 2u);
}

TEST_F(MqttCommandTest, ReplyTopicGetsTheOutcomeOfEachCommand) {
  mqtt::ConnectionOptions o;
  o.host = broker_->host();
  o.port = broker_->port();
  o.connect.client_id = "reply-reader";
  mqtt::Connection conn(o);
  ASSERT_TRUE(conn.connect(std::stop_token()).ok());
  ASSERT_TRUE(conn.subscribe({{"sluice/reply", 0}}, std::stop_token()).ok());
  const auto next_reply = [&]() -> nlohmann::json {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto p = conn.next(std::chrono::milliseconds(100));
      if (!p.ok()) return nullptr;
      if (!p->has_value() || (*p)->header.type != mqtt::PacketType::kPublish) continue;
      auto pub = mqtt::decode_publish(conn.version(), (*p)->header, (*p)->body);
      if (!pub.ok()) return nullptr;
      return nlohmann::json::parse(pub->payload, nullptr, false);
    }
    return nullptr;
  };

  broker_->publish("sluice/control", R"({"all": true, "operation": "stop"})", 1);
  nlohmann::json reply = next_reply();
  ASSERT_TRUE(reply.is_object()) << reply.dump();
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["error"], "");
  EXPECT_EQ(reply["request"], "operation 'stop' on every control service");

  broker_->publish("sluice/control", "not json", 1);
  reply = next_reply();
  ASSERT_TRUE(reply.is_object()) << reply.dump();
  EXPECT_EQ(reply["ok"], false);
  EXPECT_THAT(reply["error"].get<std::string>(), HasSubstr("not JSON"));
  EXPECT_EQ(reply["request"], "");
}

// The control plane as `sluice run` has it: a command runs a script whose configure step changes
// the settings of the very source the command came on. The source restarts with them (it must
// not wait for itself: the script runs on a dispatcher thread), and the next command's reply
// goes to the new topic.
TEST(MqttCommandDispatcherTest, ScriptThatReconfiguresItsOwnSourceDoesNotWaitForItself) {
  testing::TempDir dir;
  fs::create_directories(dir.path() + "/broker");
  testing::Mosquitto broker(dir.path() + "/broker", testing::MosquittoOptions{});
  const std::string text = config_text(dir.path(), broker.port()) + R"(
[[scripts]]
name = "retopic"
[[scripts.steps]]
kind = "configure"
service = "plant"
key = "command_reply_topic"
value = '"sluice/reply2"'
)";
  const std::string path = dir.file("sluice.toml");
  std::ofstream(path) << text;
  const runtime::SourceTypes types = cli::builtin_source_types();
  auto config = runtime::load_config(path, types);
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto opened = runtime::Runtime::open(*config, {.config_text = text, .types = &types});
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  std::unique_ptr<runtime::Runtime> rt = std::move(opened).value();
  auto plane = control::ControlPlane::open(*rt, *config);
  ASSERT_TRUE(plane.ok()) << plane.status().message();
  ASSERT_TRUE(rt->start().ok());
  (*plane)->start();
  const auto plant = [&] {
    auto s = rt->sources();
    return s.empty() ? runtime::SourceStatus{} : s[0];
  };
  ASSERT_TRUE(eventually([&] { return plant().health.state == runtime::HealthState::kHealthy; }))
      << plant().health.reason;

  mqtt::ConnectionOptions o;
  o.host = broker.host();
  o.port = broker.port();
  o.connect.client_id = "reply-reader";
  mqtt::Connection reader(o);
  ASSERT_TRUE(reader.connect(std::stop_token()).ok());
  ASSERT_TRUE(reader.subscribe({{"sluice/reply2", 0}}, std::stop_token()).ok());

  control::Dispatcher& dispatcher = (*plane)->dispatcher();
  broker.publish("sluice/control", R"({"script": "retopic"})", 1);
  ASSERT_TRUE(eventually([&] {
    const auto stats = dispatcher.stats();
    return stats.requests >= 1 && stats.running == 0 && stats.queued == 0;
  }));
  EXPECT_EQ(dispatcher.stats().ok, 1u) << dispatcher.recent().back().outcome;
  const auto row = rt->service_row("plant");
  ASSERT_TRUE(row.ok()) << row.status().message();
  EXPECT_THAT(row->settings, HasSubstr("sluice/reply2"));
  ASSERT_TRUE(eventually([&] { return plant().health.state == runtime::HealthState::kHealthy; }))
      << plant().health.reason;

  // The restarted source answers on the new reply topic.
  broker.publish("sluice/control", R"({"script": "missing"})", 1);
  nlohmann::json reply;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (reply.is_null() && std::chrono::steady_clock::now() < deadline) {
    auto p = reader.next(std::chrono::milliseconds(100));
    ASSERT_TRUE(p.ok()) << p.status().message();
    if (!p->has_value() || (*p)->header.type != mqtt::PacketType::kPublish) continue;
    auto pub = mqtt::decode_publish(reader.version(), (*p)->header, (*p)->body);
    ASSERT_TRUE(pub.ok());
    reply = nlohmann::json::parse(pub->payload, nullptr, false);
  }
  ASSERT_TRUE(reply.is_object()) << reply.dump();
  EXPECT_EQ(reply["ok"], false);
  EXPECT_THAT(reply["error"].get<std::string>(), HasSubstr("missing"));
  (*plane)->stop();
  EXPECT_TRUE(rt->stop().ok());
}

TEST(MqttCommandConfigTest, CommandKeysAreCheckedAndNamed) {
  testing::TempDir dir;
  const auto parse = [&](const std::string& extra) {
    const std::string text = fmt::format(R"(
[store]
dir = "{0}/data"
[[sources]]
name = "plant"
type = "mqtt"
topic = "plant/#"
format = "json"
{1}
)",
                                         dir.path(), extra);
    return runtime::parse_config(text, dir.file("sluice.toml"), cli::builtin_source_types());
  };
  EXPECT_TRUE(parse("command_topic = \"sluice/control\"").ok());
  auto bad = parse("command_topic = \"a/#/b\"");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("command_topic"));
  bad = parse("command_qos = 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("set but command_topic is not"));
  bad = parse("command_topic = \"plant/#\"");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("is also a data topic"));
  bad = parse("command_topic = \"sluice/#\"\ncommand_reply_topic = \"sluice/reply\"");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("matches command_topic"));
  bad = parse("command_topic = \"c\"\ncommand_qos = 3");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("command_qos"));
}

}  // namespace
}  // namespace sluice
