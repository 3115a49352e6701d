// The source filters (ingest/filter.h): each filter type on its own, the chain in order, and
// the [[sources.filters]] config with every error named by its key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "cli/builtin_sources.h"
#include "ingest/filter.h"
#include "runtime/config.h"

namespace sluice::ingest {
namespace {

using ::testing::HasSubstr;

Batch batch_of(std::initializer_list<std::pair<std::string, Value>> samples) {
  Batch b;
  int64_t ts = 1;
  for (const auto& [name, value] : samples) b.samples.push_back(Sample{name, ts++, value});
  return b;
}

std::vector<std::string> names(const Batch& b) {
  std::vector<std::string> out;
  for (const Sample& s : b.samples) out.push_back(s.series);
  return out;
}

TEST(IngestFilterTest, GlobMatchesStarsAnywhere) {
  EXPECT_TRUE(glob_match("Channel1.*", "Channel1.Device1.Temp"));
  EXPECT_TRUE(glob_match("*.Temp", "Channel1.Device1.Temp"));
  EXPECT_TRUE(glob_match("C*1.*.T*p", "Channel1.Device1.Temp"));
  EXPECT_TRUE(glob_match("exact", "exact"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("exact", "exactly"));
  EXPECT_FALSE(glob_match("*.Temp", "Channel1.Device1.Temp2"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbY"));
}

TEST(IngestFilterTest, ScaleChangesNumbersOfMatchedSeriesOnly) {
  Batch b = batch_of(
      {{"a.t", 2.5}, {"a.n", int64_t{4}}, {"b.t", 1.0}, {"a.on", true}, {"a.s", std::string("x")}});
  ScaleFilter(10, 1, SeriesPatterns({"a.*"})).apply(b);
  EXPECT_EQ(std::get<double>(b.samples[0].value), 26.0);
  EXPECT_EQ(std::get<int64_t>(b.samples[1].value), 41);  // whole factor: stays an integer
  EXPECT_EQ(std::get<double>(b.samples[2].value), 1.0);  // not matched
  EXPECT_EQ(std::get<bool>(b.samples[3].value), true);
  EXPECT_EQ(std::get<std::string>(b.samples[4].value), "x");
  Batch c = batch_of({{"a.n", int64_t{3}}});
  ScaleFilter(0.5, 0, SeriesPatterns()).apply(c);
  EXPECT_EQ(std::get<double>(c.samples[0].value), 1.5);  // a fraction makes it a double
}

TEST(IngestFilterTest, RenameTakesExactNamesOrReplacesAPrefix) {
  Batch b =
      batch_of({{"Channel1.Device1.Temp", 1.0}, {"Channel1.Device2.Temp", 2.0}, {"flow", 3.0}});
  RenameFilter("Channel1.Device1.*", "press1.").apply(b);
  RenameFilter("flow", "line.flow").apply(b);
  EXPECT_EQ(names(b),
            (std::vector<std::string>{"press1.Temp", "Channel1.Device2.Temp", "line.flow"}));
}

TEST(IngestFilterTest, IncludeAndExcludeKeepOrDropMatchedSeries) {
  Batch b = batch_of({{"a.1", 1.0}, {"b.1", 2.0}, {"a.2", 3.0}});
  SelectFilter(true, SeriesPatterns({"a.*"})).apply(b);
  EXPECT_EQ(names(b), (std::vector<std::string>{"a.1", "a.2"}));
  SelectFilter(false, SeriesPatterns({"*.2"})).apply(b);
  EXPECT_EQ(names(b), (std::vector<std::string>{"a.1"}));
}

Result<runtime::Config> parse(const std::string& filters, std::vector<runtime::ConfigError>* e) {
  const std::string text =
      "[store]\ndir = \"data\"\n[[sources]]\nname = \"s\"\ntype = "
      "\"simulator\"\n" +
      filters;
  return runtime::parse_config(text, "plant.toml", cli::builtin_source_types(), e);
}

TEST(IngestFilterTest, ConfigMakesTheChainInFileOrder) {
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> c = parse(R"(
[[sources.filters]]
type = "rename"
from = "sim.*"
to = "line1."
[[sources.filters]]
type = "scale"
factor = 2
series = ["line1.*"]
[[sources.filters]]
type = "exclude"
series = ["*.sine1"]
)",
                                    &errors);
  ASSERT_TRUE(c.ok()) << (errors.empty() ? c.status().message() : errors[0].to_string());
  const auto& filters = c->sources.at(0).filters;
  ASSERT_TRUE(filters);
  EXPECT_EQ(filters->descriptions().size(), 3u);
  FilterChain chain = filters->make();
  Batch b = batch_of({{"sim.sine0", 1.0}, {"sim.sine1", 2.0}});
  chain.apply(b);
  ASSERT_EQ(names(b), std::vector<std::string>{"line1.sine0"});
  EXPECT_EQ(std::get<double>(b.samples[0].value), 2.0);
  EXPECT_THAT(runtime::describe_config(*c), HasSubstr("filter: rename sim.* -> line1."));
}

TEST(IngestFilterTest, BadFiltersAreReportedWithTheirWholeKey) {
  const struct {
    std::string filters;
    std::string key;
    std::string message;
  } cases[] = {
      {"[[sources.filters]]\nfrom = \"a\"\nto = \"b\"\n", "sources[0].filters[0].type",
       "the filter types are scale, rename, include, exclude, expression"},
      {"[[sources.filters]]\ntype = \"blur\"\n", "sources[0].filters[0].type", "scale"},
      {"[[sources.filters]]\ntype = \"scale\"\n", "sources[0].filters[0].factor", "missing"},
      {"[[sources.filters]]\ntype = \"scale\"\nfactor = \"x\"\n", "sources[0].filters[0].factor",
       "finite number"},
      {"[[sources.filters]]\ntype = \"rename\"\nfrom = \"a*b\"\nto = \"c\"\n",
       "sources[0].filters[0].from", "prefix ending in '*'"},
      {"[[sources.filters]]\ntype = \"rename\"\nfrom = \"a\"\n", "sources[0].filters[0].to",
       "missing"},
      {"[[sources.filters]]\ntype = \"exclude\"\n", "sources[0].filters[0].series", "missing"},
      {"[[sources.filters]]\ntype = \"include\"\nseries = []\n", "sources[0].filters[0].series",
       "empty list"},
      {"[[sources.filters]]\ntype = \"include\"\nseries = [\"a\"]\nfactor = 2\n",
       "sources[0].filters[0].factor", "unknown"},
      {"[[sources.filters]]\ntype = \"deadband\"\n", "sources[0].filters[0].absolute",
       "needs absolute and/or percent"},
      {"[[sources.filters]]\ntype = \"deadband\"\nabsolute = -1\n",
       "sources[0].filters[0].absolute", "a number >= 0"},
      {"[[sources.filters]]\ntype = \"deadband\"\npercent = \"2%\"\n",
       "sources[0].filters[0].percent", "percent of the last passed value"},
      {"[[sources.filters]]\ntype = \"deadband\"\nabsolute = 1\nmax_interval = 600\n",
       "sources[0].filters[0].max_interval", "a duration > 0 such as \"10m\""},
      {"[[sources.filters]]\ntype = \"deadband\"\nabsolute = 1\nmax_interval = 0\n",
       "sources[0].filters[0].max_interval", "a duration > 0"},
      {"[[sources.filters]]\ntype = \"deadband\"\nabsolute = 1\nassets = []\n",
       "sources[0].filters[0].assets", "empty list"},
      {"[[sources.filters]]\ntype = \"deadband\"\nabsolute = 1\nassets = [\"\"]\n",
       "sources[0].filters[0].assets", "asset names"},
      {"[[sources.filters]]\ntype = \"exclude\"\nseries = [\"a\", \"\"]\n",
       "sources[0].filters[0].series", "series names or patterns"},
      {"[[sources.filters]]\ntype = \"deadband\"\nabsolute = 1\ninterval = \"1s\"\n",
       "sources[0].filters[0].interval", "unknown"},
      {"[[sources.filters]]\ntype = \"rate_limit\"\n", "sources[0].filters[0].interval", "missing"},
      {"[[sources.filters]]\ntype = \"rate_limit\"\ninterval = \"1\"\n",
       "sources[0].filters[0].interval", "a duration > 0"},
      {"[[sources.filters]]\ntype = \"downsample\"\ninterval = 0\n",
       "sources[0].filters[0].interval", "a duration > 0"},
      {"[[sources.filters]]\ntype = \"rate_limit\"\ninterval = \"1s\"\nmode = \"median\"\n",
       "sources[0].filters[0].mode", "\"first\", \"last\", \"average\", \"min\", \"max\""},
      {"[[sources.filters]]\ntype = \"rate_limit\"\ninterval = \"1s\"\nseries = []\n",
       "sources[0].filters[0].series", "empty list"},
  };
  for (const auto& c : cases) {
    std::vector<runtime::ConfigError> errors;
    EXPECT_FALSE(parse(c.filters, &errors).ok()) << c.filters;
    ASSERT_EQ(errors.size(), 1u) << c.filters
                                 << (errors.empty() ? ""
                                                    : "\n" + errors[0].to_string() + "\n" +
                                                          (errors.size() > 1 ? errors[1].to_string()
                                                                             : std::string()));
    EXPECT_EQ(errors[0].key, c.key) << c.filters;
    EXPECT_THAT(errors[0].message, HasSubstr(c.message)) << c.filters;
    EXPECT_GT(errors[0].line, 5) << c.filters;
  }
}

// The issue's example: desiredSpeed from temperature, per reading of the asset.
ExpressionFilter fan_filter() {
  auto e = rules::Expression::compile("temperature > 20 ? temperature * 50 + 1200 : 0");
  EXPECT_TRUE(e.ok()) << e.status().message();
  return ExpressionFilter("Motor.desiredSpeed", {"Motor.temperature"},
                          std::make_shared<const rules::Expression>(std::move(e).value()));
}

TEST(IngestFilterTest, AnExpressionAddsADatapointAfterEachReadingOfItsInputs) {
  ExpressionFilter f = fan_filter();
  Batch b;
  b.samples = {Sample{"Motor.temperature", 10, 15.0}, Sample{"Motor.load", 10, 0.5},
               Sample{"Other.x", 20, 1.0}, Sample{"Motor.temperature", 30, int64_t{30}}};
  f.apply(b);
  ASSERT_EQ(names(b),
            (std::vector<std::string>{"Motor.temperature", "Motor.load", "Motor.desiredSpeed",
                                      "Other.x", "Motor.temperature", "Motor.desiredSpeed"}));
  EXPECT_EQ(b.samples[2].ts, 10);
  EXPECT_EQ(std::get<double>(b.samples[2].value), 0.0);  // 15 is not above 20
  EXPECT_EQ(b.samples[5].ts, 30);
  EXPECT_EQ(std::get<double>(b.samples[5].value), 2700.0);
  EXPECT_EQ(b.samples[5].quality, quality::kGood);
}

TEST(IngestFilterTest, AnExpressionWaitsForEveryInputAndKeepsThemAcrossBatches) {
  auto e = rules::Expression::compile("a + b");
  ASSERT_TRUE(e.ok());
  ExpressionFilter f("sum", {"a", "b"}, std::make_shared<const rules::Expression>(*e));
  Batch first = batch_of({{"a", 1.0}});
  f.apply(first);
  EXPECT_EQ(names(first), std::vector<std::string>{"a"});  // b not known yet
  Batch second;
  second.samples = {Sample{"b", 5, 2.0, quality::kUncertain}};
  f.apply(second);
  ASSERT_EQ(names(second), (std::vector<std::string>{"b", "sum"}));
  EXPECT_EQ(std::get<double>(second.samples[1].value), 3.0);
  EXPECT_EQ(second.samples[1].quality, quality::kUncertain);  // as good as its worst input
}

TEST(IngestFilterTest, AnExpressionFilterIsConfiguredWithItsAssetAndErrorsGiveTheColumn) {
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> c = parse(R"(
[[sources.filters]]
type = "expression"
asset = "Motor"
name = "desiredSpeed"
expression = "temperature > 20 ? temperature * 50 + 1200 : 0"
)",
                                    &errors);
  ASSERT_TRUE(c.ok()) << (errors.empty() ? c.status().message() : errors[0].to_string());
  FilterChain chain = c->sources.at(0).filters->make();
  Batch b = batch_of({{"Motor.temperature", 25.0}});
  chain.apply(b);
  ASSERT_EQ(names(b), (std::vector<std::string>{"Motor.temperature", "Motor.desiredSpeed"}));
  EXPECT_EQ(std::get<double>(b.samples[1].value), 2450.0);

  errors.clear();
  EXPECT_FALSE(parse("[[sources.filters]]\ntype = \"expression\"\nname = \"x\"\n"
                     "expression = \"1 + sqr(4)\"\n",
                     &errors)
                   .ok());
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].key, "sources[0].filters[0].expression");
  EXPECT_THAT(errors[0].message,
              HasSubstr("unknown function 'sqr' at column 5 (did you mean 'sqrt'?)"));
}

// ---- deadband ----------------------------------------------------------------------------

constexpr int64_t kSecond = 1'000'000'000;

Sample at(int64_t ts, std::string series, Value value, Quality q = quality::kGood) {
  return Sample{std::move(series), ts, std::move(value), q};
}

Batch batch(std::vector<Sample> samples) {
  Batch b;
  b.samples = std::move(samples);
  return b;
}

std::vector<double> doubles(const Batch& b) {
  std::vector<double> out;
  for (const Sample& s : b.samples) out.push_back(std::get<double>(s.value));
  return out;
}

std::vector<int64_t> times(const Batch& b) {
  std::vector<int64_t> out;
  for (const Sample& s : b.samples) out.push_back(s.ts);
  return out;
}

DeadbandFilter absolute_band(double absolute, SeriesPatterns series = {}) {
  DeadbandSettings d;
  d.absolute = absolute;
  return DeadbandFilter(d, std::move(series));
}

TEST(IngestFilterTest, DeadbandPassesTheFirstSampleThenOnlyChangesBeyondTheBand) {
  DeadbandFilter f = absolute_band(0.5);
  Batch b = batch_of({{"t", 10.0}, {"t", 10.5}, {"t", 9.6}, {"t", 10.6}, {"t", 10.0}});
  f.apply(b);
  // 10.5 and 9.6 are within 0.5 of 10 (exactly 0.5 is not "more than"); 10.6 is not; 10.0 is
  // 0.6 from the last PASSED value 10.6.
  EXPECT_EQ(doubles(b), (std::vector<double>{10.0, 10.6, 10.0}));
  EXPECT_EQ(times(b), (std::vector<int64_t>{1, 4, 5}));
}

TEST(IngestFilterTest, DeadbandComparesWithTheLastPassedValueSoADriftIsReported) {
  DeadbandFilter f = absolute_band(0.5);
  Batch b = batch_of({{"t", 10.0}, {"t", 10.3}, {"t", 10.6}, {"t", 10.9}, {"t", 11.2}});
  f.apply(b);
  EXPECT_EQ(doubles(b), (std::vector<double>{10.0, 10.6, 11.2}));
}

TEST(IngestFilterTest, DeadbandKeepsEachSeriesApartAndItsStateAcrossBatches) {
  DeadbandFilter f = absolute_band(1);
  Batch first = batch_of({{"a", 1.0}, {"b", 100.0}, {"a", 1.5}, {"b", 102.0}});
  f.apply(first);
  EXPECT_EQ(names(first), (std::vector<std::string>{"a", "b", "b"}));
  Batch second = batch_of({{"a", 1.9}, {"b", 102.5}, {"a", 2.1}});
  f.apply(second);
  EXPECT_EQ(names(second), (std::vector<std::string>{"a"}));
  EXPECT_EQ(doubles(second), std::vector<double>{2.1});
}

TEST(IngestFilterTest, DeadbandPercentIsOfTheLastPassedValuesMagnitude) {
  DeadbandSettings d;
  d.percent = 10;
  DeadbandFilter f(d, {});
  Batch b = batch_of({{"t", -200.0}, {"t", -219.0}, {"t", -221.0}, {"t", -200.0}});
  f.apply(b);
  // Band 20 around -200; then 22.1 around -221.
  EXPECT_EQ(doubles(b), (std::vector<double>{-200.0, -221.0}));
  Batch zero = batch_of({{"z", 0.0}, {"z", 0.0}, {"z", 1e-9}});
  f.apply(zero);
  EXPECT_EQ(doubles(zero), (std::vector<double>{0.0, 1e-9}));  // around 0 any change passes
}

TEST(IngestFilterTest, DeadbandWithAbsoluteAndPercentPassesWhenEitherIsExceeded) {
  DeadbandSettings d;
  d.absolute = 5;
  d.percent = 1;
  DeadbandFilter f(d, {});
  // Around 100: percent band 1, absolute 5: 1.5 exceeds the percent band only.
  // Around 1000: percent band 10, absolute 5: 6 exceeds the absolute band only.
  Batch b = batch_of(
      {{"a", 100.0}, {"a", 100.8}, {"a", 101.5}, {"b", 1000.0}, {"b", 1004.0}, {"b", 1006.0}});
  f.apply(b);
  EXPECT_EQ(doubles(b), (std::vector<double>{100.0, 101.5, 1000.0, 1006.0}));
}

TEST(IngestFilterTest, DeadbandAbsoluteZeroPassesEveryChangeEvenOfHugeIntegers) {
  DeadbandFilter f = absolute_band(0);
  const int64_t big = (int64_t{1} << 60);
  Batch b = batch_of({{"n", big}, {"n", big}, {"n", big + 1}, {"n", 3.0}, {"n", 3.0}});
  f.apply(b);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(std::get<int64_t>(b.samples[1].value), big + 1);  // a double cannot tell these apart
  EXPECT_EQ(std::get<double>(b.samples[2].value), 3.0);       // int64 and double are both numbers
}

TEST(IngestFilterTest, DeadbandPassesAQualityChangeInsideTheBand) {
  DeadbandFilter f = absolute_band(10);
  Batch b = batch({at(1, "t", 5.0), at(2, "t", 5.0, quality::kBadNoCommunication),
                   at(3, "t", 5.0, quality::kBadNoCommunication),
                   at(4, "t", 5.0, quality::kBadTimeout), at(5, "t", 5.0), at(6, "t", 5.0)});
  f.apply(b);
  // Good -> Bad, Bad -> another Bad code, Bad -> Good all pass; the repeats do not.
  EXPECT_EQ(times(b), (std::vector<int64_t>{1, 2, 4, 5}));
  EXPECT_EQ(b.samples.back().quality, quality::kGood);
}

TEST(IngestFilterTest, DeadbandHeartbeatPassesASampleMaxIntervalAfterTheLastPassedOne) {
  DeadbandSettings d;
  d.absolute = 1;
  d.max_interval = std::chrono::seconds(10);
  DeadbandFilter f(d, {});
  Batch b =
      batch({at(0, "t", 1.0), at(5 * kSecond, "t", 1.0), at(10 * kSecond - 1, "t", 1.0),
             at(10 * kSecond, "t", 1.0), at(15 * kSecond, "t", 1.0), at(21 * kSecond, "t", 1.0)});
  f.apply(b);
  // 10s after 0 passes; then the next heartbeat is due 10s after that one, at 20s.
  EXPECT_EQ(times(b), (std::vector<int64_t>{0, 10 * kSecond, 21 * kSecond}));
  // Without max_interval the same samples are all inside the band.
  DeadbandFilter plain = absolute_band(1);
  Batch c = batch({at(0, "t", 1.0), at(10 * kSecond, "t", 1.0), at(21 * kSecond, "t", 1.0)});
  plain.apply(c);
  EXPECT_EQ(times(c), std::vector<int64_t>{0});
}

TEST(IngestFilterTest, DeadbandPassesBoolsStringsAndTypeChangesWhenTheyChange) {
  DeadbandFilter f = absolute_band(100);
  Batch b = batch_of({{"on", true},
                      {"on", true},
                      {"on", false},
                      {"mode", std::string("auto")},
                      {"mode", std::string("auto")},
                      {"mode", std::string("manual")},
                      {"on", int64_t{0}},
                      {"on", 50.0}});
  f.apply(b);
  EXPECT_EQ(times(b), (std::vector<int64_t>{1, 3, 4, 6, 7}));  // bool -> int64 is a change
}

TEST(IngestFilterTest, DeadbandNaNIsOneValueThatDiffersFromEveryNumber) {
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  DeadbandFilter f = absolute_band(1000);
  Batch b = batch_of({{"t", 1.0},
                      {"t", nan},
                      {"t", nan},
                      {"t", 1.0},
                      {"t", inf},
                      {"t", inf},
                      {"t", -inf},
                      {"t", 2.0}});
  f.apply(b);
  EXPECT_EQ(times(b), (std::vector<int64_t>{1, 2, 4, 5, 7, 8}));
  EXPECT_TRUE(std::isnan(std::get<double>(b.samples[1].value)));
}

TEST(IngestFilterTest, DeadbandLeavesSeriesOutsideItsSelectionUntouched) {
  DeadbandFilter f = absolute_band(1, SeriesPatterns({"Motor.*"}));
  Batch b = batch_of({{"Motor.t", 1.0}, {"Pump.t", 1.0}, {"Motor.t", 1.0}, {"Pump.t", 1.0}});
  f.apply(b);
  EXPECT_EQ(names(b), (std::vector<std::string>{"Motor.t", "Pump.t", "Pump.t"}));
}

TEST(IngestFilterTest, DeadbandTracksAtMostMaxSeriesAndPassesTheRest) {
  DeadbandSettings d;
  d.absolute = 1;
  DeadbandFilter f(d, {}, 2);
  Batch b = batch_of({{"a", 1.0}, {"b", 1.0}, {"c", 1.0}, {"a", 1.0}, {"c", 1.0}, {"b", 1.0}});
  f.apply(b);
  EXPECT_EQ(names(b), (std::vector<std::string>{"a", "b", "c", "c"}));
  EXPECT_EQ(f.untracked_samples(), 2u);
}

// ---- rate limit ----------------------------------------------------------------------------

TEST(IngestFilterTest, RateLimitFirstPassesTheFirstSampleOfEachInterval) {
  RateLimitFilter f(std::chrono::seconds(1), RateLimitMode::kFirst, {});
  Batch b = batch({at(0, "t", 1.0), at(kSecond / 3, "t", 2.0), at(kSecond - 1, "t", 3.0),
                   at(kSecond, "t", 4.0), at(kSecond * 3 / 2, "t", 5.0),
                   at(kSecond * 11 / 5, "t", 6.0, quality::kBadTimeout)});
  f.apply(b);
  EXPECT_EQ(doubles(b), (std::vector<double>{1.0, 4.0, 6.0}));
  Batch next = batch({at(kSecond * 12 / 5, "t", 7.0), at(kSecond * 3, "t", 8.0)});
  f.apply(next);
  EXPECT_EQ(doubles(next), std::vector<double>{8.0});  // 2.4s is in 2.2s's interval
}

TEST(IngestFilterTest, RateLimitIntervalsAreAlignedToTheEpochAlsoBefore1970) {
  RateLimitFilter f(std::chrono::seconds(1), RateLimitMode::kFirst, {});
  Batch b = batch({at(-kSecond - 1, "t", 1.0), at(-kSecond, "t", 2.0), at(-1, "t", 3.0),
                   at(0, "t", 4.0), at(1, "t", 5.0)});
  f.apply(b);
  // [-2s, -1s) holds -1s - 1ns; [-1s, 0) holds -1s and -1ns; [0, 1s) holds 0 and 1ns.
  EXPECT_EQ(doubles(b), (std::vector<double>{1.0, 2.0, 4.0}));
}

TEST(IngestFilterTest, RateLimitStartsANewIntervalWhenTheClockGoesBack) {
  RateLimitFilter f(std::chrono::seconds(1), RateLimitMode::kFirst, {});
  Batch b = batch(
      {at(100 * kSecond, "t", 1.0), at(5 * kSecond, "t", 2.0), at(5 * kSecond + 1, "t", 3.0)});
  f.apply(b);
  EXPECT_EQ(doubles(b), (std::vector<double>{1.0, 2.0}));
}

TEST(IngestFilterTest, RateLimitLastEmitsAnIntervalsLastSampleWhenTheNextIntervalBegins) {
  RateLimitFilter f(std::chrono::seconds(1), RateLimitMode::kLast, {});
  Batch b = batch({at(0, "t", 1.0), at(kSecond / 2, "u", std::string("x")),
                   at(kSecond / 2, "t", 2.0), at(kSecond, "t", 3.0), at(kSecond + 1, "t", 4.0)});
  f.apply(b);
  // t's [0, 1s) closed when 3.0 arrived: its last sample goes where 3.0 was. [1s, 2s) and u's
  // [0, 1s) are still open, so 4.0 and "x" are held.
  ASSERT_EQ(names(b), std::vector<std::string>{"t"});
  EXPECT_EQ(std::get<double>(b.samples[0].value), 2.0);
  EXPECT_EQ(b.samples[0].ts, kSecond / 2);
  Batch next = batch({at(2 * kSecond, "t", 5.0), at(2 * kSecond, "u", std::string("y"))});
  f.apply(next);
  ASSERT_EQ(names(next), (std::vector<std::string>{"t", "u"}));
  EXPECT_EQ(std::get<double>(next.samples[0].value), 4.0);
  EXPECT_EQ(next.samples[0].ts, kSecond + 1);
  EXPECT_EQ(std::get<std::string>(next.samples[1].value), "x");
}

TEST(IngestFilterTest, RateLimitAverageIsStampedWithTheIntervalStartAndKeepsTheWorstQuality) {
  RateLimitFilter f(std::chrono::seconds(10), RateLimitMode::kAverage, {});
  Batch b = batch({at(12 * kSecond, "t", 1.0), at(13 * kSecond, "t", int64_t{2}),
                   at(14 * kSecond, "t", 6.0, quality::kUncertainLastUsableValue),
                   at(15 * kSecond, "t", 3.0), at(21 * kSecond, "t", 10.0),
                   at(29 * kSecond, "t", 20.0), at(30 * kSecond, "t", 0.0)});
  f.apply(b);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(std::get<double>(b.samples[0].value), 3.0);
  EXPECT_EQ(b.samples[0].ts, 10 * kSecond);
  EXPECT_EQ(b.samples[0].quality, quality::kUncertainLastUsableValue);
  EXPECT_EQ(std::get<double>(b.samples[1].value), 15.0);
  EXPECT_EQ(b.samples[1].ts, 20 * kSecond);
  EXPECT_EQ(b.samples[1].quality, quality::kGood);
}

TEST(IngestFilterTest, RateLimitAveragePassesBadSamplesAndNonNumbersAtOnceWithoutAveraging) {
  RateLimitFilter f(std::chrono::seconds(10), RateLimitMode::kAverage, {});
  const double nan = std::nan("");
  Batch b = batch({at(1 * kSecond, "t", 4.0), at(2 * kSecond, "t", 999.0, quality::kBadTimeout),
                   at(3 * kSecond, "t", nan), at(4 * kSecond, "t", std::string("err")),
                   at(5 * kSecond, "t", 6.0), at(11 * kSecond, "t", 0.0, quality::kBadTimeout)});
  f.apply(b);
  // The Bad sample at 11s closes [0, 10s): the mean of 4 and 6 comes out before it.
  EXPECT_EQ(times(b),
            (std::vector<int64_t>{2 * kSecond, 3 * kSecond, 4 * kSecond, 0, 11 * kSecond}));
  EXPECT_EQ(std::get<double>(b.samples[3].value), 5.0);
  EXPECT_EQ(b.samples[3].quality, quality::kGood);
}

TEST(IngestFilterTest, RateLimitMinAndMaxEmitTheExtremeSampleAsItCame) {
  RateLimitFilter low(std::chrono::seconds(1), RateLimitMode::kMin, {});
  RateLimitFilter high(std::chrono::seconds(1), RateLimitMode::kMax, {});
  const auto samples = [] {
    return batch({at(1, "t", 5.0), at(2, "t", int64_t{2}), at(3, "t", 9.0), at(4, "t", 2.0),
                  at(kSecond, "t", 0.0)});
  };
  Batch b = samples();
  low.apply(b);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(b.samples[0].value), 2);  // the first of the two equal minimums
  EXPECT_EQ(b.samples[0].ts, 2);
  Batch c = samples();
  high.apply(c);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(std::get<double>(c.samples[0].value), 9.0);
  EXPECT_EQ(c.samples[0].ts, 3);
}

