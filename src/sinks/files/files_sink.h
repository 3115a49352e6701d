// The `files` sink: the data-lake batch upload of the KEPServerEX connector. Every upload
// interval, all new samples of its sources become one CSV file (see csv.h) delivered durably
// into a directory; only then do its cursors move, so a crash or an outage resends, never
// skips. A failed delivery is retried with exponential back-off (the data stays in the store)
// and shows as WARNING with the last error. trigger() ("manual upload now") delivers everything
// available at once. HTTP(S) upload is the next step (issue 3); the directory is the first.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "io/env.h"
#include "runtime/sink.h"
#include "runtime/source_types.h"

namespace sluice::sinks::files {

struct FilesSinkOptions {
  std::string dir;                                       // where the files go
  std::chrono::nanoseconds interval = std::chrono::minutes(10);
  size_t max_rows_per_file = 1'000'000;                  // a larger backlog makes several files
  Env* env = nullptr;                                    // null: Env::posix()
};

struct FilesSinkCounters {
  uint64_t files_delivered = 0;
  uint64_t rows_delivered = 0;
  uint64_t files_failed = 0;  // delivery attempts that failed (each is retried)
  std::string last_error;
};

class FilesSink final : public runtime::Sink {
 public:
  FilesSink(std::string name, FilesSinkOptions options);

  std::string_view type() const override { return "files"; }
  Status start(runtime::SinkContext& ctx) override;
  Status trigger() override;
  FilesSinkCounters counters() const;

 private:
  // Delivers everything readable now, in files of at most max_rows_per_file rows. Returns the
  // first failure (after rewinding: nothing of a failed file is committed).
  Status deliver_available(runtime::SinkContext& ctx);

  const FilesSinkOptions options_;
  Env& env_;
  std::atomic<bool> manual_{false};
  mutable std::mutex counters_mu_;
  FilesSinkCounters counters_;  // guarded by counters_mu_
};

// The `files` sink type for the config: keys dir, interval, max_rows_per_file,
// allow_short_interval (tests only: interval below one minute).
runtime::SinkType files_sink_type();

}  // namespace sluice::sinks::files
