// The edge-control documents: rules, notifications, automation scripts and ACLs. The config
// file's [[rules]], [[notifications]], [[scripts]] and [[acls]] seed them; the REST API creates,
// changes and deletes them while Sluice runs. They are kept in the state database's documents
// table (runtime/state_db.h) as JSON objects, with the services' rules of origin: a document
// changed through the API wins over the file from then on, and one deleted through the API
// leaves a tombstone so that the file does not bring it back.
//
// One mechanism for every change: the whole set after the change (a Snapshot, each document
// read by the same reader as the config file, through runtime::JsonTable) is first handed to
// the apply function (the rules engine and the control dispatcher take it, or refuse it: a
// script loop, a rule that does not build). Only if it is taken is it written to the database.
// So what runs is always what is stored, and a refused change leaves both as they were.
//
// Thread safety: every method may be called from any thread; changes are serialized.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/acl.h"
#include "control/rule_config.h"
#include "control/script.h"
#include "core/clock.h"
#include "core/status.h"
#include "runtime/config.h"
#include "runtime/source_types.h"
#include "runtime/state_db.h"

namespace sluice::control {

// The four kinds, as the config file and the API name them.
inline constexpr std::string_view kRules = "rules";
inline constexpr std::string_view kNotifications = "notifications";
inline constexpr std::string_view kScripts = "scripts";
inline constexpr std::string_view kAcls = "acls";

// Registers the four kinds with the config parser (runtime/source_types.h, DocumentType).
void register_documents(runtime::SourceTypes& types);

struct Snapshot {
  std::vector<RuleDef> rules;
  std::vector<NotificationDef> notifications;
  std::vector<Script> scripts;
  std::vector<Acl> acls;
};

// A document with where it came from, for the API.
struct DocumentInfo {
  nlohmann::json json;
  std::string origin;  // "config" or "api"
  std::string updated_at;
};

class Documents {
 public:
  using Apply = std::function<Status(const Snapshot&)>;

  // Seeds the table from the config file's documents, reads every document back and applies
  // the set once. Fails if the database fails, or if the stored set does not apply (the message
  // says which document).
  static Result<std::unique_ptr<Documents>> open(runtime::StateDb& db,
                                                 const std::vector<runtime::DocumentConfig>& file,
                                                 Clock& clock, Apply apply);

  // The documents of a kind, by name.
  std::vector<DocumentInfo> list(std::string_view kind) const;
  std::optional<DocumentInfo> get(std::string_view kind, std::string_view name) const;

  // Creates (`name` empty: the object's name must be new) or replaces the document `name` (the
  // object's name must be `name`: a rename is a delete and a create). kInvalidArgument with
  // every error of the object (each naming its key); kNotFound for an unknown name to replace;
  // kAlreadyExists for a name taken; the apply function's refusal as it came.
  Status put(std::string_view kind, const nlohmann::json& object, std::string_view name = {});
  // Deletes it (a tombstone stays). kNotFound if there is none; refused like put() when the set
  // without it does not apply (a notification still names the rule, a script the ACL).
  Status remove(std::string_view kind, std::string_view name);

 private:
  struct Entry {
    runtime::DocumentRow row;
    nlohmann::json json;
  };
  Documents(runtime::StateDb& db, Clock& clock, Apply apply)
      : db_(db), clock_(clock), apply_(std::move(apply)) {}
  Status load();  // mu_ held
  // The set with `replace` (kind, name) → object, or without it when object is null.
  Result<Snapshot> snapshot_with(std::string_view kind, std::string_view name,
                                 const nlohmann::json* object) const;

  runtime::StateDb& db_;
  Clock& clock_;
  const Apply apply_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // live documents (no tombstones), guarded by mu_
};

// Reads a document of `kind` from JSON (the API's bodies): every error in one message.
Status check_document(std::string_view kind, const nlohmann::json& object);

}  // namespace sluice::control
