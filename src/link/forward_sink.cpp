#include "link/forward_sink.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>

#include "link/wire.h"
#include "net/tls_identity.h"
#include "sluice/link/v1/link.grpc.pb.h"

namespace sluice::link {

namespace {

using std::chrono::milliseconds;

constexpr int64_t kMs = 1'000'000;
// Acknowledged frames are committed at most this often while others are in flight: a commit
// costs an fsync of the cursor file, and replies may come much faster than that.
constexpr int64_t kCommitIntervalNs = 20 * kMs;

const char* grpc_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "gRPC error";
  }
}

class ForwardSettings final : public runtime::SinkSettings {
 public:
  explicit ForwardSettings(ForwardOptions o) : options_(std::move(o)) {}
  std::string summary() const override {
    return fmt::format("forward to {} (gRPC+TLS), {} samples per frame, {} frames in flight{}",
                       options_.target, options_.batch_samples, options_.max_in_flight,
                       options_.lazy ? ", lazy" : "");
  }
  Result<std::unique_ptr<runtime::Sink>> create(const std::string& name) const override;

 private:
  ForwardOptions options_;
};

class ForwardSink final : public runtime::Sink {
 public:
  ForwardSink(std::string name, ForwardOptions options)
      : Sink(std::move(name)), options_(std::move(options)) {}

  std::string_view type() const override { return "forward"; }
  Status start(runtime::SinkContext& ctx) override;
  void stop() override {
    std::lock_guard lock(call_mu_);
    if (call_ != nullptr) call_->TryCancel();
  }
  runtime::SinkDetails details() const override;
  std::optional<OutputState> output_state(std::string_view stream) const override;

 private:
  // A frame sent, waiting for its reply.
  struct InFlight {
    uint64_t tag = 0;
    std::string stream;   // empty for an open
    std::string session;  // the session id
    uint64_t samples = 0;
    int64_t sent_at = 0;  // monotonic
    // For a batch: the read mark right after its samples, committed once it is acknowledged.
    std::optional<runtime::SinkContext::ReadMark> mark;
  };

  Status connect(runtime::SinkContext& ctx);
  // One Forward call: runs until it breaks (the error) or the sink stops (ok).
  Status run_call(runtime::SinkContext& ctx);
  // The session a stream travels as (cached; a stream's meta does not change).
  const v1::SessionInfo& session_of(const runtime::SinkContext::StreamInfo& info,
                                    const runtime::InstanceInfo& me);
  // Holds later sessions of a collector's source while an earlier one has a backlog.
  void update_holds(runtime::SinkContext& ctx);
  void set_state(const std::string& stream, std::string state, std::string reason);
  void set_all(std::string state, const std::string& reason);
  void note_error(const std::string& text);

  const ForwardOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Link::Stub> stub_;
  std::map<std::string, v1::SessionInfo> sessions_;                // by stream; sink thread only
  std::map<std::string, runtime::SinkContext::StreamInfo> infos_;  // by stream; sink thread only
  int64_t holds_checked_ = INT64_MIN / 2;

  std::mutex call_mu_;
  grpc::ClientContext* call_ = nullptr;  // guarded by call_mu_: the call to cancel on stop()

  mutable std::mutex state_mu_;
  std::map<std::string, OutputState, std::less<>> states_;  // guarded by state_mu_
  std::string last_error_;                                  // guarded by state_mu_
  std::string receiver_;                                    // guarded by state_mu_
  std::atomic<uint64_t> frames_{0};
  std::atomic<uint64_t> samples_sent_{0};
  std::atomic<uint64_t> samples_acknowledged_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<int64_t> last_rtt_us_{0};
};

Result<std::unique_ptr<runtime::Sink>> ForwardSettings::create(const std::string& name) const {
  return std::unique_ptr<runtime::Sink>(std::make_unique<ForwardSink>(name, options_));
}

