// Store end-to-end benchmark: the store's figures against its targets, measured in one run so
// that they can be read as ratios on a shared, noisy machine (DESIGN.md, "Benchmarks: how to
// read the targets"). Four parts, one markdown report on stdout (and --json FILE):
//  1. W1 append throughput with acknowledgement after fsync (sync_policy interval, 10 ms group
//     commit, zstd level 1): samples/s until the last batch is durable, ack latency, sync
//     rounds, bytes on disk per sample (beside the CSV size of the same samples), CPU time.
//  2. The I/O path: the store's MB/s on payload-heavy records with compression off, beside the
//     raw write(2)+fdatasync bandwidth of the same directory with the same block size and the
//     same fsync cadence, rounds interleaved; and raw fdatasync latency.
//  3. Peak RSS of part 1 (it runs in a child process: this program re-executed).
//  4. Reopen time after SIGKILL: a child fills a store with >= 1 GiB and is killed; Store::open
//     is timed on the files with the page cache emptied of them, then again warm.
// Targets are printed, never asserted: a missed target is a figure, not a failure.
//
//   ninja -C build store_e2e && build/bench/store_e2e [--seconds 10] [--quick] [--dir PARENT]
//                                                     [--json FILE]
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "core/batch_codec.h"
#include "core/sample.h"
#include "io/env.h"
#include "store/format.h"
#include "store/store.h"
#include "w1.h"

namespace sluice::bench {
namespace {

using sluice::bench::load_average;
using sluice::bench::mono_ns;
using sluice::bench::utc_now;

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// ---- Workload and target constants ----------------------------------------------------------

constexpr milliseconds kGroupCommit{10};  // sync_interval of parts 1 and 2
constexpr int kZstdLevel = 1;
constexpr double kTargetSamplesPerSec = 3'000'000;
constexpr double kTargetBytesPerSample = 4.0;
constexpr double kTargetIoRatio = 0.7;
constexpr double kTargetRssMiB = 64.0;
constexpr double kTargetReopenSec = 1.0;

// W1 batches are taken from a pool of one W1 second (10 batches of 1,000 samples, all 10,000
// series) whose timestamps are rewritten for every append: generating W1 values (sin, log, 1,000
// name strings) costs more than appending them, and a pregenerated 10-second run would not fit
// the RSS budget. Each record is encoded on its own, so a record's size and encoding work do not
// depend on which second its values come from.
constexpr uint64_t kW1PoolBatches = kW1Series / kW1BatchSamples;
// Bound on the per-batch latency arrays (pages are touched only as batches are appended).
constexpr uint64_t kMaxBatchesPerSecond = 100'000;

// Payload-heavy records for parts 2 and 4: 100 samples per batch, each a 4 KiB string.
constexpr uint32_t kPayloadSamples = 100;
constexpr size_t kPayloadValueBytes = 4096;
constexpr uint32_t kPayloadPoolBatches = 4;

constexpr int kIoRounds = 5;  // interleaved store/raw rounds of part 2 (3 with --quick)
constexpr int kQuickIoRounds = 3;
// An append or write(2) slower than this is counted as a stall (a segment roll, a catalog
// fsync, dirty-page throttling): where the producer's time goes besides its own work.
constexpr int64_t kStallNs = 2'000'000;
constexpr int kFsyncProbes = 200;
constexpr size_t kFsyncProbeBytes = 4096;

constexpr uint64_t kFillBytes = 1ull << 30;  // part 4
constexpr uint64_t kQuickFillBytes = 100ull << 20;
constexpr uint64_t kSegmentBytes = 64ull << 20;  // the store's default, stated here
constexpr double kFillTailFraction = 0.75;       // kill with a mostly full tail segment
constexpr milliseconds kFillPoll{20};
constexpr std::chrono::seconds kFillTimeout{600};

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kMB = 1e6;

// ---- Small helpers --------------------------------------------------------------------------

double seconds_between(int64_t from_ns, int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e9;
}

double cpu_seconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double max_rss_mib_self() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Nearest-rank percentile of an ascending vector.
template <typename T>
T percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty()) return T{};
  const auto rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return percentile(v, 50);
}

std::string random_printable(size_t n, uint64_t* state) {
  std::string s(n, ' ');
  for (char& c : s) {
    uint64_t& x = *state;  // xorshift64
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(' ' + x % 95);
  }
  return s;
}

// Sum of regular file sizes under a directory (files may vanish while we look: ignored).
uint64_t tree_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) {
      const auto n = it->file_size(fec);
      if (!fec) total += n;
    }
  }
  return total;
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string self_exe() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : p.string();
}

// ---- The report -----------------------------------------------------------------------------

struct TargetRow {
  std::string name;
  std::string target;
  std::string measured;
  bool met = false;
};

// Figures in the order they were measured, for the JSON file; markdown is written by hand.
struct Report {
  std::vector<std::pair<std::string, double>> figures;
  std::vector<std::pair<std::string, std::string>> notes;
  std::vector<TargetRow> targets;
  std::vector<std::string> errors;

  void add(const std::string& key, double v) { figures.emplace_back(key, v); }
  void note(const std::string& key, const std::string& v) { notes.emplace_back(key, v); }
  double get(const std::string& key) const {
    for (const auto& [k, v] : figures) {
      if (k == key) return v;
    }
    return 0;
  }
  bool has(const std::string& key) const {
    return std::any_of(figures.begin(), figures.end(),
                       [&](const auto& f) { return f.first == key; });
  }
};

std::string json_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{}", v);
}

void write_json(const Report& r, const std::string& path) {
  std::string out = "{\n  \"notes\": {";
  for (size_t i = 0; i < r.notes.size(); ++i) {
    out += fmt::format("{}\n    \"{}\": \"{}\"", i ? "," : "", json_escape(r.notes[i].first),
                       json_escape(r.notes[i].second));
  }
  out += "\n  },\n  \"figures\": {";
  for (size_t i = 0; i < r.figures.size(); ++i) {
    out += fmt::format("{}\n    \"{}\": {}", i ? "," : "", json_escape(r.figures[i].first),
                       json_number(r.figures[i].second));
  }
  out += "\n  },\n  \"targets\": [";
  for (size_t i = 0; i < r.targets.size(); ++i) {
    const TargetRow& t = r.targets[i];
    out += fmt::format(
        "{}\n    {{\"name\": \"{}\", \"target\": \"{}\", \"measured\": \"{}\", "
        "\"met\": {}}}",
        i ? "," : "", json_escape(t.name), json_escape(t.target), json_escape(t.measured),
        t.met ? "true" : "false");
  }
  out += "\n  ],\n  \"errors\": [";
  for (size_t i = 0; i < r.errors.size(); ++i) {
    out += fmt::format("{}\n    \"{}\"", i ? "," : "", json_escape(r.errors[i]));
  }
  out += "\n  ]\n}\n";
  std::ofstream(path) << out;
}

