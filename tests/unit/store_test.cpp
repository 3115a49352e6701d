// Behaviour tests of the store on MemEnv (crash and fault injection): recovery, cursors,
// retention, full policies, exactly-once appends, purge, queries.
#include "store/store.h"

#include <gtest/gtest.h>

#include <thread>

#include "fixtures/store_testing.h"
#include "io/mem_env.h"
#include "store/format.h"

namespace sluice::store {
namespace {

using testing::batch_for_seq;
using testing::read_all;
using testing::seq_of;

constexpr std::string_view kStream = "line1";

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() {
    options_.dir = "/data/store";
    options_.segment_bytes = 4096;
    options_.encoding.compression = Compression::kNone;  // predictable sizes
    options_.sync_policy = SyncPolicy::kEveryBatch;
    options_.min_free_bytes = 0;
    options_.clock = &clock_;
  }

  void open() {
    report_ = RecoveryReport{};
    auto st = Store::open(env_, options_, &report_);
    ASSERT_TRUE(st.ok()) << st.status().to_string();
    store_ = std::move(st).value();
    ASSERT_TRUE(store_->ensure_stream(kStream).ok());
  }
  // Power loss: the store object is abandoned (its handles are stale), the file system keeps
  // only what was durable.
  void crash_and_reopen(uint64_t seed = 1, bool torn = false) {
    env_.crash(seed, torn);
    store_.reset();
    env_.restart();
    open();
  }
  void reopen() {
    ASSERT_TRUE(store_->close().ok());
    store_.reset();
    open();
  }
  AppendResult append(uint64_t n) {
    const uint64_t first = store_->stream_stats(kStream)->next_seq;
    auto r = store_->append(kStream, batch_for_seq(first, n));
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : AppendResult{};
  }
  std::vector<std::string> segment_files() {
    std::vector<std::string> out;
    auto names = env_.list_dir(options_.dir + "/streams/" + std::string(kStream));
    for (const auto& n : *names) {
      if (n.ends_with(".seg")) out.push_back(n);
    }
    return out;
  }
  std::string seg_path(const std::string& name) {
    return options_.dir + "/streams/" + std::string(kStream) + "/" + name;
  }
  // Every sample read is the one its sequence says, sequences strictly increase.
  void expect_consistent(const testing::ReadBack& rb) {
    uint64_t last = 0;
    bool first = true;
    for (const auto& [seq, s] : rb.samples) {
      EXPECT_EQ(seq_of(s), seq);
      if (!first) EXPECT_GT(seq, last);
      last = seq;
      first = false;
    }
  }

  MemEnv env_;
  ManualClock clock_;
  StoreOptions options_;
  RecoveryReport report_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, AppendedSamplesReadBackInOrderWithTheirSequences) {
  open();
  for (int i = 0; i < 50; ++i) append(100);
  auto rb = read_all(*store_, std::string(kStream));
  ASSERT_EQ(rb.samples.size(), 5000u);
  expect_consistent(rb);
  EXPECT_EQ(rb.samples.front().first, 0u);
  EXPECT_GT(store_->stream_stats(kStream)->segments, 3u) << "the test should cross segments";
}

TEST_F(StoreTest, SyncedAppendsSurviveCrashAndSequencesContinue) {
  open();
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(append(100).durability, Durability::kSynced);
  }
  crash_and_reopen();
  auto rb = read_all(*store_, std::string(kStream));
  ASSERT_EQ(rb.samples.size(), 3000u);
  expect_consistent(rb);
  EXPECT_EQ(append(10).first_seq, 3000u);
}

