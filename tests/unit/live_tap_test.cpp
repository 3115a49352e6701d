// The live tap: a subscription receives exactly the samples its filter takes, in publish order;
// a full queue drops the oldest and counts them; a destroyed subscription is unsubscribed (also
// when it outlives the tap); and concurrent publishers, a drainer and subscribers that come and
// go lose nothing and keep each publisher's order.
#include "runtime/live_tap.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace sluice::runtime {
namespace {

Batch batch_of(std::initializer_list<std::pair<std::string, Timestamp>> samples) {
  Batch b;
  for (const auto& [series, ts] : samples) {
    b.samples.push_back(Sample{series, ts, static_cast<double>(ts)});
  }
  return b;
}

LiveFilter series_filter(std::initializer_list<std::string> names) {
  LiveFilter f;
  f.series.insert(names.begin(), names.end());
  return f;
}

std::vector<LiveSample> drain_all(LiveSubscription& sub) {
  std::vector<LiveSample> out;
  sub.drain(out, SIZE_MAX);
  return out;
}

// "stream/series@ts" for each sample: the expectations read as the data.
std::vector<std::string> describe(const std::vector<LiveSample>& samples) {
  std::vector<std::string> out;
  for (const LiveSample& s : samples) {
    out.push_back(s.stream + "/" + s.sample.series + "@" + std::to_string(s.sample.ts));
  }
  return out;
}

TEST(LiveTapTest, SubscriptionReceivesOnlyTheChosenSeriesOfEveryStreamInPublishOrder) {
  LiveTap tap;
  auto sub = tap.subscribe(series_filter({"a", "c"}));
  tap.publish("s1", batch_of({{"a", 1}, {"b", 2}, {"c", 3}, {"a", 4}}));
  tap.publish("s2", batch_of({{"b", 5}, {"a", 6}}));
  tap.publish("s1", batch_of({{"ab", 7}, {"A", 8}}));  // exact names only
  const std::vector<LiveSample> got = drain_all(*sub);
  EXPECT_EQ(describe(got), (std::vector<std::string>{"s1/a@1", "s1/c@3", "s1/a@4", "s2/a@6"}));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(std::get<double>(got[1].sample.value), 3.0);
  EXPECT_EQ(sub->dropped(), 0u);
}

TEST(LiveTapTest, EverySeriesFilterTakesEverySample) {
  LiveTap tap;
  auto all = tap.subscribe(LiveFilter::every_series());
  auto none = tap.subscribe(LiveFilter{});  // no series named: nothing, not everything
  tap.publish("s", batch_of({{"x", 1}, {"y", 2}}));
  EXPECT_EQ(describe(drain_all(*all)), (std::vector<std::string>{"s/x@1", "s/y@2"}));
  EXPECT_TRUE(drain_all(*none).empty());
}

TEST(LiveTapTest, SamplesPublishedBeforeTheSubscriptionAreNotReceived) {
  LiveTap tap;
  tap.publish("s", batch_of({{"a", 1}}));
  auto sub = tap.subscribe(series_filter({"a"}));
  tap.publish("s", batch_of({{"a", 2}}));
  EXPECT_EQ(describe(drain_all(*sub)), (std::vector<std::string>{"s/a@2"}));
}

TEST(LiveTapTest, DrainTakesAtMostMaxOldestFirstAndKeepsTheRest) {
  LiveTap tap;
  auto sub = tap.subscribe(series_filter({"a"}));
  tap.publish("s", batch_of({{"a", 1}, {"a", 2}, {"a", 3}, {"a", 4}, {"a", 5}}));
  std::vector<LiveSample> out;
  EXPECT_EQ(sub->drain(out, 2), 2u);
  EXPECT_EQ(describe(out), (std::vector<std::string>{"s/a@1", "s/a@2"}));
  EXPECT_EQ(sub->queued(), 3u);
  EXPECT_EQ(sub->drain(out, 10), 3u);  // appended to what `out` holds
  EXPECT_EQ(describe(out), (std::vector<std::string>{"s/a@1", "s/a@2", "s/a@3", "s/a@4", "s/a@5"}));
  EXPECT_EQ(sub->drain(out, 10), 0u);  // empty: returns at once
  EXPECT_EQ(sub->queued(), 0u);
}

TEST(LiveTapTest, FullQueueDropsTheOldestSamplesAndCountsThem) {
  LiveTap tap;
  auto sub = tap.subscribe(series_filter({"a"}), 3);
  EXPECT_EQ(sub->capacity(), 3u);
  tap.publish("s", batch_of({{"a", 1}, {"a", 2}}));
  tap.publish("s", batch_of({{"a", 3}, {"b", 99}, {"a", 4}}));  // b is not taken, not dropped
  EXPECT_EQ(sub->queued(), 3u);
  EXPECT_EQ(sub->dropped(), 1u);
  EXPECT_EQ(describe(drain_all(*sub)), (std::vector<std::string>{"s/a@2", "s/a@3", "s/a@4"}));

  // A batch larger than the queue: only its newest samples stay.
  tap.publish("s", batch_of({{"a", 5}}));
  tap.publish("s", batch_of({{"a", 6}, {"a", 7}, {"a", 8}, {"a", 9}, {"a", 10}}));
  EXPECT_EQ(sub->dropped(), 1u + 3u);  // a@5, a@6 and a@7
  EXPECT_EQ(describe(drain_all(*sub)), (std::vector<std::string>{"s/a@8", "s/a@9", "s/a@10"}));
}

TEST(LiveTapTest, SlowSubscriberDoesNotAffectAnotherSubscription) {
  LiveTap tap;
  auto slow = tap.subscribe(series_filter({"a"}), 2);
  auto fast = tap.subscribe(series_filter({"a"}), 100);
  for (Timestamp ts = 1; ts <= 10; ++ts) tap.publish("s", batch_of({{"a", ts}}));
  EXPECT_EQ(slow->dropped(), 8u);
  EXPECT_EQ(fast->dropped(), 0u);
  EXPECT_EQ(drain_all(*fast).size(), 10u);
}

TEST(LiveTapTest, DestroyedSubscriptionIsUnsubscribed) {
  LiveTap tap;
  EXPECT_EQ(tap.subscribers(), 0u);
  auto first = tap.subscribe(series_filter({"a"}));
  auto second = tap.subscribe(LiveFilter::every_series());
  EXPECT_EQ(tap.subscribers(), 2u);
  std::weak_ptr<LiveSubscription> watch = first;
  first.reset();
  EXPECT_TRUE(watch.expired()) << "the tap must not keep a subscription alive";
  EXPECT_EQ(tap.subscribers(), 1u);
  tap.publish("s", batch_of({{"a", 1}}));  // reaches the one that is left only
  EXPECT_EQ(drain_all(*second).size(), 1u);
  second.reset();
  EXPECT_EQ(tap.subscribers(), 0u);
  tap.publish("s", batch_of({{"a", 2}}));  // nobody: nothing to do
}

TEST(LiveTapTest, SubscriptionMayOutliveTheTap) {
  std::shared_ptr<LiveSubscription> sub;
  {
    LiveTap tap;
    sub = tap.subscribe(series_filter({"a"}));
    tap.publish("s", batch_of({{"a", 1}}));
  }
  EXPECT_EQ(describe(drain_all(*sub)), (std::vector<std::string>{"s/a@1"}));
  sub.reset();  // unsubscribes from the registry it still holds
}

TEST(LiveTapTest, ConcurrentPublishersAndDrainerLoseNothingAndKeepEachPublishersOrder) {
  constexpr int kPublishers = 4;
  constexpr Timestamp kBatches = 2'000;
  constexpr Timestamp kPerBatch = 5;
  LiveTap tap;
  // Large enough for everything: this test is about races, not overflow.
  auto sub = tap.subscribe(series_filter({"x"}), kPublishers * kBatches * kPerBatch);
  std::atomic<int> running{kPublishers};
  std::atomic<bool> churn_stop{false};
  // Subscribers that come and go meanwhile, as WebSocket clients do.
  std::thread churn([&] {
    while (!churn_stop.load()) {
      auto other = tap.subscribe(LiveFilter::every_series(), 16);
      std::vector<LiveSample> ignored;
      other->drain(ignored, 8);
    }
  });
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      const std::string stream = "p" + std::to_string(p);
      for (Timestamp b = 0; b < kBatches; ++b) {
        Batch batch;
        for (Timestamp i = 0; i < kPerBatch; ++i) {
          batch.samples.push_back(Sample{"x", b * kPerBatch + i, 1.0});
          batch.samples.push_back(Sample{"other", b * kPerBatch + i, 2.0});
        }
        tap.publish(stream, batch);
      }
      running.fetch_sub(1);
    });
  }
  std::map<std::string, Timestamp> next;  // per stream, the ts expected next
  size_t received = 0;
  size_t out_of_order = 0;
  std::vector<LiveSample> out;
  for (;;) {
    const bool done = running.load() == 0;  // read before draining: nothing comes after
    out.clear();
    sub->drain(out, 1'000);
    for (const LiveSample& s : out) {
      // Counted, not asserted here: the threads must be joined before the test returns.
      if (s.sample.series != "x" || s.sample.ts != next[s.stream]) ++out_of_order;
      next[s.stream] = s.sample.ts + 1;
    }
    received += out.size();
    if (done && out.empty()) break;
  }
  for (std::thread& t : publishers) t.join();
  churn_stop = true;
  churn.join();
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(received, static_cast<size_t>(kPublishers * kBatches * kPerBatch));
  EXPECT_EQ(sub->dropped(), 0u);
  for (int p = 0; p < kPublishers; ++p) {
    EXPECT_EQ(next["p" + std::to_string(p)], kBatches * kPerBatch);
  }
  sub.reset();
  EXPECT_EQ(tap.subscribers(), 0u);
}

