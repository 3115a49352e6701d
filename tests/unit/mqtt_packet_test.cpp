// The MQTT packet codec: the bytes Sluice sends match the specification byte for byte (MQTT
// 3.1.1 and 5.0, chapter 3), and every packet a broker sends is decoded, or refused with a
// message naming what is wrong, however it is damaged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "fuzz/mqtt_targets.h"
#include "protocols/mqtt/packet.h"

namespace sluice::mqtt {
namespace {

using ::testing::HasSubstr;

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (int b : list) out += static_cast<char>(b);
  return out;
}

// Frames a body as one packet and decodes it with `decode`.
template <typename F>
auto decode_framed(const std::string& packet, F decode) {
  Result<std::optional<FixedHeader>> h = read_fixed_header(packet);
  EXPECT_TRUE(h.ok() && h->has_value());
  return decode(**h, std::string_view(packet).substr((*h)->header_bytes));
}

TEST(MqttPacketTest, ConnectOf311IsEncodedAsTheSpecExample) {
  ConnectOptions o;
  o.version = Version::k311;
  o.client_id = "c1";
  o.clean_start = true;
  o.keep_alive_s = 60;
  o.username = "u";
  o.password = "pw";
  EXPECT_EQ(encode_connect(o), bytes({0x10, 21, 0,   4,   'M', 'Q', 'T', 'T', 4, 0xC2, 0,  60,
                                      0,    2,  'c', '1', 0,   1,   'u', 0,   2, 'p',  'w'}));
}

TEST(MqttPacketTest, ConnectOf5CarriesSessionExpiryAndReceiveMaximum) {
  ConnectOptions o;
  o.version = Version::k5;
  o.client_id = "c";
  o.clean_start = false;
  o.keep_alive_s = 30;
  o.session_expiry_s = 3600;
  o.receive_maximum = 1000;
  EXPECT_EQ(encode_connect(o), bytes({0x10, 22, 0, 4,    'M',  'Q',  'T',  'T',  5, 0x00, 0,  30, 8,
                                      0x11, 0,  0, 0x0E, 0x10, 0x21, 0x03, 0xE8, 0, 1,    'c'}));
}

TEST(MqttPacketTest, SubscribeAndAcksAreEncodedForBothVersions) {
  EXPECT_EQ(encode_subscribe(Version::k311, 1, {{"a/#", 1}}),
            bytes({0x82, 8, 0, 1, 0, 3, 'a', '/', '#', 1}));
  EXPECT_EQ(encode_subscribe(Version::k5, 7, {{"a", 2}, {"b", 0}}),
            bytes({0x82, 11, 0, 7, 0, 0, 1, 'a', 2, 0, 1, 'b', 0}));
  EXPECT_EQ(encode_ack(PacketType::kPuback, 0x1234), bytes({0x40, 2, 0x12, 0x34}));
  EXPECT_EQ(encode_ack(PacketType::kPubrec, 5), bytes({0x50, 2, 0, 5}));
  EXPECT_EQ(encode_ack(PacketType::kPubrel, 5), bytes({0x62, 2, 0, 5}));
  EXPECT_EQ(encode_ack(PacketType::kPubcomp, 5), bytes({0x70, 2, 0, 5}));
  EXPECT_EQ(encode_pingreq(), bytes({0xC0, 0}));
  EXPECT_EQ(encode_disconnect(Version::k5), bytes({0xE0, 0}));
}

TEST(MqttPacketTest, FixedHeaderNeedsMoreBytesOrRefusesAFifthLengthByte) {
  EXPECT_FALSE(read_fixed_header(bytes({0x30}))->has_value());
  EXPECT_FALSE(read_fixed_header(bytes({0x30, 0x80, 0x80}))->has_value());
  Result<std::optional<FixedHeader>> big = read_fixed_header(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ((*big)->remaining_length, kMaxRemainingLength);
  EXPECT_EQ((*big)->header_bytes, 5u);
  Result<std::optional<FixedHeader>> bad =
      read_fixed_header(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 1}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("longer than 4 bytes"));
  EXPECT_FALSE(read_fixed_header(bytes({0x00, 0})).ok());
}

TEST(MqttPacketTest, ConnackOf5GivesSessionPresentReasonAndServerKeepAlive) {
  const std::string p =
      bytes({0x20, 15, 0x01, 0x87, 12, 0x13, 0, 10, 0x1F, 0, 4, 'n', 'o', 'p', 'e', 0x24, 1});
  Result<Connack> c = decode_framed(p, [](const FixedHeader& h, std::string_view b) {
    return decode_connack(Version::k5, h, b);
  });
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->session_present);
  EXPECT_EQ(c->code, 0x87);
  EXPECT_EQ(c->server_keep_alive, 10);
  EXPECT_EQ(c->maximum_qos, 1);
  EXPECT_EQ(c->reason_string, "nope");
  EXPECT_THAT(reason_text(Version::k5, c->code), HasSubstr("not authorized"));
  EXPECT_THAT(reason_text(Version::k311, 4), HasSubstr("bad user name or password"));
}

