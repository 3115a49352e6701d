// The device registry on SQLite, with the in-memory indexes the adapters read. See registry.h.
#include "platform/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "auth/crypto.h"

namespace sluice::platform {
namespace {

using auth::Stmt;
using nlohmann::json;

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS platform_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS platform_orgs ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  metadata TEXT NOT NULL DEFAULT '{}', created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS platform_things ("
    "  id TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES platform_orgs(id),"
    "  name TEXT NOT NULL, key_hash BLOB NOT NULL UNIQUE, key_hint TEXT NOT NULL,"
    "  metadata TEXT NOT NULL DEFAULT '{}', created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL, key_rotated_ns INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS platform_things_org ON platform_things(org, created_ns);"
    "CREATE TABLE IF NOT EXISTS platform_channels ("
    "  id TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES platform_orgs(id),"
    "  name TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS platform_channels_org ON platform_channels(org, created_ns);"
    "CREATE TABLE IF NOT EXISTS platform_connections ("
    "  thing TEXT NOT NULL, channel TEXT NOT NULL, created_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (thing, channel));"
    "CREATE INDEX IF NOT EXISTS platform_connections_channel ON platform_connections(channel);";

// The columns every entity list reads, by table.
constexpr const char* kOrgColumns = "id, name, metadata, created_ns, updated_ns";
constexpr const char* kThingColumns =
    "id, org, name, key_hint, metadata, created_ns, updated_ns, key_rotated_ns";
constexpr const char* kChannelColumns = "id, org, name, metadata, created_ns, updated_ns";

json parse_metadata(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

Org org_row(Stmt& s) {
  return Org{s.text(0), s.text(1), parse_metadata(s.text(2)), s.integer(3), s.integer(4)};
}
Thing thing_row(Stmt& s) {
  return Thing{s.text(0), s.text(1),    s.text(2),    parse_metadata(s.text(4)),
               s.text(3), s.integer(5), s.integer(6), s.integer(7)};
}
Channel channel_row(Stmt& s) {
  return Channel{s.text(0),    s.text(1),   s.text(2), parse_metadata(s.text(3)),
                 s.integer(4), s.integer(5)};
}

std::string hash_key(std::string_view key) { return auth::sha256(key); }

bool is_hex_key(std::string_view key) {
  return key.size() == kKeyHexLength && std::all_of(key.begin(), key.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

// An id given by the caller: 1 to 64 characters of [A-Za-z0-9_-] (a UUID, a serial number).
Status check_id(std::string_view id, std::string_view at) {
  const bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (ok) return Status::ok_status();
  return invalid_argument(fmt::format("{}: '{}' is not an id: 1 to 64 letters, digits, '-' or '_'",
                                      at, id.substr(0, 80)));
}

Status not_found_in(const char* what, std::string_view id) {
  return not_found(fmt::format("no {} with id '{}'", what, id));
}

// The WHERE clause of a list: the scope, the org filter, the name filter, the connection filter
// (`link`: the subquery the connected_to filter uses, or null). Parameters 1..5.
std::string list_where(const char* link) {
  std::string w =
      " WHERE (?1 = 1 OR org = ?2) AND (?3 = '' OR org = ?3)"
      " AND (?4 = '' OR instr(lower(name), lower(?4)) > 0)";
  if (link != nullptr) w += fmt::format(" AND (?5 = '' OR id IN ({}))", link);
  return w;
}
void bind_list(Stmt& s, const Scope& scope, const ListQuery& q, bool link) {
  s.bind(1, int64_t{scope.all ? 1 : 0});
  s.bind(2, scope.org);
  s.bind(3, q.org);
  s.bind(4, q.name);
  if (link) s.bind(5, q.connected_to);
}

// Lists `table` for `scope` and `q` with `row` converting one row.
template <typename T, typename RowFn>
Result<Listed<T>> list_table(auth::AuthDb& db, const char* table, const char* columns,
                             const char* link, const Scope& scope, const ListQuery& q, RowFn row) {
  if (q.limit == 0 || q.limit > kMaxPageLimit) {
    return invalid_argument(
        fmt::format("limit: {} is not between 1 and {}", q.limit, kMaxPageLimit));
  }
  std::lock_guard lock(db.mu());
  Listed<T> out;
  {
    Stmt c(db.handle(), fmt::format("SELECT COUNT(*) FROM {}{}", table, list_where(link)).c_str());
    if (!c.ok()) return db.error(fmt::format("listing {}", table));
    bind_list(c, scope, q, link != nullptr);
    if (c.step() != SQLITE_ROW) return db.error(fmt::format("listing {}", table));
    out.total = static_cast<size_t>(c.integer(0));
  }
  Stmt s(db.handle(), fmt::format("SELECT {} FROM {}{} ORDER BY created_ns, id LIMIT ?6 OFFSET ?7",
                                  columns, table, list_where(link))
                          .c_str());
  if (!s.ok()) return db.error(fmt::format("listing {}", table));
  bind_list(s, scope, q, link != nullptr);
  s.bind(6, static_cast<int64_t>(q.limit));
  s.bind(7, static_cast<int64_t>(q.offset));
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) out.items.push_back(row(s));
  if (rc != SQLITE_DONE) return db.error(fmt::format("listing {}", table));
  return out;
}

}  // namespace

Status check_name(std::string_view name, std::string_view at) {
  if (name.empty()) return invalid_argument(fmt::format("{}: missing; give a name", at));
  if (name.size() > kMaxNameLength) {
    return invalid_argument(
        fmt::format("{}: {} characters, at most {}", at, name.size(), kMaxNameLength));
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return invalid_argument(fmt::format("{}: contains a control character", at));
    }
  }
  return Status::ok_status();
}

Status check_metadata(const json& metadata, std::string_view at) {
  if (!metadata.is_object()) {
    return invalid_argument(
        fmt::format("{}: expected a JSON object, got {}", at, metadata.type_name()));
  }
  const size_t size = metadata.dump().size();
  if (size > kMaxMetadataBytes) {
    return invalid_argument(fmt::format("{}: {} bytes, at most {}", at, size, kMaxMetadataBytes));
  }
  return Status::ok_status();
}

Result<std::string> new_thing_key() {
  SLUICE_ASSIGN_OR_RETURN(std::string bytes, auth::random_bytes(kKeyHexLength / 2));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kKeyHexLength);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// ---- Opening ------------------------------------------------------------------------------------

Result<std::unique_ptr<Registry>> Registry::open(const std::string& path, Clock& clock) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<auth::AuthDb> db, auth::AuthDb::open(path));
  std::unique_ptr<Registry> r(new Registry(std::move(db), clock));
  SLUICE_RETURN_IF_ERROR(r->init().with_context(path));
  SLUICE_RETURN_IF_ERROR(r->load_indexes().with_context(path));
  return r;
}

Registry::~Registry() = default;

Status Registry::init() {
  std::lock_guard lock(db_->mu());
  SLUICE_RETURN_IF_ERROR(db_->exec(kSchema));
  Stmt v(handle(), "INSERT OR REPLACE INTO platform_meta(key, value) VALUES('schema_version', ?)");
  v.bind(1, std::to_string(kSchemaVersion));
  if (!v.ok() || v.step() != SQLITE_DONE) return db_->error("platform schema");
  const int64_t now = clock_.now();
  Stmt o(handle(),
         "INSERT OR IGNORE INTO platform_orgs(id, name, metadata, created_ns, updated_ns) "
         "VALUES(?, 'platform', '{}', ?, ?)");
  o.bind(1, kPlatformOrg);
  o.bind(2, now);
  o.bind(3, now);
  if (!o.ok() || o.step() != SQLITE_DONE) return db_->error("the platform organization");
  return Status::ok_status();
}

Status Registry::load_indexes() {
  std::lock_guard lock(db_->mu());
  std::unique_lock index(index_mu_);
  by_key_hash_.clear();
  key_hash_of_.clear();
  channels_.clear();
  connections_.clear();
  Stmt t(handle(), "SELECT id, org, name, key_hash FROM platform_things");
  if (!t.ok()) return db_->error("loading things");
  int rc = SQLITE_ROW;
  while ((rc = t.step()) == SQLITE_ROW) {
    const std::string hash = t.blob(3);
    by_key_hash_[hash] = ThingIdentity{t.text(0), t.text(1), t.text(2)};
    key_hash_of_[t.text(0)] = hash;
  }
  if (rc != SQLITE_DONE) return db_->error("loading things");
  Stmt c(handle(), "SELECT id, org, name FROM platform_channels");
  if (!c.ok()) return db_->error("loading channels");
  while ((rc = c.step()) == SQLITE_ROW) channels_[c.text(0)] = {c.text(1), c.text(2)};
  if (rc != SQLITE_DONE) return db_->error("loading channels");
  Stmt k(handle(), "SELECT thing, channel FROM platform_connections");
  if (!k.ok()) return db_->error("loading connections");
  while ((rc = k.step()) == SQLITE_ROW) connections_[k.text(0)].insert(k.text(1));
  if (rc != SQLITE_DONE) return db_->error("loading connections");
  return Status::ok_status();
}

std::string new_uuid() {
  // A version 4 UUID.
  Result<std::string> bytes = auth::random_bytes(16);
  std::string b = bytes.ok() ? *bytes : std::string(16, '\0');
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[static_cast<unsigned char>(b[i]) >> 4]);
    out.push_back(kHex[static_cast<unsigned char>(b[i]) & 15]);
  }
  return out;
}

