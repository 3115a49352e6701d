// Device bootstrap configs on SQLite, the bootstrap itself (check, rotate, answer) and the
// AES-256-GCM sealing of the encrypted answer. See bootstrap.h.
#include "platform/bootstrap.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "auth/crypto.h"

namespace sluice::platform {
namespace {

using auth::Stmt;
using nlohmann::json;

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS platform_bootstrap_meta (key TEXT PRIMARY KEY, value TEXT NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS platform_bootstrap ("
    "  external_id TEXT PRIMARY KEY, key_hash BLOB NOT NULL, key_hint TEXT NOT NULL,"
    "  org TEXT NOT NULL, name TEXT NOT NULL, thing_id TEXT NOT NULL UNIQUE,"
    "  channels TEXT NOT NULL DEFAULT '[]', content TEXT NOT NULL DEFAULT 'null',"
    "  enabled INTEGER NOT NULL DEFAULT 1, created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS platform_bootstrap_org ON platform_bootstrap(org, created_ns);";

constexpr const char* kColumns =
    "external_id, key_hint, org, name, thing_id, channels, content, enabled, created_ns, "
    "updated_ns, key_hash";

// One row of kColumns; the key hash (column 10) into *key_hash if given.
BootstrapConfig config_row(Stmt& s, std::string* key_hash) {
  BootstrapConfig c;
  c.external_id = s.text(0);
  c.key_hint = s.text(1);
  c.org = s.text(2);
  c.name = s.text(3);
  c.thing_id = s.text(4);
  const json channels = json::parse(s.text(5), nullptr, /*allow_exceptions=*/false);
  if (channels.is_array()) {
    for (const json& id : channels) {
      if (id.is_string()) c.channels.push_back(id.get<std::string>());
    }
  }
  c.content = json::parse(s.text(6), nullptr, /*allow_exceptions=*/false);
  if (c.content.is_discarded()) c.content = nullptr;
  c.enabled = s.integer(7) != 0;
  c.created_ns = s.integer(8);
  c.updated_ns = s.integer(9);
  if (key_hash != nullptr) *key_hash = s.blob(10);
  return c;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status check_external_key(std::string_view key, std::string_view at) {
  if (key.size() < kMinExternalKeyLength || key.size() > kMaxExternalKeyLength) {
    return invalid_argument(fmt::format(
        "{}: {} characters; an external key is {} to {} printable characters without spaces "
        "(leave it out and one is made)",
        at, key.size(), kMinExternalKeyLength, kMaxExternalKeyLength));
  }
  for (const char c : key) {
    if (c <= 0x20 || c >= 0x7f) {
      return invalid_argument(fmt::format(
          "{}: only printable ASCII characters without spaces (it is sent in a header)", at));
    }
  }
  return Status::ok_status();
}

Status check_content(const json& content, std::string_view at) {
  const size_t size = dump(content).size();
  if (size > kMaxBootstrapContentBytes) {
    return invalid_argument(
        fmt::format("{}: {} bytes of JSON, at most {}", at, size, kMaxBootstrapContentBytes));
  }
  return Status::ok_status();
}

Status config_not_found(std::string_view external_id) {
  return not_found(fmt::format("no bootstrap config with external id '{}'", external_id));
}

// A thing or channel the caller named that is not there: the caller's body is at fault, not
// the URL, so it is a precondition (409), with the field.
Status missing_reference(const Status& st, std::string_view at) {
  if (st.code() != Code::kNotFound) return st;
  return failed_precondition(fmt::format("{}: {}", at, st.message()));
}

}  // namespace

Status check_external_id(std::string_view id, std::string_view at) {
  if (id.empty() || id.size() > kMaxExternalIdLength) {
    return invalid_argument(
        fmt::format("{}: {} characters; an external id (a MAC address, a serial number) is 1 to {}",
                    at, id.size(), kMaxExternalIdLength));
  }
  for (const char c : id) {
    if (c <= 0x20 || c >= 0x7f || c == '/') {
      return invalid_argument(fmt::format(
          "{}: only printable ASCII characters without spaces and '/' (it is a URL segment)", at));
    }
  }
  return Status::ok_status();
}

json answer_json(const BootstrapAnswer& answer) {
  json channels = json::array();
  for (const BootstrapChannel& c : answer.channels) {
    channels.push_back({{"id", c.id}, {"name", c.name}, {"metadata", c.metadata}});
  }
  return {{"thing_id", answer.thing_id},
          {"thing_key", answer.thing_key},
          {"channels", std::move(channels)},
          {"content", answer.content}};
}

// ---- Opening ------------------------------------------------------------------------------------

Result<std::unique_ptr<BootstrapStore>> BootstrapStore::open(const std::string& path,
                                                             Registry& registry, Clock& clock,
                                                             BootstrapOptions options) {
  if (options.encryption_key && options.encryption_key->size() != kBootstrapKeyBytes) {
    return invalid_argument(
        fmt::format("the bootstrap encryption key is {} bytes; AES-256 needs {}",
                    options.encryption_key->size(), kBootstrapKeyBytes));
  }
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<auth::AuthDb> db, auth::AuthDb::open(path));
  std::unique_ptr<BootstrapStore> s(
      new BootstrapStore(std::move(db), registry, clock, std::move(options)));
  SLUICE_RETURN_IF_ERROR(s->init().with_context(path));
  return s;
}

BootstrapStore::~BootstrapStore() = default;

Status BootstrapStore::init() {
  std::lock_guard lock(db_->mu());
  SLUICE_RETURN_IF_ERROR(db_->exec(kSchema));
  Stmt v(db_->handle(),
         "INSERT OR REPLACE INTO platform_bootstrap_meta(key, value) VALUES('schema_version', ?)");
  v.bind(1, std::to_string(kSchemaVersion));
  if (!v.ok() || v.step() != SQLITE_DONE) return db_->error("bootstrap schema");
  return Status::ok_status();
}

Status BootstrapStore::read(std::string_view external_id, BootstrapConfig* out,
                            std::string* key_hash) const {
  Stmt s(db_->handle(),
         fmt::format("SELECT {} FROM platform_bootstrap WHERE external_id = ?", kColumns).c_str());
  if (!s.ok()) return db_->error("reading a bootstrap config");
  s.bind(1, external_id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return config_not_found(external_id);
  if (rc != SQLITE_ROW) return db_->error("reading a bootstrap config");
  *out = config_row(s, key_hash);
  return Status::ok_status();
}

Status BootstrapStore::write(const BootstrapConfig& c, const std::string* key_hash) {
  // An insert when the key hash is given (create), else an update of everything but the key.
  Stmt s(db_->handle(),
         key_hash != nullptr
             ? "INSERT INTO platform_bootstrap(external_id, key_hint, org, name, thing_id, "
               "channels, content, enabled, created_ns, updated_ns, key_hash) "
               "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
             : "UPDATE platform_bootstrap SET key_hint = ?2, org = ?3, name = ?4, thing_id = ?5, "
               "channels = ?6, content = ?7, enabled = ?8, created_ns = ?9, updated_ns = ?10 "
               "WHERE external_id = ?1");
  if (!s.ok()) return db_->error("writing a bootstrap config");
  s.bind(1, c.external_id);
  s.bind(2, c.key_hint);
  s.bind(3, c.org);
  s.bind(4, c.name);
  s.bind(5, c.thing_id);
  s.bind(6, dump(json(c.channels)));
  s.bind(7, dump(c.content));
  s.bind(8, int64_t{c.enabled ? 1 : 0});
  s.bind(9, c.created_ns);
  s.bind(10, c.updated_ns);
  if (key_hash != nullptr) s.bind_blob(11, *key_hash);
  const int rc = s.step();
  if (rc == SQLITE_CONSTRAINT) {
    // Checked before under change_mu_; only another process sharing the file gets here.
    return Status(Code::kAlreadyExists,
                  fmt::format("external_id: a bootstrap config with external id '{}' or for "
                              "thing '{}' exists",
                              c.external_id, c.thing_id));
  }
  if (rc != SQLITE_DONE) return db_->error("writing a bootstrap config");
  return Status::ok_status();
}

Status BootstrapStore::check_thing(const Scope& scope, const std::string& org,
                                   const std::string& id) const {
  Result<Thing> t = registry_.get_thing(scope, id);
  if (!t.ok()) return missing_reference(t.status(), "thing_id");
  if (t->org != org) {
    return failed_precondition(fmt::format(
        "thing_id: thing '{}' is of organization '{}'; the config is of '{}'", id, t->org, org));
  }
  std::lock_guard lock(db_->mu());
  Stmt s(db_->handle(), "SELECT external_id FROM platform_bootstrap WHERE thing_id = ?");
  if (!s.ok()) return db_->error("finding a bootstrap config");
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_ROW) {
    return Status(
        Code::kAlreadyExists,
        fmt::format("thing_id: thing '{}' is already bootstrapped by config '{}'", id, s.text(0)));
  }
  if (rc != SQLITE_DONE) return db_->error("finding a bootstrap config");
  return Status::ok_status();
}

Status BootstrapStore::check_channels(const Scope& scope, const std::string& org,
                                      const std::vector<std::string>& ids) const {
  if (ids.size() > kMaxBootstrapChannels) {
    return invalid_argument(
        fmt::format("channels: {} channels, at most {}", ids.size(), kMaxBootstrapChannels));
  }
  std::set<std::string_view> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string at = fmt::format("channels[{}]", i);
    if (!seen.insert(ids[i]).second) {
      return invalid_argument(fmt::format("{}: channel '{}' is listed twice", at, ids[i]));
    }
    Result<Channel> c = registry_.get_channel(scope, ids[i]);
    if (!c.ok()) return missing_reference(c.status(), at);
    if (c->org != org) {
      return failed_precondition(
          fmt::format("{}: channel '{}' is of organization '{}'; the config is of '{}'", at, ids[i],
                      c->org, org));
    }
  }
  return Status::ok_status();
}

// ---- Operators ----------------------------------------------------------------------------------

Result<CreatedBootstrap> BootstrapStore::create(const Scope& scope, NewBootstrap n) {
  SLUICE_RETURN_IF_ERROR(check_external_id(n.external_id, "external_id"));
  CreatedBootstrap out;
  if (n.external_key.empty()) {
    SLUICE_ASSIGN_OR_RETURN(n.external_key, new_thing_key());
    out.external_key = n.external_key;
  } else {
    SLUICE_RETURN_IF_ERROR(check_external_key(n.external_key, "external_key"));
  }
  SLUICE_RETURN_IF_ERROR(check_name(n.name, "name"));
  SLUICE_RETURN_IF_ERROR(check_content(n.content, "content"));

  std::lock_guard change(change_mu_);
  if (n.org.empty() && !n.thing_id.empty()) {
    // The thing's organization, when the caller sees it.
    Result<Thing> t = registry_.get_thing(scope, n.thing_id);
    if (!t.ok()) return missing_reference(t.status(), "thing_id");
    n.org = t->org;
  }
  std::string org = scope.org;
  if (!n.org.empty() && n.org != scope.org) {
    if (!scope.all) {
      return permission_denied(fmt::format(
          "org: a member of organization '{}' cannot create in '{}'", scope.org, n.org));
    }
    if (!registry_.org_exists(n.org)) {
      return failed_precondition(fmt::format("org: no organization with id '{}'", n.org));
    }
    org = n.org;
  }
  if (!n.thing_id.empty()) SLUICE_RETURN_IF_ERROR(check_thing(scope, org, n.thing_id));
  SLUICE_RETURN_IF_ERROR(check_channels(scope, org, n.channels));
  {
    std::lock_guard lock(db_->mu());
    BootstrapConfig existing;
    const Status st = read(n.external_id, &existing, nullptr);
    if (st.ok()) {
      // Another org's config of this id is still a conflict: ids are unique across the platform.
      return Status(Code::kAlreadyExists,
                    fmt::format("external_id: a bootstrap config with external id '{}' exists",
                                n.external_id));
    }
    if (st.code() != Code::kNotFound) return st;
  }

  const int64_t now = clock_.now();
  BootstrapConfig& c = out.config;
  c = BootstrapConfig{n.external_id, n.external_key.substr(0, 4),
                      org,           n.name,
                      n.thing_id,    n.channels,
                      n.content,     true,
                      now,           now};
  bool made_thing = false;
  if (c.thing_id.empty()) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<IssuedThing> made,
                            registry_.create_things(scope, {NewThing{.org = org, .name = n.name}}));
    c.thing_id = made.front().thing.id;
    made_thing = true;
  }
  // Undoes the thing this call made when a later step fails.
  const auto undo = [&](const Status& st) {
    if (made_thing) (void)registry_.remove_thing(scope, c.thing_id);
    return st;
  };
  if (!c.channels.empty()) {
    const Status st = registry_.connect(scope, {c.thing_id}, c.channels);
    if (!st.ok()) return undo(missing_reference(st, "channels"));
  }
  const std::string key_hash = auth::sha256(n.external_key);
  std::lock_guard lock(db_->mu());
  if (const Status st = write(c, &key_hash); !st.ok()) return undo(st);
  return out;
}

