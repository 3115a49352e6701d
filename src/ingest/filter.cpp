// The filter chain and its filter types (see filter.h), and their config keys.
#include "ingest/filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "runtime/config_table.h"

namespace sluice::ingest {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative '*' matching with one backtrack point: linear in practice, no recursion.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool SeriesPatterns::matches(std::string_view series) const {
  if (patterns_.empty()) return true;
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::string& p) { return glob_match(p, series); });
}

void FilterChain::apply(Batch& batch) {
  for (const auto& f : filters_) {
    if (batch.empty()) return;
    f->apply(batch);
  }
}

void FilterChainSettings::add(std::string description, Factory factory) {
  descriptions_.push_back(std::move(description));
  factories_.push_back(std::move(factory));
}

FilterChain FilterChainSettings::make() const {
  FilterChain chain;
  for (const Factory& f : factories_) chain.add(f());
  return chain;
}

void ScaleFilter::apply(Batch& batch) {
  const bool whole = std::trunc(factor_) == factor_ && std::trunc(offset_) == offset_ &&
                     std::abs(factor_) < 9e15 && std::abs(offset_) < 9e15;
  for (Sample& s : batch.samples) {
    if (!series_.matches(s.series)) continue;
    if (auto* d = std::get_if<double>(&s.value)) {
      *d = *d * factor_ + offset_;
    } else if (auto* i = std::get_if<int64_t>(&s.value)) {
      const double scaled = static_cast<double>(*i) * factor_ + offset_;
      // Whole factors keep integers integers while they fit exactly.
      if (whole && std::abs(scaled) < 9e15) {
        *i = static_cast<int64_t>(scaled);
      } else {
        s.value = scaled;
      }
    }
  }
}

void RenameFilter::apply(Batch& batch) {
  const bool prefix = !from_.empty() && from_.back() == '*';
  const std::string_view head =
      prefix ? std::string_view(from_).substr(0, from_.size() - 1) : std::string_view(from_);
  for (Sample& s : batch.samples) {
    if (prefix) {
      if (s.series.starts_with(head)) s.series = to_ + s.series.substr(head.size());
    } else if (s.series == from_) {
      s.series = to_;
    }
  }
}

void SelectFilter::apply(Batch& batch) {
  std::erase_if(batch.samples,
                [&](const Sample& s) { return series_.matches(s.series) != keep_matches_; });
}

