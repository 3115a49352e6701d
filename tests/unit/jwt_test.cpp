// Compact JWS parsing, JWKS parsing and RS256/ES256 signatures (auth/jwt.h), with keys made here
// by OpenSSL (RSA 2048, EC P-256) and tokens signed here by a small signer that is not in src.
#include "auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>
#include <string>

#include "auth/crypto.h"
#include "fixtures/jwt_signer.h"

namespace sluice::auth {
namespace {

using json = nlohmann::json;

using testing::b64json;
using testing::ec_key;
using testing::rsa_key;
using testing::TestKey;

// A token with this header and these claims, signed by `key`.
std::string sign_token(const json& header, const json& claims, const TestKey& key) {
  const std::string input = b64json(header) + "." + b64json(claims);
  return input + "." + base64url(key.sign(input));
}

json jwks_of(std::initializer_list<const TestKey*> keys) {
  json arr = json::array();
  for (const TestKey* k : keys) arr.push_back(k->jwk());
  return {{"keys", arr}};
}

// RSA key generation costs tens of ms: the suite makes its keys once.
const TestKey& suite_rsa() {
  static const TestKey key = rsa_key("rsa1");
  return key;
}
const TestKey& suite_ec() {
  static const TestKey key = ec_key("ec1");
  return key;
}

class JwtTest : public ::testing::Test {
 protected:
  JwkSet keys() const {
    Result<JwkSet> set = parse_jwks(jwks_of({rsa_, ec_}).dump());
    EXPECT_TRUE(set.ok()) << set.status().to_string();
    return std::move(set).value();
  }
  static json header(const char* alg, const std::string& kid) {
    return {{"alg", alg}, {"typ", "JWT"}, {"kid", kid}};
  }
  static const json& claims() {
    static const json c = {{"iss", "https://idp"}, {"sub", "u1"}, {"exp", 2000000000}};
    return c;
  }