// ---- Machine description --------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

// The file system type and device of the mount that holds `path` (longest mount-point prefix).
std::string filesystem_of(const std::string& path) {
  std::error_code ec;
  const std::string real = fs::canonical(path, ec).string();
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string best_mount;
  std::string best;
  while (std::getline(in, line)) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-opts
    std::istringstream ls(line);
    std::string id, parent, dev, root, mount;
    ls >> id >> parent >> dev >> root >> mount;
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string type, source;
    tail >> type >> source;
    const bool prefix =
        real == mount || mount == "/" ||
        (real.starts_with(mount) && real.size() > mount.size() && real[mount.size()] == '/');
    if (prefix && mount.size() >= best_mount.size()) {
      best_mount = mount;
      best = fmt::format("{} on {} (mounted at {})", type, source, mount);
    }
  }
  return best.empty() ? "unknown" : best;
}

// ---- Stores ---------------------------------------------------------------------------------

store::StoreOptions store_options(const std::string& dir, Compression compression) {
  store::StoreOptions o;
  o.dir = dir;
  o.segment_bytes = kSegmentBytes;
  o.sync_policy = store::SyncPolicy::kInterval;
  o.sync_interval = kGroupCommit;
  o.encoding.compression = compression;
  o.encoding.zstd_level = kZstdLevel;
  return o;
}

// Payload-heavy batches: kPayloadSamples samples of distinct series, each a random 4 KiB string.
std::vector<Batch> payload_pool() {
  std::vector<Batch> pool(kPayloadPoolBatches);
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  for (Batch& b : pool) {
    for (uint32_t i = 0; i < kPayloadSamples; ++i) {
      b.samples.push_back({fmt::format("bench.io.payload{:03}", i), 0,
                           random_printable(kPayloadValueBytes, &rng), quality::kGood});
    }
  }
  return pool;
}

void stamp(Batch& b, Timestamp first, int64_t step) {
  for (size_t i = 0; i < b.samples.size(); ++i) {
    b.samples[i].ts = first + static_cast<Timestamp>(i) * step;
  }
}

// Blocks until the stream's readable end reaches `end`; false if the store stalls for `limit`.
bool wait_durable(store::Store& st, const std::string& stream, uint64_t end,
                  std::chrono::seconds limit) {
  if (end == 0) return true;
  const int64_t deadline = mono_ns() + std::chrono::nanoseconds(limit).count();
  while (mono_ns() < deadline) {
    if (st.wait_readable(stream, end - 1, milliseconds(100)) >= end) return true;
  }
  return false;
}

// ---- Part 1: W1 append (runs in a child process) --------------------------------------------

// CSV bytes of one sample: "series,ts,value\n", ts in ns, value in its shortest round-trip form.
size_t csv_bytes(const Sample& s) {
  char buf[64];
  const auto ts = std::to_chars(buf, buf + sizeof buf, s.ts);
  const size_t ts_len = static_cast<size_t>(ts.ptr - buf);
  const auto v = std::to_chars(buf, buf + sizeof buf, std::get<double>(s.value));
  const size_t v_len = static_cast<size_t>(v.ptr - buf);
  return s.series.size() + 1 + ts_len + 1 + v_len + 1;
}

