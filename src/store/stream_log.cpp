// One stream's segment log: append, roll, sync, recovery, cursors, trimming, reading, purge.
#include "store/stream_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <charconv>

#include "store/segment_scanner.h"

namespace sluice::store {
namespace {

constexpr uint64_t kMaxMetaBytes = 1u << 20;

DecodeLimits decode_limits() {
  DecodeLimits l;
  l.max_samples = format::kMaxSamplesPerRecord;
  l.max_raw_bytes = format::kMaxRawPayload;
  return l;
}

std::string encode_stream_file(std::string_view id, int64_t created_ns,
                               std::string_view meta_json) {
  return fmt::format("sluice-stream 1\nid {}\ncreated {}\nmeta {}", format::escape_stream_id(id),
                     created_ns, meta_json);
}

Status decode_stream_file(std::string_view text, int64_t* created_ns, std::string* meta_json) {
  if (!text.starts_with("sluice-stream 1\n")) return corruption("STREAM: bad first line");
  const size_t c = text.find("\ncreated ");
  const size_t m = text.find("\nmeta ");
  if (c == std::string_view::npos || m == std::string_view::npos || m < c) {
    return corruption("STREAM: missing created/meta lines");
  }
  const std::string_view num = text.substr(c + 9, m - c - 9);
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), *created_ns);
  if (ec != std::errc() || p != num.data() + num.size()) return corruption("STREAM: bad created");
  *meta_json = std::string(text.substr(m + 6));
  return {};
}

}  // namespace

StreamLog::StreamLog(const LogEnv& le, std::string dir, std::string id)
    : le_(le), dir_(std::move(dir)), id_(std::move(id)) {}

std::string StreamLog::meta_json() const { return meta_json_; }

Result<std::shared_ptr<Segment>> StreamLog::create_segment(uint64_t base) {
  auto seg = std::make_shared<Segment>();
  seg->base_seq = base;
  seg->path = join_path(dir_, format::segment_file_name(base));
  seg->created_ns = le_.clock->now();
  seg->end_seq = base;
  Env& env = *le_.env;
  // A leftover from an interrupted roll may hold this name: start it afresh.
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                          env.open_writable(seg->path, OpenMode::kTruncate));
  char header[format::kSegmentHeaderSize];
  format::encode_segment_header({base, seg->created_ns}, header);
  SLUICE_RETURN_IF_ERROR(file->append(std::string_view(header, sizeof header)));
  SLUICE_RETURN_IF_ERROR(file->sync());
  SLUICE_RETURN_IF_ERROR(env.sync_dir(dir_));
  seg->bytes = seg->readable_bytes = seg->synced_bytes = format::kSegmentHeaderSize;
  le_.total_bytes->fetch_add(seg->bytes);
  active_ = std::move(file);
  return seg;
}

Result<std::shared_ptr<StreamLog>> StreamLog::create(const LogEnv& le, const std::string& dir,
                                                     std::string id, std::string_view meta_json) {
  Env& env = *le.env;
  SLUICE_RETURN_IF_ERROR(env.create_dirs(dir));
  std::shared_ptr<StreamLog> log(new StreamLog(le, dir, std::move(id)));
  log->created_ns_ = le.clock->now();
  log->meta_json_ = std::string(meta_json);
  SLUICE_RETURN_IF_ERROR(
      write_file_atomic(env, join_path(dir, format::kStreamMetaFile),
                        encode_stream_file(log->id_, log->created_ns_, meta_json)));
  SLUICE_RETURN_IF_ERROR(env.sync_dir(parent_dir(dir)));
  std::lock_guard lock(log->mu_);
  SLUICE_ASSIGN_OR_RETURN(auto seg, log->create_segment(0));
  log->segments_.push_back(std::move(seg));
  return log;
}

