// The modbus source against a real Modbus TCP server (pymodbus, tests/fixtures/modbus_peer.h),
// run in-process with a context that keeps every sample: every type and byte order, writes read
// back, a server restart (Bad while down, Good after), illegal-address exceptions on some
// items while the others stay Good, and a slow device that times out while another goes on.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <modbus.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>

#include "cli/builtin_sources.h"
#include "fixtures/modbus_peer.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "sources/modbus/modbus_source.h"

namespace sluice::sources {
namespace {

using runtime::HealthState;
using testing::eventually;
using ::testing::HasSubstr;
using testing::ModbusPeer;
using testing::ModbusPeerOptions;
using testing::TempDir;

// Keeps every ingested sample, in arrival order.
class CollectContext final : public runtime::SourceContext {
 public:
  using SourceContext::ingest;
  Result<store::AppendResult> ingest(Batch&& batch, store::AppendOptions) override {
    std::lock_guard lock(mu_);
    for (Sample& s : batch.samples) samples_.push_back(std::move(s));
    return store::AppendResult{};
  }
  uint64_t wait_durable(uint64_t end_seq, std::chrono::milliseconds) override { return end_seq; }
  Clock& clock() override { return SystemClock::instance(); }
  bool stopping() const override { return stop_.stop_requested(); }
  std::stop_token stop_token() const override { return stop_.get_token(); }
  bool sleep_until(int64_t monotonic_ns) override {
    std::unique_lock lock(sleep_mu_);
    const auto wait = std::chrono::nanoseconds(monotonic_ns - clock().monotonic());
    std::stop_token token = stop_.get_token();
    cv_.wait_for(lock, token, wait, [] { return false; });
    return !stop_.stop_requested();
  }
  void request_stop() { stop_.request_stop(); }

  std::vector<Sample> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }
  std::optional<Sample> latest(const std::string& series) {
    std::lock_guard lock(mu_);
    for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
      if (it->series == series) return *it;
    }
    return std::nullopt;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return samples_.size();
  }
  // Samples of `series` after the first `from` samples of all, that satisfy `pred`.
  size_t count(const std::string& series, const std::function<bool(const Sample&)>& pred,
               size_t from = 0) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (size_t i = from; i < samples_.size(); ++i) {
      if (samples_[i].series == series && pred(samples_[i])) ++n;
    }
    return n;
  }

 private:
  std::stop_source stop_;
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::mutex sleep_mu_;
  std::condition_variable_any cv_;
};

modbus::ModbusOptions parse_devices(const std::string& devices) {
  const std::string text =
      "[store]\ndir = \"/tmp/unused\"\n[[sources]]\nname = \"plc\"\n"
      "type = \"modbus\"\n" +
      devices;
  Result<runtime::Config> c =
      runtime::parse_config(text, "/tmp/modbus-test.toml", cli::builtin_source_types());
  EXPECT_TRUE(c.ok()) << c.status().message();
  if (!c.ok()) return {};
  return dynamic_cast<const ModbusSettings&>(*c->sources.at(0).settings).options();
}

// One modbus source running on its own thread until stopped.
class Running {
 public:
  explicit Running(const std::string& devices) : source_("plc", parse_devices(devices)) {
    thread_ = std::thread([this] { status_ = source_.start(ctx_); });
  }
  ~Running() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    ctx_.request_stop();
    source_.stop();
    thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.to_string();
  }
  ModbusSource& source() { return source_; }
  CollectContext& ctx() { return ctx_; }
  bool good(const std::string& series) {
    return eventually([&] {
      std::optional<Sample> s = ctx_.latest(series);
      return s && quality::is_good(s->quality);
    });
  }

 private:
  ModbusSource source_;
  CollectContext ctx_;
  std::thread thread_;
  Status status_;
};

std::string device(const ModbusPeer& peer, const std::string& name, const std::string& extra) {
  return fmt::format(
      "[[sources.devices]]\nname = \"{}\"\nhost = \"{}\"\nport = {}\nunit_id = 1\n{}\n", name,
      peer.host(), peer.port(), extra);
}

bool is_quality(const std::optional<Sample>& s, Quality q) { return s && s->quality == q; }

// ---- Reading ---------------------------------------------------------------------------------

