// Filters: what a source's data goes through between the source and the store (DESIGN.md,
// "Ingest"). A source's `[[sources.filters]]` tables make a chain, applied in order to every
// batch the source ingests, so every source gets them without knowing: scale/offset, rename,
// include/exclude by series. A filter changes the batch in place: it may change values or
// names, and drop samples (counted by the runtime). Deadband, rate limit and expression are
// more Filter types behind the same interface; they keep per-series state between batches.
//
// A FilterChain is used by one source's ingest; the runtime serializes calls to apply().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/sample.h"
#include "core/status.h"
#include "rules/expr.h"

namespace sluice::runtime {
class ConfigTable;
}  // namespace sluice::runtime

namespace sluice::ingest {

// Series names to match: exact names, or patterns with '*' for any run of characters
// ("Channel1.Device1.*", "*.Temperature"). Empty: every series.
class SeriesPatterns {
 public:
  SeriesPatterns() = default;
  explicit SeriesPatterns(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}
  bool matches(std::string_view series) const;
  bool all() const { return patterns_.empty(); }

 private:
  std::vector<std::string> patterns_;
};

// '*' glob match of one pattern.
bool glob_match(std::string_view pattern, std::string_view text);

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view type() const = 0;
  virtual void apply(Batch& batch) = 0;
};

class FilterChain {
 public:
  void add(std::unique_ptr<Filter> filter) { filters_.push_back(std::move(filter)); }
  bool empty() const { return filters_.empty(); }
  size_t size() const { return filters_.size(); }
  // Runs every filter in order; stops early when the batch is empty.
  void apply(Batch& batch);

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
};

// A parsed `[[sources.filters]]` list: makes a fresh chain for each source instance (filters may
// keep state, e.g. a deadband's last value).
class FilterChainSettings {
 public:
  using Factory = std::function<std::unique_ptr<Filter>()>;
  void add(std::string description, Factory factory);
  FilterChain make() const;
  bool empty() const { return factories_.empty(); }
  // One line per filter, e.g. "scale 0.1 +0 on Channel1.*", for `sluice validate`.
  const std::vector<std::string>& descriptions() const { return descriptions_; }

 private:
  std::vector<Factory> factories_;
  std::vector<std::string> descriptions_;
};

// Reads a source table's `filters` (an array of tables, each with a `type`: scale, rename,
// include, exclude, expression, deadband, rate_limit (or its alias downsample), and its keys;
// see docs/configuration.md). Errors go to the table with the
// filter's key path. Null when the source has no filters.
std::shared_ptr<const FilterChainSettings> parse_filters(runtime::ConfigTable& source_table);

// ---- the filter types --------------------------------------------------------------------

// value * factor + offset for numeric values of the matched series (an integer becomes a
// double unless factor and offset are whole numbers); bools and strings pass unchanged.
class ScaleFilter final : public Filter {
 public:
  ScaleFilter(double factor, double offset, SeriesPatterns series)
      : factor_(factor), offset_(offset), series_(std::move(series)) {}
  std::string_view type() const override { return "scale"; }
  void apply(Batch& batch) override;

 private:
  double factor_;
  double offset_;
  SeriesPatterns series_;
};

// Renames series: `from` is an exact name, or a prefix ending in '*' whose match is replaced
// by `to` (the rest of the name is kept): from "Channel1.Device1.*", to "press1." turns
// "Channel1.Device1.Temp" into "press1.Temp".
class RenameFilter final : public Filter {
 public:
  RenameFilter(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  std::string_view type() const override { return "rename"; }
  void apply(Batch& batch) override;

 private:
  std::string from_;
  std::string to_;
};

// Keeps (include) or drops (exclude) the samples of the matched series.
class SelectFilter final : public Filter {
 public:
  SelectFilter(bool keep_matches, SeriesPatterns series)
      : keep_matches_(keep_matches), series_(std::move(series)) {}
  std::string_view type() const override { return keep_matches_ ? "include" : "exclude"; }
  void apply(Batch& batch) override;

 private:
  bool keep_matches_;
  SeriesPatterns series_;
};

// Adds a datapoint computed from others (FogLAMP's expression filter): `name` = `expression`
// (rules/expr.h, see docs/expressions.md), whose names are datapoints of `asset` (series
// "<asset>.<name>"; without an asset they are whole series names, and so is `name`). After each
// run of consecutive samples with one timestamp that holds an input (a "reading"), once every
// input has had a numeric value, the new sample is inserted after the run, at that timestamp.
// Inputs keep their latest values across batches. Its quality is Good when every input's latest
// sample was Good, else the quality of the first input that was not. A NaN result is not added.
// Bools count as 1 and 0; strings are not inputs.
class ExpressionFilter final : public Filter {
 public:
  // `expression` must compile with one slot per entry of `inputs` (the series it reads, in slot
  // order); parse_filters() checks that.
  ExpressionFilter(std::string output, std::vector<std::string> inputs,
                   std::shared_ptr<const rules::Expression> expression);
  std::string_view type() const override { return "expression"; }
  void apply(Batch& batch) override;

