// Routes of the REST API: method + path pattern ("/api/v1/services/{name}") to a handler, with
// the answers every route shares: 404 for an unknown path, 405 (with Allow) for a known path
// and another method, and JSON error bodies {"error": {"status", "message"[, "field"]}}.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http_server.h"
#include "auth/roles.h"

namespace sluice::api {

using PathParams = std::map<std::string, std::string>;
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const PathParams&)>;

class Router {
 public:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    RouteHandler handler;
    // What the route does, for the role it needs (auth/roles.h); nullopt: public (no login).
    std::optional<auth::Action> action;
  };
  // What a request matched: a route and its parameters, or the 404/405 answer.
  struct Match {
    const Route* route = nullptr;
    PathParams params;
    HttpResponse error;
  };

  // `pattern` segments in braces match one path segment and are passed by name; a last
  // segment "{name...}" matches one or more segments, passed joined by '/'. The action
  // defaults by method: GET reads (viewer); anything else acts on services or sessions
  // (operator). Admin routes say so.
  void add(std::string method, std::string pattern, RouteHandler handler);
  void add(std::string method, std::string pattern, RouteHandler handler, auth::Action action);
  // A route anyone may call without logging in (/healthz, the login itself).
  void add_public(std::string method, std::string pattern, RouteHandler handler);

  Match match(const HttpRequest& request) const;
  // match() and call, without authentication (tests of the routes alone).
  HttpResponse dispatch(const HttpRequest& request) const;
  // Every route as (method, pattern), in the order added: the pattern as given to add(), e.g.
  // ("GET", "/api/v1/services/{name}").
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  void add_route(std::string method, std::string pattern, RouteHandler handler,
                 std::optional<auth::Action> action);
  std::vector<Route> routes_;
};

// A JSON error answer. `field` names the offending request field, if any.
HttpResponse error_response(int status, std::string_view message, std::string_view field = {});
// A JSON answer from already serialized JSON text.
HttpResponse json_response(int status, std::string body);

}  // namespace sluice::api