namespace {

// A number of either numeric type, as a double.
std::optional<double> as_number(const Value& v) {
  if (const double* d = std::get_if<double>(&v)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

// b - a without overflow when b > a (timestamps come from the wire).
uint64_t distance(int64_t a, int64_t b) {
  return static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

}  // namespace

DeadbandFilter::DeadbandFilter(DeadbandSettings settings, SeriesPatterns series, size_t max_series)
    : settings_(settings), series_(std::move(series)), max_series_(max_series) {}

bool DeadbandFilter::outside_band(const Value& last, const Value& now) const {
  const std::optional<double> a = as_number(last);
  const std::optional<double> b = as_number(now);
  if (a && b) {
    if (!std::isfinite(*a) || !std::isfinite(*b)) {
      return !(*a == *b || (std::isnan(*a) && std::isnan(*b)));
    }
    double change = std::abs(*b - *a);
    const int64_t* ia = std::get_if<int64_t>(&last);
    const int64_t* ib = std::get_if<int64_t>(&now);
    if (ia != nullptr && ib != nullptr) {
      // Exact for integers a double cannot tell apart (above 2^53).
      change = static_cast<double>(*ia < *ib ? distance(*ia, *ib) : distance(*ib, *ia));
    }
    if (settings_.absolute && change > *settings_.absolute) return true;
    return settings_.percent && change > *settings_.percent / 100.0 * std::abs(*a);
  }
  if (last.index() != now.index()) return true;  // a number became a bool, a bool a string...
  if (const bool* x = std::get_if<bool>(&last)) return *x != std::get<bool>(now);
  return std::get<std::string>(last) != std::get<std::string>(now);
}

bool DeadbandFilter::keep(const Sample& s) {
  if (!series_.matches(s.series)) return true;
  const auto it = last_.find(std::string_view(s.series));
  if (it == last_.end()) {
    if (last_.size() >= max_series_) {
      ++untracked_samples_;
    } else {
      last_.emplace(s.series, Last{s.value, s.quality, s.ts});
    }
    return true;
  }
  Last& last = it->second;
  const bool heartbeat =
      settings_.max_interval.count() > 0 && s.ts > last.ts &&
      distance(last.ts, s.ts) >= static_cast<uint64_t>(settings_.max_interval.count());
  if (s.quality == last.quality && !heartbeat && !outside_band(last.value, s.value)) return false;
  last.value = s.value;  // a string of the same length or shorter reuses the buffer
  last.quality = s.quality;
  last.ts = s.ts;
  return true;
}

void DeadbandFilter::apply(Batch& batch) {
  // Compacts in place, in order: a sample is compared with those before it in the batch.
  std::vector<Sample>& samples = batch.samples;
  size_t kept = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!keep(samples[i])) continue;
    if (kept != i) samples[kept] = std::move(samples[i]);
    ++kept;
  }
  samples.erase(samples.begin() + static_cast<std::ptrdiff_t>(kept), samples.end());
}

RateLimitFilter::RateLimitFilter(std::chrono::nanoseconds interval, RateLimitMode mode,
                                 SeriesPatterns series, size_t max_series)
    : interval_(std::max<int64_t>(interval.count(), 1)),
      mode_(mode),
      series_(std::move(series)),
      max_series_(max_series) {}

bool RateLimitFilter::aggregable(const Sample& s) const {
  if (quality::is_bad(s.quality)) return false;
  if (mode_ == RateLimitMode::kLast) return true;
  const std::optional<double> v = as_number(s.value);
  return v && std::isfinite(*v);
}

void RateLimitFilter::hold(Slot& slot, Sample& s) {
  const double v = mode_ == RateLimitMode::kLast ? 0.0 : *as_number(s.value);
  if (!slot.holding) {
    slot.holding = true;
    slot.sum = v;
    slot.count = 1;
    slot.quality = s.quality;
    slot.held = std::move(s);
    return;
  }
  switch (mode_) {
    case RateLimitMode::kLast: slot.held = std::move(s); break;
    case RateLimitMode::kMin:
      if (v < *as_number(slot.held.value)) slot.held = std::move(s);
      break;
    case RateLimitMode::kMax:
      if (v > *as_number(slot.held.value)) slot.held = std::move(s);
      break;
    case RateLimitMode::kAverage:
      slot.sum += v;
      ++slot.count;
      if (quality::is_good(slot.quality)) slot.quality = s.quality;
      break;
    case RateLimitMode::kFirst: break;  // never holds
  }
}

void RateLimitFilter::close(Slot& slot, std::vector<Sample>& out) {
  if (!slot.holding) return;
  slot.holding = false;
  if (mode_ == RateLimitMode::kAverage) {
    // The interval's start; wraps rather than overflows for a timestamp near the int64 limit.
    const int64_t into = ((slot.held.ts % interval_) + interval_) % interval_;
    slot.held.ts =
        static_cast<int64_t>(static_cast<uint64_t>(slot.held.ts) - static_cast<uint64_t>(into));
    slot.held.value = slot.sum / static_cast<double>(slot.count);
    slot.held.quality = slot.quality;
  }
  out.push_back(std::move(slot.held));
}

void RateLimitFilter::apply(Batch& batch) {
  out_.clear();
  out_.reserve(batch.samples.size());
  for (Sample& s : batch.samples) {
    if (!series_.matches(s.series)) {
      out_.push_back(std::move(s));
      continue;
    }
    int64_t interval = s.ts / interval_;
    if (s.ts % interval_ < 0) --interval;  // floor, for timestamps before 1970
    auto it = slots_.find(std::string_view(s.series));
    if (it == slots_.end()) {
      if (slots_.size() >= max_series_) {
        ++untracked_samples_;
        out_.push_back(std::move(s));
        continue;
      }
      it = slots_.emplace(s.series, Slot{}).first;
      it->second.interval = interval;
    } else if (it->second.interval != interval) {
      close(it->second, out_);
      it->second.interval = interval;
      it->second.passed = false;
    }
    Slot& slot = it->second;
    if (mode_ == RateLimitMode::kFirst) {
      if (!slot.passed) out_.push_back(std::move(s));
      slot.passed = true;
    } else if (aggregable(s)) {
      hold(slot, s);
    } else {
      out_.push_back(std::move(s));
    }
  }
  batch.samples.swap(out_);
  out_.clear();  // the moved-from input; its capacity is kept for the next batch
}

namespace {

constexpr size_t kMaxSeriesName = 1024;

bool valid_pattern(const std::string& p) { return !p.empty() && p.size() <= kMaxSeriesName; }

constexpr std::string_view kSeriesExpected =
    "series names or patterns with '*', e.g. [\"Channel1.Device1.*\", \"*.Temperature\"]";

// A non-empty list of names; empty when `key` is absent or wrong (the error is then recorded,
// once: a bad element is not also reported as an empty list).
std::vector<std::string> read_names(runtime::ConfigTable& t, std::string_view key,
                                    std::string_view expected,
                                    const runtime::ConfigTable::Check<std::string>& check) {
  if (!t.has(key)) return {};
  // The fallback, returned after an error, is one name no check accepts.
  std::vector<std::string> list = t.strings(key, {std::string()}, expected, check);
  if (list.size() == 1 && list[0].empty()) return {};
  if (list.empty()) t.error(key, "an empty list matches nothing");
  return list;
}

SeriesPatterns read_series(runtime::ConfigTable& t, bool required) {
  if (!t.has("series") && required) {
    t.error("series", "missing; say which series, e.g. series = [\"Channel1.Device1.*\"]");
  }
  return SeriesPatterns(read_names(t, "series", kSeriesExpected, valid_pattern));
}

std::string describe_series(runtime::ConfigTable& t) {
  return t.has("series") ? " on the listed series" : " on every series";
}

// `series` and/or `assets` (an asset "Motor" selects the series "Motor.*"); a sample is selected
// when either matches. Neither: every series.
SeriesPatterns read_selection(runtime::ConfigTable& t) {
  std::vector<std::string> patterns = read_names(t, "series", kSeriesExpected, valid_pattern);
  const std::vector<std::string> assets =
      read_names(t, "assets", "asset names or patterns with '*', e.g. [\"Motor\", \"Pump*\"]",
                 [](const std::string& a) { return !a.empty() && valid_pattern(a + ".*"); });
  for (const std::string& a : assets) patterns.push_back(a + ".*");
  return SeriesPatterns(std::move(patterns));
}

std::string describe_selection(runtime::ConfigTable& t) {
  if (t.has("series") && t.has("assets")) return " on the listed series and assets";
  if (t.has("assets")) return " on the listed assets";
  return describe_series(t);
}

// "10m", "1500ms": the largest unit that divides it (runtime/units.h has the same, but ingest
// does not link the runtime).
std::string describe_duration(std::chrono::nanoseconds d) {
  static constexpr std::pair<int64_t, std::string_view> kUnits[] = {
      {86'400'000'000'000, "d"}, {3'600'000'000'000, "h"}, {60'000'000'000, "m"},
      {1'000'000'000, "s"},      {1'000'000, "ms"},        {1'000, "us"}};
  for (const auto& [ns, unit] : kUnits) {
    if (d.count() % ns == 0) return fmt::format("{}{}", d.count() / ns, unit);
  }
  return fmt::format("{}ns", d.count());
}

}  // namespace

ExpressionFilter::ExpressionFilter(std::string output, std::vector<std::string> inputs,
                                   std::shared_ptr<const rules::Expression> expression)
    : output_(std::move(output)),
      inputs_(std::move(inputs)),
      expression_(std::move(expression)),
      values_(inputs_.size(), 0.0),
      qualities_(inputs_.size(), quality::kGood),
      known_(inputs_.size(), false) {}

void ExpressionFilter::emit(Timestamp ts, std::vector<Sample>& out) const {
  if (known_count_ < inputs_.size()) return;
  const double v = expression_->evaluate(values_);
  if (std::isnan(v)) return;
  Quality q = quality::kGood;
  for (const Quality input : qualities_) {
    if (!quality::is_good(input)) {
      q = input;
      break;
    }
  }
  out.push_back(Sample{output_, ts, v, q});
}

void ExpressionFilter::apply(Batch& batch) {
  std::vector<Sample> out;
  out.reserve(batch.samples.size() + 8);
  bool run_has_input = false;
  Timestamp run_ts = 0;
  for (Sample& s : batch.samples) {
    if (run_has_input && s.ts != run_ts) {
      emit(run_ts, out);
      run_has_input = false;
    }
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (s.series != inputs_[i]) continue;
      double v = 0;
      if (const double* d = std::get_if<double>(&s.value)) {
        v = *d;
      } else if (const int64_t* n = std::get_if<int64_t>(&s.value)) {
        v = static_cast<double>(*n);
      } else if (const bool* b = std::get_if<bool>(&s.value)) {
        v = *b ? 1.0 : 0.0;
      } else {
        continue;  // a string is not an input
      }
      values_[i] = v;
      qualities_[i] = s.quality;
      if (!known_[i]) {
        known_[i] = true;
        ++known_count_;
      }
      run_has_input = true;
      run_ts = s.ts;
    }
    out.push_back(std::move(s));
  }
  if (run_has_input) emit(run_ts, out);
  batch.samples = std::move(out);
}

std::shared_ptr<const FilterChainSettings> parse_filters(runtime::ConfigTable& source) {
  const std::optional<runtime::ConfigTable::Tables> tables = source.tables("filters");
  if (!tables) return nullptr;
  auto settings = std::make_shared<FilterChainSettings>();
  for (runtime::ConfigTable& t : *tables) {
    if (!t.has("type")) {
      t.error("type",
              "missing; the filter types are scale, rename, include, exclude, expression, "
              "deadband, rate_limit (or downsample)");
      t.ignore_unknown_keys();
      continue;
    }
    const size_t type = t.choice("type", 99,
                                 {"scale", "rename", "include", "exclude", "expression", "deadband",
                                  "rate_limit", "downsample"});
    if (type == 99) t.ignore_unknown_keys();
    switch (type) {
      case 0: {
        const auto finite = [](double v) { return std::isfinite(v); };
        const double factor = t.number("factor", 1.0, "a finite number", finite);
        const double offset = t.number("offset", 0.0, "a finite number", finite);
        if (!t.has("factor") && !t.has("offset")) {
          t.error("factor", "missing; a scale filter needs factor and/or offset");
        }
        const std::string where = describe_series(t);
        SeriesPatterns series = read_series(t, false);
        settings->add(fmt::format("scale x{} {:+}{}", factor, offset, where),
                      [=] { return std::make_unique<ScaleFilter>(factor, offset, series); });
        break;
      }
      case 1: {
        const auto name = [](const std::string& v) {
          return !v.empty() && v.size() <= kMaxSeriesName;
        };
        const std::string from = t.string(
            "from", "", "a series name, or a prefix ending in '*' such as \"Channel1.Device1.*\"",
            [&](const std::string& v) {
              return name(v) && v.find('*') == (v.back() == '*' ? v.size() - 1 : std::string::npos);
            });
        const bool prefix = !from.empty() && from.back() == '*';
        const std::string to = t.string(
            "to", "", prefix ? "the prefix that replaces it, e.g. \"press1.\"" : "a series name",
            [&](const std::string& v) { return prefix ? v.size() <= kMaxSeriesName : name(v); });
        if (!t.has("from")) t.error("from", "missing; say which series to rename");
        if (!t.has("to")) t.error("to", "missing; say the new name");
        settings->add(fmt::format("rename {} -> {}", from, to),
                      [=] { return std::make_unique<RenameFilter>(from, to); });
        break;
      }
      case 2:
      case 3: {
        const bool keep = type == 2;
        SeriesPatterns series = read_series(t, true);
        settings->add(fmt::format("{} the listed series", keep ? "include" : "exclude"),
                      [=] { return std::make_unique<SelectFilter>(keep, series); });
        break;
      }
      case 4: {
        const std::string asset =
            t.string("asset", "", "an asset name such as \"MotorTemperature\"");
        const std::string name =
            t.string("name", "", "the new datapoint's name, e.g. \"desiredSpeed\"",
                     [](const std::string& v) { return !v.empty() && v.size() <= kMaxSeriesName; });
        if (!t.has("name")) t.error("name", "missing; say the new datapoint's name");
        const std::string text = t.string("expression", "", "an expression (docs/expressions.md)");
        if (!t.has("expression")) {
          t.error("expression", "missing, e.g. \"temperature > 20 ? temperature * 50 + 1200 : 0\"");
          break;
        }
        const std::string prefix = asset.empty() ? "" : asset + ".";
        Result<rules::Expression> compiled = rules::Expression::compile(text);
        if (!compiled.ok()) {
          t.error("expression", compiled.status().message());
          break;
        }
        if (compiled->names().empty()) {
          t.error("expression", "reads no datapoint: it would add the same value forever");
          break;
        }
        std::vector<std::string> inputs;
        for (const std::string& n : compiled->names()) inputs.push_back(prefix + n);
        auto expression = std::make_shared<const rules::Expression>(std::move(compiled).value());
        const std::string output = prefix + name;
        settings->add(fmt::format("expression {} = {}", output, expression->to_string()), [=] {
          return std::make_unique<ExpressionFilter>(output, inputs, expression);
        });
        break;
      }
      case 5: {
        DeadbandSettings d;
        const auto non_negative = [](double v) { return v >= 0; };
        if (t.has("absolute")) {
          d.absolute = t.number("absolute", 0.0, "a number >= 0 in the value's unit, e.g. 0.5",
                                non_negative);
        }
        if (t.has("percent")) {
          d.percent =
              t.number("percent", 0.0, "a number >= 0, percent of the last passed value, e.g. 2",
                       non_negative);
        }
        if (!d.absolute && !d.percent) {
          t.error("absolute", "missing; a deadband filter needs absolute and/or percent");
        }
        d.max_interval =
            t.duration("max_interval", std::chrono::nanoseconds{0},
                       "a duration > 0 such as \"10m\": a sample passes at least this often",
                       [](std::chrono::nanoseconds v) { return v.count() > 0; });
        std::string band;
        if (d.absolute) band = fmt::format("{}", *d.absolute);
        if (d.percent) band += fmt::format("{}{}%", band.empty() ? "" : " or ", *d.percent);
        const std::string heartbeat =
            d.max_interval.count() > 0
                ? fmt::format(" (at least every {})", describe_duration(d.max_interval))
                : "";
        const std::string where = describe_selection(t);
        SeriesPatterns series = read_selection(t);
        settings->add(fmt::format("deadband {}{}{}", band, heartbeat, where),
                      [=] { return std::make_unique<DeadbandFilter>(d, series); });
        break;
      }
      case 6:
      case 7: {
        const std::chrono::nanoseconds interval = t.duration(
            "interval", std::chrono::nanoseconds{0}, "a duration > 0 such as \"1s\" or \"10m\"",
            [](std::chrono::nanoseconds v) { return v.count() > 0; });
        if (!t.has("interval")) {
          t.error("interval", "missing; say how often a series may pass, e.g. interval = \"1s\"");
        }
        // In RateLimitMode's order.
        static constexpr std::string_view kModes[] = {"first", "last", "average", "min", "max"};
        const size_t mode =
            t.choice("mode", 0, {kModes[0], kModes[1], kModes[2], kModes[3], kModes[4]});
        const std::string where = describe_selection(t);
        SeriesPatterns series = read_selection(t);
        if (interval.count() <= 0) break;  // reported above
        const auto m = static_cast<RateLimitMode>(mode);
        settings->add(fmt::format("rate_limit one per {} ({}){}", describe_duration(interval),
                                  kModes[mode], where),
                      [=] { return std::make_unique<RateLimitFilter>(interval, m, series); });
        break;
      }
      default: break;  // choice() reported the unknown type
    }
  }
  return settings;
}

}  // namespace sluice::ingest
