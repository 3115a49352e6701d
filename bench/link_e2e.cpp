// Store and forward link benchmark (A → B → C over gRPC+TLS on loopback): the link's figures
// against its targets and against the transport's own ceiling, measured in one run so that they
// can be read as ratios on a shared, noisy machine (DESIGN.md, "Benchmarks: how to read the
// targets"). Three real `sluice run` processes; one markdown report on stdout (and --json FILE).
//
// Throughput (--mode throughput): A's store is filled first with N samples (--samples) by its
// simulator, with A's forward sink disabled, so that the simulator is out of the figure; then C
// (link source), B (link source + forward sink to C) and A (simulator off, forward sink to B)
// are started and the backlog is timed through B to C: samples/s = samples acknowledged by C
// (durable there: B's forward sink commits only on C's reply) per second, from the first sample
// at C to the last. Also: CPU seconds per million samples of each process (/proc/<pid>/stat),
// their peak RSS (VmHWM), C's fsync rounds (its /metrics histogram).
//
// Echo baseline, in the same run, before and after the chain: a gRPC server and client in this
// process on the same generated Link service over the same TLS (B's certificate, A's client
// certificate), Forward implemented as an echo that replies OK to each frame at once. The client
// sends the frames A's forward sink would send (A's own batches read from A's store with
// batch_samples = 20,000, which yields one store record per frame, as the sink's reads do;
// encoded with link::encode_wire_batch; cycled) with the sink's
// window (max_in_flight = 8 frames written, then their 8 replies read), for N samples and at
// least 3 s. ONE hop, transport only
// (no store read, no encoding, no append, no fsync): the link's upper bound. The ratio printed
// is link (two hops, A → B → C, all three processes sharing the cores) / echo (one hop).
//
// Drain (--mode drain): B with a backlog of M samples (--drain-samples, default 100 million),
// built by A's simulator forwarding to B while C is down; then B is restarted (so its peak RSS
// covers the drain only) and C is started; timed from C's start (and from the first sample at
// C) until C acknowledged all of it. B's RSS is sampled throughout: the forward sink must not
// read the backlog into memory.
//
// Targets are printed, never asserted. Every child dies with the bench (PR_SET_PDEATHSIG).
//
//   ninja -C build-lb link_e2e sluice && build-lb/bench/link_e2e [--samples N]
//       [--drain-samples M] [--mode throughput|drain|all] [--series S] [--json FILE]
//       [--dir PARENT] [--sluice PATH] [--keep]
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_process.h"
#include "bench_util.h"
#include "io/env.h"
#include "link/wire.h"
#include "net/tls_identity.h"
#include "sluice/link/v1/link.grpc.pb.h"
#include "store/store.h"

#ifndef SLUICE_BINARY
#define SLUICE_BINARY "sluice"
#endif

namespace sluice::bench {
namespace {

using sluice::bench::cpu_seconds_self;
using sluice::bench::load_average;
using sluice::bench::mono_ns;
using sluice::bench::utc_now;

namespace fs = std::filesystem;
namespace v1 = ::sluice::link::v1;
using std::chrono::milliseconds;
using Json = nlohmann::json;

// ---- Workload and target constants ----------------------------------------------------------

constexpr uint64_t kDefaultSamples = 20'000'000;
constexpr uint64_t kDefaultDrainSamples = 100'000'000;
constexpr uint32_t kDefaultSeries = 1'000;
constexpr double kSimulatorRate = 10'000'000;  // the simulator's maximum: it runs flat out
constexpr uint32_t kSimulatorBatch = 10'000;
constexpr uint32_t kFrameSamples = 20'000;  // the forward sink's default batch_samples
constexpr uint32_t kInFlight = 8;           // and max_in_flight
constexpr size_t kEchoPoolFrames = 100;     // distinct frames cycled by the echo client
constexpr double kEchoMinSeconds = 3;
constexpr double kTargetSamplesPerSec = 1'000'000;
constexpr milliseconds kPoll{50};
constexpr auto kPhaseTimeout = std::chrono::minutes(30);

double seconds_since(int64_t t0) { return static_cast<double>(mono_ns() - t0) / 1e9; }

// fsync rounds of one process: count, mean, and bucket bounds of the median and p99.
struct SyncFigures {
  double rounds = 0;
  double mean_us = 0;
  double p50_us = 0;  // upper bound of the bucket holding the median
  double p99_us = 0;
};

SyncFigures sync_figures(const Metrics& m) {
  SyncFigures f;
  f.rounds = metric(m, "sluice_store_sync_seconds_count");
  if (f.rounds <= 0) return f;
  f.mean_us = metric(m, "sluice_store_sync_seconds_sum") / f.rounds * 1e6;
  std::vector<std::pair<double, double>> buckets;  // (bound s, cumulative)
  const std::string prefix = "sluice_store_sync_seconds_bucket{le=\"";
  for (const auto& [key, value] : m) {
    if (!key.starts_with(prefix)) continue;
    const std::string le = key.substr(prefix.size(), key.size() - prefix.size() - 2);
    buckets.emplace_back(le == "+Inf" ? 1e9 : std::stod(le), value);
  }
  std::sort(buckets.begin(), buckets.end());
  auto quantile = [&](double q) {
    for (const auto& [bound, cumulative] : buckets) {
      if (cumulative >= q * f.rounds) return bound * 1e6;
    }
    return 0.0;
  };
  f.p50_us = quantile(0.5);
  f.p99_us = quantile(0.99);
  return f;
}

// ---- The three instances --------------------------------------------------------------------

struct Node {
  std::string name;
  std::string dir;     // its store
  std::string config;  // its config file
  std::string log;
  int link_port = 0;
  int api_port = 0;
  std::string fingerprint;
  pid_t pid = -1;
  double cpu_at_mark = 0;

