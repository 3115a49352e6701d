// Users and roles on a temporary state database: creation rules, password verification, the
// last enabled admin, the first-run admin, and the role order.
#include <gtest/gtest.h>

#include "auth/auth.h"
#include "fixtures/test_support.h"
#include "runtime/state_db.h"

namespace sluice::auth {
namespace {

constexpr PasswordParams kFast{.time_cost = 1, .memory_kib = 64, .parallelism = 1};
constexpr const char* kPassword = "a long enough password";

class AuthUsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Auth>> a =
        Auth::open(dir_.file("state.db"), clock_, {.password = kFast});
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    auth_ = std::move(a).value();
  }
  UserStore& users() { return auth_->users(); }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Auth> auth_;
};

TEST(AuthRolesTest, HigherRolesMayDoWhatLowerOnesMay) {
  EXPECT_TRUE(allows(Role::kAdmin, Role::kOperator));
  EXPECT_TRUE(allows(Role::kAdmin, Role::kViewer));
  EXPECT_TRUE(allows(Role::kOperator, Role::kViewer));
  EXPECT_TRUE(allows(Role::kOperator, Role::kOperator));
  EXPECT_FALSE(allows(Role::kOperator, Role::kAdmin));
  EXPECT_FALSE(allows(Role::kViewer, Role::kOperator));
}

TEST(AuthRolesTest, ViewerReadsOperatorActsAdminManages) {
  EXPECT_TRUE(allows(Role::kViewer, required_role(Action::kRead)));
  EXPECT_FALSE(allows(Role::kViewer, required_role(Action::kControlService)));
  EXPECT_TRUE(allows(Role::kOperator, required_role(Action::kControlService)));
  EXPECT_TRUE(allows(Role::kOperator, required_role(Action::kManageSession)));
  EXPECT_FALSE(allows(Role::kOperator, required_role(Action::kManageUsers)));
  EXPECT_FALSE(allows(Role::kOperator, required_role(Action::kManageTokens)));
  EXPECT_FALSE(allows(Role::kOperator, required_role(Action::kChangeConfig)));
  EXPECT_TRUE(allows(Role::kAdmin, required_role(Action::kChangeConfig)));
}

TEST(AuthRolesTest, RoleNamesRoundTrip) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_EQ(parse_role(role_name(r)), r);
  }
  EXPECT_FALSE(parse_role("root").has_value());
  EXPECT_FALSE(parse_role("Admin").has_value());
}

TEST_F(AuthUsersTest, CreatedUserVerifiesWithItsPasswordOnly) {
  Result<User> u = users().create("alice", kPassword, Role::kOperator);
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  Result<User> ok = users().verify_password("alice", kPassword);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->role, Role::kOperator);
  Result<User> wrong = users().verify_password("alice", "not the password");
  EXPECT_EQ(wrong.status().code(), Code::kNotFound);
  EXPECT_EQ(wrong.status().message(), "wrong user name or password");
}

TEST_F(AuthUsersTest, UnknownUserGetsTheSameAnswerAsAWrongPassword) {
  ASSERT_TRUE(users().create("alice", kPassword, Role::kViewer).ok());
  Status unknown = users().verify_password("mallory", kPassword).status();
  Status wrong = users().verify_password("alice", "something else entirely").status();
  EXPECT_EQ(unknown.code(), wrong.code());
  EXPECT_EQ(unknown.message(), wrong.message());
}

TEST_F(AuthUsersTest, NamesFollowTheRulesAndAreUniqueIgnoringCase) {
  EXPECT_TRUE(users().create("a.b-c_d@site", kPassword, Role::kViewer).ok());
  EXPECT_TRUE(users().create(std::string(64, 'x'), kPassword, Role::kViewer).ok());
  for (const std::string& bad : {std::string(), std::string(65, 'y'), std::string("with space"),
                                 std::string("slash/"), std::string("ümlaut")}) {
    Status st = users().create(bad, kPassword, Role::kViewer).status();
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << "'" << bad << "'";
  }
  ASSERT_TRUE(users().create("Bob", kPassword, Role::kViewer).ok());
  Status dup = users().create("bob", kPassword, Role::kViewer).status();
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_NE(dup.message().find("'Bob'"), std::string::npos) << dup.message();
}

