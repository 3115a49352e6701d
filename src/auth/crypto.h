// The cryptographic primitives of authentication, in one place: password hashing (argon2id,
// libargon2), random secrets (OpenSSL RAND_bytes), token digests (SHA-256) and constant-time
// comparison. Nothing here touches the database.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::auth {

// argon2id cost parameters. The defaults (t=3 passes, m=64 MiB, p=1 lane) follow RFC 9106's
// second recommended option for memory-constrained systems: about 0.1-0.3 s and 64 MiB per hash
// on a gateway-class CPU, which is paid once per login, never per API request (requests carry a
// token). Tests pass small values so that they run fast. The parameters are stored in each
// encoded hash, so changing them does not invalidate existing passwords.
struct PasswordParams {
  uint32_t time_cost = 3;           // passes
  uint32_t memory_kib = 64 * 1024;  // KiB
  uint32_t parallelism = 1;         // lanes (and threads)
};

// The minimum password length, in bytes.
constexpr size_t kMinPasswordLength = 12;
// The maximum accepted, so that a request body cannot make hashing arbitrarily slow.
constexpr size_t kMaxPasswordLength = 1024;

// Ok, or an InvalidArgument that says what is wrong with the password (length).
Status check_password_policy(std::string_view password);

// The PHC-encoded argon2id hash ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") of `password`
// with a fresh 16-byte random salt.
Result<std::string> hash_password(std::string_view password, const PasswordParams& params);
// True if `password` matches `encoded`; false if not; an error if `encoded` is not a valid
// argon2id hash. argon2id_verify compares in constant time.
Result<bool> verify_password(std::string_view password, const std::string& encoded);

// `n` bytes from OpenSSL's CSPRNG; an error if it cannot deliver.
Result<std::string> random_bytes(size_t n);
// base64url without padding (RFC 4648 section 5).
std::string base64url(std::string_view bytes);

// The printable form of a token: "slu_" + base64url(32 random bytes) (47 characters).
constexpr std::string_view kTokenPrefix = "slu_";
constexpr size_t kTokenRandomBytes = 32;
constexpr size_t kTokenTextLength = 4 + 43;
Result<std::string> new_token_text();
// True if `text` has the shape of a token (prefix, length, alphabet); checked before hashing.
bool looks_like_token(std::string_view text);

// SHA-256 of `data`, 32 raw bytes. Tokens are stored only as this digest.
std::string sha256(std::string_view data);

// Equality of two byte strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// A random password for the first admin: 24 base64url characters (18 random bytes, 144 bits).
Result<std::string> random_password();

}  // namespace sluice::auth
