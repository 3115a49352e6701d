// OpenID Connect single sign-on for the REST API: a bearer JWT signed by a configured issuer
// stands for a user of an organization with a role. The API server holds one OidcVerifier
// (from the [api.oidc] config table, read_oidc_options) and, for a bearer that is not a Sluice
// token, asks verify(bearer) -> OidcIdentity, or an error that it answers with 401.
//
// What makes a token good, in the order it is checked:
//   1. a compact JWS, RS256 or ES256 only (jwt.h);
//   2. signed by the JWKS key named by its "kid" (the only key when it has no kid, and the set
//      has exactly one); the key's type must fit the alg;
//   3. "iss" equals `issuer` exactly; "aud" (a string or an array) contains `audience`, when set;
//   4. "exp" is present and now < exp + leeway; "nbf" and "iat", when present, are not later than
//      now + leeway;
//   5. "sub" is a non-empty string; the organization claim is a non-empty string; the role
//      claim maps to a role (or default_role applies).
//
// Claim names (org_claim, role_claim, name_claim) are looked up first as one top-level claim
// with exactly that name (so namespaced claims such as "https://example.com/org" work), and
// otherwise, when the name has dots, as a path through nested objects: "realm_access.roles"
// is claims["realm_access"]["roles"] (Keycloak's realm roles).
//
// Keys: loaded at make() from `jwks_file` or `jwks_url` (libcurl, 10 s, at most 1 MiB; https,
// file, or http to a loopback address only - keys fetched over plain HTTP from elsewhere could be
// replaced on the way). They are loaded again every `jwks_refresh` (by the first verify() that
// finds them due; the old keys stay if the load fails, and it is retried after 30 s), and when a
// token names a kid that the set does not have (key rotation) - but only if the last load (of
// any kind) is at least kJwksReloadInterval (30 s) old, so that tokens with made-up kids cannot
// make us fetch more than once per 30 s, and keys loaded a moment ago are not fetched again. A
// failed load never removes keys that were loaded before.
//
// Errors from verify() (the API answers 401 to each; the code is for logs):
//   InvalidArgument     not a well-formed token, a refused alg or typ, a claim of the wrong type
//   PermissionDenied    a bad signature, a wrong issuer or audience, no organization, no role
//   FailedPrecondition  expired, or not valid yet
//   NotFound            no key with the token's kid, even after reloading the JWKS
//
// Thread safety: verify() and jwks_status() may be called from any number of threads at once.
// The key set is an immutable snapshot behind a shared_mutex: verify() holds it shared only to
// copy the snapshot's pointer, then looks up the key and checks the signature without any lock
// (so a reload is never starved by a steady stream of verifications, and a verification never
// waits for a fetch); a reload fetches and parses without it and holds it exclusively only to
// swap the new snapshot in. Reloads are serialised by a second mutex, so one fetch runs at a time;
// a verify() that needs an unknown kid while a fetch is running does not wait for it (it is
// refused, NotFound), so that tokens with made-up kids cannot tie up the API's threads. The
// periodic reload runs in the verify() that finds it due, which then takes as long as the fetch
// (at most 10 s, once per jwks_refresh); the other threads go on with the old keys meanwhile.
// `clock` must outlive the verifier.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "auth/jwt.h"
#include "auth/roles.h"
#include "core/clock.h"
#include "core/status.h"
#include "runtime/config_table.h"  // the interface only: no link dependency on sluice_runtime

