// Service messages' binary encoding. Each structure's fields are listed once, in Part 4's
// order, by a fields() template that both the encoder (Enc) and the decoder (Dec) walk, so the
// two directions cannot disagree about order or types.
#include "protocols/opcua/services.h"

#include <array>
#include <concepts>
#include <cstdio>
#include <type_traits>
#include <utility>

namespace sluice::opcua {
namespace {

template <typename T, typename U>
concept Is = std::same_as<std::remove_const_t<T>, U>;

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

template <typename T>
struct IsStdVariant : std::false_type {};
template <typename... T>
struct IsStdVariant<std::variant<T...>> : std::true_type {};

// ---- field lists (Part 4, chapter 7 and the services' parameter tables) ----
// clang-format off
template <typename V, Is<RequestHeader> S> void fields(V& v, S& s) {
  v(s.authentication_token, s.timestamp, s.request_handle, s.return_diagnostics,
    s.audit_entry_id, s.timeout_hint, s.additional_header);
}
template <typename V, Is<ResponseHeader> S> void fields(V& v, S& s) {
  v(s.timestamp, s.request_handle, s.service_result, s.service_diagnostics, s.string_table,
    s.additional_header);
}
template <typename V, Is<ApplicationDescription> S> void fields(V& v, S& s) {
  v(s.application_uri, s.product_uri, s.application_name, s.application_type,
    s.gateway_server_uri, s.discovery_profile_uri, s.discovery_urls);
}
template <typename V, Is<UserTokenPolicy> S> void fields(V& v, S& s) {
  v(s.policy_id, s.token_type, s.issued_token_type, s.issuer_endpoint_url, s.security_policy_uri);
}
template <typename V, Is<EndpointDescription> S> void fields(V& v, S& s) {
  v(s.endpoint_url, s.server, s.server_certificate, s.security_mode, s.security_policy_uri,
    s.user_identity_tokens, s.transport_profile_uri, s.security_level);
}
template <typename V, Is<SignatureData> S> void fields(V& v, S& s) { v(s.algorithm, s.signature); }
template <typename V, Is<SignedSoftwareCertificate> S> void fields(V& v, S& s) {
  v(s.certificate_data, s.signature);
}
template <typename V, Is<AnonymousIdentityToken> S> void fields(V& v, S& s) { v(s.policy_id); }
template <typename V, Is<UserNameIdentityToken> S> void fields(V& v, S& s) {
  v(s.policy_id, s.user_name, s.password, s.encryption_algorithm);
}
template <typename V, Is<X509IdentityToken> S> void fields(V& v, S& s) {
  v(s.policy_id, s.certificate_data);
}
template <typename V, Is<IssuedIdentityToken> S> void fields(V& v, S& s) {
  v(s.policy_id, s.token_data, s.encryption_algorithm);
}
template <typename V, Is<ViewDescription> S> void fields(V& v, S& s) {
  v(s.view_id, s.timestamp, s.view_version);
}
template <typename V, Is<BrowseDescription> S> void fields(V& v, S& s) {
  v(s.node_id, s.browse_direction, s.reference_type_id, s.include_subtypes, s.node_class_mask,
    s.result_mask);
}
template <typename V, Is<ReferenceDescription> S> void fields(V& v, S& s) {
  v(s.reference_type_id, s.is_forward, s.node_id, s.browse_name, s.display_name, s.node_class,
    s.type_definition);
}
template <typename V, Is<BrowseResult> S> void fields(V& v, S& s) {
  v(s.status_code, s.continuation_point, s.references);
}
template <typename V, Is<RelativePathElement> S> void fields(V& v, S& s) {
  v(s.reference_type_id, s.is_inverse, s.include_subtypes, s.target_name);
}
template <typename V, Is<RelativePath> S> void fields(V& v, S& s) { v(s.elements); }
template <typename V, Is<BrowsePath> S> void fields(V& v, S& s) {
  v(s.starting_node, s.relative_path);
}
template <typename V, Is<BrowsePathTarget> S> void fields(V& v, S& s) {
  v(s.target_id, s.remaining_path_index);
}
template <typename V, Is<BrowsePathResult> S> void fields(V& v, S& s) {
  v(s.status_code, s.targets);
}
template <typename V, Is<ReadValueId> S> void fields(V& v, S& s) {
  v(s.node_id, s.attribute_id, s.index_range, s.data_encoding);
}
template <typename V, Is<WriteValue> S> void fields(V& v, S& s) {
  v(s.node_id, s.attribute_id, s.index_range, s.value);
}
template <typename V, Is<CallMethodRequest> S> void fields(V& v, S& s) {
  v(s.object_id, s.method_id, s.input_arguments);
}
template <typename V, Is<CallMethodResult> S> void fields(V& v, S& s) {
  v(s.status_code, s.input_argument_results, s.input_argument_diagnostic_infos,
    s.output_arguments);
}
template <typename V, Is<DataChangeFilter> S> void fields(V& v, S& s) {
  v(s.trigger, s.deadband_type, s.deadband_value);
}
template <typename V, Is<MonitoringParameters> S> void fields(V& v, S& s) {
  v(s.client_handle, s.sampling_interval, s.filter, s.queue_size, s.discard_oldest);
}
template <typename V, Is<MonitoredItemCreateRequest> S> void fields(V& v, S& s) {
  v(s.item_to_monitor, s.monitoring_mode, s.requested_parameters);
}
template <typename V, Is<MonitoredItemCreateResult> S> void fields(V& v, S& s) {
  v(s.status_code, s.monitored_item_id, s.revised_sampling_interval, s.revised_queue_size,
    s.filter_result);
}
template <typename V, Is<MonitoredItemModifyRequest> S> void fields(V& v, S& s) {
  v(s.monitored_item_id, s.requested_parameters);
}
template <typename V, Is<MonitoredItemModifyResult> S> void fields(V& v, S& s) {
  v(s.status_code, s.revised_sampling_interval, s.revised_queue_size, s.filter_result);
}
template <typename V, Is<SubscriptionAcknowledgement> S> void fields(V& v, S& s) {
  v(s.subscription_id, s.sequence_number);
}
template <typename V, Is<MonitoredItemNotification> S> void fields(V& v, S& s) {
  v(s.client_handle, s.value);
}
template <typename V, Is<DataChangeNotification> S> void fields(V& v, S& s) {
  v(s.monitored_items, s.diagnostic_infos);
}
template <typename V, Is<StatusChangeNotification> S> void fields(V& v, S& s) {
  v(s.status, s.diagnostic_info);
}
template <typename V, Is<NotificationMessage> S> void fields(V& v, S& s) {
  v(s.sequence_number, s.publish_time, s.notification_data);
}
template <typename V, Is<TransferResult> S> void fields(V& v, S& s) {
  v(s.status_code, s.available_sequence_numbers);
}
template <typename V, Is<Range> S> void fields(V& v, S& s) { v(s.low, s.high); }
template <typename V, Is<EUInformation> S> void fields(V& v, S& s) {
  v(s.namespace_uri, s.unit_id, s.display_name, s.description);
}
template <typename V, Is<Argument> S> void fields(V& v, S& s) {
  v(s.name, s.data_type, s.value_rank, s.array_dimensions, s.description);
}
template <typename V, Is<BuildInfo> S> void fields(V& v, S& s) {
  v(s.product_uri, s.manufacturer_name, s.product_name, s.software_version, s.build_number,
    s.build_date);
}
template <typename V, Is<ServerStatusDataType> S> void fields(V& v, S& s) {
  v(s.start_time, s.current_time, s.state, s.build_info, s.seconds_till_shutdown,
    s.shutdown_reason);
}

// Service messages.
template <typename V, Is<ServiceFault> S> void fields(V& v, S& s) { v(s.header); }
template <typename V, Is<FindServersRequest> S> void fields(V& v, S& s) {
  v(s.header, s.endpoint_url, s.locale_ids, s.server_uris);
}
template <typename V, Is<FindServersResponse> S> void fields(V& v, S& s) { v(s.header, s.servers); }
template <typename V, Is<GetEndpointsRequest> S> void fields(V& v, S& s) {
  v(s.header, s.endpoint_url, s.locale_ids, s.profile_uris);
}
template <typename V, Is<GetEndpointsResponse> S> void fields(V& v, S& s) {
  v(s.header, s.endpoints);
}
template <typename V, Is<CreateSessionRequest> S> void fields(V& v, S& s) {
  v(s.header, s.client_description, s.server_uri, s.endpoint_url, s.session_name, s.client_nonce,
    s.client_certificate, s.requested_session_timeout, s.max_response_message_size);
}
template <typename V, Is<CreateSessionResponse> S> void fields(V& v, S& s) {
  v(s.header, s.session_id, s.authentication_token, s.revised_session_timeout, s.server_nonce,
    s.server_certificate, s.server_endpoints, s.server_software_certificates, s.server_signature,
    s.max_request_message_size);
}
template <typename V, Is<ActivateSessionRequest> S> void fields(V& v, S& s) {
  v(s.header, s.client_signature, s.client_software_certificates, s.locale_ids,
    s.user_identity_token, s.user_token_signature);
}
template <typename V, Is<ActivateSessionResponse> S> void fields(V& v, S& s) {
  v(s.header, s.server_nonce, s.results, s.diagnostic_infos);
}
template <typename V, Is<CloseSessionRequest> S> void fields(V& v, S& s) {
  v(s.header, s.delete_subscriptions);
}
template <typename V, Is<CloseSessionResponse> S> void fields(V& v, S& s) { v(s.header); }
template <typename V, Is<BrowseRequest> S> void fields(V& v, S& s) {
  v(s.header, s.view, s.requested_max_references_per_node, s.nodes_to_browse);
}
template <typename V, Is<BrowseResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<BrowseNextRequest> S> void fields(V& v, S& s) {
  v(s.header, s.release_continuation_points, s.continuation_points);
}
template <typename V, Is<BrowseNextResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<TranslateBrowsePathsToNodeIdsRequest> S> void fields(V& v, S& s) {
  v(s.header, s.browse_paths);
}
template <typename V, Is<TranslateBrowsePathsToNodeIdsResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<RegisterNodesRequest> S> void fields(V& v, S& s) {
  v(s.header, s.nodes_to_register);
}
template <typename V, Is<RegisterNodesResponse> S> void fields(V& v, S& s) {
  v(s.header, s.registered_node_ids);
}
template <typename V, Is<UnregisterNodesRequest> S> void fields(V& v, S& s) {
  v(s.header, s.nodes_to_unregister);
}
template <typename V, Is<UnregisterNodesResponse> S> void fields(V& v, S& s) { v(s.header); }
template <typename V, Is<ReadRequest> S> void fields(V& v, S& s) {
  v(s.header, s.max_age, s.timestamps_to_return, s.nodes_to_read);
}
template <typename V, Is<ReadResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<WriteRequest> S> void fields(V& v, S& s) { v(s.header, s.nodes_to_write); }
template <typename V, Is<WriteResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<CallRequest> S> void fields(V& v, S& s) { v(s.header, s.methods_to_call); }
template <typename V, Is<CallResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<CreateMonitoredItemsRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.timestamps_to_return, s.items_to_create);
}
template <typename V, Is<CreateMonitoredItemsResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<ModifyMonitoredItemsRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.timestamps_to_return, s.items_to_modify);
}
template <typename V, Is<ModifyMonitoredItemsResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<SetMonitoringModeRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.monitoring_mode, s.monitored_item_ids);
}
template <typename V, Is<SetMonitoringModeResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<DeleteMonitoredItemsRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.monitored_item_ids);
}
template <typename V, Is<DeleteMonitoredItemsResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<CreateSubscriptionRequest> S> void fields(V& v, S& s) {
  v(s.header, s.requested_publishing_interval, s.requested_lifetime_count,
    s.requested_max_keep_alive_count, s.max_notifications_per_publish, s.publishing_enabled,
    s.priority);
}
template <typename V, Is<CreateSubscriptionResponse> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.revised_publishing_interval, s.revised_lifetime_count,
    s.revised_max_keep_alive_count);
}
template <typename V, Is<ModifySubscriptionRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.requested_publishing_interval, s.requested_lifetime_count,
    s.requested_max_keep_alive_count, s.max_notifications_per_publish, s.priority);
}
template <typename V, Is<ModifySubscriptionResponse> S> void fields(V& v, S& s) {
  v(s.header, s.revised_publishing_interval, s.revised_lifetime_count,
    s.revised_max_keep_alive_count);
}
template <typename V, Is<SetPublishingModeRequest> S> void fields(V& v, S& s) {
  v(s.header, s.publishing_enabled, s.subscription_ids);
}
template <typename V, Is<SetPublishingModeResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<PublishRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_acknowledgements);
}
template <typename V, Is<PublishResponse> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.available_sequence_numbers, s.more_notifications,
    s.notification_message, s.results, s.diagnostic_infos);
}
template <typename V, Is<RepublishRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_id, s.retransmit_sequence_number);
}
template <typename V, Is<RepublishResponse> S> void fields(V& v, S& s) {
  v(s.header, s.notification_message);
}
template <typename V, Is<TransferSubscriptionsRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_ids, s.send_initial_values);
}
template <typename V, Is<TransferSubscriptionsResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
template <typename V, Is<DeleteSubscriptionsRequest> S> void fields(V& v, S& s) {
  v(s.header, s.subscription_ids);
}
template <typename V, Is<DeleteSubscriptionsResponse> S> void fields(V& v, S& s) {
  v(s.header, s.results, s.diagnostic_infos);
}
// clang-format on

