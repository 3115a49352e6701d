// The API's routes (see api.h).
#include "api/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <iterator>
#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/bootstrap_api.h"
#include "api/control_api.h"
#include "api/edge_api.h"
#include "api/openapi.h"
#include "api/platform_api.h"
#include "api/query_params.h"
#include "api/series_api.h"
#include "api/services_api.h"
#include "api/sessions_api.h"
#include "api/static_files.h"
#include "api/write_api.h"

namespace sluice::api {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int status_of(const Status& st) {
  switch (st.code()) {
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kFailedPrecondition: return 409;
    case Code::kResourceExhausted: return 429;
    case Code::kUnavailable: return 503;
    default: return 500;
  }
}

// A metric name's label value, escaped as the text format requires.
std::string label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// A histogram in the text format: cumulative buckets with le labels, then _sum and _count.
void append_histogram(std::string& out, std::string_view name,
                      const LatencyHistogram::Snapshot& h) {
  for (size_t i = 0; i < LatencyHistogram::kBoundsNs.size(); ++i) {
    out += fmt::format("{}_bucket{{le=\"{:g}\"}} {}\n", name, LatencyHistogram::kBoundsNs[i] / 1e9,
                       h.cumulative[i]);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, h.count);
  out += fmt::format("{}_sum {:.9f}\n{}_count {}\n", name, h.sum_ns / 1e9, name, h.count);
}

}  // namespace

Api::Api(runtime::Runtime& runtime, ApiOptions options) : runtime_(runtime), options_(options) {
  router_.add_public("GET", "/healthz", [](const HttpRequest&, const PathParams&) {
    return json_response(200, R"({"status":"ok"})");
  });
  router_.add_public("GET", "/readyz",
                     [this](const HttpRequest&, const PathParams&) { return ready(); });
  const RouteHandler metrics_route = [this](const HttpRequest&, const PathParams&) {
    return metrics();
  };
  if (options_.metrics_public) {
    router_.add_public("GET", "/metrics", metrics_route);
  } else {
    router_.add("GET", "/metrics", metrics_route);
  }
  add_auth_routes();
  register_service_routes(router_, runtime_);
  register_openapi_route(router_);
  router_.add("POST", "/api/v1/sinks/{name}/upload",
              [this](const HttpRequest&, const PathParams& p) { return upload(p.at("name")); });
  register_session_routes(router_, runtime_);
  register_series_routes(router_, runtime_);
  register_write_routes(router_, runtime_);
  register_control_routes(router_, runtime_, options_.control);
  register_edge_routes(router_, options_.control);
  if (options_.platform != nullptr) {
    register_platform_routes(router_, *options_.platform);
    register_platform_adapter_routes(router_, runtime_, *options_.platform);
  }
  if (options_.bootstrap != nullptr) register_bootstrap_routes(router_, *options_.bootstrap);
  register_static_routes(router_, default_web_dir());  // the web UI at /, after every route
}

namespace {

// The token of a request: "Authorization: Bearer <token>", or the web UI's sluice_token cookie.
std::string request_token(const HttpRequest& request) {
  const std::string authorization = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return authorization.substr(kBearer.size());
  }
  const std::string cookies = request.header("cookie");
  constexpr std::string_view kCookie = "sluice_token=";
  for (size_t pos = 0; pos < cookies.size();) {
    while (pos < cookies.size() && (cookies[pos] == ' ' || cookies[pos] == ';')) ++pos;
    const size_t end = std::min(cookies.find(';', pos), cookies.size());
    const std::string_view c = std::string_view(cookies).substr(pos, end - pos);
    if (c.starts_with(kCookie)) return std::string(c.substr(kCookie.size()));
    pos = end;
  }
  return {};
}

