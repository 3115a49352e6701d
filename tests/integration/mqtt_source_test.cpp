// The mqtt source against a real mosquitto (tests/fixtures/mosquitto.h): delivery into a real
// Store exactly once, authentication, TLS, broker restart, malformed payloads and persistent
// sessions. The payloads use a tiny test-only format ("series=value" per message) so that these
// tests do not depend on the real parsers in src/formats/.
#include "sources/mqtt/mqtt_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>

#include "fixtures/mosquitto.h"
#include "fixtures/test_support.h"
#include "formats/registry.h"
#include "io/env.h"
#include "store/store.h"

namespace sluice::sources {
namespace {

using runtime::HealthState;
using testing::Mosquitto;
using testing::MosquittoOptions;
using testing::TempDir;

constexpr auto kDeadline = std::chrono::seconds(60);

// "series=value" (value a double); anything else is invalid.
class KeyValueParser final : public formats::PayloadParser {
 public:
  std::string_view name() const override { return "kv"; }
  Status parse(std::string_view payload, const formats::ParseContext& ctx,
               formats::Parsed* out) override {
    const size_t eq = payload.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return invalid_argument("no '=' at byte 0: expected series=value");
    }
    double v = 0;
    const char* begin = payload.data() + eq + 1;
    const char* end = payload.data() + payload.size();
    auto [ptr, ec] = std::from_chars(begin, end, v);
    if (ec != std::errc() || ptr != end) {
      return invalid_argument("bad number at byte " + std::to_string(eq + 1));
    }
    out->batch.samples.push_back(Sample{std::string(payload.substr(0, eq)), ctx.receive_time, v});
    return Status::ok_status();
  }
};

ParserFactory test_parsers() {
  return [](std::string_view format,
            const formats::ParserOptions&) -> Result<std::unique_ptr<formats::PayloadParser>> {
    if (format == "kv") return std::unique_ptr<formats::PayloadParser>(new KeyValueParser);
    return not_found("unknown format '" + std::string(format) + "'");
  };
}

// The real payload parsers, as `sluice run` has them.
ParserFactory registry_parsers() {
  return [](std::string_view format, const formats::ParserOptions& options) {
    return formats::make_parser(format, options);
  };
}

// A SourceContext that appends to a real Store, as the runtime's does.
class StoreContext final : public runtime::SourceContext {
 public:
  StoreContext(store::Store& store, std::string stream)
      : store_(store), stream_(std::move(stream)) {}
  using SourceContext::ingest;
  Result<store::AppendResult> ingest(Batch&& batch, store::AppendOptions options) override {
    if (refuse_.load()) {
      refused_.fetch_add(1);
      return Status(Code::kResourceExhausted, "store full (test)");
    }
    return store_.append(stream_, batch, options);
  }
  uint64_t wait_durable(uint64_t end_seq, std::chrono::milliseconds timeout) override {
    if (end_seq == 0) return 0;
    if (hold_durability_.load()) {
      // As a store whose fsync never completes: nothing is ever reported durable.
      std::this_thread::sleep_for(timeout);
      return 0;
    }
    return store_.wait_readable(stream_, end_seq - 1, timeout);
  }
  // While true, nothing ingested is reported durable (a crash before the fsync, seen from the
  // broker: the messages must stay unacknowledged).
  void hold_durability(bool on) { hold_durability_.store(on); }
  // While true, ingest fails as a full store under `block` does after its timeout.
  void refuse(bool on) { refuse_.store(on); }
  uint64_t refused() const { return refused_.load(); }
  Clock& clock() override { return SystemClock::instance(); }
  bool stopping() const override { return stop_.stop_requested(); }
  std::stop_token stop_token() const override { return stop_.get_token(); }
  bool sleep_until(int64_t monotonic_ns) override {
    std::unique_lock lock(mu_);
    const auto wait = std::chrono::nanoseconds(monotonic_ns - clock().monotonic());
    std::stop_token token = stop_.get_token();
    cv_.wait_for(lock, token, wait, [] { return false; });
    return !stop_.stop_requested();
  }
  void request_stop() { stop_.request_stop(); }

