// The config file parser: a valid file maps onto StoreOptions and source settings; every
// error names the file, line, column and key; all errors come at once; unknown keys are
// refused; sizes and durations parse strictly.
#include "runtime/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <rapidcheck.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "cli/builtin_sources.h"
#include "fixtures/test_support.h"
#include "runtime/units.h"
#include "sources/simulator/simulator.h"

namespace sluice::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const SourceTypes& types() { return cli::builtin_source_types(); }

Config parse_ok(std::string_view text, std::string_view file = "/etc/sluice/test.toml") {
  Result<Config> config = parse_config(text, file, types());
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.ok() ? *config : Config{};
}

std::vector<ConfigError> parse_errors(std::string_view text, std::string_view file = "test.toml") {
  std::vector<ConfigError> errors;
  Result<Config> config = parse_config(text, file, types(), &errors);
  EXPECT_FALSE(config.ok()) << "expected errors in:\n" << text;
  if (!config.ok()) {
    EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
    // The Status holds the same errors, one per line.
    std::string lines;
    for (const auto& e : errors) lines += (lines.empty() ? "" : "\n") + e.to_string();
    EXPECT_EQ(config.status().message(), lines);
  }
  return errors;
}

const sources::SimulatorOptions& simulator_options(const SourceConfig& source) {
  const auto* settings = dynamic_cast<const sources::SimulatorSettings*>(source.settings.get());
  EXPECT_NE(settings, nullptr);
  static const sources::SimulatorOptions kNone;
  return settings != nullptr ? settings->options() : kNone;
}

constexpr std::string_view kMinimal = R"(
[store]
dir = "data"
)";

TEST(ConfigTest, FullStoreSectionMapsOntoStoreOptions) {
  Config c = parse_ok(R"(
[store]
dir = "/var/lib/sluice"
segment_size = "8MiB"
sync = "every_batch"
sync_interval = "25ms"
max_size = "10GiB"
min_free = "512MB"
full_policy = "drop_newest"
block_timeout = "2s"
compression = "lz4"
zstd_level = 7
backup_retention = "7d"
purged_retention = "12h"
)");
  const store::StoreOptions& s = c.store;
  EXPECT_EQ(s.dir, "/var/lib/sluice");
  EXPECT_EQ(s.segment_bytes, 8u << 20);
  EXPECT_EQ(s.sync_policy, store::SyncPolicy::kEveryBatch);
  EXPECT_EQ(s.sync_interval, milliseconds(25));
  EXPECT_EQ(s.max_bytes, 10ull << 30);
  EXPECT_EQ(s.min_free_bytes, 512'000'000u);
  EXPECT_EQ(s.full_policy, store::FullPolicy::kDropNewest);
  EXPECT_EQ(s.block_timeout, milliseconds(2000));
  EXPECT_EQ(s.encoding.compression, Compression::kLz4);
  EXPECT_EQ(s.encoding.zstd_level, 7);
  EXPECT_EQ(s.backup_retention, seconds(7 * 24 * 3600));
  EXPECT_EQ(s.purged_retention, seconds(12 * 3600));
}

TEST(ConfigTest, AbsentKeysKeepTheStoreDefaults) {
  Config c = parse_ok(kMinimal);
  const store::StoreOptions defaults;
  EXPECT_EQ(c.store.segment_bytes, defaults.segment_bytes);
  EXPECT_EQ(c.store.sync_policy, defaults.sync_policy);
  EXPECT_EQ(c.store.sync_interval, defaults.sync_interval);
  EXPECT_EQ(c.store.max_bytes, defaults.max_bytes);
  EXPECT_EQ(c.store.min_free_bytes, defaults.min_free_bytes);
  EXPECT_EQ(c.store.full_policy, defaults.full_policy);
  EXPECT_EQ(c.store.encoding.compression, defaults.encoding.compression);
  EXPECT_EQ(c.store.purged_retention, defaults.purged_retention);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.status_interval, seconds(10));
  EXPECT_TRUE(c.sources.empty());
}

