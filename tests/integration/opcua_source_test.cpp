// The `opcua` source against a real node-opcua server (tests/fixtures/opcua_server.mjs), with
// security None and Basic256Sha256 (Sign, SignAndEncrypt), anonymous and user name logins: every
// built-in type read with its exact value, node ids of every kind, a subscription that delivers
// changes, browsing a subtree with include/exclude patterns, writing set points and calling a
// method through the control API, and a server killed and restarted under a subscription.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/opcua_peer.h"
#include "fixtures/tcp_proxy.h"
#include "fixtures/test_support.h"
#include "protocols/opcua/client.h"
#include "runtime/live_tap.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::eventually;
using ::testing::HasSubstr;

class OpcuaSourceTest : public ::testing::Test {
 protected:
  // Starts Sluice with one opcua source named "plc" whose keys are `keys` (endpoint added).
  // `endpoint`: another address of the server (a proxy's).
  void start(const std::string& keys, const std::string& endpoint = "") {
    const std::string config =
        "[store]\ndir = \"data\"\n[log]\nstatus_interval = 0\n"
        "[[sources]]\nname = \"plc\"\ntype = \"opcua\"\nendpoint = \"" +
        (endpoint.empty() ? server_.endpoint_url() : endpoint) + "\"\nreconnect_max = \"1s\"\n" +
        keys;
    ASSERT_TRUE(harness_.start(dir_, config, {}));
    rt_ = harness_.runtime();
  }
  std::optional<runtime::LastValue> last(const std::string& series) {
    return rt_->last_values().find("plc", series);
  }
  // Waits for a Good value of the series.
  std::optional<runtime::LastValue> good(const std::string& series) {
    std::optional<runtime::LastValue> v;
    eventually([&] {
      v = last(series);
      return v && quality::is_good(v->quality);
    });
    return v;
  }
  runtime::SourceStatus status() {
    for (const runtime::SourceStatus& s : rt_->sources()) {
      if (s.name == "plc") return s;
    }
    ADD_FAILURE() << "no source plc";
    return {};
  }
  std::string detail(const std::string& name) {
    for (const runtime::SinkDetail& d : status().details) {
      if (d.name == name) return d.value;
    }
    return "";
  }
  testing::HttpClient::Response control(const std::string& body) {
    return client_.request("POST", harness_.url("/api/v1/services/plc/control"), body,
                           {{"Content-Type", "application/json"}});
  }

  testing::TempDir dir_;
  testing::TempDir server_dir_;
  testing::OpcuaServer server_{server_dir_.path()};
  testing::ApiHarness harness_;
  runtime::Runtime* rt_ = nullptr;
  testing::HttpClient client_;
};

std::string type_nodes() {
  std::string out;
  for (const char* t :
       {"Boolean",       "SByte",         "Byte",        "Int16",      "UInt16",      "Int32",
        "UInt32",        "Int64",         "UInt64",      "Float",      "Double",      "String",
        "DateTime",      "Guid",          "ByteString",  "XmlElement", "NodeId",      "StatusCode",
        "QualifiedName", "LocalizedText", "DoubleArray", "Int32Array", "StringArray", "Matrix"}) {
    out += std::string("[[sources.nodes]]\nnode_id = \"ns=1;s=Types.") + t + "\"\n";
  }
  return out;
}

