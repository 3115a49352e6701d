// The Store: streams, the catalog, the sync thread (group commit), limits and full policies.
#include "store/store.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "store/catalog.h"
#include "store/format.h"
#include "store/stream_log.h"

namespace sluice::store {

const char* sync_policy_name(SyncPolicy p) {
  switch (p) {
    case SyncPolicy::kEveryBatch: return "every_batch";
    case SyncPolicy::kInterval: return "interval";
    case SyncPolicy::kNever: return "never";
  }
  return "?";
}

const char* full_policy_name(FullPolicy p) {
  switch (p) {
    case FullPolicy::kBlock: return "block";
    case FullPolicy::kDropOldest: return "drop_oldest";
    case FullPolicy::kDropNewest: return "drop_newest";
  }
  return "?";
}

Result<SyncPolicy> parse_sync_policy(std::string_view s) {
  if (s == "every_batch") return SyncPolicy::kEveryBatch;
  if (s == "interval") return SyncPolicy::kInterval;
  if (s == "never") return SyncPolicy::kNever;
  return invalid_argument(
      fmt::format("unknown sync policy '{}' (use every_batch, interval or never)", s));
}

Result<FullPolicy> parse_full_policy(std::string_view s) {
  if (s == "block") return FullPolicy::kBlock;
  if (s == "drop_oldest") return FullPolicy::kDropOldest;
  if (s == "drop_newest") return FullPolicy::kDropNewest;
  return invalid_argument(
      fmt::format("unknown full policy '{}' (use block, drop_oldest or drop_newest)", s));
}

const char* drop_cause_name(DropCause c) {
  switch (c) {
    case DropCause::kFullOldest: return "full_drop_oldest";
    case DropCause::kFullNewest: return "full_drop_newest";
    case DropCause::kCorrupt: return "corrupt";
    case DropCause::kPurged: return "purged";
  }
  return "?";
}

class Store::Impl {
 public:
  Impl(Env& env, StoreOptions options) : env_(env), options_(std::move(options)) {}
  ~Impl() { (void)close(); }

  Status open(RecoveryReport* report);
  Status close();