struct Enc;
struct Dec;

template <typename T>
concept Structure = requires(Enc& e, const T& t) {
  fields(e, t);
};

// A binary ExtensionObject whose body is `v`'s encoding.
template <typename T>
ExtensionObject wrap(const T& v);

struct Enc {
  Writer& w;

  template <typename... T>
  void operator()(const T&... xs) {
    (one(xs), ...);
  }

  template <typename T>
  void one(const T& x) {
    if constexpr (std::is_same_v<T, bool>) {
      w.boolean(x);
    } else if constexpr (std::is_same_v<T, uint8_t>) {
      w.u8(x);
    } else if constexpr (std::is_same_v<T, uint32_t>) {
      w.u32(x);
    } else if constexpr (std::is_same_v<T, int32_t>) {
      w.i32(x);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      w.i64(x);
    } else if constexpr (std::is_same_v<T, double>) {
      w.f64(x);
    } else if constexpr (std::is_enum_v<T>) {
      static_assert(sizeof(T) == 4, "enumerations are 32 bits on the wire");
      w.u32(static_cast<uint32_t>(x));
    } else if constexpr (std::is_same_v<T, std::string>) {
      // In structures an empty String or ByteString is sent as null: "not given".
      if (x.empty()) {
        w.null_string();
      } else {
        w.string(x);
      }
    } else if constexpr (IsVector<T>::value) {
      w.i32(static_cast<int32_t>(x.size()));
      for (const auto& e : x) one(e);
    } else if constexpr (IsStdVariant<T>::value) {
      std::visit(
          [&](const auto& alt) {
            using A = std::decay_t<decltype(alt)>;
            if constexpr (std::is_same_v<A, ExtensionObject>) {
              encode(w, alt);
            } else {
              encode(w, wrap(alt));
            }
          },
          x);
    } else if constexpr (Structure<T>) {
      fields(*this, x);
    } else {
      encode(w, x);  // the built-in types of types.h
    }
  }
};