TEST(ModbusTest, ReadsEveryTypeInEveryOrder) {
  TempDir dir;
  // The raw words as a device would hold them; the expected values are written out by hand.
  ModbusPeer peer(dir.path(), {.image_json = R"({
    "hr": {"0": [65534, 65534, 4660, 22136, 22136, 4660, 13330, 30806, 30806, 13330,
                 258, 772, 1286, 1800,  1800, 1286, 772, 258,  513, 1027, 1541, 2055,
                 2055, 1541, 1027, 513],
           "30": [21316, 19766, 13104, 0],
           "40": [1234, 8],
           "50": [16376, 0, 0, 0,  0, 0, 0, 63551]},
    "ir": {"0": [17254, 32768, 32768, 17254, 26179, 128, 128, 26179]},
    "co": {"0": [true, false]},
    "di": {"3": [true]}})"});
  const std::string items = R"(
max_gap = 8
interval = "100ms"
items = [
  { name = "i16", holding_register = 0, type = "int16" },
  { name = "u16", holding_register = 1, type = "uint16" },
  { name = "i32_abcd", holding_register = 2, type = "int32", order = "ABCD" },
  { name = "i32_cdab", holding_register = 4, type = "int32", order = "CDAB" },
  { name = "u32_badc", holding_register = 6, type = "uint32", order = "BADC" },
  { name = "u32_dcba", holding_register = 8, type = "uint32", order = "DCBA" },
  { name = "i64_abcd", holding_register = 10, type = "int64", order = "ABCDEFGH" },
  { name = "i64_cdab", holding_register = 14, type = "int64", order = "GHEFCDAB" },
  { name = "i64_badc", holding_register = 18, type = "int64", order = "BADCFEHG" },
  { name = "i64_dcba", holding_register = 22, type = "int64", order = "HGFEDCBA" },
  { name = "text", holding_register = 30, type = "string", length = 4 },
  { name = "scaled", holding_register = 40, type = "uint16", scale = 0.1, offset = 1 },
  { name = "bit3", holding_register = 41, type = "bool", bit = 3 },
  { name = "f64_abcd", holding_register = 50, type = "float64" },
  { name = "f64_dcba", holding_register = 54, type = "float64", order = "HGFEDCBA" },
  { name = "f32_abcd", input_register = 0, type = "float32" },
  { name = "f32_cdab", input_register = 2, type = "float32", order = "CDAB" },
  { name = "f32_badc", input_register = 4, type = "float32", order = "BADC" },
  { name = "f32_dcba", input_register = 6, type = "float32", order = "DCBA" },
  { name = "coil0", coil = 0 },
  { name = "coil1", coil = 1 },
  { name = "di3", discrete_input = 3 },
  { name = "di4", discrete_input = 4 },
  { name = "pattern", input_register = 1000, type = "uint16" },
])";
  Running run(device(peer, "dev", items));
  for (const std::string s : {"dev.i16", "dev.f32_dcba", "dev.coil1", "dev.di4", "dev.text"}) {
    ASSERT_TRUE(run.good(s)) << s;
  }
  CollectContext& c = run.ctx();
  const auto i = [&](const std::string& s) {
    return std::get<int64_t>(c.latest("dev." + s)->value);
  };
  const auto d = [&](const std::string& s) {
    return std::get<double>(c.latest("dev." + s)->value);
  };
  const auto b = [&](const std::string& s) { return std::get<bool>(c.latest("dev." + s)->value); };
  EXPECT_EQ(i("i16"), -2);
  EXPECT_EQ(i("u16"), 65534);
  EXPECT_EQ(i("i32_abcd"), 0x12345678);
  EXPECT_EQ(i("i32_cdab"), 0x12345678);
  EXPECT_EQ(i("u32_badc"), 0x12345678);
  EXPECT_EQ(i("u32_dcba"), 0x12345678);
  for (const std::string s : {"i64_abcd", "i64_cdab", "i64_badc", "i64_dcba"}) {
    EXPECT_EQ(i(s), 0x0102030405060708) << s;
  }
  EXPECT_EQ(std::get<std::string>(c.latest("dev.text")->value), "SDM630");
  EXPECT_DOUBLE_EQ(d("scaled"), 124.4);
  EXPECT_TRUE(b("bit3"));
  EXPECT_EQ(d("f64_abcd"), 1.5);
  EXPECT_EQ(d("f64_dcba"), 1.5);
  for (const std::string s : {"f32_abcd", "f32_cdab", "f32_badc", "f32_dcba"}) {
    EXPECT_EQ(d(s), 230.5) << s;
  }
  EXPECT_TRUE(b("coil0"));
  EXPECT_FALSE(b("coil1"));
  EXPECT_TRUE(b("di3"));
  EXPECT_FALSE(b("di4"));
  EXPECT_EQ(i("pattern"), ModbusPeer::pattern_register(1000));
  EXPECT_EQ(run.source().health().state, HealthState::kHealthy);
  // Merged reads: holding registers 0-57 in one request, input registers 0-7 and 1000 in two,
  // one for the coils and one for the discrete inputs: 5 requests a cycle.
  const ModbusSource::Counters counters = run.source().counters();
  EXPECT_GT(counters.requests, 0u);
  EXPECT_EQ(counters.exceptions, 0u);
  const size_t polls = c.count("dev.i16", [](const Sample&) { return true; });
  EXPECT_LE(counters.requests, 5 * (polls + 1));
}

