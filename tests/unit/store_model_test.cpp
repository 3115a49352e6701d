// Model-based test of the store: random sequences of append, sync, read, cursor commit, roll
// (by small segments), crash (clean or torn, between or inside operations), reopen and close,
// checked after every step against a small in-memory model of what must hold:
//  - every acknowledged (synced) sample survives every crash, exactly once, in order;
//  - what a reader sees is a prefix-closed, gap-free run of exactly the samples appended;
//  - first_seq <= cursor <= readable_end <= next_seq, and a cursor never moves backwards
//    over a crash once committed;
//  - no segment a cursor has not passed is ever deleted.
// SLUICE_MODEL_SEQUENCES sets how many sequences run (default 2000).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "fixtures/store_testing.h"
#include "io/mem_env.h"
#include "store/store.h"

namespace sluice::store {
namespace {

using testing::batch_for_seq;
using testing::seq_of;

constexpr const char* kStream = "model";

struct Model {
  uint64_t acked_end = 0;    // every sample below is acknowledged durable
  uint64_t written_end = 0;  // appended (maybe not durable)
  uint64_t cursor = 0;       // committed, durable
};

class Runner {
 public:
  Runner(uint64_t seed) : rng_(seed), seed_(seed) {
    options_.dir = "/store";
    options_.segment_bytes = 4096;
    options_.min_free_bytes = 0;
    options_.clock = &clock_;
    options_.sync_policy = (seed % 2 == 0) ? SyncPolicy::kEveryBatch : SyncPolicy::kInterval;
    options_.sync_interval = std::chrono::hours(1);  // syncs only when the test says so
    options_.encoding.compression = static_cast<Compression>(seed % 3);
  }

  void run(int steps) {
    open();
    for (int i = 0; i < steps && !::testing::Test::HasFailure(); ++i) {
      step_ = i;
      const int op = pick(0, 99);
      if (op < 40) {
        append();
      } else if (op < 52) {
        sync();
      } else if (op < 64) {
        commit_cursor();
      } else if (op < 74) {
        check_read(pick(0, 1) == 0 ? model_.cursor : pick_u(0, model_.written_end + 5));
      } else if (op < 84) {
        crash(pick(0, 1) == 1);
      } else if (op < 90) {
        crash_inside_operation();
      } else if (op < 95) {
        clean_reopen();
      } else {
        check_invariants();
      }
      if (!::testing::Test::HasFailure()) check_invariants();
    }
    store_.reset();
  }