template <typename T>
ExtensionObject wrap(const T& v) {
  ExtensionObject eo;
  eo.type_id = NodeId::make_numeric(0, T::kBinaryEncodingId);
  eo.encoding = ExtensionObject::Encoding::kBinary;
  Writer w(&eo.body);
  Enc e{w};
  e.one(v);
  return eo;
}

// The fewest bytes one T takes on the wire: what a default T encodes to (null strings, empty
// arrays, two-byte node ids and empty masks are each type's shortest form), except that an
// ExtensionObject-or-known-structure may be a 3-byte null ExtensionObject.
template <typename T>
size_t min_wire_size() {
  if constexpr (IsStdVariant<T>::value) {
    return 3;
  } else {
    static const size_t size = [] {
      Bytes b;
      Writer w(&b);
      Enc e{w};
      e.one(T{});
      return b.size();
    }();
    return size;
  }
}

template <typename T>
const char* wire_name() {
  if constexpr (std::is_same_v<T, std::string>) {
    return "String";
  } else if constexpr (std::is_same_v<T, DiagnosticInfo>) {
    return "DiagnosticInfo";
  } else if constexpr (std::is_same_v<T, DataValue>) {
    return "DataValue";
  } else if constexpr (std::is_same_v<T, Variant>) {
    return "Variant";
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    return "UInt32";
  } else {
    return "structure";
  }
}

