// End-to-end MQTT ingest benchmark (issue 3): Sluice against the broker's own ceiling, measured
// in one run on loopback so that the figures can be read as a ratio on a shared, noisy machine
// (DESIGN.md, "Benchmarks: how to read the targets"). One markdown report on stdout.
//
//  - A private mosquitto is started on a free 127.0.0.1 port and killed at the end.
//  - The load: N messages (--messages, default 20,000; --quick 2,000) of Kepware IoT Gateway
//    JSON with 100 values each, published at QoS 1 as fast as the broker takes them, with at
//    most kWindow messages in flight. The publisher runs in a forked child process, so its CPU
//    time is not counted against the consumer.
//
// Two modes, both by default (--mode live|drain|both):
//
// Live: each consumer is started and subscribed first, then the publisher runs; timed from the
// first publish to the last message (b, c) or durable sample (a). The figure is capped by what
// one publisher gets through the broker.
//  (b) The broker's ceiling: `mosquitto_sub -q 1 -t 'bench/#' > file`, lines counted until every
//      message arrived.
//  (a) Sluice: runtime::Runtime in a forked child (an `mqtt` source, format kepware, qos 1,
//      clean session, store sync "interval" 10 ms), timed until every sample is durable (the
//      store's readable end of the source's stream). CPU (getrusage of that child during the
//      run) and peak RSS (ru_maxrss via wait4) cover Sluice only.
//  (c) Node-RED, the flow many plants run today (`mqtt in` qos 1 -> `file`), driven by
//      bench/node_red.cpp, lines counted like (b).
//
// Backlog drain: the publisher is out of the figure. For each consumer, on a topic of its own
// (drain/<consumer>/line1): its persistent session is created first (`mosquitto_sub -c -i ID
// -q 1 -t drain/<consumer>/# -E`: connect with clean session 0, subscribe, disconnect), the N
// messages are then published while the consumer is down (mosquitto queues QoS 1 messages for
// an offline persistent client, up to max_queued_messages), and the consumer is started with
// that client id and clean session 0. Timed from the consumer's first message (line in the
// file, or first durable sample) to its last; the time from its start (fork) to the first
// message is reported apart. Consumers: (b) mosquitto_sub -c -i ID -q 1, (a) Sluice over MQTT
// 3.1.1 (the broker's max_inflight_messages, 100, is the window) and over MQTT 5 (the window
// is Sluice's receive_maximum, default 1000), (c) Node-RED (mqtt-broker node with that
// clientid and cleansession false). The session is removed afterwards (a clean connect).
//
// Targets are printed, never asserted: a missed target is a figure, not a failure. Every child
// process dies with the bench (PR_SET_PDEATHSIG) and is stopped on every return path.
//
//   ninja -C build mqtt_e2e && build/bench/mqtt_e2e [--messages N] [--quick]
//       [--mode live|drain|both] [--node-red-json]
// (--node-red-json: Node-RED's `mqtt in` parses each payload as JSON, as a flow that uses the
// values would; the file node then writes it back as JSON.)
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <mqtt/async_client.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "cli/builtin_sources.h"
#include "node_red.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice::bench {
namespace {

using sluice::bench::cpu_seconds_self;
using sluice::bench::load_average;
using sluice::bench::mono_ns;
using sluice::bench::utc_now;

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kValuesPerMessage = 100;
constexpr int kDefaultMessages = 20'000;
constexpr int kQuickMessages = 2'000;
constexpr size_t kWindow = 100;  // publisher's bound on messages in flight
constexpr double kTargetRatio = 0.8;
constexpr double kTargetNodeRedRatio = 10.0;  // Sluice / Node-RED samples/s
constexpr double kTargetRssMiB = 64.0;
constexpr auto kTimeout = std::chrono::seconds(300);
constexpr const char* kMosquitto = "/usr/sbin/mosquitto";
constexpr const char* kSourceName = "kepware";

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

std::string command_output(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool port_accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// Children not yet reaped. Whatever is left when run() returns (or throws) is killed by
// kill_children(); should the bench itself die, the kernel kills them (PR_SET_PDEATHSIG).
std::set<pid_t>& children() {
  static std::set<pid_t> pids;
  return pids;
}

// fork(); the child dies with the bench.
pid_t fork_child() {
  const pid_t parent = getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    return 0;
  }
  if (pid > 0) children().insert(pid);
  return pid;
}

pid_t wait_child(pid_t pid, int* status = nullptr, rusage* ru = nullptr, int flags = 0) {
  const pid_t r = wait4(pid, status, flags, ru);
  if (r == pid || (r < 0 && errno == ECHILD)) children().erase(pid);
  return r;
}

void kill_children() {
  for (const pid_t pid : children()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  children().clear();
}

// fork + exec; stdout to `out_path` if given, stderr to /dev/null. Returns the pid or -1.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path = "") {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork_child();
  if (pid != 0) return pid;
  const int devnull = open("/dev/null", O_WRONLY);
  dup2(devnull, STDERR_FILENO);
  if (!out_path.empty()) {
    const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
  } else {
    dup2(devnull, STDOUT_FILENO);
  }
  execv(args[0], args.data());
  _exit(127);
}

// For a program that changes its user, which clears PR_SET_PDEATHSIG (mosquitto started as root
// switches to the "mosquitto" or "nobody" user): a guardian process between the bench and the
// program. The guardian gets SIGTERM when the bench dies, or from stop_process(), and then
// stops the program (SIGTERM, SIGKILL after 2 s).
pid_t spawn_guarded(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t guardian = fork();
  if (guardian != 0) {
    if (guardian > 0) children().insert(guardian);
    return guardian;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);
  const pid_t pid = fork();
  if (pid == 0) {
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) _exit(127);
  int sig = 0;
  sigwait(&set, &sig);
  if (sig == SIGTERM) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 200 && waitpid(pid, nullptr, WNOHANG) != pid; ++i) usleep(10'000);
    kill(pid, SIGKILL);
  }
  waitpid(pid, nullptr, 0);
  _exit(0);
}

