// The runtime: what `sluice run` is. It owns the store, gives every configured source a stream
// of its own and a thread of its own, counts what each source ingests, logs a status line
// now and then, and shuts everything down gracefully: sources stop first (each returns only
// after its last ingest was acknowledged), then the store syncs and closes, so nothing that
// was acknowledged is lost.
//
// Every configured sink gets a cursor on the stream of each source it takes data from (created
// before anything runs, so no data is deleted before a sink has seen it) and a thread of its own.
//
// A service (source or sink) that cannot start or fails while running is logged with its reason
// and shown as health CRITICAL; the others go on. It is started again (a new instance from the
// same settings) after a back-off that doubles from 1 s to 60 s, and starts again at 1 s once an
// instance ran for a minute: one policy for all services, in Runtime::restart_delay().
//
// Services can be changed while it runs (the REST API): enabled or disabled, given new settings,
// added or removed. Each change is written to the state database first (the `services` table,
// runtime/state_db.h) and survives a restart; the config file seeds that table and updates the
// services that were not changed through the API (docs/configuration.md, "Changes made at run
// time").
//
// Sessions (one sink's flow of one stream, the status screen's row) can be paused and purged at
// run time (the REST API): a paused session's sink reads nothing of that stream until unpaused,
// and the pause is kept in the state database (`paused_sessions`). As sources ingest, the newest
// sample of every series is kept in memory (last_values(), bounded), for the status screen and
// the rules.
//
// Thread safety: open(), start() and stop() are called by one controlling thread; sources(),
// sinks(), status_line(), trigger_sink(), the changes at run time, the sessions (sessions(),
// pause_session(), purge_session()), last_values(), live_tap() and store() may be called from
// any thread
// while the runtime runs (the changes are serialized with start() and stop()).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "io/env.h"
#include "runtime/config.h"
#include "runtime/control.h"
#include "runtime/last_values.h"
#include "runtime/live_tap.h"
#include "runtime/series_registry.h"
#include "runtime/service.h"
#include "runtime/sink.h"
#include "runtime/state_db.h"
#include "store/store.h"