  bool running() const { return pid > 0; }
};

std::string head(const Node& n) {
  return fmt::format(R"([instance]
name = "{}"
[store]
dir = "{}"
[log]
status_interval = "10s"
[api]
listen = "127.0.0.1:{}"
metrics_public = true
)",
                     n.name, n.dir, n.api_port);
}

std::string receiver_table(const Node& self, const Node& sender) {
  return fmt::format(R"(
[[sources]]
name = "link"
type = "link"
listen = "127.0.0.1:{}"
client_fingerprints = ["{}"]
)",
                     self.link_port, sender.fingerprint);
}

std::string forward_table(const Node& to, bool enabled) {
  return fmt::format(R"(
[[sinks]]
name = "to{}"
type = "forward"
enabled = {}
target = "127.0.0.1:{}"
server_ca_file = "{}/tls/cert.pem"
destination = "C"
retry_min = "100ms"
retry_max = "1s"
)",
                     to.name, enabled ? "true" : "false", to.link_port, to.dir);
}

// What A's simulator makes. Without noise its values are smooth and rounded (about 0.4 bytes
// per sample in a store); with noise they are unrounded doubles with random digits, so that
// the backlog is bulky on disk.
struct Workload {
  uint32_t series = kDefaultSeries;
  bool noise = false;
};

std::string simulator_table(bool enabled, const Workload& w) {
  return fmt::format(R"(
[[sources]]
name = "sim"
type = "simulator"
enabled = {}
rate = {:.0f}
series = {}
batch_size = {}
{})",
                     enabled ? "true" : "false", kSimulatorRate, w.series, kSimulatorBatch,
                     w.noise ? "noise = 1.0\ndecimals = -1\n" : "");
}

// The forward sink's figures in the last status line of a node's log (printed at shutdown):
// frames sent, samples sent, the last round trip.
struct SinkLine {
  double frames = 0;
  double samples = 0;
  double last_rtt_us = 0;
};

SinkLine last_sink_line(const std::string& log, const std::string& sink) {
  SinkLine s;
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find("; sink " + sink + ":") != std::string::npos) last = line;
  }
  auto field = [&](const std::string& name) {
    const size_t at = last.find(" " + name + "=");
    return at == std::string::npos ? 0.0
                                   : std::strtod(last.c_str() + at + name.size() + 2, nullptr);
  };
  s.frames = field("frames_sent");
  s.samples = field("samples_sent");
  s.last_rtt_us = field("last_round_trip_us");
  return s;
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class Cluster {
 public:
  Cluster(std::string binary, const fs::path& root) : binary_(std::move(binary)) {
    fs::create_directories(root);
    for (const char* name : {"A", "B", "C"}) {
      Node n;
      n.name = name;
      const std::string lower(1, static_cast<char>(std::tolower(name[0])));
      n.dir = (root / lower).string();
      n.config = (root / (lower + ".toml")).string();
      n.log = (root / (lower + ".log")).string();
      n.link_port = free_port();
      n.api_port = free_port();
      nodes_.push_back(std::move(n));
    }
  }
  ~Cluster() {
    for (Node& n : nodes_) stop(n);
  }

  // Each identity made now, where `sluice run` looks for it, so that configs can name
  // fingerprints. Returns an error text, or "".
  std::string make_identities() {
    for (Node& n : nodes_) {
      auto id = net::load_or_create_identity("", "", n.dir, n.name);
      if (!id.ok()) return id.status().to_string();
      auto fp = net::certificate_fingerprint(id->cert_pem);
      if (!fp.ok()) return fp.status().to_string();
      n.fingerprint = *fp;
    }
    return "";
  }

  Node& a() { return nodes_[0]; }
  Node& b() { return nodes_[1]; }
  Node& c() { return nodes_[2]; }

  // Starts the node and waits until /readyz says every enabled service runs. "" or an error.
  std::string start(Node& n) {
    n.pid = spawn_sluice(binary_, n.config, n.log);
    if (n.pid < 0) return "fork failed";
    const int64_t t0 = mono_ns();
    while (seconds_since(t0) < 30) {
      if (exited(n.pid)) {
        n.pid = -1;
        return fmt::format("{} exited at start; its log ({}):\n{}", n.name, n.log, tail(n.log));
      }
      if (http_get(n.api_port, "/readyz").first == 200) return "";
      std::this_thread::sleep_for(milliseconds(20));
    }
    return fmt::format("{} not ready after 30 s; its log ({}):\n{}", n.name, n.log, tail(n.log));
  }

  void stop(Node& n) {
    if (n.pid > 0) stop_process(n.pid);
    n.pid = -1;
  }

  static std::string tail(const std::string& path) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
  }

 private:
  std::string binary_;
  std::vector<Node> nodes_;
};

// ---- The echo baseline ----------------------------------------------------------------------

// Forward as an echo: each frame gets its OK reply at once (no decode, no store, no fsync).
class EchoService final : public v1::Link::Service {
 public:
  grpc::Status Forward(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::ForwardReply, v1::ForwardFrame>* stream) override {
    v1::ForwardFrame frame;
    v1::ForwardReply reply;
    while (stream->Read(&frame)) {
      reply.Clear();
      reply.set_tag(frame.tag());
      reply.set_code(v1::OK);
      reply.set_receiver("echo");
      if (frame.has_batch()) {
        reply.set_session(frame.batch().session());
        reply.set_durable_end(frame.batch().first_seq() + frame.batch().batch().sample_count());
      } else if (frame.has_open()) {
        reply.set_session(frame.open().session().id());
      }
      if (!stream->Write(reply)) break;
    }
    return grpc::Status::OK;
  }
};

