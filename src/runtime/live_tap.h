// The live tap: every batch a source ingests, handed to whoever watches the live stream as it
// arrives, beside the store and not through it. The runtime publishes each batch in the source's
// ingest path right after the append succeeded (next to the last-value cache); the WebSocket
// /api/v1/live subscribes to a few series, and the rules engine will subscribe to all of them.
//
// Costs nothing that matters while nobody subscribes: publish() is then one relaxed atomic load.
// Never slows the ingest on a slow subscriber: each subscription has a bounded queue, and when it
// is full the oldest samples are dropped and counted (LiveSubscription::dropped()), so that a
// consumer can tell its reader what it missed. A subscription is unsubscribed when its last
// shared_ptr goes; the tap keeps only weak references to subscriptions.
//
// Order: a subscription receives the samples of each publish() call in the batch's order, and
// the calls in the order they took the subscription's lock; the calls of one source's ingest
// thread therefore arrive in ingest order.
//
// Thread safety: every method of LiveTap and LiveSubscription may be called from any thread.
// publish() takes no lock of the tap's for more than copying a pointer, and each subscription's
// mutex only to move samples in or out of its queue. A subscription may outlive the tap.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/sample.h"

namespace sluice::runtime {

// Which samples a subscription receives.
struct LiveFilter {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using SeriesSet = std::unordered_set<std::string, Hash, std::equal_to<>>;

  SeriesSet series;         // series names, matched exactly, in any stream
  bool all_series = false;  // every series (the rules engine); `series` is then ignored

  static LiveFilter every_series() { return LiveFilter{{}, true}; }
  bool matches(std::string_view name) const { return all_series || series.contains(name); }
};

// One sample of the live stream with the stream it was ingested into.
struct LiveSample {
  std::string stream;
  Sample sample;
};

class LiveTap;

// A consumer's view of the live stream: a bounded queue that publish() fills and drain() empties.
// Obtained from LiveTap::subscribe(); unsubscribed when destroyed.
class LiveSubscription {
 public:
  ~LiveSubscription();
  LiveSubscription(const LiveSubscription&) = delete;
  LiveSubscription& operator=(const LiveSubscription&) = delete;

  // Moves up to `max` queued samples, oldest first, to the end of `out`; returns how many. Does
  // not wait for samples to arrive.
  size_t drain(std::vector<LiveSample>& out, size_t max);
  // Samples dropped since the subscription began because the queue was full (the oldest go).
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Samples waiting in the queue now.
  size_t queued() const;
  size_t capacity() const { return capacity_; }
  const LiveFilter& filter() const { return filter_; }

 private:
  friend class LiveTap;
  struct Registry;
  LiveSubscription(std::shared_ptr<Registry> registry, LiveFilter filter, size_t capacity)
      : registry_(std::move(registry)), filter_(std::move(filter)), capacity_(capacity) {}
  // The matching samples of the batch, into the queue.
  void offer(std::string_view stream, const Batch& batch);

  const std::shared_ptr<Registry> registry_;  // keeps the registry while the tap may be gone
  const LiveFilter filter_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<LiveSample> queue_;  // guarded by mu_; at most capacity_
  std::atomic<uint64_t> dropped_{0};
};

class LiveTap {
 public:
  static constexpr size_t kDefaultCapacity = 10'000;

  LiveTap();
  ~LiveTap();
  LiveTap(const LiveTap&) = delete;
  LiveTap& operator=(const LiveTap&) = delete;

  // Hands the batch, just ingested into `stream`, to every subscription whose filter takes some
  // of its samples. Never blocks on a subscriber; a full queue drops its oldest samples.
  void publish(std::string_view stream, const Batch& batch) {
    if (subscribers_->load(std::memory_order_relaxed) == 0) return;
    publish_to_subscribers(stream, batch);
  }

  // A new subscription that receives, from now on, the samples `filter` takes, in a queue of at
  // most `capacity` samples (at least 1).
  std::shared_ptr<LiveSubscription> subscribe(LiveFilter filter,
                                              size_t capacity = kDefaultCapacity);
  // Subscriptions alive now.
  size_t subscribers() const { return subscribers_->load(std::memory_order_relaxed); }

 private:
  void publish_to_subscribers(std::string_view stream, const Batch& batch);

  const std::shared_ptr<LiveSubscription::Registry> registry_;
  const std::atomic<size_t>* const subscribers_;  // the registry's count, for publish()
};

}  // namespace sluice::runtime