Result<Listed<BootstrapConfig>> BootstrapStore::list(const Scope& scope, const ListQuery& q) const {
  if (q.limit == 0 || q.limit > kMaxPageLimit) {
    return invalid_argument(
        fmt::format("limit: {} is not between 1 and {}", q.limit, kMaxPageLimit));
  }
  const char* where =
      " WHERE (?1 = 1 OR org = ?2) AND (?3 = '' OR org = ?3)"
      " AND (?4 = '' OR instr(lower(name), lower(?4)) > 0)";
  const auto bind = [&](Stmt& s) {
    s.bind(1, int64_t{scope.all ? 1 : 0});
    s.bind(2, scope.org);
    s.bind(3, q.org);
    s.bind(4, q.name);
  };
  std::lock_guard lock(db_->mu());
  Listed<BootstrapConfig> out;
  Stmt c(db_->handle(), fmt::format("SELECT COUNT(*) FROM platform_bootstrap{}", where).c_str());
  if (!c.ok()) return db_->error("listing bootstrap configs");
  bind(c);
  if (c.step() != SQLITE_ROW) return db_->error("listing bootstrap configs");
  out.total = static_cast<size_t>(c.integer(0));
  Stmt s(db_->handle(),
         fmt::format("SELECT {} FROM platform_bootstrap{} ORDER BY created_ns, external_id "
                     "LIMIT ?5 OFFSET ?6",
                     kColumns, where)
             .c_str());
  if (!s.ok()) return db_->error("listing bootstrap configs");
  bind(s);
  s.bind(5, static_cast<int64_t>(q.limit));
  s.bind(6, static_cast<int64_t>(q.offset));
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) out.items.push_back(config_row(s, nullptr));
  if (rc != SQLITE_DONE) return db_->error("listing bootstrap configs");
  return out;
}