HttpResponse unauthorized(std::string_view message) {
  HttpResponse r = error_response(401, message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
  return r;
}

// The client's address without the port, for the rate limiter and the audit log.
std::string client_address(const HttpRequest& request) {
  const size_t colon = request.client.rfind(':');
  return colon == std::string::npos ? request.client : request.client.substr(0, colon);
}

// A control request's body is kept in its audit entry up to this size.
constexpr size_t kMaxAuditedBody = 4096;

std::string audit_action(const HttpRequest& request) { return request.method + " " + request.path; }

// What a member of an organization other than the platform's may reach: its own account, its
// organization's devices, and its organization's services and series (each route scopes them).
// The rest (rules, control, sessions, users, the audit log ...) is the plant's, the platform's.
bool member_route(std::string_view path) {
  static constexpr std::string_view kPrefixes[] = {
      "/api/v1/me",       "/api/v1/logout",  "/api/v1/orgs",       "/api/v1/things",
      "/api/v1/channels", "/api/v1/connect", "/api/v1/disconnect", "/api/v1/bootstrap",
      "/api/v1/services", "/api/v1/series"};
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes), [&](std::string_view p) {
    return path == p || (path.starts_with(p) && path[p.size()] == '/');
  });
}

}  // namespace

HttpResponse Api::handle(const HttpRequest& request) const {
  Router::Match m = router_.match(request);
  if (m.route == nullptr) return m.error;
  if (!m.route->action || options_.auth == nullptr) {
    // Who the caller is comes from the token only, never from the client's own headers.
    HttpRequest anonymous = request;
    anonymous.headers.erase("x-sluice-user");
    anonymous.headers.erase("x-sluice-role");
    anonymous.headers.erase("x-sluice-org");
    return m.route->handler(anonymous, m.params);
  }
  const std::string token = request_token(request);
  if (token.empty()) {
    return unauthorized(
        "log in first: POST /api/v1/login with {\"user\", \"password\"}, then send the token "
        "as \"Authorization: Bearer <token>\"; scripts use an API token the same way");
  }
  Result<auth::Principal> who = authenticate(token);
  if (!who.ok()) {
    if (who.status().code() == Code::kIoError || who.status().code() == Code::kInternal) {
      return error_response(500, who.status().message());
    }
    return unauthorized(who.status().message());
  }
  const auth::Role need = auth::required_role(*m.route->action);
  const bool changes = request.method != "GET" && request.method != "HEAD";
  auth::AuditEntry entry;
  entry.user = who->user;
  entry.address = client_address(request);
  entry.action = audit_action(request);
  entry.target = request.path;
  if (!auth::allows(who->role, need)) {
    if (changes) {
      entry.outcome = auth::AuditOutcome::kDenied;
      (void)options_.auth->audit().record(entry);
    }
    return error_response(403, fmt::format("user '{}' is {}; this needs the {} role", who->user,
                                           auth::role_name(who->role), auth::role_name(need)));
  }
  const auth::Action action = *m.route->action;
  if (who->org != auth::kPlatformOrgId &&
      (action == auth::Action::kManageUsers || action == auth::Action::kManageTokens ||
       action == auth::Action::kChangeConfig)) {
    if (changes) {
      entry.outcome = auth::AuditOutcome::kDenied;
      (void)options_.auth->audit().record(entry);
    }
    return error_response(403, fmt::format("user '{}' belongs to organization '{}'; only the "
                                           "platform organization's admins do this",
                                           who->user, who->org));
  }
  if (who->org != auth::kPlatformOrgId && !member_route(request.path)) {
    return error_response(
        403, fmt::format("user '{}' belongs to organization '{}': its members reach its devices "
                         "(things, channels, bootstrap), services and series only",
                         who->user, who->org));
  }
  HttpRequest with_user = request;
  with_user.headers["x-sluice-user"] = who->user;  // for handlers that act on the caller
  with_user.headers["x-sluice-role"] = auth::role_name(who->role);
  with_user.headers["x-sluice-org"] = who->org;  // the organization the caller acts within
  HttpResponse response = m.route->handler(with_user, m.params);
  if (changes) {
    entry.outcome = response.status < 400 ? auth::AuditOutcome::kOk : auth::AuditOutcome::kFailed;
    json details = {{"status", response.status}};
    if (*m.route->action == auth::Action::kControlEquipment) {
      // Who wrote what to the equipment, and what the device answered.
      details["request"] = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
      if (details["request"].is_discarded() || request.body.size() > kMaxAuditedBody) {
        details["request"] = request.body.substr(0, kMaxAuditedBody);
      }
      if (response.status >= 400) {
        const json answer = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
        if (answer.is_object() && answer.contains("error")) details["error"] = answer["error"];
      }
    }
    entry.details = dump(details);
    (void)options_.auth->audit().record(entry);
  }
  return response;
}

