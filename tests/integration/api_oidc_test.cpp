// Single sign-on over real HTTP: bearer JWTs of a configured OpenID Connect issuer (keys the test
// makes, a JWKS file) are accepted beside Sluice's own tokens; the token's claims give the name,
// the organization (which scopes the device platform) and the role; a forged, expired or
// foreign token is a 401 that says why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "auth/oidc.h"
#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/jwt_signer.h"
#include "fixtures/test_support.h"

namespace sluice {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kIssuer = "https://login.plant.example/realms/sluice";
constexpr std::string_view kConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
)";

class ApiOidcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.file("jwks.json")) << testing::jwks_of({&key_});
    auth::OidcOptions o;
    o.issuer = kIssuer;
    o.jwks_file = dir_.file("jwks.json");
    o.role_map = {{"plant-admin", auth::Role::kAdmin}, {"plant-operator", auth::Role::kOperator}};
    auto v = auth::OidcVerifier::make(o, SystemClock::instance());
    ASSERT_TRUE(v.ok()) << v.status().message();
    verifier_ = std::move(v).value();
    ASSERT_TRUE(harness_.start(dir_, kConfig, {.auth = true, .oidc = verifier_.get()}));
  }
  std::string token(const testing::TestKey& key, const std::string& org, const std::string& role,
                    int64_t expires_in_s = 300) const {
    const int64_t now = SystemClock::instance().now() / 1'000'000'000;
    return testing::sign_jwt(key, {{"iss", kIssuer},
                                   {"sub", "u-" + org},
                                   {"preferred_username", "olga@" + org},
                                   {"org", org},
                                   {"role", {"plant-operator", role}},
                                   {"iat", now},
                                   {"exp", now + expires_in_s}});
  }
  testing::HttpClient::Response call(const std::string& method, const std::string& path,
                                     const std::string& body, const std::string& bearer) {
    return client_.request(
        method, harness_.url(path), body,
        {{"Authorization", "Bearer " + bearer}, {"Content-Type", "application/json"}});
  }
  static json parse(const testing::HttpClient::Response& r) {
    return json::parse(r.body, nullptr, false);
  }

  testing::TestKey key_ = testing::ec_key("sso-1");
  testing::TempDir dir_;
  std::unique_ptr<auth::OidcVerifier> verifier_;
  testing::ApiHarness harness_;
  testing::HttpClient client_;
};

TEST_F(ApiOidcTest, AnIssuersTokenActsWithItsNameOrganizationAndRole) {
  ASSERT_TRUE(harness_.platform()
                  ->create_org(platform::Scope::everything(), "acme", json::object(), "acme")
                  .ok());
  const std::string acme = token(key_, "acme", "plant-operator");
  const auto me = call("GET", "/api/v1/me", "", acme);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(parse(me)["user"], "olga@acme");
  EXPECT_EQ(parse(me)["org"], "acme");
  EXPECT_EQ(parse(me)["role"], "operator");
  // The organization scopes the platform: the thing lands in acme, and acme sees only its own.
  const auto made = call("POST", "/api/v1/things", R"({"name": "sso-made"})", acme);
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(parse(made)["org"], "acme");
  ASSERT_TRUE(harness_.platform()
                  ->create_things(platform::Scope::everything(), {{.name = "hq-thing"}})
                  .ok());
  EXPECT_EQ(parse(call("GET", "/api/v1/things", "", acme))["total"], 1);
  // An operator is not an admin, whatever the organization.
  EXPECT_EQ(call("POST", "/api/v1/orgs", R"({"name": "x"})", acme).status, 403);
  // The platform's admin (highest mapped role wins) sees and makes organizations.
  const std::string root = token(key_, "platform", "plant-admin");
  EXPECT_EQ(parse(call("GET", "/api/v1/things", "", root))["total"], 2);
  EXPECT_EQ(call("POST", "/api/v1/orgs", R"({"name": "globex"})", root).status, 201);
}

TEST_F(ApiOidcTest, AForgedOrExpiredTokenIsRefusedWithTheReason) {
  const testing::TestKey stranger = testing::ec_key("sso-1");  // same kid, another key
  const auto forged = call("GET", "/api/v1/me", "", token(stranger, "acme", "plant-admin"));
  EXPECT_EQ(forged.status, 401);
  EXPECT_THAT(forged.body, HasSubstr("single sign-on"));
  const auto expired = call("GET", "/api/v1/me", "", token(key_, "acme", "plant-admin", -3600));
  EXPECT_EQ(expired.status, 401);
  EXPECT_THAT(expired.body, HasSubstr("expired"));
  EXPECT_EQ(call("GET", "/api/v1/me", "", "not-a-token").status, 401);
  // Sluice's own tokens keep working beside it.
  ASSERT_TRUE(harness_.auth()
                  ->users()
                  .create("ops", "a password of some length", auth::Role::kViewer)
                  .ok());
  auto own = harness_.auth()->tokens().create("ops", auth::TokenKind::kApi, "t", 0);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(call("GET", "/api/v1/me", "", own->token).status, 200);
}

}  // namespace
}  // namespace sluice
