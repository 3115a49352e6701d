// Walks the records of one segment file from an offset up to a limit, in order, checking each
// against format.h. The one place that decides what is a record and what is damage, shared by
// recovery, stream readers, queries, inspect and fsck.
//
// Damage: when the bytes at the current offset are not a valid record (bad magic, header out of
// bounds, CRC mismatch), the scanner searches forward for the next offset holding a valid
// record and reports the bytes in between as one damaged region. If no valid record follows
// before the limit, the region is reported with `tail = true`: a torn tail (the remains of a
// write that did not complete) rather than corruption in the middle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "io/env.h"
#include "store/format.h"

namespace sluice::store {

struct ScanItem {
  enum class Kind { kRecord, kDamage, kEnd };
  Kind kind = Kind::kEnd;
  uint64_t offset = 0;          // where the record or damaged region starts
  uint64_t length = 0;          // record bytes (header + payload) or damaged bytes
  format::RecordHeader header;  // kRecord
  std::string_view payload;     // kRecord with verify: valid until the next call
  bool tail = false;            // kDamage: nothing valid follows it before the limit
  std::string reason;           // kDamage: what was wrong at `offset`
};

// Not thread-safe. `file` must outlive the scanner.
class SegmentScanner {
 public:
  // Scans [offset, limit). With verify, every record's payload is read and its CRC checked
  // (payload returned); without, only headers are read and payloads skipped, and a damaged
  // payload is not noticed (use for positioning in segments already verified).
  SegmentScanner(const ReadableFile& file, uint64_t offset, uint64_t limit, bool verify);

  Result<ScanItem> next();
  uint64_t offset() const { return offset_; }
  void set_limit(uint64_t limit) { limit_ = limit; }

 private:
  // Makes [off, off + n) available in buf_ (n bytes, or fewer at the limit); returns a view.
  Result<std::string_view> fetch(uint64_t off, size_t n);
  // Is there a complete valid record at `off`? Fills header (and the payload view with verify).
  // Resynchronisation always verifies, so a stray magic inside a payload is never taken for a
  // record.
  Result<bool> valid_at(uint64_t off, bool verify, format::RecordHeader* h,
                        std::string_view* payload, std::string* reason);

  const ReadableFile& file_;
  uint64_t offset_;
  uint64_t limit_;
  bool verify_;
  std::string buf_;
  uint64_t buf_off_ = 0;  // file offset of buf_[0]
};

}  // namespace sluice::store
