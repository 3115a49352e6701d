// The bootstrap routes (see bootstrap_api.h).
#include "api/bootstrap_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <span>

#include "api/platform_api.h"
#include "api/query_params.h"
#include "core/clock.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using platform::BootstrapConfig;

json config_json(const BootstrapConfig& c) {
  return {{"external_id", c.external_id},
          {"key_hint", c.key_hint},
          {"org", c.org},
          {"name", c.name},
          {"thing_id", c.thing_id},
          {"channels", c.channels},
          {"content", c.content},
          {"state", c.enabled ? "on" : "off"},
          {"created_at", iso8601_ms(c.created_ns)},
          {"updated_at", iso8601_ms(c.updated_ns)}};
}

HttpResponse answer(int status, const json& j) { return json_response(status, dump_json(j)); }

bool fail(ParamError* error, std::string field, std::string message) {
  *error = ParamError{std::move(field), std::move(message)};
  return false;
}

}  // namespace

bool parse_bootstrap_body(std::string_view text, bool create, BootstrapBody* out,
                          ParamError* error) {
  const json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return fail(error, "body", "the body is not valid JSON");
  if (!body.is_object()) return fail(error, "body", "the body must be a JSON object");
  static constexpr std::string_view kCreate[] = {"external_id", "external_key", "org",    "name",
                                                 "thing_id",    "channels",     "content"};
  static constexpr std::string_view kUpdate[] = {"name", "channels", "content", "thing_id"};
  const std::span<const std::string_view> known = create
                                                      ? std::span<const std::string_view>(kCreate)
                                                      : std::span<const std::string_view>(kUpdate);
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    if (!create && key == "state") {
      return fail(error, key,
                  "state: change it with PUT /api/v1/bootstrap/{external_id}/state "
                  "{\"state\": \"on\" | \"off\"}");
    }
    return fail(error, key,
                fmt::format("{}: {} (known: {})", key,
                            create ? "unknown key" : "unknown key, or one that cannot change",
                            fmt::join(known, ", ")));
  }
  for (auto [key, field] :
       {std::pair{"external_id", &out->external_id}, std::pair{"external_key", &out->external_key},
        std::pair{"org", &out->org}, std::pair{"name", &out->name},
        std::pair{"thing_id", &out->thing_id}}) {
    auto it = body.find(key);
    if (it == body.end()) continue;
    if (!it->is_string()) return fail(error, key, fmt::format("{}: expected a string", key));
    *field = it->get<std::string>();
  }
  if (auto it = body.find("channels"); it != body.end()) {
    if (!it->is_array()) {
      return fail(error, "channels", "channels: expected a list of channel ids");
    }
    out->channels.emplace();
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string at = fmt::format("channels[{}]", i);
      if (!(*it)[i].is_string()) return fail(error, at, at + ": expected a channel id (a string)");
      out->channels->push_back((*it)[i].get<std::string>());
    }
  }
  if (auto it = body.find("content"); it != body.end()) out->content = *it;
  if (create && !out->external_id) {
    return fail(error, "external_id",
                "external_id: missing; give the device's own id (a MAC address, a serial number)");
  }
  return true;
}

namespace {

HttpResponse bad(const ParamError& e) { return error_response(400, e.message, e.field); }

// ?offset&limit&name&org.
bool list_query(const HttpRequest& r, platform::ListQuery* q, ParamError* error) {
  if (!check_known_params(r, {"offset", "limit", "name", "org"}, error)) return false;
  uint64_t n = 0;
  if (auto it = r.query.find("offset"); it != r.query.end()) {
    if (!parse_count_param("offset", it->second, 0, UINT32_MAX, &n, error)) return false;
    q->offset = n;
  }
  if (auto it = r.query.find("limit"); it != r.query.end()) {
    if (!parse_count_param("limit", it->second, 1, platform::kMaxPageLimit, &n, error)) {
      return false;
    }
    q->limit = n;
  }
  if (auto it = r.query.find("name"); it != r.query.end()) q->name = it->second;
  if (auto it = r.query.find("org"); it != r.query.end()) q->org = it->second;
  return true;
}

// A device's bootstrap, plain or sealed.
HttpResponse device_bootstrap(platform::BootstrapStore& store, const HttpRequest& r,
                              const std::string& external_id, bool sealed) {
  if (sealed && !store.encrypts()) {
    return error_response(404,
                          "encrypted bootstrap is off: no [api] bootstrap_key_file is configured "
                          "on this gateway; use GET /things/bootstrap/{external_id}, or ask the "
                          "operator to configure a key");
  }
  Result<platform::BootstrapAnswer> a = store.bootstrap(external_id, thing_key(r));
  if (!a.ok()) {
    if (a.status().code() == Code::kUnauthenticated) {
      return thing_unauthorized(a.status().message());
    }
    return platform_error(a.status());
  }
  std::string text = dump_json(platform::answer_json(*a));
  HttpResponse out;
  if (sealed) {
    Result<std::string> body = store.seal(text);
    if (!body.ok()) return error_response(500, body.status().message());
    out = HttpResponse{200, "application/octet-stream", std::move(body).value(), {}};
  } else {
    out = json_response(200, std::move(text));
  }
  out.headers.emplace_back("Cache-Control", "no-store");  // it holds a thing key
  return out;
}

}  // namespace

