// The OPC UA client's session layer (Part 4, 5.6 and 5.13): on top of one secure channel
// (secure_channel.h) it finds the server's endpoint and certificate (GetEndpoints), creates and
// activates a session (anonymous or user name and password, the password encrypted for the
// server as its user token policy asks), and offers the services the `opcua` source needs as
// blocking calls: Read, Write, Call, Browse (following continuation points),
// TranslateBrowsePathsToNodeIds, and subscriptions (CreateSubscription, CreateMonitoredItems,
// Publish with several requests outstanding, Republish, TransferSubscriptions).
//
// Reconnect: when the channel breaks, reconnect() opens a new channel and first tries to
// activate the same session on it (the server kept it, with its subscriptions: nothing to
// redo); if the server no longer knows the session (it restarted) it creates a new one, and the
// owner then transfers or recreates its subscriptions (recover_subscriptions()).
//
// Threads: every method may be called from any thread; calls are serialized where the
// protocol needs it (connect/reconnect/close) and run concurrently otherwise. Publish
// responses are queued by the channel's I/O thread and taken by next_publish().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "protocols/opcua/crypto.h"
#include "protocols/opcua/secure_channel.h"
#include "protocols/opcua/services.h"
#include "protocols/opcua/types.h"

namespace sluice::opcua {

struct ClientConfig {
  std::string endpoint_url;  // opc.tcp://host:port/path
  SecurityPolicy policy = SecurityPolicy::kNone;
  SecurityMode mode = SecurityMode::kNone;
  // Empty user: anonymous.
  std::string user;
  std::string password;
  // The SHA-1 thumbprint of the server's certificate (hex, ':' and spaces ignored, any case),
  // as server certificate managers show it. Set: a server presenting another certificate is
  // refused (kFailedPrecondition). Empty: the certificate GetEndpoints gives is accepted.
  std::string server_thumbprint;
  // Where the client's application instance certificate is kept (created on first use).
  IdentityOptions identity;
  std::string application_name = "Sluice";
  std::string session_name = "sluice";
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds session_timeout{60'000};
  std::chrono::milliseconds channel_lifetime{3'600'000};
  TransportLimits limits;
};

// What a connection found, for the source's details and logs.
struct ConnectionInfo {
  std::string endpoint_url;
  std::string security_policy_uri;
  SecurityMode mode = SecurityMode::kNone;
  std::string server_application_uri;
  std::string server_thumbprint;  // SHA-1 of its certificate, lower-case hex ("" without one)
  NodeId session_id;
  double revised_session_timeout_ms = 0;
  uint32_t channel_id = 0;
  bool session_reactivated = false;  // the last reconnect kept the session
};

class Client {
 public:
  explicit Client(ClientConfig config);
  ~Client();  // close()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens the channel and a new session. kUnavailable: the server cannot be reached or refused
  // (its status code named); kFailedPrecondition: no endpoint with the configured policy and
  // mode, or no user token policy for the login; kInvalidArgument: bad configuration.
  Status connect();
  // After the channel broke: a new channel, and the same session if the server still has it
  // (then *kept_session is true and subscriptions live on), else a new session.
  Status reconnect(bool* kept_session);
  // CloseSession (deleting the subscriptions) and the channel's close. Idempotent.
  void close();
  // Interrupts a connect() or a blocking call from another thread (the source's stop()).
  void abort();

  // ok while the channel is open; else why not.
  Status status() const;
  ConnectionInfo info() const;
  // The server's NamespaceArray, read at connect (index -> URI).
  std::vector<std::string> namespace_array() const;

  // ---- Services (blocking; the request timeout applies) -------------------------------------
  Result<std::vector<DataValue>> read(const std::vector<ReadValueId>& nodes,
                                      TimestampsToReturn timestamps = TimestampsToReturn::kBoth);
  Result<std::vector<StatusCode>> write(const std::vector<WriteValue>& nodes);
  Result<std::vector<CallMethodResult>> call(const std::vector<CallMethodRequest>& methods);
  // Every reference of the node (BrowseNext until there is no continuation point), at most
  // `limit` (then kResourceExhausted).
  Result<std::vector<ReferenceDescription>> browse(const BrowseDescription& node,
                                                   size_t limit = 100'000);
  Result<std::vector<BrowsePathResult>> translate(const std::vector<BrowsePath>& paths);

  // ---- Subscriptions ------------------------------------------------------------------------
  Result<CreateSubscriptionResponse> create_subscription(const CreateSubscriptionRequest& req);
  Result<std::vector<MonitoredItemCreateResult>> create_monitored_items(
      uint32_t subscription_id, const std::vector<MonitoredItemCreateRequest>& items,
      TimestampsToReturn timestamps = TimestampsToReturn::kBoth);
  Result<std::vector<TransferResult>> transfer_subscriptions(const std::vector<uint32_t>& ids,
                                                             bool send_initial_values);
  Result<NotificationMessage> republish(uint32_t subscription_id, uint32_t sequence_number);
  Status delete_subscriptions(const std::vector<uint32_t>& ids);

  // Sends a Publish request carrying `acks`; its response (or error) is queued for
  // next_publish(). Keep a few outstanding so that the server always has one to answer.
  void publish_async(std::vector<SubscriptionAcknowledgement> acks);
  // The next Publish response, waiting up to `timeout` (kTimeout) or until abort() (kAborted).
  Result<PublishResponse> next_publish(std::chrono::milliseconds timeout);
  // Publish requests sent and not yet answered.
  size_t publish_outstanding() const;

 private:
  Status open_channel_and_find_endpoint();
  Status create_and_activate_session();
  Status activate_session();
  Status read_namespace_array();
  RequestHeader header();
  template <typename Response, typename Request>
  Result<Response> request(Request req, const char* service);

  const ClientConfig config_;
  mutable std::mutex mu_;  // guards the members below, not the calls through the channel
  std::shared_ptr<SecureChannel> channel_;
  ApplicationIdentity identity_;
  bool identity_loaded_ = false;
  EndpointDescription endpoint_;  // the one chosen
  Certificate server_certificate_;
  NodeId auth_token_;
  std::string server_nonce_;  // of the last CreateSession/ActivateSession
  ConnectionInfo info_;
  std::vector<std::string> namespaces_;
  std::atomic<bool> aborted_{false};
  uint32_t next_handle_ = 1;

  std::mutex connect_mu_;  // serializes connect, reconnect and close

  // Publish responses, queued by the I/O thread.
  mutable std::mutex publish_mu_;
  std::condition_variable publish_cv_;
  std::deque<Result<PublishResponse>> publish_queue_;  // guarded by publish_mu_
  size_t publish_outstanding_ = 0;                     // guarded by publish_mu_
};

// Lower-case hex without separators: "AB:CD" -> "abcd". Empty if it has a non-hex character.
std::string normalize_thumbprint(std::string_view text);

// "None", "Sign", "SignAndEncrypt" and "None", "Basic256Sha256" for configuration.
Result<SecurityMode> parse_security_mode(std::string_view text);
Result<SecurityPolicy> parse_security_policy(std::string_view text);

}  // namespace sluice::opcua