TEST(IngestFilterTest, RateLimitLeavesSeriesOutsideItsSelectionAndBeyondItsCapUntouched) {
  RateLimitFilter f(std::chrono::seconds(1), RateLimitMode::kFirst, SeriesPatterns({"a*"}), 2);
  Batch b = batch_of({{"a1", 1.0},
                      {"b", 1.0},
                      {"a2", 1.0},
                      {"a3", 1.0},
                      {"a1", 1.0},
                      {"b", 1.0},
                      {"a3", 1.0},
                      {"a2", 1.0}});
  f.apply(b);
  EXPECT_EQ(names(b), (std::vector<std::string>{"a1", "b", "a2", "a3", "b", "a3"}));
  EXPECT_EQ(f.untracked_samples(), 2u);
}

// ---- the new types in the config and in a chain ---------------------------------------------

TEST(IngestFilterTest, ScaleBeforeDeadbandComparesTheScaledValues) {
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> c = parse(R"(
[[sources.filters]]
type = "scale"
factor = 0.1
[[sources.filters]]
type = "deadband"
absolute = 1
max_interval = "10m"
assets = ["Motor"]
)",
                                    &errors);
  ASSERT_TRUE(c.ok()) << (errors.empty() ? c.status().message() : errors[0].to_string());
  EXPECT_EQ(c->sources.at(0).filters->descriptions()[1],
            "deadband 1 (at least every 10m) on the listed assets");
  FilterChain chain = c->sources.at(0).filters->make();
  // Raw 100, 105, 111: 5 and 11 apart, but scaled 10, 10.5, 11.1: only the last leaves the band.
  Batch b = batch({at(1, "Motor.speed", 100.0), at(2, "Motor.speed", 105.0),
                   at(3, "Pump.speed", 105.0), at(4, "Pump.speed", 105.0),
                   at(5, "Motor.speed", 111.0), at(601 * kSecond, "Motor.speed", 111.0)});
  chain.apply(b);
  EXPECT_EQ(times(b), (std::vector<int64_t>{1, 3, 4, 5, 601 * kSecond}));
  EXPECT_DOUBLE_EQ(std::get<double>(b.samples[3].value), 11.1);
  // Each make() is a fresh chain: a new source instance starts without the old state.
  FilterChain fresh = c->sources.at(0).filters->make();
  Batch again = batch({at(602 * kSecond, "Motor.speed", 111.0)});
  fresh.apply(again);
  EXPECT_EQ(again.size(), 1u);
}

