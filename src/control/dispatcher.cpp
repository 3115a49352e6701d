// The control dispatcher (see dispatcher.h): target resolution, ACL checks, the "not running"
// refusal, name checks before sending, scripts step by step, the queue of submitted requests,
// and the counters and recent events.
#include "control/dispatcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include "rules/substitution.h"
#include "runtime/config_text.h"

namespace sluice::control {
namespace {

using runtime::Caller;
using runtime::ControlOutcome;
using runtime::ControlPoint;
using runtime::ControlRequest;
using runtime::ControlTarget;

int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string join(const std::vector<std::string>& names, std::string_view none = "none") {
  return names.empty() ? std::string(none) : fmt::format("{}", fmt::join(names, ", "));
}

// What an outcome did, in one line: "service 'fan': wrote speed, run; 3 steps run, 1 skipped".
std::string outcome_text(const ControlOutcome& outcome, bool script) {
  std::string out;
  for (const ControlOutcome::ServiceResult& r : outcome.services) {
    if (!out.empty()) out += "; ";
    out += fmt::format("service '{}': ", r.service);
    if (!r.status.ok()) {
      out += fmt::format("{}{}", r.done.empty() ? "" : "did " + join(r.done) + ", then ",
                         r.status.to_string());
    } else {
      out += "did " + join(r.done);
    }
  }
  if (script) {
    if (!out.empty()) out += "; ";
    out += fmt::format("{} steps run, {} skipped", outcome.steps_run, outcome.steps_skipped);
  }
  return out.empty() ? std::string("done") : out;
}

ControlEvent make_event(const ControlRequest& request, const Caller& caller, const Status& status,
                        std::string outcome) {
  ControlEvent e;
  e.time_ns = wall_now_ns();
  e.caller = caller.describe();
  e.request = request.describe();
  e.outcome = std::move(outcome);
  e.ok = status.ok();
  e.code = status.code();
  return e;
}

void keep(std::deque<ControlEvent>& events, ControlEvent e) {
  events.push_back(std::move(e));
  while (events.size() > Dispatcher::kRecentEvents) events.pop_front();
}

}  // namespace

// The scripts and ACLs in force, with indexes by name. Immutable once built.
struct Dispatcher::Definitions {
  std::vector<Script> scripts;
  std::vector<Acl> acls;
  std::map<std::string, size_t, std::less<>> script_index;
  std::map<std::string, size_t, std::less<>> acl_index;

  const Script* script(std::string_view name) const {
    auto it = script_index.find(name);
    return it == script_index.end() ? nullptr : &scripts[it->second];
  }
  const Acl* acl(std::string_view name) const {
    auto it = acl_index.find(name);
    return it == acl_index.end() ? nullptr : &acls[it->second];
  }
  std::vector<std::string> script_names() const {
    std::vector<std::string> out;
    for (const auto& [name, i] : script_index) out.push_back(name);
    return out;
  }
};

// One request being carried out, with everything its steps share.
struct Dispatcher::Run {
  const Caller& caller;
  std::shared_ptr<const Definitions> defs;  // the snapshot it started with
  ControlOutcome outcome;
};

Dispatcher::Dispatcher(runtime::Runtime& runtime, DispatcherOptions options)
    : runtime_(runtime), options_(options), definitions_(std::make_shared<const Definitions>()) {
  const size_t n = std::max<size_t>(options_.threads, 1);
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { serve(); });
  live_threads_ = n;
}

Dispatcher::~Dispatcher() { stop(); }

// ---- Definitions ------------------------------------------------------------------------------

