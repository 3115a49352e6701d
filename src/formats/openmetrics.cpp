// OpenMetrics / Prometheus text parser (see openmetrics.h). One pass over the lines; a metric
// family is checked when the next one starts and at `# EOF`.
#include "formats/openmetrics.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "formats/common.h"

namespace sluice::formats {
namespace {

using Labels = std::map<std::string, std::string>;

constexpr size_t kMaxExemplarLabelChars = 128;  // OpenMetrics: label names + values, code points
constexpr int kMaxFractionDigits = 9;           // ns resolution

enum class Type : uint8_t {
  kUnknown,
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateset,
  kUntyped
};

std::optional<Type> type_from(std::string_view s, bool prometheus) {
  if (s == "counter") return Type::kCounter;
  if (s == "gauge") return Type::kGauge;
  if (s == "histogram") return Type::kHistogram;
  if (s == "summary") return Type::kSummary;
  if (prometheus) {
    if (s == "untyped") return Type::kUntyped;
    return std::nullopt;
  }
  if (s == "gaugehistogram") return Type::kGaugeHistogram;
  if (s == "info") return Type::kInfo;
  if (s == "stateset") return Type::kStateset;
  if (s == "unknown") return Type::kUnknown;
  return std::nullopt;
}

// The sample-name suffixes a family of each type may use.
bool suffix_allowed(Type t, std::string_view suffix) {
  switch (t) {
    case Type::kCounter: return suffix == "_total" || suffix == "_created";
    case Type::kHistogram:
      return suffix == "_bucket" || suffix == "_count" || suffix == "_sum" || suffix == "_created";
    case Type::kGaugeHistogram:
      return suffix == "_bucket" || suffix == "_gcount" || suffix == "_gsum";
    case Type::kSummary:
      return suffix.empty() || suffix == "_count" || suffix == "_sum" || suffix == "_created";
    case Type::kInfo: return suffix == "_info";
    default: return suffix.empty();
  }
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool metric_char(char c, bool first) {
  return is_alpha(c) || c == '_' || c == ':' || (!first && is_digit(c));
}
bool label_char(char c, bool first) { return is_alpha(c) || c == '_' || (!first && is_digit(c)); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// [+-] digits [. digits] [e [+-] digits], or [+-] . digits [...]: decimal only (no hex, no '_').
bool real_number_syntax(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

std::optional<double> parse_real(std::string_view s) {
  if (!real_number_syntax(s)) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A sample value: a real number, [+-]Inf/Infinity or NaN (case-insensitive).
std::optional<double> parse_number(std::string_view s) {
  std::string_view body = s;
  double sign = 1;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    sign = body[0] == '-' ? -1 : 1;
    body.remove_prefix(1);
  }
  if (iequals(body, "inf") || iequals(body, "infinity")) {
    return sign * std::numeric_limits<double>::infinity();
  }
  if (iequals(s, "nan")) return std::numeric_limits<double>::quiet_NaN();
  return parse_real(s);
}

// OpenMetrics timestamp: seconds as a real number, converted exactly when written in plain
// decimal (the fraction is kept to the nanosecond).
std::optional<Timestamp> parse_seconds(std::string_view s) {
  if (!real_number_syntax(s)) return std::nullopt;
  if (s.find_first_of("eE") != std::string_view::npos) {
    const auto v = parse_real(s);
    if (!v) return std::nullopt;
    return double_to_ns(*v, TimeUnit::kSeconds);
  }
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const size_t dot = s.find('.');
  std::string_view int_part = s.substr(0, dot);
  const std::string_view frac_part = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  while (int_part.size() > 1 && int_part[0] == '0') int_part.remove_prefix(1);
  int64_t secs = 0;
  for (const char c : int_part) {
    if (__builtin_mul_overflow(secs, 10, &secs) || __builtin_add_overflow(secs, c - '0', &secs)) {
      return std::nullopt;
    }
  }
  int64_t frac = 0;
  for (int i = 0; i < kMaxFractionDigits; ++i) {
    frac = frac * 10 + (static_cast<size_t>(i) < frac_part.size() ? frac_part[i] - '0' : 0);
  }
  auto ns = int_to_ns(secs, TimeUnit::kSeconds);
  if (!ns || *ns > std::numeric_limits<int64_t>::max() - frac) return std::nullopt;
  return negative ? -(*ns + frac) : *ns + frac;
}

// Prometheus text timestamp: integer milliseconds.
std::optional<Timestamp> parse_millis(std::string_view s) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return int_to_ns(v, TimeUnit::kMillis);
}

void render_escaped(std::string_view v, std::string* out) {
  for (const char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '"') {
      *out += "\\\"";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      out->push_back(c);
    }
  }
}

std::string render_series(std::string_view name, const Labels& labels) {
  std::string s(name);
  if (labels.empty()) return s;
  s.push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) s.push_back(',');
    first = false;
    s += k;
    s += "=\"";
    render_escaped(v, &s);
    s.push_back('"');
  }
  s.push_back('}');
  return s;
}

// The checks a histogram or gauge histogram needs over one label group.
struct HistogramGroup {
  double last_le = -std::numeric_limits<double>::infinity();
  double last_bucket = 0;
  bool any_bucket = false;
  bool has_inf = false;
  double inf_value = 0;
  std::optional<double> count;
  bool has_sum = false;
  bool has_gsum = false;
  bool negative_gsum = false;
  bool negative_buckets = false;
};

struct Family {
  std::string name;
  Type type = Type::kUnknown;
  bool has_type = false, has_help = false, has_unit = false;
  std::string help, unit;
  size_t samples = 0;
  // Groups (labels without le/quantile/state label): the current one and those finished.
  std::string group;
  bool in_group = false;
  std::unordered_set<std::string> finished_groups;
  HistogramGroup hist;
  // Per series: whether its samples carry timestamps and the last one.
  std::unordered_map<std::string, std::pair<bool, Timestamp>> last_ts;
};

class Reader {
 public:
  Reader(bool prometheus, const ParseLimits& limits, const ParseContext& ctx, Parsed* parsed)
      : prom_(prometheus), limits_(limits), ctx_(ctx), parsed_(parsed) {}