Result<std::shared_ptr<StreamLog>> StreamLog::open(const LogEnv& le, const std::string& dir,
                                                   std::string id, RecoveryReport* report) {
  Env& env = *le.env;
  std::shared_ptr<StreamLog> log(new StreamLog(le, dir, std::move(id)));
  auto say = [&](std::string msg) {
    if (report != nullptr) report->messages.push_back(std::move(msg));
  };

  const std::string stream_file = join_path(dir, format::kStreamMetaFile);
  if (env.exists(stream_file)) {
    SLUICE_ASSIGN_OR_RETURN(std::string text, read_file(env, stream_file, kMaxMetaBytes));
    Status st = decode_stream_file(text, &log->created_ns_, &log->meta_json_);
    if (!st.ok()) {
      say(fmt::format("{}: {} (settings lost, data kept)", stream_file, st.message()));
      log->meta_json_ = "{}";
    }
  } else {
    say(fmt::format("{}: missing (settings lost, data kept)", stream_file));
    log->meta_json_ = "{}";
  }

  // Cursors first: they bound what the sequence may restart at.
  const std::string state_path = join_path(dir, format::kStateFile);
  auto state = read_stream_state(env, state_path);
  if (state.ok()) {
    log->state_ = std::move(state).value();
  } else {
    // Cursors unknown: sinks start again from the oldest data (delivered twice, never lost).
    say(
        fmt::format("{} (cursors reset to the oldest data; the damaged file is kept as "
                    "STATE.damaged)",
                    state.status().message()));
    (void)env.rename(state_path, state_path + ".damaged");
  }
  if (env.exists(state_path + ".tmp")) (void)env.remove_file(state_path + ".tmp");

  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, env.list_dir(dir));
  std::vector<uint64_t> bases;
  for (const std::string& name : names) {
    uint64_t base = 0;
    if (format::parse_segment_file_name(name, &base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());

  uint64_t max_cursor = 0;
  for (const auto& [sink, seq] : log->state_.cursors) max_cursor = std::max(max_cursor, seq);

  // A last segment without a valid header is the remains of an interrupted roll (or of a
  // create): it holds no record, so it is removed and its predecessor becomes the tail.
  uint64_t restart_base = max_cursor;
  while (!bases.empty()) {
    const std::string path = join_path(dir, format::segment_file_name(bases.back()));
    SLUICE_ASSIGN_OR_RETURN(auto file, env.open_readable(path));
    std::string hb(format::kSegmentHeaderSize, '\0');
    SLUICE_ASSIGN_OR_RETURN(size_t n, file->read_at(0, hb.size(), hb.data()));
    hb.resize(n);
    format::SegmentHeader sh;
    Status st = format::decode_segment_header(hb, &sh);
    if (st.ok() && sh.base_seq == bases.back()) break;
    SLUICE_ASSIGN_OR_RETURN(uint64_t size, env.file_size(path));
    if (size > format::kSegmentHeaderSize) {
      // Records behind a damaged header: keep the file aside rather than delete data.
      const std::string aside = path + ".damaged";
      say(fmt::format("{}: {}; {} bytes moved aside to {}", path,
                      st.ok() ? "header names another sequence" : st.message(), size, aside));
      SLUICE_RETURN_IF_ERROR(env.rename(path, aside));
    } else {
      say(fmt::format("{}: removed ({} bytes, no valid header: interrupted roll)", path, size));
      SLUICE_RETURN_IF_ERROR(env.remove_file(path));
      if (report != nullptr) ++report->removed_files;
    }
    SLUICE_RETURN_IF_ERROR(env.sync_dir(dir));
    restart_base = std::max(restart_base, bases.back());
    bases.pop_back();
  }

  std::lock_guard lock(log->mu_);
  for (size_t i = 0; i < bases.size(); ++i) {
    auto seg = std::make_shared<Segment>();
    seg->base_seq = bases[i];
    seg->path = join_path(dir, format::segment_file_name(bases[i]));
    SLUICE_ASSIGN_OR_RETURN(seg->bytes, env.file_size(seg->path));
    seg->readable_bytes = seg->synced_bytes = seg->bytes;
    seg->sealed = i + 1 < bases.size();
    seg->end_seq = seg->sealed ? bases[i + 1] : bases[i];
    le.total_bytes->fetch_add(seg->bytes);
    log->segments_.push_back(std::move(seg));
  }
  if (report != nullptr) report->segments += log->segments_.size();

  if (log->segments_.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto seg, log->create_segment(restart_base));
    log->segments_.push_back(std::move(seg));
  } else {
    // Scan the tail: verify every record, cut a torn tail, count damage in the middle.
    Segment& tail = *log->segments_.back();
    SLUICE_ASSIGN_OR_RETURN(auto file, env.open_readable(tail.path));
    {
      std::string hb(format::kSegmentHeaderSize, '\0');
      SLUICE_ASSIGN_OR_RETURN(size_t n, file->read_at(0, hb.size(), hb.data()));
      format::SegmentHeader sh;
      if (n == hb.size() && format::decode_segment_header(hb, &sh).ok()) {
        tail.created_ns = sh.created_ns;
      }
    }
    SegmentScanner scanner(*file, format::kSegmentHeaderSize, tail.bytes, /*verify=*/true);
    // Damaged regions met on the way, and the valid records after the first of them. A damaged
    // region is corruption of synced data (skip it) only if a later record was written after
    // the region had been synced (its synced_offset covers it); otherwise it is the remains of
    // unsynced writes and the segment is cut at its start.
    struct Damage {
      uint64_t offset, length;
      std::string reason;
    };
    std::vector<Damage> damages;
    struct Kept {
      uint64_t offset, end;
      format::RecordHeader h;
    };
    std::vector<Kept> kept;
    for (;;) {
      SLUICE_ASSIGN_OR_RETURN(ScanItem item, scanner.next());
      if (item.kind == ScanItem::Kind::kEnd) break;
      if (item.kind == ScanItem::Kind::kDamage) {
        damages.push_back({item.offset, item.length, item.reason});
        continue;
      }
      kept.push_back({item.offset, item.offset + item.length, item.header});
    }
    const uint64_t last_synced = kept.empty() ? 0 : kept.back().h.synced_offset;
    uint64_t cut = tail.bytes;
    for (const Damage& d : damages) {
      const bool records_follow = !kept.empty() && kept.back().offset > d.offset;
      if (records_follow && last_synced >= d.offset + d.length) {
        say(fmt::format("{}: {} damaged bytes at offset {} skipped ({})", tail.path, d.length,
                        d.offset, d.reason));
        if (report != nullptr) ++report->corrupt_records;
        ++log->corrupt_records_;
        log->damage_seen_.emplace(tail.base_seq, d.offset);
        continue;
      }
      cut = d.offset;
      say(fmt::format("{}: torn tail at offset {} cut, {} bytes ({})", tail.path, d.offset,
                      tail.bytes - d.offset, d.reason));
      if (report != nullptr) report->truncated_bytes += tail.bytes - d.offset;
      if (records_follow) {
        // Whole records after the tear were never acknowledged (no sync covered them), but
        // they are moved aside rather than destroyed.
        const std::string qdir = join_path(parent_dir(parent_dir(dir)), format::kQuarantineDir);
        SLUICE_RETURN_IF_ERROR(env.create_dirs(qdir));
        const std::string qpath =
            join_path(qdir, fmt::format("{}-{}-{}.tail", format::escape_stream_id(log->id_),
                                        tail.base_seq, d.offset));
        std::string bytes(tail.bytes - d.offset, '\0');
        SLUICE_ASSIGN_OR_RETURN(size_t n, file->read_at(d.offset, bytes.size(), bytes.data()));
        bytes.resize(n);
        SLUICE_RETURN_IF_ERROR(write_file_atomic(env, qpath, bytes));
        say(fmt::format("{}: the unsynced records after the tear were moved to {}", tail.path,
                        qpath));
      }
      break;
    }
    uint64_t good_end = format::kSegmentHeaderSize;
    uint64_t end_seq = tail.base_seq;
    for (const Kept& k : kept) {
      if (k.offset >= cut) break;
      const auto& h = k.h;
      if (h.first_seq < end_seq) {
        // Sequences must grow; a record that goes back is damage that passed its CRC (a bug).
        say(fmt::format("{}: record at offset {} repeats sequence {} (skipped)", tail.path,
                        k.offset, h.first_seq));
        if (report != nullptr) ++report->corrupt_records;
        ++log->corrupt_records_;
        good_end = k.end;
        continue;
      }
      end_seq = h.end_seq();
      good_end = k.end;
      ++tail.records;
      if (tail.time_range) {
        tail.time_range->first = std::min(tail.time_range->first, h.min_ts);
        tail.time_range->second = std::max(tail.time_range->second, h.max_ts);
      } else {
        tail.time_range.emplace(h.min_ts, h.max_ts);
      }
    }
    if (cut < tail.bytes) good_end = cut;
    if (good_end < tail.bytes) {
      SLUICE_RETURN_IF_ERROR(env.truncate(tail.path, good_end));
      le.total_bytes->fetch_sub(tail.bytes - good_end);
      tail.bytes = good_end;
    }
    tail.readable_bytes = tail.synced_bytes = tail.bytes;
    tail.end_seq = end_seq;
    SLUICE_ASSIGN_OR_RETURN(auto wf, env.open_writable(tail.path, OpenMode::kAppend));
    // What recovery keeps is made durable now, so it is readable at once.
    SLUICE_RETURN_IF_ERROR(wf->sync());
    log->active_ = std::move(wf);
  }
  const Segment& tail = *log->segments_.back();
  log->next_seq_ = std::max({tail.end_seq, tail.base_seq, restart_base});
  log->readable_end_ = log->next_seq_;
  if (report != nullptr) ++report->streams;
  return log;
}