namespace {

constexpr size_t kMaxLiveSeries = 100;
// At most this many samples in one message: as many as a subscription's queue holds, so that
// one message per poll carries everything queued since the previous one.
constexpr size_t kMaxLiveMessageSamples = runtime::LiveTap::kDefaultCapacity;

// Every sample of the chosen series as it is ingested, from the runtime's live tap. The first
// message also holds the newest sample of each chosen series known when the feed opened (from
// the last-value cache), so that a chart has a point at once. A message says how many samples
// were dropped since the previous one when the client's queue overflowed.
class LiveFeed final : public WebSocketFeed {
 public:
  LiveFeed(runtime::Runtime& runtime, const std::vector<std::string>& series) {
    runtime::LiveFilter filter;
    filter.series.insert(series.begin(), series.end());
    // Subscribed before the last values are read, so that no sample falls between the two;
    // samples ingested meanwhile may be in both (see skip_sent_from_cache()).
    sub_ = runtime.live_tap().subscribe(std::move(filter), kMaxLiveMessageSamples);
    for (const runtime::LastValue& v : runtime.last_values().all()) {
      if (!sub_->filter().matches(v.series)) continue;
      initial_.emplace(key(v.stream, v.series),
                       runtime::LiveSample{v.stream, Sample{v.series, v.ts, v.value, v.quality}});
    }
  }

  std::vector<std::string> poll() override {
    std::vector<runtime::LiveSample> drained;
    sub_->drain(drained, kMaxLiveMessageSamples);
    json samples = json::array();
    if (first_) {
      first_ = false;
      for (const auto& [k, s] : initial_) samples.push_back(sample_json(s));
      skip_sent_from_cache(drained);
      initial_.clear();
    }
    for (const runtime::LiveSample& s : drained) samples.push_back(sample_json(s));
    json message = {{"samples", std::move(samples)}};
    const uint64_t dropped = sub_->dropped();
    if (dropped > reported_dropped_) {
      message["dropped"] = dropped - reported_dropped_;
      reported_dropped_ = dropped;
    }
    if (message["samples"].empty() && !message.contains("dropped")) return {};
    return {dump(message)};
  }

 private:
  static std::string key(std::string_view stream, std::string_view series) {
    std::string k(stream);
    k += '\n';
    k += series;
    return k;
  }
  static json sample_json(const runtime::LiveSample& s) {
    return {{"series", s.sample.series},           {"stream", s.stream},
            {"ts", iso8601_ms(s.sample.ts)},       {"ts_ms", s.sample.ts / 1'000'000},
            {"value", value_json(s.sample.value)}, {"quality", s.sample.quality}};
  }
  // A sample ingested between the subscription and the cache read is both in the first message
  // (as the cache's newest) and queued, after the samples of its series ingested just before it.
  // Drops, for each series sent from the cache, the queued samples up to and including the one
  // identical to what was sent: the client already has the newest of them, and what follows
  // stays in order. Everything ingested before the cache read is queued by the first poll.
  void skip_sent_from_cache(std::vector<runtime::LiveSample>& drained) {
    std::map<std::string, std::vector<size_t>> pending;  // by stream and series: drained indices
    std::vector<bool> drop(drained.size(), false);
    for (size_t i = 0; i < drained.size(); ++i) {
      const std::string k = key(drained[i].stream, drained[i].sample.series);
      auto it = initial_.find(k);
      if (it == initial_.end()) continue;
      std::vector<size_t>& before = pending[k];
      before.push_back(i);
      if (!identical(it->second.sample, drained[i].sample)) continue;
      for (const size_t j : before) drop[j] = true;
      pending.erase(k);
      initial_.erase(it);
    }
    size_t kept = 0;
    for (size_t i = 0; i < drained.size(); ++i) {
      if (drop[i]) continue;
      if (kept != i) drained[kept] = std::move(drained[i]);
      ++kept;
    }
    drained.resize(kept);
  }