TEST(MqttPacketTest, PublishOf5WithTopicAliasAndUserPropertyIsDecoded) {
  std::string body = bytes({0, 3, 'a', '/', 'b', 0x01, 0x02});           // topic, id 258
  body += bytes({12, 0x23, 0, 7, 0x26, 0, 1, 'k', 0, 1, 'v', 0x01, 1});  // properties
  body += "x=1";
  const std::string p = bytes({0x3B, static_cast<int>(body.size())}) + body;  // dup, qos 1, retain
  Result<Publish> pub = decode_framed(p, [](const FixedHeader& h, std::string_view b) {
    return decode_publish(Version::k5, h, b);
  });
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  EXPECT_TRUE(pub->dup);
  EXPECT_EQ(pub->qos, 1);
  EXPECT_TRUE(pub->retain);
  EXPECT_EQ(pub->topic, "a/b");
  EXPECT_EQ(pub->packet_id, 258);
  EXPECT_EQ(pub->topic_alias, 7);
  EXPECT_EQ(pub->payload, "x=1");
}

TEST(MqttPacketTest, DamagedPublishesAreRefusedWithTheReason) {
  const auto decode = [](const std::string& p, Version v = Version::k311) {
    return decode_framed(
        p, [v](const FixedHeader& h, std::string_view b) { return decode_publish(v, h, b); });
  };
  EXPECT_THAT(decode(bytes({0x36, 5, 0, 1, 't', 0, 1})).status().message(), HasSubstr("QoS 3"));
  EXPECT_THAT(decode(bytes({0x32, 5, 0, 1, 't', 0, 0})).status().message(),
              HasSubstr("packet identifier 0"));
  EXPECT_THAT(decode(bytes({0x30, 3, 0, 5, 't'})).status().message(), HasSubstr("topic name"));
  EXPECT_THAT(decode(bytes({0x30, 4, 0, 2, 'a', '+'})).status().message(), HasSubstr("wildcard"));
  EXPECT_THAT(decode(bytes({0x38, 3, 0, 1, 't'})).status().message(), HasSubstr("DUP"));
  EXPECT_THAT(decode(bytes({0x30, 2, 0, 0})).status().message(), HasSubstr("empty topic"));
  // MQTT 5: a property length past the end, and an unknown property.
  EXPECT_THAT(decode(bytes({0x30, 4, 0, 1, 't', 9}), Version::k5).status().message(),
              HasSubstr("properties"));
  EXPECT_THAT(decode(bytes({0x30, 6, 0, 1, 't', 2, 0x7F, 0}), Version::k5).status().message(),
              HasSubstr("unknown property identifier 0x7F"));
}

TEST(MqttPacketTest, SubackAckAndDisconnectAreDecoded) {
  Result<Suback> s = decode_framed(
      bytes({0x90, 6, 0, 1, 0, 1, 2, 0x80}),
      [](const FixedHeader& h, std::string_view b) { return decode_suback(Version::k5, h, b); });
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->codes, (std::vector<uint8_t>{1, 2, 0x80}));
  Result<Ack> rel = decode_framed(
      bytes({0x62, 2, 0, 9}),
      [](const FixedHeader& h, std::string_view b) { return decode_ack(Version::k311, h, b); });
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->packet_id, 9);
  // PUBREL must carry flags 0x2.
  EXPECT_FALSE(decode_framed(bytes({0x60, 2, 0, 9}), [](const FixedHeader& h, std::string_view b) {
                 return decode_ack(Version::k311, h, b);
               }).ok());
  Result<Disconnect> d =
      decode_framed(bytes({0xE0, 1, 0x8E}), [](const FixedHeader& h, std::string_view b) {
        return decode_disconnect(Version::k5, h, b);
      });
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(reason_text(Version::k5, d->reason), HasSubstr("session taken over"));
}

