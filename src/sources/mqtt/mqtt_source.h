// The `mqtt` source: subscribes to topic filters on an MQTT broker (3.1.1 or 5, plain TCP or
// TLS, optionally with a user name and password), parses each message with the payload parser
// of the subscription it matched (formats/parser.h), and ingests the samples. It reconnects
// with exponential back-off (1 s doubling to 60 s) and its HEALTH says why it is not connected.
//
// Acknowledgement after durability. The connection is Sluice's own client
// (protocols/mqtt/connection.h), so acknowledgements are sent when this source decides: a QoS 1
// message is PUBACKed, and a QoS 2 message PUBRECed, only once the store says its samples are
// durable (SourceContext::wait_durable). Messages are ingested without waiting, so that many
// of them (up to the broker's in-flight window: MQTT 5 receive_maximum, or the broker's own
// setting for 3.1.1) share one fsync; a watcher thread waits for the store's durable end and
// wakes the connection to send the acknowledgements that became due, in arrival order. A crash
// before the acknowledgement leaves the message with the broker, which sends it again (with a
// persistent session: clean_session = false).
//
// Redeliveries. The broker resends unacknowledged messages after a reconnect (DUP set, same
// packet id). The source remembers, per packet id, a hash of the message it stored and not yet
// acknowledged, so a redelivery of one it has already stored is acknowledged without storing
// it twice; a QoS 2 message is stored once per PUBLISH/PUBREL exchange. Across a restart of
// Sluice itself that memory is gone: a message stored but not acknowledged before a crash is
// stored again (at least once).
//
// Commands. With command_topic set the source is also a north control input: a message on that
// filter is a control request in JSON (runtime/control.h), handed to the control dispatcher
// (SourceContext::submit_control) and carried out on the dispatcher's threads, so that a script
// that reconfigures this source does not wait for itself; the message is acknowledged (in
// arrival order, like data) once queued or refused, and never ingested. The outcome comes back
// to start()'s thread through a mailbox, which counts failures (details()) and publishes the
// reply. A command whose script restarts this source gets no reply: the connection it came on
// is gone (the dispatcher still logs and counts it: GET /api/v1/control).
//
// Threads: start() runs on the runtime's thread for this source and does all the connection's
// I/O, the parsing and the ingest there; the watcher thread only waits on the store. With
// units_api_url set, a KepwareUnits worker thread (kepware_units.h) reads tag units from the
// Kepware Configuration API; the message path only queues tag ids for it and never waits for HTTP.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "formats/parser.h"
#include "formats/registry.h"
#include "runtime/service.h"
#include "runtime/source_types.h"
#include "sources/mqtt/kepware_units.h"

namespace sluice::mqtt {
class Connection;
struct Publish;
}  // namespace sluice::mqtt

namespace sluice::sources {

// Makes the parser of a payload format ("kepware", "json", ...) with its options, or says why
// it cannot. The source makes one parser per subscription (per detected format with "auto");
// the config parser calls it once to check names and options.
using ParserFactory = std::function<Result<std::unique_ptr<formats::PayloadParser>>(
    std::string_view format, const formats::ParserOptions& options)>;

// The format name that makes the source detect each message's format (formats::detect_format),
// for the unambiguous cases: Kepware IoT Gateway, SenML, OpenMetrics.
inline constexpr std::string_view kAutoFormat = "auto";

struct MqttSubscription {
  std::string filter;  // topic filter, + and # wildcards
  int qos = 1;
  std::string format = "kepware";
  formats::ParserOptions parser;  // the JSON mapping, the influx precision, the size limit
};

struct MqttOptions {
  std::string host = "localhost";
  int port = 1883;  // 8883 when tls and no port is given
  std::string username;
  std::string password;
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;  // TLS without checking the broker's certificate
  std::string client_id;              // "" → "sluice-<source name>"
  bool clean_session = true;          // false: the broker keeps QoS 1/2 messages while we are down
  int protocol = 4;                   // 4 = MQTT 3.1.1, 5 = MQTT 5
  int keep_alive_s = 30;
  // MQTT 5: how many QoS 1/2 messages the broker may have in flight to us (unacknowledged);
  // the window that lets one fsync cover many messages.
  int receive_maximum = 1000;
  // Messages larger than this are not parsed: counted as rejected and acknowledged.
  size_t max_message_bytes = 16u << 20;
  std::vector<MqttSubscription> subscriptions;
  // Reconnect back-off: doubles from min to max.
  std::chrono::milliseconds reconnect_min{1000};
  std::chrono::milliseconds reconnect_max{60'000};
  // Tag units from the KEPServerEX Configuration API (kepware format only); off when url is "".
  KepwareUnitsOptions units_api;
  // A north control input: messages whose topic matches this filter are control requests in
  // JSON (runtime/control.h, parse_control_request), carried out through
  // SourceContext::submit_control() with this source as the caller, and never ingested as data (also
  // when a data filter matches them too). "": off.
  std::string command_topic;
  int command_qos = 1;
  // Where the outcome of each command is published (QoS 0, not retained) as
  // {"ok": bool, "error": "...", "request": "<describe()>"}; "": no replies.
  std::string command_reply_topic;
};

// Checks a topic filter: non-empty, at most 65535 bytes, no NUL, '+' alone in its level, '#'
// alone in the last level. Returns "" if good, or what is wrong.
std::string check_topic_filter(std::string_view filter);
// MQTT topic matching of `topic` against a (valid) `filter`.
bool topic_matches(std::string_view filter, std::string_view topic);

class MqttSource final : public runtime::Source {
 public:
  MqttSource(std::string name, MqttOptions options, ParserFactory parsers);
  ~MqttSource() override;

