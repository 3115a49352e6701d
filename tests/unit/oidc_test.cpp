// The OpenID Connect verifier (auth/oidc.h) on keys made here by OpenSSL and a JWKS written here:
// good RS256 and ES256 tokens map to a subject, an organization and a role; every other token is
// refused with a message that says why. Time is a ManualClock. The JWKS URL is a file:// URL
// (libcurl reads it like any other): the HTTP fixture (fixtures/http_receiver.h) answers every
// request with a status and no chosen body, so it serves only the tests of HTTP failures.
#include "auth/oidc.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "auth/crypto.h"
#include "auth/tokens.h"
#include "fixtures/http_receiver.h"
#include "fixtures/jwt_signer.h"
#include "fixtures/test_support.h"
#include "runtime/json_table.h"

namespace sluice::auth {
namespace {

using json = nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr const char* kIssuer = "https://login.example.com/realms/plant";

using testing::ec_key;
using testing::rsa_key;
using testing::TestKey;

// RSA key generation costs tens of ms: the suite makes its keys once.
const TestKey& suite_key(int i) {
  static const TestKey keys[] = {rsa_key("rsa1"), ec_key("ec1"), rsa_key("rsa2"), ec_key("ec2"),
                                 rsa_key("rsa3")};
  return keys[i];
}

using testing::b64json;

class OidcTest : public ::testing::Test {
 protected:
  void SetUp() override { write_jwks({rsa1_, ec1_}); }

  // Replaces the JWKS file at once (write, then rename), as a key rotation would.
  void write_jwks(std::initializer_list<const TestKey*> keys) {
    json arr = json::array();
    for (const TestKey* k : keys) arr.push_back(k->jwk());
    write_jwks_text(json{{"keys", arr}}.dump());
  }
  void write_jwks_text(const std::string& text) {
    const std::string tmp = dir_.file("jwks.json.tmp");
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
    ASSERT_EQ(std::rename(tmp.c_str(), jwks_path().c_str()), 0);
  }
  std::string jwks_path() const { return dir_.file("jwks.json"); }

  OidcOptions options() const {
    OidcOptions o;
    o.issuer = kIssuer;
    o.audience = "sluice";
    o.jwks_file = jwks_path();
    return o;
  }

  std::unique_ptr<OidcVerifier> verifier(OidcOptions o) {
    Result<std::unique_ptr<OidcVerifier>> v = OidcVerifier::make(std::move(o), clock_);
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.ok() ? std::move(v).value() : nullptr;
  }

  int64_t now_s() const { return clock_.now() / kNsPerSecond; }

  json claims() const {
    return {{"iss", kIssuer},
            {"aud", "sluice"},
            {"sub", "u-42"},
            {"org", "acme"},
            {"preferred_username", "olga"},
            {"role", "operator"},
            {"iat", now_s()},
            {"exp", now_s() + 3600}};
  }

  // A token with `claims`, signed by `key`, its header naming `alg` (by default the key's) and
  // `kid` (by default the key's; "" for none).
  static std::string token(const json& claims, const TestKey& key, std::string alg = "",
                           std::optional<std::string> kid = std::nullopt) {
    json header = {{"alg", alg.empty() ? (key.ec ? "ES256" : "RS256") : alg}, {"typ", "JWT"}};
    const std::string k = kid.value_or(key.kid);
    if (!k.empty()) header["kid"] = k;
    const std::string input = b64json(header) + "." + b64json(claims);
    return input + "." + base64url(key.sign(input));
  }

  void advance(std::chrono::nanoseconds d) { clock_.advance(d.count()); }

