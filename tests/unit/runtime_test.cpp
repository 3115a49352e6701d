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

SourceTypes test_types() {
  SourceTypes types = cli::builtin_source_types();
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
