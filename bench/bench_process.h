// What the end-to-end benchmarks that run real processes share: free loopback ports, child
// processes (the sluice binary and peers) that die with the bench, their CPU time and RSS from
// /proc, and a scrape of a Sluice's /metrics over plain HTTP.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace sluice::bench {

inline std::string first_line_with(const char* file, std::string_view prefix) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(prefix)) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

inline std::string with_commas(double v) {
  std::string digits = fmt::format("{:.0f}", v);
  std::string out;
  const size_t start = digits.starts_with('-') ? 1 : 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// ---- /proc figures of a child ---------------------------------------------------------------

// utime + stime of a running process, in seconds (0 if it is gone).
inline double proc_cpu_seconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(close_paren + 2));
  std::string f;
  double utime = 0, stime = 0;
  // Fields from 3 (state); utime is field 14 and stime 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stod(f);
    if (i == 15) stime = std::stod(f);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A field of /proc/<pid>/status in MiB ("VmRSS", "VmHWM"); 0 if absent.
inline double proc_status_mib(pid_t pid, std::string_view field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::stod(line.substr(field.size() + 1)) / 1024.0;  // kB
    }
  }
  return 0;
}

// ---- Child processes ------------------------------------------------------------------------

inline std::set<pid_t>& children() {
  static std::set<pid_t> pids;
  return pids;
}

inline void kill_children() {
  for (const pid_t pid : children()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  children().clear();
}

// `sluice run -c config`, stdout and stderr appended to `log`; dies with the bench.
inline pid_t spawn_sluice(const std::string& binary, const std::string& config,
                          const std::string& log) {
  const pid_t parent = getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid != 0) {
    if (pid > 0) children().insert(pid);
    return pid;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
  }
  execl(binary.c_str(), binary.c_str(), "run", "-c", config.c_str(), static_cast<char*>(nullptr));
  _exit(127);
}

// SIGTERM (graceful: the store is synced and closed), SIGKILL after 60 s. The exit code, or -1.
inline int stop_process(pid_t pid) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 6000; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      children().erase(pid);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  children().erase(pid);
  return -1;
}

inline bool exited(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) {
    children().erase(pid);
    return true;
  }
  return false;
}

// ---- /metrics over plain HTTP ---------------------------------------------------------------

// GET path from 127.0.0.1:port; the status code and the body (0 if unreachable).
inline std::pair<int, std::string> http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {0, ""};
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return {0, ""};
  }
  const std::string req =
      fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return {0, ""};
  }
  std::string resp;
  char buf[16384];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (!resp.starts_with("HTTP/1.1 ") || resp.size() < 12) return {0, ""};
  const int code = std::atoi(resp.c_str() + 9);
  const size_t body = resp.find("\r\n\r\n");
  return {code, body == std::string::npos ? "" : resp.substr(body + 4)};
}

// One scrape: "name{labels}" → value.
using Metrics = std::map<std::string, double>;

inline std::optional<Metrics> scrape(int port) {
  auto [code, body] = http_get(port, "/metrics");
  if (code != 200) return std::nullopt;
  Metrics m;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    m[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return m;
}

inline double metric(const Metrics& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

}  // namespace sluice::bench
