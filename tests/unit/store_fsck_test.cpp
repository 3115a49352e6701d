// fsck and inspect: damage is found, named by file and offset, and --repair mends it without
// losing a valid record (the damaged bytes go to quarantine/).
#include <gtest/gtest.h>

#include <sstream>

#include "fixtures/store_testing.h"
#include "io/mem_env.h"
#include "store/fsck.h"
#include "store/store.h"

namespace sluice::store {
namespace {

class FsckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.dir = "/s";
    options_.segment_bytes = 4096;
    options_.min_free_bytes = 0;
    options_.sync_policy = SyncPolicy::kEveryBatch;
    options_.encoding.compression = Compression::kNone;
    auto st = Store::open(env_, options_);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->ensure_stream("line").ok());
    for (uint64_t i = 0; i < 30; ++i) {
      ASSERT_TRUE((*st)->append("line", testing::batch_for_seq(i * 100, 100)).ok());
    }
    ASSERT_TRUE((*st)->close().ok());
  }
  std::string first_segment() {
    auto names = env_.list_dir("/s/streams/line");
    for (const auto& n : *names) {
      if (n.ends_with(".seg")) return "/s/streams/line/" + n;
    }
    return "";
  }

  MemEnv env_;
  StoreOptions options_;
};

TEST_F(FsckTest, CleanStoreIsReportedClean) {
  std::ostringstream out;
  auto rep = fsck(env_, "/s", {}, out);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->clean()) << out.str();
  EXPECT_GT(rep->records_ok, 20u);
}

TEST_F(FsckTest, DamagedRecordIsNamedByFileAndOffsetAndRepairKeepsTheRest) {
  const std::string seg = first_segment();
  auto size = env_.file_size(seg);
  ASSERT_TRUE(env_.corrupt(seg, *size / 2, 0x10).ok());
  std::ostringstream out;
  auto rep = fsck(env_, "/s", {}, out);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->clean());
  EXPECT_EQ(rep->records_bad, 1u);
  EXPECT_NE(out.str().find(seg), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("offset"), std::string::npos);

  std::ostringstream fix;
  auto repaired = fsck(env_, "/s", FsckOptions{.repair = true}, fix);
  ASSERT_TRUE(repaired.ok());
  EXPECT_FALSE(repaired->actions.empty()) << fix.str();
  EXPECT_FALSE(env_.list_dir("/s/quarantine")->empty());

  std::ostringstream again;
  auto after = fsck(env_, "/s", {}, again);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->clean()) << again.str();
  EXPECT_EQ(after->records_ok, repaired->records_ok);

  // Everything but the one damaged record reads back.
  auto st = Store::open(env_, options_);
  ASSERT_TRUE(st.ok());
  auto rb = testing::read_all(**st, "line");
  EXPECT_EQ(rb.samples.size(), 2900u);
  for (const auto& [seq, s] : rb.samples) EXPECT_EQ(testing::seq_of(s), seq);
}

TEST_F(FsckTest, RepairRefusedWhileStoreIsOpen) {
  auto st = Store::open(env_, options_);
  ASSERT_TRUE(st.ok());
  std::ostringstream out;
  auto rep = fsck(env_, "/s", FsckOptions{.repair = true}, out);
  EXPECT_EQ(rep.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(rep.status().message().find("in use"), std::string::npos);
}

TEST_F(FsckTest, InspectShowsSegmentsSamplesAndCursors) {
  {
    auto st = Store::open(env_, options_);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->add_cursor("line", "csv", StartAt::kEarliest).ok());
    ASSERT_TRUE((*st)->commit_cursor("line", "csv", 1200).ok());
  }
  std::ostringstream out;
  ASSERT_TRUE(inspect(env_, "/s", InspectOptions{.records = true}, out).ok());
  const std::string s = out.str();
  EXPECT_NE(s.find("stream 'line'"), std::string::npos) << s;
  EXPECT_NE(s.find("cursor    csv -> next sequence 1200"), std::string::npos) << s;
  EXPECT_NE(s.find("3000 samples"), std::string::npos) << s;
  EXPECT_NE(s.find("bytes/sample"), std::string::npos) << s;
  EXPECT_NE(s.find("record @"), std::string::npos) << s;
}

TEST_F(FsckTest, NotAStoreIsAClearError) {
  std::ostringstream out;
  ASSERT_TRUE(env_.create_dirs("/empty").ok());
  auto rep = fsck(env_, "/empty", {}, out);
  EXPECT_EQ(rep.status().code(), Code::kNotFound);
  EXPECT_NE(rep.status().message().find("not a Sluice store"), std::string::npos);
}

}  // namespace
}  // namespace sluice::store
