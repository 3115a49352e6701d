// Edge control benchmark (issue 7), in one process with the real runtime, store, rules engine
// and control dispatcher (`sluice run`'s control plane):
//
// 1. Control latency: a source ingests one sample at a time, alternating 40 and 30, on a
//    threshold rule (> 35) with a toggled notification whose set point delivery writes fan =
//    true / false back to the same source. Every sample therefore causes one write. Measured:
//    from just before SourceContext::ingest() (the sample entering Sluice) to the entry of the
//    source's write() (the set point leaving Sluice for the device), p50/p99/max over N
//    triggers. The store syncs every batch as configured (fsync ~140 µs here); the rules see
//    the sample before the append, so the sync is not in the path. FogLAMP's default south
//    buffering alone holds readings up to 5 s; that is the figure to compare with.
// 2. Rule throughput: the engine alone (Engine::process) through 1,000 threshold rules, one per
//    series, and end to end: a source ingesting batches of 1,000 samples through 100 expression
//    filters into the store with those 1,000 rules watching, against the same ingest with no
//    filters and no rules in the same run (the ratio is the cost of filters and rules).
//
// Usage: control_e2e [triggers=100000] [throughput batches=2000]
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "cli/builtin_sources.h"
#include "control/control_plane.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kT0 = 1'700'000'000'000'000'000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// What the bench source does, set by main before the runtime starts it.
struct Plan {
  enum class Kind { kLatency, kThroughput } kind = Kind::kLatency;
  int triggers = 0;
  int batches = 0;
  int series = 1000;
  std::vector<int64_t> sent_ns;     // latency: when sample i entered
  std::vector<int64_t> written_ns;  // latency: when write i arrived
  std::mutex mu;
  std::condition_variable cv;
  int writes = 0;  // guarded by mu
  std::atomic<bool> done{false};
  int64_t ingest_start = 0;
  int64_t ingest_end = 0;
};
Plan* g_plan = nullptr;

class BenchSource final : public runtime::Source {
 public:
  using Source::Source;
  std::string_view type() const override { return "bench"; }
  std::vector<runtime::ControlPoint> control_points() const override {
    return {{"fan", runtime::ControlPoint::Kind::kSetPoint, ValueType::kBool, "the bench's fan"}};
  }
  Status write(std::string_view, const Value&) override {
    const int64_t t = now_ns();
    std::lock_guard lock(g_plan->mu);
    if (g_plan->writes < static_cast<int>(g_plan->written_ns.size())) {
      g_plan->written_ns[g_plan->writes] = t;
    }
    ++g_plan->writes;
    g_plan->cv.notify_all();
    return Status::ok_status();
  }
  Status start(runtime::SourceContext& ctx) override {
    Plan& p = *g_plan;
    if (p.kind == Plan::Kind::kLatency) {
      for (int i = 0; i < p.triggers && !ctx.stopping(); ++i) {
        Batch b;
        b.samples.push_back(Sample{"Bench.temperature", kT0 + int64_t{i} * 1'000'000,
                                   i % 2 == 0 ? 40.0 : 30.0, quality::kGood});
        p.sent_ns[i] = now_ns();
        auto r = ctx.ingest(std::move(b));
        if (!r.ok()) return r.status();
        std::unique_lock lock(p.mu);
        if (!p.cv.wait_for(lock, std::chrono::seconds(5), [&] { return p.writes > i; })) {
          return Status(Code::kTimeout, fmt::format("no write for trigger {}", i));
        }
      }
    } else {
      p.ingest_start = now_ns();
      for (int i = 0; i < p.batches && !ctx.stopping(); ++i) {
        Batch b;
        b.samples.reserve(p.series);
        for (int s = 0; s < p.series; ++s) {
          b.samples.push_back(Sample{fmt::format("A.s{}", s), kT0 + int64_t{i} * 1'000'000,
                                     static_cast<double>((i + s) % 100), quality::kGood});
        }
        auto r = ctx.ingest(std::move(b), {.wait_durable = false});
        if (!r.ok()) return r.status();
      }
      p.ingest_end = now_ns();
    }
    p.done = true;
    while (!ctx.stopping()) ctx.sleep_until(ctx.clock().monotonic() + 10'000'000);
    return Status::ok_status();
  }
};

