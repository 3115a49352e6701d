// SenML JSON parser (RFC 8428; see senml.h).
#include "formats/senml.h"

#include <cmath>
#include <unordered_set>

#include "formats/common.h"
#include "formats/json_util.h"

namespace sluice::formats {

namespace dom = simdjson::dom;

SenmlParser::SenmlParser(ParseLimits limits) : limits_(limits), dom_(std::make_unique<JsonDom>()) {}
SenmlParser::~SenmlParser() = default;

namespace {

constexpr int64_t kSenmlVersion = 10;  // RFC 8428 section 4.4: the version this parser knows
constexpr double kRelativeTimeLimit = 268435456.0;  // 2^28 s: below it, times are relative

// RFC 8428 section 4.5.1: a resolved name is A-Z a-z 0-9 - : . / _ and starts alphanumeric.
bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  const auto alnum = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!alnum(n[0])) return false;
  for (const char c : n) {
    if (!alnum(c) && c != '-' && c != ':' && c != '.' && c != '/' && c != '_') return false;
  }
  return true;
}

// The base fields in force, carried from record to record.
struct Base {
  std::string name;
  double time = 0;
  std::string unit;
  double value = 0;
  double sum = 0;
};

Status want_string(dom::element e, std::string_view where, std::string_view* out) {
  if (e.get_string().get(*out) != simdjson::SUCCESS) {
    return invalid_argument(
        at(where, std::string("must be a string, not ") + json_type_name(e.type())));
  }
  return {};
}

}  // namespace

