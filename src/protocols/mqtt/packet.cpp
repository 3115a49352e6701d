// MQTT packet encoding and decoding (MQTT 3.1.1 sections 2-3, MQTT 5.0 sections 2-3).
#include "protocols/mqtt/packet.h"

#include <fmt/format.h>

namespace sluice::mqtt {
namespace {

// MQTT 5 property identifiers (MQTT 5.0, 2.2.2.2) the client writes or acts on.
constexpr uint8_t kPropSessionExpiry = 0x11;
constexpr uint8_t kPropAssignedClientId = 0x12;
constexpr uint8_t kPropServerKeepAlive = 0x13;
constexpr uint8_t kPropReasonString = 0x1F;
constexpr uint8_t kPropReceiveMaximum = 0x21;
constexpr uint8_t kPropTopicAlias = 0x23;
constexpr uint8_t kPropMaximumQos = 0x24;

enum class PropType { kByte, kTwo, kFour, kVarint, kString, kBinary, kPair, kUnknown };

PropType property_type(uint8_t id) {
  switch (id) {
    case 0x01:
    case 0x17:
    case 0x19:
    case 0x24:
    case 0x25:
    case 0x28:
    case 0x29:
    case 0x2A: return PropType::kByte;
    case 0x13:
    case 0x21:
    case 0x22:
    case 0x23: return PropType::kTwo;
    case 0x02:
    case 0x11:
    case 0x18:
    case 0x27: return PropType::kFour;
    case 0x0B: return PropType::kVarint;
    case 0x03:
    case 0x08:
    case 0x12:
    case 0x15:
    case 0x1A:
    case 0x1C:
    case 0x1F: return PropType::kString;
    case 0x09:
    case 0x16: return PropType::kBinary;
    case 0x26: return PropType::kPair;
    default: return PropType::kUnknown;
  }
}

// A bounds-checked reader over one packet's body.
class Reader {
 public:
  Reader(std::string_view bytes, const char* packet) : bytes_(bytes), packet_(packet) {}

  size_t left() const { return bytes_.size() - pos_; }
  bool done() const { return pos_ == bytes_.size(); }

  Result<uint8_t> u8(const char* what) {
    if (left() < 1) return short_of(what, 1);
    return static_cast<uint8_t>(bytes_[pos_++]);
  }
  Result<uint16_t> u16(const char* what) {
    if (left() < 2) return short_of(what, 2);
    const auto hi = static_cast<uint8_t>(bytes_[pos_]);
    const auto lo = static_cast<uint8_t>(bytes_[pos_ + 1]);
    pos_ += 2;
    return static_cast<uint16_t>((hi << 8) | lo);
  }
  Result<uint32_t> u32(const char* what) {
    if (left() < 4) return short_of(what, 4);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
    pos_ += 4;
    return v;
  }
  Result<uint32_t> varint(const char* what) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      if (left() < 1) return short_of(what, 1);
      const auto b = static_cast<uint8_t>(bytes_[pos_++]);
      value |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) return value;
    }
    return malformed(fmt::format("{} is a variable integer longer than 4 bytes", what));
  }
  // A length-prefixed string or binary field.
  Result<std::string_view> prefixed(const char* what) {
    SLUICE_ASSIGN_OR_RETURN(uint16_t n, u16(what));
    return take(n, what);
  }
  Result<std::string_view> take(size_t n, const char* what) {
    if (left() < n) return short_of(what, n);
    std::string_view v = bytes_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  std::string_view rest() {
    std::string_view v = bytes_.substr(pos_);
    pos_ = bytes_.size();
    return v;
  }

  Status malformed(std::string_view detail) const {
    return corruption(fmt::format("malformed {} packet: {}", packet_, detail));
  }

 private:
  Status short_of(const char* what, size_t need) const {
    return malformed(
        fmt::format("{} needs {} byte(s) at offset {} but {} are left", what, need, pos_, left()));
  }

  std::string_view bytes_;
  size_t pos_ = 0;
  const char* packet_;
};

// Properties of an MQTT 5 packet, with the ones the client acts on picked out.
struct Properties {
  std::optional<uint16_t> server_keep_alive;
  std::optional<uint8_t> maximum_qos;
  std::optional<uint16_t> topic_alias;
  std::string reason_string;
  std::string assigned_client_id;
};

