// The OPC UA client's session layer (see client.h).
#include "protocols/opcua/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "protocols/opcua/node_ids.h"
#include "protocols/opcua/status_codes.h"

namespace sluice::opcua {
namespace {

constexpr size_t kClientNonceLength = 32;

int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view mode_text(SecurityMode mode) {
  switch (mode) {
    case SecurityMode::kNone: return "None";
    case SecurityMode::kSign: return "Sign";
    case SecurityMode::kSignAndEncrypt: return "SignAndEncrypt";
  }
  return "None";
}

MessageSecurityMode wire_mode(SecurityMode mode) {
  return static_cast<MessageSecurityMode>(static_cast<int32_t>(mode));
}

// The endpoints on offer, for "no endpoint with ..." messages.
std::string describe_endpoints(const std::vector<EndpointDescription>& endpoints) {
  std::string out;
  for (const EndpointDescription& e : endpoints) {
    std::string_view policy = e.security_policy_uri;
    if (const size_t hash = policy.rfind('#'); hash != std::string_view::npos) {
      policy = policy.substr(hash + 1);
    }
    if (!out.empty()) out += ", ";
    out += fmt::format("{}/{}", policy,
                       mode_text(static_cast<SecurityMode>(static_cast<int32_t>(e.security_mode))));
  }
  return out.empty() ? "none" : out;
}

// A lost channel or a server that went away: the caller reconnects.
Status unavailable(std::string message) { return {Code::kUnavailable, std::move(message)}; }

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    out += kDigits[(static_cast<uint8_t>(c) >> 4) & 0xf];
    out += kDigits[static_cast<uint8_t>(c) & 0xf];
  }
  return out;
}

}  // namespace

std::string normalize_thumbprint(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == ':' || c == ' ') continue;
    if (c >= '0' && c <= '9') {
      out += c;
    } else if (c >= 'a' && c <= 'f') {
      out += c;
    } else if (c >= 'A' && c <= 'F') {
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      return {};
    }
  }
  return out;
}

Result<SecurityMode> parse_security_mode(std::string_view text) {
  if (text == "None") return SecurityMode::kNone;
  if (text == "Sign") return SecurityMode::kSign;
  if (text == "SignAndEncrypt") return SecurityMode::kSignAndEncrypt;
  return invalid_argument(
      fmt::format("unknown security mode '{}': expected None, Sign or SignAndEncrypt", text));
}

Result<SecurityPolicy> parse_security_policy(std::string_view text) {
  if (text == "None") return SecurityPolicy::kNone;
  if (text == "Basic256Sha256") return SecurityPolicy::kBasic256Sha256;
  return invalid_argument(
      fmt::format("unknown security policy '{}': expected None or Basic256Sha256", text));
}

Client::Client(ClientConfig config) : config_(std::move(config)) {}

Client::~Client() { close(); }

RequestHeader Client::header() {
  RequestHeader h;
  std::lock_guard lock(mu_);
  h.authentication_token = auth_token_;
  h.timestamp = unix_ns_to_datetime(now_unix_ns());
  h.request_handle = next_handle_++;
  h.timeout_hint = static_cast<uint32_t>(config_.request_timeout.count());
  return h;
}

template <typename Response, typename Request>
Result<Response> Client::request(Request req, const char* service) {
  std::shared_ptr<SecureChannel> channel;
  {
    std::lock_guard lock(mu_);
    channel = channel_;
  }
  if (!channel) return unavailable(fmt::format("{}: not connected", service));
  req.header = header();
  Result<Bytes> answer = channel->call(encode_message(req));
  if (!answer.ok()) {
    return Status(answer.status().code(),
                  fmt::format("{}: {}", service, answer.status().message()));
  }
  return take_response<Response>(decode_response(*answer));
}

