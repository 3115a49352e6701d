// One stream's log: a directory of segment files, the active segment being appended to, the
// stream's cursors (STATE) and its positions. The Store owns one StreamLog per stream and
// drives it; nothing outside src/store uses this class.
//
// Positions, in order (asserted): first_seq <= readable_end <= next_seq.
//  - next_seq:     the next sequence an append gets (written, maybe not durable).
//  - readable_end: everything below is durable by the sync policy; readers and cursors stop
//                  here. Advanced by sync rounds (and at once under SyncPolicy::kNever).
//  - first_seq:    the oldest sequence still held (segments before it were deleted).
// Durability: append() only writes. capture() + sync_captured() make what was written durable
// (the Store's sync round calls them). roll() syncs the segment it seals before it creates the
// next one, so every sealed segment is durable and recovery scans only the last one.
// Thread safety: all methods are thread-safe; `mu_` guards the segment list and positions,
// `state_mu_` the cursors and the STATE file (never held together with mu_ held first).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/batch_codec.h"
#include "core/clock.h"
#include "core/status.h"
#include "io/env.h"
#include "store/catalog.h"
#include "store/format.h"
#include "store/store.h"
#include "store/stream_state.h"

namespace sluice::store {

struct Segment {
  uint64_t base_seq = 0;
  std::string path;
  int64_t created_ns = 0;
  bool sealed = false;
  uint64_t bytes = 0;           // written
  uint64_t readable_bytes = 0;  // readers may read up to here
  uint64_t synced_bytes = 0;    // durable (== readable except under SyncPolicy::kNever)
  uint64_t end_seq = 0;         // one past the last sequence it holds (sealed: next base)
  uint64_t records = 0;         // known for the active segment and scanned ones
  // Time range of its samples, once known (the active segment always; sealed after a scan).
  std::optional<std::pair<Timestamp, Timestamp>> time_range;
};

// Shared with the Store: callbacks and counters a log reports into.
struct LogEnv {
  Env* env = nullptr;
  SeriesCatalog* catalog = nullptr;
  Clock* clock = nullptr;
  const StoreOptions* options = nullptr;
  std::atomic<uint64_t>* total_bytes = nullptr;  // over all streams
  std::atomic<uint64_t>* write_epoch = nullptr;  // incremented per append, under the log lock
  std::function<void()> space_freed;             // called after segments are deleted
};

class StreamLog : public std::enable_shared_from_this<StreamLog> {
 public:
  // Recovers an existing stream directory (see docs/store-format.md, "Recovery").
  static Result<std::shared_ptr<StreamLog>> open(const LogEnv& le, const std::string& dir,
                                                 std::string id, RecoveryReport* report);
  // Creates the directory, STREAM and the first segment; durable on return.
  static Result<std::shared_ptr<StreamLog>> create(const LogEnv& le, const std::string& dir,
                                                   std::string id, std::string_view meta_json);

  const std::string& id() const { return id_; }
  const std::string& dir() const { return dir_; }
  std::string meta_json() const;

  struct Appended {
    AppendResult::Outcome outcome = AppendResult::Outcome::kAppended;
    uint64_t first_seq = 0;
    uint64_t end_seq = 0;
    uint64_t epoch = 0;  // the write epoch of this append (0 if nothing was written)
  };
  // Writes one record. With `at` (forwarded data) the batch keeps its sequences: a batch
  // already present is a duplicate, a partial overlap is refused as kInvalidArgument.
  Result<Appended> append(const EncodedBatch& enc, std::optional<uint64_t> at);

  // A sync round: capture() records what is written now; sync_captured() makes it durable and
  // readable.
  struct Capture {
    std::shared_ptr<WritableFile> file;
    std::shared_ptr<Segment> segment;
    uint64_t bytes = 0;
    uint64_t end_seq = 0;
  };
  Capture capture();
  Status sync_captured(const Capture& c);

  // Seals the active segment (syncing it) and starts a new one. No-op on an empty segment.
  Status roll();
  // Removes sealed segments every cursor has passed (to backup/ if configured).
  Status trim();
  // Drops the oldest segment even though cursors have not passed it (full policy
  // drop_oldest); counts the undelivered samples. Returns false if there is nothing to drop.
  Result<bool> drop_oldest();
  // Oldest created_ns over sealed segments, for choosing a drop_oldest victim.
  std::optional<int64_t> oldest_sealed_created() const;
  uint64_t active_bytes() const;

  uint64_t next_seq() const;
  uint64_t readable_end() const;
  uint64_t first_seq() const;
  uint64_t wait_readable(uint64_t seq, std::chrono::milliseconds timeout,
                         const std::atomic<bool>* closing);
  void notify_all();

  Status add_cursor(const std::string& sink, StartAt start);
  Status remove_cursor(const std::string& sink);
  std::optional<uint64_t> cursor(const std::string& sink) const;
  Status commit_cursor(const std::string& sink, uint64_t next_seq);
  void count_drop(DropCause cause, uint64_t samples);
  Status persist_state();

  Result<std::unique_ptr<StreamReader>> open_reader(uint64_t from_seq);
  Status query(const std::vector<std::string>& series, Timestamp from, Timestamp to,
               const std::function<bool(const Sample&, uint64_t)>& visit);
  Result<PurgeReport> purge(const std::string& sink, const std::string& purged_root);

  StreamStats stats() const;
  Status close();

  // For readers: the segment that holds `seq` (or the first after it) and the read limits.
  struct View {
    std::shared_ptr<Segment> segment;
    uint64_t readable_bytes = 0;
    bool sealed = false;
    uint64_t readable_end = 0;
    uint64_t first_seq = 0;
    uint64_t next_base = 0;  // base of the following segment (sealed only)
  };
  std::optional<View> view_for(uint64_t seq) const;
  Result<std::shared_ptr<ReadableFile>> reader_file(const std::shared_ptr<Segment>& seg);
  // Damage met by a reader; counted once per (segment, offset).
  void note_damage(uint64_t base, uint64_t offset, uint64_t lost_samples);
  const LogEnv& log_env() const { return le_; }

 private:
  StreamLog(const LogEnv& le, std::string dir, std::string id);
  Status open_active_for_append();
  Result<std::shared_ptr<Segment>> create_segment(uint64_t base);  // mu_ held
  Status roll_locked();                                            // mu_ held
  uint64_t min_cursor_locked() const;                              // state_mu_ held
  Status retire_segment_file(const Segment& seg);                  // no lock needed

  LogEnv le_;
  const std::string dir_;
  const std::string id_;
  std::string meta_json_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_;  // GUARDED_BY(mu_), by base_seq
  std::shared_ptr<WritableFile> active_;            // GUARDED_BY(mu_)
  uint64_t next_seq_ = 0;                           // GUARDED_BY(mu_)
  uint64_t readable_end_ = 0;                       // GUARDED_BY(mu_)
  uint64_t appended_samples_ = 0;                   // GUARDED_BY(mu_)
  uint64_t appended_batches_ = 0;                   // GUARDED_BY(mu_)
  int64_t created_ns_ = 0;
  std::condition_variable readable_cv_;
  std::set<std::pair<uint64_t, uint64_t>> damage_seen_;  // GUARDED_BY(mu_)
  uint64_t corrupt_records_ = 0;                         // GUARDED_BY(mu_)

  mutable std::mutex state_mu_;
  StreamState state_;     // GUARDED_BY(state_mu_)
  std::mutex retire_mu_;  // one trim/drop at a time
};

}  // namespace sluice::store