Result<StreamLog::Appended> StreamLog::append(const EncodedBatch& enc, std::optional<uint64_t> at) {
  Appended out;
  std::unique_lock lock(mu_);
  if (!active_) return failed_precondition(fmt::format("stream '{}' is closed", id_));
  uint64_t first = next_seq_;
  if (at) {
    if (*at + enc.sample_count <= next_seq_) {
      out.outcome = AppendResult::Outcome::kDuplicate;
      out.first_seq = *at;
      out.end_seq = *at + enc.sample_count;
      return out;
    }
    if (*at < next_seq_) {
      return invalid_argument(
          fmt::format("stream '{}': batch {}..{} overlaps what is stored (next sequence {})", id_,
                      *at, *at + enc.sample_count, next_seq_));
    }
    first = *at;
  }
  Segment* seg = segments_.back().get();
  const uint64_t size = format::kRecordHeaderSize + enc.bytes.size();
  if (seg->records > 0 && seg->bytes + size > le_.options->segment_bytes) {
    SLUICE_RETURN_IF_ERROR(roll_locked());
    seg = segments_.back().get();
  }
  format::RecordHeader h;
  h.compression = enc.compression;
  h.stored_len = static_cast<uint32_t>(enc.bytes.size());
  h.raw_len = enc.raw_size;
  h.sample_count = enc.sample_count;
  h.first_seq = first;
  h.min_ts = enc.min_ts;
  h.max_ts = enc.max_ts;
  h.synced_offset = seg->synced_bytes;
  // One write per record: header and payload together.
  thread_local std::string buf;
  buf.resize(format::kRecordHeaderSize);
  format::encode_record_header(h, enc.bytes, buf.data());
  buf.append(enc.bytes);
  const uint64_t before = active_->size();
  Status st = active_->append(buf);
  if (buf.capacity() > (8u << 20)) std::string().swap(buf);
  if (!st.ok()) {
    // Leave no partial record behind: later appends must follow the last whole one.
    Status undo = active_->truncate(before);
    if (!undo.ok()) {
      return st.with_context(
          fmt::format("{} (and undoing the partial write failed: {})", seg->path, undo.message()));
    }
    return st.with_context(seg->path);
  }
  seg->bytes += size;
  seg->end_seq = first + enc.sample_count;
  ++seg->records;
  if (seg->time_range) {
    seg->time_range->first = std::min(seg->time_range->first, enc.min_ts);
    seg->time_range->second = std::max(seg->time_range->second, enc.max_ts);
  } else {
    seg->time_range.emplace(enc.min_ts, enc.max_ts);
  }
  le_.total_bytes->fetch_add(size);
  next_seq_ = first + enc.sample_count;
  ++appended_batches_;
  appended_samples_ += enc.sample_count;
  out.first_seq = first;
  out.end_seq = next_seq_;
  out.epoch = le_.write_epoch->fetch_add(1) + 1;
  if (le_.options->sync_policy == SyncPolicy::kNever) {
    seg->readable_bytes = seg->bytes;
    readable_end_ = next_seq_;
    lock.unlock();
    readable_cv_.notify_all();
  }
  return out;
}

