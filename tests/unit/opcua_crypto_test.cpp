// The OPC UA secure channel's cryptography (protocols/opcua/crypto.h), its chunk framing
// (uasc.h) and the channel itself (secure_channel.h) against an in-process fake server that
// speaks UA TCP and secure conversation from the server's side with the same framing
// functions. The real-server tests are in tests/integration/opcua_channel_test.cpp.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "fixtures/test_support.h"
#include "fuzz/opcua_targets.h"
#include "protocols/opcua/crypto.h"
#include "protocols/opcua/secure_channel.h"
#include "protocols/opcua/uasc.h"

namespace sluice::opcua {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
namespace asio = boost::asio;
using asio::ip::tcp;

Bytes unhex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// Two identities made once: RSA key generation takes a while.
class Identities {
 public:
  static Identities& get() {
    static Identities ids;
    return ids;
  }
  ApplicationIdentity client;
  ApplicationIdentity server;

 private:
  Identities() {
    auto c = load_or_create_identity({dir_.path() + "/client", "urn:test:client", "localhost"});
    auto s = load_or_create_identity({dir_.path() + "/server", "urn:test:server", "localhost"});
    if (!c.ok() || !s.ok()) throw std::runtime_error("identity: " + c.status().to_string());
    client = std::move(c).value();
    server = std::move(s).value();
  }
  testing::TempDir dir_;
};

// --- cryptography ---

TEST(OpcuaCryptoTest, PSha256MatchesTheTls12PrfSha256TestVector) {
  // P_SHA256(secret, label || seed) is TLS 1.2's PRF with SHA-256; this is the published test
  // vector (secret 9bbe..., label "test label", seed a0ba..., 100 bytes).
  const Bytes secret = unhex("9bbe436ba940f017b17652849a71db35");
  const Bytes seed = "test label" + unhex("a0ba9f936cda311827a6f796ffd5198c");
  const Bytes expected = unhex(
      "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e"
      "14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5"
      "a72e5a5110fff70187347b66");
  EXPECT_EQ(p_sha256(secret, seed, 100), expected);
  // A shorter output is a prefix of the longer one.
  EXPECT_EQ(p_sha256(secret, seed, 33), expected.substr(0, 33));
}

TEST(OpcuaCryptoTest, DerivedKeysHaveBasic256Sha256SizesAndMirrorBetweenSides) {
  const Bytes a(32, 'a');
  const Bytes b(32, 'b');
  uasc::ChannelKeys k = uasc::derive_keys(a, b);
  EXPECT_EQ(k.client.signing_key.size(), 32u);
  EXPECT_EQ(k.client.encrypting_key.size(), 32u);
  EXPECT_EQ(k.client.iv.size(), 16u);
  EXPECT_NE(k.client.signing_key, k.server.signing_key);
  // Client keys come from P_SHA256(server nonce, client nonce).
  EXPECT_EQ(k.client.signing_key, p_sha256(b, a, 80).substr(0, 32));
  EXPECT_EQ(k.server.iv, p_sha256(a, b, 80).substr(64, 16));
}

TEST(OpcuaCryptoTest, RsaSignatureVerifiesAndRefusesChangedData) {
  const auto& id = Identities::get().client;
  auto sig = rsa_sha256_sign(id.private_key, "server cert || server nonce");
  ASSERT_TRUE(sig.ok()) << sig.status().to_string();
  EXPECT_EQ(sig->size(), 256u);
  EXPECT_TRUE(
      rsa_sha256_verify(id.certificate.public_key(), "server cert || server nonce", *sig).ok());
  EXPECT_EQ(
      rsa_sha256_verify(id.certificate.public_key(), "server cert || server nonce!", *sig).code(),
      Code::kCorruption);
  Bytes bad = *sig;
  bad[10] ^= 1;
  EXPECT_EQ(
      rsa_sha256_verify(id.certificate.public_key(), "server cert || server nonce", bad).code(),
      Code::kCorruption);
}

TEST(OpcuaCryptoTest, RsaOaepRoundTripsAcrossSeveralBlocks) {
  const auto& id = Identities::get().server;
  Bytes plain;
  for (int i = 0; i < 500; ++i) plain.push_back(static_cast<char>(i * 7));
  auto cipher = rsa_oaep_sha1_encrypt(id.certificate.public_key(), plain);
  ASSERT_TRUE(cipher.ok()) << cipher.status().to_string();
  EXPECT_EQ(cipher->size(), 3u * 256u);  // 214 bytes of plain text per 256-byte block
  auto back = rsa_oaep_sha1_decrypt(id.private_key, *cipher);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, plain);
  Bytes bad = *cipher;
  bad[300] ^= 1;
  EXPECT_EQ(rsa_oaep_sha1_decrypt(id.private_key, bad).status().code(), Code::kCorruption);
  EXPECT_EQ(rsa_oaep_sha1_decrypt(id.private_key, bad.substr(1)).status().code(),
            Code::kCorruption);
}

