// libFuzzer entry for the JSON control request parser (body in control_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/control_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::control_request(data, size);
}
