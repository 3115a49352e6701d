// The runtime on an in-memory file system: sources land in their own streams, a stop keeps
// every acknowledged sample (even through a crash right after it), a source that fails is
// CRITICAL with its reason while the others run, and a disabled source is not started.
#include "runtime/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <map>
#include <thread>

#include "cli/builtin_sources.h"
#include "fixtures/test_support.h"
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

// A source that only waits for its stop (its settings: none).
class IdleSource final : public Source {
 public:
  using Source::Source;
  std::string_view type() const override { return "idle"; }
  Status start(SourceContext& ctx) override {
    set_health(HealthState::kHealthy);
    while (ctx.sleep_until(ctx.clock().monotonic() + 3'600'000'000'000)) {
    }
    return Status::ok_status();
  }
};
class IdleSettings final : public SourceSettings {
 public:
  std::string summary() const override { return "waits"; }
  Result<std::unique_ptr<Source>> create(const std::string& name) const override {
    return std::unique_ptr<Source>(std::make_unique<IdleSource>(name));
  }
};

// A sink that delivers nothing and shows its `label` setting in its details, so a test sees
// which settings the running instance was built from.
class RecorderSink final : public Sink {
 public:
  RecorderSink(std::string name, std::string label)
      : Sink(std::move(name)), label_(std::move(label)) {}
  std::string_view type() const override { return "recorder"; }
  Status start(SinkContext& ctx) override {
    set_health(HealthState::kHealthy);
    while (ctx.sleep_until(ctx.clock().monotonic() + 3'600'000'000'000)) {
    }
    return Status::ok_status();
  }
  SinkDetails details() const override { return {{"label", label_}, {"nothing", ""}}; }

 private:
  const std::string label_;
};
class RecorderSettings final : public SinkSettings {
 public:
  explicit RecorderSettings(std::string label) : label_(std::move(label)) {}
  std::string summary() const override { return "records"; }
  Result<std::unique_ptr<Sink>> create(const std::string& name) const override {
    return std::unique_ptr<Sink>(std::make_unique<RecorderSink>(name, label_));
  }

 private:
  const std::string label_;
};

SourceTypes test_types() {
  SourceTypes types = cli::builtin_source_types();
  types.add({"idle", [](ConfigTable&) -> std::shared_ptr<const SourceSettings> {
               return std::make_shared<IdleSettings>();
             }});
  types.add_sink({"recorder", [](ConfigTable& t) -> std::shared_ptr<const SinkSettings> {
                    return std::make_shared<RecorderSettings>(t.string("label", "none"));
                  }});
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

TEST(RuntimeTest, SourceFiltersShapeWhatIsStoredAndDropsAreCounted) {
  MemEnv env;
  const Config config = parse(R"(
[store]
dir = "data"
sync = "every_batch"
[log]
status_interval = 0
[[sources]]
name = "line"
type = "simulator"
asset = "plc"
shape = "counter"
series = 3
rate = 3000
flush_interval = "5ms"
[[sources.filters]]
type = "exclude"
series = ["plc.counter2"]
[[sources.filters]]
type = "rename"
from = "plc.*"
to = "press1."
[[sources.filters]]
type = "scale"
factor = 10
offset = 0.5
series = ["press1.counter0"]
)");
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(config, {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] { return find((*rt)->sources(), "line").samples >= 300; }));
  ASSERT_TRUE((*rt)->stop().ok());
  const SourceStatus line = find((*rt)->sources(), "line");
  EXPECT_GT(line.filtered_samples, 0u);

  std::map<std::string, std::vector<double>> stored;
  ASSERT_TRUE((*rt)->store()
                  .query("line", {}, INT64_MIN, INT64_MAX,
                         [&](const Sample& s, uint64_t) {
                           stored[s.series].push_back(
                               std::holds_alternative<double>(s.value)
                                   ? std::get<double>(s.value)
                                   : static_cast<double>(std::get<int64_t>(s.value)));
                           return true;
                         })
                  .ok());
  ASSERT_EQ(stored.size(), 2u);  // counter2 excluded, the others renamed
  ASSERT_TRUE(stored.contains("press1.counter0"));
  ASSERT_TRUE(stored.contains("press1.counter1"));
  // Scaled: x * 10 + 0.5 of a whole counter always ends in .5; the unscaled one never does.
  for (double v : stored["press1.counter0"]) EXPECT_EQ(v - std::floor(v), 0.5) << v;
  for (double v : stored["press1.counter1"]) EXPECT_EQ(v - std::floor(v), 0.0) << v;
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

TEST(RuntimeTest, SinkDetailsReachTheSinkStatusAndTheStatusLine) {
  MemEnv env;
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(parse(R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "a"
type = "idle"
[[sinks]]
name = "out"
type = "recorder"
label = "two words"
)"),
                                                      {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  const SinkDetails expected = {{"label", "two words"}, {"nothing", ""}};
  EXPECT_EQ((*rt)->sinks()[0].details, expected);
  ASSERT_TRUE((*rt)->start().ok());
  const std::string line = (*rt)->status_line();
  EXPECT_THAT(line, HasSubstr("; sink out: label=\"two words\""));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("nothing="))) << "empty details are left out";
  ASSERT_TRUE((*rt)->stop().ok());
}

// ---- Changes at run time, kept in the state database ---------------------------------------

constexpr std::string_view kServicesConfig = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "a"
type = "idle"
[[sources]]
name = "b"
type = "idle"
[[sinks]]
name = "out"
type = "recorder"
label = "from-file"   # a comment
[[sinks]]
name = "keep"
type = "recorder"
label = "from-file"
)";