// A's frames, as its forward sink would encode them.
struct FramePool {
  std::vector<v1::ForwardFrame> frames;
  uint64_t samples = 0;  // in the pool
  size_t frames_built = 0;
  uint64_t bytes = 0;       // serialized frames
  double read_cpu_s = 0;    // store read + decode of the pool's samples (this thread)
  double encode_cpu_s = 0;  // encode_wire_batch of them
  std::string error;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

FramePool build_pool(const std::string& store_dir, const std::string& session_id) {
  FramePool pool;
  store::StoreOptions o;
  o.dir = store_dir;
  auto s = store::Store::open(Env::posix(), o);
  if (!s.ok()) {
    pool.error = "opening A's store: " + s.status().to_string();
    return pool;
  }
  auto reader = (*s)->open_reader("sim", 0);
  if (!reader.ok()) {
    pool.error = "reading A's stream 'sim': " + reader.status().to_string();
    return pool;
  }
  store::ReadItem item;
  while (pool.frames.size() < kEchoPoolFrames) {
    const double t0 = thread_cpu_seconds();
    auto got = (*reader)->next(kFrameSamples, &item);
    const double t1 = thread_cpu_seconds();
    if (!got.ok()) {
      pool.error = got.status().to_string();
      return pool;
    }
    if (!*got) break;
    v1::ForwardFrame frame;
    v1::BatchFrame* b = frame.mutable_batch();
    b->set_session(session_id);
    b->set_first_seq(item.first_seq);
    Status st = link::encode_wire_batch(item.batch, {}, b->mutable_batch());
    const double t2 = thread_cpu_seconds();
    if (!st.ok()) {
      pool.error = st.to_string();
      return pool;
    }
    pool.read_cpu_s += t1 - t0;
    pool.encode_cpu_s += t2 - t1;
    pool.samples += item.batch.size();
    pool.bytes += frame.ByteSizeLong();
    pool.frames.push_back(std::move(frame));
  }
  pool.frames_built = pool.frames.size();
  if (pool.frames.empty()) pool.error = "A's store holds no samples";
  return pool;
}

struct EchoResult {
  uint64_t samples = 0;
  double seconds = 0;
  double cpu_s = 0;  // this process (server and client)
  double rss_mib = 0;
  std::string error;
  double rate() const { return seconds > 0 ? static_cast<double>(samples) / seconds : 0; }
};

// One hop over gRPC+TLS: B's certificate on the server, A's as the client's.
EchoResult run_echo(Cluster& cluster, FramePool& pool, uint64_t samples) {
  EchoResult r;
  auto server_id = net::load_or_create_identity("", "", cluster.b().dir, "B");
  auto client_id = net::load_or_create_identity("", "", cluster.a().dir, "A");
  if (!server_id.ok() || !client_id.ok()) {
    r.error =
        "identities: " + (server_id.ok() ? client_id.status() : server_id.status()).to_string();
    return r;
  }
  // The server as the link source builds it.
  EchoService service;
  grpc::SslServerCredentialsOptions ssl_server(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl_server.pem_key_cert_pairs.push_back({server_id->key_pem, server_id->cert_pem});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl_server), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(1 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    r.error = "the echo server did not start";
    return r;
  }
  // The channel as the forward sink builds it.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = server_id->cert_pem;
  ssl.pem_private_key = client_id->key_pem;
  ssl.pem_cert_chain = client_id->cert_pem;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 20);
  args.SetMaxSendMessageSize(static_cast<int>(link::kMaxMessageBytes));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  auto channel =
      grpc::CreateCustomChannel(fmt::format("127.0.0.1:{}", port), grpc::SslCredentials(ssl), args);
  auto stub = v1::Link::NewStub(channel);
  {
    grpc::ClientContext cc;
    auto call = stub->Forward(&cc);
    v1::ForwardFrame open;
    open.set_tag(0);
    open.mutable_open()->mutable_session()->set_id(pool.frames.front().batch().session());
    v1::ForwardReply reply;
    // Connection and handshake outside the timing: the chain's are outside its too.
    if (!call->Write(open) || !call->Read(&reply)) {
      r.error = "the echo call broke at its open: " + call->Finish().error_message();
      server->Shutdown();
      return r;
    }
    const double cpu0 = cpu_seconds_self();
    const int64_t t0 = mono_ns();
    uint64_t tag = 0, seq = 0, sent = 0;
    size_t next = 0;
    std::vector<uint64_t> tags;
    // At least the chain's samples and at least kEchoMinSeconds, so that a fast echo is timed
    // over more than a blink.
    while ((sent < samples || seconds_since(t0) < kEchoMinSeconds) && r.error.empty()) {
      tags.clear();
      for (uint32_t k = 0; k < kInFlight; ++k) {
        v1::ForwardFrame& frame = pool.frames[next++ % pool.frames.size()];
        frame.set_tag(++tag);
        frame.mutable_batch()->set_first_seq(seq);
        const uint64_t n = frame.batch().batch().sample_count();
        seq += n;
        sent += n;
        if (!call->Write(frame)) {
          r.error = "the echo call broke while sending";
          break;
        }
        tags.push_back(tag);
      }
      for (uint64_t want : tags) {
        if (!call->Read(&reply) || reply.tag() != want) {
          r.error = "the echo call broke while reading replies";
          break;
        }
      }
    }
    r.seconds = seconds_since(t0);
    r.cpu_s = cpu_seconds_self() - cpu0;
    r.samples = sent;
    call->WritesDone();
    call->Finish();
  }
  r.rss_mib = proc_status_mib(getpid(), "VmRSS");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return r;
}

