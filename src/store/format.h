// The store's on-disk format: one header of constants and layouts shared by the writer
// (log.cpp, catalog.cpp, state.cpp) and every reader (recovery, readers, inspect, fsck).
// docs/store-format.md describes the same bytes in prose; change both together.
//
// All integers are little-endian. CRCs are CRC-32C, stored masked (crc32c_mask).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/batch_codec.h"
#include "core/status.h"

namespace sluice::store::format {

inline constexpr uint16_t kFormatVersion = 1;

// ---- Segment file: <stream dir>/<first seq, 20 digits>.seg --------------------------------
// A 32-byte file header, then records back to back.
//   0  u64 magic "SLUICSEG"
//   8  u16 format version
//  10  u16 header size (32)
//  12  u32 masked crc32c of bytes 16..32
//  16  u64 base sequence: the first sequence this segment may hold (its file name)
//  24  i64 creation time, ns since the Unix epoch
inline constexpr uint64_t kSegmentMagic = 0x4745534349554c53ULL;  // "SLUICSEG" little-endian
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr std::string_view kSegmentSuffix = ".seg";

struct SegmentHeader {
  uint64_t base_seq = 0;
  int64_t created_ns = 0;
};
void encode_segment_header(const SegmentHeader& h, char out[kSegmentHeaderSize]);
Status decode_segment_header(std::string_view bytes, SegmentHeader* h);

// "00000000000000000042.seg" <-> 42
std::string segment_file_name(uint64_t base_seq);
bool parse_segment_file_name(std::string_view name, uint64_t* base_seq);

// ---- Record: one appended batch -----------------------------------------------------------
// A 56-byte header, then `stored_len` payload bytes (the batch encoding, maybe compressed).
//   0  u32 magic "SLRC"
//   4  u32 masked crc32c of header bytes 8..48 followed by the payload
//   8  u16 format version
//  10  u8  compression (0 none, 1 lz4, 2 zstd)
//  11  u8  record type (1 = batch)
//  12  u32 stored payload length
//  16  u32 raw payload length (after decompression)
//  20  u32 sample count
//  24  u64 first sequence: samples are numbered first_seq .. first_seq + count - 1
//  32  i64 min timestamp (ns)
//  40  i64 max timestamp (ns)
//  48  u64 synced offset: how many bytes of this segment were known durable (fsynced) when
//      this record was written. Recovery uses it to tell damage in data that had been synced
//      (media corruption: skip it, keep what follows) from the remains of writes that were
//      never synced (a torn tail, possibly with later pages on disk: cut it).
inline constexpr uint32_t kRecordMagic = 0x43524c53;  // "SLRC" little-endian
inline constexpr size_t kRecordHeaderSize = 56;
inline constexpr uint8_t kRecordTypeBatch = 1;

// Limits checked before a length from disk is trusted.
inline constexpr uint32_t kMaxStoredPayload = 64u << 20;
inline constexpr uint32_t kMaxRawPayload = 256u << 20;
inline constexpr uint32_t kMaxSamplesPerRecord = 4u << 20;

struct RecordHeader {
  Compression compression = Compression::kNone;
  uint8_t type = kRecordTypeBatch;
  uint32_t stored_len = 0;
  uint32_t raw_len = 0;
  uint32_t sample_count = 0;
  uint64_t first_seq = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  uint64_t synced_offset = 0;

  uint64_t end_seq() const { return first_seq + sample_count; }
  uint64_t total_size() const { return kRecordHeaderSize + stored_len; }
};

// Writes the header for `payload` (computing the CRC over both) into out.
void encode_record_header(const RecordHeader& h, std::string_view payload,
                          char out[kRecordHeaderSize]);
// Parses and bounds-checks a header (magic, version, type, lengths, counts, ts order). Does
// not check the CRC: that needs the payload (verify_record_crc).
Status decode_record_header(std::string_view bytes, RecordHeader* h);
bool verify_record_crc(std::string_view header_bytes, std::string_view payload);

// ---- Series catalog: <store>/series.cat -----------------------------------------------------
// Append-only entries giving each series name its dense id:
//   0  u32 masked crc32c of bytes 4..(10 + name length)
//   4  u32 id
//   8  u16 name length (1..kMaxSeriesName)
//  10  name bytes
inline constexpr size_t kCatalogEntryHeader = 10;
inline constexpr size_t kMaxSeriesName = 1024;
inline constexpr std::string_view kCatalogFile = "series.cat";

// ---- Stream state: <stream dir>/STATE, replaced atomically (temp, sync, rename, sync dir) ----
// Text, one item per line, the last line "crc <masked crc32c of everything before it>":
//   sluice-state 1
//   cursor <sink> <next seq>
//   dropped <cause> <count>
inline constexpr std::string_view kStateFile = "STATE";
// Stream identity and settings, JSON, written once at creation (atomically).
inline constexpr std::string_view kStreamMetaFile = "STREAM";

// ---- Store directory -----------------------------------------------------------------------
//   LOCK            held by the one process that owns the store
//   STORE           "sluice-store <format version>"
//   series.cat      the series catalog
//   streams/<escaped stream id>/   one log per stream: STREAM, STATE, *.seg
//   backup/<escaped stream id>/    delivered segments kept for the backup period
//   purged/<escaped stream id>/<time>-<sink>/  segments a purge moved out, with MANIFEST
//   quarantine/     damaged files moved aside by fsck --repair
inline constexpr std::string_view kLockFile = "LOCK";
inline constexpr std::string_view kStoreFile = "STORE";
inline constexpr std::string_view kStreamsDir = "streams";
inline constexpr std::string_view kBackupDir = "backup";
inline constexpr std::string_view kPurgedDir = "purged";
inline constexpr std::string_view kQuarantineDir = "quarantine";

// Stream ids are free text ("edge1/line3"); on disk they are escaped: bytes outside
// [A-Za-z0-9._-] become %XX. Reversible, so no two ids share a directory.
std::string escape_stream_id(std::string_view id);
Result<std::string> unescape_stream_id(std::string_view name);

}  // namespace sluice::store::format
