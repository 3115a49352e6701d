// OPC UA service messages (Part 4, 5.x; Part 6, 5.2.9 and annex A) as plain structs, with
// their binary encoding: what the session layer hands the secure channel (encode_message) and
// what it gets back from it (decode_response). A message on the wire is the NodeId of its
// DefaultBinary encoding (e.g. i=631 for ReadRequest) followed by its fields in Part 4's order.
//
//   ReadRequest req;
//   req.header.request_handle = 7;
//   req.nodes_to_read.push_back({NodeId::make_numeric(2, 10), AttributeId::kValue});
//   Bytes body = encode_message(req);              // to the secure channel
//   ...
//   Result<AnyResponse> any = decode_response(body_from_channel);
//   if (!any.ok()) ...                             // kCorruption: what, where (offset), why
//   const ResponseHeader& h = response_header(*any);   // h.request_handle routes it
//   Result<ReadResponse> read = take_response<ReadResponse>(std::move(any));
//     // a ServiceFault or a Bad service result becomes a Status naming the code
//
// Requests are encoded and responses decoded; the reverse (decode_request, encoding a
// response) exists for tests, fuzzing and fakes. Decoding distrusts its input: every count is
// checked against the bytes left (at the element's minimum encoded size) and against an
// allocation budget before anything is allocated, nesting is limited (binary.h), and an
// unknown type id is kCorruption with its offset. Structures inside ExtensionObjects that
// Sluice knows (identity tokens, DataChangeFilter, notifications) are decoded into typed
// alternatives; any other structure is kept as an ExtensionObject with its bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "protocols/opcua/binary.h"
#include "protocols/opcua/node_ids.h"
#include "protocols/opcua/status_codes.h"
#include "protocols/opcua/types.h"

