// Fuzz target bodies for the OPC UA decoders (protocols/opcua/): one per decoder, shared by the
// libFuzzer binaries and the unit test that replays fuzz/corpus/opcua_*. A decoder may refuse
// its input, but must not crash, read out of bounds, allocate without bound, or accept a value
// that it then encodes inconsistently.
#include "fuzz/opcua_targets.h"

#include <cstdlib>
#include <string_view>

#include "protocols/opcua/services.h"
#include "protocols/opcua/types.h"

namespace sluice::fuzz {
namespace {

// decode(bytes) = x  =>  decode(encode(x)) encodes to encode(x) again.
template <typename T>
void check_type(std::string_view bytes) {
  Result<T> v = opcua::decode_all<T>(bytes);
  if (!v.ok()) return;
  const opcua::Bytes once = opcua::encode_to_bytes(*v);
  Result<T> again = opcua::decode_all<T>(once);
  if (!again.ok()) std::abort();
  if (opcua::encode_to_bytes(*again) != once) std::abort();
}

template <typename Any>
void check_message(const Result<Any>& m, Result<Any> (*decoder)(std::string_view)) {
  if (!m.ok()) return;
  const opcua::Bytes once = opcua::encode_any(*m);
  Result<Any> again = decoder(once);
  if (!again.ok()) std::abort();
  if (opcua::encode_any(*again) != once) std::abort();
  if (again->index() != m->index()) std::abort();
}

}  // namespace

int opcua_variant(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: check_type<opcua::Variant>(bytes); break;
    case 1: check_type<opcua::DataValue>(bytes); break;
    case 2: check_type<opcua::DiagnosticInfo>(bytes); break;
    case 3: check_type<opcua::ExtensionObject>(bytes); break;
    case 4: check_type<opcua::NodeId>(bytes); break;
    case 5: check_type<opcua::ExpandedNodeId>(bytes); break;
    case 6: check_type<opcua::LocalizedText>(bytes); break;
    default: check_type<opcua::QualifiedName>(bytes); break;
  }
  return 0;
}

int opcua_response(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check_message<opcua::AnyResponse>(opcua::decode_response(body), opcua::decode_response);
  check_message<opcua::AnyRequest>(opcua::decode_request(body), opcua::decode_request);
  Result<opcua::ResponsePreamble> p = opcua::peek_response(body);
  Result<opcua::AnyResponse> full = opcua::decode_response(body);
  // A whole response's header is the one peek_response reads.
  if (full.ok() && (!p.ok() || !(p->header == opcua::response_header(*full)))) std::abort();
  return 0;
}

int opcua_node_id_text(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (Result<opcua::NodeId> id = opcua::NodeId::parse(text); id.ok()) {
    Result<opcua::NodeId> again = opcua::NodeId::parse(id->to_string());
    if (!again.ok() || !(*again == *id)) std::abort();
  }
  if (Result<opcua::ExpandedNodeId> id = opcua::ExpandedNodeId::parse(text); id.ok()) {
    Result<opcua::ExpandedNodeId> again = opcua::ExpandedNodeId::parse(id->to_string());
    if (!again.ok() || !(*again == *id)) std::abort();
  }
  if (Result<opcua::Guid> g = opcua::parse_guid(text); g.ok()) {
    Result<opcua::Guid> again = opcua::parse_guid(opcua::guid_to_string(*g));
    if (!again.ok() || !(*again == *g)) std::abort();
  }
  if (Result<std::string> b = opcua::base64_decode(text); b.ok()) {
    Result<std::string> again = opcua::base64_decode(opcua::base64_encode(*b));
    if (!again.ok() || *again != *b) std::abort();
  }
  return 0;
}

}  // namespace sluice::fuzz

// --- opcua_chunk: the secure channel's chunk and header decoders ---
#include "protocols/opcua/uasc.h"

namespace sluice::fuzz {

int opcua_chunk(const uint8_t* data, size_t size) {
  namespace uasc = opcua::uasc;
  if (size == 0) return 0;
  constexpr uasc::SecurityMode kModes[] = {uasc::SecurityMode::kNone, uasc::SecurityMode::kSign,
                                           uasc::SecurityMode::kSignAndEncrypt};
  const uasc::SecurityMode mode = kModes[data[0] % 3];
  // The same fixed nonces as the seeds in fuzz/corpus/opcua_chunk, so their signatures pass.
  static const uasc::ChannelKeys keys =
      uasc::derive_keys(std::string(32, '\x11'), std::string(32, '\x22'));
  constexpr uint32_t kTokenId = 1;
  constexpr uint32_t kMaxChunk = 65536;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  uasc::SequenceChecker sequence;
  uasc::MessageAssembler assembler(1u << 20, 64);
  while (!in.empty()) {
    auto header = uasc::decode_transport_header(in, kMaxChunk);
    if (!header.ok() || header->size > in.size()) break;
    std::string_view chunk = in.substr(0, header->size);
    in.remove_prefix(header->size);
    switch (header->type) {
      case uasc::MessageType::kHello: (void)uasc::decode_hello(chunk); break;
      case uasc::MessageType::kAcknowledge: (void)uasc::decode_acknowledge(chunk); break;
      case uasc::MessageType::kError: (void)uasc::decode_error(chunk); break;
      case uasc::MessageType::kReverseHello: break;
      case uasc::MessageType::kOpen: {
        auto c = uasc::decode_asymmetric_chunk(uasc::AsymmetricContext{}, chunk);
        if (c.ok()) (void)uasc::decode_open_response(c->body);
        break;
      }
      case uasc::MessageType::kMessage:
      case uasc::MessageType::kClose: {
        // The header's own channel id (its size is checked), to get past that check.
        opcua::Reader id_reader(chunk.substr(8, 4));
        const uint32_t channel_id = id_reader.u32();
        auto c = uasc::decode_symmetric_chunk(
            mode, channel_id,
            [](uint32_t token) { return token == kTokenId ? &keys.server : nullptr; }, chunk);
        if (!c.ok() || !sequence.check(c->sequence.sequence_number).ok()) break;
        auto m = assembler.add(std::move(c).value());
        if (!m.ok() || !m->has_value() || (*m)->aborted) break;
        opcua::Reader r((*m)->body);
        (void)uasc::read_type_id(r);
        (void)uasc::read_response_header(r);
        break;
      }
    }
  }
  return 0;
}

}  // namespace sluice::fuzz