 private:
  store::Store& store_;
  std::string stream_;
  std::stop_source stop_;
  std::atomic<bool> refuse_{false};
  std::atomic<bool> hold_durability_{false};
  std::atomic<uint64_t> refused_{0};
  std::mutex mu_;
  std::condition_variable_any cv_;
};

// One source running on its own thread against the store, until stopped.
class RunningSource {
 public:
  RunningSource(store::Store& store, const std::string& name, MqttOptions options,
                ParserFactory parsers = test_parsers())
      : source_(name, std::move(options), std::move(parsers)), ctx_(store, name) {
    EXPECT_TRUE(store.ensure_stream(name).ok());
    thread_ = std::thread([this] { status_ = source_.start(ctx_); });
  }
  ~RunningSource() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    ctx_.request_stop();
    source_.stop();
    thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.to_string();
  }
  MqttSource& source() { return source_; }
  StoreContext& context() { return ctx_; }

 private:
  MqttSource source_;
  StoreContext ctx_;
  std::thread thread_;
  Status status_;
};

bool wait_for(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

class MqttSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions o;
    o.dir = dir_.file("store");
    Result<std::unique_ptr<store::Store>> s = store::Store::open(Env::posix(), o);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }

  MqttOptions options_for(const Mosquitto& broker, const std::string& topic = "plant/#",
                          int qos = 1) {
    MqttOptions o;
    o.host = broker.host();
    o.port = broker.port();
    o.subscriptions.push_back({topic, qos, "kv"});
    return o;
  }

  // Every sample of the stream: series → values in arrival order.
  std::map<std::string, std::vector<double>> stored(const std::string& stream) {
    std::map<std::string, std::vector<double>> out;
    Status st = store_->query(stream, {}, INT64_MIN, INT64_MAX, [&](const Sample& s, uint64_t) {
      out[s.series].push_back(std::get<double>(s.value));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.to_string();
    return out;
  }
  size_t stored_count(const std::string& stream) {
    size_t n = 0;
    for (const auto& [series, values] : stored(stream)) n += values.size();
    return n;
  }
  bool wait_healthy(MqttSource& s) {
    return wait_for([&] { return s.health().state == HealthState::kHealthy; });
  }

  void persistent_session_delivers_what_was_published_while_stopped(int protocol);
  void unacknowledged_until_durable(int qos, int protocol);

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

std::string lines(int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) text += "s" + std::to_string(i) + "=" + std::to_string(i) + "\n";
  return text;
}

TEST_F(MqttSourceTest, QosOneMessagesArriveInTheStoreExactlyOnceWithTheirValues) {
  Mosquitto broker(dir_.path(), {});
  RunningSource run(*store_, "line1", options_for(broker));
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;

  constexpr int kMessages = 300;
  broker.publish_lines("plant/line1", lines(0, kMessages), 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= kMessages; }));
  run.stop();

  const auto samples = stored("line1");
  ASSERT_EQ(samples.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    const auto it = samples.find("s" + std::to_string(i));
    ASSERT_NE(it, samples.end()) << "series s" << i << " missing";
    EXPECT_EQ(it->second, std::vector<double>{static_cast<double>(i)});
  }
  EXPECT_EQ(run.source().parse_errors(), 0u);
}

TEST_F(MqttSourceTest, WrongPasswordShowsCriticalWithTheBrokersReason) {
  Mosquitto broker(dir_.path(), {"plc", "right-secret"});
  MqttOptions o = options_for(broker);
  o.username = "plc";
  o.password = "wrong";
  RunningSource run(*store_, "auth", o);
  ASSERT_TRUE(wait_for([&] { return run.source().health().state == HealthState::kCritical; }));
  const std::string reason = run.source().health().reason;
  EXPECT_NE(reason.find("connection refused by 127.0.0.1:" + std::to_string(broker.port())),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("not authorized"), std::string::npos) << reason;
  EXPECT_EQ(run.source().connects(), 0u);
}

