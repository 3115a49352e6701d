// The `sluice user` and `sluice token` commands: manage the users and API tokens of the REST API
// in the state database (auth/), with or without the gateway running.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace sluice::cli {

// Registers `user add|list|passwd|remove` and `token create|list|revoke` on `app` and keeps their
// arguments. `app` must outlive the object.
class AuthCommands {
 public:
  explicit AuthCommands(CLI::App& app);
  // After parsing: the exit code of the chosen command, or nullopt if it was none of these.
  std::optional<int> run();

 private:
  CLI::App* user_ = nullptr;
  CLI::App* user_add_ = nullptr;
  CLI::App* user_list_ = nullptr;
  CLI::App* user_passwd_ = nullptr;
  CLI::App* user_remove_ = nullptr;
  CLI::App* token_ = nullptr;
  CLI::App* token_create_ = nullptr;
  CLI::App* token_list_ = nullptr;
  CLI::App* token_revoke_ = nullptr;

  std::string state_db_;     // --state-db
  std::string config_path_;  // --config: state.db in its store directory
  std::string name_;
  std::string role_ = "viewer";
  std::string org_ = "platform";
  std::string token_user_;
  std::string expires_;
  int64_t token_id_ = 0;
  bool password_stdin_ = false;
};

}  // namespace sluice::cli
