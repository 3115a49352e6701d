// The simulator source: its config keys, and the pacing loop that runs the generator against
// the runtime's clock and ingests each batch.
#include "sources/simulator/simulator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <regex>

#include "runtime/units.h"

namespace sluice::sources {
namespace {

using runtime::HealthState;

constexpr double kMinRate = (1.0 / 60) * (1 - 1e-9);  // one sample a minute (with rounding slack)
constexpr double kMaxRate = 10'000'000;
constexpr int64_t kMaxSeries = 1'000'000;
constexpr int64_t kMaxBatchSize = 1'000'000;
constexpr size_t kMaxAssetLength = 200;
constexpr int64_t kNsPerSecond = 1'000'000'000;
// A warning stays in the health this long after the problem was last seen.
constexpr int64_t kWarningHoldNs = 60 * kNsPerSecond;
// Repeated ingest failures are logged at most this often.
constexpr int64_t kFailureLogIntervalNs = 10 * kNsPerSecond;

}  // namespace

SimulatorSource::SimulatorSource(std::string name, SimulatorOptions options)
    : Source(std::move(name)), options_(std::move(options)) {}

Status SimulatorSource::start(runtime::SourceContext& ctx) {
  Clock& clock = ctx.clock();
  SimulatorGenerator generator(options_, clock.now());
  const Pacing pacing(options_.rate, options_.batch_size, options_.flush_interval);
  const Schedule& schedule = pacing.schedule();
  const int64_t start = clock.monotonic();
  int64_t last_problem = 0;
  bool warning = false;
  uint64_t emitted = 0;
  set_health(HealthState::kHealthy);

  while (!ctx.stopping()) {
    const int64_t now = clock.monotonic();
    const uint64_t due = schedule.count_due(now - start);
    if (due - emitted > pacing.max_backlog()) {
      const uint64_t skip = due - emitted - options_.batch_size;
      generator.skip(skip);
      emitted += skip;
      const uint64_t total = skipped_.fetch_add(skip, std::memory_order_relaxed) + skip;
      spdlog::warn(
          "source '{}': fell {} samples behind schedule and skipped them ({} in all); "
          "lower rate or series if this repeats",
          name(), skip, total);
      set_health(
          HealthState::kWarning,
          fmt::format("fell behind schedule and skipped {} samples; lower rate or series", total));
      warning = true;
      last_problem = now;
    }
    while (emitted < due && !ctx.stopping()) {
      const uint64_t n = std::min<uint64_t>(options_.batch_size, due - emitted);
      Batch batch;
      generator.generate(n, &batch);
      emitted += n;
      Result<store::AppendResult> r = ctx.ingest(std::move(batch));
      if (!r.ok()) {
        on_ingest_failure(ctx, r.status(), n);
        warning = true;
        last_problem = clock.monotonic();
      }
    }
    if (warning && clock.monotonic() - last_problem > kWarningHoldNs) {
      set_health(HealthState::kHealthy);
      warning = false;
    }
    if (!ctx.sleep_until(start + pacing.next_wake(emitted, clock.monotonic() - start))) break;
  }
  return Status::ok_status();
}

void SimulatorSource::on_ingest_failure(runtime::SourceContext& ctx, const Status& status,
                                        size_t samples) {
  // A simulator has no producer to push back on: the batch is lost, counted and reported.
  const uint64_t failed = failed_.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t now = ctx.clock().monotonic();
  if (failed == 1 || now - last_failure_log_mono_ >= kFailureLogIntervalNs) {
    spdlog::warn(
        "source '{}': the store refused a batch of {} samples ({} batches lost so far): "
        "{}",
        name(), samples, failed, status.to_string());
    last_failure_log_mono_ = now;
  }
  set_health(HealthState::kWarning,
             fmt::format("the store refused {} batches, last: {}", failed, status.message()));
}

std::string SimulatorSettings::summary() const {
  const SimulatorOptions& o = options_;
  std::string s = fmt::format("{} series {}.* ({}), {:g} samples/s", o.series, o.asset,
                              shape_name(o.shape), o.rate);
  s += fmt::format(", period {}, amplitude {:g}, offset {:g}", runtime::format_duration(o.period),
                   o.amplitude, o.offset);
  if (o.noise > 0) s += fmt::format(", noise {:g}", o.noise);
  s += o.decimals < 0 ? std::string(", unrounded") : fmt::format(", {} decimals", o.decimals);
  s += fmt::format(", batches of up to {} samples or {}", o.batch_size,
                   runtime::format_duration(o.flush_interval));
  return s;
}

Result<std::unique_ptr<runtime::Source>> SimulatorSettings::create(const std::string& name) const {
  return std::unique_ptr<runtime::Source>(std::make_unique<SimulatorSource>(name, options_));
}

std::shared_ptr<const runtime::SourceSettings> parse_simulator_settings(runtime::ConfigTable& t) {
  using std::chrono::nanoseconds;
  SimulatorOptions o;
  o.rate = t.number("rate", o.rate,
                    "a positive number of samples per second (over all series) from 1/60 "
                    "(0.0167, one a minute) to 10000000",
                    [](double v) { return v >= kMinRate && v <= kMaxRate; });
  o.series =
      static_cast<uint32_t>(t.integer("series", o.series, "a number of series from 1 to 1000000",
                                      [](int64_t v) { return v >= 1 && v <= kMaxSeries; }));
  o.asset =
      t.string("asset", o.asset, "an asset name of letters, digits, '_', '.' and '-' (at most 200)",
               [](const std::string& v) {
                 static const std::regex kPattern("[A-Za-z0-9_.-]+");
                 return v.size() <= kMaxAssetLength && std::regex_match(v, kPattern);
               });
  static constexpr Shape kShapes[] = {Shape::kSine,   Shape::kRamp,    Shape::kRandomWalk,
                                      Shape::kSquare, Shape::kCounter, Shape::kMixed};
  o.shape =
      kShapes[t.choice("shape", 5, {"sine", "ramp", "random_walk", "square", "counter", "mixed"})];
  o.period =
      t.duration("period", o.period, "a period from 1ms to 366d, e.g. \"60s\"", [](nanoseconds d) {
        return d >= std::chrono::milliseconds(1) && d <= std::chrono::hours(24 * 366);
      });
  o.amplitude =
      t.number("amplitude", o.amplitude, "a number >= 0", [](double v) { return v >= 0; });
  o.offset = t.number("offset", o.offset, "a number");
  o.noise = t.number("noise", o.noise, "a standard deviation >= 0 (0 for no noise)",
                     [](double v) { return v >= 0; });
  o.decimals = static_cast<int>(t.integer(
      "decimals", o.decimals, "a number of decimal places from 0 to 15, or -1 for no rounding",
      [](int64_t v) { return v >= -1 && v <= 15; }));
  o.batch_size = static_cast<uint32_t>(
      t.integer("batch_size", o.batch_size, "a number of samples per batch from 1 to 1000000",
                [](int64_t v) { return v >= 1 && v <= kMaxBatchSize; }));
  o.flush_interval =
      t.duration("flush_interval", o.flush_interval, "a duration from 1ms to 1h, e.g. \"100ms\"",
                 [](nanoseconds d) {
                   return d >= std::chrono::milliseconds(1) && d <= std::chrono::hours(1);
                 });
  o.seed = static_cast<uint64_t>(t.integer("seed", static_cast<int64_t>(o.seed), "an integer >= 0",
                                           [](int64_t v) { return v >= 0; }));
  return std::make_shared<const SimulatorSettings>(std::move(o));
}

void register_simulator(runtime::SourceTypes& types) {
  types.add({"simulator", parse_simulator_settings});
}

}  // namespace sluice::sources