TEST(ConfigTest, RelativeStoreDirIsRelativeToTheConfigFilesDirectory) {
  EXPECT_EQ(parse_ok(kMinimal, "/etc/sluice/test.toml").store.dir, "/etc/sluice/data");
  EXPECT_EQ(parse_ok("[store]\ndir = \"../spool/./x\"\n", "/etc/sluice/a.toml").store.dir,
            "/etc/spool/x");
  EXPECT_EQ(parse_ok("[store]\ndir = \"/abs/dir\"\n", "/etc/sluice/a.toml").store.dir, "/abs/dir");
}

TEST(ConfigTest, LoadConfigResolvesStoreDirAgainstTheFilesDirectory) {
  testing::TempDir tmp;
  std::filesystem::create_directories(tmp.file("conf"));
  std::ofstream(tmp.file("conf/sluice.toml")) << kMinimal;
  Result<Config> c = load_config(tmp.file("conf/sluice.toml"), types());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(std::filesystem::path(c->store.dir),
            std::filesystem::path(tmp.file("conf/data")).lexically_normal());
}

TEST(ConfigTest, MissingFileSaysWhichFile) {
  Result<Config> c = load_config("/nonexistent/sluice.toml", types());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/sluice.toml"));
}

TEST(ConfigTest, SimulatorSourceMapsOntoItsOptions) {
  Config c = parse_ok(R"(
[store]
dir = "d"

[[sources]]
name = "line-1.sim"
type = "simulator"
rate = 0.5
series = 3
asset = "Boiler"
shape = "random_walk"
period = "1m30s"
amplitude = 4.5
offset = -2
noise = 0.25
decimals = -1
batch_size = 50
flush_interval = "250ms"
seed = 42

[[sources]]
name = "idle"
type = "simulator"
enabled = false
)");
  ASSERT_EQ(c.sources.size(), 2u);
  const SourceConfig& s = c.sources[0];
  EXPECT_EQ(s.name, "line-1.sim");
  EXPECT_EQ(s.type, "simulator");
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.line, 5);
  const sources::SimulatorOptions& o = simulator_options(s);
  EXPECT_EQ(o.rate, 0.5);
  EXPECT_EQ(o.series, 3u);
  EXPECT_EQ(o.asset, "Boiler");
  EXPECT_EQ(o.shape, sources::Shape::kRandomWalk);
  EXPECT_EQ(o.period, seconds(90));
  EXPECT_EQ(o.amplitude, 4.5);
  EXPECT_EQ(o.offset, -2);
  EXPECT_EQ(o.noise, 0.25);
  EXPECT_EQ(o.decimals, -1);
  EXPECT_EQ(o.batch_size, 50u);
  EXPECT_EQ(o.flush_interval, milliseconds(250));
  EXPECT_EQ(o.seed, 42u);

  EXPECT_FALSE(c.sources[1].enabled);
  const sources::SimulatorOptions defaults;
  EXPECT_EQ(simulator_options(c.sources[1]).rate, defaults.rate);
  EXPECT_EQ(simulator_options(c.sources[1]).shape, sources::Shape::kMixed);
  EXPECT_THAT(describe_config(c), AllOf(HasSubstr("line-1.sim [simulator]: 3 series Boiler.*"),
                                        HasSubstr("idle [simulator] (disabled)")));
}

TEST(ConfigTest, ErrorNamesFileLineColumnAndKey) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"

[[sources]]
name = "a"
type = "simulator"

[[sources]]
name = "b"
type = "simulator"
rate = -5
)",
                                                 "plant.toml");
  ASSERT_EQ(errors.size(), 1u);
  const ConfigError& e = errors[0];
  EXPECT_EQ(e.file, "plant.toml");
  EXPECT_EQ(e.line, 11);
  EXPECT_EQ(e.column, 8);
  EXPECT_EQ(e.key, "sources[1].rate");
  EXPECT_THAT(e.to_string(),
              AllOf(StartsWith("plant.toml:11:8: key 'sources[1].rate': expected a positive "
                               "number of samples per second"),
                    HasSubstr("got -5")));
}

