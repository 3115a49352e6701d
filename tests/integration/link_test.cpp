// The forward link in one process: instance A (a scripted source and a forward sink) and
// instance B (a link source on a loopback port), each a real Runtime with its own store, over
// real gRPC+TLS. A's data arrives at B exactly once with A's sequences; a raw client drives the
// Forward protocol frame by frame (unknown session, duplicates, gaps, overlaps, invalid frames,
// oversized messages) and B keeps serving through all of it; callers are admitted by client
// certificate or by an operator's token and nobody else; a full receiver throttles the sender
// without losing its place; Link.Write stores durably; a sender without its receiver shows
// "closed" and delivers once the receiver comes.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "api/writer_tokens.h"
#include "auth/auth.h"
#include "fixtures/link_harness.h"
#include "link/wire.h"

namespace sluice {
namespace {

using testing::ClientIdentity;
using testing::eventually;
using testing::ForwardCall;
using testing::LinkInstance;
using testing::Stored;
namespace linkpb = ::sluice::link::v1;

// Samples of five series and every value type and several qualities, grouped by series.
Batch mixed_batch(int64_t first_ts, int n) {
  Batch b;
  for (int series = 0; series < 5; ++series) {
    for (int i = 0; i < n / 5; ++i) {
      Sample s;
      s.series = "line.s" + std::to_string(series);
      s.ts = first_ts + i * 1'000'000;
      switch (series) {
        case 0: s.value = 20.0 + 0.01 * i; break;
        case 1: s.value = std::sin(first_ts + i); break;
        case 2: s.value = int64_t{first_ts / 1000 + i}; break;
        case 3: s.value = (i % 3) == 0; break;
        default: s.value = "state-" + std::to_string(i % 7); break;
      }
      s.quality = (i % 11) == 0 ? quality::kBadTimeout
                                : ((i % 5) == 0 ? quality::kUncertain : quality::kGood);
      b.samples.push_back(std::move(s));
    }
  }
  return b;
}

// One series "s", values base + sequence offset, for checking which send a stored sample came
// from.
Batch numbered_batch(uint64_t first_seq, int n, double base) {
  Batch b;
  for (int i = 0; i < n; ++i) {
    b.samples.push_back({"s", static_cast<Timestamp>(first_seq + i) * 1000,
                         base + static_cast<double>(first_seq + i), quality::kGood});
  }
  return b;
}

// 4000 strings of 100 random printable bytes: about 400 KB that compress poorly (more than a
// 128 KiB store holds).
Batch incompressible_batch(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> printable(33, 126);
  Batch big;
  for (int i = 0; i < 4000; ++i) {
    std::string v(100, ' ');
    for (char& c : v) c = static_cast<char>(printable(rng));
    big.samples.push_back({"big.text", 1'700'000'000'000'000'000 + i, v, quality::kGood});
  }
  return big;
}

linkpb::ForwardFrame batch_frame(const std::string& session, uint64_t first_seq, const Batch& b) {
  linkpb::ForwardFrame f;
  f.mutable_batch()->set_session(session);
  f.mutable_batch()->set_first_seq(first_seq);
  const Status st = link::encode_wire_batch(b, {}, f.mutable_batch()->mutable_batch());
  EXPECT_TRUE(st.ok()) << st.message();
  return f;
}

linkpb::SessionInfo test_session(const std::string& id = "B.20240305T060708Z.X.src") {
  linkpb::SessionInfo s;
  s.set_id(id);
  s.set_name("src");
  s.set_collector("X");
  s.set_source("src");
  s.add_hops("X");
  s.set_created_ns(1'709'618'828'000'000'000);
  s.set_destination("B");
  return s;
}

std::vector<std::string> meta_hops(store::Store& store, const std::string& stream) {
  Result<std::string> meta = store.stream_meta(stream);
  EXPECT_TRUE(meta.ok());
  if (!meta.ok()) return {};
  const nlohmann::json j = nlohmann::json::parse(*meta, nullptr, false);
  if (!j.is_object() || !j.contains("hops")) return {};
  return j["hops"].get<std::vector<std::string>>();
}

// A's session as the status screen shows it, for failure messages.
std::string state_of(LinkInstance& a) {
  auto s = a.session("src", "toB");
  if (!s) return "A has no session src/toB";
  return "A's session: " + s->output_state + " (" + s->output_reason + "), cursor " +
         std::to_string(s->cursor) + ", backlog " + std::to_string(s->backlog);
}

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::reset_scripted_services();
    port_ = testing::free_port();
    // B's certificate as B generates it on first start, made here so that A can trust it
    // before B ever ran; A's own identity likewise, so that B can list its fingerprint.
    b_identity_ = testing::make_client_identity(dir_.file("b"), "B");
    a_identity_ = testing::make_client_identity(dir_.file("a"), "A");
    client_ = testing::make_client_identity(dir_.file("client"), "client");
  }

