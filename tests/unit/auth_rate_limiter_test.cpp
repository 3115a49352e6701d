// Login rate limiting with a ManualClock: five failures in five minutes lock a user name or an
// address, the lockout doubles, success clears the name, and the message says when to retry.
#include <gtest/gtest.h>

#include <chrono>

#include "auth/auth.h"
#include "auth/rate_limiter.h"
#include "fixtures/test_support.h"

namespace sluice::auth {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

int64_t ns(std::chrono::nanoseconds d) { return d.count(); }

void fail_n(LoginRateLimiter& l, const std::string& user, const std::string& addr, int n) {
  for (int i = 0; i < n; ++i) l.record_login(user, addr, false);
}

TEST(AuthRateLimiterTest, FiveFailuresLockTheUserNameForAMinute) {
  ManualClock clock;
  LoginRateLimiter l(clock);
  fail_n(l, "alice", "10.0.0.1", 4);
  EXPECT_TRUE(l.check_login_allowed("alice", "10.0.0.9").ok());
  l.record_login("alice", "10.0.0.2", false);
  Status st = l.check_login_allowed("alice", "10.0.0.9");
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_NE(st.message().find("user 'alice'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("try again in 60 s"), std::string::npos) << st.message();
  // Other names from other addresses are not affected; case does not escape the lock.
  EXPECT_TRUE(l.check_login_allowed("bob", "10.0.0.9").ok());
  EXPECT_FALSE(l.check_login_allowed("ALICE", "10.0.0.9").ok());

  clock.advance(ns(seconds(59)));
  EXPECT_NE(l.check_login_allowed("alice", "10.0.0.9").message().find("in 1 s"), std::string::npos);
  clock.advance(ns(seconds(1)));
  EXPECT_TRUE(l.check_login_allowed("alice", "10.0.0.9").ok());
}

TEST(AuthRateLimiterTest, FailuresOutsideTheWindowDoNotCount) {
  ManualClock clock;
  LoginRateLimiter l(clock);
  for (int i = 0; i < 10; ++i) {
    l.record_login("alice", "10.0.0.1", false);
    clock.advance(ns(seconds(76)));  // any 5 failures span more than 5 minutes
  }
  EXPECT_TRUE(l.check_login_allowed("alice", "10.0.0.1").ok());
}

TEST(AuthRateLimiterTest, ManyNamesFromOneAddressLockTheAddress) {
  ManualClock clock;
  LoginRateLimiter l(clock);
  for (int i = 0; i < 5; ++i) l.record_login("user" + std::to_string(i), "192.0.2.7", false);
  Status st = l.check_login_allowed("someone-else", "192.0.2.7");
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_NE(st.message().find("from 192.0.2.7"), std::string::npos) << st.message();
  EXPECT_TRUE(l.check_login_allowed("someone-else", "192.0.2.8").ok());
}

TEST(AuthRateLimiterTest, LockoutDoublesEachTimeUpToTheCap) {
  ManualClock clock;
  LoginRateLimiter l(clock);
  int64_t expected = ns(minutes(1));
  for (int round = 0; round < 9; ++round) {
    fail_n(l, "alice", "a" + std::to_string(round), 5);  // a fresh address each round
    clock.advance(expected - 1);
    EXPECT_FALSE(l.check_login_allowed("alice", "x").ok()) << "round " << round;
    clock.advance(1);
    EXPECT_TRUE(l.check_login_allowed("alice", "x").ok()) << "round " << round;
    expected = std::min(expected * 2, ns(minutes(60)));
  }
}

TEST(AuthRateLimiterTest, SuccessClearsTheNameButNotTheAddress) {
  ManualClock clock;
  LoginRateLimiter l(clock);
  fail_n(l, "alice", "10.0.0.1", 4);
  l.record_login("alice", "10.0.0.1", true);
  l.record_login("alice", "10.0.0.2", false);
  EXPECT_TRUE(l.check_login_allowed("alice", "10.0.0.2").ok());  // the name starts over
  l.record_login("bob", "10.0.0.1", false);                      // the address's fifth failure
  EXPECT_FALSE(l.check_login_allowed("carol", "10.0.0.1").ok());
}

TEST(AuthRateLimiterTest, LockoutLevelIsForgottenAfterADayWithoutFailures) {
  ManualClock clock;
  LoginRateLimiter l(clock);
  fail_n(l, "alice", "a1", 5);
  clock.advance(ns(minutes(1)));
  fail_n(l, "alice", "a2", 5);  // second lockout: 2 minutes
  clock.advance(ns(std::chrono::hours(25)));
  fail_n(l, "alice", "a3", 5);  // back to 1 minute
  clock.advance(ns(minutes(1)));
  EXPECT_TRUE(l.check_login_allowed("alice", "x").ok());
}

TEST(AuthRateLimiterTest, TrackedEntriesStayBounded) {
  ManualClock clock;
  LoginRateLimiter l(clock, {.max_entries = 100});
  for (int i = 0; i < 1000; ++i) l.record_login("u" + std::to_string(i), "addr", false);
  EXPECT_LE(l.tracked(), 100u);
  // Locked records are the last to go: the address locked early is still locked.
  EXPECT_FALSE(l.check_login_allowed("anyone", "addr").ok());
}

TEST(AuthRateLimiterTest, LoginIsRefusedWhileLockedEvenWithTheRightPassword) {
  testing::TempDir dir;
  ManualClock clock;
  Result<std::unique_ptr<Auth>> a =
      Auth::open(dir.file("state.db"), clock,
                 {.password = {.time_cost = 1, .memory_kib = 64, .parallelism = 1}});
  ASSERT_TRUE(a.ok());
  Auth& auth = **a;
  ASSERT_TRUE(auth.users().create("alice", "the right password", Role::kViewer).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth.login("alice", "a wrong password", "10.0.0.1").status().code(), Code::kNotFound);
  }
  Status st = auth.login("alice", "the right password", "10.0.0.3").status();
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_NE(st.message().find("try again in"), std::string::npos);
  clock.advance(ns(minutes(1)));
  EXPECT_TRUE(auth.login("alice", "the right password", "10.0.0.3").ok());
}

TEST(AuthRateLimiterTest, UnknownNamesAreLimitedLikeKnownOnes) {
  testing::TempDir dir;
  ManualClock clock;
  Result<std::unique_ptr<Auth>> a =
      Auth::open(dir.file("state.db"), clock,
                 {.password = {.time_cost = 1, .memory_kib = 64, .parallelism = 1}});
  ASSERT_TRUE(a.ok());
  for (int i = 0; i < 5; ++i)
    (void)(*a)->login("ghost", "a wrong password", "10.0.0." + std::to_string(i));
  EXPECT_EQ((*a)->login("ghost", "a wrong password", "10.0.0.9").status().code(),
            Code::kResourceExhausted);
}

}  // namespace
}  // namespace sluice::auth