TEST(ConfigTest, AllErrorsAreReportedAtOnceInFileOrder) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"
segment_size = "64XB"
sync = "sometimes"

[log]
level = "loud"

[[sources]]
name = "s"
type = "simulator"
series = 0
shape = "triangle"
)");
  std::vector<std::string> keys;
  std::vector<int> lines;
  for (const auto& e : errors) {
    keys.push_back(e.key);
    lines.push_back(e.line);
  }
  EXPECT_THAT(keys, ElementsAre("store.segment_size", "store.sync", "log.level",
                                "sources[0].series", "sources[0].shape"));
  EXPECT_THAT(lines, ElementsAre(3, 4, 7, 12, 13));
  EXPECT_THAT(errors[1].message, HasSubstr("every_batch"));  // says what would be right
  EXPECT_THAT(errors[4].message, HasSubstr("got \"triangle\""));
}

TEST(ConfigTest, UnknownKeyIsRejectedWithASuggestion) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"
segmnet_size = "1MiB"

[[sources]]
name = "s"
type = "simulator"
rtae = 5
)");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "store.segmnet_size");
  EXPECT_EQ(errors[0].line, 3);
  EXPECT_THAT(errors[0].message, HasSubstr("did you mean 'segment_size'?"));
  EXPECT_EQ(errors[1].key, "sources[0].rtae");
  EXPECT_EQ(errors[1].line, 8);
  EXPECT_THAT(errors[1].message, HasSubstr("did you mean 'rate'?"));
}

TEST(ConfigTest, UnknownTableIsRejected) {
  std::vector<ConfigError> errors = parse_errors("[store]\ndir = \"d\"\n[sinkz]\nx = 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "sinkz");
  EXPECT_THAT(errors[0].message, HasSubstr("unknown key"));
}

TEST(ConfigTest, SinksTableMustBeAnArrayOfTables) {
  std::vector<ConfigError> errors = parse_errors("[store]\ndir = \"d\"\n[sinks]\nx = 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "sinks");
  EXPECT_THAT(errors[0].message, HasSubstr("[[sinks]]"));
}

TEST(ConfigTest, SinkSourcesMustNameConfiguredSourcesAndIntervalIsAtLeastAMinute) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"
[[sources]]
name = "sim"
type = "simulator"
[[sinks]]
name = "lake"
type = "files"
dir = "lake"
sources = ["sim", "nope"]
interval = "5s"
)");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "sinks[0].sources");
  EXPECT_THAT(errors[0].message, HasSubstr("no source is named 'nope'"));
  EXPECT_EQ(errors[1].key, "sinks[0].interval");
  EXPECT_THAT(errors[1].message, HasSubstr("at least 1m"));
}

TEST(ConfigTest, MissingStoreDirIsAnError) {
  std::vector<ConfigError> no_table = parse_errors("[log]\nlevel = \"info\"\n");
  ASSERT_EQ(no_table.size(), 1u);
  EXPECT_EQ(no_table[0].key, "store.dir");
  EXPECT_GE(no_table[0].line, 1);

  std::vector<ConfigError> no_key = parse_errors("\n[store]\nsync = \"never\"\n");
  ASSERT_EQ(no_key.size(), 1u);
  EXPECT_EQ(no_key[0].key, "store.dir");
  EXPECT_EQ(no_key[0].line, 2);  // the [store] header
  EXPECT_THAT(no_key[0].message, HasSubstr("missing"));
}

TEST(ConfigTest, SourceNamesMustBeValidAndUnique) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"
[[sources]]
name = "sim"
type = "simulator"
[[sources]]
name = "sim"
type = "simulator"
[[sources]]
name = "has space"
type = "simulator"
[[sources]]
name = ".."
type = "simulator"
[[sources]]
type = "simulator"
)");
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].key, "sources[1].name");
  EXPECT_THAT(errors[0].message, HasSubstr("duplicate source name 'sim'"));
  EXPECT_THAT(errors[0].message, HasSubstr("line 3"));
  EXPECT_EQ(errors[1].key, "sources[2].name");
  EXPECT_EQ(errors[2].key, "sources[3].name");
  EXPECT_EQ(errors[3].key, "sources[4].name");
  EXPECT_THAT(errors[3].message, HasSubstr("missing"));
}