struct Dec {
  Reader& r;

  template <typename... T>
  void operator()(T&... xs) {
    (one(xs), ...);
  }

  template <typename T>
  void one(T& x) {
    if constexpr (std::is_same_v<T, bool>) {
      x = r.boolean();
    } else if constexpr (std::is_same_v<T, uint8_t>) {
      x = r.u8();
    } else if constexpr (std::is_same_v<T, uint32_t>) {
      x = r.u32();
    } else if constexpr (std::is_same_v<T, int32_t>) {
      x = r.i32();
    } else if constexpr (std::is_same_v<T, int64_t>) {
      x = r.i64();
    } else if constexpr (std::is_same_v<T, double>) {
      x = r.f64();
    } else if constexpr (std::is_enum_v<T>) {
      x = static_cast<T>(r.u32("Enumeration"));
    } else if constexpr (std::is_same_v<T, std::string>) {
      x = r.string();
    } else if constexpr (IsVector<T>::value) {
      using E = typename T::value_type;
      x.clear();
      const size_t n = r.array_length(wire_name<E>(), min_wire_size<E>());
      if (n == 0 || !r.charge(n * sizeof(E), wire_name<E>())) return;
      x.resize(n);
      for (size_t i = 0; i < n && r.ok(); ++i) one(x[i]);
      if (!r.ok()) x.clear();
    } else if constexpr (IsStdVariant<T>::value) {
      known_extension(x);
    } else if constexpr (Structure<T>) {
      if (r.enter("structure")) fields(*this, x);
      r.leave();
    } else {
      decode(r, x);  // the built-in types of types.h
    }
  }

  // An ExtensionObject that is decoded in place if its type id is one of the variant's known
  // structures (so the nesting limit and allocation budget still apply), else kept as bytes.
  template <typename... Alt>
  void known_extension(std::variant<Alt...>& x) {
    NodeId type_id;
    decode(r, type_id);
    const uint8_t encoding = r.u8("ExtensionObject encoding");
    if (!r.ok()) return;
    if (encoding > static_cast<uint8_t>(ExtensionObject::Encoding::kXml)) {
      r.fail("ExtensionObject", "unknown body encoding " + std::to_string(encoding));
      return;
    }
    bool done = false;
    if (encoding == static_cast<uint8_t>(ExtensionObject::Encoding::kBinary) && type_id.ns == 0 &&
        type_id.kind == NodeId::Kind::kNumeric) {
      (void)((try_known<Alt>(x, type_id.numeric, done) || ...));
    }
    if (done || !r.ok()) return;
    ExtensionObject eo;
    eo.type_id = std::move(type_id);
    eo.encoding = static_cast<ExtensionObject::Encoding>(encoding);
    if (eo.encoding != ExtensionObject::Encoding::kNone)
      eo.body = r.bytestring("ExtensionObject body");
    x = std::move(eo);
  }

  template <typename A, typename... Alt>
  bool try_known(std::variant<Alt...>& x, uint32_t id, bool& done) {
    if constexpr (std::is_same_v<A, ExtensionObject>) {
      return false;
    } else {
      if (id != A::kBinaryEncodingId) return false;
      const int32_t length = r.i32("ExtensionObject length");
      if (!r.ok()) return true;
      if (length < 0 || static_cast<size_t>(length) > r.remaining()) {
        r.fail("ExtensionObject", "body length " + std::to_string(length) + " exceeds the " +
                                      std::to_string(r.remaining()) + " bytes left");
        return true;
      }
      const size_t body_start = r.position();
      A value{};
      one(value);
      const size_t used = r.position() - body_start;
      if (r.ok() && used > static_cast<size_t>(length)) {
        r.fail("ExtensionObject", "structure runs past its body's length");
      } else if (r.ok()) {
        (void)r.raw(static_cast<size_t>(length) - used, "ExtensionObject body");  // newer fields
      }
      if (r.ok()) x = std::move(value);
      done = true;
      return true;
    }
  }
};