// Runs argv to its end (stdout and stderr to /dev/null); its exit status, or -1.
int run_to_end(const std::vector<std::string>& argv) {
  const pid_t pid = spawn(argv);
  if (pid < 0) return -1;
  int status = 0;
  wait_child(pid, &status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// SIGTERM, then SIGKILL after 2 s; `ru` (if given) gets the process's resource usage.
void stop_process(pid_t pid, rusage* ru = nullptr) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (wait_child(pid, nullptr, ru, WNOHANG) == pid) return;
    std::this_thread::sleep_for(milliseconds(10));
  }
  kill(pid, SIGKILL);
  wait_child(pid, nullptr, ru);
}

// Message m: 100 tags of Channel1.Device1, number values, one timestamp per message (ms).
void kepware_message(int m, std::string* out) {
  out->clear();
  const int64_t t = 1'700'000'000'000 + m;
  auto it = std::back_inserter(*out);
  fmt::format_to(it, R"({{"timestamp":{},"values":[)", t);
  for (int i = 0; i < kValuesPerMessage; ++i) {
    fmt::format_to(it, R"({}{{"id":"Channel1.Device1.Tag{}","v":{},"q":true,"t":{}}})",
                   i ? "," : "", i, m * 0.25 + i, t);
  }
  out->append("]}");
}

// Shared between the parent and its forked children (an anonymous MAP_SHARED page).
struct Shared {
  std::atomic<int64_t> first_publish_ns{0};
  std::atomic<int64_t> last_publish_ns{0};  // the last message acknowledged by the broker
  std::atomic<int> publisher_error{0};
  // Sluice child
  std::atomic<int> sluice_ready{0};         // 1: connected and subscribed; -1: failed
  std::atomic<int64_t> sluice_first_ns{0};  // drain: the first sample durable
  std::atomic<int64_t> sluice_done_ns{0};
  std::atomic<uint64_t> sluice_samples{0};
  std::atomic<uint64_t> sluice_durable{0};
  double sluice_cpu_s = 0;
  double sluice_cpu_first_s = 0;  // drain: the child's CPU when its first sample was durable
  double sluice_cpu_total_s = 0;
  char sluice_error[512] = {};
};

// The publisher (a child process): N messages at QoS 1, at most kWindow in flight.
int run_publisher(int port, const std::string& topic, int messages, Shared* sh) {
  try {
    mqtt::async_client client(fmt::format("tcp://127.0.0.1:{}", port),
                              fmt::format("sluice-bench-pub-{}", getpid()), mqtt::create_options{});
    auto opts = mqtt::connect_options_builder().clean_session(true).finalize();
    client.connect(opts)->wait();
    std::deque<mqtt::delivery_token_ptr> inflight;
    std::string payload;
    for (int m = 0; m < messages; ++m) {
      kepware_message(m, &payload);
      if (m == 0) sh->first_publish_ns.store(mono_ns());
      inflight.push_back(client.publish(topic, payload.data(), payload.size(), 1, false));
      while (inflight.size() >= kWindow) {
        inflight.front()->wait();
        inflight.pop_front();
      }
    }
    while (!inflight.empty()) {
      inflight.front()->wait();
      inflight.pop_front();
    }
    sh->last_publish_ns.store(mono_ns());
    client.disconnect()->wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "publisher: %s\n", e.what());
    sh->publisher_error.store(1);
    return 1;
  }
  return 0;
}

constexpr const char* kLiveTopic = "bench/line1";

pid_t fork_publisher(int port, int messages, Shared* sh, const std::string& topic = kLiveTopic) {
  sh->first_publish_ns = 0;
  sh->last_publish_ns = 0;
  sh->publisher_error = 0;
  const pid_t pid = fork_child();
  if (pid == 0) _exit(run_publisher(port, topic, messages, sh));
  return pid;
}

// ---- (b) mosquitto_sub ----------------------------------------------------------------------

struct SubResult {
  bool ok = false;
  std::string error;
  double seconds = 0;
  double publish_seconds = 0;
  uint64_t lines = 0;
};

uint64_t count_lines(const std::string& path, uint64_t* offset, uint64_t lines) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return lines;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof buf, static_cast<off_t>(*offset));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
    *offset += static_cast<uint64_t>(n);
  }
  close(fd);
  return lines;
}

