#include "link/receiver.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_context.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "link/wire.h"
#include "net/tls_identity.h"
#include "sluice/link/v1/link.grpc.pb.h"

namespace sluice::link {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Verifies a PEM client certificate against a CA bundle (PEM) with OpenSSL.
bool signed_by(const std::string& cert_pem, const std::string& ca_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return false;
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> ca_bio(
      BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())), BIO_free);
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
    added += X509_STORE_add_cert(store.get(), ca);
    X509_free(ca);
  }
  if (added == 0) return false;
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr)) return false;
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  return X509_verify_cert(ctx.get()) == 1;
}

std::string peer_of(const grpc::ServerContext& sc) { return sc.peer(); }

// Counters and last events of the receiver (details()).
struct Counters {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> active_calls{0};
  std::atomic<uint64_t> sessions_opened{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> samples{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> gaps{0};
  std::atomic<uint64_t> refused_auth{0};
  std::atomic<uint64_t> invalid_frames{0};
  std::atomic<uint64_t> refused_writes{0};
  std::atomic<uint64_t> throttled_sessions{0};
  std::atomic<uint64_t> writes{0};
  mutable std::mutex mu;
  std::string last_error;  // guarded by mu
  std::string listening;   // guarded by mu

  void error(std::string text) {
    std::lock_guard lock(mu);
    last_error = std::move(text);
  }
};

// A counting semaphore for the concurrent write limit.
class Gate {
 public:
  explicit Gate(uint32_t limit) : free_(limit == 0 ? 1 : limit) {}
  void enter() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return free_ > 0; });
    --free_;
  }
  void leave() {
    {
      std::lock_guard lock(mu_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t free_;
};

class ReceiverSettings final : public runtime::SourceSettings {
 public:
  explicit ReceiverSettings(ReceiverOptions o) : options_(std::move(o)) {}
  std::string summary() const override;
  Result<std::unique_ptr<runtime::Source>> create(const std::string& name) const override;

 private:
  ReceiverOptions options_;
};

class Receiver final : public runtime::Source, public v1::Link::Service {
 public:
  Receiver(std::string name, ReceiverOptions options)
      : Source(std::move(name)),
        options_(std::move(options)),
        gate_(options_.max_concurrent_writes) {}

  std::string_view type() const override { return "link"; }

  Status start(runtime::SourceContext& ctx) override;
  void stop() override {
    std::lock_guard lock(server_mu_);
    stopping_ = true;
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  runtime::SinkDetails details() const override;

  // ---- Link service -----------------------------------------------------------------------
  grpc::Status Forward(
      grpc::ServerContext* sc,
      grpc::ServerReaderWriter<v1::ForwardReply, v1::ForwardFrame>* stream) override;
  grpc::Status Write(grpc::ServerContext* sc, const v1::WriteRequest* request,
                     v1::WriteReply* reply) override;

  // The write path of Link.Write and of the HTTP endpoint: this source's session defaults, the
  // concurrent write limit, counted.
  Result<WriteResult> write(runtime::SourceContext& ctx, std::string_view session, Batch&& batch,
                            const NewestLookup& newest) {
    gate_.enter();
    Result<WriteResult> written =
        write_batch(ctx, session, std::move(batch), options_.defaults, newest);
    gate_.leave();
    if (written.ok()) {
      counters_.writes.fetch_add(1);
    } else if (written.status().code() == Code::kInvalidArgument) {
      counters_.invalid_frames.fetch_add(1);
    } else {
      counters_.refused_writes.fetch_add(1);
      counters_.error(written.status().message());
    }
    return written;
  }

 private:
  struct Pending {
    v1::ForwardReply reply;
    std::string stream;  // wait until durable below reply.durable_end (empty: reply at once)
  };

  // Who the caller is, or why not.
  Result<std::string> authenticate(const grpc::ServerContext& sc);
  // Opens (or takes up again) a forwarded session; the reply says where the sender may go on.
  v1::ForwardReply open_session(const v1::SessionInfo& info, const std::string& who);
  v1::ForwardReply append(const v1::BatchFrame& frame, std::string* stream);
  bool session_allowed();  // the creation throttle
  std::mutex& session_mutex(const std::string& id);

  const ReceiverOptions options_;
  runtime::SourceContext* ctx_ = nullptr;
  std::string client_ca_pem_;
  Counters counters_;
  Gate gate_;

  std::mutex server_mu_;
  std::unique_ptr<grpc::Server> server_;  // guarded by server_mu_
  bool stopping_ = false;                 // guarded by server_mu_

  std::mutex sessions_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> session_locks_;  // guarded by sessions_mu_
  std::deque<Clock::time_point> created_;                             // guarded by sessions_mu_
};

runtime::SinkDetails Receiver::details() const {
  auto n = [](const std::atomic<uint64_t>& v) { return std::to_string(v.load()); };
  runtime::SinkDetails d;
  {
    std::lock_guard lock(counters_.mu);
    d.push_back({"listening", counters_.listening});
  }
  d.push_back({"calls", n(counters_.calls)});
  d.push_back({"active_calls", n(counters_.active_calls)});
  d.push_back({"sessions_opened", n(counters_.sessions_opened)});
  d.push_back({"batches", n(counters_.batches)});
  d.push_back({"samples", n(counters_.samples)});
  d.push_back({"writes", n(counters_.writes)});
  d.push_back({"duplicate_batches", n(counters_.duplicates)});
  d.push_back({"gaps", n(counters_.gaps)});
  d.push_back({"refused_auth", n(counters_.refused_auth)});
  d.push_back({"invalid_frames", n(counters_.invalid_frames)});
  d.push_back({"refused_writes", n(counters_.refused_writes)});
  d.push_back({"throttled_sessions", n(counters_.throttled_sessions)});
  std::lock_guard lock(counters_.mu);
  d.push_back({"last_error", counters_.last_error});
  return d;
}

std::string ReceiverSettings::summary() const {
  std::string auth = "tokens";
  if (!options_.client_ca_file.empty())
    auth += ", certificates signed by " + options_.client_ca_file;
  if (!options_.client_fingerprints.empty()) {
    auth += fmt::format(", {} certificate fingerprints", options_.client_fingerprints.size());
  }
  return fmt::format("gRPC+TLS on {}:{} (admits {})", options_.address, options_.port, auth);
}

Result<std::unique_ptr<runtime::Source>> ReceiverSettings::create(const std::string& name) const {
  return std::unique_ptr<runtime::Source>(std::make_unique<Receiver>(name, options_));
}

Status Receiver::start(runtime::SourceContext& ctx) {
  ctx_ = &ctx;
  const runtime::InstanceInfo& me = ctx.instance_info();
  SLUICE_ASSIGN_OR_RETURN(
      net::TlsIdentity identity,
      net::load_or_create_identity(options_.cert_file, options_.key_file, me.data_dir, me.name));
  if (identity.generated) {
    Result<std::string> fp = net::certificate_fingerprint(identity.cert_pem);
    spdlog::info("source '{}': generated a self-signed certificate {} (SHA-256 {})", name(),
                 identity.cert_file, fp.ok() ? *fp : std::string("?"));
  }
  if (!options_.client_ca_file.empty()) {
    SLUICE_ASSIGN_OR_RETURN(client_ca_pem_,
                            net::read_pem_file(options_.client_ca_file, "client CA certificate"));
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl.pem_key_cert_pairs.push_back({identity.key_pem, identity.cert_pem});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(fmt::format("{}:{}", options_.address, options_.port),
                           grpc::SslServerCredentials(ssl), &port);
  builder.RegisterService(this);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.SetMaxSendMessageSize(1 << 20);
  {
    std::lock_guard lock(server_mu_);
    if (stopping_) return Status::ok_status();
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) {
      server_.reset();
      return Status(Code::kUnavailable,
                    fmt::format("cannot listen on {}:{} (in use, or not an address of this host)",
                                options_.address, options_.port));
    }
  }
  {
    std::lock_guard lock(counters_.mu);
    counters_.listening = fmt::format("{}:{}", options_.address, port);
  }
  spdlog::info("source '{}': link listening on {}:{} (gRPC+TLS), instance '{}'", name(),
               options_.address, port, me.name);
  set_health(runtime::HealthState::kHealthy);
  // Serve until the runtime stops us (stop() shuts the server down).
  while (!ctx.stopping()) ctx.sleep_until(ctx.clock().monotonic() + 200'000'000);
  stop();
  std::unique_ptr<grpc::Server> server;
  {
    std::lock_guard lock(server_mu_);
    server = std::move(server_);
  }
  if (server) server->Wait();
  return Status::ok_status();
}

Result<std::string> Receiver::authenticate(const grpc::ServerContext& sc) {
  std::shared_ptr<const grpc::AuthContext> auth = sc.auth_context();
  std::string why;
  if (auth) {
    std::vector<grpc::string_ref> pem = auth->FindPropertyValues("x509_pem_cert");
    if (!pem.empty()) {
      const std::string cert(pem.front().data(), pem.front().size());
      Result<std::string> fp = net::certificate_fingerprint(cert);
      if (fp.ok()) {
        for (const std::string& allowed : options_.client_fingerprints) {
          if (net::fingerprints_equal(*fp, allowed)) return "certificate " + fp->substr(0, 23);
        }
        if (!client_ca_pem_.empty() && signed_by(cert, client_ca_pem_)) {
          return "certificate " + fp->substr(0, 23);
        }
        why = fmt::format("client certificate {} is not admitted", *fp);
      }
    }
  }
  const auto& md = sc.client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) {
    std::string value(it->second.data(), it->second.size());
    if (value.rfind("Bearer ", 0) == 0) value = value.substr(7);
    const runtime::TokenVerifier* tokens = ctx_->tokens();
    if (tokens == nullptr) {
      why = "a token was given but this Sluice has no users and tokens (enable [api])";
    } else {
      Result<std::string> user = tokens->verify_writer(value);
      if (user.ok()) return "user " + *user;
      why = "token refused: " + user.status().message();
    }
  }
  if (why.empty()) why = "no admitted client certificate and no token";
  return Status(Code::kFailedPrecondition, why);
}

bool Receiver::session_allowed() {
  if (options_.session_limit == 0) return true;
  const auto now = Clock::now();
  std::lock_guard lock(sessions_mu_);
  while (!created_.empty() && now - created_.front() > options_.session_window)
    created_.pop_front();
  if (created_.size() >= options_.session_limit) return false;
  created_.push_back(now);
  return true;
}

std::mutex& Receiver::session_mutex(const std::string& id) {
  std::lock_guard lock(sessions_mu_);
  auto& m = session_locks_[id];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

v1::ForwardReply Receiver::open_session(const v1::SessionInfo& info, const std::string& who) {
  v1::ForwardReply reply;
  reply.set_session(info.id());
  reply.set_receiver(ctx_->instance_info().name);
  if (Status valid = validate_session(info); !valid.ok()) {
    counters_.invalid_frames.fetch_add(1);
    reply.set_code(v1::INVALID);
    reply.set_message(valid.message());
    return reply;
  }
  const std::string& me = ctx_->instance_info().name;
  for (const std::string& hop : info.hops()) {
    if (hop == me) {
      counters_.invalid_frames.fetch_add(1);
      reply.set_code(v1::INVALID);
      reply.set_message(fmt::format("session.hops: '{}' is this instance already (a loop)", me));
      return reply;
    }
  }
  Result<uint64_t> next = ctx_->next_seq(info.id());
  if (!next.ok()) {
    // New here: the creation throttle and the dataset setting decide.
    const bool create_dataset = info.settings().has_create_dataset()
                                    ? info.settings().create_dataset()
                                    : options_.defaults.create_dataset;
    (void)create_dataset;  // datasets are created with their first session (no other kind yet)
    if (!session_allowed()) {
      counters_.throttled_sessions.fetch_add(1);
      reply.set_code(v1::REFUSED);
      reply.set_message(
          fmt::format("session creation throttled: {} new sessions in {} ms; "
                      "try again later",
                      options_.session_limit, options_.session_window.count()));
      return reply;
    }
    v1::SessionInfo stored = info;
    stored.add_hops(me);
    // Settings the sender left out take this receiver's defaults.
    v1::SessionSettings* s = stored.mutable_settings();
    if (!s->has_inactive_timeout_ms()) {
      s->set_inactive_timeout_ms(options_.defaults.inactive_timeout.count());
    }
    if (!s->has_write_nodata_on_close()) {
      s->set_write_nodata_on_close(options_.defaults.write_nodata_on_close);
    }
    if (!s->has_allow_insert_older())
      s->set_allow_insert_older(options_.defaults.allow_insert_older);
    if (!s->has_create_dataset()) s->set_create_dataset(options_.defaults.create_dataset);
    Status opened = ctx_->open_stream(info.id(), session_meta_json(stored, name()));
    if (!opened.ok()) {
      reply.set_code(v1::REFUSED);
      reply.set_message(opened.message());
      counters_.error(opened.message());
      return reply;
    }
    counters_.sessions_opened.fetch_add(1);
    spdlog::info("source '{}': session '{}' opened by {} (hops {})", name(), info.id(), who,
                 fmt::join(stored.hops(), " → "));
    next = ctx_->next_seq(info.id());
  } else {
    Status opened = ctx_->open_stream(info.id(), "{}");  // known to the store: takes it up again
    if (!opened.ok()) {
      reply.set_code(v1::REFUSED);
      reply.set_message(opened.message());
      return reply;
    }
  }
  reply.set_code(v1::OK);
  reply.set_durable_end(next.ok() ? *next : 0);
  return reply;
}

v1::ForwardReply Receiver::append(const v1::BatchFrame& frame, std::string* stream) {
  v1::ForwardReply reply;
  reply.set_session(frame.session());
  reply.set_receiver(ctx_->instance_info().name);
  Result<Batch> batch = decode_wire_batch(frame.batch());
  if (!batch.ok()) {
    counters_.invalid_frames.fetch_add(1);
    const std::string text = fmt::format("session '{}', batch at {}: {}", frame.session(),
                                         frame.first_seq(), batch.status().message());
    counters_.error(text);
    spdlog::warn("source '{}': invalid batch frame: {}", name(), text);
    reply.set_code(v1::INVALID);
    reply.set_message(text);
    return reply;
  }
  const uint64_t count = batch->size();
  uint64_t first = frame.first_seq();
  const uint64_t end = first + count;
  std::lock_guard session_lock(session_mutex(frame.session()));
  Result<uint64_t> next = ctx_->next_seq(frame.session());
  if (!next.ok()) {
    reply.set_code(v1::UNKNOWN_SESSION);
    reply.set_message(next.status().message());
    return reply;
  }
  *stream = frame.session();
  reply.set_durable_end(end);
  if (end <= *next) {  // all here already: acknowledged once durable
    counters_.duplicates.fetch_add(1);
    reply.set_code(v1::DUPLICATE);
    spdlog::info(
        "source '{}': session '{}': sequences {} to {} are here already (a resend); "
        "acknowledged without storing them again",
        name(), frame.session(), first, end - 1);
    return reply;
  }
  if (first < *next) {  // the head is here already (a resend cut differently): keep the rest
    spdlog::info(
        "source '{}': session '{}': sequences {} to {} are here already (a resend); "
        "storing only {} to {}",
        name(), frame.session(), first, *next - 1, *next, end - 1);
    batch->samples.erase(batch->samples.begin(),
                         batch->samples.begin() + static_cast<ptrdiff_t>(*next - first));
    first = *next;
  }
  const bool gap = first > *next;
  gate_.enter();
  Result<store::AppendResult> r =
      ctx_->ingest_to(frame.session(), first, std::move(*batch), {.wait_durable = false});
  gate_.leave();
  if (!r.ok() || r->outcome == store::AppendResult::Outcome::kDropped) {
    counters_.refused_writes.fetch_add(1);
    const std::string text =
        r.ok() ? "the store is full (drop_newest): batch not kept" : r.status().message();
    counters_.error(text);
    reply.set_code(v1::REFUSED);
    reply.set_message(text);
    stream->clear();
    return reply;
  }
  counters_.batches.fetch_add(1);
  counters_.samples.fetch_add(end - first);
  if (gap) {
    counters_.gaps.fetch_add(1);
    reply.set_code(v1::GAP);
    reply.set_message(fmt::format("sequences {} to {} were skipped by the sender", *next, first));
  } else {
    reply.set_code(v1::OK);
  }
  return reply;
}

grpc::Status Receiver::Forward(
    grpc::ServerContext* sc, grpc::ServerReaderWriter<v1::ForwardReply, v1::ForwardFrame>* stream) {
  Result<std::string> who = authenticate(*sc);
  if (!who.ok()) {
    counters_.refused_auth.fetch_add(1);
    const std::string text =
        fmt::format("forward from {} refused: {}", peer_of(*sc), who.status().message());
    counters_.error(text);
    spdlog::warn("source '{}': {}", name(), text);
    return {grpc::StatusCode::UNAUTHENTICATED, who.status().message()};
  }
  counters_.calls.fetch_add(1);
  counters_.active_calls.fetch_add(1);
  // Replies go out in frame order from a writer thread, each once its data is durable, while
  // this thread goes on reading and appending: one fsync covers many frames.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;
  bool done = false;
  bool broken = false;
  std::thread writer([&] {
    for (;;) {
      Pending p;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) return;
        p = std::move(queue.front());
        queue.pop_front();
      }
      if (!p.stream.empty()) {
        const uint64_t want = p.reply.durable_end();
        while (ctx_->wait_durable_in(p.stream, want, milliseconds(200)) < want) {
          if (sc->IsCancelled()) break;
        }
      }
      if (!stream->Write(p.reply)) {
        std::lock_guard lock(mu);
        broken = true;
        return;
      }
    }
  });
  std::map<std::string, bool> opened;  // sessions opened on this call
  // Sessions with a refused batch on this call, and its first sequence: a later batch of theirs
  // is refused too until that one is sent again, so that a refusal never leaves a gap the resend
  // would then fall into (and be taken for a duplicate).
  std::map<std::string, uint64_t> refused;
  v1::ForwardFrame frame;
  while (stream->Read(&frame)) {
    Pending p;
    if (frame.has_open()) {
      p.reply = open_session(frame.open().session(), *who);
      if (p.reply.code() == v1::OK) opened[frame.open().session().id()] = true;
    } else if (frame.has_batch()) {
      if (!opened.contains(frame.batch().session())) {
        p.reply.set_session(frame.batch().session());
        p.reply.set_code(v1::UNKNOWN_SESSION);
        p.reply.set_message(
            fmt::format("session '{}' was not opened on this call; send SessionOpen first",
                        frame.batch().session()));
        counters_.invalid_frames.fetch_add(1);
      } else if (auto r = refused.find(frame.batch().session());
                 r != refused.end() && frame.batch().first_seq() > r->second) {
        p.reply.set_session(frame.batch().session());
        p.reply.set_code(v1::REFUSED);
        p.reply.set_message(
            fmt::format("an earlier batch of this session (at {}) was refused; send it again first",
                        r->second));
      } else {
        if (r != refused.end()) refused.erase(r);  // the refused batch, sent again
        p.reply = append(frame.batch(), &p.stream);
        if (p.reply.code() == v1::REFUSED) {
          refused[frame.batch().session()] = frame.batch().first_seq();
        }
      }
    } else {
      counters_.invalid_frames.fetch_add(1);
      p.reply.set_code(v1::INVALID);
      p.reply.set_message("a frame with neither open nor batch");
    }
    p.reply.set_tag(frame.tag());
    {
      std::lock_guard lock(mu);
      if (broken) break;
      queue.push_back(std::move(p));
    }
    cv.notify_one();
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_one();
  writer.join();
  counters_.active_calls.fetch_sub(1);
  return grpc::Status::OK;
}

grpc::Status Receiver::Write(grpc::ServerContext* sc, const v1::WriteRequest* request,
                             v1::WriteReply* reply) {
  Result<std::string> who = authenticate(*sc);
  if (!who.ok()) {
    counters_.refused_auth.fetch_add(1);
    counters_.error(fmt::format("write from {} refused: {}", peer_of(*sc), who.status().message()));
    return {grpc::StatusCode::UNAUTHENTICATED, who.status().message()};
  }
  Batch batch;
  batch.samples.reserve(static_cast<size_t>(request->samples_size()));
  for (int i = 0; i < request->samples_size(); ++i) {
    const v1::WriteSample& in = request->samples(i);
    Sample s;
    s.series = in.series();
    s.ts = in.ts();
    switch (in.value_case()) {
      case v1::WriteSample::kDoubleValue: s.value = in.double_value(); break;
      case v1::WriteSample::kIntValue: s.value = in.int_value(); break;
      case v1::WriteSample::kBoolValue: s.value = in.bool_value(); break;
      case v1::WriteSample::kStringValue: s.value = in.string_value(); break;
      default:
        counters_.invalid_frames.fetch_add(1);
        return {grpc::StatusCode::INVALID_ARGUMENT,
                fmt::format("samples[{}]: a value is required", i)};
    }
    if (in.has_quality()) s.quality = in.quality();
    batch.samples.push_back(std::move(s));
  }
  const std::string session = request->session().empty() ? "grpc" : request->session();
  Result<WriteResult> written = write(*ctx_, session, std::move(batch), {});
  if (!written.ok()) {
    const Code code = written.status().code();
    if (code == Code::kInvalidArgument) {
      return {grpc::StatusCode::INVALID_ARGUMENT, written.status().message()};
    }
    return {code == Code::kResourceExhausted ? grpc::StatusCode::RESOURCE_EXHAUSTED
                                             : grpc::StatusCode::UNAVAILABLE,
            written.status().message()};
  }
  reply->set_samples(written->samples);
  reply->set_stream(written->stream);
  return grpc::Status::OK;
}

}  // namespace

Result<WriteResult> write_through(runtime::Source& source, runtime::SourceContext& ctx,
                                  std::string_view session, Batch&& batch,
                                  const NewestLookup& newest) {
  auto* receiver = dynamic_cast<Receiver*>(&source);
  if (receiver == nullptr) {
    return invalid_argument(fmt::format("source: '{}' is a {} source, not a link source",
                                        source.name(), source.type()));
  }
  return receiver->write(ctx, session, std::move(batch), newest);
}

std::string write_stream_name(std::string_view session) { return "write." + std::string(session); }

Result<WriteResult> write_batch(runtime::SourceContext& ctx, std::string_view session,
                                Batch&& batch, const SessionDefaults& defaults,
                                const NewestLookup& newest) {
  if (session.empty() || session.size() > 100) {
    return invalid_argument("session: a name of 1 to 100 characters");
  }
  for (char c : session) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return invalid_argument(
          fmt::format("session: '{}' may hold only A-Z a-z 0-9 _ - .", session));
    }
  }
  if (batch.empty()) return invalid_argument("samples: at least one sample is required");
  if (batch.size() > kMaxFrameSamples) {
    return invalid_argument(
        fmt::format("samples: {} samples (at most {} per write)", batch.size(), kMaxFrameSamples));
  }
  const std::string stream = write_stream_name(session);
  for (size_t i = 0; i < batch.size(); ++i) {
    const Sample& s = batch.samples[i];
    if (s.series.empty() || s.series.size() > kMaxSeriesName) {
      return invalid_argument(
          fmt::format("samples[{}].series: a name of 1 to {} bytes", i, kMaxSeriesName));
    }
    if (!defaults.allow_insert_older && newest) {
      if (std::optional<Timestamp> last = newest(stream, s.series); last && s.ts < *last) {
        return invalid_argument(fmt::format(
            "samples[{}]: older than the newest sample of '{}' and this session does not allow "
            "inserting older data",
            i, s.series));
      }
    }
  }
  const runtime::InstanceInfo& me = ctx.instance_info();
  v1::SessionInfo info;
  // Unique beyond this instance, for when the stream is forwarded: the local stream's name is
  // write.<session>, its session id names this instance and the stream's creation.
  info.set_id(make_session_id(me.name, ctx.clock().now(), me.name, stream));
  info.set_name(std::string(session));
  info.set_collector(me.name);
  info.set_source("write");
  info.add_hops(me.name);
  info.set_created_ns(ctx.clock().now());
  info.set_destination(me.name);
  v1::SessionSettings* st = info.mutable_settings();
  st->set_inactive_timeout_ms(defaults.inactive_timeout.count());
  st->set_write_nodata_on_close(defaults.write_nodata_on_close);
  st->set_allow_insert_older(defaults.allow_insert_older);
  st->set_create_dataset(defaults.create_dataset);
  // open_stream records the source behind ctx as the stream's service.
  SLUICE_RETURN_IF_ERROR(ctx.open_stream(stream, session_meta_json(info, "")));
  const uint64_t n = batch.size();
  SLUICE_ASSIGN_OR_RETURN(store::AppendResult r,
                          ctx.ingest_to(stream, std::nullopt, std::move(batch), {}));
  if (r.outcome == store::AppendResult::Outcome::kDropped) {
    return Status(Code::kResourceExhausted,
                  "the store is full (drop_newest): the samples were "
                  "not kept");
  }
  return WriteResult{n, stream};
}

