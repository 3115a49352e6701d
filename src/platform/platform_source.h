// The device platform as a source: messages from things (the HTTP adapter, POST
// /channels/{id}/messages, and the MQTT adapter) enter the store through this source's stream
// like any other source's data, and reach the sinks from there. One [[sources]] table of type
// "platform" turns the adapters on:
//
//   [[sources]]
//   name = "things"
//   type = "platform"
//   max_message_bytes = "1MiB"   # larger messages are refused (413)
//   # The MQTT adapter (platform/mqtt_adapter.h), on when mqtt_host is set:
//   mqtt_host = "127.0.0.1"
//   mqtt_port = 1883
//   mqtt_admin_username = "sluice-admin"     # the dynamic-security plugin's admin
//   mqtt_admin_password_file = "/etc/sluice/dynsec-admin"
//
// The HTTP adapter authenticates the thing and checks its connection to the channel
// (platform/registry.h); this source parses the payload (platform/messages.h), stores the
// series' labels, ingests, and answers once the samples are durable. It counts messages,
// samples and refusals by reason (details()).
//
// Thread safety: accept() and refuse() are called from the adapters' threads (the API server's),
// concurrently; the counters are atomic or behind a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "platform/messages.h"
#include "platform/mqtt_adapter.h"
#include "runtime/service.h"
#include "runtime/source_types.h"

namespace sluice::platform {

inline constexpr std::string_view kPlatformSourceType = "platform";

struct PlatformSourceOptions {
  size_t max_message_bytes = 1u << 20;
  std::optional<MqttAdapterOptions> mqtt;  // none: HTTP only
};

// How a platform source finds the device registry, which the process opens beside the API
// (after the source types are made): set() once it is open, set(nullptr) before it closes.
class RegistryLink {
 public:
  void set(Registry* registry) { registry_.store(registry); }
  Registry* get() const { return registry_.load(); }

 private:
  std::atomic<Registry*> registry_{nullptr};
};

class PlatformSource final : public runtime::Source {
 public:
  // `registry` may be null (then an MQTT adapter cannot start: it says so).
  PlatformSource(std::string name, PlatformSourceOptions options,
                 std::shared_ptr<const RegistryLink> registry = nullptr);

  std::string_view type() const override { return kPlatformSourceType; }
  // Runs the MQTT adapter if configured, else waits for the stop; the HTTP adapter calls
  // accept() meanwhile.
  Status start(runtime::SourceContext& ctx) override;
  void stop() override;
  runtime::Health health() const override;
  // messages, samples, refused, refused_<reason>... (HTTP), then the MQTT adapter's.
  runtime::SinkDetails details() const override;

  const PlatformSourceOptions& options() const { return options_; }

  // Parses the message, stores its series' metadata and ingests its samples; returns once they
  // are durable, with how many there were. kInvalidArgument for a payload that does not parse
  // (counted as refused "payload"); kResourceExhausted/kNoSpace when the store refuses.
  Result<size_t> accept(runtime::SourceContext& ctx, const Message& message);
  // Counts a message the adapter refused before it reached accept() (reason: "unauthenticated",
  // "not_connected", "unknown_channel", "too_large", ...).
  void refuse(std::string_view reason);

  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  uint64_t samples() const { return samples_.load(std::memory_order_relaxed); }

 private:
  const PlatformSourceOptions options_;
  const std::shared_ptr<const RegistryLink> registry_;
  std::unique_ptr<MqttAdapter> mqtt_;  // set in the constructor when configured
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> samples_{0};
  mutable std::mutex refused_mu_;
  std::map<std::string, uint64_t, std::less<>> refused_;  // guarded by refused_mu_
};

// Adds the "platform" source type to the catalogue. Its sources find the registry through
// `registry` (null: an MQTT adapter cannot start, e.g. in `sluice validate`).
void register_platform_source(runtime::SourceTypes& types,
                              std::shared_ptr<const RegistryLink> registry = nullptr);

}  // namespace sluice::platform
