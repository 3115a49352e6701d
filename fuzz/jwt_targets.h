// Fuzz target body for the bearer JWT and JWKS parsers (auth/jwt.h): the bytes go to parse_jwt
// and to parse_jwks. A refusal must carry a message; an accepted token must be within the limits,
// its parts must be canonical base64url, and its signature is checked against a fixed RSA and
// P-256 key (which it must not pass: nobody here holds their private halves); an accepted key
// set must hold usable keys only. Shared by the libFuzzer binary and the unit test that replays
// fuzz/corpus/jwt.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
int jwt(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
