// The platform source: the store side of the adapters. See platform_source.h.
#include "platform/platform_source.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "runtime/config_table.h"

namespace sluice::platform {
namespace {

class PlatformSettings final : public runtime::SourceSettings {
 public:
  PlatformSettings(PlatformSourceOptions options, std::shared_ptr<const RegistryLink> registry)
      : options_(std::move(options)), registry_(std::move(registry)) {}
  std::string summary() const override {
    std::string s = fmt::format(
        "things' messages over HTTP (POST /channels/{{id}}/messages), up to {} bytes each",
        options_.max_message_bytes);
    if (options_.mqtt) {
      const sources::MqttOptions& c = options_.mqtt->connection;
      s += fmt::format(
          "; over MQTT through the broker at {}://{}:{} (access control by its dynamic-security "
          "plugin, admin '{}'; ingest as '{}' on {} qos {})",
          c.tls ? "mqtts" : "mqtt", c.host, c.port, options_.mqtt->admin_username,
          options_.mqtt->ingest_username, kIngestFilter, options_.mqtt->qos);
    }
    return s;
  }
  Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override {
    return std::unique_ptr<runtime::Source>(
        std::make_unique<PlatformSource>(name, options_, registry_));
  }

 private:
  PlatformSourceOptions options_;
  std::shared_ptr<const RegistryLink> registry_;
};

constexpr std::string_view kMqttKeys[] = {"mqtt_port",
                                          "mqtt_tls",
                                          "mqtt_ca_file",
                                          "mqtt_insecure_skip_verify",
                                          "mqtt_protocol",
                                          "mqtt_keep_alive",
                                          "mqtt_receive_maximum",
                                          "mqtt_client_id",
                                          "mqtt_clean_session",
                                          "mqtt_qos",
                                          "mqtt_admin_username",
                                          "mqtt_admin_password",
                                          "mqtt_admin_password_file",
                                          "mqtt_ingest_username",
                                          "mqtt_max_message_bytes"};

// The MQTT adapter's keys (all mqtt_*; on when mqtt_host is set).
std::optional<MqttAdapterOptions> parse_mqtt(runtime::ConfigTable& t, size_t max_message_bytes) {
  if (!t.has("mqtt_host")) {
    for (const std::string_view key : kMqttKeys) {
      if (t.has(key)) {
        t.error(key,
                "set but mqtt_host is not; add mqtt_host = \"127.0.0.1\" (the broker with "
                "the dynamic-security plugin) to turn the MQTT adapter on, or remove it");
      }
    }
    return std::nullopt;
  }
  MqttAdapterOptions m;
  sources::MqttOptions& c = m.connection;
  c.host = t.string("mqtt_host", c.host, "a host name or IP address",
                    [](const std::string& v) { return !v.empty() && v.size() <= 253; });
  c.tls = t.boolean("mqtt_tls", false);
  c.port =
      static_cast<int>(t.integer("mqtt_port", c.tls ? 8883 : 1883, "a TCP port from 1 to 65535",
                                 [](int64_t v) { return v >= 1 && v <= 65535; }));
  c.ca_file = t.file_path("mqtt_ca_file", "", "the CA certificate file of the broker");
  c.insecure_skip_verify = t.boolean("mqtt_insecure_skip_verify", false);
  for (const std::string_view key : {"mqtt_ca_file", "mqtt_insecure_skip_verify"}) {
    if (t.has(key) && !c.tls) t.error(key, "set but mqtt_tls is false; add mqtt_tls = true");
  }
  c.protocol = t.choice("mqtt_protocol", 1, {"3.1.1", "5"}) == 1 ? 5 : 4;
  c.keep_alive_s = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(
          t.duration("mqtt_keep_alive", std::chrono::seconds(30),
                     "a keep-alive interval from 1s to 65535s, e.g. \"30s\"",
                     [](std::chrono::nanoseconds d) {
                       return d >= std::chrono::seconds(1) && d <= std::chrono::seconds(65535);
                     }))
          .count());
  c.receive_maximum = static_cast<int>(t.integer("mqtt_receive_maximum", 1000,
                                                 "a number of messages from 1 to 65535",
                                                 [](int64_t v) { return v >= 1 && v <= 65535; }));
  if (t.has("mqtt_receive_maximum") && c.protocol != 5) {
    t.error("mqtt_receive_maximum", "is an MQTT 5 setting; remove it or use mqtt_protocol = \"5\"");
  }
  c.client_id = t.string("mqtt_client_id", "", "a client identifier of 1 to 65535 bytes",
                         [](const std::string& v) { return !v.empty() && v.size() <= 65535; });
  // Persistent by default: messages published while Sluice restarts wait in the broker.
  c.clean_session = t.boolean("mqtt_clean_session", false);
  c.max_message_bytes = max_message_bytes;
  m.qos = static_cast<int>(
      t.integer("mqtt_qos", 1, "a QoS of 0, 1 or 2", [](int64_t v) { return v >= 0 && v <= 2; }));
  m.admin_username = t.string("mqtt_admin_username", "", "the dynamic-security admin's user name",
                              [](const std::string& v) { return !v.empty(); });
  if (!t.has("mqtt_admin_username")) {
    t.error("mqtt_admin_username",
            "missing; the MQTT adapter manages the broker's clients as the dynamic-security "
            "admin (mosquitto_ctrl dynsec init <file> <user>): give its user name");
  }
  m.ingest_username =
      t.string("mqtt_ingest_username", m.ingest_username, "a user name other than the admin's",
               [](const std::string& v) { return !v.empty() && v.size() <= 65535; });
  if (m.ingest_username == m.admin_username) {
    t.error("mqtt_ingest_username", "is the admin's user name; the ingest client needs its own");
  }
  const bool has_password = t.has("mqtt_admin_password");
  const bool has_file = t.has("mqtt_admin_password_file");
  if (has_password == has_file) {
    t.error(has_file ? "mqtt_admin_password" : "mqtt_admin_password_file",
            has_file ? "give either mqtt_admin_password or mqtt_admin_password_file, not both"
                     : "missing; give the admin's password in mqtt_admin_password_file (a file "
                       "only Sluice reads) or mqtt_admin_password");
  }
  if (has_password) m.admin_password = t.string("mqtt_admin_password", "");
  if (has_file) {
    const std::string path = t.file_path("mqtt_admin_password_file", "");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string password = text.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    if (!in) {
      t.error("mqtt_admin_password_file", fmt::format("cannot read '{}'", path));
    } else if (password.empty()) {
      t.error("mqtt_admin_password_file", fmt::format("'{}' is empty", path));
    }
    m.admin_password = std::move(password);
  }
  return m;
}

std::shared_ptr<const runtime::SourceSettings> parse_settings(
    runtime::ConfigTable& t, const std::shared_ptr<const RegistryLink>& registry) {
  PlatformSourceOptions o;
  o.max_message_bytes = static_cast<size_t>(
      t.size("max_message_bytes", o.max_message_bytes, "a size from 1KiB to 64MiB, e.g. \"1MiB\"",
             [](uint64_t v) { return v >= 1024 && v <= (64u << 20); }));
  o.mqtt = parse_mqtt(t, o.max_message_bytes);
  return std::make_shared<PlatformSettings>(std::move(o), registry);
}

}  // namespace

