// The runtime's moving parts: one Slot per configured source (its context, its thread, its
// counters), the status logger, and the shutdown order that keeps acknowledged data safe
// (stop sources, join them, sync the store, close it).
#include "runtime/runtime.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <utility>

#include "runtime/config_text.h"
#include "runtime/units.h"

namespace sluice::runtime {

std::string stream_service(std::string_view meta_json) {
  const nlohmann::json meta = nlohmann::json::parse(meta_json, nullptr, /*allow_exceptions=*/false);
  if (!meta.is_object()) return {};
  for (const char* key : {"service", "source"}) {
    auto it = meta.find(key);
    if (it != meta.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

// What the runtime keeps for every service, source or sink: its config, the running instance
// (replaced on a restart), the stop signal, an interruptible sleep, MODE and a health the
// runtime imposes (a failed start). Slot and SinkSlot add their side of the context.
template <typename ServiceT, typename ConfigT>
class ServiceSlot {
 public:
  ServiceSlot(Clock& clock, ConfigT config) : clock_(clock), config_(std::move(config)) {}

  const ConfigT& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  ServiceT* instance() {
    std::lock_guard lock(instance_mu_);
    return instance_.get();
  }
  void set_instance(std::unique_ptr<ServiceT> instance) {
    std::lock_guard lock(instance_mu_);
    instance_ = std::move(instance);
  }
  // Calls f(instance) (null if there is none) with the instance held, so that a restart cannot
  // replace it meanwhile: for other threads (status, trigger, the write API). f must not block
  // for long (a write waits for durability, no more).
  template <typename F>
  auto with_instance(F&& f) const {
    std::lock_guard lock(instance_mu_);
    return f(static_cast<ServiceT*>(instance_.get()));
  }
  // The same, concurrently with other callers of this one (not with with_instance): for f
  // that is thread-safe on the instance (the adapters' ingest).
  template <typename F>
  auto with_instance_shared(F&& f) const {
    std::shared_lock lock(instance_mu_);
    return f(static_cast<ServiceT*>(instance_.get()));
  }
  // Interrupts the running instance's blocking calls (Service::stop). Any thread.
  void stop_instance() {
    std::lock_guard lock(instance_mu_);
    if (instance_ != nullptr) instance_->stop();
  }
  void request_stop() {
    stop_.request_stop();
    sleep_cv_.notify_all();
  }
  bool stop_requested() const { return stop_.stop_requested(); }
  std::stop_token token() const { return stop_.get_token(); }

  // Waits until the clock reaches monotonic_ns (true), a wake (true) or a stop (false).
  bool sleep_until_or_stop(int64_t monotonic_ns) {
    const std::stop_token token = stop_.get_token();
    std::unique_lock lock(sleep_mu_);
    while (!token.stop_requested()) {
      if (woken_) {
        woken_ = false;
        return true;
      }
      const int64_t remaining = monotonic_ns - clock_.monotonic();
      if (remaining <= 0) return true;
      sleep_cv_.wait_for(lock, token, std::chrono::nanoseconds(remaining),
                         [this] { return woken_; });
    }
    return false;
  }
  void wake_sleep() {
    {
      std::lock_guard lock(sleep_mu_);
      woken_ = true;
    }
    sleep_cv_.notify_all();
  }

  void set_mode(Mode mode) {
    std::lock_guard lock(state_mu_);
    mode_ = mode;
  }
  // A health decided by the runtime (failed start) that overrides the service's own.
  void set_failure(std::optional<Health> failure) {
    std::lock_guard lock(state_mu_);
    failure_ = std::move(failure);
  }
  // MODE, and the health to show: the imposed one, else the running instance's own.
  std::pair<Mode, Health> mode_and_health() const {
    std::lock_guard lock(state_mu_);
    Health health;
    if (failure_) {
      health = *failure_;
    } else if (mode_ == Mode::kRunning) {
      std::lock_guard instance_lock(instance_mu_);
      if (instance_ != nullptr) health = instance_->health();
    }
    return {mode_, health};
  }

  std::thread thread;

 protected:
  Clock& clock_;
  const ConfigT config_;

 private:
  mutable std::shared_mutex instance_mu_;
  std::unique_ptr<ServiceT> instance_;  // guarded by instance_mu_

  std::stop_source stop_;
  std::mutex sleep_mu_;
  std::condition_variable_any sleep_cv_;
  bool woken_ = false;  // guarded by sleep_mu_

  mutable std::mutex state_mu_;
  Mode mode_ = Mode::kIdle;        // guarded by state_mu_
  std::optional<Health> failure_;  // guarded by state_mu_
};

// A source with everything the runtime keeps for it. It is the source's SourceContext.
class Runtime::Slot final : public SourceContext, public ServiceSlot<Source, SourceConfig> {
 public:
  Slot(Runtime& runtime, LastValues::Stream& last_values, SourceConfig config,
       const std::vector<std::string>& session_streams)
      : ServiceSlot(*runtime.options_.clock, std::move(config)),
        runtime_(runtime),
        store_(*runtime.store_),
        series_(*runtime.series_),
        last_values_(last_values),
        session_streams_() {
    for (const std::string& stream : session_streams) {
      Result<std::string> meta = store_.stream_meta(stream);
      session_streams_.emplace(stream, session_input(meta.ok() ? *meta : "{}"));
    }
    if (config_.filters) filters_ = config_.filters->make();
  }

  // ---- SourceContext ----------------------------------------------------------------------
  using SourceContext::ingest;
  Result<store::AppendResult> ingest(Batch&& batch, store::AppendOptions options) override {
    std::shared_lock lock(accept_mu_);
    if (!accepting_) {
      return failed_precondition("source '" + config_.name +
                                 "' is not running; its data is not accepted");
    }
    if (!filters_.empty() && !batch.empty()) {
      // The source's filter chain, before anything is stored; what it drops is counted.
      std::lock_guard filter_lock(filters_mu_);
      const size_t before = batch.size();
      filters_.apply(batch);
      filtered_samples_.fetch_add(before - batch.size(), std::memory_order_relaxed);
    }
    const size_t n = batch.size();
    if (n == 0) return store::AppendResult{};
    // The rules see the batch now, not after the store's sync (live_tap.h).
    runtime_.live_tap_.publish_ingest(config_.name, batch);
    Result<store::AppendResult> r = store_.append(config_.name, batch, options);
    if (!r.ok()) {
      failed_ingests_.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
    if (r->outcome == store::AppendResult::Outcome::kDropped) {
      dropped_samples_.fetch_add(n, std::memory_order_relaxed);
    } else {
      samples_.fetch_add(n, std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
      // The live tap: what is now in the store (a duplicate append_at changes nothing here).
      last_values_.update(batch);
      runtime_.live_tap_.publish(config_.name, batch);
    }
    return r;
  }
  uint64_t wait_durable(uint64_t end_seq, std::chrono::milliseconds timeout) override {
    // A stop does not end the wait: a source that stops waits for its last data to be durable
    // before it acknowledges it. The store wakes waiters when it closes.
    if (end_seq == 0) return 0;
    return store_.wait_readable(config_.name, end_seq - 1, timeout);
  }
  Status update_series(const std::vector<SeriesMeta>& meta) override {
    return series_.update(meta, config_.name);
  }

  Status open_stream(std::string_view stream, std::string_view meta_json) override {
    if (stream == config_.name) {
      return invalid_argument("'" + std::string(stream) +
                              "' is the source's own stream, not a session stream");
    }
    {
      std::lock_guard lock(sessions_mu_);
      if (session_streams_.contains(stream)) return Status::ok_status();
    }
    if (store_.has_stream(stream)) {
      // An existing stream may become this source's only if it already was (e.g. written by an
      // instance of it before a restart of the runtime).
      Result<std::string> meta = store_.stream_meta(stream);
      const std::string owner = meta.ok() ? stream_service(*meta) : std::string();
      if (owner != config_.name) {
        return failed_precondition(fmt::format("stream '{}' belongs to '{}', not to source '{}'",
                                               stream, owner, config_.name));
      }
    }
    // The stream is this source's: its meta says so, whatever the caller wrote.
    nlohmann::json meta = nlohmann::json::parse(meta_json, nullptr, /*allow_exceptions=*/false);
    if (!meta.is_object()) meta = nlohmann::json::object();
    meta["service"] = config_.name;
    SLUICE_RETURN_IF_ERROR(runtime_.attach_stream(config_.name, std::string(stream), meta.dump()));
    std::lock_guard lock(sessions_mu_);
    session_streams_.emplace(stream, session_input(meta.dump()));
    return Status::ok_status();
  }
  Result<store::AppendResult> ingest_to(std::string_view stream, std::optional<uint64_t> first_seq,
                                        Batch&& batch, store::AppendOptions options) override {
    std::shared_lock lock(accept_mu_);
    if (!accepting_) {
      return failed_precondition("source '" + config_.name +
                                 "' is not running; its data is not accepted");
    }
    {
      std::lock_guard sessions_lock(sessions_mu_);
      auto it = session_streams_.find(stream);
      if (it == session_streams_.end()) {
        return failed_precondition(fmt::format(
            "source '{}' has no session stream '{}' (open_stream first)", config_.name, stream));
      }
      it->second.last_input_ns = clock_.now();
      it->second.closed = false;
    }
    const size_t n = batch.size();
    if (n == 0) return store::AppendResult{};
    Result<store::AppendResult> r = first_seq ? store_.append_at(stream, *first_seq, batch, options)
                                              : store_.append(stream, batch, options);
    if (!r.ok()) {
      failed_ingests_.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
    if (r->outcome == store::AppendResult::Outcome::kDropped) {
      dropped_samples_.fetch_add(n, std::memory_order_relaxed);
    } else if (r->outcome == store::AppendResult::Outcome::kAppended) {
      samples_.fetch_add(n, std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
      runtime_.last_values_.stream(stream).update(batch);
      // Forwarded data may be a resend: the rules see a session stream's batch only once the
      // store recognised it as new.
      runtime_.live_tap_.publish_ingest(stream, batch);
      runtime_.live_tap_.publish(stream, batch);
    }
    return r;
  }
  uint64_t wait_durable_in(std::string_view stream, uint64_t end_seq,
                           std::chrono::milliseconds timeout) override {
    if (end_seq == 0) return 0;
    return store_.wait_readable(stream, end_seq - 1, timeout);
  }
  Result<uint64_t> next_seq(std::string_view stream) const override {
    {
      std::lock_guard lock(sessions_mu_);
      if (!session_streams_.contains(stream)) {
        return not_found(
            fmt::format("source '{}' has no session stream '{}'", config_.name, stream));
      }
    }
    SLUICE_ASSIGN_OR_RETURN(store::StreamStats st, store_.stream_stats(stream));
    return st.next_seq;
  }
  const InstanceInfo& instance_info() const override { return runtime_.instance_; }

  // Closes the session streams whose input was idle past their inactive timeout; a closed
  // session whose settings say "write NoData on close" gets one Bad_NoData sample per series,
  // just after that series' last sample, marking where logging stopped. Its next input opens it
  // again. Called by the runtime's housekeeping, about once a second.
  void close_idle_sessions() {
    const int64_t now = clock_.now();
    std::vector<std::string> to_mark;
    {
      std::lock_guard lock(sessions_mu_);
      for (auto& [stream, in] : session_streams_) {
        if (in.closed || in.inactive_timeout_ns == 0 || in.last_input_ns == 0) continue;
        if (now - in.last_input_ns < in.inactive_timeout_ns) continue;
        in.closed = true;
        spdlog::info("source '{}': session stream '{}' closed after {} ms without input",
                     config_.name, stream, in.inactive_timeout_ns / 1'000'000);
        if (in.write_nodata) to_mark.push_back(stream);
      }
    }
    for (const std::string& stream : to_mark) {
      Batch marks;
      for (const LastValue& v : runtime_.last_values_.of_stream(stream)) {
        if (v.quality == quality::kBadNoData) continue;  // marked already
        marks.samples.push_back(Sample{v.series, v.ts + 1, 0.0, quality::kBadNoData});
      }
      if (marks.empty()) continue;
      Result<store::AppendResult> r = store_.append(stream, marks, {.wait_durable = false});
      if (!r.ok()) {
        spdlog::warn("source '{}': cannot write NoData to closed session '{}': {}", config_.name,
                     stream, r.status().message());
        continue;
      }
      runtime_.last_values_.stream(stream).update(marks);
      runtime_.live_tap_.publish_ingest(stream, marks);
      runtime_.live_tap_.publish(stream, marks);
    }
  }
  // When the session stream last had input (wall clock, 0: not since start) and whether it is
  // closed by inactivity; nullopt if it is not one of this source's session streams.
  std::optional<std::pair<int64_t, bool>> session_input_state(std::string_view stream) const {
    std::lock_guard lock(sessions_mu_);
    auto it = session_streams_.find(stream);
    if (it == session_streams_.end()) return std::nullopt;
    return std::make_pair(it->second.last_input_ns, it->second.closed);
  }
  const TokenVerifier* tokens() const override { return runtime_.options_.tokens; }
  Status submit_control(const ControlRequest& request, ControlDone done) override {
    ControlRouter* router = runtime_.control_router();
    if (router == nullptr) return SourceContext::submit_control(request, std::move(done));
    return router->submit(request, Caller::service(config_.name, config_.type), std::move(done));
  }

  Clock& clock() override { return clock_; }
  bool stopping() const override { return stop_requested(); }
  std::stop_token stop_token() const override { return token(); }
  bool sleep_until(int64_t monotonic_ns) override { return sleep_until_or_stop(monotonic_ns); }

  // ---- the runtime's side -----------------------------------------------------------------
  void set_accepting(bool accepting) {
    std::unique_lock lock(accept_mu_);  // waits for an ingest in progress
    accepting_ = accepting;
  }
  // For Runtime::supervise: run the current instance; put a new one in its place.
  Status run_instance() { return instance()->start(*this); }
  void install(std::unique_ptr<Source> source) { set_instance(std::move(source)); }

  SourceStatus status() const {
    SourceStatus s;
    s.name = config_.name;
    s.type = config_.type;
    s.org = config_.org;
    std::tie(s.mode, s.health) = mode_and_health();
    s.samples = samples_.load(std::memory_order_relaxed);
    s.batches = batches_.load(std::memory_order_relaxed);
    s.dropped_samples = dropped_samples_.load(std::memory_order_relaxed);
    s.failed_ingests = failed_ingests_.load(std::memory_order_relaxed);
    s.filtered_samples = filtered_samples_.load(std::memory_order_relaxed);
    s.details = with_instance(
        [](const Source* source) { return source ? source->details() : SinkDetails{}; });
    return s;
  }

 private:
  Runtime& runtime_;
  store::Store& store_;
  SeriesRegistry& series_;
  LastValues::Stream& last_values_;
  // What the slot knows of the input of each of its session streams.
  struct SessionInput {
    int64_t inactive_timeout_ns = 0;  // from the session's settings; 0: never closes
    bool write_nodata = false;        // write NoData on close (only where the session began)
    int64_t last_input_ns = 0;        // wall clock of the last ingest_to (0: none since start)
    bool closed = false;              // closed by inactivity since the last input
  };
  SessionInput session_input(std::string_view meta_json) const {
    SessionInput in;
    const nlohmann::json meta = nlohmann::json::parse(meta_json, nullptr, false);
    if (!meta.is_object() || !meta.contains("session") || !meta["session"].is_object()) return in;
    const nlohmann::json& session = meta["session"];
    const nlohmann::json settings = session.value("settings", nlohmann::json::object());
    if (!settings.is_object()) return in;
    const int64_t ms = settings.value("inactive_timeout_ms", int64_t{0});
    in.inactive_timeout_ns = ms > 0 ? ms * 1'000'000 : 0;
    // A forwarded session keeps the sender's sequences: only the instance where it began (its
    // collector) may add samples to it.
    in.write_nodata = settings.value("write_nodata_on_close", false) &&
                      session.value("collector", "") == runtime_.instance_.name;
    return in;
  }

  mutable std::mutex sessions_mu_;
  std::map<std::string, SessionInput, std::less<>> session_streams_;  // guarded by sessions_mu_

  std::shared_mutex accept_mu_;
  bool accepting_ = false;  // guarded by accept_mu_

  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> dropped_samples_{0};
  std::atomic<uint64_t> failed_ingests_{0};
  std::atomic<uint64_t> filtered_samples_{0};
  std::mutex filters_mu_;        // serializes the chain (filters may keep state)
  ingest::FilterChain filters_;  // guarded by filters_mu_
};

// A sink with everything the runtime keeps for it. It is the sink's SinkContext: one reader per
// stream the sink takes data from, positioned at the sink's cursor; commit() moves the cursors
// to where the readers are, commit_to() to where they were at a mark.
//
// Marks: per stream, `reads` counts the samples read since the reader was last placed at the
// cursor (read_epoch: a rewind or a new instance places it again and voids older marks), and
// `committed` how many of them a commit covered; a commit counts the difference as delivered.
// seek_epoch changes when a purge moves the reader on: a mark from before it keeps its samples
// counted but does not move that cursor (it is ahead already).
//
// Sessions: each stream of the sink may be paused (read() skips it; what was read from it before
// is committed as usual) or purged (the store moves the cursor to the readable end; the reader is
// moved there at its next read, and a commit in between does not touch that cursor). read_mu_
// makes a pause or a purge wait for a read or commit in progress, so that none starts on the old
// state once they return.
class Runtime::SinkSlot final : public SinkContext, public ServiceSlot<Sink, SinkConfig> {
 public:
  SinkSlot(store::Store& store, SeriesRegistry& series, Clock& clock, const InstanceInfo& instance,
           SinkConfig config, const std::vector<std::string>& streams)
      : ServiceSlot(clock, std::move(config)), store_(store), series_(series), instance_(instance) {
    for (const std::string& stream : streams) add_stream(stream, false);
  }

  std::optional<SeriesMeta> series(std::string_view name) const override {
    return series_.find(name);
  }

  // ---- SinkContext ------------------------------------------------------------------------
  Result<bool> read(size_t max_samples, SinkItem* out) override {
    std::lock_guard lock(read_mu_);
    const size_t n = streams_.size();
    for (size_t tried = 0; tried < n; ++tried) {
      const size_t i = next_stream_ % n;
      next_stream_ = (i + 1) % n;
      PerStream& ps = per_stream_[i];
      if (ps.paused || ps.held) continue;
      SLUICE_ASSIGN_OR_RETURN(store::StreamReader * reader, reader_for(i));
      if (ps.reseek) {  // purged since the last read: go on from the moved cursor
        SLUICE_ASSIGN_OR_RETURN(store::CursorInfo cur, store_.cursor(streams_[i], config_.name));
        reader->seek(cur.next_seq);
        ps.reseek = false;
        ++ps.seek_epoch;
      }
      store::ReadItem item;
      SLUICE_ASSIGN_OR_RETURN(bool got, reader->next(max_samples, &item));
      if (!got) continue;
      out->stream = streams_[i];
      out->first_seq = item.first_seq;
      out->batch = std::move(item.batch);
      ps.reads += out->batch.size();
      return true;
    }
    return false;
  }

  Status commit() override { return commit_to(mark()); }

  ReadMark mark() const override {
    std::lock_guard lock(read_mu_);
    ReadMark m;
    m.streams.reserve(per_stream_.size());
    for (const PerStream& ps : per_stream_) {
      m.streams.push_back({.position = ps.reader ? ps.reader->position() : 0,
                           .read = ps.reads,
                           .read_epoch = ps.read_epoch,
                           .seek_epoch = ps.seek_epoch});
    }
    return m;
  }

  Status commit_to(const ReadMark& mark) override {
    std::lock_guard lock(read_mu_);
    // Streams added after the mark are not in it: nothing of them is covered.
    const size_t n = std::min(mark.streams.size(), per_stream_.size());
    for (size_t i = 0; i < n; ++i) {
      PerStream& ps = per_stream_[i];
      const ReadMark::Stream& m = mark.streams[i];
      // Rewound since (its reads are void), or no further than the last commit.
      if (m.read_epoch != ps.read_epoch || m.read <= ps.committed) continue;
      // reseek or another seek epoch: purged since; its cursor is ahead already.
      if (ps.reader && !ps.reseek && m.seek_epoch == ps.seek_epoch) {
        SLUICE_RETURN_IF_ERROR(store_.commit_cursor(streams_[i], config_.name, m.position));
      }
      const uint64_t samples = m.read - ps.committed;
      ps.committed = m.read;
      ps.delivered += samples;
      delivered_.fetch_add(samples, std::memory_order_relaxed);
    }
    return Status::ok_status();
  }

  void rewind() override {
    std::lock_guard lock(read_mu_);
    for (size_t i = 0; i < streams_.size(); ++i) {
      PerStream& ps = per_stream_[i];
      if (ps.reader) {
        auto cur = store_.cursor(streams_[i], config_.name);
        if (cur.ok()) {
          ps.reader->seek(cur->next_seq);
          ps.reseek = false;
        }
      }
      ps.new_read_epoch();
    }
  }

  uint64_t backlog() const override {
    uint64_t n = 0;
    for (const std::string& stream : stream_names()) {
      auto st = store_.stream_stats(stream);
      if (!st.ok()) continue;
      auto cur = st->cursors.find(config_.name);
      if (cur != st->cursors.end() && st->readable_end > cur->second.next_seq) {
        n += st->readable_end - cur->second.next_seq;
      }
    }
    return n;
  }

  std::vector<StreamInfo> streams() const override {
    std::vector<StreamInfo> out;
    for (std::string& stream : stream_names()) {
      StreamInfo info;
      Result<std::string> meta = store_.stream_meta(stream);
      info.meta_json = meta.ok() ? *meta : "{}";
      Result<store::StreamStats> st = store_.stream_stats(stream);
      if (st.ok()) {
        info.created_ns = st->created_ns;
        auto cur = st->cursors.find(config_.name);
        if (cur != st->cursors.end() && st->readable_end > cur->second.next_seq) {
          info.backlog = st->readable_end - cur->second.next_seq;
        }
      }
      info.stream = std::move(stream);
      out.push_back(std::move(info));
    }
    return out;
  }
  void set_held(std::string_view stream, bool held) override {
    std::lock_guard lock(read_mu_);
    for (size_t i = 0; i < streams_.size(); ++i) {
      if (streams_[i] == stream) per_stream_[i].held = held;
    }
  }
  const InstanceInfo& instance_info() const override { return instance_; }

  Clock& clock() override { return clock_; }
  bool stopping() const override { return stop_requested(); }
  bool sleep_until(int64_t monotonic_ns) override { return sleep_until_or_stop(monotonic_ns); }
  void wake() override { wake_sleep(); }

  // ---- the runtime's side -----------------------------------------------------------------
  // The streams it reads, in its read order (the index is the session's place). Any thread.
  std::vector<std::string> stream_names() const {
    std::lock_guard lock(read_mu_);
    return streams_;
  }
  // Reads `stream` from now on too (a new session stream of a source it takes); its cursor must
  // exist. No-op if it reads it already. Any thread.
  void add_stream(const std::string& stream, bool paused) {
    std::lock_guard lock(read_mu_);
    if (std::find(streams_.begin(), streams_.end(), stream) != streams_.end()) return;
    streams_.push_back(stream);
    per_stream_.emplace_back();
    per_stream_.back().paused = paused;
  }
  // A new instance starts from the durable cursors, not from where the last one read.
  void reset_readers() {
    std::lock_guard lock(read_mu_);
    for (PerStream& ps : per_stream_) {
      ps.reader.reset();
      ps.reseek = false;
      ps.held = false;
      ps.new_read_epoch();
    }
  }
  // The session on stream_names()[i]; see the class comment. Any thread.
  void set_paused(size_t i, bool paused) {
    std::lock_guard lock(read_mu_);
    per_stream_.at(i).paused = paused;
  }
  bool paused(size_t i) const {
    std::lock_guard lock(read_mu_);
    return per_stream_.at(i).paused;
  }
  Result<store::PurgeReport> purge(size_t i) {
    std::lock_guard lock(read_mu_);
    Result<store::PurgeReport> report = store_.purge(streams_.at(i), config_.name);
    if (report.ok()) {
      per_stream_[i].reseek = true;
      ++per_stream_[i].seek_epoch;
    }
    return report;
  }
  uint64_t delivered_from(size_t i) const {
    std::lock_guard lock(read_mu_);
    return i < per_stream_.size() ? per_stream_[i].delivered : 0;
  }
  std::optional<Sink::OutputState> output_state(const std::string& stream) const {
    return with_instance([&](const Sink* sink) -> std::optional<Sink::OutputState> {
      return sink ? sink->output_state(stream) : std::nullopt;
    });
  }
  // For Runtime::supervise: run the current instance; put a new one in its place, which starts
  // again from the durable cursors.
  Status run_instance() { return instance()->start(*this); }
  void install(std::unique_ptr<Sink> sink) {
    restarts_.fetch_add(1, std::memory_order_relaxed);
    reset_readers();
    set_instance(std::move(sink));
  }

  SinkStatus status() const {
    SinkStatus st;
    st.name = config_.name;
    st.type = config_.type;
    st.org = config_.org;
    std::tie(st.mode, st.health) = mode_and_health();
    st.delivered = delivered_.load(std::memory_order_relaxed);
    st.backlog = backlog();
    st.restarts = restarts_.load(std::memory_order_relaxed);
    st.details =
        with_instance([](const Sink* sink) { return sink ? sink->details() : SinkDetails{}; });
    return st;
  }

 private:
  // What the slot keeps per stream it reads (index as in streams_).
  struct PerStream {
    std::unique_ptr<store::StreamReader> reader;  // opened at the first read
    bool paused = false;                          // by an operator
    bool held = false;                            // by the sink (set_held)
    bool reseek = false;                          // purged: the reader must follow the cursor
    uint64_t reads = 0;       // read since read_epoch began (see the class comment)
    uint64_t committed = 0;   // of `reads`, covered by a commit
    uint64_t read_epoch = 0;  // the reader's placement at the cursor
    uint64_t seek_epoch = 0;  // bumped when a purge moves the reader on
    uint64_t delivered = 0;   // committed since the slot began

    // The reader is placed at the cursor again: what was read and not committed is void.
    void new_read_epoch() {
      ++read_epoch;
      reads = 0;
      committed = 0;
    }
  };

  Result<store::StreamReader*> reader_for(size_t i) {  // read_mu_ held
    PerStream& ps = per_stream_[i];
    if (!ps.reader) {
      SLUICE_ASSIGN_OR_RETURN(store::CursorInfo cur, store_.cursor(streams_[i], config_.name));
      SLUICE_ASSIGN_OR_RETURN(ps.reader, store_.open_reader(streams_[i], cur.next_seq));
    }
    return ps.reader.get();
  }

  store::Store& store_;
  SeriesRegistry& series_;
  const InstanceInfo& instance_;
  // read_mu_ guards everything below but the atomics. A read or commit holds it throughout, so
  // a pause, a purge or a new stream waits for one in progress, and none starts on the old state
  // once they return.
  mutable std::mutex read_mu_;
  std::vector<std::string> streams_;
  std::deque<PerStream> per_stream_;
  size_t next_stream_ = 0;

  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> restarts_{0};
};

Result<std::unique_ptr<Runtime>> Runtime::open(const Config& config, RuntimeOptions options) {
  if (options.env == nullptr) options.env = &Env::posix();
  if (options.clock == nullptr) options.clock = &SystemClock::instance();

  store::StoreOptions store_options = config.store;
  store_options.clock = options.clock;
  store::RecoveryReport report;
  Result<std::unique_ptr<store::Store>> store =
      store::Store::open(*options.env, store_options, &report);
  if (!store.ok()) {
    return store.status().with_context("cannot open the store in '" + config.store.dir + "'");
  }
  for (const std::string& line : report.messages) spdlog::warn("store recovery: {}", line);
  if (report.truncated_bytes != 0 || report.corrupt_records != 0) {
    spdlog::warn("store recovery: cut {} torn bytes, skipped {} corrupt records",
                 report.truncated_bytes, report.corrupt_records);
  }
  spdlog::info("store open in {}: {} streams, {} segments", config.store.dir, report.streams,
               report.segments);

  // The state database: next to the store on a real disk; in memory when the store runs on a
  // test file system.
  const std::string db_path = !options.state_db.empty() ? options.state_db
                              : options.env == &Env::posix()
                                  ? join_path(config.store.dir, "state.db")
                                  : std::string(":memory:");
  Result<std::unique_ptr<StateDb>> db = StateDb::open(db_path);
  if (!db.ok()) return db.status();
  Result<std::unique_ptr<SeriesRegistry>> series = SeriesRegistry::open(std::move(db).value());
  if (!series.ok()) return series.status();

  std::unique_ptr<Runtime> rt(new Runtime(config, options, std::move(store).value()));
  rt->series_ = std::move(series).value();
  SLUICE_ASSIGN_OR_RETURN(Services services, rt->resolve_services());
  // Sources first: a sink that takes every source reads the streams of those made here.
  for (const SourceConfig& source : services.sources) {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Slot> slot, rt->make_source_slot(source));
    rt->slots_.push_back(std::move(slot));
  }
  for (const SinkConfig& sink : services.sinks) {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<SinkSlot> slot, rt->make_sink_slot(sink));
    rt->sink_slots_.push_back(std::move(slot));
  }
  return rt;
}

Result<std::unique_ptr<Runtime::Slot>> Runtime::make_source_slot(const SourceConfig& source) {
  const std::string meta = nlohmann::json{{"source", source.name}, {"type", source.type}}.dump();
  Status ensured = store_->ensure_stream(source.name, meta);
  if (!ensured.ok()) {
    return ensured.with_context("cannot create the store stream of source '" + source.name + "'");
  }
  auto slot = std::make_unique<Slot>(*this, last_values_.stream(source.name), source,
                                     session_streams(source.name));
  slot->set_mode(source.enabled ? Mode::kIdle : Mode::kDisabled);
  Result<std::unique_ptr<Source>> built = source.settings->create(source.name);
  if (built.ok()) {
    slot->set_instance(std::move(built).value());
  } else {
    spdlog::error("source '{}' ({}) cannot be created: {}", source.name, source.type,
                  built.status().message());
    slot->set_failure(Health{HealthState::kCritical, built.status().message()});
  }
  return slot;
}

Result<std::unique_ptr<Runtime::SinkSlot>> Runtime::make_sink_slot(const SinkConfig& sink) {
  std::vector<std::string> streams;
  std::string missing;
  const std::vector<std::string> taken = sink.sources.empty() ? source_names() : sink.sources;
  // A source named here may have been removed through the API since the config file was
  // written: its stream (and what is left in it) is still read if it exists.
  for (const std::string& name : taken) {
    if (!store_->has_stream(name)) {
      missing += (missing.empty() ? "'" : ", '") + name + "'";
      continue;
    }
    streams.push_back(name);
    for (std::string& session : session_streams(name)) streams.push_back(std::move(session));
  }
  // The cursors exist before any source runs, so nothing is deleted before the sink saw it.
  for (const std::string& stream : streams) {
    Status added = store_->add_cursor(stream, sink.name, store::StartAt::kEarliest);
    if (!added.ok()) {
      return added.with_context("cannot create the cursor of sink '" + sink.name + "' on stream '" +
                                stream + "'");
    }
  }
  auto slot =
      std::make_unique<SinkSlot>(*store_, *series_, *options_.clock, instance_, sink, streams);
  slot->set_mode(sink.enabled ? Mode::kIdle : Mode::kDisabled);
  // Sessions paused through the API stay paused (a pause of a stream it no longer reads is kept
  // for when it reads it again).
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> paused, series_->db().paused_streams(sink.name));
  for (size_t i = 0; i < streams.size(); ++i) {
    if (std::find(paused.begin(), paused.end(), streams[i]) != paused.end()) {
      slot->set_paused(i, true);
      spdlog::info("sink '{}': the session of stream '{}' is paused", sink.name, streams[i]);
    }
  }
  Result<std::unique_ptr<Sink>> built =
      missing.empty()
          ? sink.settings->create(sink.name)
          : Result<std::unique_ptr<Sink>>(not_found(
                "its sources key names " + missing +
                ", which no longer exist (removed through the API?); change the sink's sources"));
  if (built.ok()) {
    slot->set_instance(std::move(built).value());
  } else {
    spdlog::error("sink '{}' ({}) cannot be created: {}", sink.name, sink.type,
                  built.status().message());
    slot->set_failure(Health{HealthState::kCritical, built.status().message()});
  }
  return slot;
}

Result<std::string> Runtime::source_acl(std::string_view name) const {
  std::shared_lock lock(services_mu_);
  for (const auto& slot : slots_) {
    if (slot->name() == name) return slot->config().acl;
  }
  return not_found("no source named '" + std::string(name) + "'");
}

std::optional<std::string> Runtime::source_of_asset(std::string_view asset) const {
  const std::string prefix = std::string(asset) + ".";
  std::optional<LastValue> newest;
  for (LastValue& v : last_values_.all()) {
    if (!v.series.starts_with(prefix)) continue;
    if (!newest || v.ts > newest->ts) newest = std::move(v);
  }
  if (!newest) return std::nullopt;
  {
    std::shared_lock lock(services_mu_);
    for (const auto& slot : slots_) {
      if (slot->name() == newest->stream) return newest->stream;
    }
  }
  Result<std::string> meta = store_->stream_meta(newest->stream);
  if (!meta.ok()) return std::nullopt;
  std::string service = stream_service(*meta);
  if (service.empty()) return std::nullopt;
  return service;
}

std::vector<std::string> Runtime::sources_of_type(std::string_view type) const {
  std::shared_lock lock(services_mu_);
  std::vector<std::string> names;
  for (const auto& slot : slots_) {
    if (slot->config().type == type) names.push_back(slot->name());
  }
  return names;
}

std::vector<std::string> Runtime::source_names() const {
  std::vector<std::string> names;
  names.reserve(slots_.size());
  for (const auto& slot : slots_) names.push_back(slot->name());
  return names;
}

std::vector<std::string> Runtime::session_streams(const std::string& service) const {
  std::vector<std::string> out;
  for (std::string& stream : store_->streams()) {
    if (stream == service) continue;
    Result<std::string> meta = store_->stream_meta(stream);
    if (meta.ok() && stream_service(*meta) == service) out.push_back(std::move(stream));
  }
  return out;
}

Status Runtime::attach_stream(const std::string& service, const std::string& stream,
                              const std::string& meta_json) {
  SLUICE_RETURN_IF_ERROR(store_->ensure_stream(stream, meta_json));
  // A sink replaced meanwhile (under services_mu_ exclusive) lists the store's streams when it
  // is made, so it has this one already or gets it here once the swap is done.
  std::shared_lock lock(services_mu_);
  for (const auto& slot : sink_slots_) {
    const std::vector<std::string>& taken = slot->config().sources;
    if (!taken.empty() && std::find(taken.begin(), taken.end(), service) == taken.end()) continue;
    Status added = store_->add_cursor(stream, slot->name(), store::StartAt::kEarliest);
    if (!added.ok()) {
      return added.with_context("cannot create the cursor of sink '" + slot->name() +
                                "' on stream '" + stream + "'");
    }
    Result<std::vector<std::string>> paused = series_->db().paused_streams(slot->name());
    const bool is_paused =
        paused.ok() && std::find(paused->begin(), paused->end(), stream) != paused->end();
    slot->add_stream(stream, is_paused);
    slot->wake();
  }
  spdlog::info("source '{}': new session stream '{}'", service, stream);
  return Status::ok_status();
}

Status Runtime::with_source(std::string_view name,
                            const std::function<Status(Source&, SourceContext&)>& f) {
  std::shared_ptr<Slot> slot;
  {
    std::shared_lock lock(services_mu_);
    for (const auto& s : slots_) {
      if (s->name() == name) slot = s;
    }
  }
  if (!slot) return not_found(fmt::format("no source named '{}'", name));
  return slot->with_instance([&](Source* source) -> Status {
    if (source == nullptr) {
      return Status(Code::kUnavailable, fmt::format("source '{}' is not running", name));
    }
    return f(*source, *slot);
  });
}

Status Runtime::with_source_shared(std::string_view name,
                                   const std::function<Status(Source&, SourceContext&)>& f) {
  std::shared_ptr<Slot> slot;
  {
    std::shared_lock lock(services_mu_);
    for (const auto& s : slots_) {
      if (s->name() == name) slot = s;
    }
  }
  if (!slot) return not_found(fmt::format("no source named '{}'", name));
  return slot->with_instance_shared([&](Source* source) -> Status {
    if (source == nullptr) {
      return Status(Code::kUnavailable, fmt::format("source '{}' is not running", name));
    }
    return f(*source, *slot);
  });
}

Runtime::Runtime(Config config, RuntimeOptions options, std::unique_ptr<store::Store> store)
    : config_(std::move(config)), options_(options), store_(std::move(store)) {
  instance_.name = config_.instance.name;
  instance_.data_dir = config_.store.dir;
}

Runtime::~Runtime() {
  Status s = stop();
  if (!s.ok()) spdlog::error("stopping the runtime: {}", s.to_string());
}

Status Runtime::start() {
  std::lock_guard lock(control_mu_);
  if (started_ || stopped_) return failed_precondition("the runtime was started already");
  started_ = true;
  {
    std::lock_guard rate_lock(rate_mu_);
    last_status_mono_ = options_.clock->monotonic();
  }
  for (auto& slot : slots_) start_source(*slot);
  for (auto& slot : sink_slots_) start_sink(*slot);
  status_thread_ = std::jthread([this](const std::stop_token& stop) { run_status_logger(stop); });
  return Status::ok_status();
}

void Runtime::start_source(Slot& slot) {
  if (!slot.config().enabled) {
    spdlog::info("source '{}' ({}) is disabled", slot.name(), slot.config().type);
    return;
  }
  if (slot.instance() == nullptr) return;  // could not be created; logged when it was made
  slot.set_accepting(true);
  slot.set_mode(Mode::kRunning);
  Slot* s = &slot;
  slot.thread = std::thread([this, s] { run_source(*s); });
}

void Runtime::start_sink(SinkSlot& slot) {
  if (!slot.config().enabled) {
    spdlog::info("sink '{}' ({}) is disabled", slot.name(), slot.config().type);
    return;
  }
  if (slot.instance() == nullptr) return;
  slot.set_mode(Mode::kRunning);
  SinkSlot* s = &slot;
  slot.thread = std::thread([this, s] { run_sink(*s); });
}

std::chrono::nanoseconds Runtime::restart_delay(int failures, std::chrono::nanoseconds ran) {
  using std::chrono::seconds;
  if (ran >= std::chrono::minutes(1)) return seconds(1);
  const int shift = std::min(failures - 1, 6);
  return std::min<std::chrono::nanoseconds>(seconds(1) * (int64_t{1} << std::max(shift, 0)),
                                            seconds(60));
}

// One supervision loop for every service, source or sink: run the instance; when it ends on its
// own, show CRITICAL with the reason, wait the back-off, build a new instance from the same
// settings and run that. A slot provides run_instance(), install(), set_failure(), the sleep and
// the stop signal.
template <typename SlotT>
void Runtime::supervise(SlotT& slot, const char* kind) {
  int failures = 0;
  for (;;) {
    spdlog::info("{} '{}' ({}) starting: {}", kind, slot.name(), slot.config().type,
                 slot.config().settings->summary());
    const int64_t started = options_.clock->monotonic();
    Status status;
    try {
      status = slot.run_instance();
    } catch (const std::exception& e) {  // a bug in a service must not take the gateway down
      status = internal_error(std::string("uncaught exception: ") + e.what());
    }
    if (slot.stopping()) {
      if (!status.ok()) {
        spdlog::warn("{} '{}' stopped with an error: {}", kind, slot.name(), status.to_string());
      } else {
        spdlog::info("{} '{}' stopped", kind, slot.name());
      }
      return;
    }
    ++failures;
    const auto delay =
        restart_delay(failures, std::chrono::nanoseconds(options_.clock->monotonic() - started));
    const std::string reason = status.ok()
                                   ? fmt::format("the {} ended without being asked to stop", kind)
                                   : status.message();
    spdlog::error("{} '{}' ({}) failed: {}; restarting in {}", kind, slot.name(),
                  slot.config().type, reason, format_duration(delay));
    slot.set_failure(Health{
        HealthState::kCritical,
        reason + " (restart " + std::to_string(failures) + " in " + format_duration(delay) + ")"});
    std::chrono::nanoseconds wait = delay;
    for (;;) {
      if (!slot.sleep_until(options_.clock->monotonic() + wait.count())) return;
      auto built = slot.config().settings->create(slot.name());
      if (built.ok()) {
        slot.install(std::move(built).value());
        break;
      }
      ++failures;
      wait = restart_delay(failures, std::chrono::nanoseconds(0));
      slot.set_failure(Health{HealthState::kCritical, built.status().message()});
    }
    slot.set_failure(std::nullopt);
  }
}

void Runtime::run_source(Slot& slot) {
  supervise(slot, "source");
  slot.set_accepting(false);
}

void Runtime::run_sink(SinkSlot& slot) { supervise(slot, "sink"); }

std::vector<SinkStatus> Runtime::sinks() const {
  std::shared_lock lock(services_mu_);
  std::vector<SinkStatus> out;
  out.reserve(sink_slots_.size());
  for (const auto& slot : sink_slots_) out.push_back(slot->status());
  return out;
}

Status Runtime::trigger_sink(std::string_view name) {
  std::shared_lock lock(services_mu_);
  for (auto& slot : sink_slots_) {
    if (slot->name() != name) continue;
    const Mode mode = slot->mode_and_health().first;
    if (mode != Mode::kRunning) {
      return failed_precondition("sink '" + std::string(name) + "' is not running (mode " +
                                 mode_name(mode) + "); nothing was delivered");
    }
    SLUICE_RETURN_IF_ERROR(slot->with_instance([&](Sink* sink) {
      return sink != nullptr ? sink->trigger()
                             : failed_precondition("sink '" + std::string(name) +
                                                   "' is not running (it could not be created)");
    }));
    slot->wake();
    return Status::ok_status();
  }
  std::string names;
  for (const auto& slot : sink_slots_) names += (names.empty() ? "" : ", ") + slot->name();
  return not_found("no sink named '" + std::string(name) + "'; the sinks are " +
                   (names.empty() ? std::string("(none)") : names));
}

void Runtime::run_status_logger(const std::stop_token& stop) {
  // Housekeeping every second (sessions idle past their timeout close); the status line every
  // status_interval (0: never).
  const auto interval = config_.log.status_interval;
  const int64_t every = std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count();
  int64_t next_status = options_.clock->monotonic() + every;
  std::unique_lock lock(status_wait_mu_);
  while (!stop.stop_requested()) {
    status_wait_.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
    if (stop.stop_requested()) break;
    lock.unlock();
    {
      std::shared_lock services_lock(services_mu_);
      for (const auto& slot : slots_) slot->close_idle_sessions();
    }
    if (every > 0 && options_.clock->monotonic() >= next_status) {
      next_status += every;
      if (next_status < options_.clock->monotonic())
        next_status = options_.clock->monotonic() + every;
      spdlog::info("{}", status_line());
    }
    lock.lock();
  }
}

Status Runtime::stop() {
  std::lock_guard lock(control_mu_);
  if (stopped_) return Status::ok_status();
  stopped_ = true;
  if (status_thread_.joinable()) {
    status_thread_.request_stop();
    status_thread_.join();
  }
  for (auto& slot : slots_) {
    slot->request_stop();
    if (slot->thread.joinable()) slot->stop_instance();
  }
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) slot->thread.join();
    if (slot->config().enabled) slot->set_mode(Mode::kIdle);
  }
  // Sinks stop after the sources; what they did not deliver stays in the store for next time.
  for (auto& slot : sink_slots_) {
    slot->request_stop();
    if (slot->thread.joinable()) slot->stop_instance();
  }
  for (auto& slot : sink_slots_) {
    if (slot->thread.joinable()) slot->thread.join();
    if (slot->config().enabled) slot->set_mode(Mode::kIdle);
  }
  if (started_) spdlog::info("{}", status_line());
  Status synced = store_->sync();
  Status closed = store_->close();
  if (!synced.ok()) return synced.with_context("syncing the store at shutdown");
  if (!closed.ok()) return closed.with_context("closing the store");
  spdlog::info("store closed; every acknowledged sample is on disk");
  return Status::ok_status();
}

std::vector<SourceStatus> Runtime::sources() const {
  std::shared_lock lock(services_mu_);
  std::vector<SourceStatus> out;
  out.reserve(slots_.size());
  for (const auto& slot : slots_) out.push_back(slot->status());
  return out;
}

namespace {

constexpr size_t kMaxStatusValueChars = 120;  // a long last_error is cut in the status line

// "; sink lake WARNING: <reason>" for a sink that is not healthy, and
// "; sink lake: files_pending=1 files_uploaded=3 last_error="..."" for one with details (the
// empty ones left out, values with spaces quoted, long ones cut).
std::string sink_summary(const std::vector<SinkStatus>& sinks) {
  std::string out;
  for (const SinkStatus& s : sinks) {
    if (s.health.state == HealthState::kWarning || s.health.state == HealthState::kCritical) {
      out += fmt::format("; sink {} {}: {}", s.name, health_state_name(s.health.state),
                         s.health.reason);
    }
    std::string details;
    for (const SinkDetail& d : s.details) {
      if (d.value.empty()) continue;
      std::string value = d.value;
      if (value.size() > kMaxStatusValueChars) {
        value.resize(kMaxStatusValueChars);
        value += "...";
      }
      const bool quote = value.find_first_of(" \t\"") != std::string::npos;
      details +=
          quote ? fmt::format(" {}=\"{}\"", d.name, value) : fmt::format(" {}={}", d.name, value);
    }
    if (!details.empty()) out += fmt::format("; sink {}:{}", s.name, details);
  }
  return out;
}

}  // namespace

std::string Runtime::status_line() {
  uint64_t samples = 0;
  uint64_t failed = 0;
  std::string per_source;
  const std::vector<SourceStatus> statuses = sources();
  for (const SourceStatus& s : statuses) {
    samples += s.samples;
    failed += s.failed_ingests;
    if (s.health.state == HealthState::kWarning || s.health.state == HealthState::kCritical) {
      per_source +=
          fmt::format("; {} {}: {}", s.name, health_state_name(s.health.state), s.health.reason);
    }
  }

  double rate = 0;
  {
    std::lock_guard lock(rate_mu_);
    const int64_t now = options_.clock->monotonic();
    const int64_t elapsed = now - last_status_mono_;
    // A source restarted by a change at run time counts from 0 again: no negative rate.
    if (elapsed > 0 && samples >= last_status_samples_) {
      rate =
          static_cast<double>(samples - last_status_samples_) * 1e9 / static_cast<double>(elapsed);
    }
    last_status_mono_ = now;
    last_status_samples_ = samples;
  }

  const store::StoreStats stats = store_->stats();
  uint64_t retained = 0;
  for (const SourceStatus& s : statuses) {
    Result<store::StreamStats> st = store_->stream_stats(s.name);
    if (st.ok()) retained += st->next_seq - st->first_seq;
  }
  uint64_t dropped = 0;
  for (uint64_t d : stats.dropped) dropped += d;

  std::string line = fmt::format("status: in {:.1f} samples/s, {} samples total; store {}", rate,
                                 samples, format_bytes(stats.bytes));
  if (retained > 0) {
    line += fmt::format(", {:.2f} B/sample",
                        static_cast<double>(stats.bytes) / static_cast<double>(retained));
  }
  line += fmt::format("; dropped {}", dropped);
  if (failed > 0) line += fmt::format(", failed appends {}", failed);
  return line + per_source + sink_summary(sinks());
}

// ---- Changes at run time ------------------------------------------------------------------

namespace {

// "2026-11-24T05:13:04.123Z".
std::string utc_text(Timestamp ns) {
  const int64_t secs = ns >= 0 ? ns / 1'000'000'000 : (ns - 999'999'999) / 1'000'000'000;
  const int64_t ms = (ns - secs * 1'000'000'000) / 1'000'000;
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string label_of(ServiceKind kind, std::string_view name) {
  return fmt::format("settings of {} '{}'", service_kind_name(kind), name);
}

// The config file's text: the one given, else the file.
std::optional<std::string> config_file_text(const Config& config, const RuntimeOptions& options) {
  if (!options.config_text.empty()) return options.config_text;
  if (config.file.empty()) return std::nullopt;
  std::ifstream in(config.file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

}  // namespace

std::string Runtime::now_text() const { return utc_text(options_.clock->now()); }

Result<Runtime::Services> Runtime::resolve_services() {
  Services out{config_.sources, config_.sinks};
  const std::optional<std::string> text = config_file_text(config_, options_);
  if (!text) {
    spdlog::warn(
        "cannot read the config file '{}': services run as it was parsed, and changes at run "
        "time are not kept",
        config_.file);
    return out;
  }
  Result<std::vector<ServiceTable>> tables = service_tables(*text, config_.file);
  if (!tables.ok()) {
    spdlog::warn("the config file's services cannot be kept in the state database: {}",
                 tables.status().message());
    return out;
  }
  StateDb& db = series_->db();
  SLUICE_ASSIGN_OR_RETURN(std::vector<ServiceRow> rows, db.services());
  std::map<std::pair<ServiceKind, std::string>, ServiceRow> stored;
  for (ServiceRow& row : rows) stored[{row.kind, row.name}] = std::move(row);
  std::map<std::pair<ServiceKind, std::string>, std::string> file_text;
  for (ServiceTable& t : *tables) file_text[{t.kind, t.name}] = std::move(t.text);
  const std::string now = now_text();

  // What to run for one service of the file: its config, or the state database's settings.
  // Returns false if it must not run (removed through the API).
  auto merge = [&](ServiceKind kind, const std::string& name, const std::string& type, bool enabled,
                   auto& config, auto parse) -> Result<bool> {
    const auto key = std::make_pair(kind, name);
    auto ft = file_text.find(key);
    if (ft == file_text.end()) return true;  // not written as a table (not expected)
    const std::string hash = settings_hash(ft->second);
    auto it = stored.find(key);
    if (it == stored.end()) {
      SLUICE_RETURN_IF_ERROR(db.put_service(ServiceRow{kind, name, type, enabled, ft->second,
                                                       ServiceOrigin::kConfig, now, hash, false}));
      return true;
    }
    ServiceRow row = it->second;
    const bool file_changed = row.seed_hash != hash;
    if (row.deleted) {
      if (file_changed) {
        spdlog::info(
            "{} '{}' was removed through the API at {}; the config file's table for it is not "
            "used",
            service_kind_name(kind), name, row.updated_at);
        row.seed_hash = hash;
        SLUICE_RETURN_IF_ERROR(db.put_service(row));
      }
      return false;
    }
    if (row.origin == ServiceOrigin::kConfig) {
      if (file_changed) {
        spdlog::info("{} '{}': its table in the config file changed; the new settings are used",
                     service_kind_name(kind), name);
        SLUICE_RETURN_IF_ERROR(db.put_service(ServiceRow{
            kind, name, type, enabled, ft->second, ServiceOrigin::kConfig, now, hash, false}));
      }
      return true;
    }
    // Changed through the API: its stored settings win over the file.
    if (file_changed) {
      spdlog::info(
          "service '{}': using the settings changed through the API at {}; the config file's "
          "table for it is not used (it changed since)",
          name, row.updated_at);
      row.seed_hash = hash;  // said once per change of the file
      SLUICE_RETURN_IF_ERROR(db.put_service(row));
    }
    auto parsed = parse(row.settings, label_of(kind, name));
    if (parsed.ok()) {
      config = std::move(parsed).value();
    } else {
      spdlog::error(
          "{} '{}': the settings changed through the API at {} cannot be used ({}); running it "
          "with the config file's table",
          service_kind_name(kind), name, row.updated_at, parsed.status().message());
    }
    return true;
  };

  std::vector<SourceConfig> sources;
  for (SourceConfig& source : out.sources) {
    SLUICE_ASSIGN_OR_RETURN(
        bool keep,
        merge(ServiceKind::kSource, source.name, source.type, source.enabled, source,
              [this](std::string_view t, std::string_view l) { return parse_source(t, l); }));
    if (keep) sources.push_back(std::move(source));
  }
  // Rows the file does not have: services added through the API run; a 'config' row whose
  // table left the file is forgotten.
  std::vector<ServiceRow> api_sinks;
  for (auto& [key, row] : stored) {
    if (row.deleted || file_text.contains(key)) continue;
    if (row.origin == ServiceOrigin::kConfig) {
      spdlog::info("{} '{}' is no longer in the config file", service_kind_name(row.kind),
                   row.name);
      SLUICE_RETURN_IF_ERROR(db.erase_service(row.kind, row.name));
      continue;
    }
    if (row.kind == ServiceKind::kSink) {
      api_sinks.push_back(row);
      continue;
    }
    Result<SourceConfig> parsed = parse_source(row.settings, label_of(row.kind, row.name));
    if (!parsed.ok()) {
      spdlog::error("source '{}' (added through the API at {}) cannot be used: {}", row.name,
                    row.updated_at, parsed.status().message());
      continue;
    }
    sources.push_back(std::move(parsed).value());
  }
  out.sources = std::move(sources);

  std::vector<std::string> names;
  for (const SourceConfig& source : out.sources) names.push_back(source.name);
  auto parse_sink_for_open = [&](std::string_view t, std::string_view l) -> Result<SinkConfig> {
    if (options_.types == nullptr) {
      return failed_precondition("the runtime was opened without the service types");
    }
    return parse_sink_text(t, l, config_.file, *options_.types, names);
  };
  std::vector<SinkConfig> sinks;
  for (SinkConfig& sink : out.sinks) {
    SLUICE_ASSIGN_OR_RETURN(bool keep, merge(ServiceKind::kSink, sink.name, sink.type, sink.enabled,
                                             sink, parse_sink_for_open));
    if (keep) sinks.push_back(std::move(sink));
  }
  for (const ServiceRow& row : api_sinks) {
    Result<SinkConfig> parsed = parse_sink_for_open(row.settings, label_of(row.kind, row.name));
    if (!parsed.ok()) {
      spdlog::error("sink '{}' (added through the API at {}) cannot be used: {}", row.name,
                    row.updated_at, parsed.status().message());
      continue;
    }
    sinks.push_back(std::move(parsed).value());
  }
  out.sinks = std::move(sinks);
  persist_ = true;
  return out;
}

Result<SourceConfig> Runtime::parse_source(std::string_view text, std::string_view label) const {
  if (options_.types == nullptr) {
    return failed_precondition("the runtime was opened without the service types");
  }
  return parse_source_text(text, label, config_.file, *options_.types);
}

Result<SinkConfig> Runtime::parse_sink(std::string_view text, std::string_view label) const {
  if (options_.types == nullptr) {
    return failed_precondition("the runtime was opened without the service types");
  }
  return parse_sink_text(text, label, config_.file, *options_.types, source_names());
}

Status Runtime::check_changeable() const {
  if (stopped_) return failed_precondition("the runtime is stopped; nothing can be changed");
  if (!persist_ || options_.types == nullptr) {
    return failed_precondition(
        "changes at run time are off: the runtime has no config file text to seed the state "
        "database with, or no service types (RuntimeOptions config_text / types)");
  }
  return Status::ok_status();
}

Result<std::pair<ServiceKind, size_t>> Runtime::find_service(std::string_view name) const {
  std::optional<std::pair<ServiceKind, size_t>> found;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i]->name() == name) found = {ServiceKind::kSource, i};
  }
  for (size_t i = 0; i < sink_slots_.size(); ++i) {
    if (sink_slots_[i]->name() != name) continue;
    if (found) {
      return invalid_argument("both a source and a sink are named '" + std::string(name) +
                              "'; rename one of them in the config file to change it");
    }
    found = {ServiceKind::kSink, i};
  }
  if (!found) {
    std::vector<std::string> names = source_names();
    for (const auto& slot : sink_slots_) names.push_back(slot->name());
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    return not_found("no source or sink is named '" + std::string(name) + "'; there are " +
                     (list.empty() ? std::string("none") : list));
  }
  return *found;
}

Result<ServiceRow> Runtime::stored_row(ServiceKind kind, const std::string& name) const {
  SLUICE_ASSIGN_OR_RETURN(std::optional<ServiceRow> row, series_->db().service(kind, name));
  if (!row || row->deleted) {
    return internal_error(std::string(service_kind_name(kind)) + " '" + name +
                          "' runs but has no row in the state database");
  }
  return *row;
}

template <typename SlotT, typename ConfigT, typename Ptr>
Status Runtime::replace_slot(std::vector<Ptr>& slots, size_t index,
                             const std::optional<ConfigT>& config) {
  SlotT& old = *slots[index];
  old.request_stop();
  if (old.thread.joinable()) {
    old.stop_instance();
    old.thread.join();
  }
  if (!config) {
    std::unique_lock lock(services_mu_);
    slots.erase(slots.begin() + static_cast<ptrdiff_t>(index));
    return Status::ok_status();
  }
  std::unique_ptr<SlotT> slot;
  if constexpr (std::is_same_v<SlotT, Slot>) {
    SLUICE_ASSIGN_OR_RETURN(slot, make_source_slot(*config));
  } else {
    SLUICE_ASSIGN_OR_RETURN(slot, make_sink_slot(*config));
  }
  SlotT& fresh = *slot;
  {
    std::unique_lock lock(services_mu_);
    slots[index] = std::move(slot);
  }
  if (started_) {
    if constexpr (std::is_same_v<SlotT, Slot>) {
      start_source(fresh);
    } else {
      start_sink(fresh);
    }
  }
  return Status::ok_status();
}

Status Runtime::replace_source(size_t index, const std::optional<SourceConfig>& config) {
  return replace_slot<Slot>(slots_, index, config);
}

Status Runtime::replace_sink(size_t index, const std::optional<SinkConfig>& config) {
  return replace_slot<SinkSlot>(sink_slots_, index, config);
}

Status Runtime::set_enabled(std::string_view name, bool enabled) {
  std::lock_guard lock(control_mu_);
  SLUICE_RETURN_IF_ERROR(check_changeable());
  SLUICE_ASSIGN_OR_RETURN(auto found, find_service(name));
  const auto [kind, index] = found;
  SLUICE_ASSIGN_OR_RETURN(ServiceRow row, stored_row(kind, std::string(name)));
  if (row.enabled == enabled) return Status::ok_status();  // nothing to change
  SLUICE_ASSIGN_OR_RETURN(std::string text, canonical_service_text(row.settings, {}, enabled));
  row.settings = text;
  row.enabled = enabled;
  row.origin = ServiceOrigin::kApi;
  row.updated_at = now_text();
  if (kind == ServiceKind::kSource) {
    SLUICE_ASSIGN_OR_RETURN(SourceConfig config, parse_source(text, label_of(kind, name)));
    SLUICE_RETURN_IF_ERROR(series_->db().put_service(row));
    spdlog::info("source '{}' {} through the API", name, enabled ? "enabled" : "disabled");
    return replace_source(index, config);
  }
  SLUICE_ASSIGN_OR_RETURN(SinkConfig config, parse_sink(text, label_of(kind, name)));
  SLUICE_RETURN_IF_ERROR(series_->db().put_service(row));
  spdlog::info("sink '{}' {} through the API", name, enabled ? "enabled" : "disabled");
  return replace_sink(index, config);
}

Status Runtime::update_settings(std::string_view name, std::string_view toml_text) {
  std::lock_guard lock(control_mu_);
  SLUICE_RETURN_IF_ERROR(check_changeable());
  SLUICE_ASSIGN_OR_RETURN(auto found, find_service(name));
  const auto [kind, index] = found;
  SLUICE_ASSIGN_OR_RETURN(ServiceRow row, stored_row(kind, std::string(name)));
  // The keys left out (name, type, enabled) are added after the text, so that the line numbers
  // of errors are those of the text as given; before it if the text has [sub] headers (the keys
  // would fall into the last sub-table; such a text is parsed in its inline form anyway).
  std::string missing;
  if (!service_text_has(toml_text, "name")) missing += fmt::format("name = \"{}\"\n", name);
  if (!service_text_has(toml_text, "type")) missing += fmt::format("type = \"{}\"\n", row.type);
  if (!service_text_has(toml_text, "enabled")) {
    missing += fmt::format("enabled = {}\n", row.enabled ? "true" : "false");
  }
  std::string text(toml_text);
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  text = service_text_has_headers(toml_text) ? missing + text : text + missing;
  const std::string label = label_of(kind, name);
  std::string parsed_name;
  std::string parsed_type;
  bool parsed_enabled = true;
  std::optional<SourceConfig> source;
  std::optional<SinkConfig> sink;
  if (kind == ServiceKind::kSource) {
    SLUICE_ASSIGN_OR_RETURN(source, parse_source(text, label));
    parsed_name = source->name;
    parsed_type = source->type;
    parsed_enabled = source->enabled;
  } else {
    SLUICE_ASSIGN_OR_RETURN(sink, parse_sink(text, label));
    parsed_name = sink->name;
    parsed_type = sink->type;
    parsed_enabled = sink->enabled;
  }
  if (parsed_name != name) {
    return invalid_argument(fmt::format(
        "{}: key 'name': the name cannot change (it names the {}'s {} in the store); remove "
        "'{}' and add '{}' instead",
        label, service_kind_name(kind), kind == ServiceKind::kSource ? "stream" : "cursors", name,
        parsed_name));
  }
  if (parsed_type != row.type) {
    return invalid_argument(fmt::format(
        "{}: key 'type': the type cannot change from '{}' to '{}'; remove the {} and add a new "
        "one",
        label, row.type, parsed_type, service_kind_name(kind)));
  }
  SLUICE_ASSIGN_OR_RETURN(std::string canonical, canonical_service_text(text));
  row.settings = canonical;
  row.enabled = parsed_enabled;
  row.origin = ServiceOrigin::kApi;
  row.updated_at = now_text();
  SLUICE_RETURN_IF_ERROR(series_->db().put_service(row));
  spdlog::info("{} '{}': new settings through the API; restarting it", service_kind_name(kind),
               name);
  return kind == ServiceKind::kSource ? replace_source(index, source) : replace_sink(index, sink);
}

Status Runtime::add_service(ServiceKind kind, std::string_view toml_text) {
  std::lock_guard lock(control_mu_);
  SLUICE_RETURN_IF_ERROR(check_changeable());
  const std::string label = fmt::format("settings of the new {}", service_kind_name(kind));
  std::optional<SourceConfig> source;
  std::optional<SinkConfig> sink;
  std::string name;
  std::string type;
  bool enabled = true;
  if (kind == ServiceKind::kSource) {
    SLUICE_ASSIGN_OR_RETURN(source, parse_source(toml_text, label));
    name = source->name;
    type = source->type;
    enabled = source->enabled;
  } else {
    SLUICE_ASSIGN_OR_RETURN(sink, parse_sink(toml_text, label));
    name = sink->name;
    type = sink->type;
    enabled = sink->enabled;
  }
  if (Result<std::pair<ServiceKind, size_t>> taken = find_service(name);
      taken.ok() || taken.status().code() != Code::kNotFound) {
    return Status(Code::kAlreadyExists,
                  fmt::format("{}: key 'name': a {} named '{}' exists; choose another name", label,
                              taken.ok() ? service_kind_name(taken->first) : "service", name));
  }
  SLUICE_ASSIGN_OR_RETURN(std::string canonical, canonical_service_text(toml_text));
  // A tombstone of the same name is replaced; its seed_hash is kept so that the file's table of
  // that name (if any) is not reported as changed.
  SLUICE_ASSIGN_OR_RETURN(std::optional<ServiceRow> old, series_->db().service(kind, name));
  SLUICE_RETURN_IF_ERROR(series_->db().put_service(
      ServiceRow{kind, name, type, enabled, canonical, ServiceOrigin::kApi, now_text(),
                 old ? old->seed_hash : std::string(), false}));
  spdlog::info("{} '{}' ({}) added through the API", service_kind_name(kind), name, type);
  if (kind == ServiceKind::kSink) {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<SinkSlot> slot, make_sink_slot(*sink));
    SinkSlot& fresh = *slot;
    {
      std::unique_lock services_lock(services_mu_);
      sink_slots_.push_back(std::move(slot));
    }
    if (started_) start_sink(fresh);
    return Status::ok_status();
  }
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Slot> slot, make_source_slot(*source));
  Slot& fresh = *slot;
  {
    std::unique_lock services_lock(services_mu_);
    slots_.push_back(std::move(slot));
  }
  if (started_) start_source(fresh);
  // The sinks that take every source now take this one too.
  for (size_t i = 0; i < sink_slots_.size(); ++i) {
    if (!sink_slots_[i]->config().sources.empty()) continue;
    const SinkConfig config = sink_slots_[i]->config();
    SLUICE_RETURN_IF_ERROR(replace_sink(i, config));
  }
  return Status::ok_status();
}

Status Runtime::remove_service(std::string_view name) {
  std::lock_guard lock(control_mu_);
  SLUICE_RETURN_IF_ERROR(check_changeable());
  SLUICE_ASSIGN_OR_RETURN(auto found, find_service(name));
  const auto [kind, index] = found;
  if (kind == ServiceKind::kSource) {
    for (const auto& slot : sink_slots_) {
      const auto& from = slot->config().sources;
      if (std::find(from.begin(), from.end(), name) != from.end()) {
        return failed_precondition(fmt::format(
            "sink '{}' takes data from source '{}' (its sources key); change that sink first",
            slot->name(), name));
      }
    }
  }
  SLUICE_ASSIGN_OR_RETURN(ServiceRow row, stored_row(kind, std::string(name)));
  row.deleted = true;
  row.origin = ServiceOrigin::kApi;
  row.updated_at = now_text();
  SLUICE_RETURN_IF_ERROR(series_->db().put_service(row));
  spdlog::info("{} '{}' removed through the API", service_kind_name(kind), name);
  if (kind == ServiceKind::kSource) return replace_source(index, std::nullopt);
  const std::vector<std::string> streams = sink_slots_[index]->stream_names();
  SLUICE_RETURN_IF_ERROR(replace_sink(index, std::nullopt));
  SLUICE_RETURN_IF_ERROR(series_->db().erase_session_pauses(name));
  // Its cursors would keep the store from freeing what it held for the sink.
  for (const std::string& stream : streams) {
    Status removed = store_->remove_cursor(stream, name);
    if (!removed.ok() && removed.code() != Code::kNotFound) {
      return removed.with_context("removing the cursor of sink '" + std::string(name) +
                                  "' on stream '" + stream + "'");
    }
  }
  return Status::ok_status();
}

Result<ServiceRow> Runtime::service_row(std::string_view name) const {
  std::lock_guard lock(control_mu_);
  SLUICE_ASSIGN_OR_RETURN(auto found, find_service(name));
  return stored_row(found.first, std::string(name));
}

// ---- Sessions ----------------------------------------------------------------------------

Result<std::pair<Runtime::SinkSlot*, size_t>> Runtime::find_session(std::string_view stream,
                                                                    std::string_view sink) const {
  for (const auto& slot : sink_slots_) {
    if (slot->name() != sink) continue;
    const std::vector<std::string> streams = slot->stream_names();
    for (size_t i = 0; i < streams.size(); ++i) {
      if (streams[i] == stream) return std::make_pair(slot.get(), i);
    }
    std::string list;
    for (const std::string& s : streams) list += (list.empty() ? "'" : ", '") + s + "'";
    return not_found(fmt::format("sink '{}' does not read stream '{}'; it reads {}", sink, stream,
                                 list.empty() ? std::string("no stream") : list));
  }
  std::string names;
  for (const auto& slot : sink_slots_) names += (names.empty() ? "" : ", ") + slot->name();
  return not_found(fmt::format("no sink named '{}'; the sinks are {}", sink,
                               names.empty() ? std::string("(none)") : names));
}

std::vector<SessionStatus> Runtime::sessions() const {
  std::shared_lock lock(services_mu_);
  std::map<std::string, const Slot*, std::less<>> sources;
  for (const auto& slot : slots_) sources.emplace(slot->name(), slot.get());
  std::vector<SessionStatus> out;
  for (const auto& slot : sink_slots_) {
    const auto [sink_mode, sink_health] = slot->mode_and_health();
    const std::vector<std::string> streams = slot->stream_names();
    for (size_t i = 0; i < streams.size(); ++i) {
      SessionStatus s;
      s.stream = streams[i];
      s.sink = slot->name();
      s.sink_type = slot->config().type;
      s.sink_summary = slot->config().settings ? slot->config().settings->summary() : "";
      s.sink_mode = sink_mode;
      s.sink_health = sink_health;
      s.paused = slot->paused(i);
      s.queue_order = i + 1;
      s.delivered = slot->delivered_from(i);
      s.series = last_values_.series_count(s.stream);
      Result<std::string> meta = store_->stream_meta(s.stream);
      s.stream_meta = meta.ok() ? *meta : "{}";
      {
        const nlohmann::json m = nlohmann::json::parse(s.stream_meta, nullptr, false);
        if (m.is_object() && m.contains("hops") && m["hops"].is_array()) {
          for (const auto& hop : m["hops"]) {
            if (hop.is_string()) s.hops.push_back(hop.get<std::string>());
          }
        }
        if (s.hops.empty()) s.hops.push_back(instance_.name);
      }
      if (std::optional<Sink::OutputState> output = slot->output_state(s.stream)) {
        s.output_state = std::move(output->state);
        s.output_reason = std::move(output->reason);
      }
      Result<store::StreamStats> st = store_->stream_stats(s.stream);
      if (st.ok()) {
        s.created_ns = st->created_ns;
        s.input_samples = st->appended_samples;
        s.readable_end = st->readable_end;
        auto cur = st->cursors.find(s.sink);
        s.cursor = cur != st->cursors.end() ? cur->second.next_seq : st->readable_end;
        s.backlog = s.readable_end > s.cursor ? s.readable_end - s.cursor : 0;
      }
      if (auto src = sources.find(stream_service(s.stream_meta)); src != sources.end()) {
        const SourceStatus source = src->second->status();
        s.source = source.name;
        s.source_type = source.type;
        s.source_mode = source.mode;
        s.source_health = source.health;
        if (auto input = src->second->session_input_state(s.stream)) {
          s.last_input_ns = input->first;
          s.input_closed = input->second;
        }
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

Status Runtime::pause_session(std::string_view stream, std::string_view sink, bool paused) {
  std::lock_guard lock(control_mu_);
  if (stopped_) return failed_precondition("the runtime is stopped; nothing can be changed");
  SLUICE_ASSIGN_OR_RETURN(auto found, find_session(stream, sink));
  // The state database first: a crash right after this call keeps what it answered.
  SLUICE_RETURN_IF_ERROR(series_->db().set_session_paused(stream, sink, paused, now_text()));
  found.first->set_paused(found.second, paused);
  spdlog::info("sink '{}': the session of stream '{}' {} through the API", sink, stream,
               paused ? "paused" : "unpaused");
  if (!paused) found.first->wake();  // a sink waiting for data looks again now
  return Status::ok_status();
}

Result<store::PurgeReport> Runtime::purge_session(std::string_view stream, std::string_view sink) {
  std::lock_guard lock(control_mu_);
  if (stopped_) return failed_precondition("the runtime is stopped; nothing can be changed");
  SLUICE_ASSIGN_OR_RETURN(auto found, find_session(stream, sink));
  Result<store::PurgeReport> report = found.first->purge(found.second);
  if (!report.ok()) {
    return report.status().with_context(
        fmt::format("purging the session of sink '{}' on stream '{}'", sink, stream));
  }
  spdlog::warn(
      "sink '{}': the session of stream '{}' was purged through the API: {} samples "
      "(sequences {} to {}) moved to {}",
      sink, stream, report->samples, report->from_seq, report->to_seq,
      report->backup_dir.empty() ? std::string("(nothing to move)") : report->backup_dir);
  return report;
}

}  // namespace sluice::runtime
