// The state database on SQLite: schema, upserts and lookups of series metadata and of the
// services changed at run time.
#include "runtime/state_db.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

namespace sluice::runtime {
namespace {

// 2: the services table. 3: the paused_sessions table. 4: the documents table. Every change so far is an added table
// (CREATE TABLE IF NOT EXISTS), so an older database is brought up to date by opening it.
constexpr int kSchemaVersion = 4;

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, col));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

Status sqlite_error(sqlite3* db, std::string_view what) {
  return io_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

SeriesMeta row_to_meta(Stmt& s) {
  SeriesMeta m;
  m.name = s.text(0);
  m.unit = s.text(1);
  m.description = s.text(2);
  m.type = static_cast<ValueType>(sqlite3_column_int(s.get(), 3));
  const std::string labels = s.text(4);
  if (!labels.empty()) {
    auto j = nlohmann::json::parse(labels, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.value().is_string()) m.labels[it.key()] = it.value().get<std::string>();
      }
    }
  }
  m.source = s.text(5);
  return m;
}

constexpr const char* kServiceColumns =
    "kind, name, type, enabled, settings, origin, updated_at, seed_hash, deleted";

ServiceRow row_to_service(Stmt& s) {
  ServiceRow r;
  r.kind = s.text(0) == "sink" ? ServiceKind::kSink : ServiceKind::kSource;
  r.name = s.text(1);
  r.type = s.text(2);
  r.enabled = s.integer(3) != 0;
  r.settings = s.text(4);
  r.origin = s.text(5) == "api" ? ServiceOrigin::kApi : ServiceOrigin::kConfig;
  r.updated_at = s.text(6);
  r.seed_hash = s.text(7);
  r.deleted = s.integer(8) != 0;
  return r;
}

}  // namespace

const char* service_kind_name(ServiceKind kind) {
  return kind == ServiceKind::kSink ? "sink" : "source";
}

const char* service_origin_name(ServiceOrigin origin) {
  return origin == ServiceOrigin::kApi ? "api" : "config";
}

Result<std::unique_ptr<StateDb>> StateDb::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = io_error("cannot open the state database " + path + ": " +
                         (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return st;
  }
  std::unique_ptr<StateDb> out(new StateDb(db));
  sqlite3_busy_timeout(db, 5000);
  SLUICE_RETURN_IF_ERROR(out->exec("PRAGMA journal_mode=WAL"));
  SLUICE_RETURN_IF_ERROR(out->exec("PRAGMA synchronous=FULL"));
  SLUICE_RETURN_IF_ERROR(
      out->exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS series ("
                "  name TEXT PRIMARY KEY, unit TEXT NOT NULL DEFAULT '',"
                "  description TEXT NOT NULL DEFAULT '', type INTEGER NOT NULL DEFAULT 0,"
                "  labels TEXT NOT NULL DEFAULT '{}', source TEXT NOT NULL DEFAULT '',"
                "  updated_ns INTEGER NOT NULL DEFAULT 0);"
                "CREATE TABLE IF NOT EXISTS services ("
                "  kind TEXT NOT NULL CHECK (kind IN ('source', 'sink')),"
                "  name TEXT NOT NULL, type TEXT NOT NULL,"
                "  enabled INTEGER NOT NULL DEFAULT 1, settings TEXT NOT NULL,"
                "  origin TEXT NOT NULL CHECK (origin IN ('config', 'api')),"
                "  updated_at TEXT NOT NULL, seed_hash TEXT NOT NULL DEFAULT '',"
                "  deleted INTEGER NOT NULL DEFAULT 0,"
                "  PRIMARY KEY (kind, name));"
                "CREATE TABLE IF NOT EXISTS paused_sessions ("
                "  stream TEXT NOT NULL, sink TEXT NOT NULL, paused_at TEXT NOT NULL,"
                "  PRIMARY KEY (stream, sink));"
                "CREATE TABLE IF NOT EXISTS documents ("
                "  kind TEXT NOT NULL, name TEXT NOT NULL, json TEXT NOT NULL,"
                "  origin TEXT NOT NULL CHECK (origin IN ('config', 'api')),"
                "  updated_at TEXT NOT NULL, seed_hash TEXT NOT NULL DEFAULT '',"
                "  deleted INTEGER NOT NULL DEFAULT 0,"
                "  PRIMARY KEY (kind, name));"));
  {
    std::lock_guard lock(out->mu_);
    Stmt s(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)");
    if (!s.ok()) return sqlite_error(db, "state database schema");
    s.bind(1, std::to_string(kSchemaVersion));
    if (sqlite3_step(s.get()) != SQLITE_DONE) return sqlite_error(db, "state database schema");
  }
  return out;
}

