// The state database (SQLite, WAL, synchronous=FULL): what Sluice knows besides the samples —
// today series metadata (unit, description, type, labels, source), later services, users,
// things and channels (the API issues). The config file seeds it; what is learned at run time
// (units from SenML payloads or from the KEPServerEX Configuration API, labels from
// OpenMetrics) is kept here and survives restarts. Sink cursors are NOT here: they live with the
// data in the store (docs/store-format.md).
//
// Services changed at run time (the `services` table). The config file gives the initial
// pipeline; the REST API changes it while Sluice runs, and those changes must survive a restart
// without the file bringing back what an operator changed. One row per service:
//
//   services(kind 'source'|'sink', name, type, enabled, settings, origin 'config'|'api',
//            updated_at, seed_hash, deleted), primary key (kind, name)
//
// - settings: the TOML text of the service's table (name, type, enabled and its own keys) —
//   exactly what the config parser reads, so a stored service is built by the same code as one
//   in the file (runtime/config_text.h).
// - origin 'config': the row mirrors the file. Runtime::open seeds every table of the file that
//   has no row, and updates a 'config' row whose file table changed (seed_hash differs).
// - origin 'api': changed (or added) through the API. Its stored settings are used; a later
//   change of the file's table for it is not applied (logged once, at info, with the time of the
//   API change).
// - seed_hash: a hash of the file's table text when it was last seeded (or last seen, for an
//   'api' row); "" for a service that was added through the API.
// - deleted: a tombstone of a service removed through the API, so that the file does not bring
//   it back at the next start. Adding a service of that name through the API replaces it.
// The key is (kind, name) and not the name alone because the file allows a source and a sink of
// the same name (names are unique among each kind). For operators: docs/configuration.md,
// "Changes made at run time".
//
// Paused sessions (the `paused_sessions` table): a session is one sink's flow of one stream (the
// status screen's row). An operator may pause it through the API; while paused the sink does not
// read that stream and the data keeps buffering in the store. The pause must survive a restart, so
// it is kept here, one row per paused (stream, sink):
//
//   paused_sessions(stream, sink, paused_at), primary key (stream, sink)
//
// Unpausing deletes the row; removing a sink deletes its rows.
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

enum class ServiceKind { kSource, kSink };
const char* service_kind_name(ServiceKind kind);  // "source", "sink"

enum class ServiceOrigin { kConfig, kApi };
const char* service_origin_name(ServiceOrigin origin);  // "config", "api"

// One row of the services table (see above).
struct ServiceRow {
  ServiceKind kind = ServiceKind::kSource;
  std::string name;
  std::string type;
  bool enabled = true;
  std::string settings;  // the TOML text of the service's table
  ServiceOrigin origin = ServiceOrigin::kConfig;
  std::string updated_at;  // ISO-8601 UTC, given by the caller (its clock)
  std::string seed_hash;   // of the file's table when last seeded; "" if it never came from it
  bool deleted = false;    // a tombstone: removed through the API

  bool operator==(const ServiceRow&) const = default;
};

// One row of the documents table: a rule, notification, script or ACL (the config file's
// [[rules]], [[notifications]], [[scripts]], [[acls]]; control/documents.h) kept as its JSON
// object, with the same origin, seed and tombstone rules as the services table (above):
//
//   documents(kind, name, json, origin 'config'|'api', updated_at, seed_hash, deleted),
//   primary key (kind, name)
struct DocumentRow {
  std::string kind;  // "rules", "notifications", "scripts", "acls"
  std::string name;
  std::string json;
  ServiceOrigin origin = ServiceOrigin::kConfig;
  std::string updated_at;
  std::string seed_hash;
  bool deleted = false;

  bool operator==(const DocumentRow&) const = default;
};

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

  // Inserts the row, or replaces the one with the same kind and name; durable on return.
  Status put_service(const ServiceRow& row);
  // The row of that service (tombstones included); nullopt if there is none.
  Result<std::optional<ServiceRow>> service(ServiceKind kind, std::string_view name) const;
  // Every row, tombstones included, sources first, each kind by name.
  Result<std::vector<ServiceRow>> services() const;
  // Forgets the row (a 'config' service whose table left the file). No row: ok.
  Status erase_service(ServiceKind kind, std::string_view name);

  // Inserts or replaces the document row of that kind and name; durable on return.
  Status put_document(const DocumentRow& row);
  // The rows of a kind (tombstones included), by name.
  Result<std::vector<DocumentRow>> documents(std::string_view kind) const;
  // Forgets the row; no row: ok.
  Status erase_document(std::string_view kind, std::string_view name);

  // Pauses (a row, `paused_at` ISO-8601 UTC from the caller's clock) or unpauses (no row) the
  // session of `sink` on `stream`; durable on return. Idempotent.
  Status set_session_paused(std::string_view stream, std::string_view sink, bool paused,
                            std::string_view paused_at);
  // The streams `sink` is paused on, sorted.
  Result<std::vector<std::string>> paused_streams(std::string_view sink) const;
  // Forgets every pause of `sink` (the sink was removed).
  Status erase_session_pauses(std::string_view sink);

 private:
  explicit StateDb(sqlite3* db) : db_(db) {}
  Status exec(const char* sql) const;

  mutable std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
};

}  // namespace sluice::runtime
