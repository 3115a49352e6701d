// The /api/v1/series routes (see series_api.h).
#include "api/series_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/platform_api.h"
#include "api/query_params.h"
#include "runtime/units.h"

namespace sluice::api {
namespace {

using nlohmann::json;

constexpr int64_t kDefaultRangeNs = 3'600'000'000'000;  // from defaults to one hour before to
constexpr int64_t kNsPerMs = 1'000'000;

enum class Aggregate { kMin, kMax, kAvg, kFirst, kLast, kCount };
constexpr std::pair<std::string_view, Aggregate> kAggregates[] = {
    {"min", Aggregate::kMin},     {"max", Aggregate::kMax},   {"avg", Aggregate::kAvg},
    {"first", Aggregate::kFirst}, {"last", Aggregate::kLast}, {"count", Aggregate::kCount}};

int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResponse bad_param(const ParamError& e) { return error_response(400, e.message, e.field); }

json last_json(const runtime::LastValue& v) {
  return {{"stream", v.stream},
          {"ts", iso8601_ms(v.ts)},
          {"ts_ms", v.ts / kNsPerMs},
          {"value", value_json(v.value)},
          {"quality", quality::to_string(v.quality)}};
}

// The value as a number for min, max and avg: integers and booleans count, strings do not.
std::optional<double> as_number(const Value& v) {
  switch (value_type(v)) {
    case ValueType::kDouble: return std::get<double>(v);
    case ValueType::kInt64: return static_cast<double>(std::get<int64_t>(v));
    case ValueType::kBool: return std::get<bool>(v) ? 1.0 : 0.0;
    case ValueType::kString: return std::nullopt;
  }
  return std::nullopt;
}

// One interval's aggregate, fed samples in any time order.
struct Bucket {
  uint64_t count = 0;
  uint64_t numeric = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  Timestamp first_ts = 0;
  Value first;
  Timestamp last_ts = 0;
  Value last;

  void add(const Sample& s) {
    if (count == 0 || s.ts < first_ts) {
      first_ts = s.ts;
      first = s.value;
    }
    if (count == 0 || s.ts >= last_ts) {  // same time: the later one in store order
      last_ts = s.ts;
      last = s.value;
    }
    ++count;
    if (const std::optional<double> d = as_number(s.value)) {
      ++numeric;
      min = std::min(min, *d);
      max = std::max(max, *d);
      sum += *d;
    }
  }

  json value(Aggregate a) const {
    switch (a) {
      case Aggregate::kMin: return numeric ? json(min) : json(nullptr);
      case Aggregate::kMax: return numeric ? json(max) : json(nullptr);
      case Aggregate::kAvg:
        return numeric ? json(sum / static_cast<double>(numeric)) : json(nullptr);
      case Aggregate::kFirst: return value_json(first);
      case Aggregate::kLast: return value_json(last);
      case Aggregate::kCount: return count;
    }
    return nullptr;
  }
};

// floor(ts / interval) * interval, also for times before the epoch.
Timestamp bucket_start(Timestamp ts, int64_t interval) {
  int64_t q = ts / interval;
  if (ts % interval != 0 && ts < 0) --q;
  return q * interval;
}

// Which series a caller's organization sees: a series labelled with an org (the device
// platform's) is that org's; any other is its source's (the service's `org`), and one of no
// known source (a forwarded session's) is the platform's. The platform's members see all.
class SeriesView {
 public:
  SeriesView(const HttpRequest& request, runtime::Runtime& rt) : scope_(scope_of(request)) {
    if (scope_.all) return;
    for (const auto& s : rt.sources()) org_of_source_[s.name] = s.org;
  }
  bool all() const { return scope_.all; }
  // `streams`: where the series has values (its source when there is no metadata).
  bool sees(const SeriesMeta* meta, const std::vector<std::string>& streams = {}) const {
    if (scope_.all) return true;
    if (meta != nullptr) {
      if (auto org = meta->labels.find("org"); org != meta->labels.end()) {
        return scope_.sees(org->second);
      }
      if (!meta->source.empty()) return source_sees(meta->source);
    }
    return std::any_of(streams.begin(), streams.end(),
                       [&](const std::string& s) { return source_sees(s); });
  }

