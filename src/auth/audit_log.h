// The audit log: who changed what through the API (or the CLI), when, from where, and how it
// ended. Append-only (table auth_audit, auth_db.h): there is no method to change or delete an
// entry, and triggers in the database refuse UPDATE and DELETE, so a bug or a careless script
// cannot rewrite history. Durable when record() returns (synchronous=FULL).
//
// Thread safety: every method may be called from any thread. `db` and `clock` must outlive the
// log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "auth/auth_db.h"
#include "core/clock.h"
#include "core/status.h"

namespace sluice::auth {

enum class AuditOutcome { kOk, kDenied, kFailed };     // done; refused (role); tried and failed
const char* audit_outcome_name(AuditOutcome outcome);  // "ok", "denied", "failed"

struct AuditEntry {
  int64_t id = 0;              // increasing in the order of recording
  int64_t time_ns = 0;         // set by record() from the clock
  std::string user;            // who; "" for an unauthenticated attempt, "cli" for the command line
  std::string address;         // the client's address, "" when local (CLI)
  std::string action;          // what, e.g. "user.create", "source.pause", "token.revoke"
  std::string target;          // on what, e.g. "alice", "source/plc1", "token/7"
  std::string details = "{}";  // a JSON object with the particulars (never a password or token)
  AuditOutcome outcome = AuditOutcome::kOk;
};

struct AuditFilter {
  int64_t since_ns = 0;  // entries at or after this time
  std::string user;      // only this user's entries; "" for all
  size_t limit = 100;    // at most this many (capped at kMaxAuditListLimit), newest first
};

constexpr size_t kMaxAuditListLimit = 10000;
constexpr size_t kMaxAuditFieldLength = 4096;
constexpr size_t kMaxAuditDetailsLength = 64 * 1024;

class AuditLog {
 public:
  AuditLog(AuthDb& db, Clock& clock);

  // Appends `entry` (its id and time are set here) and returns its id. InvalidArgument if
  // details is not a JSON object or a field is longer than its limit.
  Result<int64_t> record(AuditEntry entry);
  // The entries that pass `filter`, newest first.
  Result<std::vector<AuditEntry>> list(const AuditFilter& filter);

 private:
  AuthDb& db_;
  Clock& clock_;
};

}  // namespace sluice::auth
