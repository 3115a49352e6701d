// Compact JWS parsing, JWKS parsing and RS256/ES256 signature checks with OpenSSL 3 (see jwt.h).
#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace sluice::auth {
namespace {

using json = nlohmann::json;

constexpr size_t kP256CoordinateBytes = 32;
constexpr size_t kEs256SignatureBytes = 2 * kP256CoordinateBytes;  // R || S
constexpr size_t kMaxRsaExponentBytes = 8;
constexpr size_t kShownChars = 64;  // how much of an outside string a message repeats
constexpr std::string_view kAccepted = "(RS256, ES256)";

// An outside string as a message may repeat it: at most kShownChars, control bytes as '?'.
std::string shown(std::string_view s) {
  std::string out(s.substr(0, kShownChars));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (s.size() > kShownChars) out += "...";
  return out;
}

std::optional<JwsAlg> parse_alg(std::string_view name) {
  if (name == "RS256") return JwsAlg::kRS256;
  if (name == "ES256") return JwsAlg::kES256;
  return std::nullopt;
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// typ values of a token meant for us: an ID token ("JWT") or an access token (RFC 9068).
bool accepted_typ(std::string_view typ) {
  if (typ.size() > 12 && iequals(typ.substr(0, 12), "application/")) typ.remove_prefix(12);
  return iequals(typ, "JWT") || iequals(typ, "at+jwt");
}

// A base64url part of a token holding a JSON object.
Result<json> decode_json_part(std::string_view part, std::string_view what) {
  std::optional<std::string> bytes = base64url_decode(part);
  if (!bytes) return invalid_argument(std::string(what) + ": not base64url (without padding)");
  if (json_nesting_depth(*bytes) > kMaxJwtDepth) {
    return invalid_argument(std::string(what) + ": JSON nested deeper than " +
                            std::to_string(kMaxJwtDepth) + " levels");
  }
  json value;
  try {
    value = json::parse(*bytes);
  } catch (const json::parse_error& e) {
    return invalid_argument(std::string(what) + ": not JSON (at byte " + std::to_string(e.byte) +
                            ")");
  } catch (const json::exception&) {  // a number out of range
    return invalid_argument(std::string(what) + ": not JSON that can be read (a number too large)");
  }
  if (!value.is_object()) return invalid_argument(std::string(what) + ": not a JSON object");
  return value;
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

BnPtr bignum(const std::string& bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

// An EVP_PKEY of `type_name` ("RSA", "EC") from the parameters `build` pushes; null on failure.
template <typename Build>
PkeyPtr key_from_params(const char* type_name, Build&& build) {
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !build(bld.get())) return nullptr;
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return PkeyPtr(raw);
}

// Reads one JWKS entry; `where` is "JWKS key 2 (kid 'abc')". Returns nullopt (with the reason in
// `skip`) for an entry that is not a signing key we use.
class JwkReader {
 public:
  JwkReader(const json& entry, std::string where) : e_(entry), where_(std::move(where)) {}

  Status error(const std::string& what) const { return invalid_argument(where_ + ": " + what); }

  // The base64url member `name` decoded; an error if absent, not a string or not base64url.
  Result<std::string> bytes(const char* name) const {
    auto it = e_.find(name);
    if (it == e_.end()) return error(std::string("field '") + name + "' is missing");
    if (!it->is_string()) return error(std::string("field '") + name + "' is not a string");
    std::optional<std::string> b = base64url_decode(it->get_ref<const std::string&>());
    if (!b) return error(std::string("field '") + name + "' is not base64url");
    if (b->empty()) return error(std::string("field '") + name + "' is empty");
    return std::move(*b);
  }

  // An optional string member: "" when absent; an error when not a string.
  Result<std::string> text(const char* name) const {
    auto it = e_.find(name);
    if (it == e_.end()) return std::string();
    if (!it->is_string()) return error(std::string("field '") + name + "' is not a string");
    return it->get<std::string>();
  }

  Result<PkeyPtr> rsa(size_t* bits) const {
    SLUICE_ASSIGN_OR_RETURN(std::string n_bytes, bytes("n"));
    SLUICE_ASSIGN_OR_RETURN(std::string e_bytes, bytes("e"));
    if (n_bytes.size() > kMaxRsaBits / 8 + 1) {
      return error("the RSA modulus 'n' is longer than " + std::to_string(kMaxRsaBits) + " bits");
    }
    if (e_bytes.size() > kMaxRsaExponentBytes) {
      return error("the RSA exponent 'e' is longer than " + std::to_string(kMaxRsaExponentBytes) +
                   " bytes");
    }
    BnPtr n = bignum(n_bytes);
    BnPtr e = bignum(e_bytes);
    if (!n || !e) return internal_error(where_ + ": OpenSSL could not allocate a number");
    const size_t n_bits = static_cast<size_t>(BN_num_bits(n.get()));
    if (n_bits < kMinRsaBits || n_bits > kMaxRsaBits) {
      return error("the RSA modulus has " + std::to_string(n_bits) + " bits; " +
                   std::to_string(kMinRsaBits) + " to " + std::to_string(kMaxRsaBits) +
                   " are accepted");
    }
    if (!BN_is_odd(e.get()) || BN_is_one(e.get())) {
      return error("the RSA exponent 'e' is not an odd number of at least 3");
    }
    PkeyPtr key = key_from_params("RSA", [&](OSSL_PARAM_BLD* bld) {
      return OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) == 1 &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) == 1;
    });
    if (!key) return error("OpenSSL refused the RSA key");
    *bits = n_bits;
    return key;
  }

  Result<PkeyPtr> ec_p256() const {
    SLUICE_ASSIGN_OR_RETURN(std::string x, bytes("x"));
    SLUICE_ASSIGN_OR_RETURN(std::string y, bytes("y"));
    if (x.size() != kP256CoordinateBytes || y.size() != kP256CoordinateBytes) {
      return error("a P-256 coordinate ('x', 'y') has 32 bytes; got " + std::to_string(x.size()) +
                   " and " + std::to_string(y.size()));
    }
    std::string point = "\x04" + x + y;  // uncompressed point (SEC 1 section 2.3.3)
    PkeyPtr key = key_from_params("EC", [&](OSSL_PARAM_BLD* bld) {
      return OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ==
                 1 &&
             OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                              point.size()) == 1;
    });
    if (!key) return error("the EC point ('x', 'y') is not on the P-256 curve");
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
      ERR_clear_error();
      return error("the EC point ('x', 'y') is not a valid P-256 public key");
    }
    return key;
  }

 private:
  const json& e_;
  std::string where_;
};

