// `sluice store inspect` and `sluice store fsck`: read a store's files directly, report what
// they hold and what is damaged, and (fsck --repair) mend it without losing a good record:
// damaged bytes are copied to quarantine/ before a segment is rewritten without them.
#include "store/fsck.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "store/catalog.h"
#include "store/format.h"
#include "store/segment_scanner.h"
#include "store/stream_state.h"

namespace sluice::store {
namespace {

constexpr uint64_t kMaxSmallFile = 16u << 20;

std::string human_bytes(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(b) / (1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.2f} MiB", static_cast<double>(b) / (1ull << 20));
  if (b >= 1024) return fmt::format("{:.1f} KiB", static_cast<double>(b) / 1024);
  return fmt::format("{} B", b);
}

std::string iso_time(int64_t ns) {
  const time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>((ns / 1'000'000) % 1000));
}

struct RecordInfo {
  uint64_t offset = 0;
  uint64_t length = 0;
  format::RecordHeader header;
};
struct DamageInfo {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool tail = false;
  std::string reason;
};
struct SegmentReport {
  std::string name;
  std::string path;
  uint64_t base = 0;
  uint64_t bytes = 0;
  std::optional<format::SegmentHeader> header;
  std::string header_error;
  std::vector<RecordInfo> records;
  std::vector<DamageInfo> damage;
  uint64_t samples() const {
    uint64_t n = 0;
    for (const auto& r : records) n += r.header.sample_count;
    return n;
  }
};

Result<SegmentReport> scan_segment(Env& env, const std::string& dir, const std::string& name,
                                   uint64_t base) {
  SegmentReport rep;
  rep.name = name;
  rep.path = join_path(dir, name);
  rep.base = base;
  SLUICE_ASSIGN_OR_RETURN(rep.bytes, env.file_size(rep.path));
  SLUICE_ASSIGN_OR_RETURN(auto file, env.open_readable(rep.path));
  std::string hb(format::kSegmentHeaderSize, '\0');
  SLUICE_ASSIGN_OR_RETURN(size_t n, file->read_at(0, hb.size(), hb.data()));
  hb.resize(n);
  format::SegmentHeader h;
  Status st = format::decode_segment_header(hb, &h);
  if (!st.ok()) {
    rep.header_error = st.message();
    return rep;
  }
  if (h.base_seq != base) {
    rep.header_error = fmt::format("header names sequence {}, file name {}", h.base_seq, base);
    return rep;
  }
  rep.header = h;
  SegmentScanner scanner(*file, format::kSegmentHeaderSize, rep.bytes, /*verify=*/true);
  for (;;) {
    SLUICE_ASSIGN_OR_RETURN(ScanItem item, scanner.next());
    if (item.kind == ScanItem::Kind::kEnd) break;
    if (item.kind == ScanItem::Kind::kDamage) {
      rep.damage.push_back({item.offset, item.length, item.tail, item.reason});
    } else {
      rep.records.push_back({item.offset, item.length, item.header});
    }
  }
  return rep;
}

struct StreamDir {
  std::string name;  // escaped, on disk
  std::string id;
  std::string path;
  std::vector<std::pair<uint64_t, std::string>> segments;  // base, file name
  std::vector<std::string> other_files;
};

Result<std::vector<StreamDir>> list_streams(Env& env, const std::string& dir) {
  std::vector<StreamDir> out;
  const std::string streams = join_path(dir, format::kStreamsDir);
  if (!env.exists(streams)) return out;
  SLUICE_ASSIGN_OR_RETURN(auto names, env.list_dir(streams));
  for (const auto& name : names) {
    StreamDir sd;
    sd.name = name;
    sd.path = join_path(streams, name);
    auto id = format::unescape_stream_id(name);
    sd.id = id.ok() ? *id : name;
    auto files = env.list_dir(sd.path);
    if (!files.ok()) continue;  // not a directory
    for (const auto& f : *files) {
      uint64_t base = 0;
      if (format::parse_segment_file_name(f, &base)) {
        sd.segments.emplace_back(base, f);
      } else if (f != format::kStateFile && f != format::kStreamMetaFile) {
        sd.other_files.push_back(f);
      }
    }
    std::sort(sd.segments.begin(), sd.segments.end());
    out.push_back(std::move(sd));
  }
  return out;
}

uint64_t dir_bytes(Env& env, const std::string& dir, uint64_t* files) {
  uint64_t total = 0;
  auto names = env.list_dir(dir);
  if (!names.ok()) return 0;
  for (const auto& n : *names) {
    const std::string p = join_path(dir, n);
    auto size = env.file_size(p);
    if (size.ok()) {
      total += *size;
      ++*files;
    } else {
      total += dir_bytes(env, p, files);
    }
  }
  return total;
}

}  // namespace

