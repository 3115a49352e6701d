// The modbus source: one poll thread and one libmodbus context per device, the classification
// of libmodbus errors into qualities and health, and the control path (set points, operations).
#include "sources/modbus/modbus_source.h"

#include <fmt/format.h>
#include <modbus.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <thread>

#include "runtime/units.h"

namespace sluice::sources {
namespace modbus {
namespace {

using runtime::HealthState;
using std::chrono::nanoseconds;

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kIdleWaitNs = 3600 * kNsPerSecond;
// Ingest failures are logged at most this often per device.
constexpr int64_t kIngestLogIntervalNs = 10 * kNsPerSecond;
constexpr int kFirstExceptionCode = 1;
constexpr int kLastExceptionCode = 11;
constexpr int kIllegalFunction = 1;
constexpr int kIllegalAddress = 2;
constexpr int kIllegalValue = 3;
constexpr int kDeviceFailure = 4;
constexpr int kAcknowledge = 5;
constexpr int kBusy = 6;
constexpr int kGatewayPath = 10;
constexpr int kGatewayTarget = 11;

// What a failed libmodbus call means.
struct Failure {
  enum class Kind { kException, kTimeout, kConnection } kind = Kind::kConnection;
  int exception = 0;  // the exception code for kException
  Quality quality = quality::kBadCommunicationError;
  std::string text;  // what happened, for a person
};

Failure classify(int err, std::string_view what, const DeviceOptions& d) {
  Failure f;
  const int code = err - MODBUS_ENOBASE;
  if (code >= kFirstExceptionCode && code <= kLastExceptionCode) {
    f.kind = Failure::Kind::kException;
    f.exception = code;
    switch (code) {
      case kIllegalFunction:
        f.quality = quality::kBadConfigurationError;
        f.text = fmt::format(
            "{}: illegal function (exception 1): the device does not support "
            "this table or function; check the map",
            what);
        break;
      case kIllegalAddress:
        f.quality = quality::kBadConfigurationError;
        f.text = fmt::format(
            "{}: illegal data address (exception 2): the device has no such "
            "address; check the map (addresses are zero-based) and unit_id {}",
            what, d.unit_id);
        break;
      case kIllegalValue:
        f.quality = quality::kBadConfigurationError;
        f.text = fmt::format(
            "{}: illegal data value (exception 3): the device refused the "
            "count or the value; check the map's types and lengths",
            what);
        break;
      case kDeviceFailure:
        f.quality = quality::kBadDeviceFailure;
        f.text = fmt::format(
            "{}: server device failure (exception 4): the device could not "
            "perform the request; check the device",
            what);
        break;
      case kAcknowledge:
      case kBusy:
        f.quality = quality::kBadDeviceFailure;
        f.text = fmt::format(
            "{}: device busy (exception {}): it will be asked again; if this "
            "persists poll less often",
            what, code);
        break;
      case kGatewayPath:
      case kGatewayTarget:
        f.quality = quality::kBadNoCommunication;
        f.text = fmt::format(
            "{}: {} (exception {}): the gateway cannot reach unit {}; check the "
            "gateway and unit_id",
            what,
            code == kGatewayPath ? "gateway path unavailable" : "gateway target did not respond",
            code, d.unit_id);
        break;
      default:
        f.quality = quality::kBadDeviceFailure;
        f.text = fmt::format("{}: {} (exception {})", what, modbus_strerror(err), code);
    }
    return f;
  }
  if (err == ETIMEDOUT) {
    f.kind = Failure::Kind::kTimeout;
    f.quality = quality::kBadTimeout;
    f.text = fmt::format(
        "{}: no answer from {}:{} unit {} within {}; the device is slow or "
        "unit_id is wrong: raise timeout or poll less",
        what, d.host, d.port, d.unit_id, runtime::format_duration(d.timeout));
    return f;
  }
  f.kind = Failure::Kind::kConnection;
  f.quality = quality::kBadCommunicationError;
  f.text = fmt::format("{}: {} ({}:{})", what, modbus_strerror(err), d.host, d.port);
  return f;
}

Status status_of(const Failure& f) {
  switch (f.kind) {
    case Failure::Kind::kTimeout: return Status(Code::kTimeout, f.text);
    case Failure::Kind::kConnection: return Status(Code::kUnavailable, f.text);
    case Failure::Kind::kException: break;
  }
  switch (f.exception) {
    case kIllegalValue: return invalid_argument(f.text);
    case kAcknowledge:
    case kBusy:
    case kGatewayPath:
    case kGatewayTarget: return Status(Code::kUnavailable, f.text);
    default: return failed_precondition(f.text);
  }
}

std::string request_name(const ReadRequest& r) {
  const char* plural =
      is_bit_table(r.table)
          ? (r.table == Table::kCoil ? "coils" : "discrete inputs")
          : (r.table == Table::kInputRegister ? "input registers" : "holding registers");
  if (r.count == 1) return fmt::format("{} {}", table_name(r.table), r.address);
  return fmt::format("{} {}-{}", plural, r.address, r.address + r.count - 1);
}

void set_timeout(modbus_t* ctx, nanoseconds t) {
  const int64_t us = t.count() / 1000;
  modbus_set_response_timeout(ctx, static_cast<uint32_t>(us / 1'000'000),
                              static_cast<uint32_t>(us % 1'000'000));
  modbus_set_byte_timeout(ctx, static_cast<uint32_t>(us / 1'000'000),
                          static_cast<uint32_t>(us % 1'000'000));
}

}  // namespace

// One device: its connection, its poll loop and its part of the health.
class Device {
 public:
  Device(ModbusSource& owner, std::string source, const DeviceOptions& options)
      : owner_(owner), source_(std::move(source)), o_(options) {
    plans_.resize(o_.map.groups.size());
    for (size_t g = 0; g < o_.map.groups.size(); ++g) {
      std::vector<size_t> which;
      for (size_t i = 0; i < o_.map.items.size(); ++i) {
        if (o_.map.items[i].group == g) which.push_back(i);
      }
      plans_[g] = plan_reads(o_.map.items, which, o_.plan);
    }
  }
  ~Device() {
    std::lock_guard lock(mu_);
    if (ctx_ != nullptr) {
      modbus_close(ctx_);
      modbus_free(ctx_);
    }
  }