TEST_F(StoreTest, TornTailTruncatedOnReopen) {
  options_.sync_policy = SyncPolicy::kNever;  // nothing synced: the crash tears the tail
  open();
  ASSERT_TRUE(store_->sync().ok());
  for (int i = 0; i < 5; ++i) append(100);
  ASSERT_TRUE(store_->sync().ok());
  for (int i = 0; i < 5; ++i) append(100);  // unsynced
  bool saw_cut = false;
  for (uint64_t seed = 1; seed < 40 && !saw_cut; ++seed) {
    // Re-create the same unsynced tail for each seed until one tears inside a record.
    crash_and_reopen(seed, /*torn=*/true);
    auto rb = read_all(*store_, std::string(kStream));
    ASSERT_GE(rb.samples.size(), 500u) << "synced samples lost";
    expect_consistent(rb);
    saw_cut = report_.truncated_bytes > 0;
    // New appends go after the last whole record and read back.
    const uint64_t before = store_->stream_stats(kStream)->next_seq;
    append(10);
    ASSERT_TRUE(store_->sync().ok());
    auto again = read_all(*store_, std::string(kStream));
    ASSERT_EQ(again.samples.size(), rb.samples.size() + 10);
    EXPECT_EQ(again.samples.back().first, before + 9);
    for (int i = 0; i < 5; ++i) append(100);  // unsynced again for the next seed
  }
  EXPECT_TRUE(saw_cut) << "no seed tore a record; the test did not exercise truncation";
}

TEST_F(StoreTest, ChecksumMismatchInMiddleSkippedAndCounted) {
  options_.segment_bytes = 1 << 20;  // one segment, so the damage is in the tail being scanned
  open();
  for (int i = 0; i < 10; ++i) append(100);
  ASSERT_TRUE(store_->close().ok());
  store_.reset();
  auto segs = segment_files();
  ASSERT_EQ(segs.size(), 1u);
  // Flip a byte in the payload of a record in the middle (well past the first records).
  auto size = env_.file_size(seg_path(segs[0]));
  ASSERT_TRUE(env_.corrupt(seg_path(segs[0]), *size / 2, 0x40).ok());
  open();
  EXPECT_EQ(report_.corrupt_records, 1u);
  EXPECT_EQ(report_.truncated_bytes, 0u) << "valid records after the damage must be kept";
  auto rb = read_all(*store_, std::string(kStream));
  expect_consistent(rb);
  EXPECT_EQ(rb.samples.size(), 900u);
  EXPECT_EQ(rb.samples.back().first, 999u);
  // The store keeps working after it.
  EXPECT_EQ(append(5).first_seq, 1000u);
}

TEST_F(StoreTest, CorruptRecordInSealedSegmentSkippedByReaderAndCountedOnce) {
  open();
  for (int i = 0; i < 40; ++i) append(100);
  ASSERT_TRUE(store_->close().ok());
  store_.reset();
  auto segs = segment_files();
  ASSERT_GT(segs.size(), 2u);
  auto size = env_.file_size(seg_path(segs[0]));
  ASSERT_TRUE(env_.corrupt(seg_path(segs[0]), *size / 2, 0x01).ok());
  open();
  auto rb = read_all(*store_, std::string(kStream));
  expect_consistent(rb);
  EXPECT_LT(rb.samples.size(), 4000u);
  EXPECT_EQ(rb.samples.size(), 3900u);
  auto stats = store_->stream_stats(kStream);
  EXPECT_EQ(stats->corrupt_records, 1u);
  EXPECT_EQ(stats->dropped[static_cast<int>(DropCause::kCorrupt)], 100u);
  read_all(*store_, std::string(kStream));  // a second pass does not count it again
  EXPECT_EQ(store_->stream_stats(kStream)->corrupt_records, 1u);
}

TEST_F(StoreTest, CursorNeverAheadOfDurableData) {
  options_.sync_policy = SyncPolicy::kInterval;
  options_.sync_interval = std::chrono::hours(1);  // the sync thread will not run by itself
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "sink", StartAt::kEarliest).ok());
  auto r = store_->append(kStream, batch_for_seq(0, 100), AppendOptions{.wait_durable = false});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->durability, Durability::kWritten);
  // Written but not durable: invisible to readers, and no cursor may pass it.
  EXPECT_EQ(read_all(*store_, std::string(kStream)).samples.size(), 0u);
  Status st = store_->commit_cursor(kStream, "sink", 100);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.to_string();
  ASSERT_TRUE(store_->sync().ok());
  EXPECT_EQ(read_all(*store_, std::string(kStream)).samples.size(), 100u);
  EXPECT_TRUE(store_->commit_cursor(kStream, "sink", 100).ok());
  EXPECT_EQ(store_->cursor(kStream, "sink")->next_seq, 100u);
}