// The members of a JWK that hold private key material (RFC 7518 sections 6.2.2, 6.3.2).
constexpr std::array<const char*, 7> kPrivateMembers = {"d", "p", "q", "dp", "dq", "qi", "oth"};

// One JWKS entry: a key, nullopt with `skip` set when it is not for us, or an error.
Result<std::optional<Jwk>> read_jwk(const json& entry, size_t index, std::string* skip) {
  std::string where = "JWKS key " + std::to_string(index);
  if (!entry.is_object()) return invalid_argument(where + ": not a JSON object");
  Jwk jwk;
  if (auto it = entry.find("kid"); it != entry.end()) {
    if (!it->is_string()) return invalid_argument(where + ": field 'kid' is not a string");
    jwk.kid = it->get<std::string>();
    if (jwk.kid.empty() || jwk.kid.size() > kMaxKidLength) {
      return invalid_argument(where + ": field 'kid' is empty or longer than " +
                              std::to_string(kMaxKidLength) + " characters");
    }
    where += " (kid '" + shown(jwk.kid) + "')";
  }
  const JwkReader r(entry, where);
  SLUICE_ASSIGN_OR_RETURN(std::string kty, r.text("kty"));
  SLUICE_ASSIGN_OR_RETURN(std::string use, r.text("use"));
  SLUICE_ASSIGN_OR_RETURN(std::string alg, r.text("alg"));
  if (kty.empty()) return r.error("field 'kty' is missing");
  if (!use.empty() && use != "sig") {
    *skip = where + ": use '" + shown(use) + "' (not a signing key)";
    return std::optional<Jwk>();
  }
  if (auto ops = entry.find("key_ops"); ops != entry.end()) {
    if (!ops->is_array()) return r.error("field 'key_ops' is not an array");
    if (std::find(ops->begin(), ops->end(), json("verify")) == ops->end()) {
      *skip = where + ": key_ops without 'verify'";
      return std::optional<Jwk>();
    }
  }
  if (kty != "RSA" && kty != "EC") {
    *skip = where + ": kty '" + shown(kty) + "' (only RSA and EC are used)";
    return std::optional<Jwk>();
  }
  if (!alg.empty()) {
    jwk.alg = parse_alg(alg);
    if (!jwk.alg) {
      *skip = where + ": alg '" + shown(alg) + "' (only RS256 and ES256 are used)";
      return std::optional<Jwk>();
    }
  }
  for (const char* member : kPrivateMembers) {
    if (entry.contains(member)) {
      return r.error(std::string("holds private key material (field '") + member +
                     "'); a JWKS must publish only public keys");
    }
  }
  if (kty == "RSA") {
    jwk.type = KeyType::kRsa;
    SLUICE_ASSIGN_OR_RETURN(jwk.key, r.rsa(&jwk.bits));
  } else {
    SLUICE_ASSIGN_OR_RETURN(std::string crv, r.text("crv"));
    if (crv.empty()) return r.error("field 'crv' is missing");
    if (crv != "P-256") {
      *skip = where + ": crv '" + shown(crv) + "' (only P-256 is used)";
      return std::optional<Jwk>();
    }
    jwk.type = KeyType::kEcP256;
    jwk.bits = 256;
    SLUICE_ASSIGN_OR_RETURN(jwk.key, r.ec_p256());
  }
  if (jwk.alg && *jwk.alg != jwk.verifies()) {
    return r.error(std::string("alg '") + alg + "' does not fit a " + key_type_name(jwk.type) +
                   " key");
  }
  return std::optional<Jwk>(std::move(jwk));
}