Status Dispatcher::set_definitions(std::vector<Script> scripts, std::vector<Acl> acls) {
  std::vector<std::string> errors;
  if (Status s = check_calls(scripts); !s.ok()) errors.push_back(s.message());
  auto defs = std::make_shared<Definitions>();
  for (size_t i = 0; i < acls.size(); ++i) {
    auto [it, inserted] = defs->acl_index.emplace(acls[i].name, i);
    if (!inserted) {
      errors.push_back(
          fmt::format("ACL name '{}' is used twice (acls[{}] and acls[{}]); names "
                      "are unique",
                      acls[i].name, it->second, i));
    }
  }
  for (size_t i = 0; i < scripts.size(); ++i) {
    defs->script_index.emplace(scripts[i].name, i);
    const std::string& acl = scripts[i].acl;
    if (!acl.empty() && defs->acl_index.count(acl) == 0) {
      std::vector<std::string> names;
      for (const auto& [name, k] : defs->acl_index) names.push_back(name);
      errors.push_back(
          fmt::format("script '{}' names ACL '{}', which is not defined (the ACLs: "
                      "{})",
                      scripts[i].name, acl, join(names)));
    }
  }
  if (!errors.empty()) {
    return invalid_argument(fmt::format("{}", fmt::join(errors, "\n")));
  }
  defs->scripts = std::move(scripts);
  defs->acls = std::move(acls);
  std::lock_guard lock(definitions_mu_);
  definitions_ = std::move(defs);
  return Status::ok_status();
}

std::shared_ptr<const Dispatcher::Definitions> Dispatcher::definitions() const {
  std::lock_guard lock(definitions_mu_);
  return definitions_;
}

std::vector<Script> Dispatcher::scripts() const { return definitions()->scripts; }
std::vector<Acl> Dispatcher::acls() const { return definitions()->acls; }

// ---- Requests ---------------------------------------------------------------------------------

Result<ControlOutcome> Dispatcher::dispatch(const ControlRequest& request, const Caller& caller) {
  bool stopped = false;
  {
    std::lock_guard lock(queue_mu_);
    stopped = stopping_;
  }
  if (stopped) {
    const Status s = refuse(Reason::kOther, request, caller,
                            Status(Code::kUnavailable, "the control dispatcher has stopped"));
    record(request, caller, s, {});
    return s;
  }
  return run_top(request, caller, 0);
}

Result<ControlOutcome> Dispatcher::run_top(const ControlRequest& request, const Caller& caller,
                                           int depth) {
  Run run{caller, definitions(), {}};
  const Status s = execute(request, run, depth);
  record(request, caller, s, run.outcome);
  if (!s.ok()) return s;
  return std::move(run.outcome);
}

Status Dispatcher::execute(const ControlRequest& request, Run& run, int depth) {
  switch (request.action) {
    case ControlRequest::Action::kWrite:
      if (request.values.empty()) {
        return refuse(Reason::kOther, request, run.caller,
                      invalid_argument("a write request without values writes nothing"));
      }
      return control(request, run);
    case ControlRequest::Action::kOperation:
      if (request.operation.empty()) {
        return refuse(Reason::kOther, request, run.caller,
                      invalid_argument("an operation request must name the operation"));
      }
      return control(request, run);
    case ControlRequest::Action::kScript:
      return run_script(request.script, request.params, run, depth);
  }
  return internal_error("unknown control action");
}

