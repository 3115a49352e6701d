// The API's users and tokens as the link source sees them (runtime::TokenVerifier): a sender on
// the forward link or a custom collector on the write API presents an API token; it is admitted
// if the token is valid and its user's role may write data (operator or admin). set() is called
// once the users database is open, which may be after the runtime started; until then a token is
// refused as "not open yet" and the sender retries.
#pragma once

#include <atomic>
#include <string>

#include "auth/auth.h"
#include "auth/roles.h"
#include "runtime/service.h"

namespace sluice::api {

class WriterTokens final : public runtime::TokenVerifier {
 public:
  WriterTokens() = default;
  explicit WriterTokens(auth::Auth* auth) : auth_(auth) {}
  void set(auth::Auth* auth) { auth_.store(auth); }

  Result<std::string> verify_writer(std::string_view token) const override {
    auth::Auth* auth = auth_.load();
    if (auth == nullptr) return Status(Code::kUnavailable, "users and tokens are not open yet");
    SLUICE_ASSIGN_OR_RETURN(auth::Principal who, auth->tokens().authenticate(token));
    if (!auth::allows(who.role, auth::Role::kOperator)) {
      return failed_precondition("user '" + who.user + "' is a " +
                                 std::string(auth::role_name(who.role)) +
                                 "; writing data needs the operator or admin role");
    }
    return who.user;
  }

 private:
  std::atomic<auth::Auth*> auth_{nullptr};
};

}  // namespace sluice::api
