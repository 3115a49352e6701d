// The HTTP side of the `channel` sink: one SenML message becomes one POST to a central Sluice's
// device-platform adapter (api/platform_api.h), authenticated as a thing
// ("Authorization: Thing <key>"). The answer is returned as it came — the status and the
// message of its {"error": {"message": ...}} body — and the sink decides what it means. Uses
// libcurl's easy interface, one handle per client (the connection is kept between messages),
// without signals.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::sinks::channel {

struct ThingClientOptions {
  std::string ca_file;  // CA bundle for https; empty: the system's
  bool insecure_skip_verify = false;
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);  // whole request
};

struct PostAnswer {
  long status = 0;         // the HTTP status; 0: no answer (see `message`)
  bool cancelled = false;  // `cancelled` returned true during the transfer
  // The answer's error message (or the start of its body); without an answer, why not
  // ("Failed to connect to 127.0.0.1 port 1: Connection refused").
  std::string message;
};

// Not thread-safe: one client belongs to one sink thread.
class ThingClient {
 public:
  explicit ThingClient(ThingClientOptions options);
  ~ThingClient();
  ThingClient(const ThingClient&) = delete;
  ThingClient& operator=(const ThingClient&) = delete;

  // POSTs `body` (SenML JSON) to `url` with the thing's key. `cancelled` is polled during the
  // transfer; when it returns true the request is abandoned.
  PostAnswer post(const std::string& url, std::string_view key, std::string_view body,
                  const std::function<bool()>& cancelled);

 private:
  struct Handle;
  const ThingClientOptions options_;
  std::unique_ptr<Handle> handle_;
};

}  // namespace sluice::sinks::channel
