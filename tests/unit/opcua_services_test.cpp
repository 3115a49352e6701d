// OPC UA service messages (protocols/opcua/services.h): every request and response round trips;
// captures of node-opcua's encoder (tests/data/opcua/*.bin, made by
// tests/fixtures/opcua_encode.mjs) decode to the values it was given; requests encoded here
// decode in node-opcua; malformed bodies (unknown type ids, truncation, forged counts) are
// errors with the offset; the kept fuzz inputs (fuzz/corpus/opcua_*) replay cleanly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "fixtures/test_support.h"
#include "fuzz/opcua_targets.h"
#include "protocols/opcua/services.h"

namespace sluice::opcua {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::filesystem::path data_dir() {
  return std::filesystem::path(testing::source_dir()) / "tests" / "data" / "opcua";
}

std::string capture(const std::string& name) {
  const std::string bytes = read_file(data_dir() / (name + ".bin"));
  EXPECT_FALSE(bytes.empty()) << "missing capture " << name
                              << ".bin: run node tests/fixtures/opcua_encode.mjs";
  return bytes;
}

template <typename M>
M decode_capture(const std::string& name) {
  Result<M> m = decode_message<M>(capture(name));
  EXPECT_TRUE(m.ok()) << name << ": " << m.status().to_string();
  return m.ok() ? std::move(*m) : M{};
}

// 2024-01-02T03:04:05.678Z and a second later, as the capture script sets them.
constexpr int64_t kT0UnixNs = 1704164645678000000;
constexpr int64_t kT1UnixNs = 1704164646678000000;

template <typename M>
void expect_round_trip(const M& m) {
  const Bytes bytes = encode_message(m);
  Result<M> back = decode_message<M>(bytes);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, m) << message_name(M::kBinaryEncodingId);
  if constexpr (std::is_constructible_v<AnyResponse, M>) {
    Result<AnyResponse> any = decode_response(bytes);
    ASSERT_TRUE(any.ok()) << any.status().to_string();
    ASSERT_TRUE(std::holds_alternative<M>(*any));
    EXPECT_EQ(encode_any(*any), bytes);
  } else {
    Result<AnyRequest> any = decode_request(bytes);
    ASSERT_TRUE(any.ok()) << any.status().to_string();
    ASSERT_TRUE(std::holds_alternative<M>(*any));
    EXPECT_EQ(encode_any(*any), bytes);
  }
}

RequestHeader some_request_header(uint32_t handle) {
  RequestHeader h;
  h.authentication_token = NodeId::make_opaque(0, "token");
  h.timestamp = unix_ns_to_datetime(kT0UnixNs);
  h.request_handle = handle;
  h.timeout_hint = 5000;
  return h;
}

ResponseHeader some_response_header(uint32_t handle) {
  ResponseHeader h;
  h.timestamp = unix_ns_to_datetime(kT1UnixNs);
  h.request_handle = handle;
  h.string_table = {"a", "b"};
  h.service_diagnostics.additional_info = "diag";
  return h;
}

DataValue some_data_value() {
  DataValue dv;
  dv.value = Variant::of<BuiltinType::kDouble>(21.5);
  dv.status = status::kUncertainSubNormal;
  dv.source_timestamp = unix_ns_to_datetime(kT0UnixNs);
  dv.server_timestamp = unix_ns_to_datetime(kT1UnixNs);
  dv.server_picoseconds = 12;
  return dv;
}

EndpointDescription some_endpoint() {
  EndpointDescription e;
  e.endpoint_url = "opc.tcp://127.0.0.1:4840";
  e.server.application_uri = "urn:server";
  e.server.application_name = {"en", "Server"};
  e.server.application_type = ApplicationType::kServer;
  e.server.discovery_urls = {"opc.tcp://127.0.0.1:4840"};
  e.server_certificate = "cert";
  e.security_mode = MessageSecurityMode::kSignAndEncrypt;
  e.security_policy_uri = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";
  e.user_identity_tokens = {{"anon", UserTokenType::kAnonymous, "", "", ""},
                            {"user", UserTokenType::kUserName, "", "", "urn:policy"}};
  e.transport_profile_uri = "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary";
  e.security_level = 3;
  return e;
}

// ---- round trips ----