TEST_F(OpcuaSourceTest, PollingReadsEveryBuiltinTypeExactly) {
  start("mode = \"poll\"\npoll_interval = \"200ms\"\nasset = \"T\"\n" + type_nodes() +
        "[[sources.nodes]]\nnode_id = \"ns=1;g=5ce9dbce-5d79-434c-9ac3-1cfba9a6e92c\"\n"
        "series = \"Ids.Guid\"\n"
        "[[sources.nodes]]\nnode_id = \"ns=1;b=c2x1aWNl\"\nseries = \"Ids.Opaque\"\n"
        "[[sources.nodes]]\nnode_id = \"nsu=urn:sluice:test-server;i=4242\"\n"
        "series = \"Ids.Numeric\"\n"
        "[[sources.nodes]]\npath = \"1:Plant/1:Motor/1:Opaque\"\nseries = \"Ids.ByPath\"\n");
  const std::vector<std::pair<std::string, Value>> want = {
      {"T.Boolean", true},
      {"T.SByte", int64_t{-100}},
      {"T.Byte", int64_t{200}},
      {"T.Int16", int64_t{-30000}},
      {"T.UInt16", int64_t{60000}},
      {"T.Int32", int64_t{-2000000000}},
      {"T.UInt32", int64_t{4000000000}},
      {"T.Int64", int64_t{-8589934594}},
      {"T.UInt64", int64_t{4294967296}},
      {"T.Float", 1.5},
      {"T.Double", 3.141592653589793},
      {"T.String", std::string("grüße, plant")},
      {"T.DateTime", int64_t{1795521600} * 1'000'000'000},  // 2026-11-24T12:00:00Z
      {"T.Guid", std::string("72962b91-fa75-4ae6-8d28-b404dc7daf63")},
      {"T.ByteString", std::string("AAEC/v8=")},
      {"T.XmlElement", std::string("<a>1</a>")},
      {"T.NodeId", std::string("ns=1;s=Counter")},
      {"T.StatusCode", int64_t{0x808C0000}},
      {"T.QualifiedName", std::string("1:Speed")},
      {"T.LocalizedText", std::string("Motor")},
      {"T.DoubleArray", std::string("[1.25,-2.5,1e+300]")},
      {"T.Int32Array", std::string("[1,-2,2147483647]")},
      {"T.StringArray", std::string("[\"a\",\"\",\"ç\"]")},
      {"T.Matrix", std::string("[1,2,3,4,5,6]")},
      {"Ids.Guid", 7.0},
      {"Ids.Opaque", 8.0},
      {"Ids.Numeric", 9.0},
      {"Ids.ByPath", 8.0},
  };
  for (const auto& [series, value] : want) {
    const auto v = good(series);
    ASSERT_TRUE(v.has_value()) << series
                               << " never arrived Good; health: " << status().health.reason;
    EXPECT_EQ(v->value, value) << series;
  }
  EXPECT_EQ(status().health.state, runtime::HealthState::kHealthy) << status().health.reason;
}

TEST_F(OpcuaSourceTest, SubscriptionWithSignAndEncryptAndUserNameDeliversChanges) {
  start(
      "security_policy = \"Basic256Sha256\"\nsecurity_mode = \"SignAndEncrypt\"\n"
      "user = \"operator\"\npassword = \"secret\"\npublishing_interval = \"100ms\"\n"
      "sampling_interval = \"50ms\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Sine\"\nseries = \"Plant.Sine\"\n");
  const auto first = good("plc.Counter");
  ASSERT_TRUE(first.has_value()) << status().health.reason;
  ASSERT_TRUE(eventually([&] {
    const auto now = last("plc.Counter");
    return now && std::get<int64_t>(now->value) >= std::get<int64_t>(first->value) + 5;
  })) << "the counter did not move";
  EXPECT_TRUE(good("Plant.Sine").has_value());
  EXPECT_GE(std::stoull(detail("notifications")), 5u);
  EXPECT_EQ(detail("connected"), "true");
}

TEST_F(OpcuaSourceTest, SignModeBrowsesASubtreeWithIncludeAndExclude) {
  start(
      "security_policy = \"Basic256Sha256\"\nsecurity_mode = \"Sign\"\n"
      "publishing_interval = \"100ms\"\n"
      "[[sources.browse]]\nroot_path = \"1:Plant\"\ninclude = [\"Motor.*\", \"Counter\"]\n"
      "exclude = [\"*.Guid\"]\n");
  EXPECT_TRUE(good("Plant.Motor.Speed").has_value()) << status().health.reason;
  EXPECT_TRUE(good("Plant.Motor.Run").has_value());
  EXPECT_TRUE(good("Plant.Counter").has_value());
  EXPECT_TRUE(good("Plant.Motor.Numeric").has_value());
  // Excluded or not included: never there.
  EXPECT_FALSE(last("Plant.Motor.Guid").has_value());
  EXPECT_FALSE(last("Plant.Sine").has_value());
  EXPECT_FALSE(last("Plant.Types.Double").has_value());
}

TEST_F(OpcuaSourceTest, SetPointsAreWrittenAndAMethodIsCalledThroughTheControlApi) {
  start(
      "publishing_interval = \"100ms\"\nsampling_interval = \"0ms\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Motor.Speed\"\nseries = \"Motor.speed\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Motor.Run\"\nseries = \"Motor.run\"\n"
      "[[sources.control]]\nname = \"speed\"\nnode_id = \"ns=1;s=Motor.Speed\"\n"
      "[[sources.control]]\nname = \"run\"\nnode_id = \"ns=1;s=Motor.Run\"\n"
      "[[sources.control]]\nname = \"wrong\"\nnode_id = \"ns=1;s=Types.Int16\"\n"
      "[[sources.operations]]\nname = \"reset\"\nobject = \"ns=1;s=Motor\"\n"
      "method = \"ns=1;s=Motor.Reset\"\n");
  ASSERT_TRUE(good("Motor.speed").has_value()) << status().health.reason;
  const auto w = control(R"({"values": [{"name": "speed", "value": 1200},
                                       {"name": "run", "value": true}]})");
  ASSERT_EQ(w.status, 200) << w.body;
  EXPECT_TRUE(eventually([&] {
    const auto s = last("Motor.speed");
    const auto r = last("Motor.run");
    return s && s->value == Value(1200.0) && r && r->value == Value(true);
  })) << "the written values did not come back through the subscription";

  const auto op = control(R"({"operation": "reset", "params": {"to": 12.5}})");
  ASSERT_EQ(op.status, 200) << op.body;
  EXPECT_TRUE(eventually([&] {
    const auto s = last("Motor.speed");
    return s && s->value == Value(12.5);
  }));

  // An Int16 node refuses 70000 (out of range: the caller's error) before anything is sent.
  const auto bad = control(R"({"values": {"wrong": 70000}})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  const auto missing = control(R"({"operation": "reset", "params": {}})");
  EXPECT_EQ(missing.status, 400) << missing.body;
  EXPECT_THAT(missing.body, HasSubstr("needs the parameter 'to'"));
  EXPECT_EQ(detail("writes"), "2");
  EXPECT_EQ(detail("calls"), "1");
}

