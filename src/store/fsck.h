// Offline tools for an operator: `sluice store inspect DIR` shows what a store holds;
// `sluice store fsck DIR [--repair]` verifies every checksum and, with repair, truncates torn
// tails and quarantines damaged files, saying what it did. Both read the files directly
// (the Store need not be open); fsck --repair takes the store's LOCK first.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/env.h"

namespace sluice::store {

struct InspectOptions {
  bool records = false;  // list every record, not only segments
};

// Writes a readable report: per stream its segments (records, samples, sequence range, time
// range, bytes, bytes per sample), cursors and drop counters; totals; the series count.
Status inspect(Env& env, const std::string& dir, const InspectOptions& options, std::ostream& out);

struct FsckOptions {
  bool repair = false;
};

struct FsckReport {
  uint64_t segments = 0;
  uint64_t records_ok = 0;
  uint64_t records_bad = 0;  // checksum or header failures
  uint64_t bytes_bad = 0;
  uint64_t torn_tail_bytes = 0;       // incomplete records at a segment's end
  std::vector<std::string> problems;  // one line each: file, offset, what
  std::vector<std::string> actions;   // with repair: what was done
  bool clean() const { return problems.empty(); }
};

// Verifies every segment, state file and the catalog. Returns an error only when the check
// itself could not run (no such directory, lock held for repair); damage is in the report.
Result<FsckReport> fsck(Env& env, const std::string& dir, const FsckOptions& options,
                        std::ostream& out);

}  // namespace sluice::store