TEST(OpcuaServicesTest, EveryRequestRoundTrips) {
  FindServersRequest find;
  find.header = some_request_header(1);
  find.endpoint_url = "opc.tcp://h:4840";
  find.server_uris = {"urn:a"};
  expect_round_trip(find);

  GetEndpointsRequest ge;
  ge.header = some_request_header(2);
  ge.endpoint_url = "opc.tcp://h:4840";
  ge.locale_ids = {"en"};
  ge.profile_uris = {"http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary"};
  expect_round_trip(ge);

  CreateSessionRequest cs;
  cs.header = some_request_header(3);
  cs.client_description.application_uri = "urn:sluice";
  cs.client_description.application_name = {"", "Sluice"};
  cs.endpoint_url = "opc.tcp://h:4840";
  cs.session_name = "sluice-1";
  cs.client_nonce = std::string(32, '\x05');
  cs.client_certificate = "der";
  cs.requested_session_timeout = 120000;
  cs.max_response_message_size = 1 << 24;
  expect_round_trip(cs);

  ActivateSessionRequest as;
  as.header = some_request_header(4);
  as.client_signature = {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "sig"};
  as.locale_ids = {"en", "de"};
  as.user_identity_token = UserNameIdentityToken{"user", "operator", "secret", ""};
  expect_round_trip(as);
  as.user_identity_token = AnonymousIdentityToken{"anon"};
  expect_round_trip(as);
  as.user_identity_token = X509IdentityToken{"x509", "der"};
  expect_round_trip(as);
  as.user_identity_token = IssuedIdentityToken{"jwt", "token", "urn:alg"};
  expect_round_trip(as);

  CloseSessionRequest close;
  close.header = some_request_header(5);
  close.delete_subscriptions = false;
  expect_round_trip(close);

  BrowseRequest browse;
  browse.header = some_request_header(6);
  browse.requested_max_references_per_node = 100;
  BrowseDescription bd;
  bd.node_id = NodeId::make_numeric(0, ids::kObjectsFolder);
  bd.browse_direction = BrowseDirection::kBoth;
  bd.node_class_mask =
      static_cast<uint32_t>(NodeClass::kObject) | static_cast<uint32_t>(NodeClass::kVariable);
  browse.nodes_to_browse = {bd, bd};
  expect_round_trip(browse);

  BrowseNextRequest next;
  next.header = some_request_header(7);
  next.release_continuation_points = true;
  next.continuation_points = {"cp1", "cp2"};
  expect_round_trip(next);

  TranslateBrowsePathsToNodeIdsRequest tr;
  tr.header = some_request_header(8);
  BrowsePath path;
  path.starting_node = NodeId::make_numeric(0, ids::kObjectsFolder);
  RelativePathElement el;
  el.target_name = {1, "Plant"};
  path.relative_path.elements = {el, el};
  path.relative_path.elements[1].target_name = {1, "Motor"};
  path.relative_path.elements[1].reference_type_id = NodeId::make_numeric(0, ids::kHasComponent);
  tr.browse_paths = {path};
  expect_round_trip(tr);

  ReadRequest read;
  read.header = some_request_header(9);
  read.max_age = 500;
  read.timestamps_to_return = TimestampsToReturn::kSource;
  read.nodes_to_read = {{NodeId::make_string(1, "Sine"), AttributeId::kValue, "", {}},
                        {NodeId::make_numeric(0, ids::kServer_NamespaceArray),
                         AttributeId::kValue,
                         "0:1",
                         {0, "Default Binary"}}};
  expect_round_trip(read);

  WriteRequest write;
  write.header = some_request_header(10);
  write.nodes_to_write = {
      {NodeId::make_string(1, "Motor.Speed"), AttributeId::kValue, "", some_data_value()}};
  expect_round_trip(write);

  CallRequest call;
  call.header = some_request_header(11);
  call.methods_to_call = {
      {NodeId::make_string(1, "Motor"),
       NodeId::make_string(1, "Motor.Reset"),
       {Variant::of<BuiltinType::kDouble>(12.5), Variant::array_of<BuiltinType::kString>({"a"})}}};
  expect_round_trip(call);

  CreateMonitoredItemsRequest cmi;
  cmi.header = some_request_header(12);
  cmi.subscription_id = 7;
  MonitoredItemCreateRequest item;
  item.item_to_monitor.node_id = NodeId::make_string(1, "Sine");
  item.requested_parameters.client_handle = 1;
  item.requested_parameters.sampling_interval = 100;
  item.requested_parameters.queue_size = 10;
  item.requested_parameters.filter = DataChangeFilter{
      DataChangeTrigger::kStatusValueTimestamp, static_cast<uint32_t>(DeadbandType::kPercent), 2.5};
  cmi.items_to_create = {item, item};
  cmi.items_to_create[1].requested_parameters.filter = ExtensionObject{};  // no filter
  expect_round_trip(cmi);

  ModifyMonitoredItemsRequest mmi;
  mmi.header = some_request_header(21);
  mmi.subscription_id = 7;
  mmi.items_to_modify = {{11, item.requested_parameters}};
  expect_round_trip(mmi);

  SetMonitoringModeRequest smm;
  smm.header = some_request_header(22);
  smm.subscription_id = 7;
  smm.monitoring_mode = MonitoringMode::kSampling;
  smm.monitored_item_ids = {11, 12};
  expect_round_trip(smm);

  RegisterNodesRequest reg;
  reg.header = some_request_header(23);
  reg.nodes_to_register = {NodeId::make_string(1, "Sine"), NodeId::make_numeric(1, 4242)};
  expect_round_trip(reg);

  UnregisterNodesRequest unreg;
  unreg.header = some_request_header(24);
  unreg.nodes_to_unregister = {NodeId::make_numeric(1, 4242)};
  expect_round_trip(unreg);

  DeleteMonitoredItemsRequest dmi;
  dmi.header = some_request_header(13);
  dmi.subscription_id = 7;
  dmi.monitored_item_ids = {1, 2, 3};
  expect_round_trip(dmi);

  CreateSubscriptionRequest csub;
  csub.header = some_request_header(14);
  csub.requested_publishing_interval = 250;
  csub.priority = 5;
  expect_round_trip(csub);

  ModifySubscriptionRequest msub;
  msub.header = some_request_header(15);
  msub.subscription_id = 7;
  msub.requested_publishing_interval = 2000;
  expect_round_trip(msub);

  SetPublishingModeRequest spm;
  spm.header = some_request_header(16);
  spm.publishing_enabled = false;
  spm.subscription_ids = {7, 8};
  expect_round_trip(spm);

  PublishRequest pub;
  pub.header = some_request_header(17);
  pub.subscription_acknowledgements = {{7, 3}, {7, 4}};
  expect_round_trip(pub);

  RepublishRequest rep;
  rep.header = some_request_header(18);
  rep.subscription_id = 7;
  rep.retransmit_sequence_number = 3;
  expect_round_trip(rep);

  TransferSubscriptionsRequest ts;
  ts.header = some_request_header(19);
  ts.subscription_ids = {7};
  expect_round_trip(ts);

  DeleteSubscriptionsRequest ds;
  ds.header = some_request_header(20);
  ds.subscription_ids = {7, 9};
  expect_round_trip(ds);
}