std::shared_ptr<const runtime::SourceSettings> parse_receiver_settings(runtime::ConfigTable& t) {
  using std::chrono::nanoseconds;
  ReceiverOptions o;
  const std::string listen = t.string(
      "listen", o.address + ":" + std::to_string(o.port),
      "an address and port to listen on, e.g. \"127.0.0.1:7480\" (port 0: any free port)",
      [](const std::string& v) {
        static const std::regex kPattern(R"((\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5})");
        return std::regex_match(v, kPattern) && std::stoi(v.substr(v.rfind(':') + 1)) <= 65535;
      });
  const size_t colon = listen.rfind(':');
  o.address = listen.substr(0, colon);
  o.port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
  o.cert_file = t.file_path("tls_cert_file", "", "a PEM certificate (chain) file");
  o.key_file = t.file_path("tls_key_file", "", "a PEM private key file");
  if (o.cert_file.empty() != o.key_file.empty()) {
    t.error(o.cert_file.empty() ? "tls_cert_file" : "tls_key_file",
            "give both tls_cert_file and tls_key_file, or neither (a certificate is then "
            "generated in the store's directory)");
  }
  o.client_ca_file = t.file_path("client_ca_file", "", "a PEM file of CA certificates");
  o.client_fingerprints =
      t.strings("client_fingerprints", {},
                "a list of SHA-256 certificate fingerprints in hex (colons optional), e.g. "
                "[\"AB:CD:...\"]",
                [](const std::string& v) {
                  std::string hex;
                  for (char c : v) {
                    if (c != ':') hex += c;
                  }
                  return hex.size() == 64 &&
                         hex.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
                });
  o.max_message_bytes =
      t.size("max_message_bytes", o.max_message_bytes, "a size from 64KiB to 64MiB, e.g. \"16MiB\"",
             [](uint64_t v) { return v >= (64u << 10) && v <= kMaxMessageBytes; });
  o.defaults.inactive_timeout = std::chrono::duration_cast<milliseconds>(t.duration(
      "inactive_timeout", o.defaults.inactive_timeout, "a duration, e.g. \"5m\", or 0 for never",
      [](nanoseconds d) { return d >= nanoseconds{0}; }));
  o.defaults.write_nodata_on_close =
      t.boolean("write_nodata_on_close", o.defaults.write_nodata_on_close);
  o.defaults.allow_insert_older = t.boolean("allow_insert_older", o.defaults.allow_insert_older);
  o.defaults.create_dataset = t.boolean("create_dataset", o.defaults.create_dataset);
  o.session_limit = static_cast<uint32_t>(
      t.integer("session_limit", o.session_limit,
                "a number of new sessions per session_window from 0 (no limit) to 1000000",
                [](int64_t v) { return v >= 0 && v <= 1'000'000; }));
  o.session_window = std::chrono::duration_cast<milliseconds>(t.duration(
      "session_window", o.session_window, "a duration from 1s to 1d, e.g. \"1m\"",
      [](nanoseconds d) { return d >= std::chrono::seconds(1) && d <= std::chrono::hours(24); }));
  o.max_concurrent_writes = static_cast<uint32_t>(
      t.integer("max_concurrent_writes", o.max_concurrent_writes, "a number from 1 to 256",
                [](int64_t v) { return v >= 1 && v <= 256; }));
  return std::make_shared<const ReceiverSettings>(std::move(o));
}

void register_receiver(runtime::SourceTypes& types) {
  types.add({"link", parse_receiver_settings});
}

}  // namespace sluice::link