struct MessageName {
  uint32_t id;
  std::string_view name;
};
constexpr MessageName kMessageNames[] = {
    {ids::kServiceFault_Encoding_DefaultBinary, "ServiceFault"},
    {ids::kFindServersRequest_Encoding_DefaultBinary, "FindServersRequest"},
    {ids::kFindServersResponse_Encoding_DefaultBinary, "FindServersResponse"},
    {ids::kGetEndpointsRequest_Encoding_DefaultBinary, "GetEndpointsRequest"},
    {ids::kGetEndpointsResponse_Encoding_DefaultBinary, "GetEndpointsResponse"},
    {ids::kOpenSecureChannelRequest_Encoding_DefaultBinary, "OpenSecureChannelRequest"},
    {ids::kOpenSecureChannelResponse_Encoding_DefaultBinary, "OpenSecureChannelResponse"},
    {ids::kCloseSecureChannelRequest_Encoding_DefaultBinary, "CloseSecureChannelRequest"},
    {ids::kCreateSessionRequest_Encoding_DefaultBinary, "CreateSessionRequest"},
    {ids::kCreateSessionResponse_Encoding_DefaultBinary, "CreateSessionResponse"},
    {ids::kActivateSessionRequest_Encoding_DefaultBinary, "ActivateSessionRequest"},
    {ids::kActivateSessionResponse_Encoding_DefaultBinary, "ActivateSessionResponse"},
    {ids::kCloseSessionRequest_Encoding_DefaultBinary, "CloseSessionRequest"},
    {ids::kCloseSessionResponse_Encoding_DefaultBinary, "CloseSessionResponse"},
    {ids::kBrowseRequest_Encoding_DefaultBinary, "BrowseRequest"},
    {ids::kBrowseResponse_Encoding_DefaultBinary, "BrowseResponse"},
    {ids::kBrowseNextRequest_Encoding_DefaultBinary, "BrowseNextRequest"},
    {ids::kBrowseNextResponse_Encoding_DefaultBinary, "BrowseNextResponse"},
    {ids::kTranslateBrowsePathsToNodeIdsRequest_Encoding_DefaultBinary,
     "TranslateBrowsePathsToNodeIdsRequest"},
    {ids::kTranslateBrowsePathsToNodeIdsResponse_Encoding_DefaultBinary,
     "TranslateBrowsePathsToNodeIdsResponse"},
    {ids::kRegisterNodesRequest_Encoding_DefaultBinary, "RegisterNodesRequest"},
    {ids::kRegisterNodesResponse_Encoding_DefaultBinary, "RegisterNodesResponse"},
    {ids::kUnregisterNodesRequest_Encoding_DefaultBinary, "UnregisterNodesRequest"},
    {ids::kUnregisterNodesResponse_Encoding_DefaultBinary, "UnregisterNodesResponse"},
    {ids::kReadRequest_Encoding_DefaultBinary, "ReadRequest"},
    {ids::kReadResponse_Encoding_DefaultBinary, "ReadResponse"},
    {ids::kWriteRequest_Encoding_DefaultBinary, "WriteRequest"},
    {ids::kWriteResponse_Encoding_DefaultBinary, "WriteResponse"},
    {ids::kCallRequest_Encoding_DefaultBinary, "CallRequest"},
    {ids::kCallResponse_Encoding_DefaultBinary, "CallResponse"},
    {ids::kCreateMonitoredItemsRequest_Encoding_DefaultBinary, "CreateMonitoredItemsRequest"},
    {ids::kCreateMonitoredItemsResponse_Encoding_DefaultBinary, "CreateMonitoredItemsResponse"},
    {ids::kModifyMonitoredItemsRequest_Encoding_DefaultBinary, "ModifyMonitoredItemsRequest"},
    {ids::kModifyMonitoredItemsResponse_Encoding_DefaultBinary, "ModifyMonitoredItemsResponse"},
    {ids::kSetMonitoringModeRequest_Encoding_DefaultBinary, "SetMonitoringModeRequest"},
    {ids::kSetMonitoringModeResponse_Encoding_DefaultBinary, "SetMonitoringModeResponse"},
    {ids::kDeleteMonitoredItemsRequest_Encoding_DefaultBinary, "DeleteMonitoredItemsRequest"},
    {ids::kDeleteMonitoredItemsResponse_Encoding_DefaultBinary, "DeleteMonitoredItemsResponse"},
    {ids::kCreateSubscriptionRequest_Encoding_DefaultBinary, "CreateSubscriptionRequest"},
    {ids::kCreateSubscriptionResponse_Encoding_DefaultBinary, "CreateSubscriptionResponse"},
    {ids::kModifySubscriptionRequest_Encoding_DefaultBinary, "ModifySubscriptionRequest"},
    {ids::kModifySubscriptionResponse_Encoding_DefaultBinary, "ModifySubscriptionResponse"},
    {ids::kSetPublishingModeRequest_Encoding_DefaultBinary, "SetPublishingModeRequest"},
    {ids::kSetPublishingModeResponse_Encoding_DefaultBinary, "SetPublishingModeResponse"},
    {ids::kPublishRequest_Encoding_DefaultBinary, "PublishRequest"},
    {ids::kPublishResponse_Encoding_DefaultBinary, "PublishResponse"},
    {ids::kRepublishRequest_Encoding_DefaultBinary, "RepublishRequest"},
    {ids::kRepublishResponse_Encoding_DefaultBinary, "RepublishResponse"},
    {ids::kTransferSubscriptionsRequest_Encoding_DefaultBinary, "TransferSubscriptionsRequest"},
    {ids::kTransferSubscriptionsResponse_Encoding_DefaultBinary, "TransferSubscriptionsResponse"},
    {ids::kDeleteSubscriptionsRequest_Encoding_DefaultBinary, "DeleteSubscriptionsRequest"},
    {ids::kDeleteSubscriptionsResponse_Encoding_DefaultBinary, "DeleteSubscriptionsResponse"},
    {ids::kCloseSecureChannelResponse_Encoding_DefaultBinary, "CloseSecureChannelResponse"},
};