  const DeviceOptions& options() const { return o_; }
  const std::string& name() const { return o_.name; }

  // Closes the connection (a write may have opened it after the poll loop ended).
  void close() {
    std::lock_guard lock(mu_);
    close_locked();
  }

  // Polls until the source stops.
  void run(runtime::SourceContext& ctx);

  // Writes one set point's raw registers or coil; returns once the device answered.
  Status write(const ControlValue& v, const Value& value);

  // The state as the health and details show it.
  struct State {
    bool down = true;                               // not connected (not yet, or it failed)
    std::string down_reason = "not connected yet";  // why
    std::map<std::string, std::string> problems;    // by request: what failed last time
    std::string last_error;
  };
  State state() const {
    std::lock_guard lock(state_mu_);
    return state_;
  }
  ModbusSource::Counters counters() const {
    return {requests_.load(),    samples_.load(),  exceptions_.load(), timeouts_.load(),
            conn_errors_.load(), connects_.load(), writes_.load(),     write_errors_.load()};
  }

 private:
  Status ensure_connected_locked();
  void close_locked() {
    if (ctx_ != nullptr && connected_) modbus_close(ctx_);
    connected_ = false;
  }
  // Reads one request; false with the failure filled if it failed.
  bool read(const ReadRequest& req, Failure* failure);
  // Polls one group's requests, appending samples to `batch`; false if the connection was lost.
  bool poll_group(runtime::SourceContext& ctx, size_t group, Batch* batch);
  void add_bad(const ReadRequest& req, Timestamp ts, Quality q, Batch* batch) const {
    for (const size_t i : req.items) {
      const Item& item = o_.map.items[i];
      batch->samples.push_back(Sample{item.series, ts, placeholder_value(item.enc), q});
    }
  }
  void set_down(std::string reason) {
    bool changed = false;
    {
      std::lock_guard lock(state_mu_);
      changed = !state_.down || state_.down_reason != reason;
      state_.down = true;
      state_.down_reason = reason;
      state_.last_error = reason;
    }
    if (changed) spdlog::warn("source '{}': device '{}': {}", source_, o_.name, reason);
    owner_.update_health();
  }
  void set_up() {
    bool changed = false;
    {
      std::lock_guard lock(state_mu_);
      changed = state_.down;
      state_.down = false;
      state_.down_reason.clear();
    }
    if (!changed) return;
    spdlog::info("source '{}': device '{}' connected to {}:{} unit {}", source_, o_.name, o_.host,
                 o_.port, o_.unit_id);
    owner_.update_health();
  }
  void set_problem(const std::string& key, const std::string& text) {
    bool changed = false;
    {
      std::lock_guard lock(state_mu_);
      std::string& p = state_.problems[key];
      changed = p != text;
      p = text;
      state_.last_error = text;
      problem_count_.store(state_.problems.size(), std::memory_order_relaxed);
    }
    if (changed) {
      spdlog::warn("source '{}': device '{}': {}", source_, o_.name, text);
      owner_.update_health();
    }
  }
  void clear_problem(const std::string& key) {
    bool changed = false;
    {
      std::lock_guard lock(state_mu_);
      changed = state_.problems.erase(key) > 0;
      problem_count_.store(state_.problems.size(), std::memory_order_relaxed);
    }
    if (changed) {
      spdlog::info("source '{}': device '{}': {} answers again", source_, o_.name, key);
      owner_.update_health();
    }
  }

