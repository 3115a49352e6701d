// SenML JSON packs of samples, under a byte limit (see senml_pack.h).
#include "sinks/channel/senml_pack.h"

#include <fmt/format.h>

#include <cmath>
#include <variant>

#include "core/quality.h"

namespace sluice::sinks::channel {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
// RFC 8428 section 4.5.3: a time below 2^28 s is relative to the receiver's "now".
constexpr int64_t kRelativeTimeLimitNs = (int64_t{1} << 28) * kNsPerSecond;
// The receiver's longest series name (formats::ParseLimits::max_series_name).
constexpr size_t kMaxNameBytes = 1024;

bool alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// RFC 8428 section 4.5.1: A-Z a-z 0-9 - : . / _, starting with a letter or digit.
bool senml_name(std::string_view n) {
  if (n.empty() || !alnum(n[0])) return false;
  for (const char c : n) {
    if (!alnum(c) && c != '-' && c != ':' && c != '.' && c != '/' && c != '_') return false;
  }
  return true;
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one.
size_t utf8_sequence(std::string_view s) {
  const auto b = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && b(i) >= lo && b(i) <= hi;
  };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// The part of a series name that a run of records shares as bn: up to and including its last
// '.', or "" when it has none (or ends with it, which would leave n empty).
std::string_view prefix_of(std::string_view series) {
  const size_t dot = series.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == series.size()) return {};
  return series.substr(0, dot + 1);
}

// The base fields in force while a pack is written.
struct PackState {
  std::string bn;
  bool first = true;
  int64_t bt_seconds = 0;
};

void append_record(std::string& out, const Sample& s, std::string_view unit, PackState& st) {
  out.push_back('{');
  const std::string_view prefix = prefix_of(s.series);
  if (prefix != st.bn) {
    out += "\"bn\":";
    append_json_string(out, prefix);
    out.push_back(',');
    st.bn = std::string(prefix);
  }
  if (st.first) {
    st.bt_seconds = s.ts / kNsPerSecond;  // ts > 0 (senml_unfit)
    fmt::format_to(std::back_inserter(out), "\"bt\":{},", st.bt_seconds);
    st.first = false;
  }
  out += "\"n\":";
  append_json_string(out, std::string_view(s.series).substr(st.bn.size()));
  if (!unit.empty()) {
    out += ",\"u\":";
    append_json_string(out, unit);
  }
  const int64_t offset_ns = s.ts - st.bt_seconds * kNsPerSecond;
  if (offset_ns != 0) {
    fmt::format_to(std::back_inserter(out), ",\"t\":{}",
                   static_cast<double>(offset_ns) / static_cast<double>(kNsPerSecond));
  }
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          out += v ? ",\"vb\":true" : ",\"vb\":false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          out += ",\"vs\":";
          append_json_string(out, v);
        } else {
          fmt::format_to(std::back_inserter(out), ",\"v\":{}", v);
        }
      },
      s.value);
  out.push_back('}');
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const size_t n = utf8_sequence(text.substr(i));
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
        } else {
          out.push_back(c);
        }
    }
    ++i;
  }
  out.push_back('"');
}

std::optional<std::string> senml_unfit(const Sample& sample) {
  if (quality::is_bad(sample.quality)) {
    return fmt::format(
        "series '{}': quality is Bad (0x{:08X}); SenML has no quality, so a Bad "
        "value is not sent",
        sample.series, sample.quality);
  }
  if (!senml_name(sample.series) || sample.series.size() > kMaxNameBytes) {
    return fmt::format(
        "series '{}': not a SenML name (1 to {} characters of A-Z a-z 0-9 - : . / _, starting "
        "with a letter or digit)",
        sample.series.substr(0, 200), kMaxNameBytes);
  }
  if (sample.ts < kRelativeTimeLimitNs) {
    return fmt::format(
        "series '{}': time {} ns is before 1978-07-04, which SenML reads as "
        "relative to the receiver's clock",
        sample.series, sample.ts);
  }
  if (const double* d = std::get_if<double>(&sample.value); d != nullptr && !std::isfinite(*d)) {
    return fmt::format("series '{}': the value {} is not a JSON number", sample.series, *d);
  }
  return std::nullopt;
}

Pack encode_pack(std::span<const Sample> samples, const UnitOf& unit_of, size_t max_bytes,
                 size_t max_records) {
  Pack pack;
  pack.body.push_back('[');
  PackState state;
  std::string record;
  for (const Sample& s : samples) {
    if (pack.samples >= max_records) break;
    PackState next = state;
    record.clear();
    append_record(record, s, unit_of ? unit_of(s.series) : std::string_view(), next);
    const size_t separator = pack.samples == 0 ? 0 : 1;
    if (pack.body.size() + separator + record.size() + 1 > max_bytes) break;  // +1: the ']'
    if (separator != 0) pack.body.push_back(',');
    pack.body += record;
    state = std::move(next);
    ++pack.samples;
  }
  if (pack.samples == 0) {
    pack.body.clear();
    return pack;
  }
  pack.body.push_back(']');
  return pack;
}

}  // namespace sluice::sinks::channel
