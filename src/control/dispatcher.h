// The control dispatcher: where every control request ends, whoever asks (the REST API, a
// notification's set point, operation or script delivery, an MQTT command topic, a script's
// step). It resolves the target (a named service, the service that ingests an asset, or every
// running service that offers control points), checks the ACLs for the caller, refuses a target
// that is not running with the reason, checks every set point and operation name against the
// service's control points before anything is sent, and then writes in order or runs the
// operation; or it runs an automation script (control/script.h) step by step. Every refusal is
// logged and counted; the last requests and refusals are kept for the API and the UI.
//
// Rules the dispatcher applies (docs/control.md, "Control dispatcher"):
// - Who asked is who is checked. A request to a service is checked against the ACL attached to
//   that service ([[sources]] `acl`); a script request against the script's ACL, and then each of
//   its writes, operations and configure steps against its target's ACL with the same caller,
//   and each script it calls against that script's ACL. A script does not lend its rights.
// - No ACL attached (a service without `acl`, a script without `acl`): every caller the API's
//   roles let through may send. An ACL named but not defined refuses everyone (fail closed).
// - One service: stops at the first refusal; nothing is sent before every name was checked.
//   Every control service (target all): each gets the request; one that refuses does not stop
//   the others; the outcome has one result per service. It succeeds if one service carried it
//   out, and fails (with every service's reason) if none did.
// - A request uses the scripts and ACLs that were current when it started (set_definitions
//   swaps them atomically, between requests' snapshots).
//
// Thread safety: every public method may be called from any thread. The runtime must outlive
// the dispatcher; stop() (or the destructor) must run before the runtime is destroyed. stop()
// joins the dispatcher's own threads and wakes every delay, but does not wait for dispatch() calls
// made on other threads: their callers (the API server, the sources) must have returned before
// the destructor runs.
//
// A dispatch() that changes a service's settings (a configure step) restarts that service and
// waits for it: a source must not dispatch such a script to itself from its own thread (it would
// wait for itself); sources submit() instead (SourceContext::submit_control).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/acl.h"
#include "control/script.h"
#include "core/status.h"
#include "runtime/control.h"
#include "runtime/runtime.h"

namespace sluice::control {

struct DispatcherOptions {
  size_t threads = 2;            // serve submit(); at least 1 is started
  size_t queue_capacity = 1000;  // requests waiting for a thread; submit() refuses beyond it
  // How deep scripts may call scripts (a guard at run time, besides check_calls' static check
  // for loops): a call deeper than this is refused.
  int max_depth = 16;
};

// One request (or one refusal) as the API and the UI show it.
struct ControlEvent {
  int64_t time_ns = 0;  // when it ended or was refused, wall clock ns since the Unix epoch
  std::string caller;   // Caller::describe()
  std::string request;  // ControlRequest::describe()
  std::string outcome;  // what was done, or why not
  bool ok = false;
  Code code = Code::kOk;
};

// Counters since the dispatcher was created.
struct DispatcherStats {
  uint64_t requests = 0;  // dispatch() calls, submitted requests run or refused at submit()
  uint64_t ok = 0;        // requests that ended ok
  // Refusals and failures count events, not requests: a request to every control service
  // counts one per service that refused, and a script's refusal counts once, where it happened.
  uint64_t refused_acl = 0;          // an ACL did not grant the caller (or is not defined)
  uint64_t refused_unavailable = 0;  // the target service is not running
  uint64_t refused_other = 0;        // unknown service/asset/script/name, bad request, queue
                                     // full, depth, stopped
  uint64_t failed = 0;               // the device or the runtime refused what was sent
  uint64_t scripts_run = 0;          // scripts started, nested ones included
  uint64_t steps_run = 0;
  uint64_t steps_skipped = 0;  // by their condition
  size_t queued = 0;           // waiting for a thread now
  size_t running = 0;          // submitted requests a thread carries out now
  size_t threads = 0;
};

class Dispatcher final : public runtime::ControlRouter {
 public:
  // How many requests and refusals recent() and refusals() keep.
  static constexpr size_t kRecentEvents = 100;