Status Client::open_channel_and_find_endpoint() {
  if (!identity_loaded_) {
    IdentityOptions io = config_.identity;
    if (io.application_uri.empty()) io.application_uri = default_application_uri();
    if (io.hostname.empty()) io.hostname = local_hostname();
    Result<ApplicationIdentity> id = load_or_create_identity(io);
    if (!id.ok()) return id.status().with_context("the client's application certificate");
    identity_ = std::move(id).value();
    identity_loaded_ = true;
  }
  // GetEndpoints over a channel without security: the endpoints, their user token policies and
  // the server's certificate (which a secured channel needs before it can open).
  SecureChannelConfig plain;
  plain.endpoint_url = config_.endpoint_url;
  plain.connect_timeout = config_.connect_timeout;
  plain.request_timeout = config_.request_timeout;
  plain.requested_lifetime = config_.channel_lifetime;
  plain.limits = config_.limits;
  auto discovery = std::make_shared<SecureChannel>(plain);
  {
    std::lock_guard lock(mu_);
    if (aborted_) return Status(Code::kAborted, "stopped");
    channel_ = discovery;
  }
  SLUICE_RETURN_IF_ERROR(discovery->open());
  GetEndpointsRequest ge;
  ge.endpoint_url = config_.endpoint_url;
  SLUICE_ASSIGN_OR_RETURN(GetEndpointsResponse endpoints,
                          (request<GetEndpointsResponse>(ge, "GetEndpoints")));
  const std::string_view want_policy = policy_uri(config_.policy);
  const EndpointDescription* chosen = nullptr;
  for (const EndpointDescription& e : endpoints.endpoints) {
    if (e.security_policy_uri == want_policy && e.security_mode == wire_mode(config_.mode)) {
      chosen = &e;
      break;
    }
  }
  if (chosen == nullptr) {
    std::string_view policy = want_policy.substr(want_policy.rfind('#') + 1);
    return failed_precondition(fmt::format(
        "the server at {} offers no endpoint with security policy {} and mode {} (it offers: {})",
        config_.endpoint_url, policy, mode_text(config_.mode),
        describe_endpoints(endpoints.endpoints)));
  }
  Certificate server_cert;
  std::string thumbprint;
  if (!chosen->server_certificate.empty()) {
    Result<Certificate> c = Certificate::from_der(chosen->server_certificate);
    if (!c.ok()) return c.status().with_context("the server's certificate (GetEndpoints)");
    server_cert = std::move(c).value();
    thumbprint = to_hex(server_cert.thumbprint());
  }
  if (!config_.server_thumbprint.empty()) {
    const std::string want = normalize_thumbprint(config_.server_thumbprint);
    if (thumbprint != want) {
      return failed_precondition(fmt::format(
          "the server's certificate has thumbprint {}, not the configured server_thumbprint {}: "
          "refusing it (if the server's certificate was renewed, check it and update "
          "server_thumbprint)",
          thumbprint.empty() ? std::string("(none)") : thumbprint, want));
    }
  }
  {
    std::lock_guard lock(mu_);
    endpoint_ = *chosen;
    server_certificate_ = server_cert;
    info_.endpoint_url = config_.endpoint_url;
    info_.security_policy_uri = std::string(want_policy);
    info_.mode = config_.mode;
    info_.server_application_uri = chosen->server.application_uri;
    info_.server_thumbprint = thumbprint;
  }
  if (config_.policy == SecurityPolicy::kNone) return Status::ok_status();

  if (server_cert.empty()) {
    return failed_precondition("the server's endpoint has no certificate: cannot secure a channel");
  }
  discovery->close();
  SecureChannelConfig secured = plain;
  secured.policy = config_.policy;
  secured.mode = config_.mode;
  secured.client = identity_;
  secured.server_certificate = server_cert.der();
  auto channel = std::make_shared<SecureChannel>(secured);
  {
    std::lock_guard lock(mu_);
    if (aborted_) return Status(Code::kAborted, "stopped");
    channel_ = channel;
  }
  return channel->open();
}