StreamLog::Capture StreamLog::capture() {
  std::lock_guard lock(mu_);
  Capture c;
  if (!active_ || segments_.empty()) return c;
  c.file = active_;
  c.segment = segments_.back();
  c.bytes = c.segment->bytes;
  c.end_seq = next_seq_;
  return c;
}

Status StreamLog::sync_captured(const Capture& c) {
  if (!c.file) return {};
  {
    std::lock_guard lock(mu_);
    if (c.segment->synced_bytes >= c.bytes) return {};
  }
  SLUICE_RETURN_IF_ERROR(c.file->sync().with_context(c.segment->path));
  {
    std::lock_guard lock(mu_);
    c.segment->synced_bytes = std::max(c.segment->synced_bytes, c.bytes);
    c.segment->readable_bytes = std::max(c.segment->readable_bytes, c.bytes);
    readable_end_ = std::max(readable_end_, c.end_seq);
    assert(readable_end_ <= next_seq_ && "readable end past the written end");
  }
  readable_cv_.notify_all();
  return {};
}

Status StreamLog::roll() {
  std::lock_guard lock(mu_);
  if (!active_) return failed_precondition(fmt::format("stream '{}' is closed", id_));
  if (segments_.back()->records == 0) return {};
  return roll_locked();
}

Status StreamLog::roll_locked() {
  Segment& old = *segments_.back();
  // Seal: the sealed segment is durable before its successor exists (recovery relies on it).
  SLUICE_RETURN_IF_ERROR(active_->sync().with_context(old.path));
  old.readable_bytes = old.synced_bytes = old.bytes;
  readable_end_ = next_seq_;
  SLUICE_ASSIGN_OR_RETURN(auto seg, create_segment(next_seq_));
  old.sealed = true;
  old.end_seq = next_seq_;
  segments_.push_back(std::move(seg));
  readable_cv_.notify_all();
  return {};
}

uint64_t StreamLog::min_cursor_locked() const {
  uint64_t m = UINT64_MAX;
  for (const auto& [sink, seq] : state_.cursors) m = std::min(m, seq);
  return m;
}