TEST_F(MqttSourceTest, RightPasswordConnectsAndDelivers) {
  Mosquitto broker(dir_.path(), {"plc", "right-secret"});
  MqttOptions o = options_for(broker);
  o.username = "plc";
  o.password = "right-secret";
  RunningSource run(*store_, "auth", o);
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("plant/a", "temp=21.5", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));
  run.stop();
  EXPECT_EQ(stored("auth")["temp"], std::vector<double>{21.5});
}

TEST_F(MqttSourceTest, TlsWithTheGeneratedCaDelivers) {
  Mosquitto broker(dir_.path(), {.tls = true});
  MqttOptions o = options_for(broker);
  o.tls = true;
  o.ca_file = broker.ca_file();
  RunningSource run(*store_, "tls", o);
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("plant/a", "pressure=3", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));
  run.stop();
  EXPECT_EQ(stored("tls")["pressure"], std::vector<double>{3});
}

TEST_F(MqttSourceTest, TlsWithAWrongCaIsCritical) {
  Mosquitto broker(dir_.path(), {.tls = true});
  MqttOptions o = options_for(broker);
  o.tls = true;
  o.ca_file = broker.wrong_ca_file();
  RunningSource run(*store_, "tls", o);
  ASSERT_TRUE(wait_for([&] { return run.source().health().state == HealthState::kCritical; }));
  const std::string reason = run.source().health().reason;
  EXPECT_NE(reason.find("cannot connect to 127.0.0.1"), std::string::npos) << reason;
  EXPECT_NE(reason.find("certificate verify failed"), std::string::npos) << reason;
  EXPECT_EQ(run.source().connects(), 0u);
}

TEST_F(MqttSourceTest, InsecureSkipVerifyConnectsDespiteAWrongCa) {
  Mosquitto broker(dir_.path(), {.tls = true});
  MqttOptions o = options_for(broker);
  o.tls = true;
  o.ca_file = broker.wrong_ca_file();
  o.insecure_skip_verify = true;
  RunningSource run(*store_, "tls", o);
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("plant/a", "flow=7", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));
  run.stop();
  EXPECT_EQ(stored("tls")["flow"], std::vector<double>{7});
}

TEST_F(MqttSourceTest, BrokerRestartIsFollowedByReconnectAndNewData) {
  Mosquitto broker(dir_.path(), {});
  RunningSource run(*store_, "restart", options_for(broker));
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("plant/a", "before=1", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));

  broker.kill();
  ASSERT_TRUE(wait_for([&] { return run.source().health().state == HealthState::kCritical; }));
  EXPECT_NE(run.source().health().reason.find("127.0.0.1"), std::string::npos)
      << run.source().health().reason;
  broker.start();
  ASSERT_TRUE(wait_for([&] { return run.source().connects() >= 2; }));
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("plant/a", "after=2", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 2; }));
  run.stop();
  auto samples = stored("restart");
  EXPECT_EQ(samples["before"], std::vector<double>{1});
  EXPECT_EQ(samples["after"], std::vector<double>{2});
}

TEST_F(MqttSourceTest, MalformedPayloadIsCountedAndTheSourceGoesOn) {
  Mosquitto broker(dir_.path(), {});
  RunningSource run(*store_, "bad", options_for(broker));
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("plant/a", "this is not kv", 1);
  broker.publish("plant/a", "x=not-a-number", 1);
  broker.publish("plant/a", "good=5", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));
  EXPECT_EQ(run.source().parse_errors(), 2u);
  const auto reasons = run.source().parse_errors_by_reason();
  EXPECT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons.count("kv: no '=' at byte N"), 1u);
  EXPECT_EQ(reasons.count("kv: bad number at byte N"), 1u);
  EXPECT_EQ(run.source().health().state, HealthState::kHealthy);
  run.stop();
  EXPECT_EQ(stored("bad")["good"], std::vector<double>{5});
  EXPECT_EQ(stored_count("bad"), 1u);
}

