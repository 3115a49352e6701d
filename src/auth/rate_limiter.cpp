// The login rate limiter: a sliding window of failures per key and an exponential lockout.
#include "auth/rate_limiter.h"

#include <algorithm>
#include <cctype>

namespace sluice::auth {
namespace {

// Names are unique without regard to ASCII case, so their records are too.
std::string user_key(std::string_view user) {
  std::string key = "u:";
  for (char c : user) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

std::string address_key(std::string_view address) { return "a:" + std::string(address); }

// "45 s", "90 s", "3 min", "1 h 5 min": a wait, rounded up (seconds below two minutes).
std::string wait_text(int64_t ns) {
  const int64_t secs = (ns + 999'999'999) / 1'000'000'000;
  if (secs < 120) return std::to_string(secs) + " s";
  const int64_t mins = (secs + 59) / 60;
  if (mins < 60) return std::to_string(mins) + " min";
  return std::to_string(mins / 60) + " h" +
         (mins % 60 != 0 ? " " + std::to_string(mins % 60) + " min" : "");
}

}  // namespace

LoginRateLimiter::LoginRateLimiter(Clock& clock, RateLimitOptions options)
    : clock_(clock), options_(options) {}

int64_t LoginRateLimiter::locked_for(const std::string& key, int64_t now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until <= now) return 0;
  return it->second.locked_until - now;
}

Status LoginRateLimiter::check_login_allowed(std::string_view user, std::string_view address) {
  const int64_t now = clock_.monotonic();
  std::lock_guard lock(mu_);
  if (int64_t wait = locked_for(user_key(user), now); wait > 0) {
    return {Code::kResourceExhausted, "too many failed sign-ins for the user '" +
                                          std::string(user) + "'; try again in " + wait_text(wait)};
  }
  if (int64_t wait = locked_for(address_key(address), now); wait > 0) {
    return {Code::kResourceExhausted, "too many failed sign-ins from " + std::string(address) +
                                          "; try again in " + wait_text(wait)};
  }
  return Status::ok_status();
}

void LoginRateLimiter::record_login(std::string_view user, std::string_view address, bool ok) {
  const int64_t now = clock_.monotonic();
  std::lock_guard lock(mu_);
  if (ok) {
    entries_.erase(user_key(user));
    return;
  }
  record_failure(user_key(user), now);
  record_failure(address_key(address), now);
}

size_t LoginRateLimiter::tracked() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void LoginRateLimiter::record_failure(const std::string& key, int64_t now) {
  if (entries_.size() >= options_.max_entries && !entries_.contains(key)) make_room(now);
  Entry& e = entries_[key];
  if (e.last_failure != 0 && now - e.last_failure > options_.forget_after.count()) e.level = 0;
  e.last_failure = now;
  while (!e.failures.empty() && now - e.failures.front() >= options_.window.count()) {
    e.failures.pop_front();
  }
  e.failures.push_back(now);
  if (static_cast<int>(e.failures.size()) < options_.max_failures) return;
  // Lock: first_lockout * 2^level, capped (the shift is bounded so that it cannot overflow).
  int64_t lockout = options_.max_lockout.count();
  if (e.level < 30) lockout = std::min(lockout, options_.first_lockout.count() << e.level);
  e.locked_until = now + lockout;
  ++e.level;
  e.failures.clear();
}

void LoginRateLimiter::make_room(int64_t now) {
  // First what no longer matters, then every record that is not locked.
  std::erase_if(entries_, [&](const auto& kv) {
    const Entry& e = kv.second;
    return e.locked_until <= now && now - e.last_failure > options_.forget_after.count();
  });
  if (entries_.size() < options_.max_entries) return;
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.locked_until <= now; });
}

}  // namespace sluice::auth
