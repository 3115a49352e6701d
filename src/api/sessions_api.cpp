// The /api/v1/sessions routes (see sessions_api.h).
#include "api/sessions_api.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/bodies.h"
#include "api/query_params.h"
#include "sluice/version.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using runtime::SessionStatus;

// Rates are computed over at least this long (see sessions_api.h).
constexpr int64_t kMinRateWindowNs = 1'000'000'000;

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The previous counters of every stream and session, and the rates computed from them.
class SessionRates {
 public:
  struct Rates {
    double input = 0;   // samples/s appended to the stream
    double output = 0;  // samples/s the sink delivered from it
    bool backlog_growing = false;
  };

  Rates sample(const SessionStatus& s, int64_t now) {
    std::lock_guard lock(mu_);
    Rates r;
    r.input = inputs_[s.stream].update(s.input_samples, now);
    Session& out = outputs_[{s.stream, s.sink}];
    const int64_t before = out.output.at;
    r.output = out.output.update(s.delivered, now);
    if (out.output.at != before) {  // a new window began: compare the backlog with the last one
      out.growing = out.seen_backlog && s.backlog > out.backlog;
      out.backlog = s.backlog;
      out.seen_backlog = true;
    }
    r.backlog_growing = out.growing;
    return r;
  }

  // Forgets the sessions that no longer exist (after a full listing).
  void keep_only(const std::vector<SessionStatus>& sessions) {
    std::set<std::string> streams;
    std::set<std::pair<std::string, std::string>> pairs;
    for (const SessionStatus& s : sessions) {
      streams.insert(s.stream);
      pairs.emplace(s.stream, s.sink);
    }
    std::lock_guard lock(mu_);
    std::erase_if(inputs_, [&](const auto& kv) { return !streams.contains(kv.first); });
    std::erase_if(outputs_, [&](const auto& kv) { return !pairs.contains(kv.first); });
  }

 private:
  struct Counter {
    int64_t at = 0;
    uint64_t value = 0;
    double rate = 0;
    bool seen = false;

    // The rate over the window that ends now, if it is long enough; else the last one.
    double update(uint64_t v, int64_t now) {
      if (!seen) {
        *this = {now, v, 0, true};
        return 0;
      }
      const int64_t elapsed = now - at;
      if (elapsed < kMinRateWindowNs) return rate;
      // A counter that went back (the sink's settings changed, it counts from 0 again): 0.
      rate = v >= value ? static_cast<double>(v - value) * 1e9 / static_cast<double>(elapsed) : 0;
      at = now;
      value = v;
      return rate;
    }
  };
  struct Session {
    Counter output;
    uint64_t backlog = 0;
    bool seen_backlog = false;
    bool growing = false;
  };

  std::mutex mu_;
  std::map<std::string, Counter> inputs_;                           // by stream; guarded by mu_
  std::map<std::pair<std::string, std::string>, Session> outputs_;  // by (stream, sink); mu_
};

int status_of(const Status& st) {
  switch (st.code()) {
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition: return 409;
    case Code::kUnavailable: return 503;
    default: return 500;
  }
}

bool unhealthy(const runtime::Health& h) {
  return h.state == runtime::HealthState::kWarning || h.state == runtime::HealthState::kCritical;
}

// open: its source runs (and, for a forwarded or written session, data came within its inactive
// timeout); closed: it has none now, or it is stopped, disabled or failing, or idle.
const char* input_state(const SessionStatus& s) {
  return !s.source.empty() && s.source_mode == runtime::Mode::kRunning &&
                 s.source_health.state != runtime::HealthState::kCritical && !s.input_closed
             ? "open"
             : "closed";
}

// paused: by an operator (this session only); hold: the sink is disabled, the data is held in
// the store; closed: the sink does not run (not started, or failed and waiting to restart while
// the backlog does not grow); throttled: the sink runs but fails (WARNING or CRITICAL) and the
// backlog grows; open: delivering.
const char* output_state(const SessionStatus& s, const SessionRates::Rates& r) {
  if (s.paused) return "paused";
  // A sink that knows its sessions (the forward link: closed, hold, throttled) says so itself.
  if (!s.output_state.empty() && s.sink_mode == runtime::Mode::kRunning) {
    return s.output_state.c_str();
  }
  if (s.sink_mode == runtime::Mode::kDisabled) return "hold";
  if (s.sink_mode != runtime::Mode::kRunning) return "closed";
  if (unhealthy(s.sink_health) && r.backlog_growing) return "throttled";
  if (s.sink_health.state == runtime::HealthState::kCritical) return "closed";
  return "open";
}