Status Client::create_and_activate_session() {
  SLUICE_ASSIGN_OR_RETURN(Bytes client_nonce, random_bytes(kClientNonceLength));
  {
    std::lock_guard lock(mu_);
    auth_token_ = NodeId();
  }
  CreateSessionRequest cs;
  cs.client_description.application_uri = identity_.certificate.application_uri();
  cs.client_description.product_uri = "urn:sluice";
  cs.client_description.application_name = {"en", config_.application_name};
  cs.client_description.application_type = ApplicationType::kClient;
  cs.endpoint_url = config_.endpoint_url;
  cs.session_name = config_.session_name;
  cs.client_nonce = client_nonce;
  cs.client_certificate = identity_.certificate.der();
  cs.requested_session_timeout = static_cast<double>(config_.session_timeout.count());
  SLUICE_ASSIGN_OR_RETURN(CreateSessionResponse created,
                          (request<CreateSessionResponse>(cs, "CreateSession")));
  if (config_.policy != SecurityPolicy::kNone) {
    // The server proves it holds its key by signing our certificate and nonce.
    Certificate server_cert;
    {
      std::lock_guard lock(mu_);
      server_cert = server_certificate_;
    }
    if (!created.server_certificate.empty() && created.server_certificate != server_cert.der()) {
      return corruption(
          "CreateSession: the server's certificate differs from the one of its endpoint");
    }
    const Status verified =
        rsa_sha256_verify(server_cert.public_key(), identity_.certificate.der() + client_nonce,
                          created.server_signature.signature);
    if (!verified.ok()) return verified.with_context("CreateSession: the server's signature");
  }
  {
    std::lock_guard lock(mu_);
    auth_token_ = created.authentication_token;
    server_nonce_ = created.server_nonce;
    info_.session_id = created.session_id;
    info_.revised_session_timeout_ms = created.revised_session_timeout;
  }
  return activate_session();
}

Status Client::activate_session() {
  EndpointDescription endpoint;
  Certificate server_cert;
  std::string server_nonce;
  std::shared_ptr<SecureChannel> channel;
  {
    std::lock_guard lock(mu_);
    endpoint = endpoint_;
    server_cert = server_certificate_;
    server_nonce = server_nonce_;
    channel = channel_;
  }
  if (!channel) return unavailable("ActivateSession: not connected");
  ActivateSessionRequest as;
  as.locale_ids = {"en"};
  if (config_.policy != SecurityPolicy::kNone) {
    SLUICE_ASSIGN_OR_RETURN(Bytes sig,
                            channel->sign_with_client_key(server_cert.der() + server_nonce));
    as.client_signature = {std::string(kRsaSha256AlgorithmUri), std::move(sig)};
  }
  const UserTokenType want =
      config_.user.empty() ? UserTokenType::kAnonymous : UserTokenType::kUserName;
  const UserTokenPolicy* token_policy = nullptr;
  for (const UserTokenPolicy& p : endpoint.user_identity_tokens) {
    if (p.token_type == want) {
      token_policy = &p;
      break;
    }
  }
  if (token_policy == nullptr) {
    return failed_precondition(
        fmt::format("the server's endpoint does not accept {} logins",
                    want == UserTokenType::kAnonymous ? "anonymous" : "user name and password"));
  }
  if (want == UserTokenType::kAnonymous) {
    as.user_identity_token = AnonymousIdentityToken{token_policy->policy_id};
  } else {
    UserNameIdentityToken token;
    token.policy_id = token_policy->policy_id;
    token.user_name = config_.user;
    const std::string& policy = token_policy->security_policy_uri.empty()
                                    ? endpoint.security_policy_uri
                                    : token_policy->security_policy_uri;
    if (policy.empty() || policy == kSecurityPolicyNoneUri) {
      token.password = config_.password;  // the server asks for it in the clear
    } else if (policy == kSecurityPolicyBasic256Sha256Uri) {
      if (server_cert.empty()) {
        return failed_precondition("the user token policy needs the server's certificate");
      }
      // Part 4, 7.36.2.2 (legacy secret format): length, password, server nonce.
      Bytes secret;
      Writer w(&secret);
      w.u32(static_cast<uint32_t>(config_.password.size() + server_nonce.size()));
      w.raw(config_.password);
      w.raw(server_nonce);
      SLUICE_ASSIGN_OR_RETURN(token.password,
                              rsa_oaep_sha1_encrypt(server_cert.public_key(), secret));
      token.encryption_algorithm = std::string(kRsaOaepAlgorithmUri);
    } else {
      return failed_precondition(fmt::format(
          "the server wants the password encrypted with {}, which Sluice does not support",
          policy));
    }
    as.user_identity_token = std::move(token);
  }
  SLUICE_ASSIGN_OR_RETURN(ActivateSessionResponse activated,
                          (request<ActivateSessionResponse>(as, "ActivateSession")));
  std::lock_guard lock(mu_);
  server_nonce_ = activated.server_nonce;
  info_.channel_id = channel->info().channel_id;
  return Status::ok_status();
}