TEST(MqttPacketTest, EveryTruncationOfAValidStreamIsHandled) {
  std::string stream = bytes({0x01});  // MQTT 5
  stream += bytes({0x20, 3, 0, 0, 0});
  stream += bytes({0x90, 4, 0, 1, 0, 1});
  std::string body = bytes({0, 1, 't', 0, 2, 3, 0x23, 0, 1}) + "payload";
  stream += bytes({0x32, static_cast<int>(body.size())}) + body;
  stream += bytes({0x62, 2, 0, 2, 0xD0, 0, 0xE0, 1, 0x8B});
  for (size_t n = 0; n <= stream.size(); ++n) {
    EXPECT_EQ(fuzz::mqtt_packets(reinterpret_cast<const uint8_t*>(stream.data()), n), 0);
  }
  for (size_t i = 1; i < stream.size(); ++i) {
    std::string flipped = stream;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
    EXPECT_EQ(fuzz::mqtt_packets(reinterpret_cast<const uint8_t*>(flipped.data()), flipped.size()),
              0);
  }
}

// ---- PUBLISH as the publisher sends it (encode_publish) -----------------------------------

// Encodes `p`, frames it back and decodes it.
Result<Publish> round_trip(Version version, const Publish& p, std::string* storage) {
  *storage = encode_publish(version, p);
  return decode_framed(*storage, [version](const FixedHeader& h, std::string_view b) {
    return decode_publish(version, h, b);
  });
}

TEST(MqttPacketTest, PublishOf311AtQos1IsEncodedAsTheSpecSays) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  p.qos = 1;
  p.retain = true;
  p.packet_id = 10;
  // Flags 0b0011 (QoS 1, retain); topic "a/b"; packet id 10; payload.
  EXPECT_EQ(encode_publish(Version::k311, p),
            bytes({0x33, 9, 0, 3, 'a', '/', 'b', 0, 10, 'h', 'i'}));
  // MQTT 5 adds an empty property block after the packet id.
  EXPECT_EQ(encode_publish(Version::k5, p),
            bytes({0x33, 10, 0, 3, 'a', '/', 'b', 0, 10, 0, 'h', 'i'}));
}

TEST(MqttPacketTest, PublishRoundTripsThroughDecodePublishForBothVersionsAndQos0And1) {
  for (const Version version : {Version::k311, Version::k5}) {
    for (const uint8_t qos : {0, 1}) {
      for (const bool retain : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "version " << static_cast<int>(version) << " qos "
                                          << int{qos} << " retain " << retain);
        Publish p;
        p.topic = "plant/line1/alarm";
        p.payload = std::string_view("{\"on\":true}\0tail", 16);  // binary-safe
        p.qos = qos;
        p.retain = retain;
        p.packet_id = qos == 0 ? 0 : 65535;
        std::string storage;
        Result<Publish> back = round_trip(version, p, &storage);
        ASSERT_TRUE(back.ok()) << back.status().to_string();
        EXPECT_EQ(back->topic, p.topic);
        EXPECT_EQ(back->payload, p.payload);
        EXPECT_EQ(back->qos, qos);
        EXPECT_EQ(back->retain, retain);
        EXPECT_FALSE(back->dup);
        EXPECT_EQ(back->packet_id, p.packet_id);
        EXPECT_FALSE(back->topic_alias.has_value());
      }
    }
  }
}

TEST(MqttPacketTest, PublishWithDupTopicAliasAndEmptyPayloadRoundTrips) {
  Publish p;
  p.topic = "t";
  p.qos = 1;
  p.dup = true;
  p.packet_id = 7;
  p.topic_alias = 3;
  std::string storage;
  Result<Publish> back = round_trip(Version::k5, p, &storage);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(back->dup);
  EXPECT_EQ(back->topic_alias, std::optional<uint16_t>(3));
  EXPECT_EQ(back->payload, "");
  // 3.1.1 has no properties: the alias is not written.
  back = round_trip(Version::k311, p, &storage);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_FALSE(back->topic_alias.has_value());
}

TEST(MqttPacketTest, LargePublishUsesAMultiByteRemainingLength) {
  const std::string payload(200'000, 'x');
  Publish p;
  p.topic = "big";
  p.payload = payload;
  std::string storage;
  Result<Publish> back = round_trip(Version::k311, p, &storage);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->payload.size(), payload.size());
  Result<std::optional<FixedHeader>> h = read_fixed_header(storage);
  ASSERT_TRUE(h.ok() && h->has_value());
  EXPECT_EQ((*h)->header_bytes, 4u);  // 1 type byte + 3 length bytes for 200,005
  EXPECT_EQ((*h)->remaining_length, storage.size() - 4);
}

}  // namespace
}  // namespace sluice::mqtt