namespace sluice::opcua {

// Duration in milliseconds (Part 4, 7.13), a Double on the wire.
using Duration = double;

// ---------------------------------------------------------------------------------------------
// Enumerations (Int32 on the wire; a decoded value outside the listed ones is kept as is).
enum class MessageSecurityMode : int32_t {
  kInvalid = 0,
  kNone = 1,
  kSign = 2,
  kSignAndEncrypt = 3
};
enum class ApplicationType : int32_t {
  kServer = 0,
  kClient = 1,
  kClientAndServer = 2,
  kDiscoveryServer = 3
};
enum class UserTokenType : int32_t {
  kAnonymous = 0,
  kUserName = 1,
  kCertificate = 2,
  kIssuedToken = 3
};
enum class BrowseDirection : int32_t { kForward = 0, kInverse = 1, kBoth = 2 };
// Node classes are bits so that a BrowseDescription's node_class_mask can OR them.
enum class NodeClass : int32_t {
  kUnspecified = 0,
  kObject = 1,
  kVariable = 2,
  kMethod = 4,
  kObjectType = 8,
  kVariableType = 16,
  kReferenceType = 32,
  kDataType = 64,
  kView = 128,
};
enum class TimestampsToReturn : int32_t { kSource = 0, kServer = 1, kBoth = 2, kNeither = 3 };
enum class MonitoringMode : int32_t { kDisabled = 0, kSampling = 1, kReporting = 2 };
enum class DataChangeTrigger : int32_t { kStatus = 0, kStatusValue = 1, kStatusValueTimestamp = 2 };
// DataChangeFilter's deadband_type is a UInt32 holding one of these.
enum class DeadbandType : uint32_t { kNone = 0, kAbsolute = 1, kPercent = 2 };
enum class ServerState : int32_t {
  kRunning = 0,
  kFailed = 1,
  kNoConfiguration = 2,
  kSuspended = 3,
  kShutdown = 4,
  kTest = 5,
  kCommunicationFault = 6,
  kUnknown = 7,
};

// BrowseDescription::result_mask bits (Part 4, 5.8.2.2).
namespace browse_result_mask {
inline constexpr uint32_t kReferenceTypeId = 1;
inline constexpr uint32_t kIsForward = 2;
inline constexpr uint32_t kNodeClass = 4;
inline constexpr uint32_t kBrowseName = 8;
inline constexpr uint32_t kDisplayName = 16;
inline constexpr uint32_t kTypeDefinition = 32;
inline constexpr uint32_t kAll = 63;
}  // namespace browse_result_mask

// ---------------------------------------------------------------------------------------------
// Common parameter types (Part 4, 7.x).

// The session layer fills authentication_token, timestamp, request_handle and timeout_hint.
struct RequestHeader {
  NodeId authentication_token;
  DateTime timestamp = 0;
  uint32_t request_handle = 0;
  uint32_t return_diagnostics = 0;
  std::string audit_entry_id;
  uint32_t timeout_hint = 0;  // ms, 0 = none
  ExtensionObject additional_header;
  bool operator==(const RequestHeader&) const = default;
};

struct ResponseHeader {
  DateTime timestamp = 0;
  uint32_t request_handle = 0;
  StatusCode service_result = status::kGood;
  DiagnosticInfo service_diagnostics;
  std::vector<std::string> string_table;
  ExtensionObject additional_header;
  bool operator==(const ResponseHeader&) const = default;
};

struct ApplicationDescription {
  std::string application_uri;
  std::string product_uri;
  LocalizedText application_name;
  ApplicationType application_type = ApplicationType::kClient;
  std::string gateway_server_uri;
  std::string discovery_profile_uri;
  std::vector<std::string> discovery_urls;
  bool operator==(const ApplicationDescription&) const = default;
};

struct UserTokenPolicy {
  std::string policy_id;
  UserTokenType token_type = UserTokenType::kAnonymous;
  std::string issued_token_type;
  std::string issuer_endpoint_url;
  std::string security_policy_uri;  // empty: the endpoint's policy
  bool operator==(const UserTokenPolicy&) const = default;
};

struct EndpointDescription {
  std::string endpoint_url;
  ApplicationDescription server;
  std::string server_certificate;  // DER
  MessageSecurityMode security_mode = MessageSecurityMode::kNone;
  std::string security_policy_uri;
  std::vector<UserTokenPolicy> user_identity_tokens;
  std::string transport_profile_uri;
  uint8_t security_level = 0;
  bool operator==(const EndpointDescription&) const = default;
};

struct SignatureData {
  std::string algorithm;
  std::string signature;
  bool operator==(const SignatureData&) const = default;
};

struct SignedSoftwareCertificate {
  std::string certificate_data;
  std::string signature;
  bool operator==(const SignedSoftwareCertificate&) const = default;
};

// User identity tokens (Part 4, 7.36), carried in ActivateSession as ExtensionObjects.
struct AnonymousIdentityToken {
  static constexpr uint32_t kBinaryEncodingId = ids::kAnonymousIdentityToken_Encoding_DefaultBinary;
  std::string policy_id;
  bool operator==(const AnonymousIdentityToken&) const = default;
};
struct UserNameIdentityToken {
  static constexpr uint32_t kBinaryEncodingId = ids::kUserNameIdentityToken_Encoding_DefaultBinary;
  std::string policy_id;
  std::string user_name;
  // The password bytes: plain UTF-8 with encryption_algorithm empty, or the secret encrypted
  // per Part 4, 7.36.2.2 (crypto.h) with encryption_algorithm naming the algorithm's URI.
  std::string password;
  std::string encryption_algorithm;
  bool operator==(const UserNameIdentityToken&) const = default;
};
struct X509IdentityToken {
  static constexpr uint32_t kBinaryEncodingId = ids::kX509IdentityToken_Encoding_DefaultBinary;
  std::string policy_id;
  std::string certificate_data;
  bool operator==(const X509IdentityToken&) const = default;
};
struct IssuedIdentityToken {
  static constexpr uint32_t kBinaryEncodingId = ids::kIssuedIdentityToken_Encoding_DefaultBinary;
  std::string policy_id;
  std::string token_data;
  std::string encryption_algorithm;
  bool operator==(const IssuedIdentityToken&) const = default;
};
// A token of another type (or not binary-encoded) stays an ExtensionObject.
using UserIdentityToken = std::variant<AnonymousIdentityToken, UserNameIdentityToken,
                                       X509IdentityToken, IssuedIdentityToken, ExtensionObject>;

struct ViewDescription {
  NodeId view_id;  // null: the whole address space
  DateTime timestamp = 0;
  uint32_t view_version = 0;
  bool operator==(const ViewDescription&) const = default;
};

struct BrowseDescription {
  NodeId node_id;
  BrowseDirection browse_direction = BrowseDirection::kForward;
  NodeId reference_type_id = NodeId::make_numeric(0, ids::kHierarchicalReferences);
  bool include_subtypes = true;
  uint32_t node_class_mask = 0;  // 0: every class
  uint32_t result_mask = browse_result_mask::kAll;
  bool operator==(const BrowseDescription&) const = default;
};

struct ReferenceDescription {
  NodeId reference_type_id;
  bool is_forward = true;
  ExpandedNodeId node_id;
  QualifiedName browse_name;
  LocalizedText display_name;
  NodeClass node_class = NodeClass::kUnspecified;
  ExpandedNodeId type_definition;
  bool operator==(const ReferenceDescription&) const = default;
};

struct BrowseResult {
  StatusCode status_code = status::kGood;
  std::string continuation_point;  // empty: no more references
  std::vector<ReferenceDescription> references;
  bool operator==(const BrowseResult&) const = default;
};

struct RelativePathElement {
  NodeId reference_type_id = NodeId::make_numeric(0, ids::kHierarchicalReferences);
  bool is_inverse = false;
  bool include_subtypes = true;
  QualifiedName target_name;
  bool operator==(const RelativePathElement&) const = default;
};
struct RelativePath {
  std::vector<RelativePathElement> elements;
  bool operator==(const RelativePath&) const = default;
};
struct BrowsePath {
  NodeId starting_node;
  RelativePath relative_path;
  bool operator==(const BrowsePath&) const = default;
};
struct BrowsePathTarget {
  ExpandedNodeId target_id;
  uint32_t remaining_path_index = 0xFFFFFFFF;  // UInt32 max: the whole path was followed
  bool operator==(const BrowsePathTarget&) const = default;
};
struct BrowsePathResult {
  StatusCode status_code = status::kGood;
  std::vector<BrowsePathTarget> targets;
  bool operator==(const BrowsePathResult&) const = default;
};

struct ReadValueId {
  NodeId node_id;
  AttributeId attribute_id = AttributeId::kValue;
  std::string index_range;      // empty: the whole value
  QualifiedName data_encoding;  // empty: the default
  bool operator==(const ReadValueId&) const = default;
};

struct WriteValue {
  NodeId node_id;
  AttributeId attribute_id = AttributeId::kValue;
  std::string index_range;
  DataValue value;
  bool operator==(const WriteValue&) const = default;
};

struct CallMethodRequest {
  NodeId object_id;
  NodeId method_id;
  std::vector<Variant> input_arguments;
  bool operator==(const CallMethodRequest&) const = default;
};
struct CallMethodResult {
  StatusCode status_code = status::kGood;
  std::vector<StatusCode> input_argument_results;
  std::vector<DiagnosticInfo> input_argument_diagnostic_infos;
  std::vector<Variant> output_arguments;
  bool operator==(const CallMethodResult&) const = default;
};

// Monitoring filters (Part 4, 7.22).
struct DataChangeFilter {
  static constexpr uint32_t kBinaryEncodingId = ids::kDataChangeFilter_Encoding_DefaultBinary;
  DataChangeTrigger trigger = DataChangeTrigger::kStatusValue;
  uint32_t deadband_type = static_cast<uint32_t>(DeadbandType::kNone);
  double deadband_value = 0.0;  // absolute units, or percent of the EURange
  bool operator==(const DataChangeFilter&) const = default;
};
// A null ExtensionObject (the default) is "no filter"; EventFilter, AggregateFilter and others
// stay ExtensionObjects.
using MonitoringFilter = std::variant<ExtensionObject, DataChangeFilter>;

struct MonitoringParameters {
  uint32_t client_handle = 0;
  Duration sampling_interval = -1;  // -1: the publishing interval; 0: as fast as possible
  MonitoringFilter filter;
  uint32_t queue_size = 1;
  bool discard_oldest = true;
  bool operator==(const MonitoringParameters&) const = default;
};
struct MonitoredItemCreateRequest {
  ReadValueId item_to_monitor;
  MonitoringMode monitoring_mode = MonitoringMode::kReporting;
  MonitoringParameters requested_parameters;
  bool operator==(const MonitoredItemCreateRequest&) const = default;
};
struct MonitoredItemModifyRequest {
  uint32_t monitored_item_id = 0;
  MonitoringParameters requested_parameters;
  bool operator==(const MonitoredItemModifyRequest&) const = default;
};
struct MonitoredItemModifyResult {
  StatusCode status_code = status::kGood;
  Duration revised_sampling_interval = 0;
  uint32_t revised_queue_size = 0;
  ExtensionObject filter_result;
  bool operator==(const MonitoredItemModifyResult&) const = default;
};
struct MonitoredItemCreateResult {
  StatusCode status_code = status::kGood;
  uint32_t monitored_item_id = 0;
  Duration revised_sampling_interval = 0;
  uint32_t revised_queue_size = 0;
  ExtensionObject filter_result;
  bool operator==(const MonitoredItemCreateResult&) const = default;
};

struct SubscriptionAcknowledgement {
  uint32_t subscription_id = 0;
  uint32_t sequence_number = 0;
  bool operator==(const SubscriptionAcknowledgement&) const = default;
};

// Notifications (Part 4, 7.20), carried in a NotificationMessage as ExtensionObjects.
struct MonitoredItemNotification {
  uint32_t client_handle = 0;
  DataValue value;
  bool operator==(const MonitoredItemNotification&) const = default;
};
struct DataChangeNotification {
  static constexpr uint32_t kBinaryEncodingId = ids::kDataChangeNotification_Encoding_DefaultBinary;
  std::vector<MonitoredItemNotification> monitored_items;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const DataChangeNotification&) const = default;
};
struct StatusChangeNotification {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kStatusChangeNotification_Encoding_DefaultBinary;
  StatusCode status = status::kGood;
  DiagnosticInfo diagnostic_info;
  bool operator==(const StatusChangeNotification&) const = default;
};
// EventNotificationList (type id i=916) and anything else stay ExtensionObjects.
using NotificationData =
    std::variant<DataChangeNotification, StatusChangeNotification, ExtensionObject>;

