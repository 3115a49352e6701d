// Series metadata as the runtime knows it: the state database, and an in-memory copy for the
// hot paths (a source reporting metadata with every message, a sink looking up the unit of every
// row). Only changes reach the database.
// Thread safety: all methods may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/sample.h"
#include "core/status.h"
#include "runtime/state_db.h"

namespace sluice::runtime {

class SeriesRegistry {
 public:
  // Loads what the database knows.
  static Result<std::unique_ptr<SeriesRegistry>> open(std::unique_ptr<StateDb> db);

  // Merges metadata reported by `source` (its name fills an empty `source` field); writes the
  // series whose metadata changed, in one transaction.
  Status update(const std::vector<SeriesMeta>& meta, std::string_view source);
  std::optional<SeriesMeta> find(std::string_view name) const;
  size_t size() const;
  // The state database it keeps the metadata in (the runtime keeps its services there too).
  StateDb& db() { return *db_; }

 private:
  explicit SeriesRegistry(std::unique_ptr<StateDb> db) : db_(std::move(db)) {}
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::unique_ptr<StateDb> db_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, SeriesMeta, Hash, std::equal_to<>> known_;  // guarded by mu_
};

}  // namespace sluice::runtime
