// `sluice user` and `sluice token` as an operator uses them, through the real binary: add users
// (password on stdin), list, change a password, refuse to remove the last admin, create a token
// that the library then accepts, revoke it; find the state database through a config file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "auth/auth.h"
#include "fixtures/test_support.h"

namespace sluice {
namespace {

using ::testing::HasSubstr;
using testing::run_command;
using testing::sluice_binary;
using testing::TempDir;

// Single-quoted for the shell, with any ' inside kept.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `sluice <args>` with `stdin_line` on its standard input.
testing::CommandResult sluice(const std::string& args, const std::string& stdin_line = "") {
  return run_command("printf '%s\\n' " + quote(stdin_line) + " | " + sluice_binary() + " " + args);
}

std::unique_ptr<auth::Auth> open_auth(const std::string& db) {
  Result<std::unique_ptr<auth::Auth>> a = auth::Auth::open(db, SystemClock::instance());
  EXPECT_TRUE(a.ok()) << a.status().to_string();
  return a.ok() ? std::move(a).value() : nullptr;
}

TEST(AuthCliTest, UsersAndTokensThroughTheBinary) {
  TempDir tmp;
  const std::string db = tmp.file("state.db");
  const std::string at = " --state-db " + quote(db);

  testing::CommandResult r = sluice("user add alice --role admin" + at, "alice's long password");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("user 'alice' created with role admin"));

  r = sluice("user add bob --password-stdin" + at, "short");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("at least 12"));
  r = sluice("user add 'b o b'" + at, "a long enough password");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = sluice("user add alice" + at, "a long enough password");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("already a user 'alice'"));
  r = sluice("user add carol --role operator" + at, "carol's long password");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  r = sluice("user list" + at);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("alice"));
  EXPECT_THAT(r.output, HasSubstr("operator"));

  r = sluice("user remove alice" + at);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("last enabled admin"));

  r = sluice("user passwd carol --password-stdin" + at, "carol's new long password");
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // The token goes to stdout alone, so that a script can capture it.
  r = run_command("{ " + sluice_binary() + " token create ci --user carol --expires 90d" + at +
                  " > " + quote(tmp.file("token.txt")) + "; }");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("shown only now"));
  std::string token = read_file(tmp.file("token.txt"));
  ASSERT_FALSE(token.empty());
  token.pop_back();  // the newline
  int64_t token_id = 0;
  {
    std::unique_ptr<auth::Auth> a = open_auth(db);
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(a->users().verify_password("carol", "carol's new long password").ok());
    Result<auth::Principal> p = a->tokens().authenticate(token);
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    EXPECT_EQ(p->user, "carol");
    EXPECT_EQ(p->role, auth::Role::kOperator);
    token_id = p->token_id;
  }

  r = sluice("token list" + at);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ci"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr(token)));

  r = sluice("token revoke " + std::to_string(token_id) + at);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = sluice("token revoke 999" + at);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = sluice("token create x --user nobody" + at);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = sluice("token create x --user carol --expires soon" + at);
  EXPECT_EQ(r.exit_code, 2) << r.output;

  {
    std::unique_ptr<auth::Auth> a = open_auth(db);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->tokens().authenticate(token).status().code(), Code::kFailedPrecondition);
    // Every change above is in the audit log, as done by "cli".
    Result<std::vector<auth::AuditEntry>> log = a->audit().list({.user = "cli"});
    ASSERT_TRUE(log.ok());
    std::string actions;
    for (const auth::AuditEntry& e : *log) actions += e.action + " ";
    EXPECT_THAT(actions, HasSubstr("user.create"));
    EXPECT_THAT(actions, HasSubstr("user.password"));
    EXPECT_THAT(actions, HasSubstr("token.create"));
    EXPECT_THAT(actions, HasSubstr("token.revoke"));
  }

  r = sluice("user remove carol" + at);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(AuthCliTest, StateDatabaseIsFoundThroughTheConfigsStoreDirectory) {
  TempDir tmp;
  std::ofstream(tmp.file("sluice.toml")) << "[store]\ndir = \"store\"\n";
  testing::CommandResult r = sluice(
      "user add ops --role viewer --config " + quote(tmp.file("sluice.toml")), "ops long password");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::unique_ptr<auth::Auth> a = open_auth(tmp.file("store/state.db"));
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->users().verify_password("ops", "ops long password").ok());
}

TEST(AuthCliTest, MissingDatabaseOrBrokenConfigIsAUsageError) {
  TempDir tmp;
  testing::CommandResult r = sluice("user list");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--config FILE or --state-db PATH"));
  r = sluice("user list --state-db " + quote(tmp.file("typo.db")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("there is no state database at"));
  std::ofstream(tmp.file("bad.toml")) << "[store]\ndir = 5\n";
  r = sluice("user list --config " + quote(tmp.file("bad.toml")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = sluice("user add x --role root --state-db " + quote(tmp.file("s.db")), "a long enough pw");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace sluice