  testing::TempDir dir_;
  ManualClock clock_;
  const TestKey* rsa1_ = &suite_key(0);
  const TestKey* ec1_ = &suite_key(1);
  const TestKey* rsa2_ = &suite_key(2);
  const TestKey* ec2_ = &suite_key(3);
  const TestKey* rsa3_ = &suite_key(4);
};

// ---- good tokens ----

TEST_F(OidcTest, Rs256TokenGivesSubjectNameOrganizationRoleAndExpiry) {
  auto v = verifier(options());
  ASSERT_TRUE(v);
  Result<OidcIdentity> id = v->verify(token(claims(), *rsa1_));
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(id->subject, "u-42");
  EXPECT_EQ(id->name, "olga");
  EXPECT_EQ(id->org, "acme");
  EXPECT_EQ(id->role, Role::kOperator);
  EXPECT_EQ(id->expires_ns, (now_s() + 3600) * kNsPerSecond);
}

TEST_F(OidcTest, Es256TokenIsAcceptedToo) {
  auto v = verifier(options());
  json c = claims();
  c["role"] = "admin";
  Result<OidcIdentity> id = v->verify(token(c, *ec1_));
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(id->role, Role::kAdmin);
}

TEST_F(OidcTest, NameFallsBackToTheSubject) {
  auto v = verifier(options());
  json c = claims();
  c.erase("preferred_username");
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(id->name, "u-42");
}

TEST_F(OidcTest, TokenWithoutKidUsesTheOnlyKeyOfTheSet) {
  write_jwks({ec1_});
  auto v = verifier(options());
  EXPECT_TRUE(v->verify(token(claims(), *ec1_, "", "")).ok());
  write_jwks({rsa1_, ec1_});
  auto two = verifier(options());
  Result<OidcIdentity> id = two->verify(token(claims(), *ec1_, "", ""));
  EXPECT_EQ(id.status().code(), Code::kNotFound);
  EXPECT_EQ(id.status().message(),
            "JWT header: no 'kid', and the JWKS has 2 keys (a kid says which one)");
}

// ---- signatures and algorithms ----

TEST_F(OidcTest, WrongSignatureIsRefused) {
  auto v = verifier(options());
  // Signed by rsa2's private key, but naming rsa1.
  Result<OidcIdentity> id = v->verify(token(claims(), *rsa2_, "", "rsa1"));
  EXPECT_EQ(id.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "JWT signature: does not verify with key 'rsa1'");
  id = v->verify(token(claims(), *ec2_, "", "ec1"));
  EXPECT_EQ(id.status().code(), Code::kPermissionDenied);
}

TEST_F(OidcTest, TamperedPayloadIsRefused) {
  auto v = verifier(options());
  const std::string good = token(claims(), *rsa1_);
  json c = claims();
  c["role"] = "admin";
  const size_t dot1 = good.find('.');
  const size_t dot2 = good.find('.', dot1 + 1);
  const std::string tampered = good.substr(0, dot1 + 1) + b64json(c) + good.substr(dot2);
  EXPECT_EQ(v->verify(tampered).status().code(), Code::kPermissionDenied);
}

TEST_F(OidcTest, AlgNoneAndHs256AreRefused) {
  auto v = verifier(options());
  const std::string none =
      b64json({{"alg", "none"}, {"kid", "rsa1"}}) + "." + b64json(claims()) + ".";
  Result<OidcIdentity> id = v->verify(none);
  EXPECT_EQ(id.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "JWT header: alg 'none' is not accepted (RS256, ES256)");
  // HS256 "signed" with the RSA public key's bytes as the HMAC secret: the classic confusion.
  id = v->verify(token(claims(), *rsa1_, "HS256"));
  EXPECT_EQ(id.status().message(), "JWT header: alg 'HS256' is not accepted (RS256, ES256)");
}

TEST_F(OidcTest, Rs256HeaderWithAnEcKidIsRefused) {
  auto v = verifier(options());
  Result<OidcIdentity> id = v->verify(token(claims(), *rsa1_, "RS256", "ec1"));
  EXPECT_EQ(id.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(id.status().message(), "JWT header: alg 'RS256' does not fit key 'ec1' (EC P-256)");
}

TEST_F(OidcTest, UnknownKidIsRefusedAsNotFound) {
  auto v = verifier(options());
  Result<OidcIdentity> id = v->verify(token(claims(), *rsa2_));
  EXPECT_EQ(id.status().code(), Code::kNotFound);
  EXPECT_EQ(id.status().message(), "JWT header: no key with kid 'rsa2' in the JWKS");
}

// ---- time ----

TEST_F(OidcTest, ExpiredTokenIsRefusedWithItsExpiryTime) {
  auto v = verifier(options());
  json c = claims();
  c["exp"] = now_s() - 61;  // beyond the 60 s leeway
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  EXPECT_EQ(id.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(id.status().message(), "JWT: expired at " +
                                       format_time_utc((now_s() - 61) * kNsPerSecond) + " (now " +
                                       format_time_utc(clock_.now()) + ", leeway 60s)");
}

TEST_F(OidcTest, ExpiryWithinTheLeewayIsAccepted) {
  auto v = verifier(options());
  json c = claims();
  c["exp"] = now_s() - 59;
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
  OidcOptions strict = options();
  strict.leeway = seconds(0);
  c["exp"] = now_s();
  EXPECT_EQ(verifier(strict)->verify(token(c, *rsa1_)).status().code(), Code::kFailedPrecondition)
      << "exp is the first instant at which the token is no longer good";
}

TEST_F(OidcTest, GoodTokenExpiresWhenTheClockPassesItsExpiry) {
  auto v = verifier(options());
  const std::string t = token(claims(), *ec1_);
  EXPECT_TRUE(v->verify(t).ok());
  advance(seconds(3600 + 59));
  EXPECT_TRUE(v->verify(t).ok());
  advance(seconds(1));
  EXPECT_EQ(v->verify(t).status().code(), Code::kFailedPrecondition);
}

TEST_F(OidcTest, TokenWithoutExpiryIsRefused) {
  auto v = verifier(options());
  json c = claims();
  c.erase("exp");
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(),
            "JWT claim 'exp': missing; a token without an expiry is refused");
  c["exp"] = "tomorrow";
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(),
            "JWT claim 'exp': not a number of seconds since 1970");
  c["exp"] = 1e300;
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(), "JWT claim 'exp': out of range");
}

TEST_F(OidcTest, NotBeforeInTheFutureIsRefused) {
  auto v = verifier(options());
  json c = claims();
  c["nbf"] = now_s() + 61;
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  EXPECT_EQ(id.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(id.status().message().rfind(
                "JWT: not valid before " + format_time_utc((now_s() + 61) * kNsPerSecond), 0),
            0u)
      << id.status().message();
  c["nbf"] = now_s() + 59;  // within the leeway
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
}

TEST_F(OidcTest, IssuedInTheFutureBeyondTheLeewayIsRefused) {
  auto v = verifier(options());
  json c = claims();
  c["iat"] = now_s() + 120;
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  EXPECT_EQ(id.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(id.status().message().find("issued in the future"), std::string::npos);
  c["iat"] = now_s() + 30.5;  // fractional seconds are NumericDates too
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
}

// ---- issuer and audience ----

TEST_F(OidcTest, WrongIssuerIsRefused) {
  auto v = verifier(options());
  json c = claims();
  c["iss"] = std::string(kIssuer) + "/";  // exact comparison: a trailing slash differs
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  EXPECT_EQ(id.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "JWT claim 'iss': 'https://login.example.com/realms/plant/' "
            "is not the configured issuer "
            "'https://login.example.com/realms/plant'");
  c.erase("iss");
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(), "JWT claim 'iss': missing");
}

TEST_F(OidcTest, AudienceMustBeThereWhenConfigured) {
  auto v = verifier(options());
  json c = claims();
  c.erase("aud");
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(),
            "JWT claim 'aud': missing; the token must be issued for 'sluice'");
  c["aud"] = "grafana";
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(),
            "JWT claim 'aud': does not contain 'sluice'");
  c["aud"] = {"grafana", "account"};
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().code(), Code::kPermissionDenied);
  c["aud"] = {"account", "sluice"};
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok()) << "an array that contains the audience";
}