runtime::SourceTypes bench_types() {
  class Settings final : public runtime::SourceSettings {
   public:
    std::string summary() const override { return "the benchmark's source"; }
    Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override {
      return std::unique_ptr<runtime::Source>(std::make_unique<BenchSource>(name));
    }
  };
  runtime::SourceTypes t = cli::builtin_source_types();
  t.add({"bench", [](runtime::ConfigTable&) { return std::make_shared<Settings>(); }});
  return t;
}

struct Run {
  std::unique_ptr<runtime::Runtime> rt;
  std::unique_ptr<control::ControlPlane> cp;
};

Run start(const std::string& text, const runtime::SourceTypes& types) {
  auto config = runtime::parse_config(text, "/tmp/control_e2e.toml", types);
  if (!config.ok()) throw std::runtime_error(config.status().message());
  auto rt = runtime::Runtime::open(*config, {.config_text = text, .types = &types});
  if (!rt.ok()) throw std::runtime_error(rt.status().message());
  Run run;
  run.rt = std::move(rt).value();
  auto cp = control::ControlPlane::open(*run.rt, *config);
  if (!cp.ok()) throw std::runtime_error(cp.status().message());
  run.cp = std::move(cp).value();
  if (Status s = run.rt->start(); !s.ok()) throw std::runtime_error(s.message());
  run.cp->start();
  return run;
}

void stop(Run& run) {
  run.cp->stop();
  (void)run.rt->stop();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void latency(int triggers, const runtime::SourceTypes& types, const std::string& dir) {
  Plan plan;
  plan.triggers = triggers;
  plan.sent_ns.resize(triggers);
  plan.written_ns.resize(triggers);
  g_plan = &plan;
  const std::string text = fmt::format(R"(
[store]
dir = "{}/latency"
sync = "every_batch"
[[sources]]
name = "bench"
type = "bench"
[[rules]]
name = "hot"
type = "threshold"
series = "Bench.temperature"
threshold = 35
[[notifications]]
name = "fan"
rule = "hot"
type = "toggled"
[[notifications.deliveries]]
type = "set_point"
service = "bench"
trigger_values = {{ fan = true }}
cleared_values = {{ fan = false }}
)",
                                       dir);
  Run run = start(text, types);
  while (!plan.done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop(run);
  std::vector<double> us;
  for (int i = 0; i < triggers; ++i) {
    if (plan.written_ns[i] > 0) us.push_back((plan.written_ns[i] - plan.sent_ns[i]) / 1e3);
  }
  fmt::print("control latency, sample in -> set point write out, {} triggers ({} writes):\n",
             triggers, us.size());
  fmt::print("  p50 {:.1f} us   p90 {:.1f} us   p99 {:.1f} us   p99.9 {:.1f} us   max {:.1f} us\n",
             percentile(us, 0.5), percentile(us, 0.9), percentile(us, 0.99),
             percentile(us, 0.999), percentile(us, 1.0));
}

std::string rules_text(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += fmt::format(
        "[[rules]]\nname = \"r{0}\"\ntype = \"threshold\"\nseries = \"A.s{0}\"\nthreshold = 98\n"
        "[[notifications]]\nname = \"n{0}\"\nrule = \"r{0}\"\ntype = \"toggled\"\n"
        "[[notifications.deliveries]]\ntype = \"log\"\nlevel = \"info\"\n",
        i);
  }
  return out;
}

std::string filters_text(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += fmt::format(
        "[[sources.filters]]\ntype = \"expression\"\nasset = \"A\"\nname = \"x{0}\"\n"
        "expression = \"s{0} > 20 ? s{0} * 50 + 1200 : 0\"\n",
        i);
  }
  return out;
}

