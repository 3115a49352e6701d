// The MQTT adapter: the broker's access control kept in step with the registry, and the ingest
// subscription. See mqtt_adapter.h.
#include "platform/mqtt_adapter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "platform/messages.h"

namespace sluice::platform {
namespace {

using runtime::HealthState;
using std::chrono::milliseconds;

constexpr std::string_view kTopicRoot = "channels/";
constexpr std::string_view kMessagesLevel = "messages";
constexpr milliseconds kFirstRetry{1000};
constexpr milliseconds kLastRetry{30'000};
constexpr milliseconds kCoalesce{50};
// Missing clients named in details and health (the count is always whole).
constexpr size_t kNamedMissing = 5;

class ChannelParser final : public formats::PayloadParser {
 public:
  ChannelParser(const Registry& registry, formats::ParseLimits limits)
      : registry_(registry), normalizer_(limits) {}
  std::string_view name() const override { return kPlatformFormat; }

  Status parse(std::string_view payload, const formats::ParseContext& ctx,
               formats::Parsed* out) override {
    SLUICE_ASSIGN_OR_RETURN(ChannelTopic topic, parse_channel_topic(ctx.topic));
    std::optional<std::pair<std::string, std::string>> channel =
        registry_.channel_info(topic.channel);
    if (!channel) {
      return invalid_argument(
          fmt::format("unknown channel '{}' (topic '{}')", topic.channel, ctx.topic));
    }
    Message m;
    m.channel = topic.channel;
    m.org = channel->first;
    m.channel_name = channel->second;
    m.subtopic = topic.subtopic;
    m.protocol = "mqtt";
    m.payload = payload;
    m.receive_time = ctx.receive_time;
    return normalizer_.normalize(m, out);
  }

 private:
  const Registry& registry_;
  MessageNormalizer normalizer_;
};

// What the worker could not finish: to send again later, or given up on.
bool retryable(const Status& st) {
  return st.code() != Code::kFailedPrecondition && st.code() != Code::kInvalidArgument;
}

}  // namespace

Result<ChannelTopic> parse_channel_topic(std::string_view topic) {
  if (!topic.starts_with(kTopicRoot)) {
    return invalid_argument(fmt::format("topic '{}' is not channels/<id>/messages[/...]", topic));
  }
  std::string_view rest = topic.substr(kTopicRoot.size());
  const size_t slash = rest.find('/');
  ChannelTopic out;
  out.channel = rest.substr(0, slash);
  if (out.channel.empty() || slash == std::string_view::npos) {
    return invalid_argument(fmt::format("topic '{}' is not channels/<id>/messages[/...]", topic));
  }
  rest = rest.substr(slash + 1);
  if (!rest.starts_with(kMessagesLevel) ||
      (rest.size() > kMessagesLevel.size() && rest[kMessagesLevel.size()] != '/')) {
    return invalid_argument(fmt::format("topic '{}' is not channels/<id>/messages[/...]", topic));
  }
  rest = rest.substr(std::min(rest.size(), kMessagesLevel.size() + 1));
  out.subtopic = rest;
  if (!out.subtopic.empty()) {
    if (Status st = check_subtopic(out.subtopic); !st.ok()) {
      return invalid_argument(fmt::format("topic '{}': {}", topic, st.message()));
    }
  }
  return out;
}

std::unique_ptr<formats::PayloadParser> make_channel_parser(const Registry& registry,
                                                            formats::ParseLimits limits) {
  return std::make_unique<ChannelParser>(registry, limits);
}

// ---- The sync worker --------------------------------------------------------------------------

struct MqttAdapter::Sync {
  explicit Sync(Registry& r) : registry(r) {}

  // The registry listener: marks the thing, keeping the newest key that is still the thing's.
  void changed(const ThingChange& change) {
    std::lock_guard lock(mu);
    merge(change.thing, change.key);
    cv.notify_one();
  }

  // mu held.
  void merge(const std::string& thing, const std::optional<std::string>& key) {
    auto [it, added] = pending.try_emplace(thing, key);
    if (added || !key) return;
    if (!it->second || is_current(thing, *key)) it->second = key;
  }