TEST_F(OpcuaSourceTest, AKilledAndRestartedServerMarksItemsBadThenTheSubscriptionResumes) {
  start(
      "publishing_interval = \"100ms\"\nsampling_interval = \"50ms\"\nsession_timeout = \"20s\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\nseries = \"Plant.Counter\"\n");
  auto sub = rt_->live_tap().subscribe(runtime::LiveFilter{.series = {"Plant.Counter"}}, 100000);
  ASSERT_TRUE(good("Plant.Counter").has_value()) << status().health.reason;
  server_.kill();
  ASSERT_TRUE(eventually([&] {
    const auto v = last("Plant.Counter");
    return v && v->quality == quality::kBadNotConnected;
  })) << "no Bad sample after the server was killed";
  EXPECT_EQ(status().health.state, runtime::HealthState::kCritical);
  server_.start();
  ASSERT_TRUE(eventually([&] {
    const auto v = last("Plant.Counter");
    return v && quality::is_good(v->quality);
  })) << "no Good value after the restart; health: "
      << status().health.reason;
  EXPECT_EQ(detail("subscriptions_recreated"), "1");
  EXPECT_GE(std::stoull(detail("reconnects")), 1u);
  // Every sample in order: Good values, one Bad (the loss), Good values again.
  std::vector<runtime::LiveSample> seen;
  sub->drain(seen, 1'000'000);
  size_t bad = 0;
  for (const runtime::LiveSample& s : seen) {
    if (quality::is_bad(s.sample.quality)) ++bad;
  }
  EXPECT_EQ(bad, 1u);
}