std::string type_id_text(uint32_t id) {
  std::string out = "i=" + std::to_string(id);
  const std::string_view name = message_name(id);
  if (!name.empty()) out += " (" + std::string(name) + ")";
  return out;
}

// The leading type id: a numeric NodeId in namespace 0. Fails the reader otherwise.
uint32_t read_type_id(Reader& r) {
  NodeId id;
  decode(r, id);
  if (!r.ok()) return 0;
  if (id.ns != 0 || id.kind != NodeId::Kind::kNumeric) {
    r.fail("message type id", "\"" + id.to_string() + "\" is not a numeric id in namespace 0");
    return 0;
  }
  return id.numeric;
}

void check_end(Reader& r) {
  if (r.ok() && !r.at_end()) {
    r.fail("message", std::to_string(r.remaining()) + " bytes follow the message's last field");
  }
}

template <typename M, typename Any>
void decode_into(Reader& r, Any& out) {
  M m;
  Dec d{r};
  d.one(m);
  if (r.ok()) out = std::move(m);
}

template <typename Any, size_t... I>
bool decode_alternative(Reader& r, uint32_t id, Any& out, std::index_sequence<I...>) {
  return ((std::variant_alternative_t<I, Any>::kBinaryEncodingId == id
               ? (decode_into<std::variant_alternative_t<I, Any>>(r, out), true)
               : false) ||
          ...);
}

template <typename Any>
Result<Any> decode_any(std::string_view body, const char* kind) {
  Reader r(body);
  const uint32_t id = read_type_id(r);
  if (!r.ok()) return r.status();
  Any out;
  if (!decode_alternative(r, id, out, std::make_index_sequence<std::variant_size_v<Any>>{})) {
    return corruption(std::string("OPC UA ") + kind + " at offset 0: type id " + type_id_text(id) +
                      " is not a " + kind + " this client decodes");
  }
  check_end(r);
  if (!r.ok()) return r.status().with_context(std::string(message_name(id)));
  return out;
}

template <typename Any, size_t... I>
bool is_alternative_id(uint32_t id, std::index_sequence<I...>) {
  return ((std::variant_alternative_t<I, Any>::kBinaryEncodingId == id) || ...);
}

std::string service_of(uint32_t response_id) {
  std::string name(message_name(response_id));
  constexpr std::string_view kSuffix = "Response";
  if (name.ends_with(kSuffix)) name.resize(name.size() - kSuffix.size());
  return name;
}

}  // namespace

std::string_view message_name(uint32_t type_id) {
  for (const MessageName& m : kMessageNames) {
    if (m.id == type_id) return m.name;
  }
  return {};
}

template <typename Message>
void encode_message(Writer& w, const Message& m) {
  encode(w, NodeId::make_numeric(0, Message::kBinaryEncodingId));
  Enc e{w};
  e.one(m);
}

Bytes encode_any(const AnyRequest& m) {
  return std::visit([](const auto& x) { return encode_message(x); }, m);
}
Bytes encode_any(const AnyResponse& m) {
  return std::visit([](const auto& x) { return encode_message(x); }, m);
}

Result<AnyResponse> decode_response(std::string_view body) {
  return decode_any<AnyResponse>(body, "response");
}
Result<AnyRequest> decode_request(std::string_view body) {
  return decode_any<AnyRequest>(body, "request");
}

template <typename Message>
Result<Message> decode_message(std::string_view body) {
  Reader r(body);
  const uint32_t id = read_type_id(r);
  if (!r.ok()) return r.status();
  if (id != Message::kBinaryEncodingId) {
    return corruption("OPC UA message at offset 0: expected type id " +
                      type_id_text(Message::kBinaryEncodingId) + ", got " + type_id_text(id));
  }
  Message m;
  Dec d{r};
  d.one(m);
  check_end(r);
  if (!r.ok()) return r.status().with_context(std::string(message_name(id)));
  return m;
}

