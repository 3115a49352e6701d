// OpenMetrics 1.0 and Prometheus text exposition payloads (a scrape published over MQTT or
// posted over HTTP). Each sample line becomes one sample:
//   series = metric name + its labels sorted by name, rendered `name{a="1",b="2"}` (values
//            escaped as in the format: \\ \" \n); no labels → just the name,
//   value  = the number as double (NaN, +Inf, -Inf included),
//   ts     = the sample's timestamp (OpenMetrics: seconds, may be fractional; Prometheus text:
//            integer milliseconds), else the receive time.
// Metadata: labels → SeriesMeta.labels, # HELP → description, # UNIT → unit.
// In OpenMetrics mode the whole exposition is validated as the specification requires (metric
// families, sample names per type, histogram/summary/stateset/info rules, exemplars, ordering,
// the closing `# EOF`). Prometheus text mode is the older, laxer format: comments are allowed,
// `# EOF` is not needed, and only the syntax of each line is checked. Exemplars are validated and
// dropped.
#pragma once

#include "formats/parser.h"

namespace sluice::formats {

struct OpenMetricsOptions {
  enum class Dialect : uint8_t { kOpenMetrics, kPrometheusText };
  Dialect dialect = Dialect::kOpenMetrics;
};

class OpenMetricsParser final : public PayloadParser {
 public:
  explicit OpenMetricsParser(OpenMetricsOptions options = {}, ParseLimits limits = {})
      : options_(options), limits_(limits) {}
  std::string_view name() const override { return "openmetrics"; }
  Status parse(std::string_view payload, const ParseContext& ctx, Parsed* out) override;

 private:
  OpenMetricsOptions options_;
  ParseLimits limits_;
};

}  // namespace sluice::formats
