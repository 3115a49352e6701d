// The OpenID Connect verifier: loads the issuer's keys (file or libcurl), checks a bearer JWT's
// signature and claims, and maps them to a subject, an organization and a role (see oidc.h).
#include "auth/oidc.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <utility>
#include <vector>

#include "auth/tokens.h"  // format_time_utc

namespace sluice::auth {
namespace {

using json = nlohmann::json;
using std::chrono::nanoseconds;

constexpr long kMaxRedirects = 3;
constexpr size_t kShownValues = 5;  // role claim values a message lists
constexpr size_t kShownChars = 64;  // characters of an outside string a message repeats
// The latest NumericDate that fits in int64 nanoseconds (year 2262).
constexpr double kMaxNumericDate = 9'000'000'000.0;
constexpr auto kMaxLeeway = std::chrono::minutes(10);
constexpr auto kMinRefresh = std::chrono::minutes(1);
constexpr auto kMaxRefresh = std::chrono::hours(24 * 7);

std::string shown(std::string_view s) {
  std::string out(s.substr(0, kShownChars));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (s.size() > kShownChars) out += "...";
  return out;
}

int64_t to_ns(nanoseconds d) { return d.count(); }

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

bool usable_text(const std::string& s) {
  return !s.empty() && s.size() <= kMaxClaimTextLength &&
         std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// ---- loading the key set ----

void curl_global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Body {
  std::string bytes;
  bool too_large = false;
};

size_t append_bounded(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  const size_t bytes = size * n;
  if (body->bytes.size() + bytes > kMaxJwksBytes) {
    body->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  body->bytes.append(data, bytes);
  return bytes;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

Result<std::string> fetch_url(const std::string& url, const std::string& ca_file) {
  curl_global_init_once();
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return internal_error("libcurl could not make a handle");
  char error[CURL_ERROR_SIZE] = {};
  Body body;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http,file");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(to_ns(kJwksFetchTimeout) / 1'000'000));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxJwksBytes));
  if (!ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_bounded);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(c);
  if (body.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return invalid_argument("larger than " + std::to_string(kMaxJwksBytes) + " bytes");
  }
  if (rc != CURLE_OK) {
    return Status(Code::kUnavailable, error[0] != '\0' ? error : curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  const char* scheme = nullptr;
  curl_easy_getinfo(c, CURLINFO_SCHEME, &scheme);
  const bool is_file = scheme != nullptr && strcasecmp(scheme, "file") == 0;
  if (!is_file && status != 200) {
    return Status(Code::kUnavailable, "answered HTTP " + std::to_string(status) + ", not 200");
  }
  return std::move(body.bytes);
}

Result<std::string> read_file_bounded(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot be opened");
  std::string bytes(kMaxJwksBytes + 1, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad()) return io_error("cannot be read");
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (bytes.size() > kMaxJwksBytes) {
    return invalid_argument("larger than " + std::to_string(kMaxJwksBytes) + " bytes");
  }
  return bytes;
}

Result<JwkSet> load_keys(const OidcOptions& o) {
  const std::string where =
      o.jwks_file.empty() ? "jwks_url '" + o.jwks_url + "'" : "jwks_file '" + o.jwks_file + "'";
  Result<std::string> text =
      o.jwks_file.empty() ? fetch_url(o.jwks_url, o.jwks_ca_file) : read_file_bounded(o.jwks_file);
  if (!text.ok()) return text.status().with_context(where);
  Result<JwkSet> keys = parse_jwks(*text);
  if (!keys.ok()) return keys.status().with_context(where);
  return keys;
}

// ---- reading claims ----

// The claim `name`: the top-level member of that name, else (if the name has dots) the path
// through nested objects. nullptr if absent.
const json* find_claim(const json& claims, const std::string& name) {
  if (auto it = claims.find(name); it != claims.end()) return &*it;
  if (name.find('.') == std::string::npos) return nullptr;
  const json* at = &claims;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    const std::string part =
        name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object()) return nullptr;
    auto it = at->find(part);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}

// A NumericDate claim (seconds since 1970, possibly fractional) in ns; nullopt when absent.
Result<std::optional<int64_t>> numeric_date(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<int64_t>();
  if (!it->is_number()) {
    return invalid_argument(std::string("JWT claim '") + name +
                            "': not a number of seconds since 1970");
  }
  const double seconds = it->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) {
    return invalid_argument(std::string("JWT claim '") + name + "': out of range");
  }
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>() * 1'000'000'000);
  return std::optional<int64_t>(static_cast<int64_t>(std::floor(seconds * 1e9)));
}

// The role claim's values: a string, or an array of strings.
Result<std::vector<std::string>> role_values(const json& v, const std::string& claim) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_string()) break;
      out.push_back(e.get<std::string>());
    }
    if (out.size() == v.size()) return out;
  }
  return invalid_argument("JWT claim '" + shown(claim) + "': not a string or an array of strings");
}

std::string list_shown(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size() && i < kShownValues; ++i) {
    if (i > 0) out += ", ";
    out += "'" + shown(values[i]) + "'";
  }
  if (values.size() > kShownValues) {
    out += " and " + std::to_string(values.size() - kShownValues) + " more";
  }
  return out;
}