Status StreamLog::retire_segment_file(const Segment& seg) {
  Env& env = *le_.env;
  const auto keep = le_.options->backup_retention.count();
  if (keep > 0) {
    const std::string bdir = join_path(join_path(parent_dir(parent_dir(dir_)), format::kBackupDir),
                                       format::escape_stream_id(id_));
    SLUICE_RETURN_IF_ERROR(env.create_dirs(bdir));
    const std::string to = join_path(
        bdir, fmt::format("{}-{}", le_.clock->now(), format::segment_file_name(seg.base_seq)));
    SLUICE_RETURN_IF_ERROR(env.rename(seg.path, to));
    SLUICE_RETURN_IF_ERROR(env.sync_dir(bdir));
  } else {
    SLUICE_RETURN_IF_ERROR(env.remove_file(seg.path));
  }
  le_.total_bytes->fetch_sub(seg.bytes);
  return {};
}

Status StreamLog::trim() {
  std::lock_guard retire(retire_mu_);
  uint64_t min_cursor = 0;
  {
    std::lock_guard slock(state_mu_);
    // A stream nobody reads keeps its data (until a full policy drops it).
    if (state_.cursors.empty()) return {};
    min_cursor = min_cursor_locked();
  }
  std::vector<std::shared_ptr<Segment>> victims;
  {
    std::lock_guard lock(mu_);
    while (segments_.size() > 1 && segments_.front()->sealed &&
           segments_.front()->end_seq <= min_cursor) {
      victims.push_back(segments_.front());
      segments_.erase(segments_.begin());
    }
  }
  if (victims.empty()) return {};
  for (const auto& seg : victims) SLUICE_RETURN_IF_ERROR(retire_segment_file(*seg));
  SLUICE_RETURN_IF_ERROR(le_.env->sync_dir(dir_));
  if (le_.space_freed) le_.space_freed();
  return {};
}

Result<bool> StreamLog::drop_oldest() {
  std::lock_guard retire(retire_mu_);
  std::shared_ptr<Segment> victim;
  {
    std::lock_guard lock(mu_);
    if (!active_) return false;
    if (segments_.size() == 1) {
      if (segments_.back()->records == 0) return false;
      SLUICE_RETURN_IF_ERROR(roll_locked());
    }
    victim = segments_.front();
    segments_.erase(segments_.begin());
  }
  uint64_t lost = 0;
  {
    std::lock_guard slock(state_mu_);
    const uint64_t from = std::max(
        victim->base_seq,
        state_.cursors.empty() ? victim->base_seq : std::min(min_cursor_locked(), victim->end_seq));
    // Samples are dense within a segment except for forwarded gaps; count by sequence.
    lost = victim->end_seq > from ? victim->end_seq - from : 0;
    for (auto& [sink, seq] : state_.cursors) seq = std::max(seq, victim->end_seq);
    state_.dropped[drop_cause_name(DropCause::kFullOldest)] += lost;
    SLUICE_RETURN_IF_ERROR(
        write_stream_state(*le_.env, join_path(dir_, format::kStateFile), state_));
  }
  SLUICE_RETURN_IF_ERROR(retire_segment_file(*victim));
  SLUICE_RETURN_IF_ERROR(le_.env->sync_dir(dir_));
  if (le_.space_freed) le_.space_freed();
  return true;
}

std::optional<int64_t> StreamLog::oldest_sealed_created() const {
  std::lock_guard lock(mu_);
  if (segments_.size() > 1) return segments_.front()->created_ns;
  return std::nullopt;
}

uint64_t StreamLog::active_bytes() const {
  std::lock_guard lock(mu_);
  return segments_.empty() ? 0 : segments_.back()->bytes;
}

uint64_t StreamLog::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}
uint64_t StreamLog::readable_end() const {
  std::lock_guard lock(mu_);
  return readable_end_;
}
uint64_t StreamLog::first_seq() const {
  std::lock_guard lock(mu_);
  return segments_.empty() ? next_seq_ : segments_.front()->base_seq;
}

uint64_t StreamLog::wait_readable(uint64_t seq, std::chrono::milliseconds timeout,
                                  const std::atomic<bool>* closing) {
  std::unique_lock lock(mu_);
  readable_cv_.wait_for(lock, timeout, [&] { return readable_end_ > seq || closing->load(); });
  return readable_end_;
}

void StreamLog::notify_all() { readable_cv_.notify_all(); }

Status StreamLog::add_cursor(const std::string& sink, StartAt start) {
  if (sink.empty()) return invalid_argument("cursor needs a sink name");
  const uint64_t pos = start == StartAt::kEarliest ? first_seq() : readable_end();
  std::lock_guard slock(state_mu_);
  if (state_.cursors.contains(sink)) return {};
  state_.cursors[sink] = pos;
  return write_stream_state(*le_.env, join_path(dir_, format::kStateFile), state_);
}

