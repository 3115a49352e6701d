// A latency histogram with fixed buckets, cheap enough for hot paths (one relaxed atomic add per
// observation and one for the sum), read as a snapshot for /metrics in the Prometheus histogram
// form (cumulative buckets, sum, count). The bounds cover 50 µs to 10 s, what fsyncs and HTTP
// requests take on anything from NVMe to an SD card.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sluice {

class LatencyHistogram {
 public:
  // Upper bounds in nanoseconds; a last, implicit bucket is +Inf.
  static constexpr std::array<int64_t, 14> kBoundsNs = {
      50'000,     100'000,     250'000,     500'000,       1'000'000,     2'500'000,     5'000'000,
      10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000, 1'000'000'000, 10'000'000'000};

  struct Snapshot {
    std::array<uint64_t, kBoundsNs.size() + 1> cumulative{};  // observations <= each bound; last +Inf
    uint64_t count = 0;
    int64_t sum_ns = 0;
  };

  void observe(int64_t ns) {
    size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }

  Snapshot snapshot() const {
    Snapshot s;
    uint64_t running = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      s.cumulative[i] = running;
    }
    s.count = running;
    s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBoundsNs.size() + 1> buckets_{};
  std::atomic<int64_t> sum_ns_{0};
};

}  // namespace sluice
