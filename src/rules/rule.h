// Rules: the tests the rules engine applies to the live stream. A rule watches one or more series
// (`Asset.datapoint` names), is fed their samples in ingest order, and answers each sample (and,
// for rules that depend on the absence of data, each clock tick) with an Evaluation: triggered
// or not, with the values that made it so, for the notification that owns the rule (see
// notification.h) and for substitution into deliveries (see substitution.h).
//
// This file is the pure logic: no threads, no clock, no I/O. The engine that subscribes to the
// live tap, routes samples to rules and ticks them is built on top of it.
//
// Common contract of every rule here:
// - Samples are evaluated one at a time, in the order given, so that a spike inside a batch is
//   seen even when the batch ends below the threshold (observe(const Batch&, ...) does exactly
//   this for a whole batch).
// - A sample of a series the rule does not watch is ignored (no evaluation).
// - A sample older than the latest sample of its series (source timestamp) is skipped and
//   counted: windows and rates need time to move forward. Equal timestamps are accepted.
// - Value rules (threshold, out of range, rate of change, expression) skip Bad-quality samples;
//   Good and Uncertain samples are evaluated. They use numbers only: double, int64 and bool
//   (true = 1, false = 0); strings, NaN and infinities are skipped (a NaN cannot be compared, and
//   an infinity would poison a window's running sum). Each skip is counted.
// - Windows are time-based on the samples' source timestamps: a window of length L evaluated at
//   a sample of time t holds the samples of times in (t - L, t]; a sample exactly L older than
//   the newest has left. A window is evaluated from its first sample on (it need not be full).
//   Windows move with sample time only: a tick does not empty them (a silent series is the
//   deadman rule's job).
// - Thread safety: none; a rule is fed by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"
#include "core/status.h"

namespace sluice::rules {

inline constexpr int64_t kNanosPerSecond = 1'000'000'000;

// A value that made an evaluation come out as it did, named by series: the sample's value, or
// the window's min/max/average when the rule used one. What `$Asset.datapoint$` is replaced by.
struct NamedValue {
  std::string series;
  Value value = 0.0;

  friend bool operator==(const NamedValue& a, const NamedValue& b) {
    return a.series == b.series && identical(a.value, b.value);
  }
};

// The value of `series` in `values`, or null.
const Value* find_value(std::span<const NamedValue> values, std::string_view series);

// One answer of a rule.
struct Evaluation {
  Timestamp ts = 0;        // the sample's source time, or the tick's time
  bool triggered = false;  // the rule's condition holds
  // The number the rule compared: the value, the window's aggregate, the rate per second, the
  // longest silence in seconds (deadman), the expression's result.
  double measured = 0.0;
  // The values behind the evaluation, keyed by series. Points into the rule: valid until the
  // rule is next fed (observe or tick); copy what must be kept.
  std::span<const NamedValue> values;
};

// What a rule has seen, for the API and the UI.
struct RuleCounters {
  uint64_t samples = 0;              // samples of watched series given to observe()
  uint64_t evaluations = 0;          // evaluations returned (samples and ticks)
  uint64_t triggered = 0;            // of which triggered
  uint64_t skipped_bad_quality = 0;  // value rules: Bad samples
  uint64_t skipped_not_number = 0;   // strings, NaN, infinities
  uint64_t skipped_out_of_order = 0;
};

// The base of every rule. Routing (is the series watched, is the sample in order) and counting
// happen here; a kind of rule subclasses it with on_sample() (and on_tick() if it watches for
// the absence of data), keeps the values behind its evaluations in values_, and builds its
// answers with evaluation().
class Rule {
 public:
  // `series` is what the rule watches; not empty, no duplicates.
  Rule(std::string name, std::vector<std::string> series);
  virtual ~Rule() = default;
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& series() const { return series_; }
  // The index of `series` in series(), or nullopt when the rule does not watch it.
  std::optional<size_t> series_index(std::string_view series) const;
  bool watches(std::string_view series) const { return series_index(series).has_value(); }

  // Feeds one sample. Returns the evaluation it caused, or nullopt when it caused none (a
  // series not watched, a skipped sample, an expression still missing an input, a rate with one
  // sample so far).
  std::optional<Evaluation> observe(const Sample& sample);

  // Feeds every sample of the batch in order, calling on_evaluation(const Evaluation&) for each
  // evaluation as it is made (its values are valid during the call).
  template <typename F>
  void observe(const Batch& batch, F&& on_evaluation) {
    for (const Sample& sample : batch.samples) {
      if (std::optional<Evaluation> e = observe(sample)) on_evaluation(*e);
    }
  }

  // The clock moved to `now` (ns since the Unix epoch, the same time base as sample
  // timestamps). Rules that depend on the absence of data evaluate here; the others return
  // nullopt.
  std::optional<Evaluation> tick(Timestamp now);

  const RuleCounters& counters() const { return counters_; }

