// The device registry: organizations, things (devices and applications, each with a secret key),
// channels, and the connections thing <-> channel that are the access policy of the adapters
// (HTTP and MQTT). Kept in the state database file (state.db, beside the store) through its own
// SQLite connection, like the auth tables (auth/auth_db.h), with WAL and synchronous=FULL: a
// created thing or a rotated key is on disk when the call returns.
//
// Keys are never stored readable: a thing's key is 32 random bytes shown once (on create, on
// rotation, and to a device that bootstraps), and the registry keeps its SHA-256 (keys are
// random, so a slow password hash adds nothing). The adapters' hot path (authenticate(),
// connected()) reads in-memory indexes kept in step with every change, never SQLite.
//
// Organizations: every thing and channel belongs to one. Callers act within a Scope: a member
// of an organization sees and changes only its entities (another org's id answers kNotFound,
// as if it did not exist); the platform's own organization (kPlatformOrg, where `sluice user
// add` puts users by default) sees all.
//
// Schema (table platform_meta, key 'schema_version' = 1; only ever extended):
//   platform_orgs(id TEXT PRIMARY KEY, name TEXT UNIQUE COLLATE NOCASE, metadata TEXT (JSON),
//                 created_ns, updated_ns)
//   platform_things(id TEXT PRIMARY KEY, org TEXT -> platform_orgs.id, name TEXT,
//                   key_hash BLOB UNIQUE (SHA-256 of the key), key_hint TEXT (its first 4
//                   characters, to tell keys apart), metadata TEXT, created_ns, updated_ns,
//                   key_rotated_ns)
//   platform_channels(id TEXT PRIMARY KEY, org TEXT, name TEXT, metadata TEXT, created_ns,
//                     updated_ns)
//   platform_connections(thing TEXT, channel TEXT, created_ns, PRIMARY KEY (thing, channel))
//
// Thread safety: every method may be called from any thread; writes are serialized by one
// mutex around the connection, the indexes are behind a shared mutex. The listener is called
// with neither held.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/auth_db.h"
#include "auth/users.h"
#include "core/clock.h"
#include "core/status.h"

namespace sluice::platform {

// The platform's own organization: always there; its members see every organization.
inline constexpr std::string_view kPlatformOrg = auth::kPlatformOrgId;

// Limits on what callers give.
inline constexpr size_t kMaxNameLength = 128;
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;
inline constexpr size_t kMaxBulk = 10'000;  // entities or connection pairs in one call
inline constexpr size_t kMaxPageLimit = 1000;
inline constexpr size_t kKeyHexLength = 64;  // 32 random bytes as lower-case hex

struct Org {
  std::string id;
  std::string name;
  nlohmann::json metadata = nlohmann::json::object();
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
};

struct Thing {
  std::string id;
  std::string org;
  std::string name;
  nlohmann::json metadata = nlohmann::json::object();
  std::string key_hint;  // the key's first 4 characters
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
  int64_t key_rotated_ns = 0;
};

struct Channel {
  std::string id;
  std::string org;
  std::string name;
  nlohmann::json metadata = nlohmann::json::object();
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
};

// Who acts: the organization of the caller, or every organization.
struct Scope {
  std::string org;
  bool all = false;
  static Scope everything() { return {std::string(kPlatformOrg), true}; }
  static Scope of(std::string org) {
    const bool platform = org == kPlatformOrg;
    return {std::move(org), platform};
  }
  bool sees(std::string_view org_id) const { return all || org_id == org; }
};

// A thing or channel to create. `org` empty: the caller's organization (a platform member may
// name another). `id` empty: a new UUID. `key` (things) empty: a new random key.
struct NewThing {
  std::string org;
  std::string name;
  nlohmann::json metadata = nlohmann::json::object();
  std::string id;
  std::string key;
};
struct NewChannel {
  std::string org;
  std::string name;
  nlohmann::json metadata = nlohmann::json::object();
  std::string id;
};

// A thing as created or rotated: the only time its key is readable.
struct IssuedThing {
  Thing thing;
  std::string key;
};

// A page of a list. `name`: only entities whose name contains it (case-insensitive).
// `connected_to`: only things connected to this channel, or channels this thing is connected
// to. `org`: only this organization (within the scope).
struct ListQuery {
  size_t offset = 0;
  size_t limit = 100;
  std::string name;
  std::string connected_to;
  std::string org;
};
template <typename T>
struct Listed {
  std::vector<T> items;
  size_t total = 0;  // matching, before offset and limit
};

// What the adapters learn from a key.
struct ThingIdentity {
  std::string id;
  std::string org;
  std::string name;
};

// A change the MQTT adapter mirrors into the broker (platform/dynsec.h). `key` is set when the
// thing was created or its key rotated (the only moments it is known).
struct ThingChange {
  enum class Kind { kPut, kRemoved };
  Kind kind = Kind::kPut;
  std::string thing;
  std::optional<std::string> key;
  std::vector<std::string> channels;  // its connected channels after the change (kPut)
};

class Registry {
 public:
  // Opens (creating) the registry's tables in the database at `path` (":memory:" for tests)
  // and ensures the platform organization. `clock` must outlive the registry.
  static Result<std::unique_ptr<Registry>> open(const std::string& path, Clock& clock);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // ---- Organizations (only the platform's members create, change and remove them) ----------
  Result<Org> create_org(const Scope& scope, std::string_view name, nlohmann::json metadata,
                         std::string id = {});
  Result<Listed<Org>> list_orgs(const Scope& scope, const ListQuery& query) const;
  Result<Org> get_org(const Scope& scope, std::string_view id) const;
  Result<Org> update_org(const Scope& scope, std::string_view id, std::optional<std::string> name,
                         std::optional<nlohmann::json> metadata);
  // kFailedPrecondition while it has things or channels (or it is the platform's own).
  Status remove_org(const Scope& scope, std::string_view id);
  bool org_exists(std::string_view id) const;