TEST(OpcuaCryptoTest, AesCbcRoundTripsWholeBlocksAndRefusesPartialOnes) {
  const Bytes key(32, 'k');
  const Bytes iv(16, 'i');
  const Bytes plain(64, 'p');
  auto cipher = aes256_cbc_encrypt(key, iv, plain);
  ASSERT_TRUE(cipher.ok());
  EXPECT_EQ(cipher->size(), 64u);
  EXPECT_NE(*cipher, plain);
  EXPECT_EQ(*aes256_cbc_decrypt(key, iv, *cipher), plain);
  EXPECT_EQ(aes256_cbc_encrypt(key, iv, plain.substr(1)).status().code(), Code::kInvalidArgument);
}

TEST(OpcuaCryptoTest, IdentityIsCreatedOnceWithItsUriAndAPrivateKeyFile) {
  testing::TempDir dir;
  IdentityOptions o{dir.path() + "/pki", "urn:host-1:sluice", "host-1"};
  auto first = load_or_create_identity(o);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->certificate.application_uri(), "urn:host-1:sluice");
  EXPECT_EQ(first->certificate.key_size_bytes(), 256u);
  struct stat st {};
  ASSERT_EQ(::stat((o.directory + "/client_key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = load_or_create_identity(o);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->certificate.der(), first->certificate.der());
  EXPECT_EQ(again->certificate.thumbprint().size(), 20u);
  o.application_uri = "urn:other:sluice";
  auto other = load_or_create_identity(o);
  EXPECT_EQ(other.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("client_cert.der"), std::string::npos);
}

// --- framing ---

TEST(OpcuaChunkTest, TransportHeaderRefusesUnknownTypesAndSizesOutsideTheLimits) {
  EXPECT_EQ(uasc::decode_transport_header("XYZF\x20\0\0\0", 0).status().code(), Code::kCorruption);
  Bytes hel = uasc::encode_hello({}, "opc.tcp://h:1/x");
  EXPECT_TRUE(uasc::decode_transport_header(hel, 8192).ok());
  EXPECT_FALSE(uasc::decode_transport_header(hel, 20).ok());  // above the limit
  Bytes tiny("MSGF\x10\0\0\0", 8);                            // below MSG's header size
  EXPECT_FALSE(uasc::decode_transport_header(tiny, 0).ok());
  Bytes chunked_hello = hel;
  chunked_hello[3] = 'C';
  EXPECT_FALSE(uasc::decode_transport_header(chunked_hello, 0).ok());
  auto h = uasc::decode_hello(hel);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->endpoint_url, "opc.tcp://h:1/x");
  auto err = uasc::decode_error(uasc::encode_error(0x80830000u, "no such endpoint"));
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(uasc::status_code_text(err->status), "BadTcpEndpointUrlInvalid (0x80830000)");
}

class SymmetricChunkTest : public ::testing::TestWithParam<uasc::SecurityMode> {};

TEST_P(SymmetricChunkTest, RoundTripsAndRefusesEveryTamperedByte) {
  uasc::ChannelKeys keys = uasc::derive_keys(Bytes(32, '1'), Bytes(32, '2'));
  uasc::SymmetricContext ctx{GetParam(), 9, 4, &keys.client};
  auto chunk = uasc::encode_symmetric_chunk(uasc::MessageType::kMessage, 'F', ctx, {100, 5},
                                            "a service request body");
  ASSERT_TRUE(chunk.ok()) << chunk.status().to_string();
  auto lookup = [&](uint32_t token) { return token == 4 ? &keys.client : nullptr; };
  auto back = uasc::decode_symmetric_chunk(GetParam(), 9, lookup, *chunk);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->body, "a service request body");
  EXPECT_EQ(back->sequence.sequence_number, 100u);
  EXPECT_EQ(back->sequence.request_id, 5u);
  if (GetParam() == uasc::SecurityMode::kSignAndEncrypt) {
    EXPECT_EQ(chunk->find("service request"), std::string::npos);
    EXPECT_EQ((chunk->size() - 16) % 16, 0u);
  }
  if (GetParam() == uasc::SecurityMode::kNone) return;
  // Any changed byte after the size field fails the signature or a header check.
  for (size_t i = 8; i < chunk->size(); ++i) {
    Bytes bad = *chunk;
    bad[i] ^= 0x40;
    auto r = uasc::decode_symmetric_chunk(GetParam(), 9, lookup, bad);
    EXPECT_EQ(r.status().code(), Code::kCorruption) << "byte " << i;
  }
  // Keys of another token are refused.
  auto wrong = [&](uint32_t) { return &keys.server; };
  EXPECT_EQ(uasc::decode_symmetric_chunk(GetParam(), 9, wrong, *chunk).status().code(),
            Code::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(Modes, SymmetricChunkTest,
                         ::testing::Values(uasc::SecurityMode::kNone, uasc::SecurityMode::kSign,
                                           uasc::SecurityMode::kSignAndEncrypt));

TEST(OpcuaChunkTest, SignedPaddingLargerThanTheBodyIsRefused) {
  // A chunk whose signature is right but whose padding size claims more bytes than there are:
  // built by hand, as only a broken or hostile peer would send it.
  uasc::ChannelKeys keys = uasc::derive_keys(Bytes(32, '1'), Bytes(32, '2'));
  Bytes plain;
  Writer w(&plain);
  w.u32(1);  // sequence number
  w.u32(1);  // request id
  w.raw(Bytes(7, 'b'));
  plain.push_back(static_cast<char>(200));  // PaddingSize 200, with 7 body bytes before it
  Bytes header;
  Writer h(&header);
  h.raw("MSGF");
  h.u32(static_cast<uint32_t>(16 + plain.size() + 32));
  h.u32(9);
  h.u32(4);
  Bytes sig = hmac_sha256(keys.client.signing_key, header + plain);
  auto cipher = aes256_cbc_encrypt(keys.client.encrypting_key, keys.client.iv, plain + sig);
  ASSERT_TRUE(cipher.ok());
  auto r = uasc::decode_symmetric_chunk(
      uasc::SecurityMode::kSignAndEncrypt, 9, [&](uint32_t) { return &keys.client; },
      header + *cipher);
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("padding size 200"), std::string::npos)
      << r.status().message();
}

TEST(OpcuaChunkTest, AsymmetricChunkRoundTripsAndChecksCertificatesAndSignature) {
  const auto& ids = Identities::get();
  uasc::AsymmetricContext client{uasc::SecurityPolicy::kBasic256Sha256,
                                 uasc::SecurityMode::kSign,
                                 0,
                                 &ids.client.certificate,
                                 &ids.client.private_key,
                                 &ids.server.certificate};
  uasc::AsymmetricContext server{uasc::SecurityPolicy::kBasic256Sha256,
                                 uasc::SecurityMode::kSign,
                                 0,
                                 &ids.server.certificate,
                                 &ids.server.private_key,
                                 &ids.client.certificate};
  uasc::OpenRequest q;
  q.client_nonce = Bytes(32, 'n');
  q.requested_lifetime_ms = 5000;
  q.mode = uasc::SecurityMode::kSign;
  auto chunk = uasc::encode_asymmetric_chunk(client, {1, 1}, uasc::encode_open_request(q));
  ASSERT_TRUE(chunk.ok()) << chunk.status().to_string();
  auto back = uasc::decode_asymmetric_chunk(server, *chunk);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  auto q2 = uasc::decode_open_request(back->body);
  ASSERT_TRUE(q2.ok()) << q2.status().to_string();
  EXPECT_EQ(q2->client_nonce, q.client_nonce);
  EXPECT_EQ(q2->requested_lifetime_ms, 5000u);
  // The last bytes are inside the encrypted part: a change fails decryption or the signature.
  Bytes bad = *chunk;
  bad[bad.size() - 3] ^= 1;
  EXPECT_EQ(uasc::decode_asymmetric_chunk(server, bad).status().code(), Code::kCorruption);
  // A receiver that is not the addressed certificate refuses it.
  EXPECT_EQ(uasc::decode_asymmetric_chunk(client, *chunk).status().code(), Code::kCorruption);
}

TEST(OpcuaChunkTest, SequenceNumbersMustIncreaseByOneAndMayWrapOnlyAtTheTop) {
  uasc::SequenceChecker s;
  EXPECT_TRUE(s.check(51).ok());
  EXPECT_TRUE(s.check(52).ok());
  EXPECT_FALSE(s.check(52).ok());  // repeated
  uasc::SequenceChecker gap;
  EXPECT_TRUE(gap.check(1).ok());
  EXPECT_FALSE(gap.check(3).ok());
  uasc::SequenceChecker wrap;
  EXPECT_TRUE(wrap.check(uasc::kSequenceWrapAfter + 1).ok());
  EXPECT_TRUE(wrap.check(1).ok());  // wrapped below 1024
  uasc::SequenceChecker early;
  EXPECT_TRUE(early.check(1000).ok());
  EXPECT_FALSE(early.check(1).ok());  // no wrap this low
  EXPECT_EQ(uasc::next_sequence_number(uasc::kSequenceWrapAfter + 1), 1u);
}

TEST(OpcuaChunkTest, MessagesSplitIntoChunksAndReassembleUnderTheLimits) {
  uasc::ChannelKeys keys = uasc::derive_keys(Bytes(32, '1'), Bytes(32, '2'));
  uasc::SymmetricContext ctx{uasc::SecurityMode::kSignAndEncrypt, 9, 4, &keys.client};
  Bytes body;
  for (int i = 0; i < 30000; ++i) body.push_back(static_cast<char>(i));
  uint32_t seq = 7;
  auto chunks =
      uasc::encode_symmetric_message(uasc::MessageType::kMessage, ctx, 3, body, 8192, 0, 0, &seq);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(chunks->size(), 4u);
  EXPECT_EQ(seq, 11u);
  uasc::MessageAssembler assembler(1 << 20, 4);
  uasc::SequenceChecker checker;
  std::optional<uasc::AssembledMessage> done;
  for (const Bytes& c : *chunks) {
    EXPECT_LE(c.size(), 8192u);
    auto chunk = uasc::decode_symmetric_chunk(
        ctx.mode, 9, [&](uint32_t) { return &keys.client; }, c);
    ASSERT_TRUE(chunk.ok()) << chunk.status().to_string();
    ASSERT_TRUE(checker.check(chunk->sequence.sequence_number).ok());
    auto m = assembler.add(std::move(chunk).value());
    ASSERT_TRUE(m.ok());
    if (m->has_value()) done = std::move(*m);
  }
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->body, body);
  // One chunk fewer allowed, or fewer bytes: refused.
  for (auto [max_size, max_chunks] : {std::pair<uint32_t, uint32_t>{1 << 20, 3}, {20000, 0}}) {
    uasc::MessageAssembler small(max_size, max_chunks);
    Status last;
    for (const Bytes& c : *chunks) {
      auto chunk = uasc::decode_symmetric_chunk(
          ctx.mode, 9, [&](uint32_t) { return &keys.client; }, c);
      auto m = small.add(std::move(chunk).value());
      if (!m.ok()) last = m.status();
    }
    EXPECT_EQ(last.code(), Code::kCorruption);
  }
  // Sending refuses more chunks than the peer allows.
  EXPECT_EQ(
      uasc::encode_symmetric_message(uasc::MessageType::kMessage, ctx, 3, body, 8192, 3, 0, &seq)
          .status()
          .code(),
      Code::kResourceExhausted);
}