namespace sluice::runtime {

struct RuntimeOptions {
  Env* env = nullptr;      // null: Env::posix()
  Clock* clock = nullptr;  // null: SystemClock; given to the store and to every source
  // The state database's path; empty: state.db in the store's directory (":memory:" when the
  // store runs on a test file system).
  std::string state_db;
  // The config file's text, which seeds the state database's services table; empty: read from
  // config.file. When neither can be read, the services run as `config` says and changes at run
  // time are refused (there is no table text to keep).
  std::string config_text;
  // The service types, to build services whose settings come from the state database (changed or
  // added through the API). Must outlive the runtime. Null: changes at run time are refused, and
  // services changed through the API earlier run from the config file's table (an error says so).
  const SourceTypes* types = nullptr;
  // Checks the tokens of outside writers (forward link senders, the write API); null: none.
  // Must outlive the runtime.
  const TokenVerifier* tokens = nullptr;
};

// The service that writes a stream, from the stream's meta JSON: "service" (a session stream of
// a source that takes many sessions) or else "source" (a source's own stream); "" if neither.
std::string stream_service(std::string_view meta_json);

// One source as the status screen shows it.
struct SourceStatus {
  std::string name;
  std::string type;
  std::string org;  // SourceConfig::org
  Mode mode = Mode::kIdle;
  Health health;
  uint64_t samples = 0;  // ingested and kept since start
  uint64_t batches = 0;
  uint64_t dropped_samples = 0;   // refused by a full store under drop_newest
  uint64_t failed_ingests = 0;    // appends that returned an error (store full under block, I/O)
  uint64_t filtered_samples = 0;  // dropped by the source's filters (exclude, deadband, ...)
  SinkDetails details;            // the source's own (Service::details()), e.g. the link's
};

// One sink as the status screen shows it.
struct SinkStatus {
  std::string name;
  std::string type;
  std::string org;  // SinkConfig::org
  Mode mode = Mode::kIdle;
  Health health;
  uint64_t delivered = 0;  // samples committed since start
  uint64_t backlog = 0;    // readable but not yet delivered
  uint64_t restarts = 0;
  // The sink's own details (Sink::details()), e.g. the files sink's files_pending,
  // files_uploaded, files_failed, last_upload, last_error; empty if it has none or could not
  // be created.
  SinkDetails details;
};

// One session (the status screen's row, Canary's vocabulary): one sink's flow of one stream.
// Counters are since the runtime (input) or the sink's current settings (output) started.
struct SessionStatus {
  std::string stream;
  std::string stream_meta;  // the stream's meta JSON ({"source", "type"}; "hops" when forwarded)
  // The sink's own view of the session's output ("closed", "hold", "throttled", "open") and why;
  // empty when the sink has none (then the API judges from the sink's mode and health).
  std::string output_state;
  std::string output_reason;
  // A session stream's input (forwarded or written): when data last came (wall clock ns; 0 if
  // not since start), and whether it closed after its inactive timeout.
  int64_t last_input_ns = 0;
  bool input_closed = false;
  // The instances the data went through, where it entered first and this one last ("hops" of
  // the meta; a local source's stream: this instance only).
  std::vector<std::string> hops;
  int64_t created_ns = 0;  // when the stream was created
  // The source that writes the stream, if one is configured now ("" otherwise), and its state.
  std::string source;
  std::string source_type;
  Mode source_mode = Mode::kIdle;
  Health source_health;
  std::string sink;
  std::string sink_type;
  std::string sink_summary;  // the sink's settings in one line, e.g. "one CSV file every 1h to x"
  Mode sink_mode = Mode::kIdle;
  Health sink_health;
  bool paused = false;         // paused by an operator (pause_session)
  size_t queue_order = 0;      // 1-based place of the stream in the sink's read rotation
  uint64_t input_samples = 0;  // appended to the stream since the store opened
  uint64_t delivered = 0;      // samples of the stream this sink committed (since its slot began)
  uint64_t cursor = 0;         // the sink's durable cursor on the stream
  uint64_t readable_end = 0;   // the stream's readable end
  uint64_t backlog = 0;        // readable_end - cursor: buffered, not yet delivered
  size_t series = 0;           // series seen in the stream since start (last-value cache)
};

class Runtime {
 public:
  // Opens the store (recovering it if needed) and the state database, merges the config's
  // services with the ones kept there (seeding it; see state_db.h), ensures one stream per
  // source (meta {"source": name, "type": type}) and builds the services. Starts nothing yet.
  // Fails only if the store or the state database cannot be opened or written; a service that
  // cannot be built is kept, CRITICAL.
  static Result<std::unique_ptr<Runtime>> open(const Config& config, RuntimeOptions options = {});
  ~Runtime();  // stop() if still running
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts every enabled source on its own thread, and the status logger.
  Status start();
  // Stops the sources and waits for their threads, then syncs and closes the store.
  // Idempotent; returns the first error of the sync or close.
  Status stop();

  std::vector<SourceStatus> sources() const;
  std::vector<SinkStatus> sinks() const;

  // How long to wait before starting a failed service again, given how many times in a row it
  // failed (1, 2, ...) and how long its last instance ran.
  static std::chrono::nanoseconds restart_delay(int failures, std::chrono::nanoseconds ran);
  // An operator's "deliver now" for a sink (the files sink's manual upload).
  Status trigger_sink(std::string_view name);
  // One line: samples/s in since the previous call, store size, bytes per sample, drops, any
  // service that is not healthy, and each sink's details in a compact form.
  std::string status_line();

  // ---- Changes at run time (the REST API) -------------------------------------------------
  // Each is written to the state database before it takes effect, survives a restart, and from
  // then on wins over the config file's table for that service. A name means the source or sink
  // of that name (an error if both exist). Allowed before start() and while running, not after
  // stop(); refused without RuntimeOptions::types or the config file's text.