Result<ResponsePreamble> peek_response(std::string_view body) {
  Reader r(body);
  ResponsePreamble out;
  out.type_id = read_type_id(r);
  if (!r.ok()) return r.status();
  if (!is_alternative_id<AnyResponse>(
          out.type_id, std::make_index_sequence<std::variant_size_v<AnyResponse>>{})) {
    return corruption("OPC UA response at offset 0: type id " + type_id_text(out.type_id) +
                      " is not a response this client decodes");
  }
  Dec d{r};
  d.one(out.header);
  if (!r.ok()) return r.status();
  return out;
}

const ResponseHeader& response_header(const AnyResponse& r) {
  return std::visit([](const auto& m) -> const ResponseHeader& { return m.header; }, r);
}
const RequestHeader& request_header(const AnyRequest& r) {
  return std::visit([](const auto& m) -> const RequestHeader& { return m.header; }, r);
}
RequestHeader& request_header(AnyRequest& r) {
  return std::visit([](auto& m) -> RequestHeader& { return m.header; }, r);
}

Status status_to_service_status(StatusCode code, std::string_view service) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", code);
  std::string message = std::string(service) + ": " + std::string(status_name(code));
  if (status_name(code).empty()) message += "status";
  message += std::string(" (") + hex + ")";
  switch (status::code_part(code)) {
    case status::kBadTimeout:
    case status::kBadRequestTimeout: return {Code::kTimeout, message};
    case status::kBadCommunicationError:
    case status::kBadServerHalted:
    case status::kBadServerNotConnected:
    case status::kBadShutdown:
    case status::kBadSecureChannelClosed:
    case status::kBadSecureChannelIdInvalid:
    case status::kBadSecureChannelTokenUnknown:
    case status::kBadConnectionClosed:
    case status::kBadConnectionRejected:
    case status::kBadDisconnect:
    case status::kBadNotConnected:
    case status::kBadNoCommunication:
    case status::kBadTooManySessions:
    case status::kBadServerTooBusy:
    case status::kBadResourceUnavailable:
    case status::kBadOutOfMemory:
    case status::kBadTcpInternalError: return {Code::kUnavailable, message};
    case status::kBadSessionIdInvalid:
    case status::kBadSessionClosed:
    case status::kBadSessionNotActivated:
    case status::kBadNoSubscription:
    case status::kBadSubscriptionIdInvalid: return {Code::kFailedPrecondition, message};
    case status::kBadTooManyOperations:
    case status::kBadTooManyPublishRequests:
    case status::kBadTooManySubscriptions:
    case status::kBadTooManyMonitoredItems:
    case status::kBadRequestTooLarge:
    case status::kBadResponseTooLarge: return {Code::kResourceExhausted, message};
    default: return {Code::kInvalidArgument, message};
  }
}

template <typename Response>
Result<Response> take_response(Result<AnyResponse> any) {
  if (!any.ok()) return any.status();
  const std::string service = service_of(Response::kBinaryEncodingId);
  if (const auto* fault = std::get_if<ServiceFault>(&*any)) {
    return status_to_service_status(fault->header.service_result == 0
                                        ? status::kBadUnexpectedError
                                        : fault->header.service_result,
                                    service);
  }
  auto* response = std::get_if<Response>(&*any);
  if (response == nullptr) {
    const uint32_t got = std::visit(
        [](const auto& m) { return std::decay_t<decltype(m)>::kBinaryEncodingId; }, *any);
    return corruption(service + ": expected " + type_id_text(Response::kBinaryEncodingId) +
                      ", got " + type_id_text(got));
  }
  if (is_bad(response->header.service_result)) {
    return status_to_service_status(response->header.service_result, service);
  }
  return std::move(*response);
}

template <typename T>
ExtensionObject make_extension(const T& v) {
  return wrap(v);
}

template <typename T>
Result<T> decode_extension(const ExtensionObject& eo) {
  const NodeId expected = NodeId::make_numeric(0, T::kBinaryEncodingId);
  if (eo.type_id != expected || eo.encoding != ExtensionObject::Encoding::kBinary) {
    return invalid_argument(
        "ExtensionObject of type " + eo.type_id.to_string() +
        (eo.encoding == ExtensionObject::Encoding::kBinary ? "" : " (not binary)") +
        " is not the structure with encoding " + expected.to_string());
  }
  Reader r(eo.body);
  T v{};
  Dec d{r};
  d.one(v);
  if (!r.ok()) return r.status().with_context("ExtensionObject " + expected.to_string());
  return v;
}

// Every message and known structure the header promises.
#define SLUICE_OPCUA_MESSAGE(M)                       \
  template void encode_message<M>(Writer&, const M&); \
  template Result<M> decode_message<M>(std::string_view);
#define SLUICE_OPCUA_RESPONSE(M) \
  SLUICE_OPCUA_MESSAGE(M)        \
  template Result<M> take_response<M>(Result<AnyResponse>);
