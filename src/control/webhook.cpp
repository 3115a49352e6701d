// The webhook: one libcurl easy handle per post(), attempts with a cancellable doubling back-off.
#include "control/webhook.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::control {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kErrorBodyBytes = 200;  // how much of a refused answer's body a message shows
constexpr size_t kKeptBodyBytes = 4096;  // how much of any answer's body is kept at all
// How often a back-off wait asks `cancelled`.
constexpr milliseconds kCancelPoll{20};

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t keep_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (body->size() < kKeptBodyBytes) {
    body->append(data, std::min(bytes, kKeptBodyBytes - body->size()));
  }
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
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

bool retryable_status(long status) { return status >= 500 || status == 429 || status == 408; }

std::string attempts_text(uint64_t n) { return fmt::format("{} attempt{}", n, n == 1 ? "" : "s"); }

// The outcome of one attempt.
struct Attempt {
  CURLcode rc = CURLE_OK;
  long status = 0;
  std::string error;   // libcurl's message when rc != CURLE_OK
  std::string answer;  // the first bytes of the answer's body
};

struct CurlHandle {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  ~CurlHandle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
  }
};

Attempt attempt_once(CurlHandle& h, const WebhookOptions& o, std::string_view body,
                     const std::function<bool()>& cancelled) {
  Attempt a;
  char error[CURL_ERROR_SIZE] = {};
  CURL* curl = h.curl;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_URL, o.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h.headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  if (!o.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.ca_file.c_str());
  if (o.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(o.timeout.count(), 1)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.answer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled);
  a.rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  if (a.rc != CURLE_OK) a.error = error[0] != '\0' ? error : curl_easy_strerror(a.rc);
  return a;
}

// Waits `wait`, or less if cancelled() turns true; returns false if cancelled.
bool backoff(milliseconds wait, const std::function<bool()>& cancelled) {
  const auto until = SteadyClock::now() + wait;
  while (true) {
    if (cancelled && cancelled()) return false;
    const auto now = SteadyClock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(until - now, kCancelPoll));
  }
}

}  // namespace

std::string check_webhook_options(const WebhookOptions& o) {
  const bool http = o.url.starts_with("http://") && o.url.size() > 7;
  const bool https = o.url.starts_with("https://") && o.url.size() > 8;
  if (!http && !https) return "url: expected an http:// or https:// URL";
  if (o.url.find_first_of(" \t\r\n") != std::string::npos) return "url: a URL has no spaces";
  for (const auto& [name, value] : o.headers) {
    if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos) {
      return fmt::format(
          "header '{}': a header name is not empty and has no ':', space or "
          "line break",
          name);
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      return fmt::format("header '{}': a header value has no line break", name);
    }
  }
  if (o.retries < 0) return "retries: expected 0 or more";
  if (o.timeout.count() <= 0) return "timeout: expected more than 0";
  if (o.backoff_initial.count() <= 0 || o.backoff_max < o.backoff_initial) {
    return "backoff: expected 0 < backoff_initial <= backoff_max";
  }
  return "";
}

Webhook::Webhook(WebhookOptions options) : options_(std::move(options)) { global_init(); }

WebhookStats Webhook::stats() const {
  return WebhookStats{attempts_.load(), successes_.load(), failures_.load(), retries_.load()};
}

Status Webhook::post(std::string_view body, std::string_view content_type,
                     const std::function<bool()>& cancelled) {
  if (std::string bad = check_webhook_options(options_); !bad.empty()) {
    failures_.fetch_add(1);
    return invalid_argument("webhook: " + bad);
  }
  CurlHandle h;
  if (h.curl == nullptr) {
    failures_.fetch_add(1);
    return internal_error("webhook: curl_easy_init failed");
  }
  h.headers = curl_slist_append(h.headers, fmt::format("Content-Type: {}", content_type).c_str());
  h.headers = curl_slist_append(h.headers, "Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : options_.headers) {
    h.headers = curl_slist_append(h.headers, fmt::format("{}: {}", name, value).c_str());
  }

  const std::string& url = options_.url;
  milliseconds wait = options_.backoff_initial;
  uint64_t made = 0;
  const auto give_up = [&](Code code, std::string why) {
    failures_.fetch_add(1);
    return Status(code, fmt::format("webhook POST to {} {} ({})", url, why, attempts_text(made)));
  };
  while (true) {
    attempts_.fetch_add(1);
    if (made > 0) retries_.fetch_add(1);
    ++made;
    const Attempt a = attempt_once(h, options_, body, cancelled);
    if (a.rc == CURLE_ABORTED_BY_CALLBACK) return give_up(Code::kAborted, "cancelled");
    if (a.rc == CURLE_OK && a.status >= 200 && a.status <= 299) {
      successes_.fetch_add(1);
      return Status::ok_status();
    }
    const bool transport = a.rc != CURLE_OK;
    if (!transport && !retryable_status(a.status)) {
      return give_up(Code::kFailedPrecondition,
                     fmt::format("answered HTTP {}: {}; not retried: the server refuses this "
                                 "request as it is (check the url, headers and body)",
                                 a.status, excerpt(a.answer)));
    }
    if (made > static_cast<uint64_t>(options_.retries)) {
      if (transport) {
        return give_up(a.rc == CURLE_OPERATION_TIMEDOUT ? Code::kTimeout : Code::kUnavailable,
                       "failed: " + a.error);
      }
      return give_up(Code::kUnavailable,
                     fmt::format("answered HTTP {}: {}", a.status, excerpt(a.answer)));
    }
    if (!backoff(wait, cancelled)) return give_up(Code::kAborted, "cancelled");
    wait = std::min(wait * 2, options_.backoff_max);
  }
}

}  // namespace sluice::control
