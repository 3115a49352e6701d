// libFuzzer entry point for sluice::fuzz::segment (see fuzz/targets.h).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::segment(data, size);
}
