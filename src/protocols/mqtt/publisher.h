// An MQTT publisher for outbound deliveries (the rules engine's notifications, command replies):
// publish() sends one message at QoS 0 or 1 and, at QoS 1, returns only once the broker
// acknowledged it (PUBACK). It is built on the same client connection as the mqtt source
// (connection.h) and keeps one connection open between calls.
//
// Connection life. The first publish() connects (clean session). A connection that was lost
// (the broker restarted, the network dropped it) is noticed before or while the message is sent,
// and publish() connects again once within the same call; if that fails too, the error says what
// happened, e.g. "cannot publish to 'alarms/line1': connection refused by 127.0.0.1:1883: not
// authorized", or after a loss both steps: "...: lost the connection to 127.0.0.1:1883: the
// broker closed the connection; then cannot connect to 127.0.0.1:1883: connection refused (is the
// broker running?)". Between calls no thread runs the connection, so nothing answers the broker's
// keep-alive: a connection idle for longer than keep_alive is not trusted (the broker may have
// dropped it after 1.5 × keep_alive, or a NAT in between may have) and is replaced by a new one
// before the message goes out. Deliveries are not hot, so a reconnect after a quiet spell costs
// nothing that matters, and no background thread is needed.
//
// Delivery guarantee: QoS 1 is at least once: when the connection is lost after the PUBLISH was
// written but before its PUBACK, the message is sent again on the new connection, so the broker
// may get it twice. QoS 0 is at most once. QoS 2 is not offered.
//
// Threads: every method may be called from any thread; calls are serialized by a mutex (a
// publish waits for the one before it).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "protocols/mqtt/connection.h"
#include "protocols/mqtt/packet.h"

namespace sluice::mqtt {

struct PublisherOptions {
  std::string host = "localhost";
  int port = 1883;
  // "": the broker assigns one (allowed with a clean session by 3.1.1 and 5). Two publishers
  // with the same client id take each other's connection over, so give each its own.
  std::string client_id;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<TlsOptions> tls;  // none: plain TCP
  Version version = Version::k311;
  uint16_t keep_alive_s = 30;  // also the idle time after which the connection is replaced
  // The longest a connect may take, within the timeout of the publish() that makes it.
  std::chrono::milliseconds connect_timeout{10'000};
};

class Publisher {
 public:
  explicit Publisher(PublisherOptions options);
  ~Publisher();  // close()
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Publishes `payload` on `topic` (a topic name: not empty, no wildcard, no NUL) at `qos` 0 or
  // 1, with the retain flag as given. Connects first if there is no usable connection. Returns
  // ok once the message was written (QoS 0) or acknowledged (QoS 1), within `timeout` in all;
  // otherwise kInvalidArgument (a bad topic or qos), kUnavailable (cannot connect, refused,
  // connection lost twice), kTimeout (no PUBACK in time), kPermissionDenied (MQTT 5: the
  // broker's PUBACK refused it, e.g. not authorized), with the broker's endpoint and reason.
  Status publish(std::string_view topic, std::string_view payload, int qos, bool retain,
                 std::chrono::milliseconds timeout);

  // Sends DISCONNECT and closes the connection, if one is open. The next publish() connects
  // again.
  void close();

  // Connections made so far (a new one after each loss or idle spell).
  uint64_t connects() const;
  std::string endpoint() const;  // "host:port"

 private:
  using SteadyClock = std::chrono::steady_clock;

  // One try over the current connection (made first if needed). *reused says whether the
  // connection existed before this try (then a loss is worth one more try).
  Status try_publish(std::string_view topic, std::string_view payload, uint8_t qos, bool retain,
                     SteadyClock::time_point deadline, bool* reused);
  Status connect(SteadyClock::time_point deadline);
  void drop_connection();  // mu_ held

  const PublisherOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<Connection> conn_;    // guarded by mu_; null: not connected
  SteadyClock::time_point last_used_;   // guarded by mu_; when conn_ last sent or received
  std::chrono::seconds keep_alive_{0};  // guarded by mu_; as the broker granted it
  std::optional<uint8_t> maximum_qos_;  // guarded by mu_; MQTT 5 CONNACK
  uint16_t next_packet_id_ = 1;         // guarded by mu_
  uint64_t connects_ = 0;               // guarded by mu_
};

}  // namespace sluice::mqtt