runtime::SinkDetails ForwardSink::details() const {
  auto n = [](const auto& v) { return std::to_string(v.load()); };
  runtime::SinkDetails d;
  {
    std::lock_guard lock(state_mu_);
    d.push_back({"target", options_.target});
    d.push_back({"receiver", receiver_});
  }
  d.push_back({"connects", n(connects_)});
  d.push_back({"frames_sent", n(frames_)});
  d.push_back({"samples_sent", n(samples_sent_)});
  d.push_back({"samples_acknowledged", n(samples_acknowledged_)});
  d.push_back({"duplicate_batches", n(duplicates_)});
  d.push_back({"refused_batches", n(refused_)});
  d.push_back({"last_round_trip_us", n(last_rtt_us_)});
  std::lock_guard lock(state_mu_);
  d.push_back({"last_error", last_error_});
  return d;
}

std::optional<runtime::Sink::OutputState> ForwardSink::output_state(std::string_view stream) const {
  std::lock_guard lock(state_mu_);
  auto it = states_.find(stream);
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

void ForwardSink::set_state(const std::string& stream, std::string state, std::string reason) {
  std::lock_guard lock(state_mu_);
  states_[stream] = OutputState{std::move(state), std::move(reason)};
}

void ForwardSink::set_all(std::string state, const std::string& reason) {
  std::lock_guard lock(state_mu_);
  for (const auto& [stream, info] : infos_) {
    OutputState& s = states_[stream];
    if (s.state == "hold") continue;
    s = OutputState{state, reason};
  }
}

void ForwardSink::note_error(const std::string& text) {
  std::lock_guard lock(state_mu_);
  last_error_ = text;
}

const v1::SessionInfo& ForwardSink::session_of(const runtime::SinkContext::StreamInfo& info,
                                               const runtime::InstanceInfo& me) {
  auto it = sessions_.find(info.stream);
  if (it != sessions_.end()) return it->second;
  v1::SessionInfo session;
  if (!session_from_meta(info.meta_json, &session)) {
    // A stream of a local source: a new session, this instance its collector.
    const std::string destination = options_.destination.empty() ? name() : options_.destination;
    session.set_id(make_session_id(destination, info.created_ns, me.name, info.stream));
    session.set_name(info.stream);
    session.set_collector(me.name);
    session.set_source(info.stream);
    session.add_hops(me.name);
    session.set_created_ns(info.created_ns);
    session.set_destination(destination);
  }
  return sessions_.emplace(info.stream, std::move(session)).first->second;
}

void ForwardSink::update_holds(runtime::SinkContext& ctx) {
  const int64_t now = ctx.clock().monotonic();
  if (now - holds_checked_ < 500 * kMs) return;
  holds_checked_ = now;
  const runtime::InstanceInfo& me = ctx.instance_info();
  // Sessions of the same collector and source, oldest first: only the oldest with a backlog
  // is read; the later ones hold (Canary: "waiting for an earlier session").
  std::map<std::pair<std::string, std::string>,
           std::vector<const runtime::SinkContext::StreamInfo*>>
      groups;
  std::vector<runtime::SinkContext::StreamInfo> list = ctx.streams();
  for (const auto& info : list) {
    infos_[info.stream] = info;
    const v1::SessionInfo& s = session_of(info, me);
    groups[{s.collector(), s.source()}].push_back(&info);
  }
  for (auto& [key, members] : groups) {
    std::sort(members.begin(), members.end(),
              [](const auto* a, const auto* b) { return a->created_ns < b->created_ns; });
    bool earlier_busy = false;
    for (const auto* info : members) {
      const bool hold = earlier_busy && info->backlog > 0;
      ctx.set_held(info->stream, hold);
      {
        std::lock_guard lock(state_mu_);
        OutputState& st = states_[info->stream];
        if (hold) {
          st = OutputState{"hold", "waiting for an earlier session of " + key.first + "/" +
                                       key.second + " to be delivered"};
        } else if (st.state == "hold" || st.state.empty()) {
          st = OutputState{"open", ""};
        }
      }
      earlier_busy = earlier_busy || info->backlog > 0;
    }
  }
}

Status ForwardSink::connect(runtime::SinkContext& ctx) {
  const runtime::InstanceInfo& me = ctx.instance_info();
  SLUICE_ASSIGN_OR_RETURN(
      net::TlsIdentity identity,
      net::load_or_create_identity(options_.cert_file, options_.key_file, me.data_dir, me.name));
  grpc::SslCredentialsOptions ssl;
  if (!options_.server_ca_file.empty()) {
    SLUICE_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                            net::read_pem_file(options_.server_ca_file, "server CA certificate"));
  }
  ssl.pem_private_key = identity.key_pem;
  ssl.pem_cert_chain = identity.cert_pem;
  grpc::ChannelArguments args;
  if (!options_.server_name.empty()) args.SetSslTargetNameOverride(options_.server_name);
  args.SetMaxReceiveMessageSize(1 << 20);
  args.SetMaxSendMessageSize(static_cast<int>(kMaxMessageBytes));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(options_.retry_min.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(options_.retry_max.count()));
  channel_ = grpc::CreateCustomChannel(options_.target, grpc::SslCredentials(ssl), args);
  stub_ = v1::Link::NewStub(channel_);
  return Status::ok_status();
}