TEST(OpcuaServicesTest, EveryResponseRoundTrips) {
  ServiceFault fault;
  fault.header = some_response_header(1);
  fault.header.service_result = status::kBadTooManySessions;
  expect_round_trip(fault);

  FindServersResponse fs;
  fs.header = some_response_header(2);
  fs.servers = {some_endpoint().server};
  expect_round_trip(fs);

  GetEndpointsResponse ge;
  ge.header = some_response_header(3);
  ge.endpoints = {some_endpoint(), some_endpoint()};
  expect_round_trip(ge);

  CreateSessionResponse cs;
  cs.header = some_response_header(4);
  cs.session_id = NodeId::make_numeric(1, 1001);
  cs.authentication_token = NodeId::make_opaque(0, "tok");
  cs.revised_session_timeout = 30000;
  cs.server_nonce = std::string(32, '\x07');
  cs.server_endpoints = {some_endpoint()};
  cs.server_software_certificates = {{"cert", "sig"}};
  cs.server_signature = {"alg", "sig"};
  cs.max_request_message_size = 1 << 24;
  expect_round_trip(cs);

  ActivateSessionResponse as;
  as.header = some_response_header(5);
  as.server_nonce = "nonce";
  as.results = {status::kGood};
  as.diagnostic_infos = {DiagnosticInfo{}};
  expect_round_trip(as);

  CloseSessionResponse close;
  close.header = some_response_header(6);
  expect_round_trip(close);

  BrowseResult br;
  br.continuation_point = "cp";
  ReferenceDescription ref;
  ref.reference_type_id = NodeId::make_numeric(0, ids::kOrganizes);
  ref.node_id.node_id = NodeId::make_string(1, "Plant");
  ref.browse_name = {1, "Plant"};
  ref.display_name = {"", "Plant"};
  ref.node_class = NodeClass::kObject;
  ref.type_definition.node_id = NodeId::make_numeric(0, ids::kFolderType);
  br.references = {ref, ref};
  BrowseResponse browse;
  browse.header = some_response_header(7);
  browse.results = {br, BrowseResult{status::kBadNodeIdUnknown, "", {}}};
  expect_round_trip(browse);

  BrowseNextResponse next;
  next.header = some_response_header(8);
  next.results = {br};
  expect_round_trip(next);

  TranslateBrowsePathsToNodeIdsResponse tr;
  tr.header = some_response_header(9);
  tr.results = {{status::kGood, {{ExpandedNodeId{NodeId::make_string(1, "M"), "", 0}, 0xFFFFFFFF}}},
                {status::kBadNoMatch, {}}};
  expect_round_trip(tr);

  ReadResponse read;
  read.header = some_response_header(10);
  read.results = {some_data_value(), DataValue{}, DataValue{Variant(), status::kBadNotReadable}};
  read.diagnostic_infos = {DiagnosticInfo{}};
  expect_round_trip(read);

  WriteResponse write;
  write.header = some_response_header(11);
  write.results = {status::kGood, status::kBadTypeMismatch};
  expect_round_trip(write);

  CallResponse call;
  call.header = some_response_header(12);
  CallMethodResult cr;
  cr.input_argument_results = {status::kGood};
  cr.output_arguments = {Variant::of<BuiltinType::kDouble>(3)};
  call.results = {cr};
  expect_round_trip(call);

  CreateMonitoredItemsResponse cmi;
  cmi.header = some_response_header(13);
  cmi.results = {{status::kGood, 11, 250, 10, ExtensionObject{}},
                 {status::kBadNodeIdUnknown, 0, 0, 0, ExtensionObject{}}};
  expect_round_trip(cmi);

  ModifyMonitoredItemsResponse mmi;
  mmi.header = some_response_header(22);
  mmi.results = {{status::kGood, 500, 4, ExtensionObject{}}};
  expect_round_trip(mmi);

  SetMonitoringModeResponse smm;
  smm.header = some_response_header(23);
  smm.results = {status::kGood, status::kBadMonitoredItemIdInvalid};
  expect_round_trip(smm);

  RegisterNodesResponse reg;
  reg.header = some_response_header(24);
  reg.registered_node_ids = {NodeId::make_numeric(1, 1), NodeId::make_numeric(1, 2)};
  expect_round_trip(reg);

  UnregisterNodesResponse unreg;
  unreg.header = some_response_header(25);
  expect_round_trip(unreg);

  DeleteMonitoredItemsResponse dmi;
  dmi.header = some_response_header(14);
  dmi.results = {status::kGood};
  expect_round_trip(dmi);

  CreateSubscriptionResponse csub;
  csub.header = some_response_header(15);
  csub.subscription_id = 7;
  csub.revised_publishing_interval = 250;
  csub.revised_lifetime_count = 60;
  csub.revised_max_keep_alive_count = 10;
  expect_round_trip(csub);

  ModifySubscriptionResponse msub;
  msub.header = some_response_header(16);
  msub.revised_publishing_interval = 500;
  expect_round_trip(msub);

  SetPublishingModeResponse spm;
  spm.header = some_response_header(17);
  spm.results = {status::kGood};
  expect_round_trip(spm);

  PublishResponse pub;
  pub.header = some_response_header(18);
  pub.subscription_id = 7;
  pub.available_sequence_numbers = {3, 4};
  pub.more_notifications = true;
  pub.notification_message.sequence_number = 4;
  pub.notification_message.publish_time = unix_ns_to_datetime(kT1UnixNs);
  DataChangeNotification dcn;
  dcn.monitored_items = {{1, some_data_value()}, {2, DataValue{}}};
  ExtensionObject events;
  events.type_id = NodeId::make_numeric(0, ids::kEventNotificationList_Encoding_DefaultBinary);
  events.encoding = ExtensionObject::Encoding::kBinary;
  events.body = std::string("\x00\x00\x00\x00", 4);
  pub.notification_message.notification_data = {
      dcn, StatusChangeNotification{status::kBadTimeout, {}}, events};
  pub.results = {status::kGood};
  expect_round_trip(pub);

  RepublishResponse rep;
  rep.header = some_response_header(19);
  rep.notification_message = pub.notification_message;
  expect_round_trip(rep);

  TransferSubscriptionsResponse ts;
  ts.header = some_response_header(20);
  ts.results = {{status::kGood, {5, 6}}};
  expect_round_trip(ts);

  DeleteSubscriptionsResponse ds;
  ds.header = some_response_header(21);
  ds.results = {status::kGood, status::kBadSubscriptionIdInvalid};
  expect_round_trip(ds);
}