 private:
  bool source_sees(const std::string& source) const {
    auto it = org_of_source_.find(source);
    return it != org_of_source_.end() && scope_.sees(it->second);
  }
  platform::Scope scope_;
  std::map<std::string, std::string> org_of_source_;
};

class SeriesRoutes {
 public:
  explicit SeriesRoutes(runtime::Runtime& rt) : rt_(rt) {}

  HttpResponse list(const HttpRequest& request) {
    ParamError err;
    if (!check_known_params(request, {"stream", "prefix"}, &err)) return bad_param(err);
    const auto param = [&](const char* name) {
      auto it = request.query.find(name);
      return it == request.query.end() ? std::string() : it->second;
    };
    const std::string stream = param("stream");
    const std::string prefix = param("prefix");
    if (!stream.empty() && !rt_.store().has_stream(stream)) {
      return error_response(404, fmt::format("no stream named '{}'", stream), "stream");
    }
    Result<std::vector<SeriesMeta>> metas = rt_.series().db().all_series();
    if (!metas.ok()) return error_response(500, metas.status().message());
    std::map<std::string, const SeriesMeta*> known;
    for (const SeriesMeta& m : *metas) known.emplace(m.name, &m);
    std::map<std::string, std::vector<runtime::LastValue>> last;
    for (runtime::LastValue& v :
         stream.empty() ? rt_.last_values().all() : rt_.last_values().of_stream(stream)) {
      std::string name = v.series;
      last[name].push_back(std::move(v));
    }
    std::map<std::string, bool> names;  // sorted union
    for (const auto& [name, m] : known) {
      if (stream.empty() || m->source == stream) names[name] = true;
    }
    for (const auto& [name, v] : last) names[name] = true;
    const SeriesView view(request, rt_);
    json items = json::array();
    for (const auto& [name, unused] : names) {
      if (!name.starts_with(prefix)) continue;
      auto k = known.find(name);
      auto l = last.find(name);
      if (!view.all()) {
        std::vector<std::string> streams;
        if (l != last.end()) {
          for (const runtime::LastValue& v : l->second) streams.push_back(v.stream);
        }
        if (!view.sees(k == known.end() ? nullptr : k->second, streams)) continue;
      }
      items.push_back(series_json(name, k == known.end() ? nullptr : k->second,
                                  l == last.end() ? std::vector<runtime::LastValue>() : l->second));
    }
    return json_response(200, dump_json({{"series", items}, {"count", items.size()}}));
  }

  HttpResponse one(const HttpRequest& request, const std::string& name) {
    ParamError err;
    if (!check_known_params(request, {}, &err)) return bad_param(err);
    const std::optional<SeriesMeta> meta = rt_.series().find(name);
    std::vector<runtime::LastValue> last;
    for (const std::string& stream : rt_.store().streams()) {
      if (auto v = rt_.last_values().find(stream, name)) last.push_back(std::move(*v));
    }
    if (!meta && last.empty()) return no_series(name);
    std::vector<std::string> streams;
    for (const runtime::LastValue& v : last) streams.push_back(v.stream);
    if (!SeriesView(request, rt_).sees(meta ? &*meta : nullptr, streams)) return no_series(name);
    return json_response(200, dump_json(series_json(name, meta ? &*meta : nullptr, last)));
  }