 protected:
  // A sample of series()[index], newer than or as new as the series' previous one.
  virtual std::optional<Evaluation> on_sample(size_t index, const Sample& sample) = 0;
  virtual std::optional<Evaluation> on_tick(Timestamp now) {
    (void)now;
    return std::nullopt;
  }

  // The number of a value rule's sample, or nullopt (and the skip counted) when the sample is
  // Bad or not a finite number.
  std::optional<double> usable_number(const Sample& sample);
  Evaluation evaluation(Timestamp ts, bool triggered, double measured) const {
    return Evaluation{ts, triggered, measured, values_};
  }

  // Subclasses keep here the values their evaluations point to; allocated once, then assigned
  // in place.
  std::vector<NamedValue> values_;

 private:
  std::optional<Evaluation> counted(std::optional<Evaluation> e);

  std::string name_;
  std::vector<std::string> series_;
  std::vector<std::optional<Timestamp>> latest_;  // per series: the newest timestamp seen
  RuleCounters counters_;
};

// A growable circular buffer: no allocation once it has grown to the largest size it holds.
template <typename T>
class Ring {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  const T& front() const { return buf_[head_]; }
  const T& back() const { return buf_[(head_ + size_ - 1) & (buf_.size() - 1)]; }
  void push_back(const T& v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = v;
    ++size_;
  }
  void pop_front() {
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
  }
  void pop_back() { --size_; }
  void clear() { head_ = size_ = 0; }

 private:
  void grow() {
    std::vector<T> bigger(buf_.empty() ? 8 : buf_.size() * 2);  // a power of two
    for (size_t i = 0; i < size_; ++i) bigger[i] = buf_[(head_ + i) & (buf_.size() - 1)];
    buf_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> buf_;
  size_t head_ = 0;
  size_t size_ = 0;
};

// The samples of the last `length` ns of one series with their running min, max (monotonic
// deques) and sum (compensated), each O(1) amortised per sample. Holds at most `max_samples`:
// a series faster than the window was sized for (10,000 samples/s in a 10 min window) would
// otherwise take memory without bound; past the limit the oldest samples leave early, and
// are counted (truncated()), so the window then covers less time than configured.
class SlidingWindow {
 public:
  static constexpr size_t kDefaultMaxSamples = size_t{1} << 20;  // about 24 MiB per window

  explicit SlidingWindow(int64_t length_ns, size_t max_samples = kDefaultMaxSamples)
      : length_(length_ns), max_samples_(max_samples < 1 ? 1 : max_samples) {}

  // Adds the sample and drops those that left the window, i.e. of time <= ts - length.
  // Timestamps must not decrease.
  void push(Timestamp ts, double x);
  // Samples dropped before their time because the window held max_samples.
  uint64_t truncated() const { return truncated_; }

  bool empty() const { return samples_.empty(); }
  size_t size() const { return samples_.size(); }
  double min() const { return min_.front().x; }
  double max() const { return max_.front().x; }
  double average() const { return (sum_ + compensation_) / static_cast<double>(samples_.size()); }
  // The oldest and newest samples held.
  Timestamp oldest_ts() const { return samples_.front().ts; }
  double oldest() const { return samples_.front().x; }
  Timestamp newest_ts() const { return samples_.back().ts; }
  double newest() const { return samples_.back().x; }
  int64_t length() const { return length_; }

 private:
  struct Point {
    Timestamp ts = 0;
    double x = 0.0;
    uint64_t seq = 0;
  };
  void add_to_sum(double x);
  void drop_oldest();

  int64_t length_;
  size_t max_samples_;
  uint64_t truncated_ = 0;
  uint64_t next_seq_ = 0;
  Ring<Point> samples_;
  Ring<Point> min_;  // increasing x: the front is the minimum
  Ring<Point> max_;  // decreasing x: the front is the maximum
  double sum_ = 0.0;
  double compensation_ = 0.0;  // Neumaier: what the sum lost to rounding
};

// ---- Value rules --------------------------------------------------------------------------

enum class Comparison { kGreater, kGreaterOrEqual, kLess, kLessOrEqual };
// What a value rule tests: each sample's value, or the window's min, max or average.
enum class Aggregate { kValue, kMin, kMax, kAverage };

const char* comparison_name(Comparison c);  // ">", ">=", "<", "<="
const char* aggregate_name(Aggregate a);    // "value", "min", "max", "average"
bool compare(double x, Comparison c, double limit);

// Threshold: triggered while the value (or the window's aggregate) compares to the threshold.
// Its values: the sample's value as it came (an int64 stays an int64), or the aggregate.
class ThresholdRule final : public Rule {
 public:
  struct Config {
    std::string series;
    Comparison comparison = Comparison::kGreater;
    double threshold = 0.0;
    Aggregate aggregate = Aggregate::kValue;
    int64_t window_ns = 0;  // > 0 with an aggregate; unused with kValue
  };
  // What is wrong with the config, for a person; ok if nothing.
  static Status validate(const Config& config);

  // `config` must validate.
  ThresholdRule(std::string name, Config config);

 private:
  std::optional<Evaluation> on_sample(size_t index, const Sample& sample) override;

