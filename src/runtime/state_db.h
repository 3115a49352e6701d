// The state database (SQLite, WAL, synchronous=FULL): what Sluice knows besides the samples —
// today series metadata (unit, description, type, labels, source), later services, users,
// things and channels (the API issues). The config file seeds it; what is learned at run time
// (units from SenML payloads or from the KEPServerEX Configuration API, labels from
// OpenMetrics) is kept here and survives restarts. Sink cursors are NOT here: they live with the
// data in the store (docs/store-format.md).
//
// Thread safety: every method may be called from any thread (one connection behind a mutex).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"
#include "core/status.h"

struct sqlite3;

namespace sluice::runtime {

class StateDb {
 public:
  // Opens (creating) the database at `path` and brings its schema up to date.
  static Result<std::unique_ptr<StateDb>> open(const std::string& path);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  // Inserts or updates series metadata in one transaction. A field left empty in `meta` keeps
  // the stored value (a payload that carries no unit does not erase a known one); the type is
  // the one the series was first seen with.
  Status upsert_series(const std::vector<SeriesMeta>& meta);
  std::optional<SeriesMeta> series(std::string_view name) const;
  Result<std::vector<SeriesMeta>> all_series() const;

 private:
  explicit StateDb(sqlite3* db) : db_(db) {}
  Status exec(const char* sql) const;

  mutable std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
};

}  // namespace sluice::runtime