Result<BootstrapConfig> BootstrapStore::get(const Scope& scope,
                                            std::string_view external_id) const {
  BootstrapConfig c;
  std::lock_guard lock(db_->mu());
  SLUICE_RETURN_IF_ERROR(read(external_id, &c, nullptr));
  if (!scope.sees(c.org)) return config_not_found(external_id);  // another org's: as if absent
  return c;
}

Result<BootstrapConfig> BootstrapStore::update(const Scope& scope, std::string_view external_id,
                                               BootstrapUpdate u) {
  if (u.name) SLUICE_RETURN_IF_ERROR(check_name(*u.name, "name"));
  if (u.content) SLUICE_RETURN_IF_ERROR(check_content(*u.content, "content"));
  if (u.thing_id && u.thing_id->empty()) {
    return invalid_argument("thing_id: give the id of a thing (or leave thing_id out)");
  }
  std::lock_guard change(change_mu_);
  SLUICE_ASSIGN_OR_RETURN(BootstrapConfig c, get(scope, external_id));
  const bool new_thing = u.thing_id && *u.thing_id != c.thing_id;
  const std::string thing = new_thing ? *u.thing_id : c.thing_id;
  if (new_thing) SLUICE_RETURN_IF_ERROR(check_thing(scope, c.org, thing));
  if (u.channels) {
    SLUICE_RETURN_IF_ERROR(check_channels(scope, c.org, *u.channels));
    if (!new_thing) {
      // The thing must still be there to be connected.
      Result<Thing> t = registry_.get_thing(scope, thing);
      if (!t.ok()) return missing_reference(t.status(), "thing_id");
    }
  }
  const std::vector<std::string> channels = u.channels.value_or(c.channels);
  if ((u.channels || new_thing) && !channels.empty()) {
    SLUICE_RETURN_IF_ERROR(
        missing_reference(registry_.connect(scope, {thing}, channels), "channels"));
  }
  if (u.channels) {
    std::vector<std::string> dropped;
    for (const std::string& id : c.channels) {
      if (std::find(channels.begin(), channels.end(), id) == channels.end() &&
          registry_.channel_info(id)) {
        dropped.push_back(id);
      }
    }
    if (!dropped.empty()) {
      SLUICE_RETURN_IF_ERROR(
          missing_reference(registry_.disconnect(scope, {thing}, dropped), "channels"));
    }
  }
  if (u.name) c.name = *u.name;
  if (u.content) c.content = std::move(*u.content);
  c.thing_id = thing;
  c.channels = channels;
  c.updated_ns = clock_.now();
  std::lock_guard lock(db_->mu());
  SLUICE_RETURN_IF_ERROR(write(c, nullptr));
  return c;
}

