// The device platform as a source: messages from things (the HTTP adapter, POST
// /channels/{id}/messages, and the MQTT adapter) enter the store through this source's stream
// like any other source's data, and reach the sinks from there. One [[sources]] table of type
// "platform" turns the adapters on:
//
//   [[sources]]
//   name = "things"
//   type = "platform"
//   max_message_bytes = "1MiB"   # larger messages are refused (413)
//
// The adapter authenticates the thing and checks its connection to the channel
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
#include <mutex>
#include <string>

#include "platform/messages.h"
#include "runtime/service.h"
#include "runtime/source_types.h"

namespace sluice::platform {

inline constexpr std::string_view kPlatformSourceType = "platform";

struct PlatformSourceOptions {
  size_t max_message_bytes = 1u << 20;
};

class PlatformSource final : public runtime::Source {
 public:
  PlatformSource(std::string name, PlatformSourceOptions options);

  std::string_view type() const override { return kPlatformSourceType; }
  // Waits for the stop: the adapters call accept() meanwhile.
  Status start(runtime::SourceContext& ctx) override;
  // messages, samples, refused, refused_<reason>...
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
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> samples_{0};
  mutable std::mutex refused_mu_;
  std::map<std::string, uint64_t, std::less<>> refused_;  // guarded by refused_mu_
};

// Adds the "platform" source type to the catalogue.
void register_platform_source(runtime::SourceTypes& types);

}  // namespace sluice::platform
