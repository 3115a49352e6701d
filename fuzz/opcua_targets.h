// Fuzz target bodies for the OPC UA decoders (protocols/opcua/), shared by the libFuzzer
// binaries (fuzz/opcua_*_fuzz.cpp) and the unit test that replays fuzz/corpus/opcua_*.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {}  // namespace sluice::fuzz