  // ---- Things ---------------------------------------------------------------------------------
  // All or nothing: one bad entry (its index named: "things[3].name: ...") creates none.
  Result<std::vector<IssuedThing>> create_things(const Scope& scope, std::vector<NewThing> things);
  Result<Listed<Thing>> list_things(const Scope& scope, const ListQuery& query) const;
  Result<Thing> get_thing(const Scope& scope, std::string_view id) const;
  Result<Thing> update_thing(const Scope& scope, std::string_view id,
                             std::optional<std::string> name,
                             std::optional<nlohmann::json> metadata);
  // Removes the thing and its connections.
  Status remove_thing(const Scope& scope, std::string_view id);
  // A new key; the old one stops working at once.
  Result<IssuedThing> rotate_key(const Scope& scope, std::string_view id);

  // ---- Channels -------------------------------------------------------------------------------
  Result<std::vector<Channel>> create_channels(const Scope& scope,
                                               std::vector<NewChannel> channels);
  Result<Listed<Channel>> list_channels(const Scope& scope, const ListQuery& query) const;
  Result<Channel> get_channel(const Scope& scope, std::string_view id) const;
  Result<Channel> update_channel(const Scope& scope, std::string_view id,
                                 std::optional<std::string> name,
                                 std::optional<nlohmann::json> metadata);
  // Removes the channel and its connections.
  Status remove_channel(const Scope& scope, std::string_view id);

  // ---- Connections (every thing with every channel given; bulk) -----------------------------
  // Thing and channel must be of the same organization. Connecting a pair already connected,
  // or disconnecting one that is not, is not an error. All or nothing.
  Status connect(const Scope& scope, const std::vector<std::string>& things,
                 const std::vector<std::string>& channels);
  Status disconnect(const Scope& scope, const std::vector<std::string>& things,
                    const std::vector<std::string>& channels);
  std::vector<std::string> channels_of(std::string_view thing) const;  // sorted

  // ---- The adapters' hot path (in memory) ---------------------------------------------------
  // The thing whose key this is; kUnauthenticated otherwise.
  Result<ThingIdentity> authenticate(std::string_view key) const;
  bool connected(std::string_view thing, std::string_view channel) const;
  // The channel's organization and name, if it exists.
  std::optional<std::pair<std::string, std::string>> channel_info(std::string_view id) const;
  // Every thing with its channels (the MQTT adapter's reconcile).
  std::vector<std::pair<std::string, std::vector<std::string>>> all_things() const;
  size_t thing_count() const;

  // Told of every change to a thing's key or connections, after it is durable, on the thread
  // that made it (so two changes made at once on two threads may arrive in either order: a
  // listener should read the registry's state, not trust the order). Listeners come and go
  // while the registry is shared (the MQTT adapter's, with its source); a listener may still
  // be called once after remove_listener() returned, if a change was under way: it must keep
  // what it touches alive itself (capture a shared_ptr).
  using ListenerId = uint64_t;
  ListenerId add_listener(std::function<void(const ThingChange&)> listener);
  void remove_listener(ListenerId id);

  // Whether the thing exists (in memory; any organization).
  bool has_thing(std::string_view id) const;

 private:
  Registry(std::unique_ptr<auth::AuthDb> db, Clock& clock) : db_(std::move(db)), clock_(clock) {}
  Status init();
  Status load_indexes();
  sqlite3* handle() const { return db_->handle(); }  // db_->mu() held
  void notify_put(const std::string& thing, std::optional<std::string> key);
  // Checks `id` exists in `table` and is visible to `scope`; its org in *org.
  Status visible(const Scope& scope, const char* table, const char* what, std::string_view id,
                 std::string* org) const;  // db_->mu() held
  Result<std::string> target_org(const Scope& scope, const std::string& given,
                                 const std::string& at) const;  // db_->mu() held

  // The connection (shared code with the auth tables: the same file, its own connection); its
  // mutex serializes every statement.
  std::unique_ptr<auth::AuthDb> db_;
  Clock& clock_;
  // Copied on change, so that notify() calls them with no lock held.
  using Listeners = std::vector<std::pair<ListenerId, std::function<void(const ThingChange&)>>>;
  void notify(const ThingChange& change) const;
  mutable std::mutex listeners_mu_;
  std::shared_ptr<const Listeners> listeners_;  // guarded by listeners_mu_
  ListenerId next_listener_ = 1;                // guarded by listeners_mu_

  mutable std::shared_mutex index_mu_;
  std::unordered_map<std::string, ThingIdentity> by_key_hash_;  // guarded by index_mu_
  std::unordered_map<std::string, std::string> key_hash_of_;    // thing id -> key hash
  std::unordered_map<std::string, std::pair<std::string, std::string>> channels_;  // id -> org,name
  std::unordered_map<std::string, std::set<std::string>> connections_;  // thing -> channels
};

// Checks a name (1 to kMaxNameLength characters, no control characters); `at` names the field.
Status check_name(std::string_view name, std::string_view at);
// Checks metadata: a JSON object of at most kMaxMetadataBytes.
Status check_metadata(const nlohmann::json& metadata, std::string_view at);
// A new thing key: 32 random bytes as hex.
Result<std::string> new_thing_key();
// A new random (version 4) UUID, the ids the registry makes.
std::string new_uuid();

}  // namespace sluice::platform