  std::string_view type() const override { return "mqtt"; }
  Status start(runtime::SourceContext& ctx) override;
  void stop() override;

  // Counters; thread-safe.
  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  uint64_t ingested_samples() const { return samples_.load(std::memory_order_relaxed); }
  uint64_t parse_errors() const { return parse_errors_.load(std::memory_order_relaxed); }
  // Parse errors by reason ("kepware: <first clause of the parser's message>").
  std::map<std::string, uint64_t> parse_errors_by_reason() const;
  uint64_t unmatched_messages() const { return unmatched_.load(std::memory_order_relaxed); }
  // Messages whose ingest failed until the source stopped; not acknowledged, so the broker
  // sends them again after a restart if the session is persistent (and QoS is 1 or 2).
  uint64_t lost_messages() const { return lost_.load(std::memory_order_relaxed); }
  // Redeliveries (after a reconnect) of messages already stored, acknowledged without storing.
  uint64_t redeliveries_skipped() const { return redeliveries_.load(std::memory_order_relaxed); }
  // Messages over max_message_bytes (also counted in parse_errors).
  uint64_t oversized_messages() const { return oversized_.load(std::memory_order_relaxed); }
  uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  // Configuration API fetches of tag units that failed (0 when units_api_url is not set).
  uint64_t units_fetch_failures() const;

  // The connection's health; a units problem shows as WARNING unless the state is worse.
  runtime::Health health() const override;

  // Command messages (command_topic): received, failed (not parsed, or refused by the
  // dispatcher), and the last failure's reason ("" if none).
  uint64_t commands() const { return commands_.load(std::memory_order_relaxed); }
  uint64_t commands_failed() const { return commands_failed_.load(std::memory_order_relaxed); }
  std::string last_command_error() const;
  // With command_topic set: commands, commands_failed, last_command_error.
  runtime::SinkDetails details() const override;

 private:
  struct Route {
    MqttSubscription subscription;
    std::unique_ptr<formats::PayloadParser> parser;  // null with format "auto"
    // format "auto": one parser per detected format, made when first needed.
    std::map<std::string, std::unique_ptr<formats::PayloadParser>, std::less<>> detected;
  };
  // A QoS 1/2 message stored and not yet fully acknowledged, by packet id.
  struct Unacked {
    uint64_t hash = 0;      // of topic and payload, to recognise a redelivery
    uint64_t end_seq = 0;   // durable once the stream's durable end reaches it; 0: nothing stored
    bool recorded = false;  // QoS 2: PUBREC sent, waiting for PUBREL
  };
  // An acknowledgement to send once end_seq is durable.
  struct DueAck {
    uint16_t packet_id = 0;
    uint8_t qos = 1;
    uint64_t end_seq = 0;
  };
  struct Watcher;

