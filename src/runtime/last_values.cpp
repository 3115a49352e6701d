// The last-value cache (see last_values.h).
#include "runtime/last_values.h"

#include <algorithm>

namespace sluice::runtime {

void LastValues::Stream::update(const Batch& batch) {
  std::lock_guard lock(mu_);
  for (const Sample& s : batch.samples) {
    auto it = entries_.find(std::string_view(s.series));
    if (it == entries_.end()) {
      // Reserve a place under the bound before inserting.
      size_t n = owner_.size_.load(std::memory_order_relaxed);
      bool reserved = false;
      while (n < owner_.max_series_) {
        if (owner_.size_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
          reserved = true;
          break;
        }
      }
      if (!reserved) {
        owner_.refused_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      entries_.emplace(s.series, Entry{s.ts, s.value, s.quality});
      continue;
    }
    if (s.ts < it->second.ts) continue;  // out of order: older than what is known
    it->second.ts = s.ts;
    it->second.value = s.value;
    it->second.quality = s.quality;
  }
}

LastValues::Stream& LastValues::stream(std::string_view stream) {
  {
    std::shared_lock lock(mu_);
    auto it = streams_.find(stream);
    if (it != streams_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    it = streams_
             .emplace(std::string(stream),
                      std::unique_ptr<Stream>(new Stream(*this, std::string(stream))))
             .first;
  }
  return *it->second;
}

const LastValues::Stream* LastValues::find_stream(std::string_view stream) const {
  std::shared_lock lock(mu_);
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();  // never erased: stays valid
}

std::optional<LastValue> LastValues::find(std::string_view stream, std::string_view series) const {
  const Stream* s = find_stream(stream);
  if (s == nullptr) return std::nullopt;
  std::lock_guard lock(s->mu_);
  auto it = s->entries_.find(series);
  if (it == s->entries_.end()) return std::nullopt;
  return LastValue{s->name_, std::string(series), it->second.ts, it->second.value,
                   it->second.quality};
}

std::vector<LastValue> LastValues::of_stream(std::string_view stream) const {
  std::vector<LastValue> out;
  const Stream* s = find_stream(stream);
  if (s == nullptr) return out;
  {
    std::lock_guard lock(s->mu_);
    out.reserve(s->entries_.size());
    for (const auto& [series, e] : s->entries_) {
      out.push_back(LastValue{s->name_, series, e.ts, e.value, e.quality});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const LastValue& a, const LastValue& b) { return a.series < b.series; });
  return out;
}

std::vector<LastValue> LastValues::all() const {
  std::vector<std::string> names;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, s] : streams_) names.push_back(name);
  }
  std::vector<LastValue> out;
  for (const std::string& name : names) {
    std::vector<LastValue> part = of_stream(name);
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  return out;
}

size_t LastValues::series_count(std::string_view stream) const {
  const Stream* s = find_stream(stream);
  if (s == nullptr) return 0;
  std::lock_guard lock(s->mu_);
  return s->entries_.size();
}

}  // namespace sluice::runtime
