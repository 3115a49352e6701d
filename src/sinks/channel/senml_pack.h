// SenML JSON (RFC 8428) packs for the `channel` sink: the samples a sink read become the body of
// one HTTP message to a central Sluice's device-platform adapter (platform/messages.h), which
// parses it back with formats::SenmlParser. A pack is built record by record and never exceeds
// a byte limit, so that a backlog travels as several messages each under the central's limit.
//
// Encoding of one sample:
//   n   the series name; a record whose series shares the previous record's prefix (up to its
//       last '.') carries only the rest, the prefix travels once as bn when it changes
//   bt  on the first record: the whole seconds of its timestamp; every record's t is its time
//       relative to bt, in seconds as a double (omitted when 0)
//   v | vb | vs   a double or int64 (int64 as an integer literal: the receiver reads it as a
//       double, exact up to 2^53), a bool, a string
//   u   the series' unit from the state database, when it has one
// Quality is not part of SenML: a sample of Bad quality is not sent (senml_unfit says why), nor
// is one SenML cannot carry faithfully (a name outside RFC 8428's characters, a time before
// 1978-07-04, which SenML reads as relative, a NaN or infinite value).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/sample.h"

namespace sluice::sinks::channel {

// The unit of a series ("" for none); called once per record.
using UnitOf = std::function<std::string_view(const std::string& series)>;

// Why `sample` cannot be sent as SenML, for a message and a count; nullopt if it can.
std::optional<std::string> senml_unfit(const Sample& sample);

struct Pack {
  std::string body;    // a JSON array, or "" when nothing was taken
  size_t samples = 0;  // how many samples from the front of the input it holds
};

// Encodes the longest prefix of `samples` (at most `max_records`) whose pack is at most
// `max_bytes` long. Every sample must pass senml_unfit. samples == 0 when the first sample alone
// is over the limit (or the input is empty).
Pack encode_pack(std::span<const Sample> samples, const UnitOf& unit_of, size_t max_bytes,
                 size_t max_records = SIZE_MAX);

// `text` as a JSON string literal (quotes included). Bytes that are not valid UTF-8 become
// U+FFFD, so that the receiver's UTF-8 check never refuses a pack for them.
void append_json_string(std::string& out, std::string_view text);

}  // namespace sluice::sinks::channel