TEST(ConfigTest, UnknownSourceTypeListsTheKnownTypesAndSkipsItsKeys) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"
[[sources]]
name = "m"
type = "mqttt"
broker = "tcp://localhost:1883"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "sources[0].type");
  EXPECT_THAT(errors[0].message,
              AllOf(HasSubstr("unknown source type 'mqttt'"), HasSubstr("simulator")));
}

TEST(ConfigTest, WrongValueTypesSayWhatWasGiven) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = 5
compression = "gzip"
zstd_level = 1.5
[[sources]]
name = "s"
type = "simulator"
enabled = "yes"
series = 2.0
)");
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0].key, "store.dir");
  EXPECT_THAT(errors[0].message, HasSubstr("got 5"));
  EXPECT_EQ(errors[1].key, "store.compression");
  EXPECT_THAT(errors[1].message, HasSubstr("\"none\", \"lz4\", \"zstd\""));
  EXPECT_EQ(errors[2].key, "store.zstd_level");
  EXPECT_EQ(errors[3].key, "sources[0].enabled");
  EXPECT_THAT(errors[3].message, HasSubstr("true or false"));
  EXPECT_EQ(errors[4].key, "sources[0].series");
}

TEST(ConfigTest, SourcesMustBeAnArrayOfTables) {
  std::vector<ConfigError> errors = parse_errors("[store]\ndir = \"d\"\n[sources]\nname = 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "sources");
  EXPECT_THAT(errors[0].message, HasSubstr("[[sources]]"));
}

TEST(ConfigTest, SyntaxErrorNamesFileAndLine) {
  std::vector<ConfigError> errors = parse_errors("[store]\ndir = \"d\"\nsync = = 3\n", "x.toml");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 3);
  EXPECT_THAT(errors[0].to_string(), StartsWith("x.toml:3:"));
  EXPECT_THAT(errors[0].message, HasSubstr("syntax error"));
}

TEST(ConfigTest, StoreLimitsAreChecked) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"
segment_size = "1KiB"
sync_interval = "1500us"
max_size = "100MiB"
block_timeout = "-1s"
backup_retention = "1500ms"
)");
  std::vector<std::string> keys;
  for (const auto& e : errors) keys.push_back(e.key);
  EXPECT_THAT(keys, ElementsAre("store.segment_size", "store.sync_interval", "store.max_size",
                                "store.block_timeout", "store.backup_retention"));
  EXPECT_THAT(errors[2].message, HasSubstr("less than two segments"));
}

TEST(ConfigTest, SizesAcceptPlainIntegersAndUnits) {
  EXPECT_EQ(parse_ok("[store]\ndir = \"d\"\nsegment_size = 1048576\n").store.segment_bytes,
            1u << 20);
  EXPECT_EQ(parse_ok("[store]\ndir = \"d\"\nsegment_size = \"2 MiB\"\n").store.segment_bytes,
            2u << 20);
  std::vector<ConfigError> errors =
      parse_errors("[store]\ndir = \"d\"\nsegment_size = \"64MiBs\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "store.segment_size");
  EXPECT_THAT(errors[0].message, HasSubstr("got \"64MiBs\""));
}

TEST(ConfigTest, DurationsNeedAUnit) {
  std::vector<ConfigError> errors =
      parse_errors("[store]\ndir = \"d\"\nsync_interval = \"10\"\n[log]\nstatus_interval = 5\n");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "store.sync_interval");
  EXPECT_EQ(errors[1].key, "log.status_interval");
}