// ---- Polling helpers ------------------------------------------------------------------------

struct Progress {
  bool ok = false;
  std::string error;
};

// Calls `step` every kPoll until it returns true, `timeout` passes, or a node exits.
Progress poll_until(std::vector<Node*> nodes, const std::function<bool()>& step,
                    std::chrono::seconds timeout) {
  const int64_t t0 = mono_ns();
  while (seconds_since(t0) < static_cast<double>(timeout.count())) {
    if (step()) return {true, ""};
    for (Node* n : nodes) {
      if (n->pid > 0 && exited(n->pid)) {
        n->pid = -1;
        return {false, fmt::format("{} exited; its log ({}):\n{}", n->name, n->log,
                                   Cluster::tail(n->log))};
      }
    }
    std::this_thread::sleep_for(kPoll);
  }
  return {false, fmt::format("timed out after {} s", timeout.count())};
}

// ---- Report ---------------------------------------------------------------------------------

struct ProcessFigures {
  std::string name;
  double cpu_s = 0;
  double cpu_per_million = 0;
  double hwm_mib = 0;
};

struct ThroughputResult {
  std::string error;
  uint64_t samples = 0;
  double fill_seconds = 0, fill_rate = 0;
  double seconds_from_start = 0;  // A's start to all acknowledged by C
  double seconds_steady = 0;      // first sample at C to all acknowledged
  double rate_from_start = 0, rate_steady = 0;
  std::vector<ProcessFigures> procs;
  SyncFigures sync_b, sync_c;
  double c_bytes_per_sample = 0;
  FramePool pool_info;  // frames dropped, figures kept
  SinkLine a_to_b, b_to_c;
  EchoResult echo_before, echo_after;
};

struct DrainResult {
  std::string error;
  uint64_t samples = 0;  // B's backlog to C at C's start
  double fill_seconds = 0, fill_rate = 0;
  double startup_seconds = 0;  // C's start to its first acknowledged sample
  double seconds_from_start = 0, seconds_steady = 0;
  double rate_from_start = 0, rate_steady = 0;
  double b_rss_before_mib = 0, b_rss_peak_sampled_mib = 0, b_hwm_mib = 0;
  double b_store_mib = 0;
  std::vector<ProcessFigures> procs;
  SyncFigures sync_c;
  SinkLine b_to_c;
};

// C takes B's sessions; B takes A's and forwards them to C.
void write_receiver_configs(Cluster& cluster) {
  Node& a = cluster.a();
  Node& b = cluster.b();
  Node& c = cluster.c();
  write_file(c.config, head(c) + receiver_table(c, b));
  write_file(b.config, head(b) + receiver_table(b, a) + forward_table(c, true));
}

// ---- Throughput mode ------------------------------------------------------------------------

// The session id of the echo's frames, shaped like the ones A's forward sink makes (the echo
// does not look at it).
const char* kEchoSession = "C.20260101T000000Z.A.sim";

ThroughputResult run_throughput(const std::string& binary, const fs::path& root, uint64_t samples,
                                const Workload& w) {
  ThroughputResult r;
  Cluster cluster(binary, root);
  if (std::string e = cluster.make_identities(); !e.empty()) {
    r.error = e;
    return r;
  }
  Node& a = cluster.a();
  Node& b = cluster.b();
  Node& c = cluster.c();
  write_receiver_configs(cluster);

  // 1. Fill A's store: simulator flat out, forward sink disabled (its cursor keeps the data).
  write_file(a.config, head(a) + simulator_table(true, w) + forward_table(b, false));
  fmt::print(stderr, "throughput: filling A's store with {} samples...\n", with_commas(samples));
  if (std::string e = cluster.start(a); !e.empty()) {
    r.error = e;
    return r;
  }
  const int64_t fill0 = mono_ns();
  double filled = 0;
  Progress p = poll_until(
      {&a},
      [&] {
        auto m = scrape(a.api_port);
        if (m) filled = metric(*m, "sluice_source_samples_total{source=\"sim\"}");
        return filled >= static_cast<double>(samples);
      },
      std::chrono::duration_cast<std::chrono::seconds>(kPhaseTimeout));
  r.fill_seconds = seconds_since(fill0);
  r.fill_rate = filled / r.fill_seconds;
  cluster.stop(a);
  if (!p.ok) {
    r.error = "filling A: " + p.error;
    return r;
  }

  // 2. The echo's frames: A's own batches, as its forward sink encodes them.
  FramePool pool = build_pool(a.dir, kEchoSession);
  if (!pool.error.empty()) {
    r.error = "echo frames: " + pool.error;
    return r;
  }

  // 3. Echo before the chain.
  fmt::print(stderr, "throughput: echo baseline (before)...\n");
  r.echo_before = run_echo(cluster, pool, samples);

  // 4. The chain: A forwards its backlog through B to C.
  write_file(a.config, head(a) + simulator_table(false, w) + forward_table(b, true));
  for (Node* n : {&c, &b}) {
    if (std::string e = cluster.start(*n); !e.empty()) {
      r.error = e;
      return r;
    }
  }
  fmt::print(stderr, "throughput: A → B → C...\n");
  for (Node* n : {&b, &c}) n->cpu_at_mark = proc_cpu_seconds(n->pid);
  const int64_t t_start = mono_ns();
  if (std::string e = cluster.start(a); !e.empty()) {
    r.error = e;
    return r;
  }
  // The backlog as A's forward sink sees it: what the chain must carry.
  double backlog = 0;
  if (auto m = scrape(a.api_port)) {
    backlog = metric(*m, "sluice_sink_backlog_samples{sink=\"toB\"}") +
              metric(*m, "sluice_sink_delivered_samples_total{sink=\"toB\"}");
  }
  if (backlog <= 0) backlog = filled;
  r.samples = static_cast<uint64_t>(backlog);
  int64_t t_first = 0;
  double at_c = 0;
  p = poll_until(
      {&a, &b, &c},
      [&] {
        auto m = scrape(b.api_port);
        if (!m) return false;
        at_c = metric(*m, "sluice_sink_delivered_samples_total{sink=\"toC\"}");
        if (at_c > 0 && t_first == 0) t_first = mono_ns();
        return at_c >= backlog;
      },
      std::chrono::duration_cast<std::chrono::seconds>(kPhaseTimeout));
  const int64_t t_end = mono_ns();
  if (!p.ok) {
    r.error = fmt::format("A → B → C: {} ({} of {} samples acknowledged by C)", p.error,
                          with_commas(at_c), with_commas(backlog));
    return r;
  }
  r.seconds_from_start = static_cast<double>(t_end - t_start) / 1e9;
  r.seconds_steady = static_cast<double>(t_end - t_first) / 1e9;
  r.rate_from_start = backlog / r.seconds_from_start;
  r.rate_steady = backlog / r.seconds_steady;
  for (Node* n : {&a, &b, &c}) {
    ProcessFigures f;
    f.name = n->name;
    f.cpu_s = proc_cpu_seconds(n->pid) - n->cpu_at_mark;
    f.cpu_per_million = f.cpu_s / (backlog / 1e6);
    f.hwm_mib = proc_status_mib(n->pid, "VmHWM");
    r.procs.push_back(f);
  }
  if (auto m = scrape(b.api_port)) r.sync_b = sync_figures(*m);
  if (auto m = scrape(c.api_port)) {
    r.sync_c = sync_figures(*m);
    r.c_bytes_per_sample = metric(*m, "sluice_store_bytes") / backlog;
  }
  for (Node* n : {&a, &b, &c}) cluster.stop(*n);
  r.a_to_b = last_sink_line(a.log, "toB");
  r.b_to_c = last_sink_line(b.log, "toC");

  // 5. Echo after the chain.
  fmt::print(stderr, "throughput: echo baseline (after)...\n");
  r.echo_after = run_echo(cluster, pool, samples);
  pool.frames.clear();
  r.pool_info = std::move(pool);
  return r;
}