void MqttSourceTest::persistent_session_delivers_what_was_published_while_stopped(int protocol) {
  Mosquitto broker(dir_.path(), {});
  MqttOptions o = options_for(broker);
  o.protocol = protocol;
  o.clean_session = false;
  o.client_id = "sluice-persistent-test";
  {
    RunningSource first(*store_, "persist", o);
    ASSERT_TRUE(wait_healthy(first.source())) << first.source().health().reason;
    broker.publish("plant/a", "s0=0", 1);
    ASSERT_TRUE(wait_for([&] { return first.source().ingested_samples() >= 1; }));
  }  // Sluice stops; the broker keeps the session

  constexpr int kWhileDown = 50;
  broker.publish_lines("plant/a", lines(1, 1 + kWhileDown), 1);

  RunningSource second(*store_, "persist", o);
  ASSERT_TRUE(wait_for([&] { return second.source().ingested_samples() >= kWhileDown; }))
      << second.source().ingested_samples() << " of " << kWhileDown;
  second.stop();
  const auto samples = stored("persist");
  EXPECT_EQ(samples.size(), static_cast<size_t>(1 + kWhileDown));
  for (int i = 0; i <= kWhileDown; ++i) {
    EXPECT_EQ(samples.at("s" + std::to_string(i)), std::vector<double>{static_cast<double>(i)});
  }
}

TEST_F(MqttSourceTest, PersistentSessionDeliversWhatWasPublishedWhileStopped) {
  persistent_session_delivers_what_was_published_while_stopped(4);
}

TEST_F(MqttSourceTest, PersistentSessionOfMqtt5DeliversWhatWasPublishedWhileStopped) {
  persistent_session_delivers_what_was_published_while_stopped(5);
}

// The broker must not learn that a message arrived before its samples are durable: with the
// store's fsync held back, the stopped source acknowledged nothing, so the broker sends every
// message again to the next instance (a crash between ingest and fsync loses nothing).
void MqttSourceTest::unacknowledged_until_durable(int qos, int protocol) {
  Mosquitto broker(dir_.path(), {});
  MqttOptions o = options_for(broker, "plant/#", qos);
  o.protocol = protocol;
  o.clean_session = false;
  o.client_id = "sluice-durable-ack-test";
  constexpr int kMessages = 20;
  {
    RunningSource first(*store_, "held", o);
    first.context().hold_durability(true);
    ASSERT_TRUE(wait_healthy(first.source())) << first.source().health().reason;
    broker.publish_lines("plant/a", lines(0, kMessages), qos);
    ASSERT_TRUE(wait_for([&] { return first.source().ingested_samples() >= kMessages; }));
  }  // stops without any message becoming durable
  RunningSource second(*store_, "held", o);
  ASSERT_TRUE(wait_for([&] { return second.source().ingested_samples() >= kMessages; }))
      << "the broker sent " << second.source().ingested_samples() << " of " << kMessages
      << " messages again: it was acknowledged before the data was durable";
  second.stop();
  EXPECT_EQ(second.source().ingested_samples(), static_cast<uint64_t>(kMessages));
  // Now acknowledged: a third instance gets nothing more.
  RunningSource third(*store_, "held", o);
  ASSERT_TRUE(wait_healthy(third.source()));
  broker.publish("plant/a", "after=1", qos);
  ASSERT_TRUE(wait_for([&] { return third.source().ingested_samples() >= 1; }));
  third.stop();
  EXPECT_EQ(third.source().ingested_samples(), 1u);
}

TEST_F(MqttSourceTest, Qos1MessageIsNotAcknowledgedBeforeItIsDurable) {
  unacknowledged_until_durable(1, 4);
}