const SourceTypes& types() {
  static const SourceTypes kTypes = test_types();
  return kTypes;
}

// One store (a MemEnv), one state database file and one clock across reopens.
struct Plant {
  MemEnv env;
  ManualClock clock;
  testing::TempDir dir;

  Result<std::unique_ptr<Runtime>> open(std::string_view config_text) {
    Result<Config> c = parse_config(config_text, "/mem/sluice.toml", types());
    if (!c.ok()) return c.status();
    return Runtime::open(*c, {.env = &env,
                              .clock = &clock,
                              .state_db = dir.file("state.db"),
                              .config_text = std::string(config_text),
                              .types = &types()});
  }
};

const SinkStatus& find_sink(const std::vector<SinkStatus>& all, const std::string& name) {
  for (const auto& s : all) {
    if (s.name == name) return s;
  }
  static const SinkStatus kNone;
  ADD_FAILURE() << "no sink " << name;
  return kNone;
}

bool has_sink(Runtime& rt, const std::string& name) {
  for (const auto& s : rt.sinks()) {
    if (s.name == name) return true;
  }
  return false;
}

bool has_source(Runtime& rt, const std::string& name) {
  for (const auto& s : rt.sources()) {
    if (s.name == name) return true;
  }
  return false;
}

std::string label_of(Runtime& rt, const std::string& sink) {
  const std::vector<SinkStatus> sinks = rt.sinks();  // find_sink refers into it
  const SinkStatus& s = find_sink(sinks, sink);
  return s.details.empty() ? std::string("(no details)") : s.details[0].value;
}

