// Generic JSON payloads with a mapping, for devices that publish their own JSON shape. The
// payload is one object or an array of objects. Either
//  - mapped mode: each object yields one sample whose series name, value, timestamp and quality
//    are found by JSON pointers (RFC 6901), e.g. {"name": "t1", "value": 21.5, "ts": 1700000000},
//  - or flat mode: each number/bool/string member of the object becomes a series
//    `<prefix><member>`, e.g. {"temperature": 21.5} → "dev1.temperature" with prefix "dev1.".
#pragma once

#include <memory>
#include <string>

#include "formats/common.h"
#include "formats/parser.h"

namespace sluice::formats {

struct JsonOptions {
  enum class NameFrom : uint8_t { kPointer, kFixed, kTopic };
  enum class TimeFormat : uint8_t { kSeconds, kMillis, kMicros, kNanos, kIso8601 };

  bool flat = false;   // flat mode (see above); the pointers below are then unused
  std::string prefix;  // flat mode: prepended to each member name; "{topic}" is replaced by it

  NameFrom name_from = NameFrom::kPointer;
  std::string name_pointer = "/name";  // kPointer: a string member
  std::string fixed_name;              // kFixed (kTopic uses ctx.topic)
  std::string value_pointer = "/value";
  std::string time_pointer;  // "" = no time in the payload (receive time)
  TimeFormat time_format = TimeFormat::kMillis;
  // "" = Good. A bool (true Good, false Bad) or an integer OPC UA status code.
  std::string quality_pointer;
};

class JsonDom;

class JsonParser final : public PayloadParser {
 public:
  explicit JsonParser(JsonOptions options = {}, ParseLimits limits = {});
  ~JsonParser() override;
  std::string_view name() const override { return "json"; }
  Status parse(std::string_view payload, const ParseContext& ctx, Parsed* out) override;

 private:
  JsonOptions options_;
  ParseLimits limits_;
  std::unique_ptr<JsonDom> dom_;  // simdjson stays out of this header
};

}  // namespace sluice::formats
