// The body of the payload-parser fuzz target (see formats_targets.h), shared by
// fuzz/formats_fuzz.cpp and the unit test that replays fuzz/corpus/formats/.
#include "fuzz/formats_targets.h"

#include <cstdlib>
#include <string_view>

#include "formats/registry.h"

namespace sluice::fuzz {

int formats(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr std::string_view kFormats[] = {"kepware",     "json",       "json",  "senml",
                                                  "openmetrics", "prometheus", "influx"};
  const size_t pick = data[0] % std::size(kFormats);
  const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)formats::detect_format(payload);

  formats::ParserOptions options;
  options.limits.max_samples = 4096;
  options.limits.max_series_name = 256;
  options.limits.max_string_value = 4096;
  options.limits.max_depth = 32;
  options.json.flat = pick == 2;
  options.json.time_pointer = "/t";
  options.json.quality_pointer = "/q";
  options.json.time_format = (data[0] / 7) % 2 == 0 ? formats::JsonOptions::TimeFormat::kMillis
                                                    : formats::JsonOptions::TimeFormat::kIso8601;
  auto parser = formats::make_parser(kFormats[pick], options);
  if (!parser.ok()) std::abort();
  formats::Parsed out;
  const Status st = (*parser)->parse(payload, {"fuzz/topic", 1'700'000'000'000'000'000}, &out);
  if (!st.ok()) {
    if (st.code() != Code::kInvalidArgument || !out.batch.empty() || !out.meta.empty()) {
      std::abort();  // a rejected message must leave `out` untouched
    }
    return 0;
  }
  if (out.batch.size() > options.limits.max_samples) std::abort();
  for (const Sample& s : out.batch.samples) {
    if (s.series.empty() || s.series.size() > options.limits.max_series_name) std::abort();
  }
  return 0;
}

}  // namespace sluice::fuzz
