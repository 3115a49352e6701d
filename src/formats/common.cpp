// Helpers shared by the payload parsers (see common.h).
#include "formats/common.h"

#include <chrono>
#include <cmath>
#include <limits>

namespace sluice::formats {
namespace {

constexpr int64_t kNanosPer[] = {1'000'000'000, 1'000'000, 1'000, 1};

int64_t nanos_per(TimeUnit unit) { return kNanosPer[static_cast<int>(unit)]; }

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

}  // namespace

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) {
      return false;  // overlong
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::optional<Timestamp> int_to_ns(int64_t v, TimeUnit unit) {
  const int64_t f = nanos_per(unit);
  if (v > std::numeric_limits<int64_t>::max() / f || v < std::numeric_limits<int64_t>::min() / f) {
    return std::nullopt;
  }
  return v * f;
}

std::optional<Timestamp> double_to_ns(double v, TimeUnit unit) {
  if (!std::isfinite(v)) return std::nullopt;
  // Whole units and the fraction apart, so the result is as exact as the double allows (a
  // single multiply would lose ~256 ns at today's epoch seconds).
  const double whole = std::trunc(v);
  constexpr double kTwo63 = 9223372036854775808.0;
  if (!(std::fabs(whole) < kTwo63)) return std::nullopt;
  const auto whole_ns = int_to_ns(static_cast<int64_t>(whole), unit);
  if (!whole_ns) return std::nullopt;
  const double fraction = v - whole;  // exact
  const double scaled = fraction * static_cast<double>(nanos_per(unit));
  const auto frac_ns = static_cast<int64_t>(scaled + (scaled >= 0 ? 0.5 : -0.5));
  Timestamp ns;
  if (__builtin_add_overflow(*whole_ns, frac_ns, &ns)) return std::nullopt;
  return ns;
}

std::optional<Timestamp> parse_iso8601(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, &h) || s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' ||
      !digits(s, 17, 2, &sec)) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    int64_t scale = 100'000'000;
    const size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ns += (s[pos] - '0') * scale;  // digits past nanoseconds are dropped (scale 0)
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset_s = 0;
  if (pos >= s.size()) return std::nullopt;  // a zone is required: no guessing local time
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(mo)},
                                        std::chrono::day{unsigned(d)}};
  if (!ymd.ok()) return std::nullopt;
  const int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  const auto base = int_to_ns(secs, TimeUnit::kSeconds);
  if (!base) return std::nullopt;
  if (*base > std::numeric_limits<int64_t>::max() - frac_ns) return std::nullopt;
  return *base + frac_ns;
}

std::string at(std::string_view where, std::string_view what) {
  if (where.empty()) return std::string(what);
  std::string m(where);
  m += ": ";
  m += what;
  return m;
}

Status check_series_name(std::string_view name, const ParseLimits& limits, std::string_view where) {
  if (name.empty()) return invalid_argument(at(where, "empty series name"));
  if (name.size() > limits.max_series_name) {
    return invalid_argument(at(where, "series name of " + std::to_string(name.size()) +
                                          " bytes is longer than the limit of " +
                                          std::to_string(limits.max_series_name)));
  }
  if (!valid_utf8(name)) return invalid_argument(at(where, "series name is not valid UTF-8"));
  return {};
}

Status check_string_value(std::string_view s, const ParseLimits& limits, std::string_view where) {
  if (s.size() > limits.max_string_value) {
    return invalid_argument(at(where, "string value of " + std::to_string(s.size()) +
                                          " bytes is longer than the limit of " +
                                          std::to_string(limits.max_string_value)));
  }
  if (!valid_utf8(s)) return invalid_argument(at(where, "string is not valid UTF-8"));
  return {};
}

Status check_payload_size(std::string_view payload, const ParseLimits& limits) {
  if (payload.size() > limits.max_payload_bytes) {
    return invalid_argument("payload of " + std::to_string(payload.size()) +
                            " bytes is larger than the limit of " +
                            std::to_string(limits.max_payload_bytes) + " bytes");
  }
  return {};
}

void commit(Parsed&& parsed, Parsed* out) {
  if (out->batch.samples.empty()) {
    out->batch.samples = std::move(parsed.batch.samples);
  } else {
    out->batch.samples.insert(out->batch.samples.end(),
                              std::make_move_iterator(parsed.batch.samples.begin()),
                              std::make_move_iterator(parsed.batch.samples.end()));
  }
  out->meta.insert(out->meta.end(), std::make_move_iterator(parsed.meta.begin()),
                   std::make_move_iterator(parsed.meta.end()));
}

std::string excerpt(std::string_view s) {
  std::string r;
  for (size_t i = 0; i < s.size() && i < 40; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    r.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  }
  if (s.size() > 40) r += "...";
  return r;
}

}  // namespace sluice::formats
