// The secure channel (protocols/opcua/secure_channel.h) against a real OPC UA server: node-opcua
// (tests/fixtures/opcua_server.mjs), with security policy None and Basic256Sha256 in modes Sign
// and SignAndEncrypt. GetEndpoints is encoded here by hand (the one service that needs neither
// a session nor the services layer): a good response proves that the server accepted the
// chunks, signatures and encryption, and that the client accepted the server's.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "fixtures/opcua_peer.h"
#include "fixtures/test_support.h"
#include "protocols/opcua/crypto.h"
#include "protocols/opcua/secure_channel.h"
#include "protocols/opcua/uasc.h"

namespace sluice::opcua {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kGetEndpointsRequestId = 428;
constexpr uint16_t kGetEndpointsResponseId = 431;

Bytes get_endpoints_request(const std::string& url, size_t profile_uris = 0) {
  Bytes out;
  Writer w(&out);
  w.u8(1);  // four-byte NodeId
  w.u8(0);
  w.u16(kGetEndpointsRequestId);
  uasc::encode_request_header(w, 1, 10000, 0);
  w.string(url);
  w.i32(0);  // LocaleIds
  // ProfileUris: a long list makes a request of several chunks (the server ignores unknown
  // profiles only if it finds one it knows, so the list ends with the binary transport's).
  w.i32(static_cast<int32_t>(profile_uris + (profile_uris > 0 ? 1 : 0)));
  for (size_t i = 0; i < profile_uris; ++i)
    w.string("urn:sluice:test:profile:" + std::to_string(i) + ":" + std::string(80, 'p'));
  if (profile_uris > 0)
    w.string("http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary");
  return out;
}

struct Endpoint {
  std::string url;
  Bytes server_certificate;
  int32_t mode = 0;
  std::string policy_uri;
  std::string anonymous_policy_id;
};

void skip_localized_text(Reader& r) {
  uint8_t mask = r.u8("LocalizedText mask");
  if (mask & 1) r.string("Locale");
  if (mask & 2) r.string("Text");
}

Endpoint read_endpoint(Reader& r) {
  Endpoint e;
  e.url = r.string("EndpointUrl");
  r.string("ApplicationUri");
  r.string("ProductUri");
  skip_localized_text(r);
  r.i32("ApplicationType");
  r.string("GatewayServerUri");
  r.string("DiscoveryProfileUri");
  size_t urls = r.array_length("DiscoveryUrls");
  for (size_t j = 0; j < urls && r.ok(); ++j) r.string("DiscoveryUrl");
  e.server_certificate = r.bytestring("ServerCertificate");
  e.mode = r.i32("SecurityMode");
  e.policy_uri = r.string("SecurityPolicyUri");
  size_t tokens = r.array_length("UserIdentityTokens");
  for (size_t j = 0; j < tokens && r.ok(); ++j) {
    std::string policy_id = r.string("PolicyId");
    if (r.i32("TokenType") == 0) e.anonymous_policy_id = policy_id;
    r.string("IssuedTokenType");
    r.string("IssuerEndpointUrl");
    r.string("SecurityPolicyUri");
  }
  r.string("TransportProfileUri");
  r.u8("SecurityLevel");
  return e;
}

// GetEndpointsResponse: the fields a test needs from each EndpointDescription.
Result<std::vector<Endpoint>> decode_get_endpoints(const Bytes& bytes) {
  Reader r(bytes);
  uint32_t type = uasc::read_type_id(r);
  uasc::ResponseHeaderSummary header = uasc::read_response_header(r);
  SLUICE_RETURN_IF_ERROR(r.status());
  if (type != kGetEndpointsResponseId)
    return corruption("type id " + std::to_string(type) + ", status " +
                      uasc::status_code_text(header.service_result));
  if (header.service_result != 0)
    return corruption("ServiceResult " + uasc::status_code_text(header.service_result));
  std::vector<Endpoint> out;
  size_t n = r.array_length("Endpoints");
  for (size_t i = 0; i < n && r.ok(); ++i) out.push_back(read_endpoint(r));
  SLUICE_RETURN_IF_ERROR(r.status());
  return out;
}

// --- a minimal anonymous session (CreateSession, ActivateSession) and Read, by hand: the way
// to make node-opcua send a response larger than one chunk ---

constexpr uint16_t kCreateSessionRequestId = 461;
constexpr uint16_t kCreateSessionResponseId = 464;
constexpr uint16_t kActivateSessionRequestId = 467;
constexpr uint16_t kActivateSessionResponseId = 470;
constexpr uint16_t kAnonymousIdentityTokenId = 321;
constexpr uint16_t kReadRequestId = 631;
constexpr uint16_t kReadResponseId = 634;
constexpr uint32_t kAttributeValue = 13;
constexpr uint16_t kNamespaceArrayNode = 2255;  // Server_NamespaceArray

void type_id(Writer& w, uint16_t id) {
  w.u8(1);
  w.u8(0);
  w.u16(id);
}

// A RequestHeader with `token` (an encoded NodeId) as its AuthenticationToken.
void session_header(Writer& w, const Bytes& token, uint32_t handle) {
  w.raw(token);
  w.datetime(0);
  w.u32(handle);
  w.u32(0);
  w.null_string();
  w.u32(10000);
  w.u8(0);
  w.u8(0);
  w.u8(0);
}

// Reads a NodeId and returns its encoded bytes.
Bytes raw_node_id(Reader& r, const Bytes& whole) {
  size_t start = r.position();
  uint8_t encoding = r.u8("NodeId");
  switch (encoding) {
    case 0: r.u8("NodeId"); break;
    case 1:
      r.u8("NodeId");
      r.u16("NodeId");
      break;
    case 2:
      r.u16("NodeId");
      r.u32("NodeId");
      break;
    case 3:
      r.u16("NodeId");
      r.string("NodeId");
      break;
    case 4:
      r.u16("NodeId");
      r.guid("NodeId");
      break;
    case 5:
      r.u16("NodeId");
      r.bytestring("NodeId");
      break;
    default: r.fail("NodeId", "unexpected encoding");
  }
  return whole.substr(start, r.position() - start);
}

// Creates and activates an anonymous session; returns its authentication token.
Result<Bytes> anonymous_session(SecureChannel& channel, const std::string& url,
                                const std::string& policy_id) {
  // A fresh nonce each time: node-opcua refuses one it has seen (BadNonceInvalid).
  SLUICE_ASSIGN_OR_RETURN(const Bytes client_nonce, random_bytes(32));
  Bytes create;
  Writer w(&create);
  type_id(w, kCreateSessionRequestId);
  uasc::encode_request_header(w, 2, 10000, 0);
  w.string("urn:localhost:sluice-test");  // ClientDescription.ApplicationUri
  w.string("urn:sluice");
  w.u8(2);
  w.string("sluice test");
  w.i32(1);  // Client
  w.null_string();
  w.null_string();
  w.i32(-1);
  w.null_string();  // ServerUri
  w.string(url);
  w.string("channel test");
  w.bytestring(client_nonce);
  w.bytestring(channel.client_certificate().der());
  w.f64(60000);
  w.u32(0);
  SLUICE_ASSIGN_OR_RETURN(Bytes created, channel.call(create));
  Reader r(created);
  const uint32_t type = uasc::read_type_id(r);
  auto header = uasc::read_response_header(r);
  if (type != kCreateSessionResponseId)
    return corruption("CreateSession: type " + std::to_string(type) + ", " +
                      uasc::status_code_text(header.service_result));
  if (header.service_result != 0)
    return corruption("CreateSession: " + uasc::status_code_text(header.service_result));
  raw_node_id(r, created);  // SessionId
  Bytes token = raw_node_id(r, created);
  r.f64("RevisedSessionTimeout");
  const Bytes server_nonce = r.bytestring("ServerNonce");
  const Bytes server_cert = r.bytestring("ServerCertificate");
  size_t endpoints = r.array_length("ServerEndpoints");
  for (size_t i = 0; i < endpoints && r.ok(); ++i) read_endpoint(r);
  size_t software = r.array_length("ServerSoftwareCertificates");
  for (size_t i = 0; i < software && r.ok(); ++i) {
    r.bytestring("CertificateData");
    r.bytestring("Signature");
  }
  r.string("ServerSignature Algorithm");
  const Bytes server_signature = r.bytestring("ServerSignature Signature");
  SLUICE_RETURN_IF_ERROR(r.status());
  // The server signed our certificate and nonce; we sign its certificate and nonce.
  SLUICE_RETURN_IF_ERROR(channel.verify_server_signature(
      channel.client_certificate().der() + client_nonce, server_signature));
  SLUICE_ASSIGN_OR_RETURN(Bytes client_signature,
                          channel.sign_with_client_key(server_cert + server_nonce));

  Bytes activate;
  Writer a(&activate);
  type_id(a, kActivateSessionRequestId);
  session_header(a, token, 3);
  a.string(kRsaSha256AlgorithmUri);  // ClientSignature
  a.bytestring(client_signature);
  a.i32(-1);  // ClientSoftwareCertificates
  a.i32(-1);  // LocaleIds
  type_id(a, kAnonymousIdentityTokenId);
  a.u8(1);  // a binary body
  Bytes body;
  Writer b(&body);
  b.string(policy_id);
  a.bytestring(body);
  a.null_string();  // UserTokenSignature
  a.null_string();
  SLUICE_ASSIGN_OR_RETURN(Bytes activated, channel.call(activate));
  Reader ra(activated);
  const uint32_t atype = uasc::read_type_id(ra);
  auto aheader = uasc::read_response_header(ra);
  if (atype != kActivateSessionResponseId)
    return corruption("ActivateSession: type " + std::to_string(atype) + ", " +
                      uasc::status_code_text(aheader.service_result));
  if (aheader.service_result != 0)
    return corruption("ActivateSession: " + uasc::status_code_text(aheader.service_result));
  return token;
}

// A Read of the server's NamespaceArray `count` times over.
Bytes read_request(const Bytes& token, int count) {
  Bytes out;
  Writer w(&out);
  type_id(w, kReadRequestId);
  session_header(w, token, 4);
  w.f64(0);  // MaxAge
  w.i32(2);  // TimestampsToReturn Both
  w.i32(count);
  for (int i = 0; i < count; ++i) {
    type_id(w, kNamespaceArrayNode);
    w.u32(kAttributeValue);
    w.null_string();  // IndexRange
    w.u16(0);         // DataEncoding
    w.null_string();
  }
  return out;
}

class OpcuaChannelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::filesystem::create_directories(dir_->path() + "/server");
    server_ = new testing::OpcuaServer(dir_->path() + "/server");
    auto id = load_or_create_identity(
        {dir_->path() + "/client-pki", "urn:localhost:sluice-test", "localhost"});
    if (!id.ok()) throw std::runtime_error(id.status().to_string());
    identity_ = new ApplicationIdentity(std::move(id).value());
  }
  static void TearDownTestSuite() {
    delete identity_;
    delete server_;
    delete dir_;
  }

  SecureChannelConfig config(SecurityPolicy policy, SecurityMode mode) const {
    SecureChannelConfig c;
    c.endpoint_url = server_->endpoint_url();
    c.policy = policy;
    c.mode = mode;
    c.client = *identity_;
    c.connect_timeout = 10s;
    c.request_timeout = 20s;
    return c;
  }

  // The server's certificate, from GetEndpoints over a channel without security (as the
  // session layer does it).
  Bytes server_certificate() const {
    SecureChannel plain(config(SecurityPolicy::kNone, SecurityMode::kNone));
    Status s = plain.open();
    if (!s.ok()) throw std::runtime_error(s.to_string());
    auto r = plain.call(get_endpoints_request(server_->endpoint_url()));
    if (!r.ok()) throw std::runtime_error(r.status().to_string());
    auto endpoints = decode_get_endpoints(*r);
    if (!endpoints.ok()) throw std::runtime_error(endpoints.status().to_string());
    for (const Endpoint& e : *endpoints)
      if (!e.server_certificate.empty()) return e.server_certificate;
    throw std::runtime_error("no endpoint with a certificate");
  }

  static testing::TempDir* dir_;
  static testing::OpcuaServer* server_;
  static ApplicationIdentity* identity_;
};