  std::string b_config(const std::string& link_extra = "", const std::string& store_extra = "") {
    return "[instance]\nname = \"B\"\n[store]\ndir = \"b\"\n" + store_extra +
           "\n[[sources]]\nname = \"link\"\ntype = \"link\"\nlisten = \"127.0.0.1:" +
           std::to_string(port_) + "\"\n" + link_extra + "\n";
  }
  std::string fingerprints(const std::vector<std::string>& fps) {
    std::string out = "client_fingerprints = [";
    for (size_t i = 0; i < fps.size(); ++i) out += (i ? ", \"" : "\"") + fps[i] + "\"";
    return out + "]\n";
  }
  std::string a_config(const std::string& sink_extra = "") {
    return "[instance]\nname = \"A\"\n[store]\ndir = \"a\"\n"
           "[[sources]]\nname = \"src\"\ntype = \"scripted\"\n"
           "[[sinks]]\nname = \"toB\"\ntype = \"forward\"\ntarget = \"127.0.0.1:" +
           std::to_string(port_) +
           "\"\nserver_ca_file = \"b/tls/cert.pem\"\ndestination = \"B\"\n"
           "retry_min = \"20ms\"\nretry_max = \"200ms\"\n" +
           sink_extra;
  }

  std::unique_ptr<linkpb::Link::Stub> stub(const net::TlsIdentity* client) {
    return linkpb::Link::NewStub(
        testing::link_channel(port_, b_identity_.identity.cert_pem, client));
  }

