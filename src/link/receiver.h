// The receiving end of the link: a source of type "link" that listens for gRPC over TLS and takes
// (1) forwarded sessions from other Sluice instances (Link.Forward) and (2) samples from custom
// collectors (Link.Write, and the HTTP write endpoint of the API, which hands its batches to
// write_batch()). Each session gets a store stream of its own (SourceContext::open_stream), named
// by the session id; a forwarded batch keeps the sender's sequences, so a resend after a crash or
// a cut is recognised by the store and acknowledged without a second append (exactly once).
// Every reply is sent only once what it acknowledges is durable.
//
// Senders are admitted by their client certificate (its SHA-256 fingerprint listed in
// `client_fingerprints`, or signed by `client_ca_file`) or by an API token of a user whose role
// may write (the `authorization: Bearer <token>` metadata). Anything else is refused with
// UNAUTHENTICATED, logged and counted. The server's certificate is `tls_cert_file` /
// `tls_key_file`, or one generated on first start in <store dir>/tls/.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/source_types.h"

namespace sluice::link {

// Settings a session has when its sender gives none (Canary's session settings).
struct SessionDefaults {
  std::chrono::milliseconds inactive_timeout{std::chrono::minutes(5)};  // 0: never closes
  bool write_nodata_on_close = false;
  bool allow_insert_older = true;
  bool create_dataset = true;
};

struct ReceiverOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 7480;   // 0: any free port (tests; the chosen one is logged and in details())
  std::string cert_file;  // both empty: generated in <store dir>/tls/
  std::string key_file;
  std::string client_ca_file;                    // client certificates signed by it are admitted
  std::vector<std::string> client_fingerprints;  // and these (SHA-256, hex, colons optional)
  uint64_t max_message_bytes = 16u << 20;
  SessionDefaults defaults;
  // At most session_limit new sessions per session_window (0: no limit); more are refused.
  uint32_t session_limit = 1000;
  std::chrono::milliseconds session_window{std::chrono::minutes(1)};
  // At most this many appends at once over all calls (the concurrent dataset transaction
  // limit); more wait their turn.
  uint32_t max_concurrent_writes = 8;
};

std::shared_ptr<const runtime::SourceSettings> parse_receiver_settings(runtime::ConfigTable& t);
void register_receiver(runtime::SourceTypes& types);

// The samples of one HTTP write request, for the write path shared by Link.Write and the API.
struct WriteResult {
  uint64_t samples = 0;
  std::string stream;
};
// Appends `batch` to the write session `session` ("" = "http"/"grpc" by the caller) of the link
// source behind `ctx` (its stream "write.<session>", created if new) and returns once it is
// durable. `older_than` (optional) gives the newest timestamp the session holds per series:
// with defaults.allow_insert_older off, a sample older than that is refused. kInvalidArgument
// names the sample at fault; kResourceExhausted when the store is full.
using NewestLookup =
    std::function<std::optional<Timestamp>(std::string_view stream, std::string_view series)>;
Result<WriteResult> write_batch(runtime::SourceContext& ctx, std::string_view session,
                                Batch&& batch, const SessionDefaults& defaults = {},
                                const NewestLookup& newest = {});
// write_batch() through the link source `source` (whose context is `ctx`), with the session
// defaults of its configuration: the HTTP write endpoint's path (Runtime::with_source).
// kInvalidArgument if `source` is not a link source.
Result<WriteResult> write_through(runtime::Source& source, runtime::SourceContext& ctx,
                                  std::string_view session, Batch&& batch,
                                  const NewestLookup& newest = {});

// The store stream of a write session.
std::string write_stream_name(std::string_view session);

}  // namespace sluice::link
