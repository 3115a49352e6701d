// The store: the one durable place for data between sources and sinks.
//
// Model. The store holds one append-only log per *stream*. A stream is one input: a local
// source service ("sim1"), or a session forwarded from another Sluice, or an HTTP write
// session. Each log is a directory of segment files; every sample in a stream has a sequence
// number (first_seq of its record + its index), dense except where a forwarded stream has a gap.
// Each sink that reads a stream has a *cursor* on it: the sequence of the next sample it has not
// yet delivered. A (stream, sink) pair is what the status screen calls a session. Segments are
// deleted (or moved to the backup) only when every cursor on the stream is past them and that
// cursor position is durable. Why one log per stream rather than one shared log: see
// docs/store-format.md ("One log per stream").
//
// Durability. append() writes the encoded batch to the stream's active segment and, by the
// sync policy, makes it durable: kEveryBatch syncs before returning (appends that wait at the
// same time share one fsync: group commit); kInterval syncs every sync_interval on a
// background thread and an append that asks to wait returns after the next sync; kNever leaves
// it to the OS. The AppendResult says which durability the append reached. Readers see only
// *readable* data: synced data, or written data under kNever. A cursor can never be committed
// past the readable end.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch_codec.h"
#include "core/clock.h"
#include "core/histogram.h"
#include "core/sample.h"
#include "core/status.h"
#include "io/env.h"

namespace sluice::store {

enum class SyncPolicy { kEveryBatch, kInterval, kNever };
enum class FullPolicy { kBlock, kDropOldest, kDropNewest };

const char* sync_policy_name(SyncPolicy p);
const char* full_policy_name(FullPolicy p);
Result<SyncPolicy> parse_sync_policy(std::string_view s);  // "every_batch", "interval", "never"
Result<FullPolicy> parse_full_policy(std::string_view s);  // "block", "drop_oldest", "drop_newest"

struct StoreOptions {
  std::string dir;
  uint64_t segment_bytes = 64ull << 20;  // roll the active segment past this size
  SyncPolicy sync_policy = SyncPolicy::kInterval;
  std::chrono::milliseconds sync_interval{10};
  uint64_t max_bytes = 0;                 // the store's size limit over all streams; 0: none
  uint64_t min_free_bytes = 64ull << 20;  // keep this much free on the file system
  FullPolicy full_policy = FullPolicy::kBlock;
  std::chrono::milliseconds block_timeout{10'000};  // kBlock: how long an append waits for space
  EncodeOptions encoding;
  std::chrono::seconds backup_retention{0};  // keep delivered segments this long; 0: delete
  std::chrono::seconds purged_retention{30 * 24 * 3600};  // keep purged data this long
  Clock* clock = &SystemClock::instance();
};

// Why samples were not kept or not delivered. Every drop is counted under one cause.
enum class DropCause { kFullOldest, kFullNewest, kCorrupt, kPurged };
inline constexpr int kDropCauseCount = 4;
const char* drop_cause_name(DropCause c);  // "full_drop_oldest", "full_drop_newest", ...

// What open() found and did, for the log and `sluice store inspect`.
struct RecoveryReport {
  uint64_t streams = 0;
  uint64_t segments = 0;
  uint64_t truncated_bytes = 0;       // torn tails cut
  uint64_t corrupt_records = 0;       // skipped in the scanned tails
  uint64_t removed_files = 0;         // empty or headerless tail segments from an interrupted roll
  std::vector<std::string> messages;  // one line per action, with file and offset
};

enum class Durability : uint8_t { kWritten = 1, kSynced = 2 };

struct AppendOptions {
  bool wait_durable = true;  // return only when the batch is durable by the policy
};

struct AppendResult {
  enum class Outcome { kAppended, kDuplicate, kDropped };
  Outcome outcome = Outcome::kAppended;
  uint64_t first_seq = 0;  // the batch's samples are first_seq .. end_seq - 1
  uint64_t end_seq = 0;
  Durability durability = Durability::kWritten;
};

enum class StartAt { kEarliest, kLatest };

// Samples read from a stream: contiguous sequences first_seq .. first_seq + batch.size() - 1.
struct ReadItem {
  uint64_t first_seq = 0;
  Batch batch;
};

// Reads one stream forward from a position, seeing only readable (durable) data. Not
// thread-safe; one reader per consumer. Holds no lock between calls. Segments it is reading
// stay readable even if deleted meanwhile (the open file handle keeps them alive).
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  // Fills `out` with up to max_samples samples from the position; returns false if there is
  // nothing readable now. Corrupt records are skipped (counted under DropCause::kCorrupt) and
  // the position jumps past them.
  virtual Result<bool> next(size_t max_samples, ReadItem* out) = 0;
  virtual uint64_t position() const = 0;
  virtual void seek(uint64_t seq) = 0;
};

struct CursorInfo {
  uint64_t next_seq = 0;
};

struct StreamStats {
  std::string id;
  int64_t created_ns = 0;
  uint64_t first_seq = 0;     // oldest retained sample
  uint64_t next_seq = 0;      // the next sequence an append gets
  uint64_t readable_end = 0;  // readers see sequences below this
  uint64_t bytes = 0;
  uint64_t segments = 0;
  uint64_t appended_samples = 0;  // since open
  uint64_t appended_batches = 0;
  std::map<std::string, CursorInfo> cursors;
  uint64_t dropped[kDropCauseCount] = {};
  uint64_t corrupt_records = 0;
};

struct StoreStats {
  uint64_t streams = 0;
  uint64_t bytes = 0;
  uint64_t segments = 0;
  uint64_t series = 0;
  uint64_t syncs = 0;                 // fsync rounds (group commits)
  uint64_t last_sync_ns = 0;          // duration of the last round
  LatencyHistogram::Snapshot sync_latency;  // durations of every round since open
  uint64_t appends_blocked = 0;       // appends that waited for space (kBlock)
  uint64_t appends_refused_full = 0;  // kBlock appends that gave up after block_timeout
  uint64_t dropped[kDropCauseCount] = {};
  uint64_t write_errors = 0;
};

struct PurgeReport {
  uint64_t from_seq = 0;  // the sink's cursor before the purge
  uint64_t to_seq = 0;    // and after it (the stream's readable end)
  uint64_t samples = 0;
  std::string backup_dir;  // where the purged segments were linked
};

class Store {
 public:
  // Opens (or creates) the store in options.dir: takes its lock, loads the catalog, recovers
  // the tail segment of every stream (truncating torn tails, skipping corrupt records) and
  // starts the sync thread. A damaged store never fails open for damage alone: it reports
  // what it cut or skipped in `report` and counts it.
  static Result<std::unique_ptr<Store>> open(Env& env, StoreOptions options,
                                             RecoveryReport* report = nullptr);
  // Syncs everything written and closes. Same as close().
  ~Store();
  Status close();