Result<Properties> read_properties(Reader& r) {
  SLUICE_ASSIGN_OR_RETURN(uint32_t length, r.varint("the property length"));
  SLUICE_ASSIGN_OR_RETURN(std::string_view block, r.take(length, "the properties"));
  Reader p(block, "properties");
  Properties out;
  while (!p.done()) {
    SLUICE_ASSIGN_OR_RETURN(uint8_t id, p.u8("a property identifier"));
    switch (property_type(id)) {
      case PropType::kByte: {
        SLUICE_ASSIGN_OR_RETURN(uint8_t v, p.u8("a byte property"));
        if (id == kPropMaximumQos) out.maximum_qos = v;
        break;
      }
      case PropType::kTwo: {
        SLUICE_ASSIGN_OR_RETURN(uint16_t v, p.u16("a two-byte property"));
        if (id == kPropServerKeepAlive) out.server_keep_alive = v;
        if (id == kPropTopicAlias) out.topic_alias = v;
        break;
      }
      case PropType::kFour: {
        SLUICE_RETURN_IF_ERROR(p.u32("a four-byte property").status());
        break;
      }
      case PropType::kVarint: {
        SLUICE_RETURN_IF_ERROR(p.varint("a variable-integer property").status());
        break;
      }
      case PropType::kString:
      case PropType::kBinary: {
        SLUICE_ASSIGN_OR_RETURN(std::string_view v, p.prefixed("a string property"));
        if (id == kPropReasonString) out.reason_string = std::string(v);
        if (id == kPropAssignedClientId) out.assigned_client_id = std::string(v);
        break;
      }
      case PropType::kPair: {
        SLUICE_RETURN_IF_ERROR(p.prefixed("a user property name").status());
        SLUICE_RETURN_IF_ERROR(p.prefixed("a user property value").status());
        break;
      }
      case PropType::kUnknown:
        return r.malformed(fmt::format("unknown property identifier 0x{:02X}", id));
    }
  }
  return out;
}

void put_u16(std::string& out, uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xFF);
}
void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}
void put_varint(std::string& out, uint32_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out += static_cast<char>(b);
  } while (v != 0);
}
void put_string(std::string& out, std::string_view s) {
  put_u16(out, static_cast<uint16_t>(s.size()));
  out += s;
}
// A whole packet: fixed header byte, remaining length, body.
std::string framed(uint8_t first_byte, const std::string& body) {
  std::string out;
  out.reserve(body.size() + 5);
  out += static_cast<char>(first_byte);
  put_varint(out, static_cast<uint32_t>(body.size()));
  out += body;
  return out;
}

Status check_flags(const FixedHeader& h, uint8_t expected, const char* name) {
  if (h.flags == expected) return {};
  return corruption(fmt::format("malformed {} packet: fixed header flags 0x{:X}, expected 0x{:X}",
                                name, h.flags, expected));
}

}  // namespace

const char* packet_type_name(PacketType type) {
  static constexpr const char* kNames[] = {"reserved",  "CONNECT",  "CONNACK",     "PUBLISH",
                                           "PUBACK",    "PUBREC",   "PUBREL",      "PUBCOMP",
                                           "SUBSCRIBE", "SUBACK",   "UNSUBSCRIBE", "UNSUBACK",
                                           "PINGREQ",   "PINGRESP", "DISCONNECT",  "AUTH"};
  return kNames[static_cast<uint8_t>(type) & 0x0F];
}

Result<std::optional<FixedHeader>> read_fixed_header(std::string_view bytes) {
  if (bytes.size() < 2) return std::optional<FixedHeader>{};
  FixedHeader h;
  const auto first = static_cast<uint8_t>(bytes[0]);
  if ((first >> 4) == 0) {
    return corruption("malformed packet: packet type 0 is reserved (not an MQTT stream?)");
  }
  h.type = static_cast<PacketType>(first >> 4);
  h.flags = first & 0x0F;
  uint32_t length = 0;
  for (size_t i = 1; i <= 4; ++i) {
    if (i >= bytes.size()) return std::optional<FixedHeader>{};
    const auto b = static_cast<uint8_t>(bytes[i]);
    length |= static_cast<uint32_t>(b & 0x7F) << (7 * (i - 1));
    if ((b & 0x80) == 0) {
      h.remaining_length = length;
      h.header_bytes = static_cast<uint32_t>(i + 1);
      return std::optional<FixedHeader>{h};
    }
  }
  return corruption("malformed packet: remaining length longer than 4 bytes");
}