TEST_F(OidcTest, AnyAudienceIsAcceptedWhenNoneIsConfigured) {
  OidcOptions o = options();
  o.audience.clear();
  auto v = verifier(o);
  json c = claims();
  c["aud"] = "anything";
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
  c.erase("aud");
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
}

// ---- organization ----

TEST_F(OidcTest, MissingOrganizationClaimIsRefused) {
  auto v = verifier(options());
  json c = claims();
  c.erase("org");
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  EXPECT_EQ(id.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "JWT claim 'org' (the organization): missing; the issuer must add it to the tokens "
            "it issues for Sluice");
  for (const json& bad : {json(""), json(7), json({"acme"}), json(std::string(300, 'a'))}) {
    c["org"] = bad;
    EXPECT_EQ(v->verify(token(c, *rsa1_)).status().code(), Code::kPermissionDenied) << bad;
  }
}

TEST_F(OidcTest, ClaimNamesMayBeNamespacedOrDottedPaths) {
  OidcOptions o = options();
  o.org_claim = "https://sluice.example/org";  // a top-level claim whose name has dots
  o.role_claim = "realm_access.roles";         // Keycloak's realm roles: a nested path
  auto v = verifier(o);
  json c = claims();
  c.erase("org");
  c.erase("role");
  c["https://sluice.example/org"] = "plant-7";
  c["realm_access"] = {{"roles", {"offline_access", "viewer"}}};
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(id->org, "plant-7");
  EXPECT_EQ(id->role, Role::kViewer);
}

