// The service model every source (south service) is built on: a Source produces batches and
// hands them to its SourceContext, which is the runtime's side of the contract (ingest into the
// store, the clock, the stop signal). Each service has a MODE (what the operator asked for)
// and a HEALTH (how it is doing, with a reason a person can act on), as in FogLAMP and the
// Kepware connector. Sinks (north services) will get the same vocabulary.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/sample.h"
#include "core/status.h"
#include "store/store.h"

namespace sluice::runtime {

struct ControlRequest;  // runtime/control.h
struct ControlOutcome;

// What the operator asked for: kRunning (enabled and started), kIdle (enabled but not running,
// e.g. before start or after stop), kDisabled (enabled = false in the config).
enum class Mode { kIdle, kRunning, kDisabled };
// How the service is doing. kNotApplicable: it is not running, so there is nothing to judge.
enum class HealthState { kHealthy, kWarning, kCritical, kNotApplicable };

const char* mode_name(Mode mode);                  // "IDLE", "RUNNING", "DISABLED"
const char* health_state_name(HealthState state);  // "HEALTHY", "WARNING", "CRITICAL", "N/A"

struct Health {
  HealthState state = HealthState::kNotApplicable;
  std::string reason;  // empty when healthy; otherwise what is wrong and what to do
};

// Who this Sluice is, as services need it: the instance name ([instance] name; in session ids
// and hops) and the directory of its data (the store's), where a service keeps files of its own
// (the forward link's generated TLS certificate).
struct InstanceInfo {
  std::string name;
  std::string data_dir;
};

// Checks an API token presented by an outside writer (a sender on the forward link, a custom
// collector on the write API). Implemented by the users and tokens of the API (auth/); the
// runtime only passes it on. Thread-safe.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  // The name of the token's user if the token is valid, unexpired and its role may write data;
  // otherwise an error that says which (kNotFound: unknown or expired; kFailedPrecondition: the
  // role may not write).
  virtual Result<std::string> verify_writer(std::string_view token) const = 0;
};

// One line of a service's detail page (the data platforms' connector page: "files pending 1,
// uploaded 42, last error ..."): a stable snake_case name and its value as text. Counters are
// decimal integers, times ISO-8601 UTC, and an empty value means "none yet". The runtime copies
// them into SourceStatus and SinkStatus so that the status line and the REST API show any
// service's details without knowing its type.
struct SinkDetail {
  std::string name;
  std::string value;

  bool operator==(const SinkDetail&) const = default;
};
using SinkDetails = std::vector<SinkDetail>;

// Parameters of a control operation (FogLAMP: name and key/value string parameters).
using OperationParams = std::map<std::string, std::string>;

// One thing a source lets the control dispatcher and the API drive: a set point (written with
// Source::write) or an operation (run with Source::operation). Listed by the API's control
// page and checked before a request is sent, so a wrong name is refused with the list.
struct ControlPoint {
  enum class Kind { kSetPoint, kOperation };
  std::string name;
  Kind kind = Kind::kSetPoint;
  ValueType type = ValueType::kDouble;  // of a set point's value (operations: unused)
  // Where it goes and how, for a person: "holding register 1 (uint16, x0.1)", "ns=2;s=Speed",
  // "method ns=2;s=Reset on ns=2;s=Motor (params: mode)".
  std::string description;

  bool operator==(const ControlPoint&) const = default;
};

// The runtime's side of a running source. Every method may be called from any thread (a source
// with its own callback threads may ingest from them); the object outlives Source::start().
class SourceContext {
 public:
  virtual ~SourceContext() = default;

  // Appends the batch to the store stream named after the source and returns when it is
  // durable by the store's sync policy (AppendResult::durability says which level it reached).
  // Only after it returns ok may a source acknowledge the data to its producer. A result with
  // outcome kDropped means the store was full under drop_newest: the batch was counted as
  // dropped, not kept. This is the one entry point of data into Sluice: later, the service's
  // filter chain and the rules tap are inserted here, invisible to sources.
  virtual Result<store::AppendResult> ingest(Batch&& batch) { return ingest(std::move(batch), {}); }
  // The same, with the store's append options: with wait_durable = false it returns once the
  // batch is written (AppendResult::durability kWritten) and the source learns when it is
  // durable from wait_durable(end_seq). A source that acknowledges many messages in flight
  // (MQTT QoS 1/2) ingests this way, so that one fsync covers all of them.
  virtual Result<store::AppendResult> ingest(Batch&& batch, store::AppendOptions options) = 0;

  // Waits until every sample below `end_seq` (an AppendResult::end_seq) of this source's stream
  // is durable, or `timeout` passed, or a stop was requested; returns the durable end (samples
  // below it are durable), so the caller compares it with end_seq.
  virtual uint64_t wait_durable(uint64_t end_seq, std::chrono::milliseconds timeout) = 0;

  // Metadata the source learned about its series (units from SenML, labels from OpenMetrics,
  // units from the KEPServerEX Configuration API). Kept in the state database; only changes
  // are written. An empty field keeps what is known.
  virtual Status update_series(const std::vector<SeriesMeta>& meta) {
    (void)meta;
    return Status::ok_status();
  }

