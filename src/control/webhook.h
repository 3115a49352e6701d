// An HTTP webhook for outbound deliveries (the rules engine's notifications): post() sends one
// body with HTTP POST and returns once a 2xx answer came, or once it gave up. Answers that may
// get better by waiting (5xx, 429 Too Many Requests, 408 Request Timeout) and transport errors
// (refused, reset, timed out) are retried with a back-off that doubles from backoff_initial to
// backoff_max, up to `retries` more attempts; any other 4xx is final at once, since the same
// request would be refused again. The final error names the URL, the status (or the transport
// error), the start of the answer's body and the number of attempts.
//
// Uses libcurl's easy interface, without signals, one handle per post() so that posts from
// several threads do not share one (no connection reuse across calls: deliveries are not hot).
//
// Threads: post() and stats() may be called from any thread, concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::control {

struct WebhookOptions {
  std::string url;                             // http:// or https://
  std::map<std::string, std::string> headers;  // name → value, sent with every request
  std::chrono::milliseconds timeout{10'000};   // one attempt, connect to last byte
  int retries = 3;                             // attempts after the first, for retryable failures
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{10'000};
  std::string ca_file;  // CA bundle for https; "": the system's
  bool insecure_skip_verify = false;
};

// Checks the options: an http(s) URL without spaces, header names without ':' or line breaks,
// values without line breaks, retries >= 0, positive durations. "" if fine, else what is wrong.
std::string check_webhook_options(const WebhookOptions& options);

struct WebhookStats {
  uint64_t attempts = 0;   // HTTP requests made (or tried: a refused connect counts)
  uint64_t successes = 0;  // posts that ended with a 2xx answer
  uint64_t failures = 0;   // posts that gave up (final 4xx, out of retries, cancelled)
  uint64_t retries = 0;    // attempts after the first of a post
};

class Webhook {
 public:
  explicit Webhook(WebhookOptions options);
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  // POSTs `body` with the header "Content-Type: <content_type>" and the configured headers.
  // Returns ok on a 2xx answer. `cancelled` (may be empty) is asked during a transfer and during
  // a back-off wait, at least every 50 ms; once it returns true, post() gives up with kAborted.
  // Other errors: kInvalidArgument (bad options), kFailedPrecondition (a final 4xx),
  // kUnavailable (a 5xx, 429 or 408, or a transport error, after the last retry), kTimeout (the
  // last attempt timed out).
  Status post(std::string_view body, std::string_view content_type,
              const std::function<bool()>& cancelled);

  WebhookStats stats() const;
  const WebhookOptions& options() const { return options_; }

 private:
  const WebhookOptions options_;
  std::atomic<uint64_t> attempts_{0};
  std::atomic<uint64_t> successes_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> retries_{0};
};

}  // namespace sluice::control