  // Feeds A's scripted source `batches` batches of `per_batch` samples; returns their count.
  uint64_t feed_a(int batches, int per_batch) {
    uint64_t n = 0;
    for (int i = 0; i < batches; ++i) {
      Batch b = mixed_batch(1'700'000'000'000'000'000 + i * 1'000'000'000LL, per_batch);
      n += b.size();
      testing::feed("src").push(std::move(b));
    }
    return n;
  }

  testing::TempDir dir_;
  int port_ = 0;
  ClientIdentity b_identity_;
  ClientIdentity a_identity_;
  ClientIdentity client_;
  const runtime::SourceTypes types_ = testing::scripted_types();
};

// ---- a. exactly once ---------------------------------------------------------------------

TEST_F(LinkTest, AForwardsEverySampleToBExactlyOnceWithItsSequences) {
  LinkInstance b;
  ASSERT_TRUE(b.start(dir_, "b", b_config(fingerprints({a_identity_.fingerprint})), types_));
  LinkInstance a;
  ASSERT_TRUE(a.start(dir_, "a", a_config("batch_samples = 300\nmax_in_flight = 4\n"), types_));
  const uint64_t n = feed_a(20, 250);
  ASSERT_TRUE(eventually([&] { return testing::feed("src").ingested.load() == n; }));
  ASSERT_TRUE(a.rt().set_enabled("src", false).ok());  // A's source stops

  ASSERT_TRUE(eventually([&] {
    auto s = a.session("src", "toB");
    return s && s->backlog == 0 && s->cursor == n;
  })) << state_of(a);
  const std::optional<runtime::SessionStatus> sa = a.session("src", "toB");
  ASSERT_TRUE(sa);
  const std::string id = link::make_session_id("B", sa->created_ns, "A", "src");
  ASSERT_EQ(b.session_streams(), std::vector<std::string>{id});
  // Acknowledged means durable at B: readable there now.
  const std::vector<Stored> at_a = testing::read_stream(a.rt().store(), "src");
  const std::vector<Stored> at_b = testing::read_stream(b.rt().store(), id);
  ASSERT_EQ(at_a.size(), n);
  ASSERT_EQ(at_b.size(), n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(at_a[i].seq, at_b[i].seq) << i;
    ASSERT_TRUE(identical(at_a[i].sample, at_b[i].sample)) << "seq " << at_a[i].seq;
  }
  EXPECT_EQ(meta_hops(b.rt().store(), id), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(sa->output_state, "open");
  EXPECT_EQ(sa->output_reason, "");
  EXPECT_EQ(b.source_counter("link", "samples"), n);  // appended once each
  EXPECT_EQ(b.source_counter("link", "sessions_opened"), 1u);
  EXPECT_EQ(b.source_counter("link", "refused_auth"), 0u);
  EXPECT_EQ(b.source_counter("link", "invalid_frames"), 0u);
}

// ---- b. the protocol, frame by frame ----------------------------------------------------------

TEST_F(LinkTest, ForwardProtocolAnswersEveryFrameAndStoresEachSequenceOnce) {
  LinkInstance b;
  ASSERT_TRUE(b.start(
      dir_, "b", b_config(fingerprints({client_.fingerprint}) + "max_message_bytes = \"64KiB\"\n"),
      types_));
  ASSERT_TRUE(b.wait_listening("link"));
  auto link = stub(&client_.identity);
  const linkpb::SessionInfo session = test_session();
  const std::string id = session.id();
  {
    ForwardCall call(*link);
    // A batch before its session was opened on this call.
    auto r = call.send(batch_frame(id, 0, numbered_batch(0, 10, 0)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::UNKNOWN_SESSION) << r->message();

    r = call.open(session);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->code(), linkpb::OK) << r->message();
    EXPECT_EQ(r->durable_end(), 0u);
    EXPECT_EQ(r->receiver(), "B");

    r = call.send(batch_frame(id, 0, numbered_batch(0, 10, 0)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::OK) << r->message();
    EXPECT_EQ(r->durable_end(), 10u);
    // The same batch again (a resend): acknowledged, not stored again.
    r = call.send(batch_frame(id, 0, numbered_batch(0, 10, 0)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::DUPLICATE) << r->message();
    EXPECT_EQ(testing::readable_count(b.rt().store(), id), 10u);
    // Behind what is held.
    r = call.send(batch_frame(id, 0, numbered_batch(0, 5, 500)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::DUPLICATE) << r->message();
    // Ahead: 10..14 skipped.
    r = call.send(batch_frame(id, 15, numbered_batch(15, 5, 1000)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::GAP) << r->message();
    EXPECT_EQ(r->durable_end(), 20u);
    // 18..24 where 18 and 19 are held: only 20..24 are new.
    r = call.send(batch_frame(id, 18, numbered_batch(18, 7, 2000)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::OK) << r->message();
    EXPECT_EQ(r->durable_end(), 25u);
    // A corrupt payload.
    linkpb::ForwardFrame corrupt = batch_frame(id, 25, numbered_batch(25, 5, 0));
    corrupt.mutable_batch()->mutable_batch()->set_payload("\x01garbage");
    r = call.send(corrupt);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::INVALID);
    EXPECT_NE(r->message().find("batch.payload"), std::string::npos) << r->message();
    // A session without hops.
    linkpb::SessionInfo no_hops = test_session("B.20240305T060708Z.X.other");
    no_hops.clear_hops();
    r = call.open(no_hops);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::INVALID);
    EXPECT_NE(r->message().find("session.hops"), std::string::npos) << r->message();
    // A session that went through B already: a loop.
    linkpb::SessionInfo loop = test_session("B.20240305T060708Z.X.loop");
    loop.add_hops("B");
    r = call.open(loop);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::INVALID);
    EXPECT_NE(r->message().find("loop"), std::string::npos) << r->message();
    EXPECT_TRUE(call.finish().ok());
  }
  const std::vector<Stored> stored = testing::read_stream(b.rt().store(), id);
  std::vector<std::pair<uint64_t, double>> got;
  for (const Stored& s : stored) got.emplace_back(s.seq, std::get<double>(s.sample.value));
  std::vector<std::pair<uint64_t, double>> want;
  for (uint64_t q = 0; q < 10; ++q) want.emplace_back(q, q);
  for (uint64_t q = 15; q < 20; ++q) want.emplace_back(q, 1000.0 + q);
  for (uint64_t q = 20; q < 25; ++q) want.emplace_back(q, 2000.0 + q);
  EXPECT_EQ(got, want);
  EXPECT_FALSE(b.rt().store().has_stream("B.20240305T060708Z.X.other"));
  EXPECT_FALSE(b.rt().store().has_stream("B.20240305T060708Z.X.loop"));

  EXPECT_EQ(b.source_counter("link", "calls"), 1u);
  EXPECT_EQ(b.source_counter("link", "sessions_opened"), 1u);
  EXPECT_EQ(b.source_counter("link", "batches"), 3u);
  EXPECT_EQ(b.source_counter("link", "samples"), 20u);
  EXPECT_EQ(b.source_counter("link", "duplicate_batches"), 2u);
  EXPECT_EQ(b.source_counter("link", "gaps"), 1u);
  // unknown session, corrupt payload, no hops, loop
  EXPECT_EQ(b.source_counter("link", "invalid_frames"), 4u);
  EXPECT_NE(b.source_detail("link", "last_error").find("batch.payload"), std::string::npos);
  EXPECT_EQ(b.source_counter("link", "refused_auth"), 0u);

  // A message over max_message_bytes: gRPC's own limit ends the call.
  {
    ForwardCall call(*link);
    ASSERT_TRUE(call.open(session));
    linkpb::ForwardFrame big = batch_frame(id, 25, numbered_batch(25, 5, 0));
    big.mutable_batch()->mutable_batch()->set_payload(std::string(100 << 10, 'x'));
    EXPECT_FALSE(call.send(big));
    EXPECT_EQ(call.finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // Malformed protobuf bytes for Link.Write: an error status.
  {
    grpc::GenericStub generic(
        testing::link_channel(port_, b_identity_.identity.cert_pem, &client_.identity));
    grpc::ClientContext cc;
    const std::string bytes = "\x0a\xff\xff\xff\xff\x0f\x12";  // a length past the end
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&cc, "/sluice.link.v1.Link/Write", grpc::StubOptions(), &request, &response,
                      [&](grpc::Status st) { done.set_value(std::move(st)); });
    const grpc::Status st = done.get_future().get();
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  }
  // B keeps serving: the session is taken up again where it stands.
  {
    ForwardCall call(*link);
    auto r = call.open(session);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->code(), linkpb::OK) << r->message();
    EXPECT_EQ(r->durable_end(), 25u);
    r = call.send(batch_frame(id, 25, numbered_batch(25, 5, 3000)));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code(), linkpb::OK) << r->message();
    EXPECT_TRUE(call.finish().ok());
  }
  EXPECT_EQ(testing::readable_count(b.rt().store(), id), 25u);
  EXPECT_EQ(b.source_counter("link", "sessions_opened"), 1u);
  EXPECT_EQ(b.source_counter("link", "samples"), 25u);
}

// ---- c. who is admitted ---------------------------------------------------------------------

class LinkAuthTest : public LinkTest {
 protected:
  void SetUp() override {
    LinkTest::SetUp();
    auth::AuthOptions ao;
    ao.password = {.time_cost = 1, .memory_kib = 64, .parallelism = 1};  // fast for tests
    auto a = auth::Auth::open(dir_.file("auth.db"), clock_, ao);
    ASSERT_TRUE(a.ok()) << a.status().message();
    auth_ = std::move(a).value();
    ASSERT_TRUE(auth_->users().create("op", "operator-password", auth::Role::kOperator).ok());
    ASSERT_TRUE(auth_->users().create("viewer", "viewer-password", auth::Role::kViewer).ok());
    writers_ = std::make_unique<api::WriterTokens>(auth_.get());
  }

  std::string token(const std::string& user, int64_t expires_ns = 0) {
    auto t = auth_->tokens().create(user, auth::TokenKind::kApi, "link-" + user, expires_ns);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? t->token : "";
  }

  // The status of a Forward call that opens a session.
  grpc::Status try_open(linkpb::Link::Stub& link, const std::string& bearer,
                        linkpb::ReplyCode* code) {
    ForwardCall call(link, bearer);
    auto r = call.open(test_session());
    if (r) *code = r->code();
    return call.finish();
  }

  ManualClock clock_;
  std::unique_ptr<auth::Auth> auth_;
  std::unique_ptr<api::WriterTokens> writers_;
};

TEST_F(LinkAuthTest, OnlyListedCertificatesAndOperatorTokensAreAdmitted) {
  const ClientIdentity other = testing::make_client_identity(dir_.file("other"), "other");
  LinkInstance b;
  ASSERT_TRUE(
      b.start(dir_, "b", b_config(fingerprints({client_.fingerprint})), types_, writers_.get()));
  ASSERT_TRUE(b.wait_listening("link"));
  auto anonymous = stub(nullptr);
  auto stranger = stub(&other.identity);
  auto listed = stub(&client_.identity);
  const std::string op_token = token("op");
  const std::string viewer_token = token("viewer");
  const std::string short_token = token("op", clock_.now() + 1'000'000'000);
  clock_.advance(2'000'000'000);  // the short token has expired

  linkpb::ReplyCode code = linkpb::INVALID;
  grpc::Status st = try_open(*anonymous, "", &code);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_EQ(b.source_counter("link", "refused_auth"), 1u);

  st = try_open(*stranger, "", &code);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find(other.fingerprint), std::string::npos) << st.error_message();
  EXPECT_EQ(b.source_counter("link", "refused_auth"), 2u);

  code = linkpb::INVALID;
  st = try_open(*listed, "", &code);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(code, linkpb::OK);

  code = linkpb::INVALID;
  st = try_open(*anonymous, op_token, &code);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(code, linkpb::OK);

  st = try_open(*anonymous, viewer_token, &code);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find("viewer"), std::string::npos) << st.error_message();

  st = try_open(*anonymous, short_token, &code);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find("expired"), std::string::npos) << st.error_message();

  st = try_open(*anonymous, "not-a-token", &code);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();

  EXPECT_EQ(b.source_counter("link", "refused_auth"), 5u);
  EXPECT_EQ(b.source_counter("link", "calls"), 2u);  // the admitted ones
}

// ---- d. a full receiver throttles the sender --------------------------------------------------

TEST_F(LinkTest, FullReceiverThrottlesTheSenderWhichKeepsItsData) {
  // B's store: 128 KiB at most, refusing what does not fit.
  LinkInstance full;
  ASSERT_TRUE(full.start(dir_, "b",
                         b_config(fingerprints({a_identity_.fingerprint}),
                                  "segment_size = \"64KiB\"\nmax_size = \"128KiB\"\n"
                                  "full_policy = \"drop_newest\"\n"),
                         types_));
  // One batch that cannot fit.
  testing::feed("src").push(incompressible_batch(42));
  LinkInstance a;
  ASSERT_TRUE(a.start(dir_, "a", a_config(), types_));
  ASSERT_TRUE(eventually([&] {
    auto s = a.session("src", "toB");
    return s && s->output_state == "throttled";
  })) << state_of(a);
  ASSERT_TRUE(eventually([&] { return full.source_counter("link", "refused_writes") >= 2; }));
  const std::optional<runtime::SessionStatus> s = a.session("src", "toB");
  ASSERT_TRUE(s);
  const std::string receiver_reason = full.source_detail("link", "last_error");
  EXPECT_FALSE(receiver_reason.empty());
  EXPECT_NE(s->output_reason.find("REFUSED"), std::string::npos) << s->output_reason;
  EXPECT_NE(s->output_reason.find(receiver_reason), std::string::npos)
      << s->output_reason << " / " << receiver_reason;
  EXPECT_EQ(s->cursor, 0u);
  EXPECT_EQ(s->backlog, 4000u);
  EXPECT_EQ(a.sink("toB")->health.state, runtime::HealthState::kWarning);
  EXPECT_EQ(testing::readable_count(a.rt().store(), "src"), 4000u);
  for (const std::string& stream : full.session_streams()) {
    EXPECT_EQ(testing::readable_count(full.rt().store(), stream), 0u) << stream;
  }
}

TEST_F(LinkTest, AfterARefusedBatchLaterOnesWaitSoTheResendIsNeverTakenForADuplicate) {
  // B's store refuses what does not fit. A refused batch k followed by a batch k+1 that fits
  // must not leave a gap (k would then be "below what is held" and lost as a duplicate).
  LinkInstance b;
  ASSERT_TRUE(b.start(dir_, "b",
                      b_config(fingerprints({client_.fingerprint}),
                               "segment_size = \"64KiB\"\nmax_size = \"128KiB\"\n"
                               "full_policy = \"drop_newest\"\n"),
                      types_));
  ASSERT_TRUE(b.wait_listening("link"));
  auto link = stub(&client_.identity);
  const linkpb::SessionInfo session = test_session();
  const std::string id = session.id();
  const Batch big = incompressible_batch(7);
  ForwardCall call(*link);
  auto r = call.open(session);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->code(), linkpb::OK) << r->message();
  r = call.send(batch_frame(id, 0, big));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), linkpb::REFUSED) << r->message();
  // The next batch would fit, but an earlier one of its session is missing.
  r = call.send(batch_frame(id, 4000, numbered_batch(4000, 10, 0)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), linkpb::REFUSED) << r->message();
  EXPECT_NE(r->message().find("send it again first"), std::string::npos) << r->message();
  EXPECT_EQ(testing::readable_count(b.rt().store(), id), 0u);
  // The refused batch sent again (now small enough to fit: the sender cut it differently).
  r = call.send(batch_frame(id, 0, numbered_batch(0, 10, 0)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), linkpb::OK) << r->message();
  r = call.send(batch_frame(id, 10, numbered_batch(10, 10, 0)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), linkpb::OK) << r->message();
  EXPECT_EQ(testing::readable_count(b.rt().store(), id), 20u);
}