json health_json(const runtime::Health& h) {
  return {{"state", runtime::health_state_name(h.state)}, {"reason", h.reason}};
}

json hops_of(const SessionStatus& s) { return json(s.hops); }

json session_json(const SessionStatus& s, const SessionRates::Rates& r) {
  const json hops = hops_of(s);
  json source = nullptr;
  if (!s.source.empty()) {
    source = {{"name", s.source},
              {"type", s.source_type},
              {"mode", runtime::mode_name(s.source_mode)},
              {"health", health_json(s.source_health)}};
  }
  return {
      {"name", s.stream + "/" + s.sink},
      {"stream", s.stream},
      {"sink", s.sink},
      {"created", iso8601_ms(s.created_ns)},
      {"created_ns", s.created_ns},
      {"source", source},
      {"destination",
       {{"sink", s.sink},
        {"type", s.sink_type},
        {"target", s.sink_summary},
        {"mode", runtime::mode_name(s.sink_mode)},
        {"health", health_json(s.sink_health)}}},
      {"hops", hops},
      {"hop_count", hops.size()},
      {"tags", s.series},
      {"input", {{"per_second", r.input}, {"count", s.input_samples}, {"state", input_state(s)}}},
      {"output",
       {{"per_second", r.output},
        {"count", s.delivered},
        {"state", output_state(s, r)},
        {"reason", s.paused || s.output_state.empty() ? std::string() : s.output_reason}}},
      {"last_input", s.last_input_ns > 0 ? json(iso8601_ms(s.last_input_ns)) : json(nullptr)},
      {"paused", s.paused},
      {"buffer", s.backlog},
      {"cursor", s.cursor},
      {"readable_end", s.readable_end},
      {"queue_order", s.queue_order}};
}

// The 404 for a session that is not there, naming what is missing.
HttpResponse no_session(runtime::Runtime& rt, const std::string& stream, const std::string& sink) {
  bool sink_exists = false;
  std::string sinks;
  for (const auto& s : rt.sinks()) {
    sink_exists = sink_exists || s.name == sink;
    sinks += (sinks.empty() ? "" : ", ") + s.name;
  }
  if (!sink_exists) {
    return error_response(404, fmt::format("no sink named '{}'; the sinks are {}", sink,
                                           sinks.empty() ? std::string("(none)") : sinks));
  }
  if (!rt.store().has_stream(stream)) {
    return error_response(404, fmt::format("no stream named '{}'", stream));
  }
  return error_response(404, fmt::format("sink '{}' does not read stream '{}'", sink, stream));
}

class SessionRoutes {
 public:
  explicit SessionRoutes(runtime::Runtime& rt) : rt_(rt) {}

  HttpResponse list() {
    const std::vector<SessionStatus> sessions = rt_.sessions();
    const int64_t now = monotonic_ns();
    json items = json::array();
    std::map<std::string, double> input_by_stream;
    uint64_t buffer = 0;
    double output = 0;
    for (const SessionStatus& s : sessions) {
      const SessionRates::Rates r = rates_.sample(s, now);
      items.push_back(session_json(s, r));
      input_by_stream[s.stream] = r.input;
      buffer += s.backlog;
      output += r.output;
    }
    rates_.keep_only(sessions);
    double input = 0;
    for (const auto& [stream, rate] : input_by_stream) input += rate;
    const json totals = {
        {"sessions", sessions.size()}, {"streams", input_by_stream.size()}, {"buffer", buffer},
        {"input_per_second", input},   {"output_per_second", output},       {"version", kVersion}};
    return json_response(200, dump_json({{"sessions", items}, {"totals", totals}}));
  }