struct NotificationMessage {
  uint32_t sequence_number = 0;
  DateTime publish_time = 0;
  std::vector<NotificationData> notification_data;  // empty: a keep-alive
  bool operator==(const NotificationMessage&) const = default;
};

struct TransferResult {
  StatusCode status_code = status::kGood;
  std::vector<uint32_t> available_sequence_numbers;
  bool operator==(const TransferResult&) const = default;
};

// Structures often read from servers' Value attributes, as ExtensionObjects in a Variant
// (decode_extension<Range>(eo)).
struct Range {
  static constexpr uint32_t kBinaryEncodingId = ids::kRange_Encoding_DefaultBinary;
  double low = 0;
  double high = 0;
  bool operator==(const Range&) const = default;
};
struct EUInformation {
  static constexpr uint32_t kBinaryEncodingId = ids::kEUInformation_Encoding_DefaultBinary;
  std::string namespace_uri;
  int32_t unit_id = -1;
  LocalizedText display_name;  // e.g. "°C"
  LocalizedText description;
  bool operator==(const EUInformation&) const = default;
};
struct Argument {
  static constexpr uint32_t kBinaryEncodingId = ids::kArgument_Encoding_DefaultBinary;
  std::string name;
  NodeId data_type;
  int32_t value_rank = -1;  // -1 scalar, 1 one-dimensional array, ...
  std::vector<uint32_t> array_dimensions;
  LocalizedText description;
  bool operator==(const Argument&) const = default;
};
struct BuildInfo {
  static constexpr uint32_t kBinaryEncodingId = ids::kBuildInfo_Encoding_DefaultBinary;
  std::string product_uri;
  std::string manufacturer_name;
  std::string product_name;
  std::string software_version;
  std::string build_number;
  DateTime build_date = 0;
  bool operator==(const BuildInfo&) const = default;
};
struct ServerStatusDataType {
  static constexpr uint32_t kBinaryEncodingId = ids::kServerStatusDataType_Encoding_DefaultBinary;
  DateTime start_time = 0;
  DateTime current_time = 0;
  ServerState state = ServerState::kUnknown;
  BuildInfo build_info;
  uint32_t seconds_till_shutdown = 0;
  LocalizedText shutdown_reason;
  bool operator==(const ServerStatusDataType&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Service messages. Every request starts with a RequestHeader, every response with a
// ResponseHeader; kBinaryEncodingId is the type id written before the body.

struct ServiceFault {
  static constexpr uint32_t kBinaryEncodingId = ids::kServiceFault_Encoding_DefaultBinary;
  ResponseHeader header;
  bool operator==(const ServiceFault&) const = default;
};

// Discovery (Part 4, 5.4).
struct FindServersRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kFindServersRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::string endpoint_url;
  std::vector<std::string> locale_ids;
  std::vector<std::string> server_uris;
  bool operator==(const FindServersRequest&) const = default;
};
struct FindServersResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kFindServersResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<ApplicationDescription> servers;
  bool operator==(const FindServersResponse&) const = default;
};
struct GetEndpointsRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kGetEndpointsRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::string endpoint_url;
  std::vector<std::string> locale_ids;
  std::vector<std::string> profile_uris;
  bool operator==(const GetEndpointsRequest&) const = default;
};
struct GetEndpointsResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kGetEndpointsResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<EndpointDescription> endpoints;
  bool operator==(const GetEndpointsResponse&) const = default;
};

