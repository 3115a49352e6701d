// The body of the jwt fuzz target (see jwt_targets.h).
#include "fuzz/jwt_targets.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/crypto.h"
#include "auth/jwt.h"

namespace {

using sluice::Code;
using sluice::Result;
namespace auth = sluice::auth;

// Public keys whose private halves were thrown away after they were made.
constexpr std::string_view kFixedJwks = R"({"keys": [
  {"kty": "RSA", "kid": "rsa", "use": "sig", "alg": "RS256", "e": "AQAB",
   "n": "0Vhb6unf-0bcVELJNpicEnf41Jjuh8Lq3AwbbLk6fc_Ju2WIIuzaTbpycCriVREvjiET8GxU60YfbxVEnoI7K36LDV54Yk2iOotqXugwJ8bWPhmImDaS2NpmPn3bXvpwZzWL9JAg-g4vC1aHB38rxnQkWyzi2vOh0PdqO5Kp-tKLJ1CbopqL_ehMj2cLgBIWZzwyh6m2F4V3nicotg3zVuFHqBXQfXsQOtBdjeVyHsNA2_n9oZKM39cNkkLnRqNYGCvwcDJqSfuMvV6vqSQp2eMTMSV9rpoYrkY_8guvAClV_VytfhrC5BQ9Wk-J5l3vvMWCcU1RlHxGRuHyOUHoPw"},
  {"kty": "EC", "kid": "ec", "crv": "P-256",
   "x": "Yv0LUCJFxtcUoeGn3cD9JIwxfZr5Ez5z2kS1_bkpX4w",
   "y": "eFbOI37O3WuoHaifXkvn2qqFe_yQHTFZtU20q7MMJOo"}]})";

const auth::JwkSet& fixed_keys() {
  static const auth::JwkSet keys = [] {
    Result<auth::JwkSet> set = auth::parse_jwks(kFixedJwks);
    if (!set.ok()) abort();
    return std::move(set).value();
  }();
  return keys;
}

void check_refusal(const sluice::Status& status) {
  if (status.message().empty() || status.code() != Code::kInvalidArgument) abort();
}

void fuzz_jwt(std::string_view text) {
  Result<auth::Jwt> jwt = auth::parse_jwt(text);
  if (!jwt.ok()) {
    check_refusal(jwt.status());
    return;
  }
  if (text.size() > auth::kMaxJwtBytes || jwt->signature.empty() ||
      jwt->kid.size() > auth::kMaxKidLength || !jwt->header.is_object() ||
      !jwt->claims.is_object()) {
    abort();
  }
  // Canonical base64url: the signature part is exactly the encoding of the decoded bytes.
  if (text.substr(jwt->signing_input.size() + 1) != auth::base64url(jwt->signature)) abort();
  for (const auth::Jwk& key : fixed_keys().keys) {
    const sluice::Status st = auth::verify_jws(*jwt, key);
    if (st.ok() || st.message().empty()) abort();  // no forgery without the private key
  }
}

void fuzz_jwks(std::string_view text) {
  Result<auth::JwkSet> set = auth::parse_jwks(text);
  if (!set.ok()) {
    check_refusal(set.status());
    return;
  }
  if (set->keys.empty() || set->keys.size() > auth::kMaxJwksKeys) abort();
  for (const auth::Jwk& key : set->keys) {
    if (!key.key || key.kid.size() > auth::kMaxKidLength) abort();
  }
}

}  // namespace

namespace sluice::fuzz {

int jwt(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)fixed_keys();
  fuzz_jwt(text);
  fuzz_jwks(text);
  return 0;
}

}  // namespace sluice::fuzz