void register_bootstrap_routes(Router& router, platform::BootstrapStore& store) {
  using auth::Action;
  platform::BootstrapStore* s = &store;

  router.add("GET", "/api/v1/bootstrap", [s](const HttpRequest& r, const PathParams&) {
    platform::ListQuery q;
    ParamError error;
    if (!list_query(r, &q, &error)) return bad(error);
    auto l = s->list(scope_of(r), q);
    if (!l.ok()) return platform_error(l.status());
    json items = json::array();
    for (const BootstrapConfig& c : l->items) items.push_back(config_json(c));
    return answer(200, {{"total", l->total},
                        {"offset", q.offset},
                        {"limit", q.limit},
                        {"configs", std::move(items)}});
  });
  router.add(
      "POST", "/api/v1/bootstrap",
      [s](const HttpRequest& r, const PathParams&) {
        BootstrapBody b;
        ParamError error;
        if (!parse_bootstrap_body(r.body, /*create=*/true, &b, &error)) return bad(error);
        platform::NewBootstrap n;
        n.external_id = b.external_id.value_or("");
        n.external_key = b.external_key.value_or("");
        n.org = b.org.value_or("");
        n.name = b.name.value_or("");
        n.thing_id = b.thing_id.value_or("");
        n.channels = b.channels.value_or(std::vector<std::string>{});
        n.content = b.content.value_or(nullptr);
        auto made = s->create(scope_of(r), std::move(n));
        if (!made.ok()) return platform_error(made.status());
        json j = config_json(made->config);
        if (made->external_key) j["external_key"] = *made->external_key;
        return answer(201, j);
      },
      Action::kManageDevices);
  router.add("GET", "/api/v1/bootstrap/{external_id}",
             [s](const HttpRequest& r, const PathParams& p) {
               auto c = s->get(scope_of(r), p.at("external_id"));
               return c.ok() ? answer(200, config_json(*c)) : platform_error(c.status());
             });
  router.add(
      "PUT", "/api/v1/bootstrap/{external_id}",
      [s](const HttpRequest& r, const PathParams& p) {
        BootstrapBody b;
        ParamError error;
        if (!parse_bootstrap_body(r.body, /*create=*/false, &b, &error)) return bad(error);
        platform::BootstrapUpdate u{b.name, b.channels, b.content, b.thing_id};
        auto c = s->update(scope_of(r), p.at("external_id"), std::move(u));
        return c.ok() ? answer(200, config_json(*c)) : platform_error(c.status());
      },
      Action::kManageDevices);
  router.add(
      "DELETE", "/api/v1/bootstrap/{external_id}",
      [s](const HttpRequest& r, const PathParams& p) {
        const Status st = s->remove(scope_of(r), p.at("external_id"));
        return st.ok() ? answer(200, {{"removed", p.at("external_id")}}) : platform_error(st);
      },
      Action::kManageDevices);
  router.add(
      "PUT", "/api/v1/bootstrap/{external_id}/state",
      [s](const HttpRequest& r, const PathParams& p) {
        const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
        const bool valid = body.is_object() && body.size() == 1 && body.contains("state") &&
                           (body["state"] == "on" || body["state"] == "off");
        if (!valid)
          return error_response(400, "state: the body is {\"state\": \"on\" | \"off\"}", "state");
        auto c = s->set_state(scope_of(r), p.at("external_id"), body["state"] == "on");
        return c.ok() ? answer(200, config_json(*c)) : platform_error(c.status());
      },
      Action::kManageDevices);

  router.add_public("GET", "/things/bootstrap/{external_id}",
                    [s](const HttpRequest& r, const PathParams& p) {
                      return device_bootstrap(*s, r, p.at("external_id"), /*sealed=*/false);
                    });
  router.add_public("GET", "/things/bootstrap/secure/{external_id}",
                    [s](const HttpRequest& r, const PathParams& p) {
                      return device_bootstrap(*s, r, p.at("external_id"), /*sealed=*/true);
                    });
}

}  // namespace sluice::api