Status Client::read_namespace_array() {
  ReadValueId id;
  id.node_id = NodeId::make_numeric(0, ids::kServer_NamespaceArray);
  SLUICE_ASSIGN_OR_RETURN(std::vector<DataValue> values, read({id}));
  if (values.size() != 1) return corruption("Read NamespaceArray: wrong number of results");
  const std::vector<std::string>* uris = values[0].value.array<std::string>();
  if (uris == nullptr) {
    return corruption("Read NamespaceArray: the value is not an array of strings");
  }
  std::lock_guard lock(mu_);
  namespaces_ = *uris;
  return Status::ok_status();
}

Status Client::connect() {
  std::lock_guard serial(connect_mu_);
  SLUICE_RETURN_IF_ERROR(open_channel_and_find_endpoint());
  SLUICE_RETURN_IF_ERROR(create_and_activate_session());
  {
    std::lock_guard lock(mu_);
    info_.session_reactivated = false;
  }
  return read_namespace_array();
}

Status Client::reconnect(bool* kept_session) {
  std::lock_guard serial(connect_mu_);
  *kept_session = false;
  std::shared_ptr<SecureChannel> old;
  {
    std::lock_guard lock(mu_);
    old = std::move(channel_);
  }
  if (old) old->close();  // outside mu_: its callbacks may run meanwhile
  {
    // Publish requests of the old channel failed with it; forget them.
    std::lock_guard lock(publish_mu_);
    publish_queue_.clear();
    publish_outstanding_ = 0;
  }
  SLUICE_RETURN_IF_ERROR(open_channel_and_find_endpoint());
  bool had_session = false;
  {
    std::lock_guard lock(mu_);
    had_session = !auth_token_.is_null();
  }
  if (had_session) {
    // The same session on the new channel: the server keeps a session (and its
    // subscriptions) for its timeout after the channel is gone.
    const Status reactivated = activate_session();
    if (reactivated.ok()) {
      *kept_session = true;
      std::lock_guard lock(mu_);
      info_.session_reactivated = true;
      return Status::ok_status();
    }
    if (reactivated.code() == Code::kUnavailable || reactivated.code() == Code::kAborted) {
      return reactivated;
    }
  }
  SLUICE_RETURN_IF_ERROR(create_and_activate_session());
  {
    std::lock_guard lock(mu_);
    info_.session_reactivated = false;
  }
  return read_namespace_array();
}

void Client::close() {
  std::lock_guard serial(connect_mu_);
  std::shared_ptr<SecureChannel> channel;
  bool has_session = false;
  {
    std::lock_guard lock(mu_);
    channel = channel_;
    has_session = !auth_token_.is_null();
  }
  if (channel && has_session && channel->status().ok()) {
    CloseSessionRequest cs;
    cs.delete_subscriptions = true;
    cs.header = header();
    (void)channel->call(encode_message(cs), std::chrono::milliseconds(2000));
  }
  if (channel) channel->close();
  std::lock_guard lock(mu_);
  channel_.reset();
  auth_token_ = NodeId();
}

void Client::abort() {
  aborted_ = true;
  std::shared_ptr<SecureChannel> channel;
  {
    std::lock_guard lock(mu_);
    channel = channel_;
  }
  if (channel) channel->close();
  std::lock_guard lock(publish_mu_);
  publish_cv_.notify_all();
}

Status Client::status() const {
  std::lock_guard lock(mu_);
  if (!channel_) return unavailable("not connected");
  return channel_->status();
}

ConnectionInfo Client::info() const {
  std::lock_guard lock(mu_);
  return info_;
}

std::vector<std::string> Client::namespace_array() const {
  std::lock_guard lock(mu_);
  return namespaces_;
}

