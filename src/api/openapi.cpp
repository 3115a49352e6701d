// GET /api/openapi.json (see openapi.h). The document's text is in the generated
// openapi_document.cpp.
#include "api/openapi.h"

#include <string>

namespace sluice::api {

void register_openapi_route(Router& router) {
  router.add_public("GET", "/api/openapi.json", [](const HttpRequest&, const PathParams&) {
    return HttpResponse{200, "application/json", std::string(openapi_document()), {}};
  });
}

}  // namespace sluice::api
