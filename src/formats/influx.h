// InfluxDB line protocol payloads (Telegraf over MQTT, the /write endpoint):
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
// Each field of each line becomes one sample. Series naming (our choice, stable and readable):
//   no tags:   `<measurement>.<field>`                     e.g. `cpu.usage`
//   tags:      `<measurement>{k="v",...}.<field>`, tags sorted by key, values escaped as in
//              OpenMetrics (\\ \" \n)                       e.g. `cpu{host="a"}.usage`
// Tags also go into SeriesMeta.labels. Values: float → double, `12i` → int64, `12u` → int64
// (rejected above INT64_MAX), "text" → string, t/true/f/false (any documented case) → bool.
// Timestamps are integers in `precision` units (ns by default); none → the receive time.
#pragma once

#include "formats/common.h"
#include "formats/parser.h"

namespace sluice::formats {

struct InfluxOptions {
  TimeUnit precision = TimeUnit::kNanos;
};

class InfluxParser final : public PayloadParser {
 public:
  explicit InfluxParser(InfluxOptions options = {}, ParseLimits limits = {})
      : options_(options), limits_(limits) {}
  std::string_view name() const override { return "influx"; }
  Status parse(std::string_view payload, const ParseContext& ctx, Parsed* out) override;

 private:
  InfluxOptions options_;
  ParseLimits limits_;
};

}  // namespace sluice::formats
