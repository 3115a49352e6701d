// The edge-control routes (docs/api.md, "Edge control"): rules, notifications, automation
// scripts and ACLs as documents (control/documents.h), the notifications' state and history,
// and control requests through the control dispatcher.
//   GET    /api/v1/{kind}              the documents of a kind (rules, notifications, scripts,
//                                      acls); notifications with their state
//   POST   /api/v1/{kind}              create one (admin)
//   GET    /api/v1/{kind}/{name}       one
//   PUT    /api/v1/{kind}/{name}       replace it (admin)
//   DELETE /api/v1/{kind}/{name}       delete it (admin)
//   GET    /api/v1/notifications/{name}/history, GET /api/v1/notification-history
//                                      the last sends (newest first; ?limit=, default 100)
//   POST   /api/v1/control             a control request (runtime/control.h JSON; operator)
//   POST   /api/v1/scripts/{name}/run  {"params": {...}} runs a script (operator)
//   GET    /api/v1/control             the dispatcher's and the engine's counters, the last
//                                      requests and refusals
// The caller of a control request is the logged-in user with their role, which ACLs grant or
// refuse. Without a control plane every route answers 503.
#pragma once

#include "api/router.h"
#include "control/control_plane.h"

namespace sluice::api {

void register_edge_routes(Router& router, control::ControlPlane* control);

}  // namespace sluice::api
