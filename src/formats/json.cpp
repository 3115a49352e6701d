// Generic JSON payload parser with a mapping (see json.h).
#include "formats/json.h"

#include "formats/json_util.h"

namespace sluice::formats {

namespace dom = simdjson::dom;

namespace {

// Looks up `pointer` in `obj`; false if absent. "" is the whole object (RFC 6901).
bool lookup(dom::element obj, const std::string& pointer, dom::element* out) {
  return obj.at_pointer(pointer).get(*out) == simdjson::SUCCESS;
}

Status read_time(dom::element e, JsonOptions::TimeFormat format, const std::string& where,
                 Timestamp* out) {
  if (format == JsonOptions::TimeFormat::kIso8601) {
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS) {
      return invalid_argument(where + ": ISO-8601 timestamp must be a string, not " +
                              json_type_name(e.type()));
    }
    const auto ts = parse_iso8601(s);
    if (!ts) {
      return invalid_argument(where + ": \"" + excerpt(s) +
                              "\" is not an ISO-8601 date-time with a zone (e.g. "
                              "2024-01-02T03:04:05.678Z)");
    }
    *out = *ts;
    return {};
  }
  return json_time(e, static_cast<int>(format), where, out);
}

Status read_quality(dom::element e, const std::string& where, Quality* out) {
  bool b;
  if (e.get_bool().get(b) == simdjson::SUCCESS) {
    *out = b ? quality::kGood : quality::kBad;
    return {};
  }
  int64_t code;
  if (e.get_int64().get(code) == simdjson::SUCCESS && code >= 0 && code <= 0xFFFFFFFFLL) {
    *out = static_cast<Quality>(code);
    return {};
  }
  return invalid_argument(where + ": quality must be a bool or a 32-bit status code");
}

Status parse_object(const JsonOptions& options, const ParseLimits& limits, dom::element obj,
                    const std::string& base, const ParseContext& ctx, Parsed* parsed) {
  // `base` is the object's JSON pointer in the payload: "" for a single object, "/3" in an array.
  const std::string where = "json: " + base;
  const std::string self = base.empty() ? "json: the object" : "json: object " + base;
  if (obj.type() != dom::element_type::OBJECT) {
    return invalid_argument(self + ": must be an object, not " + json_type_name(obj.type()));
  }
  auto& samples = parsed->batch.samples;
  Timestamp ts = ctx.receive_time;
  Quality q = quality::kGood;
  dom::element e;
  if (!options.flat && !options.time_pointer.empty() && lookup(obj, options.time_pointer, &e)) {
    SLUICE_RETURN_IF_ERROR(read_time(e, options.time_format, where + options.time_pointer, &ts));
  }
  if (!options.flat && !options.quality_pointer.empty() &&
      lookup(obj, options.quality_pointer, &e)) {
    SLUICE_RETURN_IF_ERROR(read_quality(e, where + options.quality_pointer, &q));
  }
  if (options.flat) {
    std::string prefix = options.prefix;
    if (const auto at = prefix.find("{topic}"); at != std::string::npos) {
      prefix.replace(at, 7, ctx.topic);
    }
    dom::object members;
    if (obj.get_object().get(members) != simdjson::SUCCESS) {
      return invalid_argument(self + ": must be an object");
    }
    for (auto [key, value] : members) {
      const auto t = value.type();
      if (t == dom::element_type::OBJECT || t == dom::element_type::ARRAY ||
          t == dom::element_type::NULL_VALUE) {
        continue;  // only scalar members are series
      }
      const std::string field_where = where + "/" + std::string(key);
      if (samples.size() >= limits.max_samples) {
        return invalid_argument(field_where + ": more than " + std::to_string(limits.max_samples) +
                                " samples");
      }
      Sample s;
      s.series = prefix + std::string(key);
      SLUICE_RETURN_IF_ERROR(check_series_name(s.series, limits, field_where));
      SLUICE_RETURN_IF_ERROR(json_scalar(value, limits, field_where, &s.value));
      s.ts = ts;
      s.quality = q;
      samples.push_back(std::move(s));
    }
    return {};
  }
  if (samples.size() >= limits.max_samples) {
    return invalid_argument(self + ": more than " + std::to_string(limits.max_samples) +
                            " samples");
  }
  Sample s;
  switch (options.name_from) {
    case JsonOptions::NameFrom::kFixed: s.series = options.fixed_name; break;
    case JsonOptions::NameFrom::kTopic: s.series = std::string(ctx.topic); break;
    case JsonOptions::NameFrom::kPointer: {
      if (!lookup(obj, options.name_pointer, &e)) {
        return invalid_argument(self + ": missing series name at " + options.name_pointer);
      }
      std::string_view name;
      if (e.get_string().get(name) != simdjson::SUCCESS) {
        return invalid_argument(where + options.name_pointer +
                                ": series name must be a string, not " + json_type_name(e.type()));
      }
      s.series = std::string(name);
      break;
    }
  }
  SLUICE_RETURN_IF_ERROR(check_series_name(s.series, limits, self));
  if (!lookup(obj, options.value_pointer, &e)) {
    return invalid_argument(self + ": missing value at " + options.value_pointer);
  }
  SLUICE_RETURN_IF_ERROR(json_scalar(e, limits, where + options.value_pointer, &s.value));
  s.ts = ts;
  s.quality = q;
  samples.push_back(std::move(s));
  return {};
}

}  // namespace

JsonParser::JsonParser(JsonOptions options, ParseLimits limits)
    : options_(std::move(options)), limits_(limits), dom_(std::make_unique<JsonDom>()) {}
JsonParser::~JsonParser() = default;

Status JsonParser::parse(std::string_view payload, const ParseContext& ctx, Parsed* out) {
  SLUICE_RETURN_IF_ERROR(check_payload_size(payload, limits_));
  dom::element root;
  SLUICE_RETURN_IF_ERROR(dom_->parse(payload, limits_, &root));
  Parsed parsed;
  if (root.type() == dom::element_type::ARRAY) {
    dom::array items;
    if (root.get_array().get(items) != simdjson::SUCCESS) {
      return invalid_argument("json: the payload must be an object or an array");
    }
    size_t index = 0;
    for (dom::element item : items) {
      SLUICE_RETURN_IF_ERROR(
          parse_object(options_, limits_, item, "/" + std::to_string(index), ctx, &parsed));
      ++index;
    }
  } else {
    SLUICE_RETURN_IF_ERROR(parse_object(options_, limits_, root, "", ctx, &parsed));
  }
  commit(std::move(parsed), out);
  return {};
}

}  // namespace sluice::formats