  HttpResponse one(const std::string& stream, const std::string& sink) {
    for (const SessionStatus& s : rt_.sessions()) {
      if (s.stream == stream && s.sink == sink) {
        return json_response(200, dump_json(session_json(s, rates_.sample(s, monotonic_ns()))));
      }
    }
    return no_session(rt_, stream, sink);
  }

  HttpResponse pause(const std::string& stream, const std::string& sink, bool paused) {
    const Status st = rt_.pause_session(stream, sink, paused);
    if (st.code() == Code::kNotFound) return no_session(rt_, stream, sink);
    if (!st.ok()) return error_response(status_of(st), st.message());
    return one(stream, sink);
  }

  HttpResponse purge(const HttpRequest& request) {
    PurgeBody body;
    ParamError bad;
    if (!parse_purge_body(request.body, &body, &bad)) {
      return error_response(400, bad.message, bad.field);
    }
    // Every session must exist before anything is moved.
    const std::vector<SessionStatus> sessions = rt_.sessions();
    for (const auto& [stream, sink] : body.sessions) {
      bool found = false;
      for (const SessionStatus& s : sessions)
        found = found || (s.stream == stream && s.sink == sink);
      if (!found) return no_session(rt_, stream, sink);
    }
    json purged = json::array();
    for (const auto& [stream, sink] : body.sessions) {
      Result<store::PurgeReport> report = rt_.purge_session(stream, sink);
      if (!report.ok()) {
        std::string done;
        for (const json& p : purged) {
          done += fmt::format("{}{}/{}", done.empty() ? "" : ", ", p["stream"].get<std::string>(),
                              p["sink"].get<std::string>());
        }
        return error_response(
            status_of(report.status()),
            fmt::format("{}{}", report.status().message(),
                        done.empty() ? std::string() : "; already purged: " + done));
      }
      purged.push_back({{"stream", stream},
                        {"sink", sink},
                        {"samples", report->samples},
                        {"from_seq", report->from_seq},
                        {"to_seq", report->to_seq},
                        {"backup_dir", report->backup_dir}});
    }
    return json_response(200, dump_json({{"purged", purged}}));
  }