TEST(ConfigTest, SimulatorRangesAreChecked) {
  std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "d"
[[sources]]
name = "s"
type = "simulator"
rate = 0.001
period = "0s"
amplitude = -1
decimals = 16
batch_size = 0
asset = "a b"
)");
  std::vector<std::string> keys;
  for (const auto& e : errors) keys.push_back(e.key);
  EXPECT_THAT(keys,
              ElementsAre("sources[0].rate", "sources[0].period", "sources[0].amplitude",
                          "sources[0].decimals", "sources[0].batch_size", "sources[0].asset"));
}

TEST(ConfigTest, OneSamplePerMinuteIsTheLowestRate) {
  Config c = parse_ok(
      "[store]\ndir = \"d\"\n[[sources]]\nname = \"s\"\ntype = \"simulator\"\n"
      "rate = 0.016666666666666666\n");
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_NEAR(simulator_options(c.sources[0]).rate, 1.0 / 60, 1e-12);
}

TEST(ConfigTest, TheDemoConfigIsValid) {
  Result<Config> c = load_config(testing::source_dir() + "/examples/demo.toml", types());
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_EQ(simulator_options(c->sources[0]).series, 100u);
  EXPECT_EQ(simulator_options(c->sources[0]).rate, 1000);
  EXPECT_EQ(c->store.sync_interval, milliseconds(10));
  EXPECT_EQ(
      std::filesystem::path(c->store.dir),
      std::filesystem::path(testing::source_dir() + "/examples/data/demo").lexically_normal());
}

// ---- arrays of tables inside a table (ConfigTable::tables) ---------------------------------

// A source type for these tests whose keys are an array of tables, [[sources.points]], each
// with a name (required) and a scale (a positive number, default 1).
struct Point {
  std::string name;
  double scale = 1;
};

class PointsSettings final : public SourceSettings {
 public:
  PointsSettings(std::vector<Point> points, bool had_points)
      : points_(std::move(points)), had_points_(had_points) {}
  std::string summary() const override { return std::to_string(points_.size()) + " points"; }
  Result<std::unique_ptr<Source>> create(const std::string&) const override {
    return failed_precondition("a parse-only test type");
  }
  const std::vector<Point>& points() const { return points_; }
  bool had_points() const { return had_points_; }

 private:
  std::vector<Point> points_;
  bool had_points_;
};

const SourceTypes& types_with_points() {
  static const SourceTypes kTypes = [] {
    SourceTypes t = cli::builtin_source_types();
    t.add({"points", [](ConfigTable& table) {
             std::vector<Point> points;
             const std::optional<ConfigTable::Tables> tables = table.tables("points");
             if (tables) {
               for (ConfigTable& p : *tables) {
                 if (!p.has("name")) p.error("name", "missing; every point needs a name");
                 Point point;
                 point.name = p.string("name", "");
                 point.scale =
                     p.number("scale", 1, "a positive scale", [](double v) { return v > 0; });
                 points.push_back(std::move(point));
               }
             }
             return std::make_shared<const PointsSettings>(std::move(points), tables.has_value());
           }});
    return t;
  }();
  return kTypes;
}

const PointsSettings& points_of(const SourceConfig& source) {
  return dynamic_cast<const PointsSettings&>(*source.settings);
}

Config parse_points_ok(std::string_view text) {
  Result<Config> config = parse_config(text, "plant.toml", types_with_points());
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.ok() ? *config : Config{};
}

std::vector<ConfigError> parse_points_errors(std::string_view text) {
  std::vector<ConfigError> errors;
  Result<Config> config = parse_config(text, "plant.toml", types_with_points(), &errors);
  EXPECT_FALSE(config.ok()) << "expected errors in:\n" << text;
  return errors;
}

