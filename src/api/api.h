// The REST API of a running Sluice: the routes over the runtime (services with MODE and HEALTH,
// sink details, enable/disable, manual upload), liveness and readiness, and /metrics in the
// Prometheus text format. Served by HttpServer; see docs/api.md.
//
// Thread safety: handle() is called from the server's threads; the runtime's accessors it uses
// are thread-safe.
#pragma once

#include <memory>

#include "api/http_server.h"
#include "api/router.h"
#include "auth/auth.h"
#include "auth/oidc.h"
#include "control/control_plane.h"
#include "platform/bootstrap.h"
#include "platform/registry.h"
#include "runtime/runtime.h"

namespace sluice::api {

struct ApiOptions {
  // Users, tokens, rate limits and the audit log. Null: every route is open (tests of the
  // routes alone); `sluice run` always gives one.
  auth::Auth* auth = nullptr;
  // /metrics without a token, as Prometheus scrapes (it sees only counters, no data).
  bool metrics_public = true;
  // Edge control (rules, notifications, scripts, ACLs, the dispatcher); null: its routes answer
  // 503 and control requests go to the sources directly.
  control::ControlPlane* control = nullptr;
  // The device registry (organizations, things, channels); null: no platform routes.
  platform::Registry* platform = nullptr;
  // Single sign-on: bearer JWTs of an OpenID Connect issuer ([api.oidc]); null: off.
  auth::OidcVerifier* oidc = nullptr;
  // Device bootstrap configs (with `platform`); null: no bootstrap routes.
  platform::BootstrapStore* bootstrap = nullptr;
};

class Api {
 public:
  // `runtime` (and options.auth) must outlive the Api.
  explicit Api(runtime::Runtime& runtime, ApiOptions options = {});
  // Routes the request: 404/405 for unknown paths and methods; then, for a route that is not
  // public, 401 without a valid token (Authorization: Bearer, or the sluice_token cookie) and
  // 403 without the role; then the route. Every request other than GET by a logged-in user is
  // recorded in the audit log with its outcome.
  HttpResponse handle(const HttpRequest& request) const;
  // A WebSocket upgrade: GET /api/v1/live?series=a,b,c (viewer) streams every sample of those
  // series as it is ingested (the runtime's live tap), in order, at most one JSON message per
  // poll: {"samples": [{series, stream, ts, ts_ms, value, quality}]}, with "dropped": n when n
  // samples were dropped since the previous message because the client fell behind (its queue
  // holds 10,000). The first message starts with the newest known sample of each series. The
  // token may also come as ?token= (browsers cannot set headers on a WebSocket).
  WebSocketOpen open_websocket(const HttpRequest& request) const;
  // The server's counters, for /metrics (set once the server runs).
  void set_server(const HttpServer* server) { server_ = server; }
  // The routes (for the OpenAPI document's consistency test).
  const Router& router() const { return router_; }

 private:
  // Who the token is: a Sluice session or API token, or (with OIDC on) a JWT of the issuer,
  // whose claims give the name, organization and role.
  Result<auth::Principal> authenticate(const std::string& token) const;
  HttpResponse upload(const std::string& name) const;
  HttpResponse metrics() const;
  HttpResponse ready() const;
  HttpResponse login(const HttpRequest& request) const;
  HttpResponse logout(const HttpRequest& request) const;
  HttpResponse me(const HttpRequest& request) const;
  HttpResponse users() const;
  HttpResponse add_user(const HttpRequest& request) const;
  HttpResponse remove_user(const std::string& name) const;
  HttpResponse create_token(const HttpRequest& request) const;
  HttpResponse revoke_token(const std::string& id) const;
  HttpResponse audit(const HttpRequest& request) const;
  void add_auth_routes();

  runtime::Runtime& runtime_;
  ApiOptions options_;
  const HttpServer* server_ = nullptr;
  Router router_;
};

}  // namespace sluice::api
