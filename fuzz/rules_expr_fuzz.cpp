// libFuzzer entry for the expression language's compiler (body in rules_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/rules_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::rules_expr(data, size);
}
