// `sluice user ...` and `sluice token ...`: the operator's way to create the first admin, reset a
// password or issue a token for a script, working directly on the state database (the gateway
// may be running: SQLite's WAL and busy timeout let both write). Every change is also written to
// the audit log, as user "cli".
//
// Exit codes as the rest of the CLI: 0 done; 1 the database failed; 2 wrong input (arguments,
// config, a name or password that breaks a rule, no such user, the last admin).
#include "cli/auth_commands.h"

#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "auth/auth.h"
#include "cli/builtin_sources.h"
#include "io/env.h"
#include "platform/registry.h"
#include "runtime/config.h"
#include "runtime/units.h"

namespace sluice::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;
constexpr const char* kCliUser = "cli";

int fail(const std::string& command, const Status& st) {
  std::cerr << "sluice " << command << ": " << st.message() << "\n";
  const bool broken =
      st.code() == Code::kIoError || st.code() == Code::kInternal || st.code() == Code::kCorruption;
  return broken ? kExitFailed : kExitBadInput;
}

// One line from stdin (without the line end). On a terminal, prompts on stderr and hides what is
// typed.
std::optional<std::string> read_password(const std::string& prompt) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (tty) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void audit(auth::Auth& a, const std::string& action, const std::string& target,
           const nlohmann::json& details, const Status& outcome) {
  auth::AuditEntry e;
  e.user = kCliUser;
  e.action = action;
  e.target = target;
  e.details = details.dump();
  e.outcome = outcome.ok() ? auth::AuditOutcome::kOk : auth::AuditOutcome::kFailed;
  Result<int64_t> r = a.audit().record(std::move(e));
  if (!r.ok()) std::cerr << "sluice: warning: audit log: " << r.status().message() << "\n";
}

}  // namespace

AuthCommands::AuthCommands(CLI::App& app) {
  auto db_options = [this](CLI::App* cmd) {
    cmd->fallthrough();
    CLI::Option* db = cmd->add_option("--state-db", state_db_, "The state database file");
    CLI::Option* config = cmd->add_option("-c,--config", config_path_,
                                          "The config file (state.db in its store directory)");
    db->excludes(config);
    config->excludes(db);
  };

  user_ = app.add_subcommand("user", "Manage the users of the REST API");
  user_->require_subcommand(1);
  user_add_ = user_->add_subcommand("add", "Create a user; the password is read from stdin");
  user_add_->add_option("name", name_, "1-64 of A-Z a-z 0-9 _ . - @")->required();
  user_add_->add_option("--role", role_, "admin, operator or viewer (default viewer)")
      ->check(CLI::IsMember({"admin", "operator", "viewer"}));
  user_add_->add_option("--org", org_,
                        "The organization's id (default platform: it sees all organizations)");
  user_add_->add_flag("--password-stdin", password_stdin_,
                      "Read the password from stdin without a prompt (one line)");
  db_options(user_add_);
  user_list_ = user_->add_subcommand("list", "List the users");
  db_options(user_list_);
  user_passwd_ = user_->add_subcommand(
      "passwd", "Set a user's password (read from stdin); ends the user's login sessions");
  user_passwd_->add_option("name", name_, "The user")->required();
  user_passwd_->add_flag("--password-stdin", password_stdin_,
                         "Read the password from stdin without a prompt (one line)");
  db_options(user_passwd_);
  user_remove_ = user_->add_subcommand("remove", "Remove a user and all their tokens");
  user_remove_->add_option("name", name_, "The user")->required();
  db_options(user_remove_);

  token_ = app.add_subcommand("token", "Manage API tokens (for scripts)");
  token_->require_subcommand(1);
  token_create_ = token_->add_subcommand("create", "Create an API token and print it once");
  token_create_->add_option("name", name_, "What or who uses the token")->required();
  token_create_->add_option("--user", token_user_, "The user the token acts as")->required();
  token_create_->add_option("--expires", expires_,
                            "Lifetime, e.g. 90d or 12h (default: never expires)");
  db_options(token_create_);
  token_list_ = token_->add_subcommand("list", "List tokens (never their secrets)");
  token_list_->add_option("--user", token_user_, "Only this user's tokens");
  db_options(token_list_);
  token_revoke_ = token_->add_subcommand("revoke", "Revoke a token by its id");
  token_revoke_->add_option("id", token_id_, "The token's id (sluice token list)")->required();
  db_options(token_revoke_);
}