// ---- Drain mode -----------------------------------------------------------------------------

DrainResult run_drain(const std::string& binary, const fs::path& root, uint64_t samples,
                      const Workload& w) {
  DrainResult r;
  Cluster cluster(binary, root);
  if (std::string e = cluster.make_identities(); !e.empty()) {
    r.error = e;
    return r;
  }
  Node& a = cluster.a();
  Node& b = cluster.b();
  Node& c = cluster.c();
  write_receiver_configs(cluster);
  write_file(a.config, head(a) + simulator_table(true, w) + forward_table(b, true));

  // 1. The backlog: A's simulator forwards to B while C is down (the cut).
  fmt::print(stderr, "drain: building B's backlog of {} samples (A → B, C down)...\n",
             with_commas(samples));
  for (Node* n : {&b, &a}) {
    if (std::string e = cluster.start(*n); !e.empty()) {
      r.error = e;
      return r;
    }
  }
  const int64_t fill0 = mono_ns();
  int64_t last_note = fill0;
  double at_b = 0;
  Progress p = poll_until(
      {&a, &b},
      [&] {
        auto m = scrape(b.api_port);
        if (m) at_b = metric(*m, "sluice_source_samples_total{source=\"link\"}");
        if (mono_ns() - last_note > 15'000'000'000) {
          last_note = mono_ns();
          fmt::print(stderr, "  {} samples at B after {:.0f} s\n", with_commas(at_b),
                     seconds_since(fill0));
        }
        return at_b >= static_cast<double>(samples);
      },
      std::chrono::duration_cast<std::chrono::seconds>(kPhaseTimeout));
  r.fill_seconds = seconds_since(fill0);
  r.fill_rate = at_b / r.fill_seconds;
  cluster.stop(a);
  cluster.stop(b);
  if (!p.ok) {
    r.error = "building the backlog: " + p.error;
    return r;
  }

  // 2. B restarted with its backlog, C still down: its RSS before the drain.
  if (std::string e = cluster.start(b); !e.empty()) {
    r.error = e;
    return r;
  }
  double backlog = 0;
  if (auto m = scrape(b.api_port)) {
    backlog = metric(*m, "sluice_sink_backlog_samples{sink=\"toC\"}");
    r.b_store_mib = metric(*m, "sluice_store_bytes") / (1 << 20);
  }
  r.samples = static_cast<uint64_t>(backlog);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  r.b_rss_before_mib = proc_status_mib(b.pid, "VmRSS");

  // 3. C comes back: the drain.
  fmt::print(stderr, "drain: C started; B drains {} samples...\n", with_commas(backlog));
  b.cpu_at_mark = proc_cpu_seconds(b.pid);
  const int64_t t_start = mono_ns();
  if (std::string e = cluster.start(c); !e.empty()) {
    r.error = e;
    return r;
  }
  int64_t t_first = 0;
  double at_c = 0;
  last_note = t_start;
  p = poll_until(
      {&b, &c},
      [&] {
        r.b_rss_peak_sampled_mib =
            std::max(r.b_rss_peak_sampled_mib, proc_status_mib(b.pid, "VmRSS"));
        auto m = scrape(b.api_port);
        if (!m) return false;
        at_c = metric(*m, "sluice_sink_delivered_samples_total{sink=\"toC\"}");
        if (at_c > 0 && t_first == 0) t_first = mono_ns();
        if (mono_ns() - last_note > 15'000'000'000) {
          last_note = mono_ns();
          fmt::print(stderr, "  {} samples at C after {:.0f} s\n", with_commas(at_c),
                     seconds_since(t_start));
        }
        return at_c >= backlog;
      },
      std::chrono::duration_cast<std::chrono::seconds>(kPhaseTimeout));
  const int64_t t_end = mono_ns();
  if (!p.ok) {
    r.error = fmt::format("drain: {} ({} of {} samples acknowledged by C)", p.error,
                          with_commas(at_c), with_commas(backlog));
    return r;
  }
  r.startup_seconds = static_cast<double>(t_first - t_start) / 1e9;
  r.seconds_from_start = static_cast<double>(t_end - t_start) / 1e9;
  r.seconds_steady = static_cast<double>(t_end - t_first) / 1e9;
  r.rate_from_start = backlog / r.seconds_from_start;
  r.rate_steady = backlog / r.seconds_steady;
  r.b_hwm_mib = proc_status_mib(b.pid, "VmHWM");
  for (Node* n : {&b, &c}) {
    ProcessFigures f;
    f.name = n->name;
    f.cpu_s = proc_cpu_seconds(n->pid) - n->cpu_at_mark;
    f.cpu_per_million = f.cpu_s / (backlog / 1e6);
    f.hwm_mib = proc_status_mib(n->pid, "VmHWM");
    r.procs.push_back(f);
  }
  if (auto m = scrape(c.api_port)) r.sync_c = sync_figures(*m);
  for (Node* n : {&b, &c}) cluster.stop(*n);
  r.b_to_c = last_sink_line(b.log, "toC");
  return r;
}