bool audience_contains(const json& aud, const std::string& audience) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == audience;
  if (aud.is_array()) {
    return std::any_of(aud.begin(), aud.end(), [&](const json& a) {
      return a.is_string() && a.get_ref<const std::string&>() == audience;
    });
  }
  return false;
}

bool loopback_host(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

}  // namespace

Status check_jwks_url(std::string_view url) {
  if (url.find_first_of(" \t\r\n") != std::string_view::npos) {
    return invalid_argument("a URL has no spaces or line breaks");
  }
  if (url.starts_with("https://") && url.size() > 8) return Status::ok_status();
  if (url.starts_with("file://") && url.size() > 7) return Status::ok_status();
  if (url.starts_with("http://")) {
    std::string_view authority = url.substr(7);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if (authority.find('@') == std::string_view::npos) {
      std::string_view host = authority;
      if (host.starts_with("[")) {
        host = host.substr(0, host.find(']') + 1);
      } else {
        host = host.substr(0, host.find(':'));
      }
      if (loopback_host(host)) return Status::ok_status();
    }
    return invalid_argument(
        "http:// is accepted only to 127.0.0.1, ::1 or localhost (keys fetched over plain HTTP "
        "could be replaced on the way); use https://");
  }
  return invalid_argument("expected an https:// URL (or file://)");
}

Status check_oidc_options(const OidcOptions& o) {
  if (o.issuer.empty()) return invalid_argument("issuer: missing");
  if (o.jwks_file.empty() == o.jwks_url.empty()) {
    return invalid_argument("jwks_file, jwks_url: exactly one of them is needed");
  }
  if (!o.jwks_url.empty())
    SLUICE_RETURN_IF_ERROR(check_jwks_url(o.jwks_url).with_context("jwks_url"));
  if (o.org_claim.empty()) return invalid_argument("org_claim: empty");
  if (o.role_claim.empty()) return invalid_argument("role_claim: empty");
  if (o.name_claim.empty()) return invalid_argument("name_claim: empty");
  if (o.leeway.count() < 0 || o.leeway > kMaxLeeway) {
    return invalid_argument("leeway: " + seconds_text(o.leeway) + "; 0s to 10m is accepted");
  }
  if (o.jwks_refresh < kMinRefresh || o.jwks_refresh > kMaxRefresh) {
    return invalid_argument("jwks_refresh: " + std::to_string(o.jwks_refresh.count()) +
                            "m; 1m to 7d is accepted");
  }
  return Status::ok_status();
}

OidcOptions read_oidc_options(runtime::ConfigTable& t) {
  OidcOptions o;
  const auto non_empty = [](const std::string& v) { return usable_text(v); };
  if (!t.has("issuer")) {
    t.error("issuer",
            "missing; the issuer's URL exactly as its tokens' 'iss' claim has it, e.g. "
            "issuer = \"https://login.example.com/realms/plant\"");
  }
  o.issuer =
      t.string("issuer", "", "the issuer's URL exactly as in its tokens' 'iss' claim", non_empty);
  o.audience =
      t.string("audience", "", "the audience (client id) tokens must be issued for", non_empty);
  o.jwks_file = t.file_path("jwks_file", "", "a JWKS (JSON) file with the issuer's public keys");
  o.jwks_url = t.string("jwks_url", "", "an https:// URL of the issuer's JWKS (its jwks_uri)",
                        [](const std::string& v) { return check_jwks_url(v).ok(); });
  if (t.has("jwks_file") && t.has("jwks_url")) {
    t.error("jwks_url", "give jwks_file or jwks_url, not both");
  } else if (!t.has("jwks_file") && !t.has("jwks_url")) {
    t.error("jwks_url",
            "missing; where the issuer's keys are: jwks_url = \"https://.../certs\" (its "
            "jwks_uri) or jwks_file = \"jwks.json\"");
  }
  o.jwks_ca_file = t.file_path("jwks_ca_file", "", "a PEM file of the CAs that sign jwks_url");
  const std::string_view claim_expected = "a claim name, or a dotted path such as \"a.b\"";
  o.org_claim = t.string("org_claim", o.org_claim, claim_expected, non_empty);
  o.role_claim = t.string("role_claim", o.role_claim, claim_expected, non_empty);
  o.name_claim = t.string("name_claim", o.name_claim, claim_expected, non_empty);
  if (auto map = t.values("role_map",
                          "a table of claim value = role, e.g. { \"sluice-admin\" "
                          "= \"admin\" }")) {
    o.role_map.clear();
    for (const auto& [value, role] : *map) {
      const auto* name = std::get_if<std::string>(&role);
      std::optional<Role> parsed = name != nullptr ? parse_role(*name) : std::nullopt;
      if (!parsed) {
        t.error("role_map", "the value of '" + shown(value) +
                                "' is not a role; expected \"admin\", \"operator\" or \"viewer\"");
        continue;
      }
      o.role_map[value] = *parsed;
    }
    if (map->empty()) t.error("role_map", "empty; it needs at least one claim value = role");
  }
  if (t.has("default_role")) {
    const std::string role =
        t.string("default_role", "viewer", "\"admin\", \"operator\" or \"viewer\"",
                 [](const std::string& v) { return parse_role(v).has_value(); });
    o.default_role = parse_role(role);
  }
  const auto leeway =
      t.duration("leeway", o.leeway, "a duration from 0s to 10m, e.g. \"60s\"",
                 [](const nanoseconds& d) { return d.count() >= 0 && d <= kMaxLeeway; });
  o.leeway = std::chrono::duration_cast<std::chrono::seconds>(leeway);
  const auto refresh =
      t.duration("jwks_refresh", o.jwks_refresh, "a duration from 1m to 7d, e.g. \"1h\"",
                 [](const nanoseconds& d) { return d >= kMinRefresh && d <= kMaxRefresh; });
  o.jwks_refresh = std::chrono::duration_cast<std::chrono::minutes>(refresh);
  return o;
}

