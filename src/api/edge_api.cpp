// The edge-control routes (see edge_api.h).
#include "api/edge_api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/control_api.h"
#include "api/query_params.h"
#include "auth/roles.h"
#include "rules/substitution.h"

namespace sluice::api {
namespace {

using nlohmann::json;

constexpr std::string_view kKinds[] = {control::kRules, control::kNotifications,
                                       control::kScripts, control::kAcls};
constexpr uint64_t kDefaultHistory = 100;
constexpr uint64_t kMaxHistory = 1'000;

json value_json(const Value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

json optional_time(const std::optional<Timestamp>& t) {
  return t ? json(iso8601_ms(*t)) : json(nullptr);
}

json status_json(const control::NotificationStatus& s) {
  const rules::NotificationState& st = s.state;
  json values = json::object();
  for (const rules::NamedValue& v : st.last_values) values[v.series] = value_json(v.value);
  json deliveries = json::array();
  for (const control::DeliveryStatus& d : s.deliveries) {
    deliveries.push_back({{"type", d.type},
                          {"summary", d.summary},
                          {"sent", d.sent},
                          {"failed", d.failed},
                          {"dropped", d.dropped},
                          {"last_error", d.last_error},
                          {"last_sent", d.last_sent_ns == 0 ? json(nullptr)
                                                            : json(iso8601_ms(d.last_sent_ns))}});
  }
  return {{"running", s.rule_error.empty() && s.def.enabled},
          {"rule_error", s.rule_error},
          {"triggered", st.triggered},
          {"announced", st.announced},
          {"deferred", st.deferred},
          {"last_evaluation", optional_time(st.last_evaluation)},
          {"last_sent", optional_time(st.last_sent)},
          {"last_send", rules::send_name(st.last_send)},
          {"evaluations", st.evaluations},
          {"triggers", st.triggers},
          {"clears", st.clears},
          {"sends", st.sends},
          {"sent_triggered", st.sent_triggered},
          {"sent_cleared", st.sent_cleared},
          {"held_back", st.held_back},
          {"last_values", std::move(values)},
          {"rule_samples", s.rule_counters.samples},
          {"rule_skipped", s.rule_counters.skipped_bad_quality + s.rule_counters.skipped_not_number +
                               s.rule_counters.skipped_out_of_order},
          {"deliveries", std::move(deliveries)}};
}

json history_json(const std::vector<control::HistoryEntry>& entries) {
  json out = json::array();
  for (const control::HistoryEntry& h : entries) {
    json values = json::object();
    for (const rules::NamedValue& v : h.values) values[v.series] = value_json(v.value);
    out.push_back({{"at", iso8601_ms(h.at_ns)},
                   {"time", iso8601_ms(h.ts)},
                   {"notification", h.notification},
                   {"rule", h.rule},
                   {"send", rules::send_name(h.send)},
                   {"values", std::move(values)}});
  }
  return out;
}

json document_json(const control::DocumentInfo& d) {
  json j = d.json;
  j["origin"] = d.origin;
  j["updated_at"] = d.updated_at;
  return j;
}

int document_status(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition: return 409;
    default: return 500;
  }
}

HttpResponse no_control() {
  return error_response(503, "edge control is not running in this Sluice");
}

runtime::Caller caller_of(const HttpRequest& r) {
  std::string user = r.header("x-sluice-user");
  std::string role = r.header("x-sluice-role");
  // Without users (the routes alone, in tests) the caller is anonymous and has no role an ACL
  // could grant.
  return runtime::Caller::user(user.empty() ? "anonymous" : user, role);
}

json outcome_json(const runtime::ControlOutcome& o) {
  json services = json::array();
  for (const auto& s : o.services) {
    services.push_back({{"service", s.service},
                        {"done", s.done},
                        {"ok", s.status.ok()},
                        {"error", s.status.ok() ? "" : s.status.message()}});
  }
  return {{"services", std::move(services)},
          {"steps_run", o.steps_run},
          {"steps_skipped", o.steps_skipped}};
}

HttpResponse run_request(control::ControlPlane& cp, const runtime::ControlRequest& request,
                         const HttpRequest& r) {
  Result<runtime::ControlOutcome> out = cp.dispatcher().dispatch(request, caller_of(r));
  if (!out.ok()) return error_response(control_http_status(out.status().code()), out.status().message());
  json j = outcome_json(*out);
  j["request"] = request.describe();
  return json_response(200, dump_json(j));
}

class EdgeRoutes {
 public:
  explicit EdgeRoutes(control::ControlPlane* cp) : cp_(cp) {}

