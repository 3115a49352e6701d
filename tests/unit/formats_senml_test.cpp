// SenML JSON parser (RFC 8428): base-field resolution, relative and absolute times, units as
// metadata, and the RFC's validation rules as located kInvalidArgument errors.
#include <gtest/gtest.h>

#include <string>

#include "formats/senml.h"

namespace sluice::formats {
namespace {

constexpr Timestamp kNow = 1'700'000'000'000'000'000;
constexpr Timestamp kSec = 1'000'000'000;

Status parse(std::string_view payload, Parsed* out, ParseLimits limits = {}) {
  SenmlParser parser(limits);
  return parser.parse(payload, {"channels/1/messages", kNow}, out);
}

void expect_rejected(std::string_view payload, const std::string& where, ParseLimits limits = {}) {
  Parsed out;
  out.batch.samples.push_back({"sentinel", 1, 1.0, quality::kGood});
  const Status st = parse(payload, &out, limits);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << payload.substr(0, 80);
  EXPECT_NE(st.message().find(where), std::string::npos) << st.message();
  ASSERT_EQ(out.batch.size(), 1u);
  EXPECT_EQ(out.batch.samples[0].series, "sentinel");
  EXPECT_TRUE(out.meta.empty());
}

TEST(SenmlParserTest, BaseFieldsResolveIntoEveryLaterRecord) {
  // RFC 8428 section 5.1.2 style: base name, time and unit shared by records.
  Parsed out;
  ASSERT_TRUE(
      parse(R"([{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.320067464e+09,"bu":"%RH","v":20},
                        {"u":"lon","v":24.30621},
                        {"u":"lat","v":60.07965},
                        {"t":60,"v":20.3},
                        {"n":"door","vb":true},
                        {"n":"label","vs":"kitchen"}])",
            &out)
          .ok());
  const std::string bn = "urn:dev:ow:10e2073a01080063:";
  const Timestamp bt = 1320067464 * kSec;
  const Batch want{{{bn, bt, 20.0, quality::kGood},
                    {bn, bt, 24.30621, quality::kGood},
                    {bn, bt, 60.07965, quality::kGood},
                    {bn, bt + 60 * kSec, 20.3, quality::kGood},
                    {bn + "door", bt, true, quality::kGood},
                    {bn + "label", bt, std::string("kitchen"), quality::kGood}}};
  EXPECT_TRUE(identical(out.batch, want));
  ASSERT_EQ(out.meta.size(), 3u);  // one entry per series; the first record's unit wins
  EXPECT_EQ(out.meta[0].name, bn);
  EXPECT_EQ(out.meta[0].unit, "%RH");
  EXPECT_EQ(out.meta[1].name, bn + "door");
  EXPECT_EQ(out.meta[1].type, ValueType::kBool);
}

TEST(SenmlParserTest, RecordsThatShareATimestampAreAllKept) {
  Parsed out;
  ASSERT_TRUE(
      parse(R"([{"n":"a","t":1700000000,"v":1},{"n":"a","t":1700000000,"v":2}])", &out).ok());
  ASSERT_EQ(out.batch.size(), 2u);
  EXPECT_EQ(out.batch.samples[0].ts, out.batch.samples[1].ts);
}

TEST(SenmlParserTest, TimesBelow2To28AreRelativeToTheReceiveTime) {
  Parsed out;
  ASSERT_TRUE(parse(R"([{"n":"a","v":1},{"n":"b","t":-5,"v":1},{"n":"c","t":1.5,"v":1},
                        {"n":"d","t":268435456,"v":1}])",
                    &out)
                  .ok());
  EXPECT_EQ(out.batch.samples[0].ts, kNow);
  EXPECT_EQ(out.batch.samples[1].ts, kNow - 5 * kSec);
  EXPECT_EQ(out.batch.samples[2].ts, kNow + 1'500'000'000);
  EXPECT_EQ(out.batch.samples[3].ts, 268435456 * kSec);
}

