// The state database and the series registry: metadata is kept across reopen, an empty field
// never erases a known value, and only changes are written.
#include "runtime/state_db.h"

#include <gtest/gtest.h>

#include "fixtures/test_support.h"
#include "runtime/series_registry.h"

namespace sluice::runtime {
namespace {

SeriesMeta meta(std::string name, std::string unit,
                std::map<std::string, std::string> labels = {}) {
  SeriesMeta m;
  m.name = std::move(name);
  m.unit = std::move(unit);
  m.labels = std::move(labels);
  return m;
}

TEST(StateDbTest, SeriesMetadataSurvivesReopen) {
  testing::TempDir dir;
  {
    auto db = StateDb::open(dir.file("state.db"));
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    ASSERT_TRUE((*db)->upsert_series({meta("line1.temp", "°C", {{"site", "north"}})}).ok());
  }
  auto db = StateDb::open(dir.file("state.db"));
  ASSERT_TRUE(db.ok());
  auto m = (*db)->series("line1.temp");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->unit, "°C");
  EXPECT_EQ(m->labels.at("site"), "north");
  EXPECT_FALSE((*db)->series("nope").has_value());
}

TEST(StateDbTest, EmptyFieldsKeepWhatIsKnown) {
  auto db = StateDb::open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->upsert_series({meta("a", "bar")}).ok());
  ASSERT_TRUE((*db)->upsert_series({meta("a", "")}).ok());
  EXPECT_EQ((*db)->series("a")->unit, "bar");
  ASSERT_TRUE((*db)->upsert_series({meta("a", "kPa")}).ok());
  EXPECT_EQ((*db)->series("a")->unit, "kPa");
}

TEST(StateDbTest, UnopenablePathIsAClearError) {
  auto db = StateDb::open("/nonexistent-dir/sub/state.db");
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("/nonexistent-dir/sub/state.db"), std::string::npos);
}

TEST(SeriesRegistryTest, ReportsFillTheSourceAndAreFoundAfterReopen) {
  testing::TempDir dir;
  {
    auto reg = SeriesRegistry::open(std::move(StateDb::open(dir.file("state.db"))).value());
    ASSERT_TRUE(reg.ok());
    ASSERT_TRUE((*reg)->update({meta("x", "V"), meta("y", "")}, "meter1").ok());
    EXPECT_EQ((*reg)->find("x")->source, "meter1");
    EXPECT_EQ((*reg)->size(), 2u);
  }
  auto reg = SeriesRegistry::open(std::move(StateDb::open(dir.file("state.db"))).value());
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ((*reg)->find("x")->unit, "V");
  EXPECT_EQ((*reg)->find("y")->source, "meter1");
  // The same report again changes nothing; a new unit is kept.
  ASSERT_TRUE((*reg)->update({meta("x", "V")}, "meter1").ok());
  ASSERT_TRUE((*reg)->update({meta("x", "kV")}, "meter1").ok());
  EXPECT_EQ((*reg)->find("x")->unit, "kV");
}

}  // namespace
}  // namespace sluice::runtime