// Captures what the runtime logs while it lives.
class LogCapture {
 public:
  LogCapture() : ring_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    spdlog::default_logger()->sinks().push_back(ring_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), ring_), sinks.end());
  }
  size_t count(std::string_view text) const {
    size_t n = 0;
    for (const std::string& line : ring_->last_formatted()) {
      if (line.find(text) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
};

TEST(RuntimeChangesTest, EnabledAndSettingsChangedThroughTheApiSurviveAReopen) {
  Plant plant;
  {
    auto rt = plant.open(kServicesConfig);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->start().ok());
    EXPECT_EQ(find((*rt)->sources(), "a").mode, Mode::kRunning);
    ASSERT_TRUE((*rt)->set_enabled("a", false).ok());
    EXPECT_EQ(find((*rt)->sources(), "a").mode, Mode::kDisabled);
    plant.clock.advance(1'000'000'000);
    ASSERT_TRUE((*rt)->update_settings("out", "label = \"from-api\"").ok());
    EXPECT_EQ(label_of(**rt, "out"), "from-api");
    EXPECT_EQ(find_sink((*rt)->sinks(), "out").mode, Mode::kRunning);
    Result<ServiceRow> row = (*rt)->service_row("out");
    ASSERT_TRUE(row.ok()) << row.status().to_string();
    EXPECT_EQ(row->origin, ServiceOrigin::kApi);
    EXPECT_EQ(row->updated_at, "2023-11-14T22:13:21.000Z");  // the ManualClock's start + 1 s
    EXPECT_THAT(row->settings, HasSubstr("from-api"));
    ASSERT_TRUE((*rt)->stop().ok());
  }
  auto rt = plant.open(kServicesConfig);
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  EXPECT_EQ(find((*rt)->sources(), "a").mode, Mode::kDisabled);
  EXPECT_EQ(find((*rt)->sources(), "b").mode, Mode::kRunning);
  EXPECT_EQ(label_of(**rt, "out"), "from-api");
  EXPECT_EQ(label_of(**rt, "keep"), "from-file");
  // Enabled again: it runs, and stays enabled after the next reopen.
  ASSERT_TRUE((*rt)->set_enabled("a", true).ok());
  EXPECT_EQ(find((*rt)->sources(), "a").mode, Mode::kRunning);
  ASSERT_TRUE((*rt)->stop().ok());
  rt->reset();
  rt = plant.open(kServicesConfig);
  ASSERT_TRUE(rt.ok());
  EXPECT_EQ(find((*rt)->sources(), "a").mode, Mode::kIdle);
  EXPECT_EQ((*rt)->set_enabled("nope", true).code(), Code::kNotFound);
}

TEST(RuntimeChangesTest, AConfigFileChangeSeedsConfigServicesButNotOnesChangedThroughTheApi) {
  Plant plant;
  LogCapture log;
  {
    auto rt = plant.open(kServicesConfig);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->update_settings("keep", "label = \"from-api\"").ok());
  }
  // Only a comment and the layout change: nothing is seeded, nothing logged.
  std::string same(kServicesConfig);
  same.replace(same.find("label = \"from-file\"   # a comment"),
               std::string_view("label = \"from-file\"   # a comment").size(),
               "label   =   \"from-file\"");
  {
    auto rt = plant.open(same);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    EXPECT_EQ(log.count("changed since"), 0u);
    EXPECT_EQ(log.count("table in the config file changed"), 0u);
  }
  // The file changes both tables: the config-origin one follows it, the API one does not.
  std::string changed(kServicesConfig);
  for (size_t at; (at = changed.find("from-file")) != std::string::npos;) {
    changed.replace(at, 9, "file-v2");
  }
  for (int run = 0; run < 2; ++run) {
    auto rt = plant.open(changed);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    EXPECT_EQ(label_of(**rt, "out"), "file-v2");
    EXPECT_EQ(label_of(**rt, "keep"), "from-api");
    EXPECT_EQ((*rt)->service_row("out")->origin, ServiceOrigin::kConfig);
    EXPECT_THAT((*rt)->service_row("out")->settings, HasSubstr("file-v2"));
    EXPECT_EQ((*rt)->service_row("keep")->origin, ServiceOrigin::kApi);
  }
  EXPECT_EQ(log.count("service 'keep': using the settings changed through the API at "
                      "2023-11-14T22:13:20.000Z; the config file's table for it is not used "
                      "(it changed since)"),
            1u)
      << "said once, at the first start after the file changed";
  EXPECT_EQ(log.count("sink 'out': its table in the config file changed"), 1u);
}

TEST(RuntimeChangesTest, ABadUpdateIsRefusedWithTheKeyNamedAndChangesNothing) {
  Plant plant;
  {
    auto rt = plant.open(kServicesConfig);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->start().ok());
    const ServiceRow before = *(*rt)->service_row("out");
    auto refusal = [&](std::string_view text) {
      const Status st = (*rt)->update_settings("out", text);
      EXPECT_EQ(st.code(), Code::kInvalidArgument) << text;
      return st.message();
    };
    EXPECT_THAT(refusal("label = 5"), AllOf(HasSubstr("settings of sink 'out':1:"),
                                            HasSubstr("key 'label'"), HasSubstr("got 5")));
    EXPECT_THAT(refusal("# new label\n\nlabel = \"x\"\nlabell = \"y\""),
                AllOf(HasSubstr("settings of sink 'out':4:"), HasSubstr("key 'labell'"),
                      HasSubstr("did you mean 'label'")));
    EXPECT_THAT(refusal("label = "), AllOf(HasSubstr(":1:"), HasSubstr("syntax error")));
    EXPECT_THAT(refusal("name = \"other\"\nlabel = \"x\""), HasSubstr("key 'name'"));
    EXPECT_THAT(refusal("type = \"files\"\ndir = \"/tmp/x\""), HasSubstr("key 'type'"));
    EXPECT_THAT(refusal("label = \"x\"\nsources = [\"nope\"]"),
                AllOf(HasSubstr("key 'sources'"), HasSubstr("'nope'")));
    EXPECT_EQ(*(*rt)->service_row("out"), before);
    EXPECT_EQ(label_of(**rt, "out"), "from-file");
    EXPECT_EQ(find_sink((*rt)->sinks(), "out").mode, Mode::kRunning);
    ASSERT_TRUE((*rt)->stop().ok());
  }
  auto rt = plant.open(kServicesConfig);
  ASSERT_TRUE(rt.ok());
  EXPECT_EQ(label_of(**rt, "out"), "from-file");
  Result<ServiceRow> row = (*rt)->service_row("out");
  ASSERT_TRUE(row.ok()) << row.status().to_string();
  EXPECT_EQ(row->origin, ServiceOrigin::kConfig);
}