Status Registry::visible(const Scope& scope, const char* table, const char* what,
                         std::string_view id, std::string* org) const {
  Stmt s(handle(), fmt::format("SELECT org FROM {} WHERE id = ?", table).c_str());
  if (!s.ok()) return db_->error(fmt::format("finding {} '{}'", what, id));
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return not_found_in(what, id);
  if (rc != SQLITE_ROW) return db_->error(fmt::format("finding {} '{}'", what, id));
  const std::string found = s.text(0);
  if (!scope.sees(found)) return not_found_in(what, id);  // another org's: as if absent
  if (org != nullptr) *org = found;
  return Status::ok_status();
}

Result<std::string> Registry::target_org(const Scope& scope, const std::string& given,
                                         const std::string& at) const {
  if (given.empty() || given == scope.org) return scope.org;
  if (!scope.all) {
    return Status(Code::kPermissionDenied,
                  fmt::format("{}: a member of organization '{}' cannot create in '{}'", at,
                              scope.org, given));
  }
  Stmt s(handle(), "SELECT 1 FROM platform_orgs WHERE id = ?");
  s.bind(1, given);
  if (!s.ok()) return db_->error("finding an organization");
  const int rc = s.step();
  if (rc == SQLITE_DONE)
    return not_found(fmt::format("{}: no organization with id '{}'", at, given));
  if (rc != SQLITE_ROW) return db_->error("finding an organization");
  return given;
}

