// The `simulator` source: makes plausible plant data (sine, ramp, square, random walk and
// counter series) at a configured rate, so that Sluice can be run, demonstrated and
// benchmarked without equipment. It paces itself by the runtime's Clock, hands batches to
// SourceContext::ingest like every real source, and keeps to real time: when it falls more than
// a few seconds behind (a blocked store, an overloaded machine) it skips samples and says so
// in its health instead of catching up forever. The arithmetic is in generator.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/service.h"
#include "runtime/source_types.h"
#include "sources/simulator/generator.h"

namespace sluice::sources {

class SimulatorSource final : public runtime::Source {
 public:
  SimulatorSource(std::string name, SimulatorOptions options);

  std::string_view type() const override { return "simulator"; }
  Status start(runtime::SourceContext& ctx) override;

  // Samples skipped because the loop fell behind; thread-safe.
  uint64_t skipped_samples() const { return skipped_.load(std::memory_order_relaxed); }
  // Batches the store refused (the data of a simulator has no producer to hold it).
  uint64_t failed_batches() const { return failed_.load(std::memory_order_relaxed); }

 private:
  void on_ingest_failure(runtime::SourceContext& ctx, const Status& status, size_t samples);

  const SimulatorOptions options_;
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> failed_{0};
  int64_t last_failure_log_mono_ = 0;  // used by the source's own thread only
};

// The parsed keys of one simulator source.
class SimulatorSettings final : public runtime::SourceSettings {
 public:
  explicit SimulatorSettings(SimulatorOptions options) : options_(std::move(options)) {}
  const SimulatorOptions& options() const { return options_; }
  std::string summary() const override;
  Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override;

 private:
  SimulatorOptions options_;
};

// Reads the simulator's keys of a [[sources]] table (see docs/configuration.md).
std::shared_ptr<const runtime::SourceSettings> parse_simulator_settings(
    runtime::ConfigTable& table);

// Adds the "simulator" type to the catalogue.
void register_simulator(runtime::SourceTypes& types);

}  // namespace sluice::sources
