// Record walking with damage detection and resynchronisation (see segment_scanner.h).
#include "store/segment_scanner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace sluice::store {
namespace {
constexpr size_t kReadChunk = 1 << 20;
}

SegmentScanner::SegmentScanner(const ReadableFile& file, uint64_t offset, uint64_t limit,
                               bool verify)
    : file_(file), offset_(offset), limit_(limit), verify_(verify) {}

Result<std::string_view> SegmentScanner::fetch(uint64_t off, size_t n) {
  if (off >= limit_) return std::string_view();
  n = static_cast<size_t>(std::min<uint64_t>(n, limit_ - off));
  if (off >= buf_off_ && off + n <= buf_off_ + buf_.size()) {
    return std::string_view(buf_.data() + (off - buf_off_), n);
  }
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(n, kReadChunk), limit_ - off));
  buf_.resize(want);
  size_t got = 0;
  while (got < want) {
    SLUICE_ASSIGN_OR_RETURN(size_t r, file_.read_at(off + got, want - got, buf_.data() + got));
    if (r == 0) break;
    got += r;
  }
  buf_.resize(got);
  buf_off_ = off;
  return std::string_view(buf_.data(), std::min(n, got));
}

Result<bool> SegmentScanner::valid_at(uint64_t off, bool verify, format::RecordHeader* h,
                                      std::string_view* payload, std::string* reason) {
  SLUICE_ASSIGN_OR_RETURN(std::string_view hb, fetch(off, format::kRecordHeaderSize));
  if (hb.size() < format::kRecordHeaderSize) {
    *reason = fmt::format("incomplete record header ({} of {} bytes)", hb.size(),
                          format::kRecordHeaderSize);
    return false;
  }
  Status st = format::decode_record_header(hb, h);
  if (!st.ok()) {
    *reason = st.message();
    return false;
  }
  if (off + h->total_size() > limit_) {
    *reason = fmt::format("incomplete record ({} of {} bytes)", limit_ - off, h->total_size());
    return false;
  }
  if (!verify) return true;
  SLUICE_ASSIGN_OR_RETURN(std::string_view whole, fetch(off, h->total_size()));
  if (whole.size() < h->total_size()) {
    *reason = "short read";
    return false;
  }
  if (!format::verify_record_crc(whole.substr(0, format::kRecordHeaderSize),
                                 whole.substr(format::kRecordHeaderSize))) {
    *reason = "checksum mismatch";
    return false;
  }
  *payload = whole.substr(format::kRecordHeaderSize);
  return true;
}

Result<ScanItem> SegmentScanner::next() {
  ScanItem item;
  if (offset_ >= limit_) {
    item.kind = ScanItem::Kind::kEnd;
    item.offset = offset_;
    return item;
  }
  std::string reason;
  std::string_view payload;
  format::RecordHeader h;
  SLUICE_ASSIGN_OR_RETURN(bool ok, valid_at(offset_, verify_, &h, &payload, &reason));
  if (ok) {
    item.kind = ScanItem::Kind::kRecord;
    item.offset = offset_;
    item.length = h.total_size();
    item.header = h;
    if (verify_) {
      // valid_at's fetch may have been the last one; re-fetch to make sure the view is current.
      SLUICE_ASSIGN_OR_RETURN(std::string_view whole, fetch(offset_, h.total_size()));
      item.payload = whole.substr(format::kRecordHeaderSize);
    }
    offset_ += h.total_size();
    return item;
  }
  // Damage at offset_: look for the next valid record. A record starts with the magic, so only
  // offsets where its first byte appears are tried.
  item.kind = ScanItem::Kind::kDamage;
  item.offset = offset_;
  item.reason = reason;
  const char first = static_cast<char>(format::kRecordMagic & 0xff);
  uint64_t probe = offset_ + 1;
  while (probe < limit_) {
    SLUICE_ASSIGN_OR_RETURN(std::string_view window, fetch(probe, kReadChunk));
    if (window.empty()) break;
    const void* hit = std::memchr(window.data(), first, window.size());
    if (hit == nullptr) {
      probe += window.size();
      continue;
    }
    probe += static_cast<uint64_t>(static_cast<const char*>(hit) - window.data());
    std::string ignored;
    SLUICE_ASSIGN_OR_RETURN(bool found, valid_at(probe, true, &h, &payload, &ignored));
    if (found) {
      item.length = probe - offset_;
      item.tail = false;
      offset_ = probe;
      return item;
    }
    ++probe;
  }
  item.length = limit_ - offset_;
  item.tail = true;
  offset_ = limit_;
  return item;
}

}  // namespace sluice::store