// ES256's raw R||S as the DER ECDSA-Sig-Value that OpenSSL verifies.
Result<std::string> ecdsa_der(std::string_view raw) {
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(p, static_cast<int>(kP256CoordinateBytes), nullptr);
  BIGNUM* s = BN_bin2bn(p + kP256CoordinateBytes, static_cast<int>(kP256CoordinateBytes), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return internal_error("JWT signature: OpenSSL could not build an ECDSA signature");
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return internal_error("JWT signature: OpenSSL could not encode it as DER");
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

const char* jws_alg_name(JwsAlg alg) { return alg == JwsAlg::kRS256 ? "RS256" : "ES256"; }

const char* key_type_name(KeyType type) { return type == KeyType::kRsa ? "RSA" : "EC P-256"; }

void PkeyFree::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

size_t json_nesting_depth(std::string_view text) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // unused bits must be zero
  return out;
}

Result<Jwt> parse_jwt(std::string_view token) {
  if (token.size() > kMaxJwtBytes) {
    return invalid_argument("JWT: " + std::to_string(token.size()) + " bytes; at most " +
                            std::to_string(kMaxJwtBytes) + " are accepted");
  }
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return invalid_argument(
        "JWT: not a compact JWS (three base64url parts separated by '.'; an encrypted JWE or an "
        "opaque token is not accepted)");
  }
  const std::string_view header_part = token.substr(0, dot1);
  const std::string_view payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_part = token.substr(dot2 + 1);
  if (header_part.empty()) return invalid_argument("JWT header: empty");
  if (payload_part.empty()) return invalid_argument("JWT payload: empty");

  Jwt jwt;
  SLUICE_ASSIGN_OR_RETURN(jwt.header, decode_json_part(header_part, "JWT header"));
  auto alg = jwt.header.find("alg");
  if (alg == jwt.header.end()) return invalid_argument("JWT header: no 'alg'");
  if (!alg->is_string()) return invalid_argument("JWT header: 'alg' is not a string");
  const std::string& alg_name = alg->get_ref<const std::string&>();
  std::optional<JwsAlg> parsed = parse_alg(alg_name);
  if (!parsed) {
    return invalid_argument("JWT header: alg '" + shown(alg_name) + "' is not accepted " +
                            std::string(kAccepted));
  }
  jwt.alg = *parsed;
  if (auto kid = jwt.header.find("kid"); kid != jwt.header.end()) {
    if (!kid->is_string()) return invalid_argument("JWT header: 'kid' is not a string");
    jwt.kid = kid->get<std::string>();
    if (jwt.kid.empty() || jwt.kid.size() > kMaxKidLength) {
      return invalid_argument("JWT header: 'kid' is empty or longer than " +
                              std::to_string(kMaxKidLength) + " characters");
    }
  }
  if (auto typ = jwt.header.find("typ"); typ != jwt.header.end()) {
    if (!typ->is_string()) return invalid_argument("JWT header: 'typ' is not a string");
    jwt.typ = typ->get<std::string>();
    if (!accepted_typ(jwt.typ)) {
      return invalid_argument("JWT header: typ '" + shown(jwt.typ) +
                              "' is not accepted (JWT, at+jwt)");
    }
  }
  if (jwt.header.contains("crit")) {
    return invalid_argument("JWT header: 'crit' names extensions that are not supported");
  }

  SLUICE_ASSIGN_OR_RETURN(jwt.claims, decode_json_part(payload_part, "JWT payload"));
  if (signature_part.empty()) return invalid_argument("JWT signature: empty");
  std::optional<std::string> signature = base64url_decode(signature_part);
  if (!signature) return invalid_argument("JWT signature: not base64url (without padding)");
  jwt.signature = std::move(*signature);
  jwt.signing_input = std::string(token.substr(0, dot2));
  return jwt;
}

