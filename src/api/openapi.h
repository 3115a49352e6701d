// The API's OpenAPI 3 document (docs/openapi.json), compiled into the binary at build time
// (cmake/EmbedText.cmake), and the public route that serves it: GET /api/openapi.json.
// The document lists every route of the Router; tests/integration/api_openapi_test.cpp checks
// that the two agree.
#pragma once

#include <string_view>

#include "api/router.h"

namespace sluice::api {

// The document's JSON text, as in docs/openapi.json when the binary was built.
std::string_view openapi_document();

// Adds GET /api/openapi.json (public: it describes the API, it holds no data).
void register_openapi_route(Router& router);

}  // namespace sluice::api