TEST(OpcuaServicesTest, RequestStartsWithFourByteTypeIdAndHeader) {
  ReadRequest read;
  read.header.request_handle = 0x01020304;
  const Bytes bytes = encode_message(read);
  // i=631 as a four-byte NodeId, then the header's null authentication token (two-byte i=0),
  // the zero timestamp and the request handle.
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x01\x00\x77\x02", 4));
  EXPECT_EQ(bytes.substr(4, 2), std::string("\x00\x00", 2));
  EXPECT_EQ(bytes.substr(14, 4), std::string("\x04\x03\x02\x01", 4));
}

// ---- node-opcua captures ----

TEST(OpcuaCaptureTest, ReadResponseWithEveryBuiltinTypeDecodes) {
  const ReadResponse r = decode_capture<ReadResponse>("read_response");
  EXPECT_EQ(r.header.request_handle, 42u);
  EXPECT_EQ(datetime_to_unix_ns(r.header.timestamp), kT0UnixNs);
  EXPECT_EQ(r.header.string_table, (std::vector<std::string>{"first", "second"}));
  ASSERT_EQ(r.results.size(), 31u);
  for (size_t i = 0; i < 25; ++i) {
    EXPECT_EQ(static_cast<size_t>(r.results[i].value.type()), i + 1) << "result " << i;
    EXPECT_EQ(r.results[i].value.is_array(), i + 1 == 24) << "result " << i;
  }
  const auto& v = [&](size_t i) -> const Variant& { return r.results[i].value; };
  EXPECT_EQ(v(0).boolean(), true);
  EXPECT_EQ(*v(1).scalar<int8_t>(), -100);
  EXPECT_EQ(*v(2).scalar<uint8_t>(), 200);
  EXPECT_EQ(*v(3).scalar<int16_t>(), -30000);
  EXPECT_EQ(*v(4).scalar<uint16_t>(), 60000);
  EXPECT_EQ(*v(5).scalar<int32_t>(), -2000000000);
  EXPECT_EQ(*v(6).scalar<uint32_t>(), 4000000000u);
  EXPECT_EQ(*v(7).scalar<int64_t>(), -2);
  EXPECT_EQ(*v(8).scalar<uint64_t>(), 4294967298u);
  EXPECT_EQ(*v(9).scalar<float>(), 1.5f);
  EXPECT_EQ(*v(10).scalar<double>(), -2.25);
  EXPECT_EQ(*v(11).scalar<std::string>(),
            "Motor.Speed \xC2\xB0"
            "C");
  EXPECT_EQ(datetime_to_unix_ns(*v(12).scalar<int64_t>()), kT0UnixNs);
  EXPECT_EQ(guid_to_string(*v(13).scalar<Guid>()), "09087e75-8e5e-499b-954f-f2a9603db28a");
  EXPECT_EQ(*v(14).scalar<std::string>(), std::string("\x00\x01\x02\xfe\xff", 5));
  EXPECT_EQ(*v(15).scalar<std::string>(), "<a>1</a>");
  EXPECT_EQ(v(16).scalar<NodeId>()->to_string(), "ns=2;s=Motor.Speed");
  EXPECT_EQ(v(17).scalar<ExpandedNodeId>()->to_string(), "svr=3;nsu=urn:sluice:test;i=4242");
  EXPECT_EQ(*v(18).scalar<uint32_t>(), status::kBadNodeIdUnknown);
  EXPECT_EQ(*v(19).scalar<QualifiedName>(), (QualifiedName{1, "Plant"}));
  EXPECT_EQ(*v(20).scalar<LocalizedText>(), (LocalizedText{"en-US", "Speed"}));
  Result<Range> range = decode_extension<Range>(*v(21).scalar<ExtensionObject>());
  ASSERT_TRUE(range.ok()) << range.status().to_string();
  EXPECT_EQ(*range, (Range{-10, 110.5}));
  const DataValue& inner = *v(22).scalar<DataValue>();
  EXPECT_EQ(*inner.value.scalar<int32_t>(), 7);
  EXPECT_EQ(inner.status, status::kUncertainLastUsableValue);
  const std::vector<Variant>& nested = *v(23).array<Variant>();
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(*nested[0].scalar<int32_t>(), 1);
  EXPECT_EQ(*nested[1].scalar<std::string>(), "two");
  const DiagnosticInfo& diag = *v(24).scalar<DiagnosticInfo>();
  EXPECT_EQ(diag.symbolic_id, 3);
  EXPECT_EQ(diag.additional_info, "why");
  EXPECT_EQ(diag.inner_status_code, status::kBadTimeout);

  const std::vector<double>& doubles = *v(25).array<double>();
  ASSERT_EQ(doubles.size(), 3u);
  EXPECT_EQ(doubles[0], 1.25);
  EXPECT_TRUE(std::signbit(doubles[1]));
  EXPECT_EQ(doubles[2], 1e300);
  EXPECT_EQ(*v(26).array<std::string>(), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(*v(27).array<int32_t>(), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(v(27).dimensions(), (std::vector<int32_t>{2, 3}));
  EXPECT_TRUE(v(28).is_null());

  const DataValue& all = r.results[29];
  EXPECT_EQ(*all.value.scalar<double>(), 21.5);
  EXPECT_EQ(all.status, status::kUncertainSubNormal);
  EXPECT_EQ(datetime_to_unix_ns(all.source_timestamp), kT0UnixNs);
  // The wire counts 10 ps units: node-opcua was given 1234 and 5678 picoseconds.
  EXPECT_EQ(all.source_picoseconds, 123);
  EXPECT_EQ(datetime_to_unix_ns(all.server_timestamp), kT1UnixNs);
  EXPECT_EQ(all.server_picoseconds, 567);
  EXPECT_TRUE(r.results[30].value.is_null());
  EXPECT_EQ(r.results[30].status, status::kBadNotReadable);

  ASSERT_EQ(r.diagnostic_infos.size(), 1u);
  const DiagnosticInfo& d = r.diagnostic_infos[0];
  EXPECT_EQ(d.symbolic_id, 1);
  EXPECT_EQ(d.locale, 1);
  EXPECT_EQ(d.additional_info, "outer");
  EXPECT_EQ(d.inner_status_code, status::kBadInternalError);
  ASSERT_EQ(d.inner.size(), 1u);
  EXPECT_EQ(d.inner[0].additional_info, "inner");

  // Every scalar the gateway turns into a sample converts.
  EXPECT_TRUE(identical(*to_value(v(10)), Value(-2.25)));
  EXPECT_TRUE(identical(*to_value(v(8)), Value(int64_t{4294967298})));
}

TEST(OpcuaCaptureTest, PublishResponseCarriesDataChangesAndStatusChange) {
  Result<AnyResponse> any = decode_response(capture("publish_response"));
  ASSERT_TRUE(any.ok()) << any.status().to_string();
  EXPECT_EQ(response_header(*any).request_handle, 43u);
  Result<PublishResponse> p = take_response<PublishResponse>(std::move(any));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->subscription_id, 7u);
  EXPECT_EQ(p->available_sequence_numbers, (std::vector<uint32_t>{3, 4}));
  EXPECT_TRUE(p->more_notifications);
  EXPECT_EQ(p->notification_message.sequence_number, 4u);
  EXPECT_EQ(datetime_to_unix_ns(p->notification_message.publish_time), kT1UnixNs);
  const auto& data = p->notification_message.notification_data;
  ASSERT_EQ(data.size(), 3u);
  const auto* dcn = std::get_if<DataChangeNotification>(&data[0]);
  ASSERT_NE(dcn, nullptr);
  ASSERT_EQ(dcn->monitored_items.size(), 2u);
  EXPECT_EQ(dcn->monitored_items[0].client_handle, 1u);
  EXPECT_EQ(*dcn->monitored_items[0].value.value.scalar<double>(), 3.25);
  EXPECT_EQ(datetime_to_unix_ns(dcn->monitored_items[0].value.source_timestamp), kT0UnixNs);
  EXPECT_EQ(dcn->monitored_items[1].client_handle, 2u);
  EXPECT_EQ(*dcn->monitored_items[1].value.value.scalar<uint32_t>(), 99u);
  EXPECT_EQ(dcn->monitored_items[1].value.status, status::kUncertainLastUsableValue);
  const auto* scn = std::get_if<StatusChangeNotification>(&data[1]);
  ASSERT_NE(scn, nullptr);
  EXPECT_EQ(scn->status, status::kBadTimeout);
  const auto* events = std::get_if<ExtensionObject>(&data[2]);
  ASSERT_NE(events, nullptr);
  EXPECT_EQ(events->type_id,
            NodeId::make_numeric(0, ids::kEventNotificationList_Encoding_DefaultBinary));
  EXPECT_FALSE(events->body.empty());
  EXPECT_EQ(p->results,
            (std::vector<StatusCode>{status::kGood, status::kBadSequenceNumberUnknown}));
}

TEST(OpcuaCaptureTest, BrowseResponseKeepsContinuationPointAndExpandedIds) {
  const BrowseResponse b = decode_capture<BrowseResponse>("browse_response");
  EXPECT_EQ(b.header.request_handle, 44u);
  ASSERT_EQ(b.results.size(), 2u);
  EXPECT_EQ(b.results[0].continuation_point, std::string("\x01\x02\x03\x04", 4));
  ASSERT_EQ(b.results[0].references.size(), 2u);
  const ReferenceDescription& plant = b.results[0].references[0];
  EXPECT_EQ(plant.reference_type_id, NodeId::make_numeric(0, ids::kOrganizes));
  EXPECT_TRUE(plant.is_forward);
  EXPECT_EQ(plant.node_id.to_string(), "ns=1;s=Plant");
  EXPECT_EQ(plant.browse_name, (QualifiedName{1, "Plant"}));
  EXPECT_EQ(plant.display_name.text, "Plant");
  EXPECT_EQ(plant.node_class, NodeClass::kObject);
  EXPECT_EQ(plant.type_definition.node_id, NodeId::make_numeric(0, ids::kFolderType));
  const ReferenceDescription& other = b.results[0].references[1];
  EXPECT_FALSE(other.is_forward);
  EXPECT_EQ(other.node_id.to_string(),
            "svr=2;nsu=urn:other;g=09087e75-8e5e-499b-954f-f2a9603db28a");
  EXPECT_EQ(other.display_name, (LocalizedText{"de", "Andere"}));
  EXPECT_EQ(other.node_class, NodeClass::kVariable);
  EXPECT_EQ(b.results[1].status_code, status::kBadNodeIdUnknown);
}

TEST(OpcuaCaptureTest, GetEndpointsResponseListsPoliciesAndTokens) {
  const GetEndpointsResponse g = decode_capture<GetEndpointsResponse>("get_endpoints_response");
  ASSERT_EQ(g.endpoints.size(), 2u);
  const EndpointDescription& none = g.endpoints[0];
  EXPECT_EQ(none.endpoint_url, "opc.tcp://127.0.0.1:4840/UA/Sluice");
  EXPECT_EQ(none.security_mode, MessageSecurityMode::kNone);
  EXPECT_EQ(none.security_policy_uri, "http://opcfoundation.org/UA/SecurityPolicy#None");
  EXPECT_EQ(none.server.application_uri, "urn:sluice:test-server");
  EXPECT_EQ(none.server.application_name.text, "Sluice test server");
  EXPECT_EQ(none.server.application_type, ApplicationType::kServer);
  EXPECT_EQ(none.server.discovery_urls,
            (std::vector<std::string>{"opc.tcp://127.0.0.1:4840/UA/Sluice"}));
  EXPECT_EQ(none.server_certificate, "not-a-real-certificate");
  const EndpointDescription& secure = g.endpoints[1];
  EXPECT_EQ(secure.security_mode, MessageSecurityMode::kSignAndEncrypt);
  EXPECT_EQ(secure.security_level, 3);
  ASSERT_EQ(secure.user_identity_tokens.size(), 2u);
  EXPECT_EQ(secure.user_identity_tokens[0].token_type, UserTokenType::kAnonymous);
  EXPECT_EQ(secure.user_identity_tokens[1].policy_id, "username_basic256");
  EXPECT_EQ(secure.user_identity_tokens[1].token_type, UserTokenType::kUserName);
  EXPECT_EQ(secure.user_identity_tokens[1].security_policy_uri,
            "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256");
  EXPECT_EQ(secure.transport_profile_uri,
            "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary");
}

TEST(OpcuaCaptureTest, ServiceFaultBecomesAStatusNamingTheCode) {
  Result<AnyResponse> any = decode_response(capture("service_fault"));
  ASSERT_TRUE(any.ok()) << any.status().to_string();
  ASSERT_TRUE(std::holds_alternative<ServiceFault>(*any));
  EXPECT_EQ(response_header(*any).request_handle, 46u);
  EXPECT_EQ(response_header(*any).service_result, status::kBadSessionIdInvalid);
  Result<ReadResponse> read = take_response<ReadResponse>(std::move(any));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(read.status().message(), "Read: BadSessionIdInvalid (0x80250000)");

  Result<ResponsePreamble> peek = peek_response(capture("service_fault"));
  ASSERT_TRUE(peek.ok());
  EXPECT_EQ(peek->type_id, ids::kServiceFault_Encoding_DefaultBinary);
  EXPECT_EQ(peek->header.request_handle, 46u);
}

TEST(OpcuaCaptureTest, SessionMonitoredItemsCallAndTranslateResponsesDecode) {
  const auto cs = decode_capture<CreateSessionResponse>("create_session_response");
  EXPECT_EQ(cs.session_id, NodeId::make_numeric(1, 1001));
  EXPECT_EQ(cs.authentication_token, NodeId::make_opaque(0, "secret-token"));
  EXPECT_EQ(cs.revised_session_timeout, 30000);
  EXPECT_EQ(cs.server_nonce, std::string(32, '\x07'));
  EXPECT_EQ(cs.server_signature.algorithm, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
  EXPECT_EQ(cs.server_signature.signature, "\x09\x09");
  EXPECT_EQ(cs.max_request_message_size, 16777216u);

  const auto cmi = decode_capture<CreateMonitoredItemsResponse>("create_monitored_items_response");
  ASSERT_EQ(cmi.results.size(), 2u);
  EXPECT_EQ(cmi.results[0].monitored_item_id, 11u);
  EXPECT_EQ(cmi.results[0].revised_sampling_interval, 250);
  EXPECT_EQ(cmi.results[0].revised_queue_size, 10u);
  EXPECT_EQ(cmi.results[1].status_code, status::kBadNodeIdUnknown);

  const auto call = decode_capture<CallResponse>("call_response");
  ASSERT_EQ(call.results.size(), 1u);
  ASSERT_EQ(call.results[0].output_arguments.size(), 1u);
  EXPECT_EQ(*call.results[0].output_arguments[0].scalar<double>(), 12.5);

  const auto tr = decode_capture<TranslateBrowsePathsToNodeIdsResponse>("translate_response");
  ASSERT_EQ(tr.results.size(), 1u);
  ASSERT_EQ(tr.results[0].targets.size(), 1u);
  EXPECT_EQ(tr.results[0].targets[0].target_id.node_id, NodeId::make_string(1, "Motor.Speed"));
  EXPECT_EQ(tr.results[0].targets[0].remaining_path_index, 0xFFFFFFFFu);
}

TEST(OpcuaCaptureTest, NodeOpcuaRequestsDecodeHere) {
  const auto read = decode_capture<ReadRequest>("read_request");
  EXPECT_EQ(read.header.authentication_token, NodeId::make_opaque(0, "token-1234"));
  EXPECT_EQ(read.header.request_handle, 60u);
  EXPECT_EQ(read.header.timeout_hint, 10000u);
  EXPECT_EQ(read.timestamps_to_return, TimestampsToReturn::kBoth);
  ASSERT_EQ(read.nodes_to_read.size(), 2u);
  EXPECT_EQ(read.nodes_to_read[0].node_id, NodeId::make_string(1, "Sine"));
  EXPECT_EQ(read.nodes_to_read[0].attribute_id, AttributeId::kValue);
  EXPECT_EQ(read.nodes_to_read[1].index_range, "0:1");

  const auto cmi = decode_capture<CreateMonitoredItemsRequest>("create_monitored_items_request");
  EXPECT_EQ(cmi.subscription_id, 7u);
  EXPECT_EQ(cmi.timestamps_to_return, TimestampsToReturn::kSource);
  ASSERT_EQ(cmi.items_to_create.size(), 1u);
  const MonitoringParameters& p = cmi.items_to_create[0].requested_parameters;
  EXPECT_EQ(p.client_handle, 1u);
  EXPECT_EQ(p.sampling_interval, 100);
  EXPECT_EQ(p.queue_size, 5u);
  EXPECT_TRUE(p.discard_oldest);
  const auto* filter = std::get_if<DataChangeFilter>(&p.filter);
  ASSERT_NE(filter, nullptr);
  EXPECT_EQ(filter->trigger, DataChangeTrigger::kStatusValueTimestamp);
  EXPECT_EQ(filter->deadband_type, static_cast<uint32_t>(DeadbandType::kAbsolute));
  EXPECT_EQ(filter->deadband_value, 0.5);

  const auto as = decode_capture<ActivateSessionRequest>("activate_session_request");
  EXPECT_EQ(as.locale_ids, (std::vector<std::string>{"en"}));
  const auto* user = std::get_if<UserNameIdentityToken>(&as.user_identity_token);
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->policy_id, "username");
  EXPECT_EQ(user->user_name, "operator");
  EXPECT_EQ(user->password, "s3cret");

  const auto pub = decode_capture<PublishRequest>("publish_request");
  EXPECT_EQ(pub.subscription_acknowledgements, (std::vector<SubscriptionAcknowledgement>{{7, 3}}));
}

// Requests encoded here, decoded by node-opcua (tests/fixtures/opcua_encode.mjs --decode).
TEST(OpcuaCaptureTest, RequestsEncodedHereDecodeInNodeOpcua) {
  const std::filesystem::path script =
      std::filesystem::path(testing::source_dir()) / "tests" / "fixtures" / "opcua_encode.mjs";
  const std::filesystem::path peers = std::filesystem::path(testing::source_dir()) / "tests" /
                                      "peers" / "node_modules" / "node-opcua";
  if (testing::run_command("node --version").exit_code != 0 || !std::filesystem::exists(peers)) {
    GTEST_SKIP() << "node or tests/peers/node_modules missing (scripts/setup installs them)";
  }
  testing::TempDir dir;
  ReadRequest read;
  read.header = some_request_header(77);
  read.nodes_to_read = {{NodeId::make_string(1, "Motor.Speed"), AttributeId::kValue, "", {}}};
  CreateMonitoredItemsRequest cmi;
  cmi.header = some_request_header(78);
  cmi.subscription_id = 9;
  MonitoredItemCreateRequest item;
  item.item_to_monitor.node_id = NodeId::make_string(1, "Sine");
  item.requested_parameters.client_handle = 31;
  item.requested_parameters.filter = DataChangeFilter{
      DataChangeTrigger::kStatusValue, static_cast<uint32_t>(DeadbandType::kAbsolute), 0.25};
  cmi.items_to_create = {item};
  ActivateSessionRequest as;
  as.header = some_request_header(79);
  as.user_identity_token = UserNameIdentityToken{"username", "operator", "pw", ""};
  WriteRequest write;
  write.header = some_request_header(80);
  write.nodes_to_write = {{NodeId::make_string(1, "Motor.Speed"), AttributeId::kValue, "",
                           DataValue{Variant::of<BuiltinType::kDouble>(42.5)}}};
  const std::pair<std::string, Bytes> files[] = {
      {"read", encode_message(read)},
      {"cmi", encode_message(cmi)},
      {"activate", encode_message(as)},
      {"write", encode_message(write)},
  };
  const std::pair<std::string, std::vector<std::string>> expected[] = {
      {"read", {"Motor.Speed", "77"}},
      {"cmi", {"Sine", "0.25", "31"}},
      {"activate", {"operator", "UserNameIdentityToken"}},
      {"write", {"Motor.Speed", "42.5"}},
  };
  // One node run for all of them (loading node-opcua takes seconds).
  std::string command = "node " + script.string() + " --decode";
  for (const auto& [name, bytes] : files) {
    const std::string file = dir.file(name + ".bin");
    std::ofstream(file, std::ios::binary) << bytes;
    command += " " + file;
  }
  const testing::CommandResult r = testing::run_command(command + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& [name, needles] : expected) {
    // The part of the output after "=== <dir>/<name>.bin" and before the next file's.
    const size_t from = r.output.find("=== " + dir.file(name + ".bin"));
    ASSERT_NE(from, std::string::npos) << name << ":\n" << r.output;
    const std::string part = r.output.substr(from, r.output.find("=== ", from + 4) - from);
    for (const std::string& needle : needles) {
      EXPECT_NE(part.find(needle), std::string::npos) << name << " lacks " << needle << ":\n"
                                                      << part;
    }
  }
}

// ---- malformed bodies ----

TEST(OpcuaMalformedTest, UnknownTypeIdIsCorruptionWithTheOffset) {
  Result<AnyResponse> r = decode_response(std::string("\x01\x00\x0f\x27", 4));  // i=9999
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("offset 0"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("i=9999"), std::string::npos);

  // A request's id where a response belongs names the request.
  Result<AnyResponse> req = decode_response(encode_message(ReadRequest{}));
  ASSERT_FALSE(req.ok());
  EXPECT_NE(req.status().message().find("ReadRequest"), std::string::npos)
      << req.status().message();

  // A string type id.
  EXPECT_FALSE(decode_response(encode_to_bytes(NodeId::make_string(0, "x"))).ok());
  EXPECT_FALSE(decode_response("").ok());
}

TEST(OpcuaMalformedTest, TrailingBytesAreCorruption) {
  Result<AnyResponse> r = decode_response(encode_message(CloseSessionResponse{}) + "zz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("2 bytes follow"), std::string::npos) << r.status().message();
}

TEST(OpcuaMalformedTest, EveryTruncatedCaptureIsAnErrorNotACrash) {
  for (const auto& entry : std::filesystem::directory_iterator(data_dir())) {
    if (entry.path().extension() != ".bin") continue;
    const std::string bytes = read_file(entry.path());
    const bool is_request = entry.path().stem().string().ends_with("_request");
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string_view prefix = std::string_view(bytes).substr(0, n);
      if (is_request) {
        EXPECT_FALSE(decode_request(prefix).ok()) << entry.path() << " prefix " << n;
      } else {
        EXPECT_FALSE(decode_response(prefix).ok()) << entry.path() << " prefix " << n;
      }
    }
  }
}

TEST(OpcuaMalformedTest, ForgedCountsAreRefusedBeforeAllocating) {
  // A ReadResponse whose results count claims 1,000,000 DataValues in a few bytes.
  Bytes body;
  Writer w(&body);
  encode(w, NodeId::make_numeric(0, ids::kReadResponse_Encoding_DefaultBinary));
  Bytes header = encode_message(CloseSessionResponse{}).substr(4);  // a bare ResponseHeader
  w.raw(header);
  w.i32(1000000);
  w.u8(0);
  Result<AnyResponse> r = decode_response(body);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("array length 1000000"), std::string::npos)
      << r.status().message();

  // A negative count other than -1.
  Bytes neg;
  Writer wn(&neg);
  encode(wn, NodeId::make_numeric(0, ids::kWriteResponse_Encoding_DefaultBinary));
  wn.raw(header);
  wn.i32(-5);
  EXPECT_FALSE(decode_response(neg).ok());

  // An ExtensionObject body length beyond the message.
  Bytes ext;
  Writer we(&ext);
  encode(we, NodeId::make_numeric(0, ids::kPublishResponse_Encoding_DefaultBinary));
  we.raw(header);
  we.u32(7);  // subscription id
  we.i32(0);  // available sequence numbers
  we.u8(0);   // more notifications
  we.u32(1);  // sequence number
  we.i64(0);  // publish time
  we.i32(1);  // one notification
  encode(we, NodeId::make_numeric(0, ids::kDataChangeNotification_Encoding_DefaultBinary));
  we.u8(1);
  we.i32(0x7FFFFFF0);
  Result<AnyResponse> e = decode_response(ext);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kCorruption);
}