  bool is_current(const std::string& thing, const std::string& key) const {
    Result<ThingIdentity> who = registry.authenticate(key);
    return who.ok() && who->id == thing;
  }

  // Sends one batch of marked things; a retryable failure is returned (the whole batch is then
  // marked again: every command is a difference, so sending twice changes nothing).
  Status apply(Dynsec& dynsec, const std::map<std::string, std::optional<std::string>>& batch) {
    std::vector<ThingSpec> puts;
    std::vector<std::string> removes;
    for (const auto& [thing, key] : batch) {
      if (!registry.has_thing(thing)) {
        removes.push_back(thing);
        continue;
      }
      std::optional<std::string> current;
      if (key && is_current(thing, *key)) current = key;
      puts.push_back(ThingSpec{thing, std::move(current), registry.channels_of(thing)});
    }
    for (const std::string& thing : removes) {
      Status st = dynsec.remove_thing(thing);
      if (!st.ok() && retryable(st)) return st;
      if (!st.ok()) note_failure(st);
      std::lock_guard lock(mu);
      missing.erase(thing);
      ++synced;
    }
    if (puts.empty()) return Status::ok_status();
    Status st = dynsec.put_things(puts);
    if (!st.ok() && retryable(st)) return st;
    std::set<std::string> keyless;
    if (!st.ok()) {
      // Some had no broker client and no key: find which, one by one (the others are in step
      // now, so their puts send nothing).
      note_failure(st);
      for (const ThingSpec& t : puts) {
        if (t.key) continue;
        Status one = dynsec.put_thing(t.id, std::nullopt, t.channels);
        if (one.code() == Code::kFailedPrecondition) keyless.insert(t.id);
        if (!one.ok() && retryable(one)) return one;
      }
    }
    std::lock_guard lock(mu);
    for (const ThingSpec& t : puts) {
      if (keyless.count(t.id) != 0) {
        missing.insert(t.id);
      } else {
        missing.erase(t.id);
        ++synced;
      }
    }
    return Status::ok_status();
  }

  void note_failure(const Status& st) {
    std::lock_guard lock(mu);
    ++failures;
    last_error = st.message();
  }

  void run(Dynsec& dynsec, const std::string& source) {
    milliseconds backoff{0};
    std::unique_lock lock(mu);
    while (!stop) {
      if (pending.empty()) {
        cv.wait(lock, [this] { return stop || !pending.empty(); });
        continue;
      }
      // A moment for the rest of a burst (a bulk create and its connect), so that a thing's
      // changes go out together: fewer commands, and each of them a write of the broker's file.
      if (cv.wait_for(lock, std::max(backoff, kCoalesce), [this] { return stop; })) break;
      std::map<std::string, std::optional<std::string>> batch;
      batch.swap(pending);
      in_flight = batch.size();
      lock.unlock();
      const auto began = std::chrono::steady_clock::now();
      Status st = apply(dynsec, batch);
      const auto took =
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - began);
      lock.lock();
      in_flight = 0;
      last_batch = batch.size();
      last_batch_ms = took.count();
      if (st.ok()) {
        if (behind)
          spdlog::info("source '{}': the broker's access control is in step again", source);
        behind = false;
        backoff = milliseconds{0};
        continue;
      }
      for (const auto& [thing, key] : batch) merge(thing, key);
      ++failures;
      last_error = st.message();
      behind = true;
      backoff = backoff.count() == 0 ? kFirstRetry : std::min(backoff * 2, kLastRetry);
      spdlog::warn(
          "source '{}': {} thing(s) not yet in step with the broker: {}; retrying in {} ms", source,
          pending.size(), st.message(), backoff.count());
    }
  }