Result<std::vector<DataValue>> Client::read(const std::vector<ReadValueId>& nodes,
                                            TimestampsToReturn timestamps) {
  ReadRequest req;
  req.timestamps_to_return = timestamps;
  req.nodes_to_read = nodes;
  SLUICE_ASSIGN_OR_RETURN(ReadResponse r, (request<ReadResponse>(std::move(req), "Read")));
  if (r.results.size() != nodes.size()) {
    return corruption(fmt::format("Read: {} results for {} nodes", r.results.size(), nodes.size()));
  }
  return std::move(r.results);
}

Result<std::vector<StatusCode>> Client::write(const std::vector<WriteValue>& nodes) {
  WriteRequest req;
  req.nodes_to_write = nodes;
  SLUICE_ASSIGN_OR_RETURN(WriteResponse r, (request<WriteResponse>(std::move(req), "Write")));
  if (r.results.size() != nodes.size()) {
    return corruption(
        fmt::format("Write: {} results for {} nodes", r.results.size(), nodes.size()));
  }
  return std::move(r.results);
}

Result<std::vector<CallMethodResult>> Client::call(const std::vector<CallMethodRequest>& methods) {
  CallRequest req;
  req.methods_to_call = methods;
  SLUICE_ASSIGN_OR_RETURN(CallResponse r, (request<CallResponse>(std::move(req), "Call")));
  if (r.results.size() != methods.size()) {
    return corruption(
        fmt::format("Call: {} results for {} methods", r.results.size(), methods.size()));
  }
  return std::move(r.results);
}

Result<std::vector<ReferenceDescription>> Client::browse(const BrowseDescription& node,
                                                         size_t limit) {
  BrowseRequest req;
  req.requested_max_references_per_node = 1000;
  req.nodes_to_browse = {node};
  SLUICE_ASSIGN_OR_RETURN(BrowseResponse r, (request<BrowseResponse>(std::move(req), "Browse")));
  if (r.results.size() != 1) return corruption("Browse: not one result for one node");
  std::vector<ReferenceDescription> out;
  BrowseResult result = std::move(r.results[0]);
  for (;;) {
    if (is_bad(result.status_code)) {
      return status_to_service_status(result.status_code, "Browse " + node.node_id.to_string());
    }
    for (ReferenceDescription& ref : result.references) {
      if (out.size() >= limit) {
        if (!result.continuation_point.empty()) {
          BrowseNextRequest release;
          release.release_continuation_points = true;
          release.continuation_points = {result.continuation_point};
          (void)request<BrowseNextResponse>(std::move(release), "BrowseNext");
        }
        return Status(Code::kResourceExhausted, fmt::format("Browse {}: more than {} references",
                                                            node.node_id.to_string(), limit));
      }
      out.push_back(std::move(ref));
    }
    if (result.continuation_point.empty()) break;
    BrowseNextRequest next;
    next.continuation_points = {result.continuation_point};
    SLUICE_ASSIGN_OR_RETURN(BrowseNextResponse n,
                            (request<BrowseNextResponse>(std::move(next), "BrowseNext")));
    if (n.results.size() != 1) return corruption("BrowseNext: not one result for one node");
    result = std::move(n.results[0]);
  }
  return out;
}

Result<std::vector<BrowsePathResult>> Client::translate(const std::vector<BrowsePath>& paths) {
  TranslateBrowsePathsToNodeIdsRequest req;
  req.browse_paths = paths;
  SLUICE_ASSIGN_OR_RETURN(
      TranslateBrowsePathsToNodeIdsResponse r,
      (request<TranslateBrowsePathsToNodeIdsResponse>(std::move(req), "TranslateBrowsePaths")));
  if (r.results.size() != paths.size())
    return corruption("TranslateBrowsePaths: wrong result count");
  return std::move(r.results);
}

Result<CreateSubscriptionResponse> Client::create_subscription(
    const CreateSubscriptionRequest& req) {
  return request<CreateSubscriptionResponse>(req, "CreateSubscription");
}

