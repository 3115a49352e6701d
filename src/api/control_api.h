// Control of equipment through the API: the set points and operations a source offers
// (runtime::Source::control_points) and requests to write or run them.
//   GET  /api/v1/services/{name}/control   the control points: [{name, kind, type, description}]
//   POST /api/v1/services/{name}/control   {"values": {...}} or {"operation": ..., "params": {...}}
// (body: api/bodies.h ControlBody). Every name is checked against the control points before
// anything is sent; values go to the device one by one, in order, and the answer comes only once
// the device confirmed each (or refused one: the request stops there and the answer lists what
// was written before). Operator role; every request is in the audit log with its body.
// With edge control running, the POST goes through the control dispatcher as the logged-in user
// (control/dispatcher.h), so the ACL attached to the service applies (403 when it refuses).
#pragma once

#include "api/router.h"
#include "control/control_plane.h"
#include "runtime/runtime.h"

namespace sluice::api {

void register_control_routes(Router& router, runtime::Runtime& runtime,
                             control::ControlPlane* control = nullptr);

// The HTTP status for a control request that failed with `code`: 404 unknown name, 400 bad
// value, 409 a source without control or not in a state to take it, 503 device unreachable or
// source not running, 504 device did not answer, 502 the device refused or answered wrongly.
int control_http_status(Code code);

}  // namespace sluice::api
