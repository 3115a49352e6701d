// Fuzz target bodies for the rules engine's parsers (rules/: the expression language), shared by
// the libFuzzer binaries and the unit test that replays fuzz/corpus/rules_*.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {}  // namespace sluice::fuzz
