// The /api/v1/services routes (see services_api.h).
#include "api/services_api.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "api/bodies.h"
#include "api/platform_api.h"
#include "api/query_params.h"
#include "core/clock.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using runtime::ServiceKind;

// When each service's counter last moved, as seen by the requests (see services_api.h).
class Activity {
 public:
  // Records `count` for the service and returns when it last changed; 0 if never seen changing.
  Timestamp seen(const std::string& key, uint64_t count, Timestamp now) {
    std::lock_guard lock(mu_);
    auto [it, first] = last_.try_emplace(key);
    if (!first && it->second.count != count) it->second.at = now;
    it->second.count = count;
    return it->second.at;
  }
  // Forgets the services that no longer exist (after a full listing).
  void keep_only(const std::set<std::string>& keys) {
    std::lock_guard lock(mu_);
    std::erase_if(last_, [&](const auto& kv) { return !keys.contains(kv.first); });
  }

 private:
  struct Counter {
    uint64_t count = 0;
    Timestamp at = 0;
  };
  std::mutex mu_;
  std::map<std::string, Counter> last_;  // by "source:<name>" / "sink:<name>"
};

json health_json(const runtime::Health& h) {
  return {{"state", runtime::health_state_name(h.state)}, {"reason", h.reason}};
}

json source_json(const runtime::SourceStatus& s) {
  json details = json::object();
  for (const auto& d : s.details) details[d.name] = d.value;
  return {{"kind", "source"},
          {"name", s.name},
          {"type", s.type},
          {"org", s.org},
          {"mode", runtime::mode_name(s.mode)},
          {"health", health_json(s.health)},
          {"metrics",
           {{"samples", s.samples},
            {"batches", s.batches},
            {"dropped_samples", s.dropped_samples},
            {"failed_ingests", s.failed_ingests},
            {"filtered_samples", s.filtered_samples}}},
          {"details", details}};
}

json sink_json(const runtime::SinkStatus& s) {
  json details = json::object();
  for (const auto& d : s.details) details[d.name] = d.value;
  return {
      {"kind", "sink"},
      {"name", s.name},
      {"type", s.type},
      {"org", s.org},
      {"mode", runtime::mode_name(s.mode)},
      {"health", health_json(s.health)},
      {"metrics", {{"delivered", s.delivered}, {"backlog", s.backlog}, {"restarts", s.restarts}}},
      {"details", details}};
}

// The HTTP status of a runtime error.
int status_of(const Status& st) {
  switch (st.code()) {
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition: return 409;
    case Code::kResourceExhausted: return 429;
    case Code::kUnavailable: return 503;
    default: return 500;
  }
}

// The error answer of a runtime error: for a settings error, with the key and line at fault.
HttpResponse runtime_error(const Status& st) {
  const int status = status_of(st);
  json e = {{"status", status}, {"message", st.message()}};
  const SettingsErrorPlace place = settings_error_place(st.message());
  if (!place.key.empty()) e["field"] = place.key;
  if (place.line > 0) {
    e["line"] = place.line;
    e["column"] = place.column;
  }
  return json_response(status, dump_json({{"error", e}}));
}

// A body of settings: TOML text (text/plain or application/toml; no Content-Type is taken as
// TOML too), not empty and not over kMaxSettingsBytes. nullopt with the answer otherwise.
std::optional<HttpResponse> check_settings_body(const HttpRequest& r) {
  std::string type = r.header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!type.empty() && type != "text/plain" && type != "application/toml") {
    return error_response(415,
                          "send the service's settings as TOML text (Content-Type text/plain or "
                          "application/toml), the keys of its table as in the config file; got " +
                              type,
                          "body");
  }
  if (r.body.size() > kMaxSettingsBytes) {
    return error_response(413,
                          fmt::format("the settings are {} bytes; at most {} are accepted",
                                      r.body.size(), kMaxSettingsBytes),
                          "body");
  }
  if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return error_response(400, "the body is empty; send the keys of the service's table as TOML",
                          "body");
  }
  return std::nullopt;
}

class ServiceRoutes {
 public:
  explicit ServiceRoutes(runtime::Runtime& runtime) : runtime_(runtime) {}

