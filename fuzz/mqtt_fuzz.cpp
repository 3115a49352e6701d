// libFuzzer entry for the MQTT packet decoders (body in mqtt_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/mqtt_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::mqtt_packets(data, size);
}
