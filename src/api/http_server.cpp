// The HTTP server (see http_server.h): one Asio io_context run by a few threads, an acceptor, and
// one session per connection on a strand of its own. A session reads a request with a size-limited
// parser, calls the handler, writes the answer, and goes on reading while the client keeps the
// connection alive.
#include "api/http_server.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <thread>
#include <type_traits>

namespace sluice::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr auto kHandshakeTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(60);

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void parse_query(std::string_view query, std::map<std::string, std::string>* out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key;
    std::string value;
    std::string k(pair.substr(0, eq));
    std::string v(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    std::replace(k.begin(), k.end(), '+', ' ');
    std::replace(v.begin(), v.end(), '+', ' ');
    if (!percent_decode(k, &key) || !percent_decode(v, &value)) continue;
    (*out)[key] = value;
  }
}

std::string json_error(int status, std::string_view message) {
  std::string escaped;
  for (const char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    escaped += c;
  }
  return fmt::format(R"({{"error":{{"status":{},"message":"{}"}}}})", status, escaped);
}

}  // namespace

bool percent_decode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)), acceptor_(io_) {}

  Status open() {
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(options_.address, ec);
    if (ec) {
      return invalid_argument(
          fmt::format("'{}' is not an IP address to listen on", options_.address));
    }
    if (!options_.cert_file.empty() || !options_.key_file.empty()) {
      if (options_.cert_file.empty() || options_.key_file.empty()) {
        return invalid_argument("HTTPS needs both a certificate file and a key file");
      }
      ssl_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      ssl_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
      ssl_->use_certificate_chain_file(options_.cert_file, ec);
      if (ec) {
        return invalid_argument(
            fmt::format("certificate file '{}': {}", options_.cert_file, ec.message()));
      }
      ssl_->use_private_key_file(options_.key_file, asio::ssl::context::pem, ec);
      if (ec) {
        return invalid_argument(fmt::format("key file '{}': {}", options_.key_file, ec.message()));
      }
    }
    const tcp::endpoint endpoint(address, options_.port);
    const auto failed = [&](std::string_view what) {
      return Status(Code::kUnavailable,
                    fmt::format("cannot listen on {}:{}: {}: {}", options_.address, options_.port,
                                what, ec.message()));
    };
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return failed("open");
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor_.bind(endpoint, ec);
    if (ec) return failed("bind");
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return failed("listen");
    port_ = acceptor_.local_endpoint().port();
    accept();
    const int threads = std::max(1, options_.threads);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
    return {};
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  uint16_t port() const { return port_; }
  bool tls() const { return ssl_ != nullptr; }
  HttpServerStats stats() const {
    return {connections_.load(), requests_.load(),  too_large_.load(),
            bad_.load(),         websockets_.load(), latency_.snapshot()};
  }

  // What a session needs from the server.
  const HttpServerOptions& options() const { return options_; }
  HttpResponse handle(const HttpRequest& request) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    const auto start = std::chrono::steady_clock::now();
    HttpResponse response;
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      // A handler that throws abandons this request only.
      response = HttpResponse{500, "application/json", json_error(500, e.what()), {}};
    }
    latency_.observe(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count());
    return response;
  }
  void count_too_large() { too_large_.fetch_add(1, std::memory_order_relaxed); }
  void count_websocket() { websockets_.fetch_add(1, std::memory_order_relaxed); }
  // The feed for an upgrade request, or its refusal.
  WebSocketOpen open_websocket(const HttpRequest& request) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (!options_.websocket) {
      return {nullptr, HttpResponse{404, "application/json",
                                    json_error(404, "no WebSocket here: " + request.path), {}}};
    }
    try {
      return options_.websocket(request);
    } catch (const std::exception& e) {
      return {nullptr, HttpResponse{500, "application/json", json_error(500, e.what()), {}}};
    }
  }
  void count_bad() { bad_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void accept();

  HttpServerOptions options_;
  HttpHandler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::unique_ptr<asio::ssl::context> ssl_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> too_large_{0};
  std::atomic<uint64_t> bad_{0};
  std::atomic<uint64_t> websockets_{0};
  LatencyHistogram latency_;
};

namespace {

// A WebSocket conversation after the upgrade: the feed's messages every poll interval, the
// client's text to the feed, a close when either side ends it or the client falls behind.
template <typename Stream>
class WebSocketSession : public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream&& stream, HttpServer::Impl& server, std::shared_ptr<WebSocketFeed> feed)
      : ws_(std::move(stream)),
        timer_(ws_.get_executor()),
        server_(server),
        feed_(std::move(feed)) {}

  void run(http::request<http::string_body> request) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& r) { r.set(http::field::server, "sluice"); }));
    ws_.read_message_max(64 * 1024);
    ws_.async_accept(request, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->server_.count_websocket();
      self->read();
      self->tick();
    });
  }

 private:
  void read() {
    ws_.async_read(in_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->closed_ = true;
        self->timer_.cancel();
        return;
      }
      self->feed_->on_message(beast::buffers_to_string(self->in_.data()));
      self->in_.consume(self->in_.size());
      self->read();
    });
  }

  void tick() {
    timer_.expires_after(server_.options().websocket_poll);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      for (std::string& m : self->feed_->poll()) self->out_.push_back(std::move(m));
      if (self->out_.size() > kMaxWebSocketBacklog) {
        self->closed_ = true;
        self->ws_.async_close(websocket::close_reason(websocket::close_code::policy_error,
                                                      "too slow: messages are piling up"),
                              [self](beast::error_code) {});
        return;
      }
      self->write();
      self->tick();
    });
  }

  void write() {
    if (writing_ || out_.empty() || closed_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(out_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->closed_ = true;
                        self->timer_.cancel();
                        return;
                      }
                      self->out_.pop_front();
                      self->write();
                    });
  }

  websocket::stream<Stream> ws_;
  asio::steady_timer timer_;
  HttpServer::Impl& server_;
  std::shared_ptr<WebSocketFeed> feed_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool closed_ = false;
};

