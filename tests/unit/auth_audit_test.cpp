// The audit log on a temporary state database: entries come back as recorded, newest first,
// filtered by time and user; details must be a JSON object; nothing can rewrite history.
#include <gtest/gtest.h>

#include <chrono>

#include "auth/audit_log.h"
#include "auth/auth.h"
#include "fixtures/test_support.h"

namespace sluice::auth {
namespace {

class AuthAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<AuthDb>> db = AuthDb::open(dir_.file("state.db"));
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    db_ = std::move(db).value();
    log_ = std::make_unique<AuditLog>(*db_, clock_);
  }

  AuditEntry entry(std::string user, std::string action, std::string target) {
    AuditEntry e;
    e.user = std::move(user);
    e.address = "10.0.0.5";
    e.action = std::move(action);
    e.target = std::move(target);
    return e;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<AuthDb> db_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuthAuditTest, RecordedEntriesComeBackNewestFirstWithEveryField) {
  AuditEntry e = entry("alice", "source.pause", "source/plc1");
  e.details = R"({"reason": "maintenance"})";
  const int64_t t0 = clock_.now();
  Result<int64_t> id1 = log_->record(e);
  ASSERT_TRUE(id1.ok()) << id1.status().to_string();
  clock_.advance(1'000'000'000);
  AuditEntry denied = entry("bob", "user.create", "carol");
  denied.outcome = AuditOutcome::kDenied;
  ASSERT_TRUE(log_->record(denied).ok());

  Result<std::vector<AuditEntry>> all = log_->list({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].user, "bob");
  EXPECT_EQ((*all)[0].outcome, AuditOutcome::kDenied);
  const AuditEntry& first = (*all)[1];
  EXPECT_EQ(first.id, *id1);
  EXPECT_EQ(first.time_ns, t0);
  EXPECT_EQ(first.user, "alice");
  EXPECT_EQ(first.address, "10.0.0.5");
  EXPECT_EQ(first.action, "source.pause");
  EXPECT_EQ(first.target, "source/plc1");
  EXPECT_EQ(first.details, R"({"reason":"maintenance"})");
  EXPECT_EQ(first.outcome, AuditOutcome::kOk);
}

TEST_F(AuthAuditTest, ListFiltersBySinceUserAndLimit) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(log_->record(entry(i % 2 == 0 ? "alice" : "bob", "a", std::to_string(i))).ok());
    clock_.advance(1'000'000'000);
  }
  const int64_t start = clock_.now() - 10 * 1'000'000'000LL;
  EXPECT_EQ(log_->list({.user = "alice"})->size(), 5u);
  Result<std::vector<AuditEntry>> recent = log_->list({.since_ns = start + 5'000'000'000LL});
  ASSERT_EQ(recent->size(), 5u);
  EXPECT_EQ(recent->back().target, "5");
  Result<std::vector<AuditEntry>> two = log_->list({.user = "bob", .limit = 2});
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].target, "9");
  EXPECT_EQ((*two)[1].target, "7");
}

TEST_F(AuthAuditTest, DetailsMustBeAJsonObject) {
  AuditEntry e = entry("alice", "x", "y");
  e.details = "[1, 2]";
  EXPECT_EQ(log_->record(e).status().code(), Code::kInvalidArgument);
  e.details = "{not json";
  EXPECT_EQ(log_->record(e).status().code(), Code::kInvalidArgument);
  e.details = "";
  ASSERT_TRUE(log_->record(e).ok());
  EXPECT_EQ(log_->list({})->front().details, "{}");
  EXPECT_EQ(log_->record(entry("alice", "", "y")).status().code(), Code::kInvalidArgument);
}

TEST_F(AuthAuditTest, EntriesCannotBeChangedOrDeletedEvenWithSql) {
  ASSERT_TRUE(log_->record(entry("alice", "user.remove", "bob")).ok());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("state.db").c_str(), &raw), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(raw, "UPDATE auth_audit SET user = 'mallory'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(raw, "DELETE FROM auth_audit", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  Result<std::vector<AuditEntry>> all = log_->list({});
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().user, "alice");
}

TEST_F(AuthAuditTest, EntriesSurviveReopen) {
  ASSERT_TRUE(log_->record(entry("alice", "token.create", "alice")).ok());
  log_.reset();
  db_.reset();
  Result<std::unique_ptr<AuthDb>> db = AuthDb::open(dir_.file("state.db"));
  ASSERT_TRUE(db.ok());
  AuditLog again(**db, clock_);
  EXPECT_EQ(again.list({})->size(), 1u);
}

}  // namespace
}  // namespace sluice::auth
