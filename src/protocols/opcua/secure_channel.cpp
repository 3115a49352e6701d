// The client's secure channel (see secure_channel.h): one Asio I/O thread runs the handshake
// and the reader as C++20 coroutines, the writes from a queue, and a timer per outstanding call
// and for the token renewal. Everything below "I/O thread only" is touched by that thread
// alone; what the accessors read is guarded by mu_.
#include "protocols/opcua/secure_channel.h"

// GCC 12 warns falsely about Asio's coroutine frame allocator (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace sluice::opcua {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// How long close() lets the CloseSecureChannel message take to be written.
constexpr milliseconds kCloseWriteWait{1000};
// The share of a token's lifetime after which it is renewed, and the grace the old token keeps
// after its lifetime (Part 4, 5.5.2: clients renew at 75 %; servers accept 25 % beyond).
constexpr int kRenewPercent = 75;
constexpr int kGracePercent = 25;

int64_t now_ticks() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return unix_ns_to_datetime(ns);
}

Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }

}  // namespace

Result<EndpointAddress> parse_endpoint_url(std::string_view url) {
  constexpr std::string_view kScheme = "opc.tcp://";
  if (url.substr(0, kScheme.size()) != kScheme)
    return invalid_argument("endpoint URL '" + std::string(url) +
                            "' does not start with opc.tcp://");
  std::string_view rest = url.substr(kScheme.size());
  EndpointAddress a;
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) a.path = std::string(rest.substr(slash));
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return invalid_argument("endpoint URL '" + std::string(url) + "': unclosed [ in the host");
    a.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return invalid_argument("endpoint URL '" + std::string(url) + "': junk after the host");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    a.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (a.host.empty())
    return invalid_argument("endpoint URL '" + std::string(url) + "' has no host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return invalid_argument("endpoint URL '" + std::string(url) + "': bad port '" +
                              std::string(port) + "'");
    a.port = static_cast<uint16_t>(value);
  }
  return a;
}

class SecureChannel::Impl {
 public:
  explicit Impl(SecureChannelConfig config) : config_(std::move(config)) {
    if (!config_.server_certificate.empty()) {
      auto cert = Certificate::from_der(config_.server_certificate);
      if (cert.ok()) {
        server_cert_ = std::move(cert).value();
      } else {
        config_error_ = cert.status().with_context("server certificate");
      }
    }
  }

  ~Impl() { close(); }

  Status open();
  void close();
  void call_async(Bytes request, Callback done, milliseconds timeout);
  Result<Bytes> call(std::string_view request, milliseconds timeout);

  Status status() const {
    std::lock_guard l(mu_);
    return status_;
  }
  ChannelInfo info() const {
    std::lock_guard l(mu_);
    return info_;
  }
  Bytes client_nonce() const {
    std::lock_guard l(mu_);
    return client_nonce_;
  }
  Bytes server_nonce() const {
    std::lock_guard l(mu_);
    return server_nonce_;
  }

  const SecureChannelConfig& config() const { return config_; }
  const Certificate& server_certificate() const { return server_cert_; }

 private:
  struct Token {
    uint32_t id = 0;
    uasc::ChannelKeys keys;
    Clock::time_point expires;
  };
  struct Pending {
    Callback done;
    std::unique_ptr<asio::steady_timer> timer;
  };
  struct RawChunk {
    uasc::TransportHeader header;
    Bytes bytes;
  };

  Status validate_config() const;
  std::string where() const { return config_.endpoint_url; }
  bool secured() const { return config_.policy != SecurityPolicy::kNone; }

