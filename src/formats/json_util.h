// simdjson glue shared by the JSON payload parsers (kepware, json, senml): a DOM parser bounded
// by ParseLimits (size and nesting depth), error messages that name the field, and the mapping of
// a JSON scalar to a Sample value.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

#include "core/sample.h"
#include "core/status.h"
#include "formats/parser.h"

namespace sluice::formats {

// Owns a reusable simdjson DOM parser. Not thread-safe (one per parser object).
class JsonDom {
 public:
  // Parses `payload` (already size-checked) with nesting bounded by limits.max_depth. The
  // element stays valid until the next parse. Malformed JSON, invalid UTF-8, numbers outside
  // double or 64-bit integer range and too-deep nesting are kInvalidArgument.
  Status parse(std::string_view payload, const ParseLimits& limits, simdjson::dom::element* root);

 private:
  simdjson::dom::parser parser_;
  size_t depth_ = 0;
};

// "object", "array", "string", "number", "bool" or "null".
const char* json_type_name(simdjson::dom::element_type t);

// A JSON scalar as a Value: integers that fit int64 → int64, other numbers → double, true/false
// → bool, strings → string (UTF-8 and length checked). Arrays, objects and null are errors that
// name `where`.
Status json_scalar(simdjson::dom::element e, const ParseLimits& limits, std::string_view where,
                   Value* out);

// A JSON number as double (any numeric kind); an error naming `where` otherwise.
Status json_number(simdjson::dom::element e, std::string_view where, double* out);

}  // namespace sluice::formats

namespace sluice::formats {
// A JSON number as a timestamp counted in `unit` since the epoch, in ns; an error naming `where`
// if it is not a number or does not fit.
Status json_time(simdjson::dom::element e, int unit, std::string_view where, Timestamp* out);
}  // namespace sluice::formats