// ---- roles ----

TEST_F(OidcTest, HighestMappedRoleOfAnArrayWins) {
  OidcOptions o = options();
  o.role_map = {{"sluice-viewer", Role::kViewer},
                {"sluice-admin", Role::kAdmin},
                {"sluice-operator", Role::kOperator}};
  auto v = verifier(o);
  json c = claims();
  c["role"] = {"unrelated", "sluice-viewer", "sluice-admin", "sluice-operator"};
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(id->role, Role::kAdmin);
  c["role"] = {"sluice-operator", "sluice-viewer"};
  EXPECT_EQ(v->verify(token(c, *rsa1_))->role, Role::kOperator);
  c["role"] = "operator";  // the default names are not mapped any more
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().code(), Code::kPermissionDenied);
}

TEST_F(OidcTest, UnmappedRoleIsRefusedWithoutADefault) {
  auto v = verifier(options());
  json c = claims();
  c["role"] = {"guest", "offline_access"};
  Result<OidcIdentity> id = v->verify(token(c, *rsa1_));
  EXPECT_EQ(id.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(id.status().message(),
            "JWT claim 'role' (the role): 'guest', 'offline_access' maps to no role (role_map)");
  c.erase("role");
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(),
            "JWT claim 'role' (the role): missing or empty, and no default_role is configured");
  c["role"] = {"admin", 3};
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().message(),
            "JWT claim 'role': not a string or an array of strings");
}

TEST_F(OidcTest, DefaultRoleAppliesWhenNoValueMaps) {
  OidcOptions o = options();
  o.default_role = Role::kViewer;
  auto v = verifier(o);
  json c = claims();
  c["role"] = "guest";
  EXPECT_EQ(v->verify(token(c, *rsa1_))->role, Role::kViewer);
  c.erase("role");
  EXPECT_EQ(v->verify(token(c, *rsa1_))->role, Role::kViewer);
  c["role"] = {"guest", "admin"};
  EXPECT_EQ(v->verify(token(c, *rsa1_))->role, Role::kAdmin) << "a mapped value beats the default";
}

TEST_F(OidcTest, SubjectIsRequired) {
  auto v = verifier(options());
  json c = claims();
  c.erase("sub");
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().code(), Code::kInvalidArgument);
}

// ---- garbage ----

TEST_F(OidcTest, GarbageTokensAreRefusedWithoutTouchingTheKeys) {
  auto v = verifier(options());
  const std::string good = token(claims(), *rsa1_);
  const std::vector<std::string> garbage = {"",
                                            "x",
                                            "a.b",
                                            "a.b.c.d",
                                            "slu_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                            "e30.e30.AAAA",
                                            "!!!.???.***",
                                            good.substr(0, good.size() / 2),
                                            good + "x",
                                            std::string(kMaxJwtBytes + 1, 'A'),
                                            "eyJhbGciOiJSUzI1NiJ9=.e30.AAAA",
                                            good + "." + good};
  for (const std::string& g : garbage) {
    Result<OidcIdentity> id = v->verify(g);
    EXPECT_FALSE(id.ok()) << g.substr(0, 80);
    EXPECT_FALSE(id.status().message().empty());
  }
  EXPECT_EQ(v->jwks_status().loads, 1u);
}