testing::TempDir* OpcuaChannelTest::dir_ = nullptr;
testing::OpcuaServer* OpcuaChannelTest::server_ = nullptr;
ApplicationIdentity* OpcuaChannelTest::identity_ = nullptr;

TEST_F(OpcuaChannelTest, GetEndpointsOverPolicyNoneListsTheSecuredEndpoints) {
  SecureChannel channel(config(SecurityPolicy::kNone, SecurityMode::kNone));
  Status s = channel.open();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_NE(channel.info().channel_id, 0u);
  auto r = channel.call(get_endpoints_request(server_->endpoint_url()));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto endpoints = decode_get_endpoints(*r);
  ASSERT_TRUE(endpoints.ok()) << endpoints.status().to_string();
  int secured = 0;
  for (const Endpoint& e : *endpoints)
    if (e.policy_uri == kSecurityPolicyBasic256Sha256Uri && !e.server_certificate.empty())
      ++secured;
  EXPECT_GE(secured, 2) << "Sign and SignAndEncrypt endpoints for Basic256Sha256";
  channel.close();
  EXPECT_EQ(channel.status().code(), Code::kAborted);
}

class OpcuaSecuredChannelTest : public OpcuaChannelTest,
                                public ::testing::WithParamInterface<SecurityMode> {};

