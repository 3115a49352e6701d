// The runtime on an in-memory file system: sources land in their own streams, a stop keeps
// every acknowledged sample (even through a crash right after it), a source that fails is
// CRITICAL with its reason while the others run, and a disabled source is not started.
#include "runtime/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cli/builtin_sources.h"
#include "io/mem_env.h"
#include "runtime/config.h"

namespace sluice::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A source that cannot reach its device.
class UnreachableSource final : public Source {
 public:
  using Source::Source;
  std::string_view type() const override { return "unreachable"; }
  Status start(SourceContext& /*ctx*/) override {
    return {Code::kUnavailable, "cannot connect to 192.0.2.1:502: connection refused"};
  }
};

class UnreachableSettings final : public SourceSettings {
 public:
  std::string summary() const override { return "a device that is not there"; }
  Result<std::unique_ptr<Source>> create(const std::string& name) const override {
    return std::unique_ptr<Source>(std::make_unique<UnreachableSource>(name));
  }
};

// A source that fails its first start and runs (ingesting one sample) from the second on.
std::atomic<int> g_flaky_starts{0};
class FlakySource final : public Source {
 public:
  using Source::Source;
  std::string_view type() const override { return "flaky"; }
  Status start(SourceContext& ctx) override {
    if (g_flaky_starts.fetch_add(1) == 0) return {Code::kUnavailable, "first start fails"};
    Batch b;
    b.samples.push_back(Sample{"flaky.x", ctx.clock().now(), 1.0});
    auto r = ctx.ingest(std::move(b));
    if (!r.ok()) return r.status();
    while (ctx.sleep_until(ctx.clock().monotonic() + 1'000'000'000)) {
    }
    return Status::ok_status();
  }
};
class FlakySettings final : public SourceSettings {
 public:
  std::string summary() const override { return "fails once"; }
  Result<std::unique_ptr<Source>> create(const std::string& name) const override {
    return std::unique_ptr<Source>(std::make_unique<FlakySource>(name));
  }
};

SourceTypes test_types() {
  SourceTypes types = cli::builtin_source_types();
  types.add({"flaky", [](ConfigTable&) -> std::shared_ptr<const SourceSettings> {
               return std::make_shared<FlakySettings>();
             }});
  types.add({"unreachable", [](ConfigTable&) -> std::shared_ptr<const SourceSettings> {
               return std::make_shared<UnreachableSettings>();
             }});
  return types;
}

Config parse(std::string_view text) {
  Result<Config> c = parse_config(text, "/mem/sluice.toml", test_types());
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? *c : Config{};
}

constexpr std::string_view kConfig = R"(
[store]
dir = "data"
sync = "every_batch"
[log]
status_interval = 0
[[sources]]
name = "sim"
type = "simulator"
rate = 20000
series = 20
flush_interval = "5ms"
[[sources]]
name = "plc"
type = "unreachable"
[[sources]]
name = "spare"
type = "simulator"
enabled = false
)";

const SourceStatus& find(const std::vector<SourceStatus>& all, const std::string& name) {
  for (const auto& s : all) {
    if (s.name == name) return s;
  }
  static const SourceStatus kNone;
  ADD_FAILURE() << "no source " << name;
  return kNone;
}

// Polls until `done` holds (bounded; not a timing assertion).
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(RuntimeTest, EveryAcknowledgedSampleSurvivesStopAndACrashAfterIt) {
  MemEnv env;
  const Config config = parse(kConfig);
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(config, {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] { return find((*rt)->sources(), "sim").samples >= 2000; }));
  ASSERT_TRUE((*rt)->stop().ok());
  const SourceStatus sim = find((*rt)->sources(), "sim");
  EXPECT_EQ(sim.mode, Mode::kIdle);
  EXPECT_EQ(sim.failed_ingests, 0u);
  rt->reset();

  env.crash();
  Result<std::unique_ptr<store::Store>> store = store::Store::open(env, config.store);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  Result<store::StreamStats> stats = (*store)->stream_stats("sim");
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_EQ(stats->next_seq, sim.samples);  // all acknowledged samples, and nothing else
  Result<std::string> meta = (*store)->stream_meta("sim");
  ASSERT_TRUE(meta.ok());
  EXPECT_THAT(*meta, HasSubstr("\"source\":\"sim\""));
  EXPECT_THAT(*meta, HasSubstr("\"type\":\"simulator\""));
}

