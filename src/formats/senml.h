// SenML JSON packs (RFC 8428), as Mainflux/Tellee things publish them: an array of records with
// base fields (bn, bt, bu, bv, bs, bver) that carry forward to later records and regular fields
// (n, u, v, vs, vb, vd, s, t, ut). Each record resolves to one sample:
//   series = bn + n, ts = bt + t (seconds; below 2^28 relative to the receive time),
//   value = bv + v (double) | vs (string) | vb (bool) | vd (the base64 data as a string)
//           | bs + s (the sum, when the record has no other value),
//   unit = u or bu → SeriesMeta.unit.
// Records are validated as RFC 8428 section 4.6 requires; an error names the record index.
#pragma once

#include <memory>

#include "formats/parser.h"

namespace sluice::formats {

class JsonDom;

class SenmlParser final : public PayloadParser {
 public:
  explicit SenmlParser(ParseLimits limits = {});
  ~SenmlParser() override;
  std::string_view name() const override { return "senml"; }
  Status parse(std::string_view payload, const ParseContext& ctx, Parsed* out) override;

 private:
  ParseLimits limits_;
  std::unique_ptr<JsonDom> dom_;  // simdjson stays out of this header
};

}  // namespace sluice::formats