TEST_F(AuthUsersTest, ShortPasswordIsRefusedAndNoUserIsCreated) {
  Status st = users().create("carol", "short", Role::kViewer).status();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("at least 12"), std::string::npos);
  EXPECT_FALSE(users().find("carol")->has_value());
}

TEST_F(AuthUsersTest, StoredPasswordIsAnArgon2idHashNotTheText) {
  ASSERT_TRUE(users().create("dave", kPassword, Role::kViewer).ok());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("state.db").c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT password_hash FROM auth_users", -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  const std::string stored = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(raw);
  EXPECT_EQ(stored.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(stored.find(kPassword), std::string::npos);
}

TEST_F(AuthUsersTest, NewPasswordReplacesTheOldAndEndsLoginSessions) {
  ASSERT_TRUE(users().create("erin", kPassword, Role::kViewer).ok());
  Result<IssuedToken> session = auth_->tokens().create_session("erin", "browser");
  Result<IssuedToken> api = auth_->tokens().create("erin", TokenKind::kApi, "script", 0);
  ASSERT_TRUE(session.ok() && api.ok());
  ASSERT_TRUE(users().set_password("erin", "another good password").ok());
  EXPECT_FALSE(users().verify_password("erin", kPassword).ok());
  EXPECT_TRUE(users().verify_password("erin", "another good password").ok());
  EXPECT_EQ(auth_->tokens().authenticate(session->token).status().code(),
            Code::kFailedPrecondition);
  EXPECT_TRUE(auth_->tokens().authenticate(api->token).ok());
  EXPECT_EQ(users().set_password("nobody", kPassword).code(), Code::kNotFound);
}

TEST_F(AuthUsersTest, LastEnabledAdminCannotBeRemovedDisabledOrDemoted) {
  ASSERT_TRUE(users().create("root", kPassword, Role::kAdmin).ok());
  ASSERT_TRUE(users().create("viewer1", kPassword, Role::kViewer).ok());
  for (Status st : {users().remove("root"), users().set_enabled("root", false),
                    users().set_role("root", Role::kOperator)}) {
    EXPECT_EQ(st.code(), Code::kFailedPrecondition);
    EXPECT_NE(st.message().find("last enabled admin"), std::string::npos) << st.message();
  }
  EXPECT_EQ(users().find("root")->value().role, Role::kAdmin);

  // With a second admin the first may go; then the second is the last one.
  ASSERT_TRUE(users().set_role("viewer1", Role::kAdmin).ok());
  EXPECT_TRUE(users().set_role("root", Role::kOperator).ok());
  EXPECT_EQ(users().remove("viewer1").code(), Code::kFailedPrecondition);
}

TEST_F(AuthUsersTest, ADisabledAdminDoesNotCountAsTheRemainingAdmin) {
  ASSERT_TRUE(users().create("a1", kPassword, Role::kAdmin).ok());
  ASSERT_TRUE(users().create("a2", kPassword, Role::kAdmin).ok());
  ASSERT_TRUE(users().set_enabled("a2", false).ok());
  EXPECT_EQ(users().remove("a1").code(), Code::kFailedPrecondition);
  // The disabled admin itself may be removed.
  EXPECT_TRUE(users().remove("a2").ok());
}

TEST_F(AuthUsersTest, DisabledUserWithTheRightPasswordIsToldSo) {
  ASSERT_TRUE(users().create("admin1", kPassword, Role::kAdmin).ok());
  ASSERT_TRUE(users().create("frank", kPassword, Role::kOperator).ok());
  ASSERT_TRUE(users().set_enabled("frank", false).ok());
  Status st = users().verify_password("frank", kPassword).status();
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("disabled"), std::string::npos);
  ASSERT_TRUE(users().set_enabled("frank", true).ok());
  EXPECT_TRUE(users().verify_password("frank", kPassword).ok());
}