  std::shared_ptr<runtime::LiveSubscription> sub_;
  // The server calls poll() from one strand: the members below need no lock.
  std::map<std::string, runtime::LiveSample> initial_;  // by stream and series, until sent
  bool first_ = true;
  uint64_t reported_dropped_ = 0;
};

}  // namespace

WebSocketOpen Api::open_websocket(const HttpRequest& request) const {
  if (request.path != "/api/v1/live") {
    return {nullptr, error_response(404, "no WebSocket here: " + request.path)};
  }
  if (options_.auth != nullptr) {
    std::string token = request_token(request);
    if (token.empty()) {
      if (auto it = request.query.find("token"); it != request.query.end()) token = it->second;
    }
    if (token.empty()) return {nullptr, unauthorized("log in first (token or cookie)")};
    Result<auth::Principal> who = authenticate(token);
    if (!who.ok()) return {nullptr, unauthorized(who.status().message())};
    if (who->org != auth::kPlatformOrgId) {
      // The live feed is not scoped by series yet: the platform's members only.
      return {nullptr, error_response(403, fmt::format("user '{}' belongs to organization '{}': "
                                                       "the live feed is the platform's",
                                                       who->user, who->org))};
    }
  }
  auto it = request.query.find("series");
  if (it == request.query.end() || it->second.empty()) {
    return {nullptr, error_response(400,
                                    "'series' is required: a comma-separated list of series "
                                    "names",
                                    "series")};
  }
  std::vector<std::string> series;
  for (size_t pos = 0; pos <= it->second.size();) {
    const size_t comma = std::min(it->second.find(',', pos), it->second.size());
    if (comma > pos) series.push_back(it->second.substr(pos, comma - pos));
    pos = comma + 1;
  }
  if (series.empty() || series.size() > kMaxLiveSeries) {
    return {nullptr,
            error_response(400, fmt::format("'series' must name 1 to {} series", kMaxLiveSeries),
                           "series")};
  }
  return {std::make_shared<LiveFeed>(runtime_, series), {}};
}

void Api::add_auth_routes() {
  if (options_.auth == nullptr) return;
  router_.add_public("POST", "/api/v1/login",
                     [this](const HttpRequest& r, const PathParams&) { return login(r); });
  router_.add(
      "POST", "/api/v1/logout",
      [this](const HttpRequest& r, const PathParams&) { return logout(r); }, auth::Action::kRead);
  router_.add("GET", "/api/v1/me",
              [this](const HttpRequest& r, const PathParams&) { return me(r); });
  router_.add(
      "GET", "/api/v1/users", [this](const HttpRequest&, const PathParams&) { return users(); },
      auth::Action::kManageUsers);
  router_.add(
      "POST", "/api/v1/users",
      [this](const HttpRequest& r, const PathParams&) { return add_user(r); },
      auth::Action::kManageUsers);
  router_.add(
      "DELETE", "/api/v1/users/{name}",
      [this](const HttpRequest&, const PathParams& p) { return remove_user(p.at("name")); },
      auth::Action::kManageUsers);
  router_.add(
      "POST", "/api/v1/tokens",
      [this](const HttpRequest& r, const PathParams&) { return create_token(r); },
      auth::Action::kManageTokens);
  router_.add(
      "DELETE", "/api/v1/tokens/{id}",
      [this](const HttpRequest&, const PathParams& p) { return revoke_token(p.at("id")); },
      auth::Action::kManageTokens);
  router_.add("GET", "/api/v1/audit",
              [this](const HttpRequest& r, const PathParams&) { return audit(r); });
}

