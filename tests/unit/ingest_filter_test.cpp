// The source filters (ingest/filter.h): each filter type on its own, the chain in order, and
// the [[sources.filters]] config with every error named by its key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sluice::ingest