SubResult run_mosquitto_sub(const std::string& work, int port, int messages, Shared* sh) {
  SubResult r;
  const std::string out = work + "/sub.txt";
  const std::string sub_bin = "/usr/bin/mosquitto_sub";
  const std::string pub_bin = "/usr/bin/mosquitto_pub";
  const pid_t sub = spawn(
      {sub_bin, "-h", "127.0.0.1", "-p", std::to_string(port), "-q", "1", "-t", "bench/#"}, out);
  // Subscribed once a probe arrives: probe every 100 ms until one does.
  uint64_t offset = 0;
  uint64_t lines = 0;
  const int64_t probe_deadline = mono_ns() + 10'000'000'000;
  while (lines == 0 && mono_ns() < probe_deadline) {
    const pid_t p = spawn({pub_bin, "-h", "127.0.0.1", "-p", std::to_string(port), "-q", "1", "-t",
                           "bench/probe", "-m", "probe"});
    wait_child(p);
    std::this_thread::sleep_for(milliseconds(100));
    lines = count_lines(out, &offset, lines);
  }
  if (lines == 0) {
    stop_process(sub);
    r.error = "mosquitto_sub did not receive a probe within 10 s";
    return r;
  }
  std::this_thread::sleep_for(milliseconds(200));
  const uint64_t probes = lines = count_lines(out, &offset, lines);
  const uint64_t expected = probes + static_cast<uint64_t>(messages);

  sh->first_publish_ns = 0;
  sh->last_publish_ns = 0;
  const pid_t pub = fork_publisher(port, messages, sh);
  const int64_t deadline = mono_ns() + std::chrono::nanoseconds(kTimeout).count();
  int64_t done_ns = 0;
  while (mono_ns() < deadline) {
    lines = count_lines(out, &offset, lines);
    if (lines >= expected) {
      done_ns = mono_ns();
      break;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  wait_child(pub);
  stop_process(sub);
  r.lines = lines - probes;
  if (done_ns == 0) {
    r.error = fmt::format("only {} of {} messages arrived at mosquitto_sub", r.lines, messages);
    return r;
  }
  if (sh->publisher_error) {
    r.error = "the publisher failed";
    return r;
  }
  r.ok = true;
  r.seconds = static_cast<double>(done_ns - sh->first_publish_ns) / 1e9;
  r.publish_seconds = static_cast<double>(sh->last_publish_ns - sh->first_publish_ns) / 1e9;
  return r;
}

// ---- (a) Sluice -----------------------------------------------------------------------------

void child_error(Shared* sh, const std::string& msg) {
  std::snprintf(sh->sluice_error, sizeof sh->sluice_error, "%s", msg.c_str());
}

// How the Sluice child connects: live (clean session, topic bench/line1) or backlog drain
// (persistent session of `client_id` on a topic of its own, over MQTT 3.1.1 or 5).
struct SluiceMode {
  bool drain = false;
  std::string topic = kLiveTopic;
  std::string client_id = "sluice-bench";
  int protocol = 4;  // 4 = MQTT 3.1.1, 5 = MQTT 5 (receive_maximum: the source's default)
};

// The Sluice child: open and start the runtime; live: report ready and wait for every sample
// durable; drain: note the first durable sample, then wait for every sample durable.
int run_sluice_child(const std::string& work, int port, int messages, const SluiceMode& mode,
                     Shared* sh) {
  dup2(STDERR_FILENO, STDOUT_FILENO);  // Sluice's log goes to stderr, the report stays clean
  const std::string text =
      fmt::format(R"(
[store]
dir = "{0}/data"
sync = "interval"
sync_interval = "10ms"
[log]
status_interval = 0
[[sources]]
name = "{2}"
type = "mqtt"
host = "127.0.0.1"
port = {1}
topic = "{3}"
qos = 1
format = "kepware"
clean_session = {4}
client_id = "{5}"
protocol = "{6}"
)",
                  work, port, kSourceName, mode.topic, mode.drain ? "false" : "true",
                  mode.client_id, mode.protocol == 5 ? "5" : "3.1.1");
  auto config = runtime::parse_config(text, work + "/sluice.toml", cli::builtin_source_types());
  if (!config.ok()) {
    child_error(sh, "config: " + config.status().message());
    sh->sluice_ready = -1;
    return 1;
  }
  auto rt = runtime::Runtime::open(*config);
  if (!rt.ok()) {
    child_error(sh, "open: " + rt.status().to_string());
    sh->sluice_ready = -1;
    return 1;
  }
  if (Status s = (*rt)->start(); !s.ok()) {
    child_error(sh, "start: " + s.to_string());
    sh->sluice_ready = -1;
    return 1;
  }
  double cpu0 = 0;  // drain: CPU is counted from the first durable sample
  if (mode.drain) {
    // The broker sends the queued messages as soon as the session is resumed.
    const int64_t first_deadline = mono_ns() + 20'000'000'000;
    while (sh->sluice_first_ns == 0) {
      if ((*rt)->store().wait_readable(kSourceName, 0, milliseconds(1)) > 0) {
        sh->sluice_first_ns = mono_ns();
        cpu0 = sh->sluice_cpu_first_s = cpu_seconds_self();
        break;
      }
      if (mono_ns() > first_deadline) {
        auto src = (*rt)->sources();
        child_error(sh, fmt::format("no sample durable within 20 s of the start (source: {})",
                                    src.empty() ? "none" : src[0].health.reason));
        (void)(*rt)->stop();
        return 1;
      }
    }
  } else {
    const int64_t ready_deadline = mono_ns() + 10'000'000'000;
    for (;;) {
      auto s = (*rt)->sources();
      if (!s.empty() && s[0].health.state == runtime::HealthState::kHealthy) break;
      if (mono_ns() > ready_deadline) {
        child_error(sh, "the mqtt source did not become healthy within 10 s");
        sh->sluice_ready = -1;
        return 1;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    // Healthy means connected and subscribed; a short grace for the SUBACK to be processed.
    std::this_thread::sleep_for(milliseconds(200));
    cpu0 = cpu_seconds_self();
    sh->sluice_ready = 1;
  }

  const uint64_t expected = static_cast<uint64_t>(messages) * kValuesPerMessage;
  store::Store& st = (*rt)->store();
  const int64_t deadline = mono_ns() + std::chrono::nanoseconds(kTimeout).count();
  uint64_t durable = 0;
  while (mono_ns() < deadline) {
    durable = st.wait_readable(kSourceName, expected - 1, milliseconds(100));
    if (durable >= expected) {
      sh->sluice_done_ns = mono_ns();
      break;
    }
  }
  sh->sluice_cpu_s = cpu_seconds_self() - cpu0;
  sh->sluice_samples = (*rt)->sources()[0].samples;
  sh->sluice_durable = durable;
  (void)(*rt)->stop();
  sh->sluice_cpu_total_s = cpu_seconds_self();
  if (sh->sluice_done_ns == 0) {
    child_error(sh, fmt::format("only {} of {} samples durable ({} ingested)", durable, expected,
                                sh->sluice_samples.load()));
    return 1;
  }
  return 0;
}

struct SluiceResult {
  bool ok = false;
  std::string error;
  double seconds = 0;
  double publish_seconds = 0;
  double cpu_s = 0;
  double cpu_total_s = 0;
  double rss_mib = 0;
  uint64_t samples = 0;
  // Drain only: the child's start (fork) to its first durable sample, and that to the last.
  double startup_seconds = 0;
  double drain_seconds = 0;
};

SluiceResult run_sluice(const std::string& work, int port, int messages, Shared* sh,
                        const SluiceMode& mode = {}) {
  SluiceResult r;
  sh->first_publish_ns = 0;
  sh->last_publish_ns = 0;
  sh->publisher_error = 0;
  sh->sluice_ready = 0;
  sh->sluice_first_ns = 0;
  sh->sluice_done_ns = 0;
  sh->sluice_error[0] = '\0';
  const std::string dir = work + "/sluice" + (mode.drain ? "-drain-" + mode.client_id : "");
  std::error_code ec;
  fs::create_directories(dir, ec);
  const int64_t start_ns = mono_ns();
  const pid_t child = fork_child();
  if (child == 0) _exit(run_sluice_child(dir, port, messages, mode, sh));
  if (child < 0) {
    r.error = "fork failed";
    return r;
  }
  pid_t pub = -1;
  if (!mode.drain) {
    const int64_t ready_deadline = mono_ns() + 20'000'000'000;
    while (sh->sluice_ready == 0 && mono_ns() < ready_deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    if (sh->sluice_ready == 1) pub = fork_publisher(port, messages, sh);
    if (sh->sluice_ready != 1 && sh->sluice_ready != -1) kill(child, SIGKILL);
  }
  int status = 0;
  rusage ru{};
  wait_child(child, &status, &ru);
  if (pub > 0) wait_child(pub);
  r.rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.error = sh->sluice_error[0] ? sh->sluice_error : "the Sluice child failed";
    return r;
  }
  if (!mode.drain && sh->publisher_error) {
    r.error = "the publisher failed";
    return r;
  }
  r.ok = true;
  if (mode.drain) {
    r.startup_seconds = static_cast<double>(sh->sluice_first_ns - start_ns) / 1e9;
    r.drain_seconds = static_cast<double>(sh->sluice_done_ns - sh->sluice_first_ns) / 1e9;
    r.seconds = static_cast<double>(sh->sluice_done_ns - start_ns) / 1e9;
  } else {
    r.seconds = static_cast<double>(sh->sluice_done_ns - sh->first_publish_ns) / 1e9;
    r.publish_seconds = static_cast<double>(sh->last_publish_ns - sh->first_publish_ns) / 1e9;
  }
  r.cpu_s = sh->sluice_cpu_s;
  r.cpu_total_s = sh->sluice_cpu_total_s;
  r.samples = sh->sluice_durable;
  return r;
}

// ---- backlog drain --------------------------------------------------------------------------

constexpr const char* kMosquittoSub = "/usr/bin/mosquitto_sub";
constexpr int kSessionExpirySeconds = 3600;  // MQTT 5 sessions made by the bench

// Creates (create = true: clean session 0, MQTT 5 with a session expiry) or removes (a clean
// connect) the persistent session of `client_id` with a QoS 1 subscription to `filter`:
// mosquitto_sub connects, subscribes, and exits once the SUBACK is in (-E). True on success.
bool mqtt_session(int port, const std::string& client_id, const std::string& filter, int protocol,
                  bool create) {
  std::vector<std::string> argv = {
      kMosquittoSub, "-h", "127.0.0.1", "-p", std::to_string(port), "-i", client_id, "-q",
      "1",           "-t", filter,      "-E"};
  if (protocol == 5) argv.insert(argv.end(), {"-V", "mqttv5"});
  if (create) {
    argv.push_back("-c");
    if (protocol == 5) argv.insert(argv.end(), {"-x", std::to_string(kSessionExpirySeconds)});
  }
  return run_to_end(argv) == 0;
}

// The backlog: N messages to `topic` while its only subscriber (a persistent session) is down.
struct Backlog {
  bool ok = false;
  std::string error;
  double publish_seconds = 0;
};

Backlog queue_backlog(int port, const std::string& client_id, const std::string& topic,
                      const std::string& filter, int protocol, int messages, Shared* sh) {
  Backlog b;
  if (!mqtt_session(port, client_id, filter, protocol, true)) {
    b.error = fmt::format("could not create the persistent session of '{}'", client_id);
    return b;
  }
  const pid_t pub = fork_publisher(port, messages, sh, topic);
  wait_child(pub);
  if (sh->publisher_error || sh->last_publish_ns == 0) {
    b.error = "the publisher failed";
    return b;
  }
  b.ok = true;
  b.publish_seconds = static_cast<double>(sh->last_publish_ns - sh->first_publish_ns) / 1e9;
  return b;
}

// One consumer's backlog drain, whatever the consumer.
struct DrainResult {
  bool ok = false;
  std::string error;
  double publish_seconds = 0;  // queueing the backlog (publisher, before the consumer starts)
  double startup_seconds = 0;  // consumer start (fork) to its first message
  double drain_seconds = 0;    // first message to last
  double total_seconds = 0;    // start to last
  bool has_process = false;    // CPU and RSS below are known
  double cpu_s = 0;            // first message to last
  double cpu_total_s = 0;      // the whole process (Sluice only)
  double rss_mib = 0;
  std::string version;  // Node-RED only
};

DrainResult drain_mosquitto_sub(const std::string& work, int port, int messages, Shared* sh) {
  DrainResult r;
  const std::string id = "bench-drain-mosquitto-sub";
  const std::string filter = "drain/mosquitto-sub/#";
  const Backlog b = queue_backlog(port, id, "drain/mosquitto-sub/line1", filter, 4, messages, sh);
  if (!b.ok) {
    r.error = b.error;
    mqtt_session(port, id, filter, 4, false);
    return r;
  }
  r.publish_seconds = b.publish_seconds;
  const std::string out = work + "/sub-drain.txt";
  const int64_t start_ns = mono_ns();
  const pid_t sub = spawn({kMosquittoSub, "-h", "127.0.0.1", "-p", std::to_string(port), "-c", "-i",
                           id, "-q", "1", "-t", filter},
                          out);
  uint64_t offset = 0;
  uint64_t lines = 0;
  int64_t first_ns = 0;
  int64_t done_ns = 0;
  const int64_t deadline = start_ns + std::chrono::nanoseconds(kTimeout).count();
  while (mono_ns() < deadline) {
    lines = count_lines(out, &offset, lines);
    if (lines > 0 && first_ns == 0) first_ns = mono_ns();
    if (lines >= static_cast<uint64_t>(messages)) {
      done_ns = mono_ns();
      break;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  rusage ru{};
  stop_process(sub, &ru);
  mqtt_session(port, id, filter, 4, false);
  if (done_ns == 0) {
    r.error =
        fmt::format("only {} of {} queued messages arrived at mosquitto_sub", lines, messages);
    return r;
  }
  r.ok = true;
  r.startup_seconds = static_cast<double>(first_ns - start_ns) / 1e9;
  r.drain_seconds = static_cast<double>(done_ns - first_ns) / 1e9;
  r.total_seconds = static_cast<double>(done_ns - start_ns) / 1e9;
  // Its whole life (start to stop): mosquitto_sub's start-up costs next to nothing.
  r.has_process = true;
  r.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  r.rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  return r;
}

DrainResult drain_sluice(const std::string& work, int port, int messages, int protocol,
                         Shared* sh) {
  DrainResult r;
  const std::string name = protocol == 5 ? "sluice-5" : "sluice-311";
  const SluiceMode mode{.drain = true,
                        .topic = "drain/" + name + "/#",
                        .client_id = "bench-drain-" + name,
                        .protocol = protocol};
  const Backlog b = queue_backlog(port, mode.client_id, "drain/" + name + "/line1", mode.topic,
                                  protocol, messages, sh);
  if (!b.ok) {
    r.error = b.error;
    mqtt_session(port, mode.client_id, mode.topic, protocol, false);
    return r;
  }
  r.publish_seconds = b.publish_seconds;
  const SluiceResult s = run_sluice(work, port, messages, sh, mode);
  mqtt_session(port, mode.client_id, mode.topic, protocol, false);
  if (!s.ok) {
    r.error = s.error;
    return r;
  }
  r.ok = true;
  r.startup_seconds = s.startup_seconds;
  r.drain_seconds = s.drain_seconds;
  r.total_seconds = s.seconds;
  r.has_process = true;
  r.cpu_s = s.cpu_s;
  r.cpu_total_s = s.cpu_total_s;
  r.rss_mib = s.rss_mib;
  return r;
}

DrainResult drain_node_red(NodeRedOptions o, int port, int messages, Shared* sh) {
  DrainResult r;
  o.client_id = "bench-drain-node-red";
  o.clean_session = false;
  o.topic_filter = "drain/node-red/#";
  o.work_dir += "/drain";
  const Backlog b =
      queue_backlog(port, o.client_id, "drain/node-red/line1", o.topic_filter, 4, messages, sh);
  if (!b.ok) {
    r.error = b.error;
    mqtt_session(port, o.client_id, o.topic_filter, 4, false);
    return r;
  }
  r.publish_seconds = b.publish_seconds;
  const NodeRedResult nr = run_node_red_drain(o);
  mqtt_session(port, o.client_id, o.topic_filter, 4, false);
  r.version = nr.version;
  if (!nr.ok) {
    r.error = nr.error;
    return r;
  }
  r.ok = true;
  r.startup_seconds = nr.startup_seconds;
  r.drain_seconds = nr.drain_seconds;
  r.total_seconds = nr.seconds;
  r.has_process = true;
  r.cpu_s = nr.cpu_s;
  r.rss_mib = nr.rss_mib;
  return r;
}

// ---- main -----------------------------------------------------------------------------------

std::string fmt_int(double v) {
  const std::string digits = fmt::format("{:.0f}", v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string verdict(bool met) { return met ? "met" : "missed"; }

int run(int argc, char** argv) {
  int messages = kDefaultMessages;
  bool node_red_json = false;
  bool live = true;
  bool drain = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      messages = kQuickMessages;
    } else if (a == "--node-red-json") {
      node_red_json = true;
    } else if (a == "--messages" && i + 1 < argc) {
      messages = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--mode" && i + 1 < argc) {
      const std::string m = argv[++i];
      live = m == "live" || m == "both";
      drain = m == "drain" || m == "both";
      if (!live && !drain) {
        std::fprintf(stderr, "--mode: live, drain or both\n");
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--messages N] [--quick] [--mode live|drain|both] "
                   "[--node-red-json]\n",
                   argv[0]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/sluice-mqtt-e2e-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 0;
  }
  const std::string work = tmpl;
  auto* sh = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  new (sh) Shared();

  const std::string date = utc_now();
  const std::string load_before = load_average();
  const int port = free_port();
  {
    std::ofstream conf(work + "/mosquitto.conf");
    conf << "listener " << port << " 127.0.0.1\n"
         << "allow_anonymous true\n"
         << "max_inflight_messages 100\n"
         << "max_queued_messages 1000000\n"
         << "max_queued_bytes 0\n"
         << "persistence false\n";
  }
  const pid_t broker = spawn_guarded({kMosquitto, "-c", work + "/mosquitto.conf"});
  for (int i = 0; i < 500 && !port_accepts(port); ++i)
    std::this_thread::sleep_for(milliseconds(10));
  std::string sample;
  kepware_message(0, &sample);

  SubResult sub;
  SluiceResult slu;
  NodeRedResult nr;
  DrainResult d_sub, d_slu3, d_slu5, d_nr;
  const NodeRedOptions nro{.install_dir = SLUICE_NODE_RED_DIR,
                           .work_dir = work,
                           .broker_port = port,
                           .topic_filter = "bench/#",
                           .probe_topic = "bench/probe",
                           .messages = static_cast<uint64_t>(messages),
                           .parse_json = node_red_json,
                           .timeout = kTimeout};
  if (!port_accepts(port)) {
    sub.error = slu.error = nr.error = "mosquitto did not start";
    d_sub.error = d_slu3.error = d_slu5.error = d_nr.error = "mosquitto did not start";
  } else {
    if (live) {
      sub = run_mosquitto_sub(work, port, messages, sh);
      slu = run_sluice(work, port, messages, sh);
      // (c) Node-RED (bench/node_red.cpp), same broker, same load.
      nr = run_node_red(nro, [&] {
        const pid_t pub = fork_publisher(port, messages, sh);
        wait_child(pub);
        return LoadTimes{.ok = sh->publisher_error == 0,
                         .first_publish_ns = sh->first_publish_ns,
                         .last_publish_ns = sh->last_publish_ns};
      });
    }
    if (drain) {
      d_sub = drain_mosquitto_sub(work, port, messages, sh);
      d_slu3 = drain_sluice(work, port, messages, 4, sh);
      d_slu5 = drain_sluice(work, port, messages, 5, sh);
      d_nr = drain_node_red(nro, port, messages, sh);
    }
  }
  stop_process(broker);
  const std::string load_after = load_average();
  std::error_code ec;
  fs::remove_all(work, ec);

  const double samples = static_cast<double>(messages) * kValuesPerMessage;
  const double sub_rate = sub.ok ? samples / sub.seconds : 0;
  const double slu_rate = slu.ok ? samples / slu.seconds : 0;
  const double nr_rate = nr.ok ? samples / nr.seconds : 0;
  const auto drain_rate = [&](const DrainResult& d) {
    return d.ok ? samples / d.drain_seconds : 0;
  };

  utsname u{};
  uname(&u);
  std::printf("## MQTT ingest end to end (mqtt_e2e)\n\n");
  std::printf("- date: %s\n", date.c_str());
  std::printf("- machine: %u x %s, %s %s\n", std::thread::hardware_concurrency(),
              cpu_model().c_str(), u.sysname, u.release);
  std::printf(
      "- broker: %s (%s), 127.0.0.1:%d, max_inflight_messages 100, max_queued_messages "
      "1000000, max_queued_bytes 0 (no limit), no persistence\n",
      kMosquitto, command_output(std::string(kMosquitto) + " -h 2>&1 | head -1").c_str(), port);
  std::printf("- load average (1/5/15 min) before %s, after %s\n", load_before.c_str(),
              load_after.c_str());
  std::printf(
      "- load: %d messages x %d values = %s samples, Kepware IoT Gateway JSON, %zu bytes per "
      "message, QoS 1, publisher (Paho C++ async_client, separate process) with at most %zu in "
      "flight\n",
      messages, kValuesPerMessage, fmt_int(samples).c_str(), sample.size(), kWindow);
  std::printf("- modes: %s\n", live && drain ? "live and backlog drain"
                               : live        ? "live"
                                             : "backlog drain");
  std::printf(
      "- Sluice: runtime::Runtime in a child process, mqtt source (kepware, qos 1; live: clean "
      "session, MQTT 3.1.1; drain: persistent session, MQTT 3.1.1 and MQTT 5 with "
      "receive_maximum 1000), store sync interval 10 ms; timed to the last sample durable\n");
  if (node_red_installed(nro.install_dir)) {
    const std::string version = !nr.version.empty() ? nr.version : d_nr.version;
    std::printf(
        "- Node-RED: %s, flow `mqtt in` (qos 1, %s) -> `file` (append, one line per message), "
        "own process on 127.0.0.1; timed to the last line in the file\n\n",
        version.c_str(), node_red_json ? "parsed JSON object" : "utf8 string");
  } else {
    std::printf("- Node-RED: not installed (run scripts/setup)\n\n");
  }

  // Targets.
  std::printf("| Figure | Target | Measured | Verdict |\n|---|---|---|---|\n");
  const auto ratio_row = [&](const char* what, double target, const char* tfmt, bool ok, double num,
                             double den) {
    if (ok && den > 0) {
      const double v = num / den;
      std::printf("| %s | >= %s | %.2f | %s |\n", what,
                  fmt::format(fmt::runtime(tfmt), target).c_str(), v, verdict(v >= target).c_str());
    } else {
      std::printf("| %s | >= %s | not measured | - |\n", what,
                  fmt::format(fmt::runtime(tfmt), target).c_str());
    }
  };
  const auto rss_row = [&](const char* what, bool ok, double mib) {
    if (ok) {
      std::printf("| %s | < %.0f MiB | %.1f MiB | %s |\n", what, kTargetRssMiB, mib,
                  verdict(mib < kTargetRssMiB).c_str());
    }
  };
  const auto cpu_row = [&](const char* what, bool ok, double cpu_s) {
    if (ok) std::printf("| %s | (none) | %.3f s | - |\n", what, cpu_s / (samples / 1e6));
  };
  if (live) {
    ratio_row("live: Sluice / mosquitto_sub samples/s", kTargetRatio, "{:.1f}", sub.ok && slu.ok,
              slu_rate, sub_rate);
    ratio_row("live: Sluice / Node-RED samples/s", kTargetNodeRedRatio, "{:.0f}", slu.ok && nr.ok,
              slu_rate, nr_rate);
  }
  if (drain) {
    ratio_row("drain: Sluice 3.1.1 / mosquitto_sub samples/s", kTargetRatio, "{:.1f}",
              d_sub.ok && d_slu3.ok, drain_rate(d_slu3), drain_rate(d_sub));
    ratio_row("drain: Sluice 5 / mosquitto_sub samples/s", kTargetRatio, "{:.1f}",
              d_sub.ok && d_slu5.ok, drain_rate(d_slu5), drain_rate(d_sub));
    ratio_row("drain: Sluice 3.1.1 / Node-RED samples/s", kTargetNodeRedRatio, "{:.0f}",
              d_nr.ok && d_slu3.ok, drain_rate(d_slu3), drain_rate(d_nr));
    ratio_row("drain: Sluice 5 / Node-RED samples/s", kTargetNodeRedRatio, "{:.0f}",
              d_nr.ok && d_slu5.ok, drain_rate(d_slu5), drain_rate(d_nr));
  }
  if (live) rss_row("live: peak RSS of the Sluice process", slu.ok, slu.rss_mib);
  if (drain) {
    rss_row("drain 3.1.1: peak RSS of the Sluice process", d_slu3.ok, d_slu3.rss_mib);
    rss_row("drain 5: peak RSS of the Sluice process", d_slu5.ok, d_slu5.rss_mib);
  }
  if (live) cpu_row("live: Sluice CPU per million samples", slu.ok, slu.cpu_s);
  if (drain) {
    cpu_row("drain 3.1.1: Sluice CPU per million samples", d_slu3.ok, d_slu3.cpu_s);
    cpu_row("drain 5: Sluice CPU per million samples", d_slu5.ok, d_slu5.cpu_s);
  }

  if (live) {
    std::printf("\n### Live (consumer subscribed, then the publisher runs)\n\n");
    std::printf(
        "| Consumer | samples/s | msgs/s | first publish to last arrival | publisher done "
        "after |\n|---|---|---|---|---|\n");
    if (sub.ok) {
      std::printf("| (b) mosquitto_sub -q 1 > file | %s | %s | %.3f s | %.3f s |\n",
                  fmt_int(sub_rate).c_str(), fmt_int(messages / sub.seconds).c_str(), sub.seconds,
                  sub.publish_seconds);
    } else {
      std::printf("| (b) mosquitto_sub | failed: %s | | | |\n", sub.error.c_str());
    }
    if (slu.ok) {
      std::printf("| (a) Sluice, durable | %s | %s | %.3f s | %.3f s |\n",
                  fmt_int(slu_rate).c_str(), fmt_int(messages / slu.seconds).c_str(), slu.seconds,
                  slu.publish_seconds);
    } else {
      std::printf("| (a) Sluice | failed: %s | | | |\n", slu.error.c_str());
    }
    if (nr.ok) {
      std::printf("| (c) Node-RED mqtt in -> file | %s | %s | %.3f s | %.3f s |\n",
                  fmt_int(nr_rate).c_str(), fmt_int(messages / nr.seconds).c_str(), nr.seconds,
                  nr.publish_seconds);
    } else {
      std::printf("| (c) Node-RED | failed: %s | | | |\n", nr.error.c_str());
    }
    std::printf(
        "\n| Process (live) | CPU, subscribed to last | CPU per million samples | peak "
        "RSS |\n|---|---|---|---|\n");
    if (slu.ok) {
      std::printf("| Sluice | %.3f s = %.3f cores (whole child %.3f s) | %.3f s | %.1f MiB |\n",
                  slu.cpu_s, slu.cpu_s / slu.seconds, slu.cpu_total_s, slu.cpu_s / (samples / 1e6),
                  slu.rss_mib);
    }
    if (nr.ok) {
      std::printf("| Node-RED | %.3f s = %.3f cores | %.3f s | %.1f MiB |\n", nr.cpu_s,
                  nr.cpu_s / nr.seconds, nr.cpu_s / (samples / 1e6), nr.rss_mib);
    }
  }
  if (drain) {
    std::printf(
        "\n### Backlog drain (N messages queued at the broker for the consumer's persistent "
        "session, then the consumer starts)\n\n");
    std::printf(
        "| Consumer | samples/s | msgs/s | drain: first to last message | start to first | "
        "start to last | backlog published in | CPU, first to last | CPU per million samples "
        "| peak RSS |\n|---|---|---|---|---|---|---|---|---|---|\n");
    const auto row = [&](const char* what, const DrainResult& d) {
      if (!d.ok) {
        std::printf("| %s | failed: %s | | | | | | | | |\n", what, d.error.c_str());
        return;
      }
      std::printf("| %s | %s | %s | %.3f s | %.3f s | %.3f s | %.3f s | ", what,
                  fmt_int(drain_rate(d)).c_str(), fmt_int(messages / d.drain_seconds).c_str(),
                  d.drain_seconds, d.startup_seconds, d.total_seconds, d.publish_seconds);
      if (d.has_process) {
        std::printf("%.3f s = %.2f cores | %.3f s | %.1f MiB |\n", d.cpu_s,
                    d.cpu_s / d.drain_seconds, d.cpu_s / (samples / 1e6), d.rss_mib);
      } else {
        std::printf("- | - | - |\n");
      }
    };
    row("(b) mosquitto_sub -c -q 1 > file (MQTT 3.1.1; CPU: its whole life)", d_sub);
    row("(a) Sluice, durable, MQTT 3.1.1 (window: broker's 100)", d_slu3);
    row("(a) Sluice, durable, MQTT 5 (receive_maximum 1000)", d_slu5);
    row("(c) Node-RED mqtt in -> file (MQTT 3.1.1)", d_nr);
    if (d_slu3.ok || d_slu5.ok) {
      std::printf(
          "\nSluice's whole child (open, connect, drain, stop): %s%s CPU.\n",
          d_slu3.ok ? fmt::format("3.1.1 {:.3f} s", d_slu3.cpu_total_s).c_str() : "",
          d_slu5.ok ? fmt::format("{}5 {:.3f} s", d_slu3.ok ? ", " : "", d_slu5.cpu_total_s).c_str()
                    : "");
    }
  }
  return 0;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  int rc = 1;
  try {
    rc = sluice::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mqtt_e2e: %s\n", e.what());
  }
  sluice::bench::kill_children();
  return rc;
}
