// The live tap: every batch a source ingests, handed to whoever watches the live stream as it
// arrives, beside the store and not through it. The runtime publishes each batch in the source's
// ingest path twice: before the append (publish_ingest, for at_ingest subscriptions: the rules
// engine, which must not wait for the store's sync) and right after the append succeeded
// (publish, next to the last-value cache: the WebSocket /api/v1/live, which shows what is kept).
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
#include <chrono>
#include <condition_variable>
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
  // When the samples come: false, once the store kept them (the WebSocket: what is in the
  // store); true, as they are ingested, after the source's filters and before the store appends
  // them (the rules: they act on what they see and do not wait for a sync). At ingest, a batch
  // the store then refuses (full under drop_newest, an I/O error) has been seen too.
  bool at_ingest = false;

  static LiveFilter every_series(bool at_ingest = false) {
    return LiveFilter{{}, true, at_ingest};
  }
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
  // Waits until a sample is queued, `timeout` passed or interrupt() was called; returns whether
  // samples are queued. A consumer thread's loop: wait_for, drain, act.
  bool wait_for(std::chrono::nanoseconds timeout);
  // Wakes a wait_for() now (and the next one, if none waits): the consumer is stopping.
  void interrupt();
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
  std::condition_variable cv_;    // queue_ became non-empty, or interrupted_
  bool waiting_ = false;          // a wait_for() sleeps; guarded by mu_
  bool interrupted_ = false;      // guarded by mu_
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

  // Hands the batch, just kept in `stream`, to every subscription (not at_ingest) whose filter
  // takes some of its samples. Never blocks on a subscriber; a full queue drops its oldest
  // samples.
  void publish(std::string_view stream, const Batch& batch) {
    if (stored_subscribers_->load(std::memory_order_relaxed) == 0) return;
    publish_to_subscribers(stream, batch, false);
  }
  // The same for the at_ingest subscriptions, with a batch about to be appended to `stream`.
  void publish_ingest(std::string_view stream, const Batch& batch) {
    if (ingest_subscribers_->load(std::memory_order_relaxed) == 0) return;
    publish_to_subscribers(stream, batch, true);
  }

  // A new subscription that receives, from now on, the samples `filter` takes, in a queue of at
  // most `capacity` samples (at least 1).
  std::shared_ptr<LiveSubscription> subscribe(LiveFilter filter,
                                              size_t capacity = kDefaultCapacity);
  // Subscriptions alive now.
  size_t subscribers() const {
    return stored_subscribers_->load(std::memory_order_relaxed) +
           ingest_subscribers_->load(std::memory_order_relaxed);
  }

 private:
  void publish_to_subscribers(std::string_view stream, const Batch& batch, bool at_ingest);

  const std::shared_ptr<LiveSubscription::Registry> registry_;
  // The registry's counts, for publish() and publish_ingest().
  const std::atomic<size_t>* const stored_subscribers_;
  const std::atomic<size_t>* const ingest_subscribers_;
};

}  // namespace sluice::runtime
