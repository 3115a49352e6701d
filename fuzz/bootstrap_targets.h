// Fuzz target body for device bootstrap's parsers of outside bytes: an operator's config body
// (api/bootstrap_api.h, parse_bootstrap_body, as a create and as an update) and an encrypted
// bootstrap answer as the edge client receives it (platform/bootstrap.h, decrypt_answer);
// shared by the libFuzzer binary and the unit test that replays fuzz/corpus/bootstrap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// No input may crash; a refused body names its field and says why; an accepted body written
// back as JSON parses to the same fields; bytes that were not sealed with the key never decrypt.
int bootstrap(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