  HttpResponse samples(const HttpRequest& request, const std::string& name) {
    ParamError err;
    if (!check_known_params(request, {"from", "to", "stream", "limit", "aggregate", "interval"},
                            &err)) {
      return bad_param(err);
    }
    const auto param = [&](const char* key) -> const std::string* {
      auto it = request.query.find(key);
      return it == request.query.end() ? nullptr : &it->second;
    };
    Timestamp to = wall_now_ns();
    if (const std::string* p = param("to"); p && !parse_time_param("to", *p, &to, &err)) {
      return bad_param(err);
    }
    Timestamp from = to - kDefaultRangeNs;
    if (const std::string* p = param("from"); p && !parse_time_param("from", *p, &from, &err)) {
      return bad_param(err);
    }
    if (from >= to) {
      return error_response(400,
                            fmt::format("query parameter 'from' ({}) must be before 'to' ({})",
                                        iso8601_ms(from), iso8601_ms(to)),
                            "from");
    }
    uint64_t limit = kDefaultSampleLimit;
    if (const std::string* p = param("limit");
        p && !parse_count_param("limit", *p, 1, kMaxSampleLimit, &limit, &err)) {
      return bad_param(err);
    }
    std::optional<Aggregate> aggregate;
    if (const std::string* p = param("aggregate")) {
      for (const auto& [text, a] : kAggregates) {
        if (*p == text) aggregate = a;
      }
      if (!aggregate) {
        return error_response(400,
                              fmt::format("query parameter 'aggregate': expected one of min, max, "
                                          "avg, first, last, count; got '{}'",
                                          *p),
                              "aggregate");
      }
    }
    int64_t interval = 0;
    if (const std::string* p = param("interval")) {
      if (!aggregate) {
        return error_response(
            400,
            "query parameter 'aggregate' is missing: 'interval' needs an aggregate "
            "(min, max, avg, first, last, count)",
            "aggregate");
      }
      Result<std::chrono::nanoseconds> d = runtime::parse_duration(*p);
      if (!d.ok() || d->count() < kNsPerMs) {
        return error_response(
            400,
            fmt::format("query parameter 'interval': expected {} of at least 1ms; got '{}'",
                        runtime::kDurationUnitsHelp, *p),
            "interval");
      }
      interval = d->count();
    } else if (aggregate) {
      return error_response(400,
                            "query parameter 'interval' is missing: an aggregate is computed "
                            "per interval, e.g. interval=1m",
                            "interval");
    }
    if (aggregate) {
      const uint64_t buckets =
          static_cast<uint64_t>((to - from) / interval) + 1;  // (to - from) > 0: no overflow
      if (buckets > kMaxAggregateBuckets) {
        return error_response(
            400,
            fmt::format("query parameter 'interval': {} intervals of {} from {} to {} are over "
                        "the limit of {}; choose a longer interval or a shorter range",
                        buckets, runtime::format_duration(std::chrono::nanoseconds(interval)),
                        iso8601_ms(from), iso8601_ms(to), kMaxAggregateBuckets),
            "interval");
      }
    }

    // The streams to read: the one asked for, else those the series is known in.
    std::vector<std::string> streams;
    const std::optional<SeriesMeta> meta = rt_.series().find(name);
    bool seen = meta.has_value();
    for (const std::string& s : rt_.store().streams()) {
      const bool cached = rt_.last_values().find(s, name).has_value();
      seen = seen || cached;
      if (cached || (meta && meta->source == s)) streams.push_back(s);
    }
    if (!seen || !SeriesView(request, rt_).sees(meta ? &*meta : nullptr, streams)) {
      return no_series(name);
    }
    if (const std::string* p = param("stream")) {
      if (!rt_.store().has_stream(*p)) {
        return error_response(404, fmt::format("no stream named '{}'", *p), "stream");
      }
      // The series' own source, or a stream of a source the caller's organization sees.
      if (!(meta && meta->source == *p) && !SeriesView(request, rt_).sees(nullptr, {*p})) {
        return error_response(404, fmt::format("no stream named '{}'", *p), "stream");
      }
      streams = {*p};
    }

    json out = {
        {"series", name}, {"streams", streams}, {"from", iso8601_ms(from)}, {"to", iso8601_ms(to)}};
    const std::vector<std::string> only = {name};
    if (aggregate) {
      std::map<Timestamp, Bucket> buckets;
      for (const std::string& s : streams) {
        Status st = rt_.store().query(s, only, from, to, [&](const Sample& sample, uint64_t) {
          buckets[bucket_start(sample.ts, interval)].add(sample);
          return true;
        });
        if (!st.ok()) return error_response(500, st.with_context("stream '" + s + "'").message());
      }
      json points = json::array();
      for (const auto& [start, b] : buckets) {
        points.push_back({{"ts", iso8601_ms(start)},
                          {"ts_ms", start / kNsPerMs},
                          {"value", b.value(*aggregate)},
                          {"count", b.count}});
      }
      out["aggregate"] = param("aggregate") ? *param("aggregate") : "";
      out["interval"] = runtime::format_duration(std::chrono::nanoseconds(interval));
      out["points"] = std::move(points);
      return json_response(200, dump_json(out));
    }

    struct Row {
      Sample sample;
      size_t stream;
      uint64_t seq;
    };
    std::vector<Row> rows;
    bool truncated = false;
    for (size_t i = 0; i < streams.size(); ++i) {
      uint64_t taken = 0;
      Status st = rt_.store().query(streams[i], only, from, to, [&](const Sample& s, uint64_t seq) {
        if (taken == limit) {  // one more than the limit: there is more
          truncated = true;
          return false;
        }
        rows.push_back({s, i, seq});
        ++taken;
        return true;
      });
      if (!st.ok()) {
        return error_response(500, st.with_context("stream '" + streams[i] + "'").message());
      }
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.sample.ts < b.sample.ts; });
    if (rows.size() > limit) {
      rows.resize(limit);
      truncated = true;
    }
    json samples = json::array();
    for (const Row& r : rows) {
      samples.push_back({{"ts", iso8601_ms(r.sample.ts)},
                         {"ts_ms", r.sample.ts / kNsPerMs},
                         {"value", value_json(r.sample.value)},
                         {"quality", quality::to_string(r.sample.quality)},
                         {"stream", streams[r.stream]},
                         {"seq", r.seq}});
    }
    out["limit"] = limit;
    out["truncated"] = truncated;
    out["samples"] = std::move(samples);
    return json_response(200, dump_json(out));
  }

