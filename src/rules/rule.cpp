// Rules: the common feeding contract (order, quality, numbers) and each rule's test.
#include "rules/rule.h"

#include <cassert>
#include <cmath>
#include <limits>
#include <utility>
#include <variant>

namespace sluice::rules {

const Value* find_value(std::span<const NamedValue> values, std::string_view series) {
  for (const NamedValue& v : values) {
    if (v.series == series) return &v.value;
  }
  return nullptr;
}

// ---- Rule ---------------------------------------------------------------------------------

Rule::Rule(std::string name, std::vector<std::string> series)
    : name_(std::move(name)), series_(std::move(series)), latest_(series_.size()) {
  assert(!series_.empty() && "a rule watches at least one series");
}

std::optional<size_t> Rule::series_index(std::string_view series) const {
  for (size_t i = 0; i < series_.size(); ++i) {
    if (series_[i] == series) return i;
  }
  return std::nullopt;
}

std::optional<Evaluation> Rule::observe(const Sample& sample) {
  const std::optional<size_t> index = series_index(sample.series);
  if (!index) return std::nullopt;
  ++counters_.samples;
  std::optional<Timestamp>& latest = latest_[*index];
  if (latest && sample.ts < *latest) {
    ++counters_.skipped_out_of_order;
    return std::nullopt;
  }
  latest = sample.ts;
  return counted(on_sample(*index, sample));
}

std::optional<Evaluation> Rule::tick(Timestamp now) { return counted(on_tick(now)); }

std::optional<Evaluation> Rule::counted(std::optional<Evaluation> e) {
  if (e) {
    ++counters_.evaluations;
    if (e->triggered) ++counters_.triggered;
  }
  return e;
}

std::optional<double> Rule::usable_number(const Sample& sample) {
  if (quality::is_bad(sample.quality)) {
    ++counters_.skipped_bad_quality;
    return std::nullopt;
  }
  double x = 0.0;
  switch (value_type(sample.value)) {
    case ValueType::kDouble: x = std::get<double>(sample.value); break;
    case ValueType::kInt64: x = static_cast<double>(std::get<int64_t>(sample.value)); break;
    case ValueType::kBool: x = std::get<bool>(sample.value) ? 1.0 : 0.0; break;
    case ValueType::kString: ++counters_.skipped_not_number; return std::nullopt;
  }
  if (!std::isfinite(x)) {
    ++counters_.skipped_not_number;
    return std::nullopt;
  }
  return x;
}

// ---- SlidingWindow ------------------------------------------------------------------------

void SlidingWindow::push(Timestamp ts, double x) {
  // Everything of time <= ts - length has left; written without overflow near INT64_MIN.
  while (!samples_.empty() && ts - samples_.front().ts >= length_) drop_oldest();
  while (samples_.size() >= max_samples_) {
    drop_oldest();
    ++truncated_;
  }
  if (samples_.empty()) {  // start the sum afresh: no rounding carried over
    sum_ = 0.0;
    compensation_ = 0.0;
  }
  const Point p{ts, x, next_seq_++};
  samples_.push_back(p);
  while (!min_.empty() && min_.back().x >= x) min_.pop_back();
  min_.push_back(p);
  while (!max_.empty() && max_.back().x <= x) max_.pop_back();
  max_.push_back(p);
  add_to_sum(x);
}

void SlidingWindow::drop_oldest() {
  const Point& oldest = samples_.front();
  if (min_.front().seq == oldest.seq) min_.pop_front();
  if (max_.front().seq == oldest.seq) max_.pop_front();
  add_to_sum(-oldest.x);
  samples_.pop_front();
}

void SlidingWindow::add_to_sum(double x) {
  const double t = sum_ + x;
  if (std::fabs(sum_) >= std::fabs(x)) {
    compensation_ += (sum_ - t) + x;
  } else {
    compensation_ += (x - t) + sum_;
  }
  sum_ = t;
}

// ---- Value rules --------------------------------------------------------------------------

const char* comparison_name(Comparison c) {
  switch (c) {
    case Comparison::kGreater: return ">";
    case Comparison::kGreaterOrEqual: return ">=";
    case Comparison::kLess: return "<";
    case Comparison::kLessOrEqual: return "<=";
  }
  return "?";
}

const char* aggregate_name(Aggregate a) {
  switch (a) {
    case Aggregate::kValue: return "value";
    case Aggregate::kMin: return "min";
    case Aggregate::kMax: return "max";
    case Aggregate::kAverage: return "average";
  }
  return "?";
}

bool compare(double x, Comparison c, double limit) {
  switch (c) {
    case Comparison::kGreater: return x > limit;
    case Comparison::kGreaterOrEqual: return x >= limit;
    case Comparison::kLess: return x < limit;
    case Comparison::kLessOrEqual: return x <= limit;
  }
  return false;
}

namespace {

Status validate_series(std::string_view series) {
  if (series.empty()) return invalid_argument("series: empty; give an Asset.datapoint name");
  return Status::ok_status();
}

Status validate_window(Aggregate aggregate, int64_t window_ns) {
  if (aggregate != Aggregate::kValue && window_ns <= 0) {
    return invalid_argument(std::string("window: must be > 0 to take the ") +
                            aggregate_name(aggregate) + " of a window");
  }
  if (window_ns < 0) return invalid_argument("window: must not be negative");
  return Status::ok_status();
}

Status validate_series_list(const std::vector<std::string>& series) {
  if (series.empty()) return invalid_argument("series: name at least one series to watch");
  for (size_t i = 0; i < series.size(); ++i) {
    if (Status s = validate_series(series[i]); !s.ok()) return s;
    for (size_t j = 0; j < i; ++j) {
      if (series[j] == series[i])
        return invalid_argument("series: " + series[i] + " is named twice");
    }
  }
  return Status::ok_status();
}

// The window's aggregate after the sample was pushed (kValue: the sample's number).
double reduce(const SlidingWindow& window, Aggregate aggregate, double x) {
  switch (aggregate) {
    case Aggregate::kValue: return x;
    case Aggregate::kMin: return window.min();
    case Aggregate::kMax: return window.max();
    case Aggregate::kAverage: return window.average();
  }
  return x;
}

// With an aggregate the value behind an evaluation is the aggregate; otherwise the sample's
// value as it came.
void set_value(Value& slot, Aggregate aggregate, double reduced, const Sample& sample) {
  if (aggregate == Aggregate::kValue) {
    slot = sample.value;
  } else {
    slot = reduced;
  }
}

}  // namespace

Status ThresholdRule::validate(const Config& config) {
  if (Status s = validate_series(config.series); !s.ok()) return s;
  if (!std::isfinite(config.threshold)) return invalid_argument("threshold: must be a number");
  return validate_window(config.aggregate, config.window_ns);
}

ThresholdRule::ThresholdRule(std::string name, Config config)
    : Rule(std::move(name), {config.series}),
      config_(std::move(config)),
      window_(config_.window_ns) {
  assert(validate(config_).ok());
  values_.push_back(NamedValue{config_.series, 0.0});
}

std::optional<Evaluation> ThresholdRule::on_sample(size_t, const Sample& sample) {
  const std::optional<double> x = usable_number(sample);
  if (!x) return std::nullopt;
  if (config_.aggregate != Aggregate::kValue) window_.push(sample.ts, *x);
  const double measured = reduce(window_, config_.aggregate, *x);
  set_value(values_[0].value, config_.aggregate, measured, sample);
  return evaluation(sample.ts, compare(measured, config_.comparison, config_.threshold), measured);
}

Status OutOfRangeRule::validate(const Config& config) {
  if (Status s = validate_series(config.series); !s.ok()) return s;
  if (!std::isfinite(config.low) || !std::isfinite(config.high)) {
    return invalid_argument("low, high: must be numbers");
  }
  if (config.low > config.high) return invalid_argument("low: must not be above high");
  return validate_window(config.aggregate, config.window_ns);
}

OutOfRangeRule::OutOfRangeRule(std::string name, Config config)
    : Rule(std::move(name), {config.series}),
      config_(std::move(config)),
      window_(config_.window_ns) {
  assert(validate(config_).ok());
  values_.push_back(NamedValue{config_.series, 0.0});
}

std::optional<Evaluation> OutOfRangeRule::on_sample(size_t, const Sample& sample) {
  const std::optional<double> x = usable_number(sample);
  if (!x) return std::nullopt;
  if (config_.aggregate != Aggregate::kValue) window_.push(sample.ts, *x);
  const double measured = reduce(window_, config_.aggregate, *x);
  set_value(values_[0].value, config_.aggregate, measured, sample);
  return evaluation(sample.ts, measured < config_.low || measured > config_.high, measured);
}

Status RateOfChangeRule::validate(const Config& config) {
  if (Status s = validate_series(config.series); !s.ok()) return s;
  if (!std::isfinite(config.limit)) return invalid_argument("limit: must be a number");
  if (config.window_ns < 0) return invalid_argument("window: must not be negative");
  return Status::ok_status();
}

RateOfChangeRule::RateOfChangeRule(std::string name, Config config)
    : Rule(std::move(name), {config.series}),
      config_(std::move(config)),
      window_(config_.window_ns) {
  assert(validate(config_).ok());
  values_.push_back(NamedValue{config_.series, 0.0});
}

std::optional<Evaluation> RateOfChangeRule::on_sample(size_t, const Sample& sample) {
  const std::optional<double> x = usable_number(sample);
  if (!x) return std::nullopt;
  Timestamp from_ts = 0;
  double from = 0.0;
  if (config_.window_ns > 0) {
    window_.push(sample.ts, *x);
    from_ts = window_.oldest_ts();
    from = window_.oldest();
  } else {
    const std::optional<std::pair<Timestamp, double>> previous = previous_;
    previous_.emplace(sample.ts, *x);
    if (!previous) return std::nullopt;
    from_ts = previous->first;
    from = previous->second;
  }
  if (sample.ts == from_ts) return std::nullopt;  // no time passed: no rate
  const double seconds =
      static_cast<double>(sample.ts - from_ts) / static_cast<double>(kNanosPerSecond);
  const double rate = (*x - from) / seconds;
  values_[0].value = sample.value;
  const double tested = config_.magnitude ? std::fabs(rate) : rate;
  return evaluation(sample.ts, compare(tested, config_.comparison, config_.limit), rate);
}

// ---- DeadmanRule --------------------------------------------------------------------------

namespace {
constexpr size_t kNoSlot = std::numeric_limits<size_t>::max();
}

Status DeadmanRule::validate(const Config& config) {
  if (Status s = validate_series_list(config.series); !s.ok()) return s;
  if (config.timeout_ns <= 0) return invalid_argument("timeout: must be > 0");
  return Status::ok_status();
}

DeadmanRule::DeadmanRule(std::string name, Config config)
    : Rule(std::move(name), std::move(config.series)),
      timeout_(config.timeout_ns),
      last_data_(series().size()),
      value_slot_(series().size(), kNoSlot),
      silent_(series().size(), false) {
  assert(validate(Config{series(), timeout_}).ok());
  values_.reserve(series().size());
}

void DeadmanRule::advance(Timestamp t) {
  if (!start_) {
    start_ = t;
    now_ = t;
  }
  if (t > now_) now_ = t;
}

std::optional<Evaluation> DeadmanRule::on_sample(size_t index, const Sample& sample) {
  advance(sample.ts);
  if (!quality::is_bad(sample.quality)) {
    if (!last_data_[index] || sample.ts > *last_data_[index]) last_data_[index] = sample.ts;
    if (value_slot_[index] == kNoSlot) {
      value_slot_[index] = values_.size();
      values_.push_back(NamedValue{series()[index], sample.value});
    } else {
      values_[value_slot_[index]].value = sample.value;
    }
  }
  return evaluate();
}

std::optional<Evaluation> DeadmanRule::on_tick(Timestamp now) {
  advance(now);
  return evaluate();
}

Evaluation DeadmanRule::evaluate() {
  bool any = false;
  int64_t longest = 0;
  for (size_t i = 0; i < last_data_.size(); ++i) {
    const Timestamp since = last_data_[i] ? *last_data_[i] : *start_;
    const int64_t silence = now_ - since;
    silent_[i] = silence >= timeout_;
    any = any || silent_[i];
    if (silence > longest) longest = silence;
  }
  return evaluation(now_, any, static_cast<double>(longest) / static_cast<double>(kNanosPerSecond));
}

std::vector<std::string_view> DeadmanRule::silent_series() const {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < silent_.size(); ++i) {
    if (silent_[i]) out.push_back(series()[i]);
  }
  return out;
}

