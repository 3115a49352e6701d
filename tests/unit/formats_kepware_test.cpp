// Kepware IoT Gateway standard-template parser: exact samples for good messages, and located
// kInvalidArgument errors (with `out` untouched) for every kind of bad one.
#include <gtest/gtest.h>

#include <string>

#include "formats/kepware.h"

namespace sluice::formats {
namespace {

constexpr Timestamp kNow = 1'700'000'000'000'000'000;
constexpr Timestamp kMs = 1'000'000;

Parsed with_sentinel() {
  Parsed p;
  p.batch.samples.push_back({"sentinel", 1, 1.0, quality::kGood});
  return p;
}

Status parse(std::string_view payload, Parsed* out, ParseLimits limits = {}) {
  KepwareParser parser(limits);
  return parser.parse(payload, {"iotgateway", kNow}, out);
}

// Expects a rejection whose message contains `where`, and `out` as it was.
void expect_rejected(std::string_view payload, const std::string& where, ParseLimits limits = {}) {
  Parsed out = with_sentinel();
  const Status st = parse(payload, &out, limits);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << payload.substr(0, 80);
  EXPECT_NE(st.message().find(where), std::string::npos) << st.message();
  ASSERT_EQ(out.batch.size(), 1u);
  EXPECT_EQ(out.batch.samples[0].series, "sentinel");
  EXPECT_TRUE(out.meta.empty());
}

TEST(KepwareParserTest, StandardTemplateYieldsOneSamplePerValue) {
  Parsed out;
  ASSERT_TRUE(parse(R"({"timestamp":1700000000500,"values":[
      {"id":"Channel1.Device1.Tag1","v":42,"q":true,"t":1700000000123},
      {"id":"Channel1.Device1.Tag2","v":21.5,"q":false,"t":1700000000124},
      {"id":"Channel1.Device1.Flag","v":true,"q":true,"t":1700000000125},
      {"id":"Channel1.Device1.Text","v":"running","q":true,"t":1700000000126}]})",
                    &out)
                  .ok());
  ASSERT_EQ(out.batch.size(), 4u);
  const Batch want{
      {{"Channel1.Device1.Tag1", 1700000000123 * kMs, int64_t{42}, quality::kGood},
       {"Channel1.Device1.Tag2", 1700000000124 * kMs, 21.5, quality::kBad},
       {"Channel1.Device1.Flag", 1700000000125 * kMs, true, quality::kGood},
       {"Channel1.Device1.Text", 1700000000126 * kMs, std::string("running"), quality::kGood}}};
  EXPECT_TRUE(identical(out.batch, want));
}

TEST(KepwareParserTest, MissingValueTimeFallsBackToMessageTimeThenReceiveTime) {
  Parsed out;
  ASSERT_TRUE(
      parse(R"({"timestamp":1700000000500,"values":[{"id":"a","v":1,"q":true}]})", &out).ok());
  ASSERT_TRUE(parse(R"({"values":[{"id":"b","v":1,"q":true}]})", &out).ok());
  ASSERT_EQ(out.batch.size(), 2u);
  EXPECT_EQ(out.batch.samples[0].ts, 1700000000500 * kMs);
  EXPECT_EQ(out.batch.samples[1].ts, kNow);
}

TEST(KepwareParserTest, IntegersAboveInt64BecomeDoubles) {
  Parsed out;
  ASSERT_TRUE(parse(R"({"values":[{"id":"a","v":18446744073709551615,"q":true},
                                   {"id":"b","v":-9223372036854775808,"q":true}]})",
                    &out)
                  .ok());
  EXPECT_TRUE(identical(out.batch.samples[0].value, Value(18446744073709551615.0)));
  EXPECT_TRUE(identical(out.batch.samples[1].value, Value(INT64_MIN)));
}