  // --- I/O thread only ---
  awaitable<Status> handshake();
  awaitable<Result<RawChunk>> read_chunk();
  awaitable<Status> write_all(const Bytes& bytes);
  void arm_watchdog(milliseconds timeout);
  // Starts the reader and the renewal after a good handshake; the result of open().
  Status on_open_done(const Status& s);
  awaitable<void> read_loop();
  Status handle_chunk(RawChunk chunk);
  Status handle_open_response(const RawChunk& chunk);
  Status handle_message(const RawChunk& chunk);
  Status error_status(const Bytes& bytes, std::string_view during);
  uasc::AsymmetricContext asymmetric_context(uint32_t channel_id) const;
  uasc::SymmetricContext sending_context() const;
  const uasc::SymmetricKeys* receiving_keys(uint32_t token_id) const;
  Result<Bytes> build_open_request(uasc::RequestType type, uint32_t request_id, const Bytes& nonce);
  Status install_token(const uasc::OpenResponse& response, const Bytes& client_nonce);
  void schedule_renewal();
  void start_renewal();
  void start_call(Bytes request, Callback done, milliseconds timeout);
  void enqueue(Bytes chunk);
  void start_write();
  void fail(const Status& s, bool close_socket = true);
  void close_on_io();
  // The I/O thread was started (and is not joined until closing_ is set).
  bool started_io() const { return io_started_.load(); }
  uint32_t take_request_id() {
    uint32_t id = next_request_id_++;
    if (next_request_id_ == 0) next_request_id_ = 1;
    return id;
  }
  uint32_t take_sequence_number() {
    uint32_t s = next_sequence_;
    next_sequence_ = uasc::next_sequence_number(next_sequence_);
    return s;
  }

  SecureChannelConfig config_;
  Certificate server_cert_;
  Status config_error_;
  EndpointAddress address_;

  asio::io_context ioc_;
  tcp::resolver resolver_{ioc_};
  tcp::socket socket_{ioc_};
  asio::steady_timer watchdog_{ioc_};
  asio::steady_timer renew_timer_{ioc_};
  asio::steady_timer renew_deadline_{ioc_};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;  // the I/O thread; started and joined under lifecycle_mu_
  std::atomic<std::thread::id> io_thread_id_{};
  std::atomic<bool> io_started_{false};

  std::mutex lifecycle_mu_;  // serializes open()'s start and close()
  bool started_ = false;     // guarded by lifecycle_mu_
  // Set once, under post_mu_: nothing is posted to the I/O thread after it, so that what was
  // posted before it is sure to run before the I/O thread ends.
  std::mutex post_mu_;
  std::atomic<bool> closing_{false};
  bool on_io_thread() const { return std::this_thread::get_id() == io_thread_id_.load(); }

  mutable std::mutex mu_;
  Status status_ = failed_precondition("the secure channel is not open yet");  // guarded by mu_
  ChannelInfo info_;                                                           // guarded by mu_
  Bytes client_nonce_;                                                         // guarded by mu_
  Bytes server_nonce_;                                                         // guarded by mu_

  // I/O thread only.
  bool watchdog_fired_ = false;
  bool established_ = false;
  bool broken_ = false;
  bool closed_on_io_ = false;
  bool close_after_write_ = false;  // close the socket once the queue is written (CLO)
  size_t send_chunk_size_ = 0;
  TransportLimits server_limits_;
  uint32_t channel_id_ = 0;
  std::optional<Token> current_;
  std::optional<Token> previous_;
  uint32_t next_sequence_ = 1;
  uint32_t next_request_id_ = 1;
  uasc::SequenceChecker sequence_checker_;
  std::optional<uasc::MessageAssembler> assembler_;
  std::unordered_map<uint32_t, Pending> pending_;
  std::deque<Bytes> write_queue_;
  bool writing_ = false;
  uint32_t renew_request_id_ = 0;  // 0: no renewal in flight
  Bytes renew_nonce_;
  uint32_t open_request_id_ = 0;
};

