// HTTP(S) delivery for the `files` sink: one CSV file (plain or gzip) becomes one request to
// the configured URL, and only a 2xx answer counts as delivered. Any other answer or a transport
// error is a failure whose message names the URL, the status and the start of the answer's body,
// and what to check for that status (http_status_hint), so the sink's WARNING tells an
// operator what the server said and what to do. A 4xx answer is a failure like a 5xx: the sink
// retries it with the same back-off and never skips the file. Uses libcurl's easy interface,
// one handle per uploader (connections are reused between files), without signals.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::sinks::files {

struct HttpUploadOptions {
  std::string url;           // http:// or https://
  bool put = false;          // PUT to url/<file name> instead of POST to url
  std::string bearer_token;  // "Authorization: Bearer ..." when set
  std::string username;      // basic auth when set (with password)
  std::string password;
  std::string ca_file;  // CA bundle for https; empty: the system's
  bool insecure_skip_verify = false;
  std::chrono::nanoseconds timeout = std::chrono::seconds(60);  // whole request
};

// What an operator should check after a non-2xx answer with this status, e.g. for 401/403
// "check bearer_token or username and password", for 413 "lower max_rows_per_file".
std::string http_status_hint(long status);

// Checks the URL's scheme: empty string if fine, else what is wrong.
std::string check_upload_url(std::string_view url);

// Not thread-safe: one uploader belongs to one sink thread.
class HttpUploader {
 public:
  explicit HttpUploader(HttpUploadOptions options);
  ~HttpUploader();
  HttpUploader(const HttpUploader&) = delete;
  HttpUploader& operator=(const HttpUploader&) = delete;

  // The URL a file of this name goes to.
  std::string target_url(std::string_view file_name) const;

  // Sends `body` as the file `file_name` (header X-Sluice-File, so a receiver can deduplicate a
  // resend). `gzip`: the body is gzip-compressed CSV (Content-Encoding: gzip). `cancelled` is
  // polled during the transfer; when it returns true the upload is abandoned (kAborted).
  // Returns ok only on a 2xx answer.
  Status upload(std::string_view file_name, std::string_view body, bool gzip,
                const std::function<bool()>& cancelled);

 private:
  struct Handle;
  const HttpUploadOptions options_;
  std::unique_ptr<Handle> handle_;
};

}  // namespace sluice::sinks::files
