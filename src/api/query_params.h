// What the REST API's routes share to read a request and write an answer beyond router.h: times
// as ISO-8601 UTC or epoch milliseconds, counts within limits, unknown query parameters refused,
// sample values as JSON, CSV fields. Every parse error names the parameter, so that the route can
// answer 400 with the field at fault.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/http_server.h"
#include "core/clock.h"
#include "core/sample.h"
#include "core/status.h"

namespace sluice::api {

// A parameter that does not parse: the answer says which one and why.
struct ParamError {
  std::string field;
  std::string message;
};

// "2026-11-24T05:13:04.123Z" (milliseconds, truncated toward the past).
using sluice::iso8601_ms;  // core/clock.h

// A point in time as a query parameter: epoch milliseconds ("1700000000000", may be negative) or
// ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (no zone: UTC). Nanoseconds since
// the epoch; false with *error set if it is neither.
bool parse_time_param(std::string_view field, std::string_view text, Timestamp* out,
                      ParamError* error);

// A whole number from min to max.
bool parse_count_param(std::string_view field, std::string_view text, uint64_t min, uint64_t max,
                       uint64_t* out, ParamError* error);

// Refuses a query parameter that is not in `known` (a typo must not be silently ignored).
bool check_known_params(const HttpRequest& request, std::initializer_list<std::string_view> known,
                        ParamError* error);

// A sample value as JSON: numbers, booleans and strings as such; NaN and the infinities (which
// JSON cannot hold) as the strings "NaN", "Inf", "-Inf".
nlohmann::json value_json(const Value& value);

// JSON text that never throws on bad UTF-8 (replaced).
std::string dump_json(const nlohmann::json& j);

// Appends one CSV field (RFC 4180: quoted when it holds a comma, quote, CR or LF).
void append_csv_field(std::string& out, std::string_view field);

}  // namespace sluice::api
