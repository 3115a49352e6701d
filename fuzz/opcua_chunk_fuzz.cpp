// libFuzzer entry for the OPC UA secure channel's chunk and header decoders (body in
// opcua_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/opcua_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::opcua_chunk(data, size);
}