// ---- loading and reloading the keys ----

TEST_F(OidcTest, UnknownKidReloadsTheJwksOnce) {
  OidcOptions o = options();
  o.jwks_file.clear();
  o.jwks_url = "file://" + jwks_path();
  auto v = verifier(o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->jwks_status().loads, 1u);
  write_jwks({rsa1_, ec1_, rsa2_});  // the issuer rotates in a new key
  advance(seconds(29));
  Result<OidcIdentity> id = v->verify(token(claims(), *rsa2_));
  EXPECT_EQ(id.status().code(), Code::kNotFound) << "keys loaded 29 s ago are not fetched again";
  EXPECT_EQ(v->jwks_status().loads, 1u);
  advance(seconds(1));
  id = v->verify(token(claims(), *rsa2_));
  EXPECT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(v->jwks_status().loads, 2u);
  EXPECT_EQ(v->jwks_status().keys, 3u);
  EXPECT_TRUE(v->verify(token(claims(), *rsa2_)).ok());
  EXPECT_EQ(v->jwks_status().loads, 2u) << "a known kid loads nothing";
}

TEST_F(OidcTest, SecondUnknownKidWithinThirtySecondsDoesNotReload) {
  OidcOptions o = options();
  o.jwks_file.clear();
  o.jwks_url = "file://" + jwks_path();
  auto v = verifier(o);
  advance(seconds(30));
  EXPECT_EQ(v->verify(token(claims(), *rsa3_)).status().code(), Code::kNotFound);  // reloads
  EXPECT_EQ(v->jwks_status().loads, 2u);
  write_jwks({rsa1_, ec1_, rsa2_});
  advance(seconds(29));
  Result<OidcIdentity> id = v->verify(token(claims(), *rsa2_));
  EXPECT_EQ(id.status().code(), Code::kNotFound) << "rate-limited: no reload";
  EXPECT_EQ(v->jwks_status().loads, 2u);
  advance(seconds(1));
  id = v->verify(token(claims(), *rsa2_));
  EXPECT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_EQ(v->jwks_status().loads, 3u);
}

TEST_F(OidcTest, KeysAreReloadedWhenTheRefreshIsDue) {
  auto v = verifier(options());  // jwks_file, refreshed every 60 min
  write_jwks({rsa2_});
  advance(minutes(59));
  EXPECT_TRUE(v->verify(token(claims(), *rsa1_)).ok());
  EXPECT_EQ(v->jwks_status().loads, 1u);
  advance(minutes(1));
  const json c = claims();  // the clock moved: a fresh token
  EXPECT_EQ(v->verify(token(c, *rsa1_)).status().code(), Code::kNotFound) << "rsa1 was rotated out";
  EXPECT_EQ(v->jwks_status().loads, 2u);
  EXPECT_TRUE(v->verify(token(c, *rsa2_)).ok());
}

TEST_F(OidcTest, FailedReloadKeepsTheKeysItHad) {
  auto v = verifier(options());
  write_jwks_text("{\"keys\": [");  // a half-written file
  advance(minutes(60));
  const json c = claims();
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
  JwksStatus s = v->jwks_status();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.keys, 2u);
  EXPECT_NE(s.last_error.find("jwks_file '" + jwks_path() + "': JWKS: not JSON"), std::string::npos)
      << s.last_error;
  write_jwks({rsa1_, ec1_});
  advance(seconds(29));
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
  EXPECT_EQ(v->jwks_status().failures, 1u) << "a failed load is retried after 30 s, not sooner";
  advance(seconds(1));
  EXPECT_TRUE(v->verify(token(c, *rsa1_)).ok());
  EXPECT_EQ(v->jwks_status().loads, 2u);
  EXPECT_EQ(v->jwks_status().last_error, "");
}

TEST_F(OidcTest, MakeFailsWhenTheKeysCannotBeLoaded) {
  OidcOptions o = options();
  o.jwks_file = dir_.file("missing.json");
  Result<std::unique_ptr<OidcVerifier>> v = OidcVerifier::make(o, clock_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kNotFound);
  EXPECT_EQ(v.status().message(), "OIDC: jwks_file '" + o.jwks_file + "': cannot be opened");
  write_jwks_text(std::string(kMaxJwksBytes + 1, ' '));
  v = OidcVerifier::make(options(), clock_);
  EXPECT_NE(v.status().message().find("larger than 1048576 bytes"), std::string::npos);
}

