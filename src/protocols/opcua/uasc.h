// UA TCP and UA Secure Conversation framing (Part 6, 7.1 and 6.7), as pure functions on bytes:
// the transport header, Hello/Acknowledge/Error, the secure chunk (message header, asymmetric or
// symmetric security header, sequence header, body, padding, signature) with its security
// applied or removed, sequence-number checking, reassembly of chunks into messages, the key
// derivation, and the OpenSecureChannel request/response bodies. The secure channel
// (secure_channel.h) does the I/O and the state; the tests and the fuzz target drive these
// functions directly, and a test peer uses them from the server's side (every function takes
// "local" and "remote" keys, not "client" and "server").
//
// A decoder distrusts its input: every size and count read from the wire is checked against the
// bytes present and the negotiated limits before it is used; failures are kCorruption naming
// the field and its offset.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "protocols/opcua/binary.h"
#include "protocols/opcua/crypto.h"

namespace sluice::opcua::uasc {

// --- UA TCP (Part 6, 7.1) ---

enum class MessageType : uint8_t {
  kHello,         // HEL
  kAcknowledge,   // ACK
  kError,         // ERR
  kReverseHello,  // RHE
  kMessage,       // MSG
  kOpen,          // OPN
  kClose,         // CLO
};
std::string_view message_type_name(MessageType type);  // "HEL", "MSG", ...

inline constexpr char kChunkFinal = 'F';
inline constexpr char kChunkIntermediate = 'C';
inline constexpr char kChunkAbort = 'A';

inline constexpr size_t kTransportHeaderSize = 8;          // MessageType[3] ChunkType MessageSize
inline constexpr size_t kSecureMessageHeaderSize = 12;     // + SecureChannelId
inline constexpr size_t kSymmetricSecurityHeaderSize = 4;  // TokenId
inline constexpr size_t kSequenceHeaderSize = 8;           // SequenceNumber RequestId
inline constexpr uint32_t kMinBufferSize = 8192;           // the smallest chunk either side allows
inline constexpr uint32_t kProtocolVersion = 0;
inline constexpr size_t kMaxEndpointUrlLength = 4096;
inline constexpr size_t kMaxErrorReasonLength = 4096;
inline constexpr size_t kMaxPolicyUriLength = 256;
// Sequence numbers wrap after this value to one below kSequenceWrapLimit (Part 6, 6.7.2.4).
inline constexpr uint32_t kSequenceWrapAfter = 4294966271u;  // UInt32.MaxValue - 1024
inline constexpr uint32_t kSequenceWrapLimit = 1024;

struct TransportHeader {
  MessageType type = MessageType::kMessage;
  char chunk_type = kChunkFinal;
  uint32_t size = 0;  // the whole chunk, header included
};

// Decodes the first 8 bytes of a chunk. Refuses an unknown type, a chunk type other than F for
// HEL/ACK/ERR/RHE/OPN/CLO, and a size below the type's smallest header or above max_size.
Result<TransportHeader> decode_transport_header(std::string_view bytes, uint32_t max_size);

// Hello and Acknowledge carry the same limits (Part 6, 7.1.2.3 and 7.1.2.4). 0 for
// max_message_size and max_chunk_count means no limit.
struct TransportLimits {
  uint32_t protocol_version = kProtocolVersion;
  uint32_t receive_buffer_size = 65536;
  uint32_t send_buffer_size = 65536;
  uint32_t max_message_size = 16 * 1024 * 1024;
  uint32_t max_chunk_count = 0;
};

Bytes encode_hello(const TransportLimits& limits, std::string_view endpoint_url);
Bytes encode_acknowledge(const TransportLimits& limits);  // the test peer's side
Bytes encode_error(uint32_t status, std::string_view reason);
// `bytes` is the whole message, header included.
Result<TransportLimits> decode_acknowledge(std::string_view bytes);
struct HelloMessage {
  TransportLimits limits;
  std::string endpoint_url;
};
Result<HelloMessage> decode_hello(std::string_view bytes);
struct ErrorMessage {
  uint32_t status = 0;
  std::string reason;
};
Result<ErrorMessage> decode_error(std::string_view bytes);

// --- Security policies (Part 7) ---

enum class SecurityPolicy { kNone, kBasic256Sha256 };
enum class SecurityMode : int32_t { kNone = 1, kSign = 2, kSignAndEncrypt = 3 };

inline constexpr std::string_view kPolicyUriNone =
    "http://opcfoundation.org/UA/SecurityPolicy#None";
inline constexpr std::string_view kPolicyUriBasic256Sha256 =
    "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";
inline constexpr std::string_view kAlgorithmRsaSha256 =
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
inline constexpr std::string_view kAlgorithmRsaOaep = "http://www.w3.org/2001/04/xmlenc#rsa-oaep";

std::string_view policy_uri(SecurityPolicy policy);
std::string_view mode_name(SecurityMode mode);
// Basic256Sha256's SecureChannelNonceLength.
inline constexpr size_t kNonceLength = 32;

// One direction's symmetric keys (Part 6, 6.7.5).
struct SymmetricKeys {
  Bytes signing_key;     // 32 bytes, HMAC-SHA256
  Bytes encrypting_key;  // 32 bytes, AES-256-CBC
  Bytes iv;              // 16 bytes
};
struct ChannelKeys {
  SymmetricKeys client;  // what the client signs and encrypts with
  SymmetricKeys server;  // what the server signs and encrypts with
};
// Client keys = P_SHA256(secret = server nonce, seed = client nonce), server keys the other way.
ChannelKeys derive_keys(std::string_view client_nonce, std::string_view server_nonce);

// --- Secure chunks (Part 6, 6.7.2) ---

struct SequenceHeader {
  uint32_t sequence_number = 0;
  uint32_t request_id = 0;
};

// One secure chunk after its security has been removed.
struct Chunk {
  MessageType type = MessageType::kMessage;
  char chunk_type = kChunkFinal;
  uint32_t channel_id = 0;
  // Asymmetric security header (OPN only).
  std::string policy_uri;
  Bytes sender_certificate;
  Bytes receiver_thumbprint;
  // Symmetric security header (MSG, CLO).
  uint32_t token_id = 0;
  SequenceHeader sequence;
  Bytes body;
};

// What one side needs to secure an OPN chunk: its own certificate and private key (sign,
// decrypt) and the peer's certificate (encrypt, verify). Unused for SecurityPolicy None.
struct AsymmetricContext {
  SecurityPolicy policy = SecurityPolicy::kNone;
  SecurityMode mode = SecurityMode::kNone;  // OPN is signed and encrypted for Sign too
  uint32_t channel_id = 0;
  const Certificate* local_certificate = nullptr;
  const PKey* local_key = nullptr;
  const Certificate* remote_certificate = nullptr;
};

// The largest body an OPN chunk of `chunk_size` bytes can carry.
size_t asymmetric_max_body(const AsymmetricContext& ctx, size_t chunk_size);
Result<Bytes> encode_asymmetric_chunk(const AsymmetricContext& ctx, SequenceHeader sequence,
                                      std::string_view body);
// Checks the policy URI against ctx.policy; for Basic256Sha256 that the sender certificate is
// ctx.remote_certificate and the thumbprint is ctx.local_certificate's, then decrypts with
// ctx.local_key, verifies the signature with the remote certificate and removes the padding.
Result<Chunk> decode_asymmetric_chunk(const AsymmetricContext& ctx, std::string_view bytes);

// What one side needs to secure a MSG or CLO chunk.
struct SymmetricContext {
  SecurityMode mode = SecurityMode::kNone;
  uint32_t channel_id = 0;
  uint32_t token_id = 0;
  const SymmetricKeys* keys = nullptr;  // the sender's (encode) or the peer's (decode)
};

size_t symmetric_max_body(SecurityMode mode, size_t chunk_size);
Result<Bytes> encode_symmetric_chunk(MessageType type, char chunk_type, const SymmetricContext& ctx,
                                     SequenceHeader sequence, std::string_view body);
// The keys for the chunk's token id, or nullptr if the token is unknown (or expired).
using KeyLookup = std::function<const SymmetricKeys*(uint32_t token_id)>;
// Checks the channel id against `channel_id`, finds the token's keys, decrypts, verifies the
// HMAC (in constant time) and removes the padding.
Result<Chunk> decode_symmetric_chunk(SecurityMode mode, uint32_t channel_id, const KeyLookup& keys,
                                     std::string_view bytes);

// Splits `body` into MSG/CLO chunks of at most `chunk_size` bytes, numbering them from
// *next_sequence (advanced, with the wrap rule). kResourceExhausted if more than max_chunks
// (0 = no limit) or more than max_message_size body bytes (0 = no limit) would be needed.
Result<std::vector<Bytes>> encode_symmetric_message(MessageType type, const SymmetricContext& ctx,
                                                    uint32_t request_id, std::string_view body,
                                                    size_t chunk_size, uint32_t max_chunks,
                                                    uint32_t max_message_size,
                                                    uint32_t* next_sequence);

uint32_t next_sequence_number(uint32_t current);

// Checks that each received sequence number is the previous one plus one (or wraps as Part 6
// allows). The first one is taken as it comes.
class SequenceChecker {
 public:
  Status check(uint32_t sequence_number);

