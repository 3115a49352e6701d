// End-to-end MQTT ingest benchmark (issue 3): Sluice against the broker's own ceiling, measured
// in one run on loopback so that the figures can be read as a ratio on a shared, noisy machine
// (DESIGN.md, "Benchmarks: how to read the targets"). One markdown report on stdout.
//
//  - A private mosquitto is started on a free 127.0.0.1 port and killed at the end.
//  - The load: N messages (--messages, default 20,000; --quick 2,000) of Kepware IoT Gateway
//    JSON with 100 values each, published at QoS 1 as fast as the broker takes them, with at
//    most kWindow messages in flight. The publisher runs in a forked child process, so its CPU
//    time is not counted against the consumer.
//  (b) The broker's ceiling: `mosquitto_sub -q 1 -t 'bench/#' > file`, lines counted until every
//      message arrived.
//  (a) Sluice: runtime::Runtime in a forked child (an `mqtt` source, format kepware, qos 1,
//      clean session, store sync "interval" 10 ms), timed until every sample is durable (the
//      store's readable end of the source's stream). CPU (getrusage of that child during the
//      run) and peak RSS (ru_maxrss via wait4) cover Sluice only.
//  (c) Node-RED, the flow many plants run today (`mqtt in` qos 1 -> `file`), driven by
//      bench/node_red.cpp, lines counted like (b).
// All are timed from the first publish to the last message (b, c) or durable sample (a).
// Targets are printed, never asserted: a missed target is a figure, not a failure.
//
//   ninja -C build mqtt_e2e && build/bench/mqtt_e2e [--messages N] [--quick] [--node-red-json]
// (--node-red-json: Node-RED's `mqtt in` parses each payload as JSON, as a flow that uses the
// values would; the file node then writes it back as JSON.)
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mqtt/async_client.h>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/builtin_sources.h"
#include "node_red.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice::bench {
namespace {

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

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double cpu_seconds_self() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
  return buf;
}

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

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return fmt::format("{} {} {}", one, five, fifteen);
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