StateDb::~StateDb() { sqlite3_close(db_); }

Status StateDb::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = io_error(std::string("state database: ") + (err != nullptr ? err : "error"));
    sqlite3_free(err);
    return st;
  }
  return Status::ok_status();
}

Status StateDb::upsert_series(const std::vector<SeriesMeta>& meta) {
  if (meta.empty()) return Status::ok_status();
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  Stmt s(db_,
         "INSERT INTO series(name, unit, description, type, labels, source, updated_ns) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, strftime('%s','now') * 1000000000) "
         "ON CONFLICT(name) DO UPDATE SET "
         "  unit = CASE WHEN ?2 <> '' THEN ?2 ELSE unit END,"
         "  description = CASE WHEN ?3 <> '' THEN ?3 ELSE description END,"
         "  labels = CASE WHEN ?5 <> '{}' THEN ?5 ELSE labels END,"
         "  source = CASE WHEN ?6 <> '' THEN ?6 ELSE source END,"
         "  updated_ns = excluded.updated_ns");
  if (!s.ok()) {
    (void)exec("ROLLBACK");
    return sqlite_error(db_, "state database: series upsert");
  }
  for (const SeriesMeta& m : meta) {
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& [k, v] : m.labels) labels[k] = v;
    s.bind(1, m.name);
    s.bind(2, m.unit);
    s.bind(3, m.description);
    s.bind(4, static_cast<int64_t>(m.type));
    s.bind(5, labels.dump());
    s.bind(6, m.source);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
      Status st = sqlite_error(db_, "state database: series upsert of '" + m.name + "'");
      (void)exec("ROLLBACK");
      return st;
    }
    sqlite3_reset(s.get());
  }
  return exec("COMMIT");
}

std::optional<SeriesMeta> StateDb::series(std::string_view name) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT name, unit, description, type, labels, source FROM series WHERE name = ?");
  if (!s.ok()) return std::nullopt;
  s.bind(1, name);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  return row_to_meta(s);
}

Result<std::vector<SeriesMeta>> StateDb::all_series() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT name, unit, description, type, labels, source FROM series ORDER BY name");
  if (!s.ok()) return sqlite_error(db_, "state database: list series");
  std::vector<SeriesMeta> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(row_to_meta(s));
  return out;
}

Status StateDb::put_service(const ServiceRow& row) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("INSERT OR REPLACE INTO services(") + kServiceColumns +
               ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                  .c_str());
  if (!s.ok()) return sqlite_error(db_, "state database: store service");
  s.bind(1, std::string_view(service_kind_name(row.kind)));
  s.bind(2, row.name);
  s.bind(3, row.type);
  s.bind(4, int64_t{row.enabled ? 1 : 0});
  s.bind(5, row.settings);
  s.bind(6, std::string_view(service_origin_name(row.origin)));
  s.bind(7, row.updated_at);
  s.bind(8, row.seed_hash);
  s.bind(9, int64_t{row.deleted ? 1 : 0});
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return sqlite_error(db_, std::string("state database: store ") + service_kind_name(row.kind) +
                                 " '" + row.name + "'");
  }
  return Status::ok_status();
}

Result<std::optional<ServiceRow>> StateDb::service(ServiceKind kind, std::string_view name) const {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         (std::string("SELECT ") + kServiceColumns + " FROM services WHERE kind = ?1 AND name = ?2")
             .c_str());
  if (!s.ok()) return sqlite_error(db_, "state database: read service");
  s.bind(1, std::string_view(service_kind_name(kind)));
  s.bind(2, name);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<ServiceRow>();
  if (rc != SQLITE_ROW) {
    return sqlite_error(db_, std::string("state database: read ") + service_kind_name(kind) + " '" +
                                 std::string(name) + "'");
  }
  return std::optional<ServiceRow>(row_to_service(s));
}

