// End-to-end benchmark of the modbus source against the pymodbus server of the tests
// (tests/fixtures/modbus_server.py, Debian's python3-pymodbus): reads/s and samples/s for
// (a) 1,000 holding registers as uint16 and (b) 500 float32 in input registers, each in one
// poll group polled as fast as the server answers (interval 0), compared in the same run with a
// plain libmodbus loop that sends the same requests on one connection: the ceiling the server
// sets. Also Sluice's CPU per sample (this process's CPU time: the source's poll thread and a
// context that only counts the samples; the server is another process).
//
//   modbus_e2e [--seconds N] [--rounds R]   (default 10 s per client and workload, in 5
//   alternating rounds)
#include <fcntl.h>
#include <fmt/format.h>
#include <modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "sources/modbus/modbus_source.h"

namespace sluice::bench {
namespace {

using sources::modbus::DataType;
using sources::modbus::Table;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The pymodbus server, started with /usr/bin/python3; killed by the destructor.
class Server {
 public:
  Server() : port_(free_port()), log_(fmt::format("/tmp/modbus_e2e_server.{}.log", port_)) {
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::execl("/usr/bin/python3", "python3", SLUICE_MODBUS_SERVER, port.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 1500; ++i) {
      std::ifstream in(log_);
      std::stringstream s;
      s << in.rdbuf();
      if (s.str().find("READY") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::fprintf(stderr, "the Modbus server did not start; see %s\n", log_.c_str());
    std::exit(1);
  }
  ~Server() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::unlink(log_.c_str());
  }
  int port() const { return port_; }

 private:
  int port_;
  std::string log_;
  pid_t pid_ = -1;
};

// Counts what the source ingests; nothing is stored.
class CountingContext final : public runtime::SourceContext {
 public:
  using SourceContext::ingest;
  Result<store::AppendResult> ingest(Batch&& batch, store::AppendOptions) override {
    samples.fetch_add(batch.size(), std::memory_order_relaxed);
    for (const Sample& s : batch.samples) {
      if (!quality::is_good(s.quality)) bad.fetch_add(1, std::memory_order_relaxed);
    }
    return store::AppendResult{};
  }
  uint64_t wait_durable(uint64_t end_seq, std::chrono::milliseconds) override { return end_seq; }
  Clock& clock() override { return SystemClock::instance(); }
  bool stopping() const override { return stop_.stop_requested(); }
  std::stop_token stop_token() const override { return stop_.get_token(); }
  bool sleep_until(int64_t monotonic_ns) override {
    std::unique_lock lock(mu_);
    std::stop_token token = stop_.get_token();
    cv_.wait_for(lock, token, std::chrono::nanoseconds(monotonic_ns - clock().monotonic()),
                 [] { return false; });
    return !stop_.stop_requested();
  }
  void request_stop() { stop_.request_stop(); }

  std::atomic<uint64_t> samples{0};
  std::atomic<uint64_t> bad{0};

 private:
  std::stop_source stop_;
  std::mutex mu_;
  std::condition_variable_any cv_;
};

struct Workload {
  std::string name;
  Table table;
  DataType type;
  int items;
};

// One measurement's totals; rounds add up.
struct Figures {
  double seconds = 0;
  double reads = 0;
  double samples = 0;
  double cpu_s = 0;
  uint64_t bad = 0;