TEST(RuntimeChangesTest, ARemovedServiceDoesNotComeBackUntilAddedAgain) {
  Plant plant;
  {
    auto rt = plant.open(kServicesConfig);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->start().ok());
    // A source that a sink names cannot go before that sink changes.
    ASSERT_TRUE((*rt)
                    ->add_service(ServiceKind::kSink,
                                  "name = \"only-b\"\ntype = \"recorder\"\nsources = [\"b\"]")
                    .ok());
    const Status refused = (*rt)->remove_service("b");
    EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
    EXPECT_THAT(refused.message(), HasSubstr("sink 'only-b'"));
    ASSERT_TRUE((*rt)->remove_service("only-b").ok());
    ASSERT_TRUE((*rt)->remove_service("b").ok());
    ASSERT_TRUE((*rt)->remove_service("out").ok());
    EXPECT_FALSE(has_source(**rt, "b"));
    EXPECT_FALSE(has_sink(**rt, "out"));
    EXPECT_FALSE((*rt)->store().cursor("a", "out").ok()) << "a removed sink's cursors go";
    EXPECT_TRUE((*rt)->store().has_stream("b")) << "a removed source's data stays";
    EXPECT_EQ((*rt)->remove_service("out").code(), Code::kNotFound);
    ASSERT_TRUE((*rt)->stop().ok());
  }
  {
    auto rt = plant.open(kServicesConfig);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    EXPECT_FALSE(has_source(**rt, "b")) << "the config file brought back a removed source";
    EXPECT_FALSE(has_sink(**rt, "out")) << "the config file brought back a removed sink";
    EXPECT_FALSE(has_sink(**rt, "only-b"));
    EXPECT_TRUE(has_sink(**rt, "keep"));
    // Added again through the API (the name is free): it runs and stays.
    ASSERT_TRUE((*rt)
                    ->add_service(ServiceKind::kSink,
                                  "name = \"out\"\ntype = \"recorder\"\nlabel = \"again\"")
                    .ok());
    EXPECT_EQ(label_of(**rt, "out"), "again");
    EXPECT_EQ((*rt)->add_service(ServiceKind::kSink, "name = \"a\"\ntype = \"recorder\"").code(),
              Code::kAlreadyExists);
  }
  auto rt = plant.open(kServicesConfig);
  ASSERT_TRUE(rt.ok());
  EXPECT_EQ(label_of(**rt, "out"), "again");
  EXPECT_EQ((*rt)->service_row("out")->origin, ServiceOrigin::kApi);
  EXPECT_FALSE(has_source(**rt, "b"));
}

