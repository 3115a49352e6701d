// libFuzzer entry for the REST API's JSON request bodies (body in api_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/api_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::api_bodies(data, size);
}