Status Dispatcher::control(const ControlRequest& request, Run& run) {
  const std::vector<runtime::SourceStatus> sources = runtime_.sources();
  std::vector<std::string> targets;
  switch (request.target.kind) {
    case ControlTarget::Kind::kService: {
      const bool known = std::any_of(sources.begin(), sources.end(),
                                     [&](const auto& s) { return s.name == request.target.name; });
      if (!known) {
        std::vector<std::string> names;
        names.reserve(sources.size());
        for (const runtime::SourceStatus& s : sources) names.push_back(s.name);
        return refuse(Reason::kOther, request, run.caller,
                      not_found(fmt::format("no service named '{}' (the sources: {})",
                                            request.target.name, join(names))));
      }
      targets.push_back(request.target.name);
      break;
    }
    case ControlTarget::Kind::kAsset: {
      std::optional<std::string> service = runtime_.source_of_asset(request.target.name);
      if (!service) {
        return refuse(Reason::kOther, request, run.caller,
                      not_found(fmt::format("no service has ingested asset '{}' since start, so "
                                            "none is known to control it",
                                            request.target.name)));
      }
      targets.push_back(std::move(*service));
      break;
    }
    case ControlTarget::Kind::kAll:
      // The running sources that offer control points. One that does not run is not among them:
      // its control points are not known while it does not run.
      for (const runtime::SourceStatus& s : sources) {
        if (s.mode != runtime::Mode::kRunning) continue;
        bool offers = false;
        const Status st =
            runtime_.with_source(s.name, [&](runtime::Source& source, runtime::SourceContext&) {
              offers = !source.control_points().empty();
              return Status::ok_status();
            });
        if (st.ok() && offers) targets.push_back(s.name);
      }
      if (targets.empty()) {
        return refuse(Reason::kUnavailable, request, run.caller,
                      Status(Code::kUnavailable, "no running service offers control points"));
      }
      break;
  }

  if (request.target.kind != ControlTarget::Kind::kAll) {
    ControlOutcome::ServiceResult result;
    result.service = targets.front();
    Status s = control_one(targets.front(), request, run, result);
    if (!s.ok() && !result.done.empty()) {
      s = Status(s.code(), fmt::format("{} (done before: {})", s.message(), join(result.done)));
    }
    run.outcome.services.push_back(std::move(result));
    return s;
  }
  // Every control service: one that refuses does not stop the others.
  size_t carried_out = 0;
  std::vector<std::string> reasons;
  Code first_code = Code::kOk;
  for (const std::string& service : targets) {
    ControlOutcome::ServiceResult result;
    result.service = service;
    result.status = control_one(service, request, run, result);
    if (result.status.ok()) {
      ++carried_out;
    } else {
      if (first_code == Code::kOk) first_code = result.status.code();
      reasons.push_back(result.status.message());
    }
    run.outcome.services.push_back(std::move(result));
  }
  if (carried_out == 0) {
    // Each service's refusal was counted where it happened.
    return Status(first_code, fmt::format("no control service carried out the request: {}",
                                          fmt::join(reasons, "; ")));
  }
  return Status::ok_status();
}

Status Dispatcher::check_service_acl(const std::string& service, const ControlRequest& request,
                                     Run& run) {
  Result<std::string> acl_name = runtime_.source_acl(service);
  if (!acl_name.ok()) {
    if (acl_name.status().code() == Code::kNotFound) return Status::ok_status();  // a sink
    return refuse(Reason::kOther, request, run.caller, acl_name.status());
  }
  if (acl_name->empty()) return Status::ok_status();
  const Acl* acl = run.defs->acl(*acl_name);
  if (acl == nullptr) {
    return refuse(Reason::kAcl, request, run.caller,
                  permission_denied(fmt::format(
                      "service '{}' is guarded by ACL '{}', which is not defined; every request "
                      "to it is refused until it is (refused {})",
                      service, *acl_name, run.caller.describe())));
  }
  if (!grants(*acl, run.caller)) {
    return refuse(Reason::kAcl, request, run.caller,
                  permission_denied(fmt::format("ACL '{}' of service '{}' does not grant {}",
                                                acl->name, service, run.caller.describe())));
  }
  return Status::ok_status();
}

