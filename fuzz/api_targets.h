// Fuzz target bodies for the REST API's own parsers of outside bytes: the path and query decoding
// of the HTTP server and the time and count parameters of the API (api/query_params.h), and the
// JSON request bodies (api/bodies.h); shared by the libFuzzer binaries and the unit test that
// replays fuzz/corpus/api and fuzz/corpus/api_bodies.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// The input is split at its first newline: the part before is percent-decoded as a path, and
// every part is parsed as a time and as a count parameter. None may crash; a parse that
// succeeds must give a value its own rules allow.
int api_params(const uint8_t* data, size_t size);
// The input is a request body given to every body parser (login, new user, new token, service
// mode, sessions purge). None may crash; a refusal names its message; a body that is accepted
// must keep its own limits and, written back as JSON, parse to the same values.
int api_bodies(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