TEST_F(MqttSourceTest, Qos2MessageIsNotAcknowledgedBeforeItIsDurableOverMqtt5) {
  unacknowledged_until_durable(2, 5);
}

TEST_F(MqttSourceTest, Qos2MessagesArriveExactlyOnce) {
  Mosquitto broker(dir_.path(), {});
  RunningSource run(*store_, "q2", options_for(broker, "plant/#", 2));
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  constexpr int kMessages = 200;
  broker.publish_lines("plant/a", lines(0, kMessages), 2);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= kMessages; }));
  run.stop();
  const auto samples = stored("q2");
  ASSERT_EQ(samples.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(samples.at("s" + std::to_string(i)), std::vector<double>{static_cast<double>(i)});
  }
}

TEST_F(MqttSourceTest, OversizedMessageIsCountedAcknowledgedAndTheSourceGoesOn) {
  Mosquitto broker(dir_.path(), {});
  MqttOptions o = options_for(broker);
  o.max_message_bytes = 1u << 20;
  o.clean_session = false;
  o.client_id = "sluice-oversized-test";
  {
    RunningSource run(*store_, "big", o);
    ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
    broker.publish("plant/a", std::string(10u << 20, 'x'), 1);  // 10 MB
    broker.publish("plant/a", "after=1", 1);
    ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));
    EXPECT_EQ(run.source().oversized_messages(), 1u);
    EXPECT_EQ(run.source().parse_errors(), 1u);
    EXPECT_EQ(run.source().parse_errors_by_reason().count("kv: message too large"), 1u);
    EXPECT_EQ(run.source().health().state, HealthState::kHealthy);
  }
  // It was acknowledged (it can never be stored): the broker does not send it again.
  RunningSource again(*store_, "big", o);
  ASSERT_TRUE(wait_healthy(again.source()));
  broker.publish("plant/a", "last=2", 1);
  ASSERT_TRUE(wait_for([&] { return again.source().ingested_samples() >= 1; }));
  again.stop();
  EXPECT_EQ(again.source().messages(), 1u);
  EXPECT_EQ(stored_count("big"), 2u);
}

TEST_F(MqttSourceTest, CleanSessionDoesNotReceiveWhatWasPublishedWhileStopped) {
  Mosquitto broker(dir_.path(), {});
  MqttOptions o = options_for(broker);
  o.client_id = "sluice-clean-test";
  {
    RunningSource first(*store_, "clean", o);
    ASSERT_TRUE(wait_healthy(first.source())) << first.source().health().reason;
  }
  broker.publish("plant/a", "missed=1", 1);
  RunningSource second(*store_, "clean", o);
  ASSERT_TRUE(wait_healthy(second.source())) << second.source().health().reason;
  broker.publish("plant/a", "seen=2", 1);
  ASSERT_TRUE(wait_for([&] { return second.source().ingested_samples() >= 1; }));
  second.stop();
  const auto samples = stored("clean");
  EXPECT_EQ(samples.count("missed"), 0u);
  EXPECT_EQ(samples.at("seen"), std::vector<double>{2});
}

TEST_F(MqttSourceTest, Mqtt5ConnectsAndDelivers) {
  Mosquitto broker(dir_.path(), {});
  MqttOptions o = options_for(broker, "plant/+/temp", 2);
  o.protocol = 5;
  RunningSource run(*store_, "v5", o);
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("plant/other/level", "ignored=1", 2);
  broker.publish("plant/tank1/temp", "t1=40", 2);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));
  run.stop();
  const auto samples = stored("v5");
  EXPECT_EQ(samples.count("ignored"), 0u);
  EXPECT_EQ(samples.at("t1"), std::vector<double>{40});
}

