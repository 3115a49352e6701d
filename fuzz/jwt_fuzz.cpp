// libFuzzer entry for the bearer JWT and JWKS parsers; the body is in jwt_targets.cpp.
#include <cstddef>
#include <cstdint>

#include "fuzz/jwt_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::jwt(data, size);
}