TEST_F(AuthUsersTest, RemoveDeletesTheUserAndTheirTokens) {
  ASSERT_TRUE(users().create("admin1", kPassword, Role::kAdmin).ok());
  ASSERT_TRUE(users().create("gina", kPassword, Role::kViewer).ok());
  Result<IssuedToken> t = auth_->tokens().create("gina", TokenKind::kApi, "script", 0);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(users().remove("gina").ok());
  EXPECT_FALSE(users().find("gina")->has_value());
  EXPECT_EQ(auth_->tokens().authenticate(t->token).status().code(), Code::kNotFound);
  EXPECT_TRUE(auth_->tokens().list("gina")->empty());
  EXPECT_EQ(users().remove("gina").code(), Code::kNotFound);
}

TEST_F(AuthUsersTest, ListIsByName) {
  ASSERT_TRUE(users().create("zoe", kPassword, Role::kViewer).ok());
  ASSERT_TRUE(users().create("adam", kPassword, Role::kAdmin).ok());
  Result<std::vector<User>> all = users().list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "adam");
  EXPECT_EQ((*all)[1].name, "zoe");
}

TEST_F(AuthUsersTest, FirstAdminIsCreatedOnceWithAWorkingPassword) {
  Result<std::optional<std::string>> first = users().ensure_first_admin();
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_TRUE(first->has_value());
  Result<User> admin = users().verify_password(kFirstAdminName, **first);
  ASSERT_TRUE(admin.ok()) << admin.status().to_string();
  EXPECT_EQ(admin->role, Role::kAdmin);

  Result<std::optional<std::string>> again = users().ensure_first_admin();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(users().list()->size(), 1u);
}

TEST_F(AuthUsersTest, NoFirstAdminWhenAUserWasAddedBefore) {
  ASSERT_TRUE(users().create("ops", kPassword, Role::kViewer).ok());
  Result<std::optional<std::string>> first = users().ensure_first_admin();
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
  EXPECT_FALSE(users().find(kFirstAdminName)->has_value());
}

TEST_F(AuthUsersTest, UsersSurviveReopenAndLiveBesideTheRuntimeTables) {
  // The runtime's own connection to the same file works alongside.
  Result<std::unique_ptr<runtime::StateDb>> state = runtime::StateDb::open(dir_.file("state.db"));
  ASSERT_TRUE(state.ok()) << state.status().to_string();
  SeriesMeta m;
  m.name = "line1.temp";
  m.unit = "degC";
  ASSERT_TRUE((*state)->upsert_series({m}).ok());
  ASSERT_TRUE(users().create("henry", kPassword, Role::kOperator).ok());
  EXPECT_EQ((*state)->series("line1.temp")->unit, "degC");
  auth_.reset();
  Result<std::unique_ptr<Auth>> again =
      Auth::open(dir_.file("state.db"), clock_, {.password = kFast});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->users().verify_password("henry", kPassword).ok());
}

// A database of schema version 1 (no organizations) opens with its users in the platform's
// organization, which sees all: nobody loses access by the upgrade.
TEST(AuthUsersMigrationTest, UsersOfAnOlderDatabaseBelongToThePlatformOrganization) {
  testing::TempDir dir;
  const std::string path = dir.file("state.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db,
                   "CREATE TABLE auth_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE "
                   "COLLATE NOCASE, role TEXT NOT NULL, password_hash TEXT NOT NULL, enabled "
                   "INTEGER NOT NULL DEFAULT 1, created_ns INTEGER NOT NULL, updated_ns "
                   "INTEGER NOT NULL);"
                   "INSERT INTO auth_users(name, role, password_hash, created_ns, updated_ns) "
                   "VALUES('old-admin', 'admin', 'x', 1, 1);",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  ManualClock clock;
  Result<std::unique_ptr<Auth>> a = Auth::open(path, clock, {.password = kFast});
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  auto found = (*a)->users().find("old-admin");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->org, "platform");
  // The last platform admin cannot be moved out of it.
  EXPECT_EQ((*a)->users().set_org("old-admin", "acme").code(), Code::kFailedPrecondition);
  ASSERT_TRUE((*a)->users().create("amy", kPassword, Role::kAdmin, "acme").ok());
  EXPECT_EQ((*(*a)->users().find("amy"))->org, "acme");
}

}  // namespace
}  // namespace sluice::auth