 private:
  static HttpResponse no_series(const std::string& name) {
    return error_response(404, fmt::format("no series named '{}' (not in the state database and "
                                           "not seen in any stream since start)",
                                           name));
  }

  static json series_json(const std::string& name, const SeriesMeta* meta,
                          const std::vector<runtime::LastValue>& last) {
    json labels = json::object();
    json streams = json::array();
    const runtime::LastValue* newest = nullptr;
    for (const runtime::LastValue& v : last) {
      streams.push_back(v.stream);
      if (newest == nullptr || v.ts > newest->ts) newest = &v;
    }
    if (meta != nullptr) {
      for (const auto& [k, v] : meta->labels) labels[k] = v;
    }
    const ValueType type = meta != nullptr     ? meta->type
                           : newest != nullptr ? value_type(newest->value)
                                               : ValueType::kDouble;
    return {{"name", name},
            {"unit", meta != nullptr ? meta->unit : ""},
            {"description", meta != nullptr ? meta->description : ""},
            {"type", value_type_name(type)},
            {"labels", labels},
            {"source", meta != nullptr && !meta->source.empty() ? meta->source
                       : newest != nullptr                      ? newest->stream
                                                                : ""},
            {"streams", streams},
            {"last", newest != nullptr ? last_json(*newest) : json(nullptr)}};
  }

  runtime::Runtime& rt_;
};

}  // namespace

void register_series_routes(Router& router, runtime::Runtime& runtime) {
  auto routes = std::make_shared<SeriesRoutes>(runtime);
  router.add("GET", "/api/v1/series",
             [routes](const HttpRequest& r, const PathParams&) { return routes->list(r); });
  router.add("GET", "/api/v1/series/{name}", [routes](const HttpRequest& r, const PathParams& p) {
    return routes->one(r, p.at("name"));
  });
  router.add("GET", "/api/v1/series/{name}/samples",
             [routes](const HttpRequest& r, const PathParams& p) {
               return routes->samples(r, p.at("name"));
             });
}

}  // namespace sluice::api