TEST(RuntimeChangesTest, AnAddedSourceIsTakenBySinksOfEverySourceAndStartedAgainAfterReopen) {
  Plant plant;
  {
    auto rt = plant.open(kServicesConfig);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->start().ok());
    const Status bad = (*rt)->add_service(ServiceKind::kSource, "name = \"c\"\ntype = \"idel\"");
    EXPECT_EQ(bad.code(), Code::kInvalidArgument);
    EXPECT_THAT(bad.message(), AllOf(HasSubstr("key 'type'"), HasSubstr("idle")));
    EXPECT_FALSE(has_source(**rt, "c"));
    ASSERT_TRUE((*rt)->add_service(ServiceKind::kSource, "name = \"c\"\ntype = \"idle\"").ok());
    EXPECT_EQ(find((*rt)->sources(), "c").mode, Mode::kRunning);
    EXPECT_TRUE((*rt)->store().cursor("c", "out").ok()) << "sink 'out' takes every source";
    EXPECT_EQ(find_sink((*rt)->sinks(), "out").mode, Mode::kRunning);
    ASSERT_TRUE((*rt)->stop().ok());
    EXPECT_EQ((*rt)->set_enabled("c", false).code(), Code::kFailedPrecondition)
        << "no change after stop";
  }
  auto rt = plant.open(kServicesConfig);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  EXPECT_EQ(find((*rt)->sources(), "c").mode, Mode::kRunning);
  ASSERT_TRUE((*rt)->stop().ok());
}