std::string encode_connect(const ConnectOptions& o) {
  std::string body;
  put_string(body, "MQTT");
  body += static_cast<char>(o.version);
  uint8_t flags = 0;
  if (o.clean_start) flags |= 0x02;
  if (o.password) flags |= 0x40;
  if (o.username) flags |= 0x80;
  body += static_cast<char>(flags);
  put_u16(body, o.keep_alive_s);
  if (o.version == Version::k5) {
    std::string props;
    if (o.session_expiry_s != 0) {
      props += static_cast<char>(kPropSessionExpiry);
      put_u32(props, o.session_expiry_s);
    }
    if (o.receive_maximum != 0) {
      props += static_cast<char>(kPropReceiveMaximum);
      put_u16(props, o.receive_maximum);
    }
    put_varint(body, static_cast<uint32_t>(props.size()));
    body += props;
  }
  put_string(body, o.client_id);
  if (o.username) put_string(body, *o.username);
  if (o.password) put_string(body, *o.password);
  return framed(static_cast<uint8_t>(PacketType::kConnect) << 4, body);
}

std::string encode_subscribe(Version version, uint16_t packet_id,
                             const std::vector<Subscription>& subscriptions) {
  std::string body;
  put_u16(body, packet_id);
  if (version == Version::k5) body += '\0';  // no properties
  for (const Subscription& s : subscriptions) {
    put_string(body, s.filter);
    body += static_cast<char>(s.qos & 0x03);
  }
  return framed((static_cast<uint8_t>(PacketType::kSubscribe) << 4) | 0x02, body);
}

std::string encode_ack(PacketType type, uint16_t packet_id) {
  // Reason Success with no properties may be left out in MQTT 5 (3.4.2.1), so the 3.1.1 form
  // serves both versions.
  std::string body;
  put_u16(body, packet_id);
  const uint8_t flags = type == PacketType::kPubrel ? 0x02 : 0x00;
  return framed((static_cast<uint8_t>(type) << 4) | flags, body);
}

std::string encode_pingreq() {
  return std::string{static_cast<char>(static_cast<uint8_t>(PacketType::kPingreq) << 4), '\0'};
}

std::string encode_disconnect(Version version) {
  (void)version;  // MQTT 5: reason Normal disconnection (0) with no properties may be left out
  return std::string{static_cast<char>(static_cast<uint8_t>(PacketType::kDisconnect) << 4), '\0'};
}

Result<Connack> decode_connack(Version version, const FixedHeader& h, std::string_view body) {
  SLUICE_RETURN_IF_ERROR(check_flags(h, 0, "CONNACK"));
  Reader r(body, "CONNACK");
  Connack c;
  SLUICE_ASSIGN_OR_RETURN(uint8_t ack_flags, r.u8("the acknowledge flags"));
  if ((ack_flags & 0xFE) != 0) return r.malformed("reserved acknowledge flags are set");
  c.session_present = (ack_flags & 0x01) != 0;
  SLUICE_ASSIGN_OR_RETURN(c.code, r.u8("the return code"));
  if (version == Version::k5 && !r.done()) {
    SLUICE_ASSIGN_OR_RETURN(Properties p, read_properties(r));
    c.server_keep_alive = p.server_keep_alive;
    c.maximum_qos = p.maximum_qos;
    c.reason_string = std::move(p.reason_string);
    c.assigned_client_id = std::move(p.assigned_client_id);
  }
  if (!r.done()) return r.malformed(fmt::format("{} unexpected trailing byte(s)", r.left()));
  return c;
}

Result<Suback> decode_suback(Version version, const FixedHeader& h, std::string_view body) {
  SLUICE_RETURN_IF_ERROR(check_flags(h, 0, "SUBACK"));
  Reader r(body, "SUBACK");
  Suback s;
  SLUICE_ASSIGN_OR_RETURN(s.packet_id, r.u16("the packet identifier"));
  if (version == Version::k5) {
    SLUICE_ASSIGN_OR_RETURN(Properties p, read_properties(r));
    s.reason_string = std::move(p.reason_string);
  }
  const std::string_view codes = r.rest();
  if (codes.empty()) return r.malformed("no return codes");
  s.codes.assign(codes.begin(), codes.end());
  return s;
}

Result<Publish> decode_publish(Version version, const FixedHeader& h, std::string_view body) {
  Reader r(body, "PUBLISH");
  Publish p;
  p.dup = (h.flags & 0x08) != 0;
  p.qos = (h.flags >> 1) & 0x03;
  p.retain = (h.flags & 0x01) != 0;
  if (p.qos == 3) return r.malformed("QoS 3 is not a QoS");
  if (p.qos == 0 && p.dup) return r.malformed("DUP set on a QoS 0 message");
  SLUICE_ASSIGN_OR_RETURN(p.topic, r.prefixed("the topic name"));
  if (p.topic.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) {
    return r.malformed("the topic name contains a wildcard or NUL");
  }
  if (p.qos > 0) {
    SLUICE_ASSIGN_OR_RETURN(p.packet_id, r.u16("the packet identifier"));
    if (p.packet_id == 0) return r.malformed("packet identifier 0");
  }
  if (version == Version::k5) {
    SLUICE_ASSIGN_OR_RETURN(Properties props, read_properties(r));
    p.topic_alias = props.topic_alias;
    if (p.topic_alias && *p.topic_alias == 0) return r.malformed("topic alias 0");
  }
  if (p.topic.empty() && !p.topic_alias) return r.malformed("an empty topic name");
  p.payload = r.rest();
  return p;
}

