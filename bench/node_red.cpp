// Node-RED as consumer (c) of the MQTT ingest benchmark: generates its settings and flow, runs
// it as a child process on 127.0.0.1, and measures it the way mosquitto_sub is measured (lines
// in the output file, from the first publish to the last line; in the backlog drain, from the
// first line to the last). See node_red.h.
#include "node_red.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace sluice::bench {
namespace {

using sluice::bench::mono_ns;

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kRedJs = "node_modules/node-red/red.js";
constexpr const char* kMosquittoPub = "/usr/bin/mosquitto_pub";
constexpr auto kProbeEvery = milliseconds(250);
constexpr const char* kProbePayload = R"({"probe":true})";  // JSON, for either datatype
constexpr auto kStopGrace = std::chrono::seconds(5);
constexpr size_t kLogTailBytes = 1500;

// A JSON (and JavaScript) string literal.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string log_tail(const std::string& path) {
  std::string log = read_file(path);
  if (log.size() > kLogTailBytes) log = "..." + log.substr(log.size() - kLogTailBytes);
  while (!log.empty() && (log.back() == '\n' || log.back() == '\r')) log.pop_back();
  // One line, so that it fits in the report's table.
  std::replace(log.begin(), log.end(), '\n', ' ');
  std::replace(log.begin(), log.end(), '|', '/');
  return log.empty() ? "(empty log)" : log;
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

// The "version" of a package.json, without a JSON parser: the first "version": "..." in it.
std::string package_version(const std::string& package_json) {
  const std::string text = read_file(package_json);
  const size_t key = text.find("\"version\"");
  if (key == std::string::npos) return "unknown";
  const size_t open = text.find('"', text.find(':', key));
  const size_t close = open == std::string::npos ? open : text.find('"', open + 1);
  if (close == std::string::npos) return "unknown";
  return text.substr(open + 1, close - open - 1);
}

// Lines (newlines) appended to `path` since `*offset`, added to `lines`.
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

// CPU seconds (user + system) of a running process, from /proc/PID/stat; -1 if gone.
double process_cpu_seconds(pid_t pid) {
  const std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Peak resident set of a running process (VmHWM), MiB; 0 if unknown.
double process_peak_rss_mib(pid_t pid) {
  std::istringstream in(read_file(fmt::format("/proc/{}/status", pid)));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// The Node-RED child. Stopped (SIGTERM, then SIGKILL) when this object goes away.
class NodeRedProcess {
 public:
  NodeRedProcess(const std::string& red_js, const std::string& settings,
                 const std::string& user_dir, const std::string& log) {
    // Everything the child needs is built before fork (no allocation after it).
    std::vector<std::string> argv = {"node", red_js, "--settings", settings, "--userDir", user_dir};
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ != 0) return;
    // Never outlive the benchmark, whatever way it ends.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = open("/dev/null", O_RDONLY);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execvp("node", args.data());
    _exit(127);
  }
  NodeRedProcess(const NodeRedProcess&) = delete;
  NodeRedProcess& operator=(const NodeRedProcess&) = delete;
  ~NodeRedProcess() { stop(); }

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }

  // False once the process has exited (it is then reaped).
  bool alive() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

void write_settings(const std::string& path, const std::string& user_dir, int ui_port) {
  std::ofstream out(path);
  out << "// Generated by the Sluice MQTT benchmark (bench/node_red.cpp).\n"
      << "module.exports = {\n"
      << "  userDir: " << quoted(user_dir) << ",\n"
      << "  flowFile: \"flows.json\",\n"
      << "  credentialSecret: false,\n"
      << "  uiHost: \"127.0.0.1\",\n"
      << "  uiPort: " << ui_port << ",\n"
      << "  httpAdminRoot: false,\n"
      << "  httpNodeRoot: false,\n"
      << "  disableEditor: true,\n"
      << "  diagnostics: { enabled: false, ui: false },\n"
      << "  telemetry: { enabled: false },\n"
      << "  externalModules: { autoInstall: false, palette: { allowInstall: false } },\n"
      << "  functionExternalModules: false,\n"
      << "  logging: { console: { level: \"info\", metrics: false, audit: false } },\n"
      << "};\n";
}

// mqtt in (QoS 1, payload as a UTF-8 string or a parsed JSON object) -> file (append, one line
// per message; an object is written back with JSON.stringify).
void write_flow(const std::string& path, const NodeRedOptions& o, const std::string& out_file) {
  std::ofstream out(path);
  out << "[\n"
      << R"(  {"id": "bench-tab", "type": "tab", "label": "Sluice benchmark"},)"
      << "\n"
      << R"(  {"id": "bench-broker", "type": "mqtt-broker", "name": "bench broker",)"
      << R"( "broker": "127.0.0.1", "port": ")" << o.broker_port << R"(",)"
      << R"( "clientid": )" << quoted(o.client_id) << R"(, "autoConnect": true, "usetls": false,)"
      << R"( "protocolVersion": "4", "keepalive": "60", "cleansession": )"
      << (o.clean_session ? "true" : "false") << ","
      << R"( "autoUnsubscribe": true, "birthTopic": "", "closeTopic": "", "willTopic": ""},)"
      << "\n"
      << R"(  {"id": "bench-in", "type": "mqtt in", "z": "bench-tab", "name": "",)"
      << R"( "topic": )" << quoted(o.topic_filter) << R"(, "qos": "1", "datatype": ")"
      << (o.parse_json ? "json" : "utf8") << R"(",)"
      << R"( "broker": "bench-broker", "nl": false, "rap": true, "rh": 0, "inputs": 0,)"
      << R"( "wires": [["bench-file"]]},)"
      << "\n"
      << R"(  {"id": "bench-file", "type": "file", "z": "bench-tab", "name": "",)"
      << R"( "filename": )" << quoted(out_file) << R"(, "filenameType": "str",)"
      << R"( "appendNewline": true, "createDir": false, "overwriteFile": "false",)"
      << R"( "encoding": "none", "wires": [[]]})"
      << "\n"
      << "]\n";
}

