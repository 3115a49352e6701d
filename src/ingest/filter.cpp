// The filter chain and its first filter types (see filter.h), and their config keys.
#include "ingest/filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

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

constexpr size_t kMaxSeriesName = 1024;

bool valid_pattern(const std::string& p) { return !p.empty() && p.size() <= kMaxSeriesName; }

SeriesPatterns read_series(runtime::ConfigTable& t, bool required) {
  constexpr std::string_view kExpected =
      "series names or patterns with '*', e.g. [\"Channel1.Device1.*\", \"*.Temperature\"]";
  if (!t.has("series")) {
    if (required) {
      t.error("series", "missing; say which series, e.g. series = [\"Channel1.Device1.*\"]");
    }
    return {};
  }
  std::vector<std::string> list = t.strings("series", {}, kExpected, valid_pattern);
  if (list.empty()) t.error("series", "an empty list matches nothing");
  return SeriesPatterns(std::move(list));
}

std::string describe_series(runtime::ConfigTable& t) {
  return t.has("series") ? " on the listed series" : " on every series";
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
      t.error("type", "missing; the filter types are scale, rename, include, exclude, expression");
      t.ignore_unknown_keys();
      continue;
    }
    const size_t type =
        t.choice("type", 99, {"scale", "rename", "include", "exclude", "expression"});
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
      default: break;  // choice() reported the unknown type
    }
  }
  return settings;
}

}  // namespace sluice::ingest