  Status run(std::string_view text);

 private:
  Status fail(const std::string& what) const {
    return invalid_argument("openmetrics: line " + std::to_string(line_no_) + ": " + what);
  }
  Status metadata(std::string_view line);
  Status sample(std::string_view line);
  Status start_family(std::string name);
  Status finish_family();
  Status finish_group();
  Status separator(std::string_view line, size_t* pos) const;
  std::string_view token(std::string_view line, size_t* pos) const;
  Status read_labels(std::string_view line, size_t* pos, Labels* labels, size_t* chars) const;
  Status read_exemplar(std::string_view line, size_t* pos) const;
  Status check_sample(std::string_view suffix, const Labels& labels, double value,
                      bool has_exemplar);

  const bool prom_;
  const ParseLimits& limits_;
  const ParseContext& ctx_;
  Parsed* parsed_;
  size_t line_no_ = 0;
  std::optional<Family> family_;
  std::unordered_set<std::string> seen_families_;
  std::unordered_set<std::string> seen_meta_;
  // Prometheus text: metadata by family name.
  std::unordered_map<std::string, Family> prom_meta_;
};

Status Reader::run(std::string_view text) {
  size_t pos = 0;
  bool eof = false;
  while (pos < text.size()) {
    ++line_no_;
    const size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (prom_) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const size_t first = line.find_first_not_of(" \t");
      if (first == std::string_view::npos) continue;  // blank lines are allowed
      line.remove_prefix(first);
      if (line[0] == '#') {
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
          SLUICE_RETURN_IF_ERROR(metadata(line));
        }
        continue;  // other comments (and `# EOF`) are ignored
      }
      SLUICE_RETURN_IF_ERROR(sample(line));
      continue;
    }
    if (line == "# EOF") {
      if (pos != text.size()) return fail("text after # EOF");
      eof = true;
      break;
    }
    if (line.empty()) return fail("blank line (not allowed in OpenMetrics)");
    if (line[0] == '#') {
      SLUICE_RETURN_IF_ERROR(metadata(line));
    } else {
      SLUICE_RETURN_IF_ERROR(sample(line));
    }
  }
  if (!prom_ && !eof) return fail("missing the closing \"# EOF\" line");
  if (family_) SLUICE_RETURN_IF_ERROR(finish_family());
  return {};
}