Status Dispatcher::control_one(const std::string& service, const ControlRequest& request, Run& run,
                               ControlOutcome::ServiceResult& result) {
  ControlRequest one = request;  // as this service sees it, for the refusals' records
  one.target = {ControlTarget::Kind::kService, service};
  if (Status s = check_service_acl(service, one, run); !s.ok()) return result.status = s;

  // Not running: refused with its mode (and its health's reason when it failed), never dropped.
  std::optional<runtime::SourceStatus> status;
  for (runtime::SourceStatus& s : runtime_.sources()) {
    if (s.name == service) status = std::move(s);
  }
  auto not_running = [&] {
    // "(DISABLED)", "(IDLE)"; enabled but without an instance now (it failed and waits for its
    // restart): "(failed: CRITICAL: <reason>)".
    const runtime::Mode mode = status ? status->mode : runtime::Mode::kIdle;
    std::string why = mode == runtime::Mode::kRunning ? "failed" : runtime::mode_name(mode);
    if (status && status->health.state == runtime::HealthState::kCritical) {
      why += fmt::format("{}CRITICAL: {}", mode == runtime::Mode::kRunning ? ": " : ", ",
                         status->health.reason);
    }
    return refuse(
        Reason::kUnavailable, one, run.caller,
        Status(Code::kUnavailable, fmt::format("service '{}' is not running ({})", service, why)));
  };
  if (!status) {
    return result.status = refuse(Reason::kOther, one, run.caller,
                                  not_found(fmt::format("no service named '{}'", service)));
  }
  if (status->mode != runtime::Mode::kRunning) return result.status = not_running();

  std::optional<Reason> reason;  // set when the lambda refuses or fails
  const Status s = runtime_.with_source(
      service, [&](runtime::Source& source, runtime::SourceContext&) -> Status {
        const std::vector<ControlPoint> points = source.control_points();
        if (points.empty()) {
          reason = Reason::kOther;
          return failed_precondition(fmt::format(
              "service '{}' (type {}) has no control points: it cannot write set points "
              "or run operations",
              service, source.type()));
        }
        auto find = [&](const std::string& n, ControlPoint::Kind kind) {
          return std::any_of(points.begin(), points.end(),
                             [&](const ControlPoint& p) { return p.name == n && p.kind == kind; });
        };
        auto known = [&](ControlPoint::Kind kind) {
          std::vector<std::string> names;
          for (const ControlPoint& p : points) {
            if (p.kind == kind) names.push_back(p.name);
          }
          return join(names);
        };
        if (request.action == ControlRequest::Action::kOperation) {
          if (!find(request.operation, ControlPoint::Kind::kOperation)) {
            reason = Reason::kOther;
            return not_found(fmt::format("service '{}' has no operation '{}' (its operations: {})",
                                         service, request.operation,
                                         known(ControlPoint::Kind::kOperation)));
          }
          if (Status w = source.operation(request.operation, request.params); !w.ok()) {
            reason = Reason::kFailed;
            return Status(w.code(), fmt::format("service '{}' refused operation '{}': {}", service,
                                                request.operation, w.message()));
          }
          result.done.push_back(request.operation);
          return Status::ok_status();
        }
        // Every name first, so that a typo in the third value does not leave two written.
        for (const auto& [point, value] : request.values) {
          if (!find(point, ControlPoint::Kind::kSetPoint)) {
            reason = Reason::kOther;
            return not_found(fmt::format("service '{}' has no set point '{}' (its set points: {})",
                                         service, point, known(ControlPoint::Kind::kSetPoint)));
          }
        }
        for (const auto& [point, value] : request.values) {
          if (Status w = source.write(point, value); !w.ok()) {
            reason = Reason::kFailed;
            return Status(w.code(), fmt::format("service '{}' refused writing '{}': {}", service,
                                                point, w.message()));
          }
          result.done.push_back(point);
        }
        return Status::ok_status();
      });
  if (s.ok()) return result.status = s;
  if (!reason) {
    // with_source itself refused: the service has no instance now (failed, being restarted) or
    // was removed since it was listed.
    if (s.code() == Code::kUnavailable) {
      for (runtime::SourceStatus& st : runtime_.sources()) {
        if (st.name == service) status = std::move(st);
      }
      return result.status = not_running();
    }
    reason = Reason::kOther;
  }
  return result.status = refuse(*reason, one, run.caller, s);
}

// ---- Scripts ----------------------------------------------------------------------------------

