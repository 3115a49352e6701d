// Fuzz target bodies for the Modbus register decoding and map parsing (sources/modbus/),
// shared by the libFuzzer binary (fuzz/modbus_fuzz.cpp) and the unit test that replays
// fuzz/corpus/modbus.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {}  // namespace sluice::fuzz