Status Reader::metadata(std::string_view line) {
  std::string_view kind;
  if (line.starts_with("# HELP ")) {
    kind = "HELP";
  } else if (line.starts_with("# TYPE ")) {
    kind = "TYPE";
  } else if (line.starts_with("# UNIT ")) {
    kind = "UNIT";
  } else {
    return fail("a line starting with '#' must be # HELP, # TYPE, # UNIT or # EOF: \"" +
                excerpt(line) + "\"");
  }
  size_t pos = 7;
  const size_t start = pos;
  while (pos < line.size() && metric_char(line[pos], pos == start)) ++pos;
  const std::string name(line.substr(start, pos - start));
  if (name.empty()) return fail(std::string("# ") + std::string(kind) + " needs a metric name");
  if (pos >= line.size() || line[pos] != ' ') {
    if (prom_ && pos == line.size() && kind == "HELP") {
      // Prometheus text allows "# HELP name" with no text.
    } else {
      return fail(std::string("# ") + std::string(kind) + " " + name +
                  ": expected a space and a value after the metric name");
    }
  }
  const std::string_view rest = pos < line.size() ? line.substr(pos + 1) : std::string_view();

  Family* fam = nullptr;
  if (prom_) {
    fam = &prom_meta_[name];
    fam->name = name;
  } else {
    if (!family_ || family_->name != name) {
      SLUICE_RETURN_IF_ERROR(start_family(name));
    } else if (family_->samples > 0) {
      return fail("# " + std::string(kind) + " for " + name + " after its samples");
    }
    fam = &*family_;
  }
  if (kind == "TYPE") {
    const auto t = type_from(rest, prom_);
    if (!t) return fail("unknown metric type \"" + excerpt(rest) + "\" for " + name);
    if (fam->has_type && !prom_) return fail("repeated # TYPE for " + name);
    fam->type = *t;
    fam->has_type = true;
  } else if (kind == "HELP") {
    if (fam->has_help && !prom_) return fail("repeated # HELP for " + name);
    if (!valid_utf8(rest)) return fail("# HELP for " + name + " is not valid UTF-8");
    std::string help;
    for (size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == '\\' && i + 1 < rest.size()) {
        const char c = rest[++i];
        if (c == 'n') {
          help.push_back('\n');
        } else if (c == '\\' || c == '"') {
          help.push_back(c);
        } else {
          help.push_back('\\');
          help.push_back(c);
        }
      } else {
        help.push_back(rest[i]);
      }
    }
    fam->help = std::move(help);
    fam->has_help = true;
  } else {  // UNIT
    if (fam->has_unit) return fail("repeated # UNIT for " + name);
    for (const char c : rest) {
      if (!metric_char(c, false)) return fail("invalid character in the unit of " + name);
    }
    if (!rest.empty() && !(name.size() > rest.size() + 1 && name.ends_with(rest) &&
                           name[name.size() - rest.size() - 1] == '_')) {
      return fail("the metric name " + name + " must end with _" + std::string(rest) +
                  ", its unit");
    }
    fam->unit = std::string(rest);
    fam->has_unit = true;
  }
  if (fam->has_unit && !fam->unit.empty() &&
      (fam->type == Type::kInfo || fam->type == Type::kStateset)) {
    return fail("an info or stateset metric (" + name + ") cannot have a unit");
  }
  return {};
}

Status Reader::start_family(std::string name) {
  if (family_) SLUICE_RETURN_IF_ERROR(finish_family());
  if (!seen_families_.insert(name).second) {
    return fail("metric family " + name + " appears twice (families must not be interleaved)");
  }
  family_.emplace();
  family_->name = std::move(name);
  return {};
}

Status Reader::finish_group() {
  Family& f = *family_;
  if (!f.in_group) return {};
  f.finished_groups.insert(f.group);
  f.in_group = false;
  if (f.type != Type::kHistogram && f.type != Type::kGaugeHistogram) return {};
  const HistogramGroup& h = f.hist;
  const std::string where = f.name + (f.group.empty() ? "" : f.group);
  if (!h.has_inf) return fail("histogram " + where + " has no le=\"+Inf\" bucket");
  if (h.count && *h.count != h.inf_value) {
    return fail("histogram " + where + ": the count differs from the +Inf bucket");
  }
  if ((h.has_sum || h.has_gsum) && !h.count) {
    return fail("histogram " + where + ": a sum needs a count");
  }
  if (h.count && !(h.has_sum || h.has_gsum)) {
    return fail("histogram " + where + ": a count needs a sum");
  }
  if (h.negative_buckets && h.has_sum) {
    return fail("histogram " + where + ": _sum is not allowed with negative buckets");
  }
  if (!h.negative_buckets && h.negative_gsum) {
    return fail("histogram " + where + ": negative _gsum without negative buckets");
  }
  f.hist = {};
  return {};
}

