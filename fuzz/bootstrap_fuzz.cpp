// libFuzzer entry for device bootstrap's config bodies and encrypted answers (body in
// bootstrap_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/bootstrap_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::bootstrap(data, size);
}
