// The device platform's provisioning routes (see platform_api.h).
#include "api/platform_api.h"

#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "api/query_params.h"
#include "core/clock.h"
#include "platform/platform_source.h"

namespace sluice::api {
namespace {

using nlohmann::json;
using platform::Scope;

json time_json(int64_t ns) { return iso8601_ms(ns); }

json org_json(const platform::Org& o) {
  return {{"id", o.id},
          {"name", o.name},
          {"metadata", o.metadata},
          {"created_at", time_json(o.created_ns)},
          {"updated_at", time_json(o.updated_ns)}};
}
json thing_json(const platform::Thing& t) {
  return {{"id", t.id},
          {"org", t.org},
          {"name", t.name},
          {"metadata", t.metadata},
          {"key_hint", t.key_hint},
          {"created_at", time_json(t.created_ns)},
          {"updated_at", time_json(t.updated_ns)},
          {"key_rotated_at", time_json(t.key_rotated_ns)}};
}
json issued_json(const platform::IssuedThing& t) {
  json j = thing_json(t.thing);
  j["key"] = t.key;
  return j;
}
json channel_json(const platform::Channel& c) {
  return {{"id", c.id},
          {"org", c.org},
          {"name", c.name},
          {"metadata", c.metadata},
          {"created_at", time_json(c.created_ns)},
          {"updated_at", time_json(c.updated_ns)}};
}

HttpResponse ok_json(int status, const json& j) {
  return json_response(status, j.dump(-1, ' ', false, json::error_handler_t::replace));
}

// The body as a JSON object, or the 400 answer.
bool body_object(const HttpRequest& r, json* out, HttpResponse* error) {
  *out = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    *error = error_response(400, "the body is not valid JSON");
    return false;
  }
  if (!out->is_object()) {
    *error = error_response(400, "the body must be a JSON object");
    return false;
  }
  return true;
}

// An optional string member; false with *error if it is there and not a string.
bool optional_string(const json& o, const char* key, const std::string& at,
                     std::optional<std::string>* out, HttpResponse* error) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_string()) {
    *error = error_response(400, fmt::format("{}{}: expected a string", at, key), at + key);
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

// Checks that `o` has only `known` keys.
bool only_keys(const json& o, std::initializer_list<std::string_view> known, const std::string& at,
               HttpResponse* error) {
  for (const auto& [k, v] : o.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      *error = error_response(
          400, fmt::format("{}{}: unknown key (known: {})", at, k, fmt::join(known, ", ")), at + k);
      return false;
    }
  }
  return true;
}

// A list query from ?offset&limit&name&org&connected.
bool list_query(const HttpRequest& r, platform::ListQuery* q, HttpResponse* error) {
  ParamError pe;
  if (!check_known_params(r, {"offset", "limit", "name", "org", "connected"}, &pe)) {
    *error = error_response(400, pe.message, pe.field);
    return false;
  }
  uint64_t n = 0;
  if (auto it = r.query.find("offset"); it != r.query.end()) {
    if (!parse_count_param("offset", it->second, 0, UINT32_MAX, &n, &pe)) {
      *error = error_response(400, pe.message, pe.field);
      return false;
    }
    q->offset = n;
  }
  if (auto it = r.query.find("limit"); it != r.query.end()) {
    if (!parse_count_param("limit", it->second, 1, platform::kMaxPageLimit, &n, &pe)) {
      *error = error_response(400, pe.message, pe.field);
      return false;
    }
    q->limit = n;
  }
  if (auto it = r.query.find("name"); it != r.query.end()) q->name = it->second;
  if (auto it = r.query.find("org"); it != r.query.end()) q->org = it->second;
  if (auto it = r.query.find("connected"); it != r.query.end()) q->connected_to = it->second;
  return true;
}

template <typename T, typename ToJson>
HttpResponse listed(const Result<platform::Listed<T>>& l, const platform::ListQuery& q,
                    const char* kind, ToJson to_json) {
  if (!l.ok()) return platform_error(l.status());
  json items = json::array();
  for (const T& x : l->items) items.push_back(to_json(x));
  return ok_json(
      200,
      {{"total", l->total}, {"offset", q.offset}, {"limit", q.limit}, {kind, std::move(items)}});
}

