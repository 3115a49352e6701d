// Fuzz target body for the MQTT packet decoders (protocols/mqtt/packet.h), shared by the
// libFuzzer binary and the unit test that replays fuzz/corpus/mqtt.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// Byte 0 picks the protocol version (bit 0: 5 or 3.1.1); the rest is a byte stream from a
// broker, framed with read_fixed_header and every packet decoded by its type.
int mqtt_packets(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