  // Runs one connection until it is lost (the reason) or the source stops (ok).
  Status run_connection(runtime::SourceContext& ctx, mqtt::Connection& conn, Watcher& watcher);
  // Matches, parses and ingests one message; returns the end_seq to wait for before the
  // acknowledgement (0: none), or nullopt if the source stopped before the store took it.
  std::optional<uint64_t> process(runtime::SourceContext& ctx, std::string_view topic,
                                  std::string_view payload, bool truncated, size_t size);
  // A message on the command topic or on one of the data filters, to where it belongs; what
  // process() returns (0 for a command: its acknowledgement waits for no store).
  std::optional<uint64_t> route_message(runtime::SourceContext& ctx, mqtt::Connection& conn,
                                        std::string_view topic, std::string_view payload,
                                        bool truncated, size_t size);
  // Parses one command message and submits it to the dispatcher; a command that cannot be
  // parsed or submitted is finished at once.
  void handle_command(runtime::SourceContext& ctx, mqtt::Connection& conn, std::string_view topic,
                      std::string_view payload, bool truncated);
  // The outcome of one command: counts and logs a failure, and publishes the reply if
  // command_reply_topic is set. start()'s thread.
  struct CommandResult {
    std::string topic;
    std::string described;  // the request's describe(); "" if it was not parsed
    std::string error;      // "": done
  };
  void finish_command(runtime::SourceContext& ctx, mqtt::Connection& conn,
                      const CommandResult& result);
  // Finishes the commands whose outcome the dispatcher has posted.
  void drain_commands(runtime::SourceContext& ctx, mqtt::Connection& conn);
  void count_parse_error(runtime::SourceContext& ctx, std::string_view format,
                         std::string_view topic, const std::string& message);
  // Ingests without waiting for durability, holding and retrying while the store refuses;
  // returns the end_seq, or nullopt if the source stopped first.
  // `again` makes the same batch anew for a retry (the first attempt consumes `batch`).
  std::optional<uint64_t> ingest_until_accepted(runtime::SourceContext& ctx, Batch&& batch,
                                                const std::function<Batch()>& again);
  // Sends the acknowledgements whose data is durable now.
  void send_due_acks(mqtt::Connection& conn, uint64_t durable_end);
  std::string endpoint() const;  // "host:port"

  const MqttOptions options_;
  const ParserFactory parser_factory_;
  std::vector<Route> routes_;  // built in start(); start()'s thread only

  // The broker session as this source knows it; start()'s thread only.
  std::map<uint16_t, Unacked> unacked_;
  std::deque<DueAck> due_acks_;
  std::map<uint16_t, std::string> topic_aliases_;  // MQTT 5, per connection
  uint64_t max_end_seq_ = 0;

  // The running connection (to wake it, for stop() and for a posted command outcome) and the
  // outcomes the dispatcher's threads post. Shared with the submitted commands' callbacks,
  // which may outlive this instance.
  struct Mailbox {
    std::mutex mu;
    mqtt::Connection* conn = nullptr;   // while a connection runs; guarded by mu
    std::deque<CommandResult> results;  // guarded by mu
    void wake();                        // the connection's next() returns now
  };
  const std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();

  mutable std::mutex units_mu_;
  std::unique_ptr<KepwareUnits> units_;  // while start() runs with units_api set; units_mu_
  uint64_t units_failures_before_ = 0;   // of earlier runs; guarded by units_mu_

  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> parse_errors_{0};
  std::atomic<uint64_t> unmatched_{0};
  std::atomic<uint64_t> lost_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> redeliveries_{0};
  std::atomic<uint64_t> oversized_{0};
  std::atomic<uint64_t> commands_{0};
  std::atomic<uint64_t> commands_failed_{0};
  mutable std::mutex command_mu_;
  std::string last_command_error_;          // guarded by command_mu_
  int64_t last_command_log_mono_ = 0;       // start()'s thread only
  uint64_t command_failures_unlogged_ = 0;  // start()'s thread only
  mutable std::mutex reasons_mu_;
  std::map<std::string, uint64_t> reasons_;  // guarded by reasons_mu_
  int64_t last_parse_log_mono_ = 0;          // start()'s thread only
  uint64_t parse_errors_unlogged_ = 0;       // start()'s thread only
};

class MqttSettings final : public runtime::SourceSettings {
 public:
  MqttSettings(MqttOptions options, ParserFactory parsers)
      : options_(std::move(options)), parsers_(std::move(parsers)) {}
  const MqttOptions& options() const { return options_; }
  std::string summary() const override;
  Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override;

 private:
  MqttOptions options_;
  ParserFactory parsers_;
};

// Reads the mqtt keys of a [[sources]] table (see docs/configuration.md). Format names are
// checked with `parsers`.
std::shared_ptr<const runtime::SourceSettings> parse_mqtt_settings(runtime::ConfigTable& table,
                                                                   const ParserFactory& parsers);

// Reads the subscriptions of a source table: `topic` (one filter) or `topics` (a list), with
// the `qos` and `format` they share; or [[sources.subscriptions]] tables, each with its own
// topic(s), qos and format.
std::vector<MqttSubscription> parse_mqtt_subscriptions(runtime::ConfigTable& table,
                                                       const ParserFactory& parsers);

// Adds the "mqtt" type to the catalogue, with the payload parsers it may use.
void register_mqtt(runtime::SourceTypes& types, ParserFactory parsers);

}  // namespace sluice::sources