  HttpResponse list(std::string_view kind, const HttpRequest& r) const {
    if (cp_ == nullptr) return no_control();
    ParamError perr;
    if (!check_known_params(r, {}, &perr)) return error_response(400, perr.message, perr.field);
    json items = json::array();
    std::vector<control::NotificationStatus> states;
    if (kind == control::kNotifications) states = cp_->engine().notifications();
    for (const control::DocumentInfo& d : cp_->documents().list(kind)) {
      json j = document_json(d);
      for (const control::NotificationStatus& s : states) {
        if (s.def.name == d.json.value("name", "")) j["status"] = status_json(s);
      }
      items.push_back(std::move(j));
    }
    return json_response(200, dump_json({{std::string(kind), std::move(items)}}));
  }

  HttpResponse one(std::string_view kind, const std::string& name) const {
    if (cp_ == nullptr) return no_control();
    std::optional<control::DocumentInfo> d = cp_->documents().get(kind, name);
    if (!d) return error_response(404, fmt::format("no {} named '{}'", kind, name));
    json j = document_json(*d);
    if (kind == control::kNotifications) {
      for (const control::NotificationStatus& s : cp_->engine().notifications()) {
        if (s.def.name == name) j["status"] = status_json(s);
      }
    }
    return json_response(200, dump_json(j));
  }

  HttpResponse put(std::string_view kind, const HttpRequest& r, const std::string& name) const {
    if (cp_ == nullptr) return no_control();
    json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return error_response(400, "the body must be a JSON object");
    }
    // Fields the answers add are not part of the document.
    body.erase("origin");
    body.erase("updated_at");
    body.erase("status");
    const Status s = cp_->documents().put(kind, body, name);
    if (!s.ok()) return error_response(document_status(s), s.message());
    return one_with(kind, body.value("name", ""), name.empty() ? 201 : 200);
  }

  HttpResponse remove(std::string_view kind, const std::string& name) const {
    if (cp_ == nullptr) return no_control();
    const Status s = cp_->documents().remove(kind, name);
    if (!s.ok()) return error_response(document_status(s), s.message());
    return json_response(200, dump_json({{"deleted", name}}));
  }

  HttpResponse history(const HttpRequest& r, const std::string& name) const {
    if (cp_ == nullptr) return no_control();
    ParamError perr;
    uint64_t limit = kDefaultHistory;
    if (!check_known_params(r, {"limit"}, &perr) ||
        (r.query.contains("limit") &&
         !parse_count_param("limit", r.query.at("limit"), 1, kMaxHistory, &limit, &perr))) {
      return error_response(400, perr.message, perr.field);
    }
    if (!name.empty() && !cp_->documents().get(control::kNotifications, name)) {
      return error_response(404, fmt::format("no notification named '{}'", name));
    }
    return json_response(
        200, dump_json({{"history", history_json(cp_->engine().history(limit, name))}}));
  }

  HttpResponse control_request(const HttpRequest& r) const {
    if (cp_ == nullptr) return no_control();
    Result<runtime::ControlRequest> request = runtime::parse_control_request(r.body);
    if (!request.ok()) return error_response(400, request.status().message());
    return run_request(*cp_, *request, r);
  }

  HttpResponse run_script(const HttpRequest& r, const std::string& name) const {
    if (cp_ == nullptr) return no_control();
    runtime::ControlRequest request;
    request.action = runtime::ControlRequest::Action::kScript;
    request.script = name;
    if (!r.body.empty()) {
      json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
      if (body.is_discarded() || !body.is_object()) {
        return error_response(400, "the body must be a JSON object: {\"params\": {...}}");
      }
      for (const auto& [key, value] : body.items()) {
        if (key != "params") {
          return error_response(400, fmt::format("unknown field '{}'; the body is {{\"params\": "
                                                 "{{...}}}}",
                                                 key),
                                key);
        }
      }
      if (body.contains("params")) {
        if (!body["params"].is_object()) {
          return error_response(400, "expected an object of names and values", "params");
        }
        for (const auto& [key, value] : body["params"].items()) {
          if (value.is_string()) {
            request.params[key] = value.get<std::string>();
          } else if (value.is_number() || value.is_boolean()) {
            request.params[key] = value.dump();
          } else {
            return error_response(400, "expected a string, number or boolean", "params." + key);
          }
        }
      }
    }
    return run_request(*cp_, request, r);
  }

