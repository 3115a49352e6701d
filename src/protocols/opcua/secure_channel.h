// The client side of one OPC UA secure channel over UA TCP (Part 6, 6.7 and 7.1): connects,
// exchanges Hello/Acknowledge, opens the channel (OpenSecureChannel Issue) with security policy
// None or Basic256Sha256 (modes None, Sign, SignAndEncrypt), renews its security token at 75 %
// of the token's lifetime, and carries service requests and responses for the session layer as
// opaque bytes (type-id NodeId + body), chunked, signed and encrypted as negotiated.
//
// Threads: a channel owns one I/O thread that does every read, write, timer and callback. open()
// and close() may be called from any thread but the I/O thread (close() interrupts an open() in
// progress); call() from any thread but the I/O thread; call_async() and the accessors from any
// thread. Callbacks run on the I/O thread: they must not block, must not call call() (it would
// wait for the thread it blocks) and must not destroy the channel; call_async() is fine, and so
// is close() (it then returns at once and the destructor waits for the I/O thread).
//
// Failure: a lost connection, an ERR message, or bytes that fail their checks (bad signature,
// sequence gap, size over a limit) break the channel: every outstanding call fails (kUnavailable
// for a lost connection or ERR, kCorruption naming what was wrong and where) and so does every
// later one. Reconnecting is the owner's job: it makes a new channel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "protocols/opcua/binary.h"
#include "protocols/opcua/crypto.h"
#include "protocols/opcua/uasc.h"

namespace sluice::opcua {

using uasc::SecurityMode;
using uasc::SecurityPolicy;
using uasc::TransportLimits;

inline constexpr std::string_view kSecurityPolicyNoneUri = uasc::kPolicyUriNone;
inline constexpr std::string_view kSecurityPolicyBasic256Sha256Uri = uasc::kPolicyUriBasic256Sha256;
inline constexpr std::string_view kRsaSha256AlgorithmUri = uasc::kAlgorithmRsaSha256;
inline constexpr std::string_view kRsaOaepAlgorithmUri = uasc::kAlgorithmRsaOaep;

struct SecureChannelConfig {
  std::string endpoint_url;  // opc.tcp://host[:port][/path]; port 4840 if absent
  SecurityPolicy policy = SecurityPolicy::kNone;
  SecurityMode mode = SecurityMode::kNone;  // None with policy None; Sign or SignAndEncrypt else
  // Basic256Sha256: this client's certificate and key, and the server's certificate (DER, e.g.
  // from GetEndpoints over a None channel).
  ApplicationIdentity client;
  Bytes server_certificate;
  std::chrono::milliseconds requested_lifetime{3'600'000};
  std::chrono::milliseconds connect_timeout{10'000};  // TCP connect + Hello/Acknowledge
  std::chrono::milliseconds request_timeout{10'000};  // each call, and OpenSecureChannel
  // What this client offers in Hello: the chunk sizes it receives and sends, and the largest
  // response (bytes of body, 0 = no limit) and chunk count (0 = no limit) it accepts.
  TransportLimits limits;
};

// What the server answered in Acknowledge and OpenSecureChannel.
struct ChannelInfo {
  TransportLimits server_limits;  // the server's Acknowledge
  size_t send_chunk_size = 0;     // min(our send buffer, the server's receive buffer)
  uint32_t channel_id = 0;
  uint32_t token_id = 0;
  std::chrono::milliseconds revised_lifetime{0};
  uint32_t tokens_issued = 0;    // 1 after open(), +1 per renewal
  uint64_t chunks_sent = 0;      // MSG chunks
  uint64_t chunks_received = 0;  // MSG chunks
  uint64_t messages_received = 0;
};

class SecureChannel {
 public:
  using Callback = std::function<void(Result<Bytes>)>;

  explicit SecureChannel(SecureChannelConfig config);
  ~SecureChannel();  // close(); not from a callback (the I/O thread cannot join itself)
  SecureChannel(const SecureChannel&) = delete;
  SecureChannel& operator=(const SecureChannel&) = delete;

  // Connects and opens the channel; once. kUnavailable if the server cannot be reached, sends
  // ERR or refuses OpenSecureChannel (with its status code); kTimeout; kAborted if close() was
  // called meanwhile; kInvalidArgument for a bad URL or configuration.
  Status open();

  // Sends one request (type-id NodeId + body) and waits for its response (the same form).
  // timeout 0 means the configured request_timeout. kTimeout if no response came in time (the
  // channel stays usable; a late response is dropped), kResourceExhausted if the request is
  // larger than the server accepts, the channel's error if it is broken.
  Result<Bytes> call(std::string_view request,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
  // The same without waiting: `done` runs once on the I/O thread with the response or error.
  void call_async(Bytes request, Callback done,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds{0});

  // Sends CloseSecureChannel (if open) and closes the socket; outstanding calls fail with
  // kAborted. Idempotent.
  void close();

  // ok while the channel is open; otherwise why not (not opened yet, broken, closed).
  Status status() const;
  ChannelInfo info() const;

  // For the session layer (Basic256Sha256; kFailedPrecondition under policy None).
  const Certificate& client_certificate() const;
  const Certificate& server_certificate() const;
  Bytes client_nonce() const;  // of the current token
  Bytes server_nonce() const;  // of the current token
  std::string_view security_policy_uri() const;
  // RSA-SHA256 with the client's key (ActivateSession's clientSignature).
  Result<Bytes> sign_with_client_key(std::string_view data) const;
  // RSA-OAEP-SHA1 for the server's key (an encrypted UserNameIdentityToken secret).
  Result<Bytes> encrypt_for_server(std::string_view data) const;
  // RSA-SHA256 with the server's key (CreateSessionResponse's serverSignature).
  Status verify_server_signature(std::string_view data, std::string_view signature) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits an endpoint URL into host, port and path. kInvalidArgument names what is wrong.
struct EndpointAddress {
  std::string host;
  uint16_t port = 4840;
  std::string path;
};
Result<EndpointAddress> parse_endpoint_url(std::string_view url);

}  // namespace sluice::opcua