Status SecureChannel::Impl::validate_config() const {
  if (!config_error_.ok()) return config_error_;
  bool none_policy = config_.policy == SecurityPolicy::kNone;
  bool none_mode = config_.mode == SecurityMode::kNone;
  if (none_policy != none_mode)
    return invalid_argument(
        std::string("security mode ") + std::string(uasc::mode_name(config_.mode)) +
        " does not go with policy " + std::string(uasc::policy_uri(config_.policy)));
  if (!none_policy) {
    if (server_cert_.empty())
      return invalid_argument(
          "Basic256Sha256 needs the server's certificate (from GetEndpoints over a None channel)");
    if (config_.client.certificate.empty() || !config_.client.private_key)
      return invalid_argument("Basic256Sha256 needs the client's certificate and private key");
  }
  const TransportLimits& l = config_.limits;
  if (l.receive_buffer_size < uasc::kMinBufferSize || l.send_buffer_size < uasc::kMinBufferSize)
    return invalid_argument("receive and send buffer sizes must be at least 8192 bytes");
  if (config_.requested_lifetime.count() <= 0 ||
      config_.requested_lifetime.count() > std::numeric_limits<uint32_t>::max())
    return invalid_argument("requested token lifetime out of range");
  return Status::ok_status();
}

Status SecureChannel::Impl::open() {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  {
    std::lock_guard l(lifecycle_mu_);
    if (started_) return failed_precondition("open() was already called; make a new channel");
    started_ = true;
    if (closing_) return Status(Code::kAborted, "the channel was closed before open()");
    Status valid = validate_config();
    auto address = parse_endpoint_url(config_.endpoint_url);
    if (valid.ok() && !address.ok()) valid = address.status();
    if (!valid.ok()) {
      std::lock_guard m(mu_);
      status_ = valid;
      return valid;
    }
    address_ = std::move(address).value();
    work_.emplace(ioc_.get_executor());
    io_started_ = true;
    thread_ = std::thread([this] {
      io_thread_id_ = std::this_thread::get_id();
      ioc_.run();
    });
    // Spawned under the lock, so that a close() comes after it and its end is awaited.
    asio::co_spawn(ioc_, handshake(), [this, done](std::exception_ptr e, Status s) {
      if (e) s = internal_error("OPC UA handshake threw an exception");
      done->set_value(on_open_done(s));
    });
  }
  Status s = result.get();
  if (!s.ok()) close();
  return s;
}

void SecureChannel::Impl::arm_watchdog(milliseconds timeout) {
  watchdog_fired_ = false;
  watchdog_.expires_after(timeout);
  watchdog_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    watchdog_fired_ = true;
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  });
}

awaitable<Status> SecureChannel::Impl::write_all(const Bytes& bytes) {
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(bytes), kNoThrow);
  if (closing_) co_return Status(Code::kAborted, "closed while opening " + where());
  if (ec)
    co_return unavailable("cannot write to " + where() + ": " +
                          (watchdog_fired_ ? std::string("timed out") : ec.message()));
  co_return Status::ok_status();
}

awaitable<Result<SecureChannel::Impl::RawChunk>> SecureChannel::Impl::read_chunk() {
  RawChunk chunk;
  chunk.bytes.resize(uasc::kTransportHeaderSize);
  auto [ec, n] = co_await asio::async_read(socket_, asio::buffer(chunk.bytes), kNoThrow);
  if (!ec && !closing_) {
    auto header = uasc::decode_transport_header(chunk.bytes, config_.limits.receive_buffer_size);
    if (!header.ok()) co_return header.status().with_context("from " + where());
    chunk.header = *header;
    chunk.bytes.resize(header->size);
    auto [ec2, n2] =
        co_await asio::async_read(socket_,
                                  asio::buffer(chunk.bytes.data() + uasc::kTransportHeaderSize,
                                               header->size - uasc::kTransportHeaderSize),
                                  kNoThrow);
    ec = ec2;
  }
  if (closing_) co_return Status(Code::kAborted, "the channel to " + where() + " was closed");
  if (ec) {
    if (watchdog_fired_) co_return Status(Code::kTimeout, "no answer from " + where() + " in time");
    co_return unavailable("connection to " + where() + " lost: " + ec.message());
  }
  co_return chunk;
}

Status SecureChannel::Impl::error_status(const Bytes& bytes, std::string_view during) {
  auto err = uasc::decode_error(bytes);
  if (!err.ok()) return err.status().with_context("ERR from " + where());
  return unavailable(where() + " sent ERR " + std::string(during) + ": " +
                     uasc::status_code_text(err->status) +
                     (err->reason.empty() ? "" : ": " + err->reason));
}