Result<Ack> decode_ack(Version version, const FixedHeader& h, std::string_view body) {
  const char* name = packet_type_name(h.type);
  SLUICE_RETURN_IF_ERROR(check_flags(h, h.type == PacketType::kPubrel ? 0x02 : 0x00, name));
  Reader r(body, name);
  Ack a;
  SLUICE_ASSIGN_OR_RETURN(a.packet_id, r.u16("the packet identifier"));
  if (version == Version::k5 && !r.done()) {
    SLUICE_ASSIGN_OR_RETURN(a.reason, r.u8("the reason code"));
    if (!r.done()) SLUICE_RETURN_IF_ERROR(read_properties(r).status());
  }
  if (!r.done()) return r.malformed(fmt::format("{} unexpected trailing byte(s)", r.left()));
  return a;
}

Result<Disconnect> decode_disconnect(Version version, const FixedHeader& h, std::string_view body) {
  SLUICE_RETURN_IF_ERROR(check_flags(h, 0, "DISCONNECT"));
  Reader r(body, "DISCONNECT");
  Disconnect d;
  if (version == Version::k5 && !r.done()) {
    SLUICE_ASSIGN_OR_RETURN(d.reason, r.u8("the reason code"));
    if (!r.done()) {
      SLUICE_ASSIGN_OR_RETURN(Properties p, read_properties(r));
      d.reason_string = std::move(p.reason_string);
    }
  }
  if (!r.done()) return r.malformed(fmt::format("{} unexpected trailing byte(s)", r.left()));
  return d;
}

std::string reason_text(Version version, uint8_t code) {
  if (version == Version::k311) {
    switch (code) {
      case 0: return "accepted";
      case 1: return "unacceptable protocol version; try protocol = \"3.1.1\" or \"5\"";
      case 2: return "client identifier rejected; set a different client_id";
      case 3: return "server unavailable";
      case 4: return "bad user name or password";
      case 5: return "not authorized";
      default: return fmt::format("return code {}", code);
    }
  }
  switch (code) {
    case 0x00: return "success";
    case 0x04: return "disconnect with will message";
    case 0x80: return "unspecified error";
    case 0x81: return "malformed packet";
    case 0x82: return "protocol error";
    case 0x83: return "implementation specific error";
    case 0x84: return "unsupported protocol version; try protocol = \"3.1.1\"";
    case 0x85: return "client identifier not valid; set a different client_id";
    case 0x86: return "bad user name or password";
    case 0x87: return "not authorized; check the broker's ACL for this user";
    case 0x88: return "server unavailable";
    case 0x89: return "server busy";
    case 0x8A: return "banned";
    case 0x8B: return "server shutting down";
    case 0x8C: return "bad authentication method";
    case 0x8D: return "keep alive timeout";
    case 0x8E: return "session taken over (another client connected with the same client_id)";
    case 0x8F: return "topic filter invalid";
    case 0x93: return "receive maximum exceeded";
    case 0x95: return "packet too large";
    case 0x97: return "quota exceeded";
    case 0x98: return "administrative action";
    case 0x9C: return "use another server";
    case 0x9D: return "server moved";
    case 0x9F: return "connection rate exceeded";
    case 0xA1: return "subscription identifiers not supported";
    case 0xA2: return "wildcard subscriptions not supported";
    default: return fmt::format("reason code 0x{:02X}", code);
  }
}

std::string encode_publish(Version version, const Publish& p) {
  std::string body;
  body.reserve(p.topic.size() + p.payload.size() + 8);
  put_string(body, p.topic);
  if (p.qos > 0) put_u16(body, p.packet_id);
  if (version == Version::k5) {
    std::string props;
    if (p.topic_alias) {
      props += static_cast<char>(kPropTopicAlias);
      put_u16(props, *p.topic_alias);
    }
    put_varint(body, static_cast<uint32_t>(props.size()));
    body += props;
  }
  body += p.payload;
  uint8_t first = static_cast<uint8_t>(PacketType::kPublish) << 4;
  if (p.dup) first |= 0x08;
  first |= static_cast<uint8_t>((p.qos & 0x03) << 1);
  if (p.retain) first |= 0x01;
  return framed(first, body);
}

}  // namespace sluice::mqtt