TEST(OpcuaMalformedTest, KnownStructureOverrunningItsBodyIsCorruption) {
  // A DataChangeNotification whose declared body is shorter than its fields.
  PublishResponse p;
  DataChangeNotification dcn;
  dcn.monitored_items = {{1, DataValue{Variant::of<BuiltinType::kDouble>(1)}}};
  p.notification_message.notification_data = {dcn};
  Bytes bytes = encode_message(p);
  const Bytes body = encode_to_bytes(make_extension(dcn));
  const size_t at = bytes.find(body);
  ASSERT_NE(at, Bytes::npos);
  // The length sits after the four-byte type id (i=811) and the encoding byte.
  bytes[at + 5] = static_cast<char>(static_cast<uint8_t>(bytes[at + 5]) - 2);
  Result<AnyResponse> r = decode_response(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("past its body"), std::string::npos) << r.status().message();
}

TEST(OpcuaTakeResponseTest, WrongTypeAndBadServiceResultBecomeStatuses) {
  ReadResponse read;
  read.header.service_result = status::kBadTooManyOperations;
  Result<ReadResponse> bad = take_response<ReadResponse>(decode_response(encode_message(read)));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(bad.status().message(), "Read: BadTooManyOperations (0x80100000)");

  Result<WriteResponse> wrong =
      take_response<WriteResponse>(decode_response(encode_message(ReadResponse{})));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kCorruption);
  EXPECT_NE(wrong.status().message().find("ReadResponse"), std::string::npos);

  ServiceFault timeout;
  timeout.header.service_result = status::kBadTimeout;
  EXPECT_EQ(take_response<BrowseResponse>(decode_response(encode_message(timeout))).status().code(),
            Code::kTimeout);
  EXPECT_EQ(status_to_service_status(0x80FF0000, "Call").message(), "Call: status (0x80FF0000)");
}

