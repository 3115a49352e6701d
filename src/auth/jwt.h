// JSON Web Tokens as an OpenID Connect issuer signs them (RFC 7515 compact JWS, RFC 7519 claims,
// RFC 7517 key sets): the bytes of a bearer token are split and decoded here, and its signature
// is checked against one key of the issuer's JWKS. What the claims mean (issuer, audience,
// expiry, organization, role) is decided by oidc.h; nothing here looks at the time.
//
// Only RS256 (RSA PKCS#1 v1.5, SHA-256) and ES256 (ECDSA P-256, SHA-256) are accepted. "none",
// the HMAC algorithms (HS256...) and everything else are refused when the header is parsed, so
// that a token can never choose how it is checked; the key decides too: an RS256 token is only
// checked with an RSA key and an ES256 token only with a P-256 key.
//
// Everything here distrusts its input: a token is at most kMaxJwtBytes, a JWKS at most
// kMaxJwksBytes with at most kMaxJwksKeys keys, JSON nesting is counted before it is parsed, and
// every error says which part (and which key of a JWKS) is wrong.
//
// Thread safety: the functions are pure; a Jwk and a JwkSet may be read (verify_jws) from any
// number of threads at once (OpenSSL allows concurrent use of an EVP_PKEY that nobody changes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace sluice::auth {

inline constexpr size_t kMaxJwtBytes = 16 * 1024;  // a whole compact token
inline constexpr size_t kMaxJwtDepth = 16;         // JSON nesting in the header and the claims
inline constexpr size_t kMaxJwksBytes = 1 << 20;   // a whole JWKS document
inline constexpr size_t kMaxJwksDepth = 8;         // JSON nesting in a JWKS
inline constexpr size_t kMaxJwksKeys = 100;        // entries in "keys"
inline constexpr size_t kMinRsaBits = 2048;        // RFC 7518 section 3.3
inline constexpr size_t kMaxRsaBits = 8192;        // bounds the cost of one verification
inline constexpr size_t kMaxKidLength = 256;

enum class JwsAlg { kRS256, kES256 };
const char* jws_alg_name(JwsAlg alg);  // "RS256", "ES256"

// A compact JWS split and decoded, its signature not yet checked.
// NOLINTNEXTLINE(bugprone-exception-escape): nlohmann::json's moves are noexcept; a false alarm
struct Jwt {
  JwsAlg alg = JwsAlg::kRS256;
  std::string kid;            // "" when the header has none
  std::string typ;            // "" when the header has none
  nlohmann::json header;      // the whole header (an object)
  nlohmann::json claims;      // the whole payload (an object)
  std::string signing_input;  // "<header>.<payload>" as sent: what the signature covers
  std::string signature;      // raw bytes
};

// Splits `token` into its three base64url parts (no padding), decodes them and reads the header.
// Refused (InvalidArgument, the message names the part): longer than kMaxJwtBytes, not three
// parts, a part that is not base64url, a header or payload that is not a JSON object or is nested
// deeper than kMaxJwtDepth, an alg other than RS256/ES256, a kid that is not a string, a typ
// other than "JWT" or "at+jwt" (any case, "application/" allowed), a "crit" header (no extension
// is understood), an empty signature.
Result<Jwt> parse_jwt(std::string_view token);

// base64url (RFC 4648 section 5) without padding; nullopt on a character outside the alphabet,
// '=', a length that no byte string encodes to, or non-zero unused bits in the last character
// (so that every byte string has exactly one accepted text).
std::optional<std::string> base64url_decode(std::string_view text);

enum class KeyType { kRsa, kEcP256 };
const char* key_type_name(KeyType type);  // "RSA", "EC P-256"

struct PkeyFree {
  void operator()(evp_pkey_st* key) const;
};
using PkeyPtr = std::unique_ptr<evp_pkey_st, PkeyFree>;

// One public signing key of a JWKS.
struct Jwk {
  std::string kid;  // "" when the key has none
  KeyType type = KeyType::kRsa;
  std::optional<JwsAlg> alg;  // the key's "alg", when it states one
  size_t bits = 0;            // RSA modulus size; 256 for P-256
  PkeyPtr key;                // never null in a parsed key

  // The algorithm this key verifies: RS256 for RSA, ES256 for P-256.
  JwsAlg verifies() const { return type == KeyType::kRsa ? JwsAlg::kRS256 : JwsAlg::kES256; }
};

struct JwkSet {
  std::vector<Jwk> keys;             // the usable keys, in document order
  std::vector<std::string> skipped;  // why each other entry was left out, for logs

  // The key with this kid; with kid "" the only key when there is exactly one. nullptr if none.
  const Jwk* find(std::string_view kid) const;
};

// Parses a JWKS document ({"keys": [...]}). Entries that are not for us are skipped and noted in
// `skipped`: "use" other than "sig" (encryption keys), a kty other than RSA and EC, an EC curve
// other than P-256, an "alg" other than RS256/ES256. An entry that is for us but wrong refuses
// the whole document, naming it: "JWKS key 2 (kid 'abc'): field 'n' is not base64url". Also
// refused: private key members ("d", ...), an RSA modulus outside 2048-8192 bits, an EC point
// not on the curve, a kid used twice, no usable key at all. All errors are InvalidArgument.
Result<JwkSet> parse_jwks(std::string_view text);

// Checks the signature of `jwt` with `key`: PermissionDenied if it does not verify or if the
// token's alg does not fit the key (type, or the key's own "alg"); InvalidArgument if the
// signature has the wrong length (RS256: the modulus size; ES256: 64 bytes, R||S).
Status verify_jws(const Jwt& jwt, const Jwk& key);

// The deepest nesting of JSON arrays and objects in `text` (strings skipped), counted before
// parsing so that a hostile document cannot make the parser or the value recurse deeply.
size_t json_nesting_depth(std::string_view text);

}  // namespace sluice::auth