// ---- Writing ---------------------------------------------------------------------------------

// Reads holding registers with a plain libmodbus client (independent of the source's decoding).
std::vector<uint16_t> read_raw(const ModbusPeer& peer, int address, int count) {
  modbus_t* m = modbus_new_tcp("127.0.0.1", peer.port());
  std::vector<uint16_t> regs(count);
  EXPECT_EQ(modbus_connect(m), 0);
  EXPECT_EQ(modbus_read_registers(m, address, count, regs.data()), count);
  modbus_close(m);
  modbus_free(m);
  return regs;
}
bool read_coil(const ModbusPeer& peer, int address) {
  modbus_t* m = modbus_new_tcp("127.0.0.1", peer.port());
  uint8_t bit = 0;
  EXPECT_EQ(modbus_connect(m), 0);
  EXPECT_EQ(modbus_read_bits(m, address, 1, &bit), 1);
  modbus_close(m);
  modbus_free(m);
  return bit != 0;
}

TEST(ModbusTest, WritesCoilsAndRegistersAndReadsThemBack) {
  TempDir dir;
  ModbusPeer peer(dir.path(), {.serve = "hr:0-999"});
  const std::string map = R"(
interval = "50ms"
items = [
  { name = "run", coil = 100 },
  { name = "pump", coil = 101 },
  { name = "speed", holding_register = 200, type = "uint16", scale = 0.1 },
  { name = "target", holding_register = 210, type = "float32", order = "CDAB" },
  { name = "label", holding_register = 220, type = "string", length = 4 },
  { name = "total", holding_register = 230, type = "int64", order = "HGFEDCBA" },
]
values = [
  { name = "run", coil = 100 },
  { name = "pump", coil = 101, multiple = true },
  { name = "speed", register = 200, type = "uint16", scale = 0.1 },
  { name = "target", register = 210, type = "float32", order = "CDAB" },
  { name = "label", register = 220, type = "string", length = 4 },
  { name = "total", register = 230, type = "int64", order = "HGFEDCBA" },
  { name = "nowhere", register = 5000, type = "uint16" },
]
operations = [
  { name = "start", writes = [{ name = "speed", value = 50.0 }, { name = "run", value = true }] },
]
)";
  Running run(device(peer, "dev", map));
  ModbusSource& src = run.source();
  ASSERT_TRUE(run.good("dev.run"));

  ASSERT_TRUE(src.write("pump", Value(true)).ok());
  ASSERT_TRUE(src.write("speed", Value(123.4)).ok());
  ASSERT_TRUE(src.write("target", Value(-7.25)).ok());
  ASSERT_TRUE(src.write("label", Value(std::string("AB12"))).ok());
  ASSERT_TRUE(src.write("total", Value(int64_t{-5'000'000'000})).ok());
  EXPECT_TRUE(read_coil(peer, 101));
  EXPECT_EQ(read_raw(peer, 200, 1)[0], 1234);  // 123.4 / 0.1
  EXPECT_EQ(read_raw(peer, 220, 4), (std::vector<uint16_t>{0x4142, 0x3132, 0, 0}));
  CollectContext& c = run.ctx();
  EXPECT_TRUE(eventually([&] {
    const auto speed = c.latest("dev.speed");
    const auto target = c.latest("dev.target");
    const auto label = c.latest("dev.label");
    const auto total = c.latest("dev.total");
    const auto pump = c.latest("dev.pump");
    return std::abs(std::get<double>(speed->value) - 123.4) < 1e-9 &&
           std::get<double>(target->value) == -7.25 &&
           std::get<std::string>(label->value) == "AB12" &&
           std::get<int64_t>(total->value) == -5'000'000'000 && std::get<bool>(pump->value);
  }));

  // An operation writes its fixed values; a parameter replaces one.
  ASSERT_TRUE(src.operation("start", {{"speed", "75"}}).ok());
  EXPECT_TRUE(read_coil(peer, 100));
  EXPECT_EQ(read_raw(peer, 200, 1)[0], 750);
  ASSERT_TRUE(src.write("run", Value(false)).ok());
  EXPECT_FALSE(read_coil(peer, 100));

  // Refusals say why, with the interface's codes.
  Status st = src.write("speed", Value(7000.0));  // raw 70000 > 65535
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.to_string();
  EXPECT_EQ(src.write("speed", Value(std::string("fast"))).code(), Code::kInvalidArgument);
  st = src.write("nope", Value(1.0));
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("the set points are run, pump, speed"));
  st = src.write("nowhere", Value(int64_t{1}));
  EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.to_string();
  EXPECT_THAT(st.message(), HasSubstr("illegal data address"));
  EXPECT_EQ(src.operation("start", {{"bogus", "1"}}).code(), Code::kInvalidArgument);
  EXPECT_EQ(src.operation("stop", {}).code(), Code::kNotFound);
  const ModbusSource::Counters counters = src.counters();
  EXPECT_EQ(counters.writes, 8u);
  EXPECT_EQ(counters.write_errors, 1u);

  run.stop();
  EXPECT_EQ(src.write("run", Value(true)).code(), Code::kUnavailable);
}

// ---- Failures --------------------------------------------------------------------------------

TEST(ModbusTest, ReconnectsAfterTheServerRestartsWithBadQualityWhileDown) {
  TempDir dir;
  ModbusPeer peer(dir.path());
  Running run(device(peer, "dev",
                     "interval = \"50ms\"\ntimeout = \"300ms\"\nreconnect_min = \"50ms\"\n"
                     "reconnect_max = \"200ms\"\n"
                     "items = [{ name = \"v\", holding_register = 7 }]\n"
                     "values = [{ name = \"sp\", register = 8 }]"));
  ASSERT_TRUE(run.good("dev.v"));
  EXPECT_TRUE(eventually([&] { return run.source().health().state == HealthState::kHealthy; }));
  EXPECT_EQ(std::get<int64_t>(run.ctx().latest("dev.v")->value), ModbusPeer::pattern_register(7));

  peer.kill();
  const size_t mark = run.ctx().size();
  EXPECT_TRUE(eventually([&] {
    return run.ctx().count(
               "dev.v", [](const Sample& s) { return s.quality == quality::kBadNotConnected; },
               mark) >= 2;
  }));
  EXPECT_TRUE(eventually([&] { return run.source().health().state == HealthState::kCritical; }));
  EXPECT_THAT(run.source().health().reason, HasSubstr("cannot connect to 127.0.0.1"));
  const Status down = run.source().write("sp", Value(int64_t{1}));
  EXPECT_EQ(down.code(), Code::kUnavailable) << down.to_string();

  peer.start();
  const size_t restarted = run.ctx().size();
  EXPECT_TRUE(eventually([&] {
    return run.ctx().count(
               "dev.v", [](const Sample& s) { return quality::is_good(s.quality); }, restarted) > 0;
  }));
  EXPECT_TRUE(eventually([&] { return run.source().health().state == HealthState::kHealthy; }));
  EXPECT_GE(run.source().counters().connects, 2u);
  EXPECT_GT(run.source().counters().connection_errors, 0u);
  EXPECT_TRUE(run.source().write("sp", Value(int64_t{1})).ok());
}

TEST(ModbusTest, IllegalAddressesMakeOnlyTheirItemsBad) {
  TempDir dir;
  ModbusPeer peer(dir.path(), {.serve = "hr:0-99,ir:0-9"});
  // max_gap 124 merges all holding registers into one request first, which the device refuses;
  // the source then reads the items one by one.
  Running run(device(peer, "dev",
                     "interval = \"50ms\"\nmax_gap = 124\nitems = [\n"
                     "  { name = \"a\", holding_register = 10 },\n"
                     "  { name = \"b\", holding_register = 12, type = \"int32\" },\n"
                     "  { name = \"c\", holding_register = 100 },\n"
                     "  { name = \"d\", input_register = 20, type = \"float32\" },\n"
                     "  { name = \"e\", input_register = 1 },\n]"));
  CollectContext& c = run.ctx();
  ASSERT_TRUE(run.good("dev.a"));
  ASSERT_TRUE(run.good("dev.b"));
  ASSERT_TRUE(run.good("dev.e"));
  EXPECT_TRUE(eventually([&] {
    return is_quality(c.latest("dev.c"), quality::kBadConfigurationError) &&
           is_quality(c.latest("dev.d"), quality::kBadConfigurationError);
  }));
  // The good items keep coming while the bad ones stay Bad.
  const size_t mark = c.size();
  EXPECT_TRUE(eventually([&] {
    return c.count(
               "dev.a", [](const Sample& s) { return quality::is_good(s.quality); }, mark) >= 3;
  }));
  EXPECT_EQ(c.count("dev.c", [](const Sample& s) { return quality::is_good(s.quality); }), 0u);
  EXPECT_EQ(c.count("dev.d", [](const Sample& s) { return quality::is_good(s.quality); }), 0u);
  EXPECT_EQ(std::get<int64_t>(c.latest("dev.a")->value), ModbusPeer::pattern_register(10));

  const runtime::Health h = run.source().health();
  EXPECT_EQ(h.state, HealthState::kWarning);
  EXPECT_THAT(h.reason, HasSubstr("illegal data address (exception 2)"));
  EXPECT_THAT(h.reason, HasSubstr("check the map"));
  EXPECT_GE(run.source().counters().exceptions, 3u);
  std::map<std::string, std::string> details;
  for (const runtime::SinkDetail& d : run.source().details()) details[d.name] = d.value;
  EXPECT_NE(details["exceptions"], "0");
  EXPECT_THAT(details["last_error"], HasSubstr("illegal data address"));
  EXPECT_THAT(details["device_dev"], HasSubstr("failing requests"));
}

TEST(ModbusTest, ASlowDeviceTimesOutWithoutStallingTheOther) {
  TempDir dir;
  ModbusPeer fast(dir.path());
  ModbusPeer slow(dir.path(), {.delay_s = 0.5});
  Running run(device(fast, "fast",
                     "interval = \"50ms\"\nitems = [{ name = \"v\", holding_register = 1 }]") +
              device(slow, "slow",
                     "interval = \"50ms\"\ntimeout = \"100ms\"\nreconnect_min = \"50ms\"\n"
                     "items = [{ name = \"v\", holding_register = 1 }]"));
  CollectContext& c = run.ctx();
  const auto timed_out = [](const Sample& s) { return s.quality == quality::kBadTimeout; };
  ASSERT_TRUE(eventually([&] { return c.count("slow.v", timed_out) >= 3; }));
  // Between the slow device's first and third timeout the fast device went on being polled.
  const std::vector<Sample> all = c.samples();
  std::vector<Timestamp> timeouts;
  for (const Sample& s : all) {
    if (s.series == "slow.v" && timed_out(s)) timeouts.push_back(s.ts);
  }
  ASSERT_GE(timeouts.size(), 3u);
  size_t fast_between = 0;
  for (const Sample& s : all) {
    if (s.series == "fast.v" && quality::is_good(s.quality) && s.ts > timeouts[0] &&
        s.ts < timeouts[2]) {
      ++fast_between;
    }
  }
  EXPECT_GT(fast_between, 0u);
  const double span_s = static_cast<double>(timeouts[2] - timeouts[0]) / 1e9;
  std::printf("fast device: %zu Good samples in %.2f s between the slow device's timeouts\n",
              fast_between, span_s);
  EXPECT_EQ(c.count("fast.v", [](const Sample& s) { return !quality::is_good(s.quality); }), 0u);
  EXPECT_EQ(c.count("slow.v", [](const Sample& s) { return quality::is_good(s.quality); }), 0u);

  const runtime::Health h = run.source().health();
  EXPECT_EQ(h.state, HealthState::kWarning);  // one of two devices has trouble: not CRITICAL
  EXPECT_THAT(h.reason, HasSubstr("device 'slow'"));
  EXPECT_THAT(h.reason, HasSubstr("no answer"));
  EXPECT_GE(run.source().device_counters("slow").timeouts, 3u);
  EXPECT_EQ(run.source().device_counters("fast").timeouts, 0u);
}

}  // namespace
}  // namespace sluice::sources
