// The OpenAPI document against the routes: every (method, path) of the Router is described and
// nothing else is, with the role each needs; the server answers it at /api/openapi.json without
// a login, as built from docs/openapi.json; docs/api.md's reference is generated from it.
#include "api/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "api/http_server.h"
#include "api/openapi.h"
#include "auth/auth.h"
#include "cli/builtin_sources.h"
#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice::api {
namespace {

using nlohmann::json;

constexpr std::string_view kConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "sim"
type = "simulator"
rate = 10
series = 1
)";

using MethodPath = std::pair<std::string, std::string>;

// The (METHOD, path) pairs the document describes, with their x-sluice-role; without the
// WebSocket upgrades (x-sluice-websocket), which the server serves beside the Router.
std::map<MethodPath, std::string> documented(const json& doc) {
  std::map<MethodPath, std::string> out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, operation] : item.items()) {
      if (operation.value("x-sluice-websocket", false)) continue;
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out[{m, path}] = operation.value("x-sluice-role", "");
    }
  }
  return out;
}

class ApiOpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // With users (the login, user and token routes exist only then), as `sluice run` has it.
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true, .serve = false}));
    api_ = harness_.api();
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  Api* api_ = nullptr;
};

TEST_F(ApiOpenApiTest, TheDocumentDescribesExactlyTheRoutesOfTheRouter) {
  const json doc = json::parse(openapi_document(), nullptr, false);
  ASSERT_TRUE(doc.is_object()) << "docs/openapi.json is not valid JSON";
  EXPECT_EQ(doc.value("openapi", "").substr(0, 2), "3.");
  std::set<MethodPath> routes;
  for (const auto& r : api_->router().routes()) {
    EXPECT_TRUE(routes.insert(r).second) << "route added twice: " << r.first << " " << r.second;
  }
  std::set<MethodPath> in_doc;
  for (const auto& [mp, role] : documented(doc)) in_doc.insert(mp);
  std::vector<MethodPath> undocumented;
  std::set_difference(routes.begin(), routes.end(), in_doc.begin(), in_doc.end(),
                      std::back_inserter(undocumented));
  std::vector<MethodPath> not_routed;
  std::set_difference(in_doc.begin(), in_doc.end(), routes.begin(), routes.end(),
                      std::back_inserter(not_routed));
  EXPECT_THAT(undocumented, ::testing::IsEmpty()) << "routes missing from docs/openapi.json";
  EXPECT_THAT(not_routed, ::testing::IsEmpty()) << "docs/openapi.json describes routes that do "
                                                   "not exist";
}

TEST_F(ApiOpenApiTest, EveryOperationNamesTheRoleItsRouteNeeds) {
  const json doc = json::parse(openapi_document());
  for (const auto& [mp, role] : documented(doc)) {
    HttpRequest probe;
    probe.method = mp.first;
    probe.path = mp.second;  // "{name}" matches itself as a parameter
    const Router::Match m = api_->router().match(probe);
    ASSERT_NE(m.route, nullptr) << mp.first << " " << mp.second;
    if (m.route->method != mp.first) continue;  // HEAD etc.: not documented separately
    const std::string needs =
        m.route->action ? auth::role_name(auth::required_role(*m.route->action)) : "none";
    EXPECT_EQ(role, needs) << mp.first << " " << mp.second;
    std::string lower = mp.first;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const json& op = doc["paths"][mp.second][lower];
    // Public operations say so (no security); the others answer 401 and 403 with the error.
    if (needs == "none") {
      EXPECT_EQ(op.value("security", json::array({1})), json::array()) << mp.second;
    } else {
      EXPECT_TRUE(op["responses"].contains("401")) << mp.second;
      EXPECT_TRUE(op["responses"].contains("403")) << mp.second;
    }
  }
}

TEST_F(ApiOpenApiTest, TheServerAnswersTheBuiltDocumentWithoutALogin) {
  auto s = HttpServer::start({.port = 0}, [this](const HttpRequest& r) { return api_->handle(r); });
  ASSERT_TRUE(s.ok()) << s.status().message();
  testing::HttpClient c;
  const auto r = c.get("http://127.0.0.1:" + std::to_string((*s)->port()) + "/api/openapi.json");
  (*s)->stop();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.body, openapi_document());
  // The binary carries the file as it is in the source tree (rebuild after editing it).
  std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/docs/openapi.json", std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), openapi_document());
}

TEST(ApiMarkdownTest, TheEndpointReferenceOfApiMdIsGeneratedFromTheDocument) {
  const std::string command =
      "python3 " + std::string(SLUICE_SOURCE_DIR) + "/scripts/gen_api_md.py --check 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0)
      << "docs/api.md is out of date: run python3 scripts/gen_api_md.py";
}

}  // namespace
}  // namespace sluice::api