  HttpResponse list(const HttpRequest& request) {
    const platform::Scope scope = scope_of(request);
    const Timestamp now = SystemClock::instance().now();
    json out = json::array();
    std::set<std::string> keys;
    for (const auto& s : runtime_.sources()) {
      if (!scope.sees(s.org)) continue;
      out.push_back(with_extras(source_json(s), "source:" + s.name, s.samples, now));
      keys.insert("source:" + s.name);
    }
    for (const auto& s : runtime_.sinks()) {
      if (!scope.sees(s.org)) continue;
      out.push_back(with_extras(sink_json(s), "sink:" + s.name, s.delivered, now));
      keys.insert("sink:" + s.name);
    }
    activity_.keep_only(keys);
    return json_response(200, dump_json({{"services", out}}));
  }

  HttpResponse one(const std::string& name, int status = 200) {
    const Timestamp now = SystemClock::instance().now();
    for (const auto& s : runtime_.sources()) {
      if (s.name == name) {
        return json_response(
            status, dump_json(with_extras(source_json(s), "source:" + name, s.samples, now)));
      }
    }
    for (const auto& s : runtime_.sinks()) {
      if (s.name == name) {
        return json_response(
            status, dump_json(with_extras(sink_json(s), "sink:" + name, s.delivered, now)));
      }
    }
    return error_response(404, "no service named '" + name + "'");
  }

  HttpResponse add(const HttpRequest& r) {
    ParamError bad;
    if (!check_known_params(r, {"kind"}, &bad)) return error_response(400, bad.message, bad.field);
    const auto kind_it = r.query.find("kind");
    if (kind_it == r.query.end() || (kind_it->second != "source" && kind_it->second != "sink")) {
      return error_response(400, "say what to add: ?kind=source or ?kind=sink", "kind");
    }
    if (auto refused = check_settings_body(r)) return *refused;
    const ServiceKind kind =
        kind_it->second == "source" ? ServiceKind::kSource : ServiceKind::kSink;
    const Status st = runtime_.add_service(kind, r.body);
    if (!st.ok()) return runtime_error(st);
    // The runtime accepted the text, so it parses and has a name.
    std::string name;
    try {
      name = toml::parse(r.body)["name"].value_or(std::string());
    } catch (const toml::parse_error&) {
    }
    HttpResponse out = one(name, 201);
    out.headers.emplace_back("Location", "/api/v1/services/" + name);
    return out;
  }

  HttpResponse update(const HttpRequest& r, const std::string& name) {
    ParamError bad;
    if (!check_known_params(r, {}, &bad)) return error_response(400, bad.message, bad.field);
    if (auto refused = check_settings_body(r)) return *refused;
    const Status st = runtime_.update_settings(name, r.body);
    if (!st.ok()) return runtime_error(st);
    return one(name);
  }

  HttpResponse remove(const std::string& name) {
    const Status st = runtime_.remove_service(name);
    if (!st.ok()) return runtime_error(st);
    return json_response(200, dump_json({{"removed", name}}));
  }

  // Whether the caller's organization may see the service; unknown names are visible (the
  // route then answers 404 as for any unknown name).
  bool visible(const HttpRequest& request, const std::string& name) const {
    const platform::Scope scope = scope_of(request);
    if (scope.all) return true;
    for (const auto& s : runtime_.sources()) {
      if (s.name == name) return scope.sees(s.org);
    }
    for (const auto& s : runtime_.sinks()) {
      if (s.name == name) return scope.sees(s.org);
    }
    return true;
  }

  HttpResponse set_enabled(const std::string& name, bool enabled) {
    const Status st = runtime_.set_enabled(name, enabled);
    if (!st.ok()) return runtime_error(st);
    return one(name);
  }

  // PUT .../mode with {"mode": "RUNNING" | "DISABLED"}.
  HttpResponse set_mode(const HttpRequest& r, const std::string& name) {
    ModeBody body;
    ParamError bad;
    if (!parse_mode_body(r.body, &body, &bad)) return error_response(400, bad.message, bad.field);
    return set_enabled(name, body.running);
  }

 private:
  // The service's status with last_seen, version and settings (see services_api.h).
  json with_extras(json j, const std::string& key, uint64_t count, Timestamp now) {
    const Timestamp seen = activity_.seen(key, count, now);
    j["last_seen"] = seen == 0 ? json(nullptr) : json(iso8601_ms(seen));
    Result<runtime::ServiceRow> row = runtime_.service_row(j["name"].get<std::string>());
    if (row.ok()) {
      j["version"] = row->updated_at;
      j["settings"] = row->settings;
      j["origin"] = runtime::service_origin_name(row->origin);
    } else {  // changes at run time are off, or it was removed meanwhile
      j["version"] = nullptr;
      j["settings"] = nullptr;
      j["origin"] = nullptr;
    }
    return j;
  }

