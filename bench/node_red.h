// Node-RED as consumer (c) of the MQTT ingest benchmark (bench/mqtt_e2e.cpp, issue 3): the flow
// many plants run today, `mqtt in` (QoS 1) -> `file` (append one line per message), measured
// against the same broker and the same load as Sluice and mosquitto_sub.
//
// Node-RED is the npm package pinned in bench/node-red/package.json (installed by scripts/setup).
// It runs as a child process of the benchmark with a generated settings file, userDir and flow in
// a scratch directory, listening on 127.0.0.1 only, and is killed on every exit path (also when
// the benchmark itself dies: the child asks for SIGKILL on its parent's death).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace sluice::bench {

struct NodeRedOptions {
  std::string install_dir;   // holds node_modules/node-red/red.js (bench/node-red)
  std::string work_dir;      // scratch: settings.js, userDir, flows.json, output file, log
  int broker_port = 0;       // the benchmark's broker, always on 127.0.0.1
  std::string topic_filter;  // what the `mqtt in` node subscribes to, e.g. "bench/#"
  std::string probe_topic;   // a topic matching topic_filter, for the readiness probe
  uint64_t messages = 0;     // how many messages the load publishes
  bool parse_json = false;   // `mqtt in` outputs a parsed JSON object (else a UTF-8 string)
  std::string client_id = "sluice-bench-node-red";  // the mqtt-broker node's client id
  // false: a persistent session (MQTT 3.1.1 clean session 0), so the broker queues QoS 1
  // messages for `client_id` while Node-RED is down (the backlog drain mode).
  bool clean_session = true;
  std::chrono::seconds startup_timeout{60};  // until the flow is subscribed
  std::chrono::seconds timeout{300};         // until every message is in the file
};

// What the load reports once it is over. Times are steady_clock nanoseconds since its epoch
// (CLOCK_MONOTONIC, the same in every process of the machine).
struct LoadTimes {
  bool ok = false;
  int64_t first_publish_ns = 0;
  int64_t last_publish_ns = 0;  // the last message acknowledged by the broker
};

// Publishes the whole load and returns when it is over. Called once, on the calling thread,
// after Node-RED is subscribed.
using RunLoad = std::function<LoadTimes()>;

struct NodeRedResult {
  bool ok = false;
  std::string error;     // when !ok: what failed, with the tail of Node-RED's log if useful
  std::string version;   // "Node-RED 4.1.8 on Node.js v20.20.2"
  uint64_t arrived = 0;  // messages of the load written to the file
  double seconds = 0;    // first publish to the last message in the file
  double publish_seconds = 0;
  double cpu_s = 0;    // CPU of the Node-RED process: subscribed (live) or first message in
                       // the file (drain) to the last message in the file (/proc/PID/stat)
  double rss_mib = 0;  // its peak RSS (VmHWM)
  // Backlog drain only (run_node_red_drain); times from Node-RED's start (fork).
  double startup_seconds = 0;  // start to the first message in the file
  double drain_seconds = 0;    // first message in the file to the last
};

// True when the pinned Node-RED is installed under `install_dir`.
bool node_red_installed(const std::string& install_dir);

// Starts Node-RED, waits until the flow is subscribed (a probe message reaches the file), runs
// `load`, counts the lines in the file until every message arrived or the timeout, then stops
// Node-RED. Never throws; failures are in the result.
NodeRedResult run_node_red(const NodeRedOptions& options, const RunLoad& load);

// Backlog drain: the whole load is already queued at the broker for the persistent session of
// `options.client_id` (created beforehand, clean_session should be false). Starts Node-RED
// with that client id, counts lines in the file until `options.messages` are there (no probes:
// nothing but the backlog arrives), then stops Node-RED. Never throws.
NodeRedResult run_node_red_drain(const NodeRedOptions& options);

}  // namespace sluice::bench