TEST_F(MqttSourceTest, RefusedIngestIsHeldWithWarningAndStoredOnceTheStoreAccepts) {
  Mosquitto broker(dir_.path(), {});
  RunningSource run(*store_, "full", options_for(broker));
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  run.context().refuse(true);
  broker.publish("plant/a", "held=1", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().health().state == HealthState::kWarning; }));
  EXPECT_NE(run.source().health().reason.find("store full (test)"), std::string::npos)
      << run.source().health().reason;
  run.context().refuse(false);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 1; }));
  EXPECT_EQ(run.source().health().state, HealthState::kHealthy);
  EXPECT_GE(run.context().refused(), 1u);
  run.stop();
  EXPECT_EQ(stored("full")["held"], std::vector<double>{1});
  EXPECT_EQ(run.source().lost_messages(), 0u);
}

TEST_F(MqttSourceTest, KepwarePayloadsBecomeSamplesThroughTheFormatRegistry) {
  Mosquitto broker(dir_.path(), {});
  MqttOptions o = options_for(broker, "iotgateway/#", 1);
  o.subscriptions[0].format = "kepware";
  RunningSource run(*store_, "kep", o, registry_parsers());
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;
  broker.publish("iotgateway/line1",
                 R"({"timestamp":1700000000000,"values":[)"
                 R"({"id":"Channel1.Device1.Tag1","v":42.5,"q":true,"t":1700000000000},)"
                 R"({"id":"Channel1.Device1.Tag2","v":7,"q":true,"t":1700000000001}]})",
                 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 2; }));
  run.stop();
  std::vector<Sample> samples;
  ASSERT_TRUE(store_
                  ->query("kep", {}, INT64_MIN, INT64_MAX,
                          [&](const Sample& s, uint64_t) {
                            samples.push_back(s);
                            return true;
                          })
                  .ok());
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].series, "Channel1.Device1.Tag1");
  EXPECT_EQ(samples[0].ts, 1700000000000LL * 1'000'000);
  EXPECT_EQ(samples[1].series, "Channel1.Device1.Tag2");
}