Result<std::vector<MonitoredItemCreateResult>> Client::create_monitored_items(
    uint32_t subscription_id, const std::vector<MonitoredItemCreateRequest>& items,
    TimestampsToReturn timestamps) {
  CreateMonitoredItemsRequest req;
  req.subscription_id = subscription_id;
  req.timestamps_to_return = timestamps;
  req.items_to_create = items;
  SLUICE_ASSIGN_OR_RETURN(
      CreateMonitoredItemsResponse r,
      (request<CreateMonitoredItemsResponse>(std::move(req), "CreateMonitoredItems")));
  if (r.results.size() != items.size()) {
    return corruption(fmt::format("CreateMonitoredItems: {} results for {} items", r.results.size(),
                                  items.size()));
  }
  return std::move(r.results);
}

Result<std::vector<TransferResult>> Client::transfer_subscriptions(const std::vector<uint32_t>& ids,
                                                                   bool send_initial_values) {
  TransferSubscriptionsRequest req;
  req.subscription_ids = ids;
  req.send_initial_values = send_initial_values;
  SLUICE_ASSIGN_OR_RETURN(
      TransferSubscriptionsResponse r,
      (request<TransferSubscriptionsResponse>(std::move(req), "TransferSubscriptions")));
  if (r.results.size() != ids.size())
    return corruption("TransferSubscriptions: wrong result count");
  return std::move(r.results);
}

Result<NotificationMessage> Client::republish(uint32_t subscription_id, uint32_t sequence_number) {
  RepublishRequest req;
  req.subscription_id = subscription_id;
  req.retransmit_sequence_number = sequence_number;
  SLUICE_ASSIGN_OR_RETURN(RepublishResponse r,
                          (request<RepublishResponse>(std::move(req), "Republish")));
  return std::move(r.notification_message);
}

Status Client::delete_subscriptions(const std::vector<uint32_t>& ids) {
  DeleteSubscriptionsRequest req;
  req.subscription_ids = ids;
  Result<DeleteSubscriptionsResponse> r =
      request<DeleteSubscriptionsResponse>(std::move(req), "DeleteSubscriptions");
  return r.status();
}

void Client::publish_async(std::vector<SubscriptionAcknowledgement> acks) {
  std::shared_ptr<SecureChannel> channel;
  {
    std::lock_guard lock(mu_);
    channel = channel_;
  }
  if (!channel) {
    std::lock_guard lock(publish_mu_);
    publish_queue_.push_back(unavailable("Publish: not connected"));
    publish_cv_.notify_all();
    return;
  }
  PublishRequest req;
  req.subscription_acknowledgements = std::move(acks);
  req.header = header();
  // A Publish waits at the server until there is something to say (at most the keep-alive
  // time), so its timeout is the session's, not a service call's.
  const auto timeout = std::max(config_.request_timeout, config_.session_timeout);
  req.header.timeout_hint = static_cast<uint32_t>(timeout.count());
  {
    std::lock_guard lock(publish_mu_);
    ++publish_outstanding_;
  }
  channel->call_async(
      encode_message(req),
      [this](Result<Bytes> answer) {
        Result<PublishResponse> r =
            answer.ok() ? take_response<PublishResponse>(decode_response(*answer))
                        : Result<PublishResponse>(Status(answer.status().code(),
                                                         "Publish: " + answer.status().message()));
        std::lock_guard lock(publish_mu_);
        if (publish_outstanding_ > 0) --publish_outstanding_;
        publish_queue_.push_back(std::move(r));
        publish_cv_.notify_all();
      },
      timeout);
}

Result<PublishResponse> Client::next_publish(std::chrono::milliseconds timeout) {
  std::unique_lock lock(publish_mu_);
  const bool got = publish_cv_.wait_for(lock, timeout,
                                        [&] { return !publish_queue_.empty() || aborted_.load(); });
  if (!got) return Status(Code::kTimeout, "no Publish response in time");
  if (publish_queue_.empty()) return Status(Code::kAborted, "stopped");
  Result<PublishResponse> r = std::move(publish_queue_.front());
  publish_queue_.pop_front();
  return r;
}

size_t Client::publish_outstanding() const {
  std::lock_guard lock(publish_mu_);
  return publish_outstanding_;
}

}  // namespace sluice::opcua
