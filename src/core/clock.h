// Time comes in through an interface so tests can fake it (STYLE: habit 4).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/sample.h"

namespace sluice {

// "2026-11-24T05:13:04.123Z": a timestamp (ns since the Unix epoch) as ISO-8601 UTC with
// milliseconds.
std::string iso8601_ms(Timestamp ns);

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, ns since the Unix epoch (for sample and file timestamps).
  virtual Timestamp now() const = 0;
  // Monotonic time in ns (for intervals, rates and timeouts).
  virtual int64_t monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t monotonic() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock& instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = 1'700'000'000'000'000'000) : now_(start), mono_(0) {}
  Timestamp now() const override { return now_.load(); }
  int64_t monotonic() const override { return mono_.load(); }
  void advance(int64_t ns) {
    now_ += ns;
    mono_ += ns;
  }

 private:
  std::atomic<Timestamp> now_;
  std::atomic<int64_t> mono_;
};

}  // namespace sluice