Result<BootstrapConfig> BootstrapStore::set_state(const Scope& scope, std::string_view external_id,
                                                  bool on) {
  std::lock_guard change(change_mu_);
  SLUICE_ASSIGN_OR_RETURN(BootstrapConfig c, get(scope, external_id));
  c.enabled = on;
  c.updated_ns = clock_.now();
  std::lock_guard lock(db_->mu());
  SLUICE_RETURN_IF_ERROR(write(c, nullptr));
  return c;
}

Status BootstrapStore::remove(const Scope& scope, std::string_view external_id) {
  std::lock_guard change(change_mu_);
  SLUICE_RETURN_IF_ERROR(get(scope, external_id).status());
  std::lock_guard lock(db_->mu());
  Stmt s(db_->handle(), "DELETE FROM platform_bootstrap WHERE external_id = ?");
  if (!s.ok()) return db_->error("removing a bootstrap config");
  s.bind(1, external_id);
  if (s.step() != SQLITE_DONE) return db_->error("removing a bootstrap config");
  return Status::ok_status();
}

// ---- Devices ------------------------------------------------------------------------------------

Result<BootstrapAnswer> BootstrapStore::bootstrap(std::string_view external_id,
                                                  std::string_view external_key) {
  if (external_key.empty()) {
    ++counters_.unauthenticated;
    return Status(Code::kUnauthenticated,
                  "send the device's external key as \"Authorization: Thing <external key>\"");
  }
  BootstrapConfig c;
  std::string key_hash;
  {
    std::lock_guard lock(db_->mu());
    const Status st = read(external_id, &c, &key_hash);
    if (!st.ok()) {
      if (st.code() == Code::kNotFound) {
        ++counters_.unknown;
      } else {
        ++counters_.failed;
      }
      return st;
    }
  }
  if (!auth::constant_time_equal(auth::sha256(external_key), key_hash)) {
    ++counters_.wrong_key;
    return permission_denied(
        fmt::format("the external key is not the one of bootstrap config '{}'", external_id));
  }
  if (!c.enabled) {
    ++counters_.off;
    return failed_precondition(
        fmt::format("bootstrap config '{}' is off; an operator turns it on (PUT "
                    "/api/v1/bootstrap/{{external_id}}/state with {{\"state\": \"on\"}})",
                    external_id));
  }
  Result<IssuedThing> issued = registry_.rotate_key(Scope::everything(), c.thing_id);
  if (!issued.ok()) {
    if (issued.status().code() == Code::kNotFound) {
      ++counters_.no_thing;
      return failed_precondition(
          fmt::format("bootstrap config '{}' maps to thing '{}', which no longer exists; an "
                      "operator maps it to another thing",
                      external_id, c.thing_id));
    }
    ++counters_.failed;
    return issued.status();
  }
  BootstrapAnswer answer{c.thing_id, std::move(issued->key), {}, std::move(c.content)};
  for (const std::string& id : c.channels) {
    Result<Channel> ch = registry_.get_channel(Scope::everything(), id);
    if (ch.ok()) answer.channels.push_back(BootstrapChannel{ch->id, ch->name, ch->metadata});
  }
  ++counters_.bootstrapped;
  return answer;
}