// The entries of a create: one object, or {"<kind>": [...]}. *bulk says which.
bool entries(const json& body, const char* kind, std::vector<json>* out, bool* bulk,
             HttpResponse* error) {
  auto it = body.find(kind);
  *bulk = it != body.end();
  if (!*bulk) {
    out->push_back(body);
    return true;
  }
  if (body.size() != 1 || !it->is_array() || it->empty()) {
    *error = error_response(
        400,
        fmt::format("{}: a bulk create is {{\"{}\": [ ... ]}} with at least one entry", kind, kind),
        kind);
    return false;
  }
  for (const json& e : *it) out->push_back(e);
  return true;
}

// One entity's common keys: name, metadata, id, org (+ key for things).
struct EntityFields {
  std::string name, id, org, key;
  json metadata = json::object();
};
bool entity_fields(const json& e, const std::string& at, bool thing, EntityFields* f,
                   HttpResponse* error) {
  if (!e.is_object()) {
    *error = error_response(
        400, fmt::format("{}: expected a JSON object", at.empty() ? "body" : at), at);
    return false;
  }
  const std::string p = at.empty() ? "" : at + ".";
  if (thing ? !only_keys(e, {"name", "metadata", "id", "org", "key"}, p, error)
            : !only_keys(e, {"name", "metadata", "id", "org"}, p, error)) {
    return false;
  }
  std::optional<std::string> s;
  if (!optional_string(e, "name", p, &s, error)) return false;
  f->name = s.value_or("");
  s.reset();
  if (!optional_string(e, "id", p, &s, error)) return false;
  f->id = s.value_or("");
  s.reset();
  if (!optional_string(e, "org", p, &s, error)) return false;
  f->org = s.value_or("");
  s.reset();
  if (thing) {
    if (!optional_string(e, "key", p, &s, error)) return false;
    f->key = s.value_or("");
  }
  if (auto m = e.find("metadata"); m != e.end()) f->metadata = *m;
  return true;
}

// PUT's name and metadata (both optional; nothing else).
bool update_fields(const HttpRequest& r, std::optional<std::string>* name,
                   std::optional<json>* metadata, HttpResponse* error) {
  json body;
  if (!body_object(r, &body, error)) return false;
  if (!only_keys(body, {"name", "metadata", "id", "org"}, "", error)) return false;
  if (!optional_string(body, "name", "", name, error)) return false;
  if (auto m = body.find("metadata"); m != body.end()) *metadata = *m;
  return true;
}

// {"thing_ids": [...], "channel_ids": [...]}.
bool connection_body(const HttpRequest& r, std::vector<std::string>* things,
                     std::vector<std::string>* channels, HttpResponse* error) {
  json body;
  if (!body_object(r, &body, error)) return false;
  if (!only_keys(body, {"thing_ids", "channel_ids"}, "", error)) return false;
  for (auto [key, out] : {std::pair{"thing_ids", things}, std::pair{"channel_ids", channels}}) {
    auto it = body.find(key);
    if (it == body.end() || !it->is_array() || it->empty()) {
      *error =
          error_response(400, fmt::format("{}: required, a list of at least one id", key), key);
      return false;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        *error = error_response(400, fmt::format("{}[{}]: expected a string", key, i),
                                fmt::format("{}[{}]", key, i));
        return false;
      }
      out->push_back((*it)[i].get<std::string>());
    }
  }
  return true;
}

}  // namespace

Scope scope_of(const HttpRequest& request) {
  const std::string org = request.header("x-sluice-org");
  return org.empty() ? Scope::everything() : Scope::of(org);
}

int platform_http_status(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition: return 409;
    default: return 500;
  }
}

HttpResponse platform_error(const Status& s) {
  const std::string& m = s.message();
  std::string field;
  const size_t colon = m.find(": ");
  if (colon != std::string::npos && colon > 0 &&
      std::all_of(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' ||
               c == ']';
      })) {
    field = m.substr(0, colon);
  }
  return error_response(platform_http_status(s), m, field);
}

