// Generic JSON parser with a mapping: pointer, fixed and topic names, every timestamp unit,
// quality, flat objects, arrays of objects, and located errors with `out` untouched.
#include <gtest/gtest.h>

#include <string>

#include "formats/json.h"

namespace sluice::formats {
namespace {

constexpr Timestamp kNow = 1'700'000'000'000'000'000;

Status parse(const JsonOptions& o, std::string_view payload, Parsed* out,
             std::string_view topic = "plant/line1/temp") {
  JsonParser parser(o);
  return parser.parse(payload, {topic, kNow}, out);
}

void expect_rejected(const JsonOptions& o, std::string_view payload, const std::string& where) {
  Parsed out;
  out.batch.samples.push_back({"sentinel", 1, 1.0, quality::kGood});
  const Status st = parse(o, payload, &out);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << payload.substr(0, 80);
  EXPECT_NE(st.message().find(where), std::string::npos) << st.message();
  ASSERT_EQ(out.batch.size(), 1u);
  EXPECT_EQ(out.batch.samples[0].series, "sentinel");
}

JsonOptions mapped(JsonOptions::TimeFormat f) {
  JsonOptions o;
  o.name_pointer = "/tag/name";
  o.value_pointer = "/value";
  o.time_pointer = "/ts";
  o.time_format = f;
  o.quality_pointer = "/ok";
  return o;
}

TEST(JsonParserTest, PointersMapAnArrayOfObjectsToSamples) {
  Parsed out;
  ASSERT_TRUE(parse(mapped(JsonOptions::TimeFormat::kMillis),
                    R"([{"tag":{"name":"t1"},"value":21.5,"ts":1700000000123,"ok":true},
                        {"tag":{"name":"t2"},"value":7,"ts":1700000000124,"ok":false},
                        {"tag":{"name":"t3"},"value":"on","ts":1700000000125,"ok":2158100480}])",
                    &out)
                  .ok());
  const Batch want{{{"t1", 1700000000123'000'000, 21.5, quality::kGood},
                    {"t2", 1700000000124'000'000, int64_t{7}, quality::kBad},
                    {"t3", 1700000000125'000'000, std::string("on"), 0x80A20000}}};
  EXPECT_TRUE(identical(out.batch, want));
}

TEST(JsonParserTest, EveryTimestampUnitConvertsToNanoseconds) {
  const struct {
    JsonOptions::TimeFormat f;
    const char* ts;
    Timestamp want;
  } cases[] = {
      {JsonOptions::TimeFormat::kSeconds, "1700000000.25", 1700000000'250'000'000},
      {JsonOptions::TimeFormat::kMillis, "1700000000250", 1700000000'250'000'000},
      {JsonOptions::TimeFormat::kMicros, "1700000000250001", 1700000000'250'001'000},
      {JsonOptions::TimeFormat::kNanos, "1700000000250001002", 1700000000'250'001'002},
      {JsonOptions::TimeFormat::kIso8601, "\"2023-11-14T22:13:20.250Z\"", 1700000000'250'000'000},
      {JsonOptions::TimeFormat::kIso8601, "\"2023-11-15T00:13:20.25+02:00\"",
       1700000000'250'000'000},
  };
  for (const auto& c : cases) {
    Parsed out;
    const std::string payload = std::string(R"({"tag":{"name":"a"},"value":1,"ts":)") + c.ts + "}";
    ASSERT_TRUE(parse(mapped(c.f), payload, &out).ok()) << payload;
    EXPECT_EQ(out.batch.samples[0].ts, c.want) << c.ts;
  }
}

TEST(JsonParserTest, NameCanBeFixedOrTheTopicAndTimeDefaultsToReceiveTime) {
  JsonOptions o;
  o.name_from = JsonOptions::NameFrom::kFixed;
  o.fixed_name = "boiler.pressure";
  Parsed out;
  ASSERT_TRUE(parse(o, R"({"value":3.5})", &out).ok());
  o.name_from = JsonOptions::NameFrom::kTopic;
  ASSERT_TRUE(parse(o, R"({"value":4.5})", &out).ok());
  const Batch want{{{"boiler.pressure", kNow, 3.5, quality::kGood},
                    {"plant/line1/temp", kNow, 4.5, quality::kGood}}};
  EXPECT_TRUE(identical(out.batch, want));
}

TEST(JsonParserTest, FlatModeMakesEachScalarMemberASeries) {
  JsonOptions o;
  o.flat = true;
  o.prefix = "{topic}.";
  Parsed out;
  ASSERT_TRUE(parse(o, R"({"temperature":21.5,"running":true,"mode":"auto","n":3,
                           "nested":{"x":1},"list":[1],"nothing":null})",
                    &out, "motor1")
                  .ok());
  const Batch want{{{"motor1.temperature", kNow, 21.5, quality::kGood},
                    {"motor1.running", kNow, true, quality::kGood},
                    {"motor1.mode", kNow, std::string("auto"), quality::kGood},
                    {"motor1.n", kNow, int64_t{3}, quality::kGood}}};
  EXPECT_TRUE(identical(out.batch, want));
}

TEST(JsonParserTest, BadInputsAreRejectedWithTheirPointer) {
  const JsonOptions o = mapped(JsonOptions::TimeFormat::kMillis);
  expect_rejected(o, R"({"tag":{"name":"a"},"value":1,)", "malformed JSON");
  expect_rejected(o, R"({"value":1})", "json: the object: missing series name at /tag/name");
  expect_rejected(o, R"([{"tag":{"name":"a"},"value":1},{"tag":{"name":"b"}}])",
                  "json: object /1: missing value at /value");
  expect_rejected(o, R"({"tag":{"name":7},"value":1})", "/tag/name: series name must be a string");
  expect_rejected(o, R"({"tag":{"name":"a"},"value":{}})", "/value: value must be a number");
  expect_rejected(o, R"({"tag":{"name":"a"},"value":1,"ts":"x"})", "/ts: timestamp must be");
  expect_rejected(o, R"({"tag":{"name":"a"},"value":1,"ok":"yes"})", "/ok: quality must be");
  expect_rejected(o, R"([1])", "json: object /0: must be an object");
  expect_rejected(o, R"({"tag":{"name":"a"},"value":1e400})", "outside the range");
  expect_rejected(o, R"({"tag":{"name":"a"},"value":1,"ts":1e300})", "timestamp out of range");
  expect_rejected(o, "{\"tag\":{\"name\":\"\xff\"},\"value\":1}", "invalid UTF-8");
  expect_rejected(o, std::string(200, '[') + std::string(200, ']'), "nesting deeper");
  const JsonOptions iso = mapped(JsonOptions::TimeFormat::kIso8601);
  expect_rejected(iso, R"({"tag":{"name":"a"},"value":1,"ts":"2023-11-14 22:13"})",
                  "is not an ISO-8601 date-time");
  expect_rejected(iso, R"({"tag":{"name":"a"},"value":1,"ts":"2023-02-30T00:00:00Z"})",
                  "is not an ISO-8601 date-time");
}

TEST(JsonParserTest, OversizedPayloadIsRejectedBeforeParsing) {
  ParseLimits limits;
  limits.max_payload_bytes = 1u << 20;
  JsonParser parser(JsonOptions{}, limits);
  Parsed out;
  const Status st = parser.parse(std::string(10u << 20, ' '), {"", kNow}, &out);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("larger than the limit"), std::string::npos) << st.message();
  EXPECT_TRUE(out.batch.empty());
}

}  // namespace
}  // namespace sluice::formats