// Writes "key value" lines to `result_path`; the parent reads them.
Status run_w1_child(const std::string& work, double seconds) {
  const std::string result_path = join_path(work, "w1-result.txt");
  std::vector<Batch> pool;
  for (uint64_t k = 0; k < kW1PoolBatches; ++k) pool.push_back(w1_batch(k));
  const double harness_rss_mib = max_rss_mib_self();

  const std::string dir = join_path(work, "w1");
  auto opened = store::Store::open(Env::posix(), store_options(dir, Compression::kZstd));
  if (!opened.ok()) return opened.status().with_context("opening the W1 store");
  std::unique_ptr<store::Store> st = std::move(opened).value();
  const std::string stream = "w1";
  SLUICE_RETURN_IF_ERROR(st->ensure_stream(stream));

  const auto cap = static_cast<uint64_t>(seconds * kMaxBatchesPerSecond) + kW1PoolBatches;
  // make_unique_for_overwrite: pages are touched only as batches are recorded.
  auto call_ns = std::make_unique_for_overwrite<int64_t[]>(cap);
  auto ack_ns = std::make_unique_for_overwrite<int64_t[]>(cap);
  std::atomic<uint64_t> published{0};  // batches whose call time is recorded
  std::atomic<bool> producer_done{false};
  std::atomic<uint64_t> final_batches{0};
  std::atomic<int64_t> last_ack_ns{0};
  std::vector<uint64_t> round_ns;  // sampled sync round durations (observer thread)
  double observer_cpu = 0;

  // The observer: woken by each sync round (readable_cv_), it stamps every batch the round made
  // durable. This is the acknowledgement time a source waiting on the store would see.
  std::thread observer([&] {
    uint64_t done = 0;
    uint64_t seen_syncs = 0;
    for (;;) {
      if (producer_done.load(std::memory_order_acquire) &&
          done >= final_batches.load(std::memory_order_acquire)) {
        break;
      }
      const uint64_t readable = st->wait_readable(stream, done * kW1BatchSamples, milliseconds(20));
      const int64_t now = mono_ns();
      const uint64_t pub = published.load(std::memory_order_acquire);
      const uint64_t before = done;
      while (done < pub && (done + 1) * kW1BatchSamples <= readable) {
        ack_ns[done] = now - call_ns[done];
        ++done;
      }
      if (done > before) last_ack_ns.store(now, std::memory_order_release);
      const store::StoreStats s = st->stats();
      if (s.syncs == seen_syncs + 1) round_ns.push_back(s.last_sync_ns);
      seen_syncs = s.syncs;
    }
    observer_cpu = cpu_seconds(RUSAGE_THREAD);
  });

  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  const double producer_cpu0 = cpu_seconds(RUSAGE_THREAD);
  const int64_t t0 = mono_ns();
  const int64_t deadline = t0 + static_cast<int64_t>(seconds * 1e9);
  uint64_t k = 0;
  uint64_t stalls = 0;
  double stall_s = 0;
  Status error;
  while (k < cap && mono_ns() < deadline) {
    Batch& b = pool[k % kW1PoolBatches];
    const Timestamp ts = kW1Start + static_cast<Timestamp>(w1_second(k)) * kNanosPerSecond;
    for (Sample& s : b.samples) s.ts = ts;
    call_ns[k] = mono_ns();
    published.store(k + 1, std::memory_order_release);
    auto r = st->append(stream, b, store::AppendOptions{.wait_durable = false});
    if (!r.ok()) {
      error = r.status();
      break;
    }
    const int64_t after = mono_ns();
    if (after - call_ns[k] > kStallNs) {
      ++stalls;
      stall_s += seconds_between(call_ns[k], after);
    }
    ++k;
  }
  const int64_t t_appended = mono_ns();
  const double producer_cpu = cpu_seconds(RUSAGE_THREAD) - producer_cpu0;
  // A failed append was published but never written: it is not waited for.
  final_batches.store(k, std::memory_order_release);
  producer_done.store(true, std::memory_order_release);
  const bool durable = wait_durable(*st, stream, k * kW1BatchSamples, std::chrono::seconds(60));
  observer.join();
  const int64_t t_end = last_ack_ns.load();
  const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  const store::StoreStats stats = st->stats();
  const int64_t c0 = mono_ns();
  const Status closed = st->close();
  const double close_s = seconds_between(c0, mono_ns());
  const uint64_t dir_bytes = tree_bytes(dir);

  std::vector<int64_t> acks(ack_ns.get(), ack_ns.get() + k);
  std::sort(acks.begin(), acks.end());
  std::sort(round_ns.begin(), round_ns.end());
  double round_mean = 0;
  for (const uint64_t r : round_ns) round_mean += static_cast<double>(r);
  if (!round_ns.empty()) round_mean /= static_cast<double>(round_ns.size());
  uint64_t csv = 0;
  for (uint64_t i = 0; i < kW1PoolBatches; ++i) {
    uint64_t batch_csv = 0;
    for (const Sample& s : pool[i].samples) batch_csv += csv_bytes(s);
    // Batches k with k % pool == i; every W1 timestamp has 19 digits, so the size is the same.
    csv += batch_csv * (k / kW1PoolBatches + (i < k % kW1PoolBatches ? 1 : 0));
  }

  const double samples = static_cast<double>(k * kW1BatchSamples);
  const double wall = seconds_between(t0, t_end);
  std::ofstream out(result_path);
  auto put = [&out](const char* key, double v) {
    out << key << ' ' << fmt::format("{}", v) << '\n';
  };
  put("batches", static_cast<double>(k));
  put("samples", samples);
  put("wall_s", wall);
  put("append_wall_s", seconds_between(t0, t_appended));
  put("samples_per_s", samples / wall);
  put("append_samples_per_s", samples / seconds_between(t0, t_appended));
  put("ack_p50_ms", percentile(acks, 50) / 1e6);
  put("ack_p99_ms", percentile(acks, 99) / 1e6);
  put("ack_max_ms", acks.empty() ? 0 : acks.back() / 1e6);
  put("syncs", static_cast<double>(stats.syncs));
  put("sync_period_ms", stats.syncs ? wall * 1e3 / static_cast<double>(stats.syncs) : 0);
  put("sync_rounds_sampled", static_cast<double>(round_ns.size()));
  put("sync_round_mean_ms", round_mean / 1e6);
  put("sync_round_p50_ms", static_cast<double>(percentile(round_ns, 50)) / 1e6);
  put("sync_round_max_ms", round_ns.empty() ? 0 : static_cast<double>(round_ns.back()) / 1e6);
  put("store_bytes", static_cast<double>(stats.bytes));
  put("dir_bytes", static_cast<double>(dir_bytes));
  put("bytes_per_sample", static_cast<double>(stats.bytes) / samples);
  put("dir_bytes_per_sample", static_cast<double>(dir_bytes) / samples);
  put("csv_bytes_per_sample", static_cast<double>(csv) / samples);
  put("segments", static_cast<double>(stats.segments));
  put("cpu_s", cpu);
  put("cpu_per_wall", cpu / wall);
  put("producer_cpu_s", producer_cpu);
  put("samples_per_producer_cpu_s", samples / producer_cpu);
  put("observer_cpu_s", observer_cpu);
  put("append_stalls", static_cast<double>(stalls));
  put("append_stall_s", stall_s);
  put("close_ms", close_s * 1e3);
  put("harness_rss_mib", harness_rss_mib);
  put("write_errors", static_cast<double>(stats.write_errors));
  put("all_durable", durable ? 1 : 0);
  if (!error.ok()) return error.with_context("W1 append");
  if (!closed.ok()) return closed.with_context("closing the W1 store");
  return {};
}

// Re-executes this program with `args`; returns the child's pid.
pid_t spawn_self(const std::vector<std::string>& args) {
  const std::string exe = self_exe();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

Status part_w1(const std::string& work, double seconds, Report& r) {
  std::fprintf(stderr, "part 1: W1 append for %.0f s (child process)\n", seconds);
  const pid_t pid =
      spawn_self({"--child", "w1", "--dir", work, "--seconds", fmt::format("{}", seconds)});
  if (pid < 0) return io_error(fmt::format("fork: {}", std::strerror(errno)));
  int status = 0;
  rusage ru{};
  if (wait4(pid, &status, 0, &ru) < 0)
    return io_error(fmt::format("wait4: {}", std::strerror(errno)));
  r.add("w1.peak_rss_mib", static_cast<double>(ru.ru_maxrss) / 1024.0);
  std::istringstream in(read_small_file(join_path(work, "w1-result.txt")));
  std::string key;
  double v = 0;
  while (in >> key >> v) r.add("w1." + key, v);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return internal_error(
        fmt::format("the W1 child failed (status {:#x}); see its stderr above", status));
  }
  std::error_code ec;
  fs::remove_all(join_path(work, "w1"), ec);
  return {};
}

// ---- Part 2: the I/O path against raw write+fdatasync ----------------------------------------