Result<std::string> BootstrapStore::seal(std::string_view plaintext) const {
  if (!options_.encryption_key) {
    return failed_precondition(
        "encrypted bootstrap is off: no [api] bootstrap_key_file is configured");
  }
  return encrypt_answer(*options_.encryption_key, plaintext);
}

BootstrapStats BootstrapStore::stats() const {
  return BootstrapStats{counters_.bootstrapped.load(), counters_.unauthenticated.load(),
                        counters_.unknown.load(),      counters_.wrong_key.load(),
                        counters_.off.load(),          counters_.no_thing.load(),
                        counters_.failed.load()};
}

// ---- Sealing ------------------------------------------------------------------------------------

namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

unsigned char* bytes(std::string& s, size_t at) {
  return reinterpret_cast<unsigned char*>(s.data()) + at;
}
const unsigned char* bytes(std::string_view s, size_t at = 0) {
  return reinterpret_cast<const unsigned char*>(s.data()) + at;
}

Status check_key(std::string_view key) {
  if (key.size() != kBootstrapKeyBytes) {
    return invalid_argument(
        fmt::format("the bootstrap encryption key is {} bytes; AES-256 needs {}", key.size(),
                    kBootstrapKeyBytes));
  }
  return Status::ok_status();
}

}  // namespace

