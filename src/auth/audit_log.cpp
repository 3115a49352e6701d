// The audit log on the append-only auth_audit table.
#include "auth/audit_log.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace sluice::auth {

const char* audit_outcome_name(AuditOutcome outcome) {
  switch (outcome) {
    case AuditOutcome::kOk: return "ok";
    case AuditOutcome::kDenied: return "denied";
    case AuditOutcome::kFailed: return "failed";
  }
  return "failed";
}

AuditLog::AuditLog(AuthDb& db, Clock& clock) : db_(db), clock_(clock) {}

Result<int64_t> AuditLog::record(AuditEntry entry) {
  for (const std::string* field : {&entry.user, &entry.address, &entry.action, &entry.target}) {
    if (field->size() > kMaxAuditFieldLength) {
      return invalid_argument("audit entry field longer than " +
                              std::to_string(kMaxAuditFieldLength) + " bytes");
    }
  }
  if (entry.action.empty()) return invalid_argument("audit entry without an action");
  if (entry.details.empty()) entry.details = "{}";
  if (entry.details.size() > kMaxAuditDetailsLength) {
    return invalid_argument("audit entry details longer than " +
                            std::to_string(kMaxAuditDetailsLength) + " bytes");
  }
  const auto details = nlohmann::json::parse(entry.details, nullptr, /*allow_exceptions=*/false);
  if (!details.is_object()) return invalid_argument("audit entry details are not a JSON object");
  entry.details = details.dump();  // normalised

  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(),
         "INSERT INTO auth_audit(time_ns, user, address, action, target, details, outcome) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!s.ok()) return db_.error("state database: audit");
  s.bind(1, int64_t{clock_.now()});
  s.bind(2, entry.user);
  s.bind(3, entry.address);
  s.bind(4, entry.action);
  s.bind(5, entry.target);
  s.bind(6, entry.details);
  s.bind(7, std::string_view(audit_outcome_name(entry.outcome)));
  if (s.step() != SQLITE_DONE) return db_.error("state database: audit");
  return int64_t{sqlite3_last_insert_rowid(db_.handle())};
}

Result<std::vector<AuditEntry>> AuditLog::list(const AuditFilter& filter) {
  const size_t limit = std::min(filter.limit, kMaxAuditListLimit);
  std::lock_guard lock(db_.mu());
  Stmt s(db_.handle(),
         "SELECT id, time_ns, user, address, action, target, details, outcome FROM auth_audit "
         "WHERE time_ns >= ?1 AND (?2 = '' OR user = ?2) ORDER BY id DESC LIMIT ?3");
  if (!s.ok()) return db_.error("state database: read audit log");
  s.bind(1, filter.since_ns);
  s.bind(2, filter.user);
  s.bind(3, static_cast<int64_t>(limit));
  std::vector<AuditEntry> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    AuditEntry e;
    e.id = s.integer(0);
    e.time_ns = s.integer(1);
    e.user = s.text(2);
    e.address = s.text(3);
    e.action = s.text(4);
    e.target = s.text(5);
    e.details = s.text(6);
    const std::string outcome = s.text(7);
    e.outcome = outcome == "ok"       ? AuditOutcome::kOk
                : outcome == "denied" ? AuditOutcome::kDenied
                                      : AuditOutcome::kFailed;
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return db_.error("state database: read audit log");
  return out;
}

}  // namespace sluice::auth
