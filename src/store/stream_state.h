// A stream's STATE file: the cursors of the sinks that read it and its drop counters. Cursors
// live with the data (not in the state database) so that data and positions are made durable
// by one mechanism. Replaced atomically: write STATE.tmp, sync, rename, sync the directory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"
#include "io/env.h"

namespace sluice::store {

struct StreamState {
  std::map<std::string, uint64_t> cursors;  // sink -> next sequence to deliver
  std::map<std::string, uint64_t> dropped;  // cause name -> samples
};

std::string encode_stream_state(const StreamState& state);
// kCorruption (with the line) if the text or its checksum is damaged.
Result<StreamState> decode_stream_state(std::string_view text);

Status write_stream_state(Env& env, const std::string& path, const StreamState& state);
// A missing file is an empty state. A damaged one is kCorruption: the caller decides.
Result<StreamState> read_stream_state(Env& env, const std::string& path);

}  // namespace sluice::store
