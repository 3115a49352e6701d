// The sending end of the link: a sink of type "forward" that streams the batches of its streams
// to another Sluice's link source over gRPC+TLS (Link.Forward) and commits its cursors only once
// the receiver replied that they are durable there. Each stream travels as a session: a stream of
// a local source becomes a new session "<destination>.<created>.<this instance>.<source>" (hops
// [this instance]); a stream that came over a link keeps its session id and hops. The receiver
// keeps the sender's sequences, so a resend after a crash or a cut is acknowledged without being
// stored twice.
//
// Output states per session (output_state()): open; closed (no connection: why); hold (a later
// session of the same collector and source waits until the earlier one is delivered); throttled
// (connected, but the receiver answers with an error: the sink backs off and shows the reason).
// An operator's pause is the runtime's.
//
// Memory is bounded by max_in_flight frames of at most batch_samples samples, whatever the
// backlog: the store is read from the cursors as the frames are acknowledged.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/source_types.h"

namespace sluice::link {

struct ForwardOptions {
  std::string target;          // host:port of the receiver's link source
  std::string server_ca_file;  // PEM trusted for the receiver's certificate (its own, if
                               // self-signed); empty: the system's roots
  std::string server_name;     // the name to check in its certificate; empty: the target's host
  std::string token;           // an API token of the receiver's users (or a client certificate)
  std::string cert_file;       // the client certificate to present; both empty: this
  std::string key_file;        // instance's own (generated in <store dir>/tls/)
  std::string destination;     // the final destination's name in new session ids; empty: the
                               // sink's name
  uint32_t batch_samples = 20'000;  // samples per frame at most
  uint32_t max_in_flight = 8;       // frames sent before their replies (parallel flushes)
  // Lazy buffer: with nothing buffered and fast replies, send data as soon as it is readable
  // (small frames, low latency); otherwise wait up to `linger` to fill frames.
  bool lazy = true;
  std::chrono::milliseconds linger{50};
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{30'000};
};

std::shared_ptr<const runtime::SinkSettings> parse_forward_settings(runtime::ConfigTable& t);
runtime::SinkType forward_sink_type();

}  // namespace sluice::link