 private:
  bool started_ = false;
  uint32_t last_ = 0;
};

// A whole message put together from its chunks, or an aborted one.
struct AssembledMessage {
  MessageType type = MessageType::kMessage;
  uint32_t request_id = 0;
  Bytes body;
  bool aborted = false;  // an 'A' chunk: the sender gave up on this message
  uint32_t abort_status = 0;
  std::string abort_reason;
};

// Puts chunks together per request id. max_message_size bounds the sum of a message's body
// bytes and max_chunk_count its chunks (0 = no limit); max_partial bounds the messages in
// progress at once.
class MessageAssembler {
 public:
  MessageAssembler(uint32_t max_message_size, uint32_t max_chunk_count, size_t max_partial = 4096)
      : max_message_size_(max_message_size),
        max_chunk_count_(max_chunk_count),
        max_partial_(max_partial) {}

  // A complete (or aborted) message, nullopt while chunks are missing, or an error when a limit
  // is passed or an abort chunk's body is malformed.
  Result<std::optional<AssembledMessage>> add(Chunk chunk);
  size_t partial_count() const { return partial_.size(); }

 private:
  struct Partial {
    Bytes body;
    uint32_t chunks = 0;
  };
  uint32_t max_message_size_;
  uint32_t max_chunk_count_;
  size_t max_partial_;
  std::map<uint32_t, Partial> partial_;
};

// --- OpenSecureChannel and CloseSecureChannel (Part 4, 5.5; Part 6, 6.7.4) ---

inline constexpr uint16_t kOpenSecureChannelRequestId = 446;
inline constexpr uint16_t kOpenSecureChannelResponseId = 449;
inline constexpr uint16_t kCloseSecureChannelRequestId = 452;
inline constexpr uint16_t kServiceFaultId = 397;

enum class RequestType : int32_t { kIssue = 0, kRenew = 1 };

struct OpenRequest {
  uint32_t request_handle = 0;
  uint32_t timeout_hint_ms = 0;
  RequestType request_type = RequestType::kIssue;
  SecurityMode mode = SecurityMode::kNone;
  Bytes client_nonce;
  uint32_t requested_lifetime_ms = 0;
  int64_t timestamp = 0;  // DateTime ticks
};
// Type id (four-byte NodeId 446) and body.
Bytes encode_open_request(const OpenRequest& request);
Result<OpenRequest> decode_open_request(std::string_view bytes);  // the test peer's side

struct SecurityToken {
  uint32_t channel_id = 0;
  uint32_t token_id = 0;
  int64_t created_at = 0;  // DateTime ticks
  uint32_t revised_lifetime_ms = 0;
};
struct OpenResponse {
  uint32_t request_handle = 0;
  uint32_t service_result = 0;
  uint32_t server_protocol_version = 0;
  SecurityToken token;
  Bytes server_nonce;
};
Bytes encode_open_response(const OpenResponse& response);  // the test peer's side
// Decodes an OpenSecureChannelResponse; a ServiceFault or a bad ServiceResult becomes
// kUnavailable with the status code in hex and, when known, its name.
Result<OpenResponse> decode_open_response(std::string_view bytes);

// CloseSecureChannelRequest (type id 452 and a RequestHeader).
Bytes encode_close_request(uint32_t request_handle);

// A RequestHeader with a null authentication token (what OPN, CLO and GetEndpoints send).
void encode_request_header(Writer& w, uint32_t request_handle, uint32_t timeout_hint_ms,
                           int64_t timestamp);
// Skips a ResponseHeader, returning its RequestHandle and ServiceResult.
struct ResponseHeaderSummary {
  uint32_t request_handle = 0;
  uint32_t service_result = 0;
};
ResponseHeaderSummary read_response_header(Reader& r);
// Reads a NodeId and returns its numeric id in namespace 0 (0 for any other kind).
uint32_t read_type_id(Reader& r);

// "0x80AB0000" and, for the codes a channel meets, the name ("BadSecureChannelClosed").
std::string status_code_text(uint32_t status);

}  // namespace sluice::opcua::uasc