TEST(OpcuaChunkTest, AnAbortChunkEndsOnlyItsOwnMessage) {
  uasc::MessageAssembler assembler(0, 0);
  uasc::Chunk a{uasc::MessageType::kMessage, 'C'};
  a.sequence.request_id = 1;
  a.body = "part";
  uasc::Chunk b = a;
  b.sequence.request_id = 2;
  EXPECT_FALSE(assembler.add(a)->has_value());
  EXPECT_FALSE(assembler.add(b)->has_value());
  uasc::Chunk abort = a;
  abort.chunk_type = 'A';
  abort.body.clear();
  Writer w(&abort.body);
  w.u32(0x80b90000u);
  w.string("too large");
  auto m = assembler.add(abort);
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_TRUE((*m)->aborted);
  EXPECT_EQ((*m)->abort_reason, "too large");
  uasc::Chunk last = b;
  last.chunk_type = 'F';
  last.body = "!";
  auto m2 = assembler.add(last);
  ASSERT_TRUE(m2.ok() && m2->has_value());
  EXPECT_EQ((*m2)->body, "part!");
}

TEST(OpcuaChunkTest, EndpointUrlsParseWithAndWithoutPortAndPath) {
  auto a = parse_endpoint_url("opc.tcp://plc-1:4841/UA/Server");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "plc-1");
  EXPECT_EQ(a->port, 4841);
  EXPECT_EQ(a->path, "/UA/Server");
  EXPECT_EQ(parse_endpoint_url("opc.tcp://plc-1")->port, 4840);
  EXPECT_EQ(parse_endpoint_url("opc.tcp://[::1]:5000")->host, "::1");
  EXPECT_FALSE(parse_endpoint_url("http://plc-1:4840").ok());
  EXPECT_FALSE(parse_endpoint_url("opc.tcp://plc-1:99999").ok());
  EXPECT_FALSE(parse_endpoint_url("opc.tcp://:4840").ok());
}