  // Disables (stops) or enables (starts) the service, and keeps it so.
  Status set_enabled(std::string_view name, bool enabled);
  // Gives the service new settings: `toml_text` holds the keys of its table as in the config file
  // (name and type may be left out, and cannot change; without `enabled` it stays as it is).
  // Checked by the config parser: on an error nothing changes and the message names the line and
  // key in toml_text (kInvalidArgument). Then the service restarts with the new settings.
  Status update_settings(std::string_view name, std::string_view toml_text);
  // Adds a service from its table's text (name and type required; the name must not be used by
  // any source or sink) and starts it if enabled. A new source's data is also taken by the sinks
  // that take every source (they restart to read its stream).
  Status add_service(ServiceKind kind, std::string_view toml_text);
  // Stops and removes the service. A tombstone stays in the state database so that the config
  // file does not bring it back. A source's stream and data stay in the store; a sink's cursors
  // are removed (the store may then free what it kept for it). A source that a sink names in its
  // `sources` cannot be removed before that sink is changed.
  Status remove_service(std::string_view name);
  // The state database's row of the service (settings text, origin, updated_at).
  Result<ServiceRow> service_row(std::string_view name) const;

  // ---- Sessions (the status screen, the REST API) ------------------------------------------
  // Every (stream, sink) pair: each sink with each stream it reads, sinks in order, streams in
  // the sink's read order.
  std::vector<SessionStatus> sessions() const;
  // Pauses or unpauses the session: while paused the sink does not read the stream (its cursor
  // stays, the data keeps buffering in the store). Kept in the state database first; survives a
  // restart and a restart of the sink. A batch the sink has read but not yet committed when the
  // pause comes is delivered and committed as usual (no loss, no duplicate); no read of the
  // stream starts after this returns. kNotFound for an unknown stream or sink, or a sink that
  // does not read the stream.
  Status pause_session(std::string_view stream, std::string_view sink, bool paused);
  // Moves the session's buffered data out of the way (Store::purge: linked into purged/ with a
  // MANIFEST, kept for purged_retention); the sink's cursor jumps to the readable end and its
  // reader follows. A batch the sink read before the purge may still be delivered (it is counted
  // in the report as purged too).
  Result<store::PurgeReport> purge_session(std::string_view stream, std::string_view sink);
  // The newest sample of every series per stream, updated as sources ingest.
  const LastValues& last_values() const { return last_values_; }
  // Every batch ingested and kept, as it arrives, for whoever subscribes (the WebSocket
  // /api/v1/live, the rules); see live_tap.h.
  LiveTap& live_tap() { return live_tap_; }

  // Who this Sluice is ([instance] name, the store's directory).
  const InstanceInfo& instance() const { return instance_; }
  // Calls f with the running instance of the source of that name and its context, the instance
  // held so that a restart waits until f returns (f may wait for durability, not longer).
  // kNotFound: no such source; kUnavailable: it has no instance now (failed, disabled).
  Status with_source(std::string_view name,
                     const std::function<Status(Source&, SourceContext&)>& f);
  // with_source(), concurrently with other with_source_shared() calls on the same source (a
  // restart still waits for them): for f that is thread-safe on the source, such as an ingest
  // that waits for durability (the platform's HTTP adapter), so that concurrent requests share
  // the store's group commit instead of waiting in line.
  Status with_source_shared(std::string_view name,
                            const std::function<Status(Source&, SourceContext&)>& f);
  // The names of the sources of this type, in config order (cheap: no status is built).
  std::vector<std::string> sources_of_type(std::string_view type) const;

  store::Store& store() { return *store_; }
  SeriesRegistry& series() { return *series_; }

  // The control dispatcher that carries out the control requests sources receive
  // (SourceContext::submit_control); null: they are refused. Set before start(); must outlive the
  // runtime's sources.
  void set_control_router(ControlRouter* router) { control_router_.store(router); }
  ControlRouter* control_router() const { return control_router_.load(); }
  // The source that ingested a series of asset `asset` (`<asset>.<datapoint>`) most recently,
  // from the last-value cache: the control dispatcher's asset tracker. nullopt if none did
  // since start.
  std::optional<std::string> source_of_asset(std::string_view asset) const;
  // The ACL a source's settings attach to it (`acl`); "" for none, kNotFound for no such source.
  Result<std::string> source_acl(std::string_view name) const;