// One connection: plain (beast::tcp_stream) or TLS (ssl_stream over it).
template <bool kTls>
class Session : public std::enable_shared_from_this<Session<kTls>> {
 public:
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

  template <typename... Args>
  Session(HttpServer::Impl& server, tcp::socket&& socket, Args&&... args)
      : server_(server), stream_(std::move(socket), std::forward<Args>(args)...) {
    boost::system::error_code ec;
    const tcp::endpoint peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) client_ = fmt::format("{}:{}", peer.address().to_string(), peer.port());
  }

  void run() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->read();
                              });
    } else {
      read();
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options().max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(server_.options().max_header_bytes));
    beast::get_lowest_layer(stream_).expires_after(server_.options().idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      server_.count_too_large();
      respond(HttpResponse{413,
                           "application/json",
                           json_error(413, fmt::format("the request body is over the limit of "
                                                       "{} bytes",
                                                       server_.options().max_body_bytes)),
                           {}},
              false);
      return;
    }
    if (ec == http::error::header_limit) {
      server_.count_too_large();
      respond(
          HttpResponse{
              431, "application/json", json_error(431, "the request headers are too large"), {}},
          false);
      return;
    }
    if (ec) {
      server_.count_bad();
      respond(HttpResponse{400,
                           "application/json",
                           json_error(400, "malformed HTTP request: " + ec.message()),
                           {}},
              false);
      return;
    }
    const http::request<http::string_body>& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.client = client_;
    const std::string_view target = req.target();
    const size_t q = target.find('?');
    if (!percent_decode(target.substr(0, q), &request.path)) {
      server_.count_bad();
      respond(HttpResponse{400,
                           "application/json",
                           json_error(400, "malformed percent-encoding in the path"),
                           {}},
              false);
      return;
    }
    if (q != std::string_view::npos) parse_query(target.substr(q + 1), &request.query);
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      request.headers[name] = std::string(field.value());
    }
    request.body = req.body();
    if (websocket::is_upgrade(req)) {
      WebSocketOpen open = server_.open_websocket(request);
      if (!open.feed) {
        respond(open.refusal, false);
        return;
      }
      std::make_shared<WebSocketSession<Stream>>(std::move(stream_), server_, std::move(open.feed))
          ->run(parser_->release());
      return;
    }
    respond(server_.handle(request), req.keep_alive());
  }

  void respond(const HttpResponse& r, bool keep_alive) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, "sluice");
    if (!r.content_type.empty()) response_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) response_.set(name, value);
    response_.body() = r.body;
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          self->close();
                        } else {
                          self->read();
                        }
                      });
  }

  void close() {
    boost::system::error_code ignored;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        boost::system::error_code ignore;
        beast::get_lowest_layer(self->stream_).socket().close(ignore);
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      // Read and drop what the client still sends (the rest of a refused body) for a moment
      // before closing: closing with unread data resets the connection, and on a reset the
      // client may lose the answer it was sent (a 413 would read as "connection reset").
      linger_.resize(64 * 1024);
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(1));
      drain();
    }
  }

  void drain() {
    stream_.async_read_some(asio::buffer(linger_), [self = this->shared_from_this()](
                                                       beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kMaxLingerBytes) {
        boost::system::error_code ignore;
        beast::get_lowest_layer(self->stream_).socket().close(ignore);
        return;
      }
      self->drain();
    });
  }

  HttpServer::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::string client_;
  // A closing connection's reads of what the client still sends (close()).
  static constexpr size_t kMaxLingerBytes = 16u << 20;
  std::string linger_;
  size_t drained_ = 0;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor_.async_accept(
      asio::make_strand(io_), [this](boost::system::error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec != asio::error::operation_aborted && acceptor_.is_open()) accept();
          return;
        }
        connections_.fetch_add(1, std::memory_order_relaxed);
        if (ssl_) {
          std::make_shared<Session<true>>(*this, std::move(socket), *ssl_)->run();
        } else {
          std::make_shared<Session<false>>(*this, std::move(socket))->run();
        }
        accept();
      });
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options,
                                                      HttpHandler handler) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  SLUICE_RETURN_IF_ERROR(impl->open());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { stop(); }
uint16_t HttpServer::port() const { return impl_->port(); }
bool HttpServer::tls() const { return impl_->tls(); }
void HttpServer::stop() { impl_->stop(); }
HttpServerStats HttpServer::stats() const { return impl_->stats(); }

}  // namespace sluice::api
