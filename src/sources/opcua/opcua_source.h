// The `opcua` source: reads an OPC UA server through Sluice's own client
// (protocols/opcua/client.h). It picks its nodes from an explicit list and/or by browsing
// subtrees with include/exclude patterns, then either subscribes to them (a subscription with
// monitored items: sampling interval, queue size, deadband) or polls them with Read. Every value
// becomes a sample of series `<asset>.<datapoint>` with the server's StatusCode as its quality
// and the source timestamp (else the server's, else the arrival time). When the server goes
// away every item gets one Bad sample (BadNotConnected) and the source reconnects with back-off:
// the same session if the server kept it, else a new session whose subscription is transferred
// or recreated. Control: configured set points are written with Write (the node's DataType read
// from the server unless given) and operations are method Calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/opcua/client.h"
#include "runtime/service.h"
#include "runtime/source_types.h"

namespace sluice::sources {

// One node chosen by the configuration ([[sources.nodes]]).
struct OpcuaNodeSpec {
  std::string node_id;  // any text form, "nsu=" resolved at connect
  std::string path;     // or a browse path from the Objects folder: "1:Plant/1:Motor/1:Speed"
  std::string series;   // empty: <asset>.<browse name>
  std::optional<double> sampling_interval_ms;
  std::optional<uint32_t> queue_size;
};

// A subtree to browse for variables ([[sources.browse]]).
struct OpcuaBrowseSpec {
  std::string root;                  // a node id; default the Objects folder (i=85)
  std::string root_path;             // or a browse path from Objects: "1:Plant/1:Line1"
  std::string asset;                 // the series prefix; empty: the root's browse name
  std::vector<std::string> include;  // glob patterns on the path below root ("Motor.*"); empty: all
  std::vector<std::string> exclude;
  int max_depth = 10;
};

struct OpcuaControlSpec {
  std::string name;
  std::string node_id;
  std::string type;  // a built-in type name ("Double"); empty: read the node's DataType
};

struct OpcuaOperationSpec {
  std::string name;
  std::string object_id;
  std::string method_id;
};

struct OpcuaOptions {
  opcua::ClientConfig client;  // endpoint, security, login, timeouts (identity dir set at start)
  std::string pki_dir;         // empty: <store dir>/opcua-pki
  bool subscribe = true;       // false: poll with Read
  double publishing_interval_ms = 1000;
  double sampling_interval_ms = -1;  // -1: the publishing interval
  uint32_t queue_size = 10;
  opcua::DeadbandType deadband = opcua::DeadbandType::kNone;
  double deadband_value = 0;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds reconnect_min{500};
  std::chrono::milliseconds reconnect_max{30'000};
  std::string asset;  // prefix of explicit nodes' series; empty: the source's name
  size_t max_items = 100'000;
  std::vector<OpcuaNodeSpec> nodes;
  std::vector<OpcuaBrowseSpec> browse;
  std::vector<OpcuaControlSpec> control;
  std::vector<OpcuaOperationSpec> operations;
};

class OpcuaSource final : public runtime::Source {
 public:
  OpcuaSource(std::string name, OpcuaOptions options);
  ~OpcuaSource() override;

  std::string_view type() const override { return "opcua"; }
  Status start(runtime::SourceContext& ctx) override;
  void stop() override;
  runtime::SinkDetails details() const override;

  Status write(std::string_view name, const Value& value) override;
  Status operation(std::string_view name, const runtime::OperationParams& params) override;
  std::vector<runtime::ControlPoint> control_points() const override;

 private:
  struct Item {
    opcua::NodeId node;
    std::string series;
    double sampling_interval_ms = -1;
    uint32_t queue_size = 1;
  };

  Status run(runtime::SourceContext& ctx);
  Status resolve_items();
  // The node a browse path from the Objects folder leads to ("1:Plant/1:Motor").
  Result<opcua::NodeId> follow_path(const std::string& path);
  Status browse_subtree(const OpcuaBrowseSpec& spec);
  Status create_subscription();
  Status recover_subscription(bool kept_session);
  Status poll_once(runtime::SourceContext& ctx);
  Status handle_publish(runtime::SourceContext& ctx, opcua::PublishResponse& r);
  Status deliver(runtime::SourceContext& ctx, const opcua::NotificationMessage& m);
  void mark_all_bad(runtime::SourceContext& ctx, Quality quality);
  Result<opcua::BuiltinType> control_type(const OpcuaControlSpec& spec);
  Result<std::vector<opcua::Argument>> method_arguments(const OpcuaOperationSpec& spec);
  Status client_ready() const;

  const OpcuaOptions options_;
  std::unique_ptr<opcua::Client> client_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};

  std::vector<Item> items_;  // index = client handle; source thread only after resolve
  uint32_t subscription_id_ = 0;
  uint32_t last_sequence_ = 0;  // of the last notification message delivered
  std::vector<opcua::SubscriptionAcknowledgement> acks_;

  mutable std::mutex control_mu_;  // guards the caches below
  std::map<std::string, opcua::BuiltinType> control_types_;
  std::map<std::string, std::vector<opcua::Argument>> method_args_;

  // Counters for details().
  std::atomic<uint64_t> notifications_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> sessions_kept_{0};
  std::atomic<uint64_t> subscriptions_transferred_{0};
  std::atomic<uint64_t> subscriptions_recreated_{0};
  std::atomic<uint64_t> republished_{0};
  std::atomic<uint64_t> lost_messages_{0};
  std::atomic<uint64_t> bad_items_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> calls_{0};
  mutable std::mutex detail_mu_;
  std::string last_error_;  // guarded by detail_mu_
};

class OpcuaSettings final : public runtime::SourceSettings {
 public:
  explicit OpcuaSettings(OpcuaOptions options) : options_(std::move(options)) {}
  const OpcuaOptions& options() const { return options_; }
  std::string summary() const override;
  Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override;

 private:
  OpcuaOptions options_;
};

std::shared_ptr<const runtime::SourceSettings> parse_opcua_settings(runtime::ConfigTable& table);
void register_opcua(runtime::SourceTypes& types);

// "1:Plant/1:Motor" -> its elements (namespace index and name; "Name" is namespace 0).
// kInvalidArgument for an empty path or element, or a bad namespace index.
Result<std::vector<opcua::QualifiedName>> parse_browse_path(std::string_view text);

}  // namespace sluice::sources