Status ForwardSink::start(runtime::SinkContext& ctx) {
  SLUICE_RETURN_IF_ERROR(connect(ctx));
  milliseconds backoff = options_.retry_min;
  while (!ctx.stopping()) {
    const uint64_t before = samples_acknowledged_.load();
    Status st = run_call(ctx);
    if (ctx.stopping()) break;
    ctx.rewind();
    if (samples_acknowledged_.load() != before) backoff = options_.retry_min;
    const std::string reason = st.ok() ? "the call ended" : st.message();
    note_error(reason);
    for (runtime::SinkContext::StreamInfo& info : ctx.streams()) infos_[info.stream] = info;
    set_all("closed", reason);
    set_health(runtime::HealthState::kWarning,
               fmt::format("not connected to {}: {}; retrying in {} ms", options_.target, reason,
                           backoff.count()));
    spdlog::warn("sink '{}': link to {} lost: {}; retrying in {} ms", name(), options_.target,
                 reason, backoff.count());
    ctx.sleep_until(ctx.clock().monotonic() + backoff.count() * kMs);
    backoff = std::min(backoff * 2, options_.retry_max);
  }
  return Status::ok_status();
}

Status ForwardSink::run_call(runtime::SinkContext& ctx) {
  grpc::ClientContext cc;
  if (!options_.token.empty()) cc.AddMetadata("authorization", "Bearer " + options_.token);
  {
    std::lock_guard lock(call_mu_);
    call_ = &cc;
  }
  struct Clear {
    ForwardSink* self;
    ~Clear() {
      std::lock_guard lock(self->call_mu_);
      self->call_ = nullptr;
    }
  } clear{this};
  if (ctx.stopping()) return Status::ok_status();
  // Connected first (TLS handshake included), so that "cannot reach" is told apart from a refusal.
  if (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(2))) {
    return Status(Code::kUnavailable,
                  fmt::format("cannot connect to {} (not listening, unreachable, or TLS refused)",
                              options_.target));
  }
  std::unique_ptr<grpc::ClientReaderWriter<v1::ForwardFrame, v1::ForwardReply>> call =
      stub_->Forward(&cc);
  connects_.fetch_add(1);
  auto broken = [&](const char* what) {
    grpc::Status st = call->Finish();
    const std::string text =
        st.ok() ? fmt::format("the receiver ended the call while {}", what)
                : fmt::format("{} ({})", st.error_message(), grpc_code_name(st.error_code()));
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      return Status(Code::kFailedPrecondition, "refused by the receiver: " + text);
    }
    return Status(Code::kUnavailable, text);
  };
  const runtime::InstanceInfo& me = ctx.instance_info();
  std::set<std::string> opened;  // sessions opened on this call
  uint64_t tag = 0;
  bool healthy_once = false;
  milliseconds throttle = options_.retry_min;
  // The window, oldest first: replies come in this order.
  std::deque<InFlight> inflight;
  v1::ForwardFrame frame;
  runtime::SinkItem item;
  // Open every session first: the receiver's answers (or its refusal of this sender) are known
  // before any data waits on them, and an idle link shows its true state.
  {
    v1::ForwardReply reply;
    for (const runtime::SinkContext::StreamInfo& info : ctx.streams()) {
      infos_[info.stream] = info;
      frame.Clear();
      frame.set_tag(++tag);
      *frame.mutable_open()->mutable_session() = session_of(info, me);
      if (!call->Write(frame)) return broken("opening the sessions");
      inflight.push_back(
          {.tag = tag, .stream = info.stream, .session = frame.open().session().id()});
    }
    for (const InFlight& f : inflight) {
      if (!call->Read(&reply)) return broken("opening the sessions");
      {
        std::lock_guard lock(state_mu_);
        receiver_ = reply.receiver();
      }
      if (reply.code() == v1::OK) {
        opened.insert(f.stream);
        set_state(f.stream, "open", "");
      } else {
        const std::string text =
            fmt::format("{}: {}", v1::ReplyCode_Name(reply.code()), reply.message());
        set_state(f.stream, "throttled", text);
        note_error(text);
      }
    }
    inflight.clear();
    set_health(runtime::HealthState::kHealthy);
    healthy_once = true;
  }
  // Pipelined: up to max_in_flight batch frames stay outstanding; each reply frees a place for
  // the next frame. An acknowledged frame's mark is committed (see kCommitIntervalNs), so the
  // cursors never pass a frame that is not acknowledged, nor one after a refused frame.
  uint32_t batches_in_flight = 0;
  std::optional<runtime::SinkContext::ReadMark> acked;  // acknowledged, not yet committed
  uint64_t acked_samples = 0;
  int64_t committed_at = ctx.clock().monotonic();
  auto commit_acked = [&]() -> Status {
    if (!acked) return Status::ok_status();
    SLUICE_RETURN_IF_ERROR(ctx.commit_to(*acked));
    acked.reset();
    samples_acknowledged_.fetch_add(acked_samples, std::memory_order_relaxed);
    acked_samples = 0;
    committed_at = ctx.clock().monotonic();
    return Status::ok_status();
  };
  // The call broke: what was acknowledged is kept (the receiver has it durably) and the rest
  // is sent again on the next call.
  auto broken_after_acks = [&](const char* what) {
    Status committed = commit_acked();
    Status st = broken(what);
    return committed.ok() ? st : committed;
  };
  // Reads the reply to the oldest frame in flight and takes it off the window.
  v1::ForwardReply reply;
  auto next_reply = [&](InFlight* f) -> Status {
    if (!call->Read(&reply)) return broken_after_acks("waiting for replies");
    *f = std::move(inflight.front());
    inflight.pop_front();
    if (f->mark) --batches_in_flight;
    if (reply.tag() != f->tag) {
      Status committed = commit_acked();
      if (!committed.ok()) return committed;
      return Status(Code::kUnavailable,
                    fmt::format("reply for frame {} came where {} was expected; reconnecting",
                                reply.tag(), f->tag));
    }
    {
      std::lock_guard lock(state_mu_);
      receiver_ = reply.receiver();
    }
    last_rtt_us_.store((ctx.clock().monotonic() - f->sent_at) / 1000, std::memory_order_relaxed);
    if (reply.code() == v1::DUPLICATE) duplicates_.fetch_add(1, std::memory_order_relaxed);
    return Status::ok_status();
  };
  auto refusal = [&]() {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return fmt::format("{}: {}", v1::ReplyCode_Name(reply.code()), reply.message());
  };
  InFlight f;
  while (!ctx.stopping()) {
    update_holds(ctx);
    if (inflight.empty() && !options_.lazy) {
      // Buffered: let a small backlog fill frames for up to `linger`.
      uint64_t backlog = 0;
      for (const auto& [stream, info] : infos_) backlog += info.backlog;
      if (backlog > 0 && backlog < options_.batch_samples) {
        ctx.sleep_until(ctx.clock().monotonic() + options_.linger.count() * kMs);
      }
    }
    // Fill the window.
    while (batches_in_flight < options_.max_in_flight) {
      Result<bool> got = ctx.read(options_.batch_samples, &item);
      if (!got.ok()) return got.status();
      if (!*got) break;
      runtime::SinkContext::ReadMark after = ctx.mark();
      if (!opened.contains(item.stream)) {
        runtime::SinkContext::StreamInfo info;
        if (auto it = infos_.find(item.stream); it != infos_.end()) {
          info = it->second;
        } else {
          for (auto& i : ctx.streams()) infos_[i.stream] = i;
          info = infos_[item.stream];
        }
        frame.Clear();
        frame.set_tag(++tag);
        *frame.mutable_open()->mutable_session() = session_of(info, me);
        if (!call->Write(frame)) return broken_after_acks("opening a session");
        inflight.push_back({.tag = tag,
                            .session = frame.open().session().id(),
                            .sent_at = ctx.clock().monotonic()});
        opened.insert(item.stream);
      }
      const v1::SessionInfo& session = sessions_.at(item.stream);
      frame.Clear();
      frame.set_tag(++tag);
      v1::BatchFrame* b = frame.mutable_batch();
      b->set_session(session.id());
      b->set_first_seq(item.first_seq);
      SLUICE_RETURN_IF_ERROR(encode_wire_batch(item.batch, {}, b->mutable_batch()));
      if (!call->Write(frame)) return broken_after_acks("sending a batch");
      frames_.fetch_add(1, std::memory_order_relaxed);
      samples_sent_.fetch_add(item.batch.size(), std::memory_order_relaxed);
      inflight.push_back({.tag = tag,
                          .stream = item.stream,
                          .session = session.id(),
                          .samples = item.batch.size(),
                          .sent_at = ctx.clock().monotonic(),
                          .mark = std::move(after)});
      ++batches_in_flight;
    }
    if (inflight.empty()) {
      SLUICE_RETURN_IF_ERROR(commit_acked());
      ctx.sleep_until(ctx.clock().monotonic() +
                      (options_.lazy ? 10 : options_.linger.count()) * kMs);
      continue;
    }
    // The oldest frame's reply.
    SLUICE_RETURN_IF_ERROR(next_reply(&f));
    switch (reply.code()) {
      case v1::OK:
      case v1::GAP:
      case v1::DUPLICATE:
        if (f.mark) {
          acked = std::move(f.mark);
          acked_samples += f.samples;
        }
        if (inflight.empty() || ctx.clock().monotonic() - committed_at >= kCommitIntervalNs) {
          SLUICE_RETURN_IF_ERROR(commit_acked());
        }
        throttle = options_.retry_min;
        if (!healthy_once) {
          set_health(runtime::HealthState::kHealthy);
          set_all("open", "");
          healthy_once = true;
        }
        continue;
      default: break;
    }
    // Refused: nothing from this frame on is committed; it is all sent again after a back-off.
    // What was acknowledged before it is kept. The replies still due are read first, so the
    // next frame's reply is not mistaken for one of them.
    const std::string refused = refusal();
    const std::string refused_stream = f.stream;
    SLUICE_RETURN_IF_ERROR(commit_acked());
    while (!inflight.empty()) {
      SLUICE_RETURN_IF_ERROR(next_reply(&f));
      switch (reply.code()) {
        case v1::OK:
        case v1::GAP:
        case v1::DUPLICATE: break;
        default: (void)refusal(); break;
      }
    }
    // Throttled: connected, but the receiver does not take the data. Back off, show why.
    ctx.rewind();
    note_error(refused);
    if (!refused_stream.empty()) set_state(refused_stream, "throttled", refused);
    set_health(
        runtime::HealthState::kWarning,
        fmt::format("the receiver refuses data: {}; retrying in {} ms", refused, throttle.count()));
    spdlog::warn("sink '{}': receiver refused a batch: {}", name(), refused);
    healthy_once = false;
    ctx.sleep_until(ctx.clock().monotonic() + throttle.count() * kMs);
    throttle = std::min(throttle * 2, options_.retry_max);
  }
  SLUICE_RETURN_IF_ERROR(commit_acked());
  call->WritesDone();
  cc.TryCancel();
  return Status::ok_status();
}

}  // namespace

