// Parser registry and format detection: every format name makes its parser, unknown names are
// errors, and detection recognizes only the unambiguous shapes.
#include <gtest/gtest.h>

#include "formats/registry.h"

namespace sluice::formats {
namespace {

TEST(FormatRegistryTest, EveryKnownFormatMakesItsParser) {
  for (const std::string_view name : {"kepware", "json", "senml", "openmetrics", "influx"}) {
    auto parser = make_parser(name, {});
    ASSERT_TRUE(parser.ok()) << name;
    EXPECT_EQ((*parser)->name(), name);
  }
  auto prom = make_parser("prometheus", {});
  ASSERT_TRUE(prom.ok());
  Parsed out;
  // Prometheus text needs no # EOF; the OpenMetrics parser would reject this.
  EXPECT_TRUE((*prom)->parse("up 1\n", {"", 1}, &out).ok());
  EXPECT_FALSE((*make_parser("openmetrics", {}))->parse("up 1\n", {"", 1}, &out).ok());
}

TEST(FormatRegistryTest, OptionsReachTheParser) {
  ParserOptions options;
  options.influx.precision = TimeUnit::kSeconds;
  options.limits.max_samples = 1;
  auto parser = make_parser("influx", options);
  ASSERT_TRUE(parser.ok());
  Parsed out;
  ASSERT_TRUE((*parser)->parse("m v=1 2\n", {"", 0}, &out).ok());
  EXPECT_EQ(out.batch.samples[0].ts, 2'000'000'000);
  EXPECT_FALSE((*parser)->parse("m v=1,w=2\n", {"", 0}, &out).ok());
}

TEST(FormatRegistryTest, UnknownFormatNamesTheKnownOnes) {
  auto parser = make_parser("xml", {});
  ASSERT_FALSE(parser.ok());
  EXPECT_EQ(parser.status().code(), Code::kInvalidArgument);
  EXPECT_NE(parser.status().message().find("known: kepware"), std::string::npos);
}

TEST(FormatRegistryTest, DetectsUnambiguousPayloads) {
  EXPECT_EQ(detect_format(R"({"timestamp":1,"values":[{"id":"a","v":1,"q":true,"t":1}]})"),
            "kepware");
  EXPECT_EQ(detect_format(R"([{"bn":"dev/","n":"t","v":1},{"n":"h","v":2}])"), "senml");
  EXPECT_EQ(detect_format("# TYPE a gauge\na 1\n# EOF\n"), "openmetrics");
  EXPECT_EQ(detect_format("# HELP a x\n"), "openmetrics");
  EXPECT_EQ(detect_format("http_requests_total{code=\"200\"} 3\n"), "openmetrics");
}

TEST(FormatRegistryTest, AmbiguousOrUnknownPayloadsAreNotGuessed) {
  EXPECT_EQ(detect_format(R"({"temperature":21.5})"), "");
  EXPECT_EQ(detect_format(R"({"values":[{"name":"a"}]})"), "");
  EXPECT_EQ(detect_format(R"([{"n":"a","v":1},{"x":1}])"), "");
  EXPECT_EQ(detect_format(R"([1,2])"), "");
  EXPECT_EQ(detect_format("cpu,host=a usage=1"), "");
  EXPECT_EQ(detect_format("{\"values\":[{\"id\":"), "");
  EXPECT_EQ(detect_format(""), "");
}

}  // namespace
}  // namespace sluice::formats