struct IoRun {
  double mb_s = 0;
  uint64_t bytes = 0;
  uint64_t writes = 0;  // records or blocks
  uint64_t syncs = 0;
  double cpu_per_wall = 0;
  double wall_s = 0;
  uint64_t stalls = 0;  // appends / writes slower than kStallNs
  double stall_s = 0;   // time spent in them
  uint64_t rolls = 0;   // appends that sealed a segment and started the next (store only)
  double roll_s = 0;    // time spent in them
};

Result<IoRun> store_io_run(const std::string& dir, const std::vector<Batch>& pool_in,
                           double seconds) {
  std::vector<Batch> pool = pool_in;
  SLUICE_ASSIGN_OR_RETURN(auto st,
                          store::Store::open(Env::posix(), store_options(dir, Compression::kNone)));
  const std::string stream = "io";
  SLUICE_RETURN_IF_ERROR(st->ensure_stream(stream));
  // The catalog entries and the first segment are created before the clock starts.
  stamp(pool[0], kW1Start, 1);
  SLUICE_RETURN_IF_ERROR(st->append(stream, pool[0]).status());
  const store::StoreStats s0 = st->stats();
  const uint64_t seq0 = kPayloadSamples;

  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  const int64_t t0 = mono_ns();
  const int64_t deadline = t0 + static_cast<int64_t>(seconds * 1e9);
  uint64_t k = 0;
  IoRun run;
  uint64_t segments = 1;
  for (int64_t now = t0; now < deadline; ++k) {
    Batch& b = pool[k % pool.size()];
    stamp(b, kW1Start + static_cast<Timestamp>((k + 1) * kPayloadSamples), 1);
    auto a = st->append(stream, b, store::AppendOptions{.wait_durable = false});
    if (!a.ok()) return a.status().with_context("payload append");
    const int64_t after = mono_ns();
    if (after - now > kStallNs) {
      ++run.stalls;
      run.stall_s += seconds_between(now, after);
    }
    // A new segment means this append rolled (sealing fdatasync, new file, directory fsync).
    auto ss = st->stream_stats(stream);
    if (ss.ok() && ss->segments > segments) {
      segments = ss->segments;
      ++run.rolls;
      run.roll_s += seconds_between(now, after);
    }
    now = mono_ns();
  }
  if (!wait_durable(*st, stream, seq0 + k * kPayloadSamples, std::chrono::seconds(60))) {
    return Status(Code::kTimeout, "payload batches did not become durable within 60 s");
  }
  const int64_t t_end = mono_ns();
  const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  const store::StoreStats s1 = st->stats();
  SLUICE_RETURN_IF_ERROR(st->close());
  run.wall_s = seconds_between(t0, t_end);
  run.bytes = s1.bytes - s0.bytes;
  run.writes = k;
  run.syncs = s1.syncs - s0.syncs;
  run.mb_s = static_cast<double>(run.bytes) / kMB / seconds_between(t0, t_end);
  run.cpu_per_wall = cpu / seconds_between(t0, t_end);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return run;
}

// Sequential write(2)s of `block` bytes while a second thread calls fdatasync every `cadence`
// (sleeping `cadence` after each round, as the store's sync thread does); timed until the first
// fdatasync that started after the last write returns.
Result<IoRun> raw_io_run(const std::string& path, size_t block, double seconds) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("open", path, errno);
  uint64_t rng = 0x243F6A8885A308D3ull;
  const std::string buf = random_printable(block, &rng);
  std::atomic<bool> writer_done{false};
  std::atomic<uint64_t> syncs{0};
  std::atomic<int> sync_errno{0};
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  const int64_t t0 = mono_ns();
  std::thread syncer([&] {
    for (;;) {
      std::this_thread::sleep_for(kGroupCommit);
      const bool last = writer_done.load(std::memory_order_acquire);
      if (::fdatasync(fd) != 0) sync_errno = errno;
      syncs.fetch_add(1);
      if (last) break;
    }
  });
  const int64_t deadline = t0 + static_cast<int64_t>(seconds * 1e9);
  uint64_t bytes = 0;
  uint64_t writes = 0;
  int write_errno = 0;
  IoRun run;
  for (int64_t now = t0; write_errno == 0 && now < deadline;) {
    std::string_view rest = buf;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        write_errno = errno;
        break;
      }
      rest.remove_prefix(static_cast<size_t>(n));
      bytes += static_cast<uint64_t>(n);
    }
    ++writes;
    const int64_t after = mono_ns();
    if (after - now > kStallNs) {
      ++run.stalls;
      run.stall_s += seconds_between(now, after);
    }
    now = after;
  }
  writer_done.store(true, std::memory_order_release);
  syncer.join();
  const int64_t t_end = mono_ns();
  const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  ::close(fd);
  ::unlink(path.c_str());
  if (write_errno != 0) return errno_status("write", path, write_errno);
  if (sync_errno != 0) return errno_status("fdatasync", path, sync_errno.load());
  run.wall_s = seconds_between(t0, t_end);
  run.bytes = bytes;
  run.writes = writes;
  run.syncs = syncs.load();
  run.mb_s = static_cast<double>(bytes) / kMB / seconds_between(t0, t_end);
  run.cpu_per_wall = cpu / seconds_between(t0, t_end);
  return run;
}

// fdatasync latency after one 4 KiB append, kFsyncProbes times; figures under `key`.
Status part_fsync(const std::string& work, const std::string& key, Report& r) {
  std::fprintf(stderr, "raw fdatasync latency (%d probes, %s)\n", kFsyncProbes, key.c_str());
  const std::string path = join_path(work, "fsync-probe.dat");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("open", path, errno);
  const std::string block(kFsyncProbeBytes, 'x');
  std::vector<int64_t> lat;
  Status st;
  for (int i = 0; i < kFsyncProbes && st.ok(); ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      st = errno_status("write", path, errno);
      break;
    }
    const int64_t t = mono_ns();
    if (::fdatasync(fd) != 0) st = errno_status("fdatasync", path, errno);
    lat.push_back(mono_ns() - t);
  }
  ::close(fd);
  ::unlink(path.c_str());
  SLUICE_RETURN_IF_ERROR(st);
  std::sort(lat.begin(), lat.end());
  r.add(key + ".p50_us", static_cast<double>(percentile(lat, 50)) / 1e3);
  r.add(key + ".p99_us", static_cast<double>(percentile(lat, 99)) / 1e3);
  r.add(key + ".max_us", static_cast<double>(lat.back()) / 1e3);
  return {};
}

