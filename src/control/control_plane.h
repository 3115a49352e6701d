// Edge control as one piece for `sluice run` and the tests: the control dispatcher (scripts,
// ACLs, requests from anywhere), the rules engine (rules, notifications, deliveries) and the
// documents that define them (seeded from the config file, changed through the API), wired to
// one runtime. open() builds and applies; start() after the runtime started; stop() before the
// runtime stops.
//
// Thread safety: accessors may be called from any thread; open/start/stop from one.
#pragma once

#include <memory>

#include "control/dispatcher.h"
#include "control/documents.h"
#include "control/engine.h"
#include "runtime/config.h"
#include "runtime/runtime.h"

namespace sluice::control {

struct ControlPlaneOptions {
  // Their threads and queues are taken from the config's [control] table.
  DispatcherOptions dispatcher;
  EngineOptions engine;
  Clock* clock = nullptr;  // null: SystemClock
  // Makes webhook and MQTT senders; null: the real ones (control/senders.h).
  SenderFactory senders;
};

class ControlPlane {
 public:
  // Builds the dispatcher and the engine, installs the dispatcher as the runtime's control
  // router, opens the documents (seeding them from config.documents) and applies them.
  static Result<std::unique_ptr<ControlPlane>> open(runtime::Runtime& runtime,
                                                    const runtime::Config& config,
                                                    ControlPlaneOptions options = {});
  ~ControlPlane();  // stop()

  void start();  // the engine's thread
  void stop();   // the engine, then the dispatcher; uninstalls the router

  Dispatcher& dispatcher() { return *dispatcher_; }
  Engine& engine() { return *engine_; }
  Documents& documents() { return *documents_; }

 private:
  explicit ControlPlane(runtime::Runtime& runtime) : runtime_(runtime) {}
  Status apply(const Snapshot& snapshot);

  runtime::Runtime& runtime_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Documents> documents_;
  std::unique_ptr<Snapshot> applied_;  // the set running now (to go back to on a refusal)
  bool stopped_ = false;
};

}  // namespace sluice::control