TEST_P(OpcuaSecuredChannelTest, GetEndpointsSucceedsOverBasic256Sha256) {
  SecureChannelConfig c = config(SecurityPolicy::kBasic256Sha256, GetParam());
  c.server_certificate = server_certificate();
  SecureChannel channel(c);
  Status s = channel.open();
  ASSERT_TRUE(s.ok()) << s.to_string() << "\nserver log: " << server_->log_file();
  EXPECT_EQ(channel.server_nonce().size(), 32u);
  EXPECT_EQ(channel.security_policy_uri(), kSecurityPolicyBasic256Sha256Uri);
  for (int i = 0; i < 3; ++i) {
    auto r = channel.call(get_endpoints_request(server_->endpoint_url()));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    auto endpoints = decode_get_endpoints(*r);
    ASSERT_TRUE(endpoints.ok()) << endpoints.status().to_string();
    EXPECT_GE(endpoints->size(), 3u);
  }
  // The session layer's helpers use the same keys and certificates.
  auto sig = channel.sign_with_client_key("data");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(rsa_sha256_verify(channel.client_certificate().public_key(), "data", *sig).ok());
  auto secret = channel.encrypt_for_server("password");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(secret->size(), channel.server_certificate().key_size_bytes());
}

TEST_P(OpcuaSecuredChannelTest, LargeRequestsAndResponsesTravelInSeveralChunks) {
  SecureChannelConfig c = config(SecurityPolicy::kBasic256Sha256, GetParam());
  c.server_certificate = server_certificate();
  c.limits.receive_buffer_size = 8192;
  c.limits.send_buffer_size = 8192;
  SecureChannel channel(c);
  Status s = channel.open();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(channel.info().send_chunk_size, 8192u);
  // A request of ~30 KB: four chunks or more out.
  const Bytes request = get_endpoints_request(server_->endpoint_url(), 300);
  ASSERT_GT(request.size(), 4u * 8192u);
  auto r = channel.call(request);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(decode_get_endpoints(*r).ok());
  EXPECT_GE(channel.info().chunks_sent, 4u);
  // A response of ~40 KB: the NamespaceArray read 400 times in one anonymous session.
  auto endpoints = decode_get_endpoints(*r);
  std::string policy_id;
  for (const Endpoint& e : *endpoints)
    if (e.policy_uri == kSecurityPolicyBasic256Sha256Uri &&
        e.mode == static_cast<int32_t>(GetParam()))
      policy_id = e.anonymous_policy_id;
  auto token = anonymous_session(channel, server_->endpoint_url(), policy_id);
  ASSERT_TRUE(token.ok()) << token.status().to_string();
  const ChannelInfo before = channel.info();
  auto read = channel.call(read_request(*token, 400));
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  const ChannelInfo after = channel.info();
  Reader rr(*read);
  EXPECT_EQ(uasc::read_type_id(rr), kReadResponseId);
  EXPECT_EQ(uasc::read_response_header(rr).service_result, 0u);
  EXPECT_EQ(rr.array_length("Results"), 400u);
  EXPECT_GT(read->size(), 4u * 8192u);
  EXPECT_GE(after.chunks_received - before.chunks_received, 5u);
  EXPECT_EQ(after.messages_received - before.messages_received, 1u);
}

