// UA TCP and UA Secure Conversation framing (see uasc.h).
#include "protocols/opcua/uasc.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "protocols/opcua/types.h"

namespace sluice::opcua::uasc {
namespace {

constexpr std::array<std::pair<std::string_view, MessageType>, 7> kTypes = {{
    {"HEL", MessageType::kHello},
    {"ACK", MessageType::kAcknowledge},
    {"ERR", MessageType::kError},
    {"RHE", MessageType::kReverseHello},
    {"MSG", MessageType::kMessage},
    {"OPN", MessageType::kOpen},
    {"CLO", MessageType::kClose},
}};

constexpr size_t kHmacSize = kSha256Size;
// The largest diagnostic nesting accepted in a ResponseHeader.
// NodeId encodings (Part 6, 5.2.2.9).
constexpr uint8_t kNodeIdTwoByte = 0;
constexpr uint8_t kNodeIdFourByte = 1;
constexpr uint8_t kNodeIdNumeric = 2;
constexpr uint8_t kNodeIdString = 3;
constexpr uint8_t kNodeIdGuid = 4;
constexpr uint8_t kNodeIdByteString = 5;

void write_header(Writer& w, MessageType type, char chunk_type) {
  w.raw(message_type_name(type));
  w.u8(static_cast<uint8_t>(chunk_type));
  w.u32(0);  // size, patched when known
}

size_t header_min_size(MessageType type) {
  switch (type) {
    case MessageType::kHello: return kTransportHeaderSize + 20 + 4;
    case MessageType::kAcknowledge: return kTransportHeaderSize + 20;
    case MessageType::kError: return kTransportHeaderSize + 8;
    case MessageType::kReverseHello: return kTransportHeaderSize + 8;
    case MessageType::kOpen: return kSecureMessageHeaderSize + 12 + kSequenceHeaderSize;
    case MessageType::kMessage:
    case MessageType::kClose:
      return kSecureMessageHeaderSize + kSymmetricSecurityHeaderSize + kSequenceHeaderSize;
  }
  return kTransportHeaderSize;
}

// Writes the padding (PaddingSize, the padding bytes, ExtraPaddingSize if `extra`) that makes
// `plain_size` + padding + `signature_size` a multiple of `block`.
void write_padding(Bytes& out, size_t plain_size, size_t block, size_t signature_size, bool extra) {
  size_t fixed = plain_size + 1 + (extra ? 1 : 0) + signature_size;
  size_t padding = (block - fixed % block) % block;
  auto low = static_cast<char>(padding & 0xff);
  out.push_back(low);
  out.append(padding, low);
  if (extra) out.push_back(static_cast<char>((padding >> 8) & 0xff));
}

// Removes the padding from `plain` (signature already removed); `body_start` is where the body
// begins. Checks that the padding fits and that every padding byte holds the padding size.
Status strip_padding(Bytes& plain, size_t body_start, bool extra) {
  size_t footer = extra ? 2 : 1;
  if (plain.size() < body_start + footer) return corruption("chunk too short for its padding size");
  size_t padding = static_cast<uint8_t>(plain[plain.size() - 1]);
  if (extra) {
    padding = (padding << 8) | static_cast<uint8_t>(plain[plain.size() - 2]);
  }
  size_t low_at = plain.size() - footer;  // the PaddingSize byte
  if (padding > low_at - body_start)
    return corruption("padding size " + std::to_string(padding) + " exceeds the " +
                      std::to_string(low_at - body_start) + " bytes of the body");
  auto low = plain[low_at];
  for (size_t i = low_at - padding; i < low_at; ++i) {
    if (plain[i] != low)
      return corruption("padding byte at offset " + std::to_string(i) +
                        " differs from the padding size");
  }
  plain.resize(low_at - padding);
  return Status::ok_status();
}

// The secure channel's headers skip these structures with the types' own decoders (types.h),
// bounds and nesting limits included.
void skip_node_id(Reader& r) {
  NodeId id;
  decode(r, id);
}

void skip_diagnostic_info(Reader& r) {
  DiagnosticInfo info;
  decode(r, info);
}

void skip_extension_object(Reader& r) {
  ExtensionObject eo;
  decode(r, eo);
}

void write_four_byte_node_id(Writer& w, uint16_t id) {
  w.u8(kNodeIdFourByte);
  w.u8(0);
  w.u16(id);
}

// The sizes of Basic256Sha256's asymmetric operations for a context.
struct AsymmetricSizes {
  size_t signature = 0;     // the sender's key size
  size_t plain_block = 0;   // the receiver's key size - OAEP overhead
  size_t cipher_block = 0;  // the receiver's key size
  bool extra_padding = false;
};

AsymmetricSizes asymmetric_sizes(const Certificate& sender, const Certificate& receiver) {
  AsymmetricSizes s;
  s.signature = sender.key_size_bytes();
  s.cipher_block = receiver.key_size_bytes();
  s.plain_block = s.cipher_block > kOaepSha1Overhead ? s.cipher_block - kOaepSha1Overhead : 0;
  s.extra_padding = s.cipher_block > 256;
  return s;
}

bool secured(const AsymmetricContext& ctx) { return ctx.policy != SecurityPolicy::kNone; }

Status check_asymmetric_context(const AsymmetricContext& ctx) {
  if (!secured(ctx)) return Status::ok_status();
  if (ctx.local_certificate == nullptr || ctx.local_key == nullptr || !*ctx.local_key ||
      ctx.remote_certificate == nullptr || ctx.remote_certificate->empty())
    return failed_precondition(
        "Basic256Sha256 needs the client certificate and key and the server certificate");
  if (ctx.local_certificate->key_size_bytes() <= kOaepSha1Overhead ||
      ctx.remote_certificate->key_size_bytes() <= kOaepSha1Overhead)
    return invalid_argument("RSA key too small for OAEP");
  return Status::ok_status();
}

size_t asymmetric_header_size(const AsymmetricContext& ctx) {
  size_t size = kSecureMessageHeaderSize + 4 + policy_uri(ctx.policy).size() + 4 + 4;
  if (secured(ctx)) size += ctx.local_certificate->der().size() + kSha1Size;
  return size;
}

}  // namespace

std::string_view message_type_name(MessageType type) {
  for (const auto& [name, t] : kTypes)
    if (t == type) return name;
  return "???";
}

Result<TransportHeader> decode_transport_header(std::string_view bytes, uint32_t max_size) {
  if (bytes.size() < kTransportHeaderSize)
    return corruption("message header needs 8 bytes, got " + std::to_string(bytes.size()));
  TransportHeader h;
  std::string_view name = bytes.substr(0, 3);
  auto it = std::find_if(kTypes.begin(), kTypes.end(),
                         [&](const auto& entry) { return entry.first == name; });
  if (it == kTypes.end()) {
    std::string printable;
    for (char c : name) printable += (c >= 0x20 && c < 0x7f) ? c : '?';
    return corruption("unknown message type '" + printable + "' at offset 0");
  }
  h.type = it->second;
  h.chunk_type = bytes[3];
  Reader r(bytes.substr(4, 4));
  h.size = r.u32("MessageSize");
  bool chunkable = h.type == MessageType::kMessage;
  if (h.chunk_type != kChunkFinal &&
      !(chunkable && (h.chunk_type == kChunkIntermediate || h.chunk_type == kChunkAbort)))
    return corruption("chunk type " + std::to_string(static_cast<uint8_t>(h.chunk_type)) +
                      " at offset 3 is not allowed for " + std::string(name) +
                      " (F, or C and A for MSG)");
  if (h.size < header_min_size(h.type))
    return corruption(std::string(name) + " message size " + std::to_string(h.size) +
                      " at offset 4 is below its smallest header of " +
                      std::to_string(header_min_size(h.type)));
  if (max_size != 0 && h.size > max_size)
    return corruption(std::string(name) + " message size " + std::to_string(h.size) +
                      " at offset 4 exceeds the receive buffer of " + std::to_string(max_size));
  return h;
}

Bytes encode_hello(const TransportLimits& l, std::string_view endpoint_url) {
  Writer w;
  write_header(w, MessageType::kHello, kChunkFinal);
  w.u32(l.protocol_version);
  w.u32(l.receive_buffer_size);
  w.u32(l.send_buffer_size);
  w.u32(l.max_message_size);
  w.u32(l.max_chunk_count);
  w.string(endpoint_url);
  w.patch_u32(4, static_cast<uint32_t>(w.size()));
  return std::move(w.bytes());
}

Bytes encode_acknowledge(const TransportLimits& l) {
  Writer w;
  write_header(w, MessageType::kAcknowledge, kChunkFinal);
  w.u32(l.protocol_version);
  w.u32(l.receive_buffer_size);
  w.u32(l.send_buffer_size);
  w.u32(l.max_message_size);
  w.u32(l.max_chunk_count);
  w.patch_u32(4, static_cast<uint32_t>(w.size()));
  return std::move(w.bytes());
}

Bytes encode_error(uint32_t status, std::string_view reason) {
  Writer w;
  write_header(w, MessageType::kError, kChunkFinal);
  w.u32(status);
  w.string(reason);
  w.patch_u32(4, static_cast<uint32_t>(w.size()));
  return std::move(w.bytes());
}

namespace {
TransportLimits read_limits(Reader& r) {
  TransportLimits l;
  l.protocol_version = r.u32("ProtocolVersion");
  l.receive_buffer_size = r.u32("ReceiveBufferSize");
  l.send_buffer_size = r.u32("SendBufferSize");
  l.max_message_size = r.u32("MaxMessageSize");
  l.max_chunk_count = r.u32("MaxChunkCount");
  return l;
}
}  // namespace

Result<TransportLimits> decode_acknowledge(std::string_view bytes) {
  SLUICE_ASSIGN_OR_RETURN(TransportHeader h, decode_transport_header(bytes, 0));
  if (h.type != MessageType::kAcknowledge || h.size != bytes.size())
    return corruption("not one ACK message");
  Reader r(bytes.substr(kTransportHeaderSize));
  TransportLimits l = read_limits(r);
  SLUICE_RETURN_IF_ERROR(r.status().with_context("ACK"));
  if (l.receive_buffer_size < kMinBufferSize || l.send_buffer_size < kMinBufferSize)
    return corruption("ACK buffer sizes " + std::to_string(l.receive_buffer_size) + "/" +
                      std::to_string(l.send_buffer_size) + " are below the minimum of 8192");
  return l;
}

Result<HelloMessage> decode_hello(std::string_view bytes) {
  SLUICE_ASSIGN_OR_RETURN(TransportHeader h, decode_transport_header(bytes, 0));
  if (h.type != MessageType::kHello || h.size != bytes.size())
    return corruption("not one HEL message");
  Reader r(bytes.substr(kTransportHeaderSize));
  HelloMessage m;
  m.limits = read_limits(r);
  m.endpoint_url = r.string("EndpointUrl");
  SLUICE_RETURN_IF_ERROR(r.status().with_context("HEL"));
  if (m.endpoint_url.size() > kMaxEndpointUrlLength) return corruption("HEL EndpointUrl too long");
  return m;
}

Result<ErrorMessage> decode_error(std::string_view bytes) {
  SLUICE_ASSIGN_OR_RETURN(TransportHeader h, decode_transport_header(bytes, 0));
  if (h.type != MessageType::kError || h.size != bytes.size())
    return corruption("not one ERR message");
  Reader r(bytes.substr(kTransportHeaderSize));
  ErrorMessage m;
  m.status = r.u32("Error");
  m.reason = r.string("Reason");
  SLUICE_RETURN_IF_ERROR(r.status().with_context("ERR"));
  if (m.reason.size() > kMaxErrorReasonLength) m.reason.resize(kMaxErrorReasonLength);
  return m;
}

std::string_view policy_uri(SecurityPolicy policy) {
  return policy == SecurityPolicy::kNone ? kPolicyUriNone : kPolicyUriBasic256Sha256;
}

std::string_view mode_name(SecurityMode mode) {
  switch (mode) {
    case SecurityMode::kNone: return "None";
    case SecurityMode::kSign: return "Sign";
    case SecurityMode::kSignAndEncrypt: return "SignAndEncrypt";
  }
  return "Invalid";
}

ChannelKeys derive_keys(std::string_view client_nonce, std::string_view server_nonce) {
  constexpr size_t kTotal = kSha256Size + kAes256KeySize + kAesBlockSize;
  auto split = [](const Bytes& prf) {
    SymmetricKeys k;
    k.signing_key = prf.substr(0, kSha256Size);
    k.encrypting_key = prf.substr(kSha256Size, kAes256KeySize);
    k.iv = prf.substr(kSha256Size + kAes256KeySize, kAesBlockSize);
    return k;
  };
  ChannelKeys keys;
  keys.client = split(p_sha256(server_nonce, client_nonce, kTotal));
  keys.server = split(p_sha256(client_nonce, server_nonce, kTotal));
  return keys;
}

// --- asymmetric (OPN) chunks ---

size_t asymmetric_max_body(const AsymmetricContext& ctx, size_t chunk_size) {
  size_t header = asymmetric_header_size(ctx);
  if (chunk_size <= header + kSequenceHeaderSize) return 0;
  if (!secured(ctx)) return chunk_size - header - kSequenceHeaderSize;
  AsymmetricSizes s = asymmetric_sizes(*ctx.local_certificate, *ctx.remote_certificate);
  size_t blocks = (chunk_size - header) / s.cipher_block;
  size_t plain = blocks * s.plain_block;
  size_t overhead = kSequenceHeaderSize + s.signature + 1 + (s.extra_padding ? 1 : 0);
  return plain > overhead ? plain - overhead : 0;
}

Result<Bytes> encode_asymmetric_chunk(const AsymmetricContext& ctx, SequenceHeader sequence,
                                      std::string_view body) {
  SLUICE_RETURN_IF_ERROR(check_asymmetric_context(ctx));
  Writer w;
  write_header(w, MessageType::kOpen, kChunkFinal);
  w.u32(ctx.channel_id);
  w.string(policy_uri(ctx.policy));
  if (secured(ctx)) {
    w.bytestring(ctx.local_certificate->der());
    w.bytestring(ctx.remote_certificate->thumbprint());
  } else {
    w.null_string();
    w.null_string();
  }
  size_t header_size = w.size();
  w.u32(sequence.sequence_number);
  w.u32(sequence.request_id);
  w.raw(body);
  if (!secured(ctx)) {
    w.patch_u32(4, static_cast<uint32_t>(w.size()));
    return std::move(w.bytes());
  }
  AsymmetricSizes s = asymmetric_sizes(*ctx.local_certificate, *ctx.remote_certificate);
  write_padding(w.bytes(), w.size() - header_size, s.plain_block, s.signature, s.extra_padding);
  size_t plain_size = w.size() - header_size + s.signature;
  size_t total = header_size + plain_size / s.plain_block * s.cipher_block;
  w.patch_u32(4, static_cast<uint32_t>(total));
  SLUICE_ASSIGN_OR_RETURN(Bytes signature, rsa_sha256_sign(*ctx.local_key, w.bytes()));
  if (signature.size() != s.signature) return internal_error("RSA signature of unexpected size");
  w.raw(signature);
  std::string_view plain = std::string_view(w.bytes()).substr(header_size);
  SLUICE_ASSIGN_OR_RETURN(Bytes cipher,
                          rsa_oaep_sha1_encrypt(ctx.remote_certificate->public_key(), plain));
  Bytes out = w.bytes().substr(0, header_size);
  out += cipher;
  if (out.size() != total) return internal_error("OPN chunk size differs from its header");
  return out;
}

Result<Chunk> decode_asymmetric_chunk(const AsymmetricContext& ctx, std::string_view bytes) {
  SLUICE_ASSIGN_OR_RETURN(TransportHeader h, decode_transport_header(bytes, 0));
  if (h.type != MessageType::kOpen) return corruption("expected an OPN chunk");
  if (h.size != bytes.size())
    return corruption("OPN size " + std::to_string(h.size) + " differs from the " +
                      std::to_string(bytes.size()) + " bytes received");
  Reader r(bytes);
  r.raw(kTransportHeaderSize, "header");
  Chunk c;
  c.type = h.type;
  c.chunk_type = h.chunk_type;
  c.channel_id = r.u32("SecureChannelId");
  bool null_cert = false;
  c.policy_uri = r.string("SecurityPolicyUri");
  c.sender_certificate = r.bytestring("SenderCertificate", &null_cert);
  c.receiver_thumbprint = r.bytestring("ReceiverCertificateThumbprint");
  SLUICE_RETURN_IF_ERROR(r.status().with_context("OPN"));
  if (c.policy_uri != policy_uri(ctx.policy))
    return corruption("OPN security policy '" + c.policy_uri.substr(0, kMaxPolicyUriLength) +
                      "' is not the requested '" + std::string(policy_uri(ctx.policy)) + "'");
  size_t header_size = r.position();
  if (!secured(ctx)) {
    c.sequence.sequence_number = r.u32("SequenceNumber");
    c.sequence.request_id = r.u32("RequestId");
    SLUICE_RETURN_IF_ERROR(r.status().with_context("OPN"));
    c.body = Bytes(bytes.substr(r.position()));
    return c;
  }
  SLUICE_RETURN_IF_ERROR(check_asymmetric_context(ctx));
  // The sender's certificate may be a chain; its first certificate must be the one expected.
  auto sender = Certificate::from_der(c.sender_certificate);
  if (!sender.ok()) return corruption("OPN SenderCertificate: " + sender.status().message());
  if (sender->der() != ctx.remote_certificate->der())
    return corruption("OPN SenderCertificate is not the server certificate the channel expects");
  if (c.receiver_thumbprint != ctx.local_certificate->thumbprint())
    return corruption("OPN ReceiverCertificateThumbprint is not this client's certificate");
  AsymmetricSizes s = asymmetric_sizes(*ctx.remote_certificate, *ctx.local_certificate);
  std::string_view cipher = bytes.substr(header_size);
  if (cipher.empty() || cipher.size() % s.cipher_block != 0)
    return corruption("OPN encrypted part of " + std::to_string(cipher.size()) +
                      " bytes is not a whole number of " + std::to_string(s.cipher_block) +
                      "-byte blocks");
  auto plain = rsa_oaep_sha1_decrypt(*ctx.local_key, cipher);
  if (!plain.ok()) return corruption("OPN: " + plain.status().message());
  if (plain->size() < kSequenceHeaderSize + s.signature + 1)
    return corruption("OPN decrypted part of " + std::to_string(plain->size()) +
                      " bytes is too short for its sequence header, padding and signature");
  size_t signed_plain = plain->size() - s.signature;
  Bytes signed_data(bytes.substr(0, header_size));
  signed_data.append(*plain, 0, signed_plain);
  Status verified = rsa_sha256_verify(ctx.remote_certificate->public_key(), signed_data,
                                      std::string_view(*plain).substr(signed_plain));
  if (!verified.ok()) return corruption("OPN: " + verified.message());
  Bytes body = plain->substr(0, signed_plain);
  SLUICE_RETURN_IF_ERROR(
      strip_padding(body, kSequenceHeaderSize, s.extra_padding).with_context("OPN"));
  Reader seq(body);
  c.sequence.sequence_number = seq.u32("SequenceNumber");
  c.sequence.request_id = seq.u32("RequestId");
  c.body = body.substr(kSequenceHeaderSize);
  return c;
}

// --- symmetric (MSG, CLO) chunks ---

size_t symmetric_max_body(SecurityMode mode, size_t chunk_size) {
  size_t header = kSecureMessageHeaderSize + kSymmetricSecurityHeaderSize;
  if (chunk_size <= header + kSequenceHeaderSize) return 0;
  switch (mode) {
    case SecurityMode::kNone: return chunk_size - header - kSequenceHeaderSize;
    case SecurityMode::kSign: {
      size_t overhead = header + kSequenceHeaderSize + kHmacSize;
      return chunk_size > overhead ? chunk_size - overhead : 0;
    }
    case SecurityMode::kSignAndEncrypt: {
      size_t plain = (chunk_size - header) / kAesBlockSize * kAesBlockSize;
      size_t overhead = kSequenceHeaderSize + kHmacSize + 1;
      return plain > overhead ? plain - overhead : 0;
    }
  }
  return 0;
}

Result<Bytes> encode_symmetric_chunk(MessageType type, char chunk_type, const SymmetricContext& ctx,
                                     SequenceHeader sequence, std::string_view body) {
  if (ctx.mode != SecurityMode::kNone && ctx.keys == nullptr)
    return failed_precondition("no symmetric keys for a secured channel");
  Writer w;
  write_header(w, type, chunk_type);
  w.u32(ctx.channel_id);
  w.u32(ctx.token_id);
  size_t header_size = w.size();
  w.u32(sequence.sequence_number);
  w.u32(sequence.request_id);
  w.raw(body);
  if (ctx.mode == SecurityMode::kNone) {
    w.patch_u32(4, static_cast<uint32_t>(w.size()));
    return std::move(w.bytes());
  }
  bool encrypt = ctx.mode == SecurityMode::kSignAndEncrypt;
  if (encrypt) write_padding(w.bytes(), w.size() - header_size, kAesBlockSize, kHmacSize, false);
  w.patch_u32(4, static_cast<uint32_t>(w.size() + kHmacSize));
  w.raw(hmac_sha256(ctx.keys->signing_key, w.bytes()));
  if (!encrypt) return std::move(w.bytes());
  SLUICE_ASSIGN_OR_RETURN(Bytes cipher,
                          aes256_cbc_encrypt(ctx.keys->encrypting_key, ctx.keys->iv,
                                             std::string_view(w.bytes()).substr(header_size)));
  Bytes out = w.bytes().substr(0, header_size);
  out += cipher;
  return out;
}

Result<Chunk> decode_symmetric_chunk(SecurityMode mode, uint32_t channel_id, const KeyLookup& keys,
                                     std::string_view bytes) {
  SLUICE_ASSIGN_OR_RETURN(TransportHeader h, decode_transport_header(bytes, 0));
  std::string name(message_type_name(h.type));
  if (h.type != MessageType::kMessage && h.type != MessageType::kClose)
    return corruption("expected a MSG or CLO chunk, got " + name);
  if (h.size != bytes.size())
    return corruption(name + " size " + std::to_string(h.size) + " differs from the " +
                      std::to_string(bytes.size()) + " bytes received");
  Reader r(bytes);
  r.raw(kTransportHeaderSize, "header");
  Chunk c;
  c.type = h.type;
  c.chunk_type = h.chunk_type;
  c.channel_id = r.u32("SecureChannelId");
  c.token_id = r.u32("TokenId");
  SLUICE_RETURN_IF_ERROR(r.status().with_context(name));
  if (c.channel_id != channel_id)
    return corruption(name + " SecureChannelId " + std::to_string(c.channel_id) +
                      " at offset 8 is not this channel's " + std::to_string(channel_id));
  size_t header_size = r.position();
  Bytes plain;
  if (mode == SecurityMode::kNone) {
    plain = Bytes(bytes.substr(header_size));
  } else {
    const SymmetricKeys* k = keys ? keys(c.token_id) : nullptr;
    if (k == nullptr)
      return corruption(name + " TokenId " + std::to_string(c.token_id) +
                        " at offset 12 is not a current security token");
    if (mode == SecurityMode::kSignAndEncrypt) {
      std::string_view cipher = bytes.substr(header_size);
      if (cipher.size() % kAesBlockSize != 0)
        return corruption(name + " encrypted part of " + std::to_string(cipher.size()) +
                          " bytes is not a whole number of AES blocks");
      auto decrypted = aes256_cbc_decrypt(k->encrypting_key, k->iv, cipher);
      if (!decrypted.ok()) return corruption(name + ": " + decrypted.status().message());
      plain = std::move(decrypted).value();
    } else {
      plain = Bytes(bytes.substr(header_size));
    }
    if (plain.size() < kSequenceHeaderSize + kHmacSize)
      return corruption(name + " chunk of " + std::to_string(bytes.size()) +
                        " bytes is too short for its sequence header and signature");
    size_t signed_plain = plain.size() - kHmacSize;
    Bytes signed_data(bytes.substr(0, header_size));
    signed_data.append(plain, 0, signed_plain);
    Bytes expected = hmac_sha256(k->signing_key, signed_data);
    if (CRYPTO_memcmp(expected.data(), plain.data() + signed_plain, kHmacSize) != 0)
      return corruption(name + " signature (HMAC-SHA256) does not verify");
    plain.resize(signed_plain);
    if (mode == SecurityMode::kSignAndEncrypt)
      SLUICE_RETURN_IF_ERROR(strip_padding(plain, kSequenceHeaderSize, false).with_context(name));
  }
  Reader seq(plain);
  c.sequence.sequence_number = seq.u32("SequenceNumber");
  c.sequence.request_id = seq.u32("RequestId");
  SLUICE_RETURN_IF_ERROR(seq.status().with_context(name));
  c.body = plain.substr(kSequenceHeaderSize);
  return c;
}

uint32_t next_sequence_number(uint32_t current) {
  return current > kSequenceWrapAfter ? 1 : current + 1;
}

Result<std::vector<Bytes>> encode_symmetric_message(MessageType type, const SymmetricContext& ctx,
                                                    uint32_t request_id, std::string_view body,
                                                    size_t chunk_size, uint32_t max_chunks,
                                                    uint32_t max_message_size,
                                                    uint32_t* next_sequence) {
  size_t per_chunk = symmetric_max_body(ctx.mode, chunk_size);
  if (per_chunk == 0) return invalid_argument("chunk size too small for any body");
  if (max_message_size != 0 && body.size() > max_message_size)
    return Status(Code::kResourceExhausted, "request of " + std::to_string(body.size()) +
                                                " bytes exceeds the server's MaxMessageSize of " +
                                                std::to_string(max_message_size));
  size_t count = std::max<size_t>(1, (body.size() + per_chunk - 1) / per_chunk);
  if (max_chunks != 0 && count > max_chunks)
    return Status(Code::kResourceExhausted, "request of " + std::to_string(body.size()) +
                                                " bytes needs " + std::to_string(count) +
                                                " chunks, the server allows " +
                                                std::to_string(max_chunks));
  std::vector<Bytes> chunks;
  chunks.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string_view part = body.substr(std::min(body.size(), i * per_chunk), per_chunk);
    char chunk_type = i + 1 == count ? kChunkFinal : kChunkIntermediate;
    SequenceHeader seq{*next_sequence, request_id};
    SLUICE_ASSIGN_OR_RETURN(Bytes chunk, encode_symmetric_chunk(type, chunk_type, ctx, seq, part));
    *next_sequence = next_sequence_number(*next_sequence);
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

Status SequenceChecker::check(uint32_t sequence_number) {
  if (!started_) {
    started_ = true;
    last_ = sequence_number;
    return Status::ok_status();
  }
  bool next = sequence_number == last_ + 1 && last_ != UINT32_MAX;
  bool wrapped = last_ > kSequenceWrapAfter && sequence_number < kSequenceWrapLimit;
  if (!next && !wrapped)
    return corruption("sequence number " + std::to_string(sequence_number) + " follows " +
                      std::to_string(last_) + " (a chunk was lost, repeated or replayed)");
  last_ = sequence_number;
  return Status::ok_status();
}

Result<std::optional<AssembledMessage>> MessageAssembler::add(Chunk chunk) {
  uint32_t id = chunk.sequence.request_id;
  if (chunk.chunk_type == kChunkAbort) {
    partial_.erase(id);
    Reader r(chunk.body);
    AssembledMessage m;
    m.type = chunk.type;
    m.request_id = id;
    m.aborted = true;
    m.abort_status = r.u32("abort Error");
    m.abort_reason = r.string("abort Reason");
    SLUICE_RETURN_IF_ERROR(r.status().with_context("abort chunk"));
    if (m.abort_reason.size() > kMaxErrorReasonLength) m.abort_reason.resize(kMaxErrorReasonLength);
    return std::optional<AssembledMessage>(std::move(m));
  }
  auto it = partial_.find(id);
  if (it == partial_.end()) {
    if (chunk.chunk_type == kChunkFinal) {
      if (max_message_size_ != 0 && chunk.body.size() > max_message_size_)
        return corruption("message of " + std::to_string(chunk.body.size()) +
                          " bytes for request " + std::to_string(id) + " exceeds MaxMessageSize " +
                          std::to_string(max_message_size_));
      AssembledMessage m{chunk.type, id, std::move(chunk.body)};
      return std::optional<AssembledMessage>(std::move(m));
    }
    if (partial_.size() >= max_partial_)
      return corruption("more than " + std::to_string(max_partial_) +
                        " chunked messages in progress at once");
    it = partial_.emplace(id, Partial{}).first;
  }
  Partial& p = it->second;
  p.chunks += 1;
  if (max_chunk_count_ != 0 && p.chunks > max_chunk_count_)
    return corruption("message for request " + std::to_string(id) + " has more than " +
                      std::to_string(max_chunk_count_) + " chunks (MaxChunkCount)");
  if (max_message_size_ != 0 && p.body.size() + chunk.body.size() > max_message_size_)
    return corruption("message for request " + std::to_string(id) + " exceeds MaxMessageSize " +
                      std::to_string(max_message_size_));
  p.body += chunk.body;
  if (chunk.chunk_type != kChunkFinal) return std::optional<AssembledMessage>();
  AssembledMessage m{chunk.type, id, std::move(p.body)};
  partial_.erase(it);
  return std::optional<AssembledMessage>(std::move(m));
}

// --- OpenSecureChannel, CloseSecureChannel ---

void encode_request_header(Writer& w, uint32_t request_handle, uint32_t timeout_hint_ms,
                           int64_t timestamp) {
  w.u8(kNodeIdTwoByte);  // AuthenticationToken: null NodeId
  w.u8(0);
  w.datetime(timestamp);
  w.u32(request_handle);
  w.u32(0);         // ReturnDiagnostics
  w.null_string();  // AuditEntryId
  w.u32(timeout_hint_ms);
  w.u8(kNodeIdTwoByte);  // AdditionalHeader: null ExtensionObject
  w.u8(0);
  w.u8(0);
}

ResponseHeaderSummary read_response_header(Reader& r) {
  ResponseHeaderSummary s;
  r.datetime("ResponseHeader Timestamp");
  s.request_handle = r.u32("ResponseHeader RequestHandle");
  s.service_result = r.u32("ResponseHeader ServiceResult");
  skip_diagnostic_info(r);
  size_t strings = r.array_length("ResponseHeader StringTable", 4);
  for (size_t i = 0; i < strings && r.ok(); ++i) r.string("ResponseHeader StringTable");
  skip_extension_object(r);
  return s;
}

uint32_t read_type_id(Reader& r) {
  uint8_t encoding = r.u8("TypeId encoding");
  switch (encoding) {
    case kNodeIdTwoByte: return r.u8("TypeId");
    case kNodeIdFourByte:
      if (r.u8("TypeId namespace") != 0) return 0;
      return r.u16("TypeId");
    case kNodeIdNumeric:
      if (r.u16("TypeId namespace") != 0) {
        r.u32("TypeId");
        return 0;
      }
      return r.u32("TypeId");
    default: r.fail("TypeId", "not a numeric NodeId"); return 0;
  }
}

Bytes encode_open_request(const OpenRequest& q) {
  Writer w;
  write_four_byte_node_id(w, kOpenSecureChannelRequestId);
  encode_request_header(w, q.request_handle, q.timeout_hint_ms, q.timestamp);
  w.u32(kProtocolVersion);
  w.i32(static_cast<int32_t>(q.request_type));
  w.i32(static_cast<int32_t>(q.mode));
  if (q.client_nonce.empty()) {
    w.null_string();
  } else {
    w.bytestring(q.client_nonce);
  }
  w.u32(q.requested_lifetime_ms);
  return std::move(w.bytes());
}

Result<OpenRequest> decode_open_request(std::string_view bytes) {
  Reader r(bytes);
  if (read_type_id(r) != kOpenSecureChannelRequestId && r.ok())
    return corruption("not an OpenSecureChannelRequest");
  OpenRequest q;
  skip_node_id(r);
  q.timestamp = r.datetime("RequestHeader Timestamp");
  q.request_handle = r.u32("RequestHeader RequestHandle");
  r.u32("RequestHeader ReturnDiagnostics");
  r.string("RequestHeader AuditEntryId");
  q.timeout_hint_ms = r.u32("RequestHeader TimeoutHint");
  skip_extension_object(r);
  r.u32("ClientProtocolVersion");
  q.request_type = static_cast<RequestType>(r.i32("RequestType"));
  q.mode = static_cast<SecurityMode>(r.i32("SecurityMode"));
  q.client_nonce = r.bytestring("ClientNonce");
  q.requested_lifetime_ms = r.u32("RequestedLifetime");
  SLUICE_RETURN_IF_ERROR(r.status().with_context("OpenSecureChannelRequest"));
  return q;
}

Bytes encode_open_response(const OpenResponse& p) {
  Writer w;
  write_four_byte_node_id(w, kOpenSecureChannelResponseId);
  w.datetime(0);
  w.u32(p.request_handle);
  w.u32(p.service_result);
  w.u8(0);    // no DiagnosticInfo
  w.i32(-1);  // no StringTable
  w.u8(kNodeIdTwoByte);
  w.u8(0);
  w.u8(0);
  w.u32(p.server_protocol_version);
  w.u32(p.token.channel_id);
  w.u32(p.token.token_id);
  w.datetime(p.token.created_at);
  w.u32(p.token.revised_lifetime_ms);
  w.bytestring(p.server_nonce);
  return std::move(w.bytes());
}

Result<OpenResponse> decode_open_response(std::string_view bytes) {
  Reader r(bytes);
  uint32_t type = read_type_id(r);
  SLUICE_RETURN_IF_ERROR(r.status().with_context("OpenSecureChannel response"));
  OpenResponse p;
  ResponseHeaderSummary header = read_response_header(r);
  SLUICE_RETURN_IF_ERROR(r.status().with_context("OpenSecureChannel response"));
  if (type == kServiceFaultId)
    return Status(Code::kUnavailable, "the server refused OpenSecureChannel with a ServiceFault: " +
                                          status_code_text(header.service_result));
  if (type != kOpenSecureChannelResponseId)
    return corruption("OpenSecureChannel answered with type id " + std::to_string(type));
  if ((header.service_result & 0x80000000u) != 0)
    return Status(Code::kUnavailable, "the server refused OpenSecureChannel: " +
                                          status_code_text(header.service_result));
  p.request_handle = header.request_handle;
  p.service_result = header.service_result;
  p.server_protocol_version = r.u32("ServerProtocolVersion");
  p.token.channel_id = r.u32("ChannelId");
  p.token.token_id = r.u32("TokenId");
  p.token.created_at = r.datetime("CreatedAt");
  p.token.revised_lifetime_ms = r.u32("RevisedLifetime");
  p.server_nonce = r.bytestring("ServerNonce");
  SLUICE_RETURN_IF_ERROR(r.status().with_context("OpenSecureChannelResponse"));
  return p;
}

Bytes encode_close_request(uint32_t request_handle) {
  Writer w;
  write_four_byte_node_id(w, kCloseSecureChannelRequestId);
  encode_request_header(w, request_handle, 0, 0);
  return std::move(w.bytes());
}

std::string status_code_text(uint32_t status) {
  static constexpr std::array<std::pair<uint32_t, std::string_view>, 43> kNames = {{
      {0x80010000u, "BadUnexpectedError"},
      {0x80020000u, "BadInternalError"},
      {0x80030000u, "BadOutOfMemory"},
      {0x80040000u, "BadResourceUnavailable"},
      {0x80050000u, "BadCommunicationError"},
      {0x80060000u, "BadEncodingError"},
      {0x80070000u, "BadDecodingError"},
      {0x80080000u, "BadEncodingLimitsExceeded"},
      {0x800a0000u, "BadTimeout"},
      {0x800b0000u, "BadServiceUnsupported"},
      {0x800c0000u, "BadShutdown"},
      {0x800d0000u, "BadServerNotConnected"},
      {0x800e0000u, "BadServerHalted"},
      {0x80130000u, "BadSecurityChecksFailed"},
      {0x80120000u, "BadCertificateInvalid"},
      {0x801a0000u, "BadCertificateUntrusted"},
      {0x80170000u, "BadCertificateUriInvalid"},
      {0x80140000u, "BadCertificateTimeInvalid"},
      {0x80180000u, "BadCertificateUseNotAllowed"},
      {0x80240000u, "BadNonceInvalid"},
      {0x80220000u, "BadSecureChannelIdInvalid"},
      {0x807d0000u, "BadTcpServerTooBusy"},
      {0x807e0000u, "BadTcpMessageTypeInvalid"},
      {0x807f0000u, "BadTcpSecureChannelUnknown"},
      {0x80800000u, "BadTcpMessageTooLarge"},
      {0x80810000u, "BadTcpNotEnoughResources"},
      {0x80820000u, "BadTcpInternalError"},
      {0x80830000u, "BadTcpEndpointUrlInvalid"},
      {0x80840000u, "BadRequestInterrupted"},
      {0x80850000u, "BadRequestTimeout"},
      {0x80860000u, "BadSecureChannelClosed"},
      {0x80870000u, "BadSecureChannelTokenUnknown"},
      {0x80880000u, "BadSequenceNumberInvalid"},
      {0x80be0000u, "BadProtocolVersionUnsupported"},
      {0x80550000u, "BadSecurityPolicyRejected"},
      {0x80540000u, "BadSecurityModeRejected"},
      {0x80b80000u, "BadRequestTooLarge"},
      {0x80b90000u, "BadResponseTooLarge"},
      {0x80100000u, "BadTooManyOperations"},
      {0x80230000u, "BadInvalidTimestamp"},
      {0x80ae0000u, "BadConnectionClosed"},
      {0x80530000u, "BadRequestTypeInvalid"},
      {0x80b70000u, "BadMaxConnectionsReached"},
  }};
  std::array<char, 16> hex{};
  std::snprintf(hex.data(), hex.size(), "0x%08X", status);
  std::string text(hex.data());
  for (const auto& [code, name] : kNames)
    if (code == (status & 0xffff0000u)) return std::string(name) + " (" + text + ")";
  return text;
}

}  // namespace sluice::opcua::uasc