Status part_io(const std::string& work, double seconds, int rounds, Report& r) {
  const std::vector<Batch> pool = payload_pool();
  const double run_seconds = std::max(1.0, seconds / rounds);
  std::fprintf(stderr,
               "part 2: store vs raw write+fdatasync, %d interleaved rounds of %.1f s each\n",
               rounds, run_seconds);
  std::vector<double> store_mb, raw_mb, ratios, store_cpu, raw_cpu;
  size_t block = 0;
  uint64_t store_syncs = 0, raw_syncs = 0;
  IoRun store_sum, raw_sum;  // stalls summed over rounds
  for (int round = 0; round < rounds; ++round) {
    const std::string dir = join_path(work, fmt::format("io-store-{}", round));
    // Alternate which goes first so that drift on the shared disk falls on both alike.
    IoRun s, w;
    auto do_store = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(s, store_io_run(dir, pool, run_seconds));
      if (block == 0) block = static_cast<size_t>(s.bytes / std::max<uint64_t>(s.writes, 1));
      return {};
    };
    auto do_raw = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(w, raw_io_run(join_path(work, "raw.dat"), block, run_seconds));
      return {};
    };
    if (round % 2 == 0) {
      SLUICE_RETURN_IF_ERROR(do_store());
      SLUICE_RETURN_IF_ERROR(do_raw());
    } else {
      SLUICE_RETURN_IF_ERROR(do_raw());
      SLUICE_RETURN_IF_ERROR(do_store());
    }
    std::fprintf(stderr, "  round %d: store %.0f MB/s, raw %.0f MB/s\n", round, s.mb_s, w.mb_s);
    store_mb.push_back(s.mb_s);
    raw_mb.push_back(w.mb_s);
    ratios.push_back(s.mb_s / w.mb_s);
    store_cpu.push_back(s.cpu_per_wall);
    raw_cpu.push_back(w.cpu_per_wall);
    store_syncs += s.syncs;
    raw_syncs += w.syncs;
    store_sum.stalls += s.stalls;
    store_sum.stall_s += s.stall_s;
    store_sum.wall_s += s.wall_s;
    store_sum.rolls += s.rolls;
    store_sum.roll_s += s.roll_s;
    raw_sum.stalls += w.stalls;
    raw_sum.stall_s += w.stall_s;
    raw_sum.wall_s += w.wall_s;
    r.add(fmt::format("io.round{}.store_mb_s", round), s.mb_s);
    r.add(fmt::format("io.round{}.raw_mb_s", round), w.mb_s);
  }
  r.add("io.rounds", rounds);
  r.add("io.record_bytes", static_cast<double>(block));
  r.add("io.store_stalls", static_cast<double>(store_sum.stalls));
  r.add("io.store_stall_share", store_sum.stall_s / store_sum.wall_s);
  r.add("io.store_rolls", static_cast<double>(store_sum.rolls));
  r.add("io.store_roll_share", store_sum.roll_s / store_sum.wall_s);
  r.add("io.store_roll_mean_ms", store_sum.rolls ? store_sum.roll_s * 1e3 / store_sum.rolls : 0);
  r.add("io.raw_stalls", static_cast<double>(raw_sum.stalls));
  r.add("io.raw_stall_share", raw_sum.stall_s / raw_sum.wall_s);
  r.add("io.run_seconds", run_seconds);
  r.add("io.store_mb_s", median(store_mb));
  r.add("io.raw_mb_s", median(raw_mb));
  r.add("io.ratio", median(ratios));
  r.add("io.ratio_min", *std::min_element(ratios.begin(), ratios.end()));
  r.add("io.ratio_max", *std::max_element(ratios.begin(), ratios.end()));
  r.add("io.store_cpu_per_wall", median(store_cpu));
  r.add("io.raw_cpu_per_wall", median(raw_cpu));
  r.add("io.store_sync_rounds_per_s", static_cast<double>(store_syncs) / store_sum.wall_s);
  r.add("io.raw_sync_rounds_per_s", static_cast<double>(raw_syncs) / raw_sum.wall_s);
  return {};
}

// ---- Part 4: reopen after SIGKILL ------------------------------------------------------------

Status run_fill_child(const std::string& dir) {
  std::vector<Batch> pool = payload_pool();
  SLUICE_ASSIGN_OR_RETURN(auto st,
                          store::Store::open(Env::posix(), store_options(dir, Compression::kNone)));
  const std::string stream = "fill";
  SLUICE_RETURN_IF_ERROR(st->ensure_stream(stream));
  for (uint64_t k = 0;; ++k) {  // until SIGKILL
    Batch& b = pool[k % pool.size()];
    stamp(b, kW1Start + static_cast<Timestamp>(k * kPayloadSamples), 1);
    SLUICE_RETURN_IF_ERROR(
        st->append(stream, b, store::AppendOptions{.wait_durable = false}).status());
  }
}

struct SegmentsOnDisk {
  uint64_t total = 0;
  uint64_t tail = 0;  // the newest segment
  uint64_t count = 0;
};

SegmentsOnDisk segments_on_disk(const std::string& stream_dir) {
  SegmentsOnDisk s;
  std::error_code ec;
  std::string newest;
  for (fs::directory_iterator it(stream_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    uint64_t base = 0;
    if (!store::format::parse_segment_file_name(name, &base)) continue;
    std::error_code fec;
    const uint64_t size = it->file_size(fec);
    if (fec) continue;
    s.total += size;
    ++s.count;
    if (name > newest) {  // fixed-width names sort by base sequence
      newest = name;
      s.tail = size;
    }
  }
  return s;
}

// Writes back and drops from the page cache every file of the store, so that open() reads from
// the disk (as after a reboot) instead of from memory the killed process left behind.
uint64_t evict_page_cache(const std::string& dir) {
  uint64_t files = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    ++files;
  }
  return files;
}

// Bytes of the directory's files that are in the page cache (mincore over a read-only mapping).
uint64_t resident_bytes(const std::string& dir) {
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    const uint64_t size = it->file_size(fec);
    if (fec || size == 0) continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) continue;
    std::vector<unsigned char> vec((size + page - 1) / page);
    if (::mincore(map, size, vec.data()) == 0) {
      for (const unsigned char v : vec) total += (v & 1) ? page : 0;
    }
    ::munmap(map, size);
  }
  return total;
}

