// Sluice as a device: an edge Sluice started with only a central Sluice's URL, its external id
// and its external key fetches its configuration (GET /things/bootstrap/{external_id}, or the
// AES-256-GCM sealed /things/bootstrap/secure/{external_id} with a decryption key), writes it to
// its directory and runs it, forwarding its data to the central as its thing with a `channel`
// sink (sinks/channel). `sluice run --bootstrap <url> --external-id <id> --external-key <key>`.
//
// The directory (--dir, default "sluice-edge") holds, written atomically, mode 0600:
//   bootstrap.json  the last answer (thing id, channels, content; not the key) and when
//   thing.key       the thing's key (the channel sink's key_file)
//   sluice.toml     the config made from the answer: the content (a Sluice config as a JSON
//                   object: {"sources": [...], "sinks": [...], ...}) as TOML, with [store] dir =
//                   "data" unless given, and a `channel` sink named "central" to the answer's
//                   first channel unless the content has a channel sink (whose missing url,
//                   channel and key_file are then filled in)
//   data/           the store
//
// Every bootstrap rotates the thing's key at the central, so the edge bootstraps at each start
// and whenever its forwarding is refused (401/403: the key was rotated elsewhere or the thing
// was disconnected) or it is told to (SIGHUP): it stops gracefully and starts again. When the
// central cannot be reached at start, the last config in the directory is run (an edge must
// work offline), and without one the fetch is retried with back-off.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/status.h"
#include "platform/bootstrap.h"

namespace sluice::platform {

struct EdgeBootstrapOptions {
  std::string url;  // the central's base URL, http:// or https://
  std::string external_id;
  std::string external_key;
  std::optional<std::string> decryption_key;  // 32 bytes: use the sealed route
  std::string ca_file;                        // "": the system's CAs
  bool insecure_skip_verify = false;
  std::chrono::milliseconds timeout{10'000};
};

// Fetches and parses the answer. The errors say what the central said: kUnauthenticated (401),
// kPermissionDenied (403: wrong external key), kNotFound (404: no such config, or no sealed
// route), kFailedPrecondition (409: the config is off), kUnavailable (no answer, 5xx),
// kCorruption (an answer that does not parse or decrypt).
Result<BootstrapAnswer> fetch_bootstrap(const EdgeBootstrapOptions& options);

// The edge's config text (TOML) from an answer; `url` is the central's. kInvalidArgument when
// the content is not a JSON object that TOML can hold, naming where.
Result<std::string> edge_config(const BootstrapAnswer& answer, const std::string& url);

// Writes bootstrap.json, thing.key and sluice.toml into `dir` (made if missing), each through a
// temporary file and a rename, mode 0600. Returns the config's path.
Result<std::string> write_edge_files(const std::string& dir, const BootstrapAnswer& answer,
                                     const std::string& config_text);

}  // namespace sluice::platform