Status inspect(Env& env, const std::string& dir, const InspectOptions& options, std::ostream& out) {
  if (!env.exists(join_path(dir, format::kStoreFile))) {
    return not_found(fmt::format("{} is not a Sluice store (no {} file)", dir, format::kStoreFile));
  }
  uint64_t series = 0;
  const std::string cat_path = join_path(dir, format::kCatalogFile);
  uint64_t cat_damage = 0;
  if (env.exists(cat_path)) {
    SLUICE_ASSIGN_OR_RETURN(std::string bytes, read_file(env, cat_path, 1ull << 32));
    parse_catalog(
        bytes, [&](uint32_t, std::string_view) { ++series; },
        [&](uint64_t, uint64_t, bool) { ++cat_damage; });
  }
  out << fmt::format("store {}\n", dir);
  out << fmt::format("series in catalog: {}{}\n", series,
                     cat_damage ? fmt::format(" ({} damaged regions)", cat_damage) : "");
  SLUICE_ASSIGN_OR_RETURN(auto streams, list_streams(env, dir));
  uint64_t total_bytes = 0, total_samples = 0, total_records = 0, total_segments = 0;
  for (const auto& sd : streams) {
    out << fmt::format("\nstream '{}'\n", sd.id);
    auto meta = read_file(env, join_path(sd.path, format::kStreamMetaFile), kMaxSmallFile);
    if (meta.ok()) {
      const size_t m = meta->find("\nmeta ");
      const size_t c = meta->find("\ncreated ");
      if (c != std::string::npos) {
        const int64_t created = std::atoll(meta->c_str() + c + 9);
        out << fmt::format("  created   {}\n", iso_time(created));
      }
      if (m != std::string::npos) out << fmt::format("  meta      {}\n", meta->substr(m + 6));
    }
    auto state = read_stream_state(env, join_path(sd.path, format::kStateFile));
    if (!state.ok()) {
      out << fmt::format("  STATE     damaged: {}\n", state.status().message());
    } else {
      for (const auto& [sink, seq] : state->cursors) {
        out << fmt::format("  cursor    {} -> next sequence {}\n", sink, seq);
      }
      for (const auto& [cause, n] : state->dropped) {
        if (n > 0) out << fmt::format("  dropped   {}: {} samples\n", cause, n);
      }
    }
    out << fmt::format("  {:<26} {:>8} {:>10} {:>23} {:>10} {:>7}  {}\n", "segment", "records",
                       "samples", "sequences", "bytes", "B/smp", "time range");
    uint64_t s_bytes = 0, s_samples = 0;
    for (const auto& [base, name] : sd.segments) {
      SLUICE_ASSIGN_OR_RETURN(SegmentReport rep, scan_segment(env, sd.path, name, base));
      ++total_segments;
      s_bytes += rep.bytes;
      if (!rep.header) {
        out << fmt::format("  {:<26} damaged header: {}\n", name, rep.header_error);
        continue;
      }
      const uint64_t samples = rep.samples();
      s_samples += samples;
      total_records += rep.records.size();
      std::string seqs = "-", times = "-";
      if (!rep.records.empty()) {
        seqs = fmt::format("{}..{}", rep.records.front().header.first_seq,
                           rep.records.back().header.end_seq());
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (const auto& r : rep.records) {
          lo = std::min(lo, r.header.min_ts);
          hi = std::max(hi, r.header.max_ts);
        }
        times = fmt::format("{} .. {}", iso_time(lo), iso_time(hi));
      }
      out << fmt::format(
          "  {:<26} {:>8} {:>10} {:>23} {:>10} {:>7} {}\n", name, rep.records.size(), samples, seqs,
          rep.bytes,
          samples ? fmt::format("{:.2f}", static_cast<double>(rep.bytes) / samples) : "-", times);
      for (const auto& d : rep.damage) {
        out << fmt::format("    damage at offset {}: {} bytes{} ({})\n", d.offset, d.length,
                           d.tail ? " at the tail" : "", d.reason);
      }
      if (options.records) {
        for (const auto& r : rep.records) {
          const auto& h = r.header;
          out << fmt::format(
              "    record @{:<10} seq {}..{} samples {} stored {} raw {} {} ts {} .. {}\n",
              r.offset, h.first_seq, h.end_seq(), h.sample_count, h.stored_len, h.raw_len,
              compression_name(h.compression), iso_time(h.min_ts), iso_time(h.max_ts));
        }
      }
    }
    for (const auto& f : sd.other_files) out << fmt::format("  other file: {}\n", f);
    out << fmt::format("  total     {} segments, {} samples, {} ({:.2f} bytes/sample)\n",
                       sd.segments.size(), s_samples, human_bytes(s_bytes),
                       s_samples ? static_cast<double>(s_bytes) / s_samples : 0.0);
    total_bytes += s_bytes;
    total_samples += s_samples;
  }
  out << fmt::format("\ntotal: {} streams, {} segments, {} records, {} samples, {}", streams.size(),
                     total_segments, total_records, total_samples, human_bytes(total_bytes));
  if (total_samples > 0) {
    out << fmt::format(", {:.2f} bytes/sample", static_cast<double>(total_bytes) / total_samples);
  }
  out << "\n";
  for (auto sub : {format::kBackupDir, format::kPurgedDir, format::kQuarantineDir}) {
    const std::string p = join_path(dir, sub);
    if (!env.exists(p)) continue;
    uint64_t files = 0;
    const uint64_t bytes = dir_bytes(env, p, &files);
    out << fmt::format("{}: {} files, {}\n", sub, files, human_bytes(bytes));
  }
  return {};
}

