// The live tap (see live_tap.h).
#include "runtime/live_tap.h"

#include <algorithm>
#include <cassert>

namespace sluice::runtime {

// The subscriptions, shared by the tap and every subscription (which unsubscribes through it,
// also after the tap is gone). Publishers take a copy of `list` and deliver without the lock;
// a change replaces the list (copy on write), so a copy never changes under a publisher.
struct LiveSubscription::Registry {
  // A subscription and when it takes samples (kept here so that counting needs no lock() of a
  // subscription: a lock() could make this list the last owner of one being destroyed, whose
  // destructor takes `mu`).
  struct Entry {
    std::weak_ptr<LiveSubscription> sub;
    bool at_ingest = false;
  };
  using List = std::vector<Entry>;

  std::mutex mu;
  std::shared_ptr<const List> list = std::make_shared<const List>();  // guarded by mu
  std::atomic<size_t> stored_count{0};  // subscriptions in `list` not at_ingest (mu held)
  std::atomic<size_t> ingest_count{0};  // at_ingest ones

  std::shared_ptr<const List> snapshot() {
    std::lock_guard lock(mu);
    return list;
  }
  // Replaces the list by `next` (mu held).
  void replace(List next) {
    size_t stored = 0;
    size_t ingest = 0;
    for (const Entry& e : next) ++(e.at_ingest ? ingest : stored);
    stored_count.store(stored, std::memory_order_relaxed);
    ingest_count.store(ingest, std::memory_order_relaxed);
    list = std::make_shared<const List>(std::move(next));
  }
};

LiveSubscription::~LiveSubscription() {
  // Every weak reference to this subscription has expired by now: drop them (and any other
  // expired one) from the list.
  std::lock_guard lock(registry_->mu);
  Registry::List next;
  next.reserve(registry_->list->size());
  for (const Registry::Entry& e : *registry_->list) {
    if (!e.sub.expired()) next.push_back(e);
  }
  registry_->replace(std::move(next));
}

size_t LiveSubscription::drain(std::vector<LiveSample>& out, size_t max) {
  std::lock_guard lock(mu_);
  const size_t n = std::min(max, queue_.size());
  out.reserve(out.size() + n);
  std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n),
            std::back_inserter(out));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

bool LiveSubscription::wait_for(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mu_);
  waiting_ = true;
  cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || interrupted_; });
  waiting_ = false;
  interrupted_ = false;
  return !queue_.empty();
}

void LiveSubscription::interrupt() {
  {
    std::lock_guard lock(mu_);
    interrupted_ = true;
  }
  cv_.notify_all();
}

size_t LiveSubscription::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void LiveSubscription::offer(std::string_view stream, const Batch& batch) {
  // Copy outside the lock what the filter takes, so that drain() waits for a move only.
  std::vector<const Sample*> taken;
  for (const Sample& s : batch.samples) {
    if (filter_.matches(s.series)) taken.push_back(&s);
  }
  if (taken.empty()) return;
  // Of a batch larger than the queue, only its newest samples can stay.
  uint64_t dropped = 0;
  if (taken.size() > capacity_) {
    dropped = taken.size() - capacity_;
    taken.erase(taken.begin(), taken.begin() + static_cast<std::ptrdiff_t>(dropped));
  }
  bool wake = false;
  std::vector<LiveSample> copies;
  copies.reserve(taken.size());
  for (const Sample* s : taken) copies.push_back(LiveSample{std::string(stream), *s});
  {
    std::lock_guard lock(mu_);
    const size_t room = capacity_ - queue_.size();
    if (copies.size() > room) {
      const size_t evict = copies.size() - room;
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(evict));
      dropped += evict;
    }
    std::move(copies.begin(), copies.end(), std::back_inserter(queue_));
    assert(queue_.size() <= capacity_ && "the live queue exceeds its capacity");
    wake = waiting_;
  }
  if (wake) cv_.notify_one();
  if (dropped > 0) dropped_.fetch_add(dropped, std::memory_order_relaxed);
}

LiveTap::LiveTap()
    : registry_(std::make_shared<LiveSubscription::Registry>()),
      stored_subscribers_(&registry_->stored_count),
      ingest_subscribers_(&registry_->ingest_count) {}

LiveTap::~LiveTap() = default;

std::shared_ptr<LiveSubscription> LiveTap::subscribe(LiveFilter filter, size_t capacity) {
  std::shared_ptr<LiveSubscription> sub(
      new LiveSubscription(registry_, std::move(filter), std::max<size_t>(capacity, 1)));
  std::lock_guard lock(registry_->mu);
  LiveSubscription::Registry::List next = *registry_->list;
  next.push_back({sub, sub->filter().at_ingest});
  registry_->replace(std::move(next));
  return sub;
}

void LiveTap::publish_to_subscribers(std::string_view stream, const Batch& batch,
                                     bool at_ingest) {
  const std::shared_ptr<const LiveSubscription::Registry::List> list = registry_->snapshot();
  for (const LiveSubscription::Registry::Entry& e : *list) {
    if (e.at_ingest != at_ingest) continue;
    if (std::shared_ptr<LiveSubscription> sub = e.sub.lock()) sub->offer(stream, batch);
  }
}

}  // namespace sluice::runtime
