// libcurl POST of one SenML message to the device-platform adapter (see thing_client.h).
#include "sinks/channel/thing_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

namespace sluice::sinks::channel {
namespace {

constexpr size_t kKeptBodyBytes = 4096;  // how much of an answer's body is kept
constexpr size_t kShownBodyBytes = 200;  // how much of a body without a JSON error is shown

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

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancelled = static_cast<const std::function<bool()>*>(user);
  return (*cancelled && (*cancelled)()) ? 1 : 0;  // non-zero aborts the transfer
}

// The message of a Sluice error answer ({"error": {"message": ...}}), else the body's start.
std::string answer_message(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const nlohmann::json& e = j["error"];
    if (e.contains("message") && e["message"].is_string()) return e["message"];
  }
  std::string out;
  for (const char ch : std::string_view(body).substr(0, kShownBodyBytes)) {
    out.push_back((ch >= 0x20 && ch < 0x7f) ? ch : ' ');
  }
  if (body.size() > kShownBodyBytes) out += "...";
  return out.empty() ? "(empty body)" : out;
}

}  // namespace

struct ThingClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

ThingClient::ThingClient(ThingClientOptions options)
    : options_(std::move(options)), handle_(std::make_unique<Handle>()) {
  global_init();
}

ThingClient::~ThingClient() = default;

PostAnswer ThingClient::post(const std::string& url, std::string_view key, std::string_view body,
                             const std::function<bool()>& cancelled) {
  PostAnswer answer;
  if (handle_->curl == nullptr) {
    handle_->curl = curl_easy_init();
    if (handle_->curl == nullptr) {
      answer.message = "curl_easy_init failed";
      return answer;
    }
  }
  CURL* curl = handle_->curl;
  curl_easy_reset(curl);  // keeps the connection cache
  char error[CURL_ERROR_SIZE] = {};
  std::string received;
  const std::string auth = fmt::format("Authorization: Thing {}", key);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/senml+json");
  headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip

  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (options_.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const auto timeout_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count();
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(timeout_ms, 1)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled);

  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);

  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    answer.status = 0;
    answer.cancelled = true;
    answer.message = "cancelled (the sink is stopping)";
  } else if (rc != CURLE_OK) {
    answer.status = 0;
    answer.message = error[0] != '\0' ? error : curl_easy_strerror(rc);
  } else {
    answer.message = answer_message(received);
  }
  return answer;
}

}  // namespace sluice::sinks::channel