TEST(RuntimeTest, AFailingSourceIsCriticalWithItsReasonWhileOthersRun) {
  MemEnv env;
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(parse(kConfig), {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually(
      [&] { return find((*rt)->sources(), "plc").health.state == HealthState::kCritical; }));
  ASSERT_TRUE(eventually([&] { return find((*rt)->sources(), "sim").samples > 0; }));
  const std::vector<SourceStatus> all = (*rt)->sources();
  EXPECT_THAT(find(all, "plc").health.reason, HasSubstr("192.0.2.1:502"));
  EXPECT_EQ(find(all, "sim").health.state, HealthState::kHealthy);
  EXPECT_EQ(find(all, "sim").mode, Mode::kRunning);
  EXPECT_THAT((*rt)->status_line(), HasSubstr("plc CRITICAL"));
  ASSERT_TRUE((*rt)->stop().ok());
}

TEST(RuntimeTest, AFailedSourceIsStartedAgainAfterABackOff) {
  MemEnv env;
  g_flaky_starts = 0;
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(parse(R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "f"
type = "flaky"
)"),
                                                      {.env = &env});
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  // First it is CRITICAL with the reason and the restart it waits for...
  ASSERT_TRUE(eventually([&] { return g_flaky_starts >= 1; }));
  ASSERT_TRUE(eventually(
      [&] { return find((*rt)->sources(), "f").health.state == HealthState::kCritical; }));
  EXPECT_THAT(find((*rt)->sources(), "f").health.reason,
              AllOf(HasSubstr("first start fails"), HasSubstr("restart 1")));
  // ...then a new instance runs and ingests.
  ASSERT_TRUE(eventually([&] { return find((*rt)->sources(), "f").samples == 1; }));
  EXPECT_EQ(g_flaky_starts, 2);
  EXPECT_NE(find((*rt)->sources(), "f").health.state, HealthState::kCritical);
  ASSERT_TRUE((*rt)->stop().ok());
}

TEST(RuntimeTest, RestartDelayDoublesToAMinuteAndResetsAfterALongRun) {
  using std::chrono::seconds;
  EXPECT_EQ(Runtime::restart_delay(1, seconds(0)), seconds(1));
  EXPECT_EQ(Runtime::restart_delay(2, seconds(0)), seconds(2));
  EXPECT_EQ(Runtime::restart_delay(4, seconds(5)), seconds(8));
  EXPECT_EQ(Runtime::restart_delay(7, seconds(0)), seconds(60));
  EXPECT_EQ(Runtime::restart_delay(30, seconds(0)), seconds(60));
  EXPECT_EQ(Runtime::restart_delay(30, seconds(61)), seconds(1));
}

TEST(RuntimeTest, ADisabledSourceHasAStreamButIsNotStarted) {
  MemEnv env;
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(parse(kConfig), {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] { return find((*rt)->sources(), "sim").samples > 0; }));
  const SourceStatus spare = find((*rt)->sources(), "spare");
  EXPECT_EQ(spare.mode, Mode::kDisabled);
  EXPECT_EQ(spare.health.state, HealthState::kNotApplicable);
  EXPECT_EQ(spare.samples, 0u);
  EXPECT_TRUE((*rt)->store().has_stream("spare"));
  ASSERT_TRUE((*rt)->stop().ok());
  EXPECT_TRUE((*rt)->stop().ok()) << "stop is idempotent";
}

TEST(RuntimeTest, StatusLineReportsRateSizeAndDrops) {
  MemEnv env;
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(parse(kConfig), {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] { return find((*rt)->sources(), "sim").samples > 0; }));
  const std::string line = (*rt)->status_line();
  EXPECT_THAT(line, HasSubstr("samples/s"));
  EXPECT_THAT(line, HasSubstr("B/sample"));
  EXPECT_THAT(line, HasSubstr("dropped 0"));
  ASSERT_TRUE((*rt)->stop().ok());
}

}  // namespace
}  // namespace sluice::runtime
