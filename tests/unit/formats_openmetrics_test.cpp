// OpenMetrics / Prometheus text parser: the upstream conformance cases (every case folder in
// ../shared/testdata/openmetrics must be accepted exactly when its test.json says shouldParse),
// plus exact samples and metadata for good inputs and located errors for bad ones.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "fixtures/test_support.h"
#include "formats/openmetrics.h"

namespace sluice::formats {
namespace {

constexpr Timestamp kNow = 1'700'000'000'000'000'000;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Cases where Sluice deliberately differs from the upstream verdict, with the reason.
const std::set<std::string> kDeliberateDeviations = {
    // A timestamp of 12345678901234567890.1 s does not fit int64 nanoseconds (year 2262 is the
    // limit); Sluice rejects it instead of storing a wrong time.
    "timestamps",
};

TEST(OpenMetricsConformanceTest, AcceptsExactlyTheValidUpstreamCases) {
  // The cases in ../shared (the team's test data), or the copy kept in the repository for a
  // checkout that has no ../shared beside it (a clone anywhere else, CI).
  auto dir = std::filesystem::path(testing::shared_dir()) / "testdata" / "openmetrics";
  if (!std::filesystem::is_directory(dir)) {
    dir = std::filesystem::path(testing::source_dir()) / "tests" / "data" / "openmetrics";
  }
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t total = 0, agreed = 0;
  std::vector<std::string> disagreements;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    const std::string meta = read_all(entry.path() / "test.json");
    const bool should_parse = meta.find("\"shouldParse\": true") != std::string::npos;
    ASSERT_TRUE(should_parse || meta.find("\"shouldParse\": false") != std::string::npos) << name;
    const std::string input = read_all(entry.path() / "metrics");
    OpenMetricsParser parser;
    Parsed out;
    const Status st = parser.parse(input, {"", kNow}, &out);
    ++total;
    if (st.ok() == should_parse) {
      ++agreed;
      if (!st.ok()) {
        EXPECT_EQ(st.code(), Code::kInvalidArgument) << name;
        EXPECT_TRUE(out.batch.empty()) << name;
      }
    } else if (kDeliberateDeviations.count(name) != 0) {
      EXPECT_NE(st.message().find("out-of-range timestamp"), std::string::npos) << st.message();
    } else {
      disagreements.push_back(name + (st.ok() ? ": accepted" : ": " + st.message()));
    }
  }
  std::string list;
  for (const auto& d : disagreements) list += "\n  " + d;
  EXPECT_TRUE(disagreements.empty()) << disagreements.size() << " cases disagree:" << list;
  std::cout << "[ openmetrics ] " << agreed << "/" << total << " upstream cases agree ("
            << kDeliberateDeviations.size() << " deliberate deviation)\n";
  EXPECT_GT(total, 100u);
}

void expect_rejected(std::string_view text, const std::string& where, OpenMetricsOptions o = {}) {
  OpenMetricsParser parser(o);
  Parsed out;
  out.batch.samples.push_back({"sentinel", 1, 1.0, quality::kGood});
  const Status st = parser.parse(text, {"", kNow}, &out);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << text;
  EXPECT_NE(st.message().find(where), std::string::npos) << st.message();
  ASSERT_EQ(out.batch.size(), 1u);
  EXPECT_TRUE(out.meta.empty());
}

TEST(OpenMetricsParserTest, SamplesCarrySortedLabelsUnitAndHelp) {
  OpenMetricsParser parser;
  Parsed out;
  ASSERT_TRUE(parser
                  .parse("# TYPE motor_temp_celsius gauge\n"
                         "# UNIT motor_temp_celsius celsius\n"
                         "# HELP motor_temp_celsius Winding \\temperature\\.\n"
                         "motor_temp_celsius{z=\"1\",line=\"a\\\"b\"} 71.5 1700000000.25\n"
                         "motor_temp_celsius{z=\"2\",line=\"c\"} NaN\n"
                         "# TYPE runs counter\n"
                         "runs_total +Inf\n"
                         "# EOF\n",
                         {"", kNow}, &out)
                  .ok());
  ASSERT_EQ(out.batch.size(), 3u);
  EXPECT_EQ(out.batch.samples[0].series, R"(motor_temp_celsius{line="a\"b",z="1"})");
  EXPECT_EQ(out.batch.samples[0].ts, 1700000000'250'000'000);
  EXPECT_TRUE(identical(out.batch.samples[0].value, Value(71.5)));
  EXPECT_EQ(out.batch.samples[1].ts, kNow);
  EXPECT_TRUE(std::isnan(std::get<double>(out.batch.samples[1].value)));
  EXPECT_EQ(out.batch.samples[2].series, "runs_total");
  EXPECT_TRUE(identical(out.batch.samples[2].value, Value(HUGE_VAL)));
  ASSERT_EQ(out.meta.size(), 3u);
  EXPECT_EQ(out.meta[0].unit, "celsius");
  EXPECT_EQ(out.meta[0].description, "Winding \\temperature\\.");
  EXPECT_EQ(out.meta[0].labels, (std::map<std::string, std::string>{{"line", "a\"b"}, {"z", "1"}}));
  EXPECT_TRUE(out.meta[2].unit.empty());
}

TEST(OpenMetricsParserTest, PrometheusTextTakesMillisecondsAndNeedsNoEof) {
  OpenMetricsOptions o;
  o.dialect = OpenMetricsOptions::Dialect::kPrometheusText;
  OpenMetricsParser parser(o);
  Parsed out;
  ASSERT_TRUE(parser
                  .parse("# a free comment\n"
                         "# HELP http_requests_total Requests.\n"
                         "# TYPE http_requests_total counter\n"
                         "\n"
                         "http_requests_total{method=\"post\",code=\"200\",} 1027 1395066363000\n"
                         "up   1\n",
                         {"", kNow}, &out)
                  .ok());
  const Batch want{{{R"(http_requests_total{code="200",method="post"})", 1395066363000'000'000,
                     1027.0, quality::kGood},
                    {"up", kNow, 1.0, quality::kGood}}};
  EXPECT_TRUE(identical(out.batch, want));
  EXPECT_EQ(out.meta[0].description, "Requests.");
  expect_rejected("up 1 1.5\n", "line 1: invalid or out-of-range timestamp", o);
}

TEST(OpenMetricsParserTest, ErrorsNameTheLine) {
  expect_rejected("a 1\nb{x=\"1\"} one\n# EOF\n", "line 2: invalid value \"one\" for b");
  expect_rejected("a 1\n", "line 1: missing the closing \"# EOF\"");
  expect_rejected("a{x=\"\xff\"} 1\n# EOF\n", "line 1: the value of label x is not valid UTF-8");
  expect_rejected("a 1e400\n# EOF\n", "line 1: invalid value");
  expect_rejected("a 1 1e30\n# EOF\n", "line 1: invalid or out-of-range timestamp");
}

TEST(OpenMetricsParserTest, LimitsAreEnforced) {
  ParseLimits limits;
  limits.max_samples = 2;
  OpenMetricsParser parser({}, limits);
  Parsed out;
  const Status st = parser.parse("a 1\nb 1\nc 1\n# EOF\n", {"", kNow}, &out);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("line 3: more than 2 samples"), std::string::npos) << st.message();
  EXPECT_TRUE(out.batch.empty());
  limits = {};
  limits.max_payload_bytes = 1u << 20;
  OpenMetricsParser small({}, limits);
  std::string big;
  while (big.size() < (10u << 20)) big += "a 1\n";
  EXPECT_NE(small.parse(big, {"", kNow}, &out).message().find("larger than the limit"),
            std::string::npos);
  EXPECT_TRUE(out.batch.empty());
}

}  // namespace
}  // namespace sluice::formats