  void add(const Figures& o) {
    seconds += o.seconds;
    reads += o.reads;
    samples += o.samples;
    cpu_s += o.cpu_s;
    bad += o.bad;
  }
  double reads_per_s() const { return reads / seconds; }
  double samples_per_s() const { return samples / seconds; }
  double cpu_us_per_sample() const { return cpu_s * 1e6 / samples; }
};

sources::modbus::ModbusOptions options_for(const Workload& w, int port) {
  sources::modbus::DeviceOptions d;
  d.name = "bench";
  d.host = "127.0.0.1";
  d.port = port;
  d.plan.max_gap = 0;
  d.map.groups.push_back({"", std::chrono::nanoseconds{0}});  // as fast as the server answers
  for (int i = 0; i < w.items; ++i) {
    sources::modbus::Item item;
    item.asset = "bench";
    item.name = fmt::format("r{}", i);
    item.series = "bench." + item.name;
    item.enc.table = w.table;
    item.enc.type = w.type;
    item.enc.address = static_cast<uint16_t>(i * sources::modbus::registers_of(w.type, 0));
    d.map.items.push_back(std::move(item));
  }
  sources::modbus::ModbusOptions o;
  o.devices.push_back(std::move(d));
  return o;
}

Figures run_sluice(const Workload& w, int port, double seconds) {
  sources::ModbusSource source("bench", options_for(w, port));
  CountingContext ctx;
  std::thread t([&] { (void)source.start(ctx); });
  // Warm-up: the first poll (connect) is not measured.
  while (ctx.samples.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const uint64_t r0 = source.counters().requests;
  const uint64_t s0 = ctx.samples.load();
  const double c0 = cpu_seconds_self();
  const int64_t t0 = mono_ns();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const int64_t t1 = mono_ns();
  const uint64_t r1 = source.counters().requests;
  const uint64_t s1 = ctx.samples.load();
  const double c1 = cpu_seconds_self();
  ctx.request_stop();
  source.stop();
  t.join();
  Figures f;
  f.seconds = static_cast<double>(t1 - t0) / 1e9;
  f.reads = static_cast<double>(r1 - r0);
  f.samples = static_cast<double>(s1 - s0);
  f.cpu_s = c1 - c0;
  f.bad = ctx.bad.load();
  return f;
}

// The same requests as the source's plan, sent by a plain libmodbus loop on one connection.
Figures run_plain(const Workload& w, int port, double seconds) {
  const sources::modbus::ModbusOptions o = options_for(w, port);
  const sources::modbus::DeviceOptions& d = o.devices[0];
  std::vector<size_t> all(d.map.items.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const std::vector<sources::modbus::ReadRequest> plan =
      sources::modbus::plan_reads(d.map.items, all, d.plan);
  modbus_t* m = modbus_new_tcp("127.0.0.1", port);
  if (modbus_connect(m) != 0) {
    std::fprintf(stderr, "plain libmodbus: cannot connect\n");
    std::exit(1);
  }
  std::vector<uint16_t> regs(125);
  uint64_t reads = 0;
  uint64_t values = 0;
  const double c0 = cpu_seconds_self();
  const int64_t t0 = mono_ns();
  const int64_t end = t0 + static_cast<int64_t>(seconds * 1e9);
  while (mono_ns() < end) {
    for (const sources::modbus::ReadRequest& r : plan) {
      const int n = r.table == Table::kInputRegister
                        ? modbus_read_input_registers(m, r.address, r.count, regs.data())
                        : modbus_read_registers(m, r.address, r.count, regs.data());
      if (n != r.count) {
        std::fprintf(stderr, "plain libmodbus: %s\n", modbus_strerror(errno));
        std::exit(1);
      }
      ++reads;
      values += r.items.size();
    }
  }
  const int64_t t1 = mono_ns();
  const double c1 = cpu_seconds_self();
  modbus_close(m);
  modbus_free(m);
  Figures f;
  f.seconds = static_cast<double>(t1 - t0) / 1e9;
  f.reads = static_cast<double>(reads);
  f.samples = static_cast<double>(values);
  f.cpu_s = c1 - c0;
  return f;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  double seconds = 10;
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: modbus_e2e [--seconds N] [--rounds R]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  std::printf("modbus_e2e: %s, load %s, %g s per client and workload in %d rounds\n",
              utc_now().c_str(), load_average().c_str(), seconds, rounds);
  Server server;
  const Workload workloads[] = {
      {"1000 x uint16 (holding registers 0-999)", Table::kHoldingRegister, DataType::kUint16, 1000},
      {"500 x float32 (input registers 0-999)", Table::kInputRegister, DataType::kFloat32, 500},
  };
  std::printf("%-42s %-15s %9s %12s %14s %6s\n", "workload", "client", "reads/s", "samples/s",
              "CPU us/sample", "ratio");
  // The machine is shared: plain and sluice alternate in short rounds so that both see the
  // same background load, and the totals of all rounds are compared.
  for (const Workload& w : workloads) {
    Figures plain;
    Figures sluice;
    for (int round = 0; round < rounds; ++round) {
      plain.add(run_plain(w, server.port(), seconds / rounds));
      sluice.add(run_sluice(w, server.port(), seconds / rounds));
    }
    std::printf("%-42s %-15s %9.0f %12.0f %14.2f %6s\n", w.name.c_str(), "plain libmodbus",
                plain.reads_per_s(), plain.samples_per_s(), plain.cpu_us_per_sample(), "");
    std::printf("%-42s %-15s %9.0f %12.0f %14.2f %6.2f\n", w.name.c_str(), "sluice",
                sluice.reads_per_s(), sluice.samples_per_s(), sluice.cpu_us_per_sample(),
                sluice.reads_per_s() / plain.reads_per_s());
    if (sluice.bad > 0) {
      std::printf("  (%llu Bad samples)\n", static_cast<unsigned long long>(sluice.bad));
    }
  }
  return 0;
}