  runtime::Runtime& runtime_;
  Activity activity_;
};

// A whole number at the start of `text`; -1 if none.
int leading_number(std::string_view text, size_t* length) {
  size_t n = 0;
  int value = 0;
  while (n < text.size() && n < 9 && std::isdigit(static_cast<unsigned char>(text[n]))) {
    value = value * 10 + (text[n] - '0');
    ++n;
  }
  *length = n;
  return n == 0 ? -1 : value;
}

}  // namespace

SettingsErrorPlace settings_error_place(std::string_view message) {
  SettingsErrorPlace place;
  const std::string_view first = message.substr(0, message.find('\n'));
  size_t rest = std::string_view::npos;
  // "<label>:<line>:<column>: " — the first such position in the line.
  for (size_t colon = first.find(':'); colon != std::string_view::npos;
       colon = first.find(':', colon + 1)) {
    size_t n1 = 0;
    const int line = leading_number(first.substr(colon + 1), &n1);
    if (line < 0 || colon + 1 + n1 >= first.size() || first[colon + 1 + n1] != ':') continue;
    size_t n2 = 0;
    const int column = leading_number(first.substr(colon + 2 + n1), &n2);
    const size_t after = colon + 2 + n1 + n2;
    if (column < 0 || first.substr(after, 2) != ": ") continue;
    place.line = line;
    place.column = column;
    rest = after + 2;
    break;
  }
  if (rest == std::string_view::npos) {  // "<label>: key '<key>': ..." without a position
    const size_t k = first.find(": key '");
    if (k != std::string_view::npos) rest = k + 2;
  }
  constexpr std::string_view kKey = "key '";
  if (rest != std::string_view::npos && first.substr(rest).starts_with(kKey)) {
    const size_t end = first.find("': ", rest + kKey.size());
    if (end != std::string_view::npos) {
      place.key = std::string(first.substr(rest + kKey.size(), end - rest - kKey.size()));
    }
  }
  return place;
}

void register_service_routes(Router& router, runtime::Runtime& runtime) {
  auto routes = std::make_shared<ServiceRoutes>(runtime);
  // A member of an organization sees and controls only its organization's services (`org`);
  // another's answers 404 as if it did not exist.
  const auto hidden = [](const std::string& name) {
    return error_response(404, fmt::format("no service named '{}'", name));
  };
  router.add("GET", "/api/v1/services",
             [routes](const HttpRequest& r, const PathParams&) { return routes->list(r); });
  router.add(
      "POST", "/api/v1/services",
      [routes](const HttpRequest& r, const PathParams&) { return routes->add(r); },
      auth::Action::kChangeConfig);
  router.add("GET", "/api/v1/services/{name}",
             [routes, hidden](const HttpRequest& r, const PathParams& p) {
               if (!routes->visible(r, p.at("name"))) return hidden(p.at("name"));
               return routes->one(p.at("name"));
             });
  router.add(
      "PUT", "/api/v1/services/{name}",
      [routes](const HttpRequest& r, const PathParams& p) {
        return routes->update(r, p.at("name"));
      },
      auth::Action::kChangeConfig);
  router.add(
      "DELETE", "/api/v1/services/{name}",
      [routes](const HttpRequest&, const PathParams& p) { return routes->remove(p.at("name")); },
      auth::Action::kChangeConfig);
  // Enabling and disabling controls the service (operator); the default for PUT and POST.
  router.add("PUT", "/api/v1/services/{name}/mode",
             [routes, hidden](const HttpRequest& r, const PathParams& p) {
               if (!routes->visible(r, p.at("name"))) return hidden(p.at("name"));
               return routes->set_mode(r, p.at("name"));
             });
  router.add("POST", "/api/v1/services/{name}/enable",
             [routes, hidden](const HttpRequest& r, const PathParams& p) {
               if (!routes->visible(r, p.at("name"))) return hidden(p.at("name"));
               return routes->set_enabled(p.at("name"), true);
             });
  router.add("POST", "/api/v1/services/{name}/disable",
             [routes, hidden](const HttpRequest& r, const PathParams& p) {
               if (!routes->visible(r, p.at("name"))) return hidden(p.at("name"));
               return routes->set_enabled(p.at("name"), false);
             });
}

}  // namespace sluice::api