uasc::AsymmetricContext SecureChannel::Impl::asymmetric_context(uint32_t channel_id) const {
  uasc::AsymmetricContext ctx;
  ctx.policy = config_.policy;
  ctx.mode = config_.mode;
  ctx.channel_id = channel_id;
  ctx.local_certificate = &config_.client.certificate;
  ctx.local_key = &config_.client.private_key;
  ctx.remote_certificate = &server_cert_;
  return ctx;
}

uasc::SymmetricContext SecureChannel::Impl::sending_context() const {
  uasc::SymmetricContext ctx;
  ctx.mode = config_.mode;
  ctx.channel_id = channel_id_;
  ctx.token_id = current_ ? current_->id : 0;
  ctx.keys = current_ ? &current_->keys.client : nullptr;
  return ctx;
}

const uasc::SymmetricKeys* SecureChannel::Impl::receiving_keys(uint32_t token_id) const {
  if (current_ && current_->id == token_id) return &current_->keys.server;
  if (previous_ && previous_->id == token_id && Clock::now() < previous_->expires)
    return &previous_->keys.server;
  return nullptr;
}

Result<Bytes> SecureChannel::Impl::build_open_request(uasc::RequestType type, uint32_t request_id,
                                                      const Bytes& nonce) {
  uasc::OpenRequest q;
  q.request_handle = request_id;
  q.timeout_hint_ms = static_cast<uint32_t>(config_.request_timeout.count());
  q.request_type = type;
  q.mode = config_.mode;
  q.client_nonce = nonce;
  q.requested_lifetime_ms = static_cast<uint32_t>(config_.requested_lifetime.count());
  q.timestamp = now_ticks();
  Bytes body = uasc::encode_open_request(q);
  uasc::AsymmetricContext ctx = asymmetric_context(channel_id_);
  if (uasc::asymmetric_max_body(ctx, send_chunk_size_) < body.size())
    return invalid_argument("OpenSecureChannel does not fit one " +
                            std::to_string(send_chunk_size_) + "-byte chunk");
  return uasc::encode_asymmetric_chunk(ctx, {take_sequence_number(), request_id}, body);
}

Status SecureChannel::Impl::install_token(const uasc::OpenResponse& response,
                                          const Bytes& client_nonce) {
  if (secured() && response.server_nonce.size() != uasc::kNonceLength)
    return corruption("OpenSecureChannelResponse ServerNonce has " +
                      std::to_string(response.server_nonce.size()) +
                      " bytes, Basic256Sha256 needs " + std::to_string(uasc::kNonceLength));
  if (response.token.revised_lifetime_ms == 0)
    return corruption("OpenSecureChannelResponse RevisedLifetime is 0");
  milliseconds lifetime(response.token.revised_lifetime_ms);
  if (current_) {
    previous_ = std::move(current_);
  }
  Token t;
  t.id = response.token.token_id;
  if (secured()) t.keys = uasc::derive_keys(client_nonce, response.server_nonce);
  t.expires = Clock::now() + lifetime + lifetime * kGracePercent / 100;
  current_ = std::move(t);
  channel_id_ = response.token.channel_id;
  std::lock_guard l(mu_);
  info_.channel_id = channel_id_;
  info_.token_id = response.token.token_id;
  info_.revised_lifetime = lifetime;
  info_.tokens_issued += 1;
  client_nonce_ = client_nonce;
  server_nonce_ = response.server_nonce;
  return Status::ok_status();
}