TEST(IngestFilterTest, RateLimitAndDownsampleAreConfiguredWithTheirModes) {
  std::vector<runtime::ConfigError> errors;
  Result<runtime::Config> c = parse(R"(
[[sources.filters]]
type = "deadband"
percent = 2.5
absolute = 0.1
series = ["*.temp"]
[[sources.filters]]
type = "rate_limit"
interval = "1s"
series = ["fast.*"]
assets = ["Motor"]
[[sources.filters]]
type = "downsample"
interval = "1m"
mode = "average"
)",
                                    &errors);
  ASSERT_TRUE(c.ok()) << (errors.empty() ? c.status().message() : errors[0].to_string());
  EXPECT_EQ(
      c->sources.at(0).filters->descriptions(),
      (std::vector<std::string>{"deadband 0.1 or 2.5% on the listed series",
                                "rate_limit one per 1s (first) on the listed series and assets",
                                "rate_limit one per 1m (average) on every series"}));
  FilterChain chain = c->sources.at(0).filters->make();
  const int64_t minute = 60 * kSecond;
  Batch b = batch({at(0, "fast.x", 1.0), at(1, "fast.x", 2.0), at(2, "Motor.y", 3.0),
                   at(3, "Motor.y", 4.0), at(4, "slow.z", 5.0)});
  chain.apply(b);
  EXPECT_EQ(b.size(), 0u);  // the first of each: held by the minute's average
  Batch next =
      batch({at(minute, "fast.x", 2.0), at(minute, "Motor.y", 4.0), at(minute, "slow.z", 7.0)});
  chain.apply(next);
  ASSERT_EQ(names(next), (std::vector<std::string>{"fast.x", "Motor.y", "slow.z"}));
  EXPECT_EQ(doubles(next), (std::vector<double>{1.0, 3.0, 5.0}));
  EXPECT_EQ(times(next), (std::vector<int64_t>{0, 0, 0}));
}

}  // namespace
}  // namespace sluice::ingest
