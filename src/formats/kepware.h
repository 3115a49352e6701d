// Kepware IoT Gateway "standard template" payloads (MQTT agent or REST client), as KEPServerEX
// publishes them:
//   {"timestamp": <ms>, "values": [{"id": "Channel1.Device1.Tag1", "v": 42, "q": true,
//                                   "t": <ms>}, ...]}
// Each entry of "values" becomes one sample: series = id, value = v, quality = q (true → Good,
// false → Bad), ts = t, else the top-level timestamp, else the receive time. Times are ms.
#pragma once

#include <memory>

#include "formats/parser.h"

namespace sluice::formats {

class JsonDom;

class KepwareParser final : public PayloadParser {
 public:
  explicit KepwareParser(ParseLimits limits = {});
  ~KepwareParser() override;
  std::string_view name() const override { return "kepware"; }
  Status parse(std::string_view payload, const ParseContext& ctx, Parsed* out) override;

 private:
  ParseLimits limits_;
  std::unique_ptr<JsonDom> dom_;  // simdjson stays out of this header
};

}  // namespace sluice::formats