TEST(OpcuaChunkTest, FuzzCorpusReplaysCleanly) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / "opcua_chunk";
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(fuzz::opcua_chunk(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++n;
  }
  EXPECT_GT(n, 0u);
}

// --- the channel against an in-process fake server ---

struct FakeServerOptions {
  uasc::SecurityPolicy policy = uasc::SecurityPolicy::kNone;
  uasc::SecurityMode mode = uasc::SecurityMode::kNone;
  uasc::TransportLimits ack{0, 8192, 8192, 0, 0};
  uint32_t revised_lifetime_ms = 600000;
  bool error_on_hello = false;
  bool silent = false;            // accepts, reads, never answers
  bool close_on_message = false;  // drops the connection when a request arrives
  milliseconds first_reply_delay{0};
};

// Speaks the server's side of UA TCP and secure conversation, on one connection, blocking, on
// its own thread; answers each request with its own bytes (an echo).
class FakeServer {
 public:
  explicit FakeServer(FakeServerOptions o)
      : o_(o), acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { run(); });
  }
  ~FakeServer() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    {
      std::lock_guard l(mu_);
      if (socket_) ::shutdown(socket_->native_handle(), SHUT_RDWR);
    }
    thread_.join();
  }
  std::string url() const {
    return "opc.tcp://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/fake";
  }
  std::atomic<int> renewals{0};
  std::atomic<int> max_request_chunks{0};
  std::atomic<bool> tamper_next{false};
  std::atomic<bool> saw_close{false};
  std::set<uint32_t> tokens_used() {
    std::lock_guard l(mu_);
    return tokens_used_;
  }
  std::string error() {
    std::lock_guard l(mu_);
    return error_;
  }

 private:
  void run() {
    boost::system::error_code ec;
    auto socket = std::make_unique<tcp::socket>(ioc_);
    acceptor_.accept(*socket, ec);
    if (ec) return;
    {
      std::lock_guard l(mu_);
      socket_ = std::move(socket);
    }
    while (true) {
      Bytes chunk(8, '\0');
      asio::read(*socket_, asio::buffer(chunk), ec);
      if (ec) return;
      auto h = uasc::decode_transport_header(chunk, 1 << 20);
      if (!h.ok()) return record(h.status());
      chunk.resize(h->size);
      asio::read(*socket_, asio::buffer(chunk.data() + 8, h->size - 8), ec);
      if (ec || o_.silent) {
        if (ec) return;
        continue;
      }
      Status s;
      switch (h->type) {
        case uasc::MessageType::kHello:
          if (o_.error_on_hello) {
            send(uasc::encode_error(0x80830000u, "no endpoint /fake here"));
            return;
          }
          client_receive_size_ = uasc::decode_hello(chunk)->limits.receive_buffer_size;
          send(uasc::encode_acknowledge(o_.ack));
          break;
        case uasc::MessageType::kOpen: s = open(chunk); break;
        case uasc::MessageType::kMessage:
          if (o_.close_on_message) {
            std::lock_guard l(mu_);
            ::shutdown(socket_->native_handle(), SHUT_RDWR);
            return;
          }
          s = message(chunk);
          break;
        case uasc::MessageType::kClose: saw_close = true; return;
        default: s = corruption("unexpected message");
      }
      if (!s.ok()) return record(s);
    }
  }

  void record(const Status& s) {
    std::lock_guard l(mu_);
    error_ = s.to_string();
  }

  void send(const Bytes& bytes) {
    boost::system::error_code ec;
    asio::write(*socket_, asio::buffer(bytes), ec);
  }

  uasc::AsymmetricContext context() const {
    const auto& ids = Identities::get();
    return {o_.policy,
            o_.mode,
            kChannelId,
            &ids.server.certificate,
            &ids.server.private_key,
            &ids.client.certificate};
  }

  Status open(const Bytes& bytes) {
    SLUICE_ASSIGN_OR_RETURN(uasc::Chunk c, uasc::decode_asymmetric_chunk(context(), bytes));
    SLUICE_ASSIGN_OR_RETURN(uasc::OpenRequest q, uasc::decode_open_request(c.body));
    if (q.request_type == uasc::RequestType::kRenew) renewals++;
    uasc::OpenResponse p;
    p.request_handle = q.request_handle;
    p.token = {kChannelId, ++last_token_, 0, o_.revised_lifetime_ms};
    if (o_.policy != uasc::SecurityPolicy::kNone) p.server_nonce = *random_bytes(32);
    keys_[last_token_] = uasc::derive_keys(q.client_nonce, p.server_nonce);
    SLUICE_ASSIGN_OR_RETURN(
        Bytes reply, uasc::encode_asymmetric_chunk(context(), {seq_++, c.sequence.request_id},
                                                   uasc::encode_open_response(p)));
    send(reply);
    return Status::ok_status();
  }

  Status message(const Bytes& bytes) {
    auto lookup = [this](uint32_t token) -> const uasc::SymmetricKeys* {
      auto it = keys_.find(token);
      return it == keys_.end() ? nullptr : &it->second.client;
    };
    SLUICE_ASSIGN_OR_RETURN(uasc::Chunk c,
                            uasc::decode_symmetric_chunk(o_.mode, kChannelId, lookup, bytes));
    uint32_t token = c.token_id;
    {
      std::lock_guard l(mu_);
      tokens_used_.insert(token);
    }
    chunks_in_message_ += 1;
    max_request_chunks = std::max(max_request_chunks.load(), chunks_in_message_);
    SLUICE_ASSIGN_OR_RETURN(auto m, assembler_.add(std::move(c)));
    if (!m) return Status::ok_status();
    chunks_in_message_ = 0;
    if (o_.first_reply_delay.count() > 0 && !delayed_) {
      delayed_ = true;
      std::this_thread::sleep_for(o_.first_reply_delay);
    }
    uasc::SymmetricContext ctx{o_.mode, kChannelId, token, &keys_[token].server};
    size_t chunk_size = std::min(o_.ack.send_buffer_size, client_receive_size_);
    SLUICE_ASSIGN_OR_RETURN(
        auto chunks, uasc::encode_symmetric_message(uasc::MessageType::kMessage, ctx, m->request_id,
                                                    m->body, chunk_size, 0, 0, &seq_));
    if (tamper_next.exchange(false)) chunks.back()[chunks.back().size() / 2] ^= 0x01;
    for (const Bytes& chunk : chunks) send(chunk);
    return Status::ok_status();
  }

  static constexpr uint32_t kChannelId = 7;
  FakeServerOptions o_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::unique_ptr<tcp::socket> socket_;  // guarded by mu_ for shutdown from the test thread
  std::set<uint32_t> tokens_used_;       // guarded by mu_
  std::string error_;                    // guarded by mu_
  // The server thread only.
  uint32_t client_receive_size_ = 65536;
  uint32_t last_token_ = 0;
  uint32_t seq_ = 1;
  std::map<uint32_t, uasc::ChannelKeys> keys_;
  uasc::MessageAssembler assembler_{0, 0};
  int chunks_in_message_ = 0;
  bool delayed_ = false;
};