Status Reader::finish_family() {
  SLUICE_RETURN_IF_ERROR(finish_group());
  family_.reset();
  return {};
}

// OpenMetrics: exactly one space. Prometheus text: one or more blanks.
Status Reader::separator(std::string_view line, size_t* pos) const {
  if (*pos >= line.size() || (line[*pos] != ' ' && !(prom_ && line[*pos] == '\t'))) {
    return fail("expected a space at column " + std::to_string(*pos + 1));
  }
  ++*pos;
  if (prom_) {
    while (*pos < line.size() && (line[*pos] == ' ' || line[*pos] == '\t')) ++*pos;
  }
  return {};
}

std::string_view Reader::token(std::string_view line, size_t* pos) const {
  const size_t start = *pos;
  while (*pos < line.size() && line[*pos] != ' ' && !(prom_ && line[*pos] == '\t')) ++*pos;
  return line.substr(start, *pos - start);
}

Status Reader::read_labels(std::string_view line, size_t* pos, Labels* labels,
                           size_t* chars) const {
  ++*pos;  // '{'
  bool first = true;
  while (true) {
    if (*pos >= line.size()) return fail("unterminated label set");
    if (line[*pos] == '}' && (first || prom_)) {
      ++*pos;
      return {};
    }
    const size_t start = *pos;
    while (*pos < line.size() && label_char(line[*pos], *pos == start)) ++*pos;
    const std::string name(line.substr(start, *pos - start));
    if (name.empty()) return fail("expected a label name at column " + std::to_string(start + 1));
    if (*pos >= line.size() || line[*pos] != '=') return fail("expected '=' after label " + name);
    ++*pos;
    if (*pos >= line.size() || line[*pos] != '"') {
      return fail("the value of label " + name + " must be in double quotes");
    }
    ++*pos;
    std::string value;
    bool closed = false;
    while (*pos < line.size()) {
      const char c = line[*pos];
      ++*pos;
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\' && *pos < line.size()) {
        const char e = line[*pos];
        ++*pos;
        if (e == 'n') {
          value.push_back('\n');
        } else if (e == '\\' || e == '"') {
          value.push_back(e);
        } else {
          value.push_back('\\');
          value.push_back(e);
        }
        continue;
      }
      value.push_back(c);
    }
    if (!closed) return fail("unterminated value of label " + name);
    if (!valid_utf8(value)) return fail("the value of label " + name + " is not valid UTF-8");
    if (value.size() > limits_.max_string_value)
      return fail("the value of label " + name + " is too long");
    *chars += utf8_length(name) + utf8_length(value);
    if (!labels->emplace(name, std::move(value)).second) return fail("repeated label " + name);
    first = false;
    if (*pos >= line.size()) return fail("unterminated label set");
    if (line[*pos] == ',') {
      ++*pos;
      if (!prom_ && (*pos >= line.size() || line[*pos] == '}'))
        return fail("trailing comma in labels");
      continue;
    }
    if (line[*pos] != '}') return fail("expected ',' or '}' after label " + name);
    ++*pos;
    return {};
  }
}

Status Reader::read_exemplar(std::string_view line, size_t* pos) const {
  // " # {labels} value [timestamp]"; *pos is at '#'.
  ++*pos;
  if (*pos >= line.size() || line[*pos] != ' ') return fail("expected a space after '#'");
  ++*pos;
  if (*pos >= line.size() || line[*pos] != '{') return fail("an exemplar starts with a label set");
  Labels labels;
  size_t chars = 0;
  SLUICE_RETURN_IF_ERROR(read_labels(line, pos, &labels, &chars));
  if (chars > kMaxExemplarLabelChars) {
    return fail("exemplar labels have " + std::to_string(chars) + " characters, more than 128");
  }
  SLUICE_RETURN_IF_ERROR(separator(line, pos));
  if (!parse_number(token(line, pos))) return fail("invalid exemplar value");
  if (*pos < line.size()) {
    SLUICE_RETURN_IF_ERROR(separator(line, pos));
    if (!real_number_syntax(token(line, pos))) return fail("invalid exemplar timestamp");
  }
  if (*pos != line.size()) return fail("text after the exemplar");
  return {};
}