  Result<std::shared_ptr<StreamLog>> log(std::string_view stream) const {
    std::shared_lock lock(streams_mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return not_found(fmt::format("no stream '{}'", stream));
    return it->second;
  }
  Status ensure_stream(std::string_view stream, std::string_view meta_json);
  Result<AppendResult> append(std::string_view stream, std::optional<uint64_t> at,
                              const Batch& batch, AppendOptions options);
  Status sync_now();
  Status wait_synced(uint64_t epoch);
  // Asks for a sync round covering `epoch` without waiting for it (every_batch; under interval
  // the next round comes anyway).
  void request_sync(uint64_t epoch);
  Result<AppendResult> duplicate(StreamLog& log, uint64_t first, uint64_t count,
                                 AppendOptions options);
  void sync_thread();
  Status sync_round();
  // Makes room for `need` bytes by the full policy. Returns false if the batch must be dropped.
  Result<bool> ensure_space(uint64_t need, StreamLog& appender, size_t samples);
  bool over_limit(uint64_t need);
  // Removes backup segments and purged sessions older than their retention. Their names start
  // with the time (ns) they were moved there.
  void prune_expired();
  void space_freed() {
    {
      std::lock_guard lock(space_mu_);
      ++space_generation_;
    }
    space_cv_.notify_all();
  }

  Env& env_;
  StoreOptions options_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<SeriesCatalog> catalog_;
  LogEnv log_env_;

  mutable std::shared_mutex streams_mu_;
  std::map<std::string, std::shared_ptr<StreamLog>, std::less<>> streams_;

  std::atomic<uint64_t> total_bytes_{0};
  std::atomic<uint64_t> write_epoch_{0};

  // Sync thread and group commit.
  std::thread syncer_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;    // wakes the sync thread
  std::condition_variable synced_cv_;  // wakes appenders waiting for durability
  uint64_t requested_epoch_ = 0;       // GUARDED_BY(sync_mu_)
  uint64_t synced_epoch_ = 0;          // GUARDED_BY(sync_mu_)
  uint64_t failed_epoch_ = 0;          // GUARDED_BY(sync_mu_): last round that failed
  Status last_sync_error_;             // GUARDED_BY(sync_mu_)
  bool closing_ = false;               // GUARDED_BY(sync_mu_)
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> last_sync_ns_{0};
  LatencyHistogram sync_latency_;  // durations of the sync rounds
  std::atomic<uint64_t> write_errors_{0};

  // Space.
  std::mutex disk_mu_;  // the cached free-space figure below
  int64_t disk_checked_ = INT64_MIN / 2;
  uint64_t disk_available_ = 0;
  uint64_t disk_total_at_check_ = 0;
  std::mutex drop_mu_;  // serializes drop_oldest rounds
  std::mutex space_mu_;
  std::condition_variable space_cv_;
  uint64_t space_generation_ = 0;  // GUARDED_BY(space_mu_)
  int64_t last_prune_ = 0;         // monotonic ns; sync thread only
  std::atomic<uint64_t> appends_blocked_{0};
  std::atomic<uint64_t> appends_refused_{0};
};

Status Store::Impl::open(RecoveryReport* report) {
  const std::string& dir = options_.dir;
  if (dir.empty()) return invalid_argument("store directory is not set");
  if (options_.segment_bytes < 4096) return invalid_argument("segment size must be >= 4 KiB");
  SLUICE_RETURN_IF_ERROR(env_.create_dirs(dir));
  SLUICE_ASSIGN_OR_RETURN(lock_, env_.lock(join_path(dir, format::kLockFile)));

  const std::string store_file = join_path(dir, format::kStoreFile);
  if (env_.exists(store_file)) {
    SLUICE_ASSIGN_OR_RETURN(std::string text, read_file(env_, store_file, 4096));
    if (!text.starts_with("sluice-store ")) {
      return corruption(fmt::format("{} is not a Sluice store marker", store_file));
    }
    const int version = std::atoi(text.c_str() + 13);
    if (version != format::kFormatVersion) {
      return failed_precondition(fmt::format("{}: store format {} (this build reads {})",
                                             store_file, version, format::kFormatVersion));
    }
  } else {
    SLUICE_RETURN_IF_ERROR(write_file_atomic(
        env_, store_file, fmt::format("sluice-store {}\n", format::kFormatVersion)));
  }
  SLUICE_RETURN_IF_ERROR(env_.create_dirs(join_path(dir, format::kStreamsDir)));
  SLUICE_RETURN_IF_ERROR(env_.sync_dir(dir));

  SLUICE_ASSIGN_OR_RETURN(catalog_,
                          SeriesCatalog::open(env_, join_path(dir, format::kCatalogFile), report));

  log_env_.env = &env_;
  log_env_.catalog = catalog_.get();
  log_env_.clock = options_.clock;
  log_env_.options = &options_;
  log_env_.total_bytes = &total_bytes_;
  log_env_.write_epoch = &write_epoch_;
  log_env_.space_freed = [this] { space_freed(); };

  const std::string streams_dir = join_path(dir, format::kStreamsDir);
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, env_.list_dir(streams_dir));
  for (const std::string& name : names) {
    auto id = format::unescape_stream_id(name);
    if (!id.ok()) {
      if (report != nullptr) {
        report->messages.push_back(
            fmt::format("{}/{}: not a stream directory (ignored)", streams_dir, name));
      }
      continue;
    }
    const std::string sdir = join_path(streams_dir, name);
    if (!env_.exists(join_path(sdir, format::kStreamMetaFile))) {
      // STREAM is written before the first segment: without it the creation was interrupted
      // before any data. Remove the remains so that ensure_stream() creates it afresh.
      auto files = env_.list_dir(sdir);
      bool has_data = false;
      if (files.ok()) {
        for (const auto& f : *files) {
          uint64_t base = 0;
          has_data = has_data || format::parse_segment_file_name(f, &base);
        }
      }
      if (files.ok() && !has_data) {
        for (const auto& f : *files) SLUICE_RETURN_IF_ERROR(env_.remove_file(join_path(sdir, f)));
        SLUICE_RETURN_IF_ERROR(env_.remove_dir(sdir));
        if (report != nullptr) {
          report->messages.push_back(
              fmt::format("{}: removed (stream creation was interrupted before any data)", sdir));
        }
        continue;
      }
    }
    auto log = StreamLog::open(log_env_, sdir, *id, report);
    if (!log.ok()) return log.status().with_context(fmt::format("stream '{}'", *id));
    streams_.emplace(*id, std::move(log).value());
  }
  prune_expired();
  syncer_ = std::thread([this] { sync_thread(); });
  return {};
}

void Store::Impl::prune_expired() {
  const int64_t now = options_.clock->now();
  auto prune = [&](std::string_view sub, std::chrono::seconds keep) {
    if (keep.count() <= 0) return;
    const int64_t cutoff = now - keep.count() * 1'000'000'000;
    const std::string root = join_path(options_.dir, sub);
    auto streams = env_.list_dir(root);
    if (!streams.ok()) return;
    for (const auto& s : *streams) {
      const std::string sdir = join_path(root, s);
      auto items = env_.list_dir(sdir);
      if (!items.ok()) continue;
      for (const auto& item : *items) {
        const int64_t when = std::atoll(item.c_str());
        if (when <= 0 || when >= cutoff) continue;
        const std::string p = join_path(sdir, item);
        if (env_.file_size(p).ok()) {
          (void)env_.remove_file(p);
        } else if (auto files = env_.list_dir(p); files.ok()) {  // a purged session folder
          for (const auto& f : *files) (void)env_.remove_file(join_path(p, f));
          (void)env_.remove_dir(p);
        }
      }
      (void)env_.sync_dir(sdir);
    }
  };
  prune(format::kBackupDir, options_.backup_retention);
  prune(format::kPurgedDir, options_.purged_retention);
}

Status Store::Impl::close() {
  if (closed_.exchange(true)) return {};
  {
    std::lock_guard lock(sync_mu_);
    closing_ = true;
  }
  sync_cv_.notify_all();
  synced_cv_.notify_all();
  space_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (!catalog_) {  // open failed before the catalog was loaded: nothing to sync
    lock_.reset();
    return {};
  }
  Status st = sync_round();
  std::shared_lock lock(streams_mu_);
  for (auto& [id, log] : streams_) {
    log->notify_all();
    Status cst = log->close();
    if (st.ok()) st = cst;
  }
  if (catalog_) {
    Status cst = catalog_->close();
    if (st.ok()) st = cst;
  }
  lock_.reset();
  return st;
}

Status Store::Impl::ensure_stream(std::string_view stream, std::string_view meta_json) {
  if (stream.empty()) return invalid_argument("stream id is empty");
  if (stream.size() > 200) return invalid_argument("stream id longer than 200 bytes");
  {
    std::shared_lock lock(streams_mu_);
    if (streams_.contains(stream)) return {};
  }
  std::unique_lock lock(streams_mu_);
  if (streams_.contains(stream)) return {};
  const std::string dir =
      join_path(join_path(options_.dir, format::kStreamsDir), format::escape_stream_id(stream));
  SLUICE_ASSIGN_OR_RETURN(auto log,
                          StreamLog::create(log_env_, dir, std::string(stream), meta_json));
  streams_.emplace(std::string(stream), std::move(log));
  return {};
}

bool Store::Impl::over_limit(uint64_t need) {
  const uint64_t total = total_bytes_.load();
  if (options_.max_bytes > 0 && total + need > options_.max_bytes) return true;
  if (options_.min_free_bytes > 0) {
    // statvfs at most every 20 ms; in between, what the store wrote since is subtracted.
    const int64_t now = options_.clock->monotonic();
    std::lock_guard lock(disk_mu_);
    if (now - disk_checked_ > 20'000'000 || total < disk_total_at_check_) {
      auto space = env_.disk_space(options_.dir);
      if (space.ok()) {
        disk_available_ = space->available;
        disk_checked_ = now;
        disk_total_at_check_ = total;
      }
    }
    const uint64_t written = total - disk_total_at_check_;
    const uint64_t available = disk_available_ > written ? disk_available_ - written : 0;
    if (available < options_.min_free_bytes + need) {
      disk_checked_ = INT64_MIN / 2;  // full: look again next time, space may have returned
      return true;
    }
  }
  return false;
}

Result<bool> Store::Impl::ensure_space(uint64_t need, StreamLog& appender, size_t samples) {
  if (!over_limit(need)) return true;
  switch (options_.full_policy) {
    case FullPolicy::kDropNewest:
      appender.count_drop(DropCause::kFullNewest, samples);
      return false;
    case FullPolicy::kDropOldest: {
      std::lock_guard lock(drop_mu_);  // one dropper at a time
      while (over_limit(need)) {
        // The stream whose oldest sealed segment is oldest; failing that, the largest active.
        std::shared_ptr<StreamLog> victim;
        {
          std::shared_lock slock(streams_mu_);
          std::optional<int64_t> best;
          for (auto& [id, log] : streams_) {
            auto created = log->oldest_sealed_created();
            if (created && (!best || *created < *best)) {
              best = created;
              victim = log;
            }
          }
          if (!victim) {
            uint64_t biggest = format::kSegmentHeaderSize;
            for (auto& [id, log] : streams_) {
              if (log->active_bytes() > biggest) {
                biggest = log->active_bytes();
                victim = log;
              }
            }
          }
        }
        if (!victim) break;
        SLUICE_ASSIGN_OR_RETURN(bool dropped, victim->drop_oldest());
        if (!dropped) break;
      }
      if (!over_limit(need)) return true;
      // Nothing left to drop (the space is taken by something else): drop this batch.
      appender.count_drop(DropCause::kFullNewest, samples);
      return false;
    }
    case FullPolicy::kBlock: {
      appends_blocked_.fetch_add(1);
      const auto deadline = std::chrono::steady_clock::now() + options_.block_timeout;
      std::unique_lock lock(space_mu_);
      while (over_limit(need)) {
        {
          std::lock_guard sl(sync_mu_);
          if (closing_) return Status(Code::kAborted, "store is closing");
        }
        if (std::chrono::steady_clock::now() >= deadline) {
          appends_refused_.fetch_add(1);
          return Status(Code::kResourceExhausted,
                        fmt::format("store full ({} bytes used, limit {}, min free {}); waited "
                                    "{} ms for sinks to free space",
                                    total_bytes_.load(), options_.max_bytes,
                                    options_.min_free_bytes, options_.block_timeout.count()));
        }
        // Sinks free space by moving their cursors; the disk may also free up by itself.
        space_cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
      return true;
    }
  }
  return true;
}

Result<AppendResult> Store::Impl::append(std::string_view stream, std::optional<uint64_t> at,
                                         const Batch& batch, AppendOptions options) {
  if (batch.empty()) return invalid_argument("empty batch");
  if (batch.size() > format::kMaxSamplesPerRecord) {
    return invalid_argument(fmt::format("batch of {} samples (at most {})", batch.size(),
                                        format::kMaxSamplesPerRecord));
  }
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<StreamLog> log, log(stream));
  if (at && *at + batch.size() <= log->next_seq())
    return duplicate(*log, *at, batch.size(), options);
  // Encoding runs in the caller's thread, outside every lock.
  thread_local std::vector<uint32_t> ids;
  thread_local EncodedBatch enc;
  SLUICE_RETURN_IF_ERROR(catalog_->resolve(batch, &ids));
  SLUICE_RETURN_IF_ERROR(encode_batch(batch, ids, options_.encoding, &enc));
  if (enc.bytes.size() > format::kMaxStoredPayload) {
    return invalid_argument(fmt::format("batch encodes to {} bytes (at most {}); split it",
                                        enc.bytes.size(), format::kMaxStoredPayload));
  }
  // The record, and the header of a new segment in case this append rolls.
  const uint64_t need = format::kRecordHeaderSize + enc.bytes.size() + format::kSegmentHeaderSize;
  SLUICE_ASSIGN_OR_RETURN(bool fits, ensure_space(need, *log, batch.size()));
  AppendResult r;
  if (!fits) {
    r.outcome = AppendResult::Outcome::kDropped;
    return r;
  }
  auto appended = log->append(enc, at);
  if (!appended.ok()) {
    write_errors_.fetch_add(1);
    return appended.status();
  }
  r.outcome = appended->outcome;
  r.first_seq = appended->first_seq;
  r.end_seq = appended->end_seq;
  r.durability = Durability::kWritten;
  if (r.outcome == AppendResult::Outcome::kDuplicate) {
    return duplicate(*log, r.first_seq, r.end_seq - r.first_seq, options);
  }
  if (options_.sync_policy == SyncPolicy::kNever) return r;
  if (!options.wait_durable) {
    request_sync(appended->epoch);
    return r;
  }
  SLUICE_RETURN_IF_ERROR(wait_synced(appended->epoch));
  r.durability = Durability::kSynced;
  return r;
}

// A resent batch that is already here. Its first copy may still be only written: the resend is
// acknowledged with the durability the first copy has, after waiting for it like an append.
Result<AppendResult> Store::Impl::duplicate(StreamLog& log, uint64_t first, uint64_t count,
                                            AppendOptions options) {
  AppendResult r;
  r.outcome = AppendResult::Outcome::kDuplicate;
  r.first_seq = first;
  r.end_seq = first + count;
  r.durability = Durability::kWritten;
  if (options_.sync_policy == SyncPolicy::kNever) return r;
  if (log.readable_end() < r.end_seq) {
    if (!options.wait_durable) {
      request_sync(write_epoch_.load());
      return r;
    }
    SLUICE_RETURN_IF_ERROR(sync_now());
  }
  r.durability = Durability::kSynced;
  return r;
}

void Store::Impl::request_sync(uint64_t epoch) {
  std::lock_guard lock(sync_mu_);
  if (options_.sync_policy != SyncPolicy::kInterval && requested_epoch_ < epoch) {
    requested_epoch_ = epoch;
    sync_cv_.notify_one();
  }
}

Status Store::Impl::wait_synced(uint64_t epoch) {
  std::unique_lock lock(sync_mu_);
  if (options_.sync_policy != SyncPolicy::kInterval && requested_epoch_ < epoch) {
    requested_epoch_ = epoch;
    sync_cv_.notify_one();
  }
  synced_cv_.wait(lock,
                  [&] { return synced_epoch_ >= epoch || failed_epoch_ >= epoch || closing_; });
  if (synced_epoch_ >= epoch) return {};
  if (failed_epoch_ >= epoch) return last_sync_error_;
  return Status(Code::kAborted, "store closed before the batch was synced");
}

Status Store::Impl::sync_now() {
  const uint64_t epoch = write_epoch_.load();
  {
    std::lock_guard lock(sync_mu_);
    if (synced_epoch_ >= epoch) return {};
    if (closing_) return {};
    requested_epoch_ = std::max(requested_epoch_, epoch);
  }
  sync_cv_.notify_one();
  std::unique_lock lock(sync_mu_);
  synced_cv_.wait(lock,
                  [&] { return synced_epoch_ >= epoch || failed_epoch_ >= epoch || closing_; });
  if (synced_epoch_ >= epoch || closing_) return {};
  return last_sync_error_;
}

void Store::Impl::sync_thread() {
  std::unique_lock lock(sync_mu_);
  // Rounds start on a fixed cadence (not interval after the previous round ended), so a
  // written batch waits at most one interval plus one round for its fsync.
  auto next_round = std::chrono::steady_clock::now() + options_.sync_interval;
  while (!closing_) {
    if (options_.sync_policy == SyncPolicy::kInterval) {
      sync_cv_.wait_until(lock, next_round,
                          [&] { return closing_ || requested_epoch_ > synced_epoch_; });
      const auto now = std::chrono::steady_clock::now();
      next_round = std::max(next_round + options_.sync_interval, now);
    } else {
      sync_cv_.wait(lock, [&] { return closing_ || requested_epoch_ > synced_epoch_; });
    }
    if (closing_) break;
    const int64_t mono = options_.clock->monotonic();
    if (mono - last_prune_ > 60'000'000'000) {
      last_prune_ = mono;
      lock.unlock();
      prune_expired();
      lock.lock();
    }
    if (write_epoch_.load() <= synced_epoch_) continue;
    lock.unlock();
    const Status st = sync_round();
    lock.lock();
    if (!st.ok()) {
      // The waiters of this round got the error; retry the sync after a pause, not in a spin.
      sync_cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return closing_; });
    }
  }
}

