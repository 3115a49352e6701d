// Encoding and checking of the store's fixed headers and names (see format.h for the layout).
#include "store/format.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>

#include "core/crc32c.h"

namespace sluice::store::format {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the store's byte layout is little-endian; add byte swaps for this target");

template <typename T>
void put(char* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}
template <typename T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

void encode_segment_header(const SegmentHeader& h, char out[kSegmentHeaderSize]) {
  std::memset(out, 0, kSegmentHeaderSize);
  put<uint64_t>(out, kSegmentMagic);
  put<uint16_t>(out + 8, kFormatVersion);
  put<uint16_t>(out + 10, static_cast<uint16_t>(kSegmentHeaderSize));
  put<uint64_t>(out + 16, h.base_seq);
  put<int64_t>(out + 24, h.created_ns);
  put<uint32_t>(out + 12, crc32c_mask(crc32c(out + 16, kSegmentHeaderSize - 16)));
}

Status decode_segment_header(std::string_view bytes, SegmentHeader* h) {
  if (bytes.size() < kSegmentHeaderSize) {
    return corruption(
        fmt::format("segment header is {} bytes, needs {}", bytes.size(), kSegmentHeaderSize));
  }
  const char* p = bytes.data();
  if (get<uint64_t>(p) != kSegmentMagic) return corruption("not a Sluice segment (bad magic)");
  const uint16_t version = get<uint16_t>(p + 8);
  if (version != kFormatVersion) {
    return corruption(
        fmt::format("segment format version {} (this build reads {})", version, kFormatVersion));
  }
  if (get<uint16_t>(p + 10) != kSegmentHeaderSize) return corruption("segment header size");
  const uint32_t want = crc32c_unmask(get<uint32_t>(p + 12));
  if (crc32c(p + 16, kSegmentHeaderSize - 16) != want) {
    return corruption("segment header checksum mismatch");
  }
  h->base_seq = get<uint64_t>(p + 16);
  h->created_ns = get<int64_t>(p + 24);
  return {};
}

std::string segment_file_name(uint64_t base_seq) {
  return fmt::format("{:020d}{}", base_seq, kSegmentSuffix);
}

bool parse_segment_file_name(std::string_view name, uint64_t* base_seq) {
  if (name.size() != 20 + kSegmentSuffix.size()) return false;
  if (name.substr(20) != kSegmentSuffix) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *base_seq = v;
  return true;
}

void encode_record_header(const RecordHeader& h, std::string_view payload,
                          char out[kRecordHeaderSize]) {
  put<uint32_t>(out, kRecordMagic);
  put<uint16_t>(out + 8, kFormatVersion);
  put<uint8_t>(out + 10, static_cast<uint8_t>(h.compression));
  put<uint8_t>(out + 11, h.type);
  put<uint32_t>(out + 12, h.stored_len);
  put<uint32_t>(out + 16, h.raw_len);
  put<uint32_t>(out + 20, h.sample_count);
  put<uint64_t>(out + 24, h.first_seq);
  put<int64_t>(out + 32, h.min_ts);
  put<int64_t>(out + 40, h.max_ts);
  put<uint64_t>(out + 48, h.synced_offset);
  uint32_t crc = crc32c(out + 8, kRecordHeaderSize - 8);
  crc = crc32c_extend(crc, payload.data(), payload.size());
  put<uint32_t>(out + 4, crc32c_mask(crc));
}

Status decode_record_header(std::string_view bytes, RecordHeader* h) {
  if (bytes.size() < kRecordHeaderSize) {
    return corruption(
        fmt::format("record header is {} bytes, needs {}", bytes.size(), kRecordHeaderSize));
  }
  const char* p = bytes.data();
  if (get<uint32_t>(p) != kRecordMagic) return corruption("bad record magic");
  const uint16_t version = get<uint16_t>(p + 8);
  if (version != kFormatVersion) {
    return corruption(
        fmt::format("record format version {} (this build reads {})", version, kFormatVersion));
  }
  const uint8_t comp = get<uint8_t>(p + 10);
  if (comp > static_cast<uint8_t>(Compression::kZstd)) {
    return corruption(fmt::format("unknown compression {}", comp));
  }
  RecordHeader r;
  r.compression = static_cast<Compression>(comp);
  r.type = get<uint8_t>(p + 11);
  if (r.type != kRecordTypeBatch) return corruption(fmt::format("unknown record type {}", r.type));
  r.stored_len = get<uint32_t>(p + 12);
  r.raw_len = get<uint32_t>(p + 16);
  r.sample_count = get<uint32_t>(p + 20);
  r.first_seq = get<uint64_t>(p + 24);
  r.min_ts = get<int64_t>(p + 32);
  r.max_ts = get<int64_t>(p + 40);
  r.synced_offset = get<uint64_t>(p + 48);
  if (r.stored_len > kMaxStoredPayload) {
    return corruption(
        fmt::format("stored length {} over the limit {}", r.stored_len, kMaxStoredPayload));
  }
  if (r.raw_len > kMaxRawPayload) {
    return corruption(fmt::format("raw length {} over the limit {}", r.raw_len, kMaxRawPayload));
  }
  if (r.compression == Compression::kNone && r.raw_len != r.stored_len) {
    return corruption("uncompressed record with raw length != stored length");
  }
  if (r.sample_count == 0 || r.sample_count > kMaxSamplesPerRecord) {
    return corruption(fmt::format("sample count {} out of range", r.sample_count));
  }
  if (r.min_ts > r.max_ts) return corruption("min timestamp after max timestamp");
  if (r.first_seq > UINT64_MAX - r.sample_count) return corruption("sequence overflows");
  *h = r;
  return {};
}

bool verify_record_crc(std::string_view header_bytes, std::string_view payload) {
  if (header_bytes.size() < kRecordHeaderSize) return false;
  const uint32_t want = crc32c_unmask(get<uint32_t>(header_bytes.data() + 4));
  uint32_t crc = crc32c(header_bytes.data() + 8, kRecordHeaderSize - 8);
  crc = crc32c_extend(crc, payload.data(), payload.size());
  return crc == want;
}

std::string escape_stream_id(std::string_view id) {
  std::string out;
  out.reserve(id.size());
  for (const char ch : id) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '-' ||
                       (c == '.' && !out.empty());  // never a leading '.' ("." / "..")
    if (plain) {
      out.push_back(ch);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<std::string> unescape_stream_id(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '%') {
      out.push_back(name[i]);
      continue;
    }
    if (i + 2 >= name.size()) {
      return invalid_argument(fmt::format("bad escape in stream directory '{}'", name));
    }
    const int hi = hex(name[i + 1]);
    const int lo = hex(name[i + 2]);
    if (hi < 0 || lo < 0) {
      return invalid_argument(fmt::format("bad escape in stream directory '{}'", name));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (out.empty()) return invalid_argument("empty stream directory name");
  return out;
}

}  // namespace sluice::store::format