Status Dispatcher::run_script(const std::string& name, const runtime::OperationParams& params,
                              Run& run, int depth) {
  ControlRequest request;
  request.action = ControlRequest::Action::kScript;
  request.script = name;
  request.params = params;
  if (depth > options_.max_depth) {
    return refuse(Reason::kOther, request, run.caller,
                  failed_precondition(fmt::format(
                      "script '{}' would run {} calls deep; scripts call scripts at most {} deep",
                      name, depth, options_.max_depth)));
  }
  const Script* script = run.defs->script(name);
  if (script == nullptr) {
    return refuse(Reason::kOther, request, run.caller,
                  not_found(fmt::format("no script named '{}' (the scripts: {})", name,
                                        join(run.defs->script_names()))));
  }
  if (!script->acl.empty()) {
    const Acl* acl = run.defs->acl(script->acl);
    if (acl == nullptr || !grants(*acl, run.caller)) {
      return refuse(Reason::kAcl, request, run.caller,
                    permission_denied(fmt::format("ACL '{}' of script '{}' does not grant {}",
                                                  script->acl, name, run.caller.describe())));
    }
  }
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.scripts_run;
  }
  for (size_t k = 0; k < script->steps.size(); ++k) {
    const Step& step = script->steps[k];
    if (step.condition && !condition_holds(*step.condition, params)) {
      ++run.outcome.steps_skipped;
      std::lock_guard lock(stats_mu_);
      ++stats_.steps_skipped;
      continue;
    }
    const Status s = run_step(step, params, run, depth);
    if (!s.ok()) {
      return Status(s.code(), fmt::format("script '{}' steps[{}] ({}): {}", name, k,
                                          step_kind_name(step.kind), s.message()));
    }
    ++run.outcome.steps_run;
    std::lock_guard lock(stats_mu_);
    ++stats_.steps_run;
  }
  return Status::ok_status();
}

Status Dispatcher::run_step(const Step& step, const runtime::OperationParams& params, Run& run,
                            int depth) {
  switch (step.kind) {
    case Step::Kind::kWrite: {
      ControlRequest request;
      request.action = ControlRequest::Action::kWrite;
      request.target = step.target;
      for (const auto& [name, value] : step.values) {
        request.values.emplace_back(name, substitute_value(value, params));
      }
      return control(request, run);
    }
    case Step::Kind::kOperation: {
      ControlRequest request;
      request.action = ControlRequest::Action::kOperation;
      request.target = step.target;
      request.operation = step.operation;
      for (const auto& [k, v] : step.params) request.params[k] = substitute_params(v, params);
      return control(request, run);
    }
    case Step::Kind::kDelay: return delay(step.delay);
    case Step::Kind::kConfigure: return configure(step, params, run);
    case Step::Kind::kScript: {
      runtime::OperationParams child;
      for (const auto& [k, v] : step.params) child[k] = substitute_params(v, params);
      if (!step.parallel) return run_script(step.script, child, run, depth + 1);
      ControlRequest request;
      request.action = ControlRequest::Action::kScript;
      request.script = step.script;
      request.params = std::move(child);
      return enqueue({std::move(request), run.caller, depth + 1, {}});
    }
  }
  return internal_error("unknown step kind");
}

Status Dispatcher::configure(const Step& step, const runtime::OperationParams& params, Run& run) {
  const std::string value = substitute_params(step.value, params);
  ControlRequest request;  // how the refusals' records show it
  request.action = ControlRequest::Action::kOperation;
  request.target = {ControlTarget::Kind::kService, step.service};
  request.operation = "configure";
  request.params = {{step.key, value}};
  SLUICE_RETURN_IF_ERROR(check_service_acl(step.service, request, run));
  Result<runtime::ServiceRow> row = runtime_.service_row(step.service);
  if (!row.ok()) return refuse(Reason::kOther, request, run.caller, row.status());
  Result<std::string> text = runtime::set_table_key(row->settings, step.key, value);
  if (!text.ok()) {
    return refuse(
        Reason::kOther, request, run.caller,
        Status(text.status().code(), fmt::format("setting '{}' of service '{}': {}", step.key,
                                                 step.service, text.status().message())));
  }
  if (Status s = runtime_.update_settings(step.service, *text); !s.ok()) {
    return refuse(Reason::kFailed, request, run.caller,
                  Status(s.code(), fmt::format("setting '{}' of service '{}' to {}: {}", step.key,
                                               step.service, value, s.message())));
  }
  ControlOutcome::ServiceResult result;
  result.service = step.service;
  result.done.push_back(fmt::format("{} = {}", step.key, value));
  run.outcome.services.push_back(std::move(result));
  return Status::ok_status();
}