  ModbusSource& owner_;
  const std::string source_;
  const DeviceOptions& o_;
  std::vector<std::vector<ReadRequest>> plans_;  // per group; the poll thread's only
  std::vector<uint16_t> regs_ = std::vector<uint16_t>(kMaxReadRegisters);  // poll thread's
  std::vector<uint8_t> bits_ = std::vector<uint8_t>(kMaxReadBits);         // poll thread's
  int64_t last_ingest_log_ = 0;                                            // poll thread's

  std::mutex mu_;            // every libmodbus call on ctx_, from the poll thread and from write()
  modbus_t* ctx_ = nullptr;  // guarded by mu_
  bool connected_ = false;   // guarded by mu_

  mutable std::mutex state_mu_;
  State state_;                           // guarded by state_mu_
  std::atomic<size_t> problem_count_{0};  // state_.problems.size(), read without the lock

  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> exceptions_{0};
  std::atomic<uint64_t> timeouts_{0};
  std::atomic<uint64_t> conn_errors_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> write_errors_{0};
};

Status Device::ensure_connected_locked() {
  if (connected_) return Status::ok_status();
  if (ctx_ == nullptr) {
    const std::string service = std::to_string(o_.port);
    ctx_ = modbus_new_tcp_pi(o_.host.c_str(), service.c_str());
    if (ctx_ == nullptr) {
      return Status(Code::kUnavailable, fmt::format("cannot make a Modbus context for {}:{}: {}",
                                                    o_.host, o_.port, modbus_strerror(errno)));
    }
    modbus_set_slave(ctx_, o_.unit_id);
    modbus_set_error_recovery(ctx_, MODBUS_ERROR_RECOVERY_NONE);
    set_timeout(ctx_, o_.timeout);
  }
  if (modbus_connect(ctx_) == -1) {
    const int err = errno;
    conn_errors_.fetch_add(1, std::memory_order_relaxed);
    return Status(Code::kUnavailable,
                  fmt::format("cannot connect to {}:{}: {}; check host, port and that the device "
                              "is on",
                              o_.host, o_.port, modbus_strerror(err)));
  }
  connected_ = true;
  connects_.fetch_add(1, std::memory_order_relaxed);
  return Status::ok_status();
}

bool Device::read(const ReadRequest& req, Failure* failure) {
  std::lock_guard lock(mu_);
  if (Status st = ensure_connected_locked(); !st.ok()) {
    failure->kind = Failure::Kind::kConnection;
    failure->quality = quality::kBadNotConnected;
    failure->text = st.message();
    return false;
  }
  requests_.fetch_add(1, std::memory_order_relaxed);
  int rc = -1;
  switch (req.table) {
    case Table::kCoil: rc = modbus_read_bits(ctx_, req.address, req.count, bits_.data()); break;
    case Table::kDiscreteInput:
      rc = modbus_read_input_bits(ctx_, req.address, req.count, bits_.data());
      break;
    case Table::kInputRegister:
      rc = modbus_read_input_registers(ctx_, req.address, req.count, regs_.data());
      break;
    case Table::kHoldingRegister:
      rc = modbus_read_registers(ctx_, req.address, req.count, regs_.data());
      break;
  }
  if (rc == req.count) return true;
  const int err = rc < 0 ? errno : EMBBADDATA;
  *failure = classify(err, "reading " + request_name(req), o_);
  switch (failure->kind) {
    case Failure::Kind::kException: exceptions_.fetch_add(1, std::memory_order_relaxed); break;
    case Failure::Kind::kTimeout:
      timeouts_.fetch_add(1, std::memory_order_relaxed);
      close_locked();  // a late answer must not be taken for the next request's
      break;
    case Failure::Kind::kConnection:
      conn_errors_.fetch_add(1, std::memory_order_relaxed);
      close_locked();
      break;
  }
  return false;
}

bool Device::poll_group(runtime::SourceContext& ctx, size_t group, Batch* batch) {
  std::vector<ReadRequest>& plan = plans_[group];
  bool connected = true;
  for (size_t r = 0; r < plan.size(); ++r) {
    const ReadRequest& req = plan[r];
    if (!connected) {
      add_bad(req, ctx.clock().now(), quality::kBadNotConnected, batch);
      continue;
    }
    Failure failure;
    const bool ok = read(req, &failure);
    const Timestamp ts = ctx.clock().now();
    if (ok) {
      if (problem_count_.load(std::memory_order_relaxed) > 0) clear_problem(request_name(req));
      for (const size_t i : req.items) {
        const Item& item = o_.map.items[i];
        const size_t offset = item.enc.address - req.address;
        Value v = is_bit_table(req.table)
                      ? decode_bit(bits_[offset] != 0)
                      : decode_registers(item.enc, std::span<const uint16_t>(regs_.data() + offset,
                                                                             item.enc.count()));
        batch->samples.push_back(Sample{item.series, ts, std::move(v), quality::kGood});
      }
      continue;
    }
    if (failure.kind == Failure::Kind::kException && failure.exception == kIllegalAddress &&
        req.items.size() > 1) {
      // Some address in the merged span does not exist: read each item on its own from now on.
      spdlog::info(
          "source '{}': device '{}': {} refused with illegal data address; reading its {} "
          "items one by one from now on",
          source_, o_.name, request_name(req), req.items.size());
      std::vector<ReadRequest> parts = split_request(o_.map.items, req);
      plan.erase(plan.begin() + static_cast<std::ptrdiff_t>(r));
      plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(r), parts.begin(), parts.end());
      --r;  // read the first part now
      continue;
    }
    add_bad(req, ts, failure.quality, batch);
    const std::string key = request_name(req);
    if (failure.kind == Failure::Kind::kException) {
      set_problem(key, failure.text);
    } else if (failure.kind == Failure::Kind::kTimeout) {
      set_problem(key, failure.text);
      connected = false;
    } else {
      set_down(failure.text);
      connected = false;
    }
  }
  return connected;
}

void Device::run(runtime::SourceContext& ctx) {
  Clock& clock = ctx.clock();
  const size_t groups = o_.map.groups.size();
  std::vector<int64_t> due(groups, clock.monotonic());
  const int64_t min_backoff = o_.reconnect_min.count();
  int64_t backoff = min_backoff;
  if (o_.map.items.empty()) {
    // Only set points: nothing to poll; write() connects when it needs to.
    while (ctx.sleep_until(clock.monotonic() + kIdleWaitNs)) {
    }
  }
  while (!ctx.stopping()) {
    Status connected;
    {
      std::lock_guard lock(mu_);
      connected = ensure_connected_locked();
    }
    if (!connected.ok()) {
      const std::string reason = fmt::format("{}; retrying in {}", connected.message(),
                                             runtime::format_duration(nanoseconds(backoff)));
      set_down(reason);
      Batch bad;
      const Timestamp ts = clock.now();
      for (const Item& item : o_.map.items) {
        bad.samples.push_back(
            Sample{item.series, ts, placeholder_value(item.enc), quality::kBadNotConnected});
      }
      const size_t n = bad.size();
      if (ctx.ingest(std::move(bad)).ok()) samples_.fetch_add(n, std::memory_order_relaxed);
      if (!ctx.sleep_until(clock.monotonic() + backoff)) break;
      backoff = std::min<int64_t>(backoff * 2, o_.reconnect_max.count());
      continue;
    }
    backoff = min_backoff;
    set_up();

    Batch batch;
    batch.samples.reserve(o_.map.items.size());
    bool lost = false;
    const int64_t now = clock.monotonic();
    for (size_t g = 0; g < groups && !ctx.stopping(); ++g) {
      if (plans_[g].empty() || due[g] > now) continue;
      if (!poll_group(ctx, g, &batch)) lost = true;
      const int64_t interval = o_.map.groups[g].interval.count();
      due[g] += interval;
      if (due[g] < now) due[g] = now + interval;  // fell behind: skip, do not catch up
    }
    if (!batch.empty()) {
      const size_t n = batch.size();
      Result<store::AppendResult> r = ctx.ingest(std::move(batch));
      if (r.ok()) {
        samples_.fetch_add(n, std::memory_order_relaxed);
      } else if (clock.monotonic() - last_ingest_log_ >= kIngestLogIntervalNs) {
        last_ingest_log_ = clock.monotonic();
        spdlog::warn("source '{}': device '{}': the store refused {} samples: {}", source_, o_.name,
                     n, r.status().to_string());
      }
    }
    int64_t next = INT64_MAX;
    for (size_t g = 0; g < groups; ++g) {
      if (!plans_[g].empty()) next = std::min(next, due[g]);
    }
    if (lost) next = std::max(next, clock.monotonic() + min_backoff);
    if (next > clock.monotonic() && !ctx.sleep_until(next)) break;
  }
  std::lock_guard lock(mu_);
  close_locked();
}

Status Device::write(const ControlValue& v, const Value& value) {
  const std::string what = fmt::format("writing '{}' ({})", v.name, v.enc.describe());
  bool bit = false;
  std::vector<uint16_t> regs;
  if (is_bit_table(v.enc.table)) {
    Result<bool> b = encode_bit(value);
    if (!b.ok()) return invalid_argument(fmt::format("{}: {}", what, b.status().message()));
    bit = *b;
  } else {
    Result<std::vector<uint16_t>> r = encode_registers(v.enc, value);
    if (!r.ok()) return invalid_argument(fmt::format("{}: {}", what, r.status().message()));
    regs = std::move(r).value();
  }
  std::lock_guard lock(mu_);
  if (Status st = ensure_connected_locked(); !st.ok()) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    return Status(Code::kUnavailable,
                  fmt::format("{}: device '{}' is not reachable: {}", what, o_.name, st.message()));
  }
  int rc = -1;
  if (is_bit_table(v.enc.table)) {
    const uint8_t b = bit ? 1 : 0;
    rc = v.multiple ? modbus_write_bits(ctx_, v.enc.address, 1, &b)
                    : modbus_write_bit(ctx_, v.enc.address, b);
  } else if (regs.size() == 1 && !v.multiple) {
    rc = modbus_write_register(ctx_, v.enc.address, regs[0]);
  } else {
    rc = modbus_write_registers(ctx_, v.enc.address, static_cast<int>(regs.size()), regs.data());
  }
  if (rc >= 0) {
    writes_.fetch_add(1, std::memory_order_relaxed);
    return Status::ok_status();
  }
  const Failure f = classify(errno, what, o_);
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  if (f.kind != Failure::Kind::kException) {
    close_locked();
    (f.kind == Failure::Kind::kTimeout ? timeouts_ : conn_errors_)
        .fetch_add(1, std::memory_order_relaxed);
  } else {
    exceptions_.fetch_add(1, std::memory_order_relaxed);
  }
  {
    std::lock_guard state_lock(state_mu_);
    state_.last_error = f.text;
  }
  spdlog::warn("source '{}': device '{}': {}", source_, o_.name, f.text);
  return status_of(f);
}

}  // namespace modbus

