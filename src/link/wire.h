// The link's frames and what they carry: batches in the store's encoding (docs/batch-format.md)
// with a series table of their own, and sessions (Canary's vocabulary) as the store keeps them in
// a stream's meta JSON. Shared by the receiver (link source) and the sender (forward sink), so
// the two ends agree by construction. Every decoder treats its input as hostile: counts and
// lengths are checked before they are trusted, and an error says what and where.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch_codec.h"
#include "core/sample.h"
#include "core/status.h"
#include "sluice/link/v1/link.pb.h"

namespace sluice::link {

namespace pb = ::sluice::link::v1;

// Limits of what a receiver accepts in one frame (and a sender sends).
inline constexpr uint32_t kMaxFrameSamples = 1u << 20;  // samples per batch frame
inline constexpr uint32_t kMaxFrameSeries = 1u << 16;   // series names per batch frame
inline constexpr size_t kMaxSeriesName = 1024;          // bytes of one series name
inline constexpr size_t kMaxMessageBytes = 64u << 20;   // one gRPC message
inline constexpr size_t kMaxSessionIdBytes = 200;       // the store's stream id limit
inline constexpr size_t kMaxHops = 32;

// Encodes `batch` into `out` with a series table of its own (ids in order of first appearance).
Status encode_wire_batch(const Batch& batch, const EncodeOptions& options, pb::EncodedBatch* out);
// Decodes a frame's batch; checks the declared count, the series table and every id against it.
Result<Batch> decode_wire_batch(const pb::EncodedBatch& in);

// A session as the store keeps it: the stream's meta JSON is
// {"service": <the receiving source>, "session": {id, name, collector, source, hops,
//  dataset, created_ns, destination, settings{...}}, "hops": [...]}; "hops" at the top level
// (also in "session") is what the status screen shows.
std::string session_meta_json(const pb::SessionInfo& session, std::string_view service);
// The session of a stream's meta JSON, if it has one (a forwarded or written stream).
bool session_from_meta(std::string_view meta_json, pb::SessionInfo* out);

// Checks a session a sender opens: id, names, hops, times; the error names the field.
Status validate_session(const pb::SessionInfo& session);

// "<destination>.<yyyymmddThhmmssZ>.<collector>.<source>": a session id as Canary forms it,
// prefixed by the final destination and the creation time.
std::string make_session_id(std::string_view destination, int64_t created_ns,
                            std::string_view collector, std::string_view source);

}  // namespace sluice::link
