// The mqtt source: the connect / subscribe / reconnect loop, and on the same thread the message
// path (match → parse → ingest without waiting → acknowledge once durable). Why acknowledgements
// wait for the store is explained in mqtt_source.h.
#include "sources/mqtt/mqtt_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <thread>

#include "protocols/mqtt/connection.h"
#include "protocols/mqtt/packet.h"
#include "runtime/control.h"

namespace sluice::sources {
namespace {

using runtime::HealthState;

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr size_t kMaxTopicFilterBytes = 65535;
// How long next() waits before the loop looks at the stop signal again.
constexpr auto kPoll = std::chrono::milliseconds(100);
// How long a connect or subscribe may take before it counts as failed.
constexpr auto kConnectTimeout = std::chrono::seconds(10);
// On stop: how long to wait for the last messages to become durable (so that their
// acknowledgements go out and the broker does not send them again), and for the DISCONNECT.
constexpr auto kDrainTimeout = std::chrono::seconds(2);
// Parse errors are logged at most this often (the rest are counted and summed in the next line).
constexpr int64_t kParseLogIntervalNs = 10 * kNsPerSecond;
// MQTT 5 session expiry with clean_session = false: the broker keeps the session this long.
constexpr uint32_t kSessionExpirySeconds = 7 * 24 * 3600;
constexpr uint8_t kSubscribeFailure = 0x80;
// Room for a PUBLISH's topic, packet id and properties above max_message_bytes of payload.
constexpr size_t kPublishHeaderRoom = 70 * 1024;
// Parse errors are counted under at most this many reasons (then "<format>: other"), each at
// most this long, so that a stream of varied bad payloads cannot grow the map.
constexpr size_t kMaxParseErrorReasons = 64;
constexpr size_t kMaxParseErrorReasonChars = 120;
// Failed commands are logged at most this often (the rest are counted in the next line).
constexpr int64_t kCommandLogIntervalNs = kNsPerSecond;

Result<std::unique_ptr<formats::PayloadParser>> make_parser(const ParserFactory& parsers,
                                                            const MqttSubscription& s) {
  if (s.format == kAutoFormat) return std::unique_ptr<formats::PayloadParser>();
  if (!parsers) {
    return failed_precondition("payload format '" + s.format +
                               "' is not available: no payload parsers are built into this "
                               "binary yet");
  }
  return parsers(s.format, s.parser);
}

// The reason a parse error is counted under: the format and the parser's message up to its
// first ':' or '(', with every run of digits written as N, so that "bad number at byte 17" and
// "... byte 42" count as one reason.
std::string parse_error_reason(const std::string& format, const std::string& message) {
  std::string reason = format + ": ";
  const std::string_view head = std::string_view(message).substr(0, message.find_first_of(":("));
  for (size_t i = 0; i < head.size() && reason.size() < kMaxParseErrorReasonChars; ++i) {
    if (std::isdigit(static_cast<unsigned char>(head[i])) != 0) {
      if (i == 0 || std::isdigit(static_cast<unsigned char>(head[i - 1])) == 0) reason += 'N';
    } else {
      reason += head[i];
    }
  }
  while (!reason.empty() && reason.back() == ' ') reason.pop_back();
  return reason;
}

std::string format_seconds(int64_t ms) {
  return ms % 1000 == 0 ? fmt::format("{}s", ms / 1000) : fmt::format("{:.1f}s", ms / 1000.0);
}

}  // namespace

std::string check_topic_filter(std::string_view filter) {
  if (filter.empty()) return "an empty topic filter matches nothing";
  if (filter.size() > kMaxTopicFilterBytes) return "a topic filter is at most 65535 bytes";
  if (filter.find('\0') != std::string_view::npos) return "a topic filter may not contain NUL";
  size_t level_start = 0;
  while (true) {
    const size_t slash = filter.find('/', level_start);
    const std::string_view level =
        filter.substr(level_start, slash == std::string_view::npos ? std::string_view::npos
                                                                   : slash - level_start);
    const bool last = slash == std::string_view::npos;
    if (level.find('#') != std::string_view::npos && (level != "#" || !last)) {
      return "'#' must be the whole last level, e.g. \"plant/#\"";
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return "'+' must be a whole level, e.g. \"plant/+/temperature\"";
    }
    if (last) break;
    level_start = slash + 1;
  }
  return {};
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  // Topics starting with '$' are not matched by a leading wildcard (MQTT 4.7.2).
  if (!topic.empty() && topic[0] == '$' && !filter.empty() &&
      (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  size_t f = 0;
  size_t t = 0;
  while (true) {
    const size_t f_end = std::min(filter.find('/', f), filter.size());
    const std::string_view f_level = filter.substr(f, f_end - f);
    if (f_level == "#") return true;  // matches the parent level too ("a/#" matches "a")
    if (t > topic.size()) return false;
    const size_t t_end = std::min(topic.find('/', t), topic.size());
    const std::string_view t_level = topic.substr(t, t_end - t);
    if (f_level != "+" && f_level != t_level) return false;
    const bool f_done = f_end == filter.size();
    const bool t_done = t_end == topic.size();
    if (f_done || t_done) {
      if (f_done && t_done) return true;
      // "a/#" vs topic "a": the filter has "/#" left.
      return t_done && filter.substr(f_end) == "/#";
    }
    f = f_end + 1;
    t = t_end + 1;
  }
}

// Waits on the store for the durable end of the source's stream and wakes the connection when it
// moved, so that acknowledgements go out without the connection polling the store.
struct MqttSource::Watcher {
  Watcher(runtime::SourceContext& ctx, mqtt::Connection& conn)
      : thread([this, &ctx, &conn](const std::stop_token& stop) { run(stop, ctx, conn); }) {}

  // The connection has ingested up to end_seq and waits for it to be durable.
  void need(uint64_t end_seq) {
    if (end_seq <= want.load()) return;
    {
      std::lock_guard lock(mu);
      want.store(end_seq);
    }
    cv.notify_one();
  }

  void run(const std::stop_token& stop, runtime::SourceContext& ctx, mqtt::Connection& conn) {
    while (!stop.stop_requested()) {
      const uint64_t w = want.load();
      const uint64_t d = durable.load();
      if (w <= d) {
        std::unique_lock lock(mu);
        cv.wait_for(lock, stop, kPoll, [&] { return want.load() > durable.load(); });
        continue;
      }
      const uint64_t end = ctx.wait_durable(w, kPoll);
      if (end > d) {
        durable.store(end);
        conn.wake();
      }
    }
  }

  std::atomic<uint64_t> want{0};
  std::atomic<uint64_t> durable{0};
  std::mutex mu;
  std::condition_variable_any cv;
  std::jthread thread;  // last: started after, and joined before, the members above go
};

MqttSource::MqttSource(std::string name, MqttOptions options, ParserFactory parsers)
    : Source(std::move(name)), options_(std::move(options)), parser_factory_(std::move(parsers)) {}

MqttSource::~MqttSource() = default;

uint64_t MqttSource::units_fetch_failures() const {
  std::lock_guard lock(units_mu_);
  return units_failures_before_ + (units_ ? units_->failures() : 0);
}

runtime::Health MqttSource::health() const {
  runtime::Health h = Service::health();
  if (h.state != HealthState::kHealthy && h.state != HealthState::kWarning) return h;
  std::string problem;
  {
    std::lock_guard lock(units_mu_);
    if (units_) problem = units_->problem();
  }
  if (problem.empty()) return h;
  h.reason = h.reason.empty() ? problem : h.reason + "; " + problem;
  h.state = HealthState::kWarning;
  return h;
}

std::string MqttSource::endpoint() const {
  return fmt::format("{}:{}", options_.host, options_.port);
}

std::map<std::string, uint64_t> MqttSource::parse_errors_by_reason() const {
  std::lock_guard lock(reasons_mu_);
  return reasons_;
}

void MqttSource::Mailbox::wake() {
  std::lock_guard lock(mu);
  if (conn != nullptr) conn->wake();
}

void MqttSource::stop() { mailbox_->wake(); }

Status MqttSource::start(runtime::SourceContext& ctx) {
  routes_.clear();
  std::vector<mqtt::Subscription> subscriptions;
  for (const MqttSubscription& s : options_.subscriptions) {
    Result<std::unique_ptr<formats::PayloadParser>> parser = make_parser(parser_factory_, s);
    if (!parser.ok()) {
      return Status(parser.status().code(),
                    fmt::format("subscription '{}': {}", s.filter, parser.status().message()));
    }
    routes_.push_back(Route{s, std::move(parser).value(), {}});
    subscriptions.push_back(mqtt::Subscription{s.filter, static_cast<uint8_t>(s.qos)});
  }
  if (routes_.empty()) return invalid_argument("no subscriptions: give a topic to subscribe to");
  if (!options_.command_topic.empty()) {
    subscriptions.push_back(
        mqtt::Subscription{options_.command_topic, static_cast<uint8_t>(options_.command_qos)});
  }
  if (!options_.units_api.url.empty()) {
    std::lock_guard lock(units_mu_);
    units_ = std::make_unique<KepwareUnits>(name(), options_.units_api, ctx);
  }

  mqtt::ConnectionOptions copts;
  copts.host = options_.host;
  copts.port = options_.port;
  if (options_.tls) {
    copts.tls = mqtt::TlsOptions{options_.ca_file, options_.cert_file, options_.key_file,
                                 options_.insecure_skip_verify};
  }
  copts.connect.version = options_.protocol == 5 ? mqtt::Version::k5 : mqtt::Version::k311;
  copts.connect.client_id = options_.client_id.empty() ? "sluice-" + name() : options_.client_id;
  copts.connect.clean_start = options_.clean_session;
  copts.connect.keep_alive_s = static_cast<uint16_t>(options_.keep_alive_s);
  if (!options_.username.empty()) copts.connect.username = options_.username;
  if (!options_.password.empty()) copts.connect.password = options_.password;
  copts.connect.session_expiry_s = options_.clean_session ? 0 : kSessionExpirySeconds;
  copts.connect.receive_maximum = static_cast<uint16_t>(options_.receive_maximum);
  copts.max_packet_bytes = options_.max_message_bytes + kPublishHeaderRoom;
  copts.timeout = kConnectTimeout;

  const std::string uri = fmt::format("{}://{}", options_.tls ? "mqtts" : "mqtt", endpoint());
  Clock& clock = ctx.clock();
  int64_t backoff_ms = options_.reconnect_min.count();
  set_health(HealthState::kWarning, fmt::format("connecting to {}", endpoint()));

  while (!ctx.stopping()) {
    mqtt::Connection conn(copts);
    {
      std::lock_guard lock(mailbox_->mu);
      mailbox_->conn = &conn;
    }
    std::string failure;
    bool was_connected = false;
    Result<mqtt::Connack> connack = conn.connect(ctx.stop_token());
    if (!connack.ok()) {
      failure = connack.status().message();
    } else {
      if (!connack->session_present) unacked_.clear();  // the broker has no session of ours
      due_acks_.clear();
      topic_aliases_.clear();
      max_end_seq_ = 0;
      Result<std::vector<uint8_t>> granted = conn.subscribe(subscriptions, ctx.stop_token());
      if (!granted.ok()) {
        failure = fmt::format("subscribing at {}: {}", endpoint(), granted.status().message());
      } else {
        std::string downgraded;
        if (!options_.command_topic.empty() && granted->back() >= kSubscribeFailure) {
          failure = fmt::format(
              "{} refused the subscription to the command topic '{}' ({}); check the broker's "
              "ACL for user '{}'",
              endpoint(), options_.command_topic,
              mqtt::reason_text(mqtt::Version::k5, granted->back()), options_.username);
        }
        for (size_t i = 0; i < routes_.size() && failure.empty(); ++i) {
          const uint8_t code = (*granted)[i];
          const MqttSubscription& sub = routes_[i].subscription;
          if (code >= kSubscribeFailure) {
            failure = fmt::format(
                "{} refused the subscription to '{}' ({}); check the broker's ACL for user '{}'",
                endpoint(), sub.filter, mqtt::reason_text(mqtt::Version::k5, code),
                options_.username);
          } else if (code < sub.qos) {
            downgraded += fmt::format(
                "{}the broker granted QoS {} for '{}' (asked {}): messages it sends at QoS 0 "
                "are not acknowledged and can be lost in a crash",
                downgraded.empty() ? "" : "; ", code, sub.filter, sub.qos);
          }
        }
        if (failure.empty()) {
          was_connected = true;
          connects_.fetch_add(1, std::memory_order_relaxed);
          spdlog::info(
              "source '{}': connected to {} as '{}' (MQTT {}, {} session{}), subscribed to {} "
              "filter(s)",
              name(), uri, copts.connect.client_id, options_.protocol == 5 ? "5" : "3.1.1",
              options_.clean_session ? "clean" : "persistent",
              connack->session_present ? " resumed" : "", routes_.size());
          if (downgraded.empty()) {
            set_health(HealthState::kHealthy);
          } else {
            spdlog::warn("source '{}': {}", name(), downgraded);
            set_health(HealthState::kWarning, downgraded);
          }
          backoff_ms = options_.reconnect_min.count();
          Watcher watcher(ctx, conn);
          const Status lost = run_connection(ctx, conn, watcher);
          if (lost.ok()) {
            // Stopping: acknowledge what became durable, so the broker does not resend it.
            const uint64_t end = ctx.wait_durable(max_end_seq_, kDrainTimeout);
            send_due_acks(conn, std::max(end, watcher.durable.load()));
            conn.disconnect(kDrainTimeout);
          } else {
            failure = fmt::format("lost the connection to {}: {}", endpoint(), lost.message());
          }
        }
      }
    }
    {
      std::lock_guard lock(mailbox_->mu);
      mailbox_->conn = nullptr;
    }
    if (ctx.stopping()) break;
    if (!was_connected) conn.disconnect(std::chrono::milliseconds(0));

    spdlog::warn("source '{}': {}; retrying in {}", name(), failure, format_seconds(backoff_ms));
    set_health(HealthState::kCritical,
               fmt::format("{}; retrying in {}", failure, format_seconds(backoff_ms)));
    if (!ctx.sleep_until(clock.monotonic() + backoff_ms * kNsPerMs)) break;
    backoff_ms = was_connected ? options_.reconnect_min.count()
                               : std::min<int64_t>(backoff_ms * 2, options_.reconnect_max.count());
  }

  {
    std::lock_guard lock(units_mu_);
    if (units_) {
      units_->stop();
      units_failures_before_ += units_->failures();
      units_.reset();
    }
  }
  set_health(HealthState::kNotApplicable);
  return Status::ok_status();
}

Status MqttSource::run_connection(runtime::SourceContext& ctx, mqtt::Connection& conn,
                                  Watcher& watcher) {
  const mqtt::Version version = conn.version();
  while (true) {
    send_due_acks(conn, watcher.durable.load());
    drain_commands(ctx, conn);
    if (ctx.stopping()) return Status::ok_status();
    Result<std::optional<mqtt::Packet>> next = conn.next(kPoll);
    if (!next.ok()) return next.status();
    if (!next->has_value()) continue;
    const mqtt::Packet& packet = **next;
    switch (packet.header.type) {
      case mqtt::PacketType::kPublish: {
        Result<mqtt::Publish> pub = mqtt::decode_publish(version, packet.header, packet.body);
        if (!pub.ok()) return pub.status();
        std::string_view topic = pub->topic;
        if (pub->topic_alias) {
          if (!topic.empty()) {
            topic_aliases_[*pub->topic_alias] = std::string(topic);
          } else if (auto it = topic_aliases_.find(*pub->topic_alias); it != topic_aliases_.end()) {
            topic = it->second;
          } else {
            return corruption(
                fmt::format("malformed PUBLISH packet: unknown topic alias {}", *pub->topic_alias));
          }
        }
        messages_.fetch_add(1, std::memory_order_relaxed);
        const size_t size = packet.truncated ? SIZE_MAX : pub->payload.size();
        if (pub->qos == 0) {
          (void)route_message(ctx, conn, topic, pub->payload, packet.truncated, size);
          break;
        }
        const uint64_t hash = std::hash<std::string_view>{}(topic)*1'000'003u ^
                              std::hash<std::string_view>{}(pub->payload) ^
                              (packet.truncated ? packet.header.remaining_length : 0);
        if (auto it = unacked_.find(pub->packet_id);
            it != unacked_.end() && it->second.hash == hash) {
          // Sent again after a reconnect: stored already, so only the acknowledgement is due.
          redeliveries_.fetch_add(1, std::memory_order_relaxed);
          due_acks_.push_back(DueAck{pub->packet_id, pub->qos, it->second.end_seq});
          watcher.need(it->second.end_seq);
          break;
        }
        const std::optional<uint64_t> end =
            route_message(ctx, conn, topic, pub->payload, packet.truncated, size);
        if (!end) return Status::ok_status();  // stopped while the store refused: no ack
        unacked_[pub->packet_id] = Unacked{hash, *end, false};
        due_acks_.push_back(DueAck{pub->packet_id, pub->qos, *end});
        if (*end > max_end_seq_) {
          max_end_seq_ = *end;
          watcher.need(*end);
        }
        break;
      }
      case mqtt::PacketType::kPubrel: {
        SLUICE_ASSIGN_OR_RETURN(mqtt::Ack rel,
                                mqtt::decode_ack(version, packet.header, packet.body));
        // The message was durable before its PUBREC; after a restart of Sluice the broker may
        // release one we no longer remember, which is answered the same way.
        conn.send(mqtt::encode_ack(mqtt::PacketType::kPubcomp, rel.packet_id));
        unacked_.erase(rel.packet_id);
        break;
      }
      case mqtt::PacketType::kDisconnect: {
        SLUICE_ASSIGN_OR_RETURN(mqtt::Disconnect d,
                                mqtt::decode_disconnect(version, packet.header, packet.body));
        std::string why = mqtt::reason_text(version, d.reason);
        if (!d.reason_string.empty()) why += " (" + d.reason_string + ")";
        return Status(Code::kUnavailable, "the broker disconnected us: " + why);
      }
      case mqtt::PacketType::kSuback: break;  // a late answer to a SUBSCRIBE that timed out
      default:
        return corruption(fmt::format("the broker sent an unexpected {} packet",
                                      mqtt::packet_type_name(packet.header.type)));
    }
  }
}

void MqttSource::send_due_acks(mqtt::Connection& conn, uint64_t durable_end) {
  while (!due_acks_.empty() && due_acks_.front().end_seq <= durable_end) {
    const DueAck ack = due_acks_.front();
    due_acks_.pop_front();
    if (ack.qos == 1) {
      conn.send(mqtt::encode_ack(mqtt::PacketType::kPuback, ack.packet_id));
      unacked_.erase(ack.packet_id);
    } else {
      conn.send(mqtt::encode_ack(mqtt::PacketType::kPubrec, ack.packet_id));
      if (auto it = unacked_.find(ack.packet_id); it != unacked_.end()) it->second.recorded = true;
    }
  }
}

std::optional<uint64_t> MqttSource::route_message(runtime::SourceContext& ctx,
                                                  mqtt::Connection& conn, std::string_view topic,
                                                  std::string_view payload, bool truncated,
                                                  size_t size) {
  if (!options_.command_topic.empty() && topic_matches(options_.command_topic, topic)) {
    handle_command(ctx, conn, topic, payload, truncated);
    return 0;
  }
  return process(ctx, topic, payload, truncated, size);
}

void MqttSource::handle_command(runtime::SourceContext& ctx, mqtt::Connection& conn,
                                std::string_view topic, std::string_view payload, bool truncated) {
  commands_.fetch_add(1, std::memory_order_relaxed);
  CommandResult result{std::string(topic), {}, {}};
  if (truncated || payload.size() > runtime::kMaxControlRequestBytes) {
    result.error =
        fmt::format("a command of {} is over the limit of {} bytes",
                    truncated ? std::string("this size") : fmt::format("{} bytes", payload.size()),
                    runtime::kMaxControlRequestBytes);
    finish_command(ctx, conn, result);
    return;
  }
  Result<runtime::ControlRequest> request = runtime::parse_control_request(payload);
  if (!request.ok()) {
    result.error = request.status().message();
    finish_command(ctx, conn, result);
    return;
  }
  result.described = request->describe();
  const Status queued = ctx.submit_control(
      *request, [mailbox = mailbox_, result](const Result<runtime::ControlOutcome>& outcome) {
        CommandResult r = result;
        if (!outcome.ok()) r.error = outcome.status().message();
        {
          std::lock_guard lock(mailbox->mu);
          mailbox->results.push_back(std::move(r));
        }
        mailbox->wake();
      });
  if (!queued.ok()) {
    result.error = queued.message();
    finish_command(ctx, conn, result);
  }
}

void MqttSource::drain_commands(runtime::SourceContext& ctx, mqtt::Connection& conn) {
  std::deque<CommandResult> results;
  {
    std::lock_guard lock(mailbox_->mu);
    results.swap(mailbox_->results);
  }
  for (const CommandResult& r : results) finish_command(ctx, conn, r);
}

void MqttSource::finish_command(runtime::SourceContext& ctx, mqtt::Connection& conn,
                                const CommandResult& result) {
  const std::string& error = result.error;
  if (error.empty()) {
    spdlog::info("source '{}': command on '{}': {}: done", name(), result.topic,
                 result.described);
  } else {
    const uint64_t failed = commands_failed_.fetch_add(1, std::memory_order_relaxed) + 1;
    {
      std::lock_guard lock(command_mu_);
      last_command_error_ = fmt::format("on '{}': {}", result.topic, error);
    }
    ++command_failures_unlogged_;
    const int64_t now = ctx.clock().monotonic();
    if (failed == 1 || now - last_command_log_mono_ >= kCommandLogIntervalNs) {
      spdlog::warn(
          "source '{}': command on '{}' {}: {} ({} failed command(s) since the last line, {} in "
          "all)",
          name(), result.topic,
          result.described.empty() ? "not carried out" : "'" + result.described + "' refused",
          error, command_failures_unlogged_, failed);
      last_command_log_mono_ = now;
      command_failures_unlogged_ = 0;
    }
  }
  if (!options_.command_reply_topic.empty()) {
    nlohmann::json reply = {{"ok", error.empty()}, {"error", error}, {"request", result.described}};
    mqtt::Publish out;
    out.topic = options_.command_reply_topic;
    const std::string text = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.payload = text;
    conn.send(mqtt::encode_publish(conn.version(), out));
  }
}

std::string MqttSource::last_command_error() const {
  std::lock_guard lock(command_mu_);
  return last_command_error_;
}

runtime::SinkDetails MqttSource::details() const {
  if (options_.command_topic.empty()) return {};
  return {{"commands", std::to_string(commands())},
          {"commands_failed", std::to_string(commands_failed())},
          {"last_command_error", last_command_error()}};
}

std::optional<uint64_t> MqttSource::process(runtime::SourceContext& ctx, std::string_view topic,
                                            std::string_view payload, bool truncated, size_t size) {
  Route* route = nullptr;
  for (Route& r : routes_) {
    if (topic_matches(r.subscription.filter, topic)) {
      route = &r;
      break;
    }
  }
  if (route == nullptr) {  // a retained or shared message outside our filters: nothing to do
    unmatched_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  const std::string& format = route->subscription.format;
  if (truncated || size > options_.max_message_bytes) {
    oversized_.fetch_add(1, std::memory_order_relaxed);
    count_parse_error(
        ctx, format, topic,
        fmt::format("message too large: {} is over max_message_bytes ({} bytes)",
                    truncated ? std::string("the message") : fmt::format("{} bytes", size),
                    options_.max_message_bytes));
    return 0;
  }
  formats::PayloadParser* parser = route->parser.get();
  std::string_view parsed_as = format;
  if (parser == nullptr) {  // "auto"
    parsed_as = formats::detect_format(payload);
    if (parsed_as.empty()) {
      count_parse_error(ctx, format, topic,
                        "cannot tell the format: not Kepware IoT Gateway JSON, SenML or "
                        "OpenMetrics text; set format to the one the publisher uses");
      return 0;
    }
    auto it = route->detected.find(parsed_as);
    if (it == route->detected.end()) {
      Result<std::unique_ptr<formats::PayloadParser>> made =
          parser_factory_(parsed_as, route->subscription.parser);
      if (!made.ok()) {
        count_parse_error(ctx, format, topic, made.status().message());
        return 0;
      }
      it = route->detected.emplace(std::string(parsed_as), std::move(made).value()).first;
    }
    parser = it->second.get();
  }
  formats::ParseContext pctx;
  pctx.topic = topic;
  pctx.receive_time = ctx.clock().now();
  formats::Parsed parsed;
  Status st = parser->parse(payload, pctx, &parsed);
  if (!st.ok()) {
    // It can never succeed: count it, say so, and acknowledge it so the broker lets it go.
    count_parse_error(
        ctx, format, topic,
        parsed_as == format ? st.message() : fmt::format("as {}: {}", parsed_as, st.message()));
    return 0;
  }
  if (!parsed.meta.empty()) {
    // Units and labels the payload carries (SenML, OpenMetrics) go to the state database; a
    // failure there costs the metadata, never the samples.
    Status meta = ctx.update_series(parsed.meta);
    if (!meta.ok()) {
      spdlog::warn("source '{}': series metadata not kept: {}", name(), meta.message());
    }
  }
  if (parsed.batch.empty()) return 0;
  if (parsed_as == "kepware") {
    // Queues devices whose units are not known yet; the HTTP happens on the units worker.
    std::lock_guard lock(units_mu_);
    if (units_) {
      for (const Sample& s : parsed.batch.samples) units_->note(s.series);
    }
  }
  const size_t n = parsed.batch.size();
  // The parsed batch goes to the store as it is (no copy); should the store refuse it, the
  // retry parses the payload again (the same bytes and receive time give the same samples).
  const auto again = [&]() {
    formats::Parsed reparsed;
    (void)parser->parse(payload, pctx, &reparsed);
    return std::move(reparsed.batch);
  };
  std::optional<uint64_t> end = ingest_until_accepted(ctx, std::move(parsed.batch), again);
  if (end) samples_.fetch_add(n, std::memory_order_relaxed);
  return end;
}

void MqttSource::count_parse_error(runtime::SourceContext& ctx, std::string_view format,
                                   std::string_view topic, const std::string& message) {
  const uint64_t total = parse_errors_.fetch_add(1, std::memory_order_relaxed) + 1;
  {
    const std::string reason = parse_error_reason(std::string(format), message);
    std::lock_guard lock(reasons_mu_);
    auto it = reasons_.find(reason);
    if (it == reasons_.end() && reasons_.size() >= kMaxParseErrorReasons) {
      it = reasons_.try_emplace(std::string(format) + ": other").first;
    } else if (it == reasons_.end()) {
      it = reasons_.try_emplace(reason).first;
    }
    ++it->second;
  }
  ++parse_errors_unlogged_;
  const int64_t now = ctx.clock().monotonic();
  if (total == 1 || now - last_parse_log_mono_ >= kParseLogIntervalNs) {
    spdlog::warn(
        "source '{}': cannot parse a message on '{}' as {}: {} ({} unparsable message(s) since "
        "the last line, {} in all); the message is dropped",
        name(), topic, format, message, parse_errors_unlogged_, total);
    last_parse_log_mono_ = now;
    parse_errors_unlogged_ = 0;
  }
}

std::optional<uint64_t> MqttSource::ingest_until_accepted(runtime::SourceContext& ctx,
                                                          Batch&& batch,
                                                          const std::function<Batch()>& again) {
  int64_t backoff_ms = options_.reconnect_min.count();
  bool warned = false;
  const size_t samples = batch.size();
  bool first = true;
  while (true) {
    Batch attempt = first ? std::move(batch) : again();  // ingest consumes its batch
    first = false;
    Result<store::AppendResult> r =
        ctx.ingest(std::move(attempt), store::AppendOptions{.wait_durable = false});
    if (r.ok()) {
      if (warned) set_health(HealthState::kHealthy);
      return r->outcome == store::AppendResult::Outcome::kDropped ? 0 : r->end_seq;
    }
    if (ctx.stopping()) {
      lost_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error(
          "source '{}': a message of {} samples could not be stored before the source stopped "
          "({}); it is not acknowledged, so the broker sends it again after a restart if the "
          "session is persistent",
          name(), samples, r.status().to_string());
      return std::nullopt;
    }
    spdlog::warn(
        "source '{}': the store refused a message of {} samples: {}; holding it and "
        "retrying in {} (the broker holds later messages meanwhile)",
        name(), samples, r.status().to_string(), format_seconds(backoff_ms));
    set_health(HealthState::kWarning,
               fmt::format("the store refused a message: {}; holding it and retrying",
                           r.status().message()));
    warned = true;
    if (!ctx.sleep_until(ctx.clock().monotonic() + backoff_ms * kNsPerMs)) continue;  // last try
    backoff_ms = std::min<int64_t>(backoff_ms * 2, options_.reconnect_max.count());
  }
}

}  // namespace sluice::sources
