// The MQTT adapter of the device platform: things publish to a real mosquitto broker, which does
// the MQTT, and Sluice keeps the broker's access control in step with the registry and ingests
// what the things publish. Run by the platform source (platform_source.h) when its mqtt_* keys
// are set, on that source's thread, so that it starts, stops and restarts with the source.
//
//   access:  mosquitto's dynamic-security plugin (platform/dynsec.h): a client per thing
//            (username = thing id, password = its key) whose role allows publish and subscribe
//            on channels/<id>/messages/# for its connected channels only.
//   sync:    a registry listener marks the things that changed (a create, a key rotation, a
//            connect or disconnect, a removal); a worker thread sends their differences to the
//            broker at once, in bulk when many changed together, so a disconnect or a rotation
//            takes effect within the broker's round trip (the broker drops the thing's live
//            connections when its key or ACLs change). The worker reads the registry's state
//            when it sends, so changes that arrive out of order end where the registry is.
//            Failed sends (the broker away) are kept and retried with back-off (1 s to 30 s).
//   start:   the ingest client's password is set to a new random one (so no secret of
//            Sluice's own is in the config), then the broker is reconciled with the registry:
//            things removed while Sluice was not running are deleted, ACLs repaired. A thing
//            created or rotated while the adapter was not running has no broker client: its key
//            was shown once and is not kept (keys are stored hashed), so it is reported
//            (details mqtt_missing_clients, health WARNING) until its key is rotated.
//   ingest:  the mqtt source's own machinery (sources/mqtt/mqtt_source.h: acknowledgement
//            after durability, persistent session, reconnects) subscribed to
//            channels/+/messages/# with the "platform" parser below: the channel and subtopic
//            come from the topic, the payload is SenML or a JSON object (platform/messages.h),
//            and the series are labelled protocol "mqtt". The broker does not say who
//            published, so MQTT messages have no publisher label (its ACLs did check it was a
//            thing connected to the channel).
//
// Thread safety: run() on the source's thread; stop(), health() and details() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"
#include "formats/parser.h"
#include "platform/dynsec.h"
#include "platform/registry.h"
#include "runtime/service.h"
#include "sources/mqtt/mqtt_source.h"

namespace sluice::platform {

inline constexpr std::string_view kIngestFilter = "channels/+/messages/#";
inline constexpr std::string_view kPlatformFormat = "platform";

struct MqttAdapterOptions {
  // The broker: host, port, TLS, protocol, keep alive, client id and session of the ingest
  // connection (the adapter sets its username, password and subscription).
  sources::MqttOptions connection;
  // The dynamic-security admin (mosquitto_ctrl dynsec init <file> <user> <password>).
  std::string admin_username;
  std::string admin_password;
  // The broker client Sluice ingests as; made and given a new password at every start.
  std::string ingest_username = "sluice-ingest";
  int qos = 1;
};

// Parses the topic channels/<id>/messages[/<subtopic>] into its channel and subtopic, or says
// what is wrong with it.
struct ChannelTopic {
  std::string_view channel;
  std::string_view subtopic;
};
Result<ChannelTopic> parse_channel_topic(std::string_view topic);

// The payload parser of the ingest subscription: the channel from the topic (it must exist in
// the registry), then the message normalizer with protocol "mqtt".
std::unique_ptr<formats::PayloadParser> make_channel_parser(const Registry& registry,
                                                            formats::ParseLimits limits);

class MqttAdapter {
 public:
  MqttAdapter(std::string source_name, MqttAdapterOptions options);
  ~MqttAdapter();
  MqttAdapter(const MqttAdapter&) = delete;
  MqttAdapter& operator=(const MqttAdapter&) = delete;

  // Until ctx stops: the ingest client, the reconcile, the sync worker and the ingest
  // subscription. Returns an error when the broker's dynamic security cannot be set up (the
  // runtime restarts the source after a back-off).
  Status run(runtime::SourceContext& ctx, Registry& registry);
  void stop();

  runtime::Health health() const;
  // mqtt_messages, mqtt_samples, mqtt_refused (+ reasons), mqtt_synced, mqtt_sync_pending,
  // mqtt_sync_failures, mqtt_missing_clients, mqtt_last_sync_error.
  runtime::SinkDetails details() const;

  struct Sync;  // the worker's state, shared with the registry listener

 private:
  const std::string source_name_;
  const MqttAdapterOptions options_;
  std::shared_ptr<Sync> sync_;
  mutable std::mutex mu_;
  std::unique_ptr<sources::MqttSource> ingest_;  // guarded by mu_ (its calls are thread-safe)
  std::string setup_problem_;                    // guarded by mu_
  std::atomic<bool> stopping_{false};
};

}  // namespace sluice::platform