// fork + exec; stdout to `out_path` if given, stderr to /dev/null. Returns the pid or -1.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path = "") {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int devnull = open("/dev/null", O_WRONLY);
  dup2(devnull, STDERR_FILENO);
  if (!out_path.empty()) {
    const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
  } else {
    dup2(devnull, STDOUT_FILENO);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

void stop_process(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
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
  std::atomic<int> sluice_ready{0};  // 1: connected and subscribed; -1: failed
  std::atomic<int64_t> sluice_done_ns{0};
  std::atomic<uint64_t> sluice_samples{0};
  std::atomic<uint64_t> sluice_durable{0};
  double sluice_cpu_s = 0;
  double sluice_cpu_total_s = 0;
  char sluice_error[512] = {};
};

// The publisher (a child process): N messages at QoS 1, at most kWindow in flight.
int run_publisher(int port, int messages, Shared* sh) {
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
      inflight.push_back(client.publish("bench/line1", payload.data(), payload.size(), 1, false));
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

pid_t fork_publisher(int port, int messages, Shared* sh) {
  const pid_t pid = fork();
  if (pid == 0) _exit(run_publisher(port, messages, sh));
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
  const pid_t sub = spawn({sub_bin, "-h", "127.0.0.1", "-p", std::to_string(port), "-q", "1",
                           "-t", "bench/#"},
                          out);
  // Subscribed once a probe arrives: probe every 100 ms until one does.
  uint64_t offset = 0;
  uint64_t lines = 0;
  const int64_t probe_deadline = mono_ns() + 10'000'000'000;
  while (lines == 0 && mono_ns() < probe_deadline) {
    const pid_t p = spawn({pub_bin, "-h", "127.0.0.1", "-p", std::to_string(port), "-q", "1", "-t",
                           "bench/probe", "-m", "probe"});
    waitpid(p, nullptr, 0);
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
  int status = 0;
  waitpid(pub, &status, 0);
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

// The Sluice child: open and start the runtime, report ready, wait for every sample durable.
int run_sluice_child(const std::string& work, int port, int messages, Shared* sh) {
  const std::string text = fmt::format(R"(
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
topic = "bench/line1"
qos = 1
format = "kepware"
clean_session = true
client_id = "sluice-bench"
)",
                                       work, port, kSourceName);
  auto config =
      runtime::parse_config(text, work + "/sluice.toml", cli::builtin_source_types());
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
  const double cpu0 = cpu_seconds_self();
  sh->sluice_ready = 1;

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
};

SluiceResult run_sluice(const std::string& work, int port, int messages, Shared* sh) {
  SluiceResult r;
  sh->first_publish_ns = 0;
  sh->last_publish_ns = 0;
  sh->sluice_ready = 0;
  sh->sluice_done_ns = 0;
  const std::string dir = work + "/sluice";
  fs::create_directories(dir);
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) _exit(run_sluice_child(dir, port, messages, sh));
  const int64_t ready_deadline = mono_ns() + 20'000'000'000;
  while (sh->sluice_ready == 0 && mono_ns() < ready_deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  pid_t pub = -1;
  if (sh->sluice_ready == 1) pub = fork_publisher(port, messages, sh);
  int status = 0;
  rusage ru{};
  if (sh->sluice_ready != 1 && sh->sluice_ready != -1) kill(child, SIGKILL);
  wait4(child, &status, 0, &ru);
  if (pub > 0) waitpid(pub, nullptr, 0);
  r.rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.error = sh->sluice_error[0] ? sh->sluice_error : "the Sluice child failed";
    return r;
  }
  if (sh->publisher_error) {
    r.error = "the publisher failed";
    return r;
  }
  r.ok = true;
  r.seconds = static_cast<double>(sh->sluice_done_ns - sh->first_publish_ns) / 1e9;
  r.publish_seconds = static_cast<double>(sh->last_publish_ns - sh->first_publish_ns) / 1e9;
  r.cpu_s = sh->sluice_cpu_s;
  r.cpu_total_s = sh->sluice_cpu_total_s;
  r.samples = sh->sluice_durable;
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

int run(int argc, char** argv) {
  int messages = kDefaultMessages;
  bool node_red_json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      messages = kQuickMessages;
    } else if (a == "--node-red-json") {
      node_red_json = true;
    } else if (a == "--messages" && i + 1 < argc) {
      messages = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--messages N] [--quick] [--node-red-json]\n", argv[0]);
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
  auto* sh = static_cast<Shared*>(mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                                       MAP_SHARED | MAP_ANONYMOUS, -1, 0));
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
         << "persistence false\n";
  }
  const pid_t broker = spawn({kMosquitto, "-c", work + "/mosquitto.conf"});
  for (int i = 0; i < 500 && !port_accepts(port); ++i) std::this_thread::sleep_for(milliseconds(10));
  std::string sample;
  kepware_message(0, &sample);

  SubResult sub;
  SluiceResult slu;
  NodeRedResult nr;
  if (!port_accepts(port)) {
    sub.error = slu.error = nr.error = "mosquitto did not start";
  } else {
    sub = run_mosquitto_sub(work, port, messages, sh);
    slu = run_sluice(work, port, messages, sh);
    // (c) Node-RED (bench/node_red.cpp), same broker, same load.
    NodeRedOptions nro{.install_dir = SLUICE_NODE_RED_DIR,
                       .work_dir = work,
                       .broker_port = port,
                       .topic_filter = "bench/#",
                       .probe_topic = "bench/probe",
                       .messages = static_cast<uint64_t>(messages),
                       .parse_json = node_red_json,
                       .timeout = kTimeout};
    nr = run_node_red(nro, [&] {
      sh->first_publish_ns = 0;
      sh->last_publish_ns = 0;
      sh->publisher_error = 0;
      const pid_t pub = fork_publisher(port, messages, sh);
      waitpid(pub, nullptr, 0);
      return LoadTimes{.ok = sh->publisher_error == 0,
                       .first_publish_ns = sh->first_publish_ns,
                       .last_publish_ns = sh->last_publish_ns};
    });
  }
  stop_process(broker);
  const std::string load_after = load_average();
  std::error_code ec;
  fs::remove_all(work, ec);

  const double samples = static_cast<double>(messages) * kValuesPerMessage;
  const double sub_rate = sub.ok ? samples / sub.seconds : 0;
  const double slu_rate = slu.ok ? samples / slu.seconds : 0;
  const double ratio = sub.ok && slu.ok ? slu_rate / sub_rate : 0;
  const double cpu_per_m = slu.ok ? slu.cpu_s / (samples / 1e6) : 0;

  utsname u{};
  uname(&u);
  std::printf("## MQTT ingest end to end (mqtt_e2e)\n\n");
  std::printf("- date: %s\n", date.c_str());
  std::printf("- machine: %u x %s, %s %s\n", std::thread::hardware_concurrency(),
              cpu_model().c_str(), u.sysname, u.release);
  std::printf("- broker: %s (%s), 127.0.0.1:%d, max_inflight_messages 100, no persistence\n",
              kMosquitto, command_output(std::string(kMosquitto) + " -h 2>&1 | head -1").c_str(),
              port);
  std::printf("- load average (1/5/15 min) before %s, after %s\n", load_before.c_str(),
              load_after.c_str());
  std::printf(
      "- load: %d messages x %d values = %s samples, Kepware IoT Gateway JSON, %zu bytes per "
      "message, QoS 1, publisher (Paho C++ async_client, separate process) with at most %zu in "
      "flight\n",
      messages, kValuesPerMessage, fmt_int(samples).c_str(), sample.size(), kWindow);
  std::printf(
      "- Sluice: runtime::Runtime in a child process, mqtt source (kepware, qos 1, clean "
      "session), store sync interval 10 ms; timed to the last sample durable\n");
  if (nr.ok) {
    std::printf(
        "- Node-RED: %s, flow `mqtt in` (qos 1, %s) -> `file` (append, one line per "
        "message), own process on 127.0.0.1; timed to the last line in the file\n\n",
        nr.version.c_str(), node_red_json ? "parsed JSON object" : "utf8 string");
  } else {
    std::printf("- Node-RED: not measured (%s)\n\n", nr.error.c_str());
  }

  std::printf("| Figure | Target | Measured | Verdict |\n|---|---|---|---|\n");
  if (sub.ok && slu.ok) {
    std::printf("| Sluice / mosquitto_sub samples/s | >= %.1f | %.2f | %s |\n", kTargetRatio, ratio,
                ratio >= kTargetRatio ? "met" : "missed");
  } else {
    std::printf("| Sluice / mosquitto_sub samples/s | >= %.1f | not measured | - |\n",
                kTargetRatio);
  }
  const double nr_rate = nr.ok ? samples / nr.seconds : 0;
  if (slu.ok && nr.ok) {
    std::printf("| Sluice / Node-RED samples/s | >= %.0f | %.1f | %s |\n", kTargetNodeRedRatio,
                slu_rate / nr_rate, slu_rate / nr_rate >= kTargetNodeRedRatio ? "met" : "missed");
  } else {
    std::printf("| Sluice / Node-RED samples/s | >= %.0f | not measured | - |\n",
                kTargetNodeRedRatio);
  }
  if (slu.ok) {
    std::printf("| Peak RSS of the Sluice process | < %.0f MiB | %.1f MiB | %s |\n", kTargetRssMiB,
                slu.rss_mib, slu.rss_mib < kTargetRssMiB ? "met" : "missed");
  }
  std::printf("\n| Consumer | samples/s | msgs/s | first publish to last arrival | publisher done "
              "after |\n|---|---|---|---|---|\n");
  if (sub.ok) {
    std::printf("| (b) mosquitto_sub -q 1 > file | %s | %s | %.3f s | %.3f s |\n",
                fmt_int(sub_rate).c_str(), fmt_int(messages / sub.seconds).c_str(), sub.seconds,
                sub.publish_seconds);
  } else {
    std::printf("| (b) mosquitto_sub | failed: %s | | | |\n", sub.error.c_str());
  }
  if (slu.ok) {
    std::printf("| (a) Sluice, durable | %s | %s | %.3f s | %.3f s |\n", fmt_int(slu_rate).c_str(),
                fmt_int(messages / slu.seconds).c_str(), slu.seconds, slu.publish_seconds);
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
  if (nr.ok) {
    std::printf("\n| Node-RED process | |\n|---|---|\n");
    std::printf("| CPU during the run (subscribed to last line) | %.3f s = %.3f cores |\n",
                nr.cpu_s, nr.cpu_s / nr.seconds);
    std::printf("| peak RSS (VmHWM) | %.1f MiB |\n", nr.rss_mib);
  }
  if (slu.ok) {
    std::printf("\n| Sluice process | |\n|---|---|\n");
    std::printf("| samples durable | %s |\n", fmt_int(static_cast<double>(slu.samples)).c_str());
    std::printf("| CPU during the run (ready to last sample durable) | %.3f s = %.3f cores |\n",
                slu.cpu_s, slu.cpu_s / slu.seconds);
    std::printf("| CPU per million samples | %.3f s |\n", cpu_per_m);
    std::printf("| CPU of the whole child (open, connect, run, stop) | %.3f s |\n",
                slu.cpu_total_s);
    std::printf("| peak RSS (wait4 ru_maxrss) | %.1f MiB |\n", slu.rss_mib);
  }
  return 0;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) { return sluice::bench::run(argc, argv); }
