// The webhook (control/webhook.h) against a real HTTP server on 127.0.0.1
// (tests/fixtures/http_receiver.h): delivery with body, headers and content type; retries of
// 5xx until delivered once; no retry of a 4xx; the error after the last retry when nothing
// listens; cancellation during the back-off.
#include "control/webhook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include "fixtures/http_receiver.h"
#include "fixtures/test_support.h"

namespace sluice::control {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr auto kDeadline = std::chrono::seconds(60);

WebhookOptions options_for(const std::string& url) {
  WebhookOptions o;
  o.url = url;
  o.backoff_initial = milliseconds(10);  // short waits: the tests count attempts, not time
  o.backoff_max = milliseconds(40);
  return o;
}

TEST(WebhookTest, PostDeliversBodyHeadersAndContentType) {
  testing::HttpReceiver receiver;
  WebhookOptions o = options_for(receiver.url("/hook"));
  o.headers = {{"X-Sluice-Rule", "overheat"}, {"Authorization", "Bearer t0k"}};
  Webhook hook(o);
  const std::string body = R"({"rule":"overheat","value":91.5})";
  Status st = hook.post(body, "application/json", {});
  ASSERT_TRUE(st.ok()) << st.to_string();
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/hook");
  EXPECT_EQ(requests[0].body, body);
  EXPECT_EQ(requests[0].header("content-type"), "application/json");
  EXPECT_EQ(requests[0].header("x-sluice-rule"), "overheat");
  EXPECT_EQ(requests[0].header("authorization"), "Bearer t0k");
  const WebhookStats s = hook.stats();
  EXPECT_EQ(s.attempts, 1u);
  EXPECT_EQ(s.successes, 1u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.retries, 0u);
}

TEST(WebhookTest, ServerErrorIsRetriedAndTheBodyDeliveredOnce) {
  testing::HttpReceiver receiver;
  receiver.script_statuses({500, 503, 200});
  Webhook hook(options_for(receiver.url("/hook")));
  Status st = hook.post("alarm", "text/plain", {});
  ASSERT_TRUE(st.ok()) << st.to_string();
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].answered, 500);
  EXPECT_EQ(requests[1].answered, 503);
  EXPECT_EQ(requests[2].answered, 200);  // delivered once: the last attempt, and no more
  for (const auto& r : requests) EXPECT_EQ(r.body, "alarm");
  const WebhookStats s = hook.stats();
  EXPECT_EQ(s.attempts, 3u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.successes, 1u);
  EXPECT_EQ(s.failures, 0u);
}

TEST(WebhookTest, TooManyRequestsAndRequestTimeoutAreRetried) {
  testing::HttpReceiver receiver;
  receiver.script_statuses({429, 408, 204});
  Webhook hook(options_for(receiver.url("/hook")));
  Status st = hook.post("x", "text/plain", {});
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(receiver.request_count(), 3u);
}

TEST(WebhookTest, BadRequestIsNotRetriedAndTheErrorSaysWhy) {
  testing::HttpReceiver receiver;
  receiver.set_status(400);
  Webhook hook(options_for(receiver.url("/hook")));
  Status st = hook.post("{", "application/json", {});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr(receiver.url("/hook")));
  EXPECT_THAT(st.message(), HasSubstr("HTTP 400"));
  EXPECT_THAT(st.message(), HasSubstr("receiver answers 400"));  // the start of the body
  EXPECT_THAT(st.message(), HasSubstr("not retried"));
  EXPECT_THAT(st.message(), HasSubstr("1 attempt"));
  EXPECT_EQ(receiver.request_count(), 1u);
  EXPECT_EQ(hook.stats().failures, 1u);
  EXPECT_EQ(hook.stats().retries, 0u);
}

TEST(WebhookTest, ServerThatKeepsFailingGivesUpAfterTheRetriesWithTheLastStatus) {
  testing::HttpReceiver receiver;
  receiver.set_status(503);
  WebhookOptions o = options_for(receiver.url("/hook"));
  o.retries = 2;
  Webhook hook(o);
  Status st = hook.post("x", "text/plain", {});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("HTTP 503"));
  EXPECT_THAT(st.message(), HasSubstr("3 attempts"));
  EXPECT_EQ(receiver.request_count(), 3u);
}

TEST(WebhookTest, ServerDownIsAnErrorAfterTheRetries) {
  const int port = testing::free_port();  // nothing listens there
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  Webhook hook(options_for(url));
  Status st = hook.post("x", "text/plain", {});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr(url));
  EXPECT_THAT(st.message(), HasSubstr("4 attempts"));  // 1 + retries (3)
  const WebhookStats s = hook.stats();
  EXPECT_EQ(s.attempts, 4u);
  EXPECT_EQ(s.retries, 3u);
  EXPECT_EQ(s.failures, 1u);
}

TEST(WebhookTest, CancellationWakesTheBackOffWaitAndGivesUp) {
  testing::HttpReceiver receiver;
  receiver.set_status(503);
  WebhookOptions o = options_for(receiver.url("/hook"));
  o.backoff_initial = std::chrono::hours(1);  // only a cancellation can end this wait
  o.backoff_max = std::chrono::hours(1);
  Webhook hook(o);
  std::atomic<bool> cancel{false};
  auto done = std::async(std::launch::async, [&] {
    return hook.post("x", "text/plain", [&] { return cancel.load(); });
  });
  ASSERT_TRUE(testing::eventually([&] { return receiver.request_count() == 1; }));
  cancel = true;
  ASSERT_EQ(done.wait_for(kDeadline), std::future_status::ready) << "the back-off did not wake";
  const Status st = done.get();
  EXPECT_EQ(st.code(), Code::kAborted) << st.to_string();
  EXPECT_THAT(st.message(), HasSubstr("cancelled"));
  EXPECT_EQ(receiver.request_count(), 1u);
  EXPECT_EQ(hook.stats().failures, 1u);
}

TEST(WebhookTest, BadOptionsAreRefusedBeforeAnyRequest) {
  EXPECT_THAT(check_webhook_options(WebhookOptions{.url = "ftp://x"}), HasSubstr("url"));
  WebhookOptions o;
  o.url = "http://127.0.0.1:1/";
  o.headers = {{"Bad Name", "v"}};
  EXPECT_THAT(check_webhook_options(o), HasSubstr("header 'Bad Name'"));
  o.headers = {{"X-A", "line\r\nbreak"}};
  EXPECT_THAT(check_webhook_options(o), HasSubstr("line break"));
  Webhook hook(o);
  EXPECT_EQ(hook.post("x", "text/plain", {}).code(), Code::kInvalidArgument);
  EXPECT_EQ(hook.stats().attempts, 0u);
}

}  // namespace
}  // namespace sluice::control