// Session (Part 4, 5.6).
struct CreateSessionRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kCreateSessionRequest_Encoding_DefaultBinary;
  RequestHeader header;
  ApplicationDescription client_description;
  std::string server_uri;
  std::string endpoint_url;
  std::string session_name;
  std::string client_nonce;        // >= 32 bytes when the channel is secured
  std::string client_certificate;  // DER, or empty with SecurityPolicy None
  Duration requested_session_timeout = 60000;
  uint32_t max_response_message_size = 0;  // 0: no limit
  bool operator==(const CreateSessionRequest&) const = default;
};
struct CreateSessionResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kCreateSessionResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  NodeId session_id;
  NodeId authentication_token;  // goes into every later RequestHeader
  Duration revised_session_timeout = 0;
  std::string server_nonce;
  std::string server_certificate;
  std::vector<EndpointDescription> server_endpoints;
  std::vector<SignedSoftwareCertificate> server_software_certificates;
  SignatureData server_signature;
  uint32_t max_request_message_size = 0;
  bool operator==(const CreateSessionResponse&) const = default;
};
struct ActivateSessionRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kActivateSessionRequest_Encoding_DefaultBinary;
  RequestHeader header;
  SignatureData client_signature;
  std::vector<SignedSoftwareCertificate> client_software_certificates;
  std::vector<std::string> locale_ids;
  UserIdentityToken user_identity_token;
  SignatureData user_token_signature;
  bool operator==(const ActivateSessionRequest&) const = default;
};
struct ActivateSessionResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kActivateSessionResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::string server_nonce;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const ActivateSessionResponse&) const = default;
};
struct CloseSessionRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kCloseSessionRequest_Encoding_DefaultBinary;
  RequestHeader header;
  bool delete_subscriptions = true;
  bool operator==(const CloseSessionRequest&) const = default;
};
struct CloseSessionResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kCloseSessionResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  bool operator==(const CloseSessionResponse&) const = default;
};