Registry::ListenerId Registry::add_listener(std::function<void(const ThingChange&)> listener) {
  std::lock_guard lock(listeners_mu_);
  auto next = listeners_ ? std::make_shared<Listeners>(*listeners_) : std::make_shared<Listeners>();
  const ListenerId id = next_listener_++;
  next->emplace_back(id, std::move(listener));
  listeners_ = std::move(next);
  return id;
}

void Registry::remove_listener(ListenerId id) {
  std::lock_guard lock(listeners_mu_);
  if (!listeners_) return;
  auto next = std::make_shared<Listeners>(*listeners_);
  std::erase_if(*next, [id](const auto& l) { return l.first == id; });
  listeners_ = std::move(next);
}

void Registry::notify(const ThingChange& change) const {
  std::shared_ptr<const Listeners> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    listeners = listeners_;
  }
  if (!listeners) return;
  for (const auto& [id, listener] : *listeners) listener(change);
}

void Registry::notify_put(const std::string& thing, std::optional<std::string> key) {
  notify(ThingChange{ThingChange::Kind::kPut, thing, std::move(key), channels_of(thing)});
}

bool Registry::has_thing(std::string_view id) const {
  std::shared_lock lock(index_mu_);
  return key_hash_of_.contains(std::string(id));
}

// ---- Organizations ------------------------------------------------------------------------------

Result<Org> Registry::create_org(const Scope& scope, std::string_view name, json metadata,
                                 std::string id) {
  if (!scope.all) {
    return Status(Code::kPermissionDenied,
                  "only members of the platform organization create organizations");
  }
  SLUICE_RETURN_IF_ERROR(check_name(name, "name"));
  SLUICE_RETURN_IF_ERROR(check_metadata(metadata, "metadata"));
  if (id.empty()) id = new_uuid();
  SLUICE_RETURN_IF_ERROR(check_id(id, "id"));
  const int64_t now = clock_.now();
  Org org{id, std::string(name), std::move(metadata), now, now};
  std::lock_guard lock(db_->mu());
  Stmt s(handle(),
         "INSERT INTO platform_orgs(id, name, metadata, created_ns, updated_ns) "
         "VALUES(?, ?, ?, ?, ?)");
  s.bind(1, org.id);
  s.bind(2, org.name);
  s.bind(3, org.metadata.dump());
  s.bind(4, now);
  s.bind(5, now);
  if (!s.ok()) return db_->error("creating an organization");
  const int rc = s.step();
  if (rc == SQLITE_CONSTRAINT) {
    return Status(Code::kAlreadyExists,
                  fmt::format("an organization named '{}' or with id '{}' exists", name, org.id));
  }
  if (rc != SQLITE_DONE) return db_->error("creating an organization");
  return org;
}