std::optional<int> AuthCommands::run() {
  if (!*user_ && !*token_) return std::nullopt;
  const std::string command = user_->parsed() ? "user" : "token";

  // Where the state database is: given, or state.db in the config's store directory (as
  // `sluice run` finds it).
  std::string path = state_db_;
  if (path.empty()) {
    if (config_path_.empty()) {
      std::cerr << "sluice " << command
                << ": say which state database: --config FILE or --state-db PATH\n";
      return kExitBadInput;
    }
    std::vector<runtime::ConfigError> errors;
    Result<runtime::Config> config =
        runtime::load_config(config_path_, builtin_source_types(), &errors);
    if (!config.ok()) {
      for (const auto& e : errors) std::cerr << e.to_string() << "\n";
      if (errors.empty())
        std::cerr << "sluice " << command << ": " << config.status().message() << "\n";
      return kExitBadInput;
    }
    std::error_code ec;
    std::filesystem::create_directories(config->store.dir, ec);
    path = join_path(config->store.dir, "state.db");
  }
  // Only `user add` may start a database: anything else on a missing file is a wrong path.
  if (!user_add_->parsed() && !std::filesystem::exists(path)) {
    std::cerr << "sluice " << command << ": there is no state database at " << path
              << " (check --config or --state-db; `sluice user add` creates it)\n";
    return kExitBadInput;
  }
  Result<std::unique_ptr<auth::Auth>> opened = auth::Auth::open(path, SystemClock::instance());
  if (!opened.ok()) return fail(command, opened.status());
  auth::Auth& a = **opened;

  if (*user_add_ || *user_passwd_) {
    const bool add = user_add_->parsed();
    std::optional<std::string> password =
        read_password(password_stdin_ ? "" : "Password for " + name_ + ": ");
    if (!password) {
      std::cerr << "sluice user: no password on stdin (give it as one line)\n";
      return kExitBadInput;
    }
    if (add) {
      const auth::Role role = auth::parse_role(role_).value_or(auth::Role::kViewer);
      Result<std::unique_ptr<platform::Registry>> registry =
          platform::Registry::open(path, SystemClock::instance());
      if (!registry.ok()) return fail("user add", registry.status());
      if (!(*registry)->org_exists(org_)) {
        return fail("user add", not_found("no organization with id '" + org_ +
                                          "' (create it first: POST /api/v1/orgs)"));
      }
      Result<auth::User> user = a.users().create(name_, *password, role, org_);
      audit(a, "user.create", name_, {{"role", role_}, {"org", org_}}, user.status());
      if (!user.ok()) return fail("user add", user.status());
      std::cout << "user '" << user->name << "' created with role " << auth::role_name(role)
                << " in organization '" << user->org << "'\n";
      return kExitOk;
    }
    Status st = a.users().set_password(name_, *password);
    audit(a, "user.password", name_, nlohmann::json::object(), st);
    if (!st.ok()) return fail("user passwd", st);
    std::cout << "password of '" << name_ << "' changed; their login sessions have ended\n";
    return kExitOk;
  }
  if (*user_list_) {
    Result<std::vector<auth::User>> users = a.users().list();
    if (!users.ok()) return fail("user list", users.status());
    std::cout << "NAME                 ROLE      ORG          STATE     CREATED\n";
    for (const auth::User& u : *users) {
      std::cout << std::left << std::setw(20) << u.name << " " << std::setw(9)
                << auth::role_name(u.role) << " " << std::setw(12) << u.org << " " << std::setw(9)
                << (u.enabled ? "enabled" : "disabled") << " "
                << auth::format_time_utc(u.created_ns) << "\n";
    }
    return kExitOk;
  }
  if (*user_remove_) {
    Status st = a.users().remove(name_);
    audit(a, "user.remove", name_, nlohmann::json::object(), st);
    if (!st.ok()) return fail("user remove", st);
    std::cout << "user '" << name_ << "' removed, with their tokens\n";
    return kExitOk;
  }
  if (*token_create_) {
    int64_t expires_ns = 0;
    if (!expires_.empty() && expires_ != "never") {
      Result<std::chrono::nanoseconds> d = runtime::parse_duration(expires_);
      if (!d.ok() || d->count() <= 0) {
        std::cerr << "sluice token create: --expires '" << expires_
                  << "': expected a duration such as 90d or 12h, or never\n";
        return kExitBadInput;
      }
      expires_ns = SystemClock::instance().now() + d->count();
    }
    Result<auth::IssuedToken> t =
        a.tokens().create(token_user_, auth::TokenKind::kApi, name_, expires_ns);
    audit(a, "token.create", token_user_,
          {{"name", name_}, {"id", t.ok() ? t->info.id : 0}, {"expires_ns", expires_ns}},
          t.status());
    if (!t.ok()) return fail("token create", t.status());
    std::cerr << "token " << t->info.id << " '" << name_ << "' for user '" << token_user_ << "', "
              << (expires_ns == 0 ? std::string("never expires")
                                  : "expires " + auth::format_time_utc(expires_ns))
              << ". It is shown only now; keep it somewhere safe:\n";
    std::cout << t->token << "\n";
    return kExitOk;
  }
  if (*token_list_) {
    Result<std::vector<auth::TokenInfo>> tokens = a.tokens().list(token_user_);
    if (!tokens.ok()) return fail("token list", tokens.status());
    const int64_t now = SystemClock::instance().now();
    std::cout << "ID     USER                 KIND     STATE    EXPIRES               NAME\n";
    for (const auth::TokenInfo& t : *tokens) {
      const char* state = t.revoked_ns != 0 ? "revoked" : t.active(now) ? "active" : "expired";
      std::cout << std::left << std::setw(6) << t.id << " " << std::setw(20) << t.user << " "
                << std::setw(8) << auth::token_kind_name(t.kind) << " " << std::setw(8) << state
                << " " << std::setw(21)
                << (t.expires_ns == 0 ? std::string("never") : auth::format_time_utc(t.expires_ns))
                << " " << t.name << "\n";
    }
    return kExitOk;
  }
  if (*token_revoke_) {
    Status st = a.tokens().revoke(token_id_);
    audit(a, "token.revoke", "token/" + std::to_string(token_id_), nlohmann::json::object(), st);
    if (!st.ok()) return fail("token revoke", st);
    std::cout << "token " << token_id_ << " revoked\n";
    return kExitOk;
  }
  return kExitBadInput;
}

}  // namespace sluice::cli