Status Store::Impl::sync_round() {
  const auto start = std::chrono::steady_clock::now();
  // Every append whose epoch is <= covered has written its bytes before the captures below.
  // (Catalog entries need no sync here: resolve() synced them before their records existed.)
  const uint64_t covered = write_epoch_.load();
  std::vector<std::pair<std::shared_ptr<StreamLog>, StreamLog::Capture>> captures;
  {
    std::shared_lock lock(streams_mu_);
    captures.reserve(streams_.size());
    for (auto& [id, log] : streams_) captures.emplace_back(log, log->capture());
  }
  Status st;
  for (auto& [log, cap] : captures) {
    if (!st.ok()) break;
    st = log->sync_captured(cap);
  }
  syncs_.fetch_add(1);
  const int64_t took =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  last_sync_ns_.store(static_cast<uint64_t>(took));
  sync_latency_.observe(took);
  {
    std::lock_guard lock(sync_mu_);
    if (st.ok()) {
      synced_epoch_ = std::max(synced_epoch_, covered);
    } else {
      write_errors_.fetch_add(1);
      failed_epoch_ = std::max(failed_epoch_, covered);
      last_sync_error_ = st;
    }
  }
  synced_cv_.notify_all();
  return st;
}

// ---- Store ----------------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(Env& env, StoreOptions options, RecoveryReport* report) {
  auto impl = std::make_unique<Impl>(env, std::move(options));
  SLUICE_RETURN_IF_ERROR(impl->open(report));
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::close() { return impl_->close(); }

