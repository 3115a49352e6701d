// The authentication tables, kept in the state database file (state.db, next to the store) but
// through their own SQLite connection: users, tokens (login sessions and API tokens) and the
// audit log. Own connection rather than more methods on runtime::StateDb because the CLI changes
// users while the gateway may be running (WAL lets both connections work on the file; the busy
// timeout serialises writers), because auth is its own subsystem with its own schema version, and
// because the runtime's tables stay untouched. Same settings as StateDb: WAL, synchronous=FULL,
// so a created user or a revoked token is on disk when the call returns.
//
// Schema (version 2, in table auth_meta, key 'schema_version'; only ever extended with new
// tables or columns, like state.db's own schema):
//
//   auth_users(id INTEGER PRIMARY KEY, name TEXT UNIQUE COLLATE NOCASE, role TEXT,
//              password_hash TEXT (argon2id PHC string), enabled INTEGER,
//              created_ns, updated_ns, org TEXT (version 2; default 'platform'))
//   auth_tokens(id INTEGER PRIMARY KEY, user_id -> auth_users.id, kind 'session'|'api',
//               name TEXT, token_hash BLOB UNIQUE (SHA-256 of the token text),
//               created_ns, expires_ns (0: never), last_used_ns (0: never), revoked_ns (0: not))
//   auth_audit(id INTEGER PRIMARY KEY, time_ns, user, address, action, target,
//              details TEXT (a JSON object), outcome 'ok'|'denied'|'failed')
//              -- append-only: triggers refuse UPDATE and DELETE.
//
// Times are ns since the Unix epoch from the caller's Clock. Thread safety: one connection
// behind a mutex; the stores built on it (UserStore, TokenStore, AuditLog) lock it per call.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::auth {

class AuthDb {
 public:
  // Opens (creating) the database at `path` (":memory:" for tests) and creates the auth tables.
  static Result<std::unique_ptr<AuthDb>> open(const std::string& path);
  ~AuthDb();
  AuthDb(const AuthDb&) = delete;
  AuthDb& operator=(const AuthDb&) = delete;

  // For the stores in this folder: the connection and the mutex that guards it.
  std::mutex& mu() { return mu_; }
  sqlite3* handle() { return db_; }  // guarded by mu()
  // Runs SQL without results; the caller holds mu().
  Status exec(const char* sql);
  // An IoError naming `what` with SQLite's last message; the caller holds mu().
  Status error(std::string_view what);

 private:
  explicit AuthDb(sqlite3* db) : db_(db) {}

  std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
};

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  int step() { return sqlite3_step(stmt_); }
  // Ready to step again with new bindings.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  // An empty view binds '' (never NULL, which a null data() pointer would give).
  void bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                      SQLITE_TRANSIENT);
  }
  void bind_blob(int i, std::string_view b) {
    sqlite3_bind_blob(stmt_, i, b.empty() ? "" : b.data(), static_cast<int>(b.size()),
                      SQLITE_TRANSIENT);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, col));
  }
  std::string blob(int col) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, col));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded. The caller
// holds the AuthDb mutex for the whole lifetime.
class Transaction {
 public:
  explicit Transaction(AuthDb& db) : db_(db) { begun_ = db_.exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (begun_.ok() && !done_) (void)db_.exec("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& begun() const { return begun_; }
  Status commit() {
    Status st = db_.exec("COMMIT");
    if (st.ok()) done_ = true;
    return st;
  }

 private:
  AuthDb& db_;
  Status begun_;
  bool done_ = false;
};

}  // namespace sluice::auth
