// The edge-control documents (see documents.h).
#include "control/documents.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "runtime/config_text.h"

namespace sluice::control {
namespace {

using nlohmann::json;

bool known_kind(std::string_view kind) {
  return kind == kRules || kind == kNotifications || kind == kScripts || kind == kAcls;
}

std::string singular(std::string_view kind) {
  if (kind == kRules) return "rule";
  if (kind == kNotifications) return "notification";
  if (kind == kScripts) return "script";
  return "ACL";
}

// Reads one document into the snapshot; the error names the document.
Status add_to(Snapshot& s, std::string_view kind, const json& object) {
  const std::string name =
      object.is_object() && object.contains("name") && object["name"].is_string()
          ? object["name"].get<std::string>()
          : std::string();
  const auto fail = [&](const Status& st) {
    return invalid_argument(fmt::format("{} '{}': {}", singular(kind), name, st.message()));
  };
  if (kind == kRules) {
    Result<RuleDef> r = rule_from_json(object);
    if (!r.ok()) return fail(r.status());
    s.rules.push_back(std::move(*r));
  } else if (kind == kNotifications) {
    Result<NotificationDef> r = notification_from_json(object);
    if (!r.ok()) return fail(r.status());
    s.notifications.push_back(std::move(*r));
  } else if (kind == kScripts) {
    Result<Script> r = script_from_json(object);
    if (!r.ok()) return fail(r.status());
    s.scripts.push_back(std::move(*r));
  } else if (kind == kAcls) {
    Result<Acl> r = acl_from_json(object);
    if (!r.ok()) return fail(r.status());
    s.acls.push_back(std::move(*r));
  } else {
    return invalid_argument(fmt::format("unknown kind of document '{}'", kind));
  }
  return Status::ok_status();
}

// What one document names in another must exist: a notification's rule, a script delivery's
// scripts, a script's called scripts and its ACL (kFailedPrecondition: the API's 409, whether
// the document that names it or the one named changes). Loops of calls are the dispatcher's to
// refuse (kInvalidArgument: the script itself is wrong).
Status check_references(const Snapshot& s) {
  const auto has_script = [&](const std::string& name) {
    return std::any_of(s.scripts.begin(), s.scripts.end(),
                       [&](const Script& x) { return x.name == name; });
  };
  for (const Script& script : s.scripts) {
    if (!script.acl.empty() && std::none_of(s.acls.begin(), s.acls.end(), [&](const Acl& a) {
          return a.name == script.acl;
        })) {
      return failed_precondition(fmt::format(
          "script '{}' is attached to ACL '{}', and there is no ACL of that name", script.name,
          script.acl));
    }
    for (size_t i = 0; i < script.steps.size(); ++i) {
      const Step& step = script.steps[i];
      if (step.kind == Step::Kind::kScript && !has_script(step.script)) {
        return failed_precondition(
            fmt::format("script '{}' step {} runs script '{}', and there is no script of that name",
                        script.name, i + 1, step.script));
      }
    }
  }
  for (const NotificationDef& n : s.notifications) {
    const bool has_rule = std::any_of(s.rules.begin(), s.rules.end(),
                                      [&](const RuleDef& r) { return r.name == n.rule; });
    if (!has_rule) {
      return failed_precondition(
          fmt::format("notification '{}' names rule '{}', and there is no rule of that name",
                      n.name, n.rule));
    }
    for (const DeliveryDef& d : n.deliveries) {
      for (const std::string& script : {d.script, d.cleared_script}) {
        if (script.empty()) continue;
        if (!has_script(script)) {
          return failed_precondition(fmt::format(
              "notification '{}' runs script '{}', and there is no script of that name", n.name,
              script));
        }
      }
    }
  }
  return Status::ok_status();
}

}  // namespace

void register_documents(runtime::SourceTypes& types) {
  types.add_document({std::string(kRules), [](runtime::ConfigTable& t) { (void)read_rule(t); }});
  types.add_document(
      {std::string(kNotifications), [](runtime::ConfigTable& t) { (void)read_notification(t); }});
  types.add_document(
      {std::string(kScripts), [](runtime::ConfigTable& t) { (void)read_script(t); }});
  types.add_document({std::string(kAcls), [](runtime::ConfigTable& t) { (void)read_acl(t); }});
}

Status check_document(std::string_view kind, const json& object) {
  Snapshot s;
  return add_to(s, kind, object);
}

Result<std::unique_ptr<Documents>> Documents::open(runtime::StateDb& db,
                                                   const std::vector<runtime::DocumentConfig>& file,
                                                   Clock& clock, Apply apply) {
  std::unique_ptr<Documents> d(new Documents(db, clock, std::move(apply)));
  const std::string now = iso8601_ms(clock.now());
  // Seed: the file's documents, by the services' rules of origin (runtime/state_db.h).
  for (std::string_view kind : {kRules, kNotifications, kScripts, kAcls}) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<runtime::DocumentRow> rows, db.documents(kind));
    std::vector<std::string> in_file;
    for (const runtime::DocumentConfig& doc : file) {
      if (doc.kind != kind) continue;
      in_file.push_back(doc.name);
      json object = json::parse(doc.json, nullptr, /*allow_exceptions=*/false);
      const std::string canonical = object.dump();
      const std::string hash = runtime::settings_hash(canonical);
      auto row = std::find_if(rows.begin(), rows.end(),
                              [&](const runtime::DocumentRow& r) { return r.name == doc.name; });
      if (row == rows.end()) {
        SLUICE_RETURN_IF_ERROR(db.put_document(
            {std::string(kind), doc.name, canonical, runtime::ServiceOrigin::kConfig, now, hash}));
      } else if (row->origin == runtime::ServiceOrigin::kConfig && row->seed_hash != hash) {
        SLUICE_RETURN_IF_ERROR(db.put_document(
            {std::string(kind), doc.name, canonical, runtime::ServiceOrigin::kConfig, now, hash}));
      } else if (row->origin == runtime::ServiceOrigin::kApi && row->seed_hash != hash) {
        spdlog::info("{} '{}' was changed through the API at {}; its table in the config file is "
                     "not applied",
                     singular(kind), doc.name, row->updated_at);
        runtime::DocumentRow seen = *row;
        seen.seed_hash = hash;
        SLUICE_RETURN_IF_ERROR(db.put_document(seen));
      }
    }
    // A 'config' document whose table left the file is gone.
    for (const runtime::DocumentRow& r : rows) {
      if (r.origin == runtime::ServiceOrigin::kConfig && !r.deleted &&
          std::find(in_file.begin(), in_file.end(), r.name) == in_file.end()) {
        SLUICE_RETURN_IF_ERROR(db.erase_document(kind, r.name));
      }
    }
  }
  std::lock_guard lock(d->mu_);
  SLUICE_RETURN_IF_ERROR(d->load());
  SLUICE_ASSIGN_OR_RETURN(Snapshot s, d->snapshot_with("", "", nullptr));
  SLUICE_RETURN_IF_ERROR(check_references(s));
  SLUICE_RETURN_IF_ERROR(d->apply_(s));
  return d;
}

