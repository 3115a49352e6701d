// Device bootstrap: how a device that knows only its own external id (a MAC, a serial number)
// and the secret burnt into it (its external key) learns, on first power-up and whenever it
// starts over, which thing it is, the thing's key, its channels and its own configuration.
// An operator prepares one bootstrap config per device; the device asks
// GET /things/bootstrap/{external_id} with "Authorization: Thing <external key>" (api/
// bootstrap_api.h) and the store answers through bootstrap().
//
// The configs live in the state database file beside the registry (platform/registry.h), through
// their own SQLite connection (auth/auth_db.h), WAL and synchronous=FULL: a created config is on
// disk when the call returns. External keys are stored only as SHA-256 and a 4-character hint;
// a generated key is shown once, in the create answer. Thing keys are not stored readable
// either, so every bootstrap rotates the thing's key (Registry::rotate_key): the device gets a
// fresh key and the one it had before stops working at once.
//
// Schema (table platform_bootstrap_meta, key 'schema_version' = 1; only ever extended):
//   platform_bootstrap(external_id TEXT PRIMARY KEY, key_hash BLOB (SHA-256 of the external
//                      key), key_hint TEXT, org TEXT, name TEXT, thing_id TEXT UNIQUE,
//                      channels TEXT (JSON array of channel ids), content TEXT (JSON),
//                      enabled INTEGER, created_ns, updated_ns)
//
// Scopes are the registry's: a member of an organization sees and changes only its configs
// (another org's external id answers kNotFound). A config's thing and channels are of its org.
//
// Thread safety: every method may be called from any thread; changes are serialized by one
// mutex (a config and the registry entities it creates or connects change together), reads
// take only the connection's mutex. bootstrap() takes no store-wide lock while it rotates.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_db.h"
#include "core/clock.h"
#include "core/status.h"
#include "platform/registry.h"

namespace sluice::platform {

// Limits on what operators give.
inline constexpr size_t kMaxExternalIdLength = 256;
inline constexpr size_t kMinExternalKeyLength = 16;
inline constexpr size_t kMaxExternalKeyLength = 256;
inline constexpr size_t kMaxBootstrapContentBytes = 1 << 20;  // the content's JSON text
inline constexpr size_t kMaxBootstrapChannels = 1000;
// AES-256-GCM of the encrypted answer: key, nonce and tag sizes in bytes.
inline constexpr size_t kBootstrapKeyBytes = 32;
inline constexpr size_t kBootstrapNonceBytes = 12;
inline constexpr size_t kBootstrapTagBytes = 16;

// A device's bootstrap config as stored (without its external key).
struct BootstrapConfig {
  std::string external_id;
  std::string key_hint;  // the external key's first 4 characters
  std::string org;
  std::string name;
  std::string thing_id;
  std::vector<std::string> channels;  // channel ids, in the order given
  nlohmann::json content = nullptr;   // the device's own config, any JSON value
  bool enabled = true;                // state "on"; off: the device is refused
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
};

// A config to create. `external_key` empty: 32 random bytes as hex are made and answered once.
// `org` empty: the thing's org if `thing_id` is given, else the caller's. `thing_id` empty: a
// thing named `name` is created in the config's org.
struct NewBootstrap {
  std::string external_id;
  std::string external_key;
  std::string org;
  std::string name;
  std::string thing_id;
  std::vector<std::string> channels;
  nlohmann::json content = nullptr;
};

// A created config, and its external key when the store made it (the only time it is readable).
struct CreatedBootstrap {
  BootstrapConfig config;
  std::optional<std::string> external_key;
};

// What an update changes (nullopt: unchanged). New channels replace the list: the thing is
// connected to every channel of it, and disconnected from those dropped from it. A new thing
// is connected to the channels; the previous thing keeps its connections and its key.
struct BootstrapUpdate {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> channels;
  std::optional<nlohmann::json> content;
  std::optional<std::string> thing_id;
};

// What a bootstrapping device learns.
struct BootstrapChannel {
  std::string id;
  std::string name;
  nlohmann::json metadata = nlohmann::json::object();
};
struct BootstrapAnswer {
  std::string thing_id;
  std::string thing_key;                   // new at every bootstrap
  std::vector<BootstrapChannel> channels;  // the config's channels that still exist
  nlohmann::json content = nullptr;
};
// {"thing_id", "thing_key", "channels": [{"id", "name", "metadata"}], "content"}.
nlohmann::json answer_json(const BootstrapAnswer& answer);

// Bootstraps answered, and refusals by reason, since the store was opened.
struct BootstrapStats {
  uint64_t bootstrapped = 0;
  uint64_t unauthenticated = 0;  // no external key given
  uint64_t unknown = 0;          // no config with this external id
  uint64_t wrong_key = 0;
  uint64_t off = 0;       // the config's state is off
  uint64_t no_thing = 0;  // its thing was removed from the registry
  uint64_t failed = 0;    // the key could not be rotated (database error)
};

struct BootstrapOptions {
  // The 32-byte AES-256 key of the encrypted answers ([api] bootstrap_key_file); none: the
  // encrypted variant is off.
  std::optional<std::string> encryption_key;
};

class BootstrapStore {
 public:
  // Opens (creating) the bootstrap tables in the database at `path` (the registry's file).
  // `registry` and `clock` must outlive the store.
  static Result<std::unique_ptr<BootstrapStore>> open(const std::string& path, Registry& registry,
                                                      Clock& clock, BootstrapOptions options = {});
  ~BootstrapStore();
  BootstrapStore(const BootstrapStore&) = delete;
  BootstrapStore& operator=(const BootstrapStore&) = delete;