Result<Listed<Org>> Registry::list_orgs(const Scope& scope, const ListQuery& query) const {
  // An organization's own id is its org: the same scope filter applies.
  if (query.limit == 0 || query.limit > kMaxPageLimit) {
    return invalid_argument(
        fmt::format("limit: {} is not between 1 and {}", query.limit, kMaxPageLimit));
  }
  std::lock_guard lock(db_->mu());
  const char* where =
      " WHERE (?1 = 1 OR id = ?2) AND (?3 = '' OR instr(lower(name), lower(?3)) > 0)";
  Listed<Org> out;
  Stmt c(handle(), fmt::format("SELECT COUNT(*) FROM platform_orgs{}", where).c_str());
  c.bind(1, int64_t{scope.all ? 1 : 0});
  c.bind(2, scope.org);
  c.bind(3, query.name);
  if (!c.ok() || c.step() != SQLITE_ROW) return db_->error("listing organizations");
  out.total = static_cast<size_t>(c.integer(0));
  Stmt s(handle(), fmt::format("SELECT {} FROM platform_orgs{} ORDER BY created_ns, id LIMIT ?4 "
                               "OFFSET ?5",
                               kOrgColumns, where)
                       .c_str());
  s.bind(1, int64_t{scope.all ? 1 : 0});
  s.bind(2, scope.org);
  s.bind(3, query.name);
  s.bind(4, static_cast<int64_t>(query.limit));
  s.bind(5, static_cast<int64_t>(query.offset));
  if (!s.ok()) return db_->error("listing organizations");
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) out.items.push_back(org_row(s));
  if (rc != SQLITE_DONE) return db_->error("listing organizations");
  return out;
}

Result<Org> Registry::get_org(const Scope& scope, std::string_view id) const {
  if (!scope.sees(id)) return not_found_in("organization", id);
  std::lock_guard lock(db_->mu());
  Stmt s(handle(), fmt::format("SELECT {} FROM platform_orgs WHERE id = ?", kOrgColumns).c_str());
  s.bind(1, id);
  if (!s.ok()) return db_->error("reading an organization");
  const int rc = s.step();
  if (rc == SQLITE_DONE) return not_found_in("organization", id);
  if (rc != SQLITE_ROW) return db_->error("reading an organization");
  return org_row(s);
}

bool Registry::org_exists(std::string_view id) const {
  return get_org(Scope::everything(), id).ok();
}

Result<Org> Registry::update_org(const Scope& scope, std::string_view id,
                                 std::optional<std::string> name, std::optional<json> metadata) {
  if (!scope.all) {
    return Status(Code::kPermissionDenied,
                  "only members of the platform organization change organizations");
  }
  if (name) SLUICE_RETURN_IF_ERROR(check_name(*name, "name"));
  if (metadata) SLUICE_RETURN_IF_ERROR(check_metadata(*metadata, "metadata"));
  SLUICE_ASSIGN_OR_RETURN(Org org, get_org(scope, id));
  if (name) org.name = *name;
  if (metadata) org.metadata = *metadata;
  org.updated_ns = clock_.now();
  std::lock_guard lock(db_->mu());
  Stmt s(handle(), "UPDATE platform_orgs SET name = ?, metadata = ?, updated_ns = ? WHERE id = ?");
  s.bind(1, org.name);
  s.bind(2, org.metadata.dump());
  s.bind(3, org.updated_ns);
  s.bind(4, org.id);
  if (!s.ok()) return db_->error("changing an organization");
  const int rc = s.step();
  if (rc == SQLITE_CONSTRAINT) {
    return Status(Code::kAlreadyExists, fmt::format("an organization named '{}' exists", org.name));
  }
  if (rc != SQLITE_DONE) return db_->error("changing an organization");
  return org;
}

Status Registry::remove_org(const Scope& scope, std::string_view id) {
  if (!scope.all) {
    return Status(Code::kPermissionDenied,
                  "only members of the platform organization remove organizations");
  }
  if (id == kPlatformOrg) {
    return failed_precondition("the platform organization cannot be removed");
  }
  std::lock_guard lock(db_->mu());
  for (const char* table : {"platform_things", "platform_channels"}) {
    Stmt c(handle(), fmt::format("SELECT COUNT(*) FROM {} WHERE org = ?", table).c_str());
    c.bind(1, id);
    if (!c.ok() || c.step() != SQLITE_ROW) return db_->error("removing an organization");
    if (c.integer(0) > 0) {
      return failed_precondition(fmt::format("organization '{}' still has {} {}; remove them first",
                                             id, c.integer(0), std::string_view(table).substr(9)));
    }
  }
  Stmt s(handle(), "DELETE FROM platform_orgs WHERE id = ?");
  s.bind(1, id);
  if (!s.ok() || s.step() != SQLITE_DONE) return db_->error("removing an organization");
  if (sqlite3_changes(handle()) == 0) return not_found_in("organization", id);
  return Status::ok_status();
}

// ---- Things -------------------------------------------------------------------------------------

