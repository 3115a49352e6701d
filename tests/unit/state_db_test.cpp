// The state database and the series registry: metadata is kept across reopen, an empty field
// never erases a known value, and only changes are written; service rows (settings changed at
// run time, tombstones) are kept across reopen, replaced whole, and forgotten on request.
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

ServiceRow service_row(ServiceKind kind, std::string name, std::string settings) {
  ServiceRow r;
  r.kind = kind;
  r.name = std::move(name);
  r.type = kind == ServiceKind::kSink ? "files" : "simulator";
  r.settings = std::move(settings);
  r.updated_at = "2026-11-24T05:00:00.000Z";
  r.seed_hash = "0123456789abcdef";
  return r;
}

TEST(StateDbTest, ServiceRowsSurviveReopenAndAreReplacedWhole) {
  testing::TempDir dir;
  ServiceRow sink = service_row(ServiceKind::kSink, "lake", "name = \"lake\"\n");
  // A source may have the same name as a sink: the key is (kind, name).
  ServiceRow source = service_row(ServiceKind::kSource, "lake", "name = \"lake\"\nrate = 5\n");
  {
    auto db = StateDb::open(dir.file("state.db"));
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    ASSERT_TRUE((*db)->put_service(sink).ok());
    ASSERT_TRUE((*db)->put_service(source).ok());
    sink.enabled = false;
    sink.origin = ServiceOrigin::kApi;
    sink.settings = "name = \"lake\"\nenabled = false\n";
    sink.updated_at = "2026-11-24T05:01:00.000Z";
    ASSERT_TRUE((*db)->put_service(sink).ok());
  }
  auto db = StateDb::open(dir.file("state.db"));
  ASSERT_TRUE(db.ok());
  auto got = (*db)->service(ServiceKind::kSink, "lake");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, sink);
  auto all = (*db)->services();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], source) << "sources come first";
  EXPECT_EQ((*all)[1], sink);
  auto none = (*db)->service(ServiceKind::kSource, "nope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(StateDbTest, ATombstoneIsKeptAndAnErasedRowIsGone) {
  auto db = StateDb::open(":memory:");
  ASSERT_TRUE(db.ok());
  ServiceRow removed = service_row(ServiceKind::kSource, "old", "name = \"old\"\n");
  removed.deleted = true;
  removed.origin = ServiceOrigin::kApi;
  ASSERT_TRUE((*db)->put_service(removed).ok());
  ASSERT_TRUE((*db)->put_service(service_row(ServiceKind::kSource, "gone", "x = 1\n")).ok());
  ASSERT_TRUE((*db)->erase_service(ServiceKind::kSource, "gone").ok());
  ASSERT_TRUE((*db)->erase_service(ServiceKind::kSource, "never-there").ok());
  auto all = (*db)->services();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE((*all)[0].deleted);
  EXPECT_EQ((*all)[0].name, "old");
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
