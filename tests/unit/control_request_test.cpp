// The JSON form of a control request (runtime/control.h, parse_control_request): every accepted
// shape becomes the request it says, every refusal names the field at fault, the limits hold,
// what control_request_json writes parses back to the same request, and the kept fuzz inputs
// (fuzz/corpus/control_request) replay cleanly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "fixtures/test_support.h"
#include "fuzz/control_targets.h"
#include "runtime/control.h"

namespace sluice::runtime {
namespace {

using ::testing::HasSubstr;

ControlRequest parse_ok(std::string_view text) {
  Result<ControlRequest> r = parse_control_request(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().to_string();
  return r.ok() ? *r : ControlRequest{};
}

std::string refusal(std::string_view text) {
  Result<ControlRequest> r = parse_control_request(text);
  EXPECT_FALSE(r.ok()) << text << " was accepted: " << (r.ok() ? r->describe() : "");
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

TEST(ControlRequestTest, ValuesAsAnObjectAreWrittenInNameOrderWithTheirJsonTypes) {
  const ControlRequest r =
      parse_ok(R"({"service": "fan", "values": {"speed": 1200, "on": true, "gain": 0.5,
                   "mode": "auto"}})");
  EXPECT_EQ(r.action, ControlRequest::Action::kWrite);
  EXPECT_EQ(r.target, (ControlTarget{ControlTarget::Kind::kService, "fan"}));
  ASSERT_EQ(r.values.size(), 4u);
  EXPECT_EQ(r.values[0], (std::pair<std::string, Value>{"gain", 0.5}));
  EXPECT_EQ(r.values[1], (std::pair<std::string, Value>{"mode", std::string("auto")}));
  EXPECT_EQ(r.values[2], (std::pair<std::string, Value>{"on", true}));
  EXPECT_EQ(r.values[3], (std::pair<std::string, Value>{"speed", int64_t{1200}}));
}

TEST(ControlRequestTest, ValuesAsAListKeepTheirOrderAndGoToTheAssetsService) {
  const ControlRequest r = parse_ok(
      R"({"asset": "Motor", "values": [{"name": "speed", "value": 1200},
                                       {"name": "accel", "value": -2.0}]})");
  EXPECT_EQ(r.target, (ControlTarget{ControlTarget::Kind::kAsset, "Motor"}));
  ASSERT_EQ(r.values.size(), 2u);
  EXPECT_EQ(r.values[0].first, "speed");
  EXPECT_EQ(r.values[0].second, Value(int64_t{1200}));
  EXPECT_EQ(r.values[1].first, "accel");
  EXPECT_EQ(r.values[1].second, Value(-2.0));  // a number with a fraction part stays a double
  EXPECT_EQ(r.describe(), "write speed=1200, accel=-2 to the service of asset 'Motor'");
}

TEST(ControlRequestTest, OperationOnEveryServiceTakesParamsAsTheirJsonText) {
  const ControlRequest r = parse_ok(
      R"({"all": true, "operation": "stop", "params": {"why": "fire", "level": 3, "now": true,
                                                        "ratio": 0.25}})");
  EXPECT_EQ(r.action, ControlRequest::Action::kOperation);
  EXPECT_EQ(r.target.kind, ControlTarget::Kind::kAll);
  EXPECT_EQ(r.operation, "stop");
  EXPECT_EQ(r.params,
            (OperationParams{{"why", "fire"}, {"level", "3"}, {"now", "true"}, {"ratio", "0.25"}}));
}

TEST(ControlRequestTest, ScriptHasNoTargetAndOptionalParams) {
  ControlRequest r = parse_ok(R"({"script": "cool-down", "params": {"speed": "1200"}})");
  EXPECT_EQ(r.action, ControlRequest::Action::kScript);
  EXPECT_EQ(r.script, "cool-down");
  EXPECT_EQ(r.params, (OperationParams{{"speed", "1200"}}));
  r = parse_ok(R"({"script": "purge"})");
  EXPECT_TRUE(r.params.empty());
}