TEST(ConfigTableArrays, EachElementIsAChildTableInFileOrder) {
  Config c = parse_points_ok(R"([store]
dir = "d"
[[sources]]
name = "a"
type = "points"
[[sources.points]]
name = "p0"
[[sources.points]]
name = "p1"
scale = 2.5
[[sources]]
name = "b"
type = "points"
points = [{ name = "q0" }, { name = "q1", scale = 3 }]
[[sources]]
name = "c"
type = "points"
)");
  ASSERT_EQ(c.sources.size(), 3u);
  const std::vector<Point>& a = points_of(c.sources[0]).points();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].name, "p0");
  EXPECT_EQ(a[0].scale, 1);
  EXPECT_EQ(a[1].name, "p1");
  EXPECT_EQ(a[1].scale, 2.5);
  const std::vector<Point>& b = points_of(c.sources[1]).points();  // inline tables
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1].name, "q1");
  EXPECT_EQ(b[1].scale, 3);
  EXPECT_FALSE(points_of(c.sources[2]).had_points());  // absent: nullopt, no error
}

TEST(ConfigTableArrays, AnEmptyArrayGivesNoTablesAndNoError) {
  Config c = parse_points_ok(
      "[store]\ndir = \"d\"\n[[sources]]\nname = \"a\"\ntype = \"points\"\npoints = []\n");
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_TRUE(points_of(c.sources[0]).had_points());
  EXPECT_TRUE(points_of(c.sources[0]).points().empty());
}

TEST(ConfigTableArrays, ErrorInAChildNamesFileLineColumnAndTheWholeKeyPath) {
  std::vector<ConfigError> errors = parse_points_errors(R"([store]
dir = "d"
[[sources]]
name = "a"
type = "points"
[[sources]]
name = "b"
type = "points"
[[sources.points]]
name = "p0"
[[sources.points]]
name = "p1"
scale = -1
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "sources[1].points[1].scale");
  EXPECT_EQ(errors[0].line, 13);
  EXPECT_EQ(errors[0].column, 9);
  EXPECT_EQ(errors[0].to_string(),
            "plant.toml:13:9: key 'sources[1].points[1].scale': expected a positive scale, got -1");
}

TEST(ConfigTableArrays, AKeyMissingFromAChildPointsAtItsHeader) {
  std::vector<ConfigError> errors = parse_points_errors(R"([store]
dir = "d"
[[sources]]
name = "a"
type = "points"
[[sources.points]]
name = "p0"

[[sources.points]]
scale = 2
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "sources[0].points[1].name");
  EXPECT_EQ(errors[0].line, 9);
  EXPECT_THAT(errors[0].message, HasSubstr("missing"));
}

TEST(ConfigTableArrays, UnknownKeyInAChildIsReportedWithASuggestion) {
  std::vector<ConfigError> errors = parse_points_errors(R"([store]
dir = "d"
[[sources]]
name = "a"
type = "points"
[[sources.points]]
name = "p0"
scael = 2
[[sources.points]]
name = "p1"
colour = "red"
)");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "sources[0].points[0].scael");
  EXPECT_EQ(errors[0].line, 8);
  EXPECT_THAT(errors[0].message, HasSubstr("did you mean 'scale'?"));
  EXPECT_EQ(errors[1].key, "sources[0].points[1].colour");
  EXPECT_EQ(errors[1].line, 11);
  EXPECT_THAT(errors[1].message,
              AllOf(HasSubstr("unknown key"), HasSubstr("the keys here are name, scale")));
}

TEST(ConfigTableArrays, AMisspeltArrayOfTablesGetsASuggestion) {
  std::vector<ConfigError> errors = parse_points_errors(R"([store]
dir = "d"
[[sources]]
name = "a"
type = "points"
[[sources.pionts]]
name = "p0"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "sources[0].pionts");
  EXPECT_EQ(errors[0].line, 6);
  EXPECT_THAT(errors[0].message, HasSubstr("did you mean 'points'?"));
}

