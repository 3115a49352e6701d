// libcurl upload of one file per request for the `files` sink.
#include "sinks/files/http_upload.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <mutex>

namespace sluice::sinks::files {
namespace {

constexpr size_t kErrorBodyBytes = 200;  // how much of a failed answer's body a message shows
constexpr size_t kKeptBodyBytes = 4096;  // how much of any answer's body is kept at all

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t write_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (body->size() < kKeptBodyBytes) {
    body->append(data, std::min(bytes, kKeptBodyBytes - body->size()));
  }
  return bytes;  // the rest is read and dropped
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancelled = static_cast<const std::function<bool()>*>(user);
  return (*cancelled && (*cancelled)()) ? 1 : 0;  // non-zero aborts the transfer
}

// The first bytes of a body, printable, for a message.
std::string excerpt(std::string_view body) {
  std::string out;
  for (const char ch : body.substr(0, kErrorBodyBytes)) {
    out.push_back((ch >= 0x20 && ch < 0x7f) ? ch : ' ');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > kErrorBodyBytes) out += "...";
  if (out.empty()) out = "(empty body)";
  return out;
}

}  // namespace

std::string http_status_hint(long status) {
  switch (status) {
    case 401:
    case 403:
      return "the server refused the credentials; check bearer_token or username and password "
             "(and the account's rights to write there)";
    case 404:
      return "the server has no such place; check the url (with method = \"PUT\" the file "
             "name is appended to it)";
    case 405: return "the server does not accept this method there; check method and the url";
    case 408:
    case 429: return "the server is busy or slow; the upload is retried";
    case 413:
      return "the file is too big for the server; lower max_rows_per_file (or set gzip = true)";
    default: break;
  }
  if (status >= 400 && status <= 499) {
    return "the server refused the request; check the url, method and the server's log";
  }
  if (status >= 500 && status <= 599) return "the server has a problem; the upload is retried";
  return "not a 2xx answer; check the url";
}

std::string check_upload_url(std::string_view url) {
  const bool http = url.starts_with("http://") && url.size() > 7;
  const bool https = url.starts_with("https://") && url.size() > 8;
  if (!http && !https) return "expected an http:// or https:// URL";
  if (url.find_first_of(" \t\r\n") != std::string_view::npos) return "a URL has no spaces";
  return "";
}

struct HttpUploader::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

HttpUploader::HttpUploader(HttpUploadOptions options)
    : options_(std::move(options)), handle_(std::make_unique<Handle>()) {
  global_init();
}

HttpUploader::~HttpUploader() = default;

std::string HttpUploader::target_url(std::string_view file_name) const {
  if (!options_.put) return options_.url;
  // The file name goes at the end of the path (before a query, if any). Names are
  // [A-Za-z0-9_.-] only (batch_file_name), so they need no escaping.
  std::string base = options_.url;
  std::string query;
  if (const size_t q = base.find('?'); q != std::string::npos) {
    query = base.substr(q);
    base.resize(q);
  }
  if (base.empty() || base.back() != '/') base.push_back('/');
  return base + std::string(file_name) + query;
}

Status HttpUploader::upload(std::string_view file_name, std::string_view body, bool gzip,
                            const std::function<bool()>& cancelled) {
  if (handle_->curl == nullptr) {
    handle_->curl = curl_easy_init();
    if (handle_->curl == nullptr) return internal_error("curl_easy_init failed");
  }
  CURL* curl = handle_->curl;
  curl_easy_reset(curl);  // keeps the connection cache
  const std::string url = target_url(file_name);
  char error[CURL_ERROR_SIZE] = {};
  std::string answer;

  curl_slist* headers = nullptr;
  const std::string file_header = fmt::format("X-Sluice-File: {}", file_name);
  const std::string auth_header = fmt::format("Authorization: Bearer {}", options_.bearer_token);
  headers = curl_slist_append(headers, "Content-Type: text/csv; charset=utf-8");
  if (gzip) headers = curl_slist_append(headers, "Content-Encoding: gzip");
  headers = curl_slist_append(headers, file_header.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  if (!options_.bearer_token.empty()) headers = curl_slist_append(headers, auth_header.c_str());

  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  if (options_.put) curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  if (!options_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (options_.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const auto timeout_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count();
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(timeout_ms, 1)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled);

  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);

  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return Status(Code::kAborted, fmt::format("upload of {} to {} cancelled", file_name, url));
  }
  if (rc != CURLE_OK) {
    const char* why = error[0] != '\0' ? error : curl_easy_strerror(rc);
    const Code code = rc == CURLE_OPERATION_TIMEDOUT ? Code::kTimeout : Code::kUnavailable;
    return Status(code, fmt::format("upload of {} to {} failed: {}", file_name, url, why));
  }
  if (status < 200 || status > 299) {
    // Every refusal, 4xx included, is retried by the sink (the server's configuration or limits
    // may be fixed while the data waits); the hint says what to check meanwhile.
    return Status(Code::kUnavailable,
                  fmt::format("upload of {} to {} answered HTTP {}: {}; {}", file_name, url, status,
                              excerpt(answer), http_status_hint(status)));
  }
  return Status::ok_status();
}

}  // namespace sluice::sinks::files