TEST(ControlRequestTest, EveryRefusalNamesTheFieldAtFault) {
  EXPECT_EQ(refusal(R"({"service": "fan", "values": [{"name": "a", "value": 1},
                       {"name": "b", "value": 2}, {"name": "c", "value": null}]})"),
            "field 'values[2].value': expected a number, boolean or string");
  EXPECT_THAT(refusal(R"({"service": "fan", "values": {"x": [1]}})"),
              HasSubstr("field 'values.x': expected a number, boolean or string"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": [{"name": "x"}]})"),
              HasSubstr("field 'values[0].value': missing"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": [{"name": "x", "value": 1, "unit": "C"}]})"),
              HasSubstr("field 'values[0].unit'"));
  EXPECT_THAT(refusal(R"({"service": "fan", "asset": "Motor", "values": {"x": 1}})"),
              HasSubstr("exactly one target"));
  EXPECT_THAT(refusal(R"({"values": {"x": 1}})"), HasSubstr("field 'service'"));
  EXPECT_THAT(refusal(R"({"all": false, "operation": "stop"})"), HasSubstr("field 'all'"));
  EXPECT_THAT(refusal(R"({"service": "fan"})"), HasSubstr("field 'values'"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": {"x": 1}, "operation": "stop"})"),
              HasSubstr("field 'operation'"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": {"x": 1}, "params": {"a": "b"}})"),
              HasSubstr("field 'params'"));
  EXPECT_THAT(refusal(R"({"script": "s", "service": "fan"})"), HasSubstr("field 'script'"));
  EXPECT_THAT(refusal(R"({"script": "s", "operation": "stop"})"), HasSubstr("field 'operation'"));
  EXPECT_THAT(refusal(R"({"script": ""})"), HasSubstr("field 'script': is empty"));
  EXPECT_THAT(refusal(R"({"service": 7, "values": {"x": 1}})"),
              HasSubstr("field 'service': expected a string"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": {}})"), HasSubstr("field 'values'"));
  EXPECT_THAT(refusal(R"({"service": "fan", "operation": "go", "params": {"a": [1]}})"),
              HasSubstr("field 'params.a'"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": {"x": 1}, "colour": "red"})"),
              HasSubstr("field 'colour': unknown"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": {"x": 18446744073709551615}})"),
              HasSubstr("field 'values.x'"));
  EXPECT_THAT(refusal("[1, 2]"), HasSubstr("expected a JSON object"));
  EXPECT_THAT(refusal("{\"service\": "), HasSubstr("not JSON"));
  EXPECT_THAT(refusal(""), HasSubstr("not JSON"));
}

TEST(ControlRequestTest, LimitsOnSizeCountNamesAndNestingAreEnforced) {
  std::string many = R"({"service": "fan", "values": {)";
  for (size_t i = 0; i <= kMaxControlValues; ++i) {
    many += (i == 0 ? "" : ",") + std::string("\"v") + std::to_string(i) + "\": 1";
  }
  many += "}}";
  EXPECT_THAT(refusal(many), HasSubstr("field 'values': 1001 entries; at most 1000"));

  const std::string long_name(kMaxControlNameBytes + 1, 'n');
  EXPECT_THAT(refusal(R"({"service": ")" + long_name + R"(", "operation": "x"})"),
              HasSubstr("field 'service': 257 bytes; at most 256"));
  EXPECT_THAT(refusal(R"({"service": "fan", "values": {")" + long_name + R"(": 1}})"),
              HasSubstr("field 'values'"));

  const std::string big = R"({"service": "fan", "values": {"s": ")" +
                          std::string(kMaxControlRequestBytes, 'x') + "\"}}";
  EXPECT_THAT(refusal(big), HasSubstr("at most 65536"));

  EXPECT_THAT(refusal(std::string(100, '[') + std::string(100, ']')), HasSubstr("nested deeper"));
  // Brackets inside strings do not count as nesting.
  parse_ok(R"({"service": "fan", "values": {"s": "[[[[[[[[[[[[[[[[[[[["}})");
}

TEST(ControlRequestTest, WrittenJsonParsesBackToTheSameRequest) {
  for (
      const char* text : {
          R"({"service": "fan", "values": {"speed": 1200, "on": true, "gain": 0.1}})",
          R"({"asset": "M\u00f6tor", "values": [{"name": "z", "value": "a\"b"}, {"name": "a", "value": 1e300}]})",
          R"({"all": true, "operation": "stop", "params": {"why": "fire", "n": 3}})",
          R"({"script": "cool-down", "params": {"speed": "1200"}})",
          R"({"script": "s"})",
      }) {
    SCOPED_TRACE(text);
    const ControlRequest r = parse_ok(text);
    const std::string written = control_request_json(r);
    const ControlRequest back = parse_ok(written);
    EXPECT_EQ(back.action, r.action);
    EXPECT_EQ(back.target, r.target);
    EXPECT_EQ(back.values, r.values);
    EXPECT_EQ(back.operation, r.operation);
    EXPECT_EQ(back.script, r.script);
    EXPECT_EQ(back.params, r.params);
    EXPECT_EQ(back.describe(), r.describe());
  }
}

TEST(ControlRequestTest, KeptFuzzInputsReplayCleanly) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / "control_request";
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(fuzz::control_request(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
              0);
    ++n;
  }
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace sluice::runtime
