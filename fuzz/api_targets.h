// Fuzz target body for the REST API's own parsers of outside bytes: the path and query decoding
// of the HTTP server and the time and count parameters of the API (api/query_params.h), shared
// by the libFuzzer binary and the unit test that replays fuzz/corpus/api.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// The input is split at its first newline: the part before is percent-decoded as a path, and
// every part is parsed as a time and as a count parameter. None may crash; a parse that
// succeeds must give a value its own rules allow.
int api_params(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