  Config config_;
  SlidingWindow window_;
};

// Out of range: triggered while the value (or the window's aggregate) is outside [low, high]
// (the bounds themselves are in range). Values as for the threshold rule.
class OutOfRangeRule final : public Rule {
 public:
  struct Config {
    std::string series;
    double low = 0.0;
    double high = 0.0;  // >= low
    Aggregate aggregate = Aggregate::kValue;
    int64_t window_ns = 0;
  };
  static Status validate(const Config& config);
  OutOfRangeRule(std::string name, Config config);

 private:
  std::optional<Evaluation> on_sample(size_t index, const Sample& sample) override;

  Config config_;
  SlidingWindow window_;
};

// Rate of change, in units per second of source time: between the last two samples (window 0),
// or between the oldest and the newest sample of the window. Triggered while the rate (its
// absolute value with `magnitude`) compares to the limit. No evaluation until there are two
// samples of different times (a window shorter than the series' sampling interval never holds
// two, so it never evaluates). Its value: the newest sample's value (the datapoint as it is);
// the rate is the evaluation's `measured`.
class RateOfChangeRule final : public Rule {
 public:
  struct Config {
    std::string series;
    Comparison comparison = Comparison::kGreater;
    double limit = 0.0;      // units per second
    bool magnitude = false;  // compare |rate|: a change that fast in either direction
    int64_t window_ns = 0;   // 0: the last two samples
  };
  static Status validate(const Config& config);
  RateOfChangeRule(std::string name, Config config);

 private:
  std::optional<Evaluation> on_sample(size_t index, const Sample& sample) override;

  Config config_;
  SlidingWindow window_;
  std::optional<std::pair<Timestamp, double>> previous_;  // window 0
};

// ---- Deadman (data availability) ----------------------------------------------------------

// Triggered while some watched series has had no data for `timeout_ns` or longer. "Data" is a
// sample that is not Bad: a Bad sample says the source has nothing usable ("no data", "not
// connected"), so it does not keep the rule quiet; it does move the rule's clock forward, since
// it proves the source's time went on. The rule's clock is the latest of the tick times and the
// sample timestamps it saw; a series not seen yet counts as silent since the rule's first tick
// or sample. Evaluates on every sample and on every tick. Its values: the last good value of
// each series that has one.
//
// Sample timestamps are source time and ticks wall-clock time: a source whose clock is far off
// the gateway's will look silent (or never silent); the engine should tick with the same clock
// sources stamp with.
class DeadmanRule final : public Rule {
 public:
  struct Config {
    std::vector<std::string> series;
    int64_t timeout_ns = 0;  // > 0
  };
  static Status validate(const Config& config);
  DeadmanRule(std::string name, Config config);

  // The watched series silent at the last evaluation.
  std::vector<std::string_view> silent_series() const;

 private:
  std::optional<Evaluation> on_sample(size_t index, const Sample& sample) override;
  std::optional<Evaluation> on_tick(Timestamp now) override;
  Evaluation evaluate();
  void advance(Timestamp t);

  int64_t timeout_;
  std::optional<Timestamp> start_;  // the rule's first time
  Timestamp now_ = 0;
  std::vector<std::optional<Timestamp>> last_data_;  // per series
  std::vector<size_t> value_slot_;                   // per series: index in values_, or npos
  std::vector<bool> silent_;
};

// ---- Expression (plug-in point) -----------------------------------------------------------

// What an expression sees: the latest usable value of each watched series as a number, in the
// order of the rule's series().
struct ExpressionInputs {
  std::span<const std::string> series;
  std::span<const double> values;
  Timestamp ts = 0;  // of the sample being evaluated

  double operator[](size_t i) const { return values[i]; }
  // The value of `name`, or null when the rule does not watch it.
  const double* find(std::string_view name) const;
};

// Any callable that computes a number from the inputs; a compiled expression (rules/expr.h)
// is plugged in here. Must not throw.
using ExpressionFunction = std::function<double(const ExpressionInputs&)>;

// Triggered while the function's result is non-zero (NaN counts as false). Evaluates on each
// usable sample of any watched series once every series has had one (before that, nullopt).
// Its values: the latest value of each series, as it came.
//
// A compiled rules::Expression (expr.h) plugs in as
//   ExpressionRule(name, expression.names(),
//                  [e = std::move(expression)](const ExpressionInputs& in) {
//                    return e.evaluate(in.values); })
// since Expression::compile(text) numbers its slots in the order of names().
class ExpressionRule final : public Rule {
 public:
  // Not empty, no name twice.
  static Status validate(const std::vector<std::string>& series);
  // `series` must validate; `function` must be callable.
  ExpressionRule(std::string name, std::vector<std::string> series, ExpressionFunction function);

 private:
  std::optional<Evaluation> on_sample(size_t index, const Sample& sample) override;

  ExpressionFunction function_;
  std::vector<double> numbers_;
  std::vector<bool> known_;
  size_t known_count_ = 0;
};

}  // namespace sluice::rules
