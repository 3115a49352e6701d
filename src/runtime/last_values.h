// The newest sample of every series, per stream, kept in memory as batches are ingested: the
// "last value" of the status screen and of GET /api/v1/series, without reading the store. The
// runtime updates it in the source's ingest path right after the append succeeded (where the
// rules engine will tap the live stream too). It is a cache, not a record: empty after a restart
// until each series reports again.
//
// Bounded: at most `max_series` (stream, series) entries over all streams; a series first seen
// when the bound is reached is not tracked (counted in refused()), so a source that invents
// series names cannot grow it without limit.
//
// Thread safety: every method may be called from any thread. Each stream has its own mutex, so
// sources do not contend with each other; readers lock one stream at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/sample.h"

namespace sluice::runtime {

struct LastValue {
  std::string stream;
  std::string series;
  Timestamp ts = 0;
  Value value = 0.0;
  Quality quality = quality::kGood;
};

class LastValues {
 public:
  static constexpr size_t kDefaultMaxSeries = 100'000;

  // The entries of one stream. Obtained from LastValues::stream(); lives as long as it.
  class Stream {
   public:
    // Keeps, for each series of the batch, the sample with the newest timestamp (a later sample
    // with the same timestamp wins: it was appended after).
    void update(const Batch& batch);

   private:
    friend class LastValues;
    struct Entry {
      Timestamp ts = 0;
      Value value;
      Quality quality = quality::kGood;
    };
    struct Hash {
      using is_transparent = void;
      size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    Stream(LastValues& owner, std::string name) : owner_(owner), name_(std::move(name)) {}

    LastValues& owner_;
    const std::string name_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;  // guarded by mu_
  };

  explicit LastValues(size_t max_series = kDefaultMaxSeries) : max_series_(max_series) {}
  LastValues(const LastValues&) = delete;
  LastValues& operator=(const LastValues&) = delete;

  // The entries of `stream`, created empty on first use.
  Stream& stream(std::string_view stream);

  std::optional<LastValue> find(std::string_view stream, std::string_view series) const;
  // Every entry of `stream` (none if it has none), by series name.
  std::vector<LastValue> of_stream(std::string_view stream) const;
  // Every entry of every stream, by stream then series.
  std::vector<LastValue> all() const;
  size_t series_count(std::string_view stream) const;
  // Series first seen when the bound was reached, and not tracked.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const Stream* find_stream(std::string_view stream) const;

  const size_t max_series_;
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> refused_{0};
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<Stream>, std::less<>> streams_;  // guarded by mu_
};

}  // namespace sluice::runtime