 private:
  std::string where() const { return fmt::format("seed {} step {}", seed_, step_); }
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  uint64_t pick_u(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

  void open() {
    auto st = Store::open(env_, options_);
    ASSERT_TRUE(st.ok()) << where() << ": " << st.status().to_string();
    store_ = std::move(st).value();
    ASSERT_TRUE(store_->ensure_stream(kStream).ok()) << where();
    ASSERT_TRUE(store_->add_cursor(kStream, "sink", StartAt::kEarliest).ok()) << where();
    auto cur = store_->cursor(kStream, "sink");
    ASSERT_TRUE(cur.ok());
    // A cursor survives crashes once committed: it never goes back.
    ASSERT_GE(cur->next_seq, model_.cursor) << where() << ": cursor went backwards";
    model_.cursor = cur->next_seq;
  }

  // Under kInterval (an hour here) only an explicit sync makes data durable, so an append
  // must not wait for it.
  bool may_wait() { return options_.sync_policy == SyncPolicy::kEveryBatch && pick(0, 2) != 0; }

  void append() {
    const size_t n = static_cast<size_t>(pick(1, 200));
    auto r = store_->append(kStream, batch_for_seq(model_.written_end, n),
                            AppendOptions{.wait_durable = may_wait()});
    ASSERT_TRUE(r.ok()) << where() << ": " << r.status().to_string();
    ASSERT_EQ(r->first_seq, model_.written_end) << where();
    model_.written_end += n;
    if (r->durability == Durability::kSynced) model_.acked_end = model_.written_end;
  }

  void sync() {
    ASSERT_TRUE(store_->sync().ok()) << where();
    model_.acked_end = model_.written_end;
  }

  void commit_cursor() {
    const uint64_t readable = store_->stream_stats(kStream)->readable_end;
    const uint64_t to = pick_u(model_.cursor, readable);
    ASSERT_TRUE(store_->commit_cursor(kStream, "sink", to).ok()) << where();
    model_.cursor = std::max(model_.cursor, to);
  }

  void after_crash() {
    store_.reset();
    env_.restart();
    open();
    if (::testing::Test::HasFailure()) return;
    const uint64_t next = store_->stream_stats(kStream)->next_seq;
    // Acknowledged data survives; unacknowledged data may survive as a prefix of what was
    // written; nothing else appears.
    ASSERT_GE(next, model_.acked_end) << where() << ": acknowledged samples lost";
    ASSERT_LE(next, model_.written_end) << where() << ": samples appeared from nowhere";
    model_.written_end = next;
    model_.acked_end = next;  // recovery syncs what it keeps
    check_read(model_.cursor);
  }

  void crash(bool torn) {
    env_.crash(pick_u(1, 1u << 30), torn);
    after_crash();
  }

  void crash_inside_operation() {
    env_.crash_after(pick_u(0, 6), pick_u(1, 1u << 30), pick(0, 1) == 1);
    if (pick(0, 1) == 0) {
      const size_t n = static_cast<size_t>(pick(1, 200));
      auto r = store_->append(kStream, batch_for_seq(model_.written_end, n),
                              AppendOptions{.wait_durable = may_wait()});
      if (r.ok()) {
        model_.written_end += n;
        if (r->durability == Durability::kSynced) model_.acked_end = model_.written_end;
      } else {
        model_.written_end += n;  // may or may not have reached the disk
      }
    } else {
      const uint64_t readable = store_->stream_stats(kStream)->readable_end;
      const uint64_t to = pick_u(model_.cursor, readable);
      Status st = store_->commit_cursor(kStream, "sink", to);
      if (st.ok() && !env_.crashed()) model_.cursor = std::max(model_.cursor, to);
      // A crashed commit may have become durable or not; open() takes whichever it finds.
    }
    if (!env_.crashed()) env_.crash(pick_u(1, 1u << 30), false);
    after_crash();
  }

  void clean_reopen() {
    ASSERT_TRUE(store_->close().ok()) << where();
    store_.reset();
    open();
    ASSERT_EQ(store_->stream_stats(kStream)->next_seq, model_.written_end)
        << where() << ": a clean close lost written samples";
    model_.acked_end = model_.written_end;
  }

  void check_read(uint64_t from) {
    auto stats = store_->stream_stats(kStream);
    ASSERT_TRUE(stats.ok());
    const uint64_t readable = stats->readable_end;
    auto rb = testing::read_all(*store_, kStream, from, static_cast<size_t>(pick(1, 300)));
    const uint64_t start = std::max(from, stats->first_seq);
    const uint64_t want = readable > start ? readable - start : 0;
    if (rb.samples.size() != want && std::getenv("SLUICE_MODEL_DEBUG")) {
      uint64_t prev = start;
      for (const auto& [seq, s] : rb.samples) {
        if (seq != prev) fprintf(stderr, "gap %lu..%lu\n", prev, seq);
        prev = seq + 1;
      }
      fprintf(stderr, "end %lu\n", prev);
    }
    // A non-waiting append under every_batch starts a sync round of its own, so the readable
    // end may move on while we read: the reader sees at least what was readable before it
    // started and at most what is readable after it finished.
    const uint64_t readable_after = store_->stream_stats(kStream)->readable_end;
    const uint64_t want_max = readable_after > start ? readable_after - start : 0;
    ASSERT_GE(rb.samples.size(), want) << where() << ": read from " << from << " (first "
                                       << stats->first_seq << ", readable " << readable << ")";
    ASSERT_LE(rb.samples.size(), want_max) << where() << ": read from " << from << " (readable "
                                           << readable_after << " after the read)";
    uint64_t expect = start;
    for (const auto& [seq, s] : rb.samples) {
      ASSERT_EQ(seq, expect) << where();
      ASSERT_EQ(seq_of(s), seq) << where() << ": wrong sample at " << seq;
      const Sample want = testing::sample_for_seq(seq);
      ASSERT_TRUE(identical(s, want))
          << where() << ": at " << seq << " got " << s.series << " " << s.ts << " q" << s.quality
          << ", want " << want.series << " " << want.ts;
      ++expect;
    }
  }

  void check_invariants() {
    auto s = store_->stream_stats(kStream);
    ASSERT_TRUE(s.ok());
    ASSERT_LE(s->first_seq, model_.cursor) << where() << ": data deleted before the cursor passed";
    ASSERT_LE(model_.cursor, s->readable_end) << where();
    ASSERT_LE(s->readable_end, s->next_seq) << where();
    ASSERT_EQ(s->next_seq, model_.written_end) << where();
    ASSERT_GE(s->readable_end, model_.acked_end) << where();
  }

  std::mt19937_64 rng_;
  uint64_t seed_;
  int step_ = 0;
  MemEnv env_;
  ManualClock clock_;
  StoreOptions options_;
  Model model_;
  std::unique_ptr<Store> store_;
};

TEST(StoreModelTest, RandomOperationSequencesMatchTheModel) {
  int sequences = 2000;
  if (const char* env = std::getenv("SLUICE_MODEL_SEQUENCES")) sequences = std::atoi(env);
  uint64_t base = 1;
  if (const char* env = std::getenv("SLUICE_MODEL_SEED")) base = std::strtoull(env, nullptr, 10);
  for (int i = 0; i < sequences && !::testing::Test::HasFailure(); ++i) {
    Runner runner(base + static_cast<uint64_t>(i));
    runner.run(60);
  }
}

}  // namespace
}  // namespace sluice::store