  // ---- Operators (Scope as the registry's) -------------------------------------------------
  // kAlreadyExists for a taken external id or a thing another config maps to;
  // kFailedPrecondition for a thing or channel that does not exist (or is of another org);
  // kInvalidArgument naming the field. Nothing is created when it fails.
  Result<CreatedBootstrap> create(const Scope& scope, NewBootstrap n);
  Result<Listed<BootstrapConfig>> list(const Scope& scope, const ListQuery& query) const;
  Result<BootstrapConfig> get(const Scope& scope, std::string_view external_id) const;
  Result<BootstrapConfig> update(const Scope& scope, std::string_view external_id,
                                 BootstrapUpdate update);
  Result<BootstrapConfig> set_state(const Scope& scope, std::string_view external_id, bool on);
  // Removes the config; its thing stays in the registry (with its key and connections).
  Status remove(const Scope& scope, std::string_view external_id);

  // ---- Devices -------------------------------------------------------------------------------
  // The answer for the device with this external id and key: kUnauthenticated without a key,
  // kNotFound for an unknown id, kPermissionDenied for a wrong key, kFailedPrecondition when the
  // config is off or its thing was removed. Each success rotates the thing's key.
  Result<BootstrapAnswer> bootstrap(std::string_view external_id, std::string_view external_key);

  // The encrypted variant: whether a key is configured, and `plaintext` sealed with it
  // (encrypt_answer). kFailedPrecondition without a key.
  bool encrypts() const { return options_.encryption_key.has_value(); }
  Result<std::string> seal(std::string_view plaintext) const;

  BootstrapStats stats() const;

 private:
  BootstrapStore(std::unique_ptr<auth::AuthDb> db, Registry& registry, Clock& clock,
                 BootstrapOptions options)
      : db_(std::move(db)), registry_(registry), clock_(clock), options_(std::move(options)) {}
  Status init();
  // The config row with its key hash; db_->mu() held.
  Status read(std::string_view external_id, BootstrapConfig* out, std::string* key_hash) const;
  Status write(const BootstrapConfig& c, const std::string* key_hash);  // db_->mu() held
  // Checks a thing for a config of `org`: visible to `scope`, of `org`.
  Status check_thing(const Scope& scope, const std::string& org, const std::string& id) const;
  // Checks channels for a config of `org`: no repeats, visible to `scope`, of `org`.
  Status check_channels(const Scope& scope, const std::string& org,
                        const std::vector<std::string>& ids) const;

  std::unique_ptr<auth::AuthDb> db_;
  Registry& registry_;
  Clock& clock_;
  const BootstrapOptions options_;
  std::mutex change_mu_;  // serializes create, update, set_state, remove

  struct Counters {
    std::atomic<uint64_t> bootstrapped{0}, unauthenticated{0}, unknown{0}, wrong_key{0}, off{0},
        no_thing{0}, failed{0};
  };
  mutable Counters counters_;
};

// Checks an external id: 1 to kMaxExternalIdLength printable ASCII characters, no space and no
// '/' (it is one segment of the bootstrap URL). `at` names the field.
Status check_external_id(std::string_view id, std::string_view at);

// AES-256-GCM with a 32-byte `key`: 12-byte random nonce || ciphertext || 16-byte tag.
Result<std::string> encrypt_answer(std::string_view key, std::string_view plaintext);
// The plaintext of encrypt_answer's output; kCorruption if it is too short, was changed or was
// sealed with another key; kInvalidArgument for a key that is not 32 bytes.
Result<std::string> decrypt_answer(std::string_view key, std::string_view body);

// The 32-byte key in `path`: 64 hex characters (surrounding white space ignored), as
// `openssl rand -hex 32` writes. Errors name [api] bootstrap_key_file and the file.
Result<std::string> read_bootstrap_key(const std::string& path);

// BootstrapStore::open with the key of `key_file` (read_bootstrap_key; "": no key), as
// `sluice run` opens it from [api] bootstrap_key_file.
Result<std::unique_ptr<BootstrapStore>> open_bootstrap(const std::string& path, Registry& registry,
                                                       const std::string& key_file, Clock& clock);

}  // namespace sluice::platform