SecureChannelConfig channel_config(const FakeServer& server, uasc::SecurityPolicy policy,
                                   uasc::SecurityMode mode) {
  SecureChannelConfig c;
  c.endpoint_url = server.url();
  c.policy = policy;
  c.mode = mode;
  c.client = Identities::get().client;
  c.server_certificate = Identities::get().server.certificate.der();
  c.limits.receive_buffer_size = 8192;
  c.limits.send_buffer_size = 8192;
  c.request_timeout = 5s;
  c.connect_timeout = 5s;
  return c;
}

Bytes pattern(size_t n) {
  Bytes b;
  for (size_t i = 0; i < n; ++i) b.push_back(static_cast<char>((i * 31) ^ (i >> 8)));
  return b;
}

TEST(OpcuaChannelFakeTest, RequestsRoundTripWithPolicyNone) {
  FakeServer server({});
  SecureChannel channel(
      channel_config(server, uasc::SecurityPolicy::kNone, uasc::SecurityMode::kNone));
  ASSERT_TRUE(channel.open().ok());
  EXPECT_EQ(channel.info().channel_id, 7u);
  auto r = channel.call("hello, server");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, "hello, server");
  channel.close();
  EXPECT_TRUE(testing::eventually([&] { return server.saw_close.load(); }, 5s));
  EXPECT_EQ(channel.call("after close").status().code(), Code::kAborted);
}

