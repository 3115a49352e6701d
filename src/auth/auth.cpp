// The Auth facade: sign-in through the rate limiter, then a session token.
#include "auth/auth.h"

namespace sluice::auth {

Auth::Auth(std::unique_ptr<AuthDb> db, Clock& clock, const AuthOptions& options)
    : db_(std::move(db)),
      users_(*db_, clock, options.password),
      tokens_(*db_, clock, options.tokens),
      limiter_(clock, options.rate_limit),
      audit_(*db_, clock) {}

Result<std::unique_ptr<Auth>> Auth::open(const std::string& path, Clock& clock,
                                         AuthOptions options) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<AuthDb> db, AuthDb::open(path));
  return std::unique_ptr<Auth>(new Auth(std::move(db), clock, options));
}

Result<IssuedToken> Auth::login(std::string_view user, std::string_view password,
                                std::string_view address) {
  SLUICE_RETURN_IF_ERROR(limiter_.check_login_allowed(user, address));
  Result<User> verified = users_.verify_password(user, password);
  if (!verified.ok()) {
    const Code code = verified.status().code();
    // A wrong password or an unknown name counts; a disabled user with the right password does
    // too (it is not a guess, but nothing useful can follow). Storage errors do not.
    if (code == Code::kNotFound || code == Code::kFailedPrecondition) {
      limiter_.record_login(user, address, false);
    }
    return verified.status();
  }
  limiter_.record_login(user, address, true);
  const std::string name = address.empty() ? "login" : "login from " + std::string(address);
  return tokens_.create_session(verified->name, name.substr(0, kMaxTokenNameLength));
}

}  // namespace sluice::auth