// View (Part 4, 5.8).
struct BrowseRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kBrowseRequest_Encoding_DefaultBinary;
  RequestHeader header;
  ViewDescription view;
  uint32_t requested_max_references_per_node = 0;  // 0: no limit
  std::vector<BrowseDescription> nodes_to_browse;
  bool operator==(const BrowseRequest&) const = default;
};
struct BrowseResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kBrowseResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<BrowseResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const BrowseResponse&) const = default;
};
struct BrowseNextRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kBrowseNextRequest_Encoding_DefaultBinary;
  RequestHeader header;
  bool release_continuation_points = false;
  std::vector<std::string> continuation_points;
  bool operator==(const BrowseNextRequest&) const = default;
};
struct BrowseNextResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kBrowseNextResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<BrowseResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const BrowseNextResponse&) const = default;
};
struct TranslateBrowsePathsToNodeIdsRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kTranslateBrowsePathsToNodeIdsRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<BrowsePath> browse_paths;
  bool operator==(const TranslateBrowsePathsToNodeIdsRequest&) const = default;
};
struct TranslateBrowsePathsToNodeIdsResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kTranslateBrowsePathsToNodeIdsResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<BrowsePathResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const TranslateBrowsePathsToNodeIdsResponse&) const = default;
};