double throughput_run(int batches, bool with_rules, const runtime::SourceTypes& types,
                      const std::string& dir, uint64_t* engine_samples) {
  Plan plan;
  plan.kind = Plan::Kind::kThroughput;
  plan.batches = batches;
  g_plan = &plan;
  const std::string text =
      fmt::format("[store]\ndir = \"{}/tp{}\"\nsync = \"interval\"\n[[sources]]\nname = "
                  "\"bench\"\ntype = \"bench\"\n{}{}",
                  dir, with_rules ? 1 : 0, with_rules ? filters_text(100) : "",
                  with_rules ? rules_text(1000) : "");
  Run run = start(text, types);
  while (!plan.done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const uint64_t total = static_cast<uint64_t>(batches) * (plan.series + (with_rules ? 100 : 0));
  // The engine has seen everything when its count reaches what was ingested.
  const int64_t wait_end = now_ns() + 60'000'000'000;
  while (with_rules && run.cp->engine().stats().samples < total && now_ns() < wait_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const int64_t end = std::max(plan.ingest_end, with_rules ? now_ns() : plan.ingest_end);
  *engine_samples = run.cp->engine().stats().samples;
  stop(run);
  return static_cast<double>(batches) * plan.series / ((end - plan.ingest_start) / 1e9);
}

void throughput(int batches, const runtime::SourceTypes& types, const std::string& dir) {
  // The engine alone.
  {
    runtime::LiveTap tap;
    ManualClock clock;
    control::Engine engine(tap, nullptr, clock, nullptr);
    std::vector<control::RuleDef> rules;
    std::vector<control::NotificationDef> notes;
    for (int i = 0; i < 1000; ++i) {
      control::RuleDef r;
      r.name = fmt::format("r{}", i);
      r.series = {fmt::format("A.s{}", i)};
      r.threshold = 98;
      rules.push_back(r);
      control::NotificationDef n;
      n.name = fmt::format("n{}", i);
      n.rule = r.name;
      control::DeliveryDef d;
      d.level = "info";
      d.text = "x";
      n.deliveries.push_back(d);
      notes.push_back(n);
    }
    if (Status s = engine.set_definitions(rules, notes); !s.ok()) {
      throw std::runtime_error(s.message());
    }
    spdlog::set_level(spdlog::level::warn);
    std::vector<runtime::LiveSample> batch;
    for (int s = 0; s < 1000; ++s) {
      batch.push_back({"bench", Sample{fmt::format("A.s{}", s), kT0, 0.0, quality::kGood}});
    }
    const int rounds = batches;
    const int64_t t0 = now_ns();
    for (int i = 0; i < rounds; ++i) {
      for (int s = 0; s < 1000; ++s) {
        batch[s].sample.ts = kT0 + int64_t{i} * 1'000'000;
        batch[s].sample.value = static_cast<double>((i + s) % 100);
      }
      engine.process(batch);
    }
    const double secs = (now_ns() - t0) / 1e9;
    fmt::print("engine alone, 1,000 threshold rules: {:.0f} samples/s ({:.0f} ns/sample)\n",
               rounds * 1000.0 / secs, secs * 1e9 / (rounds * 1000.0));
  }
  uint64_t seen = 0;
  const double base = throughput_run(batches, false, types, dir, &seen);
  const double full = throughput_run(batches, true, types, dir, &seen);
  fmt::print("end to end, batches of 1,000 samples into the store (sync every 100 ms):\n");
  fmt::print("  no filters, no rules:                       {:.0f} samples/s\n", base);
  fmt::print("  100 expression filters + 1,000 rules:       {:.0f} samples/s (ratio {:.2f}; "
             "engine saw {} samples)\n",
             full, full / base, seen);
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  const int triggers = argc > 1 ? std::atoi(argv[1]) : 100'000;
  const int batches = argc > 2 ? std::atoi(argv[2]) : 2'000;
  spdlog::set_level(spdlog::level::warn);
  const std::string dir = std::filesystem::temp_directory_path() /
                          fmt::format("sluice-control-e2e-{}", getpid());
  std::filesystem::remove_all(dir);
  const sluice::runtime::SourceTypes types = sluice::bench_types();
  try {
    sluice::latency(triggers, types, dir);
    sluice::throughput(batches, types, dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "control_e2e: %s\n", e.what());
    std::filesystem::remove_all(dir);
    return 1;
  }
  std::filesystem::remove_all(dir);
  return 0;
}