Status Dispatcher::delay(std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  std::unique_lock lock(queue_mu_);
  if (wake_cv_.wait_until(lock, deadline, [&] { return stopping_; })) {
    return Status(Code::kAborted, "the delay was cut short: the control dispatcher is stopping");
  }
  return Status::ok_status();
}

// ---- The queue --------------------------------------------------------------------------------

Status Dispatcher::submit(ControlRequest request, Caller caller, runtime::ControlDone done) {
  return enqueue({std::move(request), std::move(caller), 0, std::move(done)});
}

Status Dispatcher::enqueue(Queued item) {
  Status refused;
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      refused = Status(Code::kUnavailable, "the control dispatcher has stopped");
    } else if (queue_.size() >= options_.queue_capacity) {
      refused = Status(Code::kResourceExhausted,
                       fmt::format("the control queue is full ({} requests wait); try again later",
                                   queue_.size()));
    }
    if (refused.ok()) queue_.push_back(std::move(item));
  }
  if (refused.ok()) {
    queue_cv_.notify_one();
    return refused;
  }
  // `item` was moved only when it was queued.
  // NOLINTNEXTLINE(bugprone-use-after-move)
  refused = refuse(Reason::kOther, item.request, item.caller, std::move(refused));
  record(item.request, item.caller, refused, {});
  return refused;
}

void Dispatcher::serve() {
  for (;;) {
    Queued item;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // what is left is refused by stop()
      item = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    const Result<ControlOutcome> outcome = run_top(item.request, item.caller, item.depth);
    if (item.done) item.done(outcome);
    std::lock_guard lock(queue_mu_);
    --running_;
  }
}

void Dispatcher::stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  wake_cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  std::deque<Queued> left;
  {
    std::lock_guard lock(queue_mu_);
    left.swap(queue_);
    live_threads_ = 0;
  }
  for (Queued& item : left) {
    const Status s =
        refuse(Reason::kOther, item.request, item.caller,
               Status(Code::kAborted, "the control dispatcher stopped before it ran this request"));
    record(item.request, item.caller, s, {});
    if (item.done) item.done(s);
  }
}

// ---- Records ----------------------------------------------------------------------------------

Status Dispatcher::refuse(Reason reason, const ControlRequest& request, const Caller& caller,
                          Status status) {
  spdlog::warn("control: {} {} from {}: {}", reason == Reason::kFailed ? "failed" : "refused",
               request.describe(), caller.describe(), status.to_string());
  std::lock_guard lock(stats_mu_);
  switch (reason) {
    case Reason::kAcl: ++stats_.refused_acl; break;
    case Reason::kUnavailable: ++stats_.refused_unavailable; break;
    case Reason::kOther: ++stats_.refused_other; break;
    case Reason::kFailed: ++stats_.failed; break;
  }
  keep(refusals_, make_event(request, caller, status, status.message()));
  return status;
}

void Dispatcher::record(const ControlRequest& request, const Caller& caller, const Status& status,
                        const ControlOutcome& outcome) {
  const bool script = request.action == ControlRequest::Action::kScript;
  std::string text = status.ok() ? outcome_text(outcome, script) : status.to_string();
  if (status.ok()) {
    spdlog::info("control: {} from {}: {}", request.describe(), caller.describe(), text);
  }
  std::lock_guard lock(stats_mu_);
  ++stats_.requests;
  if (status.ok()) ++stats_.ok;
  keep(recent_, make_event(request, caller, status, std::move(text)));
}

std::vector<ControlEvent> Dispatcher::recent() const {
  std::lock_guard lock(stats_mu_);
  return {recent_.begin(), recent_.end()};
}

std::vector<ControlEvent> Dispatcher::refusals() const {
  std::lock_guard lock(stats_mu_);
  return {refusals_.begin(), refusals_.end()};
}

DispatcherStats Dispatcher::stats() const {
  DispatcherStats out;
  {
    std::lock_guard lock(stats_mu_);
    out = stats_;
  }
  std::lock_guard lock(queue_mu_);
  out.queued = queue_.size();
  out.running = running_;
  out.threads = live_threads_;
  return out;
}

}  // namespace sluice::control
