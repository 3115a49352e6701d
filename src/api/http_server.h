// The HTTP/1.1 server under the REST API and the web UI: Boost.Beast over Asio, keep-alive,
// optional TLS (certificate and key files), request size limits, idle timeouts. It knows
// nothing of Sluice: every complete request goes to one Handler, whose answer it writes.
//
// Threads: `threads` Asio threads run the connections; the handler is called on them, so it
// must be thread-safe and should not block for long (a long operation blocks one connection).
// start() and stop() are called by the owner's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/histogram.h"
#include "core/status.h"

namespace sluice::api {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // as sent: path and query
  std::string path;                            // percent-decoded path, without the query
  std::map<std::string, std::string> query;    // decoded query parameters (last one wins)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string client;  // "address:port" of the peer

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A server-push WebSocket conversation (e.g. live samples). The server calls poll() on its own
// thread every `websocket_poll` and sends what it returns as text frames, in order; text the
// client sends goes to on_message(). A client that cannot keep up (more than
// kMaxWebSocketBacklog messages waiting) is disconnected rather than buffered without bound.
class WebSocketFeed {
 public:
  virtual ~WebSocketFeed() = default;
  virtual std::vector<std::string> poll() = 0;
  virtual void on_message(std::string_view text) { (void)text; }
};
inline constexpr size_t kMaxWebSocketBacklog = 256;

// The answer to an upgrade request: a feed to accept it, or (feed null) the HTTP answer that
// refuses it (401, 403, 404, 400...).
struct WebSocketOpen {
  std::shared_ptr<WebSocketFeed> feed;
  HttpResponse refusal;
};
using WebSocketHandler = std::function<WebSocketOpen(const HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // loopback unless the operator says otherwise
  uint16_t port = 8080;               // 0: a free port (tests)
  std::string cert_file;              // both set: HTTPS
  std::string key_file;
  size_t max_body_bytes = 1u << 20;  // larger bodies get 413
  size_t max_header_bytes = 16u << 10;
  std::chrono::seconds idle_timeout{60};  // a keep-alive connection idle this long is closed
  int threads = 2;
  // Upgrade requests (Connection: Upgrade, Upgrade: websocket) go here; none: answered 404.
  WebSocketHandler websocket;
  std::chrono::milliseconds websocket_poll{250};
};

// Counters of the server (for /metrics); thread-safe snapshot.
struct HttpServerStats {
  uint64_t connections = 0;
  uint64_t requests = 0;
  uint64_t rejected_too_large = 0;  // 413 answered by the server itself
  uint64_t bad_requests = 0;        // unparsable requests (400 by the server itself)
  uint64_t websockets = 0;          // WebSocket conversations accepted
  LatencyHistogram::Snapshot latency;  // from the whole request read to the answer made
};

class HttpServer {
 public:
  // Binds and starts serving. Fails with a clear message if the address cannot be bound (in
  // use, not an address of this host) or the certificate or key cannot be loaded.
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  bool tls() const;
  // Stops accepting, closes every connection, joins the threads. Idempotent.
  void stop();
  HttpServerStats stats() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-decodes a URL component ("+" stays "+"); false if an escape is malformed.
bool percent_decode(std::string_view in, std::string* out);

}  // namespace sluice::api