awaitable<Status> SecureChannel::Impl::handshake() {
  const std::string port = std::to_string(address_.port);
  arm_watchdog(config_.connect_timeout);
  auto [rec, endpoints] = co_await resolver_.async_resolve(address_.host, port, kNoThrow);
  if (closing_) co_return Status(Code::kAborted, "closed while opening " + where());
  if (rec) {
    co_return unavailable("cannot resolve " + address_.host + " for " + where() + ": " +
                          (watchdog_fired_ ? std::string("timed out") : rec.message()));
  }
  auto [cec, endpoint] = co_await asio::async_connect(socket_, endpoints, kNoThrow);
  if (closing_) co_return Status(Code::kAborted, "closed while opening " + where());
  if (cec) {
    if (watchdog_fired_)
      co_return Status(Code::kTimeout, "connecting to " + where() + " timed out after " +
                                           std::to_string(config_.connect_timeout.count()) + " ms");
    co_return unavailable("cannot connect to " + where() + ": " + cec.message());
  }
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);

  // Hello / Acknowledge.
  {
    Status w = co_await write_all(uasc::encode_hello(config_.limits, config_.endpoint_url));
    if (!w.ok()) co_return w;
  }
  auto ack_chunk = co_await read_chunk();
  if (!ack_chunk.ok()) co_return ack_chunk.status().with_context("waiting for Acknowledge");
  if (ack_chunk->header.type == uasc::MessageType::kError)
    co_return error_status(ack_chunk->bytes, "in answer to Hello");
  if (ack_chunk->header.type != uasc::MessageType::kAcknowledge)
    co_return corruption(where() + " answered Hello with " +
                         std::string(uasc::message_type_name(ack_chunk->header.type)));
  auto ack = uasc::decode_acknowledge(ack_chunk->bytes);
  if (!ack.ok()) co_return ack.status().with_context("Acknowledge from " + where());
  server_limits_ = *ack;
  send_chunk_size_ = std::min(config_.limits.send_buffer_size, ack->receive_buffer_size);
  {
    std::lock_guard l(mu_);
    info_.server_limits = *ack;
    info_.send_chunk_size = send_chunk_size_;
  }

  // OpenSecureChannel (Issue).
  arm_watchdog(config_.request_timeout);
  Bytes nonce;
  if (secured()) {
    auto random = random_bytes(uasc::kNonceLength);
    if (!random.ok()) co_return random.status();
    nonce = std::move(random).value();
  }
  open_request_id_ = take_request_id();
  auto opn = build_open_request(uasc::RequestType::kIssue, open_request_id_, nonce);
  if (!opn.ok()) co_return opn.status();
  {
    Status w = co_await write_all(*opn);
    if (!w.ok()) co_return w;
  }
  auto reply = co_await read_chunk();
  if (!reply.ok()) co_return reply.status().with_context("waiting for OpenSecureChannel");
  if (reply->header.type == uasc::MessageType::kError)
    co_return error_status(reply->bytes, "in answer to OpenSecureChannel");
  if (reply->header.type != uasc::MessageType::kOpen)
    co_return corruption(where() + " answered OpenSecureChannel with " +
                         std::string(uasc::message_type_name(reply->header.type)));
  auto chunk = uasc::decode_asymmetric_chunk(asymmetric_context(0), reply->bytes);
  if (!chunk.ok())
    co_return chunk.status().with_context("OpenSecureChannel response from " + where());
  if (chunk->sequence.request_id != open_request_id_)
    co_return corruption("OpenSecureChannel response for request id " +
                         std::to_string(chunk->sequence.request_id) + ", expected " +
                         std::to_string(open_request_id_));
  {
    Status s = sequence_checker_.check(chunk->sequence.sequence_number);
    if (!s.ok()) co_return s;
  }
  auto response = uasc::decode_open_response(chunk->body);
  if (!response.ok()) co_return response.status().with_context(where());
  if (response->token.channel_id != chunk->channel_id)
    co_return corruption("OpenSecureChannel response: token ChannelId " +
                         std::to_string(response->token.channel_id) + " differs from header's " +
                         std::to_string(chunk->channel_id));
  {
    Status s = install_token(*response, nonce);
    if (!s.ok()) co_return s;
  }
  watchdog_.cancel();
  co_return Status::ok_status();
}

Status SecureChannel::Impl::on_open_done(const Status& s) {
  if (s.ok() && !closing_) {
    established_ = true;
    assembler_.emplace(config_.limits.max_message_size, config_.limits.max_chunk_count);
    {
      std::lock_guard l(mu_);
      status_ = Status::ok_status();
    }
    asio::co_spawn(ioc_, read_loop(), asio::detached);
    schedule_renewal();
    return s;
  }
  Status why = s.ok() ? Status(Code::kAborted, "closed while opening " + where()) : s;
  fail(why);
  return why;
}