Status Reader::check_sample(std::string_view suffix, const Labels& labels, double value,
                            bool has_exemplar) {
  Family& f = *family_;
  const auto label_double = [&](const char* key) -> std::optional<double> {
    const auto it = labels.find(key);
    if (it == labels.end()) return std::nullopt;
    return parse_number(it->second);
  };
  const bool counter_like = (f.type == Type::kCounter) ||
                            ((f.type == Type::kHistogram || f.type == Type::kGaugeHistogram) &&
                             (suffix == "_bucket" || suffix == "_count" || suffix == "_gcount")) ||
                            (f.type == Type::kSummary && (suffix == "_count" || suffix == "_sum"));
  if (counter_like && (std::isnan(value) || value < 0)) {
    return fail(f.name + std::string(suffix) + " must not be negative or NaN");
  }
  if (has_exemplar &&
      !((f.type == Type::kCounter && suffix == "_total") ||
        ((f.type == Type::kHistogram || f.type == Type::kGaugeHistogram) && suffix == "_bucket"))) {
    return fail("exemplars are allowed only on counter _total and histogram _bucket samples");
  }
  // The group: labels without the per-sample ones (le, quantile, the stateset label).
  Labels group_labels = labels;
  if (f.type == Type::kHistogram || f.type == Type::kGaugeHistogram) group_labels.erase("le");
  if (f.type == Type::kSummary) group_labels.erase("quantile");
  if (f.type == Type::kStateset) group_labels.erase(f.name);
  std::string group = render_series("", group_labels);
  if (!f.in_group || group != f.group) {
    SLUICE_RETURN_IF_ERROR(finish_group());
    if (f.finished_groups.count(group) != 0) {
      return fail("samples of " + f.name + group + " are not grouped together");
    }
    f.group = std::move(group);
    f.in_group = true;
  }
  HistogramGroup& h = f.hist;
  switch (f.type) {
    case Type::kHistogram:
    case Type::kGaugeHistogram:
      if (suffix == "_bucket") {
        const auto le = label_double("le");
        if (!le || std::isnan(*le)) return fail("a _bucket sample needs a numeric le label");
        if (h.any_bucket && !(*le > h.last_le))
          return fail("buckets are not in increasing le order");
        if (h.any_bucket && value < h.last_bucket) return fail("bucket counts decrease");
        if (*le < 0) h.negative_buckets = true;
        h.any_bucket = true;
        h.last_le = *le;
        h.last_bucket = value;
        if (std::isinf(*le) && *le > 0) {
          h.has_inf = true;
          h.inf_value = value;
        }
      } else if (suffix == "_count" || suffix == "_gcount") {
        h.count = value;
      } else if (suffix == "_sum") {
        if (std::isnan(value)) return fail(f.name + "_sum must not be NaN");
        h.has_sum = true;
      } else if (suffix == "_gsum") {
        if (std::isnan(value)) return fail(f.name + "_gsum must not be NaN");
        h.has_gsum = true;
        h.negative_gsum = value < 0;
      }
      break;
    case Type::kSummary:
      if (suffix.empty()) {
        const auto q = label_double("quantile");
        if (!q || std::isnan(*q) || *q < 0 || *q > 1) {
          return fail("a summary sample needs a quantile label between 0 and 1");
        }
        if (value < 0) return fail("a summary quantile must not be negative");
      }
      break;
    case Type::kInfo:
      if (value != 1) return fail("an info sample's value must be 1");
      break;
    case Type::kStateset:
      if (labels.count(f.name) == 0) {
        return fail("a stateset sample needs a label named " + f.name);
      }
      if (value != 0 && value != 1) return fail("a stateset sample's value must be 0 or 1");
      break;
    default: break;
  }
  return {};
}