  // Creates the stream if it does not exist. `meta_json` is kept with it (settings the runtime
  // and the forward link attach: source, hops, ...). Durable on return.
  Status ensure_stream(std::string_view stream, std::string_view meta_json = "{}");
  bool has_stream(std::string_view stream) const;
  std::vector<std::string> streams() const;
  Result<std::string> stream_meta(std::string_view stream) const;

  // Appends a batch with the next sequences of the stream.
  Result<AppendResult> append(std::string_view stream, const Batch& batch,
                              AppendOptions options = {});
  // Appends a batch that already has sequences (forwarded from another Sluice): samples below
  // the stream's next_seq are already here (outcome kDuplicate, nothing written); a batch that
  // starts past next_seq leaves a gap. Exactly once across resends.
  Result<AppendResult> append_at(std::string_view stream, uint64_t first_seq, const Batch& batch,
                                 AppendOptions options = {});
  // Makes everything written so far durable now.
  Status sync();
  // Blocks until the stream's readable end is past `seq` or the timeout passes or the store
  // closes; returns the readable end.
  uint64_t wait_readable(std::string_view stream, uint64_t seq, std::chrono::milliseconds timeout);

  // Cursors: one per (stream, sink). add_cursor keeps an existing one.
  Status add_cursor(std::string_view stream, std::string_view sink, StartAt start);
  Status remove_cursor(std::string_view stream, std::string_view sink);
  Result<CursorInfo> cursor(std::string_view stream, std::string_view sink) const;
  // Durable on return. Refuses a position past the readable end or behind the cursor. Then
  // deletes (or backs up) segments every cursor has passed.
  Status commit_cursor(std::string_view stream, std::string_view sink, uint64_t next_seq);

  Result<std::unique_ptr<StreamReader>> open_reader(std::string_view stream, uint64_t from_seq);

  // Visits samples of the stream with from <= ts < to whose series is in `series` (all if
  // empty), in sequence order; the visitor returns false to stop. Reads only readable data.
  Status query(std::string_view stream, const std::vector<std::string>& series, Timestamp from,
               Timestamp to, const std::function<bool(const Sample&, uint64_t seq)>& visit);

  // Moves a session's buffered data out of its way: the sink's cursor jumps to the readable
  // end and the segments that held the skipped samples are linked into purged/ with a
  // MANIFEST (kept for purged_retention). Counted under DropCause::kPurged.
  Result<PurgeReport> purge(std::string_view stream, std::string_view sink);

  Result<StreamStats> stream_stats(std::string_view stream) const;
  StoreStats stats() const;
  const StoreOptions& options() const;

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::store
