// The MQTT publisher (protocols/mqtt/publisher.h) against a real mosquitto
// (tests/fixtures/mosquitto.h), with Sluice's own Connection as the subscriber that checks what
// arrived: topic, payload, retain and QoS 0 and 1 over MQTT 3.1.1 and 5; a new connection after
// the broker restarted and after an idle spell past keep alive; the errors when the broker is
// down or refuses the credentials.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>

#include "fixtures/mosquitto.h"
#include "fixtures/test_support.h"
#include "protocols/mqtt/connection.h"
#include "protocols/mqtt/publisher.h"

namespace sluice::mqtt {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::Mosquitto;

constexpr auto kDeadline = std::chrono::seconds(30);
constexpr milliseconds kTimeout{10'000};

struct Received {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

// A subscriber on Sluice's own client connection, read on the test's thread.
class Subscriber {
 public:
  Subscriber(const Mosquitto& broker, const std::string& filter, Version version = Version::k311)
      : conn_(options(broker, version)) {
    Result<Connack> ack = conn_.connect(std::stop_token());
    EXPECT_TRUE(ack.ok()) << ack.status().to_string();
    Result<std::vector<uint8_t>> granted = conn_.subscribe({{filter, 1}}, std::stop_token());
    EXPECT_TRUE(granted.ok()) << granted.status().to_string();
  }

  // The next message, or nullopt if none came before the deadline.
  std::optional<Received> next_message() {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<std::optional<Packet>> p = conn_.next(milliseconds(100));
      if (!p.ok()) {
        ADD_FAILURE() << "subscriber lost its connection: " << p.status().to_string();
        return std::nullopt;
      }
      if (!p->has_value() || (*p)->header.type != PacketType::kPublish) continue;
      Result<Publish> pub = decode_publish(conn_.version(), (*p)->header, (*p)->body);
      if (!pub.ok()) {
        ADD_FAILURE() << pub.status().to_string();
        return std::nullopt;
      }
      if (pub->qos == 1) conn_.send(encode_ack(PacketType::kPuback, pub->packet_id));
      return Received{std::string(pub->topic), std::string(pub->payload), pub->qos, pub->retain};
    }
    return std::nullopt;
  }

 private:
  static ConnectionOptions options(const Mosquitto& broker, Version version) {
    ConnectionOptions o;
    o.host = broker.host();
    o.port = broker.port();
    o.connect.version = version;
    static int n = 0;
    o.connect.client_id = "test-subscriber-" + std::to_string(++n);
    return o;
  }
  Connection conn_;
};

PublisherOptions options_for(const Mosquitto& broker, Version version = Version::k311) {
  PublisherOptions o;
  o.host = broker.host();
  o.port = broker.port();
  o.client_id = "test-publisher";
  o.version = version;
  return o;
}

class MqttPublisherTest : public ::testing::Test {
 protected:
  std::string broker_dir() {
    const std::string d = dir_.file("broker");
    std::filesystem::create_directories(d);
    return d;
  }
  testing::TempDir dir_;
};

void publishes_topic_payload_and_qos(Version version) {
  testing::TempDir dir;
  Mosquitto broker(dir.path(), {});
  Subscriber sub(broker, "alarms/#", version);
  Publisher pub(options_for(broker, version));

  ASSERT_TRUE(pub.publish("alarms/line1", "overheat 91.5", 1, false, kTimeout).ok());
  std::optional<Received> m = sub.next_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->topic, "alarms/line1");
  EXPECT_EQ(m->payload, "overheat 91.5");
  EXPECT_EQ(m->qos, 1);
  EXPECT_FALSE(m->retain);

  ASSERT_TRUE(pub.publish("alarms/line2", std::string("bin\0ary", 7), 0, false, kTimeout).ok());
  m = sub.next_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->topic, "alarms/line2");
  EXPECT_EQ(m->payload, std::string("bin\0ary", 7));
  EXPECT_EQ(m->qos, 0);
  EXPECT_EQ(pub.connects(), 1u);  // one connection for both
}