  // ---- Session streams -----------------------------------------------------------------
  // A source that takes data for many sessions (the forward link's receiver, the write API)
  // gives each session a store stream of its own besides the one named after the source.
  // open_stream() creates it with `meta_json` if it is new (an existing stream keeps its meta)
  // and has every sink that takes this source's data read it from then on. ingest_to() appends
  // to such a stream: with `first_seq` the samples keep the sequences the sender gave them
  // (forwarded data: a resend of what is already here is recognised and not stored again, the
  // outcome kDuplicate), without it they get the next ones. The filter chain is not applied
  // (the data was filtered where it entered Sluice). The defaults refuse: a context without
  // sessions.
  virtual Status open_stream(std::string_view stream, std::string_view meta_json) {
    (void)stream;
    (void)meta_json;
    return failed_precondition("this source has no session streams");
  }
  virtual Result<store::AppendResult> ingest_to(std::string_view stream,
                                                std::optional<uint64_t> first_seq, Batch&& batch,
                                                store::AppendOptions options) {
    (void)stream;
    (void)first_seq;
    (void)batch;
    (void)options;
    return failed_precondition("this source has no session streams");
  }
  // wait_durable() for a session stream.
  virtual uint64_t wait_durable_in(std::string_view stream, uint64_t end_seq,
                                   std::chrono::milliseconds timeout) {
    (void)stream;
    (void)end_seq;
    (void)timeout;
    return 0;
  }
  // The next sequence the session stream would give (its samples so far, with gaps), or an
  // error if this source has no such stream.
  virtual Result<uint64_t> next_seq(std::string_view stream) const {
    (void)stream;
    return failed_precondition("this source has no session streams");
  }

  // Who this Sluice is, and the checker of outside writers' tokens (null: none configured, so
  // only client certificates can admit a writer).
  virtual const InstanceInfo& instance_info() const {
    static const InstanceInfo none;
    return none;
  }
  virtual const TokenVerifier* tokens() const { return nullptr; }

  // A control request this source received (an MQTT command topic: a north control input),
  // handed to the control dispatcher with this source as the caller (its name and type, which
  // ACLs may grant) and carried out on one of the dispatcher's threads, never the source's: a
  // script may restart this very source (a configure step), which must not wait for itself.
  // Returns once queued, or the refusal (then `done` is not called); `done` gets the outcome
  // on the dispatcher's thread and may outlive this source's instance (runtime/control.h,
  // ControlRouter::submit). The default refuses with kUnavailable: no dispatcher.
  virtual Status submit_control(const ControlRequest& request,
                                std::function<void(const Result<ControlOutcome>&)> done);

  // Time as the source must see it (a ManualClock in tests).
  virtual Clock& clock() = 0;

  // True once the runtime asked the source to stop.
  virtual bool stopping() const = 0;
  virtual std::stop_token stop_token() const = 0;

  // Waits until clock().monotonic() >= monotonic_ns or a stop is requested, whichever is
  // first; returns false if stopping. Sources wait through this (not sleep_for) so that a stop
  // wakes them at once and so that a test context can move a ManualClock instead of sleeping.
  virtual bool sleep_until(int64_t monotonic_ns) = 0;
};

// What sources and sinks share: a name (from the config; a source's is also its store stream,
// a sink's also its cursor name), a type, and the service's own view of its health.
class Service {
 public:
  explicit Service(std::string name) : name_(std::move(name)) {}
  virtual ~Service() = default;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return name_; }
  // The config `type`, e.g. "simulator" or "files".
  virtual std::string_view type() const = 0;

  // Called from another thread after the stop was requested, to interrupt a blocking call that
  // does not watch the stop token (a socket read, a client library's wait). Must be safe to
  // call while start() runs, or after it returned. The default does nothing, which is right
  // for services that wait only through their context.
  virtual void stop() {}

  // The service's own view of its health; thread-safe.
  virtual Health health() const;

  // The service's own counters and last events, in the order a person should read them. Called
  // from any thread, while start() runs or not; must not block. Default: none.
  virtual SinkDetails details() const { return {}; }

 protected:
  void set_health(HealthState state, std::string reason = {});

 private:
  const std::string name_;
  mutable std::mutex health_mu_;
  Health health_;  // guarded by health_mu_
};

// A south service. Subclasses are created from their config by their SourceType (see
// runtime/source_types.h) and run by the Runtime, one thread each.
class Source : public Service {
 public:
  using Service::Service;

  // Runs the source on the calling thread (the runtime gives each source its own) until
  // ctx.stopping(), then returns ok; or returns the reason it cannot go on (unreachable
  // device, bad credentials...), which the runtime logs, shows as health CRITICAL, and answers
  // by starting a new instance after a back-off. Called at most once per object.
  virtual Status start(SourceContext& ctx) = 0;

  // Control (set points and operations sent by the control dispatcher and the API). Sources
  // that drive equipment override these; the defaults refuse with kFailedPrecondition. They
  // are called from other threads while start() runs (and may be called when it is not
  // running: then they refuse with kUnavailable), must be thread-safe, and return only once
  // the device confirmed the write or refused it (the error says which and why: kNotFound for
  // a name not in control_points(), kInvalidArgument for a value of the wrong type or out of
  // range, kUnavailable when the device cannot be reached, kTimeout when it did not answer).
  virtual Status write(std::string_view name, const Value& value);
  virtual Status operation(std::string_view name, const OperationParams& params);
  // What write() and operation() accept; empty for a source without control.
  virtual std::vector<ControlPoint> control_points() const { return {}; }
};

}  // namespace sluice::runtime
