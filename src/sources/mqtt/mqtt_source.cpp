// The mqtt source: its config keys, the connect / subscribe / reconnect loop on the source's
// thread, and the message path on Paho's callback thread (match → parse → ingest, blocking
// until durable). Why the callback blocks is explained in mqtt_source.h.
#include "sources/mqtt/mqtt_source.h"

#include <fmt/format.h>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace sluice::sources {
namespace {

using runtime::HealthState;

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr size_t kMaxTopicFilterBytes = 65535;
// How often the connect loop looks at the connection and the stop signal.
constexpr int64_t kPollNs = 100 * kNsPerMs;
// How long a connect or subscribe may take before it counts as failed.
constexpr auto kConnectTimeout = std::chrono::seconds(10);
// How long stop waits for the DISCONNECT to be sent.
constexpr auto kDisconnectTimeout = std::chrono::seconds(2);
// Parse errors are logged at most this often (the rest are counted and summed in the next line).
constexpr int64_t kParseLogIntervalNs = 10 * kNsPerSecond;
// MQTT 5 session expiry with clean_session = false: the broker keeps the session this long.
constexpr uint32_t kSessionExpirySeconds = 7 * 24 * 3600;
constexpr int kQosFailure = 0x80;
// Parse errors are counted under at most this many reasons (then "<format>: other"), each at
// most this long, so that a stream of varied bad payloads cannot grow the map.
constexpr size_t kMaxParseErrorReasons = 64;
constexpr size_t kMaxParseErrorReasonChars = 120;

// What a CONNACK refusal code (3.1.1) or reason code (5) means, in words a person can act on.
std::string connack_reason(int code) {
  switch (code) {
    case 1: return "unacceptable protocol version; try protocol = \"3.1.1\"";
    case 2: return "client identifier rejected; set a different client_id";
    case 3: return "server unavailable";
    case 4:
    case 0x86: return "bad user name or password";
    case 5:
    case 0x87: return "not authorized";
    default: return {};
  }
}

// The reason of a failed connect, from Paho's exception.
std::string describe_connect_failure(const mqtt::exception& e, const std::string& endpoint,
                                     const std::string& tls_error) {
  const int rc = e.get_return_code();
  std::string known = connack_reason(rc);
  if (known.empty() && e.get_reason_code() != 0 && e.get_reason_code() != mqtt::MQTTPP_V3_CODE) {
    known = connack_reason(e.get_reason_code());
    if (known.empty()) known = e.get_reason_code_str();
  }
  if (!known.empty()) return fmt::format("connection refused by {}: {}", endpoint, known);
  std::string detail = e.get_message();
  if (detail.empty()) detail = e.get_error_str();
  if (tls_error.find("certificate verify failed") != std::string::npos) {
    detail +=
        ": the broker's certificate is not trusted (certificate verify failed); check "
        "ca_file, or set insecure_skip_verify = true to skip the check";
  } else if (!tls_error.empty()) {
    detail += ": TLS: " + tls_error.substr(0, tls_error.find_last_not_of(" \n\r:") + 1);
  }
  if (detail.empty()) detail = e.what();
  return fmt::format("cannot connect to {}: {}", endpoint, detail);
}

Result<std::unique_ptr<formats::PayloadParser>> make_parser(const ParserFactory& parsers,
                                                            const std::string& format) {
  if (!parsers) {
    return failed_precondition("payload format '" + format +
                               "' is not available: no payload parsers are built into this "
                               "binary yet");
  }
  return parsers(format);
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

std::string MqttSource::server_uri() const {
  return fmt::format("{}://{}:{}", options_.tls ? "ssl" : "tcp", options_.host, options_.port);
}

std::map<std::string, uint64_t> MqttSource::parse_errors_by_reason() const {
  std::lock_guard lock(reasons_mu_);
  return reasons_;
}

void MqttSource::stop() {
  // start() watches ctx.stopping() every kPollNs and a blocked ingest retry wakes on the stop
  // token, so there is nothing to interrupt here.
}

Status MqttSource::start(runtime::SourceContext& ctx) {
  routes_.clear();
  for (const MqttSubscription& s : options_.subscriptions) {
    Result<std::unique_ptr<formats::PayloadParser>> parser = make_parser(parser_factory_, s.format);
    if (!parser.ok()) {
      return Status(parser.status().code(),
                    fmt::format("subscription '{}': {}", s.filter, parser.status().message()));
    }
    routes_.push_back(Route{s, std::move(parser).value()});
  }
  if (routes_.empty()) return invalid_argument("no subscriptions: give a topic to subscribe to");
  if (!options_.units_api.url.empty()) {
    std::lock_guard lock(units_mu_);
    units_ = std::make_unique<KepwareUnits>(name(), options_.units_api, ctx);
  }

  const std::string client_id =
      options_.client_id.empty() ? "sluice-" + name() : options_.client_id;
  mqtt::async_client client(
      server_uri(), client_id,
      mqtt::create_options(options_.protocol == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1), nullptr);

  std::mutex state_mu;
  bool lost = false;       // guarded by state_mu
  std::string lost_cause;  // guarded by state_mu
  std::string tls_error;   // guarded by state_mu
  client.set_connection_lost_handler([&](const std::string& cause) {
    std::lock_guard lock(state_mu);
    lost = true;
    lost_cause = cause.empty() ? "the connection was closed" : cause;
  });
  {
    std::lock_guard lock(callback_mu_);
    accepting_ = true;
  }
  client.set_message_callback([this, &ctx](mqtt::const_message_ptr msg) {
    std::lock_guard lock(callback_mu_);
    if (!accepting_ || !msg) return;
    on_message(ctx, *msg);
  });

  mqtt::connect_options opts;
  opts.set_mqtt_version(options_.protocol == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
  opts.set_keep_alive_interval(options_.keep_alive_s);
  opts.set_connect_timeout(kConnectTimeout);
  opts.set_automatic_reconnect(false);  // we reconnect ourselves, to report why in HEALTH
  if (options_.protocol == 5) {
    opts.set_clean_start(options_.clean_session);
    if (!options_.clean_session) {
      opts.set_properties(mqtt::properties{
          {mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int>(kSessionExpirySeconds)}});
    }
  } else {
    opts.set_clean_session(options_.clean_session);
  }
  if (!options_.username.empty()) opts.set_user_name(options_.username);
  if (!options_.password.empty()) opts.set_password(options_.password);
  if (options_.tls) {
    mqtt::ssl_options ssl;
    if (!options_.ca_file.empty()) ssl.set_trust_store(options_.ca_file);
    if (!options_.cert_file.empty()) ssl.set_key_store(options_.cert_file);
    if (!options_.key_file.empty()) ssl.set_private_key(options_.key_file);
    ssl.set_enable_server_cert_auth(!options_.insecure_skip_verify);
    ssl.set_verify(!options_.insecure_skip_verify);  // host name check
    ssl.set_error_handler([&](const std::string& error) {
      std::lock_guard lock(state_mu);
      tls_error = error;
    });
    opts.set_ssl(std::move(ssl));
  }

  Clock& clock = ctx.clock();
  int64_t backoff_ms = options_.reconnect_min.count();
  set_health(HealthState::kWarning, fmt::format("connecting to {}", endpoint()));

  // Waits for a token, watching the stop signal; returns false on stop or timeout.
  const auto wait_token = [&](const mqtt::token_ptr& token) {
    const int64_t deadline = clock.monotonic() + std::chrono::nanoseconds(kConnectTimeout).count();
    while (!token->wait_for(std::chrono::milliseconds(kPollNs / kNsPerMs))) {
      if (ctx.stopping() || clock.monotonic() > deadline) return false;
    }
    return true;
  };

  while (!ctx.stopping()) {
    std::string failure;
    {
      std::lock_guard lock(state_mu);
      lost = false;
      tls_error.clear();
    }
    try {
      mqtt::token_ptr token = client.connect(opts);
      if (!wait_token(token)) {
        if (ctx.stopping()) break;
        failure = fmt::format("cannot connect to {}: no answer within {}s", endpoint(),
                              std::chrono::seconds(kConnectTimeout).count());
      } else {
        token->get_connect_response();  // throws if refused
        for (const Route& route : routes_) {
          mqtt::token_ptr sub = client.subscribe(route.subscription.filter, route.subscription.qos);
          if (!wait_token(sub)) {
            failure = fmt::format("no answer from {} to subscribing to '{}'", endpoint(),
                                  route.subscription.filter);
            break;
          }
          const mqtt::subscribe_response response = sub->get_subscribe_response();
          const std::vector<mqtt::ReasonCode>& codes = response.get_reason_codes();
          if (!codes.empty() && static_cast<int>(codes[0]) >= kQosFailure) {
            failure = fmt::format(
                "{} refused the subscription to '{}' (reason {}); check the "
                "broker's ACL for user '{}'",
                endpoint(), route.subscription.filter, static_cast<int>(codes[0]),
                options_.username);
            break;
          }
        }
      }
    } catch (const mqtt::exception& e) {
      std::lock_guard lock(state_mu);
      failure = describe_connect_failure(e, endpoint(), tls_error);
    }

    if (failure.empty()) {
      connects_.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("source '{}': connected to {} as '{}', subscribed to {} filter(s)", name(),
                   server_uri(), client_id, routes_.size());
      connected_.store(true);
      set_health(HealthState::kHealthy);
      backoff_ms = options_.reconnect_min.count();
      // Connected: wait until the connection is lost or we are asked to stop.
      std::string cause;
      while (!ctx.stopping()) {
        {
          std::lock_guard lock(state_mu);
          if (lost) {
            cause = lost_cause;
            break;
          }
        }
        ctx.sleep_until(clock.monotonic() + kPollNs);
      }
      connected_.store(false);
      if (ctx.stopping()) break;
      failure = fmt::format("lost the connection to {}: {}", endpoint(), cause);
      backoff_ms = options_.reconnect_min.count();  // a first retry soon after a loss
    } else if (client.is_connected()) {
      try {
        client.disconnect()->wait_for(kDisconnectTimeout);
      } catch (const mqtt::exception&) {
        // The reason already in `failure` is the one that matters.
      }
    }

    spdlog::warn("source '{}': {}; retrying in {}", name(), failure, format_seconds(backoff_ms));
    set_health(HealthState::kCritical,
               fmt::format("{}; retrying in {}", failure, format_seconds(backoff_ms)));
    if (!ctx.sleep_until(clock.monotonic() + backoff_ms * kNsPerMs)) break;
    backoff_ms = std::min<int64_t>(backoff_ms * 2, options_.reconnect_max.count());
  }

  // Stop: no message may touch ctx after we return.
  {
    std::lock_guard lock(callback_mu_);
    accepting_ = false;
  }
  try {
    if (client.is_connected()) client.disconnect()->wait_for(kDisconnectTimeout);
  } catch (const mqtt::exception& e) {
    spdlog::debug("source '{}': disconnect: {}", name(), e.what());
  }
  client.set_message_callback(nullptr);
  client.set_connection_lost_handler(nullptr);
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

void MqttSource::on_message(runtime::SourceContext& ctx, const mqtt::message& msg) {
  messages_.fetch_add(1, std::memory_order_relaxed);
  const std::string& topic = msg.get_topic();
  Route* route = nullptr;
  for (Route& r : routes_) {
    if (topic_matches(r.subscription.filter, topic)) {
      route = &r;
      break;
    }
  }
  if (route == nullptr) {  // a retained or shared message outside our filters: nothing to do
    unmatched_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  formats::ParseContext pctx;
  pctx.topic = topic;
  pctx.receive_time = ctx.clock().now();
  formats::Parsed parsed;
  const std::string& payload = msg.get_payload_ref().str();
  Status st = route->parser->parse(payload, pctx, &parsed);
  if (!st.ok()) {
    // It can never succeed: count it, say so, and let it go (it is acked already).
    count_parse_error(ctx, *route, topic, st);
    return;
  }
  if (!parsed.meta.empty()) {
    // Units and labels the payload carries (SenML, OpenMetrics) go to the state database; a
    // failure there costs the metadata, never the samples.
    Status meta = ctx.update_series(parsed.meta);
    if (!meta.ok()) {
      spdlog::warn("source '{}': series metadata not kept: {}", name(), meta.message());
    }
  }
  if (parsed.batch.empty()) return;
  if (route->subscription.format == "kepware") {
    // Queues devices whose units are not known yet; the HTTP happens on the units worker.
    std::lock_guard lock(units_mu_);
    if (units_) {
      for (const Sample& s : parsed.batch.samples) units_->note(s.series);
    }
  }
  const size_t n = parsed.batch.size();
  if (ingest_until_stored(ctx, std::move(parsed.batch))) {
    samples_.fetch_add(n, std::memory_order_relaxed);
  }
}

void MqttSource::count_parse_error(runtime::SourceContext& ctx, const Route& route,
                                   std::string_view topic, const Status& status) {
  const uint64_t total = parse_errors_.fetch_add(1, std::memory_order_relaxed) + 1;
  const std::string& message = status.message();
  {
    const std::string reason = parse_error_reason(route.subscription.format, message);
    std::lock_guard lock(reasons_mu_);
    auto it = reasons_.find(reason);
    if (it == reasons_.end() && reasons_.size() >= kMaxParseErrorReasons) {
      it = reasons_.try_emplace(route.subscription.format + ": other").first;
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
        name(), topic, route.subscription.format, message, parse_errors_unlogged_, total);
    last_parse_log_mono_ = now;
    parse_errors_unlogged_ = 0;
  }
}

bool MqttSource::ingest_until_stored(runtime::SourceContext& ctx, Batch&& batch) {
  int64_t backoff_ms = options_.reconnect_min.count();
  bool warned = false;
  while (true) {
    Batch attempt = batch;  // ingest consumes its batch; keep ours for a retry
    Result<store::AppendResult> r = ctx.ingest(std::move(attempt));
    if (r.ok()) {
      if (warned && connected_.load()) set_health(HealthState::kHealthy);
      return true;
    }
    if (ctx.stopping()) {
      lost_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error(
          "source '{}': a message of {} samples, already acknowledged to the broker, could not "
          "be stored before the source stopped: {}",
          name(), batch.size(), r.status().to_string());
      return false;
    }
    spdlog::warn(
        "source '{}': the store refused a message of {} samples: {}; holding it and "
        "retrying in {} (the broker holds later messages meanwhile)",
        name(), batch.size(), r.status().to_string(), format_seconds(backoff_ms));
    set_health(HealthState::kWarning,
               fmt::format("the store refused a message: {}; holding it and retrying",
                           r.status().message()));
    warned = true;
    if (!ctx.sleep_until(ctx.clock().monotonic() + backoff_ms * kNsPerMs)) continue;  // last try
    backoff_ms = std::min<int64_t>(backoff_ms * 2, options_.reconnect_max.count());
  }
}

}  // namespace sluice::sources
