// libFuzzer entry for the Modbus map parser and register decoding (body in modbus_targets.cpp).
#include <cstddef>
#include <cstdint>

#include "fuzz/modbus_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::modbus_map_registers(data, size);
}