TEST(RuntimeChangesTest, WithoutTheConfigTextChangesAreRefusedAndNothingIsKept) {
  MemEnv env;
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(parse(kServicesConfig), {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  const Status st = (*rt)->set_enabled("a", false);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("config_text"));
  EXPECT_EQ(find((*rt)->sources(), "a").mode, Mode::kIdle);
}

// ---- Read marks: committing part of what was read ----------------------------------------

// A source that ingests three batches of ten samples (sequences 0 .. 29), then waits.
class TenTimesThreeSource final : public Source {
 public:
  using Source::Source;
  std::string_view type() const override { return "ten_times_three"; }
  Status start(SourceContext& ctx) override {
    for (int b = 0; b < 3; ++b) {
      Batch batch;
      for (int i = 0; i < 10; ++i) {
        batch.samples.push_back(Sample{"x", ctx.clock().now(), double(b * 10 + i)});
      }
      auto r = ctx.ingest(std::move(batch));
      if (!r.ok()) return r.status();
    }
    set_health(HealthState::kHealthy);
    while (ctx.sleep_until(ctx.clock().monotonic() + 3'600'000'000'000)) {
    }
    return Status::ok_status();
  }
};

// The steps a MarkingSink takes, one at a time as the test allows, and what it saw.
struct MarkScript {
  std::mutex mu;
  std::condition_variable cv;
  int allowed = 0;                      // guarded by mu
  int done = 0;                         // guarded by mu
  std::vector<uint64_t> backlog_after;  // per step; guarded by mu
  std::vector<uint64_t> first_seqs;     // of every read; guarded by mu
  std::string error;                    // guarded by mu

  // Test side: lets step `n` run and waits until it has (bounded).
  bool run(int n) {
    std::unique_lock lock(mu);
    allowed = n;
    cv.notify_all();
    return cv.wait_for(lock, std::chrono::seconds(20), [&] {
      return done >= n || !error.empty();
    }) && error.empty();
  }
};
MarkScript* g_mark_script = nullptr;

// Reads 0 .. 9, 10 .. 19, 20 .. 29 with a mark after each (m1, m2, m3), then:
// 1: commit_to(m1); 2: commit_to(m2), then commit_to(m1) (older: no-op);
// 3: rewind, read once (from the committed mark), commit_to(m3) (from before the rewind: void);
// 4: commit().
class MarkingSink final : public Sink {
 public:
  using Sink::Sink;
  std::string_view type() const override { return "marking"; }
  Status start(SinkContext& ctx) override {
    MarkScript& script = *g_mark_script;
    while (ctx.backlog() < 30) {
      if (!ctx.sleep_until(ctx.clock().monotonic() + 5'000'000)) return Status::ok_status();
    }
    SinkItem item;
    std::vector<SinkContext::ReadMark> marks;
    auto read_one = [&]() -> Status {
      Result<bool> got = ctx.read(10, &item);
      if (!got.ok()) return got.status();
      if (!*got) return failed_precondition("nothing to read");
      std::lock_guard lock(script.mu);
      script.first_seqs.push_back(item.first_seq);
      return Status::ok_status();
    };
    for (int i = 0; i < 3; ++i) {
      SLUICE_RETURN_IF_ERROR(read_one());
      marks.push_back(ctx.mark());
    }
    const std::vector<std::function<Status()>> steps = {
        [&] { return ctx.commit_to(marks[0]); },
        [&]() -> Status {
          SLUICE_RETURN_IF_ERROR(ctx.commit_to(marks[1]));
          return ctx.commit_to(marks[0]);
        },
        [&]() -> Status {
          ctx.rewind();
          SLUICE_RETURN_IF_ERROR(read_one());
          return ctx.commit_to(marks[2]);
        },
        [&] { return ctx.commit(); },
    };
    for (size_t i = 0; i < steps.size(); ++i) {
      {
        std::unique_lock lock(script.mu);
        while (script.allowed <= static_cast<int>(i)) {
          if (ctx.stopping()) return Status::ok_status();
          script.cv.wait_for(lock, std::chrono::milliseconds(10));
        }
      }
      Status st = steps[i]();
      std::lock_guard lock(script.mu);
      if (!st.ok()) script.error = st.to_string();
      script.backlog_after.push_back(ctx.backlog());
      script.done = static_cast<int>(i) + 1;
      script.cv.notify_all();
    }
    while (ctx.sleep_until(ctx.clock().monotonic() + 3'600'000'000'000)) {
    }
    return Status::ok_status();
  }
};

TEST(RuntimeSinkTest, CommitToAMarkMovesTheCursorOnlyThatFarAndRewindRereadsFromIt) {
  MarkScript script;
  g_mark_script = &script;
  SourceTypes types = test_types();
  types.add({"ten_times_three", [](ConfigTable&) -> std::shared_ptr<const SourceSettings> {
               class S final : public SourceSettings {
                public:
                 std::string summary() const override { return "30 samples"; }
                 Result<std::unique_ptr<Source>> create(const std::string& name) const override {
                   return std::unique_ptr<Source>(std::make_unique<TenTimesThreeSource>(name));
                 }
               };
               return std::make_shared<S>();
             }});
  types.add_sink({"marking", [](ConfigTable&) -> std::shared_ptr<const SinkSettings> {
                    class S final : public SinkSettings {
                     public:
                      std::string summary() const override { return "marks"; }
                      Result<std::unique_ptr<Sink>> create(const std::string& name) const override {
                        return std::unique_ptr<Sink>(std::make_unique<MarkingSink>(name));
                      }
                    };
                    return std::make_shared<S>();
                  }});
  Result<Config> config = parse_config(R"(
[store]
dir = "data"
sync = "every_batch"
[log]
status_interval = 0
[[sources]]
name = "t"
type = "ten_times_three"
[[sinks]]
name = "out"
type = "marking"
)",
                                       "/mem/sluice.toml", types);
  ASSERT_TRUE(config.ok()) << config.status().message();
  MemEnv env;
  Result<std::unique_ptr<Runtime>> rt = Runtime::open(*config, {.env = &env});
  ASSERT_TRUE(rt.ok()) << rt.status().to_string();
  ASSERT_TRUE((*rt)->start().ok());
  auto delivered = [&] { return find_sink((*rt)->sinks(), "out").delivered; };

  ASSERT_TRUE(script.run(1)) << script.error;
  EXPECT_EQ(script.backlog_after.back(), 20u) << "the cursor is at m1 (10), not at 30";
  EXPECT_EQ(delivered(), 10u);

  ASSERT_TRUE(script.run(2)) << script.error;
  EXPECT_EQ(script.backlog_after.back(), 10u) << "at m2 (20); the older m1 did not move it back";
  EXPECT_EQ(delivered(), 20u);

  ASSERT_TRUE(script.run(3)) << script.error;
  EXPECT_EQ(script.first_seqs, (std::vector<uint64_t>{0, 10, 20, 20}))
      << "after the rewind the read starts again at the committed mark";
  EXPECT_EQ(script.backlog_after.back(), 10u) << "a mark from before the rewind is void";
  EXPECT_EQ(delivered(), 20u);

  ASSERT_TRUE(script.run(4)) << script.error;
  EXPECT_EQ(script.backlog_after.back(), 0u);
  EXPECT_EQ(delivered(), 30u) << "the re-read samples are counted once";

  ASSERT_TRUE((*rt)->stop().ok());
  g_mark_script = nullptr;
}

}  // namespace
}  // namespace sluice::runtime