TEST(ConfigTableArrays, AValueThatIsNotAnArrayOfTablesSaysHowToWriteOne) {
  struct Case {
    std::string keys;  // after the source's name and type (line 6 on)
    std::string key;   // the key the error names
    int line;
    std::string message;  // the whole message
  };
  const std::vector<Case> cases = {
      {"points = \"p0\"\n", "sources[0].points", 6,
       "expected an array of tables written [[sources.points]], got \"p0\""},
      {"points = 5\n", "sources[0].points", 6,
       "expected an array of tables written [[sources.points]], got 5"},
      {"\n[sources.points]\nname = \"p0\"\n", "sources[0].points", 7,
       "expected an array of tables written [[sources.points]], got a table"},
      {"points = [\n  { name = \"p0\" },\n  \"p1\",\n]\n", "sources[0].points[1]", 8,
       "expected a table written [[sources.points]], got \"p1\""},
  };
  for (const Case& c : cases) {
    const std::string text =
        "[store]\ndir = \"d\"\n[[sources]]\nname = \"a\"\ntype = \"points\"\n" + c.keys;
    std::vector<ConfigError> errors = parse_points_errors(text);
    ASSERT_EQ(errors.size(), 1u) << text;
    EXPECT_EQ(errors[0].key, c.key) << text;
    EXPECT_EQ(errors[0].line, c.line) << text;
    EXPECT_EQ(errors[0].message, c.message) << text;
  }
}

// ---- sizes and durations ------------------------------------------------------------------

TEST(UnitsTest, SizesParseDecimalAndBinaryUnits) {
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("1048576"), 1048576u);
  EXPECT_EQ(*parse_size("64MiB"), 64u << 20);
  EXPECT_EQ(*parse_size("64mib"), 64u << 20);
  EXPECT_EQ(*parse_size("64 MiB"), 64u << 20);
  EXPECT_EQ(*parse_size("1GB"), 1'000'000'000u);
  EXPECT_EQ(*parse_size("1.5KiB"), 1536u);
  EXPECT_EQ(*parse_size("2TiB"), 2ull << 40);
  EXPECT_EQ(*parse_size("100B"), 100u);
}

TEST(UnitsTest, BadSizesAreRefusedWithTheUnitsThatExist) {
  for (const char* bad : {"", "MiB", "-1", "64MB/s", "64Mi", "1.5", "1e3", "64  MiB", " 64",
                          "1.MiB", "100000000TiB"}) {
    Result<uint64_t> r = parse_size(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_THAT(parse_size("64XB").status().message(), HasSubstr("KiB"));
}

TEST(UnitsTest, DurationsParseEveryUnitAndCompounds) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(*parse_duration("0"), nanoseconds(0));
  EXPECT_EQ(*parse_duration("0s"), nanoseconds(0));
  EXPECT_EQ(*parse_duration("10ns"), nanoseconds(10));
  EXPECT_EQ(*parse_duration("250us"), std::chrono::microseconds(250));
  EXPECT_EQ(*parse_duration("10ms"), milliseconds(10));
  EXPECT_EQ(*parse_duration("0.1s"), milliseconds(100));
  EXPECT_EQ(*parse_duration("1m30s"), seconds(90));
  EXPECT_EQ(*parse_duration("2min"), seconds(120));
  EXPECT_EQ(*parse_duration("1.5h"), seconds(5400));
  EXPECT_EQ(*parse_duration("1d"), seconds(86400));
}

TEST(UnitsTest, BadDurationsAreRefused) {
  for (const char* bad :
       {"", "10", "ms", "-5s", "10 parsecs", "10sec", "1m 30s", "5y", "999999999d"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
  EXPECT_THAT(parse_duration("10").status().message(), HasSubstr("ms"));
}

TEST(UnitsTest, FormattingPicksTheLargestExactUnit) {
  EXPECT_EQ(format_size(64u << 20), "64MiB");
  EXPECT_EQ(format_size(1536), "1.5KiB");
  EXPECT_EQ(format_size(1000), "1000B");
  EXPECT_EQ(format_duration(milliseconds(10)), "10ms");
  EXPECT_EQ(format_duration(seconds(90)), "90s");
  EXPECT_EQ(format_duration(seconds(3600)), "1h");
  EXPECT_EQ(format_bytes(2758), "2.7KiB");
}

TEST(UnitsTest, FormattedSizesAndDurationsParseBackToThemselves) {
  rc::check("parse_size(format_size(b)) == b", [](uint64_t b) {
    b &= (uint64_t{1} << 62) - 1;
    Result<uint64_t> back = parse_size(format_size(b));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == b);
  });
  rc::check("parse_duration(format_duration(d)) == d", [](int64_t ns) {
    ns &= (int64_t{1} << 62) - 1;
    Result<std::chrono::nanoseconds> back =
        parse_duration(format_duration(std::chrono::nanoseconds(ns)));
    RC_ASSERT(back.ok());
    RC_ASSERT(back->count() == ns);
  });
}

}  // namespace
}  // namespace sluice::runtime

