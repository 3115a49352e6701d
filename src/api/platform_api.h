// The device platform's provisioning routes (platform/registry.h), scoped to the caller's
// organization (the x-sluice-org header the server sets from the token; without users, tests of
// the routes alone, the platform's):
//
//   GET/POST /api/v1/orgs, GET/PUT/DELETE /api/v1/orgs/{id}             (changes: admin)
//   GET/POST /api/v1/things, GET/PUT/DELETE /api/v1/things/{id}          (changes: operator)
//   POST /api/v1/things/{id}/key                                         rotate: the new key, once
//   GET/POST /api/v1/channels, GET/PUT/DELETE /api/v1/channels/{id}      (changes: operator)
//   POST /api/v1/connect, POST /api/v1/disconnect  {"thing_ids": [...], "channel_ids": [...]}
//
// POST of things or channels takes one object ({"name", "metadata"?, "id"?, "org"?}) and answers
// 201 with it, or {"things": [...]} / {"channels": [...]} (bulk, all or nothing) and answers 201
// with the list. A created thing's key is in that answer and never again. Lists take offset,
// limit (1-1000, default 100), name (contains, any case), org, and connected (a channel's id for
// things, a thing's id for channels); they answer {"total", "offset", "limit", "<kind>": [...]}.
#pragma once

#include "api/router.h"
#include "platform/registry.h"
#include "runtime/runtime.h"

namespace sluice::api {

// `registry` must outlive the router.
void register_platform_routes(Router& router, platform::Registry& registry);

// The HTTP adapter, for things (no user login: the thing's key):
//   POST /channels/{id}/messages[/{subtopic...}]   Authorization: Thing <key>
// Body: SenML JSON or a JSON object (platform/messages.h). 202 {"samples": n} once durable;
// 401 without a valid key, 403 when the thing is not connected to the channel (or the channel
// does not exist), 400 for a payload or subtopic that does not parse, 413 over the platform
// source's max_message_bytes, 503 without a source of type "platform". Every refusal is counted
// by the platform source with its reason.
void register_platform_adapter_routes(Router& router, runtime::Runtime& runtime,
                                      platform::Registry& registry);

// The key of "Authorization: Thing <key>" (the scheme in any case); "" if the header is not of
// that form. The HTTP adapter and the bootstrap routes authenticate devices with it.
std::string thing_key(const HttpRequest& request);
// A 401 answer for a device, with "WWW-Authenticate: Thing".
HttpResponse thing_unauthorized(std::string_view message);

// The caller's scope from the request's x-sluice-org header ("" or absent: the platform's).
platform::Scope scope_of(const HttpRequest& request);

// The HTTP status of a registry error: 400, 401, 403, 404, 409, 500.
int platform_http_status(const Status& status);
// An error answer with the field at fault when the message starts with one ("things[2].name:").
HttpResponse platform_error(const Status& status);

}  // namespace sluice::api