  Registry& registry;
  mutable std::mutex mu;
  std::condition_variable cv;
  // Things to send, with the key to set (create or rotation); guarded by mu.
  std::map<std::string, std::optional<std::string>> pending;
  size_t in_flight = 0;           // things of the batch being sent; guarded by mu
  bool stop = false;              // guarded by mu
  bool behind = false;            // the last send failed; guarded by mu
  uint64_t synced = 0;            // things sent; guarded by mu
  uint64_t failures = 0;          // guarded by mu
  std::string last_error;         // guarded by mu
  size_t last_batch = 0;          // guarded by mu
  int64_t last_batch_ms = 0;      // guarded by mu
  std::set<std::string> missing;  // things without a broker client; guarded by mu
};

// ---- The adapter ------------------------------------------------------------------------------

MqttAdapter::MqttAdapter(std::string source_name, MqttAdapterOptions options)
    : source_name_(std::move(source_name)), options_(std::move(options)) {}

MqttAdapter::~MqttAdapter() = default;

void MqttAdapter::stop() {
  stopping_.store(true);
  std::lock_guard lock(mu_);
  if (ingest_) ingest_->stop();
}

Status MqttAdapter::run(runtime::SourceContext& ctx, Registry& registry) {
  const sources::MqttOptions& c = options_.connection;
  const std::string endpoint = fmt::format("{}:{}", c.host, c.port);
  DynsecOptions d;
  d.host = c.host;
  d.port = c.port;
  d.username = options_.admin_username;
  d.password = options_.admin_password;
  d.client_id = "sluice-dynsec-" + source_name_;
  if (c.tls) d.tls = mqtt::TlsOptions{c.ca_file, c.cert_file, c.key_file, c.insecure_skip_verify};
  Dynsec dynsec(d);
  {
    std::lock_guard lock(mu_);
    setup_problem_ = fmt::format("setting up the access control of the broker at {}", endpoint);
  }
  const auto failed = [&](const Status& st, std::string_view doing) {
    Status out(st.code(), fmt::format("{} at {}: {}", doing, endpoint, st.message()));
    std::lock_guard lock(mu_);
    setup_problem_ = out.message();
    return out;
  };

  // The ingest client, with a password nobody else knows.
  SLUICE_ASSIGN_OR_RETURN(std::string ingest_password, new_thing_key());
  Status st = dynsec.ensure_ingest_client(options_.ingest_username, ingest_password);
  if (!st.ok()) return failed(st, "making the ingest client");

  // Changes from now on are marked; the reconcile brings the broker to the registry's state.
  auto sync = std::make_shared<Sync>(registry);
  {
    std::lock_guard lock(mu_);
    sync_ = sync;
  }
  const Registry::ListenerId listener =
      registry.add_listener([sync](const ThingChange& change) { sync->changed(change); });
  struct Unlisten {
    Registry& r;
    Registry::ListenerId id;
    ~Unlisten() { r.remove_listener(id); }
  } unlisten{registry, listener};

  std::vector<DesiredThing> desired;
  for (auto& [thing, channels] : registry.all_things()) {
    desired.push_back(DesiredThing{std::move(thing), std::move(channels)});
  }
  Result<ReconcileReport> report = dynsec.reconcile(desired);
  if (!report.ok()) return failed(report.status(), "reading the broker's access control");
  {
    std::lock_guard lock(sync->mu);
    for (const MissingClient& m : report->missing_clients) sync->missing.insert(m.thing);
  }
  spdlog::info(
      "source '{}': the broker at {} is in step with the registry's {} thing(s) ({} removed, {} "
      "repaired)",
      source_name_, endpoint, desired.size(), report->removed.size(), report->repaired.size());
  if (!report->missing_clients.empty()) {
    spdlog::warn("source '{}': {} thing(s) have no client in the broker, e.g. '{}': {}",
                 source_name_, report->missing_clients.size(), report->missing_clients[0].thing,
                 report->missing_clients[0].message);
  }

  std::jthread worker([&dynsec, sync, this] { sync->run(dynsec, source_name_); });

  sources::MqttOptions o = options_.connection;
  o.username = options_.ingest_username;
  o.password = ingest_password;
  sources::MqttSubscription sub;
  sub.filter = std::string(kIngestFilter);
  sub.qos = options_.qos;
  sub.format = std::string(kPlatformFormat);
  sub.parser.limits.max_payload_bytes = o.max_message_bytes;
  o.subscriptions = {sub};
  {
    std::lock_guard lock(mu_);
    setup_problem_.clear();
    ingest_ = std::make_unique<sources::MqttSource>(
        source_name_, std::move(o),
        [&registry](std::string_view, const formats::ParserOptions& p)
            -> Result<std::unique_ptr<formats::PayloadParser>> {
          return make_channel_parser(registry, p.limits);
        });
  }
  Status ran = stopping_.load() ? Status::ok_status() : ingest_->start(ctx);
  {
    std::lock_guard lock(sync->mu);
    sync->stop = true;
    sync->cv.notify_all();
  }
  worker.join();
  return ran;
}

runtime::Health MqttAdapter::health() const {
  runtime::Health h;
  std::shared_ptr<Sync> sync;
  {
    std::lock_guard lock(mu_);
    if (!setup_problem_.empty()) return {HealthState::kCritical, setup_problem_};
    if (!ingest_) return {HealthState::kWarning, "starting the MQTT adapter"};
    h = ingest_->health();
    sync = sync_;
  }
  if (h.state != HealthState::kHealthy && h.state != HealthState::kWarning) return h;
  std::vector<std::string> problems;
  if (!h.reason.empty()) problems.push_back(h.reason);
  if (sync) {
    std::lock_guard lock(sync->mu);
    if (sync->behind) {
      problems.push_back(
          fmt::format("{} thing change(s) not yet in the broker's access control: {}",
                      sync->pending.size(), sync->last_error));
    }
    if (!sync->missing.empty()) {
      problems.push_back(fmt::format(
          "{} thing(s) have no client in the broker (created or rotated while the MQTT adapter "
          "was not running), e.g. '{}': rotate their keys",
          sync->missing.size(), *sync->missing.begin()));
    }
  }
  if (problems.empty()) return h;
  std::string reason = problems[0];
  for (size_t i = 1; i < problems.size(); ++i) reason += "; " + problems[i];
  return {HealthState::kWarning, std::move(reason)};
}

runtime::SinkDetails MqttAdapter::details() const {
  runtime::SinkDetails out;
  std::shared_ptr<Sync> sync;
  {
    std::lock_guard lock(mu_);
    if (ingest_) {
      out.push_back({"mqtt_messages", std::to_string(ingest_->messages())});
      out.push_back({"mqtt_samples", std::to_string(ingest_->ingested_samples())});
      out.push_back({"mqtt_refused", std::to_string(ingest_->parse_errors())});
      for (const auto& [reason, n] : ingest_->parse_errors_by_reason()) {
        out.push_back({"mqtt_refused: " + reason, std::to_string(n)});
      }
      out.push_back({"mqtt_connects", std::to_string(ingest_->connects())});
    }
    sync = sync_;
  }
  if (sync) {
    std::lock_guard lock(sync->mu);
    out.push_back({"mqtt_synced", std::to_string(sync->synced)});
    out.push_back({"mqtt_sync_pending", std::to_string(sync->pending.size() + sync->in_flight)});
    out.push_back({"mqtt_sync_failures", std::to_string(sync->failures)});
    out.push_back({"mqtt_last_sync",
                   fmt::format("{} thing(s) in {} ms", sync->last_batch, sync->last_batch_ms)});
    std::string missing = std::to_string(sync->missing.size());
    size_t named = 0;
    for (const std::string& t : sync->missing) {
      if (named++ == kNamedMissing) {
        missing += ", ...";
        break;
      }
      missing += (named == 1 ? " (" : ", ") + t;
    }
    if (!sync->missing.empty()) missing += ")";
    out.push_back({"mqtt_missing_clients", missing});
    if (!sync->last_error.empty()) out.push_back({"mqtt_last_sync_error", sync->last_error});
  }
  return out;
}

}  // namespace sluice::platform