awaitable<void> SecureChannel::Impl::read_loop() {
  while (!broken_) {
    auto chunk = co_await read_chunk();
    if (!chunk.ok()) {
      fail(chunk.status());
      co_return;
    }
    Status s = handle_chunk(std::move(chunk).value());
    if (!s.ok()) {
      fail(s);
      co_return;
    }
  }
}

Status SecureChannel::Impl::handle_chunk(RawChunk chunk) {
  switch (chunk.header.type) {
    case uasc::MessageType::kError: return error_status(chunk.bytes, "and closed the channel");
    case uasc::MessageType::kOpen: return handle_open_response(chunk);
    case uasc::MessageType::kMessage: return handle_message(chunk);
    default:
      return corruption("unexpected " + std::string(uasc::message_type_name(chunk.header.type)) +
                        " message from " + where());
  }
}

Status SecureChannel::Impl::handle_open_response(const RawChunk& raw) {
  auto chunk = uasc::decode_asymmetric_chunk(asymmetric_context(channel_id_), raw.bytes);
  if (!chunk.ok()) return chunk.status().with_context("OpenSecureChannel (Renew) from " + where());
  SLUICE_RETURN_IF_ERROR(
      sequence_checker_.check(chunk->sequence.sequence_number).with_context("OPN from " + where()));
  if (renew_request_id_ == 0 || chunk->sequence.request_id != renew_request_id_)
    return corruption("unexpected OpenSecureChannel response (request id " +
                      std::to_string(chunk->sequence.request_id) + ") from " + where());
  renew_request_id_ = 0;
  renew_deadline_.cancel();
  auto response = uasc::decode_open_response(chunk->body);
  if (!response.ok()) return response.status().with_context("renewing the token at " + where());
  if (response->token.channel_id != channel_id_ || chunk->channel_id != channel_id_)
    return corruption("token renewal answered for channel " +
                      std::to_string(response->token.channel_id) + ", not " +
                      std::to_string(channel_id_));
  SLUICE_RETURN_IF_ERROR(install_token(*response, renew_nonce_));
  schedule_renewal();
  return Status::ok_status();
}

Status SecureChannel::Impl::handle_message(const RawChunk& raw) {
  auto chunk = uasc::decode_symmetric_chunk(
      config_.mode, channel_id_, [this](uint32_t id) { return receiving_keys(id); }, raw.bytes);
  if (!chunk.ok()) return chunk.status().with_context("from " + where());
  SLUICE_RETURN_IF_ERROR(
      sequence_checker_.check(chunk->sequence.sequence_number).with_context("MSG from " + where()));
  // The server secures with the new token once it has seen it used: the old one is done.
  if (previous_ && current_ && chunk->token_id == current_->id) previous_.reset();
  auto message = assembler_->add(std::move(chunk).value());
  if (!message.ok()) return message.status().with_context("from " + where());
  {
    std::lock_guard l(mu_);
    info_.chunks_received += 1;
    if (message->has_value()) info_.messages_received += 1;
  }
  if (!message->has_value()) return Status::ok_status();
  uasc::AssembledMessage& m = **message;
  auto it = pending_.find(m.request_id);
  if (it == pending_.end()) return Status::ok_status();  // timed out; its late answer is dropped
  Callback done = std::move(it->second.done);
  pending_.erase(it);
  if (m.aborted) {
    uint32_t code = m.abort_status & 0xffff0000u;
    bool too_large = code == 0x80b90000u || code == 0x80800000u || code == 0x80080000u;
    done(Status(too_large ? Code::kResourceExhausted : Code::kAborted,
                where() + " aborted the response: " + uasc::status_code_text(m.abort_status) +
                    (m.abort_reason.empty() ? "" : ": " + m.abort_reason)));
  } else {
    done(std::move(m.body));
  }
  return Status::ok_status();
}