struct RegisterNodesRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kRegisterNodesRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<NodeId> nodes_to_register;
  bool operator==(const RegisterNodesRequest&) const = default;
};
struct RegisterNodesResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kRegisterNodesResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<NodeId> registered_node_ids;  // faster aliases, one per node, in order
  bool operator==(const RegisterNodesResponse&) const = default;
};
struct UnregisterNodesRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kUnregisterNodesRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<NodeId> nodes_to_unregister;
  bool operator==(const UnregisterNodesRequest&) const = default;
};
struct UnregisterNodesResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kUnregisterNodesResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  bool operator==(const UnregisterNodesResponse&) const = default;
};

// Attribute (Part 4, 5.10).
struct ReadRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kReadRequest_Encoding_DefaultBinary;
  RequestHeader header;
  Duration max_age = 0;  // 0: read from the device now
  TimestampsToReturn timestamps_to_return = TimestampsToReturn::kBoth;
  std::vector<ReadValueId> nodes_to_read;
  bool operator==(const ReadRequest&) const = default;
};
struct ReadResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kReadResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<DataValue> results;  // one per nodes_to_read, in order
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const ReadResponse&) const = default;
};
struct WriteRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kWriteRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<WriteValue> nodes_to_write;
  bool operator==(const WriteRequest&) const = default;
};
struct WriteResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kWriteResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const WriteResponse&) const = default;
};

// Method (Part 4, 5.11).
struct CallRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kCallRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<CallMethodRequest> methods_to_call;
  bool operator==(const CallRequest&) const = default;
};
struct CallResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kCallResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<CallMethodResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const CallResponse&) const = default;
};

// MonitoredItem (Part 4, 5.12).
struct CreateMonitoredItemsRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kCreateMonitoredItemsRequest_Encoding_DefaultBinary;
  RequestHeader header;
  uint32_t subscription_id = 0;
  TimestampsToReturn timestamps_to_return = TimestampsToReturn::kBoth;
  std::vector<MonitoredItemCreateRequest> items_to_create;
  bool operator==(const CreateMonitoredItemsRequest&) const = default;
};
struct CreateMonitoredItemsResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kCreateMonitoredItemsResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<MonitoredItemCreateResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const CreateMonitoredItemsResponse&) const = default;
};
struct ModifyMonitoredItemsRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kModifyMonitoredItemsRequest_Encoding_DefaultBinary;
  RequestHeader header;
  uint32_t subscription_id = 0;
  TimestampsToReturn timestamps_to_return = TimestampsToReturn::kBoth;
  std::vector<MonitoredItemModifyRequest> items_to_modify;
  bool operator==(const ModifyMonitoredItemsRequest&) const = default;
};
struct ModifyMonitoredItemsResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kModifyMonitoredItemsResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<MonitoredItemModifyResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const ModifyMonitoredItemsResponse&) const = default;
};
struct SetMonitoringModeRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kSetMonitoringModeRequest_Encoding_DefaultBinary;
  RequestHeader header;
  uint32_t subscription_id = 0;
  MonitoringMode monitoring_mode = MonitoringMode::kReporting;
  std::vector<uint32_t> monitored_item_ids;
  bool operator==(const SetMonitoringModeRequest&) const = default;
};
struct SetMonitoringModeResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kSetMonitoringModeResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const SetMonitoringModeResponse&) const = default;
};
struct DeleteMonitoredItemsRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kDeleteMonitoredItemsRequest_Encoding_DefaultBinary;
  RequestHeader header;
  uint32_t subscription_id = 0;
  std::vector<uint32_t> monitored_item_ids;
  bool operator==(const DeleteMonitoredItemsRequest&) const = default;
};
struct DeleteMonitoredItemsResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kDeleteMonitoredItemsResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const DeleteMonitoredItemsResponse&) const = default;
};