  const TestKey* rsa_ = &suite_rsa();
  const TestKey* ec_ = &suite_ec();
};

// A token with its header replaced by `h` (the payload and signature as they were).
std::string with_header(const std::string& token, const json& h) {
  return b64json(h) + token.substr(token.find('.'));
}

// ---- base64url ----

TEST(Base64urlTest, DecodesOnlyCanonicalUnpaddedText) {
  EXPECT_EQ(base64url_decode(""), std::string());
  EXPECT_EQ(base64url_decode("Zg"), std::string("f"));
  EXPECT_EQ(base64url_decode("Zm8"), std::string("fo"));
  EXPECT_EQ(base64url_decode("Zm9v"), std::string("foo"));
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff"));
  EXPECT_EQ(base64url_decode("Zg=="), std::nullopt) << "padding";
  EXPECT_EQ(base64url_decode("Zm9v+/"), std::nullopt) << "the standard alphabet";
  EXPECT_EQ(base64url_decode("Zm9vY"), std::nullopt) << "a length no bytes encode to";
  EXPECT_EQ(base64url_decode("Zh"), std::nullopt) << "non-zero unused bits";
  EXPECT_EQ(base64url_decode("Zm 9v"), std::nullopt);
  for (const std::string s : {"", "a", "ab", "abc", "\x00\xff\x10 binary"}) {
    EXPECT_EQ(base64url_decode(base64url(s)), s);
  }
}

// ---- good tokens ----

TEST_F(JwtTest, Rs256TokenVerifiesWithItsRsaKey) {
  const std::string token = sign_token(header("RS256", "rsa1"), claims(), *rsa_);
  Result<Jwt> jwt = parse_jwt(token);
  ASSERT_TRUE(jwt.ok()) << jwt.status().to_string();
  EXPECT_EQ(jwt->alg, JwsAlg::kRS256);
  EXPECT_EQ(jwt->kid, "rsa1");
  EXPECT_EQ(jwt->typ, "JWT");
  EXPECT_EQ(jwt->claims, claims());
  EXPECT_EQ(jwt->signature.size(), 256u);
  const JwkSet set = keys();
  ASSERT_NE(set.find("rsa1"), nullptr);
  EXPECT_TRUE(verify_jws(*jwt, *set.find("rsa1")).ok());
}

TEST_F(JwtTest, Es256TokenVerifiesWithItsP256Key) {
  const std::string token = sign_token(header("ES256", "ec1"), claims(), *ec_);
  Result<Jwt> jwt = parse_jwt(token);
  ASSERT_TRUE(jwt.ok()) << jwt.status().to_string();
  EXPECT_EQ(jwt->alg, JwsAlg::kES256);
  EXPECT_EQ(jwt->signature.size(), 64u);
  const JwkSet set = keys();
  Status st = verify_jws(*jwt, *set.find("ec1"));
  EXPECT_TRUE(st.ok()) << st.to_string();
}

// ---- bad signatures ----

TEST_F(JwtTest, SignatureByAnotherKeyDoesNotVerify) {
  const TestKey other = rsa_key("rsa1");
  const std::string token = sign_token(header("RS256", "rsa1"), claims(), other);
  Result<Jwt> jwt = parse_jwt(token);
  ASSERT_TRUE(jwt.ok());
  Status st = verify_jws(*jwt, *keys().find("rsa1"));
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_EQ(st.message(), "JWT signature: does not verify with key 'rsa1'");

  const TestKey other_ec = ec_key("ec1");
  jwt = parse_jwt(sign_token(header("ES256", "ec1"), claims(), other_ec));
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(verify_jws(*jwt, *keys().find("ec1")).code(), Code::kPermissionDenied);
}

TEST_F(JwtTest, TamperedPayloadDoesNotVerify) {
  for (const TestKey* key : {rsa_, ec_}) {
    const std::string token =
        sign_token(header(key->ec ? "ES256" : "RS256", key->kid), claims(), *key);
    json changed = claims();
    changed["sub"] = "admin";
    const size_t dot1 = token.find('.');
    const size_t dot2 = token.find('.', dot1 + 1);
    const std::string tampered = token.substr(0, dot1 + 1) + b64json(changed) + token.substr(dot2);
    Result<Jwt> jwt = parse_jwt(tampered);
    ASSERT_TRUE(jwt.ok());
    EXPECT_EQ(verify_jws(*jwt, *keys().find(key->kid)).code(), Code::kPermissionDenied) << key->kid;
  }
}

TEST_F(JwtTest, Es256SignatureOfAnyLengthButSixtyFourIsRefused) {
  const std::string token = sign_token(header("ES256", "ec1"), claims(), *ec_);
  const std::string input = token.substr(0, token.rfind('.'));
  Result<Jwt> good = parse_jwt(token);
  ASSERT_TRUE(good.ok());
  for (size_t len : {63u, 65u, 70u, 32u}) {
    std::string sig = good->signature;
    sig.resize(len, '\x01');
    Result<Jwt> jwt = parse_jwt(input + "." + base64url(sig));
    ASSERT_TRUE(jwt.ok());
    Status st = verify_jws(*jwt, *keys().find("ec1"));
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << len;
    EXPECT_EQ(st.message(),
              "JWT signature: " + std::to_string(len) + " bytes; ES256 has 64 (R and S)");
  }
}

TEST_F(JwtTest, Rs256SignatureShorterThanTheModulusIsRefused) {
  const std::string token = sign_token(header("RS256", "rsa1"), claims(), *rsa_);
  Result<Jwt> good = parse_jwt(token);
  ASSERT_TRUE(good.ok());
  const std::string shorter = good->signature.substr(0, good->signature.size() - 3);
  Result<Jwt> jwt = parse_jwt(good->signing_input + "." + base64url(shorter));
  ASSERT_TRUE(jwt.ok()) << jwt.status().to_string();
  Status st = verify_jws(*jwt, *keys().find("rsa1"));
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("RS256 with key 'rsa1' has 256"), std::string::npos) << st.message();
}

TEST_F(JwtTest, Rs256HeaderWithAnEcKeyIsRefused) {
  // An RS256 token naming the EC key's kid: the key decides how it is checked.
  const std::string token = sign_token(header("RS256", "ec1"), claims(), *rsa_);
  Result<Jwt> jwt = parse_jwt(token);
  ASSERT_TRUE(jwt.ok());
  Status st = verify_jws(*jwt, *keys().find("ec1"));
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_EQ(st.message(), "JWT header: alg 'RS256' does not fit key 'ec1' (EC P-256)");

  jwt = parse_jwt(sign_token(header("ES256", "rsa1"), claims(), *ec_));
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(verify_jws(*jwt, *keys().find("rsa1")).code(), Code::kPermissionDenied);
}

// ---- refused algorithms and headers ----

TEST_F(JwtTest, AlgNoneAndHmacAreRefusedWhenParsed) {
  const std::string token = sign_token(header("RS256", "rsa1"), claims(), *rsa_);
  for (const char* alg : {"none", "HS256", "HS512", "RS384", "PS256", "ES384", "EdDSA", "rs256"}) {
    json h = header(alg, "rsa1");
    Result<Jwt> jwt = parse_jwt(with_header(token, h));
    ASSERT_FALSE(jwt.ok()) << alg;
    EXPECT_EQ(jwt.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(jwt.status().message(),
              std::string("JWT header: alg '") + alg + "' is not accepted (RS256, ES256)");
  }
  // The unsigned form: "header.payload." with an empty signature.
  const std::string none = b64json({{"alg", "none"}}) + "." + b64json(claims()) + ".";
  EXPECT_EQ(parse_jwt(none).status().message(),
            "JWT header: alg 'none' is not accepted (RS256, ES256)");
  EXPECT_EQ(parse_jwt(with_header(token, {{"typ", "JWT"}})).status().message(),
            "JWT header: no 'alg'");
  EXPECT_EQ(parse_jwt(with_header(token, {{"alg", 256}})).status().message(),
            "JWT header: 'alg' is not a string");
}

TEST_F(JwtTest, TypOtherThanJwtOrAccessTokenIsRefused) {
  const std::string token = sign_token(header("RS256", "rsa1"), claims(), *rsa_);
  for (const char* typ : {"JWT", "jwt", "at+jwt", "application/at+JWT"}) {
    json h = header("RS256", "rsa1");
    h["typ"] = typ;
    EXPECT_TRUE(parse_jwt(with_header(token, h)).ok()) << typ;
  }
  json h = header("RS256", "rsa1");
  h["typ"] = "logout+jwt";
  EXPECT_EQ(parse_jwt(with_header(token, h)).status().message(),
            "JWT header: typ 'logout+jwt' is not accepted (JWT, at+jwt)");
  h = header("RS256", "rsa1");
  h.erase("typ");
  EXPECT_TRUE(parse_jwt(with_header(token, h)).ok()) << "typ is optional";
}

TEST_F(JwtTest, CriticalHeaderExtensionIsRefused) {
  const std::string token = sign_token(header("RS256", "rsa1"), claims(), *rsa_);
  json h = header("RS256", "rsa1");
  h["crit"] = {"b64"};
  EXPECT_EQ(parse_jwt(with_header(token, h)).status().message(),
            "JWT header: 'crit' names extensions that are not supported");
}

// ---- garbage ----

TEST_F(JwtTest, TokenThatIsNotThreePartsIsRefused) {
  for (const char* text : {"", "abc", "a.b", "a.b.c.d", "a.b.c.d.e", "...", "slu_abc"}) {
    Result<Jwt> jwt = parse_jwt(text);
    ASSERT_FALSE(jwt.ok()) << text;
    EXPECT_EQ(jwt.status().code(), Code::kInvalidArgument);
  }
  EXPECT_NE(parse_jwt("a.b").status().message().find("three base64url parts"), std::string::npos);
}

TEST_F(JwtTest, PartThatIsNotBase64urlIsRefusedNamingThePart) {
  const std::string token = sign_token(header("RS256", "rsa1"), claims(), *rsa_);
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  EXPECT_EQ(parse_jwt("e30=" + token.substr(dot1)).status().message(),
            "JWT header: not base64url (without padding)");
  EXPECT_EQ(parse_jwt(token.substr(0, dot1) + ".ey*J9" + token.substr(dot2)).status().message(),
            "JWT payload: not base64url (without padding)");
  EXPECT_EQ(parse_jwt(token.substr(0, dot2) + ".AAAA+AAA").status().message(),
            "JWT signature: not base64url (without padding)");
  EXPECT_EQ(parse_jwt(token.substr(0, dot2) + ".").status().message(), "JWT signature: empty");
  EXPECT_EQ(parse_jwt(base64url("not json") + token.substr(dot1)).status().message(),
            "JWT header: not JSON (at byte 2)");
  EXPECT_EQ(parse_jwt(base64url("[1]") + token.substr(dot1)).status().message(),
            "JWT header: not a JSON object");
  EXPECT_EQ(parse_jwt(token.substr(0, dot1) + "." + base64url("\"x\"") + token.substr(dot2))
                .status()
                .message(),
            "JWT payload: not a JSON object");
}

TEST_F(JwtTest, HugeTokenIsRefusedBeforeItIsDecoded) {
  json big = claims();
  big["pad"] = std::string(kMaxJwtBytes, 'x');
  const std::string token = sign_token(header("RS256", "rsa1"), big, *rsa_);
  Result<Jwt> jwt = parse_jwt(token);
  ASSERT_FALSE(jwt.ok());
  EXPECT_EQ(jwt.status().message(),
            "JWT: " + std::to_string(token.size()) + " bytes; at most 16384 are accepted");
}

TEST_F(JwtTest, DeeplyNestedClaimsAreRefused) {
  std::string deep = std::string(kMaxJwtDepth, '[') + std::string(kMaxJwtDepth, ']');
  std::string payload = "{\"a\":" + deep + "}";  // one level deeper than allowed
  const std::string token = b64json(header("RS256", "rsa1")) + "." + base64url(payload) + ".AAAA";
  EXPECT_EQ(parse_jwt(token).status().message(), "JWT payload: JSON nested deeper than 16 levels");
  // Brackets inside strings are not nesting.
  json c = claims();
  c["s"] = std::string(100, '[');
  EXPECT_TRUE(parse_jwt(sign_token(header("RS256", "rsa1"), c, *rsa_)).ok());
}

// ---- JWKS ----

TEST_F(JwtTest, JwksGivesRsaAndP256KeysByKid) {
  const JwkSet set = keys();
  ASSERT_EQ(set.keys.size(), 2u);
  EXPECT_EQ(set.find("rsa1")->type, KeyType::kRsa);
  EXPECT_EQ(set.find("rsa1")->bits, 2048u);
  EXPECT_EQ(set.find("ec1")->type, KeyType::kEcP256);
  EXPECT_EQ(set.find("nope"), nullptr);
  EXPECT_EQ(set.find(""), nullptr) << "no kid: only when the set has exactly one key";
  Result<JwkSet> one = parse_jwks(jwks_of({ec_}).dump());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->find(""), &one->keys.front());
}

TEST_F(JwtTest, JwksSkipsKeysThatAreNotForSigningWithOurAlgorithms) {
  json doc = jwks_of({rsa_});
  json enc = rsa_->jwk();
  enc["kid"] = "enc1";
  enc["use"] = "enc";
  enc["alg"] = "RSA-OAEP";
  json oct = {{"kty", "oct"}, {"kid", "h1"}, {"k", "AAAA"}};
  json p384 = {{"kty", "EC"}, {"crv", "P-384"}, {"kid", "p384"}, {"x", "AA"}, {"y", "AA"}};
  json ps256 = rsa_->jwk();
  ps256["kid"] = "ps";
  ps256["alg"] = "PS256";
  for (const json& k : {enc, oct, p384, ps256}) doc["keys"].push_back(k);
  Result<JwkSet> set = parse_jwks(doc.dump());
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  EXPECT_EQ(set->keys.size(), 1u);
  ASSERT_EQ(set->skipped.size(), 4u);
  EXPECT_EQ(set->skipped[0], "JWKS key 1 (kid 'enc1'): use 'enc' (not a signing key)");
  EXPECT_EQ(set->skipped[1], "JWKS key 2 (kid 'h1'): kty 'oct' (only RSA and EC are used)");
  EXPECT_EQ(set->skipped[2], "JWKS key 3 (kid 'p384'): crv 'P-384' (only P-256 is used)");
  EXPECT_EQ(set->skipped[3], "JWKS key 4 (kid 'ps'): alg 'PS256' (only RS256 and ES256 are used)");
}

TEST_F(JwtTest, JwksErrorNamesTheKeyItsKidAndTheField) {
  json doc = jwks_of({rsa_, ec_});
  json bad = rsa_->jwk();
  bad["kid"] = "abc";
  bad["n"] = "not*base64";
  doc["keys"].push_back(bad);
  Result<JwkSet> set = parse_jwks(doc.dump());
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(set.status().message(), "JWKS key 2 (kid 'abc'): field 'n' is not base64url");

  bad.erase("n");
  doc["keys"][2] = bad;
  EXPECT_EQ(parse_jwks(doc.dump()).status().message(),
            "JWKS key 2 (kid 'abc'): field 'n' is missing");
  json ec_bad = ec_->jwk();
  ec_bad.erase("kid");
  ec_bad["y"] = ec_bad["x"];  // almost surely not on the curve
  doc["keys"][2] = ec_bad;
  EXPECT_EQ(parse_jwks(doc.dump()).status().message(),
            "JWKS key 2: the EC point ('x', 'y') is not on the P-256 curve");
  json short_x = ec_->jwk();
  short_x["kid"] = "s";
  short_x["x"] = base64url(std::string(31, '\x01'));
  doc["keys"][2] = short_x;
  EXPECT_EQ(parse_jwks(doc.dump()).status().message(),
            "JWKS key 2 (kid 's'): a P-256 coordinate ('x', 'y') has 32 bytes; got 31 and 32");
}

TEST_F(JwtTest, JwksRefusesSmallRsaKeysPrivateMaterialAndDuplicateKids) {
  const TestKey small = rsa_key("small", 1024);
  EXPECT_EQ(parse_jwks(jwks_of({&small}).dump()).status().message(),
            "JWKS key 0 (kid 'small'): the RSA modulus has 1024 bits; 2048 to 8192 are accepted");
  json priv = jwks_of({ec_});
  priv["keys"][0]["d"] = "AAAA";
  EXPECT_EQ(parse_jwks(priv.dump()).status().message(),
            "JWKS key 0 (kid 'ec1'): holds private key material (field 'd'); a JWKS must "
            "publish only public keys");
  EXPECT_EQ(parse_jwks(jwks_of({rsa_, ec_, rsa_}).dump()).status().message(),
            "JWKS key 2 (kid 'rsa1'): the kid is used by an earlier key too");
  json mismatch = jwks_of({ec_});
  mismatch["keys"][0]["alg"] = "RS256";
  EXPECT_EQ(parse_jwks(mismatch.dump()).status().message(),
            "JWKS key 0 (kid 'ec1'): alg 'RS256' does not fit a EC P-256 key");
  json e_one = jwks_of({rsa_});
  e_one["keys"][0]["e"] = "AQ";  // e = 1
  EXPECT_EQ(parse_jwks(e_one.dump()).status().message(),
            "JWKS key 0 (kid 'rsa1'): the RSA exponent 'e' is not an odd number of at least 3");
}

TEST_F(JwtTest, JwksThatIsNotAKeySetIsRefused) {
  EXPECT_EQ(parse_jwks("").status().message(), "JWKS: not JSON (at byte 1)");
  EXPECT_EQ(parse_jwks("[]").status().message(), "JWKS: not a JSON object");
  EXPECT_EQ(parse_jwks(R"({"keys": {}})").status().message(),
            "JWKS: no 'keys' array (a JWKS is {\"keys\": [...]})");
  EXPECT_EQ(parse_jwks(R"({"keys": []})").status().message(),
            "JWKS: no usable key (an RSA or EC P-256 signing key)");
  EXPECT_EQ(parse_jwks(R"({"keys": [{"kty": "oct", "k": "AA"}]})").status().message(),
            "JWKS: no usable key (an RSA or EC P-256 signing key); skipped: JWKS key 0: kty "
            "'oct' (only RSA and EC are used)");
  EXPECT_EQ(parse_jwks(R"({"keys": [7]})").status().message(), "JWKS key 0: not a JSON object");
  json many = {{"keys", json::array()}};
  for (size_t i = 0; i <= kMaxJwksKeys; ++i) many["keys"].push_back({{"kty", "oct"}});
  EXPECT_EQ(parse_jwks(many.dump()).status().message(), "JWKS: 101 keys; at most 100 are accepted");
  EXPECT_EQ(parse_jwks(std::string(kMaxJwksBytes + 1, ' ')).status().message(),
            "JWKS: 1048577 bytes; at most 1048576 are accepted");
  EXPECT_EQ(parse_jwks(std::string(100, '[')).status().message(),
            "JWKS: JSON nested deeper than 8 levels");
}

}  // namespace
}  // namespace sluice::auth