void register_platform_routes(Router& router, platform::Registry& registry) {
  using auth::Action;
  platform::Registry* reg = &registry;

  // ---- Organizations ----
  router.add("GET", "/api/v1/orgs", [reg](const HttpRequest& r, const PathParams&) {
    platform::ListQuery q;
    HttpResponse error;
    if (!list_query(r, &q, &error)) return error;
    return listed(reg->list_orgs(scope_of(r), q), q, "orgs", org_json);
  });
  router.add(
      "POST", "/api/v1/orgs",
      [reg](const HttpRequest& r, const PathParams&) {
        json body;
        HttpResponse error;
        if (!body_object(r, &body, &error)) return error;
        if (!only_keys(body, {"name", "metadata", "id"}, "", &error)) return error;
        std::optional<std::string> name, id;
        if (!optional_string(body, "name", "", &name, &error) ||
            !optional_string(body, "id", "", &id, &error)) {
          return error;
        }
        json metadata = body.value("metadata", json::object());
        auto org = reg->create_org(scope_of(r), name.value_or(""), metadata, id.value_or(""));
        if (!org.ok()) return platform_error(org.status());
        return ok_json(201, org_json(*org));
      },
      Action::kManageUsers);
  router.add("GET", "/api/v1/orgs/{id}", [reg](const HttpRequest& r, const PathParams& p) {
    auto org = reg->get_org(scope_of(r), p.at("id"));
    return org.ok() ? ok_json(200, org_json(*org)) : platform_error(org.status());
  });
  router.add(
      "PUT", "/api/v1/orgs/{id}",
      [reg](const HttpRequest& r, const PathParams& p) {
        std::optional<std::string> name;
        std::optional<json> metadata;
        HttpResponse error;
        if (!update_fields(r, &name, &metadata, &error)) return error;
        auto org = reg->update_org(scope_of(r), p.at("id"), name, metadata);
        return org.ok() ? ok_json(200, org_json(*org)) : platform_error(org.status());
      },
      Action::kManageUsers);
  router.add(
      "DELETE", "/api/v1/orgs/{id}",
      [reg](const HttpRequest& r, const PathParams& p) {
        const Status st = reg->remove_org(scope_of(r), p.at("id"));
        return st.ok() ? ok_json(200, {{"removed", p.at("id")}}) : platform_error(st);
      },
      Action::kManageUsers);

  // ---- Things ----
  router.add("GET", "/api/v1/things", [reg](const HttpRequest& r, const PathParams&) {
    platform::ListQuery q;
    HttpResponse error;
    if (!list_query(r, &q, &error)) return error;
    return listed(reg->list_things(scope_of(r), q), q, "things", thing_json);
  });
  router.add(
      "POST", "/api/v1/things",
      [reg](const HttpRequest& r, const PathParams&) {
        json body;
        HttpResponse error;
        if (!body_object(r, &body, &error)) return error;
        std::vector<json> items;
        bool bulk = false;
        if (!entries(body, "things", &items, &bulk, &error)) return error;
        std::vector<platform::NewThing> things;
        for (size_t i = 0; i < items.size(); ++i) {
          EntityFields f;
          if (!entity_fields(items[i], bulk ? fmt::format("things[{}]", i) : "", true, &f,
                             &error)) {
            return error;
          }
          things.push_back(platform::NewThing{f.org, f.name, f.metadata, f.id, f.key});
        }
        auto made = reg->create_things(scope_of(r), std::move(things));
        if (!made.ok()) return platform_error(made.status());
        if (!bulk) return ok_json(201, issued_json((*made)[0]));
        json out = json::array();
        for (const platform::IssuedThing& t : *made) out.push_back(issued_json(t));
        return ok_json(201, {{"things", std::move(out)}});
      },
      Action::kManageDevices);
  router.add("GET", "/api/v1/things/{id}", [reg](const HttpRequest& r, const PathParams& p) {
    auto t = reg->get_thing(scope_of(r), p.at("id"));
    if (!t.ok()) return platform_error(t.status());
    json j = thing_json(*t);
    j["channels"] = reg->channels_of(t->id);
    return ok_json(200, j);
  });
  router.add(
      "PUT", "/api/v1/things/{id}",
      [reg](const HttpRequest& r, const PathParams& p) {
        std::optional<std::string> name;
        std::optional<json> metadata;
        HttpResponse error;
        if (!update_fields(r, &name, &metadata, &error)) return error;
        auto t = reg->update_thing(scope_of(r), p.at("id"), name, metadata);
        return t.ok() ? ok_json(200, thing_json(*t)) : platform_error(t.status());
      },
      Action::kManageDevices);
  router.add(
      "DELETE", "/api/v1/things/{id}",
      [reg](const HttpRequest& r, const PathParams& p) {
        const Status st = reg->remove_thing(scope_of(r), p.at("id"));
        return st.ok() ? ok_json(200, {{"removed", p.at("id")}}) : platform_error(st);
      },
      Action::kManageDevices);
  router.add(
      "POST", "/api/v1/things/{id}/key",
      [reg](const HttpRequest& r, const PathParams& p) {
        auto t = reg->rotate_key(scope_of(r), p.at("id"));
        return t.ok() ? ok_json(200, issued_json(*t)) : platform_error(t.status());
      },
      Action::kManageDevices);

  // ---- Channels ----
  router.add("GET", "/api/v1/channels", [reg](const HttpRequest& r, const PathParams&) {
    platform::ListQuery q;
    HttpResponse error;
    if (!list_query(r, &q, &error)) return error;
    return listed(reg->list_channels(scope_of(r), q), q, "channels", channel_json);
  });
  router.add(
      "POST", "/api/v1/channels",
      [reg](const HttpRequest& r, const PathParams&) {
        json body;
        HttpResponse error;
        if (!body_object(r, &body, &error)) return error;
        std::vector<json> items;
        bool bulk = false;
        if (!entries(body, "channels", &items, &bulk, &error)) return error;
        std::vector<platform::NewChannel> channels;
        for (size_t i = 0; i < items.size(); ++i) {
          EntityFields f;
          if (!entity_fields(items[i], bulk ? fmt::format("channels[{}]", i) : "", false, &f,
                             &error)) {
            return error;
          }
          channels.push_back(platform::NewChannel{f.org, f.name, f.metadata, f.id});
        }
        auto made = reg->create_channels(scope_of(r), std::move(channels));
        if (!made.ok()) return platform_error(made.status());
        if (!bulk) return ok_json(201, channel_json((*made)[0]));
        json out = json::array();
        for (const platform::Channel& c : *made) out.push_back(channel_json(c));
        return ok_json(201, {{"channels", std::move(out)}});
      },
      Action::kManageDevices);
  router.add("GET", "/api/v1/channels/{id}", [reg](const HttpRequest& r, const PathParams& p) {
    auto c = reg->get_channel(scope_of(r), p.at("id"));
    return c.ok() ? ok_json(200, channel_json(*c)) : platform_error(c.status());
  });
  router.add(
      "PUT", "/api/v1/channels/{id}",
      [reg](const HttpRequest& r, const PathParams& p) {
        std::optional<std::string> name;
        std::optional<json> metadata;
        HttpResponse error;
        if (!update_fields(r, &name, &metadata, &error)) return error;
        auto c = reg->update_channel(scope_of(r), p.at("id"), name, metadata);
        return c.ok() ? ok_json(200, channel_json(*c)) : platform_error(c.status());
      },
      Action::kManageDevices);
  router.add(
      "DELETE", "/api/v1/channels/{id}",
      [reg](const HttpRequest& r, const PathParams& p) {
        const Status st = reg->remove_channel(scope_of(r), p.at("id"));
        return st.ok() ? ok_json(200, {{"removed", p.at("id")}}) : platform_error(st);
      },
      Action::kManageDevices);

  // ---- Connections ----
  for (const bool connect : {true, false}) {
    router.add(
        "POST", connect ? "/api/v1/connect" : "/api/v1/disconnect",
        [reg, connect](const HttpRequest& r, const PathParams&) {
          std::vector<std::string> things, channels;
          HttpResponse error;
          if (!connection_body(r, &things, &channels, &error)) return error;
          const Status st = connect ? reg->connect(scope_of(r), things, channels)
                                    : reg->disconnect(scope_of(r), things, channels);
          if (!st.ok()) return platform_error(st);
          return ok_json(
              200, {{connect ? "connected" : "disconnected", things.size() * channels.size()}});
        },
        Action::kManageDevices);
  }
}