Status Documents::load() {
  entries_.clear();
  for (std::string_view kind : {kRules, kNotifications, kScripts, kAcls}) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<runtime::DocumentRow> rows, db_.documents(kind));
    for (runtime::DocumentRow& row : rows) {
      if (row.deleted) continue;
      json object = json::parse(row.json, nullptr, /*allow_exceptions=*/false);
      if (!object.is_object()) {
        return Status(Code::kCorruption,
                      fmt::format("state database: {} '{}' is not a JSON object", singular(kind),
                                  row.name));
      }
      entries_.push_back(Entry{std::move(row), std::move(object)});
    }
  }
  return Status::ok_status();
}

Result<Snapshot> Documents::snapshot_with(std::string_view kind, std::string_view name,
                                          const json* object) const {
  Snapshot s;
  bool replaced = false;
  for (const Entry& e : entries_) {
    if (e.row.kind == kind && e.row.name == name) {
      replaced = true;
      if (object != nullptr) SLUICE_RETURN_IF_ERROR(add_to(s, kind, *object));
      continue;
    }
    SLUICE_RETURN_IF_ERROR(add_to(s, e.row.kind, e.json));
  }
  if (!replaced && object != nullptr) SLUICE_RETURN_IF_ERROR(add_to(s, kind, *object));
  return s;
}