using runtime::HealthState;

ModbusSource::ModbusSource(std::string name, modbus::ModbusOptions options)
    : Source(std::move(name)), options_(std::move(options)) {
  for (const modbus::DeviceOptions& d : options_.devices) {
    devices_.push_back(std::make_unique<modbus::Device>(*this, this->name(), d));
  }
}

ModbusSource::~ModbusSource() = default;

void ModbusSource::stop() {}

Status ModbusSource::start(runtime::SourceContext& ctx) {
  if (devices_.empty()) return invalid_argument("no devices: add a [[sources.devices]] table");
  std::vector<SeriesMeta> meta;
  for (const modbus::DeviceOptions& d : options_.devices) {
    for (const modbus::Item& item : d.map.items) {
      if (item.unit.empty() && item.description.empty()) continue;
      SeriesMeta m;
      m.name = item.series;
      m.unit = item.unit;
      m.description = item.description;
      m.type = item.enc.value_type();
      m.source = name();
      meta.push_back(std::move(m));
    }
  }
  if (!meta.empty()) {
    if (Status st = ctx.update_series(meta); !st.ok()) {
      spdlog::warn("source '{}': series metadata not kept: {}", name(), st.message());
    }
  }
  set_health(HealthState::kWarning, "connecting to the devices");
  {
    std::unique_lock lock(run_mu_);
    running_ = true;
  }
  {
    std::vector<std::jthread> threads;
    for (const std::unique_ptr<modbus::Device>& d : devices_) {
      threads.emplace_back([&ctx, device = d.get()] { device->run(ctx); });
    }
    while (ctx.sleep_until(ctx.clock().monotonic() + modbus::kIdleWaitNs)) {
    }
  }  // joins the device threads, which return once they see the stop
  {
    std::unique_lock lock(run_mu_);  // waits for writes in flight
    running_ = false;
  }
  for (const std::unique_ptr<modbus::Device>& d : devices_) d->close();
  set_health(HealthState::kNotApplicable);
  return Status::ok_status();
}