 private:
  void emit(Timestamp ts, std::vector<Sample>& out) const;

  std::string output_;
  std::vector<std::string> inputs_;
  std::shared_ptr<const rules::Expression> expression_;
  std::vector<double> values_;
  std::vector<Quality> qualities_;
  std::vector<bool> known_;
  size_t known_count_ = 0;
};

// The most series a deadband or rate limit keeps state for. A sample of a series beyond it
// passes untouched (and is counted in untracked_samples()), so a source that makes up series
// names cannot grow the filter without bound.
inline constexpr size_t kMaxTrackedSeries = 100'000;

// Per-series state keyed by series name, found by a string_view without a copy.
struct SeriesNameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename T>
using SeriesMap = std::unordered_map<std::string, T, SeriesNameHash, std::equal_to<>>;

// Report by exception: a sample of a selected series passes only when it differs enough from
// the last sample of that series that PASSED (not the last one seen, so a slow drift is
// reported once it adds up). Numbers (int64 and double alike) differ enough when |new - last|
// is more than `absolute`, or more than `percent` % of |last|; with both, exceeding either one
// is enough. Always passes: a series' first sample, a quality code other than the last passed
// one's, a change of value type, and (with `max_interval` > 0) a sample at least max_interval
// after the last passed one by source time. Bools and strings pass when they change. NaN and
// infinities pass when they change: NaN after NaN is no change, NaN after a number is.
struct DeadbandSettings {
  std::optional<double> absolute;            // >= 0, in the value's unit
  std::optional<double> percent;             // >= 0, percent of the last passed value's magnitude
  std::chrono::nanoseconds max_interval{0};  // 0: no heartbeat
};

class DeadbandFilter final : public Filter {
 public:
  DeadbandFilter(DeadbandSettings settings, SeriesPatterns series,
                 size_t max_series = kMaxTrackedSeries);
  std::string_view type() const override { return "deadband"; }
  void apply(Batch& batch) override;
  // Samples passed untouched because kMaxTrackedSeries series were already tracked.
  uint64_t untracked_samples() const { return untracked_samples_; }

 private:
  struct Last {
    Value value;
    Quality quality;
    Timestamp ts;
  };
  bool keep(const Sample& s);
  bool outside_band(const Value& last, const Value& now) const;

  DeadbandSettings settings_;
  SeriesPatterns series_;
  size_t max_series_;
  SeriesMap<Last> last_;
  uint64_t untracked_samples_ = 0;
};

// What a rate limit keeps of each interval of a series.
enum class RateLimitMode : uint8_t {
  kFirst,    // the first sample, passed at once; the rest are dropped
  kLast,     // the last sample
  kAverage,  // the mean of the numbers, as a double stamped with the interval's start
  kMin,      // the sample with the smallest number (the first of equals)
  kMax,      // the sample with the largest number (the first of equals)
};

// At most one sample per selected series per `interval` of source time. Intervals are aligned
// to the Unix epoch (floor(ts / interval)), as OPC UA aggregates and time-series GROUP BY are.
// A sample whose interval differs from the series' current one, later or earlier (a clock set
// back), starts a new interval. kFirst passes a sample as it comes. The other modes hold what
// they keep and emit it when the interval closes: when the series' first sample of another
// interval arrives, so the output of a series lags by up to one interval plus the gap to its
// next sample, and what is held when the source stops is not emitted. The emitted sample goes
// where the closing sample was in the batch. Samples a mode cannot aggregate pass at once and
// are not part of the aggregate: Bad quality in every mode but kFirst, and in kAverage, kMin and
// kMax bools, strings, NaN and infinities too. The mean's quality is Good when every sample in
// it was Good, else that of the first that was not (Uncertain); kLast, kMin and kMax emit a
// sample as it came.
class RateLimitFilter final : public Filter {
 public:
  // `interval` must be > 0.
  RateLimitFilter(std::chrono::nanoseconds interval, RateLimitMode mode, SeriesPatterns series,
                  size_t max_series = kMaxTrackedSeries);
  std::string_view type() const override { return "rate_limit"; }
  void apply(Batch& batch) override;
  // Samples passed untouched because kMaxTrackedSeries series were already tracked.
  uint64_t untracked_samples() const { return untracked_samples_; }

 private:
  struct Slot {
    int64_t interval = 0;  // floor(ts / interval_) of the current interval
    bool passed = false;   // kFirst: this interval's sample has passed
    bool holding = false;  // the other modes: `held` is this interval's aggregate so far
    Sample held;
    double sum = 0;  // kAverage
    uint64_t count = 0;
    Quality quality = quality::kGood;
  };
  bool aggregable(const Sample& s) const;
  void hold(Slot& slot, Sample& s);
  void close(Slot& slot, std::vector<Sample>& out);

  int64_t interval_;  // nanoseconds, > 0
  RateLimitMode mode_;
  SeriesPatterns series_;
  size_t max_series_;
  SeriesMap<Slot> slots_;
  std::vector<Sample> out_;  // reused between batches
  uint64_t untracked_samples_ = 0;
};

}  // namespace sluice::ingest