TEST_F(OidcTest, JwksUrlThatAnswersAnHttpErrorFailsNamingTheStatus) {
  testing::HttpReceiver receiver;
  receiver.set_status(503);
  OidcOptions o = options();
  o.jwks_file.clear();
  o.jwks_url = receiver.url("/realms/plant/certs");
  Result<std::unique_ptr<OidcVerifier>> v = OidcVerifier::make(o, clock_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kUnavailable);
  EXPECT_EQ(v.status().message(),
            "OIDC: jwks_url '" + o.jwks_url + "': answered HTTP 503, not 200");
  ASSERT_EQ(receiver.request_count(), 1u);
  EXPECT_EQ(receiver.requests()[0].method, "GET");
  EXPECT_EQ(receiver.requests()[0].path, "/realms/plant/certs");
  receiver.set_status(200);  // answers 200 with a body that is no JWKS
  v = OidcVerifier::make(o, clock_);
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_NE(v.status().message().find("': JWKS: "), std::string::npos) << v.status().message();
}

TEST_F(OidcTest, OptionsAreCheckedByMake) {
  OidcOptions o = options();
  o.jwks_url = "https://login.example.com/certs";  // and jwks_file
  EXPECT_EQ(OidcVerifier::make(o, clock_).status().message(),
            "OIDC options: jwks_file, jwks_url: exactly one of them is needed");
  o = options();
  o.issuer.clear();
  EXPECT_EQ(OidcVerifier::make(o, clock_).status().message(), "OIDC options: issuer: missing");
  EXPECT_TRUE(check_jwks_url("https://login.example.com/certs").ok());
  EXPECT_TRUE(check_jwks_url("http://127.0.0.1:8080/certs").ok());
  EXPECT_TRUE(check_jwks_url("http://localhost/certs").ok());
  EXPECT_TRUE(check_jwks_url("http://[::1]:80/certs").ok());
  EXPECT_FALSE(check_jwks_url("http://login.example.com/certs").ok());
  EXPECT_FALSE(check_jwks_url("http://127.0.0.1@evil.example/certs").ok());
  EXPECT_FALSE(check_jwks_url("http://127.0.0.1.evil.example/certs").ok());
  EXPECT_FALSE(check_jwks_url("ftp://x/certs").ok());
}

TEST_F(OidcTest, ManyThreadsVerifyWhileTheKeysRotate) {
  OidcOptions o = options();
  o.jwks_file.clear();
  o.jwks_url = "file://" + jwks_path();
  auto v = verifier(o);
  const std::string t1 = token(claims(), *rsa1_);
  const std::string t2 = token(claims(), *ec1_);
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      while (!stop) {
        if (!v->verify(i % 2 == 0 ? t1 : t2).ok()) ++failures;
      }
    });
  }
  for (int round = 0; round < 20; ++round) {  // each round: a new kid, so a reload
    write_jwks({rsa1_, ec1_, round % 2 == 0 ? rsa2_ : ec2_});
    advance(seconds(31));
    (void)v->verify(token(claims(), round % 2 == 0 ? *rsa2_ : *ec2_));
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(v->jwks_status().loads, 10u);
}

// ---- the [api.oidc] config table ----

struct ReadResult {
  OidcOptions options;
  std::vector<std::string> errors;
};

ReadResult read(const json& table) {
  ReadResult r;
  const std::string base_dir = "/etc/sluice";  // the table keeps a reference to it
  runtime::JsonTable t(table, "api.oidc", base_dir, r.errors);
  r.options = read_oidc_options(t);
  t.report_unknown_keys();
  return r;
}