TEST_F(MqttPublisherTest, Qos0And1MessagesArriveWithTopicAndPayloadOverMqtt311) {
  publishes_topic_payload_and_qos(Version::k311);
}

TEST_F(MqttPublisherTest, Qos0And1MessagesArriveWithTopicAndPayloadOverMqtt5) {
  publishes_topic_payload_and_qos(Version::k5);
}

TEST_F(MqttPublisherTest, RetainedMessageIsGivenToALaterSubscriberWithTheRetainFlag) {
  Mosquitto broker(broker_dir(), {});
  Publisher pub(options_for(broker));
  ASSERT_TRUE(pub.publish("state/fan", "on", 1, true, kTimeout).ok());
  Subscriber late(broker, "state/#");
  std::optional<Received> m = late.next_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->topic, "state/fan");
  EXPECT_EQ(m->payload, "on");
  EXPECT_TRUE(m->retain);
}

TEST_F(MqttPublisherTest, PublishAfterTheBrokerRestartedConnectsAgainAndDelivers) {
  Mosquitto broker(broker_dir(), {});
  Publisher pub(options_for(broker));
  ASSERT_TRUE(pub.publish("a/b", "before", 1, false, kTimeout).ok());
  broker.kill();
  broker.start();
  Subscriber sub(broker, "a/#");
  Status st = pub.publish("a/b", "after", 1, false, kTimeout);
  ASSERT_TRUE(st.ok()) << st.to_string();
  std::optional<Received> m = sub.next_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload, "after");
  EXPECT_EQ(pub.connects(), 2u);
}

TEST_F(MqttPublisherTest, BrokerDownIsAnErrorNamingTheBrokerAndWhatHappened) {
  Mosquitto broker(broker_dir(), {});
  Publisher pub(options_for(broker));
  ASSERT_TRUE(pub.publish("a/b", "x", 1, false, kTimeout).ok());
  broker.kill();
  Status st = pub.publish("a/b", "y", 1, false, kTimeout);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("cannot publish to 'a/b'"));
  EXPECT_THAT(st.message(), HasSubstr("127.0.0.1:" + std::to_string(broker.port())));
  EXPECT_THAT(st.message(), HasSubstr("connection refused"));

  Publisher fresh(options_for(broker));  // never connected: the same answer
  st = fresh.publish("a/b", "z", 0, false, kTimeout);
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("connection refused"));
}

TEST_F(MqttPublisherTest, WrongPasswordIsRefusedWithTheBrokersReason) {
  Mosquitto broker(broker_dir(), {.username = "sluice", .password = "right"});
  PublisherOptions o = options_for(broker);
  o.username = "sluice";
  o.password = "wrong";
  Publisher pub(o);
  Status st = pub.publish("a/b", "x", 1, false, kTimeout);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("refused by 127.0.0.1:" + std::to_string(broker.port())));
  EXPECT_THAT(st.message(), ::testing::AnyOf(HasSubstr("not authorized"),
                                             HasSubstr("bad user name or password")));
  o.password = "right";
  Publisher good(o);
  EXPECT_TRUE(good.publish("a/b", "x", 1, false, kTimeout).ok());
}

TEST_F(MqttPublisherTest, PublisherIdlePastKeepAliveStillDelivers) {
  Mosquitto broker(broker_dir(), {});
  PublisherOptions o = options_for(broker);
  o.client_id = "idle-publisher";
  o.keep_alive_s = 1;  // mosquitto drops the connection after 1.5 s without a packet
  Publisher pub(o);
  ASSERT_TRUE(pub.publish("a/b", "first", 1, false, kTimeout).ok());
  // Wait until the broker says it dropped the idle connection.
  ASSERT_TRUE(testing::eventually([&] {
    std::ifstream in(broker.log_file());
    std::stringstream text;
    text << in.rdbuf();
    return text.str().find("idle-publisher has exceeded timeout") != std::string::npos;
  })) << "the broker never dropped the idle publisher; see "
      << broker.log_file();
  Subscriber sub(broker, "a/#");
  for (const int qos : {0, 1}) {
    Status st = pub.publish("a/b", "after idle " + std::to_string(qos), qos, false, kTimeout);
    ASSERT_TRUE(st.ok()) << st.to_string();
    std::optional<Received> m = sub.next_message();
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->payload, "after idle " + std::to_string(qos));
  }
  EXPECT_GE(pub.connects(), 2u);
}