// ---- Printing -------------------------------------------------------------------------------

std::string rate_text(double v) { return with_commas(v) + " samples/s"; }

void print_sync(const char* who, const SyncFigures& s) {
  if (s.rounds <= 0) {
    fmt::print("| {} fsync rounds | none reported |\n", who);
    return;
  }
  fmt::print(
      "| {} fsync rounds | {} rounds, mean {:.0f} µs, median ≤ {:.0f} µs, p99 ≤ {:.0f} µs |\n", who,
      with_commas(s.rounds), s.mean_us, s.p50_us, s.p99_us);
}

void print_throughput(const ThroughputResult& r, Json* json) {
  fmt::print("\n## Throughput: A's backlog through A → B → C\n\n");
  if (!r.error.empty()) {
    fmt::print("**failed:** {}\n", r.error);
    (*json)["throughput"] = {{"error", r.error}};
    return;
  }
  const double echo_rate = (r.echo_before.rate() + r.echo_after.rate()) / 2;
  const double ratio = echo_rate > 0 ? r.rate_steady / echo_rate : 0;
  fmt::print("| Figure | Measured |\n|---|---|\n");
  fmt::print("| A's store filled by its simulator (forward sink off) | {} in {:.1f} s: {} |\n",
             with_commas(static_cast<double>(r.samples)), r.fill_seconds, rate_text(r.fill_rate));
  fmt::print("| **End to end, first sample at C to last** (target ≥ {}) | **{}** ({:.2f} s) |\n",
             with_commas(kTargetSamplesPerSec), rate_text(r.rate_steady), r.seconds_steady);
  fmt::print(
      "| End to end, from A's start (process start, TLS handshakes included) | {} ({:.2f} s) |\n",
      rate_text(r.rate_from_start), r.seconds_from_start);
  fmt::print("| Echo baseline, ONE hop, before the chain | {} ({:.2f} s{}) |\n",
             rate_text(r.echo_before.rate()), r.echo_before.seconds,
             r.echo_before.error.empty() ? "" : ", " + r.echo_before.error);
  fmt::print("| Echo baseline, ONE hop, after the chain | {} ({:.2f} s{}) |\n",
             rate_text(r.echo_after.rate()), r.echo_after.seconds,
             r.echo_after.error.empty() ? "" : ", " + r.echo_after.error);
  fmt::print("| **Ratio link (2 hops) / echo (1 hop, mean of both)** | **{:.2f}** |\n", ratio);
  fmt::print("| Echo CPU (server + client, this process) | {:.2f} s per million samples |\n",
             r.echo_before.cpu_s / (static_cast<double>(r.echo_before.samples) / 1e6));
  const double pool_m = static_cast<double>(r.pool_info.samples) / 1e6;
  fmt::print(
      "| Echo frames: A's batches read with batch_samples {} | {:.0f} samples/frame, {:.2f} "
      "bytes/sample on the wire ({} frames pooled, cycled) |\n",
      kFrameSamples, static_cast<double>(r.pool_info.samples) / r.pool_info.frames_built,
      static_cast<double>(r.pool_info.bytes) / r.pool_info.samples, r.pool_info.frames_built);
  for (const auto& [hop, line] : {std::pair{"A → B", r.a_to_b}, std::pair{"B → C", r.b_to_c}}) {
    if (line.frames <= 0) continue;
    fmt::print(
        "| Link frames {} | {} frames, {:.0f} samples/frame; last round trip (8 frames "
        "to their replies) {:.1f} ms |\n",
        hop, with_commas(line.frames), line.samples / line.frames, line.last_rtt_us / 1e3);
  }
  fmt::print("| Sender's work outside the echo: store read + decode | {:.3f} CPU s per million |\n",
             r.pool_info.read_cpu_s / pool_m);
  fmt::print(
      "| Sender's work outside the echo: encode_wire_batch (zstd 1) | {:.3f} CPU s per "
      "million |\n",
      r.pool_info.encode_cpu_s / pool_m);
  for (const ProcessFigures& f : r.procs) {
    fmt::print(
        "| {} CPU during the chain | {:.1f} s: {:.2f} s per million samples; peak RSS "
        "{:.0f} MiB |\n",
        f.name, f.cpu_s, f.cpu_per_million, f.hwm_mib);
  }
  print_sync("B", r.sync_b);
  print_sync("C", r.sync_c);
  fmt::print("| C's store | {:.2f} bytes/sample |\n", r.c_bytes_per_sample);
  Json procs = Json::array();
  for (const ProcessFigures& f : r.procs) {
    procs.push_back({{"name", f.name},
                     {"cpu_s", f.cpu_s},
                     {"cpu_s_per_million", f.cpu_per_million},
                     {"peak_rss_mib", f.hwm_mib}});
  }
  (*json)["throughput"] = {
      {"samples", r.samples},
      {"fill_samples_per_s", r.fill_rate},
      {"link_samples_per_s_steady", r.rate_steady},
      {"link_samples_per_s_from_start", r.rate_from_start},
      {"link_seconds_steady", r.seconds_steady},
      {"echo_one_hop_samples_per_s_before", r.echo_before.rate()},
      {"echo_one_hop_samples_per_s_after", r.echo_after.rate()},
      {"ratio_link_to_echo", ratio},
      {"echo_cpu_s_per_million",
       r.echo_before.cpu_s / (static_cast<double>(r.echo_before.samples) / 1e6)},
      {"wire_bytes_per_sample", static_cast<double>(r.pool_info.bytes) / r.pool_info.samples},
      {"echo_samples_per_frame",
       static_cast<double>(r.pool_info.samples) / r.pool_info.frames_built},
      {"link_samples_per_frame_a_to_b",
       r.a_to_b.frames > 0 ? r.a_to_b.samples / r.a_to_b.frames : 0},
      {"link_samples_per_frame_b_to_c",
       r.b_to_c.frames > 0 ? r.b_to_c.samples / r.b_to_c.frames : 0},
      {"read_decode_cpu_s_per_million", r.pool_info.read_cpu_s / pool_m},
      {"encode_cpu_s_per_million", r.pool_info.encode_cpu_s / pool_m},
      {"processes", procs},
      {"fsync_c_mean_us", r.sync_c.mean_us},
      {"fsync_c_p99_le_us", r.sync_c.p99_us},
      {"fsync_b_mean_us", r.sync_b.mean_us},
      {"c_store_bytes_per_sample", r.c_bytes_per_sample},
      {"target_samples_per_s", kTargetSamplesPerSec}};
}