Status StreamLog::remove_cursor(const std::string& sink) {
  {
    std::lock_guard slock(state_mu_);
    if (state_.cursors.erase(sink) == 0) {
      return not_found(fmt::format("stream '{}' has no cursor '{}'", id_, sink));
    }
    SLUICE_RETURN_IF_ERROR(
        write_stream_state(*le_.env, join_path(dir_, format::kStateFile), state_));
  }
  return trim();
}

std::optional<uint64_t> StreamLog::cursor(const std::string& sink) const {
  std::lock_guard slock(state_mu_);
  auto it = state_.cursors.find(sink);
  if (it == state_.cursors.end()) return std::nullopt;
  return it->second;
}

Status StreamLog::commit_cursor(const std::string& sink, uint64_t next_seq) {
  const uint64_t readable = readable_end();
  if (next_seq > readable) {
    return invalid_argument(
        fmt::format("stream '{}': cursor '{}' cannot move to {}, past the durable end {}", id_,
                    sink, next_seq, readable));
  }
  {
    std::lock_guard slock(state_mu_);
    auto it = state_.cursors.find(sink);
    if (it == state_.cursors.end()) {
      return not_found(fmt::format("stream '{}' has no cursor '{}'", id_, sink));
    }
    // Behind the cursor: a drop (drop_oldest, purge) moved it on meanwhile; nothing to do.
    if (next_seq <= it->second) return {};
    it->second = next_seq;
    SLUICE_RETURN_IF_ERROR(
        write_stream_state(*le_.env, join_path(dir_, format::kStateFile), state_));
  }
  // Segments are removed only after the cursor that frees them is durable (above).
  return trim();
}

void StreamLog::count_drop(DropCause cause, uint64_t samples) {
  std::lock_guard slock(state_mu_);
  state_.dropped[drop_cause_name(cause)] += samples;
}

Status StreamLog::persist_state() {
  std::lock_guard slock(state_mu_);
  return write_stream_state(*le_.env, join_path(dir_, format::kStateFile), state_);
}

std::optional<StreamLog::View> StreamLog::view_for(uint64_t seq) const {
  std::lock_guard lock(mu_);
  if (segments_.empty()) return std::nullopt;
  // The last segment whose base is <= seq; or the first segment if seq is before all.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), seq,
                             [](uint64_t s, const auto& seg) { return s < seg->base_seq; });
  if (it != segments_.begin()) --it;
  View v;
  v.segment = *it;
  v.readable_bytes = (*it)->readable_bytes;
  v.sealed = (*it)->sealed;
  v.readable_end = readable_end_;
  v.first_seq = segments_.front()->base_seq;
  v.next_base = (it + 1 != segments_.end()) ? (*(it + 1))->base_seq : UINT64_MAX;
  return v;
}

Result<std::shared_ptr<ReadableFile>> StreamLog::reader_file(const std::shared_ptr<Segment>& seg) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> f, le_.env->open_readable(seg->path));
  return std::shared_ptr<ReadableFile>(std::move(f));
}

void StreamLog::note_damage(uint64_t base, uint64_t offset, uint64_t lost_samples) {
  {
    std::lock_guard lock(mu_);
    if (!damage_seen_.emplace(base, offset).second) return;
    ++corrupt_records_;
  }
  count_drop(DropCause::kCorrupt, lost_samples);
}

namespace {

// Reads a stream forward (see StreamReader in store.h).
class LogReader final : public StreamReader {
 public:
  LogReader(std::shared_ptr<StreamLog> log, uint64_t from) : log_(std::move(log)), pos_(from) {}

  uint64_t position() const override { return pos_; }
  void seek(uint64_t seq) override {
    pos_ = seq;
    reset();
  }

