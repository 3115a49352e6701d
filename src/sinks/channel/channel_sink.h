// The `channel` sink: an edge Sluice sends its data to a central Sluice's device platform as a
// thing. It reads its streams through its cursors, turns up to batch_samples samples at a time
// into SenML packs of at most max_message_bytes each (senml_pack.h) and POSTs them, one after
// the other, to <url>/channels/<channel>/messages[/<subtopic>] with "Authorization: Thing <key>"
// (thing_client.h). The central names each series "<channel>.[<subtopic>.]<series>"; labels are
// not sent.
//
// Delivery is at-least-once: the cursors move only once every message of what was read has been
// answered 202 (or skipped, below); a crash or a restart in between sends the whole read again.
// What each answer means:
//   2xx            delivered.
//   400            the central refused the payload: it would never pass, so the message is
//                  skipped (logged with the central's reason, counted in refused_payload).
//   413            too large for the central: the message is split in halves and sent again
//                  (a single record that is still too large is skipped like a 400).
//   401, 403       the thing key or its connection to the channel is no longer valid: health
//                  CRITICAL, nothing moves, retried every retry_max until the key is replaced;
//                  refused_credentials() says so to whoever re-bootstraps the edge.
//   anything else  (5xx, 503, 507, 404, no connection, a timeout): retried with back-off from
//                  retry_min doubling to retry_max; health WARNING, CRITICAL from the 5th failed
//                  attempt in a row.
//
// Replacing the key: the sink's settings (key or key_file) are changed and the sink restarts,
// through Runtime::update_settings (the REST API's settings change), which also keeps the new
// key in the state database; with key_file, writing the new key into the file and restarting the
// sink does the same. No set_credentials() on a running instance: a key changed only in memory
// would be lost at the next restart, and the runtime gives no one else the instance anyway.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/sink.h"
#include "runtime/source_types.h"
#include "sinks/channel/senml_pack.h"
#include "sinks/channel/thing_client.h"

namespace sluice::sinks::channel {

struct ChannelSinkOptions {
  std::string url;       // the central's base URL: http(s)://host:port[/path], no trailing '/'
  std::string channel;   // the channel's id
  std::string key;       // the thing's key, or
  std::string key_file;  // a file that holds it, read at start
  std::string subtopic;  // "" or e.g. "plant1/line2"
  std::vector<std::string> series;  // '*' patterns of the series to send; empty: all
  size_t batch_samples = 1000;      // read (and committed) at a time
  size_t max_message_bytes = 1u << 20;
  ThingClientOptions http;
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{30'000};
};

// Counted since this sink instance started.
struct ChannelSinkCounters {
  uint64_t messages_posted = 0;      // answered 2xx
  uint64_t samples_posted = 0;       // in those messages
  uint64_t retries = 0;              // attempts that failed and are tried again (401/403 included)
  uint64_t refused_payload = 0;      // messages the central refused with 400: skipped
  uint64_t refused_samples = 0;      // samples in those messages
  uint64_t refused_credentials = 0;  // 401 and 403 answers
  uint64_t skipped_samples = 0;      // samples SenML cannot carry (senml_unfit): not sent
  std::string last_error;            // of the last failed or refused attempt; kept after successes
};

class ChannelSink final : public runtime::Sink {
 public:
  ChannelSink(std::string name, ChannelSinkOptions options);

  std::string_view type() const override { return "channel"; }
  Status start(runtime::SinkContext& ctx) override;

  // True from a 401 or 403 answer until a message is accepted: the central no longer takes this
  // thing key (rotated, thing removed or disconnected). Thread-safe.
  bool refused_credentials() const { return credentials_refused_.load(); }
  ChannelSinkCounters counters() const;
  // url, messages_posted, samples_posted, retries, refused_payload, refused_samples,
  // refused_credentials, credentials ("accepted", "refused", "" before the first answer),
  // skipped_samples, last_error.
  runtime::SinkDetails details() const override;

  // Where the messages go: <url>/channels/<channel>/messages[/<subtopic>].
  static std::string message_url(const ChannelSinkOptions& options);

 private:
  // What was read and not yet committed.
  struct Pending {
    std::vector<Sample> samples;    // the ones to send, in read order
    size_t next = 0;                // the first not yet delivered or skipped
    size_t max_records = SIZE_MAX;  // lowered by a 413
    std::optional<Pack> pack;       // the message of samples[next...] being sent
  };

  Result<std::string> load_key() const;
  // Reads up to batch_samples samples into pending_; false when nothing was readable.
  Result<bool> fill(runtime::SinkContext& ctx);
  std::string_view unit_of(runtime::SinkContext& ctx, const std::string& series);
  void skip(const std::string& why);
  void note_error(const std::string& text);
  std::string key_hint() const;

  const ChannelSinkOptions options_;
  const std::string url_;
  std::string key_;                                     // sink thread only
  std::optional<Pending> pending_;                      // sink thread only
  std::unordered_map<std::string, std::string> units_;  // of pending_'s read; sink thread only
  std::atomic<bool> credentials_refused_{false};
  std::atomic<bool> answered_{false};
  mutable std::mutex counters_mu_;
  ChannelSinkCounters counters_;  // guarded by counters_mu_
};

// The `channel` sink type for the config: url, channel, key | key_file, subtopic, series,
// batch_samples, max_message_bytes, timeout, ca_file, insecure_skip_verify, retry_min,
// retry_max (docs/configuration.md).
runtime::SinkType channel_sink_type();

}  // namespace sluice::sinks::channel