Status part_reopen(const std::string& work, uint64_t fill_bytes, Report& r) {
  const std::string dir = join_path(work, "reopen");
  const std::string stream_dir = join_path(join_path(dir, store::format::kStreamsDir), "fill");
  std::fprintf(stderr, "part 4: fill %.0f MiB, SIGKILL, reopen\n",
               static_cast<double>(fill_bytes) / kMiB);
  const int64_t t0 = mono_ns();
  const pid_t pid = spawn_self({"--child", "fill", "--dir", dir});
  if (pid < 0) return io_error(fmt::format("fork: {}", std::strerror(errno)));
  SegmentsOnDisk at_kill;
  bool child_exited = false;
  int status = 0;
  const int64_t deadline = t0 + std::chrono::nanoseconds(kFillTimeout).count();
  for (;;) {
    std::this_thread::sleep_for(kFillPoll);
    if (waitpid(pid, &status, WNOHANG) == pid) {
      child_exited = true;
      break;
    }
    at_kill = segments_on_disk(stream_dir);
    const bool tail_full = static_cast<double>(at_kill.tail) >=
                               kFillTailFraction * static_cast<double>(kSegmentBytes) ||
                           fill_bytes < kSegmentBytes;
    if ((at_kill.total >= fill_bytes && tail_full) || mono_ns() > deadline) break;
  }
  if (!child_exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  const double fill_s = seconds_between(t0, mono_ns());
  if (child_exited)
    return internal_error(fmt::format("the fill child exited early (status {:#x})", status));
  if (at_kill.total < fill_bytes) {
    return Status(Code::kTimeout,
                  fmt::format("the fill child wrote only {} bytes in {} s", at_kill.total, fill_s));
  }
  r.add("reopen.fill_seconds", fill_s);
  r.add("reopen.bytes_at_kill", static_cast<double>(at_kill.total));
  r.add("reopen.tail_segment_bytes", static_cast<double>(at_kill.tail));
  r.add("reopen.segment_files", static_cast<double>(at_kill.count));

  const int64_t e0 = mono_ns();
  const uint64_t evicted = evict_page_cache(dir);
  r.add("reopen.evict_ms", seconds_between(e0, mono_ns()) * 1e3);
  r.add("reopen.evicted_files", static_cast<double>(evicted));
  r.add("reopen.resident_after_evict", static_cast<double>(resident_bytes(dir)));

  store::RecoveryReport rep;
  const int64_t o0 = mono_ns();
  auto opened = store::Store::open(Env::posix(), store_options(dir, Compression::kNone), &rep);
  const double open_s = seconds_between(o0, mono_ns());
  if (!opened.ok()) return opened.status().with_context("reopening after SIGKILL");
  std::unique_ptr<store::Store> st = std::move(opened).value();
  auto ss = st->stream_stats("fill");
  const int64_t c0 = mono_ns();
  SLUICE_RETURN_IF_ERROR(st->close());
  const double close_s = seconds_between(c0, mono_ns());
  st.reset();
  r.add("reopen.open_ms", open_s * 1e3);
  r.add("reopen.close_ms", close_s * 1e3);
  r.add("reopen.recovered_segments", static_cast<double>(rep.segments));
  r.add("reopen.truncated_bytes", static_cast<double>(rep.truncated_bytes));
  r.add("reopen.corrupt_records", static_cast<double>(rep.corrupt_records));
  r.add("reopen.removed_files", static_cast<double>(rep.removed_files));
  if (ss.ok()) {
    r.add("reopen.readable_samples", static_cast<double>(ss->readable_end));
    r.add("reopen.store_bytes", static_cast<double>(ss->bytes));
  }
  for (size_t i = 0; i < rep.messages.size(); ++i) {
    r.note(fmt::format("reopen.message{}", i), rep.messages[i]);
  }

  // The same open again with everything in the page cache and nothing to repair.
  store::RecoveryReport rep2;
  const int64_t w0 = mono_ns();
  auto again = store::Store::open(Env::posix(), store_options(dir, Compression::kNone), &rep2);
  const double warm_s = seconds_between(w0, mono_ns());
  if (!again.ok()) return again.status().with_context("second reopen");
  SLUICE_RETURN_IF_ERROR((*again)->close());
  r.add("reopen.warm_open_ms", warm_s * 1e3);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return {};
}

// ---- Markdown -------------------------------------------------------------------------------

std::string met(bool ok) { return ok ? "met" : "not met"; }

void add_targets(Report& r) {
  if (r.has("w1.samples_per_s")) {
    const double v = r.get("w1.samples_per_s");
    r.targets.push_back({"W1 append, ack after fsync (group commit 10 ms), samples/s",
                         ">= 3,000,000", fmt::format("{:.0f}", v), v >= kTargetSamplesPerSec});
    const double b = r.get("w1.bytes_per_sample");
    r.targets.push_back({"W1 bytes on disk per sample (zstd 1)", "<= 4", fmt::format("{:.2f}", b),
                         b <= kTargetBytesPerSample});
  }
  if (r.has("w1.peak_rss_mib")) {
    const double m = r.get("w1.peak_rss_mib");
    r.targets.push_back({"Peak RSS of the W1 append process", "< 64 MiB",
                         fmt::format("{:.1f} MiB", m), m < kTargetRssMiB});
  }
  if (r.has("io.ratio")) {
    const double q = r.get("io.ratio");
    r.targets.push_back(
        {"Store / raw write+fdatasync bandwidth (compression off, median of rounds)", ">= 0.7",
         fmt::format("{:.2f}", q), q >= kTargetIoRatio});
  }
  if (r.has("reopen.open_ms")) {
    const double s = r.get("reopen.open_ms") / 1e3;
    r.targets.push_back(
        {fmt::format("Store::open after SIGKILL with {:.2f} GiB, page cache dropped",
                     r.get("reopen.bytes_at_kill") / (kMiB * 1024)),
         "< 1 s", fmt::format("{:.3f} s", s), s < kTargetReopenSec});
  }
}

void print_markdown(const Report& r, const std::string& header) {
  auto f = [&r](const std::string& k) { return r.get(k); };
  fmt::print("{}", header);
  fmt::print("\n| Figure | Target | Measured | Verdict |\n|---|---|---|---|\n");
  for (const TargetRow& t : r.targets) {
    fmt::print("| {} | {} | {} | {} |\n", t.name, t.target, t.measured, met(t.met));
  }
  if (r.has("w1.samples")) {
    fmt::print("\n### 1. W1 append, acknowledged after fsync\n\n");
    fmt::print("| | |\n|---|---|\n");
    fmt::print("| batches x samples | {:.0f} x {} = {:.0f} samples |\n", f("w1.batches"),
               kW1BatchSamples, f("w1.samples"));
    fmt::print("| wall time to the last batch durable | {:.3f} s (appending {:.3f} s) |\n",
               f("w1.wall_s"), f("w1.append_wall_s"));
    fmt::print("| throughput, durable | {:.0f} samples/s |\n", f("w1.samples_per_s"));
    fmt::print("| throughput, appending only | {:.0f} samples/s |\n", f("w1.append_samples_per_s"));
    fmt::print("| producer thread CPU | {:.3f} s: {:.0f} samples per CPU second |\n",
               f("w1.producer_cpu_s"), f("w1.samples_per_producer_cpu_s"));
    fmt::print(
        "| process CPU / wall | {:.3f} s / {:.3f} s = {:.2f} cores (observer thread {:.3f} s) |\n",
        f("w1.cpu_s"), f("w1.wall_s"), f("w1.cpu_per_wall"), f("w1.observer_cpu_s"));
    fmt::print("| appends over {} ms (stalls) | {:.0f}, {:.3f} s in total |\n",
               kStallNs / 1'000'000, f("w1.append_stalls"), f("w1.append_stall_s"));
    fmt::print(
        "| ack latency (append call to durable) | p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms |\n",
        f("w1.ack_p50_ms"), f("w1.ack_p99_ms"), f("w1.ack_max_ms"));
    fmt::print("| sync rounds | {:.0f}, one every {:.2f} ms |\n", f("w1.syncs"),
               f("w1.sync_period_ms"));
    fmt::print(
        "| sync round time ({:.0f} rounds sampled) | mean {:.3f} ms, p50 {:.3f} ms, max {:.3f} ms "
        "|\n",
        f("w1.sync_rounds_sampled"), f("w1.sync_round_mean_ms"), f("w1.sync_round_p50_ms"),
        f("w1.sync_round_max_ms"));
    fmt::print(
        "| bytes on disk per sample | {:.3f} (store stats; whole directory incl. catalog {:.3f}) "
        "|\n",
        f("w1.bytes_per_sample"), f("w1.dir_bytes_per_sample"));
    fmt::print(
        "| CSV of the same samples (`series,ts_ns,value\\n`) | {:.2f} bytes/sample ({:.1f}x the "
        "store) |\n",
        f("w1.csv_bytes_per_sample"), f("w1.csv_bytes_per_sample") / f("w1.bytes_per_sample"));
    fmt::print("| segments, close | {:.0f}, close {:.2f} ms |\n", f("w1.segments"),
               f("w1.close_ms"));
    fmt::print(
        "| peak RSS (child process) | {:.1f} MiB, of which the harness before open {:.1f} MiB |\n",
        f("w1.peak_rss_mib"), f("w1.harness_rss_mib"));
  }
  if (r.has("io.ratio")) {
    fmt::print("\n### 2. I/O path: store vs raw write(2)+fdatasync, same dir, block, cadence\n\n");
    fmt::print("| Round | Store MB/s | Raw MB/s | Ratio |\n|---|---|---|---|\n");
    for (int i = 0; i < static_cast<int>(f("io.rounds")); ++i) {
      const double s = f(fmt::format("io.round{}.store_mb_s", i));
      const double w = f(fmt::format("io.round{}.raw_mb_s", i));
      fmt::print("| {} ({}) | {:.0f} | {:.0f} | {:.2f} |\n", i,
                 i % 2 == 0 ? "store first" : "raw first", s, w, s / w);
    }
    fmt::print("| median | {:.0f} | {:.0f} | {:.2f} |\n", f("io.store_mb_s"), f("io.raw_mb_s"),
               f("io.ratio"));
    fmt::print(
        "\nRecords of {:.0f} bytes ({} samples x {} B strings, compression none), {:.1f} s per "
        "run; sync rounds/s store {:.0f}, raw {:.0f}; process CPU/wall store {:.2f}, raw "
        "{:.2f}.\n",
        f("io.record_bytes"), kPayloadSamples, kPayloadValueBytes, f("io.run_seconds"),
        f("io.store_sync_rounds_per_s"), f("io.raw_sync_rounds_per_s"), f("io.store_cpu_per_wall"),
        f("io.raw_cpu_per_wall"));
    fmt::print(
        "Producer stalls (an append or write(2) over {} ms): store {:.0f}, {:.1f}% of its wall "
        "time; raw {:.0f}, {:.1f}%.\n",
        kStallNs / 1'000'000, f("io.store_stalls"), 100 * f("io.store_stall_share"),
        f("io.raw_stalls"), 100 * f("io.raw_stall_share"));
    fmt::print(
        "Of the store's appends, {:.0f} rolled to a new segment: {:.1f} ms each on average, "
        "{:.1f}% of its wall time.\n",
        f("io.store_rolls"), f("io.store_roll_mean_ms"), 100 * f("io.store_roll_share"));
  }
  for (const auto& [key, when] :
       {std::pair{"fsync_idle", "before every other part (idle disk)"},
        std::pair{"fsync_after_io", "right after the bandwidth rounds"}}) {
    const std::string k = key;
    if (!r.has(k + ".p50_us")) continue;
    fmt::print(
        "\nRaw fdatasync after a 4 KiB append, {} probes {}: p50 {:.0f} us, p99 {:.0f} us, "
        "max {:.0f} us.\n",
        kFsyncProbes, when, f(k + ".p50_us"), f(k + ".p99_us"), f(k + ".max_us"));
  }
  if (r.has("reopen.open_ms")) {
    fmt::print("\n### 4. Reopen after SIGKILL\n\n| | |\n|---|---|\n");
    fmt::print(
        "| filled | {:.0f} MiB in {:.1f} s, {:.0f} segment files, tail segment {:.1f} MiB |\n",
        f("reopen.bytes_at_kill") / kMiB, f("reopen.fill_seconds"), f("reopen.segment_files"),
        f("reopen.tail_segment_bytes") / kMiB);
    fmt::print(
        "| page cache dropped | {:.0f} files, {:.0f} ms (not timed in open); {:.1f} MiB still "
        "resident (mincore) |\n",
        f("reopen.evicted_files"), f("reopen.evict_ms"), f("reopen.resident_after_evict") / kMiB);
    fmt::print("| Store::open (cold) | {:.1f} ms |\n", f("reopen.open_ms"));
    fmt::print("| Store::close | {:.1f} ms |\n", f("reopen.close_ms"));
    fmt::print("| Store::open again (warm, clean) | {:.1f} ms |\n", f("reopen.warm_open_ms"));
    fmt::print(
        "| RecoveryReport | {:.0f} segments, {:.0f} truncated bytes, {:.0f} corrupt records, "
        "{:.0f} removed files |\n",
        f("reopen.recovered_segments"), f("reopen.truncated_bytes"), f("reopen.corrupt_records"),
        f("reopen.removed_files"));
    fmt::print("| recovered | {:.0f} samples readable, {:.0f} MiB |\n",
               f("reopen.readable_samples"), f("reopen.store_bytes") / kMiB);
    for (const auto& [k, v] : r.notes) {
      if (k.starts_with("reopen.message")) fmt::print("| recovery message | {} |\n", v);
    }
  }
  for (const std::string& e : r.errors) fmt::print("\n**Error:** {}\n", e);
}

// ---- Main -----------------------------------------------------------------------------------

struct Args {
  std::string parent;  // the fresh work directory is made in here
  double seconds = 10;
  bool quick = false;
  std::string json;
  std::string only;   // run one part: "fsync", "w1", "io" or "reopen" (for profiling)
  std::string child;  // "w1" or "fill": this process is a child of the benchmark
  std::string dir;    // the child's directory
};

void usage() {
  std::fprintf(
      stderr,
      "usage: store_e2e [--seconds S] [--quick] [--dir PARENT] [--json FILE]\n"
      "  --seconds S   length of the W1 run (default 10); part 2 runs about as long\n"
      "  --quick       smoke run: 2 s, 100 MiB reopen fill\n"
      "  --dir PARENT  make the fresh work directory in PARENT (default $TMPDIR or /tmp);\n"
      "                it is removed at the end\n"
      "  --json FILE   also write the figures as JSON\n"
      "  --only PART   run one part: fsync, w1, io or reopen (for profiling)\n");
}

std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  bool seconds_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--quick") {
      a.quick = true;
    } else if (arg == "--seconds" && (v = value())) {
      a.seconds = std::atof(v);
      seconds_set = true;
    } else if (arg == "--dir" && (v = value())) {
      a.parent = v;
      a.dir = v;
    } else if (arg == "--json" && (v = value())) {
      a.json = v;
    } else if (arg == "--only" && (v = value())) {
      a.only = v;
    } else if (arg == "--child" && (v = value())) {
      a.child = v;
    } else {
      return std::nullopt;
    }
  }
  if (a.quick && !seconds_set) a.seconds = 2;
  if (a.seconds <= 0) return std::nullopt;
  if (!a.only.empty() && a.only != "fsync" && a.only != "w1" && a.only != "io" &&
      a.only != "reopen") {
    return std::nullopt;
  }
  return a;
}

