// The MQTT client connection over Boost.Asio (TCP, or TLS with OpenSSL). Every asynchronous
// operation runs only inside connect(), subscribe(), next() and disconnect(), on the owner's
// thread (io_context::run_one_for), so the connection needs no locks; wake() only posts.
#include "protocols/mqtt/connection.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <deque>

namespace sluice::mqtt {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
// Of a PUBLISH over max_packet_bytes, this much is kept: the topic (at most 65535 bytes), the
// packet id and the properties that precede the payload.
constexpr size_t kTruncatedKeep = 128 * 1024;
// How often a wait inside connect()/subscribe() looks at the stop token.
constexpr auto kStopPoll = std::chrono::milliseconds(100);

Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
Status cancelled(std::string m) { return {Code::kAborted, std::move(m)}; }

std::string describe_error(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    return "the broker closed the connection";
  }
  if (ec == asio::error::connection_refused) return "connection refused (is the broker running?)";
  if (ec == asio::error::connection_reset) return "the broker reset the connection";
  return ec.message();
}

}  // namespace

class Connection::Impl {
 public:
  explicit Impl(ConnectionOptions options)
      : options_(std::move(options)), work_(asio::make_work_guard(io_)) {
    rbuf_.resize(kReadChunk);
  }
  ~Impl() { close(); }

  std::string endpoint() const { return fmt::format("{}:{}", options_.host, options_.port); }