#define SLUICE_OPCUA_STRUCTURE(T)                       \
  template ExtensionObject make_extension<T>(const T&); \
  template Result<T> decode_extension<T>(const ExtensionObject&);

SLUICE_OPCUA_MESSAGE(FindServersRequest)
SLUICE_OPCUA_MESSAGE(GetEndpointsRequest)
SLUICE_OPCUA_MESSAGE(CreateSessionRequest)
SLUICE_OPCUA_MESSAGE(ActivateSessionRequest)
SLUICE_OPCUA_MESSAGE(CloseSessionRequest)
SLUICE_OPCUA_MESSAGE(BrowseRequest)
SLUICE_OPCUA_MESSAGE(BrowseNextRequest)
SLUICE_OPCUA_MESSAGE(TranslateBrowsePathsToNodeIdsRequest)
SLUICE_OPCUA_MESSAGE(RegisterNodesRequest)
SLUICE_OPCUA_MESSAGE(UnregisterNodesRequest)
SLUICE_OPCUA_MESSAGE(ReadRequest)
SLUICE_OPCUA_MESSAGE(WriteRequest)
SLUICE_OPCUA_MESSAGE(CallRequest)
SLUICE_OPCUA_MESSAGE(CreateMonitoredItemsRequest)
SLUICE_OPCUA_MESSAGE(ModifyMonitoredItemsRequest)
SLUICE_OPCUA_MESSAGE(SetMonitoringModeRequest)
SLUICE_OPCUA_MESSAGE(DeleteMonitoredItemsRequest)
SLUICE_OPCUA_MESSAGE(CreateSubscriptionRequest)
SLUICE_OPCUA_MESSAGE(ModifySubscriptionRequest)
SLUICE_OPCUA_MESSAGE(SetPublishingModeRequest)
SLUICE_OPCUA_MESSAGE(PublishRequest)
SLUICE_OPCUA_MESSAGE(RepublishRequest)
SLUICE_OPCUA_MESSAGE(TransferSubscriptionsRequest)
SLUICE_OPCUA_MESSAGE(DeleteSubscriptionsRequest)
SLUICE_OPCUA_MESSAGE(ServiceFault)
SLUICE_OPCUA_RESPONSE(FindServersResponse)
SLUICE_OPCUA_RESPONSE(GetEndpointsResponse)
SLUICE_OPCUA_RESPONSE(CreateSessionResponse)
SLUICE_OPCUA_RESPONSE(ActivateSessionResponse)
SLUICE_OPCUA_RESPONSE(CloseSessionResponse)
SLUICE_OPCUA_RESPONSE(BrowseResponse)
SLUICE_OPCUA_RESPONSE(BrowseNextResponse)
SLUICE_OPCUA_RESPONSE(TranslateBrowsePathsToNodeIdsResponse)
SLUICE_OPCUA_RESPONSE(RegisterNodesResponse)
SLUICE_OPCUA_RESPONSE(UnregisterNodesResponse)
SLUICE_OPCUA_RESPONSE(ReadResponse)
SLUICE_OPCUA_RESPONSE(WriteResponse)
SLUICE_OPCUA_RESPONSE(CallResponse)
SLUICE_OPCUA_RESPONSE(CreateMonitoredItemsResponse)
SLUICE_OPCUA_RESPONSE(ModifyMonitoredItemsResponse)
SLUICE_OPCUA_RESPONSE(SetMonitoringModeResponse)
SLUICE_OPCUA_RESPONSE(DeleteMonitoredItemsResponse)
SLUICE_OPCUA_RESPONSE(CreateSubscriptionResponse)
SLUICE_OPCUA_RESPONSE(ModifySubscriptionResponse)
SLUICE_OPCUA_RESPONSE(SetPublishingModeResponse)
SLUICE_OPCUA_RESPONSE(PublishResponse)
SLUICE_OPCUA_RESPONSE(RepublishResponse)
SLUICE_OPCUA_RESPONSE(TransferSubscriptionsResponse)
SLUICE_OPCUA_RESPONSE(DeleteSubscriptionsResponse)
SLUICE_OPCUA_STRUCTURE(AnonymousIdentityToken)
SLUICE_OPCUA_STRUCTURE(UserNameIdentityToken)
SLUICE_OPCUA_STRUCTURE(X509IdentityToken)
SLUICE_OPCUA_STRUCTURE(IssuedIdentityToken)
SLUICE_OPCUA_STRUCTURE(DataChangeFilter)
SLUICE_OPCUA_STRUCTURE(DataChangeNotification)
SLUICE_OPCUA_STRUCTURE(StatusChangeNotification)
SLUICE_OPCUA_STRUCTURE(Range)
SLUICE_OPCUA_STRUCTURE(EUInformation)
SLUICE_OPCUA_STRUCTURE(Argument)
SLUICE_OPCUA_STRUCTURE(BuildInfo)
SLUICE_OPCUA_STRUCTURE(ServerStatusDataType)

#undef SLUICE_OPCUA_STRUCTURE
#undef SLUICE_OPCUA_RESPONSE
#undef SLUICE_OPCUA_MESSAGE

}  // namespace sluice::opcua
