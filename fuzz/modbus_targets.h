// Fuzz target bodies for the Modbus register decoding and map parsing (sources/modbus/),
// shared by the libFuzzer binary (fuzz/modbus_fuzz.cpp) and the unit test that replays
// fuzz/corpus/modbus.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// The input is a JSON register map, a NUL byte, then register words (big-endian byte pairs) as
// a device would answer. The map is parsed as a map file is (errors are fine); every item it
// defines is then decoded from the words, and integer items are encoded back and must give
// the same words.
int modbus_map_registers(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
