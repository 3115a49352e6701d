// The series catalog: gives every series name a dense 32-bit id, once for the whole store, so
// records carry small ids instead of names (the difference between ~35 and ~2 bytes a sample).
//
// Durability: resolve() appends the entries for new names and syncs them before it returns, so
// every record written afterwards (durable or not: the OS may write an unsynced record to disk
// before a crash) names only ids whose entries are durable. The fsync is paid only when a batch
// brings series never seen before.
// Thread safety: all methods may be called concurrently. Lookups share a lock; assigning new
// ids takes it exclusively.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/sample.h"
#include "core/status.h"
#include "io/env.h"

namespace sluice::store {

struct RecoveryReport;

class SeriesCatalog {
 public:
  // Loads the catalog (creating an empty one). A torn tail is truncated; a damaged entry in the
  // middle is skipped; both are reported.
  static Result<std::unique_ptr<SeriesCatalog>> open(Env& env, const std::string& path,
                                                     RecoveryReport* report);

  // ids[i] = the id of batch.samples[i].series; assigns (and appends) ids for new names.
  Status resolve(const Batch& batch, std::vector<uint32_t>* ids);
  // The name of an id; "?series-<id>" for an id whose entry was lost to damage.
  std::string name(uint32_t id) const;
  std::optional<uint32_t> find(std::string_view name) const;
  size_t size() const;

  Status close();

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  SeriesCatalog(Env& env, std::string path) : env_(env), path_(std::move(path)) {}

  Env& env_;
  const std::string path_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> ids_;  // GUARDED_BY(mu_)
  std::vector<std::string> names_;                                        // GUARDED_BY(mu_)
  std::unique_ptr<WritableFile> file_;                                    // GUARDED_BY(mu_)
  uint32_t next_id_ = 0;                                                  // GUARDED_BY(mu_)
};

// Encodes one catalog entry (exposed for tests and fsck).
std::string encode_catalog_entry(uint32_t id, std::string_view name);

// Parses a catalog file's bytes: calls `entry` for each valid entry and `damage` for each
// damaged region (offset, length, tail). Returns the offset after the last valid entry.
uint64_t parse_catalog(std::string_view bytes,
                       const std::function<void(uint32_t id, std::string_view name)>& entry,
                       const std::function<void(uint64_t off, uint64_t len, bool tail)>& damage);

}  // namespace sluice::store
