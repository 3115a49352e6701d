// Fuzz target bodies for the OPC UA decoders (protocols/opcua/), shared by the libFuzzer
// binaries (fuzz/opcua_*_fuzz.cpp) and the unit test that replays fuzz/corpus/opcua_*.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// Byte 0 picks the built-in type decoded from the rest (Variant, DataValue, DiagnosticInfo,
// ExtensionObject, NodeId, ExpandedNodeId, LocalizedText, QualifiedName). Aborts if a value that
// decoded does not encode back to bytes that decode to the same encoding.
int opcua_variant(const uint8_t* data, size_t size);
// A service body from the secure channel through decode_response and decode_request (and
// peek_response); an accepted message must survive encode -> decode -> encode unchanged.
int opcua_response(const uint8_t* data, size_t size);
// Text through NodeId::parse, ExpandedNodeId::parse, parse_guid and base64_decode; whatever
// parses must print to text that parses to the same value.
int opcua_node_id_text(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz

namespace sluice::fuzz {
// A byte stream from a server through the client's UA TCP / secure conversation decoders
// (protocols/opcua/uasc.h). Byte 0 picks the security mode (None, Sign, SignAndEncrypt, with
// fixed keys); the rest is framed chunk by chunk: HEL/ACK/ERR decoded, OPN's asymmetric header
// and OpenSecureChannelResponse, MSG/CLO's security removed, sequence numbers checked and
// chunks reassembled under limits, each complete message's type id and ResponseHeader read.
int opcua_chunk(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
