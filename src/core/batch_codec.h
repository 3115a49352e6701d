// The compact binary encoding of a Batch, used as the payload of store records (and, later, of
// forward-link frames). Gorilla-style: samples are grouped by series; timestamps are
// delta-of-delta; doubles are XOR-encoded, or, when every value of a group is a decimal with few
// digits (sensor readings rounded to 2 places), delta-encoded as scaled integers; integers are
// delta-encoded; the whole may then be compressed with lz4 or zstd.
// The byte layout is written down in docs/store-format.md ("Batch payload").
//
// Series are referred to by a dense numeric id (the store's series catalog assigns them); the
// codec itself never sees names except through the caller's lookup.
//
// Order contract: decode returns the samples grouped by series, the groups in the order in
// which each series first appears in the encoded batch, and each group's samples in their
// original order. So decode(encode(b)) == stable_group_by_series(b), exactly (bitwise values).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/sample.h"
#include "core/status.h"

namespace sluice {

enum class Compression : uint8_t { kNone = 0, kLz4 = 1, kZstd = 2 };

const char* compression_name(Compression c);

struct EncodeOptions {
  Compression compression = Compression::kZstd;
  int zstd_level = 1;
  // Compressed output is kept only if it saves at least this fraction of the raw size.
  double min_saving = 0.05;
};

// Limits checked before any length or count read from the bytes is trusted.
struct DecodeLimits {
  uint32_t max_samples = 1u << 22;         // 4 Mi samples
  uint32_t max_raw_bytes = 256u << 20;     // 256 MiB uncompressed
  uint32_t max_string_bytes = 1u << 20;    // one string value
};

struct EncodedBatch {
  std::string bytes;            // what is stored: compressed or raw payload
  Compression compression = Compression::kNone;  // what was applied to `bytes`
  uint32_t raw_size = 0;        // size of the payload before compression
  uint32_t sample_count = 0;
  Timestamp min_ts = 0;         // over all samples (0 for an empty batch)
  Timestamp max_ts = 0;
};

// Encodes `batch`; series_ids[i] is the id of batch.samples[i].series. `out` is reused (its
// buffers keep their capacity), so a caller that encodes in a loop does not allocate.
Status encode_batch(const Batch& batch, std::span<const uint32_t> series_ids,
                    const EncodeOptions& options, EncodedBatch* out);

// Undoes the compression of a stored payload into `raw` (raw_size is the expected size).
Status decompress_payload(std::string_view stored, Compression compression, uint32_t raw_size,
                          const DecodeLimits& limits, std::string* raw);

// Returns the name of a series id; called once per series group while decoding.
using SeriesNameLookup = std::function<std::string(uint32_t id)>;

// Decodes a raw (uncompressed) payload, appending its samples to out->samples. A payload that
// is truncated, has counts over the limits or any inconsistency is kCorruption, with the byte
// offset in the message, and leaves `out` as it was.
Status decode_batch(std::string_view raw, const SeriesNameLookup& lookup,
                    const DecodeLimits& limits, Batch* out);

// Only the sample count and series ids of a raw payload (for inspect and queries that filter
// by series), without decoding values.
Status scan_series_ids(std::string_view raw, const DecodeLimits& limits,
                       std::vector<uint32_t>* ids, std::vector<uint32_t>* counts);

}  // namespace sluice