  Result<Connack> connect(const std::stop_token& stop) {
    const auto deadline = SteadyClock::now() + options_.timeout;
    const std::string ep = endpoint();
    const auto timed_out = [&] {
      return unavailable(fmt::format("cannot connect to {}: no answer within {}s", ep,
                                     options_.timeout.count() / 1000.0));
    };

    // Resolve.
    auto resolved = std::make_shared<Op<tcp::resolver::results_type>>();
    tcp::resolver resolver(io_);
    resolver.async_resolve(
        options_.host, std::to_string(options_.port),
        [resolved](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          resolved->finish(ec, std::move(results));
        });
    Status st = run_until(resolved->done, deadline, stop);
    if (!st.ok()) {
      resolver.cancel();
      return st.code() == Code::kAborted ? st : timed_out();
    }
    if (resolved->ec) {
      return unavailable(fmt::format("cannot connect to {}: cannot resolve '{}': {}", ep,
                                     options_.host, resolved->ec.message()));
    }

    // TCP (and TLS) connect.
    if (options_.tls) {
      SLUICE_RETURN_IF_ERROR(make_tls_context());
      tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(io_, *ssl_ctx_);
    } else {
      tcp_ = std::make_unique<tcp::socket>(io_);
    }
    auto connected = std::make_shared<Op<tcp::endpoint>>();
    asio::async_connect(lowest(), resolved->value,
                        [connected](const boost::system::error_code& ec, const tcp::endpoint& e) {
                          connected->finish(ec, e);
                        });
    st = run_until(connected->done, deadline, stop);
    if (!st.ok()) {
      close();
      return st.code() == Code::kAborted ? st : timed_out();
    }
    if (connected->ec) {
      close();
      return unavailable(
          fmt::format("cannot connect to {}: {}", ep, describe_error(connected->ec)));
    }
    boost::system::error_code ignored;
    lowest().set_option(tcp::no_delay(true), ignored);

    if (tls_) {
      SLUICE_RETURN_IF_ERROR(prepare_tls_stream());
      auto shaken = std::make_shared<Op<int>>();
      tls_->async_handshake(
          asio::ssl::stream_base::client,
          [shaken](const boost::system::error_code& ec) { shaken->finish(ec, 0); });
      st = run_until(shaken->done, deadline, stop);
      if (!st.ok()) {
        close();
        return st.code() == Code::kAborted ? st : timed_out();
      }
      if (shaken->ec) {
        close();
        std::string why = verify_error_.empty() ? shaken->ec.message() : verify_error_;
        std::string hint;
        if (!verify_error_.empty() ||
            shaken->ec.message().find("certificate verify failed") != std::string::npos) {
          hint =
              "; the broker's certificate is not trusted: check ca_file, or set "
              "insecure_skip_verify = true to skip the check";
        }
        return unavailable(
            fmt::format("cannot connect to {}: TLS handshake failed: {}{}", ep, why, hint));
      }
    }

    // CONNECT → CONNACK.
    last_sent_ = SteadyClock::now();
    send(encode_connect(options_.connect));
    while (true) {
      const auto left = deadline - SteadyClock::now();
      if (left <= SteadyClock::duration::zero()) {
        close();
        return unavailable(fmt::format("no CONNACK from {} within {}s: is it an MQTT broker?", ep,
                                       options_.timeout.count() / 1000.0));
      }
      if (stop.stop_requested()) {
        close();
        return cancelled("stopping");
      }
      Result<std::optional<Packet>> p =
          next(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(left), kStopPoll));
      if (!p.ok()) {
        close();
        return unavailable(fmt::format("cannot connect to {}: {}", ep, p.status().message()));
      }
      if (!p->has_value()) continue;
      const Packet& packet = **p;
      if (packet.header.type != PacketType::kConnack) {
        close();
        return unavailable(fmt::format("{} answered CONNECT with {}, not CONNACK", ep,
                                       packet_type_name(packet.header.type)));
      }
      Result<Connack> ack = decode_connack(version(), packet.header, packet.body);
      if (!ack.ok()) {
        close();
        return unavailable(fmt::format("{}: {}", ep, ack.status().message()));
      }
      if (ack->code != 0) {
        close();
        std::string why = reason_text(version(), ack->code);
        if (!ack->reason_string.empty()) why += " (" + ack->reason_string + ")";
        return unavailable(fmt::format("connection refused by {}: {}", ep, why));
      }
      keep_alive_ =
          std::chrono::seconds(ack->server_keep_alive.value_or(options_.connect.keep_alive_s));
      return std::move(ack).value();
    }
  }

  Result<std::vector<uint8_t>> subscribe(const std::vector<Subscription>& subs,
                                         const std::stop_token& stop) {
    constexpr uint16_t kSubscribeId = 1;  // the only packet id this client ever sends
    send(encode_subscribe(version(), kSubscribeId, subs));
    const auto deadline = SteadyClock::now() + options_.timeout;
    while (true) {
      const auto left = deadline - SteadyClock::now();
      if (left <= SteadyClock::duration::zero()) {
        return unavailable(fmt::format("no SUBACK from {} within {}s", endpoint(),
                                       options_.timeout.count() / 1000.0));
      }
      if (stop.stop_requested()) return cancelled("stopping");
      Result<std::optional<Packet>> p = next_from_wire(
          std::min(std::chrono::duration_cast<std::chrono::milliseconds>(left), kStopPoll));
      SLUICE_RETURN_IF_ERROR(p.status());
      if (!p->has_value()) continue;
      const Packet& packet = **p;
      if (packet.header.type != PacketType::kSuback) {
        // A session's queued messages may come before the SUBACK: keep them for next().
        held_.push_back(Held{packet.header, std::string(packet.body), packet.truncated});
        continue;
      }
      SLUICE_ASSIGN_OR_RETURN(Suback ack, decode_suback(version(), packet.header, packet.body));
      if (ack.codes.size() != subs.size()) {
        return corruption(fmt::format("{} answered {} subscription(s) with {} code(s)", endpoint(),
                                      subs.size(), ack.codes.size()));
      }
      return std::move(ack.codes);
    }
  }

  Result<std::optional<Packet>> next(std::chrono::milliseconds timeout) {
    if (!held_.empty()) {
      in_pos_ += consumed_;
      consumed_ = 0;
      current_held_ = std::move(held_.front());
      held_.pop_front();
      return std::optional<Packet>(
          Packet{current_held_.header, current_held_.body, current_held_.truncated});
    }
    return next_from_wire(timeout);
  }

  // next() without the packets held by subscribe().
  Result<std::optional<Packet>> next_from_wire(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    in_pos_ += consumed_;
    consumed_ = 0;
    while (true) {
      if (!failure_.empty()) return unavailable(failure_);
      compact();
      Result<std::optional<Packet>> framed = frame();
      if (!framed.ok()) {
        fail(framed.status().message());
        return framed.status();
      }
      if (framed->has_value()) {
        if ((*framed)->header.type != PacketType::kPingresp) return framed;
        // Consumed here, not by the caller's next next(): without this the same PINGRESP would
        // be framed again and again (a busy loop once the first keep-alive ping was answered).
        in_pos_ += consumed_;
        consumed_ = 0;
        ping_outstanding_ = false;
        continue;
      }
      const auto now = SteadyClock::now();
      auto wake_at = deadline;
      if (keep_alive_.count() > 0 && tcp_or_tls_open()) {
        if (ping_outstanding_ && now - ping_sent_ >= keep_alive_) {
          fail(fmt::format("no answer from {} to a keep-alive ping within {}s", endpoint(),
                           keep_alive_.count()));
          continue;
        }
        if (!ping_outstanding_ && now - last_sent_ >= keep_alive_) {
          send(encode_pingreq());
          ping_outstanding_ = true;
          ping_sent_ = now;
        }
        wake_at = std::min(wake_at,
                           ping_outstanding_ ? ping_sent_ + keep_alive_ : last_sent_ + keep_alive_);
      }
      pump();
      if (woken_.exchange(false)) return std::optional<Packet>{};
      if (now >= deadline) return std::optional<Packet>{};
      io_.run_one_for(std::max<SteadyClock::duration>(wake_at - now, std::chrono::microseconds(1)));
    }
  }

  void send(std::string bytes) {
    if (out_.empty()) {
      out_ = std::move(bytes);
    } else {
      out_ += bytes;
    }
  }

  size_t pending_send_bytes() const { return out_.size() + writing_buf_.size(); }

  void wake() {
    asio::post(io_, [this] { woken_.store(true); });
  }

  void disconnect(std::chrono::milliseconds timeout) {
    if (tcp_or_tls_open() && failure_.empty()) {
      send(encode_disconnect(version()));
      const auto deadline = SteadyClock::now() + timeout;
      while (failure_.empty() && (writing_ || !out_.empty()) && SteadyClock::now() < deadline) {
        pump();
        io_.run_one_for(std::chrono::milliseconds(10));
      }
      // Then wait (briefly) for the broker to close its side, as it does once it read the
      // DISCONNECT. Closing while its last packets (a PUBREL, say) are unread would reset the
      // connection, and on a reset the broker may drop what we sent just before: our last
      // acknowledgements, so it would send those messages again.
      const auto linger = std::min(deadline, SteadyClock::now() + std::chrono::seconds(1));
      while (failure_.empty() && SteadyClock::now() < linger) {
        pump();
        io_.run_one_for(std::chrono::milliseconds(10));
        in_.clear();
      }
    }
    close();
  }

  Version version() const { return options_.connect.version; }

 private:
  // The result of one asynchronous operation, shared with its handler so that a handler that
  // runs after the waiting function gave up touches nothing that is gone.
  template <typename T>
  struct Op {
    bool done = false;
    boost::system::error_code ec;
    T value{};
    void finish(const boost::system::error_code& e, T v) {
      done = true;
      ec = e;
      value = std::move(v);
    }
  };
  struct Held {
    FixedHeader header;
    std::string body;
    bool truncated = false;
  };
  struct Oversized {
    FixedHeader header;
    std::string kept;
    uint64_t left = 0;  // body bytes still to read
  };

  Status run_until(const bool& done, SteadyClock::time_point deadline,
                   const std::stop_token& stop) {
    while (!done) {
      if (stop.stop_requested()) return cancelled("stopping");
      const auto now = SteadyClock::now();
      if (now >= deadline) return Status(Code::kTimeout, "timed out");
      io_.run_one_for(std::min<SteadyClock::duration>(deadline - now, kStopPoll));
    }
    return {};
  }

  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : *tcp_; }
  bool tcp_or_tls_open() const {
    return (tcp_ && tcp_->is_open()) || (tls_ && tls_->next_layer().is_open());
  }

  Status make_tls_context() {
    const TlsOptions& t = *options_.tls;
    ssl_ctx_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ssl_ctx_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (t.insecure_skip_verify) {
      ssl_ctx_->set_verify_mode(asio::ssl::verify_none);
    } else {
      ssl_ctx_->set_verify_mode(asio::ssl::verify_peer);
      if (t.ca_file.empty()) {
        ssl_ctx_->set_default_verify_paths(ec);
      } else {
        ssl_ctx_->load_verify_file(t.ca_file, ec);
        if (ec) {
          return invalid_argument(
              fmt::format("ca_file '{}': cannot load it: {}", t.ca_file, ec.message()));
        }
      }
    }
    if (!t.cert_file.empty()) {
      ssl_ctx_->use_certificate_chain_file(t.cert_file, ec);
      if (ec) {
        return invalid_argument(
            fmt::format("cert_file '{}': cannot load it: {}", t.cert_file, ec.message()));
      }
      ssl_ctx_->use_private_key_file(t.key_file, asio::ssl::context::pem, ec);
      if (ec) {
        return invalid_argument(
            fmt::format("key_file '{}': cannot load it: {}", t.key_file, ec.message()));
      }
    }
    return {};
  }

  Status prepare_tls_stream() {
    boost::system::error_code ec;
    (void)asio::ip::make_address(options_.host, ec);
    const bool is_ip = !ec;
    if (!is_ip && SSL_set_tlsext_host_name(tls_->native_handle(), options_.host.c_str()) != 1) {
      return internal_error(fmt::format("cannot set the TLS server name '{}'", options_.host));
    }
    if (!options_.tls->insecure_skip_verify) {
      tls_->set_verify_callback([this, check = asio::ssl::host_name_verification(options_.host)](
                                    bool preverified, asio::ssl::verify_context& vc) mutable {
        const bool ok = check(preverified, vc);
        if (!ok && verify_error_.empty()) {
          if (preverified) {
            verify_error_ = fmt::format(
                "certificate verify failed: the certificate is not for '{}'", options_.host);
          } else {
            const int err = X509_STORE_CTX_get_error(vc.native_handle());
            verify_error_ =
                fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(err));
          }
        }
        return ok;
      });
    }
    return {};
  }

  void close() {
    boost::system::error_code ignored;
    if (tcp_) tcp_->close(ignored);
    if (tls_) tls_->next_layer().close(ignored);
  }

  void fail(std::string why) {
    if (failure_.empty()) failure_ = std::move(why);
    close();
  }

  // Starts the read and the write that should be in flight.
  void pump() {
    if (!failure_.empty() || !tcp_or_tls_open()) return;
    if (!reading_) {
      reading_ = true;
      auto on_read = [this](const boost::system::error_code& ec, size_t n) {
        reading_ = false;
        if (ec) {
          if (ec != asio::error::operation_aborted) fail(describe_error(ec));
          return;
        }
        in_.append(rbuf_.data(), n);
      };
      if (tls_) {
        tls_->async_read_some(asio::buffer(rbuf_), on_read);
      } else {
        tcp_->async_read_some(asio::buffer(rbuf_), on_read);
      }
    }
    if (!writing_ && !out_.empty()) {
      writing_ = true;
      writing_buf_.swap(out_);
      out_.clear();
      last_sent_ = SteadyClock::now();
      auto on_write = [this](const boost::system::error_code& ec, size_t) {
        writing_ = false;
        writing_buf_.clear();
        if (ec && ec != asio::error::operation_aborted) {
          fail(fmt::format("cannot send to {}: {}", endpoint(), describe_error(ec)));
        }
      };
      if (tls_) {
        asio::async_write(*tls_, asio::buffer(writing_buf_), on_write);
      } else {
        asio::async_write(*tcp_, asio::buffer(writing_buf_), on_write);
      }
    }
  }

  void compact() {
    if (in_pos_ == 0) return;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    } else if (in_pos_ > in_.size() / 2) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
  }

  // The next complete packet in in_, if there is one; consumed_ says how much it takes.
  Result<std::optional<Packet>> frame() {
    while (true) {
      const std::string_view avail = std::string_view(in_).substr(in_pos_);
      if (oversized_) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(oversized_->left, avail.size()));
        if (oversized_->kept.size() < kTruncatedKeep) {
          oversized_->kept.append(
              avail.substr(0, std::min(n, kTruncatedKeep - oversized_->kept.size())));
        }
        in_pos_ += n;
        oversized_->left -= n;
        if (oversized_->left > 0) return std::optional<Packet>{};
        current_held_ = Held{oversized_->header, std::move(oversized_->kept), true};
        oversized_.reset();
        return std::optional<Packet>(Packet{current_held_.header, current_held_.body, true});
      }
      SLUICE_ASSIGN_OR_RETURN(std::optional<FixedHeader> header, read_fixed_header(avail));
      if (!header) return std::optional<Packet>{};
      if (header->remaining_length > options_.max_packet_bytes) {
        if (header->type != PacketType::kPublish) {
          return corruption(fmt::format("{} sent a {} packet of {} bytes, over the limit of {}",
                                        endpoint(), packet_type_name(header->type),
                                        header->remaining_length, options_.max_packet_bytes));
        }
        oversized_ = Oversized{*header, {}, header->remaining_length};
        in_pos_ += header->header_bytes;
        continue;
      }
      const size_t total = header->header_bytes + header->remaining_length;
      if (avail.size() < total) return std::optional<Packet>{};
      consumed_ = total;
      return std::optional<Packet>(
          Packet{*header, avail.substr(header->header_bytes, header->remaining_length), false});
    }
  }

  ConnectionOptions options_;
  asio::io_context io_;  // declared before the sockets: destroyed after them
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<asio::ssl::context> ssl_ctx_;
  std::unique_ptr<tcp::socket> tcp_;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
  std::string verify_error_;  // the first certificate check that failed

  std::vector<char> rbuf_;
  std::string in_;  // bytes read, from in_pos_ not yet framed
  size_t in_pos_ = 0;
  size_t consumed_ = 0;  // of the packet last returned; dropped at the next next()
  bool reading_ = false;
  std::optional<Oversized> oversized_;
  std::deque<Held> held_;  // packets that arrived while subscribe() waited
  Held current_held_;      // storage of the last packet returned from held_ or oversized_

  std::string out_;          // queued, not yet being written
  std::string writing_buf_;  // being written
  bool writing_ = false;

  std::string failure_;  // set once the connection is lost
  std::atomic<bool> woken_{false};

  std::chrono::seconds keep_alive_{0};
  SteadyClock::time_point last_sent_{};
  SteadyClock::time_point ping_sent_{};
  bool ping_outstanding_ = false;
};

Connection::Connection(ConnectionOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
Connection::~Connection() = default;

Result<Connack> Connection::connect(const std::stop_token& stop) { return impl_->connect(stop); }
Result<std::vector<uint8_t>> Connection::subscribe(const std::vector<Subscription>& subscriptions,
                                                   const std::stop_token& stop) {
  return impl_->subscribe(subscriptions, stop);
}
Result<std::optional<Packet>> Connection::next(std::chrono::milliseconds timeout) {
  return impl_->next(timeout);
}
void Connection::send(std::string bytes) { impl_->send(std::move(bytes)); }
size_t Connection::pending_send_bytes() const { return impl_->pending_send_bytes(); }
void Connection::wake() { impl_->wake(); }
void Connection::disconnect(std::chrono::milliseconds timeout) { impl_->disconnect(timeout); }
Version Connection::version() const { return impl_->version(); }
std::string Connection::endpoint() const { return impl_->endpoint(); }

}  // namespace sluice::mqtt