namespace sluice::auth {

inline constexpr std::chrono::seconds kJwksReloadInterval{30};  // unknown kid, failed refresh
inline constexpr std::chrono::seconds kJwksFetchTimeout{10};
inline constexpr size_t kMaxClaimTextLength = 256;  // sub, name, org

struct OidcOptions {
  std::string issuer;     // required; compared with "iss" exactly
  std::string audience;   // "": "aud" is not checked
  std::string jwks_file;  // exactly one of jwks_file and jwks_url
  std::string jwks_url;
  std::string jwks_ca_file;  // "": the system's CAs verify an https jwks_url
  std::string org_claim = "org";
  std::string role_claim = "role";
  std::string name_claim = "preferred_username";  // "sub" when absent
  // Claim value -> Role. The default maps the role names themselves.
  std::map<std::string, Role> role_map = {
      {"admin", Role::kAdmin}, {"operator", Role::kOperator}, {"viewer", Role::kViewer}};
  // The role of a token whose role claim is absent or maps to nothing; nullopt: such a token is
  // refused.
  std::optional<Role> default_role;
  std::chrono::seconds leeway{60};  // clock skew allowed for exp, nbf and iat
  std::chrono::minutes jwks_refresh{60};
};

// Ok, or an InvalidArgument naming the option that is wrong (make() checks this too).
Status check_oidc_options(const OidcOptions& options);

// Ok if `url` may serve a JWKS: https://, file://, or http:// to 127.0.0.1, ::1 or localhost.
Status check_jwks_url(std::string_view url);

// Reads the [api.oidc] table; errors are recorded in `t` (each names the key) and the returned
// options are then not to be used. Keys:
//   issuer = "https://login.example.com/realms/plant"   required
//   audience = "sluice"                                  optional
//   jwks_file = "jwks.json"  |  jwks_url = "https://..."  exactly one
//   jwks_ca_file = "ca.pem"                              optional, for an https jwks_url
//   org_claim = "org", role_claim = "role", name_claim = "preferred_username"
//   role_map = { "sluice-admin" = "admin", "plant-ops" = "operator" }  (or a [api.oidc.role_map]
//       table); replaces the default map
//   default_role = "viewer"                              optional
//   leeway = "60s" (0s to 10m), jwks_refresh = "1h" (1m to 7d)
OidcOptions read_oidc_options(runtime::ConfigTable& t);

// Who a verified token stands for.
struct OidcIdentity {
  std::string subject;  // "sub"
  std::string name;     // name_claim, or "sub"
  std::string org;
  Role role = Role::kViewer;
  int64_t expires_ns = 0;  // "exp"
};

// How the key set was loaded, for logs and the status page.
struct JwksStatus {
  uint64_t loads = 0;      // successful loads, the first included
  uint64_t failures = 0;   // failed loads (the old keys stayed)
  std::string last_error;  // of the last failed load; "" when the last load succeeded
  size_t keys = 0;
  int64_t loaded_ns = 0;  // wall time of the last successful load
};

class OidcVerifier {
 public:
  // Checks the options and loads the keys now; an error if either fails (the message names the
  // file or URL and what is wrong with it).
  static Result<std::unique_ptr<OidcVerifier>> make(OidcOptions options, Clock& clock);

  // The identity `token` stands for, or an error (see the top of this file).
  Result<OidcIdentity> verify(std::string_view token);

  JwksStatus jwks_status() const;
  const OidcOptions& options() const { return options_; }

 private:
  OidcVerifier(OidcOptions options, Clock& clock);

  // Fetches, parses and swaps in a new key set; on failure counts it and keeps the old one.
  // The caller holds reload_mu_.
  Status reload_locked();
  // The periodic reload, when due and no other reload is running.
  void refresh_if_due();
  // The reload for an unknown kid: true if the key set may have changed.
  bool reload_for_unknown_kid(const std::string& kid);
  // Checks the signature with the key for jwt.kid; NotFound if there is no such key.
  Status check_signature(const Jwt& jwt);
  Result<OidcIdentity> check_claims(const Jwt& jwt) const;

  const OidcOptions options_;
  Clock& clock_;

  // The current key set, never null after make(). A shared_ptr because a verification in flight
  // keeps the snapshot it started with alive while a reload swaps in the next one.
  std::shared_ptr<const JwkSet> keys() const;

  mutable std::shared_mutex keys_mu_;
  std::shared_ptr<const JwkSet> keys_;  // guarded by keys_mu_
  JwksStatus status_;                   // guarded by keys_mu_

  std::mutex reload_mu_;        // held while a reload runs
  int64_t last_load_mono_ = 0;  // guarded by reload_mu_; monotonic ns of the last load attempt
  std::atomic<int64_t> next_refresh_mono_{0};  // monotonic ns when the keys are due again
};

}  // namespace sluice::auth