void print_drain(const DrainResult& r, Json* json) {
  fmt::print("\n## Drain: B's backlog to C after a cut\n\n");
  if (!r.error.empty()) {
    fmt::print("**failed:** {}\n", r.error);
    (*json)["drain"] = {{"error", r.error}};
    return;
  }
  fmt::print("| Figure | Measured |\n|---|---|\n");
  fmt::print(
      "| Backlog built (A's simulator → B, C down) | {} samples at B in {:.0f} s: {}; "
      "B's store {:.0f} MiB |\n",
      with_commas(static_cast<double>(r.samples)), r.fill_seconds, rate_text(r.fill_rate),
      r.b_store_mib);
  fmt::print("| **Drain time, C's start to all acknowledged by C** | **{:.1f} s** ({}) |\n",
             r.seconds_from_start, rate_text(r.rate_from_start));
  fmt::print(
      "| Of which C's start (process, TLS, B's reconnect back-off ≤ 1 s) to the first "
      "sample | {:.2f} s |\n",
      r.startup_seconds);
  fmt::print("| Drain rate, first sample at C to last | {} ({:.1f} s) |\n",
             rate_text(r.rate_steady), r.seconds_steady);
  if (r.b_to_c.frames > 0) {
    fmt::print(
        "| Link frames B → C | {} frames, {:.0f} samples/frame; last round trip {:.1f} ms |\n",
        with_commas(r.b_to_c.frames), r.b_to_c.samples / r.b_to_c.frames,
        r.b_to_c.last_rtt_us / 1e3);
  }
  fmt::print("| B's RSS before the drain (backlog on disk, C down) | {:.0f} MiB |\n",
             r.b_rss_before_mib);
  fmt::print(
      "| **B's peak RSS during the drain** (VmHWM since its restart; sampled max) | "
      "**{:.0f} MiB** ({:.0f} MiB) |\n",
      r.b_hwm_mib, r.b_rss_peak_sampled_mib);
  for (const ProcessFigures& f : r.procs) {
    fmt::print(
        "| {} CPU during the drain | {:.1f} s: {:.2f} s per million samples; peak RSS "
        "{:.0f} MiB |\n",
        f.name, f.cpu_s, f.cpu_per_million, f.hwm_mib);
  }
  print_sync("C", r.sync_c);
  Json procs = Json::array();
  for (const ProcessFigures& f : r.procs) {
    procs.push_back({{"name", f.name},
                     {"cpu_s", f.cpu_s},
                     {"cpu_s_per_million", f.cpu_per_million},
                     {"peak_rss_mib", f.hwm_mib}});
  }
  (*json)["drain"] = {{"samples", r.samples},
                      {"fill_seconds", r.fill_seconds},
                      {"fill_samples_per_s", r.fill_rate},
                      {"b_store_mib", r.b_store_mib},
                      {"drain_seconds_from_c_start", r.seconds_from_start},
                      {"drain_seconds_steady", r.seconds_steady},
                      {"startup_seconds", r.startup_seconds},
                      {"drain_samples_per_s_from_c_start", r.rate_from_start},
                      {"drain_samples_per_s_steady", r.rate_steady},
                      {"b_rss_before_mib", r.b_rss_before_mib},
                      {"b_peak_rss_mib", r.b_hwm_mib},
                      {"b_rss_sampled_max_mib", r.b_rss_peak_sampled_mib},
                      {"processes", procs},
                      {"fsync_c_mean_us", r.sync_c.mean_us},
                      {"fsync_c_p99_le_us", r.sync_c.p99_us}};
}