// Every payload format through one source, one subscription each (and one that detects the
// format): good messages become samples; bad ones (malformed, wrong types, missing fields,
// numbers out of range, invalid UTF-8, oversized) are counted by reason and never stop the
// source, and the good message after them still arrives.
TEST_F(MqttSourceTest, EveryFormatStoresGoodMessagesAndCountsBadOnesWithoutStopping) {
  Mosquitto broker(dir_.path(), {});
  MqttOptions o;
  o.host = broker.host();
  o.port = broker.port();
  o.max_message_bytes = 64 * 1024;
  const auto sub = [](std::string filter, std::string format) {
    MqttSubscription s;
    s.filter = std::move(filter);
    s.format = std::move(format);
    s.parser.limits.max_payload_bytes = 64 * 1024;
    return s;
  };
  o.subscriptions = {sub("kep/#", "kepware"),     sub("json/#", "json"),
                     sub("senml/#", "senml"),     sub("om/#", "openmetrics"),
                     sub("prom/#", "prometheus"), sub("influx/#", "influx"),
                     sub("auto/#", "auto")};
  o.subscriptions[1].parser.json.name_from = formats::JsonOptions::NameFrom::kTopic;
  o.subscriptions[1].parser.json.value_pointer = "/v";
  RunningSource run(*store_, "all", o, registry_parsers());
  ASSERT_TRUE(wait_healthy(run.source())) << run.source().health().reason;

  const std::string kep_good =
      R"({"timestamp":1700000000000,"values":[{"id":"C.D.kep","v":1,"q":true,"t":1700000000000}]})";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"kep/a", R"({"timestamp":1700000000000,"values":[{"id":"C.D.x","v":1)"},        // malformed
      {"kep/a", R"({"timestamp":1700000000000,"values":[{"id":7,"v":1,"q":true}]})"},  // type
      {"kep/a", R"({"timestamp":1700000000000,"values":[{"v":1,"q":true}]})"},         // missing id
      {"kep/a", "{\"values\":[{\"id\":\"a\xff\",\"v\":1,\"q\":true,\"t\":1}]}"},       // UTF-8
      {"json/a", R"({"v":1e999})"},              // out of range
      {"json/a", R"({"w":1})"},                  // missing value
      {"senml/a", R"([{"n":"a","v":"text"}])"},  // wrong type
      {"om/a", "m 1\n"},                         // no # EOF
      {"prom/a", "m{a=\"1\" 1\n"},               // bad labels
      {"influx/a", "m v=1 notatime\n"},          // bad timestamp
      {"auto/a", "just words"},                  // undetectable
      {"kep/a", std::string(100 * 1024, '{')},   // oversized
  };
  for (const auto& [topic, payload] : bad) broker.publish(topic, payload, 1);
  broker.publish("kep/a", kep_good, 1);
  broker.publish("json/dev1", R"({"v":2.5})", 1);
  broker.publish("senml/a", R"([{"bn":"m1/","n":"t","u":"Cel","v":3}])", 1);
  broker.publish("om/a", "# TYPE om_g gauge\nom_g 4\n# EOF\n", 1);
  broker.publish("prom/a", "prom_g 5\n", 1);
  broker.publish("influx/a", "inf,host=h v=6\n", 1);
  broker.publish("auto/a", R"([{"n":"auto_senml","v":7}])", 1);
  ASSERT_TRUE(wait_for([&] { return run.source().ingested_samples() >= 7; }))
      << run.source().ingested_samples() << " samples, " << run.source().parse_errors()
      << " parse errors";
  EXPECT_EQ(run.source().parse_errors(), bad.size());
  EXPECT_EQ(run.source().oversized_messages(), 1u);
  EXPECT_EQ(run.source().health().state, HealthState::kHealthy);
  uint64_t by_reason = 0;
  for (const auto& [reason, n] : run.source().parse_errors_by_reason()) by_reason += n;
  EXPECT_EQ(by_reason, bad.size());
  run.stop();

  std::map<std::string, double> values;
  ASSERT_TRUE(store_
                  ->query("all", {}, INT64_MIN, INT64_MAX,
                          [&](const Sample& s, uint64_t) {
                            values[s.series] =
                                std::holds_alternative<double>(s.value)
                                    ? std::get<double>(s.value)
                                    : static_cast<double>(std::get<int64_t>(s.value));
                            return true;
                          })
                  .ok());
  EXPECT_EQ(values.size(), 7u);
  EXPECT_EQ(values["C.D.kep"], 1);
  EXPECT_EQ(values["json/dev1"], 2.5);
  EXPECT_EQ(values["m1/t"], 3);
  EXPECT_EQ(values["om_g"], 4);
  EXPECT_EQ(values["prom_g"], 5);
  EXPECT_EQ(values.count("auto_senml"), 1u);
}

TEST(MqttTopicFilter, WildcardsMatchAsTheSpecSays) {
  EXPECT_TRUE(topic_matches("plant/#", "plant/a/b"));
  EXPECT_TRUE(topic_matches("plant/#", "plant"));
  EXPECT_TRUE(topic_matches("plant/+/t", "plant/x/t"));
  EXPECT_FALSE(topic_matches("plant/+/t", "plant/x/y/t"));
  EXPECT_FALSE(topic_matches("plant/+", "plant"));
  EXPECT_TRUE(topic_matches("+/+", "a/"));
  EXPECT_FALSE(topic_matches("#", "$SYS/broker"));
  EXPECT_TRUE(topic_matches("a/b", "a/b"));
  EXPECT_FALSE(topic_matches("a/b", "a/b/c"));
  EXPECT_EQ(check_topic_filter("plant/#"), "");
  EXPECT_EQ(check_topic_filter("+/x/+"), "");
  EXPECT_NE(check_topic_filter("plant/#/x"), "");
  EXPECT_NE(check_topic_filter("plant#"), "");
  EXPECT_NE(check_topic_filter("pl+ant"), "");
  EXPECT_NE(check_topic_filter(""), "");
}

}  // namespace
}  // namespace sluice::sources