  HttpResponse status() const {
    if (cp_ == nullptr) return no_control();
    const control::DispatcherStats d = cp_->dispatcher().stats();
    const control::EngineStats e = cp_->engine().stats();
    const auto events = [](const std::vector<control::ControlEvent>& list) {
      json out = json::array();
      for (const control::ControlEvent& ev : list) {
        out.push_back({{"time", iso8601_ms(ev.time_ns)},
                       {"caller", ev.caller},
                       {"request", ev.request},
                       {"outcome", ev.outcome},
                       {"ok", ev.ok},
                       {"code", code_name(ev.code)}});
      }
      return out;
    };
    json j = {{"dispatcher",
               {{"requests", d.requests},
                {"ok", d.ok},
                {"refused_acl", d.refused_acl},
                {"refused_unavailable", d.refused_unavailable},
                {"refused_other", d.refused_other},
                {"failed", d.failed},
                {"scripts_run", d.scripts_run},
                {"steps_run", d.steps_run},
                {"steps_skipped", d.steps_skipped},
                {"queued", d.queued},
                {"running", d.running},
                {"threads", d.threads}}},
              {"engine",
               {{"running", e.running},
                {"samples", e.samples},
                {"evaluations", e.evaluations},
                {"sends", e.sends},
                {"dropped", e.dropped},
                {"rules", e.rules},
                {"notifications", e.notifications}}},
              {"recent", events(cp_->dispatcher().recent())},
              {"refusals", events(cp_->dispatcher().refusals())}};
    return json_response(200, dump_json(j));
  }

 private:
  HttpResponse one_with(std::string_view kind, const std::string& name, int status) const {
    HttpResponse r = one(kind, name);
    if (r.status == 200) r.status = status;
    return r;
  }

  control::ControlPlane* cp_;
};

}  // namespace

void register_edge_routes(Router& router, control::ControlPlane* control) {
  auto routes = std::make_shared<EdgeRoutes>(control);
  // Fixed paths before the {name} patterns of the same prefix.
  router.add("GET", "/api/v1/notification-history",
             [routes](const HttpRequest& r, const PathParams&) { return routes->history(r, ""); });
  router.add("GET", "/api/v1/control",
             [routes](const HttpRequest&, const PathParams&) { return routes->status(); });
  router.add(
      "POST", "/api/v1/control",
      [routes](const HttpRequest& r, const PathParams&) { return routes->control_request(r); },
      auth::Action::kControlEquipment);
  router.add(
      "POST", "/api/v1/scripts/{name}/run",
      [routes](const HttpRequest& r, const PathParams& p) {
        return routes->run_script(r, p.at("name"));
      },
      auth::Action::kControlEquipment);
  router.add("GET", "/api/v1/notifications/{name}/history",
             [routes](const HttpRequest& r, const PathParams& p) {
               return routes->history(r, p.at("name"));
             });
  for (std::string_view kind : kKinds) {
    const std::string base = "/api/v1/" + std::string(kind);
    router.add("GET", base, [routes, kind](const HttpRequest& r, const PathParams&) {
      return routes->list(kind, r);
    });
    router.add(
        "POST", base,
        [routes, kind](const HttpRequest& r, const PathParams&) { return routes->put(kind, r, ""); },
        auth::Action::kChangeConfig);
    router.add("GET", base + "/{name}",
               [routes, kind](const HttpRequest&, const PathParams& p) {
                 return routes->one(kind, p.at("name"));
               });
    router.add(
        "PUT", base + "/{name}",
        [routes, kind](const HttpRequest& r, const PathParams& p) {
          return routes->put(kind, r, p.at("name"));
        },
        auth::Action::kChangeConfig);
    router.add(
        "DELETE", base + "/{name}",
        [routes, kind](const HttpRequest&, const PathParams& p) {
          return routes->remove(kind, p.at("name"));
        },
        auth::Action::kChangeConfig);
  }
}

}  // namespace sluice::api