namespace sluice::runtime {
namespace {

TEST(ConfigTest, InstanceNameIsCheckedAndDefaultsToTheHostName) {
  const Config named = parse_ok("[instance]\nname = \"plant-b.line_2\"\n[store]\ndir = \"d\"\n");
  EXPECT_EQ(named.instance.name, "plant-b.line_2");
  EXPECT_THAT(describe_config(named), HasSubstr("instance: plant-b.line_2"));
  const Config unnamed = parse_ok("[store]\ndir = \"d\"\n");
  EXPECT_FALSE(unnamed.instance.name.empty());
  EXPECT_NE(unnamed.instance.name.front(), '.');
  for (const char* bad : {"\"\"", "\".hidden\"", "\"a b\"", "\"a/b\"", "3"}) {
    const std::vector<ConfigError> errors =
        parse_errors(std::string("[instance]\nname = ") + bad + "\n[store]\ndir = \"d\"\n");
    ASSERT_EQ(errors.size(), 1u) << bad;
    EXPECT_EQ(errors[0].key, "instance.name") << bad;
    EXPECT_EQ(errors[0].line, 2) << bad;
  }
  const std::vector<ConfigError> unknown =
      parse_errors("[instance]\nname = \"a\"\nnmae = \"b\"\n[store]\ndir = \"d\"\n");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].key, "instance.nmae");
}

}  // namespace
}  // namespace sluice::runtime

namespace sluice::runtime {
namespace {

TEST(ConfigControlTest, ControlTableAndDocumentsAreReadWithTheirLines) {
  const Config c = parse_ok(R"([store]
dir = "data"
[control]
dispatcher_threads = 4
delivery_queue = 10
[[rules]]
name = "hot"
type = "threshold"
series = "Motor.temperature"
threshold = 35
)");
  EXPECT_EQ(c.control.dispatcher_threads, 4u);
  EXPECT_EQ(c.control.delivery_queue, 10u);
  EXPECT_EQ(c.control.delivery_threads, 2u);
  ASSERT_EQ(c.documents.size(), 1u);
  EXPECT_EQ(c.documents[0].kind, "rules");
  EXPECT_EQ(c.documents[0].name, "hot");
  EXPECT_EQ(c.documents[0].line, 6);
  const nlohmann::json doc = nlohmann::json::parse(c.documents[0].json, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << c.documents[0].json;
  EXPECT_EQ(doc["threshold"], 35);
  EXPECT_EQ(doc["series"], "Motor.temperature");
}

TEST(ConfigControlTest, ErrorsInControlAndDocumentsNameLineAndKey) {
  const std::vector<ConfigError> errors = parse_errors(R"([store]
dir = "data"
[control]
dispatcher_threads = 0
[[rules]]
name = "hot"
type = "threshold"
series = "Motor.temperature"
threshold = "high"
[[rules]]
name = "hot"
type = "deadman"
series = ["a.b"]
timeout = "10s"
)");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].key, "control.dispatcher_threads");
  EXPECT_EQ(errors[0].line, 4);
  EXPECT_EQ(errors[1].key, "rules[0].threshold");
  EXPECT_EQ(errors[1].line, 9);
  EXPECT_EQ(errors[2].key, "rules[1].name");
  EXPECT_THAT(errors[2].message, HasSubstr("line 5"));
}

}  // namespace
}  // namespace sluice::runtime
