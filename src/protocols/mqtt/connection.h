// One MQTT client connection to a broker (TCP or TLS), driven by its owner's thread. The owner
// (the mqtt source) calls connect(), subscribe(), then next() in a loop: next() runs the
// connection's I/O (reads, the queued writes, keep-alive pings) on the calling thread until a
// packet from the broker is complete, wake() is called, or the timeout passes.
//
// Why an own client and not Paho: the mqtt source must acknowledge a QoS 1/2 message (PUBACK,
// PUBREC) only after its samples are durable in the store, so that a crash loses nothing the
// broker still holds. Paho C sends the PUBACK itself before the application sees the message.
// Here acknowledgements are ordinary packets the owner queues with send() when it chooses.
//
// Threads: every method but wake() is called by the owner's thread only. No I/O runs while the
// owner is not inside a method (a slow store append is back-pressure on the broker, by TCP).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "protocols/mqtt/packet.h"

namespace sluice::mqtt {

struct TlsOptions {
  std::string ca_file;  // "": the system's trusted CAs
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;  // neither the chain nor the host name is checked
};

struct ConnectionOptions {
  std::string host = "localhost";
  int port = 1883;
  std::optional<TlsOptions> tls;
  ConnectOptions connect;
  // PUBLISH packets larger than this are not buffered: next() returns their first bytes (enough
  // for the topic and packet id) with Packet::truncated set, so the owner can count and
  // acknowledge them, and the rest is read and discarded.
  size_t max_packet_bytes = 16u << 20;
  // How long connect() and subscribe() wait for the network and the broker.
  std::chrono::milliseconds timeout{10'000};
};

// A complete packet from the broker. body stays valid until the next call of next().
struct Packet {
  FixedHeader header;
  std::string_view body;
  bool truncated = false;  // only the first bytes of a PUBLISH over max_packet_bytes
};

class Connection {
 public:
  explicit Connection(ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Resolves, connects, does the TLS handshake, sends CONNECT and waits for the CONNACK.
  // Returns the CONNACK if the broker accepted; otherwise why not, in words an operator can act
  // on ("connection refused by h:p: bad user name or password", "...certificate verify
  // failed..."). A stop request makes it return kCancelled.
  Result<Connack> connect(const std::stop_token& stop);

  // Sends one SUBSCRIBE with all filters and waits for its SUBACK; returns the granted codes,
  // one per filter. Packets other than the SUBACK that arrive first are kept for next().
  Result<std::vector<uint8_t>> subscribe(const std::vector<Subscription>& subscriptions,
                                         const std::stop_token& stop);

  // Runs the connection's I/O until a packet is complete (returned), or wake() was called, or
  // `timeout` passed (nullopt both). Sends PINGREQ as the keep-alive requires and fails when
  // the broker did not answer one in time. PINGRESP is handled here and never returned. An
  // error means the connection is lost; its message says why.
  Result<std::optional<Packet>> next(std::chrono::milliseconds timeout);

  // Queues bytes to send; they go out while the owner is in next() (or subscribe()).
  void send(std::string bytes);
  // Bytes queued and not yet written.
  size_t pending_send_bytes() const;

  // Makes a next() in progress (or the next one) return at once. Any thread.
  void wake();

  // Sends DISCONNECT (waiting at most `timeout` for it to be written) and closes the socket.
  void disconnect(std::chrono::milliseconds timeout);

  Version version() const;
  std::string endpoint() const;  // "host:port"

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::mqtt
