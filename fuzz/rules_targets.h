// Fuzz target bodies for the rules engine's parsers (rules/: the expression language), shared by
// the libFuzzer binaries and the unit test that replays fuzz/corpus/rules_*.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// Arbitrary text through the expression compiler (rules/expr.h). A refused text must carry a
// message and a column inside it; an accepted one is evaluated over a few slot values, and its
// canonical text must compile to the same canonical text and the same value.
int rules_expr(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
