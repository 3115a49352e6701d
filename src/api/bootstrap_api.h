// Device bootstrap over HTTP (platform/bootstrap.h): the operators' routes that prepare one
// config per device, scoped to the caller's organization like the registry's routes
// (api/platform_api.h), and the devices' own routes, which need no user login.
//
// Operators (role operator for changes, viewer to read):
//   GET/POST /api/v1/bootstrap, GET/PUT/DELETE /api/v1/bootstrap/{external_id},
//   PUT /api/v1/bootstrap/{external_id}/state   {"state": "on" | "off"}
// A config is {"external_id", "key_hint", "org", "name", "thing_id", "channels": [ids],
// "content": any JSON, "state": "on"|"off", "created_at", "updated_at"}. POST takes
// external_id, name, and optionally external_key (none: one is made and answered once as
// "external_key"), org, thing_id (none: a thing is created), channels, content; PUT takes name,
// channels, content, thing_id. Lists take offset, limit, name and org and answer
// {"total", "offset", "limit", "configs": [...]}. 400 names the field; 404 for an unknown (or
// another org's) external id; 409 for a taken external id or a thing or channel that is not
// there.
//
// Devices ("Authorization: Thing <external key>"):
//   GET /things/bootstrap/{external_id}          200 {"thing_id", "thing_key", "channels":
//                                                [{"id", "name", "metadata"}], "content"}
//   GET /things/bootstrap/secure/{external_id}   the same JSON, AES-256-GCM sealed
//                                                (application/octet-stream; nonce || ciphertext
//                                                || tag); 404 without [api] bootstrap_key_file
// 401 without the header, 403 for a wrong key, 404 for an unknown external id, 409 when the
// config is off. Each answer carries a new thing key: the previous one stops working.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/query_params.h"
#include "api/router.h"
#include "platform/bootstrap.h"

namespace sluice::api {

// The fields of a POST or PUT body, as given (the store checks their values).
struct BootstrapBody {
  std::optional<std::string> external_id, external_key, org, name, thing_id;
  std::optional<std::vector<std::string>> channels;
  std::optional<nlohmann::json> content;
};
// Parses a create body (`create`: external_id required; external_key, org, name, thing_id,
// channels, content) or an update body (name, channels, content, thing_id). Pure, for the fuzz
// target fuzz/bootstrap_fuzz.cpp; a refusal names the field and holds the 400's message.
bool parse_bootstrap_body(std::string_view text, bool create, BootstrapBody* out,
                          ParamError* error);

// `store` must outlive the router.
void register_bootstrap_routes(Router& router, platform::BootstrapStore& store);

}  // namespace sluice::api
