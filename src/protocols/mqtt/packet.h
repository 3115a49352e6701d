// MQTT control packets (3.1.1 and 5) as a client sees them: the packets Sluice sends (CONNECT,
// SUBSCRIBE, PUBACK, PUBREC, PUBCOMP, PINGREQ, DISCONNECT) are encoded here, and the packets a
// broker sends (CONNACK, SUBACK, PUBLISH, PUBREL, PINGRESP, DISCONNECT) are decoded here. Pure
// functions over bytes, so that the codec is unit-tested and fuzzed without a socket
// (fuzz/targets.cpp); the connection (connection.h) frames the byte stream with
// read_fixed_header().
//
// Everything read from the wire is distrusted: lengths are checked against what is left before
// use, a property is checked against its type, and no allocation is sized by the wire beyond
// the packet that was already read in full.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice::mqtt {

// MQTT protocol levels as CONNECT carries them.
enum class Version : uint8_t { k311 = 4, k5 = 5 };

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,
};
const char* packet_type_name(PacketType type);

// The largest remaining length the 4-byte variable integer can carry (MQTT 1.5.5).
inline constexpr uint32_t kMaxRemainingLength = 268'435'455;

struct FixedHeader {
  PacketType type = PacketType::kConnect;
  uint8_t flags = 0;              // the low nibble of the first byte
  uint32_t remaining_length = 0;  // bytes after the fixed header
  uint32_t header_bytes = 0;      // 2 to 5
};

// Reads a fixed header from the start of `bytes`. Returns nullopt when more bytes are needed,
// or an error for a malformed length (more than 4 bytes, or a non-minimal encoding is fine but
// a 5th continuation byte is not) or a reserved packet type 0.
Result<std::optional<FixedHeader>> read_fixed_header(std::string_view bytes);

// ---- packets the client sends ------------------------------------------------------------

struct ConnectOptions {
  Version version = Version::k311;
  std::string client_id;
  bool clean_start = true;  // 3.1.1: clean session
  uint16_t keep_alive_s = 30;
  std::optional<std::string> username;
  std::optional<std::string> password;
  // MQTT 5 properties; ignored for 3.1.1.
  uint32_t session_expiry_s = 0;  // 0: the session ends with the connection
  uint16_t receive_maximum = 0;   // 0: not sent (the protocol default 65535 applies)
};
std::string encode_connect(const ConnectOptions& options);

struct Subscription {
  std::string filter;
  uint8_t qos = 1;
};
std::string encode_subscribe(Version version, uint16_t packet_id,
                             const std::vector<Subscription>& subscriptions);
// PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success.
std::string encode_ack(PacketType type, uint16_t packet_id);
std::string encode_pingreq();
std::string encode_disconnect(Version version);

// ---- packets the client receives ----------------------------------------------------------
// Each decoder gets the packet's fixed header and its body (remaining_length bytes).

struct Connack {
  bool session_present = false;
  uint8_t code = 0;  // 3.1.1 return code or MQTT 5 reason code; 0 = accepted
  // MQTT 5 properties the client acts on.
  std::optional<uint16_t> server_keep_alive;
  std::optional<uint8_t> maximum_qos;
  std::string reason_string;
  std::string assigned_client_id;
};
Result<Connack> decode_connack(Version version, const FixedHeader& header, std::string_view body);

struct Suback {
  uint16_t packet_id = 0;
  std::vector<uint8_t> codes;  // granted QoS 0..2, or a failure code >= 0x80
  std::string reason_string;
};
Result<Suback> decode_suback(Version version, const FixedHeader& header, std::string_view body);

// A PUBLISH. topic and payload point into the body given to decode_publish.
struct Publish {
  bool dup = false;
  uint8_t qos = 0;
  bool retain = false;
  std::string_view topic;
  uint16_t packet_id = 0;               // 0 for QoS 0
  std::optional<uint16_t> topic_alias;  // MQTT 5
  std::string_view payload;
};
Result<Publish> decode_publish(Version version, const FixedHeader& header, std::string_view body);

// PUBACK, PUBREC, PUBREL, PUBCOMP: the packet id and (MQTT 5) the reason code.
struct Ack {
  uint16_t packet_id = 0;
  uint8_t reason = 0;
};
Result<Ack> decode_ack(Version version, const FixedHeader& header, std::string_view body);

// A DISCONNECT from the server (MQTT 5 only; a 3.1.1 server never sends one).
struct Disconnect {
  uint8_t reason = 0;
  std::string reason_string;
};
Result<Disconnect> decode_disconnect(Version version, const FixedHeader& header,
                                     std::string_view body);

// What an MQTT 5 reason code (or a 3.1.1 CONNACK return code, with version k311) means, in
// words an operator can act on, e.g. "not authorized: check the broker's ACL"; a hex code
// alone when it is not one of the known ones.
std::string reason_text(Version version, uint8_t code);

// ---- PUBLISH, as the client sends it (protocols/mqtt/publisher.h) --------------------------

// Encodes `publish` as a PUBLISH packet: the flags from dup, qos (0, 1 or 2) and retain; the
// packet id when qos > 0; MQTT 5: a property block with the topic alias when one is given. The
// caller checks what the broker would refuse (an empty or wildcard topic, a packet id 0 at
// qos > 0, a packet over kMaxRemainingLength); decode_publish() reads back what this writes.
std::string encode_publish(Version version, const Publish& publish);

}  // namespace sluice::mqtt