TEST_F(OpcuaSourceTest, ACutConnectionKeepsTheSessionAndLosesNoChange) {
  testing::TcpProxy proxy(server_.port());
  start(
      "publishing_interval = \"100ms\"\nsampling_interval = \"50ms\"\nqueue_size = 1000\n"
      "session_timeout = \"30s\"\nsecurity_policy = \"Basic256Sha256\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\nseries = \"Plant.Counter\"\n",
      "opc.tcp://127.0.0.1:" + std::to_string(proxy.port()) + "/UA/Sluice");
  auto sub = rt_->live_tap().subscribe(runtime::LiveFilter{.series = {"Plant.Counter"}}, 100000);
  const auto before = good("Plant.Counter");
  ASSERT_TRUE(before.has_value()) << status().health.reason;
  ASSERT_GE(proxy.cut(), 1);
  ASSERT_TRUE(eventually([&] { return detail("sessions_kept") == "1"; }))
      << "the session was not kept; health: " << status().health.reason
      << "; recreated: " << detail("subscriptions_recreated");
  const int64_t at_cut = std::get<int64_t>(before->value);
  ASSERT_TRUE(eventually([&] {
    const auto v = last("Plant.Counter");
    return v && quality::is_good(v->quality) && std::get<int64_t>(v->value) > at_cut + 20;
  }));
  EXPECT_EQ(detail("subscriptions_recreated"), "0");
  EXPECT_EQ(detail("lost_messages"), "0");
  RecordProperty("republished", detail("republished"));
  // Every value of the counter from the first to the last seen, none missing.
  std::vector<runtime::LiveSample> seen;
  sub->drain(seen, 1'000'000);
  std::set<int64_t> values;
  for (const runtime::LiveSample& s : seen) {
    if (quality::is_good(s.sample.quality)) values.insert(std::get<int64_t>(s.sample.value));
  }
  ASSERT_GE(values.size(), 20u);
  EXPECT_EQ(static_cast<int64_t>(values.size()), *values.rbegin() - *values.begin() + 1)
      << "values missing between " << *values.begin() << " and " << *values.rbegin();
}

TEST_F(OpcuaSourceTest, AnOutageLongerThanTheSessionTransfersTheSubscriptionToANewSession) {
  testing::TcpProxy proxy(server_.port());
  start(
      "publishing_interval = \"100ms\"\nsampling_interval = \"50ms\"\nqueue_size = 1000\n"
      "session_timeout = \"2s\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\nseries = \"Plant.Counter\"\n",
      "opc.tcp://127.0.0.1:" + std::to_string(proxy.port()) + "/UA/Sluice");
  const auto before = good("Plant.Counter");
  ASSERT_TRUE(before.has_value()) << status().health.reason;
  // An outage longer than the session timeout: the server closes the session but keeps its
  // subscription (its lifetime is longer), so the new session takes the subscription over.
  proxy.refuse(true);
  ASSERT_GE(proxy.cut(), 1);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  proxy.refuse(false);
  ASSERT_TRUE(eventually([&] { return detail("subscriptions_transferred") == "1"; }))
      << "health: " << status().health.reason << "; kept " << detail("sessions_kept")
      << ", recreated " << detail("subscriptions_recreated");
  const int64_t at_cut = std::get<int64_t>(before->value);
  EXPECT_TRUE(eventually([&] {
    const auto v = last("Plant.Counter");
    return v && quality::is_good(v->quality) && std::get<int64_t>(v->value) > at_cut + 50;
  }));
  EXPECT_EQ(detail("subscriptions_recreated"), "0");
}

