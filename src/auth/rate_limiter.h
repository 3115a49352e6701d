// Login rate limiting: after too many failed sign-ins for one user name, or from one client
// address, further attempts are refused for a while, and the while doubles with each lockout.
//
// Defaults: 5 failures within 5 minutes lock the name (or the address) for 1 minute, then 2, 4,
// 8 ... up to 1 hour; the lockout level is forgotten after 24 hours without a failure. A
// successful sign-in clears the name's record but not the address's (one valid account must not
// let an address reset its count between guesses at others). Unknown user names count like
// known ones, so that the limiter does not reveal which names exist.
//
// Kept in memory only: a restart forgets it. That is acceptable because a restart is rare and
// slow compared with the limits, and it keeps a failed sign-in from costing a disk write (which
// an attacker could otherwise use to load the disk). The number of tracked names and addresses
// is bounded (max_entries); when full, records without a lockout are dropped first.
//
// Time comes from Clock::monotonic() so that tests drive it with a ManualClock. Thread safety:
// every method may be called from any thread. `clock` must outlive the limiter.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/status.h"

namespace sluice::auth {

struct RateLimitOptions {
  int max_failures = 5;
  std::chrono::nanoseconds window = std::chrono::minutes(5);
  std::chrono::nanoseconds first_lockout = std::chrono::minutes(1);
  std::chrono::nanoseconds max_lockout = std::chrono::hours(1);
  std::chrono::nanoseconds forget_after = std::chrono::hours(24);
  size_t max_entries = 10000;
};

class LoginRateLimiter {
 public:
  explicit LoginRateLimiter(Clock& clock, RateLimitOptions options = {});

  // Ok, or ResourceExhausted (the API answers 429) with a message that says which limit and when
  // to try again. Call before checking the password.
  Status check_login_allowed(std::string_view user, std::string_view address);
  // Records the outcome of a sign-in whose password was checked.
  void record_login(std::string_view user, std::string_view address, bool ok);
  // How many names and addresses have a record (at most max_entries plus those locked).
  size_t tracked();

 private:
  struct Entry {
    std::deque<int64_t> failures;  // monotonic ns of the failures within the window
    int64_t locked_until = 0;      // monotonic ns; 0: not locked
    int64_t last_failure = 0;
    int level = 0;  // lockouts so far; the next lasts first_lockout << level
  };

  void record_failure(const std::string& key, int64_t now);
  void make_room(int64_t now);  // mu_ held
  // Remaining lockout of `key` in ns, 0 if none; mu_ held.
  int64_t locked_for(const std::string& key, int64_t now) const;

  Clock& clock_;
  const RateLimitOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_; "u:" name or "a:" address
};

}  // namespace sluice::auth