TEST_F(StoreTest, SegmentDeletedOnlyWhenEveryCursorPassedIt) {
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  ASSERT_TRUE(store_->add_cursor(kStream, "b", StartAt::kEarliest).ok());
  for (int i = 0; i < 40; ++i) append(100);
  const size_t before = segment_files().size();
  ASSERT_GT(before, 3u);
  ASSERT_TRUE(store_->commit_cursor(kStream, "a", 4000).ok());
  EXPECT_EQ(segment_files().size(), before) << "b has not passed any segment";
  ASSERT_TRUE(store_->commit_cursor(kStream, "b", 2000).ok());
  const size_t after_b = segment_files().size();
  EXPECT_LT(after_b, before);
  // What is left still holds everything b has not delivered.
  auto rb = read_all(*store_, std::string(kStream), 2000);
  EXPECT_EQ(rb.samples.size(), 2000u);
  EXPECT_LE(store_->stream_stats(kStream)->first_seq, 2000u);
  ASSERT_TRUE(store_->commit_cursor(kStream, "b", 4000).ok());
  EXPECT_EQ(segment_files().size(), 1u) << "only the active segment remains";
}

TEST_F(StoreTest, SegmentNeverDeletedBeforeCursorIsDurable) {
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  for (int i = 0; i < 40; ++i) append(100);
  // Crash at every step of a cursor commit: after reopening, the cursor is the old or the new
  // position, and every sample at or after it is still readable.
  for (uint64_t ops = 0;; ++ops) {
    env_.crash_after(ops);
    Status st = store_->commit_cursor(kStream, "a", 3000);
    const bool crashed = env_.crashed();
    store_.reset();
    env_.restart();
    open();
    const uint64_t cur = store_->cursor(kStream, "a")->next_seq;
    EXPECT_TRUE(cur == 0 || cur == 3000) << "cursor " << cur << " after crash at op " << ops;
    auto rb = read_all(*store_, std::string(kStream), cur);
    EXPECT_EQ(rb.samples.size(), 4000 - cur) << "crash at op " << ops;
    if (!crashed) {
      EXPECT_TRUE(st.ok());
      break;
    }
    if (cur != 0) break;
  }
}

TEST_F(StoreTest, CursorFileTornMidWriteKeepsOldOrNewPosition) {
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  for (int i = 0; i < 10; ++i) append(100);
  std::set<uint64_t> seen;
  for (uint64_t ops = 0; ops < 20; ++ops) {
    ASSERT_TRUE(store_->commit_cursor(kStream, "a", 100 * (ops % 9)).ok() ||
                true);  // moving backwards is a no-op; forwards is the write under test
    const uint64_t before = store_->cursor(kStream, "a")->next_seq;
    const uint64_t target = std::min<uint64_t>(before + 100, 1000);
    env_.crash_after(ops % 6, ops, /*torn=*/true);
    (void)store_->commit_cursor(kStream, "a", target);
    store_.reset();
    env_.restart();
    open();
    const uint64_t after = store_->cursor(kStream, "a")->next_seq;
    EXPECT_TRUE(after == before || after == target)
        << "cursor " << after << ", expected " << before << " or " << target;
    seen.insert(after == before ? 0 : 1);
  }
  EXPECT_EQ(seen.size(), 2u) << "both outcomes (old and new) should occur across crash points";
}

TEST_F(StoreTest, DamagedStateFileResetsCursorsToOldestDataNotLoss) {
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  for (int i = 0; i < 10; ++i) append(100);
  ASSERT_TRUE(store_->commit_cursor(kStream, "a", 500).ok());
  ASSERT_TRUE(store_->close().ok());
  store_.reset();
  ASSERT_TRUE(env_.corrupt(options_.dir + "/streams/line1/STATE", 20, 0x08).ok());
  open();
  EXPECT_FALSE(report_.messages.empty());
  // Unknown cursor: the sink registers again and starts from the oldest data (resent, not lost).
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  EXPECT_LE(store_->cursor(kStream, "a")->next_seq, 500u);
}

