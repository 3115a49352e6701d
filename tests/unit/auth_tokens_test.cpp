// Login sessions and API tokens on a temporary state database: authenticate, expire (with a
// ManualClock), revoke, and never store the token's text.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "fixtures/test_support.h"

namespace sluice::auth {
namespace {

using std::chrono::hours;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr PasswordParams kFast{.time_cost = 1, .memory_kib = 64, .parallelism = 1};
constexpr const char* kPassword = "a long enough password";

int64_t ns(nanoseconds d) { return d.count(); }

class AuthTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Auth>> a =
        Auth::open(dir_.file("state.db"), clock_, {.password = kFast});
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    auth_ = std::move(a).value();
    ASSERT_TRUE(auth_->users().create("root", kPassword, Role::kAdmin).ok());
    ASSERT_TRUE(auth_->users().create("olga", kPassword, Role::kOperator).ok());
  }
  TokenStore& tokens() { return auth_->tokens(); }

  // Every value of every column of auth_tokens, concatenated (blobs as raw bytes).
  std::string token_table_bytes() {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(dir_.file("state.db").c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, "SELECT * FROM auth_tokens", -1, &q, nullptr), SQLITE_OK);
    std::string all;
    while (sqlite3_step(q) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(q); ++c) {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(q, c));
        if (p != nullptr) all.append(p, sqlite3_column_bytes(q, c));
        all += '|';
      }
    }
    sqlite3_finalize(q);
    sqlite3_close(raw);
    return all;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Auth> auth_;
};

TEST_F(AuthTokensTest, ApiTokenAuthenticatesAsItsUserWithTheCurrentRole) {
  Result<IssuedToken> t = tokens().create("olga", TokenKind::kApi, "grafana", 0);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_TRUE(looks_like_token(t->token));
  Result<Principal> p = tokens().authenticate(t->token);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->user, "olga");
  EXPECT_EQ(p->role, Role::kOperator);
  EXPECT_EQ(p->token_id, t->info.id);
  EXPECT_EQ(p->kind, TokenKind::kApi);

  ASSERT_TRUE(auth_->users().set_role("olga", Role::kViewer).ok());
  EXPECT_EQ(tokens().authenticate(t->token)->role, Role::kViewer);
}

TEST_F(AuthTokensTest, StoredTokenIsOnlyItsSha256) {
  Result<IssuedToken> t = tokens().create("olga", TokenKind::kApi, "script", 0);
  Result<IssuedToken> s = auth_->login("olga", kPassword, "10.0.0.5");
  ASSERT_TRUE(t.ok() && s.ok());
  const std::string stored = token_table_bytes();
  for (const std::string& text : {t->token, s->token}) {
    EXPECT_EQ(stored.find(text), std::string::npos);
    // Not even the random part without the prefix.
    EXPECT_EQ(stored.find(text.substr(kTokenPrefix.size())), std::string::npos);
    EXPECT_NE(stored.find(sha256(text)), std::string::npos);
  }
}

TEST_F(AuthTokensTest, UnknownAndMalformedTokensAreRefusedDistinctly) {
  EXPECT_EQ(tokens().authenticate("Bearer nonsense").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tokens().authenticate("").status().code(), Code::kInvalidArgument);
  const std::string never_issued = *new_token_text();
  Status st = tokens().authenticate(never_issued).status();
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "unknown token");
}

TEST_F(AuthTokensTest, ApiTokenExpiresAtItsExpiry) {
  const int64_t expiry = clock_.now() + ns(hours(24 * 90));
  Result<IssuedToken> t = tokens().create("olga", TokenKind::kApi, "ci", expiry);
  ASSERT_TRUE(t.ok());
  clock_.advance(ns(hours(24 * 90)) - 1);
  EXPECT_TRUE(tokens().authenticate(t->token).ok());
  clock_.advance(1);
  Status st = tokens().authenticate(t->token).status();
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("expired at"), std::string::npos) << st.message();
}

TEST_F(AuthTokensTest, TokenWithoutExpiryKeepsWorking) {
  Result<IssuedToken> t = tokens().create("olga", TokenKind::kApi, "forever", 0);
  clock_.advance(ns(hours(24 * 3650)));
  EXPECT_TRUE(tokens().authenticate(t->token).ok());
}

TEST_F(AuthTokensTest, ExpiryInThePastIsRefused) {
  EXPECT_EQ(tokens().create("olga", TokenKind::kApi, "x", clock_.now()).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(tokens().create("nobody", TokenKind::kApi, "x", 0).status().code(), Code::kNotFound);
  EXPECT_EQ(tokens().create("olga", TokenKind::kApi, "", 0).status().code(),
            Code::kInvalidArgument);
}

TEST_F(AuthTokensTest, LoginSessionLastsTwelveHoursFixedNotSliding) {
  Result<IssuedToken> s = auth_->login("olga", kPassword, "10.0.0.5");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->info.kind, TokenKind::kSession);
  EXPECT_EQ(s->info.expires_ns - s->info.created_ns, ns(hours(12)));
  // Using it does not extend it.
  for (int i = 0; i < 11; ++i) {
    clock_.advance(ns(hours(1)));
    ASSERT_TRUE(tokens().authenticate(s->token).ok());
  }
  clock_.advance(ns(hours(1)));
  Status st = tokens().authenticate(s->token).status();
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("sign in again"), std::string::npos) << st.message();
}