Result<FsckReport> fsck(Env& env, const std::string& dir, const FsckOptions& options,
                        std::ostream& out) {
  FsckReport rep;
  if (!env.exists(join_path(dir, format::kStoreFile))) {
    return not_found(fmt::format("{} is not a Sluice store (no {} file)", dir, format::kStoreFile));
  }
  std::unique_ptr<FileLock> lock;
  if (options.repair) {
    auto l = env.lock(join_path(dir, format::kLockFile));
    if (!l.ok()) {
      return failed_precondition(fmt::format(
          "{} is in use (its LOCK is held): stop the Sluice that runs on it before repairing",
          dir));
    }
    lock = std::move(l).value();
  }
  const std::string quarantine = join_path(dir, format::kQuarantineDir);
  auto problem = [&](std::string s) {
    out << "problem: " << s << "\n";
    rep.problems.push_back(std::move(s));
  };
  auto action = [&](std::string s) {
    out << "repair:  " << s << "\n";
    rep.actions.push_back(std::move(s));
  };
  auto save_bytes = [&](const std::string& name, std::string_view bytes) -> Status {
    SLUICE_RETURN_IF_ERROR(env.create_dirs(quarantine));
    const std::string p = join_path(quarantine, name);
    SLUICE_RETURN_IF_ERROR(write_file_atomic(env, p, bytes));
    return {};
  };

  // The catalog.
  const std::string cat_path = join_path(dir, format::kCatalogFile);
  if (env.exists(cat_path)) {
    SLUICE_ASSIGN_OR_RETURN(std::string bytes, read_file(env, cat_path, 1ull << 32));
    std::string good;
    bool damaged = false;
    parse_catalog(
        bytes, [&](uint32_t id, std::string_view name) { good += encode_catalog_entry(id, name); },
        [&](uint64_t off, uint64_t len, bool tail) {
          damaged = true;
          problem(fmt::format("{}: {} damaged bytes at offset {}{}", cat_path, len, off,
                              tail ? " (torn tail)" : ""));
        });
    if (damaged && options.repair) {
      SLUICE_RETURN_IF_ERROR(save_bytes("series.cat.damaged", bytes));
      SLUICE_RETURN_IF_ERROR(write_file_atomic(env, cat_path, good));
      action(
          fmt::format("{}: rewritten with its valid entries (old file in quarantine/)", cat_path));
    }
  }

  SLUICE_ASSIGN_OR_RETURN(auto streams, list_streams(env, dir));
  for (const auto& sd : streams) {
    const std::string state_path = join_path(sd.path, format::kStateFile);
    auto state = read_stream_state(env, state_path);
    if (!state.ok()) {
      problem(state.status().message());
      if (options.repair) {
        SLUICE_RETURN_IF_ERROR(env.rename(state_path, state_path + ".damaged"));
        action(fmt::format("{}: moved to STATE.damaged; sinks restart from the oldest data",
                           state_path));
      }
    }
    const std::string meta_path = join_path(sd.path, format::kStreamMetaFile);
    if (!env.exists(meta_path)) problem(fmt::format("{}: missing", meta_path));
    for (const auto& f : sd.other_files) {
      if (f.ends_with(".tmp")) {
        problem(fmt::format("{}: leftover temporary file", join_path(sd.path, f)));
        if (options.repair) {
          SLUICE_RETURN_IF_ERROR(env.remove_file(join_path(sd.path, f)));
          action(fmt::format("{}: removed", join_path(sd.path, f)));
        }
      }
    }
    uint64_t prev_end = 0;
    for (size_t i = 0; i < sd.segments.size(); ++i) {
      const auto& [base, name] = sd.segments[i];
      const bool last = i + 1 == sd.segments.size();
      SLUICE_ASSIGN_OR_RETURN(SegmentReport seg, scan_segment(env, sd.path, name, base));
      ++rep.segments;
      if (!seg.header) {
        problem(fmt::format("{}: {}", seg.path, seg.header_error));
        if (options.repair) {
          SLUICE_ASSIGN_OR_RETURN(std::string bytes, read_file(env, seg.path, 1ull << 32));
          SLUICE_RETURN_IF_ERROR(save_bytes(fmt::format("{}-{}", sd.name, name), bytes));
          SLUICE_RETURN_IF_ERROR(env.remove_file(seg.path));
          SLUICE_RETURN_IF_ERROR(env.sync_dir(sd.path));
          action(fmt::format("{}: moved to quarantine/", seg.path));
        }
        continue;
      }
      rep.records_ok += seg.records.size();
      for (const auto& r : seg.records) {
        if (r.header.first_seq < prev_end) {
          problem(fmt::format("{}: record at offset {} goes back to sequence {} (after {})",
                              seg.path, r.offset, r.header.first_seq, prev_end));
        }
        prev_end = std::max(prev_end, r.header.end_seq());
      }
      if (seg.damage.empty()) continue;
      for (const auto& d : seg.damage) {
        if (d.tail && last) {
          rep.torn_tail_bytes += d.length;
          problem(fmt::format("{}: torn tail of {} bytes at offset {} ({})", seg.path, d.length,
                              d.offset, d.reason));
        } else {
          ++rep.records_bad;
          rep.bytes_bad += d.length;
          problem(fmt::format("{}: {} damaged bytes at offset {} ({})", seg.path, d.length,
                              d.offset, d.reason));
        }
      }
      if (!options.repair) continue;
      // Rewrite the segment with its valid records only; every damaged region is kept in
      // quarantine/ first. The rewrite replaces the file atomically.
      SLUICE_ASSIGN_OR_RETURN(auto file, env.open_readable(seg.path));
      for (const auto& d : seg.damage) {
        std::string bytes(d.length, '\0');
        SLUICE_ASSIGN_OR_RETURN(size_t n, file->read_at(d.offset, bytes.size(), bytes.data()));
        bytes.resize(n);
        SLUICE_RETURN_IF_ERROR(
            save_bytes(fmt::format("{}-{}-{}.bad", sd.name, base, d.offset), bytes));
      }
      std::string rewritten(format::kSegmentHeaderSize, '\0');
      SLUICE_ASSIGN_OR_RETURN(size_t hn,
                              file->read_at(0, format::kSegmentHeaderSize, rewritten.data()));
      if (hn != format::kSegmentHeaderSize) return io_error(seg.path + ": short read");
      for (const auto& r : seg.records) {
        std::string bytes(r.length, '\0');
        SLUICE_ASSIGN_OR_RETURN(size_t n, file->read_at(r.offset, bytes.size(), bytes.data()));
        if (n != bytes.size()) return io_error(seg.path + ": short read");
        rewritten += bytes;
      }
      SLUICE_RETURN_IF_ERROR(write_file_atomic(env, seg.path, rewritten));
      action(
          fmt::format("{}: rewritten without {} damaged region(s) ({} bytes kept in "
                      "quarantine/)",
                      seg.path, seg.damage.size(), seg.bytes - rewritten.size()));
    }
  }
  out << fmt::format(
      "{} segments, {} records ok, {} damaged regions, {} torn tail bytes: {}\n", rep.segments,
      rep.records_ok, rep.records_bad, rep.torn_tail_bytes,
      rep.clean() ? "clean" : (options.repair ? "repaired" : "run with --repair to mend"));
  return rep;
}

}  // namespace sluice::store