TEST_F(StoreTest, ReopenAfterCrashInMiddleOfSegmentRoll) {
  open();
  // Fill the active segment to just below the roll point.
  while (store_->stream_stats(kStream)->segments == 1) append(100);
  const uint64_t synced_end = store_->stream_stats(kStream)->next_seq;
  // The next append rolls; crash it at every step.
  for (uint64_t ops = 0;; ++ops) {
    const uint64_t segs_before = store_->stream_stats(kStream)->segments;
    while (store_->stream_stats(kStream)->segments == segs_before) {
      // bring the active segment to the edge again
      if (store_->stream_stats(kStream)->bytes % options_.segment_bytes >
          options_.segment_bytes - 2000)
        break;
      append(100);
    }
    const uint64_t durable = store_->stream_stats(kStream)->next_seq;
    env_.crash_after(ops, ops, /*torn=*/true);
    auto r = store_->append(kStream, batch_for_seq(durable, 100));
    const bool crashed = env_.crashed();
    store_.reset();
    env_.restart();
    open();
    auto rb = read_all(*store_, std::string(kStream));
    expect_consistent(rb);
    EXPECT_GE(rb.samples.size(), durable) << "crash at op " << ops << " lost durable data";
    if (r.ok() && r->durability == Durability::kSynced) {
      EXPECT_EQ(rb.samples.size(), durable + 100) << "acknowledged batch lost at op " << ops;
    }
    // The store works after it: append and read.
    const uint64_t next = store_->stream_stats(kStream)->next_seq;
    auto r2 = store_->append(kStream, batch_for_seq(next, 10));
    ASSERT_TRUE(r2.ok()) << r2.status().to_string();
    EXPECT_EQ(read_all(*store_, std::string(kStream)).samples.size(), next + 10);
    if (!crashed) break;
  }
  EXPECT_GE(synced_end, 1u);
}

TEST_F(StoreTest, HeaderlessTailSegmentFromInterruptedRollIsRemoved) {
  open();
  for (int i = 0; i < 5; ++i) append(100);
  ASSERT_TRUE(store_->close().ok());
  store_.reset();
  // An interrupted roll left a next segment with a half-written header.
  auto f = env_.open_writable(seg_path(format::segment_file_name(500)), OpenMode::kCreateNew);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->append("SLUICSEG\x01").ok());
  ASSERT_TRUE((*f)->close().ok());
  open();
  EXPECT_EQ(report_.removed_files, 1u);
  EXPECT_EQ(read_all(*store_, std::string(kStream)).samples.size(), 500u);
  EXPECT_EQ(append(10).first_seq, 500u);
}

TEST_F(StoreTest, AppendAtIsExactlyOnceAcrossResends) {
  open();
  ASSERT_TRUE(store_->append_at(kStream, 0, batch_for_seq(0, 100)).ok());
  auto dup = store_->append_at(kStream, 0, batch_for_seq(0, 100));
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->outcome, AppendResult::Outcome::kDuplicate);
  ASSERT_TRUE(store_->append_at(kStream, 100, batch_for_seq(100, 100)).ok());
  // After a crash and reopen, the resend of an acknowledged batch is still recognised.
  crash_and_reopen();
  dup = store_->append_at(kStream, 100, batch_for_seq(100, 100));
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->outcome, AppendResult::Outcome::kDuplicate);
  // A partial overlap is refused, not half-applied.
  auto overlap = store_->append_at(kStream, 150, batch_for_seq(150, 100));
  EXPECT_EQ(overlap.status().code(), Code::kInvalidArgument);
  // A gap (data purged upstream) is accepted and kept as a gap.
  ASSERT_TRUE(store_->append_at(kStream, 1000, batch_for_seq(1000, 50)).ok());
  auto rb = read_all(*store_, std::string(kStream));
  expect_consistent(rb);
  ASSERT_EQ(rb.samples.size(), 250u);
  EXPECT_EQ(rb.samples[200].first, 1000u);
}

