// The `mqtt` source: subscribes to topic filters on an MQTT broker (3.1.1 or 5, plain TCP or
// TLS, optionally with a user name and password), parses each message with the payload parser
// of the subscription it matched (formats/parser.h), and ingests the samples. It reconnects
// with exponential back-off (1 s doubling to 60 s) and its HEALTH says why it is not connected.
//
// Acknowledgement (QoS 1/2) and durability — what Paho allows, and what this source does:
//  - Paho MQTT C (1.3, under Paho C++ 1.2) sends the PUBACK (QoS 1) or PUBCOMP (QoS 2) itself,
//    in MQTTProtocol_handlePublishes / _handlePubrels, *before* it hands the message to the
//    application ("send puback before processing the publications because a lot of return
//    publications could fill up the socket buffer"). The C library's messageArrived return
//    value only decides whether the library retries delivery to the callback from its own
//    memory; it never withholds the ack, and Paho C++ 1.2's async_client always returns true.
//    Neither library has manual acks (Paho Java has setManualAcks; C/C++ do not).
//  - So "PUBACK only after durable" cannot be met exactly with this library. What we do instead:
//    the message callback runs on Paho's receive thread and blocks there until ctx.ingest()
//    returned ok (durable). While it blocks, Paho reads nothing more from the socket, so the
//    broker's in-flight window fills and it holds every later message (TCP back-pressure):
//    at most the message being ingested (and those Paho had already read) is exposed to a crash
//    between the ack and the store's sync. With clean_session = false the broker keeps the rest
//    while Sluice is down.
//  - If ingest fails (store full under `block`, I/O error), the message was already acked, so
//    disconnecting would lose it. The callback keeps it and retries the ingest with back-off,
//    HEALTH WARNING, until it is stored or the source is stopped (then it is counted as lost).
//    The broker keeps everything after it meanwhile.
//  A true ack-after-durable needs a client with manual acks (an own MQTT client in
//  src/protocols/mqtt, or a patched Paho C); docs/configuration.md says this to operators.
//
// Threads: start() runs on the runtime's thread for this source (connect, subscribe, reconnect
// loop); messages arrive on Paho's callback thread, one at a time. Parsers are used only there.
// Paho C has one receive thread for every async client of the process, so a blocked ingest in
// one mqtt source also pauses the others (the store is shared, so they would block too).
// With units_api_url set, a KepwareUnits worker thread (kepware_units.h) reads tag units from the
// Kepware Configuration API; the callback only queues tag ids for it and never waits for HTTP.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "formats/parser.h"
#include "runtime/service.h"
#include "runtime/source_types.h"
#include "sources/mqtt/kepware_units.h"

namespace mqtt {
class message;
}  // namespace mqtt

namespace sluice::sources {

// Makes the parser of a payload format ("kepware", "json", ...), or says why it cannot. The
// source makes one parser per subscription; the config parser calls it once to check names.
using ParserFactory =
    std::function<Result<std::unique_ptr<formats::PayloadParser>>(std::string_view format)>;

struct MqttSubscription {
  std::string filter;  // topic filter, + and # wildcards
  int qos = 1;
  std::string format = "kepware";
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
  std::vector<MqttSubscription> subscriptions;
  // Reconnect back-off: doubles from min to max.
  std::chrono::milliseconds reconnect_min{1000};
  std::chrono::milliseconds reconnect_max{60'000};
  // Tag units from the KEPServerEX Configuration API (kepware format only); off when url is "".
  KepwareUnitsOptions units_api;
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
  // Messages acked by Paho whose ingest failed until the source stopped.
  uint64_t lost_messages() const { return lost_.load(std::memory_order_relaxed); }
  uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  // Configuration API fetches of tag units that failed (0 when units_api_url is not set).
  uint64_t units_fetch_failures() const;

  // The connection's health; a units problem shows as WARNING unless the state is worse.
  runtime::Health health() const override;

 private:
  struct Route {
    MqttSubscription subscription;
    std::unique_ptr<formats::PayloadParser> parser;
  };
  void on_message(runtime::SourceContext& ctx, const mqtt::message& msg);
  void count_parse_error(runtime::SourceContext& ctx, const Route& route, std::string_view topic,
                         const Status& status);
  bool ingest_until_stored(runtime::SourceContext& ctx, Batch&& batch);
  std::string server_uri() const;
  std::string endpoint() const;  // "host:port"

  const MqttOptions options_;
  const ParserFactory parser_factory_;
  std::vector<Route> routes_;  // built in start(); used by the callback thread only

  std::mutex callback_mu_;  // held while a message is processed; start() takes it to finish
  bool accepting_ = false;  // guarded by callback_mu_

  mutable std::mutex units_mu_;
  std::unique_ptr<KepwareUnits> units_;  // while start() runs with units_api set; units_mu_
  uint64_t units_failures_before_ = 0;   // of earlier runs; guarded by units_mu_

  std::atomic<bool> connected_{false};  // set by start(), read by the callback
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> parse_errors_{0};
  std::atomic<uint64_t> unmatched_{0};
  std::atomic<uint64_t> lost_{0};
  std::atomic<uint64_t> connects_{0};
  mutable std::mutex reasons_mu_;
  std::map<std::string, uint64_t> reasons_;  // guarded by reasons_mu_
  int64_t last_parse_log_mono_ = 0;          // callback thread only
  uint64_t parse_errors_unlogged_ = 0;       // callback thread only
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
// the `qos` and `format` they share. (Per-subscription qos and format need arrays of tables,
// which ConfigTable cannot read yet.)
std::vector<MqttSubscription> parse_mqtt_subscriptions(runtime::ConfigTable& table,
                                                       const ParserFactory& parsers);

// Adds the "mqtt" type to the catalogue, with the payload parsers it may use.
void register_mqtt(runtime::SourceTypes& types, ParserFactory parsers);

}  // namespace sluice::sources