// A connection that only reads, idle across several keep-alive pings (each answered by a
// PINGRESP that next() consumes itself), still returns from next() on time and gets the message
// that comes afterwards.
TEST_F(MqttPublisherTest, AReaderIdleAcrossKeepAlivePingsStillReturnsAndReceives) {
  Mosquitto broker(broker_dir(), {});
  ConnectionOptions o;
  o.host = broker.host();
  o.port = broker.port();
  o.connect.client_id = "idle-reader";
  o.connect.keep_alive_s = 1;
  Connection reader(o);
  ASSERT_TRUE(reader.connect(std::stop_token()).ok());
  ASSERT_TRUE(reader.subscribe({{"idle/#", 0}}, std::stop_token()).ok());
  // Read until the broker has answered at least two pings; every next() returns empty.
  const auto pings_answered = [&] {
    std::ifstream in(broker.log_file());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += line.find("Sending PINGRESP to idle-reader") != line.npos;
    return n;
  };
  const auto idle_deadline = std::chrono::steady_clock::now() + kDeadline;
  while (pings_answered() < 2 && std::chrono::steady_clock::now() < idle_deadline) {
    Result<std::optional<Packet>> p = reader.next(milliseconds(100));
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    EXPECT_FALSE(p->has_value()) << packet_type_name((*p)->header.type);
  }
  ASSERT_GE(pings_answered(), 2) << "see " << broker.log_file();
  Publisher pub(options_for(broker));
  ASSERT_TRUE(pub.publish("idle/x", "awake", 0, false, kTimeout).ok());
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  std::optional<std::string> payload;
  while (!payload && std::chrono::steady_clock::now() < deadline) {
    Result<std::optional<Packet>> p = reader.next(milliseconds(100));
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    if (!p->has_value() || (*p)->header.type != PacketType::kPublish) continue;
    Result<Publish> m = decode_publish(reader.version(), (*p)->header, (*p)->body);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    payload = std::string(m->payload);
  }
  EXPECT_EQ(payload, "awake");
}

TEST_F(MqttPublisherTest, BadTopicOrQosIsRefusedWithoutConnecting) {
  Mosquitto broker(broker_dir(), {});
  Publisher pub(options_for(broker));
  EXPECT_THAT(pub.publish("a/#", "x", 0, false, kTimeout).message(), HasSubstr("wildcards"));
  EXPECT_EQ(pub.publish("", "x", 0, false, kTimeout).code(), Code::kInvalidArgument);
  EXPECT_THAT(pub.publish("a", "x", 2, false, kTimeout).message(), HasSubstr("QoS 2"));
  EXPECT_EQ(pub.connects(), 0u);
}

TEST_F(MqttPublisherTest, CloseDisconnectsAndTheNextPublishConnectsAgain) {
  Mosquitto broker(broker_dir(), {});
  Subscriber sub(broker, "a/#");
  Publisher pub(options_for(broker));
  ASSERT_TRUE(pub.publish("a/b", "1", 1, false, kTimeout).ok());
  pub.close();
  ASSERT_TRUE(pub.publish("a/b", "2", 1, false, kTimeout).ok());
  EXPECT_EQ(pub.connects(), 2u);
  std::optional<Received> m1 = sub.next_message();
  std::optional<Received> m2 = sub.next_message();
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(m1->payload, "1");
  EXPECT_EQ(m2->payload, "2");
}

}  // namespace
}  // namespace sluice::mqtt
