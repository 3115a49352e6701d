// OPC UA end-to-end benchmark (issue 6): value changes per second that Sluice's `opcua` source
// receives from a node-opcua server publishing N monitored items (default 10,000) changing every
// 100 ms, with Sluice's CPU and RSS while it does; compared in the same run with node-opcua's own
// client subscribing to the same items (bench/opcua_client_count.mjs), since the server on the
// same two cores sets the ceiling for both.
//
//   ninja -C build opcua_e2e && build/bench/opcua_e2e [--items N] [--interval MS]
//                                                    [--warmup S] [--seconds S]
//
// Sluice runs as the real binary (`sluice run`) with an [api] on a free port; the changes it
// received are the difference of sluice_source_samples_total (/metrics) over the window, its CPU
// and RSS come from /proc. One markdown report on stdout.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "bench_process.h"
#include "bench_util.h"
#include "fixtures/opcua_peer.h"
#include "fixtures/test_support.h"

namespace sluice::bench {
namespace {

struct Args {
  int items = 10'000;
  int interval_ms = 100;
  int warmup_s = 15;
  int seconds = 30;
};

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--items")
      a.items = v;
    else if (k == "--interval")
      a.interval_ms = v;
    else if (k == "--warmup")
      a.warmup_s = v;
    else if (k == "--seconds")
      a.seconds = v;
  }
  return a;
}

struct Figures {
  double changes_per_s = 0;
  double cpu_seconds = 0;   // of the client over the window
  double server_cpu_s = 0;  // of the node-opcua server over the window
  double rss_mib = 0;
  double hwm_mib = 0;
};

Figures run_sluice(const Args& a, testing::OpcuaServer& server, const std::string& dir) {
  const int api_port = free_port();
  const std::string config = dir + "/sluice.toml";
  std::ofstream(config) << fmt::format(R"([store]
dir = "{}/data"
[log]
status_interval = 0
[api]
listen = "127.0.0.1:{}"
[[sources]]
name = "plc"
type = "opcua"
endpoint = "{}"
publishing_interval = "{}ms"
sampling_interval = "{}ms"
queue_size = 1
max_items = {}
[[sources.browse]]
root = "ns=1;s=Load"
)",
                                       dir, api_port, server.endpoint_url(), a.interval_ms,
                                       a.interval_ms, a.items + 10);
  const pid_t pid = spawn_sluice(SLUICE_BINARY, config, dir + "/sluice.log");
  std::this_thread::sleep_for(std::chrono::seconds(a.warmup_s));
  const auto m0 = scrape(api_port);
  const double cpu0 = proc_cpu_seconds(pid);
  const double server0 = proc_cpu_seconds(server.pid());
  const int64_t t0 = mono_ns();
  std::this_thread::sleep_for(std::chrono::seconds(a.seconds));
  const auto m1 = scrape(api_port);
  const double seconds = static_cast<double>(mono_ns() - t0) / 1e9;
  Figures f;
  f.cpu_seconds = proc_cpu_seconds(pid) - cpu0;
  f.server_cpu_s = proc_cpu_seconds(server.pid()) - server0;
  f.rss_mib = proc_status_mib(pid, "VmRSS");
  f.hwm_mib = proc_status_mib(pid, "VmHWM");
  const std::string key = "sluice_source_samples_total{source=\"plc\"}";
  if (m0 && m1) f.changes_per_s = (metric(*m1, key) - metric(*m0, key)) / seconds;
  stop_process(pid);
  if (!m0 || !m1)
    std::fprintf(stderr, "could not scrape Sluice's /metrics; see %s/sluice.log\n", dir.c_str());
  return f;
}

Figures run_node_client(const Args& a, testing::OpcuaServer& server) {
  const std::string script = std::string(SLUICE_SOURCE_DIR) + "/bench/opcua_client_count.mjs";
  const double server0 = proc_cpu_seconds(server.pid());
  const testing::CommandResult r = testing::run_command(
      fmt::format("node '{}' --endpoint '{}' --items {} --interval {} --warmup {} --seconds {}",
                  script, server.endpoint_url(), a.items, a.interval_ms, a.warmup_s, a.seconds));
  Figures f;
  const size_t brace = r.output.rfind("{\"changes\"");
  if (r.exit_code != 0 || brace == std::string::npos) {
    std::fprintf(stderr, "node-opcua client failed:\n%s\n", r.output.c_str());
    return f;
  }
  double changes = 0, seconds = 1, cpu = 0;
  std::sscanf(r.output.c_str() + brace, "{\"changes\":%lf,\"seconds\":%lf,\"cpu_seconds\":%lf",
              &changes, &seconds, &cpu);
  f.changes_per_s = changes / seconds;
  f.cpu_seconds = cpu;
  // The server's CPU over the whole client run (warm-up included), scaled to the window.
  f.server_cpu_s =
      (proc_cpu_seconds(server.pid()) - server0) * a.seconds / (a.seconds + a.warmup_s);
  return f;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;  // NOLINT(google-build-using-namespace)
  const Args a = parse_args(argc, argv);
  sluice::testing::TempDir dir;
  const std::string server_dir = dir.path() + "/server";
  std::filesystem::create_directories(server_dir);
  sluice::testing::OpcuaServer server(server_dir, {.items = a.items, .interval_ms = a.interval_ms});
  const double published = a.items * 1000.0 / a.interval_ms;

  const Figures sluice = run_sluice(a, server, dir.path());
  const Figures node = run_node_client(a, server);
  kill_children();

  const double window = a.seconds;
  fmt::print("## OPC UA subscription: {} monitored items at {} ms ({})\n\n", a.items, a.interval_ms,
             utc_now());
  fmt::print("Load average at the end: {}. Server: node-opcua {} on the same 2 cores.\n\n",
             load_average(), "2.182.2");
  fmt::print(
      "| client | value changes/s | of the {:.0f}/s the items make | client CPU % | "
      "CPU µs per change | server CPU % | RSS (peak) |\n|---|---|---|---|---|---|---|\n",
      published);
  auto row = [&](const char* name, const Figures& f, bool rss) {
    fmt::print(
        "| {} | {} | {:.1f} % | {:.1f} % | {:.2f} | {:.1f} % | {} |\n", name,
        with_commas(f.changes_per_s), 100.0 * f.changes_per_s / published,
        100.0 * f.cpu_seconds / window,
        f.changes_per_s > 0 ? 1e6 * f.cpu_seconds / (f.changes_per_s * window) : 0.0,
        100.0 * f.server_cpu_s / window,
        rss ? fmt::format("{:.0f} MiB ({:.0f} MiB)", f.rss_mib, f.hwm_mib) : std::string("-"));
  };
  row("Sluice `opcua` source", sluice, true);
  row("node-opcua client", node, false);
  fmt::print("\nRatio Sluice / node-opcua client (changes/s, same run): {:.2f}\n",
             node.changes_per_s > 0 ? sluice.changes_per_s / node.changes_per_s : 0.0);
  return 0;
}