// ---- e. the write API over gRPC -------------------------------------------------------------

TEST_F(LinkAuthTest, WriteWithATokenStoresDurablyInTheWriteSessionStream) {
  LinkInstance b;
  ASSERT_TRUE(b.start(dir_, "b", b_config(), types_, writers_.get()));
  ASSERT_TRUE(b.wait_listening("link"));
  auto link = stub(nullptr);
  linkpb::WriteRequest request;
  request.set_session("press7");
  auto* s = request.add_samples();
  s->set_series("press.force");
  s->set_ts(1'700'000'000'000'000'000);
  s->set_double_value(12.5);
  s = request.add_samples();
  s->set_series("press.count");
  s->set_ts(1'700'000'000'000'000'001);
  s->set_int_value(-7);
  s->set_quality(quality::kUncertain);
  s = request.add_samples();
  s->set_series("press.on");
  s->set_ts(1'700'000'000'000'000'002);
  s->set_bool_value(true);
  s = request.add_samples();
  s->set_series("press.mode");
  s->set_ts(1'700'000'000'000'000'003);
  s->set_string_value("auto");
  s->set_quality(quality::kBadTimeout);

  grpc::ClientContext cc;
  cc.AddMetadata("authorization", "Bearer " + token("op"));
  linkpb::WriteReply reply;
  const grpc::Status st = link->Write(&cc, request, &reply);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(reply.samples(), 4u);
  EXPECT_EQ(reply.stream(), "write.press7");
  // Acknowledged means durable, so readable at once.
  const std::vector<Stored> stored = testing::read_stream(b.rt().store(), "write.press7");
  ASSERT_EQ(stored.size(), 4u);
  const Sample want[] = {
      {"press.force", 1'700'000'000'000'000'000, 12.5, quality::kGood},
      {"press.count", 1'700'000'000'000'000'001, int64_t{-7}, quality::kUncertain},
      {"press.on", 1'700'000'000'000'000'002, true, quality::kGood},
      {"press.mode", 1'700'000'000'000'000'003, std::string("auto"), quality::kBadTimeout},
  };
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(stored[i].seq, i);
    EXPECT_TRUE(identical(stored[i].sample, want[i])) << i;
  }
  EXPECT_EQ(b.source_counter("link", "writes"), 1u);

  // A sample without a value names itself; nothing is stored.
  linkpb::WriteRequest bad;
  bad.set_session("press7");
  bad.add_samples()->set_series("press.force");
  grpc::ClientContext cc2;
  cc2.AddMetadata("authorization", "Bearer " + token("op"));
  const grpc::Status refused = link->Write(&cc2, bad, &reply);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("samples[0]"), std::string::npos);
  // Without a token: refused.
  grpc::ClientContext cc3;
  EXPECT_EQ(link->Write(&cc3, request, &reply).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(testing::readable_count(b.rt().store(), "write.press7"), 4u);
}

