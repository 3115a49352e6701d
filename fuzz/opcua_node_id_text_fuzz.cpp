// libFuzzer entry for the OPC UA node id, guid and base64 text parsers (body in
// opcua_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/opcua_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::opcua_node_id_text(data, size);
}
