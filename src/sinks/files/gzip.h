// Gzip framing for the `files` sink's optional compression (`gzip = true`): the CSV file, both
// the one written into `dir` and the uploaded body, becomes one gzip member (RFC 1952), so any
// data-lake tool reads it with plain gunzip. gunzip() is the inverse, bounded, for tests and
// tools that check what was delivered.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::sinks::files {

// Compresses `data` into one gzip member (zlib, default level).
Result<std::string> gzip(std::string_view data);

// Decompresses a gzip member. Fails (kInvalidArgument) on corrupt or truncated input, and when
// the output would exceed `max_size` bytes.
Result<std::string> gunzip(std::string_view data, size_t max_size = size_t{1} << 30);

}  // namespace sluice::sinks::files
