// The `files` sink: the data-lake batch upload of the KEPServerEX connector. Every upload
// interval, all new samples of its sources become one CSV file (see csv.h; gzip-compressed if
// configured) delivered durably into a directory, uploaded to an HTTP(S) URL (a 2xx answer), or
// both; only when every configured destination has it do its cursors move, so a crash or an
// outage resends, never skips. A failed delivery is retried with exponential back-off — the
// same file, same name and bytes, so a receiver can deduplicate by name — while the data stays
// in the store, and shows as WARNING with the last error; an HTTP 4xx answer is retried the same
// way (http_upload.h). trigger() ("manual upload now") delivers everything available at once.
// details() gives the connector page's figures: files pending / uploaded / delivered / failed,
// last upload, last error.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "io/env.h"
#include "runtime/sink.h"
#include "runtime/source_types.h"
#include "sinks/files/http_upload.h"

namespace sluice::sinks::files {

struct FilesSinkOptions {
  std::string dir;                          // where the files go ("": no dir)
  std::optional<HttpUploadOptions> upload;  // where they are uploaded, if anywhere
  bool gzip = false;                        // files are .csv.gz
  std::chrono::nanoseconds interval = std::chrono::minutes(10);
  size_t max_rows_per_file = 1'000'000;  // a larger backlog makes several files
  Env* env = nullptr;                    // null: Env::posix()
};

// What the connector page shows: "files pending / uploaded / failed, last upload, last error".
// Counted since this sink instance started (a restart after a failure starts again from 0).
struct FilesSinkCounters {
  uint64_t files_pending = 0;    // made but not yet in every destination (0 or 1: retried)
  uint64_t files_delivered = 0;  // files every destination has (then the cursors moved)
  uint64_t rows_delivered = 0;
  uint64_t files_uploaded = 0;  // 2xx answers to uploads
  uint64_t files_failed = 0;    // delivery attempts that failed (each is retried)
  uint64_t uploads_failed = 0;  // of those, the ones where the upload failed
  Timestamp last_delivery = 0;  // clock().now() of the last delivered file; 0: none yet
  std::string last_error;       // of the last failed attempt; kept after a later success
};

class FilesSink final : public runtime::Sink {
 public:
  FilesSink(std::string name, FilesSinkOptions options);

  std::string_view type() const override { return "files"; }
  Status start(runtime::SinkContext& ctx) override;
  Status trigger() override;
  FilesSinkCounters counters() const;
  // files_pending, files_uploaded, files_delivered, files_failed, rows_delivered, last_upload
  // (ISO-8601 UTC of the last delivered file, "" if none), last_error ("" if none).
  runtime::SinkDetails details() const override;

 private:
  // A file made from rows read but not yet committed; kept until every destination has it.
  struct PendingFile {
    std::string name;
    std::string content;  // CSV, or gzip of it
    size_t rows = 0;
  };

  // Delivers everything readable now, in files of at most max_rows_per_file rows. Returns the
  // first failure; the failed file stays pending (its rows read, not committed) and is sent
  // again, unchanged, by the next call.
  Status deliver_available(runtime::SinkContext& ctx);
  // Puts `file` into dir and/or uploads it.
  Status deliver(runtime::SinkContext& ctx, const PendingFile& file);
  std::string destination() const;

  const FilesSinkOptions options_;
  Env& env_;
  std::unique_ptr<HttpUploader> uploader_;  // null without url
  std::optional<PendingFile> pending_;      // sink thread only
  std::atomic<bool> manual_{false};
  mutable std::mutex counters_mu_;
  FilesSinkCounters counters_;  // guarded by counters_mu_
};

// The `files` sink type for the config: keys dir and/or url, interval, max_rows_per_file,
// allow_short_interval (tests only: interval below one minute), gzip, and for the upload
// method, bearer_token | username + password, ca_file, insecure_skip_verify, timeout.
runtime::SinkType files_sink_type();

}  // namespace sluice::sinks::files