  HttpResponse compare(const HttpRequest& request) {
    ParamError err;
    if (!check_known_params(request, {"a", "b"}, &err)) {
      return error_response(400, err.message, err.field);
    }
    const SessionStatus* picked[2] = {nullptr, nullptr};
    const std::vector<SessionStatus> sessions = rt_.sessions();
    const char* names[2] = {"a", "b"};
    for (int k = 0; k < 2; ++k) {
      auto it = request.query.find(names[k]);
      const std::string value = it == request.query.end() ? std::string() : it->second;
      const size_t slash = value.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == value.size() ||
          value.find('/', slash + 1) != std::string::npos) {
        return error_response(
            400,
            fmt::format("query parameter '{}' must name a session as stream/sink, e.g. "
                        "{}=sim/lake; got '{}'",
                        names[k], names[k], value),
            names[k]);
      }
      const std::string stream = value.substr(0, slash);
      const std::string sink = value.substr(slash + 1);
      for (const SessionStatus& s : sessions) {
        if (s.stream == stream && s.sink == sink) picked[k] = &s;
      }
      if (picked[k] == nullptr) return no_session(rt_, stream, sink);
    }
    const auto a = rows_of(*picked[0]);
    const auto b = rows_of(*picked[1]);
    std::vector<std::string> order;  // a's rows first, then those only b has
    std::set<std::string> seen;
    for (const auto* rows : {&a, &b}) {
      for (const auto& [name, value] : *rows) {
        if (seen.insert(name).second) order.push_back(name);
      }
    }
    const auto lookup = [](const std::vector<std::pair<std::string, std::string>>& rows,
                           const std::string& name) -> const std::string* {
      for (const auto& [n, v] : rows) {
        if (n == name) return &v;
      }
      return nullptr;
    };
    std::string csv = "setting,a,b,same\r\n";
    for (const std::string& name : order) {
      const std::string* va = lookup(a, name);
      const std::string* vb = lookup(b, name);
      append_csv_field(csv, name);
      csv += ',';
      append_csv_field(csv, va ? *va : "");
      csv += ',';
      append_csv_field(csv, vb ? *vb : "");
      csv += ',';
      csv += (va != nullptr && vb != nullptr && *va == *vb) ? "yes" : "no";
      csv += "\r\n";
    }
    return HttpResponse{200, "text/csv; charset=utf-8", std::move(csv), {}};
  }

 private:
  // One session's settings and series as (row name, value), in a stable order: the session's
  // own settings, the source's and the sink's table keys (state database), then its series.
  std::vector<std::pair<std::string, std::string>> rows_of(const SessionStatus& s) {
    std::vector<std::pair<std::string, std::string>> rows = {
        {"stream", s.stream},
        {"source", s.source},
        {"source.type", s.source_type},
        {"sink", s.sink},
        {"sink.type", s.sink_type},
        {"destination", s.sink_summary},
        {"hops", hops_of(s).dump()},
        {"queue_order", std::to_string(s.queue_order)},
        {"paused", s.paused ? "true" : "false"},
        {"tags", std::to_string(s.series)},
    };
    const auto settings = [&](const std::string& prefix, const std::string& service) {
      if (service.empty()) return;
      Result<runtime::ServiceRow> row = rt_.service_row(service);
      if (!row.ok()) return;
      // Canonical TOML: one "key = value" per line, sub-tables inline.
      size_t start = 0;
      while (start < row->settings.size()) {
        size_t end = row->settings.find('\n', start);
        if (end == std::string::npos) end = row->settings.size();
        const std::string line = row->settings.substr(start, end - start);
        start = end + 1;
        const size_t eq = line.find(" = ");
        if (eq == std::string::npos) continue;
        const std::string key = line.substr(0, eq);
        if (key == "name" || key == "type") continue;  // rows of their own above
        rows.emplace_back(prefix + "." + key, line.substr(eq + 3));
      }
    };
    settings("source", s.source);
    settings("sink", s.sink);
    // Series: those seen in the stream, and those the state database says its source ingests.
    std::set<std::string> series;
    for (const runtime::LastValue& v : rt_.last_values().of_stream(s.stream))
      series.insert(v.series);
    if (!s.source.empty()) {
      Result<std::vector<SeriesMeta>> all = rt_.series().db().all_series();
      if (all.ok()) {
        for (const SeriesMeta& m : *all) {
          if (m.source == s.source) series.insert(m.name);
        }
      }
    }
    for (const std::string& name : series) {
      const std::optional<SeriesMeta> meta = rt_.series().find(name);
      const std::string unit = meta ? meta->unit : std::string();
      rows.emplace_back("series." + name, unit.empty() ? "present" : "present (" + unit + ")");
    }
    return rows;
  }

  runtime::Runtime& rt_;
  SessionRates rates_;
};

}  // namespace

void register_session_routes(Router& router, runtime::Runtime& runtime) {
  auto routes = std::make_shared<SessionRoutes>(runtime);
  router.add("GET", "/api/v1/sessions",
             [routes](const HttpRequest&, const PathParams&) { return routes->list(); });
  router.add("GET", "/api/v1/sessions/compare",
             [routes](const HttpRequest& r, const PathParams&) { return routes->compare(r); });
  // Pausing a session controls its sink (the default for POST); a purge manages the session.
  router.add(
      "POST", "/api/v1/sessions/purge",
      [routes](const HttpRequest& r, const PathParams&) { return routes->purge(r); },
      auth::Action::kManageSession);
  router.add("GET", "/api/v1/sessions/{stream}/{sink}",
             [routes](const HttpRequest&, const PathParams& p) {
               return routes->one(p.at("stream"), p.at("sink"));
             });
  router.add("POST", "/api/v1/sessions/{stream}/{sink}/pause",
             [routes](const HttpRequest&, const PathParams& p) {
               return routes->pause(p.at("stream"), p.at("sink"), true);
             });
  router.add("POST", "/api/v1/sessions/{stream}/{sink}/unpause",
             [routes](const HttpRequest&, const PathParams& p) {
               return routes->pause(p.at("stream"), p.at("sink"), false);
             });
}

}  // namespace sluice::api