// ---- f. closed, then open ---------------------------------------------------------------------

TEST_F(LinkTest, SenderWithoutItsReceiverIsClosedAndDeliversOnceItComes) {
  const uint64_t n = feed_a(4, 250);
  LinkInstance a;
  ASSERT_TRUE(a.start(dir_, "a", a_config(), types_));
  ASSERT_TRUE(eventually([&] {
    auto s = a.session("src", "toB");
    auto sink = a.sink("toB");
    return s && s->output_state == "closed" && sink &&
           sink->health.state == runtime::HealthState::kWarning;
  })) << state_of(a);
  const std::optional<runtime::SessionStatus> closed = a.session("src", "toB");
  EXPECT_FALSE(closed->output_reason.empty());
  EXPECT_NE(a.sink("toB")->health.reason.find("not connected"), std::string::npos)
      << a.sink("toB")->health.reason;
  EXPECT_EQ(closed->cursor, 0u);

  LinkInstance b;
  ASSERT_TRUE(b.start(dir_, "b", b_config(fingerprints({a_identity_.fingerprint})), types_));
  ASSERT_TRUE(eventually([&] {
    auto s = a.session("src", "toB");
    return s && s->cursor == n && s->output_state == "open";
  })) << state_of(a);
  const std::vector<std::string> streams = b.session_streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(testing::readable_count(b.rt().store(), streams[0]), n);
  EXPECT_EQ(a.sink("toB")->health.state, runtime::HealthState::kHealthy);
}

}  // namespace
}  // namespace sluice
