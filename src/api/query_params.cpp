// The API's request parameters and answer fragments (see query_params.h).
#include "api/query_params.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <ctime>

namespace sluice::api {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSecond = 1'000'000'000;
// Epoch milliseconds that fit in nanoseconds (int64): about the years 1678 to 2262.
constexpr int64_t kMaxEpochMs = INT64_MAX / kNsPerMs;

bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool parse_iso8601(std::string_view s, Timestamp* out) {
  // YYYY-MM-DDTHH:MM:SS
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &month) ||
      s[7] != '-' || !digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, &hour) || s[13] != ':' || !digits(s, 14, 2, &minute) || s[16] != ':' ||
      !digits(s, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    int64_t scale = kNsPerSecond / 10;
    const size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ns += (s[pos] - '0') * scale;  // digits past nanoseconds add nothing
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const int sign = s[pos] == '-' ? -1 : 1;
      int oh = 0, om = 0;
      if (!digits(s, pos + 1, 2, &oh)) return false;
      size_t next = pos + 3;
      if (next < s.size() && s[next] == ':') ++next;
      if (!digits(s, next, 2, &om) || oh > 23 || om > 59) return false;
      pos = next + 2;
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return false;
    }
  }
  if (pos != s.size()) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_s;
  if (secs > INT64_MAX / kNsPerSecond - 1 || secs < INT64_MIN / kNsPerSecond + 1) return false;
  *out = secs * kNsPerSecond + frac_ns;
  return true;
}

}  // namespace

bool parse_time_param(std::string_view field, std::string_view text, Timestamp* out,
                      ParamError* error) {
  const bool numeric = !text.empty() && text.find_first_not_of("-0123456789") == std::string::npos;
  if (numeric) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec == std::errc() && end == text.data() + text.size() && ms <= kMaxEpochMs &&
        ms >= -kMaxEpochMs) {
      *out = ms * kNsPerMs;
      return true;
    }
  } else if (parse_iso8601(text, out)) {
    return true;
  }
  *error = {std::string(field),
            fmt::format("query parameter '{}': expected a time as epoch milliseconds "
                        "(1700000000000) or ISO-8601 (2026-11-24T05:00:00Z), got '{}'",
                        field, text)};
  return false;
}

bool parse_count_param(std::string_view field, std::string_view text, uint64_t min, uint64_t max,
                       uint64_t* out, ParamError* error) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    *error = {std::string(field), fmt::format("query parameter '{}': expected a whole number from "
                                              "{} to {}, got '{}'",
                                              field, min, max, text)};
    return false;
  }
  if (v < min || v > max) {
    *error = {std::string(field),
              fmt::format("query parameter '{}': {} is {}; it must be from {} to {}", field, v,
                          v < min ? "too small" : "over the limit", min, max)};
    return false;
  }
  *out = v;
  return true;
}

bool check_known_params(const HttpRequest& request, std::initializer_list<std::string_view> known,
                        ParamError* error) {
  for (const auto& [name, value] : request.query) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || name == k;
    if (ok) continue;
    std::string list;
    for (std::string_view k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
    *error = {name, fmt::format("unknown query parameter '{}'; this path takes {}", name,
                                list.empty() ? std::string("none") : list)};
    return false;
  }
  return true;
}

nlohmann::json value_json(const Value& value) {
  switch (value_type(value)) {
    case ValueType::kDouble: {
      const double d = std::get<double>(value);
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Inf" : "-Inf";
      return d;
    }
    case ValueType::kInt64: return std::get<int64_t>(value);
    case ValueType::kBool: return std::get<bool>(value);
    case ValueType::kString: return std::get<std::string>(value);
  }
  return nullptr;
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace sluice::api
