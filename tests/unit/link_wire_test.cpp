// The link's wire helpers (src/link/wire.h): batches round-trip bit-exactly through a frame's
// own series table; every malformed frame is refused with an error that names the field at
// fault; sessions are checked field by field, keep every field through the stream's meta JSON,
// and get ids in Canary's "<destination>.<created>.<collector>.<source>" form.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "link/wire.h"

namespace sluice::link {
namespace {

using google::protobuf::util::MessageDifferencer;

Batch mixed_batch() {
  Batch b;
  // Grouped by series, so the decoded order is the input's order.
  b.samples.push_back({"plant.temp", 1'000, 21.5, quality::kGood});
  b.samples.push_back({"plant.temp", 2'000, std::nan(""), quality::kBadTimeout});
  b.samples.push_back({"plant.temp", 3'500, -0.0, quality::kUncertainLastUsableValue});
  b.samples.push_back({"plant.count", 1'000, int64_t{42}, quality::kGood});
  b.samples.push_back(
      {"plant.count", 2'000, std::numeric_limits<int64_t>::min(), quality::kBadOutOfRange});
  b.samples.push_back({"plant.running", 1'000, true, quality::kGood});
  b.samples.push_back({"plant.running", 1'000, false, quality::kUncertain});
  b.samples.push_back({"plant.state", -5, std::string("idle\0x", 6), quality::kGood});
  b.samples.push_back({"plant.state", 7, std::string(), quality::kBadNoCommunication});
  return b;
}

pb::EncodedBatch encoded(const Batch& b, Compression c = Compression::kNone) {
  pb::EncodedBatch out;
  EncodeOptions options;
  options.compression = c;
  options.min_saving = 0;  // keep the compression even if it saves nothing
  const Status st = encode_wire_batch(b, options, &out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

void expect_identical(const Batch& want, const Batch& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(identical(want.samples[i], got.samples[i]))
        << "sample " << i << " (" << want.samples[i].series << ")";
  }
}

// The error of decoding `in`, which must fail with kInvalidArgument.
std::string decode_error(const pb::EncodedBatch& in) {
  Result<Batch> r = decode_wire_batch(in);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().message();
  return r.status().message();
}

TEST(LinkWire, MixedBatchRoundTripsBitIdenticalInOrderThroughEveryCompression) {
  const Batch b = mixed_batch();
  for (Compression c : {Compression::kNone, Compression::kLz4, Compression::kZstd}) {
    SCOPED_TRACE(compression_name(c));
    const pb::EncodedBatch e = encoded(b, c);
    EXPECT_EQ(e.sample_count(), b.size());
    ASSERT_EQ(e.series_size(), 4);  // in order of first appearance
    EXPECT_EQ(e.series(0), "plant.temp");
    EXPECT_EQ(e.series(3), "plant.state");
    Result<Batch> back = decode_wire_batch(e);
    ASSERT_TRUE(back.ok()) << back.status().message();
    expect_identical(b, *back);
  }
}

TEST(LinkWire, InterleavedBatchDecodesGroupedBySeriesInFirstAppearanceOrder) {
  Batch b;
  b.samples.push_back({"b", 1, 1.0, quality::kGood});
  b.samples.push_back({"a", 2, int64_t{2}, quality::kGood});
  b.samples.push_back({"b", 3, 3.0, quality::kBad});
  b.samples.push_back({"a", 4, int64_t{4}, quality::kGood});
  Result<Batch> back = decode_wire_batch(encoded(b));
  ASSERT_TRUE(back.ok()) << back.status().message();
  Batch want;
  want.samples = {b.samples[0], b.samples[2], b.samples[1], b.samples[3]};
  expect_identical(want, *back);
}

TEST(LinkWire, EmptyBatchIsRefusedNamingSampleCount) {
  pb::EncodedBatch e = encoded(mixed_batch());
  e.set_sample_count(0);
  EXPECT_NE(decode_error(e).find("batch.sample_count"), std::string::npos);
  pb::EncodedBatch blank;
  EXPECT_NE(decode_error(blank).find("batch.sample_count"), std::string::npos);
}

TEST(LinkWire, CountMismatchIsRefusedNamingSampleCount) {
  pb::EncodedBatch e = encoded(mixed_batch());
  e.set_sample_count(e.sample_count() + 1);
  const std::string more = decode_error(e);
  EXPECT_NE(more.find("batch.sample_count"), std::string::npos) << more;
  EXPECT_NE(more.find("10 declared"), std::string::npos) << more;
  e.set_sample_count(3);
  EXPECT_NE(decode_error(e).find("batch.sample_count"), std::string::npos);
}

TEST(LinkWire, SeriesIdOutsideTheFrameTableIsRefusedNamingPayload) {
  pb::EncodedBatch e = encoded(mixed_batch());
  e.mutable_series()->RemoveLast();  // ids 0..3 in the payload, 3 names in the table
  const std::string error = decode_error(e);
  EXPECT_NE(error.find("batch.payload"), std::string::npos) << error;
  EXPECT_NE(error.find("series id 3"), std::string::npos) << error;
}

TEST(LinkWire, TruncatedOrGarbagePayloadIsRefusedNamingPayload) {
  for (Compression c : {Compression::kNone, Compression::kZstd}) {
    SCOPED_TRACE(compression_name(c));
    const pb::EncodedBatch good = encoded(mixed_batch(), c);
    for (size_t keep :
         {size_t{0}, size_t{1}, good.payload().size() / 2, good.payload().size() - 1}) {
      pb::EncodedBatch e = good;
      e.set_payload(good.payload().substr(0, keep));
      EXPECT_NE(decode_error(e).find("batch.payload"), std::string::npos) << "kept " << keep;
    }
    pb::EncodedBatch e = good;
    e.set_payload(std::string(good.payload().size(), '\xA5'));
    EXPECT_NE(decode_error(e).find("batch.payload"), std::string::npos);
  }
}

TEST(LinkWire, UnknownCompressionIsRefusedNamingCompression) {
  pb::EncodedBatch e = encoded(mixed_batch());
  e.set_compression(3);
  const std::string error = decode_error(e);
  EXPECT_NE(error.find("batch.compression"), std::string::npos) << error;
}

TEST(LinkWire, EmptySeriesNameIsRefusedNamingItsIndex) {
  pb::EncodedBatch e = encoded(mixed_batch());
  e.set_series(2, "");
  const std::string error = decode_error(e);
  EXPECT_NE(error.find("batch.series[2]"), std::string::npos) << error;
  e.clear_series();
  EXPECT_NE(decode_error(e).find("batch.series"), std::string::npos);
}

pb::SessionInfo valid_session() {
  pb::SessionInfo s;
  s.set_id("B.20240305T060708Z.A.sim");
  s.set_name("sim");
  s.set_collector("A");
  s.set_source("sim");
  s.add_hops("A");
  s.set_dataset("plant");
  s.set_created_ns(1'709'618'828'000'000'000);
  s.set_destination("B");
  return s;
}

TEST(LinkWire, ValidSessionPasses) {
  const Status st = validate_session(valid_session());
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(LinkWire, InvalidSessionIsRefusedNamingTheField) {
  struct Case {
    const char* field;
    void (*spoil)(pb::SessionInfo&);
  };
  const Case cases[] = {
      {"session.id", [](pb::SessionInfo& s) { s.clear_id(); }},
      {"session.id", [](pb::SessionInfo& s) { s.set_id(std::string(201, 'x')); }},
      {"session.id", [](pb::SessionInfo& s) { s.set_id("bad\nid"); }},
      {"session.id", [](pb::SessionInfo& s) { s.set_id(".hidden"); }},
      {"session.id", [](pb::SessionInfo& s) { s.set_id("a/b"); }},
      {"session.collector", [](pb::SessionInfo& s) { s.clear_collector(); }},
      {"session.source", [](pb::SessionInfo& s) { s.clear_source(); }},
      {"session.name", [](pb::SessionInfo& s) { s.set_name(std::string(201, 'n')); }},
      {"session.dataset", [](pb::SessionInfo& s) { s.set_dataset(std::string(201, 'd')); }},
      {"session.hops", [](pb::SessionInfo& s) { s.clear_hops(); }},
      {"session.hops",
       [](pb::SessionInfo& s) {
         for (int i = 0; i < 40; ++i) s.add_hops("h" + std::to_string(i));
       }},
      {"session.hops[1]", [](pb::SessionInfo& s) { s.add_hops(""); }},
      {"session.created_ns", [](pb::SessionInfo& s) { s.set_created_ns(-1); }},
      {"session.settings.inactive_timeout_ms",
       [](pb::SessionInfo& s) { s.mutable_settings()->set_inactive_timeout_ms(-1); }},
  };
  for (const Case& c : cases) {
    pb::SessionInfo s = valid_session();
    c.spoil(s);
    const Status st = validate_session(s);
    ASSERT_FALSE(st.ok()) << c.field;
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_EQ(st.message().rfind(c.field, 0), 0u) << "want " << c.field << ": " << st.message();
  }
}

TEST(LinkWire, SessionMetaJsonRoundTripsEveryField) {
  pb::SessionInfo s = valid_session();
  s.add_hops("B");
  s.mutable_settings()->set_inactive_timeout_ms(60'000);
  s.mutable_settings()->set_write_nodata_on_close(true);
  s.mutable_settings()->set_allow_insert_older(false);
  s.mutable_settings()->set_create_dataset(false);
  const std::string meta = session_meta_json(s, "link");
  pb::SessionInfo back;
  ASSERT_TRUE(session_from_meta(meta, &back));
  std::string diff;
  MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(s, back)) << diff;

  const nlohmann::json j = nlohmann::json::parse(meta);
  EXPECT_EQ(j["service"], "link");
  EXPECT_EQ(j["hops"], nlohmann::json::array({"A", "B"}));
}

TEST(LinkWire, SessionMetaKeepsUnsetSettingsUnset) {
  const pb::SessionInfo s = valid_session();  // no settings given
  pb::SessionInfo back;
  ASSERT_TRUE(session_from_meta(session_meta_json(s, "link"), &back));
  EXPECT_FALSE(back.settings().has_inactive_timeout_ms());
  EXPECT_FALSE(back.settings().has_allow_insert_older());
  EXPECT_TRUE(MessageDifferencer::Equivalent(s, back));  // an empty settings message may be present
}

TEST(LinkWire, MetaWithoutASessionIsNotOne) {
  pb::SessionInfo out;
  EXPECT_FALSE(session_from_meta(R"({"source":"sim","type":"simulator"})", &out));
  EXPECT_FALSE(session_from_meta("not json", &out));
  EXPECT_FALSE(session_from_meta(R"({"session":{"name":"no id"}})", &out));
  EXPECT_FALSE(session_from_meta(R"({"session":[1,2]})", &out));
}

TEST(LinkWire, SessionIdIsDestinationUtcTimeCollectorSource) {
  // 2024-03-05T06:07:08.999Z
  const int64_t created = 1'709'618'828'999'000'000;
  EXPECT_EQ(make_session_id("B", created, "A", "sim"), "B.20240305T060708Z.A.sim");
  EXPECT_EQ(make_session_id("lake", 0, "edge-1", "write.x"),
            "lake.19700101T000000Z.edge-1.write.x");
  const std::string id = make_session_id("B", created, "A", std::string(300, 's'));
  EXPECT_EQ(id.size(), kMaxSessionIdBytes);
  EXPECT_EQ(id.rfind("B.20240305T060708Z.A.sss", 0), 0u);
  pb::SessionInfo s = valid_session();
  s.set_id(id);
  EXPECT_TRUE(validate_session(s).ok());
}

}  // namespace
}  // namespace sluice::link