Status Store::ensure_stream(std::string_view stream, std::string_view meta_json) {
  return impl_->ensure_stream(stream, meta_json);
}

bool Store::has_stream(std::string_view stream) const { return impl_->log(stream).ok(); }

std::vector<std::string> Store::streams() const {
  std::shared_lock lock(impl_->streams_mu_);
  std::vector<std::string> out;
  for (const auto& [id, log] : impl_->streams_) out.push_back(id);
  return out;
}

Result<std::string> Store::stream_meta(std::string_view stream) const {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->meta_json();
}

Result<AppendResult> Store::append(std::string_view stream, const Batch& batch,
                                   AppendOptions options) {
  return impl_->append(stream, std::nullopt, batch, options);
}

Result<AppendResult> Store::append_at(std::string_view stream, uint64_t first_seq,
                                      const Batch& batch, AppendOptions options) {
  return impl_->append(stream, first_seq, batch, options);
}

Status Store::sync() { return impl_->sync_now(); }

uint64_t Store::wait_readable(std::string_view stream, uint64_t seq,
                              std::chrono::milliseconds timeout) {
  auto log = impl_->log(stream);
  if (!log.ok()) return 0;
  return (*log)->wait_readable(seq, timeout, &impl_->closed_);
}

Status Store::add_cursor(std::string_view stream, std::string_view sink, StartAt start) {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->add_cursor(std::string(sink), start);
}

