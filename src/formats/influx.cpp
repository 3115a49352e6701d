// InfluxDB line protocol parser (see influx.h).
#include "formats/influx.h"

#include <charconv>
#include <cmath>
#include <map>
#include <unordered_set>

namespace sluice::formats {
namespace {

// Reads up to an unescaped char of `stops`; a backslash before one of `escapable` yields that
// char, before anything else it stays literal.
std::string read_escaped(std::string_view line, size_t* pos, std::string_view stops,
                         std::string_view escapable) {
  std::string out;
  while (*pos < line.size()) {
    const char c = line[*pos];
    if (c == '\\' && *pos + 1 < line.size() &&
        escapable.find(line[*pos + 1]) != std::string_view::npos) {
      out.push_back(line[*pos + 1]);
      *pos += 2;
      continue;
    }
    if (stops.find(c) != std::string_view::npos) break;
    out.push_back(c);
    ++*pos;
  }
  return out;
}

bool parse_bool(std::string_view s, bool* out) {
  if (s == "t" || s == "T" || s == "true" || s == "True" || s == "TRUE") {
    *out = true;
    return true;
  }
  if (s == "f" || s == "F" || s == "false" || s == "False" || s == "FALSE") {
    *out = false;
    return true;
  }
  return false;
}

bool decimal_float(std::string_view s, double* out) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return false;  // no inf/nan/hex
    }
  }
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}

void render_value(std::string_view v, std::string* out) {
  for (const char c : v) {
    if (c == '\\' || c == '"') out->push_back('\\');
    if (c == '\n') {
      *out += "\\n";
      continue;
    }
    out->push_back(c);
  }
}

}  // namespace

Status InfluxParser::parse(std::string_view payload, const ParseContext& ctx, Parsed* out) {
  SLUICE_RETURN_IF_ERROR(check_payload_size(payload, limits_));
  if (!valid_utf8(payload)) return invalid_argument("influx: the payload is not valid UTF-8");
  Parsed parsed;
  std::unordered_set<std::string> seen;
  size_t line_no = 0;
  size_t start = 0;
  while (start < payload.size()) {
    ++line_no;
    const size_t nl = payload.find('\n', start);
    std::string_view line =
        payload.substr(start, nl == std::string_view::npos ? payload.npos : nl - start);
    start = nl == std::string_view::npos ? payload.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line.remove_prefix(first);
    const auto fail = [&](const std::string& what, size_t col) {
      return invalid_argument("influx: line " + std::to_string(line_no) + " column " +
                              std::to_string(col + 1) + ": " + what);
    };
    size_t pos = 0;
    const std::string measurement = read_escaped(line, &pos, ", ", ", ");
    if (measurement.empty()) return fail("missing measurement", pos);
    std::map<std::string, std::string> tags;
    while (pos < line.size() && line[pos] == ',') {
      ++pos;
      const size_t key_col = pos;
      std::string key = read_escaped(line, &pos, ",= ", ",= ");
      if (key.empty() || pos >= line.size() || line[pos] != '=') {
        return fail("expected tag=value", key_col);
      }
      ++pos;
      std::string value = read_escaped(line, &pos, ", ", ",= ");
      if (value.empty()) return fail("empty value of tag " + key, pos);
      if (!tags.emplace(std::move(key), std::move(value)).second) {
        return fail("repeated tag", key_col);
      }
    }
    if (pos >= line.size() || line[pos] != ' ')
      return fail("expected a space before the fields", pos);
    while (pos < line.size() && line[pos] == ' ') ++pos;
    std::string prefix = measurement;
    if (!tags.empty()) {
      prefix.push_back('{');
      bool first_tag = true;
      for (const auto& [k, v] : tags) {
        if (!first_tag) prefix.push_back(',');
        first_tag = false;
        prefix += k + "=\"";
        render_value(v, &prefix);
        prefix.push_back('"');
      }
      prefix.push_back('}');
    }
    prefix.push_back('.');
    const size_t first_sample = parsed.batch.samples.size();
    while (true) {
      const size_t key_col = pos;
      const std::string key = read_escaped(line, &pos, ",= ", ",= ");
      if (key.empty() || pos >= line.size() || line[pos] != '=') {
        return fail("expected field=value", key_col);
      }
      ++pos;
      const size_t value_col = pos;
      Sample s;
      if (pos < line.size() && line[pos] == '"') {
        ++pos;
        std::string text;
        bool closed = false;
        while (pos < line.size()) {
          const char c = line[pos++];
          if (c == '\\' && pos < line.size() && (line[pos] == '"' || line[pos] == '\\')) {
            text.push_back(line[pos++]);
            continue;
          }
          if (c == '"') {
            closed = true;
            break;
          }
          text.push_back(c);
        }
        if (!closed) return fail("unterminated string value of field " + key, value_col);
        if (const Status st = check_string_value(text, limits_, ""); !st.ok()) {
          return fail("field " + key + ": " + st.message(), value_col);
        }
        s.value = std::move(text);
      } else {
        const size_t vstart = pos;
        while (pos < line.size() && line[pos] != ',' && line[pos] != ' ') ++pos;
        const std::string_view v = line.substr(vstart, pos - vstart);
        bool b;
        double d;
        if (v.size() > 1 && (v.back() == 'i' || v.back() == 'u')) {
          int64_t i = 0;
          const std::string_view digits = v.substr(0, v.size() - 1);
          const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
          if (ec != std::errc() || p != digits.data() + digits.size() ||
              (v.back() == 'u' && i < 0)) {
            return fail("integer value of field " + key + " is malformed or out of range",
                        value_col);
          }
          s.value = i;
        } else if (parse_bool(v, &b)) {
          s.value = b;
        } else if (decimal_float(v, &d)) {
          s.value = d;
        } else {
          return fail("invalid value \"" + excerpt(v) + "\" of field " + key, value_col);
        }
      }
      s.series = prefix + key;
      if (const Status st = check_series_name(s.series, limits_, ""); !st.ok()) {
        return fail(st.message(), key_col);
      }
      if (parsed.batch.samples.size() >= limits_.max_samples) {
        return fail("more than " + std::to_string(limits_.max_samples) + " samples", key_col);
      }
      if (seen.insert(s.series).second) {
        SeriesMeta meta;
        meta.name = s.series;
        meta.labels = tags;
        meta.type = value_type(s.value);
        parsed.meta.push_back(std::move(meta));
      }
      parsed.batch.samples.push_back(std::move(s));
      if (pos < line.size() && line[pos] == ',') {
        ++pos;
        continue;
      }
      break;
    }
    Timestamp ts = ctx.receive_time;
    while (pos < line.size() && line[pos] == ' ') ++pos;
    if (pos < line.size()) {
      const size_t ts_col = pos;
      size_t end = line.find(' ', pos);
      if (end == std::string_view::npos) end = line.size();
      const std::string_view t = line.substr(pos, end - pos);
      int64_t raw = 0;
      const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), raw);
      std::optional<Timestamp> conv;
      if (ec == std::errc() && p == t.data() + t.size()) conv = int_to_ns(raw, options_.precision);
      if (!conv) return fail("invalid or out-of-range timestamp \"" + excerpt(t) + "\"", ts_col);
      ts = *conv;
      pos = end;
      while (pos < line.size() && line[pos] == ' ') ++pos;
      if (pos != line.size()) return fail("text after the timestamp", pos);
    }
    for (size_t i = first_sample; i < parsed.batch.samples.size(); ++i) {
      parsed.batch.samples[i].ts = ts;
    }
  }
  commit(std::move(parsed), out);
  return {};
}

}  // namespace sluice::formats
