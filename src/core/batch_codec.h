// The compact binary encoding of a Batch, used as the payload of store records (and, later, of
// forward-link frames). Gorilla-style: samples are grouped by series; timestamps are
// delta-of-delta; doubles are XOR-encoded, or, when every value of a group is a decimal with few
// digits (sensor readings rounded to 2 places), delta-encoded as scaled integers; integers are
// delta-encoded; the whole may then be compressed with lz4 or zstd.
// The byte layout is written down in docs/batch-format.md; the constants below are shared by
// the encoder and the decoder.
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
#include <vector>

#include "core/sample.h"
#include "core/status.h"

namespace sluice {

// The raw payload's constants (docs/batch-format.md). Values are part of the on-disk format.
namespace batch_format {
// Byte 0 of the raw payload: format version in the low 4 bits, flags in the high 4 bits. No
// flag is defined yet, so version 1 payloads start with exactly this byte.
inline constexpr uint8_t kVersion = 1;

// The sections follow the header in this order, each as varint length + bytes.
enum class Section : uint8_t {
  kSeriesIds = 0,     // per group: zigzag(id - previous group's id), the first from 0
  kCounts = 1,        // per group: sample count (>= 1)
  kTimestamps = 2,    // per group: zigzag first-ts delta, then zigzag delta-of-deltas
  kValueTags = 3,     // per group: a ValueEncoding (+ scale or per-sample type bytes)
  kValueVarints = 4,  // decimal and int64 deltas, int64 of mixed groups, string lengths
  kValueBits = 5,     // XOR doubles, bools, doubles of mixed groups (one bit stream)
  kStringBytes = 6,   // string values, concatenated
  kQualities = 7,     // per group: QualityMode + varint(s)
};
inline constexpr int kSectionCount = 8;

enum class ValueEncoding : uint8_t {
  kDoubleXor = 1,      // Gorilla XOR in the bit stream
  kDoubleDecimal = 2,  // + 1 byte scale e (0..9); zigzag deltas of n = v * 10^e
  kInt64Delta = 3,     // zigzag deltas (first from 0)
  kBool = 4,           // one bit per sample
  kString = 5,         // varint length per sample + bytes
  kMixed = 6,          // + one ValueType byte per sample; each value stored on its own
};
inline constexpr uint8_t kMaxDecimalScale = 9;
// |n| of a decimal value is below 2^53, so n converts to double exactly.
inline constexpr int64_t kMaxDecimalMagnitude = int64_t{1} << 53;

enum class QualityMode : uint8_t {
  kSame = 0,       // + one varint: the quality of every sample of the group
  kPerSample = 1,  // + one varint per sample
};
}  // namespace batch_format

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
  uint32_t max_samples = 1u << 22;       // 4 Mi samples
  uint32_t max_raw_bytes = 256u << 20;   // 256 MiB uncompressed
  uint32_t max_string_bytes = 1u << 20;  // one string value
};

struct EncodedBatch {
  std::string bytes;                             // what is stored: compressed or raw payload
  Compression compression = Compression::kNone;  // what was applied to `bytes`
  uint32_t raw_size = 0;                         // size of the payload before compression
  uint32_t sample_count = 0;
  Timestamp min_ts = 0;  // over all samples (0 for an empty batch)
  Timestamp max_ts = 0;
};

// Encodes `batch`; series_ids[i] is the id of batch.samples[i].series. `out` is reused (its
// buffers keep their capacity), so a caller that encodes in a loop does not allocate (scratch
// space is thread_local). A batch that decoding with the default DecodeLimits would refuse
// (too many samples, a string over max_string_bytes, a raw payload over max_raw_bytes) is
// kInvalidArgument, as are options out of range; `out` is then unchanged.
Status encode_batch(const Batch& batch, std::span<const uint32_t> series_ids,
                    const EncodeOptions& options, EncodedBatch* out);

// Undoes the compression of a stored payload into `raw` (raw_size is the expected size). A
// raw_size over limits.max_raw_bytes, or a payload that does not decompress to exactly
// raw_size bytes, is kCorruption; `raw` is then unspecified.
Status decompress_payload(std::string_view stored, Compression compression, uint32_t raw_size,
                          const DecodeLimits& limits, std::string* raw);

// Returns the name of a series id; called once per series group while decoding, only after the
// group's id and count passed their checks.
using SeriesNameLookup = std::function<std::string(uint32_t id)>;

// Decodes a raw (uncompressed) payload, appending its samples to out->samples. A payload that
// is truncated, has counts over the limits or any inconsistency is kCorruption, with the byte
// offset in the message, and leaves `out` as it was.
Status decode_batch(std::string_view raw, const SeriesNameLookup& lookup,
                    const DecodeLimits& limits, Batch* out);

// Only the series ids of a raw payload and the sample count of each (for inspect and queries
// that filter by series), without decoding values: ids[i] has counts[i] samples, in encoded
// group order. Both vectors are replaced on success and unchanged on error.
Status scan_series_ids(std::string_view raw, const DecodeLimits& limits, std::vector<uint32_t>* ids,
                       std::vector<uint32_t>* counts);

}  // namespace sluice
