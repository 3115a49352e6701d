// The rules engine: runs the rules on the live stream and sends the notifications' deliveries.
//
// One thread subscribes to the runtime's live tap at ingest (runtime/live_tap.h: every series,
// after the sources' filters and before the store's append), so the rules see each batch as it
// arrives and never wait for a sync or a sink. It feeds each sample to the rules that watch its
// series, in ingest order (a spike inside a batch is seen), hands each evaluation to the
// notifications on that rule (rules/notification.h decides what to send), and ticks rules and
// notifications every `tick` (deadman rules, sends deferred by a retrigger time).
//
// Deliveries never block that thread. A log line is written at once; every other delivery is a
// job on the delivery's own strand (worker_pool.h): control deliveries (set point, operation,
// script) go to the control dispatcher (runtime/control.h) as the caller
// Caller::service(<notification>, "notification"), so ACLs apply to them; webhook and MQTT
// deliveries run on a separate pool so that a slow web server never delays a set point. A
// delivery's jobs run in order, so a toggled notification's cleared value follows its trigger
// value. Each delivery counts what it sent and what failed, with the last error; the engine
// keeps a history of the last sends.
//
// The live queue is bounded: if the engine falls behind, the oldest samples are dropped and
// counted (stats().dropped), never slowing the ingest.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/rule_config.h"
#include "control/worker_pool.h"
#include "core/clock.h"
#include "runtime/control.h"
#include "runtime/live_tap.h"

namespace sluice::control {

struct EngineOptions {
  std::chrono::milliseconds tick{100};
  size_t live_capacity = 100'000;  // samples queued between the ingest and the engine
  size_t history = 1'000;          // sends kept for the API
  size_t control_threads = 2;      // run control deliveries (each delivery in order)
  size_t outbound_threads = 2;     // run webhook and MQTT deliveries
  size_t delivery_queue = 1'000;   // jobs waiting per delivery
};

// Sends a webhook or MQTT message: the text to send, and whether to stop (shutdown) while
// retrying. Made per delivery by a SenderFactory.
using Sender = std::function<Status(const std::string& text, const std::function<bool()>& cancelled)>;
using SenderFactory = std::function<Result<Sender>(const DeliveryDef& delivery)>;

struct DeliveryStatus {
  std::string type;
  std::string summary;  // describe(DeliveryDef)
  uint64_t sent = 0;    // carried out (the device confirmed, the server answered 2xx ...)
  uint64_t failed = 0;  // refused or failed; the last reason in last_error
  uint64_t dropped = 0;  // refused because its queue was full
  std::string last_error;
  int64_t last_sent_ns = 0;  // wall clock
};

struct NotificationStatus {
  NotificationDef def;
  std::string rule_error;  // why it does not run ("no rule named 'x'"), "" if it runs
  rules::NotificationState state;
  rules::RuleCounters rule_counters;
  std::vector<DeliveryStatus> deliveries;
};

// One send of a notification.
struct HistoryEntry {
  int64_t at_ns = 0;  // wall clock when sent
  int64_t ts = 0;     // the evaluation's time (sample time, or the tick's)
  std::string notification;
  std::string rule;
  rules::Send send = rules::Send::kNone;
  std::vector<rules::NamedValue> values;
};

struct EngineStats {
  uint64_t samples = 0;      // given to the engine
  uint64_t evaluations = 0;  // rule evaluations
  uint64_t sends = 0;        // notification sends
  uint64_t dropped = 0;      // live samples dropped because the engine fell behind
  size_t rules = 0;
  size_t notifications = 0;
  bool running = false;
};

class Engine {
 public:
  // `router` (null: control deliveries fail with a reason), `clock` (the ticks' time) and `tap`
  // must outlive the engine. `senders` makes webhook and MQTT senders (null: those deliveries
  // fail with a reason).
  Engine(runtime::LiveTap& tap, runtime::ControlRouter* router, Clock& clock,
         SenderFactory senders, EngineOptions options = {});
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Replaces the rules and notifications. A notification (or rule) whose definition did not
  // change keeps its state; a changed or new one starts afresh. Refuses (and changes nothing)
  // when a definition cannot be built; a notification whose rule does not exist is kept but
  // does not run (its rule_error says why).
  Status set_definitions(const std::vector<RuleDef>& rules,
                         const std::vector<NotificationDef>& notifications);

  // Subscribes to the live tap and starts the engine's thread.
  void start();
  // Stops the thread and the delivery pools (queued deliveries are dropped).
  void stop();

  std::vector<NotificationStatus> notifications() const;
  // The last sends, newest first, at most `limit`; of one notification if `name` is not empty.
  std::vector<HistoryEntry> history(size_t limit, std::string_view name = {}) const;
  EngineStats stats() const;

  // Feeds samples directly, as the live tap would (tests, benchmarks); not with start().
  void process(const std::vector<runtime::LiveSample>& samples);
  // Ticks rules and notifications at `now` (ns since the epoch); process()'s companion.
  void tick(int64_t now);

 private:
  struct Delivery;
  struct NotificationRun;
  struct RuleRun;
  struct Model;

  void run(const std::stop_token& stop);
  // Both with mu_ held.
  void process_locked(const std::vector<runtime::LiveSample>& samples);
  void tick_locked(int64_t now);
  void on_send(NotificationRun& n, rules::Send send, int64_t ts);
  void deliver(NotificationRun& n, Delivery& d, rules::Send send,
               const std::vector<rules::NamedValue>& values);

  runtime::LiveTap& tap_;
  runtime::ControlRouter* const router_;
  Clock& clock_;
  const SenderFactory senders_;
  const EngineOptions options_;

  mutable std::mutex mu_;  // guards the model, the history and the counters below
  std::unique_ptr<Model> model_;
  std::deque<HistoryEntry> history_;
  uint64_t samples_ = 0;
  uint64_t evaluations_ = 0;
  uint64_t sends_ = 0;

  std::unique_ptr<WorkerPool> control_pool_;
  std::unique_ptr<WorkerPool> outbound_pool_;
  std::shared_ptr<runtime::LiveSubscription> subscription_;
  std::jthread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace sluice::control
