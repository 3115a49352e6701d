// Payload parsers: turn the bytes of one message (an MQTT payload, an HTTP body) into samples
// and the series metadata they carry. One implementation per format (kepware, json, senml,
// openmetrics, influx line protocol), chosen per subscription by name.
//
// Contract for every parser:
//  - Bad input is never an exception and never a crash: parse() returns kInvalidArgument with
//    a message that says what was wrong and where (byte offset, field, JSON pointer), and leaves
//    `out` as it was (all or nothing: a message is accepted whole or rejected whole).
//  - Every length and count is bounded (ParseLimits) before it is trusted.
//  - Timestamps are ns since the Unix epoch; a sample without one gets ctx.receive_time.
//  - Thread safety: a parser object may be used by one thread at a time; parsers are cheap to
//    make, so each source thread makes its own.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"
#include "core/status.h"

namespace sluice::formats {

struct ParseLimits {
  size_t max_payload_bytes = 16u << 20;  // larger payloads are rejected before parsing
  size_t max_samples = 1u << 20;         // per message
  size_t max_series_name = 1024;
  size_t max_string_value = 1u << 20;
  size_t max_depth = 64;                 // JSON nesting
};

// What the parser knows about the message besides its bytes.
struct ParseContext {
  std::string_view topic;     // MQTT topic or HTTP path ("" if none)
  Timestamp receive_time = 0; // when Sluice received it
};

// A parsed message: its samples and the metadata of the series it mentions (units from SenML,
// labels from OpenMetrics, ...). Metadata is merged into the state database by the source.
struct Parsed {
  Batch batch;
  std::vector<SeriesMeta> meta;
};

class PayloadParser {
 public:
  virtual ~PayloadParser() = default;
  // The format's name, as in the config ("kepware", "senml", ...).
  virtual std::string_view name() const = 0;
  // Appends the message's samples to out->batch and its metadata to out->meta, or returns
  // kInvalidArgument and leaves `out` unchanged.
  virtual Status parse(std::string_view payload, const ParseContext& ctx, Parsed* out) = 0;
};

}  // namespace sluice::formats