std::shared_ptr<const runtime::SinkSettings> parse_forward_settings(runtime::ConfigTable& t) {
  using std::chrono::nanoseconds;
  ForwardOptions o;
  o.target = t.string(
      "target", "", "the receiver's host:port, e.g. \"plant-b:7480\"", [](const std::string& v) {
        static const std::regex kPattern(R"((\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5})");
        return std::regex_match(v, kPattern);
      });
  if (o.target.empty()) t.error("target", "required: the receiver's host:port");
  o.server_ca_file =
      t.file_path("server_ca_file", "", "a PEM file with the receiver's certificate or its CA");
  o.server_name = t.string("server_name", "", "a host name in the receiver's certificate");
  o.token = t.string("token", "", "an API token of a user of the receiver");
  o.cert_file = t.file_path("tls_cert_file", "", "a PEM certificate file");
  o.key_file = t.file_path("tls_key_file", "", "a PEM private key file");
  if (o.cert_file.empty() != o.key_file.empty()) {
    t.error(o.cert_file.empty() ? "tls_cert_file" : "tls_key_file",
            "give both tls_cert_file and tls_key_file, or neither");
  }
  o.destination = t.string("destination", "", "the final destination's name, of A-Z a-z 0-9 _ . -",
                           [](const std::string& v) {
                             static const std::regex kPattern("[A-Za-z0-9_.-]{1,64}");
                             return std::regex_match(v, kPattern);
                           });
  o.batch_samples = static_cast<uint32_t>(
      t.integer("batch_samples", o.batch_samples, "a number of samples from 1 to 1048576",
                [](int64_t v) { return v >= 1 && v <= kMaxFrameSamples; }));
  o.max_in_flight = static_cast<uint32_t>(t.integer("max_in_flight", o.max_in_flight,
                                                    "a number of frames from 1 to 256",
                                                    [](int64_t v) { return v >= 1 && v <= 256; }));
  o.lazy = t.boolean("lazy", o.lazy);
  o.linger = std::chrono::duration_cast<milliseconds>(t.duration(
      "linger", o.linger, "a duration from 1ms to 10s",
      [](nanoseconds d) { return d >= milliseconds(1) && d <= std::chrono::seconds(10); }));
  o.retry_min = std::chrono::duration_cast<milliseconds>(t.duration(
      "retry_min", o.retry_min, "a duration from 10ms to 1m",
      [](nanoseconds d) { return d >= milliseconds(10) && d <= std::chrono::minutes(1); }));
  o.retry_max = std::chrono::duration_cast<milliseconds>(t.duration(
      "retry_max", o.retry_max, "a duration from 10ms to 1h",
      [](nanoseconds d) { return d >= milliseconds(10) && d <= std::chrono::hours(1); }));
  return std::make_shared<const ForwardSettings>(std::move(o));
}

runtime::SinkType forward_sink_type() { return {"forward", parse_forward_settings}; }

}  // namespace sluice::link