TEST_F(AuthTokensTest, RevokedTokenIsRefusedAndOthersKeepWorking) {
  Result<IssuedToken> a = tokens().create("olga", TokenKind::kApi, "a", 0);
  Result<IssuedToken> b = tokens().create("olga", TokenKind::kApi, "b", 0);
  ASSERT_TRUE(tokens().revoke(a->info.id).ok());
  Status st = tokens().authenticate(a->token).status();
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("revoked"), std::string::npos);
  EXPECT_TRUE(tokens().authenticate(b->token).ok());
  EXPECT_TRUE(tokens().revoke(a->info.id).ok());  // twice is fine
  EXPECT_EQ(tokens().revoke(9999).code(), Code::kNotFound);
}

TEST_F(AuthTokensTest, RevokeAllOfAUserLeavesOtherUsersAlone) {
  Result<IssuedToken> o1 = tokens().create("olga", TokenKind::kApi, "a", 0);
  Result<IssuedToken> o2 = auth_->login("olga", kPassword, "10.0.0.5");
  Result<IssuedToken> r = tokens().create("root", TokenKind::kApi, "admin script", 0);
  Result<int64_t> n = tokens().revoke_all("olga");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_FALSE(tokens().authenticate(o1->token).ok());
  EXPECT_FALSE(tokens().authenticate(o2->token).ok());
  EXPECT_TRUE(tokens().authenticate(r->token).ok());
}

TEST_F(AuthTokensTest, RevokeAllOfOneKindKeepsTheOther) {
  Result<IssuedToken> api = tokens().create("olga", TokenKind::kApi, "a", 0);
  Result<IssuedToken> session = auth_->login("olga", kPassword, "");
  EXPECT_EQ(*tokens().revoke_all("olga", TokenKind::kSession), 1);
  EXPECT_TRUE(tokens().authenticate(api->token).ok());
  EXPECT_FALSE(tokens().authenticate(session->token).ok());
}

TEST_F(AuthTokensTest, DisabledUsersTokensAreRefusedUntilEnabledAgain) {
  Result<IssuedToken> t = tokens().create("olga", TokenKind::kApi, "a", 0);
  ASSERT_TRUE(auth_->users().set_enabled("olga", false).ok());
  Status st = tokens().authenticate(t->token).status();
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("disabled"), std::string::npos);
  ASSERT_TRUE(auth_->users().set_enabled("olga", true).ok());
  EXPECT_TRUE(tokens().authenticate(t->token).ok());
}

TEST_F(AuthTokensTest, LastUsedIsRecordedAtMostOncePerMinute) {
  Result<IssuedToken> t = tokens().create("olga", TokenKind::kApi, "a", 0);
  EXPECT_EQ(tokens().find(t->info.id)->value().last_used_ns, 0);
  const int64_t first = clock_.now();
  ASSERT_TRUE(tokens().authenticate(t->token).ok());
  EXPECT_EQ(tokens().find(t->info.id)->value().last_used_ns, first);
  clock_.advance(ns(seconds(30)));
  ASSERT_TRUE(tokens().authenticate(t->token).ok());
  EXPECT_EQ(tokens().find(t->info.id)->value().last_used_ns, first);
  clock_.advance(ns(seconds(30)));
  ASSERT_TRUE(tokens().authenticate(t->token).ok());
  EXPECT_EQ(tokens().find(t->info.id)->value().last_used_ns, clock_.now());
}

TEST_F(AuthTokensTest, ListShowsTokensNewestFirstWithoutSecrets) {
  ASSERT_TRUE(tokens().create("olga", TokenKind::kApi, "first", 0).ok());
  ASSERT_TRUE(tokens().create("root", TokenKind::kApi, "second", 0).ok());
  Result<std::vector<TokenInfo>> all = tokens().list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "second");
  EXPECT_EQ((*all)[0].user, "root");
  EXPECT_EQ(tokens().list("olga")->size(), 1u);
}

TEST_F(AuthTokensTest, ForgetInactiveDeletesOnlyLongExpiredOrRevokedTokens) {
  Result<IssuedToken> old = tokens().create("olga", TokenKind::kApi, "old", 0);
  Result<IssuedToken> live = tokens().create("olga", TokenKind::kApi, "live", 0);
  ASSERT_TRUE(tokens().revoke(old->info.id).ok());
  clock_.advance(ns(hours(24)));
  EXPECT_EQ(*tokens().forget_inactive(clock_.now()), 1);
  EXPECT_FALSE(tokens().find(old->info.id)->has_value());
  EXPECT_TRUE(tokens().authenticate(live->token).ok());
}

TEST_F(AuthTokensTest, LoginWithAWrongPasswordGivesNoToken) {
  Result<IssuedToken> s = auth_->login("olga", "wrong password here", "10.0.0.5");
  EXPECT_EQ(s.status().code(), Code::kNotFound);
  EXPECT_TRUE(tokens().list("olga")->empty());
}

TEST_F(AuthTokensTest, ConcurrentAuthenticationAndCreationAgree) {
  Result<IssuedToken> shared = tokens().create("olga", TokenKind::kApi, "shared", 0);
  ASSERT_TRUE(shared.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!tokens().authenticate(shared->token).ok()) ++failures;
        Result<IssuedToken> own =
            tokens().create("olga", TokenKind::kApi, "t" + std::to_string(t), 0);
        if (!own.ok() || tokens().authenticate(own->token)->token_id != own->info.id) ++failures;
        clock_.advance(ns(seconds(61)));  // so that last_used is written too
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(tokens().list("olga")->size(), 101u);
}

}  // namespace
}  // namespace sluice::auth
