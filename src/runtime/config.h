// The config file (TOML) that gives Sluice its initial pipeline: the store, logging, and the
// sources. Parsing collects every error of the file before it gives up, and each error names
// the file, line, column and key, e.g.
//   demo.toml:12:8: key 'sources[1].rate': expected a positive number of samples per second ...,
//   got -5
// Unknown keys are errors. The reference of every key is docs/configuration.md.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/oidc.h"
#include "core/status.h"
#include "ingest/filter.h"
#include "runtime/source_types.h"
#include "store/store.h"

namespace sluice::runtime {

// One problem in a config file. line and column are 1-based; 0 when not known.
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;  // full key path, e.g. "sources[1].rate"; empty for syntax errors
  std::string message;

  // "FILE:LINE:COL: key 'KEY': MESSAGE" (or "FILE:LINE:COL: MESSAGE" without a key).
  std::string to_string() const;
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  // How often the runtime logs its status line; 0 turns it off.
  std::chrono::nanoseconds status_interval = std::chrono::seconds(10);
};

// The REST API and web UI server ([api]).
struct ApiConfig {
  bool enabled = false;  // off until users and tokens guard it (next issue)
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (tests)
  std::string cert_file;  // both set: HTTPS
  std::string key_file;
  uint64_t max_body_bytes = 1u << 20;
  bool metrics_public = true;  // /metrics without a token (Prometheus scrapes)
  // Threads that serve requests. A request that stores data (the HTTP adapter, the write API)
  // holds its thread until the samples are durable (one group commit, ~10 ms), so more threads
  // than cores let concurrent writers share commits.
  int threads = 16;
  // [api.oidc]: accept bearer JWTs from an OpenID Connect issuer (auth/oidc.h); none: off.
  std::optional<auth::OidcOptions> oidc;
  // The file of the 32-byte key (64 hex characters) that seals encrypted bootstrap answers
  // (GET /things/bootstrap/secure/...); "": that route is off.
  std::string bootstrap_key_file;
};

// Edge control's threads and queues ([control]); rules, notifications, scripts and ACLs are
// documents ([[rules]] ...; Config::documents).
struct ControlConfig {
  size_t dispatcher_threads = 2;    // run scripts and submitted requests in parallel
  size_t dispatcher_queue = 1'000;  // requests waiting for a dispatcher thread
  size_t delivery_threads = 2;      // run set point, operation and script deliveries
  size_t delivery_queue = 1'000;    // sends waiting per delivery
};

// Who this Sluice is ([instance]): its name appears in the hops of every session it forwards
// or receives ("A → B → C") and in the session ids it creates.
struct InstanceConfig {
  std::string name;  // [A-Za-z0-9_.-]+; default: the host name
};

struct SourceConfig {
  std::string name;  // unique; [A-Za-z0-9_.-]+, not starting with '.'
  std::string type;
  bool enabled = true;
  // The organization it belongs to (`org`; the device platform's organizations): its members
  // see it and its series. Default: the platform's own, seen only by the platform's members.
  std::string org = "platform";
  int line = 0;  // where its [[sources]] table starts, for messages
  std::shared_ptr<const SourceSettings> settings;  // never null in a parsed Config
  // The ACL ([[acls]]) that says who may send it control requests; "": anyone the API's roles
  // allow.
  std::string acl;
  // Its [[sources.filters]] chain, applied to every batch it ingests; null: none.
  std::shared_ptr<const ingest::FilterChainSettings> filters;
};

struct SinkConfig {
  std::string name;  // unique among sinks; also the name of its cursors in the store
  std::string type;
  bool enabled = true;
  std::string org = "platform";  // as SourceConfig::org
  std::vector<std::string> sources;  // the sources whose data it delivers; empty: all
  int line = 0;
  std::shared_ptr<const SinkSettings> settings;  // never null in a parsed Config
};

// One table of a document kind (source_types.h, DocumentType): [[rules]], [[notifications]] ...
struct DocumentConfig {
  std::string kind;  // "rules", "notifications", "scripts", "acls"
  std::string name;  // its `name` key
  int line = 0;
  std::string json;  // the table as a JSON object
};

struct Config {
  std::string file;  // the path it was read from, as given
  InstanceConfig instance;
  store::StoreOptions store;
  LogConfig log;
  ApiConfig api;
  ControlConfig control;
  std::vector<SourceConfig> sources;
  std::vector<SinkConfig> sinks;
  std::vector<DocumentConfig> documents;  // by kind in registration order, then file order
};

// Reads and parses the file at `path`. A relative [store] dir is taken relative to the file's
// directory. On failure the Status message holds one error per line; `errors`, if given,
// receives them as structured values.
Result<Config> load_config(const std::string& path, const SourceTypes& types,
                           std::vector<ConfigError>* errors = nullptr);

// Parses config text. `file_name` names it in messages, and its directory is the base of a
// relative [store] dir (the current directory if it has none).
Result<Config> parse_config(std::string_view text, std::string_view file_name,
                            const SourceTypes& types, std::vector<ConfigError>* errors = nullptr);

// A few lines describing the config for `sluice validate` and the start-up log.
std::string describe_config(const Config& config);

}  // namespace sluice::runtime