OidcVerifier::OidcVerifier(OidcOptions options, Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Result<std::unique_ptr<OidcVerifier>> OidcVerifier::make(OidcOptions options, Clock& clock) {
  SLUICE_RETURN_IF_ERROR(check_oidc_options(options).with_context("OIDC options"));
  std::unique_ptr<OidcVerifier> v(new OidcVerifier(std::move(options), clock));
  std::lock_guard lock(v->reload_mu_);
  SLUICE_RETURN_IF_ERROR(v->reload_locked().with_context("OIDC"));
  return v;
}

Status OidcVerifier::reload_locked() {
  Result<JwkSet> loaded = load_keys(options_);
  const int64_t mono = clock_.monotonic();
  last_load_mono_ = mono;
  if (!loaded.ok()) {
    std::unique_lock lock(keys_mu_);
    ++status_.failures;
    status_.last_error = loaded.status().to_string();
    next_refresh_mono_ = mono + to_ns(kJwksReloadInterval);
    return loaded.status();
  }
  auto next = std::make_shared<const JwkSet>(std::move(loaded).value());
  std::shared_ptr<const JwkSet> previous;  // freed after the lock is released
  std::unique_lock lock(keys_mu_);
  previous = std::exchange(keys_, std::move(next));
  ++status_.loads;
  status_.last_error.clear();
  status_.keys = keys_->keys.size();
  status_.loaded_ns = clock_.now();
  next_refresh_mono_ = mono + to_ns(options_.jwks_refresh);
  return Status::ok_status();
}

void OidcVerifier::refresh_if_due() {
  if (clock_.monotonic() < next_refresh_mono_.load()) return;
  std::unique_lock lock(reload_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is reloading
  if (clock_.monotonic() < next_refresh_mono_.load()) return;
  (void)reload_locked();  // on failure the old keys stay; jwks_status() tells
}

bool OidcVerifier::reload_for_unknown_kid(const std::string& kid) {
  // A fetch in progress is not waited for: tokens with made-up kids must not tie up the API's
  // threads for the length of a fetch.
  std::unique_lock lock(reload_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  if (keys()->find(kid) != nullptr) return true;  // a reload that we waited for brought it
  if (clock_.monotonic() - last_load_mono_ < to_ns(kJwksReloadInterval)) return false;
  return reload_locked().ok();
}

std::shared_ptr<const JwkSet> OidcVerifier::keys() const {
  std::shared_lock lock(keys_mu_);
  return keys_;
}

Status OidcVerifier::check_signature(const Jwt& jwt) {
  const std::shared_ptr<const JwkSet> keys = this->keys();
  const Jwk* key = keys->find(jwt.kid);
  if (key == nullptr) {
    if (jwt.kid.empty()) {
      return not_found("JWT header: no 'kid', and the JWKS has " +
                       std::to_string(keys->keys.size()) + " keys (a kid says which one)");
    }
    return not_found("JWT header: no key with kid '" + shown(jwt.kid) + "' in the JWKS");
  }
  return verify_jws(jwt, *key);
}

Result<OidcIdentity> OidcVerifier::verify(std::string_view token) {
  SLUICE_ASSIGN_OR_RETURN(Jwt jwt, parse_jwt(token));
  refresh_if_due();
  Status signature = check_signature(jwt);
  if (signature.code() == Code::kNotFound && reload_for_unknown_kid(jwt.kid)) {
    signature = check_signature(jwt);
  }
  SLUICE_RETURN_IF_ERROR(signature);
  return check_claims(jwt);
}

Result<OidcIdentity> OidcVerifier::check_claims(const Jwt& jwt) const {
  const json& c = jwt.claims;
  const OidcOptions& o = options_;

  auto iss = c.find("iss");
  if (iss == c.end()) return permission_denied("JWT claim 'iss': missing");
  if (!iss->is_string() || iss->get_ref<const std::string&>() != o.issuer) {
    return permission_denied("JWT claim 'iss': '" +
                             shown(iss->is_string() ? iss->get<std::string>() : iss->dump()) +
                             "' is not the configured issuer '" + o.issuer + "'");
  }
  if (!o.audience.empty()) {
    auto aud = c.find("aud");
    if (aud == c.end()) {
      return permission_denied("JWT claim 'aud': missing; the token must be issued for '" +
                               o.audience + "'");
    }
    if (!audience_contains(*aud, o.audience)) {
      return permission_denied("JWT claim 'aud': does not contain '" + o.audience + "'");
    }
  }

  const int64_t now = clock_.now();
  const int64_t leeway = to_ns(o.leeway);
  SLUICE_ASSIGN_OR_RETURN(std::optional<int64_t> exp, numeric_date(c, "exp"));
  if (!exp)
    return invalid_argument("JWT claim 'exp': missing; a token without an expiry is refused");
  if (now >= *exp + leeway) {
    return failed_precondition("JWT: expired at " + format_time_utc(*exp) + " (now " +
                               format_time_utc(now) + ", leeway " + seconds_text(o.leeway) + ")");
  }
  SLUICE_ASSIGN_OR_RETURN(std::optional<int64_t> nbf, numeric_date(c, "nbf"));
  if (nbf && *nbf > now + leeway) {
    return failed_precondition("JWT: not valid before " + format_time_utc(*nbf) + " (now " +
                               format_time_utc(now) + ", leeway " + seconds_text(o.leeway) + ")");
  }
  SLUICE_ASSIGN_OR_RETURN(std::optional<int64_t> iat, numeric_date(c, "iat"));
  if (iat && *iat > now + leeway) {
    return failed_precondition("JWT: issued in the future, at " + format_time_utc(*iat) + " (now " +
                               format_time_utc(now) + ", leeway " + seconds_text(o.leeway) + ")");
  }

  OidcIdentity id;
  id.expires_ns = *exp;
  auto sub = c.find("sub");
  if (sub == c.end() || !sub->is_string() || !usable_text(sub->get<std::string>())) {
    return invalid_argument("JWT claim 'sub': missing, or not a string of 1 to " +
                            std::to_string(kMaxClaimTextLength) + " printable characters");
  }
  id.subject = sub->get<std::string>();
  const json* name = find_claim(c, o.name_claim);
  id.name = name != nullptr && name->is_string() && usable_text(name->get<std::string>())
                ? name->get<std::string>()
                : id.subject;

  const json* org = find_claim(c, o.org_claim);
  if (org == nullptr) {
    return permission_denied("JWT claim '" + shown(o.org_claim) +
                             "' (the organization): missing; the issuer must add it to the "
                             "tokens it issues for Sluice");
  }
  if (!org->is_string() || !usable_text(org->get<std::string>())) {
    return permission_denied("JWT claim '" + shown(o.org_claim) +
                             "' (the organization): not a string of 1 to " +
                             std::to_string(kMaxClaimTextLength) + " printable characters");
  }
  id.org = org->get<std::string>();

  std::optional<Role> role;
  std::vector<std::string> values;
  if (const json* r = find_claim(c, o.role_claim)) {
    SLUICE_ASSIGN_OR_RETURN(values, role_values(*r, o.role_claim));
    for (const std::string& v : values) {
      auto it = o.role_map.find(v);
      if (it != o.role_map.end() && (!role || allows(it->second, *role))) role = it->second;
    }
  }
  if (!role) role = o.default_role;
  if (!role) {
    if (values.empty()) {
      return permission_denied("JWT claim '" + shown(o.role_claim) +
                               "' (the role): missing or empty, and no default_role is configured");
    }
    return permission_denied("JWT claim '" + shown(o.role_claim) +
                             "' (the role): " + list_shown(values) + " maps to no role (role_map)");
  }
  id.role = *role;
  return id;
}

JwksStatus OidcVerifier::jwks_status() const {
  std::shared_lock lock(keys_mu_);
  return status_;
}

}  // namespace sluice::auth
