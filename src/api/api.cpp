// The API's routes (see api.h).
#include "api/api.h"

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "api/openapi.h"
#include "api/query_params.h"
#include "api/series_api.h"
#include "api/services_api.h"
#include "api/sessions_api.h"
#include "api/static_files.h"

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
    out += fmt::format("{}_bucket{{le=\"{:g}\"}} {}\n", name,
                       LatencyHistogram::kBoundsNs[i] / 1e9, h.cumulative[i]);
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

std::string audit_action(const HttpRequest& request) { return request.method + " " + request.path; }

}  // namespace

HttpResponse Api::handle(const HttpRequest& request) const {
  Router::Match m = router_.match(request);
  if (m.route == nullptr) return m.error;
  if (!m.route->action || options_.auth == nullptr) {
    return m.route->handler(request, m.params);
  }
  const std::string token = request_token(request);
  if (token.empty()) {
    return unauthorized(
        "log in first: POST /api/v1/login with {\"user\", \"password\"}, then send the token "
        "as \"Authorization: Bearer <token>\"; scripts use an API token the same way");
  }
  Result<auth::Principal> who = options_.auth->tokens().authenticate(token);
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
  HttpRequest with_user = request;
  with_user.headers["x-sluice-user"] = who->user;  // for handlers that act on the caller
  HttpResponse response = m.route->handler(with_user, m.params);
  if (changes) {
    entry.outcome = response.status < 400 ? auth::AuditOutcome::kOk : auth::AuditOutcome::kFailed;
    entry.details = dump({{"status", response.status}});
    (void)options_.auth->audit().record(entry);
  }
  return response;
}

namespace {

constexpr size_t kMaxLiveSeries = 100;

// The newest samples of chosen series, from the runtime's last-value cache, sent when they
// change.
class LiveFeed final : public WebSocketFeed {
 public:
  LiveFeed(const runtime::Runtime& runtime, std::vector<std::string> series)
      : runtime_(runtime), series_(std::move(series)) {}

  std::vector<std::string> poll() override {
    json samples = json::array();
    const std::vector<runtime::LastValue> all = runtime_.last_values().all();
    for (const runtime::LastValue& v : all) {
      if (std::find(series_.begin(), series_.end(), v.series) == series_.end()) continue;
      Timestamp& sent = sent_[v.stream + "\n" + v.series];
      if (v.ts <= sent) continue;
      sent = v.ts;
      samples.push_back({{"series", v.series},
                         {"stream", v.stream},
                         {"ts", iso8601_ms(v.ts)},
                         {"ts_ms", v.ts / 1'000'000},
                         {"value", value_json(v.value)},
                         {"quality", v.quality}});
    }
    if (samples.empty()) return {};
    return {dump({{"samples", samples}})};
  }

 private:
  const runtime::Runtime& runtime_;
  const std::vector<std::string> series_;
  std::map<std::string, Timestamp> sent_;  // the server calls poll() from one strand
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
    Result<auth::Principal> who = options_.auth->tokens().authenticate(token);
    if (!who.ok()) return {nullptr, unauthorized(who.status().message())};
  }
  auto it = request.query.find("series");
  if (it == request.query.end() || it->second.empty()) {
    return {nullptr, error_response(400, "'series' is required: a comma-separated list of series "
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
    return {nullptr, error_response(400,
                                    fmt::format("'series' must name 1 to {} series", kMaxLiveSeries),
                                    "series")};
  }
  return {std::make_shared<LiveFeed>(runtime_, std::move(series)), {}};
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

// The JSON object of a request body, or the 400 that says what is wrong with it.
Result<json> body_object(const HttpRequest& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return invalid_argument("the body is not valid JSON");
  if (!j.is_object()) return invalid_argument("the body must be a JSON object");
  return j;
}

// A string field of a body object; nullopt (with `error` set) if absent or not a string.
std::optional<std::string> string_field(const json& j, const char* name, HttpResponse* error) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    *error = error_response(400, fmt::format("'{}' is required and must be a string", name), name);
    return std::nullopt;
  }
  return it->get<std::string>();
}

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
  Result<json> body = body_object(request);
  if (!body.ok()) return error_response(400, body.status().message());
  HttpResponse error;
  const auto user = string_field(*body, "user", &error);
  if (!user) return error;
  const auto password = string_field(*body, "password", &error);
  if (!password) return error;
  const std::string address = client_address(request);
  Result<auth::IssuedToken> issued = options_.auth->login(*user, *password, address);
  auth::AuditEntry entry;
  entry.user = *user;
  entry.address = address;
  entry.action = "login";
  entry.target = *user;
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
                                            {"user", *user},
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

HttpResponse Api::me(const HttpRequest& request) const {
  Result<auth::Principal> who = options_.auth->tokens().authenticate(request_token(request));
  if (!who.ok()) return unauthorized(who.status().message());
  return json_response(200, dump({{"user", who->user},
                                  {"role", auth::role_name(who->role)},
                                  {"token_kind", auth::token_kind_name(who->kind)}}));
}

HttpResponse Api::users() const {
  Result<std::vector<auth::User>> list = options_.auth->users().list();
  if (!list.ok()) return error_response(500, list.status().message());
  json out = json::array();
  for (const auth::User& u : *list) {
    out.push_back({{"name", u.name},
                   {"role", auth::role_name(u.role)},
                   {"enabled", u.enabled},
                   {"created", iso_time(u.created_ns)}});
  }
  return json_response(200, dump({{"users", out}}));
}

HttpResponse Api::add_user(const HttpRequest& request) const {
  Result<json> body = body_object(request);
  if (!body.ok()) return error_response(400, body.status().message());
  HttpResponse error;
  const auto name = string_field(*body, "name", &error);
  if (!name) return error;
  const auto password = string_field(*body, "password", &error);
  if (!password) return error;
  const auto role_text = string_field(*body, "role", &error);
  if (!role_text) return error;
  const std::optional<auth::Role> role = auth::parse_role(*role_text);
  if (!role) return error_response(400, "'role' must be admin, operator or viewer", "role");
  Result<auth::User> user = options_.auth->users().create(*name, *password, *role);
  if (!user.ok()) return error_response(auth_status(user.status()), user.status().message());
  return json_response(201, dump({{"name", user->name}, {"role", auth::role_name(user->role)}}));
}

HttpResponse Api::remove_user(const std::string& name) const {
  const Status st = options_.auth->users().remove(name);
  if (!st.ok()) return error_response(auth_status(st), st.message());
  return json_response(200, dump({{"removed", name}}));
}

HttpResponse Api::create_token(const HttpRequest& request) const {
  Result<json> body = body_object(request);
  if (!body.ok()) return error_response(400, body.status().message());
  HttpResponse error;
  const auto user = string_field(*body, "user", &error);
  if (!user) return error;
  const auto name = string_field(*body, "name", &error);
  if (!name) return error;
  int64_t expires_ns = 0;
  if (auto it = body->find("expires_in_days"); it != body->end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 3650) {
      return error_response(400, "'expires_in_days' must be a whole number from 1 to 3650",
                            "expires_in_days");
    }
    expires_ns = SystemClock::instance().now() + it->get<int64_t>() * 86'400'000'000'000;
  }
  Result<auth::IssuedToken> issued =
      options_.auth->tokens().create(*user, auth::TokenKind::kApi, *name, expires_ns);
  if (!issued.ok()) return error_response(auth_status(issued.status()), issued.status().message());
  return json_response(201, dump({{"id", issued->info.id},
                                  {"token", issued->token},
                                  {"user", *user},
                                  {"name", *name},
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
