// Frames arbitrary bytes as an MQTT stream and decodes every packet; a decoder may refuse, but
// must not crash, read out of bounds, or accept what it then describes inconsistently.
#include "fuzz/mqtt_targets.h"

#include <cstdlib>
#include <string_view>

#include "protocols/mqtt/packet.h"

namespace sluice::fuzz {

int mqtt_packets(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const mqtt::Version version = (data[0] & 1) != 0 ? mqtt::Version::k5 : mqtt::Version::k311;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!stream.empty()) {
    Result<std::optional<mqtt::FixedHeader>> header = mqtt::read_fixed_header(stream);
    if (!header.ok() || !header->has_value()) return 0;
    const mqtt::FixedHeader& h = **header;
    if (stream.size() - h.header_bytes < h.remaining_length) return 0;
    const std::string_view body = stream.substr(h.header_bytes, h.remaining_length);
    switch (h.type) {
      case mqtt::PacketType::kConnack: (void)mqtt::decode_connack(version, h, body); break;
      case mqtt::PacketType::kSuback: (void)mqtt::decode_suback(version, h, body); break;
      case mqtt::PacketType::kPublish: {
        Result<mqtt::Publish> p = mqtt::decode_publish(version, h, body);
        if (p.ok()) {
          // Views must lie inside the body.
          const char* begin = body.data();
          const char* end = body.data() + body.size();
          if (p->payload.data() < begin || p->payload.data() + p->payload.size() > end) abort();
          if (p->qos > 2) abort();
        }
        break;
      }
      case mqtt::PacketType::kPuback:
      case mqtt::PacketType::kPubrec:
      case mqtt::PacketType::kPubrel:
      case mqtt::PacketType::kPubcomp: (void)mqtt::decode_ack(version, h, body); break;
      case mqtt::PacketType::kDisconnect: (void)mqtt::decode_disconnect(version, h, body); break;
      default: break;
    }
    stream.remove_prefix(h.header_bytes + h.remaining_length);
  }
  return 0;
}

}  // namespace sluice::fuzz