 private:
  class Slot;
  class SinkSlot;
  Runtime(Config config, RuntimeOptions options, std::unique_ptr<store::Store> store);

  // The services to run: the config file's, merged with the state database's services table
  // (seeding it). Sets persist_.
  struct Services {
    std::vector<SourceConfig> sources;
    std::vector<SinkConfig> sinks;
  };
  Result<Services> resolve_services();
  // A slot for the service (its stream or cursors created), with an instance or a failure.
  Result<std::unique_ptr<Slot>> make_source_slot(const SourceConfig& source);
  Result<std::unique_ptr<SinkSlot>> make_sink_slot(const SinkConfig& sink);
  void start_source(Slot& slot);
  void start_sink(SinkSlot& slot);
  // For the changes at run time; called with control_mu_ held.
  Status check_changeable() const;
  Result<std::pair<ServiceKind, size_t>> find_service(std::string_view name) const;
  Result<ServiceRow> stored_row(ServiceKind kind, const std::string& name) const;
  Result<SourceConfig> parse_source(std::string_view text, std::string_view label) const;
  Result<SinkConfig> parse_sink(std::string_view text, std::string_view label) const;
  // Stops the slot at `index` and puts a new one from `config` in its place (started if the
  // runtime runs and it is enabled); without config, removes it.
  Status replace_source(size_t index, const std::optional<SourceConfig>& config);
  Status replace_sink(size_t index, const std::optional<SinkConfig>& config);
  // What the two above share.
  template <typename SlotT, typename ConfigT, typename Ptr>
  Status replace_slot(std::vector<Ptr>& slots, size_t index, const std::optional<ConfigT>& config);
  std::vector<std::string> source_names() const;
  // The session streams in the store that belong to the service (meta "service").
  std::vector<std::string> session_streams(const std::string& service) const;
  // Creates a session stream of source `service` and has every sink that takes that source's
  // data read it (cursor first). Called by Slot::open_stream.
  Status attach_stream(const std::string& service, const std::string& stream,
                       const std::string& meta_json);
  // The sink slot of that name and the index of `stream` among its streams (services_mu_ or
  // control_mu_ held).
  Result<std::pair<SinkSlot*, size_t>> find_session(std::string_view stream,
                                                    std::string_view sink) const;
  std::string now_text() const;  // the clock's now, ISO-8601 UTC

  void run_source(Slot& slot);
  void run_sink(SinkSlot& slot);
  template <typename SlotT>
  void supervise(SlotT& slot, const char* kind);

  void run_status_logger(const std::stop_token& stop);

  Config config_;
  RuntimeOptions options_;
  InstanceInfo instance_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<SeriesRegistry> series_;
  LastValues last_values_;
  LiveTap live_tap_;  // declared before the slots, which publish to it
  std::atomic<ControlRouter*> control_router_{nullptr};
  // The vectors change only with control_mu_ and services_mu_ (exclusive) held; readers from
  // other threads hold services_mu_ shared, the controlling thread holds control_mu_.
  mutable std::shared_mutex services_mu_;
  std::vector<std::shared_ptr<Slot>> slots_;  // shared: with_source() may outlive a swap
  std::vector<std::unique_ptr<SinkSlot>> sink_slots_;
  bool persist_ = false;  // the services table is in use (set by open)

  mutable std::mutex control_mu_;  // serializes start(), stop() and the changes at run time
  bool started_ = false;           // guarded by control_mu_
  bool stopped_ = false;           // guarded by control_mu_
  std::jthread status_thread_;
  std::mutex status_wait_mu_;
  std::condition_variable_any status_wait_;

  std::mutex rate_mu_;  // guards the two below (status_line)
  int64_t last_status_mono_ = 0;
  uint64_t last_status_samples_ = 0;
};

}  // namespace sluice::runtime