TEST_F(StoreTest, ResentBatchIsAcknowledgedOnlyOnceItsFirstCopyIsDurable) {
  options_.sync_policy = SyncPolicy::kInterval;
  options_.sync_interval = std::chrono::hours(1);
  open();
  auto first =
      store_->append_at(kStream, 0, batch_for_seq(0, 100), AppendOptions{.wait_durable = false});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->durability, Durability::kWritten);
  EXPECT_EQ(store_->stream_stats(kStream)->readable_end, 0u);
  // The sender resends (its first try timed out): the answer may only say "synced" once the
  // first copy is durable, because the sender deletes its copy on that answer.
  auto resend = store_->append_at(kStream, 0, batch_for_seq(0, 100));
  ASSERT_TRUE(resend.ok());
  EXPECT_EQ(resend->outcome, AppendResult::Outcome::kDuplicate);
  EXPECT_EQ(resend->durability, Durability::kSynced);
  EXPECT_EQ(store_->stream_stats(kStream)->readable_end, 100u);
  crash_and_reopen();
  EXPECT_EQ(read_all(*store_, std::string(kStream)).samples.size(), 100u);
}

TEST_F(StoreTest, InterruptedStreamCreationIsRemovedAndCreatedAfresh) {
  open();
  ASSERT_TRUE(store_->close().ok());
  store_.reset();
  // A crash after the stream directory was made and before its STREAM file was written.
  ASSERT_TRUE(env_.create_dirs(options_.dir + "/streams/half").ok());
  open();
  EXPECT_FALSE(store_->has_stream("half"));
  ASSERT_TRUE(store_->ensure_stream("half", R"({"source":"x"})").ok());
  EXPECT_EQ(*store_->stream_meta("half"), R"({"source":"x"})");
}

TEST_F(StoreTest, FullDropNewestRefusesAndCountsEveryDroppedSample) {
  options_.max_bytes = 12 * 1024;
  options_.full_policy = FullPolicy::kDropNewest;
  open();
  uint64_t dropped = 0;
  uint64_t kept = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = store_->append(kStream, batch_for_seq(kept, 100));
    ASSERT_TRUE(r.ok());
    if (r->outcome == AppendResult::Outcome::kDropped) {
      dropped += 100;
    } else {
      kept += 100;
    }
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_LE(store_->stats().bytes, options_.max_bytes);
  EXPECT_EQ(store_->stream_stats(kStream)->dropped[static_cast<int>(DropCause::kFullNewest)],
            dropped);
  EXPECT_EQ(read_all(*store_, std::string(kStream)).samples.size(), kept);
}

TEST_F(StoreTest, MinFreeDiskIsKeptAndAppendsResumeWhenSpaceReturns) {
  options_.min_free_bytes = 1 << 20;
  options_.full_policy = FullPolicy::kDropNewest;
  open();
  env_.set_capacity(env_.bytes_written() + (1 << 20) + 20 * 1024);
  uint64_t next = 0;
  uint64_t dropped = 0;
  for (int i = 0; i < 200 && dropped == 0; ++i) {
    auto r = store_->append(kStream, batch_for_seq(next, 100));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    if (r->outcome == AppendResult::Outcome::kDropped) {
      dropped += 100;
    } else {
      next += 100;
    }
  }
  ASSERT_EQ(dropped, 100u) << "the free-space floor was never reached";
  auto space = env_.disk_space(options_.dir);
  EXPECT_GE(space->available, options_.min_free_bytes) << "the store ate into the floor";
  env_.set_capacity(1ull << 40);  // space returns
  auto r = store_->append(kStream, batch_for_seq(next, 100));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, AppendResult::Outcome::kAppended);
  EXPECT_EQ(store_->stream_stats(kStream)->dropped[static_cast<int>(DropCause::kFullNewest)], 100u);
}

TEST_F(StoreTest, FullDropOldestDeletesOldestSegmentsAndCountsUndelivered) {
  options_.max_bytes = 12 * 1024;
  options_.full_policy = FullPolicy::kDropOldest;
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "sink", StartAt::kEarliest).ok());
  for (int i = 0; i < 100; ++i) {
    auto r = append(100);
    ASSERT_EQ(r.outcome, AppendResult::Outcome::kAppended);
  }
  EXPECT_LE(store_->stats().bytes, options_.max_bytes);
  auto stats = store_->stream_stats(kStream);
  const uint64_t lost = stats->dropped[static_cast<int>(DropCause::kFullOldest)];
  EXPECT_GT(lost, 0u);
  // The newest data is all there; what is gone is exactly what was counted.
  auto rb = read_all(*store_, std::string(kStream), store_->cursor(kStream, "sink")->next_seq);
  expect_consistent(rb);
  EXPECT_EQ(rb.samples.size() + lost, 10000u);
  EXPECT_EQ(rb.samples.back().first, 9999u);
  // The cursor moved past what was dropped.
  EXPECT_EQ(store_->cursor(kStream, "sink")->next_seq, lost);
  // The count survives a restart.
  reopen();
  EXPECT_EQ(store_->stream_stats(kStream)->dropped[static_cast<int>(DropCause::kFullOldest)], lost);
}