TEST(OpcuaExtensionTest, KnownStructuresWrapAndUnwrap) {
  const EUInformation eu{"http://www.opcfoundation.org/UA/units/un/cefact",
                         4408652,
                         {"",
                          "\xC2\xB0"
                          "C"},
                         {"en", "degree Celsius"}};
  const ExtensionObject eo = make_extension(eu);
  EXPECT_EQ(eo.type_id, NodeId::make_numeric(0, ids::kEUInformation_Encoding_DefaultBinary));
  Result<EUInformation> back = decode_extension<EUInformation>(eo);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, eu);
  Result<Range> wrong = decode_extension<Range>(eo);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kInvalidArgument);

  ServerStatusDataType st;
  st.start_time = 1;
  st.current_time = 2;
  st.state = ServerState::kRunning;
  st.build_info.product_name = "node-opcua";
  st.build_info.software_version = "2.182.2";
  EXPECT_EQ(*decode_extension<ServerStatusDataType>(make_extension(st)), st);
  Argument arg{"to", NodeId::make_numeric(0, ids::kDouble), -1, {}, {"", "new speed"}};
  EXPECT_EQ(*decode_extension<Argument>(make_extension(arg)), arg);
}

template <typename Any, size_t... I>
size_t count_named_alternatives(std::index_sequence<I...>) {
  return (size_t{0} + ... +
          (message_name(std::variant_alternative_t<I, Any>::kBinaryEncodingId).empty() ? 0 : 1));
}

