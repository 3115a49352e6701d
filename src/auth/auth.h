// Authentication and authorisation for the REST API, in one object the server holds: users and
// their roles, login sessions and API tokens, the login rate limiter and the audit log, all on
// the state database file (auth_db.h). The server's flow per request:
//
//   sign-in:  login(name, password, address)  -> a session token for the client, or an error
//   request:  tokens().authenticate(bearer)   -> Principal, or 401
//             allows(principal.role, required_role(action)) else 403
//             after a change: audit().record({...})
//
// Status codes to HTTP: ResourceExhausted -> 429; IoError, Internal, Corruption -> 500; any
// other error from login() or authenticate() -> 401.
//
// Thread safety: every method may be called from any thread. `clock` must outlive the object.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/audit_log.h"
#include "auth/auth_db.h"
#include "auth/crypto.h"
#include "auth/rate_limiter.h"
#include "auth/roles.h"
#include "auth/tokens.h"
#include "auth/users.h"
#include "core/clock.h"
#include "core/status.h"

namespace sluice::auth {

struct AuthOptions {
  PasswordParams password;  // argon2id costs; tests make them small
  TokenOptions tokens;
  RateLimitOptions rate_limit;
};

class Auth {
 public:
  // Opens the auth tables in the state database at `path` (created if missing).
  static Result<std::unique_ptr<Auth>> open(const std::string& path, Clock& clock,
                                            AuthOptions options = {});

  // Checks the rate limit, the password and the user, records the outcome with the limiter, and
  // on success creates a login session named after the address. Errors: ResourceExhausted when
  // locked out (says when to try again), NotFound "wrong user name or password",
  // FailedPrecondition for a disabled user.
  Result<IssuedToken> login(std::string_view user, std::string_view password,
                            std::string_view address);

  UserStore& users() { return users_; }
  TokenStore& tokens() { return tokens_; }
  LoginRateLimiter& limiter() { return limiter_; }
  AuditLog& audit() { return audit_; }

 private:
  Auth(std::unique_ptr<AuthDb> db, Clock& clock, const AuthOptions& options);

  std::unique_ptr<AuthDb> db_;  // the stores below hold references to it
  UserStore users_;
  TokenStore tokens_;
  LoginRateLimiter limiter_;
  AuditLog audit_;
};

}  // namespace sluice::auth