Status SenmlParser::parse(std::string_view payload, const ParseContext& ctx, Parsed* out) {
  SLUICE_RETURN_IF_ERROR(check_payload_size(payload, limits_));
  dom::element root;
  SLUICE_RETURN_IF_ERROR(dom_->parse(payload, limits_, &root));
  dom::array pack;
  if (root.get_array().get(pack) != simdjson::SUCCESS) {
    return invalid_argument(std::string("senml: a pack must be a JSON array, not ") +
                            json_type_name(root.type()));
  }
  if (pack.size() > limits_.max_samples) {
    return invalid_argument("senml: the pack has " + std::to_string(pack.size()) +
                            " records, more than the limit of " +
                            std::to_string(limits_.max_samples));
  }
  Parsed parsed;
  parsed.batch.samples.reserve(pack.size());
  std::unordered_set<std::string> seen;
  Base base;
  size_t index = 0;
  for (dom::element item : pack) {
    // Locations are built only on failure: this loop is the hot path.
    const auto where = [index] { return "senml: record " + std::to_string(index); };
    ++index;
    dom::object rec;
    if (item.get_object().get(rec) != simdjson::SUCCESS) {
      return invalid_argument(where() + ": must be an object, not " + json_type_name(item.type()));
    }
    std::string_view n, u;
    double t = 0, v = 0, s = 0;
    bool has_v = false, has_s = false, has_u = false;
    int value_fields = 0;
    Value value;
    for (const dom::key_value_pair field : rec) {
      // Named copies, not structured bindings: lambdas below capture them (clang 14).
      const std::string_view key = field.key;
      const dom::element e = field.value;
      const auto fw = [&where, key] { return where() + " field \"" + std::string(key) + "\""; };
      if (key == "bn") {
        std::string_view bn;
        SLUICE_RETURN_IF_ERROR(in_context(want_string(e, "", &bn), fw));
        base.name = std::string(bn);
      } else if (key == "bt") {
        SLUICE_RETURN_IF_ERROR(in_context(json_number(e, "", &base.time), fw));
      } else if (key == "bu") {
        std::string_view bu;
        SLUICE_RETURN_IF_ERROR(in_context(want_string(e, "", &bu), fw));
        base.unit = std::string(bu);
      } else if (key == "bv") {
        SLUICE_RETURN_IF_ERROR(in_context(json_number(e, "", &base.value), fw));
      } else if (key == "bs") {
        SLUICE_RETURN_IF_ERROR(in_context(json_number(e, "", &base.sum), fw));
      } else if (key == "bver") {
        int64_t ver;
        if (e.get_int64().get(ver) != simdjson::SUCCESS) {
          return invalid_argument(fw() + ": must be an integer");
        }
        if (ver > kSenmlVersion) {
          return invalid_argument(fw() + ": version " + std::to_string(ver) +
                                  " is newer than the supported " + std::to_string(kSenmlVersion));
        }
      } else if (key == "n") {
        SLUICE_RETURN_IF_ERROR(in_context(want_string(e, "", &n), fw));
      } else if (key == "u") {
        SLUICE_RETURN_IF_ERROR(in_context(want_string(e, "", &u), fw));
        has_u = true;
      } else if (key == "v") {
        SLUICE_RETURN_IF_ERROR(in_context(json_number(e, "", &v), fw));
        has_v = true;
        ++value_fields;
      } else if (key == "vs") {
        std::string_view vs;
        SLUICE_RETURN_IF_ERROR(in_context(want_string(e, "", &vs), fw));
        SLUICE_RETURN_IF_ERROR(in_context(check_string_value(vs, limits_, ""), fw));
        value = std::string(vs);
        ++value_fields;
      } else if (key == "vd") {
        std::string_view vd;
        SLUICE_RETURN_IF_ERROR(in_context(want_string(e, "", &vd), fw));
        SLUICE_RETURN_IF_ERROR(in_context(check_string_value(vd, limits_, ""), fw));
        value = std::string(vd);
        ++value_fields;
      } else if (key == "vb") {
        bool vb;
        if (e.get_bool().get(vb) != simdjson::SUCCESS) {
          return invalid_argument(fw() + ": must be true or false, not " +
                                  json_type_name(e.type()));
        }
        value = vb;
        ++value_fields;
      } else if (key == "s") {
        SLUICE_RETURN_IF_ERROR(in_context(json_number(e, "", &s), fw));
        has_s = true;
      } else if (key == "t") {
        SLUICE_RETURN_IF_ERROR(in_context(json_number(e, "", &t), fw));
      } else if (key == "ut") {
        double ut;
        SLUICE_RETURN_IF_ERROR(in_context(json_number(e, "", &ut), fw));  // checked, not stored
      } else if (!key.empty() && key.back() == '_') {
        // RFC 8428 section 4.4: fields ending in '_' must be understood or the pack rejected.
        return invalid_argument(fw() + ": unknown must-understand field");
      }
      // Other unknown fields are ignored (RFC 8428 section 4.4).
    }
    if (value_fields > 1) {
      return invalid_argument(where() + ": more than one value field (v, vs, vb, vd)");
    }
    if (value_fields == 0 && !has_s) {
      return invalid_argument(where() + ": no value field (v, vs, vb, vd) and no sum (s)");
    }
    Sample sample;
    sample.series = base.name + std::string(n);
    if (!valid_name(sample.series)) {
      return invalid_argument(where() + ": name \"" + excerpt(sample.series) +
                              "\" is empty, does not start with a letter or digit, or has a "
                              "character outside A-Z a-z 0-9 - : . / _");
    }
    SLUICE_RETURN_IF_ERROR(in_context(check_series_name(sample.series, limits_, ""), where));
    if (has_v) {
      value = base.value + v;
    } else if (value_fields == 0) {
      value = base.sum + s;
    }
    if (const double* d = std::get_if<double>(&value); d != nullptr && !std::isfinite(*d)) {
      return invalid_argument(where() + ": the value is not finite");
    }
    sample.value = std::move(value);
    // RFC 8428 section 4.5.3: times below 2^28 s (incl. 0 and negatives) are relative to now.
    const double time = base.time + t;
    std::optional<Timestamp> ts;
    if (time < kRelativeTimeLimit) {
      const auto offset = double_to_ns(time, TimeUnit::kSeconds);
      Timestamp sum_ns;
      if (offset && !__builtin_add_overflow(ctx.receive_time, *offset, &sum_ns)) ts = sum_ns;
    } else {
      ts = double_to_ns(time, TimeUnit::kSeconds);
    }
    if (!ts) return invalid_argument(where() + ": time out of range");
    sample.ts = *ts;
    if (seen.insert(sample.series).second) {  // one metadata entry per series
      SeriesMeta meta;
      meta.name = sample.series;
      meta.unit = has_u ? std::string(u) : base.unit;
      meta.type = value_type(sample.value);
      parsed.meta.push_back(std::move(meta));
    }
    parsed.batch.samples.push_back(std::move(sample));
  }
  commit(std::move(parsed), out);
  return {};
}

}  // namespace sluice::formats
