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
// Thread safety: open(), start() and stop() are called by one controlling thread; sources(),
// status_line() and store() may be called from any thread while the runtime runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "io/env.h"
#include "runtime/config.h"
#include "runtime/series_registry.h"
#include "runtime/service.h"
#include "runtime/sink.h"
#include "store/store.h"

namespace sluice::runtime {

struct RuntimeOptions {
  Env* env = nullptr;      // null: Env::posix()
  Clock* clock = nullptr;  // null: SystemClock; given to the store and to every source
  // The state database's path; empty: state.db in the store's directory (":memory:" when the
  // store runs on a test file system).
  std::string state_db;
};

// One source as the status screen shows it.
struct SourceStatus {
  std::string name;
  std::string type;
  Mode mode = Mode::kIdle;
  Health health;
  uint64_t samples = 0;  // ingested and kept since start
  uint64_t batches = 0;
  uint64_t dropped_samples = 0;  // refused by a full store under drop_newest
  uint64_t failed_ingests = 0;   // appends that returned an error (store full under block, I/O)
};

// One sink as the status screen shows it.
struct SinkStatus {
  std::string name;
  std::string type;
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

class Runtime {
 public:
  // Opens the store (recovering it if needed), ensures one stream per configured source
  // (meta {"source": name, "type": type}) and builds the sources. Starts nothing yet. Fails only
  // if the store cannot be opened or written; a source that cannot be built is kept, CRITICAL.
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
  store::Store& store() { return *store_; }
  SeriesRegistry& series() { return *series_; }

 private:
  class Slot;
  class SinkSlot;
  Runtime(Config config, RuntimeOptions options, std::unique_ptr<store::Store> store);
  void run_source(Slot& slot);
  void run_sink(SinkSlot& slot);
  template <typename SlotT>
  void supervise(SlotT& slot, const char* kind);

  void run_status_logger(const std::stop_token& stop);

  Config config_;
  RuntimeOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<SeriesRegistry> series_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::unique_ptr<SinkSlot>> sink_slots_;

  std::mutex control_mu_;  // serializes start() and stop()
  bool started_ = false;   // guarded by control_mu_
  bool stopped_ = false;   // guarded by control_mu_
  std::jthread status_thread_;
  std::mutex status_wait_mu_;
  std::condition_variable_any status_wait_;

  std::mutex rate_mu_;  // guards the two below (status_line)
  int64_t last_status_mono_ = 0;
  uint64_t last_status_samples_ = 0;
};

}  // namespace sluice::runtime
