// Parser registry and format detection (see registry.h).
#include "formats/registry.h"

#include <nlohmann/json.hpp>

#include "formats/kepware.h"
#include "formats/senml.h"

namespace sluice::formats {
namespace {

constexpr size_t kDetectBytes = 64 * 1024;

std::string_view skip_space(std::string_view s) {
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n')) {
    s.remove_prefix(1);
  }
  return s;
}

bool metric_name_then_brace(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                          s[i] == '_' || s[i] == ':' || (i > 0 && s[i] >= '0' && s[i] <= '9'))) {
    ++i;
  }
  return i > 0 && i < s.size() && s[i] == '{';
}

template <typename P, typename... Args>
std::unique_ptr<PayloadParser> make(Args&&... args) {
  return std::make_unique<P>(std::forward<Args>(args)...);
}

}  // namespace

Result<std::unique_ptr<PayloadParser>> make_parser(std::string_view format,
                                                   const ParserOptions& options) {
  if (format == "kepware") return make<KepwareParser>(options.limits);
  if (format == "json") {
    return make<JsonParser>(options.json, options.limits);
  }
  if (format == "senml") return make<SenmlParser>(options.limits);
  if (format == "openmetrics") {
    return make<OpenMetricsParser>(options.openmetrics, options.limits);
  }
  if (format == "prometheus") {
    OpenMetricsOptions o = options.openmetrics;
    o.dialect = OpenMetricsOptions::Dialect::kPrometheusText;
    return make<OpenMetricsParser>(o, options.limits);
  }
  if (format == "influx") {
    return make<InfluxParser>(options.influx, options.limits);
  }
  return invalid_argument("unknown payload format \"" + std::string(format) +
                          "\" (known: kepware, json, senml, openmetrics, prometheus, influx)");
}

std::string_view detect_format(std::string_view payload) {
  const std::string_view head = skip_space(payload);
  if (head.starts_with("# TYPE ") || head.starts_with("# HELP ") || metric_name_then_brace(head)) {
    return "openmetrics";
  }
  if (head.empty() || (head[0] != '{' && head[0] != '[') || payload.size() > kDetectBytes) {
    return "";
  }
  // Small JSON: inspect the shape. nlohmann is fine here (detection is off the hot path).
  const auto doc = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return "";
  if (doc.is_object()) {
    const auto it = doc.find("values");
    if (it != doc.end() && it->is_array() && !it->empty()) {
      for (const auto& v : *it) {
        if (!v.is_object() || !v.contains("id")) return "";
      }
      return "kepware";
    }
    return "";
  }
  if (doc.is_array() && !doc.empty()) {
    for (const auto& r : doc) {
      if (!r.is_object()) return "";
      if (!r.contains("n") && !r.contains("bn") && !r.contains("v") && !r.contains("vs") &&
          !r.contains("vb")) {
        return "";
      }
    }
    return "senml";
  }
  return "";
}

}  // namespace sluice::formats
