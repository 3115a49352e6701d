// The MQTT publisher: one connection, made on demand and replaced after a loss or an idle spell
// longer than keep alive (see publisher.h for why), driven only inside publish() and close().
#include "protocols/mqtt/publisher.h"

#include <fmt/format.h>

#include <algorithm>
#include <stop_token>

namespace sluice::mqtt {
namespace {

using std::chrono::milliseconds;

constexpr size_t kMaxTopicBytes = 65535;
// Room in a PUBLISH for the topic's length, the packet id and the property block.
constexpr size_t kPublishOverhead = 2 + kMaxTopicBytes + 2 + 8;
// How long a look at an idle connection waits for what the broker may have sent meanwhile (a
// close, a DISCONNECT): what is there is already in the kernel, so this is enough.
constexpr milliseconds kLivenessPoll{1};
// How long each wait for the PUBACK or for the write may take before the deadline is checked.
constexpr milliseconds kWaitSlice{100};
// MQTT 5 reason codes from 0x80 on are refusals (MQTT 5.0, 2.4).
constexpr uint8_t kFirstFailureReason = 0x80;
constexpr uint8_t kNotAuthorized = 0x87;

Status lost(std::string why) { return {Code::kUnavailable, std::move(why)}; }

// What is wrong with a topic name for a PUBLISH, or "".
std::string check_topic_name(std::string_view topic) {
  if (topic.empty()) return "the topic is empty";
  if (topic.size() > kMaxTopicBytes) {
    return fmt::format("the topic has {} bytes; at most {}", topic.size(), kMaxTopicBytes);
  }
  if (topic.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) {
    return "a topic name for a message has no wildcards (+, #) and no NUL";
  }
  return "";
}

}  // namespace

Publisher::Publisher(PublisherOptions options) : options_(std::move(options)) {}

Publisher::~Publisher() { close(); }

std::string Publisher::endpoint() const {
  return fmt::format("{}:{}", options_.host, options_.port);
}

uint64_t Publisher::connects() const {
  std::lock_guard lock(mu_);
  return connects_;
}

void Publisher::close() {
  std::lock_guard lock(mu_);
  if (conn_) conn_->disconnect(milliseconds(1000));
  conn_.reset();
}

void Publisher::drop_connection() {
  if (conn_) conn_->disconnect(milliseconds(0));
  conn_.reset();
}

Status Publisher::publish(std::string_view topic, std::string_view payload, int qos, bool retain,
                          milliseconds timeout) {
  if (std::string bad = check_topic_name(topic); !bad.empty()) {
    return invalid_argument(fmt::format("cannot publish to '{}': {}", topic, bad));
  }
  if (qos != 0 && qos != 1) {
    return invalid_argument(
        fmt::format("cannot publish to '{}': QoS {} is not offered; use 0 or 1", topic, qos));
  }
  if (payload.size() > kMaxRemainingLength - kPublishOverhead) {
    return invalid_argument(
        fmt::format("cannot publish to '{}': a payload of {} bytes is over "
                    "MQTT's packet limit",
                    topic, payload.size()));
  }
  std::lock_guard lock(mu_);
  const auto deadline = SteadyClock::now() + timeout;
  bool reused = false;
  Status st = try_publish(topic, payload, static_cast<uint8_t>(qos), retain, deadline, &reused);
  if (!st.ok() && st.code() == Code::kUnavailable && reused) {
    // The connection kept from an earlier call was lost: one more try on a new one.
    const std::string first = st.message();
    st = try_publish(topic, payload, static_cast<uint8_t>(qos), retain, deadline, &reused);
    if (!st.ok()) st = Status(st.code(), first + "; then " + st.message());
  }
  if (st.ok()) return st;
  return Status(st.code(), fmt::format("cannot publish to '{}': {}", topic, st.message()));
}

Status Publisher::connect(SteadyClock::time_point deadline) {
  ConnectionOptions copts;
  copts.host = options_.host;
  copts.port = options_.port;
  copts.tls = options_.tls;
  copts.connect.version = options_.version;
  copts.connect.client_id = options_.client_id;
  copts.connect.clean_start = true;
  copts.connect.keep_alive_s = options_.keep_alive_s;
  copts.connect.username = options_.username;
  copts.connect.password = options_.password;
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
  copts.timeout = std::clamp(left, milliseconds(1), options_.connect_timeout);
  auto conn = std::make_unique<Connection>(std::move(copts));
  Result<Connack> ack = conn->connect(std::stop_token());
  if (!ack.ok()) return ack.status();
  keep_alive_ = std::chrono::seconds(ack->server_keep_alive.value_or(options_.keep_alive_s));
  maximum_qos_ = ack->maximum_qos;
  conn_ = std::move(conn);
  last_used_ = SteadyClock::now();
  ++connects_;
  return Status::ok_status();
}

Status Publisher::try_publish(std::string_view topic, std::string_view payload, uint8_t qos,
                              bool retain, SteadyClock::time_point deadline, bool* reused) {
  const std::string ep = endpoint();
  if (conn_ && keep_alive_.count() > 0 && SteadyClock::now() - last_used_ >= keep_alive_) {
    drop_connection();  // idle past keep alive: the broker may have dropped it
  }
  *reused = conn_ != nullptr;
  if (!conn_) {
    SLUICE_RETURN_IF_ERROR(connect(deadline));
  } else {
    // Whatever came while the connection sat idle: a close or a DISCONNECT means it is gone,
    // late PUBACKs of timed-out calls are dropped.
    while (true) {
      Result<std::optional<Packet>> p = conn_->next(kLivenessPoll);
      if (!p.ok()) {
        drop_connection();
        return lost(fmt::format("lost the connection to {}: {}", ep, p.status().message()));
      }
      if (!p->has_value()) break;
      if ((*p)->header.type == PacketType::kDisconnect) {
        drop_connection();
        return lost(fmt::format("{} closed the connection", ep));
      }
    }
  }
  if (maximum_qos_ && qos > *maximum_qos_) {
    return failed_precondition(
        fmt::format("{} accepts at most QoS {} (MQTT 5 maximum QoS); use qos {}", ep, *maximum_qos_,
                    *maximum_qos_));
  }

  Publish out;
  out.topic = topic;
  out.payload = payload;
  out.qos = qos;
  out.retain = retain;
  if (qos > 0) {
    out.packet_id = next_packet_id_;
    next_packet_id_ = next_packet_id_ == UINT16_MAX ? 1 : next_packet_id_ + 1;
  }
  conn_->send(encode_publish(conn_->version(), out));

  // QoS 0: done once written. QoS 1: done at the PUBACK of this packet id.
  while (true) {
    if (qos == 0 && conn_->pending_send_bytes() == 0) break;
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      drop_connection();  // a connection that does not answer is not kept
      return Status(Code::kTimeout, qos == 0 ? fmt::format("could not write to {} in time", ep)
                                             : fmt::format("no PUBACK from {} in time", ep));
    }
    const auto slice = std::min(
        kWaitSlice, std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1));
    Result<std::optional<Packet>> p = conn_->next(slice);
    if (!p.ok()) {
      drop_connection();
      return lost(fmt::format("lost the connection to {}: {}", ep, p.status().message()));
    }
    if (!p->has_value()) continue;
    const Packet& packet = **p;
    if (packet.header.type == PacketType::kDisconnect) {
      Result<Disconnect> d = decode_disconnect(conn_->version(), packet.header, packet.body);
      std::string why = d.ok() ? reason_text(conn_->version(), d->reason) : "no reason given";
      if (d.ok() && !d->reason_string.empty()) why += " (" + d->reason_string + ")";
      drop_connection();
      return lost(fmt::format("{} disconnected: {}", ep, why));
    }
    if (qos == 0 || packet.header.type != PacketType::kPuback) continue;
    Result<Ack> ack = decode_ack(conn_->version(), packet.header, packet.body);
    if (!ack.ok()) {
      drop_connection();
      return lost(fmt::format("{}: {}", ep, ack.status().message()));
    }
    if (ack->packet_id != out.packet_id) continue;  // a late one of an earlier call
    if (ack->reason >= kFirstFailureReason) {
      last_used_ = SteadyClock::now();
      const Code code =
          ack->reason == kNotAuthorized ? Code::kPermissionDenied : Code::kUnavailable;
      return Status(code, fmt::format("{} refused the message: {}", ep,
                                      reason_text(conn_->version(), ack->reason)));
    }
    break;
  }
  last_used_ = SteadyClock::now();
  return Status::ok_status();
}

}  // namespace sluice::mqtt