TEST(KepwareParserTest, AppendsToWhatOutAlreadyHolds) {
  Parsed out = with_sentinel();
  ASSERT_TRUE(parse(R"({"values":[{"id":"a","v":1,"q":true}]})", &out).ok());
  ASSERT_EQ(out.batch.size(), 2u);
  EXPECT_EQ(out.batch.samples[1].series, "a");
}

TEST(KepwareParserTest, MalformedJsonIsRejected) {
  expect_rejected(R"({"values":[{"id":"a","v":1,)", "malformed JSON");
  expect_rejected("", "malformed JSON");
}

TEST(KepwareParserTest, WrongShapesAreRejectedWithTheirPointer) {
  expect_rejected(R"([1,2])", "must be a JSON object");
  expect_rejected(R"({"timestamp":1})", "missing \"values\"");
  expect_rejected(R"({"values":{}})", "/values must be an array");
  expect_rejected(R"({"values":[{"id":"a","v":1},7]})", "/values/1: must be an object");
  expect_rejected(R"({"values":[{"v":1,"q":true}]})", "/values/0: missing \"id\"");
  expect_rejected(R"({"values":[{"id":"a","q":true}]})", "/values/0: missing \"v\"");
  expect_rejected(R"({"values":[{"id":5,"v":1}]})", "/values/0/id: must be a string");
  expect_rejected(R"({"values":[{"id":"a","v":[1,2]}]})", "/values/0/v");
  expect_rejected(R"({"values":[{"id":"a","v":null}]})", "/values/0/v");
  expect_rejected(R"({"values":[{"id":"a","v":1,"q":"good"}]})", "/values/0/q");
  expect_rejected(R"({"values":[{"id":"a","v":1,"t":"now"}]})", "/values/0/t");
  expect_rejected(R"({"values":[{"id":"","v":1}]})", "empty series name");
}

TEST(KepwareParserTest, HugeNumbersAreRejected) {
  expect_rejected(R"({"values":[{"id":"a","v":1e400}]})", "outside the range");
  expect_rejected(R"({"values":[{"id":"a","v":1180591620717411303424}]})", "outside the range");
  expect_rejected(R"({"values":[{"id":"a","v":1,"t":9223372036854775807}]})",
                  "/values/0/t: timestamp out of range");
  expect_rejected(R"({"timestamp":1e300,"values":[]})", "/timestamp: timestamp out of range");
}

TEST(KepwareParserTest, InvalidUtf8IsRejected) {
  expect_rejected("{\"values\":[{\"id\":\"a\xff\",\"v\":1}]}", "invalid UTF-8");
  expect_rejected("{\"values\":[{\"id\":\"a\",\"v\":\"\xc0\x80\"}]}", "invalid UTF-8");
}

TEST(KepwareParserTest, DeepNestingIsRejected) {
  const std::string deep =
      "{\"values\":[{\"id\":\"a\",\"v\":" + std::string(100, '[') + std::string(100, ']') + "}]}";
  expect_rejected(deep, "nesting deeper than the limit of 64");
}

TEST(KepwareParserTest, OversizedPayloadIsRejectedBeforeParsing) {
  ParseLimits limits;
  limits.max_payload_bytes = 1u << 20;
  // 10 MB of garbage: a parse would report malformed JSON, the size check comes first.
  const std::string big(10u << 20, 'x');
  expect_rejected(big, "larger than the limit of 1048576 bytes", limits);
}

TEST(KepwareParserTest, LimitsOnCountsAndLengthsAreEnforced) {
  ParseLimits limits;
  limits.max_samples = 2;
  limits.max_series_name = 8;
  limits.max_string_value = 4;
  expect_rejected(R"({"values":[{"id":"a","v":1},{"id":"b","v":1},{"id":"c","v":1}]})",
                  "more than the limit of 2", limits);
  expect_rejected(R"({"values":[{"id":"abcdefghi","v":1}]})", "longer than the limit of 8", limits);
  expect_rejected(R"({"values":[{"id":"a","v":"hello"}]})", "/values/0/v: string value of 5",
                  limits);
}

}  // namespace
}  // namespace sluice::formats
