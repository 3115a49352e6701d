#include "api/router.h"

#include <nlohmann/json.hpp>

namespace sluice::api {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) out.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

void Router::add(std::string method, std::string pattern, RouteHandler handler) {
  const auth::Action action = method == "GET" ? auth::Action::kRead : auth::Action::kControlService;
  add_route(std::move(method), std::move(pattern), std::move(handler), action);
}

void Router::add(std::string method, std::string pattern, RouteHandler handler,
                 auth::Action action) {
  add_route(std::move(method), std::move(pattern), std::move(handler), action);
}

void Router::add_public(std::string method, std::string pattern, RouteHandler handler) {
  add_route(std::move(method), std::move(pattern), std::move(handler), std::nullopt);
}

void Router::add_route(std::string method, std::string pattern, RouteHandler handler,
                       std::optional<auth::Action> action) {
  Route r;
  r.method = std::move(method);
  for (std::string_view s : split_path(pattern)) r.segments.emplace_back(s);
  r.handler = std::move(handler);
  r.action = action;
  routes_.push_back(std::move(r));
}

Router::Match Router::match(const HttpRequest& request) const {
  const std::vector<std::string_view> parts = split_path(request.path);
  std::string allowed;
  Match m;
  for (const Route& r : routes_) {
    // A last segment "{name...}" takes one or more segments, joined by '/'.
    const bool rest = !r.segments.empty() && r.segments.back().ends_with("...}");
    if (rest ? parts.size() < r.segments.size() : r.segments.size() != parts.size()) continue;
    PathParams params;
    bool found = true;
    for (size_t i = 0; i < r.segments.size() && found; ++i) {
      const std::string& seg = r.segments[i];
      if (rest && i + 1 == r.segments.size()) {
        std::string joined;
        for (size_t j = i; j < parts.size(); ++j) {
          if (j > i) joined.push_back('/');
          joined.append(parts[j]);
        }
        params[seg.substr(1, seg.size() - 5)] = std::move(joined);
      } else if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        params[seg.substr(1, seg.size() - 2)] = std::string(parts[i]);
      } else if (seg != parts[i]) {
        found = false;
      }
    }
    if (!found) continue;
    if (r.method == request.method || (r.method == "GET" && request.method == "HEAD")) {
      m.route = &r;
      m.params = std::move(params);
      return m;
    }
    if (allowed.find(r.method) == std::string::npos) {
      allowed += allowed.empty() ? r.method : ", " + r.method;
    }
  }
  if (!allowed.empty()) {
    m.error = error_response(
        405, "method " + request.method + " is not allowed here; allowed: " + allowed);
    m.error.headers.emplace_back("Allow", allowed);
    return m;
  }
  m.error = error_response(404, "no such resource: " + request.path);
  return m;
}

HttpResponse Router::dispatch(const HttpRequest& request) const {
  Match m = match(request);
  if (m.route == nullptr) return m.error;
  return m.route->handler(request, m.params);
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const Route& r : routes_) {
    std::string pattern;
    for (const std::string& s : r.segments) pattern += "/" + s;
    out.emplace_back(r.method, pattern.empty() ? "/" : pattern);
  }
  return out;
}

HttpResponse error_response(int status, std::string_view message, std::string_view field) {
  nlohmann::json e = {{"status", status}, {"message", std::string(message)}};
  if (!field.empty()) e["field"] = std::string(field);
  return HttpResponse{
      status,
      "application/json",
      nlohmann::json{{"error", e}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      {}};
}

HttpResponse json_response(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body), {}};
}

}  // namespace sluice::api
