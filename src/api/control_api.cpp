// The /api/v1/services/{name}/control routes (see control_api.h).
#include "api/control_api.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/query_params.h"

namespace sluice::api {
namespace {

using nlohmann::json;

const char* kind_name(runtime::ControlPoint::Kind kind) {
  return kind == runtime::ControlPoint::Kind::kOperation ? "operation" : "set_point";
}

json value_json(const Value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

json points_json(const std::vector<runtime::ControlPoint>& points) {
  json out = json::array();
  for (const runtime::ControlPoint& p : points) {
    json j = {{"name", p.name}, {"kind", kind_name(p.kind)}, {"description", p.description}};
    if (p.kind == runtime::ControlPoint::Kind::kSetPoint) j["type"] = value_type_name(p.type);
    out.push_back(std::move(j));
  }
  return out;
}

HttpResponse status_error(const Status& s, std::string_view field = {}) {
  return error_response(control_http_status(s.code()), s.message(), field);
}

HttpResponse list(runtime::Runtime& rt, const std::string& name) {
  json points;
  std::string type;
  const Status s = rt.with_source(name, [&](runtime::Source& source, runtime::SourceContext&) {
    type = std::string(source.type());
    points = points_json(source.control_points());
    return Status::ok_status();
  });
  if (!s.ok()) return status_error(s);
  return json_response(200, dump_json({{"service", name}, {"type", type}, {"points", points}}));
}

// The request through the control dispatcher, as the logged-in user.
HttpResponse dispatch(control::ControlPlane& cp, const HttpRequest& r, const std::string& name,
                      ControlBody body) {
  runtime::ControlRequest request;
  request.target = {runtime::ControlTarget::Kind::kService, name};
  if (!body.operation.empty()) {
    request.action = runtime::ControlRequest::Action::kOperation;
    request.operation = body.operation;
    request.params = std::move(body.params);
  } else {
    request.action = runtime::ControlRequest::Action::kWrite;
    request.values = std::move(body.values);
  }
  const std::string user = r.header("x-sluice-user");
  const runtime::Caller caller =
      runtime::Caller::user(user.empty() ? "anonymous" : user, r.header("x-sluice-role"));
  Result<runtime::ControlOutcome> out = cp.dispatcher().dispatch(request, caller);
  if (!out.ok()) return status_error(out.status());
  if (request.action == runtime::ControlRequest::Action::kOperation) {
    return json_response(200, dump_json({{"service", name}, {"operation", request.operation}}));
  }
  json written = json::array();
  for (const auto& [point, value] : request.values) {
    written.push_back({{"name", point}, {"value", value_json(value)}});
  }
  return json_response(200, dump_json({{"service", name}, {"written", written}}));
}

HttpResponse control(runtime::Runtime& rt, control::ControlPlane* cp, const HttpRequest& r,
                     const std::string& name) {
  ControlBody body;
  ParamError perr;
  if (!parse_control_body(r.body, &body, &perr)) {
    return error_response(400, perr.message, perr.field);
  }
  if (cp != nullptr) return dispatch(*cp, r, name, std::move(body));
  json written = json::array();
  std::string failed_field;
  const Status s = rt.with_source(name, [&](runtime::Source& source, runtime::SourceContext&) {
    const std::vector<runtime::ControlPoint> points = source.control_points();
    if (points.empty()) {
      return failed_precondition(fmt::format(
          "source '{}' (type {}) has no control points: it cannot write set points or run "
          "operations",
          name, source.type()));
    }
    auto find = [&](const std::string& n, runtime::ControlPoint::Kind kind) {
      for (const runtime::ControlPoint& p : points) {
        if (p.name == n && p.kind == kind) return true;
      }
      return false;
    };
    auto known = [&](runtime::ControlPoint::Kind kind) {
      std::vector<std::string> names;
      for (const runtime::ControlPoint& p : points) {
        if (p.kind == kind) names.push_back(p.name);
      }
      return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
    };
    if (!body.operation.empty()) {
      if (!find(body.operation, runtime::ControlPoint::Kind::kOperation)) {
        failed_field = "operation";
        return not_found(fmt::format("source '{}' has no operation '{}' (its operations: {})",
                                     name, body.operation,
                                     known(runtime::ControlPoint::Kind::kOperation)));
      }
      return source.operation(body.operation, body.params);
    }
    // Every name first, so that a typo in the third value does not leave two written.
    for (const auto& [point, value] : body.values) {
      if (!find(point, runtime::ControlPoint::Kind::kSetPoint)) {
        failed_field = "values." + point;
        return not_found(fmt::format("source '{}' has no set point '{}' (its set points: {})",
                                     name, point, known(runtime::ControlPoint::Kind::kSetPoint)));
      }
    }
    for (const auto& [point, value] : body.values) {
      const Status w = source.write(point, value);
      if (!w.ok()) {
        failed_field = "values." + point;
        return Status(w.code(), fmt::format("writing '{}': {}", point, w.message()));
      }
      written.push_back({{"name", point}, {"value", value_json(value)}});
    }
    return Status::ok_status();
  });
  if (!s.ok()) {
    HttpResponse resp = status_error(s, failed_field);
    if (!written.empty()) {
      // The error answer with what the device took before it refused.
      json j = json::parse(resp.body, nullptr, false);
      if (j.is_object()) {
        j["written"] = written;
        resp.body = dump_json(j);
      }
    }
    return resp;
  }
  if (!body.operation.empty()) {
    return json_response(200, dump_json({{"service", name}, {"operation", body.operation}}));
  }
  return json_response(200, dump_json({{"service", name}, {"written", written}}));
}

}  // namespace

int control_http_status(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kNotFound: return 404;
    case Code::kInvalidArgument: return 400;
    case Code::kFailedPrecondition: return 409;
    case Code::kUnavailable:
    case Code::kAborted: return 503;
    case Code::kTimeout: return 504;
    case Code::kPermissionDenied: return 403;
    case Code::kUnauthenticated: return 401;
    case Code::kResourceExhausted: return 429;
    default: return 502;
  }
}

void register_control_routes(Router& router, runtime::Runtime& runtime,
                             control::ControlPlane* cp) {
  router.add("GET", "/api/v1/services/{name}/control",
             [&runtime](const HttpRequest&, const PathParams& p) {
               return list(runtime, p.at("name"));
             });
  router.add(
      "POST", "/api/v1/services/{name}/control",
      [&runtime, cp](const HttpRequest& r, const PathParams& p) {
        return control(runtime, cp, r, p.at("name"));
      },
      auth::Action::kControlEquipment);
}

}  // namespace sluice::api
