// Kepware IoT Gateway standard-template parser (see kepware.h).
#include "formats/kepware.h"

#include <unordered_set>

#include "formats/common.h"
#include "formats/json_util.h"

namespace sluice::formats {

namespace dom = simdjson::dom;

KepwareParser::KepwareParser(ParseLimits limits)
    : limits_(limits), dom_(std::make_unique<JsonDom>()) {}
KepwareParser::~KepwareParser() = default;

Status KepwareParser::parse(std::string_view payload, const ParseContext& ctx, Parsed* out) {
  SLUICE_RETURN_IF_ERROR(check_payload_size(payload, limits_));
  dom::element root;
  SLUICE_RETURN_IF_ERROR(dom_->parse(payload, limits_, &root));
  dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return invalid_argument(std::string("kepware: the message must be a JSON object, not ") +
                            json_type_name(root.type()));
  }
  Timestamp message_ts = ctx.receive_time;
  dom::element e;
  if (obj["timestamp"].get(e) == simdjson::SUCCESS) {
    SLUICE_RETURN_IF_ERROR(
        json_time(e, static_cast<int>(TimeUnit::kMillis), "kepware: /timestamp", &message_ts));
  }
  dom::array values;
  if (obj["values"].get(e) != simdjson::SUCCESS) {
    return invalid_argument("kepware: missing \"values\" array");
  }
  if (e.get_array().get(values) != simdjson::SUCCESS) {
    return invalid_argument(std::string("kepware: /values must be an array, not ") +
                            json_type_name(e.type()));
  }
  if (values.size() > limits_.max_samples) {
    return invalid_argument("kepware: /values has " + std::to_string(values.size()) +
                            " entries, more than the limit of " +
                            std::to_string(limits_.max_samples));
  }
  Parsed parsed;
  parsed.batch.samples.reserve(values.size());
  size_t index = 0;
  for (dom::element item : values) {
    // The location is built only on failure: this loop is the hot path.
    const auto where = [index] { return "kepware: /values/" + std::to_string(index); };
    const auto field = [&where](const char* f) { return [&where, f] { return where() + f; }; };
    ++index;
    dom::object entry;
    if (item.get_object().get(entry) != simdjson::SUCCESS) {
      return invalid_argument(where() + ": must be an object, not " + json_type_name(item.type()));
    }
    Sample s;
    dom::element f;
    if (entry["id"].get(f) != simdjson::SUCCESS)
      return invalid_argument(where() + ": missing \"id\"");
    std::string_view id;
    if (f.get_string().get(id) != simdjson::SUCCESS) {
      return invalid_argument(where() + "/id: must be a string, not " + json_type_name(f.type()));
    }
    SLUICE_RETURN_IF_ERROR(in_context(check_series_name(id, limits_, ""), field("/id")));
    s.series = std::string(id);
    if (entry["v"].get(f) != simdjson::SUCCESS)
      return invalid_argument(where() + ": missing \"v\"");
    SLUICE_RETURN_IF_ERROR(in_context(json_scalar(f, limits_, "", &s.value), field("/v")));
    if (entry["q"].get(f) == simdjson::SUCCESS) {
      bool q;
      if (f.get_bool().get(q) != simdjson::SUCCESS) {
        return invalid_argument(where() + "/q: must be true or false, not " +
                                json_type_name(f.type()));
      }
      s.quality = q ? quality::kGood : quality::kBad;
    }
    s.ts = message_ts;
    if (entry["t"].get(f) == simdjson::SUCCESS) {
      SLUICE_RETURN_IF_ERROR(
          in_context(json_time(f, static_cast<int>(TimeUnit::kMillis), "", &s.ts), field("/t")));
    }
    parsed.batch.samples.push_back(std::move(s));
  }
  commit(std::move(parsed), out);
  return {};
}

}  // namespace sluice::formats