TEST_F(StoreTest, FullBlockWaitsForSinkToFreeSpaceThenAppends) {
  options_.max_bytes = 12 * 1024;
  options_.full_policy = FullPolicy::kBlock;
  options_.block_timeout = std::chrono::seconds(60);
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "sink", StartAt::kEarliest).ok());
  // The producer writes far more than the limit; nothing frees space until it has blocked.
  constexpr int kBatches = 60;
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < kBatches; ++i) {
      auto r = store_->append(kStream, batch_for_seq(static_cast<uint64_t>(i) * 100, 100));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      ASSERT_EQ(r->outcome, AppendResult::Outcome::kAppended);
    }
    done = true;
  });
  // The sink: each time the producer blocks, deliver everything readable.
  uint64_t handled = 0;
  while (!done) {
    const uint64_t blocked = store_->stats().appends_blocked;
    if (blocked == handled) {
      std::this_thread::yield();
      continue;
    }
    handled = blocked;
    const uint64_t readable = store_->stream_stats(kStream)->readable_end;
    ASSERT_TRUE(store_->commit_cursor(kStream, "sink", readable).ok());
  }
  producer.join();
  EXPECT_GE(store_->stats().appends_blocked, 1u);
  EXPECT_LE(store_->stats().bytes, options_.max_bytes);
  EXPECT_EQ(store_->stats().dropped[static_cast<int>(DropCause::kFullNewest)], 0u);
  auto rb = read_all(*store_, std::string(kStream), store_->cursor(kStream, "sink")->next_seq);
  expect_consistent(rb);
  EXPECT_EQ(rb.samples.back().first, kBatches * 100u - 1) << "every blocked append landed";
}

TEST_F(StoreTest, FullBlockGivesUpAfterTimeoutWithClearError) {
  options_.max_bytes = 20 * 1024;
  options_.full_policy = FullPolicy::kBlock;
  options_.block_timeout = std::chrono::milliseconds(50);
  open();
  Status last;
  for (int i = 0; i < 100 && last.ok(); ++i) {
    auto r = store_->append(kStream, batch_for_seq(static_cast<uint64_t>(i) * 100, 100));
    last = r.status();
  }
  EXPECT_EQ(last.code(), Code::kResourceExhausted);
  EXPECT_NE(last.message().find("store full"), std::string::npos) << last.message();
  EXPECT_EQ(store_->stats().appends_refused_full, 1u);
}

TEST_F(StoreTest, DiskFullWriteErrorLeavesNoPartialRecord) {
  open();
  for (int i = 0; i < 5; ++i) append(100);
  env_.fail_writes(1, /*write_half=*/true);
  auto r = store_->append(kStream, batch_for_seq(500, 100));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(store_->stats().write_errors, 1u);
  // The next append and a reopen see only whole records.
  EXPECT_EQ(append(100).first_seq, 500u);
  reopen();
  EXPECT_EQ(report_.truncated_bytes, 0u);
  auto rb = read_all(*store_, std::string(kStream));
  expect_consistent(rb);
  EXPECT_EQ(rb.samples.size(), 600u);
}

TEST_F(StoreTest, RealDiskFullIsNoSpaceAndStoreRecovers) {
  open();
  env_.set_capacity(env_.bytes_written() + 30 * 1024);
  Status last;
  uint64_t next = 0;
  for (int i = 0; i < 200 && last.ok(); ++i) {
    auto r = store_->append(kStream, batch_for_seq(next, 100));
    last = r.status();
    if (r.ok()) next += 100;
  }
  EXPECT_EQ(last.code(), Code::kNoSpace) << last.to_string();
  env_.set_capacity(1ull << 40);  // space returns
  auto r = store_->append(kStream, batch_for_seq(next, 100));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto rb = read_all(*store_, std::string(kStream));
  expect_consistent(rb);
  EXPECT_EQ(rb.samples.size(), next + 100);
}