TEST(SenmlParserTest, BaseValueAddsToValueAndSumStandsInForAMissingValue) {
  Parsed out;
  ASSERT_TRUE(
      parse(R"([{"bn":"m/","bv":100,"bs":10,"n":"x","v":1},{"n":"energy","s":5}])", &out).ok());
  EXPECT_TRUE(identical(out.batch.samples[0].value, Value(101.0)));
  EXPECT_TRUE(identical(out.batch.samples[1].value, Value(15.0)));
  EXPECT_EQ(out.batch.samples[1].series, "m/energy");
}

TEST(SenmlParserTest, DataValueIsKeptAsItsBase64String) {
  Parsed out;
  ASSERT_TRUE(parse(R"([{"n":"blob","vd":"aGVsbG8"}])", &out).ok());
  EXPECT_TRUE(identical(out.batch.samples[0].value, Value(std::string("aGVsbG8"))));
}

TEST(SenmlParserTest, UnknownFieldsAreIgnoredButMustUnderstandOnesAreRejected) {
  Parsed out;
  ASSERT_TRUE(parse(R"([{"n":"a","v":1,"extra":{"x":1}}])", &out).ok());
  expect_rejected(R"([{"n":"a","v":1},{"n":"b","v":1,"new_":1}])",
                  "record 1 field \"new_\": unknown must-understand field");
}

TEST(SenmlParserTest, RecordWithoutValueIsRejectedNamingItsIndex) {
  expect_rejected(R"([{"n":"a","v":1},{"n":"b","t":3}])", "record 1: no value field");
}

TEST(SenmlParserTest, RecordWithTwoValuesIsRejected) {
  expect_rejected(R"([{"n":"a","v":1,"vs":"x"}])", "record 0: more than one value field");
}

TEST(SenmlParserTest, InvalidNamesAreRejected) {
  expect_rejected(R"([{"n":"a b","v":1}])", "record 0: name \"a b\"");
  expect_rejected(R"([{"n":"-a","v":1}])", "record 0: name");
  expect_rejected(R"([{"v":1}])", "record 0: name \"\"");
  expect_rejected(R"([{"n":"caf\u00e9","v":1}])", "record 0: name");
}

TEST(SenmlParserTest, WrongTypesAreRejectedNamingRecordAndField) {
  expect_rejected(R"({"n":"a","v":1})", "a pack must be a JSON array");
  expect_rejected(R"([{"n":"a","v":1},3])", "record 1: must be an object");
  expect_rejected(R"([{"n":"a","v":"1"}])", "record 0 field \"v\": must be a number");
  expect_rejected(R"([{"n":1,"v":1}])", "record 0 field \"n\": must be a string");
  expect_rejected(R"([{"n":"a","vb":1}])", "record 0 field \"vb\": must be true or false");
  expect_rejected(R"([{"bn":"a","bt":"x","v":1}])", "record 0 field \"bt\"");
  expect_rejected(R"([{"bver":11,"n":"a","v":1}])", "version 11 is newer");
}

TEST(SenmlParserTest, HugeNumbersAndTimesAreRejected) {
  expect_rejected(R"([{"n":"a","v":1e400}])", "outside the range");
  expect_rejected(R"([{"n":"a","v":1,"t":1e300}])", "record 0: time out of range");
  expect_rejected(R"([{"n":"a","bv":1e308,"v":1e308}])", "record 0: the value is not finite");
}

TEST(SenmlParserTest, InvalidUtf8AndDeepNestingAreRejected) {
  expect_rejected("[{\"n\":\"a\",\"vs\":\"\xed\xa0\x80\"}]", "invalid UTF-8");
  expect_rejected(
      "[{\"n\":\"a\",\"v\":1,\"x\":" + std::string(80, '[') + std::string(80, ']') + "}]",
      "nesting deeper");
}

TEST(SenmlParserTest, OversizedPackIsRejectedBeforeParsing) {
  ParseLimits limits;
  limits.max_payload_bytes = 1u << 20;
  std::string big = "[";
  while (big.size() < (10u << 20)) big += R"({"n":"a","v":1},)";
  big += R"({"n":"a","v":1}])";
  expect_rejected(big, "larger than the limit", limits);
  limits.max_payload_bytes = 16u << 20;
  limits.max_samples = 1000;
  expect_rejected(big, "more than the limit of 1000", limits);
}

}  // namespace
}  // namespace sluice::formats