PlatformSource::PlatformSource(std::string name, PlatformSourceOptions options,
                               std::shared_ptr<const RegistryLink> registry)
    : Source(std::move(name)), options_(std::move(options)), registry_(std::move(registry)) {
  if (options_.mqtt) mqtt_ = std::make_unique<MqttAdapter>(this->name(), *options_.mqtt);
}

Status PlatformSource::start(runtime::SourceContext& ctx) {
  constexpr int64_t kHourNs = 3'600'000'000'000;
  constexpr int64_t kSecondNs = 1'000'000'000;
  if (!mqtt_) {
    set_health(runtime::HealthState::kHealthy);
    while (ctx.sleep_until(ctx.clock().monotonic() + kHourNs)) {
    }
    set_health(runtime::HealthState::kNotApplicable);
    return Status::ok_status();
  }
  if (!registry_) {
    return failed_precondition(
        "the MQTT adapter needs the device registry, which this process does not open");
  }
  // The registry opens with the API, which may be just after the sources start.
  Registry* registry = registry_->get();
  while (registry == nullptr) {
    set_health(runtime::HealthState::kWarning,
               "waiting for the device registry (it opens with the API: [api] enabled = true)");
    if (!ctx.sleep_until(ctx.clock().monotonic() + kSecondNs / 10)) return Status::ok_status();
    registry = registry_->get();
  }
  set_health(runtime::HealthState::kHealthy);
  return mqtt_->run(ctx, *registry);
}

void PlatformSource::stop() {
  if (mqtt_) mqtt_->stop();
}

runtime::Health PlatformSource::health() const {
  runtime::Health own = Service::health();
  if (!mqtt_ || own.state != runtime::HealthState::kHealthy) return own;
  return mqtt_->health();
}

Result<size_t> PlatformSource::accept(runtime::SourceContext& ctx, const Message& message) {
  thread_local MessageNormalizer normalizer;
  formats::Parsed parsed;
  Status st = normalizer.normalize(message, &parsed);
  if (!st.ok()) {
    refuse("payload");
    return st;
  }
  const size_t n = parsed.batch.samples.size();
  if (n == 0) {
    refuse("empty");
    return invalid_argument("the message holds no values");
  }
  SLUICE_RETURN_IF_ERROR(ctx.update_series(parsed.meta));
  Result<store::AppendResult> appended = ctx.ingest(std::move(parsed.batch));
  if (!appended.ok()) {
    refuse("store");
    return appended.status();
  }
  messages_.fetch_add(1, std::memory_order_relaxed);
  samples_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

void PlatformSource::refuse(std::string_view reason) {
  std::lock_guard lock(refused_mu_);
  auto it = refused_.find(reason);
  if (it == refused_.end()) it = refused_.emplace(std::string(reason), 0).first;
  ++it->second;
}

runtime::SinkDetails PlatformSource::details() const {
  runtime::SinkDetails out = {{"messages", std::to_string(messages())},
                              {"samples", std::to_string(samples())}};
  std::lock_guard lock(refused_mu_);
  uint64_t total = 0;
  for (const auto& [reason, n] : refused_) total += n;
  out.push_back({"refused", std::to_string(total)});
  for (const auto& [reason, n] : refused_) out.push_back({"refused_" + reason, std::to_string(n)});
  if (mqtt_) {
    runtime::SinkDetails m = mqtt_->details();
    out.insert(out.end(), m.begin(), m.end());
  }
  return out;
}

void register_platform_source(runtime::SourceTypes& types,
                              std::shared_ptr<const RegistryLink> registry) {
  types.add(
      {std::string(kPlatformSourceType), [registry = std::move(registry)](runtime::ConfigTable& t) {
         return parse_settings(t, registry);
       }});
}

}  // namespace sluice::platform