  Result<bool> next(size_t max_samples, ReadItem* out) override {
    out->batch.samples.clear();
    if (max_samples == 0) return false;
    for (;;) {
      // Leftovers of a record decoded by the previous call.
      if (!pending_.samples.empty() && pos_ >= pending_first_ &&
          pos_ < pending_first_ + pending_.samples.size()) {
        return take_pending(max_samples, out);
      }
      auto view = log_->view_for(pos_);
      if (!view) return false;
      if (pos_ < view->first_seq) {  // dropped under us (drop_oldest, purge)
        pos_ = view->first_seq;
        reset();
        continue;
      }
      if (pos_ >= view->readable_end) return false;
      if (view->segment != segment_) {
        reset();
        segment_ = view->segment;
        SLUICE_ASSIGN_OR_RETURN(file_, log_->reader_file(segment_));
        scanner_ = std::make_unique<SegmentScanner>(*file_, format::kSegmentHeaderSize,
                                                    view->readable_bytes, /*verify=*/true);
      }
      scanner_->set_limit(view->readable_bytes);
      SLUICE_ASSIGN_OR_RETURN(ScanItem item, scanner_->next());
      if (item.kind == ScanItem::Kind::kEnd) {
        if (!view->sealed) return false;  // the rest is not durable yet
        pos_ = std::max(pos_, view->next_base);
        reset();
        continue;
      }
      if (item.kind == ScanItem::Kind::kDamage) {
        damage_offset_ = item.offset;
        damaged_ = true;
        continue;
      }
      const auto& h = item.header;
      if (damaged_) {
        // Samples between the position and this record were in the damaged bytes.
        if (h.first_seq > pos_)
          log_->note_damage(segment_->base_seq, damage_offset_, h.first_seq - pos_);
        damaged_ = false;
      }
      if (h.end_seq() <= pos_) continue;
      if (h.first_seq > pos_) pos_ = h.first_seq;  // a gap in a forwarded stream
      std::string_view raw = item.payload;
      if (h.compression != Compression::kNone) {
        Status st =
            decompress_payload(item.payload, h.compression, h.raw_len, decode_limits(), &raw_buf_);
        if (!st.ok()) {
          log_->note_damage(segment_->base_seq, item.offset, h.end_seq() - pos_);
          pos_ = h.end_seq();
          continue;
        }
        raw = raw_buf_;
      }
      pending_.samples.clear();
      SeriesCatalog* catalog = log_->log_env().catalog;
      Status st = decode_batch(
          raw, [catalog](uint32_t id) { return catalog->name(id); }, decode_limits(), &pending_);
      if (!st.ok() || pending_.samples.size() != h.sample_count) {
        log_->note_damage(segment_->base_seq, item.offset, h.end_seq() - pos_);
        pending_.samples.clear();
        pos_ = h.end_seq();
        continue;
      }
      pending_first_ = h.first_seq;
      return take_pending(max_samples, out);
    }
  }

 private:
  Result<bool> take_pending(size_t max_samples, ReadItem* out) {
    const size_t skip = static_cast<size_t>(pos_ - pending_first_);
    const size_t n = std::min(max_samples, pending_.samples.size() - skip);
    out->first_seq = pos_;
    auto first = pending_.samples.begin() + static_cast<ptrdiff_t>(skip);
    out->batch.samples.assign(std::make_move_iterator(first),
                              std::make_move_iterator(first + static_cast<ptrdiff_t>(n)));
    pos_ += n;
    if (pos_ >= pending_first_ + pending_.samples.size()) pending_.samples.clear();
    return true;
  }
  void reset() {
    scanner_.reset();
    file_.reset();
    segment_.reset();
    pending_.samples.clear();
    damaged_ = false;
  }

  std::shared_ptr<StreamLog> log_;
  uint64_t pos_;
  std::shared_ptr<Segment> segment_;
  std::shared_ptr<ReadableFile> file_;
  std::unique_ptr<SegmentScanner> scanner_;
  Batch pending_;
  uint64_t pending_first_ = 0;
  std::string raw_buf_;
  bool damaged_ = false;
  uint64_t damage_offset_ = 0;
};

}  // namespace

Result<std::unique_ptr<StreamReader>> StreamLog::open_reader(uint64_t from_seq) {
  return std::unique_ptr<StreamReader>(new LogReader(shared_from_this(), from_seq));
}

Status StreamLog::query(const std::vector<std::string>& series, Timestamp from, Timestamp to,
                        const std::function<bool(const Sample&, uint64_t)>& visit) {
  std::set<std::string, std::less<>> wanted(series.begin(), series.end());
  std::vector<std::shared_ptr<Segment>> segs;
  uint64_t readable = 0;
  {
    std::lock_guard lock(mu_);
    segs = segments_;
    readable = readable_end_;
  }
  SeriesCatalog* catalog = le_.catalog;
  std::string raw_buf;
  Batch batch;
  for (const auto& seg : segs) {
    uint64_t limit = 0;
    std::optional<std::pair<Timestamp, Timestamp>> range;
    {
      std::lock_guard lock(mu_);
      limit = seg->readable_bytes;
      range = seg->time_range;
    }
    if (range && (range->second < from || range->first >= to)) continue;
    auto file = le_.env->open_readable(seg->path);
    if (!file.ok()) continue;  // deleted meanwhile
    SegmentScanner scanner(**file, format::kSegmentHeaderSize, limit, /*verify=*/true);
    std::optional<std::pair<Timestamp, Timestamp>> seen;
    bool complete = true;
    uint64_t prev_end = 0;
    for (;;) {
      SLUICE_ASSIGN_OR_RETURN(ScanItem item, scanner.next());
      if (item.kind == ScanItem::Kind::kEnd) break;
      if (item.kind == ScanItem::Kind::kDamage) {
        complete = false;
        continue;
      }
      const auto& h = item.header;
      seen = seen
                 ? std::make_pair(std::min(seen->first, h.min_ts), std::max(seen->second, h.max_ts))
                 : std::make_pair(h.min_ts, h.max_ts);
      if (h.first_seq >= readable) break;
      if (h.first_seq < prev_end) continue;  // repeats sequences (see recovery): read once
      prev_end = h.end_seq();
      if (h.max_ts < from || h.min_ts >= to) continue;
      std::string_view raw = item.payload;
      if (h.compression != Compression::kNone) {
        if (!decompress_payload(item.payload, h.compression, h.raw_len, decode_limits(), &raw_buf)
                 .ok()) {
          continue;
        }
        raw = raw_buf;
      }
      batch.samples.clear();
      if (!decode_batch(
               raw, [catalog](uint32_t id) { return catalog->name(id); }, decode_limits(), &batch)
               .ok()) {
        continue;
      }
      uint64_t seq = h.first_seq;
      for (const Sample& s : batch.samples) {
        const uint64_t this_seq = seq++;
        if (s.ts < from || s.ts >= to) continue;
        if (!wanted.empty() && !wanted.contains(s.series)) continue;
        if (!visit(s, this_seq)) return {};
      }
    }
    if (seg->sealed && complete && seen) {
      std::lock_guard lock(mu_);
      seg->time_range = seen;  // cached: the next query can skip this segment by time
    }
  }
  return {};
}