// A free TCP port on 127.0.0.1 for Node-RED's HTTP listener (which it opens even without the
// editor).
int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

void publish_probe(int broker_port, const std::string& topic) {
  const pid_t p = fork();
  if (p == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    const std::string port = std::to_string(broker_port);
    execl(kMosquittoPub, kMosquittoPub, "-h", "127.0.0.1", "-p", port.c_str(), "-q", "1", "-t",
          topic.c_str(), "-m", kProbePayload, static_cast<char*>(nullptr));
    _exit(127);
  }
  if (p > 0) waitpid(p, nullptr, 0);
}

}  // namespace

bool node_red_installed(const std::string& install_dir) {
  std::error_code ec;
  return fs::exists(fs::path(install_dir) / kRedJs, ec);
}

namespace {

struct Paths {
  std::string red_js, user_dir, settings, out_file, log;
};

// Version, scratch directory, settings and flow; false (with r->error) on failure.
bool prepare(const NodeRedOptions& o, NodeRedResult* r, Paths* p) {
  if (!node_red_installed(o.install_dir)) {
    r->error = fmt::format("not installed in {} (run scripts/setup)", o.install_dir);
    return false;
  }
  r->version = fmt::format("Node-RED {} on Node.js {}",
                           package_version(o.install_dir + "/node_modules/node-red/package.json"),
                           command_output("node --version 2>/dev/null"));
  const std::string dir = o.work_dir + "/node-red";
  p->red_js = o.install_dir + "/" + kRedJs;
  p->user_dir = dir + "/user";
  p->settings = dir + "/settings.js";
  p->out_file = dir + "/out.txt";
  p->log = dir + "/node-red.log";
  std::error_code ec;
  fs::create_directories(p->user_dir, ec);
  if (ec) {
    r->error = fmt::format("cannot create {}: {}", p->user_dir, ec.message());
    return false;
  }
  const int ui_port = free_loopback_port();
  if (ui_port <= 0) {
    r->error = "no free port on 127.0.0.1 for Node-RED";
    return false;
  }
  write_settings(p->settings, p->user_dir, ui_port);
  write_flow(p->user_dir + "/flows.json", o, p->out_file);
  return true;
}

}  // namespace

