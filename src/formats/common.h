// Helpers shared by the payload parsers: bounded checks (UTF-8, name and string lengths),
// checked time-unit conversions to nanoseconds, number grammar, and the all-or-nothing commit of
// a parsed message into the caller's Parsed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/sample.h"
#include "core/status.h"
#include "formats/parser.h"

namespace sluice::formats {

// Units a numeric timestamp may be given in.
enum class TimeUnit : uint8_t { kSeconds, kMillis, kMicros, kNanos };

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);
// The number of code points in valid UTF-8 `s`.
size_t utf8_length(std::string_view s);

// An integer count of `unit` since the epoch in nanoseconds; nullopt if it does not fit int64.
std::optional<Timestamp> int_to_ns(int64_t v, TimeUnit unit);
// A (possibly fractional) count of `unit` in nanoseconds; nullopt if not finite or out of range.
std::optional<Timestamp> double_to_ns(double v, TimeUnit unit);

// Parses an ISO-8601 / RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).
// A space may replace the 'T'. Nullopt if malformed or outside the int64 ns range.
std::optional<Timestamp> parse_iso8601(std::string_view s);

// "where: what", or just "what" when `where` is empty. Helpers below that take a `where` format
// their messages this way, so a hot loop can pass "" and add the location only on failure with
// Status::with_context (see in_context).
std::string at(std::string_view where, std::string_view what);

// Adds the location `where()` (a callable, run only on failure) to a failed status.
template <typename F>
Status in_context(Status st, F&& where) {
  if (st.ok()) return st;
  return st.with_context(where());
}

// Checks a series name: non-empty, valid UTF-8, at most limits.max_series_name bytes.
// `where` says where it came from, for the message.
Status check_series_name(std::string_view name, const ParseLimits& limits, std::string_view where);
// Checks a string value: valid UTF-8, at most limits.max_string_value bytes.
Status check_string_value(std::string_view s, const ParseLimits& limits, std::string_view where);

// Rejects payloads above limits.max_payload_bytes before any parsing.
Status check_payload_size(std::string_view payload, const ParseLimits& limits);

// Appends `parsed` to `out` (the only place a parser touches `out`).
void commit(Parsed&& parsed, Parsed* out);

// A short, printable excerpt of `s` for error messages (at most 40 bytes, non-printables as '?').
std::string excerpt(std::string_view s);

}  // namespace sluice::formats
