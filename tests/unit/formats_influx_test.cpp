// InfluxDB line protocol parser: every field type, escaping, tags in series names and labels,
// precision, and located errors with `out` untouched.
#include <gtest/gtest.h>

#include <string>

#include "formats/influx.h"

namespace sluice::formats {
namespace {

constexpr Timestamp kNow = 1'700'000'000'000'000'000;

Status parse(std::string_view payload, Parsed* out, InfluxOptions o = {}) {
  InfluxParser parser(o);
  return parser.parse(payload, {"telegraf", kNow}, out);
}

void expect_rejected(std::string_view payload, const std::string& where) {
  Parsed out;
  out.batch.samples.push_back({"sentinel", 1, 1.0, quality::kGood});
  const Status st = parse(payload, &out);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << payload.substr(0, 80);
  EXPECT_NE(st.message().find(where), std::string::npos) << st.message();
  ASSERT_EQ(out.batch.size(), 1u);
  EXPECT_TRUE(out.meta.empty());
}

TEST(InfluxParserTest, EachFieldOfEachLineIsASample) {
  Parsed out;
  ASSERT_TRUE(
      parse("# comment\n"
            "cpu,host=a,region=eu usage=0.5,count=3i,up=t,state=\"ok\" 1700000000000000001\n"
            "\n"
            "mem free=12u,flag=FALSE\n",
            &out)
          .ok());
  const std::string cpu = "cpu{host=\"a\",region=\"eu\"}.";
  const Batch want{{{cpu + "usage", 1700000000000000001, 0.5, quality::kGood},
                    {cpu + "count", 1700000000000000001, int64_t{3}, quality::kGood},
                    {cpu + "up", 1700000000000000001, true, quality::kGood},
                    {cpu + "state", 1700000000000000001, std::string("ok"), quality::kGood},
                    {"mem.free", kNow, int64_t{12}, quality::kGood},
                    {"mem.flag", kNow, false, quality::kGood}}};
  EXPECT_TRUE(identical(out.batch, want));
  ASSERT_EQ(out.meta.size(), 6u);
  EXPECT_EQ(out.meta[0].labels,
            (std::map<std::string, std::string>{{"host", "a"}, {"region", "eu"}}));
  EXPECT_EQ(out.meta[1].type, ValueType::kInt64);
}

TEST(InfluxParserTest, EscapesAreResolvedAndTagsSorted) {
  Parsed out;
  ASSERT_TRUE(parse(R"(my\ meas\,x,z=1,a\=b=c\ d f\ 1="say \"hi\" \\ ok" 5)", &out).ok());
  ASSERT_EQ(out.batch.size(), 1u);
  EXPECT_EQ(out.batch.samples[0].series, R"(my meas,x{a=b="c d",z="1"}.f 1)");
  EXPECT_TRUE(identical(out.batch.samples[0].value, Value(std::string(R"(say "hi" \ ok)"))));
  EXPECT_EQ(out.batch.samples[0].ts, 5);
}

TEST(InfluxParserTest, PrecisionScalesTimestamps) {
  Parsed out;
  ASSERT_TRUE(parse("m v=1 1700000000\n", &out, {TimeUnit::kSeconds}).ok());
  ASSERT_TRUE(parse("m v=1 1700000000123\n", &out, {TimeUnit::kMillis}).ok());
  EXPECT_EQ(out.batch.samples[0].ts, 1700000000'000'000'000);
  EXPECT_EQ(out.batch.samples[1].ts, 1700000000'123'000'000);
  Parsed again;
  EXPECT_TRUE(parse("m v=1 9223372036854775807\n", &again).ok());  // the largest ns time
  const Status st = parse("m v=1 9223372036854775807\n", &again, {TimeUnit::kSeconds});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("out-of-range timestamp"), std::string::npos) << st.message();
  EXPECT_EQ(again.batch.size(), 1u);
}

TEST(InfluxParserTest, MalformedLinesAreRejectedWithLineAndColumn) {
  expect_rejected("m v=1\nm\n", "line 2 column 2: expected a space before the fields");
  expect_rejected("m,t v=1", "line 1 column 3: expected tag=value");
  expect_rejected("m,t= v=1", "empty value of tag t");
  expect_rejected("m v=", "line 1 column 5: invalid value");
  expect_rejected("m v=abc", "invalid value \"abc\"");
  expect_rejected("m v=\"open", "unterminated string value of field v");
  expect_rejected("m v=1 12x", "invalid or out-of-range timestamp");
  expect_rejected("m v=1 1 extra", "text after the timestamp");
  expect_rejected("m v=99999999999999999999i", "malformed or out of range");
  expect_rejected("m v=-1u", "malformed or out of range");
  expect_rejected("m v=1e400", "invalid value");
  expect_rejected("m v=NaN", "invalid value");
  expect_rejected("m,t=1,t=2 v=1", "repeated tag");
  expect_rejected("m v=\"\xff\"", "not valid UTF-8");
}

TEST(InfluxParserTest, OversizedPayloadIsRejectedBeforeParsing) {
  ParseLimits limits;
  limits.max_payload_bytes = 1u << 20;
  InfluxParser parser({}, limits);
  Parsed out;
  std::string big;
  while (big.size() < (10u << 20)) big += "m v=1\n";
  const Status st = parser.parse(big, {"", kNow}, &out);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("larger than the limit"), std::string::npos);
  EXPECT_TRUE(out.batch.empty());
}

}  // namespace
}  // namespace sluice::formats