void SecureChannel::Impl::schedule_renewal() {
  if (!current_) return;
  milliseconds lifetime;
  {
    std::lock_guard l(mu_);
    lifetime = info_.revised_lifetime;
  }
  renew_timer_.expires_after(lifetime * kRenewPercent / 100);
  renew_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !broken_) start_renewal();
  });
}

void SecureChannel::Impl::start_renewal() {
  Bytes nonce;
  if (secured()) {
    auto random = random_bytes(uasc::kNonceLength);
    if (!random.ok()) {
      fail(random.status());
      return;
    }
    nonce = std::move(random).value();
  }
  uint32_t id = take_request_id();
  auto opn = build_open_request(uasc::RequestType::kRenew, id, nonce);
  if (!opn.ok()) {
    fail(opn.status().with_context("renewing the token"));
    return;
  }
  renew_request_id_ = id;
  renew_nonce_ = std::move(nonce);
  enqueue(std::move(opn).value());
  renew_deadline_.expires_after(config_.request_timeout);
  renew_deadline_.async_wait([this](boost::system::error_code ec) {
    if (ec || renew_request_id_ == 0) return;
    fail(unavailable(where() + " did not answer the token renewal within " +
                     std::to_string(config_.request_timeout.count()) + " ms"));
  });
}

void SecureChannel::Impl::start_call(Bytes request, Callback done, milliseconds timeout) {
  if (broken_ || !established_) {
    done(status());
    return;
  }
  uint32_t id = take_request_id();
  auto chunks = uasc::encode_symmetric_message(
      uasc::MessageType::kMessage, sending_context(), id, request, send_chunk_size_,
      server_limits_.max_chunk_count, server_limits_.max_message_size, &next_sequence_);
  if (!chunks.ok()) {
    done(chunks.status());
    return;
  }
  auto timer = std::make_unique<asio::steady_timer>(ioc_, timeout);
  timer->async_wait([this, id, timeout](boost::system::error_code ec) {
    if (ec) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Callback late = std::move(it->second.done);
    pending_.erase(it);
    late(Status(Code::kTimeout, "no response from " + where() + " to request " +
                                    std::to_string(id) + " within " +
                                    std::to_string(timeout.count()) + " ms"));
  });
  pending_.emplace(id, Pending{std::move(done), std::move(timer)});
  {
    std::lock_guard l(mu_);
    info_.chunks_sent += chunks->size();
  }
  for (Bytes& chunk : *chunks) enqueue(std::move(chunk));
}

void SecureChannel::Impl::enqueue(Bytes chunk) {
  write_queue_.push_back(std::move(chunk));
  if (!writing_) start_write();
}

void SecureChannel::Impl::start_write() {
  writing_ = true;
  asio::async_write(socket_, asio::buffer(write_queue_.front()),
                    [this](boost::system::error_code ec, size_t) {
                      write_queue_.pop_front();
                      if (!ec && !write_queue_.empty()) {
                        start_write();
                        return;
                      }
                      writing_ = false;
                      if (ec) {
                        write_queue_.clear();
                        fail(unavailable("cannot write to " + where() + ": " + ec.message()));
                      }
                      if (close_after_write_ && write_queue_.empty()) {
                        boost::system::error_code ignored;
                        socket_.close(ignored);
                        watchdog_.cancel();
                      }
                    });
}

void SecureChannel::Impl::fail(const Status& s, bool close_socket) {
  if (!broken_) {
    broken_ = true;
    {
      std::lock_guard l(mu_);
      status_ = s;
    }
    renew_timer_.cancel();
    renew_deadline_.cancel();
    watchdog_.cancel();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) p.done(s);
  }
  if (close_socket) {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
}

void SecureChannel::Impl::close_on_io() {
  if (closed_on_io_) return;
  closed_on_io_ = true;
  work_.reset();  // the I/O thread ends when what is under way has finished
  resolver_.cancel();
  bool send_close = established_ && !broken_;
  fail(Status(Code::kAborted, "the channel to " + where() + " was closed"), !send_close);
  if (!send_close) return;
  auto clo = uasc::encode_symmetric_message(
      uasc::MessageType::kClose, sending_context(), take_request_id(),
      uasc::encode_close_request(next_request_id_), send_chunk_size_, 0, 0, &next_sequence_);
  if (!clo.ok()) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    return;
  }
  close_after_write_ = true;
  for (Bytes& chunk : *clo) enqueue(std::move(chunk));
  // A server that does not read must not hold close() up.
  watchdog_.expires_after(kCloseWriteWait);
  watchdog_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    boost::system::error_code ignored;
    socket_.close(ignored);
  });
}