TEST_P(OpcuaSecuredChannelTest, TheTokenIsRenewedAndRequestsSpanTheRenewals) {
  SecureChannelConfig c = config(SecurityPolicy::kBasic256Sha256, GetParam());
  c.server_certificate = server_certificate();
  c.requested_lifetime = 2500ms;  // node-opcua's smallest (g_MinimumSecureTokenLifetime)
  SecureChannel channel(c);
  ASSERT_TRUE(channel.open().ok());
  EXPECT_EQ(channel.info().revised_lifetime, 2500ms);
  const uint32_t first_token = channel.info().token_id;
  const auto end = std::chrono::steady_clock::now() + 6500ms;
  int calls = 0;
  while (std::chrono::steady_clock::now() < end) {
    auto r = channel.call(get_endpoints_request(server_->endpoint_url()));
    ASSERT_TRUE(r.ok()) << r.status().to_string() << " after " << calls << " calls";
    ASSERT_TRUE(decode_get_endpoints(*r).ok());
    ++calls;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(channel.info().tokens_issued, 3u);  // renewed at ~1.9 s and ~3.8 s (and ~5.6 s)
  EXPECT_NE(channel.info().token_id, first_token);
  EXPECT_TRUE(channel.status().ok()) << channel.status().to_string();
}

INSTANTIATE_TEST_SUITE_P(Modes, OpcuaSecuredChannelTest,
                         ::testing::Values(SecurityMode::kSign, SecurityMode::kSignAndEncrypt),
                         [](const auto& p) { return std::string(uasc::mode_name(p.param)); });

TEST_F(OpcuaChannelTest, PolicyNoneTokenIsRenewedToo) {
  SecureChannelConfig c = config(SecurityPolicy::kNone, SecurityMode::kNone);
  c.requested_lifetime = 2500ms;
  SecureChannel channel(c);
  ASSERT_TRUE(channel.open().ok());
  EXPECT_TRUE(testing::eventually([&] { return channel.info().tokens_issued >= 2; }, 10s));
  auto r = channel.call(get_endpoints_request(server_->endpoint_url()));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
}

TEST_F(OpcuaChannelTest, AStaleServerCertificateIsRefusedByTheServer) {
  // The channel encrypts for a certificate the server does not have (here: the client's own),
  // as after the server's certificate was renewed: the server cannot read the request.
  SecureChannelConfig c = config(SecurityPolicy::kBasic256Sha256, SecurityMode::kSign);
  c.server_certificate = identity_->certificate.der();
  c.request_timeout = 5s;
  SecureChannel channel(c);
  Status s = channel.open();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.to_string();
  EXPECT_NE(s.message().find("sent ERR in answer to OpenSecureChannel"), std::string::npos)
      << s.to_string();
}

// Last: it kills the suite's server (and starts it again for any test that might follow).
TEST_F(OpcuaChannelTest, AServerKillFailsOutstandingCallsWithUnavailable) {
  SecureChannelConfig c = config(SecurityPolicy::kBasic256Sha256, SecurityMode::kSignAndEncrypt);
  c.server_certificate = server_certificate();
  SecureChannel channel(c);
  ASSERT_TRUE(channel.open().ok());
  ASSERT_TRUE(channel.call(get_endpoints_request(server_->endpoint_url())).ok());
  // Stop the server so that the requests stay outstanding, then kill it.
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  std::vector<std::future<Status>> outstanding;
  for (int i = 0; i < 3; ++i) {
    auto p = std::make_shared<std::promise<Status>>();
    outstanding.push_back(p->get_future());
    channel.call_async(get_endpoints_request(server_->endpoint_url()),
                       [p](Result<Bytes> r) { p->set_value(r.status()); });
  }
  std::this_thread::sleep_for(200ms);
  server_->kill();
  for (auto& f : outstanding) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    Status s = f.get();
    EXPECT_EQ(s.code(), Code::kUnavailable) << s.to_string();
  }
  EXPECT_EQ(channel.status().code(), Code::kUnavailable);
  EXPECT_EQ(channel.call(get_endpoints_request(server_->endpoint_url())).status().code(),
            Code::kUnavailable);
  server_->start();
}

}  // namespace
}  // namespace sluice::opcua
