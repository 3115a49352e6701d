// simdjson glue shared by the JSON payload parsers (see json_util.h).
#include "formats/json_util.h"

#include <algorithm>

#include "formats/common.h"

namespace sluice::formats {

namespace dom = simdjson::dom;

Status JsonDom::parse(std::string_view payload, const ParseLimits& limits, dom::element* root) {
  if (depth_ != limits.max_depth || parser_.capacity() < payload.size()) {
    const size_t capacity = std::max<size_t>(payload.size(), 4096);
    if (parser_.allocate(capacity, limits.max_depth) != simdjson::SUCCESS) {
      return invalid_argument("cannot allocate a JSON parser for " +
                              std::to_string(payload.size()) + " bytes");
    }
    depth_ = limits.max_depth;
  }
  auto r = parser_.parse(payload.data(), payload.size(), true);
  if (r.error() != simdjson::SUCCESS) {
    std::string what;
    switch (r.error()) {
      case simdjson::DEPTH_ERROR:
        what = "nesting deeper than the limit of " + std::to_string(limits.max_depth);
        break;
      case simdjson::UTF8_ERROR: what = "invalid UTF-8"; break;
      case simdjson::NUMBER_ERROR:
        what = "a number outside the range of double or 64-bit integers";
        break;
      default: what = simdjson::error_message(r.error()); break;
    }
    return invalid_argument("malformed JSON: " + what);
  }
  *root = r.value_unsafe();
  return {};
}

const char* json_type_name(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY: return "array";
    case dom::element_type::OBJECT: return "object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE: return "number";
    case dom::element_type::STRING: return "string";
    case dom::element_type::BOOL: return "bool";
    case dom::element_type::NULL_VALUE: return "null";
  }
  return "unknown";
}

Status json_scalar(dom::element e, const ParseLimits& limits, std::string_view where, Value* out) {
  switch (e.type()) {
    case dom::element_type::INT64: *out = e.get_int64().value_unsafe(); return {};
    case dom::element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      return {};
    case dom::element_type::DOUBLE: *out = e.get_double().value_unsafe(); return {};
    case dom::element_type::BOOL: *out = e.get_bool().value_unsafe(); return {};
    case dom::element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      SLUICE_RETURN_IF_ERROR(check_string_value(s, limits, where));
      *out = std::string(s);
      return {};
    }
    default:
      return invalid_argument(at(
          where,
          std::string("value must be a number, bool or string, not ") + json_type_name(e.type())));
  }
}

Status json_number(dom::element e, std::string_view where, double* out) {
  switch (e.type()) {
    case dom::element_type::INT64:
      *out = static_cast<double>(e.get_int64().value_unsafe());
      return {};
    case dom::element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      return {};
    case dom::element_type::DOUBLE: *out = e.get_double().value_unsafe(); return {};
    default:
      return invalid_argument(
          at(where, std::string("must be a number, not ") + json_type_name(e.type())));
  }
}

}  // namespace sluice::formats

namespace sluice::formats {
Status json_time(simdjson::dom::element e, int unit, std::string_view where, Timestamp* out) {
  const auto u = static_cast<TimeUnit>(unit);
  std::optional<Timestamp> ts;
  switch (e.type()) {
    case simdjson::dom::element_type::INT64: ts = int_to_ns(e.get_int64().value_unsafe(), u); break;
    case simdjson::dom::element_type::UINT64: break;  // above int64: never a valid time here
    case simdjson::dom::element_type::DOUBLE:
      ts = double_to_ns(e.get_double().value_unsafe(), u);
      break;
    default:
      return invalid_argument(
          at(where, std::string("timestamp must be a number, not ") + json_type_name(e.type())));
  }
  if (!ts) return invalid_argument(at(where, "timestamp out of range"));
  *out = *ts;
  return {};
}
}  // namespace sluice::formats
