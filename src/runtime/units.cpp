// Parsing and printing of sizes and durations for the config file and the logs. Arithmetic is
// exact (128-bit integers, no floating point), so "0.1s" is exactly 100ms.
#include "runtime/units.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <limits>

namespace sluice::runtime {
namespace {

__extension__ using u128 = unsigned __int128;

constexpr u128 kMaxResult = static_cast<u128>(std::numeric_limits<int64_t>::max());
constexpr size_t kMaxFractionDigits = 18;

// A decimal number "123" or "1.25" as an integer part and a fraction num / 10^digits.
struct Decimal {
  u128 integer = 0;
  u128 fraction = 0;
  u128 fraction_scale = 1;
};

// Reads a decimal number at text[pos...]; false if there is none or it is too long.
bool read_decimal(std::string_view text, size_t& pos, Decimal* out) {
  const size_t start = pos;
  Decimal d;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
    d.integer = d.integer * 10 + static_cast<unsigned>(text[pos] - '0');
    if (d.integer > kMaxResult) return false;
    ++pos;
  }
  const bool had_integer = pos > start;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
      if (digits < kMaxFractionDigits) {  // further digits are below any unit's resolution
        d.fraction = d.fraction * 10 + static_cast<unsigned>(text[pos] - '0');
        d.fraction_scale *= 10;
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) return false;
  } else if (!had_integer) {
    return false;
  }
  *out = d;
  return true;
}

// value * multiplier, rounded down; false on overflow past int64.
bool scale(const Decimal& d, u128 multiplier, u128* out) {
  const u128 whole = d.integer * multiplier;
  if (d.integer != 0 && whole / d.integer != multiplier) return false;
  const u128 part = d.fraction * multiplier / d.fraction_scale;
  *out = whole + part;
  return *out <= kMaxResult;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

struct Unit {
  std::string_view name;
  uint64_t multiplier;
};

constexpr std::array<Unit, 10> kSizeUnits{{
    {"b", 1},
    {"kb", 1000},
    {"mb", 1000 * 1000},
    {"gb", 1000ull * 1000 * 1000},
    {"tb", 1000ull * 1000 * 1000 * 1000},
    {"kib", 1ull << 10},
    {"mib", 1ull << 20},
    {"gib", 1ull << 30},
    {"tib", 1ull << 40},
    {"", 1},
}};

constexpr uint64_t kNsPerUs = 1000;
constexpr uint64_t kNsPerMs = 1000 * kNsPerUs;
constexpr uint64_t kNsPerS = 1000 * kNsPerMs;
constexpr uint64_t kNsPerMin = 60 * kNsPerS;
constexpr uint64_t kNsPerH = 60 * kNsPerMin;
constexpr uint64_t kNsPerD = 24 * kNsPerH;

constexpr std::array<Unit, 9> kDurationUnits{{
    {"ns", 1},
    {"us", kNsPerUs},
    {"\xC2\xB5s", kNsPerUs},  // µs
    {"ms", kNsPerMs},
    {"s", kNsPerS},
    {"m", kNsPerMin},
    {"min", kNsPerMin},
    {"h", kNsPerH},
    {"d", kNsPerD},
}};

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  size_t pos = 0;
  Decimal d;
  if (!read_decimal(text, pos, &d)) {
    return invalid_argument("expected " + std::string(kSizeUnitsHelp) + ", got " + quoted(text));
  }
  size_t unit_start = pos;
  if (unit_start < text.size() && text[unit_start] == ' ') ++unit_start;
  const std::string unit = lower(text.substr(unit_start));
  if (unit.empty() && unit_start != pos) {  // "64 " : a dangling space
    return invalid_argument("expected " + std::string(kSizeUnitsHelp) + ", got " + quoted(text));
  }
  for (const Unit& u : kSizeUnits) {
    if (u.name != unit) continue;
    if (unit.empty() && d.fraction_scale != 1) break;  // "1.5" bytes
    u128 bytes = 0;
    if (!scale(d, u.multiplier, &bytes)) {
      return invalid_argument("size " + quoted(text) + " is too large (at most 8EiB)");
    }
    return static_cast<uint64_t>(bytes);
  }
  return invalid_argument("expected " + std::string(kSizeUnitsHelp) + ", got " + quoted(text));
}

Result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  const auto bad = [&] {
    return invalid_argument("expected " + std::string(kDurationUnitsHelp) + ", got " +
                            quoted(text));
  };
  if (text == "0") return std::chrono::nanoseconds{0};
  if (text.empty()) return bad();
  size_t pos = 0;
  u128 total = 0;
  while (pos < text.size()) {
    Decimal d;
    if (!read_decimal(text, pos, &d)) return bad();
    const size_t unit_start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) == 0 &&
           text[pos] != '.') {
      ++pos;
    }
    const std::string unit = lower(text.substr(unit_start, pos - unit_start));
    const Unit* found = nullptr;
    for (const Unit& u : kDurationUnits) {
      if (u.name == unit) found = &u;
    }
    if (found == nullptr) return bad();
    u128 ns = 0;
    if (!scale(d, found->multiplier, &ns) || total + ns > kMaxResult) {
      return invalid_argument("duration " + quoted(text) + " is too long (at most 292 years)");
    }
    total += ns;
  }
  return std::chrono::nanoseconds{static_cast<int64_t>(total)};
}

std::string format_size(uint64_t bytes) {
  static constexpr std::array<std::string_view, 4> kNames{"TiB", "GiB", "MiB", "KiB"};
  static constexpr std::array<uint64_t, 4> kMults{1ull << 40, 1ull << 30, 1ull << 20, 1ull << 10};
  for (size_t i = 0; i < kNames.size(); ++i) {
    const uint64_t m = kMults[i];
    if (bytes < m) continue;
    // Exact with at most two decimals?
    const u128 hundredths = static_cast<u128>(bytes) * 100;
    if (hundredths % m != 0) continue;
    const uint64_t h = static_cast<uint64_t>(hundredths / m);
    std::string s = std::to_string(h / 100);
    if (h % 100 != 0) {
      s += '.';
      s += static_cast<char>('0' + (h % 100) / 10);
      if (h % 10 != 0) s += static_cast<char>('0' + h % 10);
    }
    return s + std::string(kNames[i]);
  }
  return std::to_string(bytes) + "B";
}

std::string format_bytes(uint64_t bytes) {
  static constexpr std::array<std::string_view, 5> kNames{"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + "B";
  double v = static_cast<double>(bytes) / 1024;
  size_t i = 0;
  while (v >= 1024 && i + 1 < kNames.size()) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf + std::string(kNames[i]);
}

std::string format_duration(std::chrono::nanoseconds d) {
  const int64_t ns = d.count();
  if (ns == 0) return "0s";
  static constexpr std::array<Unit, 7> kUnits{{{"d", kNsPerD},
                                               {"h", kNsPerH},
                                               {"m", kNsPerMin},
                                               {"s", kNsPerS},
                                               {"ms", kNsPerMs},
                                               {"us", kNsPerUs},
                                               {"ns", 1}}};
  const uint64_t magnitude = ns < 0 ? -static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  for (const Unit& u : kUnits) {
    if (magnitude % u.multiplier == 0) {
      return (ns < 0 ? "-" : "") + std::to_string(magnitude / u.multiplier) + std::string(u.name);
    }
  }
  return std::to_string(ns) + "ns";
}

}  // namespace sluice::runtime
