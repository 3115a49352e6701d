// Picks a payload parser by the format name a subscription's config gives ("kepware", "json",
// "senml", "openmetrics", "prometheus", "influx"), and guesses the format of a payload when the
// config says "auto".
#pragma once

#include <memory>
#include <string_view>

#include "core/status.h"
#include "formats/influx.h"
#include "formats/json.h"
#include "formats/openmetrics.h"
#include "formats/parser.h"

namespace sluice::formats {

// Everything a parser may be configured with; the config layer fills it. Each parser reads only
// its own part.
struct ParserOptions {
  ParseLimits limits;
  JsonOptions json;
  OpenMetricsOptions openmetrics;
  InfluxOptions influx;
};

// A new parser for `format`, or kInvalidArgument naming the known formats. "prometheus" is the
// OpenMetrics parser in Prometheus-text mode.
Result<std::unique_ptr<PayloadParser>> make_parser(std::string_view format,
                                                   const ParserOptions& options);

// The format of `payload` when it is unambiguous: "kepware" (an object with a "values" array of
// objects with "id"), "senml" (an array of objects with n/bn/v keys), "openmetrics" (text
// starting with "# TYPE", "# HELP" or `name{`); "" when it cannot tell. Looks at most at the
// first 64 KiB.
std::string_view detect_format(std::string_view payload);

}  // namespace sluice::formats