void ModbusSource::update_health() {
  std::lock_guard lock(health_mu_);
  {
    std::shared_lock run(run_mu_, std::try_to_lock);
    // Not running (or stopping): the health is N/A, set by start().
    if (run.owns_lock() && !running_) return;
  }
  size_t down = 0;
  size_t troubled = 0;
  std::string reason;
  for (const std::unique_ptr<modbus::Device>& d : devices_) {
    const modbus::Device::State s = d->state();
    std::string part;
    if (s.down) {
      ++down;
      part = s.down_reason;
    } else if (!s.problems.empty()) {
      ++troubled;
      part = s.problems.begin()->second;
      if (s.problems.size() > 1)
        part += fmt::format(" (and {} more problems)", s.problems.size() - 1);
    }
    if (part.empty()) continue;
    reason += fmt::format("{}device '{}': {}", reason.empty() ? "" : "; ", d->name(), part);
  }
  if (down == devices_.size()) {
    set_health(HealthState::kCritical, reason);
  } else if (down > 0 || troubled > 0) {
    set_health(HealthState::kWarning, reason);
  } else {
    set_health(HealthState::kHealthy);
  }
}

ModbusSource::Counters ModbusSource::counters() const {
  Counters total;
  for (const std::unique_ptr<modbus::Device>& d : devices_) {
    const Counters c = d->counters();
    total.requests += c.requests;
    total.samples += c.samples;
    total.exceptions += c.exceptions;
    total.timeouts += c.timeouts;
    total.connection_errors += c.connection_errors;
    total.connects += c.connects;
    total.writes += c.writes;
    total.write_errors += c.write_errors;
  }
  return total;
}