TEST_F(StoreTest, PurgeMovesSessionDataToPurgedBackupAndCountsIt) {
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  ASSERT_TRUE(store_->add_cursor(kStream, "b", StartAt::kEarliest).ok());
  for (int i = 0; i < 30; ++i) append(100);
  auto report = store_->purge(kStream, "a");
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->from_seq, 0u);
  EXPECT_EQ(report->to_seq, 3000u);
  EXPECT_EQ(store_->cursor(kStream, "a")->next_seq, 3000u);
  EXPECT_EQ(store_->cursor(kStream, "b")->next_seq, 0u) << "other sessions are untouched";
  EXPECT_EQ(read_all(*store_, std::string(kStream)).samples.size(), 3000u);
  EXPECT_EQ(store_->stream_stats(kStream)->dropped[static_cast<int>(DropCause::kPurged)], 3000u);
  // The purged data is kept in the backup folder, readable segment files and a manifest.
  auto files = env_.list_dir(report->backup_dir);
  ASSERT_TRUE(files.ok());
  EXPECT_NE(std::find(files->begin(), files->end(), "MANIFEST"), files->end());
  EXPECT_GT(files->size(), 2u);
}

TEST_F(StoreTest, BackupKeepsDeliveredSegments) {
  options_.backup_retention = std::chrono::hours(24);
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  for (int i = 0; i < 30; ++i) append(100);
  const uint64_t segments = store_->stream_stats(kStream)->segments;
  ASSERT_GT(segments, 1u);
  ASSERT_TRUE(store_->commit_cursor(kStream, "a", 3000).ok());
  EXPECT_EQ(store_->stream_stats(kStream)->segments, 1u);
  auto backed = env_.list_dir(options_.dir + "/backup/line1");
  ASSERT_TRUE(backed.ok());
  EXPECT_EQ(backed->size(), segments - 1) << "every delivered segment is in the backup";
}

TEST_F(StoreTest, BackupAndPurgedCopiesAreRemovedAfterTheirRetention) {
  options_.backup_retention = std::chrono::hours(24);
  options_.purged_retention = std::chrono::hours(48);
  open();
  ASSERT_TRUE(store_->add_cursor(kStream, "a", StartAt::kEarliest).ok());
  ASSERT_TRUE(store_->add_cursor(kStream, "b", StartAt::kEarliest).ok());
  for (int i = 0; i < 30; ++i) append(100);
  ASSERT_TRUE(store_->purge(kStream, "b").ok());
  ASSERT_TRUE(store_->commit_cursor(kStream, "a", 3000).ok());
  auto count = [&](const std::string& d) {
    auto names = env_.list_dir(d);
    return names.ok() ? names->size() : 0u;
  };
  ASSERT_GT(count(options_.dir + "/backup/line1"), 0u);
  ASSERT_EQ(count(options_.dir + "/purged/line1"), 1u);
  clock_.advance(int64_t{25} * 3600 * 1'000'000'000);  // past the backup's retention only
  reopen();
  EXPECT_EQ(count(options_.dir + "/backup/line1"), 0u);
  EXPECT_EQ(count(options_.dir + "/purged/line1"), 1u);
  clock_.advance(int64_t{24} * 3600 * 1'000'000'000);
  reopen();
  EXPECT_EQ(count(options_.dir + "/purged/line1"), 0u);
}

TEST_F(StoreTest, QueryReturnsSeriesInTimeRange) {
  open();
  for (int i = 0; i < 20; ++i) append(100);
  const Timestamp t0 = testing::sample_for_seq(500).ts;
  const Timestamp t1 = testing::sample_for_seq(1500).ts;
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(store_
                  ->query(kStream, {"test.s2"}, t0, t1,
                          [&](const Sample& s, uint64_t seq) {
                            EXPECT_EQ(s.series, "test.s2");
                            EXPECT_EQ(seq_of(s), seq);
                            seqs.push_back(seq);
                            return true;
                          })
                  .ok());
  // test.s2 holds sequences 128..191 of every 320 (the 64-run starting at 128).
  size_t want = 0;
  for (uint64_t q = 500; q < 1500; ++q) want += ((q / 64) % 5 == 2) ? 1 : 0;
  EXPECT_EQ(seqs.size(), want);
}

TEST_F(StoreTest, GroupCommitSharesSyncsAcrossConcurrentAppenders) {
  open();
  for (int t = 0; t < 4; ++t) ASSERT_TRUE(store_->ensure_stream(fmt::format("s{}", t)).ok());
  env_.reset_counters();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto r =
            store_->append(fmt::format("s{}", t), batch_for_seq(static_cast<uint64_t>(i) * 10, 10));
        ASSERT_TRUE(r.ok());
        ASSERT_EQ(r->durability, Durability::kSynced);
      }
    });
  }
  for (auto& th : threads) th.join();
  // Every append waited for a sync, and no append was acknowledged without one: the syncs are
  // at most one per append plus the catalog's.
  const auto syncs = store_->stats().syncs;
  EXPECT_GE(syncs, 1u);
  EXPECT_LE(syncs, 800u);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(read_all(*store_, fmt::format("s{}", t)).samples.size(), 2000u);
  }
}