TEST(OpcuaServicesTest, MessageNamesCoverEveryMessage) {
  EXPECT_EQ(message_name(ids::kReadResponse_Encoding_DefaultBinary), "ReadResponse");
  EXPECT_EQ(message_name(ids::kDeleteSubscriptionsResponse_Encoding_DefaultBinary),
            "DeleteSubscriptionsResponse");
  EXPECT_EQ(message_name(1), "");
  EXPECT_EQ(count_named_alternatives<AnyResponse>(
                std::make_index_sequence<std::variant_size_v<AnyResponse>>{}),
            std::variant_size_v<AnyResponse>);
  EXPECT_EQ(count_named_alternatives<AnyRequest>(
                std::make_index_sequence<std::variant_size_v<AnyRequest>>{}),
            std::variant_size_v<AnyRequest>);
}

// ---- kept fuzz inputs ----

size_t replay(const std::string& target, int (*body)(const uint8_t*, size_t)) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / target;
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string bytes = read_file(entry.path());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(body(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++n;
  }
  return n;
}

TEST(OpcuaFuzzCorpusTest, VariantCorpusReplaysCleanly) {
  EXPECT_GT(replay("opcua_variant", fuzz::opcua_variant), 0u);
}
TEST(OpcuaFuzzCorpusTest, ResponseCorpusReplaysCleanly) {
  EXPECT_GT(replay("opcua_response", fuzz::opcua_response), 0u);
}
TEST(OpcuaFuzzCorpusTest, NodeIdTextCorpusReplaysCleanly) {
  EXPECT_GT(replay("opcua_node_id_text", fuzz::opcua_node_id_text), 0u);
}

}  // namespace
}  // namespace sluice::opcua