ModbusSource::Counters ModbusSource::device_counters(std::string_view device) const {
  for (const std::unique_ptr<modbus::Device>& d : devices_) {
    if (d->name() == device) return d->counters();
  }
  return {};
}

runtime::SinkDetails ModbusSource::details() const {
  const Counters c = counters();
  runtime::SinkDetails out = {
      {"requests", std::to_string(c.requests)},
      {"samples", std::to_string(c.samples)},
      {"exceptions", std::to_string(c.exceptions)},
      {"timeouts", std::to_string(c.timeouts)},
      {"connection_errors", std::to_string(c.connection_errors)},
      {"connects", std::to_string(c.connects)},
      {"writes", std::to_string(c.writes)},
      {"write_errors", std::to_string(c.write_errors)},
  };
  std::string last_error;
  for (const std::unique_ptr<modbus::Device>& d : devices_) {
    const modbus::Device::State s = d->state();
    const Counters dc = d->counters();
    if (!s.last_error.empty()) last_error = fmt::format("device '{}': {}", d->name(), s.last_error);
    std::string state =
        s.down ? "down: " + s.down_reason
               : (s.problems.empty() ? std::string("ok")
                                     : fmt::format("{} failing requests", s.problems.size()));
    out.push_back(
        {"device_" + d->name(),
         fmt::format("{}; {} requests, {} exceptions, {} timeouts, {} connection errors", state,
                     dc.requests, dc.exceptions, dc.timeouts, dc.connection_errors)});
  }
  out.insert(out.begin() + 8, {"last_error", last_error});
  return out;
}

Status ModbusSource::write(std::string_view name, const Value& value) {
  std::shared_lock lock(run_mu_);
  if (!running_) {
    return Status(
        Code::kUnavailable,
        fmt::format("source '{}' is not running; enable it to write '{}'", this->name(), name));
  }
  std::string names;
  for (const std::unique_ptr<modbus::Device>& d : devices_) {
    for (const modbus::ControlValue& v : d->options().map.values) {
      if (v.name == name) return d->write(v, value);
      names += (names.empty() ? "" : ", ") + v.name;
    }
  }
  return not_found(fmt::format("no set point '{}' in source '{}'; {}", name, this->name(),
                               names.empty() ? "it has none" : "the set points are " + names));
}