// Subscription (Part 4, 5.13).
struct CreateSubscriptionRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kCreateSubscriptionRequest_Encoding_DefaultBinary;
  RequestHeader header;
  Duration requested_publishing_interval = 1000;
  uint32_t requested_lifetime_count = 60;
  uint32_t requested_max_keep_alive_count = 10;
  uint32_t max_notifications_per_publish = 0;  // 0: no limit
  bool publishing_enabled = true;
  uint8_t priority = 0;
  bool operator==(const CreateSubscriptionRequest&) const = default;
};
struct CreateSubscriptionResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kCreateSubscriptionResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  uint32_t subscription_id = 0;
  Duration revised_publishing_interval = 0;
  uint32_t revised_lifetime_count = 0;
  uint32_t revised_max_keep_alive_count = 0;
  bool operator==(const CreateSubscriptionResponse&) const = default;
};
struct ModifySubscriptionRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kModifySubscriptionRequest_Encoding_DefaultBinary;
  RequestHeader header;
  uint32_t subscription_id = 0;
  Duration requested_publishing_interval = 1000;
  uint32_t requested_lifetime_count = 60;
  uint32_t requested_max_keep_alive_count = 10;
  uint32_t max_notifications_per_publish = 0;
  uint8_t priority = 0;
  bool operator==(const ModifySubscriptionRequest&) const = default;
};
struct ModifySubscriptionResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kModifySubscriptionResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  Duration revised_publishing_interval = 0;
  uint32_t revised_lifetime_count = 0;
  uint32_t revised_max_keep_alive_count = 0;
  bool operator==(const ModifySubscriptionResponse&) const = default;
};
struct SetPublishingModeRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kSetPublishingModeRequest_Encoding_DefaultBinary;
  RequestHeader header;
  bool publishing_enabled = true;
  std::vector<uint32_t> subscription_ids;
  bool operator==(const SetPublishingModeRequest&) const = default;
};
struct SetPublishingModeResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kSetPublishingModeResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const SetPublishingModeResponse&) const = default;
};
struct PublishRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kPublishRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<SubscriptionAcknowledgement> subscription_acknowledgements;
  bool operator==(const PublishRequest&) const = default;
};
struct PublishResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kPublishResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  uint32_t subscription_id = 0;
  std::vector<uint32_t> available_sequence_numbers;
  bool more_notifications = false;
  NotificationMessage notification_message;
  std::vector<StatusCode> results;  // one per acknowledgement sent
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const PublishResponse&) const = default;
};
struct RepublishRequest {
  static constexpr uint32_t kBinaryEncodingId = ids::kRepublishRequest_Encoding_DefaultBinary;
  RequestHeader header;
  uint32_t subscription_id = 0;
  uint32_t retransmit_sequence_number = 0;
  bool operator==(const RepublishRequest&) const = default;
};
struct RepublishResponse {
  static constexpr uint32_t kBinaryEncodingId = ids::kRepublishResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  NotificationMessage notification_message;
  bool operator==(const RepublishResponse&) const = default;
};
struct TransferSubscriptionsRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kTransferSubscriptionsRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<uint32_t> subscription_ids;
  bool send_initial_values = true;
  bool operator==(const TransferSubscriptionsRequest&) const = default;
};
struct TransferSubscriptionsResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kTransferSubscriptionsResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<TransferResult> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const TransferSubscriptionsResponse&) const = default;
};
struct DeleteSubscriptionsRequest {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kDeleteSubscriptionsRequest_Encoding_DefaultBinary;
  RequestHeader header;
  std::vector<uint32_t> subscription_ids;
  bool operator==(const DeleteSubscriptionsRequest&) const = default;
};
struct DeleteSubscriptionsResponse {
  static constexpr uint32_t kBinaryEncodingId =
      ids::kDeleteSubscriptionsResponse_Encoding_DefaultBinary;
  ResponseHeader header;
  std::vector<StatusCode> results;
  std::vector<DiagnosticInfo> diagnostic_infos;
  bool operator==(const DeleteSubscriptionsResponse&) const = default;
};

