#include "api/write_api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/query_params.h"
#include "link/receiver.h"

namespace sluice::api {

namespace {

using nlohmann::json;

// The link sources, by name.
std::vector<std::string> link_sources(const runtime::Runtime& rt) {
  std::vector<std::string> out;
  for (const runtime::SourceStatus& s : rt.sources()) {
    if (s.type == "link") out.push_back(s.name);
  }
  return out;
}

HttpResponse write(runtime::Runtime& rt, const HttpRequest& r) {
  const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return error_response(400, "the body is not valid JSON");
  if (!body.is_object()) return error_response(400, "the body must be a JSON object");
  std::string session = "http";
  if (auto it = body.find("session"); it != body.end()) {
    if (!it->is_string()) return error_response(400, "'session' must be a string", "session");
    session = it->get<std::string>();
  }
  const std::vector<std::string> links = link_sources(rt);
  std::string source;
  if (auto it = body.find("source"); it != body.end()) {
    if (!it->is_string()) return error_response(400, "'source' must be a string", "source");
    source = it->get<std::string>();
    if (std::find(links.begin(), links.end(), source) == links.end()) {
      return error_response(404, fmt::format("no link source named '{}'", source), "source");
    }
  } else if (links.empty()) {
    return error_response(409,
                          "no source of type 'link' is configured; the write API writes through "
                          "one (add a [[sources]] table with type = \"link\")");
  } else if (links.size() > 1) {
    return error_response(400,
                          fmt::format("'source' is required: there are {} link sources ({})",
                                      links.size(), fmt::join(links, ", ")),
                          "source");
  } else {
    source = links.front();
  }
  auto samples = body.find("samples");
  if (samples == body.end() || !samples->is_array() || samples->empty()) {
    return error_response(400, "'samples' is required: an array of at least one sample", "samples");
  }
  if (samples->size() > kMaxWriteSamples) {
    return error_response(
        413,
        fmt::format("{} samples in one request (at most {})", samples->size(), kMaxWriteSamples),
        "samples");
  }
  Batch batch;
  batch.samples.reserve(samples->size());
  for (size_t i = 0; i < samples->size(); ++i) {
    const json& in = (*samples)[i];
    const std::string at = fmt::format("samples[{}]", i);
    if (!in.is_object()) return error_response(400, at + " must be an object", at);
    Sample s;
    auto series = in.find("series");
    if (series == in.end() || !series->is_string() ||
        series->get_ref<const std::string&>().empty()) {
      return error_response(400, at + ".series is required: a non-empty string", at + ".series");
    }
    s.series = series->get<std::string>();
    auto ts = in.find("ts");
    if (ts == in.end()) return error_response(400, at + ".ts is required", at + ".ts");
    if (ts->is_number_integer()) {
      s.ts = ts->get<int64_t>();
    } else if (ts->is_string()) {
      ParamError error;
      if (!parse_time_param(at + ".ts", ts->get<std::string>(), &s.ts, &error)) {
        return error_response(400, error.message, error.field);
      }
    } else {
      return error_response(
          400, at + ".ts must be nanoseconds since the Unix epoch or an RFC 3339 time", at + ".ts");
    }
    auto value = in.find("value");
    if (value == in.end()) return error_response(400, at + ".value is required", at + ".value");
    if (value->is_boolean()) {
      s.value = value->get<bool>();
    } else if (value->is_number_integer()) {
      s.value = value->get<int64_t>();
    } else if (value->is_number()) {
      s.value = value->get<double>();
    } else if (value->is_string()) {
      s.value = value->get<std::string>();
    } else {
      return error_response(400, at + ".value must be a number, a boolean or a string",
                            at + ".value");
    }
    if (auto q = in.find("quality"); q != in.end()) {
      if (!q->is_number_unsigned() || q->get<uint64_t>() > UINT32_MAX) {
        return error_response(400, at + ".quality must be a 32-bit OPC UA status code",
                              at + ".quality");
      }
      s.quality = static_cast<Quality>(q->get<uint64_t>());
    }
    batch.samples.push_back(std::move(s));
  }
  const runtime::LastValues& last = rt.last_values();
  link::NewestLookup newest = [&last](std::string_view stream,
                                      std::string_view series) -> std::optional<Timestamp> {
    std::optional<runtime::LastValue> v = last.find(stream, series);
    if (!v) return std::nullopt;
    return v->ts;
  };
  Result<link::WriteResult> written = Status(Code::kUnavailable, "not written");
  Status called = rt.with_source(source, [&](runtime::Source& s, runtime::SourceContext& ctx) {
    written = link::write_through(s, ctx, session, std::move(batch), newest);
    return Status::ok_status();
  });
  if (!called.ok()) {
    return error_response(called.code() == Code::kNotFound ? 404 : 503,
                          fmt::format("link source '{}': {}", source, called.message()));
  }
  if (!written.ok()) {
    switch (written.status().code()) {
      case Code::kInvalidArgument: {
        const std::string& m = written.status().message();
        const std::string field = m.substr(0, std::min(m.find(':'), m.find(' ')));
        return error_response(400, m, field);
      }
      case Code::kResourceExhausted: return error_response(507, written.status().message());
      case Code::kFailedPrecondition:
      case Code::kUnavailable: return error_response(503, written.status().message());
      default: return error_response(500, written.status().message());
    }
  }
  return json_response(200,
                       json{{"samples", written->samples}, {"stream", written->stream}}.dump());
}

}  // namespace

void register_write_routes(Router& router, runtime::Runtime& runtime) {
  router.add("POST", "/api/v1/write",
             [&runtime](const HttpRequest& r, const PathParams&) { return write(runtime, r); });
}

}  // namespace sluice::api