Result<std::vector<ServiceRow>> StateDb::services() const {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         (std::string("SELECT ") + kServiceColumns + " FROM services ORDER BY kind = 'sink', name")
             .c_str());
  if (!s.ok()) return sqlite_error(db_, "state database: list services");
  std::vector<ServiceRow> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(row_to_service(s));
  if (rc != SQLITE_DONE) return sqlite_error(db_, "state database: list services");
  return out;
}

Status StateDb::erase_service(ServiceKind kind, std::string_view name) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM services WHERE kind = ?1 AND name = ?2");
  if (!s.ok()) return sqlite_error(db_, "state database: forget service");
  s.bind(1, std::string_view(service_kind_name(kind)));
  s.bind(2, name);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return sqlite_error(db_, std::string("state database: forget ") + service_kind_name(kind) +
                                 " '" + std::string(name) + "'");
  }
  return Status::ok_status();
}

Status StateDb::set_session_paused(std::string_view stream, std::string_view sink, bool paused,
                                   std::string_view paused_at) {
  std::lock_guard lock(mu_);
  Stmt s(db_, paused ? "INSERT OR REPLACE INTO paused_sessions(stream, sink, paused_at) "
                       "VALUES(?1, ?2, ?3)"
                     : "DELETE FROM paused_sessions WHERE stream = ?1 AND sink = ?2");
  if (!s.ok()) return sqlite_error(db_, "state database: session pause");
  s.bind(1, stream);
  s.bind(2, sink);
  if (paused) s.bind(3, paused_at);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return sqlite_error(db_, "state database: " + std::string(paused ? "pause" : "unpause") +
                                 " the session of sink '" + std::string(sink) + "' on stream '" +
                                 std::string(stream) + "'");
  }
  return Status::ok_status();
}

Result<std::vector<std::string>> StateDb::paused_streams(std::string_view sink) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT stream FROM paused_sessions WHERE sink = ?1 ORDER BY stream");
  if (!s.ok()) return sqlite_error(db_, "state database: list paused sessions");
  s.bind(1, sink);
  std::vector<std::string> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return sqlite_error(db_, "state database: list paused sessions");
  return out;
}

Status StateDb::erase_session_pauses(std::string_view sink) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM paused_sessions WHERE sink = ?1");
  if (!s.ok()) return sqlite_error(db_, "state database: forget paused sessions");
  s.bind(1, sink);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return sqlite_error(
        db_, "state database: forget the paused sessions of sink '" + std::string(sink) + "'");
  }
  return Status::ok_status();
}

Status StateDb::put_document(const DocumentRow& row) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT OR REPLACE INTO documents(kind, name, json, origin, updated_at, seed_hash, "
         "deleted) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!s.ok()) return sqlite_error(db_, "state database: store a document");
  s.bind(1, row.kind);
  s.bind(2, row.name);
  s.bind(3, row.json);
  s.bind(4, service_origin_name(row.origin));
  s.bind(5, row.updated_at);
  s.bind(6, row.seed_hash);
  s.bind(7, int64_t{row.deleted ? 1 : 0});
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return sqlite_error(db_, "state database: store " + row.kind + " '" + row.name + "'");
  }
  return Status::ok_status();
}

Result<std::vector<DocumentRow>> StateDb::documents(std::string_view kind) const {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT kind, name, json, origin, updated_at, seed_hash, deleted FROM documents "
         "WHERE kind = ?1 ORDER BY name");
  if (!s.ok()) return sqlite_error(db_, "state database: list documents");
  s.bind(1, kind);
  std::vector<DocumentRow> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    DocumentRow row;
    row.kind = s.text(0);
    row.name = s.text(1);
    row.json = s.text(2);
    row.origin = s.text(3) == "api" ? ServiceOrigin::kApi : ServiceOrigin::kConfig;
    row.updated_at = s.text(4);
    row.seed_hash = s.text(5);
    row.deleted = s.integer(6) != 0;
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return sqlite_error(db_, "state database: list documents");
  return out;
}

Status StateDb::erase_document(std::string_view kind, std::string_view name) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM documents WHERE kind = ?1 AND name = ?2");
  if (!s.ok()) return sqlite_error(db_, "state database: forget a document");
  s.bind(1, kind);
  s.bind(2, name);
  if (sqlite3_step(s.get()) != SQLITE_DONE) {
    return sqlite_error(db_, "state database: forget " + std::string(kind) + " '" +
                                 std::string(name) + "'");
  }
  return Status::ok_status();
}

}  // namespace sluice::runtime
