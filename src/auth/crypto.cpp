// argon2id through libargon2, randomness and SHA-256 through OpenSSL.
#include "auth/crypto.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <vector>

namespace sluice::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kFirstAdminPasswordBytes = 18;

}  // namespace

Status check_password_policy(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return invalid_argument("the password is too short: " + std::to_string(password.size()) +
                            " characters; at least " + std::to_string(kMinPasswordLength) +
                            " are needed (a passphrase of a few words is easy to remember)");
  }
  if (password.size() > kMaxPasswordLength) {
    return invalid_argument("the password is too long: at most " +
                            std::to_string(kMaxPasswordLength) + " characters");
  }
  return Status::ok_status();
}

Result<std::string> hash_password(std::string_view password, const PasswordParams& params) {
  SLUICE_ASSIGN_OR_RETURN(std::string salt, random_bytes(kSaltBytes));
  const size_t len = argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                       kSaltBytes, kHashBytes, Argon2_id);
  std::vector<char> encoded(len);
  const int rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                                       password.data(), password.size(), salt.data(), salt.size(),
                                       kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return internal_error(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  return std::string(encoded.data());
}

Result<bool> verify_password(std::string_view password, const std::string& encoded) {
  if (encoded.rfind("$argon2id$", 0) != 0) {
    return corruption("a stored password hash is not an argon2id hash");
  }
  const int rc = argon2id_verify(encoded.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  return corruption(std::string("a stored password hash cannot be checked: ") +
                    argon2_error_message(rc));
}

Result<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return internal_error("OpenSSL RAND_bytes could not deliver random bytes");
  }
  return out;
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                       (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                       uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> new_token_text() {
  SLUICE_ASSIGN_OR_RETURN(std::string secret, random_bytes(kTokenRandomBytes));
  return std::string(kTokenPrefix) + base64url(secret);
}

bool looks_like_token(std::string_view text) {
  if (text.size() != kTokenTextLength || text.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return false;
  }
  for (char c : text.substr(kTokenPrefix.size())) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> random_password() {
  SLUICE_ASSIGN_OR_RETURN(std::string bytes, random_bytes(kFirstAdminPasswordBytes));
  return base64url(bytes);
}

}  // namespace sluice::auth
