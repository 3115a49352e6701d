// libFuzzer entry for the OPC UA service message decoders (decode_response / decode_request) (body
// in opcua_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/opcua_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::opcua_response(data, size);
}
