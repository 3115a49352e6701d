// libFuzzer entry point for sluice::fuzz::formats (see fuzz/formats_targets.h).
#include "fuzz/formats_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::formats(data, size);
}