Result<PurgeReport> StreamLog::purge(const std::string& sink, const std::string& purged_root) {
  PurgeReport report;
  auto cur = cursor(sink);
  if (!cur) return not_found(fmt::format("stream '{}' has no cursor '{}'", id_, sink));
  report.from_seq = *cur;
  // Seal the active segment so that what is linked away never grows.
  SLUICE_RETURN_IF_ERROR(roll());
  std::vector<std::shared_ptr<Segment>> segs;
  {
    std::lock_guard lock(mu_);
    report.to_seq = readable_end_;
    for (const auto& seg : segments_) {
      if (seg->sealed && seg->end_seq > report.from_seq && seg->base_seq < report.to_seq) {
        segs.push_back(seg);
      }
    }
  }
  report.samples = report.to_seq - report.from_seq;
  if (report.samples == 0) return report;
  Env& env = *le_.env;
  report.backup_dir =
      join_path(join_path(purged_root, format::escape_stream_id(id_)),
                fmt::format("{}-{}", le_.clock->now(), format::escape_stream_id(sink)));
  SLUICE_RETURN_IF_ERROR(env.create_dirs(report.backup_dir));
  for (const auto& seg : segs) {
    SLUICE_RETURN_IF_ERROR(env.link(
        seg->path, join_path(report.backup_dir, format::segment_file_name(seg->base_seq))));
  }
  SLUICE_RETURN_IF_ERROR(write_file_atomic(
      env, join_path(report.backup_dir, "MANIFEST"),
      fmt::format("stream {}\nsink {}\nfrom_seq {}\nto_seq {}\nsamples {}\npurged_ns {}\n",
                  format::escape_stream_id(id_), format::escape_stream_id(sink), report.from_seq,
                  report.to_seq, report.samples, le_.clock->now())));
  SLUICE_RETURN_IF_ERROR(env.sync_dir(report.backup_dir));
  SLUICE_RETURN_IF_ERROR(env.sync_dir(parent_dir(report.backup_dir)));
  count_drop(DropCause::kPurged, report.samples);
  SLUICE_RETURN_IF_ERROR(commit_cursor(sink, report.to_seq));
  return report;
}

StreamStats StreamLog::stats() const {
  StreamStats s;
  s.id = id_;
  s.created_ns = created_ns_;
  {
    std::lock_guard lock(mu_);
    s.first_seq = segments_.empty() ? next_seq_ : segments_.front()->base_seq;
    s.next_seq = next_seq_;
    s.readable_end = readable_end_;
    for (const auto& seg : segments_) s.bytes += seg->bytes;
    s.segments = segments_.size();
    s.appended_samples = appended_samples_;
    s.appended_batches = appended_batches_;
    s.corrupt_records = corrupt_records_;
  }
  std::lock_guard slock(state_mu_);
  for (const auto& [sink, seq] : state_.cursors) s.cursors[sink].next_seq = seq;
  for (int c = 0; c < kDropCauseCount; ++c) {
    auto it = state_.dropped.find(drop_cause_name(static_cast<DropCause>(c)));
    if (it != state_.dropped.end()) s.dropped[c] = it->second;
  }
  return s;
}

Status StreamLog::close() {
  std::shared_ptr<WritableFile> file;
  {
    std::lock_guard lock(mu_);
    file = std::move(active_);
  }
  Status st;
  if (file) {
    st = file->sync();
    Status cst = file->close();
    if (st.ok()) st = cst;
  }
  Status pst = persist_state();
  return st.ok() ? pst : st;
}

}  // namespace sluice::store