class SecuredChannelFakeTest : public ::testing::TestWithParam<uasc::SecurityMode> {};

TEST_P(SecuredChannelFakeTest, LargeMessagesAreChunkedBothWaysAndSurviveIntact) {
  FakeServerOptions o;
  o.policy = uasc::SecurityPolicy::kBasic256Sha256;
  o.mode = GetParam();
  FakeServer server(o);
  SecureChannel channel(channel_config(server, o.policy, o.mode));
  Status s = channel.open();
  ASSERT_TRUE(s.ok()) << s.to_string() << " / server: " << server.error();
  EXPECT_EQ(channel.server_nonce().size(), 32u);
  const Bytes big = pattern(50000);
  auto r = channel.call(big);
  ASSERT_TRUE(r.ok()) << r.status().to_string() << " / server: " << server.error();
  EXPECT_EQ(*r, big);
  EXPECT_GE(server.max_request_chunks.load(), 7);
  // Several calls at once from several threads.
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        Bytes req = pattern(100 + t * 3000 + i);
        auto answer = channel.call(req);
        if (answer.ok() && *answer == req) good++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 40);
}

TEST_P(SecuredChannelFakeTest, TokenIsRenewedBeforeItExpiresAndCallsGoOn) {
  FakeServerOptions o;
  o.policy = uasc::SecurityPolicy::kBasic256Sha256;
  o.mode = GetParam();
  o.revised_lifetime_ms = 400;  // renewed every 300 ms
  FakeServer server(o);
  SecureChannel channel(channel_config(server, o.policy, o.mode));
  ASSERT_TRUE(channel.open().ok());
  const auto end = std::chrono::steady_clock::now() + 1300ms;
  int calls = 0;
  while (std::chrono::steady_clock::now() < end) {
    auto r = channel.call("ping");
    ASSERT_TRUE(r.ok()) << r.status().to_string() << " / server: " << server.error();
    ++calls;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(server.renewals.load(), 3);
  EXPECT_GE(channel.info().tokens_issued, 4u);
  EXPECT_GE(server.tokens_used().size(), 3u);  // requests went out under the renewed tokens
  EXPECT_GT(calls, 10);
}

TEST_P(SecuredChannelFakeTest, TamperedResponseBreaksTheChannelWithCorruption) {
  FakeServerOptions o;
  o.policy = uasc::SecurityPolicy::kBasic256Sha256;
  o.mode = GetParam();
  FakeServer server(o);
  SecureChannel channel(channel_config(server, o.policy, o.mode));
  ASSERT_TRUE(channel.open().ok());
  ASSERT_TRUE(channel.call("fine").ok());
  server.tamper_next = true;
  auto r = channel.call("tampered");
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().to_string();
  EXPECT_EQ(channel.status().code(), Code::kCorruption);
  EXPECT_EQ(channel.call("after").status().code(), Code::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(Modes, SecuredChannelFakeTest,
                         ::testing::Values(uasc::SecurityMode::kSign,
                                           uasc::SecurityMode::kSignAndEncrypt));

TEST(OpcuaChannelFakeTest, ALostConnectionFailsOutstandingCallsWithUnavailable) {
  FakeServerOptions o;
  o.close_on_message = true;
  FakeServer server(o);
  SecureChannel channel(channel_config(server, o.policy, o.mode));
  ASSERT_TRUE(channel.open().ok());
  std::promise<Status> async_result;
  channel.call_async("first", [&](Result<Bytes> r) { async_result.set_value(r.status()); });
  auto r = channel.call("second");
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().to_string();
  EXPECT_EQ(async_result.get_future().get().code(), Code::kUnavailable);
  EXPECT_NE(channel.status().message().find("lost"), std::string::npos)
      << channel.status().to_string();
}

TEST(OpcuaChannelFakeTest, AnErrAnswerToHelloIsReportedWithItsStatusAndReason) {
  FakeServerOptions o;
  o.error_on_hello = true;
  FakeServer server(o);
  SecureChannel channel(channel_config(server, o.policy, o.mode));
  Status s = channel.open();
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("BadTcpEndpointUrlInvalid"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("no endpoint /fake here"), std::string::npos) << s.to_string();
}

TEST(OpcuaChannelFakeTest, CloseInterruptsAnOpenThatWaitsForASilentServer) {
  FakeServerOptions o;
  o.silent = true;
  FakeServer server(o);
  auto config = channel_config(server, o.policy, o.mode);
  config.connect_timeout = 60s;
  SecureChannel channel(config);
  std::thread closer([&] {
    std::this_thread::sleep_for(200ms);
    channel.close();
  });
  const auto start = std::chrono::steady_clock::now();
  Status s = channel.open();
  closer.join();
  EXPECT_EQ(s.code(), Code::kAborted) << s.to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(OpcuaChannelFakeTest, AServerThatNeverAcknowledgesTimesOutTheOpen) {
  FakeServerOptions o;
  o.silent = true;
  FakeServer server(o);
  auto config = channel_config(server, o.policy, o.mode);
  config.connect_timeout = 300ms;
  SecureChannel channel(config);
  Status s = channel.open();
  EXPECT_EQ(s.code(), Code::kTimeout) << s.to_string();
  EXPECT_EQ(channel.status().code(), Code::kTimeout);
}

TEST(OpcuaChannelFakeTest, CloseFromACallbackEndsTheChannelWithoutDeadlock) {
  FakeServer server({});
  auto channel = std::make_unique<SecureChannel>(
      channel_config(server, uasc::SecurityPolicy::kNone, uasc::SecurityMode::kNone));
  ASSERT_TRUE(channel->open().ok());
  std::promise<Status> second;
  channel->call_async("first", [&](Result<Bytes> r) {
    EXPECT_TRUE(r.ok());
    channel->close();  // returns at once on the I/O thread
    channel->call_async("second", [&](Result<Bytes> r2) { second.set_value(r2.status()); });
  });
  auto f = second.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), Code::kAborted);
  channel.reset();  // joins the I/O thread
  EXPECT_TRUE(testing::eventually([&] { return server.saw_close.load(); }, 5s));
}

TEST(OpcuaChannelFakeTest, ATimedOutCallLeavesTheChannelUsable) {
  FakeServerOptions o;
  o.first_reply_delay = 500ms;
  FakeServer server(o);
  SecureChannel channel(channel_config(server, o.policy, o.mode));
  ASSERT_TRUE(channel.open().ok());
  auto slow = channel.call("slow", 100ms);
  EXPECT_EQ(slow.status().code(), Code::kTimeout);
  auto next = channel.call("next");
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  EXPECT_EQ(*next, "next");  // the late answer to "slow" was dropped, not given to "next"
}

TEST(OpcuaChannelFakeTest, ARequestOverTheServersMessageSizeIsRefusedAlone) {
  FakeServerOptions o;
  o.ack.max_message_size = 10000;
  FakeServer server(o);
  SecureChannel channel(channel_config(server, o.policy, o.mode));
  ASSERT_TRUE(channel.open().ok());
  EXPECT_EQ(channel.call(pattern(20000)).status().code(), Code::kResourceExhausted);
  EXPECT_TRUE(channel.call("small").ok());
}

TEST(OpcuaChannelFakeTest, BadConfigurationIsRefusedBeforeConnecting) {
  SecureChannelConfig c;
  c.endpoint_url = "opc.tcp://127.0.0.1:1";
  c.policy = uasc::SecurityPolicy::kBasic256Sha256;
  c.mode = uasc::SecurityMode::kSign;
  EXPECT_EQ(SecureChannel(c).open().code(), Code::kInvalidArgument);  // no certificates
  c.policy = uasc::SecurityPolicy::kNone;
  EXPECT_EQ(SecureChannel(c).open().code(), Code::kInvalidArgument);  // Sign without a policy
  c.mode = uasc::SecurityMode::kNone;
  c.connect_timeout = 2s;
  EXPECT_EQ(SecureChannel(c).open().code(), Code::kUnavailable);  // nothing listens on port 1
}

}  // namespace
}  // namespace sluice::opcua