Status ModbusSource::operation(std::string_view name, const runtime::OperationParams& params) {
  std::shared_lock lock(run_mu_);
  if (!running_) {
    return Status(
        Code::kUnavailable,
        fmt::format("source '{}' is not running; enable it to run '{}'", this->name(), name));
  }
  std::string names;
  for (const std::unique_ptr<modbus::Device>& d : devices_) {
    const modbus::DeviceMap& map = d->options().map;
    for (const modbus::Operation& op : map.operations) {
      names += (names.empty() ? "" : ", ") + op.name;
      if (op.name != name) continue;
      // Every value is checked before anything is written.
      std::vector<Value> values;
      for (const modbus::OperationWrite& w : op.writes) values.push_back(w.fixed);
      for (const auto& [key, text] : params) {
        bool used = false;
        for (size_t i = 0; i < op.writes.size(); ++i) {
          const modbus::ControlValue& v = map.values[op.writes[i].value];
          if (v.name != key) continue;
          Result<Value> parsed = modbus::value_from_text(v.enc, text);
          if (!parsed.ok()) {
            return invalid_argument(fmt::format("operation '{}': parameter '{}': {}", name, key,
                                                parsed.status().message()));
          }
          values[i] = *parsed;
          used = true;
        }
        if (!used) {
          std::string allowed;
          for (const modbus::OperationWrite& w : op.writes) {
            allowed += (allowed.empty() ? "" : ", ") + map.values[w.value].name;
          }
          return invalid_argument(fmt::format(
              "operation '{}' has no parameter '{}'; its parameters are the set points it writes: "
              "{}",
              name, key, allowed));
        }
      }
      for (size_t i = 0; i < op.writes.size(); ++i) {
        const modbus::ControlValue& v = map.values[op.writes[i].value];
        const Status st = modbus::is_bit_table(v.enc.table)
                              ? modbus::encode_bit(values[i]).status()
                              : modbus::encode_registers(v.enc, values[i]).status();
        if (!st.ok()) {
          return invalid_argument(
              fmt::format("operation '{}': value for '{}': {}", name, v.name, st.message()));
        }
      }
      for (size_t i = 0; i < op.writes.size(); ++i) {
        const modbus::ControlValue& v = map.values[op.writes[i].value];
        Status st = d->write(v, values[i]);
        if (!st.ok()) {
          return Status(st.code(),
                        fmt::format("operation '{}': write {} of {} failed ({} done before it): {}",
                                    name, i + 1, op.writes.size(), i, st.message()));
        }
      }
      return Status::ok_status();
    }
  }
  return not_found(fmt::format("no operation '{}' in source '{}'; {}", name, this->name(),
                               names.empty() ? "it has none" : "the operations are " + names));
}

std::vector<runtime::ControlPoint> ModbusSource::control_points() const {
  std::vector<runtime::ControlPoint> out;
  for (const std::unique_ptr<modbus::Device>& d : devices_) {
    const modbus::DeviceMap& map = d->options().map;
    for (const modbus::ControlValue& v : map.values) {
      out.push_back({v.name, runtime::ControlPoint::Kind::kSetPoint, v.enc.value_type(),
                     fmt::format("device '{}' {}", d->name(), v.enc.describe())});
    }
    for (const modbus::Operation& op : map.operations) {
      std::string writes;
      for (const modbus::OperationWrite& w : op.writes) {
        std::string value = std::visit(
            [](const auto& x) -> std::string {
              using T = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<T, bool>)
                return x ? "true" : "false";
              else if constexpr (std::is_same_v<T, std::string>)
                return "\"" + x + "\"";
              else
                return fmt::format("{}", x);
            },
            w.fixed);
        writes +=
            fmt::format("{}{} = {}", writes.empty() ? "" : ", ", map.values[w.value].name, value);
      }
      out.push_back({op.name, runtime::ControlPoint::Kind::kOperation, ValueType::kDouble,
                     fmt::format("device '{}': writes {} (params: the set points' names)",
                                 d->name(), writes)});
    }
  }
  return out;
}

}  // namespace sluice::sources