Status Store::remove_cursor(std::string_view stream, std::string_view sink) {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->remove_cursor(std::string(sink));
}

Result<CursorInfo> Store::cursor(std::string_view stream, std::string_view sink) const {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  auto seq = log->cursor(std::string(sink));
  if (!seq) return not_found(fmt::format("stream '{}' has no cursor '{}'", stream, sink));
  return CursorInfo{*seq};
}

Status Store::commit_cursor(std::string_view stream, std::string_view sink, uint64_t next_seq) {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->commit_cursor(std::string(sink), next_seq);
}

Result<std::unique_ptr<StreamReader>> Store::open_reader(std::string_view stream,
                                                         uint64_t from_seq) {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->open_reader(from_seq);
}

Status Store::query(std::string_view stream, const std::vector<std::string>& series, Timestamp from,
                    Timestamp to, const std::function<bool(const Sample&, uint64_t)>& visit) {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->query(series, from, to, visit);
}

Result<PurgeReport> Store::purge(std::string_view stream, std::string_view sink) {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->purge(std::string(sink), join_path(impl_->options_.dir, format::kPurgedDir));
}

Result<StreamStats> Store::stream_stats(std::string_view stream) const {
  SLUICE_ASSIGN_OR_RETURN(auto log, impl_->log(stream));
  return log->stats();
}

StoreStats Store::stats() const {
  StoreStats s;
  {
    std::shared_lock lock(impl_->streams_mu_);
    s.streams = impl_->streams_.size();
    for (const auto& [id, log] : impl_->streams_) {
      StreamStats ss = log->stats();
      s.segments += ss.segments;
      for (int c = 0; c < kDropCauseCount; ++c) s.dropped[c] += ss.dropped[c];
    }
  }
  s.bytes = impl_->total_bytes_.load();
  s.series = impl_->catalog_->size();
  s.syncs = impl_->syncs_.load();
  s.last_sync_ns = impl_->last_sync_ns_.load();
  s.sync_latency = impl_->sync_latency_.snapshot();
  s.appends_blocked = impl_->appends_blocked_.load();
  s.appends_refused_full = impl_->appends_refused_.load();
  s.write_errors = impl_->write_errors_.load();
  return s;
}

const StoreOptions& Store::options() const { return impl_->options_; }

}  // namespace sluice::store