Result<std::string> encrypt_answer(std::string_view key, std::string_view plaintext) {
  SLUICE_RETURN_IF_ERROR(check_key(key));
  if (plaintext.size() > static_cast<size_t>(INT_MAX) - kBootstrapTagBytes) {
    return invalid_argument("the bootstrap answer is too large to encrypt");
  }
  SLUICE_ASSIGN_OR_RETURN(std::string nonce, auth::random_bytes(kBootstrapNonceBytes));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out = nonce;
  out.resize(kBootstrapNonceBytes + plaintext.size() + kBootstrapTagBytes);
  int n = 0;
  int final_n = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kBootstrapNonceBytes),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key), bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes(out, kBootstrapNonceBytes), &n, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(out, kBootstrapNonceBytes + n), &final_n) != 1 ||
      static_cast<size_t>(n) + static_cast<size_t>(final_n) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kBootstrapTagBytes),
                          bytes(out, kBootstrapNonceBytes + plaintext.size())) != 1) {
    return internal_error("AES-256-GCM encryption of the bootstrap answer failed (OpenSSL)");
  }
  return out;
}

Result<std::string> decrypt_answer(std::string_view key, std::string_view body) {
  SLUICE_RETURN_IF_ERROR(check_key(key));
  if (body.size() < kBootstrapNonceBytes + kBootstrapTagBytes ||
      body.size() > static_cast<size_t>(INT_MAX)) {
    return corruption(fmt::format(
        "an encrypted bootstrap answer of {} bytes: it must hold at least the {}-byte nonce and "
        "the {}-byte tag",
        body.size(), kBootstrapNonceBytes, kBootstrapTagBytes));
  }
  const size_t length = body.size() - kBootstrapNonceBytes - kBootstrapTagBytes;
  std::string tag(body.substr(kBootstrapNonceBytes + length));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(length, '\0');
  int n = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kBootstrapNonceBytes),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key), bytes(body)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(out, 0), &n, bytes(body, kBootstrapNonceBytes),
                        static_cast<int>(length)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kBootstrapTagBytes),
                          tag.data()) != 1) {
    return internal_error("AES-256-GCM decryption of a bootstrap answer failed (OpenSSL)");
  }
  int final_n = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), bytes(out, static_cast<size_t>(n)), &final_n) != 1) {
    return corruption(
        "the encrypted bootstrap answer does not authenticate: it was changed, or sealed with "
        "another key");
  }
  out.resize(static_cast<size_t>(n) + static_cast<size_t>(final_n));
  return out;
}

Result<std::string> read_bootstrap_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return io_error(fmt::format("[api] bootstrap_key_file '{}': cannot read it ({})", path,
                                std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string hex = text.str();
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  hex.erase(hex.begin(), std::find_if_not(hex.begin(), hex.end(), space));
  hex.erase(std::find_if_not(hex.rbegin(), hex.rend(), space).base(), hex.end());
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const bool is_hex = std::all_of(hex.begin(), hex.end(), [&](char c) { return nibble(c) >= 0; });
  if (hex.size() != 2 * kBootstrapKeyBytes || !is_hex) {
    return invalid_argument(fmt::format(
        "[api] bootstrap_key_file '{}': expected {} hex characters (the 32-byte AES-256 key of "
        "encrypted bootstrap answers), found {} characters{}; make one with `openssl rand -hex "
        "32 > {}`",
        path, 2 * kBootstrapKeyBytes, hex.size(), is_hex ? "" : " that are not all hex", path));
  }
  std::string key(kBootstrapKeyBytes, '\0');
  for (size_t i = 0; i < kBootstrapKeyBytes; ++i) {
    key[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  }
  return key;
}

Result<std::unique_ptr<BootstrapStore>> open_bootstrap(const std::string& path, Registry& registry,
                                                       const std::string& key_file, Clock& clock) {
  BootstrapOptions options;
  if (!key_file.empty()) {
    SLUICE_ASSIGN_OR_RETURN(options.encryption_key, read_bootstrap_key(key_file));
  }
  return BootstrapStore::open(path, registry, clock, std::move(options));
}

}  // namespace sluice::platform
