// The auth tables' connection and schema (see auth_db.h for the layout).
#include "auth/auth_db.h"

namespace sluice::auth {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS auth_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS auth_users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  password_hash TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS auth_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES auth_users(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('session', 'api')),"
    "  name TEXT NOT NULL DEFAULT '',"
    "  token_hash BLOB NOT NULL UNIQUE,"
    "  created_ns INTEGER NOT NULL, expires_ns INTEGER NOT NULL DEFAULT 0,"
    "  last_used_ns INTEGER NOT NULL DEFAULT 0, revoked_ns INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS auth_tokens_user ON auth_tokens(user_id);"
    "CREATE TABLE IF NOT EXISTS auth_audit ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ns INTEGER NOT NULL, user TEXT NOT NULL, address TEXT NOT NULL,"
    "  action TEXT NOT NULL, target TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}',"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')));"
    "CREATE INDEX IF NOT EXISTS auth_audit_time ON auth_audit(time_ns);"
    "CREATE TRIGGER IF NOT EXISTS auth_audit_no_update BEFORE UPDATE ON auth_audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS auth_audit_no_delete BEFORE DELETE ON auth_audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

}  // namespace

Result<std::unique_ptr<AuthDb>> AuthDb::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = io_error("cannot open the state database " + path + ": " +
                         (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return st;
  }
  std::unique_ptr<AuthDb> out(new AuthDb(db));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::lock_guard lock(out->mu_);
  SLUICE_RETURN_IF_ERROR(out->exec("PRAGMA journal_mode=WAL"));
  SLUICE_RETURN_IF_ERROR(out->exec("PRAGMA synchronous=FULL"));
  SLUICE_RETURN_IF_ERROR(out->exec(kSchema).with_context(path));
  // Version 2: every user belongs to an organization (platform/registry.h); the users of a
  // version 1 database belong to the platform's own, which sees all.
  bool has_org = false;
  {
    Stmt info(db, "SELECT 1 FROM pragma_table_info('auth_users') WHERE name = 'org'");
    if (!info.ok()) return out->error("state database: auth schema");
    has_org = info.step() == SQLITE_ROW;
  }
  if (!has_org) {
    SLUICE_RETURN_IF_ERROR(
        out->exec("ALTER TABLE auth_users ADD COLUMN org TEXT NOT NULL DEFAULT 'platform'")
            .with_context(path));
  }
  Stmt s(db, "INSERT OR REPLACE INTO auth_meta(key, value) VALUES('schema_version', ?)");
  if (!s.ok()) return out->error("state database: auth schema");
  s.bind(1, std::to_string(kSchemaVersion));
  if (s.step() != SQLITE_DONE) return out->error("state database: auth schema");
  return out;
}

AuthDb::~AuthDb() { sqlite3_close(db_); }

Status AuthDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = io_error(std::string("state database: ") + (err != nullptr ? err : "error"));
    sqlite3_free(err);
    return st;
  }
  return Status::ok_status();
}

Status AuthDb::error(std::string_view what) {
  return io_error(std::string(what) + ": " + sqlite3_errmsg(db_));
}

}  // namespace sluice::auth