TEST(LiveTapTest, ConcurrentOverflowCountsEverySampleEitherReceivedOrDropped) {
  constexpr int kPublishers = 2;
  constexpr Timestamp kSamples = 20'000;
  LiveTap tap;
  auto sub = tap.subscribe(LiveFilter::every_series(), 64);
  std::atomic<int> running{kPublishers};
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      for (Timestamp ts = 0; ts < kSamples; ++ts) {
        tap.publish("p" + std::to_string(p), batch_of({{"x", ts}}));
      }
      running.fetch_sub(1);
    });
  }
  std::map<std::string, Timestamp> last;  // dropping keeps the order of what is left
  uint64_t received = 0;
  size_t out_of_order = 0;
  std::vector<LiveSample> out;
  for (;;) {
    const bool done = running.load() == 0;
    out.clear();
    sub->drain(out, 10);  // slower than the publishers
    for (const LiveSample& s : out) {
      auto [it, fresh] = last.try_emplace(s.stream, s.sample.ts);
      if (!fresh) {
        if (s.sample.ts <= it->second) ++out_of_order;
        it->second = s.sample.ts;
      }
    }
    received += out.size();
    if (done && out.empty()) break;
  }
  for (std::thread& t : publishers) t.join();
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(received + sub->dropped(), static_cast<uint64_t>(kPublishers * kSamples));
}

}  // namespace
}  // namespace sluice::runtime
