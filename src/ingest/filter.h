// Filters: what a source's data goes through between the source and the store (DESIGN.md,
// "Ingest"). A source's `[[sources.filters]]` tables make a chain, applied in order to every
// batch the source ingests, so every source gets them without knowing: scale/offset, rename,
// include/exclude by series. A filter changes the batch in place: it may change values or
// names, and drop samples (counted by the runtime). Later filters (deadband, rate limit,
// expressions) are more Filter types behind the same interface.
//
// A FilterChain is used by one source's ingest; the runtime serializes calls to apply().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
// include, exclude, and its keys; see docs/configuration.md). Errors go to the table with the
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

}  // namespace sluice::ingest