namespace {

int auth_status(const Status& st) {
  switch (st.code()) {
    case Code::kResourceExhausted: return 429;
    case Code::kIoError:
    case Code::kInternal:
    case Code::kCorruption: return 500;
    case Code::kInvalidArgument: return 400;
    case Code::kAlreadyExists: return 409;
    case Code::kFailedPrecondition: return 409;
    case Code::kNotFound: return 404;
    default: return 500;
  }
}

std::string iso_time(int64_t ns) {
  if (ns == 0) return {};
  const std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

HttpResponse Api::login(const HttpRequest& request) const {
  LoginBody body;
  ParamError bad;
  if (!parse_login_body(request.body, &body, &bad)) {
    return error_response(400, bad.message, bad.field);
  }
  const std::string& user = body.user;
  const std::string address = client_address(request);
  Result<auth::IssuedToken> issued = options_.auth->login(user, body.password, address);
  auth::AuditEntry entry;
  entry.user = user;
  entry.address = address;
  entry.action = "login";
  entry.target = user;
  if (!issued.ok()) {
    entry.outcome = auth::AuditOutcome::kDenied;
    (void)options_.auth->audit().record(entry);
    const int status =
        issued.status().code() == Code::kResourceExhausted ? 429
        : issued.status().code() == Code::kIoError || issued.status().code() == Code::kInternal
            ? 500
            : 401;
    HttpResponse r = error_response(status, issued.status().message());
    if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sluice\"");
    return r;
  }
  (void)options_.auth->audit().record(entry);
  HttpResponse r = json_response(200, dump({{"token", issued->token},
                                            {"user", user},
                                            {"expires", iso_time(issued->info.expires_ns)}}));
  r.headers.emplace_back("Set-Cookie",
                         "sluice_token=" + issued->token + "; HttpOnly; SameSite=Strict; Path=/");
  return r;
}

HttpResponse Api::logout(const HttpRequest& request) const {
  Result<auth::Principal> who = options_.auth->tokens().authenticate(request_token(request));
  if (!who.ok()) return unauthorized(who.status().message());
  const Status st = options_.auth->tokens().revoke(who->token_id);
  if (!st.ok()) return error_response(auth_status(st), st.message());
  HttpResponse r = json_response(200, R"({"status":"logged out"})");
  r.headers.emplace_back("Set-Cookie", "sluice_token=; Max-Age=0; Path=/");
  return r;
}

Result<auth::Principal> Api::authenticate(const std::string& token) const {
  if (options_.oidc == nullptr || auth::looks_like_token(token)) {
    return options_.auth->tokens().authenticate(token);
  }
  Result<auth::OidcIdentity> id = options_.oidc->verify(token);
  if (!id.ok()) {
    // Every refusal is a 401 (the code tells the log what kind); never a 500.
    return Status(Code::kUnauthenticated, "single sign-on: " + id.status().message());
  }
  auth::Principal p;
  p.user = id->name;
  p.role = id->role;
  p.org = id->org;
  p.kind = auth::TokenKind::kSession;
  return p;
}

HttpResponse Api::me(const HttpRequest& request) const {
  Result<auth::Principal> who = authenticate(request_token(request));
  if (!who.ok()) return unauthorized(who.status().message());
  return json_response(200, dump({{"user", who->user},
                                  {"role", auth::role_name(who->role)},
                                  {"org", who->org},
                                  {"token_kind", auth::token_kind_name(who->kind)}}));
}

HttpResponse Api::users() const {
  Result<std::vector<auth::User>> list = options_.auth->users().list();
  if (!list.ok()) return error_response(500, list.status().message());
  json out = json::array();
  for (const auth::User& u : *list) {
    out.push_back({{"name", u.name},
                   {"role", auth::role_name(u.role)},
                   {"org", u.org},
                   {"enabled", u.enabled},
                   {"created", iso_time(u.created_ns)}});
  }
  return json_response(200, dump({{"users", out}}));
}

HttpResponse Api::add_user(const HttpRequest& request) const {
  NewUserBody body;
  ParamError bad;
  if (!parse_new_user_body(request.body, &body, &bad)) {
    return error_response(400, bad.message, bad.field);
  }
  if (options_.platform != nullptr && !options_.platform->org_exists(body.org)) {
    return error_response(404, fmt::format("no organization with id '{}'", body.org), "org");
  }
  Result<auth::User> user =
      options_.auth->users().create(body.name, body.password, body.role, body.org);
  if (!user.ok()) return error_response(auth_status(user.status()), user.status().message());
  return json_response(
      201, dump({{"name", user->name}, {"role", auth::role_name(user->role)}, {"org", user->org}}));
}

HttpResponse Api::remove_user(const std::string& name) const {
  const Status st = options_.auth->users().remove(name);
  if (!st.ok()) return error_response(auth_status(st), st.message());
  return json_response(200, dump({{"removed", name}}));
}

HttpResponse Api::create_token(const HttpRequest& request) const {
  NewTokenBody body;
  ParamError bad;
  if (!parse_new_token_body(request.body, &body, &bad)) {
    return error_response(400, bad.message, bad.field);
  }
  int64_t expires_ns = 0;
  if (body.expires_in_days) {
    expires_ns = SystemClock::instance().now() + *body.expires_in_days * 86'400'000'000'000;
  }
  Result<auth::IssuedToken> issued =
      options_.auth->tokens().create(body.user, auth::TokenKind::kApi, body.name, expires_ns);
  if (!issued.ok()) return error_response(auth_status(issued.status()), issued.status().message());
  return json_response(201, dump({{"id", issued->info.id},
                                  {"token", issued->token},
                                  {"user", body.user},
                                  {"name", body.name},
                                  {"expires", iso_time(issued->info.expires_ns)}}));
}

HttpResponse Api::revoke_token(const std::string& id) const {
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  if (ec != std::errc() || end != id.data() + id.size()) {
    return error_response(400, "a token id is a number", "id");
  }
  const Status st = options_.auth->tokens().revoke(n);
  if (!st.ok()) return error_response(auth_status(st), st.message());
  return json_response(200, dump({{"revoked", n}}));
}

HttpResponse Api::audit(const HttpRequest& request) const {
  auth::AuditFilter filter;
  if (auto it = request.query.find("user"); it != request.query.end()) filter.user = it->second;
  if (auto it = request.query.find("limit"); it != request.query.end()) {
    size_t n = 0;
    const auto [end, ec] =
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
    if (ec != std::errc() || end != it->second.data() + it->second.size() || n == 0 ||
        n > auth::kMaxAuditListLimit) {
      return error_response(
          400, fmt::format("'limit' must be a number from 1 to {}", auth::kMaxAuditListLimit),
          "limit");
    }
    filter.limit = n;
  }
  Result<std::vector<auth::AuditEntry>> entries = options_.auth->audit().list(filter);
  if (!entries.ok()) return error_response(500, entries.status().message());
  json out = json::array();
  for (const auto& e : *entries) {
    out.push_back({{"id", e.id},
                   {"time", iso_time(e.time_ns)},
                   {"user", e.user},
                   {"address", e.address},
                   {"action", e.action},
                   {"target", e.target},
                   {"details", json::parse(e.details, nullptr, false)},
                   {"outcome", auth::audit_outcome_name(e.outcome)}});
  }
  return json_response(200, dump({{"entries", out}}));
}

HttpResponse Api::ready() const {
  const auto sources = runtime_.sources();
  const auto sinks = runtime_.sinks();
  json not_running = json::array();
  for (const auto& s : sources) {
    if (s.mode == runtime::Mode::kIdle) not_running.push_back(s.name);
  }
  for (const auto& s : sinks) {
    if (s.mode == runtime::Mode::kIdle) not_running.push_back(s.name);
  }
  if (!not_running.empty()) {
    return json_response(503, dump({{"status", "starting"}, {"not_running", not_running}}));
  }
  return json_response(200, R"({"status":"ready"})");
}

HttpResponse Api::upload(const std::string& name) const {
  const Status st = runtime_.trigger_sink(name);
  if (!st.ok()) return error_response(status_of(st), st.message());
  return json_response(202, dump({{"sink", name}, {"upload", "started"}}));
}

HttpResponse Api::metrics() const {
  std::string out;
  const auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  const auto sources = runtime_.sources();
  family("sluice_source_samples_total", "counter", "Samples ingested and kept, per source.");
  for (const auto& s : sources) {
    out +=
        fmt::format("sluice_source_samples_total{{source=\"{}\"}} {}\n", label(s.name), s.samples);
  }
  family("sluice_source_dropped_samples_total", "counter",
         "Samples not kept, per source and cause.");
  for (const auto& s : sources) {
    out += fmt::format(
        "sluice_source_dropped_samples_total{{source=\"{}\",cause=\"store_full\"}} {}\n",
        label(s.name), s.dropped_samples);
    out +=
        fmt::format("sluice_source_dropped_samples_total{{source=\"{}\",cause=\"filtered\"}} {}\n",
                    label(s.name), s.filtered_samples);
  }
  family("sluice_service_up", "gauge", "1 if the service is running and healthy or warning.");
  const auto up = [](runtime::Mode m, runtime::HealthState h) {
    return m == runtime::Mode::kRunning &&
           (h == runtime::HealthState::kHealthy || h == runtime::HealthState::kWarning);
  };
  for (const auto& s : sources) {
    out += fmt::format("sluice_service_up{{service=\"{}\",kind=\"source\"}} {}\n", label(s.name),
                       up(s.mode, s.health.state) ? 1 : 0);
  }
  const auto sinks = runtime_.sinks();
  for (const auto& s : sinks) {
    out += fmt::format("sluice_service_up{{service=\"{}\",kind=\"sink\"}} {}\n", label(s.name),
                       up(s.mode, s.health.state) ? 1 : 0);
  }
  family("sluice_sink_delivered_samples_total", "counter", "Samples delivered, per sink.");
  for (const auto& s : sinks) {
    out += fmt::format("sluice_sink_delivered_samples_total{{sink=\"{}\"}} {}\n", label(s.name),
                       s.delivered);
  }
  family("sluice_sink_backlog_samples", "gauge",
         "Samples readable but not delivered (cursor lag).");
  for (const auto& s : sinks) {
    out += fmt::format("sluice_sink_backlog_samples{{sink=\"{}\"}} {}\n", label(s.name), s.backlog);
  }
  const store::StoreStats st = runtime_.store().stats();
  family("sluice_store_bytes", "gauge", "Bytes of segment files in the store.");
  out += fmt::format("sluice_store_bytes {}\n", st.bytes);
  family("sluice_store_segments", "gauge", "Segment files in the store.");
  out += fmt::format("sluice_store_segments {}\n", st.segments);
  family("sluice_store_syncs_total", "counter", "fsync rounds (group commits).");
  out += fmt::format("sluice_store_syncs_total {}\n", st.syncs);
  family("sluice_store_last_sync_seconds", "gauge", "Duration of the last fsync round.");
  out += fmt::format("sluice_store_last_sync_seconds {:.6f}\n", st.last_sync_ns / 1e9);
  family("sluice_store_sync_seconds", "histogram", "Durations of the fsync rounds.");
  append_histogram(out, "sluice_store_sync_seconds", st.sync_latency);
  family("sluice_store_dropped_samples_total", "counter",
         "Samples dropped by the store, per cause.");
  for (int c = 0; c < store::kDropCauseCount; ++c) {
    out += fmt::format("sluice_store_dropped_samples_total{{cause=\"{}\"}} {}\n",
                       store::drop_cause_name(static_cast<store::DropCause>(c)), st.dropped[c]);
  }
  if (server_ != nullptr) {
    const HttpServerStats h = server_->stats();
    family("sluice_http_requests_total", "counter", "HTTP requests answered.");
    out += fmt::format("sluice_http_requests_total {}\n", h.requests);
    family("sluice_http_connections_total", "counter", "HTTP connections accepted.");
    out += fmt::format("sluice_http_connections_total {}\n", h.connections);
    family("sluice_http_request_seconds", "histogram",
           "Time from a whole request read to its answer made.");
    append_histogram(out, "sluice_http_request_seconds", h.latency);
  }
  return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", std::move(out), {}};
}

}  // namespace sluice::api