const Jwk* JwkSet::find(std::string_view kid) const {
  if (kid.empty()) return keys.size() == 1 ? &keys.front() : nullptr;
  for (const Jwk& k : keys) {
    if (k.kid == kid) return &k;
  }
  return nullptr;
}

Result<JwkSet> parse_jwks(std::string_view text) {
  if (text.size() > kMaxJwksBytes) {
    return invalid_argument("JWKS: " + std::to_string(text.size()) + " bytes; at most " +
                            std::to_string(kMaxJwksBytes) + " are accepted");
  }
  if (json_nesting_depth(text) > kMaxJwksDepth) {
    return invalid_argument("JWKS: JSON nested deeper than " + std::to_string(kMaxJwksDepth) +
                            " levels");
  }
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return invalid_argument("JWKS: not JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {  // a number out of range
    return invalid_argument("JWKS: not JSON that can be read (a number too large)");
  }
  if (!doc.is_object()) return invalid_argument("JWKS: not a JSON object");
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    return invalid_argument("JWKS: no 'keys' array (a JWKS is {\"keys\": [...]})");
  }
  if (keys->size() > kMaxJwksKeys) {
    return invalid_argument("JWKS: " + std::to_string(keys->size()) + " keys; at most " +
                            std::to_string(kMaxJwksKeys) + " are accepted");
  }
  JwkSet set;
  std::set<std::string> kids;
  for (size_t i = 0; i < keys->size(); ++i) {
    std::string skip;
    SLUICE_ASSIGN_OR_RETURN(std::optional<Jwk> jwk, read_jwk((*keys)[i], i, &skip));
    if (!jwk) {
      set.skipped.push_back(std::move(skip));
      continue;
    }
    if (!jwk->kid.empty() && !kids.insert(jwk->kid).second) {
      return invalid_argument("JWKS key " + std::to_string(i) + " (kid '" + shown(jwk->kid) +
                              "'): the kid is used by an earlier key too");
    }
    set.keys.push_back(std::move(*jwk));
  }
  if (set.keys.empty()) {
    std::string why = "JWKS: no usable key (an RSA or EC P-256 signing key)";
    if (!set.skipped.empty()) why += "; skipped: " + set.skipped.front();
    if (set.skipped.size() > 1) why += " and " + std::to_string(set.skipped.size() - 1) + " more";
    return invalid_argument(why);
  }
  return set;
}

Status verify_jws(const Jwt& jwt, const Jwk& key) {
  const std::string where =
      key.kid.empty() ? std::string("the key") : "key '" + shown(key.kid) + "'";
  if (jwt.alg != key.verifies()) {
    return permission_denied(std::string("JWT header: alg '") + jws_alg_name(jwt.alg) +
                             "' does not fit " + where + " (" + key_type_name(key.type) + ")");
  }
  if (key.alg && *key.alg != jwt.alg) {
    return permission_denied(std::string("JWT header: alg '") + jws_alg_name(jwt.alg) +
                             "' differs from the alg of " + where);
  }
  std::string der;
  std::string_view signature = jwt.signature;
  if (jwt.alg == JwsAlg::kES256) {
    if (signature.size() != kEs256SignatureBytes) {
      return invalid_argument("JWT signature: " + std::to_string(signature.size()) +
                              " bytes; ES256 has 64 (R and S)");
    }
    SLUICE_ASSIGN_OR_RETURN(der, ecdsa_der(signature));
    signature = der;
  } else {
    const size_t expected = static_cast<size_t>(EVP_PKEY_get_size(key.key.get()));
    if (signature.size() != expected) {
      return invalid_argument("JWT signature: " + std::to_string(signature.size()) +
                              " bytes; RS256 with " + where + " has " + std::to_string(expected));
    }
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.key.get()) != 1) {
    return internal_error("JWT signature: OpenSSL could not start a verification");
  }
  const int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(jwt.signing_input.data()), jwt.signing_input.size());
  if (rc != 1) {
    ERR_clear_error();  // leave nothing on this thread's queue for unrelated OpenSSL callers
    return permission_denied("JWT signature: does not verify with " + where);
  }
  return Status::ok_status();
}

}  // namespace sluice::auth