Result<std::vector<IssuedThing>> Registry::create_things(const Scope& scope,
                                                         std::vector<NewThing> things) {
  if (things.empty()) return invalid_argument("things: give at least one thing");
  if (things.size() > kMaxBulk) {
    return invalid_argument(
        fmt::format("things: {} in one request, at most {}", things.size(), kMaxBulk));
  }
  std::vector<IssuedThing> out;
  out.reserve(things.size());
  const int64_t now = clock_.now();
  for (size_t i = 0; i < things.size(); ++i) {
    NewThing& t = things[i];
    const std::string at = things.size() == 1 ? std::string() : fmt::format("things[{}].", i);
    SLUICE_RETURN_IF_ERROR(check_name(t.name, at + "name"));
    SLUICE_RETURN_IF_ERROR(check_metadata(t.metadata, at + "metadata"));
    if (t.id.empty()) t.id = new_uuid();
    SLUICE_RETURN_IF_ERROR(check_id(t.id, at + "id"));
    if (t.key.empty()) {
      SLUICE_ASSIGN_OR_RETURN(t.key, new_thing_key());
    } else if (!is_hex_key(t.key)) {
      return invalid_argument(fmt::format(
          "{}key: a thing key is {} lower-case hex characters (32 random bytes); leave it out "
          "and one is made",
          at, kKeyHexLength));
    }
    out.push_back(
        IssuedThing{Thing{t.id, {}, t.name, t.metadata, t.key.substr(0, 4), now, now, now}, t.key});
  }
  {
    std::lock_guard lock(db_->mu());
    for (size_t i = 0; i < things.size(); ++i) {
      const std::string at = things.size() == 1 ? std::string() : fmt::format("things[{}].", i);
      SLUICE_ASSIGN_OR_RETURN(out[i].thing.org, target_org(scope, things[i].org, at + "org"));
    }
    auth::Transaction tx(*db_);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    Stmt s(handle(),
           "INSERT INTO platform_things(id, org, name, key_hash, key_hint, metadata, created_ns, "
           "updated_ns, key_rotated_ns) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s.ok()) return db_->error("creating things");
    for (size_t i = 0; i < out.size(); ++i) {
      const Thing& t = out[i].thing;
      s.reset();
      s.bind(1, t.id);
      s.bind(2, t.org);
      s.bind(3, t.name);
      s.bind_blob(4, hash_key(out[i].key));
      s.bind(5, t.key_hint);
      s.bind(6, t.metadata.dump());
      s.bind(7, now);
      s.bind(8, now);
      s.bind(9, now);
      const int rc = s.step();
      if (rc == SQLITE_CONSTRAINT) {
        return Status(Code::kAlreadyExists,
                      fmt::format("{}a thing with id '{}' (or with this key) exists",
                                  out.size() == 1 ? "" : fmt::format("things[{}]: ", i), t.id));
      }
      if (rc != SQLITE_DONE) return db_->error("creating things");
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
    std::unique_lock index(index_mu_);
    for (const IssuedThing& it : out) {
      const std::string hash = hash_key(it.key);
      by_key_hash_[hash] = ThingIdentity{it.thing.id, it.thing.org, it.thing.name};
      key_hash_of_[it.thing.id] = hash;
    }
  }
  for (const IssuedThing& it : out) notify_put(it.thing.id, it.key);
  return out;
}

Result<Listed<Thing>> Registry::list_things(const Scope& scope, const ListQuery& query) const {
  return list_table<Thing>(*db_, "platform_things", kThingColumns,
                           "SELECT thing FROM platform_connections WHERE channel = ?5", scope,
                           query, thing_row);
}

Result<Thing> Registry::get_thing(const Scope& scope, std::string_view id) const {
  std::lock_guard lock(db_->mu());
  Stmt s(handle(),
         fmt::format("SELECT {} FROM platform_things WHERE id = ?", kThingColumns).c_str());
  s.bind(1, id);
  if (!s.ok()) return db_->error("reading a thing");
  const int rc = s.step();
  if (rc == SQLITE_DONE) return not_found_in("thing", id);
  if (rc != SQLITE_ROW) return db_->error("reading a thing");
  Thing t = thing_row(s);
  if (!scope.sees(t.org)) return not_found_in("thing", id);
  return t;
}

Result<Thing> Registry::update_thing(const Scope& scope, std::string_view id,
                                     std::optional<std::string> name,
                                     std::optional<json> metadata) {
  if (name) SLUICE_RETURN_IF_ERROR(check_name(*name, "name"));
  if (metadata) SLUICE_RETURN_IF_ERROR(check_metadata(*metadata, "metadata"));
  SLUICE_ASSIGN_OR_RETURN(Thing t, get_thing(scope, id));
  if (name) t.name = *name;
  if (metadata) t.metadata = *metadata;
  t.updated_ns = clock_.now();
  std::lock_guard lock(db_->mu());
  Stmt s(handle(),
         "UPDATE platform_things SET name = ?, metadata = ?, updated_ns = ? WHERE id = ?");
  s.bind(1, t.name);
  s.bind(2, t.metadata.dump());
  s.bind(3, t.updated_ns);
  s.bind(4, t.id);
  if (!s.ok() || s.step() != SQLITE_DONE) return db_->error("changing a thing");
  std::unique_lock index(index_mu_);
  if (auto h = key_hash_of_.find(t.id); h != key_hash_of_.end()) {
    by_key_hash_[h->second].name = t.name;
  }
  return t;
}

Status Registry::remove_thing(const Scope& scope, std::string_view id) {
  {
    std::lock_guard lock(db_->mu());
    SLUICE_RETURN_IF_ERROR(visible(scope, "platform_things", "thing", id, nullptr));
    auth::Transaction tx(*db_);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    for (const char* sql : {"DELETE FROM platform_connections WHERE thing = ?",
                            "DELETE FROM platform_things WHERE id = ?"}) {
      Stmt s(handle(), sql);
      s.bind(1, id);
      if (!s.ok() || s.step() != SQLITE_DONE) return db_->error("removing a thing");
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
    std::unique_lock index(index_mu_);
    if (auto h = key_hash_of_.find(std::string(id)); h != key_hash_of_.end()) {
      by_key_hash_.erase(h->second);
      key_hash_of_.erase(h);
    }
    connections_.erase(std::string(id));
  }
  notify(ThingChange{ThingChange::Kind::kRemoved, std::string(id), {}, {}});
  return Status::ok_status();
}

Result<IssuedThing> Registry::rotate_key(const Scope& scope, std::string_view id) {
  SLUICE_ASSIGN_OR_RETURN(Thing t, get_thing(scope, id));
  SLUICE_ASSIGN_OR_RETURN(std::string key, new_thing_key());
  const std::string hash = hash_key(key);
  t.key_hint = key.substr(0, 4);
  t.key_rotated_ns = t.updated_ns = clock_.now();
  {
    std::lock_guard lock(db_->mu());
    Stmt s(handle(),
           "UPDATE platform_things SET key_hash = ?, key_hint = ?, key_rotated_ns = ?, "
           "updated_ns = ? WHERE id = ?");
    s.bind_blob(1, hash);
    s.bind(2, t.key_hint);
    s.bind(3, t.key_rotated_ns);
    s.bind(4, t.updated_ns);
    s.bind(5, t.id);
    if (!s.ok() || s.step() != SQLITE_DONE) return db_->error("rotating a thing's key");
    std::unique_lock index(index_mu_);
    if (auto h = key_hash_of_.find(t.id); h != key_hash_of_.end()) {
      by_key_hash_.erase(h->second);
      h->second = hash;
    } else {
      key_hash_of_[t.id] = hash;
    }
    by_key_hash_[hash] = ThingIdentity{t.id, t.org, t.name};
  }
  notify_put(t.id, key);
  return IssuedThing{std::move(t), std::move(key)};
}

// ---- Channels -----------------------------------------------------------------------------------

Result<std::vector<Channel>> Registry::create_channels(const Scope& scope,
                                                       std::vector<NewChannel> channels) {
  if (channels.empty()) return invalid_argument("channels: give at least one channel");
  if (channels.size() > kMaxBulk) {
    return invalid_argument(
        fmt::format("channels: {} in one request, at most {}", channels.size(), kMaxBulk));
  }
  std::vector<Channel> out;
  const int64_t now = clock_.now();
  for (size_t i = 0; i < channels.size(); ++i) {
    NewChannel& c = channels[i];
    const std::string at = channels.size() == 1 ? std::string() : fmt::format("channels[{}].", i);
    SLUICE_RETURN_IF_ERROR(check_name(c.name, at + "name"));
    SLUICE_RETURN_IF_ERROR(check_metadata(c.metadata, at + "metadata"));
    if (c.id.empty()) c.id = new_uuid();
    SLUICE_RETURN_IF_ERROR(check_id(c.id, at + "id"));
    out.push_back(Channel{c.id, {}, c.name, c.metadata, now, now});
  }
  std::lock_guard lock(db_->mu());
  for (size_t i = 0; i < channels.size(); ++i) {
    const std::string at = channels.size() == 1 ? std::string() : fmt::format("channels[{}].", i);
    SLUICE_ASSIGN_OR_RETURN(out[i].org, target_org(scope, channels[i].org, at + "org"));
  }
  auth::Transaction tx(*db_);
  SLUICE_RETURN_IF_ERROR(tx.begun());
  Stmt s(handle(),
         "INSERT INTO platform_channels(id, org, name, metadata, created_ns, updated_ns) "
         "VALUES(?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return db_->error("creating channels");
  for (size_t i = 0; i < out.size(); ++i) {
    const Channel& c = out[i];
    s.reset();
    s.bind(1, c.id);
    s.bind(2, c.org);
    s.bind(3, c.name);
    s.bind(4, c.metadata.dump());
    s.bind(5, now);
    s.bind(6, now);
    const int rc = s.step();
    if (rc == SQLITE_CONSTRAINT) {
      return Status(Code::kAlreadyExists,
                    fmt::format("{}a channel with id '{}' exists",
                                out.size() == 1 ? "" : fmt::format("channels[{}]: ", i), c.id));
    }
    if (rc != SQLITE_DONE) return db_->error("creating channels");
  }
  SLUICE_RETURN_IF_ERROR(tx.commit());
  std::unique_lock index(index_mu_);
  for (const Channel& c : out) channels_[c.id] = {c.org, c.name};
  return out;
}

Result<Listed<Channel>> Registry::list_channels(const Scope& scope, const ListQuery& query) const {
  return list_table<Channel>(*db_, "platform_channels", kChannelColumns,
                             "SELECT channel FROM platform_connections WHERE thing = ?5", scope,
                             query, channel_row);
}

Result<Channel> Registry::get_channel(const Scope& scope, std::string_view id) const {
  std::lock_guard lock(db_->mu());
  Stmt s(handle(),
         fmt::format("SELECT {} FROM platform_channels WHERE id = ?", kChannelColumns).c_str());
  s.bind(1, id);
  if (!s.ok()) return db_->error("reading a channel");
  const int rc = s.step();
  if (rc == SQLITE_DONE) return not_found_in("channel", id);
  if (rc != SQLITE_ROW) return db_->error("reading a channel");
  Channel c = channel_row(s);
  if (!scope.sees(c.org)) return not_found_in("channel", id);
  return c;
}

Result<Channel> Registry::update_channel(const Scope& scope, std::string_view id,
                                         std::optional<std::string> name,
                                         std::optional<json> metadata) {
  if (name) SLUICE_RETURN_IF_ERROR(check_name(*name, "name"));
  if (metadata) SLUICE_RETURN_IF_ERROR(check_metadata(*metadata, "metadata"));
  SLUICE_ASSIGN_OR_RETURN(Channel c, get_channel(scope, id));
  if (name) c.name = *name;
  if (metadata) c.metadata = *metadata;
  c.updated_ns = clock_.now();
  std::lock_guard lock(db_->mu());
  Stmt s(handle(),
         "UPDATE platform_channels SET name = ?, metadata = ?, updated_ns = ? WHERE id = ?");
  s.bind(1, c.name);
  s.bind(2, c.metadata.dump());
  s.bind(3, c.updated_ns);
  s.bind(4, c.id);
  if (!s.ok() || s.step() != SQLITE_DONE) return db_->error("changing a channel");
  std::unique_lock index(index_mu_);
  channels_[c.id] = {c.org, c.name};
  return c;
}

Status Registry::remove_channel(const Scope& scope, std::string_view id) {
  std::vector<std::string> affected;
  {
    std::lock_guard lock(db_->mu());
    SLUICE_RETURN_IF_ERROR(visible(scope, "platform_channels", "channel", id, nullptr));
    auth::Transaction tx(*db_);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    for (const char* sql : {"DELETE FROM platform_connections WHERE channel = ?",
                            "DELETE FROM platform_channels WHERE id = ?"}) {
      Stmt s(handle(), sql);
      s.bind(1, id);
      if (!s.ok() || s.step() != SQLITE_DONE) return db_->error("removing a channel");
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
    std::unique_lock index(index_mu_);
    channels_.erase(std::string(id));
    for (auto& [thing, set] : connections_) {
      if (set.erase(std::string(id)) > 0) affected.push_back(thing);
    }
  }
  for (const std::string& thing : affected) notify_put(thing, std::nullopt);
  return Status::ok_status();
}

// ---- Connections --------------------------------------------------------------------------------

Status Registry::connect(const Scope& scope, const std::vector<std::string>& things,
                         const std::vector<std::string>& channels) {
  if (things.empty() || channels.empty()) {
    return invalid_argument(things.empty() ? "thing_ids: give at least one thing"
                                           : "channel_ids: give at least one channel");
  }
  if (things.size() * channels.size() > kMaxBulk) {
    return invalid_argument(
        fmt::format("{} things × {} channels is over {} connections in one "
                    "request",
                    things.size(), channels.size(), kMaxBulk));
  }
  {
    std::lock_guard lock(db_->mu());
    std::vector<std::string> thing_orgs(things.size());
    std::vector<std::string> channel_orgs(channels.size());
    for (size_t i = 0; i < things.size(); ++i) {
      SLUICE_RETURN_IF_ERROR(visible(scope, "platform_things", "thing", things[i], &thing_orgs[i]));
    }
    for (size_t i = 0; i < channels.size(); ++i) {
      SLUICE_RETURN_IF_ERROR(
          visible(scope, "platform_channels", "channel", channels[i], &channel_orgs[i]));
    }
    for (size_t i = 0; i < things.size(); ++i) {
      for (size_t j = 0; j < channels.size(); ++j) {
        if (thing_orgs[i] != channel_orgs[j]) {
          return failed_precondition(fmt::format(
              "thing '{}' (organization '{}') and channel '{}' (organization '{}') are not of the "
              "same organization",
              things[i], thing_orgs[i], channels[j], channel_orgs[j]));
        }
      }
    }
    auth::Transaction tx(*db_);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    Stmt s(handle(),
           "INSERT OR IGNORE INTO platform_connections(thing, channel, created_ns) "
           "VALUES(?, ?, ?)");
    if (!s.ok()) return db_->error("connecting");
    const int64_t now = clock_.now();
    for (const std::string& t : things) {
      for (const std::string& c : channels) {
        s.reset();
        s.bind(1, t);
        s.bind(2, c);
        s.bind(3, now);
        if (s.step() != SQLITE_DONE) return db_->error("connecting");
      }
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
    std::unique_lock index(index_mu_);
    for (const std::string& t : things) connections_[t].insert(channels.begin(), channels.end());
  }
  for (const std::string& t : things) notify_put(t, std::nullopt);
  return Status::ok_status();
}

Status Registry::disconnect(const Scope& scope, const std::vector<std::string>& things,
                            const std::vector<std::string>& channels) {
  if (things.empty() || channels.empty()) {
    return invalid_argument(things.empty() ? "thing_ids: give at least one thing"
                                           : "channel_ids: give at least one channel");
  }
  if (things.size() * channels.size() > kMaxBulk) {
    return invalid_argument(
        fmt::format("{} things × {} channels is over {} connections in one "
                    "request",
                    things.size(), channels.size(), kMaxBulk));
  }
  {
    std::lock_guard lock(db_->mu());
    for (const std::string& t : things) {
      SLUICE_RETURN_IF_ERROR(visible(scope, "platform_things", "thing", t, nullptr));
    }
    for (const std::string& c : channels) {
      SLUICE_RETURN_IF_ERROR(visible(scope, "platform_channels", "channel", c, nullptr));
    }
    auth::Transaction tx(*db_);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    Stmt s(handle(), "DELETE FROM platform_connections WHERE thing = ? AND channel = ?");
    if (!s.ok()) return db_->error("disconnecting");
    for (const std::string& t : things) {
      for (const std::string& c : channels) {
        s.reset();
        s.bind(1, t);
        s.bind(2, c);
        if (s.step() != SQLITE_DONE) return db_->error("disconnecting");
      }
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
    std::unique_lock index(index_mu_);
    for (const std::string& t : things) {
      auto it = connections_.find(t);
      if (it == connections_.end()) continue;
      for (const std::string& c : channels) it->second.erase(c);
    }
  }
  for (const std::string& t : things) notify_put(t, std::nullopt);
  return Status::ok_status();
}

std::vector<std::string> Registry::channels_of(std::string_view thing) const {
  std::shared_lock index(index_mu_);
  auto it = connections_.find(std::string(thing));
  if (it == connections_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

// ---- The adapters' hot path ---------------------------------------------------------------------

Result<ThingIdentity> Registry::authenticate(std::string_view key) const {
  if (!is_hex_key(key)) {
    return Status(
        Code::kUnauthenticated,
        fmt::format("not a thing key: a key is {} lower-case hex characters", kKeyHexLength));
  }
  const std::string hash = hash_key(key);
  std::shared_lock index(index_mu_);
  auto it = by_key_hash_.find(hash);
  if (it == by_key_hash_.end()) {
    return Status(Code::kUnauthenticated, "no thing has this key (rotated or removed?)");
  }
  return it->second;
}

bool Registry::connected(std::string_view thing, std::string_view channel) const {
  std::shared_lock index(index_mu_);
  auto it = connections_.find(std::string(thing));
  return it != connections_.end() && it->second.count(std::string(channel)) > 0;
}

std::optional<std::pair<std::string, std::string>> Registry::channel_info(
    std::string_view id) const {
  std::shared_lock index(index_mu_);
  auto it = channels_.find(std::string(id));
  if (it == channels_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::vector<std::string>>> Registry::all_things() const {
  std::shared_lock index(index_mu_);
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  out.reserve(key_hash_of_.size());
  for (const auto& [thing, hash] : key_hash_of_) {
    auto it = connections_.find(thing);
    std::vector<std::string> chans;
    if (it != connections_.end()) chans.assign(it->second.begin(), it->second.end());
    out.emplace_back(thing, std::move(chans));
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Registry::thing_count() const {
  std::shared_lock index(index_mu_);
  return key_hash_of_.size();
}

}  // namespace sluice::platform