std::string thing_key(const HttpRequest& r) {
  const std::string h = r.header("authorization");
  constexpr std::string_view kScheme = "thing ";
  if (h.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return {};
  }
  size_t start = kScheme.size();
  while (start < h.size() && h[start] == ' ') ++start;
  return h.substr(start);
}

HttpResponse thing_unauthorized(std::string_view message) {
  HttpResponse r = error_response(401, message);
  r.headers.emplace_back("WWW-Authenticate", "Thing realm=\"sluice\"");
  return r;
}

namespace {

HttpResponse post_message(runtime::Runtime& rt, platform::Registry& reg, const HttpRequest& r,
                          const std::string& channel, const std::string& subtopic) {
  const std::vector<std::string> sources = rt.sources_of_type(platform::kPlatformSourceType);
  if (sources.empty()) {
    return error_response(503,
                          "the HTTP adapter is off: no source of type 'platform' is configured "
                          "(add a [[sources]] table with type = \"platform\")");
  }
  HttpResponse answer;
  const Status st = rt.with_source_shared(
      sources.front(), [&](runtime::Source& s, runtime::SourceContext& ctx) -> Status {
        auto& source = static_cast<platform::PlatformSource&>(s);
        const std::string key = thing_key(r);
        if (key.empty()) {
          source.refuse("unauthenticated");
          answer = thing_unauthorized("send the thing's key as \"Authorization: Thing <key>\"");
          return Status::ok_status();
        }
        Result<platform::ThingIdentity> who = reg.authenticate(key);
        if (!who.ok()) {
          source.refuse("unauthenticated");
          answer = thing_unauthorized(who.status().message());
          return Status::ok_status();
        }
        const auto info = reg.channel_info(channel);
        if (!info || !reg.connected(who->id, channel)) {
          source.refuse(info ? "not_connected" : "unknown_channel");
          answer = error_response(
              403, fmt::format("thing '{}' is not connected to channel '{}'", who->id, channel));
          return Status::ok_status();
        }
        if (r.body.size() > source.options().max_message_bytes) {
          source.refuse("too_large");
          answer =
              error_response(413, fmt::format("a message of {} bytes is over the limit of {}",
                                              r.body.size(), source.options().max_message_bytes));
          return Status::ok_status();
        }
        if (Status sub = platform::check_subtopic(subtopic); !sub.ok()) {
          source.refuse("subtopic");
          answer = error_response(400, sub.message(), "subtopic");
          return Status::ok_status();
        }
        platform::Message m;
        m.channel = channel;
        m.channel_name = info->second;
        m.org = info->first;
        m.subtopic = subtopic;
        m.publisher = who->id;
        m.protocol = "http";
        const std::string content_type = r.header("content-type");
        m.content_type = content_type;
        m.payload = r.body;
        m.receive_time = ctx.clock().now();
        Result<size_t> n = source.accept(ctx, m);
        if (!n.ok()) {
          const Code c = n.status().code();
          const int status = c == Code::kInvalidArgument                            ? 400
                             : c == Code::kNoSpace || c == Code::kResourceExhausted ? 507
                                                                                    : 503;
          answer = error_response(status, n.status().message());
          return Status::ok_status();
        }
        answer = ok_json(202, {{"samples", *n}});
        return Status::ok_status();
      });
  if (!st.ok()) return error_response(503, st.message());
  return answer;
}

}  // namespace

void register_platform_adapter_routes(Router& router, runtime::Runtime& runtime,
                                      platform::Registry& registry) {
  runtime::Runtime* rt = &runtime;
  platform::Registry* reg = &registry;
  router.add_public("POST", "/channels/{id}/messages",
                    [rt, reg](const HttpRequest& r, const PathParams& p) {
                      return post_message(*rt, *reg, r, p.at("id"), "");
                    });
  router.add_public("POST", "/channels/{id}/messages/{subtopic...}",
                    [rt, reg](const HttpRequest& r, const PathParams& p) {
                      return post_message(*rt, *reg, r, p.at("id"), p.at("subtopic"));
                    });
}

}  // namespace sluice::api