TEST(OidcConfigTest, ReadsEveryKey) {
  ReadResult r = read({{"issuer", kIssuer},
                       {"audience", "sluice"},
                       {"jwks_url", "https://login.example.com/realms/plant/certs"},
                       {"jwks_ca_file", "ca.pem"},
                       {"org_claim", "tenant"},
                       {"role_claim", "realm_access.roles"},
                       {"name_claim", "email"},
                       {"role_map", {{"sluice-admin", "admin"}, {"plant-ops", "operator"}}},
                       {"default_role", "viewer"},
                       {"leeway", "30s"},
                       {"jwks_refresh", "2h"}});
  ASSERT_TRUE(r.errors.empty()) << r.errors.front();
  const OidcOptions& o = r.options;
  EXPECT_EQ(o.issuer, kIssuer);
  EXPECT_EQ(o.audience, "sluice");
  EXPECT_EQ(o.jwks_url, "https://login.example.com/realms/plant/certs");
  EXPECT_EQ(o.jwks_ca_file, "/etc/sluice/ca.pem");
  EXPECT_EQ(o.org_claim, "tenant");
  EXPECT_EQ(o.role_claim, "realm_access.roles");
  EXPECT_EQ(o.name_claim, "email");
  EXPECT_EQ(o.role_map, (std::map<std::string, Role>{{"sluice-admin", Role::kAdmin},
                                                     {"plant-ops", Role::kOperator}}));
  EXPECT_EQ(o.default_role, Role::kViewer);
  EXPECT_EQ(o.leeway, seconds(30));
  EXPECT_EQ(o.jwks_refresh, minutes(120));
  EXPECT_TRUE(check_oidc_options(o).ok());
}

TEST(OidcConfigTest, DefaultsAreTheDocumentedOnes) {
  ReadResult r = read({{"issuer", kIssuer}, {"jwks_file", "jwks.json"}});
  ASSERT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(r.options.jwks_file, "/etc/sluice/jwks.json");
  EXPECT_EQ(r.options.audience, "");
  EXPECT_EQ(r.options.org_claim, "org");
  EXPECT_EQ(r.options.role_claim, "role");
  EXPECT_EQ(r.options.name_claim, "preferred_username");
  EXPECT_EQ(r.options.role_map.size(), 3u);
  EXPECT_EQ(r.options.default_role, std::nullopt);
  EXPECT_EQ(r.options.leeway, seconds(60));
  EXPECT_EQ(r.options.jwks_refresh, minutes(60));
}

TEST(OidcConfigTest, ErrorsNameTheKey) {
  ReadResult r = read(json::object());
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].rfind("key 'api.oidc.issuer': missing", 0), 0u) << r.errors[0];
  EXPECT_EQ(r.errors[1].rfind("key 'api.oidc.jwks_url': missing", 0), 0u) << r.errors[1];

  r = read({{"issuer", kIssuer}, {"jwks_file", "a.json"}, {"jwks_url", "https://x/certs"}});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "key 'api.oidc.jwks_url': give jwks_file or jwks_url, not both");

  r = read({{"issuer", kIssuer}, {"jwks_url", "http://idp.example/certs"}});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("key 'api.oidc.jwks_url': expected an https:// URL", 0), 0u)
      << r.errors[0];

  r = read({{"issuer", kIssuer},
            {"jwks_file", "a.json"},
            {"role_map", {{"boss", "superuser"}}},
            {"default_role", "root"},
            {"leeway", "1h"},
            {"jwks_refresh", "10s"},
            {"orgclaim", "x"}});
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors[0],
            "key 'api.oidc.role_map': the value of 'boss' is not a role; expected \"admin\", "
            "\"operator\" or \"viewer\"");
  EXPECT_EQ(r.errors[1].rfind("key 'api.oidc.default_role': expected \"admin\"", 0), 0u)
      << r.errors[1];
  EXPECT_EQ(r.errors[2].rfind("key 'api.oidc.leeway': expected a duration from 0s to 10m", 0), 0u)
      << r.errors[2];
  EXPECT_EQ(r.errors[3].rfind("key 'api.oidc.jwks_refresh': expected a duration from 1m", 0), 0u)
      << r.errors[3];
  EXPECT_EQ(r.errors[4].rfind("key 'api.oidc.orgclaim': unknown key", 0), 0u) << r.errors[4];
}

}  // namespace
}  // namespace sluice::auth