void SecureChannel::Impl::close() {
  std::lock_guard l(lifecycle_mu_);
  {
    std::lock_guard p(post_mu_);
    closing_ = true;
  }
  if (!thread_.joinable()) return;
  if (on_io_thread()) {
    // From a callback: close now; the owner's destructor joins the thread.
    asio::post(ioc_, [this] { close_on_io(); });
    return;
  }
  asio::post(ioc_, [this] { close_on_io(); });
  thread_.join();
}

void SecureChannel::Impl::call_async(Bytes request, Callback done, milliseconds timeout) {
  if (timeout.count() <= 0) timeout = config_.request_timeout;
  {
    std::lock_guard p(post_mu_);
    if (!closing_ && started_io()) {
      asio::post(ioc_,
                 [this, request = std::move(request), done = std::move(done), timeout]() mutable {
                   start_call(std::move(request), std::move(done), timeout);
                 });
      return;
    }
  }
  Status s = status();
  done(s.ok() || closing_ ? Status(Code::kAborted, "the channel to " + where() + " was closed")
                          : s);
}

Result<Bytes> SecureChannel::Impl::call(std::string_view request, milliseconds timeout) {
  if (on_io_thread())
    return failed_precondition("call() from a channel callback would deadlock; use call_async()");
  auto result = std::make_shared<std::promise<Result<Bytes>>>();
  std::future<Result<Bytes>> f = result->get_future();
  call_async(
      Bytes(request), [result](Result<Bytes> r) { result->set_value(std::move(r)); }, timeout);
  return f.get();
}

// --- SecureChannel ---

SecureChannel::SecureChannel(SecureChannelConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
SecureChannel::~SecureChannel() = default;

Status SecureChannel::open() { return impl_->open(); }
void SecureChannel::close() { impl_->close(); }
Result<Bytes> SecureChannel::call(std::string_view request, std::chrono::milliseconds timeout) {
  return impl_->call(request, timeout);
}
void SecureChannel::call_async(Bytes request, Callback done, std::chrono::milliseconds timeout) {
  impl_->call_async(std::move(request), std::move(done), timeout);
}
Status SecureChannel::status() const { return impl_->status(); }
ChannelInfo SecureChannel::info() const { return impl_->info(); }
const Certificate& SecureChannel::client_certificate() const {
  return impl_->config().client.certificate;
}
const Certificate& SecureChannel::server_certificate() const { return impl_->server_certificate(); }
Bytes SecureChannel::client_nonce() const { return impl_->client_nonce(); }
Bytes SecureChannel::server_nonce() const { return impl_->server_nonce(); }
std::string_view SecureChannel::security_policy_uri() const {
  return uasc::policy_uri(impl_->config().policy);
}

Result<Bytes> SecureChannel::sign_with_client_key(std::string_view data) const {
  if (!impl_->config().client.private_key)
    return failed_precondition("the channel has no client key to sign with");
  return rsa_sha256_sign(impl_->config().client.private_key, data);
}

Result<Bytes> SecureChannel::encrypt_for_server(std::string_view data) const {
  if (impl_->server_certificate().empty())
    return failed_precondition("the channel has no server certificate to encrypt for");
  return rsa_oaep_sha1_encrypt(impl_->server_certificate().public_key(), data);
}

Status SecureChannel::verify_server_signature(std::string_view data,
                                              std::string_view signature) const {
  if (impl_->server_certificate().empty())
    return failed_precondition("the channel has no server certificate to verify with");
  return rsa_sha256_verify(impl_->server_certificate().public_key(), data, signature);
}

}  // namespace sluice::opcua