TEST_F(StoreTest, StreamsAndCursorsPersistAcrossRestart) {
  open();
  ASSERT_TRUE(store_->ensure_stream("edge1/line 2", R"({"source":"mqtt"})").ok());
  ASSERT_TRUE(store_->add_cursor("edge1/line 2", "csv", StartAt::kEarliest).ok());
  ASSERT_TRUE(store_->append("edge1/line 2", batch_for_seq(0, 50)).ok());
  ASSERT_TRUE(store_->commit_cursor("edge1/line 2", "csv", 20).ok());
  reopen();
  EXPECT_TRUE(store_->has_stream("edge1/line 2"));
  EXPECT_EQ(*store_->stream_meta("edge1/line 2"), R"({"source":"mqtt"})");
  EXPECT_EQ(store_->cursor("edge1/line 2", "csv")->next_seq, 20u);
  EXPECT_EQ(read_all(*store_, "edge1/line 2", 20).samples.size(), 30u);
}

TEST_F(StoreTest, SecondOpenOfSameDirectoryIsRefused) {
  open();
  auto second = Store::open(env_, options_);
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
}

TEST(StoreFormatTest, StreamIdEscapingIsReversibleAndSafe) {
  for (std::string id : {"a", "edge1/line 2", "..", ".hidden", "ü-ß", "a%b", "x.y_z-1"}) {
    const std::string esc = format::escape_stream_id(id);
    EXPECT_EQ(esc.find('/'), std::string::npos);
    EXPECT_NE(esc, "..");
    EXPECT_NE(esc.front(), '.');
    EXPECT_EQ(*format::unescape_stream_id(esc), id);
  }
  EXPECT_FALSE(format::unescape_stream_id("%4").ok());
  EXPECT_FALSE(format::unescape_stream_id("%zz").ok());
}

TEST(StoreFormatTest, RecordHeaderRejectsOutOfBoundLengthsBeforeTrustingThem) {
  format::RecordHeader h;
  h.stored_len = 10;
  h.raw_len = 10;
  h.sample_count = 1;
  char buf[format::kRecordHeaderSize];
  format::encode_record_header(h, "0123456789", buf);
  format::RecordHeader out;
  ASSERT_TRUE(format::decode_record_header({buf, sizeof buf}, &out).ok());
  EXPECT_TRUE(format::verify_record_crc({buf, sizeof buf}, "0123456789"));
  EXPECT_FALSE(format::verify_record_crc({buf, sizeof buf}, "0123456788"));
  const uint32_t huge = format::kMaxStoredPayload + 1;
  std::memcpy(buf + 12, &huge, 4);
  EXPECT_EQ(format::decode_record_header({buf, sizeof buf}, &out).code(), Code::kCorruption);
}

}  // namespace
}  // namespace sluice::store