NodeRedResult run_node_red(const NodeRedOptions& o, const RunLoad& load) {
  NodeRedResult r;
  Paths paths;
  if (!prepare(o, &r, &paths)) return r;
  const std::string& out_file = paths.out_file;
  const std::string& log = paths.log;
  NodeRedProcess proc(paths.red_js, paths.settings, paths.user_dir, log);
  if (!proc.started()) {
    r.error = "fork failed";
    return r;
  }

  // Subscribed once a probe reaches the file: probe until one does.
  uint64_t offset = 0;
  uint64_t lines = 0;
  const int64_t startup_deadline = mono_ns() + std::chrono::nanoseconds(o.startup_timeout).count();
  while (lines == 0 && mono_ns() < startup_deadline) {
    if (!proc.alive()) {
      r.error = "Node-RED exited during startup: " + log_tail(log);
      return r;
    }
    publish_probe(o.broker_port, o.probe_topic);
    std::this_thread::sleep_for(kProbeEvery);
    lines = count_lines(out_file, &offset, lines);
  }
  if (lines == 0) {
    r.error = fmt::format("no probe reached Node-RED's file within {} s: {}",
                          o.startup_timeout.count(), log_tail(log));
    return r;
  }
  // Late probes still in flight arrive within this grace and are not counted as load.
  std::this_thread::sleep_for(milliseconds(500));
  const uint64_t probes = lines = count_lines(out_file, &offset, lines);
  const uint64_t expected = probes + o.messages;
  const double cpu0 = process_cpu_seconds(proc.pid());

  // The file is watched on a thread of its own while the load runs on this one.
  std::atomic<int64_t> done_ns{0};
  std::atomic<uint64_t> seen{lines};
  std::atomic<bool> give_up{false};
  std::thread watcher([&, offset, lines]() mutable {
    const int64_t deadline = mono_ns() + std::chrono::nanoseconds(o.timeout).count();
    while (!give_up && mono_ns() < deadline) {
      lines = count_lines(out_file, &offset, lines);
      seen = lines;
      if (lines >= expected) {
        done_ns = mono_ns();
        return;
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  const LoadTimes times = load();
  if (!times.ok) give_up = true;
  watcher.join();
  const double cpu1 = process_cpu_seconds(proc.pid());
  r.rss_mib = process_peak_rss_mib(proc.pid());
  const bool died = !proc.alive();
  proc.stop();

  r.arrived = seen - probes;
  if (!times.ok) {
    r.error = "the publisher failed";
    return r;
  }
  if (done_ns == 0) {
    r.error = fmt::format("only {} of {} messages arrived in Node-RED's file{}", r.arrived,
                          o.messages, died ? " (Node-RED died: " + log_tail(log) + ")" : "");
    return r;
  }
  r.ok = true;
  r.seconds = static_cast<double>(done_ns - times.first_publish_ns) / 1e9;
  r.publish_seconds = static_cast<double>(times.last_publish_ns - times.first_publish_ns) / 1e9;
  r.cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : 0;
  return r;
}

NodeRedResult run_node_red_drain(const NodeRedOptions& o) {
  NodeRedResult r;
  Paths paths;
  if (!prepare(o, &r, &paths)) return r;
  const int64_t start_ns = mono_ns();
  NodeRedProcess proc(paths.red_js, paths.settings, paths.user_dir, paths.log);
  if (!proc.started()) {
    r.error = "fork failed";
    return r;
  }
  uint64_t offset = 0;
  uint64_t lines = 0;
  int64_t first_ns = 0;
  int64_t done_ns = 0;
  double cpu_first = -1;
  bool died = false;
  const int64_t startup_deadline = start_ns + std::chrono::nanoseconds(o.startup_timeout).count();
  const int64_t deadline = startup_deadline + std::chrono::nanoseconds(o.timeout).count();
  while (mono_ns() < (first_ns == 0 ? startup_deadline : deadline)) {
    lines = count_lines(paths.out_file, &offset, lines);
    if (lines > 0 && first_ns == 0) {
      first_ns = mono_ns();
      cpu_first = process_cpu_seconds(proc.pid());
    }
    if (lines >= o.messages) {
      done_ns = mono_ns();
      break;
    }
    if (!proc.alive()) {
      died = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  const double cpu_done = died ? -1 : process_cpu_seconds(proc.pid());
  r.rss_mib = died ? 0 : process_peak_rss_mib(proc.pid());
  proc.stop();
  r.arrived = lines;
  if (done_ns == 0) {
    r.error = fmt::format(
        "only {} of {} queued messages arrived in Node-RED's file{}", lines, o.messages,
        died            ? " (Node-RED died: " + log_tail(paths.log) + ")"
        : first_ns == 0 ? " (nothing within the startup timeout: " + log_tail(paths.log) + ")"
                        : "");
    return r;
  }
  r.ok = true;
  r.startup_seconds = static_cast<double>(first_ns - start_ns) / 1e9;
  r.drain_seconds = static_cast<double>(done_ns - first_ns) / 1e9;
  r.seconds = static_cast<double>(done_ns - start_ns) / 1e9;
  r.cpu_s = cpu_first >= 0 && cpu_done >= 0 ? cpu_done - cpu_first : 0;
  return r;
}

}  // namespace sluice::bench