using AnyRequest =
    std::variant<FindServersRequest, GetEndpointsRequest, CreateSessionRequest,
                 ActivateSessionRequest, CloseSessionRequest, BrowseRequest, BrowseNextRequest,
                 TranslateBrowsePathsToNodeIdsRequest, RegisterNodesRequest, UnregisterNodesRequest,
                 ReadRequest, WriteRequest, CallRequest, CreateMonitoredItemsRequest,
                 ModifyMonitoredItemsRequest, SetMonitoringModeRequest, DeleteMonitoredItemsRequest,
                 CreateSubscriptionRequest, ModifySubscriptionRequest, SetPublishingModeRequest,
                 PublishRequest, RepublishRequest, TransferSubscriptionsRequest,
                 DeleteSubscriptionsRequest>;

using AnyResponse = std::variant<
    ServiceFault, FindServersResponse, GetEndpointsResponse, CreateSessionResponse,
    ActivateSessionResponse, CloseSessionResponse, BrowseResponse, BrowseNextResponse,
    TranslateBrowsePathsToNodeIdsResponse, RegisterNodesResponse, UnregisterNodesResponse,
    ReadResponse, WriteResponse, CallResponse, CreateMonitoredItemsResponse,
    ModifyMonitoredItemsResponse, SetMonitoringModeResponse, DeleteMonitoredItemsResponse,
    CreateSubscriptionResponse, ModifySubscriptionResponse, SetPublishingModeResponse,
    PublishResponse, RepublishResponse, TransferSubscriptionsResponse, DeleteSubscriptionsResponse>;

// ---------------------------------------------------------------------------------------------
// Encoding and decoding.

// The message's type id (four-byte NodeId of kBinaryEncodingId) and body, appended to w, or
// as new bytes. Defined for every alternative of AnyRequest and AnyResponse.
template <typename Message>
void encode_message(Writer& w, const Message& m);
template <typename Message>
Bytes encode_message(const Message& m) {
  Bytes out;
  Writer w(&out);
  encode_message(w, m);
  return out;
}
Bytes encode_any(const AnyRequest& m);
Bytes encode_any(const AnyResponse& m);

// A whole service body from the secure channel: the type id picks the response type. Unknown
// or non-response type ids, malformed or trailing bytes: kCorruption with the offset.
Result<AnyResponse> decode_response(std::string_view body);
// The same for requests (tests, fuzzing, a fake server).
Result<AnyRequest> decode_request(std::string_view body);

// One message type only: kCorruption if the body holds another type (naming both).
template <typename Message>
Result<Message> decode_message(std::string_view body);

// Just the type id and the ResponseHeader (e.g. to route a body whose rest is malformed by its
// request_handle).
struct ResponsePreamble {
  uint32_t type_id = 0;
  ResponseHeader header;
};
Result<ResponsePreamble> peek_response(std::string_view body);

const ResponseHeader& response_header(const AnyResponse& r);
const RequestHeader& request_header(const AnyRequest& r);
RequestHeader& request_header(AnyRequest& r);

// The response of the type the caller expects. A ServiceFault, a Bad service_result in the
// expected type's header, or another type become a Status naming the service and the code
// (status_to_service_status); a decode error passes through.
template <typename Response>
Result<Response> take_response(Result<AnyResponse> any);

// The Status for a Bad service result of `service` ("Read"): kTimeout for BadTimeout and
// BadRequestTimeout; kUnavailable for the connection and server-state codes (BadServerHalted,
// BadCommunicationError, BadSecureChannelClosed, BadTooManySessions, BadServerTooBusy...);
// kFailedPrecondition for the session codes (BadSessionIdInvalid, BadSessionClosed,
// BadSessionNotActivated) and BadNoSubscription/BadSubscriptionIdInvalid;
// kInvalidArgument for the rest. The message reads "Read: BadNodeIdUnknown (0x80340000)".
Status status_to_service_status(StatusCode code, std::string_view service);

// "ReadResponse" for 634, "" for an id not listed here.
std::string_view message_name(uint32_t type_id);

// A known structure wrapped as a binary ExtensionObject, and back. decode_extension fails
// with kInvalidArgument if eo's type id is not T's, kCorruption if the body is malformed.
// Defined for the identity tokens, DataChangeFilter, DataChangeNotification,
// StatusChangeNotification, Range, EUInformation, Argument, BuildInfo, ServerStatusDataType.
template <typename T>
ExtensionObject make_extension(const T& v);
template <typename T>
Result<T> decode_extension(const ExtensionObject& eo);

}  // namespace sluice::opcua