TEST_F(OpcuaSourceTest, AnAbsoluteDeadbandReportsOnlyLargerChanges) {
  start(
      "publishing_interval = \"100ms\"\nsampling_interval = \"50ms\"\n"
      "deadband = \"absolute\"\ndeadband_value = 0.5\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Sine\"\nseries = \"Plant.Sine\"\n");
  auto sub = rt_->live_tap().subscribe(runtime::LiveFilter{.series = {"Plant.Sine"}}, 100000);
  std::vector<double> values;
  ASSERT_TRUE(eventually([&] {
    std::vector<runtime::LiveSample> seen;
    sub->drain(seen, 100000);
    for (const runtime::LiveSample& s : seen) {
      if (quality::is_good(s.sample.quality)) values.push_back(std::get<double>(s.sample.value));
    }
    return values.size() >= 4;
  })) << "only "
      << values.size() << " values; health: " << status().health.reason;
  // The sine moves ~0.1 per change; without the filter every change would be here.
  for (size_t i = 1; i < values.size(); ++i) {
    EXPECT_GT(std::abs(values[i] - values[i - 1]), 0.5) << "values " << i - 1 << " and " << i;
  }
}

// The SHA-1 thumbprint of the test server's certificate, as openssl prints it ("AB:CD:...").
std::string server_thumbprint(const std::string& server_dir) {
  const testing::CommandResult r =
      testing::run_command("openssl x509 -noout -fingerprint -sha1 -in '" + server_dir +
                           "/server-pki/own/certs/certificate.pem'");
  const size_t eq = r.output.find('=');
  return eq == std::string::npos ? "" : r.output.substr(eq + 1, 59);
}

TEST_F(OpcuaSourceTest, AServerThumbprintPinsTheServersCertificate) {
  const std::string thumbprint = server_thumbprint(server_dir_.path());
  ASSERT_EQ(thumbprint.size(), 59u) << "openssl gave no fingerprint";
  start("security_policy = \"Basic256Sha256\"\nserver_thumbprint = \"" + thumbprint +
        "\"\n[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\n");
  ASSERT_TRUE(good("plc.Counter").has_value()) << status().health.reason;
  EXPECT_EQ(detail("server_thumbprint"), opcua::normalize_thumbprint(thumbprint));
}

TEST_F(OpcuaSourceTest, AnotherServerCertificateThanThePinnedOneIsRefused) {
  start(
      "security_policy = \"Basic256Sha256\"\n"
      "server_thumbprint = \"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\n");
  ASSERT_TRUE(eventually([&] {
    return status().health.state == runtime::HealthState::kCritical &&
           status().health.reason.find("not the configured server_thumbprint") != std::string::npos;
  })) << status().health.reason;
  EXPECT_FALSE(last("plc.Counter").has_value());
}

TEST_F(OpcuaSourceTest, AWrongPasswordIsReportedInHealth) {
  start(
      "user = \"operator\"\npassword = \"wrong\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\n");
  ASSERT_TRUE(eventually([&] {
    return status().health.state == runtime::HealthState::kCritical &&
           status().health.reason.find("ActivateSession") != std::string::npos;
  })) << status().health.reason;
  EXPECT_FALSE(last("plc.Counter").has_value());
}

TEST_F(OpcuaSourceTest, AnUnknownNodeIsRefusedAndTheOthersStillFlow) {
  start(
      "publishing_interval = \"100ms\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=NoSuchNode\"\nseries = \"X.missing\"\n"
      "[[sources.nodes]]\nnode_id = \"ns=1;s=Counter\"\nseries = \"X.counter\"\n");
  ASSERT_TRUE(good("X.counter").has_value()) << status().health.reason;
  EXPECT_EQ(detail("items_refused"), "1");
  EXPECT_EQ(status().health.state, runtime::HealthState::kWarning);
  EXPECT_THAT(status().health.reason, HasSubstr("1 of 2 items refused"));
}

}  // namespace
}  // namespace sluice