// ---- ExpressionRule -----------------------------------------------------------------------

const double* ExpressionInputs::find(std::string_view name) const {
  for (size_t i = 0; i < series.size() && i < values.size(); ++i) {
    if (series[i] == name) return &values[i];
  }
  return nullptr;
}

Status ExpressionRule::validate(const std::vector<std::string>& series) {
  return validate_series_list(series);
}

ExpressionRule::ExpressionRule(std::string name, std::vector<std::string> series,
                               ExpressionFunction function)
    : Rule(std::move(name), std::move(series)),
      function_(std::move(function)),
      numbers_(this->series().size(), 0.0),
      known_(this->series().size(), false) {
  assert(validate(this->series()).ok());
  assert(function_ && "an expression rule needs a function");
  for (const std::string& s : this->series()) values_.push_back(NamedValue{s, 0.0});
}

std::optional<Evaluation> ExpressionRule::on_sample(size_t index, const Sample& sample) {
  const std::optional<double> x = usable_number(sample);
  if (!x) return std::nullopt;
  numbers_[index] = *x;
  values_[index].value = sample.value;
  if (!known_[index]) {
    known_[index] = true;
    ++known_count_;
  }
  if (known_count_ < known_.size()) return std::nullopt;
  const double result = function_(ExpressionInputs{series(), numbers_, sample.ts});
  // NaN != 0 is true, so test NaN explicitly: a NaN result does not trigger.
  const bool triggered = !std::isnan(result) && result != 0.0;
  return evaluation(sample.ts, triggered, result);
}

}  // namespace sluice::rules
