// Fuzz target bodies: each takes arbitrary bytes and must neither crash nor misbehave.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::fuzz {
// A batch payload: byte 0 picks the compression, the rest is the stored payload.
int batch_codec(const uint8_t* data, size_t size);
// A segment's record bytes (recovery, reader, fsck), and the STATE and catalog parsers.
int segment(const uint8_t* data, size_t size);
// A TOML config file through the whole parser and validator.
int config(const uint8_t* data, size_t size);
}  // namespace sluice::fuzz