// ---- main -----------------------------------------------------------------------------------

struct Args {
  uint64_t samples = kDefaultSamples;
  uint64_t drain_samples = kDefaultDrainSamples;
  Workload workload;
  std::string mode = "all";
  std::string json;
  std::string dir = "/tmp";
  std::string binary = SLUICE_BINARY;
  bool keep = false;
};

int usage(const char* error) {
  if (error != nullptr) fmt::print(stderr, "link_e2e: {}\n", error);
  fmt::print(stderr,
             "usage: link_e2e [--samples N] [--drain-samples M] [--mode throughput|drain|all]\n"
             "                [--series S] [--noise] [--json FILE] [--dir PARENT] [--sluice PATH]\n"
             "                [--keep]\n"
             "  --samples N        throughput: A's backlog carried through B to C (default {})\n"
             "  --drain-samples M  drain: B's backlog drained to C (default {})\n"
             "  --series S         simulator series (default {})\n"
             "  --noise            unrounded values with random noise (a bulkier backlog)\n"
             "  --json FILE        also write the figures as JSON\n"
             "  --dir PARENT       where the stores go (default /tmp)\n"
             "  --sluice PATH      the sluice binary (default: this build's)\n"
             "  --keep             keep the stores and logs\n",
             kDefaultSamples, kDefaultDrainSamples, kDefaultSeries);
  return 2;
}

int run(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--samples" && (v = value())) {
      a.samples = std::strtoull(v, nullptr, 10);
    } else if (arg == "--drain-samples" && (v = value())) {
      a.drain_samples = std::strtoull(v, nullptr, 10);
    } else if (arg == "--series" && (v = value())) {
      a.workload.series = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (arg == "--noise") {
      a.workload.noise = true;
    } else if (arg.starts_with("--mode=")) {
      a.mode = arg.substr(7);
    } else if (arg == "--mode" && (v = value())) {
      a.mode = v;
    } else if (arg == "--json" && (v = value())) {
      a.json = v;
    } else if (arg == "--dir" && (v = value())) {
      a.dir = v;
    } else if (arg == "--sluice" && (v = value())) {
      a.binary = v;
    } else if (arg == "--keep") {
      a.keep = true;
    } else {
      return usage(("unknown or incomplete argument: " + arg).c_str());
    }
  }
  if (a.mode != "throughput" && a.mode != "drain" && a.mode != "all") {
    return usage("--mode is throughput, drain or all");
  }
  if (a.samples == 0 || a.drain_samples == 0 || a.workload.series == 0) {
    return usage("--samples, --drain-samples and --series are positive numbers");
  }
  if (access(a.binary.c_str(), X_OK) != 0) {
    return usage(("no sluice binary at " + a.binary + "; build it or pass --sluice").c_str());
  }
  std::string tmpl = (fs::path(a.dir) / "sluice-link-e2e-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr)
    return usage(("cannot create a directory in " + a.dir).c_str());
  const fs::path root = tmpl;

  fmt::print("# Store and forward link benchmark (A → B → C, gRPC+TLS, loopback)\n\n");
  fmt::print("- {} · {} · {} cores · load average at start {}\n", utc_now(),
             first_line_with("/proc/cpuinfo", "model name"), std::thread::hardware_concurrency(),
             load_average());
  fmt::print("- sluice: {}; stores under {}; default store settings (sync interval 10 ms, zstd)\n",
             a.binary, root.string());
  fmt::print(
      "- simulator: rate {:.0f} (flat out), {} series, batch_size {}, shape mixed{}; forward "
      "sink defaults: batch_samples {}, max_in_flight {}\n",
      kSimulatorRate, a.workload.series, kSimulatorBatch,
      a.workload.noise ? ", noise 1.0, unrounded" : "", kFrameSamples, kInFlight);
  fmt::print(
      "- the three instances (and the echo's server and client) share the machine's "
      "cores: their CPU per million samples is the figure that scales\n");
  std::fflush(stdout);

  Json json;
  json["machine"] = {{"cpu", first_line_with("/proc/cpuinfo", "model name")},
                     {"cores", std::thread::hardware_concurrency()},
                     {"load_average_at_start", load_average()},
                     {"utc", utc_now()}};
  json["series"] = a.workload.series;
  json["noise"] = a.workload.noise;
  if (a.mode == "throughput" || a.mode == "all") {
    ThroughputResult t = run_throughput(a.binary, root / "throughput", a.samples, a.workload);
    kill_children();
    print_throughput(t, &json);
    std::fflush(stdout);
    if (!a.keep) fs::remove_all(root / "throughput");
  }
  if (a.mode == "drain" || a.mode == "all") {
    DrainResult d = run_drain(a.binary, root / "drain", a.drain_samples, a.workload);
    kill_children();
    print_drain(d, &json);
    if (!a.keep) fs::remove_all(root / "drain");
  }
  fmt::print("\n- load average at the end {}\n", load_average());
  json["load_average_at_end"] = load_average();
  if (!a.json.empty()) std::ofstream(a.json) << json.dump(2) << "\n";
  if (!a.keep) fs::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  try {
    return sluice::bench::run(argc, argv);
  } catch (const std::exception& e) {
    sluice::bench::kill_children();
    std::fprintf(stderr, "link_e2e: %s\n", e.what());
    return 0;  // a report, never a failure
  }
}