Status Reader::sample(std::string_view line) {
  size_t pos = 0;
  while (pos < line.size() && metric_char(line[pos], pos == 0)) ++pos;
  const std::string_view name = line.substr(0, pos);
  if (name.empty()) return fail("expected a metric name: \"" + excerpt(line) + "\"");
  Labels labels;
  size_t chars = 0;
  if (pos < line.size() && line[pos] == '{') {
    SLUICE_RETURN_IF_ERROR(read_labels(line, &pos, &labels, &chars));
  }
  SLUICE_RETURN_IF_ERROR(separator(line, &pos));
  const std::string_view value_text = token(line, &pos);
  const auto value = parse_number(value_text);
  if (!value) return fail("invalid value \"" + excerpt(value_text) + "\" for " + std::string(name));
  std::optional<Timestamp> ts;
  bool has_exemplar = false;
  if (pos < line.size()) {
    SLUICE_RETURN_IF_ERROR(separator(line, &pos));
    if (pos == line.size() && prom_) {
      // trailing blanks
    } else if (pos < line.size() && line[pos] == '#') {
      if (prom_) return fail("exemplars are not part of the Prometheus text format");
      SLUICE_RETURN_IF_ERROR(read_exemplar(line, &pos));
      has_exemplar = true;
    } else {
      const std::string_view ts_text = token(line, &pos);
      ts = prom_ ? parse_millis(ts_text) : parse_seconds(ts_text);
      if (!ts) return fail("invalid or out-of-range timestamp \"" + excerpt(ts_text) + "\"");
      if (pos < line.size()) {
        SLUICE_RETURN_IF_ERROR(separator(line, &pos));
        if (pos < line.size()) {
          if (prom_ || line[pos] != '#') return fail("text after the timestamp");
          SLUICE_RETURN_IF_ERROR(read_exemplar(line, &pos));
          has_exemplar = true;
        }
      }
    }
  }

  Family* fam = nullptr;
  if (prom_) {
    auto it = prom_meta_.find(std::string(name));
    for (const std::string_view suffix : {"_bucket", "_count", "_sum"}) {
      if (it != prom_meta_.end()) break;
      if (name.ends_with(suffix)) {
        it = prom_meta_.find(std::string(name.substr(0, name.size() - suffix.size())));
      }
    }
    if (it != prom_meta_.end()) fam = &it->second;
  } else {
    std::string_view suffix;
    bool belongs = false;
    if (family_ && name.starts_with(family_->name)) {
      suffix = name.substr(family_->name.size());
      belongs = suffix_allowed(family_->type, suffix);
    }
    if (!belongs) {
      SLUICE_RETURN_IF_ERROR(start_family(std::string(name)));
      suffix = {};
      if (!suffix_allowed(family_->type, suffix)) {
        return fail("sample " + std::string(name) + " does not fit its family");
      }
    }
    SLUICE_RETURN_IF_ERROR(check_sample(suffix, labels, *value, has_exemplar));
    fam = &*family_;
    ++fam->samples;
  }

  if (parsed_->batch.samples.size() >= limits_.max_samples) {
    return fail("more than " + std::to_string(limits_.max_samples) + " samples");
  }
  Sample s;
  s.series = render_series(name, labels);
  if (const Status st = check_series_name(s.series, limits_, ""); !st.ok()) {
    return fail(st.message());
  }
  if (!prom_) {
    auto [it, fresh] = family_->last_ts.try_emplace(s.series, ts.has_value(), ts.value_or(0));
    if (!fresh) {
      if (it->second.first != ts.has_value()) {
        return fail(s.series + " mixes samples with and without timestamps");
      }
      if (ts && *ts < it->second.second) return fail(s.series + ": timestamps go backwards");
      it->second.second = ts.value_or(0);
    }
  }
  s.ts = ts.value_or(ctx_.receive_time);
  s.value = *value;
  if (seen_meta_.insert(s.series).second) {
    SeriesMeta meta;
    meta.name = s.series;
    meta.labels = std::move(labels);
    if (fam != nullptr) {
      meta.unit = fam->unit;
      meta.description = fam->help;
    }
    parsed_->meta.push_back(std::move(meta));
  }
  parsed_->batch.samples.push_back(std::move(s));
  return {};
}

}  // namespace

Status OpenMetricsParser::parse(std::string_view payload, const ParseContext& ctx, Parsed* out) {
  SLUICE_RETURN_IF_ERROR(check_payload_size(payload, limits_));
  Parsed parsed;
  Reader reader(options_.dialect == OpenMetricsOptions::Dialect::kPrometheusText, limits_, ctx,
                &parsed);
  SLUICE_RETURN_IF_ERROR(reader.run(payload));
  commit(std::move(parsed), out);
  return {};
}

}  // namespace sluice::formats