std::vector<DocumentInfo> Documents::list(std::string_view kind) const {
  std::lock_guard lock(mu_);
  std::vector<DocumentInfo> out;
  for (const Entry& e : entries_) {
    if (e.row.kind != kind) continue;
    out.push_back(DocumentInfo{e.json, runtime::service_origin_name(e.row.origin),
                               e.row.updated_at});
  }
  return out;
}

std::optional<DocumentInfo> Documents::get(std::string_view kind, std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const Entry& e : entries_) {
    if (e.row.kind == kind && e.row.name == name) {
      return DocumentInfo{e.json, runtime::service_origin_name(e.row.origin), e.row.updated_at};
    }
  }
  return std::nullopt;
}

Status Documents::put(std::string_view kind, const json& object, std::string_view name) {
  if (!known_kind(kind)) return not_found(fmt::format("no kind of document '{}'", kind));
  SLUICE_RETURN_IF_ERROR(check_document(kind, object));
  const std::string object_name = object["name"].get<std::string>();
  std::lock_guard lock(mu_);
  const auto exists = [&](std::string_view n) {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return e.row.kind == kind && e.row.name == n; });
  };
  if (name.empty()) {
    if (exists(object_name)) {
      return Status(Code::kAlreadyExists,
                    fmt::format("a {} named '{}' exists; change it with PUT, or choose another "
                                "name",
                                singular(kind), object_name));
    }
  } else {
    if (!exists(name)) {
      return not_found(fmt::format("no {} named '{}'", singular(kind), name));
    }
    if (object_name != name) {
      return invalid_argument(fmt::format(
          "field 'name': '{}' differs from '{}' in the path; a {} cannot be renamed (delete it "
          "and create it anew)",
          object_name, name, singular(kind)));
    }
  }
  SLUICE_ASSIGN_OR_RETURN(Snapshot s, snapshot_with(kind, object_name, &object));
  SLUICE_RETURN_IF_ERROR(check_references(s));
  SLUICE_RETURN_IF_ERROR(apply_(s));
  runtime::DocumentRow row{std::string(kind), object_name, object.dump(),
                           runtime::ServiceOrigin::kApi, iso8601_ms(clock_.now())};
  // Keep the seed hash of a document that came from the file, so a restart knows it was seen.
  for (const Entry& e : entries_) {
    if (e.row.kind == kind && e.row.name == object_name) row.seed_hash = e.row.seed_hash;
  }
  const Status stored = db_.put_document(row);
  if (!stored.ok()) {
    // What runs must be what is stored: back to the stored set.
    Result<Snapshot> was = snapshot_with("", "", nullptr);
    if (was.ok()) (void)apply_(*was);
    return stored;
  }
  return load();
}

Status Documents::remove(std::string_view kind, std::string_view name) {
  if (!known_kind(kind)) return not_found(fmt::format("no kind of document '{}'", kind));
  std::lock_guard lock(mu_);
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.row.kind == kind && e.row.name == name;
  });
  if (it == entries_.end()) return not_found(fmt::format("no {} named '{}'", singular(kind), name));
  SLUICE_ASSIGN_OR_RETURN(Snapshot s, snapshot_with(kind, name, nullptr));
  SLUICE_RETURN_IF_ERROR(check_references(s));
  SLUICE_RETURN_IF_ERROR(apply_(s));
  runtime::DocumentRow tombstone = it->row;
  tombstone.origin = runtime::ServiceOrigin::kApi;
  tombstone.updated_at = iso8601_ms(clock_.now());
  tombstone.deleted = true;
  const Status stored = db_.put_document(tombstone);
  if (!stored.ok()) {
    Result<Snapshot> was = snapshot_with("", "", nullptr);
    if (was.ok()) (void)apply_(*was);
    return stored;
  }
  return load();
}

}  // namespace sluice::control