int run_child(const Args& a) {
  const Status st = a.child == "w1"     ? run_w1_child(a.dir, a.seconds)
                    : a.child == "fill" ? run_fill_child(a.dir)
                                        : invalid_argument("unknown child " + a.child);
  if (!st.ok()) {
    std::fprintf(stderr, "store_e2e child %s: %s\n", a.child.c_str(), st.to_string().c_str());
    return 1;
  }
  return 0;
}

int run(const Args& a) {
  std::string parent = a.parent;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string templ = join_path(parent, "sluice-store-e2e-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    std::fprintf(stderr, "store_e2e: cannot make a directory in %s: %s\n", parent.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const std::string work = templ;
  const uint64_t fill = a.quick ? kQuickFillBytes : kFillBytes;

  Report r;
  utsname un{};
  uname(&un);
  r.note("date", utc_now());
  r.note("cpu", cpu_model());
  r.note("nproc", std::to_string(std::thread::hardware_concurrency()));
  r.note("kernel", fmt::format("{} {}", un.sysname, un.release));
  r.note("filesystem", filesystem_of(work));
  r.note("dir", work);
  r.note("mode", a.quick ? "quick" : "full");
  const std::string load_before = load_average();
  r.note("load_before", load_before);

  auto wanted = [&a](const char* part) { return a.only.empty() || a.only == part; };
  auto attempt = [&r](const char* part, const Status& st) {
    if (!st.ok()) {
      r.errors.push_back(fmt::format("{}: {}", part, st.to_string()));
      std::fprintf(stderr, "%s: %s\n", part, st.to_string().c_str());
    }
  };
  if (wanted("fsync")) attempt("raw fsync latency (idle)", part_fsync(work, "fsync_idle", r));
  if (wanted("w1")) attempt("part 1 (W1 append)", part_w1(work, a.seconds, r));
  if (wanted("io")) {
    attempt("part 2 (I/O path)", part_io(work, a.seconds, a.quick ? kQuickIoRounds : kIoRounds, r));
  }
  if (wanted("fsync")) {
    attempt("raw fsync latency (after I/O)", part_fsync(work, "fsync_after_io", r));
  }
  if (wanted("reopen")) attempt("part 4 (reopen after SIGKILL)", part_reopen(work, fill, r));
  fs::remove_all(work, ec);
  add_targets(r);
  r.note("load_after", load_average());

  std::string header = fmt::format(
      "## Store end-to-end ({})\n\n- date: {}\n- machine: {} x {}, {}\n- directory: {} ({}, "
      "removed "
      "afterwards)\n- load average (1/5/15 min) before {}, after {}\n- W1 run {:.1f} s; "
      "sync_policy interval {} ms; segments {} MiB; zstd level {}\n",
      a.quick ? "quick" : "full", utc_now(), std::thread::hardware_concurrency(), cpu_model(),
      fmt::format("{} {}", un.sysname, un.release), work, filesystem_of(parent), load_before,
      load_average(), a.seconds, kGroupCommit.count(), kSegmentBytes >> 20, kZstdLevel);
  print_markdown(r, header);
  if (!a.json.empty()) write_json(r, a.json);
  return 0;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  const auto args = sluice::bench::parse_args(argc, argv);
  if (!args) {
    sluice::bench::usage();
    return 2;
  }
  if (!args->child.empty()) return sluice::bench::run_child(*args);
  return sluice::bench::run(*args);
}