  // Starts options.threads threads (at least 1) for submit(). No scripts and no ACLs until
  // set_definitions(). `runtime` must outlive the dispatcher.
  explicit Dispatcher(runtime::Runtime& runtime, DispatcherOptions options = {});
  ~Dispatcher() override;  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Replaces the scripts and ACLs at once, after checking them together: check_calls (unique
  // names, calls to existing scripts, no loops), unique ACL names, and that every script's `acl`
  // is one of `acls`. On an error (kInvalidArgument, every problem on its own line) nothing
  // changes. Requests running keep the definitions they started with.
  Status set_definitions(std::vector<Script> scripts, std::vector<Acl> acls);
  std::vector<Script> scripts() const;
  std::vector<Acl> acls() const;

  // See runtime::ControlRouter. After stop(), refused with kUnavailable.
  Result<runtime::ControlOutcome> dispatch(const runtime::ControlRequest& request,
                                           const runtime::Caller& caller) override;
  // Queues the request for the dispatcher's threads (FIFO); kResourceExhausted when
  // queue_capacity requests wait already, kUnavailable after stop(). Both are counted and kept.
  Status submit(runtime::ControlRequest request, runtime::Caller caller,
                runtime::ControlDone done) override;

  // Wakes every delay step (its script ends with kAborted), waits for the threads, and refuses
  // the requests still queued (kAborted, counted and kept: none is dropped silently).
  // Idempotent.
  void stop();

  // The last kRecentEvents requests, oldest first: every dispatch(), and every submitted request
  // once run (or refused at submit()).
  std::vector<ControlEvent> recent() const;
  // The last kRecentEvents refusals and failures, oldest first, each with the (sub-)request
  // that was refused, e.g. a script's write to one service.
  std::vector<ControlEvent> refusals() const;
  DispatcherStats stats() const;

 private:
  struct Definitions;
  struct Run;
  enum class Reason { kAcl, kUnavailable, kOther, kFailed };
  struct Queued {
    runtime::ControlRequest request;
    runtime::Caller caller;
    int depth = 0;
    runtime::ControlDone done;  // told the outcome; may be empty
  };

  std::shared_ptr<const Definitions> definitions() const;
  // Carries out a request from the top (dispatch() and the threads): counts and records it.
  Result<runtime::ControlOutcome> run_top(const runtime::ControlRequest& request,
                                          const runtime::Caller& caller, int depth);
  Status execute(const runtime::ControlRequest& request, Run& run, int depth);
  // A write or operation to its target's services.
  Status control(const runtime::ControlRequest& request, Run& run);
  // A write or operation to one service, into `result`.
  Status control_one(const std::string& service, const runtime::ControlRequest& request, Run& run,
                     runtime::ControlOutcome::ServiceResult& result);
  // The ACL attached to `service` for run's caller; ok if none is attached.
  Status check_service_acl(const std::string& service, const runtime::ControlRequest& request,
                           Run& run);
  Status run_script(const std::string& name, const runtime::OperationParams& params, Run& run,
                    int depth);
  Status run_step(const Step& step, const runtime::OperationParams& params, Run& run, int depth);
  Status configure(const Step& step, const runtime::OperationParams& params, Run& run);
  Status delay(std::chrono::milliseconds duration);
  Status enqueue(Queued item);
  void serve();

  // Logs, counts and keeps a refusal (or failure) of `request`; returns `status`.
  Status refuse(Reason reason, const runtime::ControlRequest& request,
                const runtime::Caller& caller, Status status);
  void record(const runtime::ControlRequest& request, const runtime::Caller& caller,
              const Status& status, const runtime::ControlOutcome& outcome);

  runtime::Runtime& runtime_;
  const DispatcherOptions options_;

  mutable std::mutex definitions_mu_;
  std::shared_ptr<const Definitions> definitions_;  // guarded by definitions_mu_; never null

  // The queue, the threads' stop, and the wake-up of delay steps.
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // an item queued, or stopping
  std::condition_variable wake_cv_;   // stopping (delay steps wait on it)
  std::deque<Queued> queue_;          // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_
  size_t running_ = 0;                // guarded by queue_mu_
  size_t live_threads_ = 0;           // guarded by queue_mu_ (after the constructor)
  std::vector<std::thread> threads_;  // changed only by the constructor and stop()
  std::mutex stop_mu_;                // serializes stop()

  mutable std::mutex stats_mu_;
  DispatcherStats stats_;              // guarded by stats_mu_ (queued, running, threads unused)
  std::deque<ControlEvent> recent_;    // guarded by stats_mu_
  std::deque<ControlEvent> refusals_;  // guarded by stats_mu_
};

}  // namespace sluice::control
