// Sluice as a device (platform/edge_bootstrap.h): a central Sluice (the API with the device
// registry, bootstrap configs and a platform source) and an edge `sluice run --bootstrap` as a
// real child process that knows only the central's URL, its external id and its external key.
//   - the edge fetches its config, writes it (key file mode 0600), runs its simulator and
//     forwards to the central over the HTTP adapter: the samples arrive, labelled as the thing's;
//   - the thing's key rotated at the central: the edge's forwarding is refused, it bootstraps
//     again by itself (a new key) and the samples flow again;
//   - the sealed (AES-256-GCM) answer with the right key, and refusals (wrong key, unknown id,
//     off, wrong decryption key) with the error the edge logs;
//   - the content turned into a config: a channel sink filled in, TOML that loads.
#include "platform/edge_bootstrap.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/builtin_sources.h"
#include "fixtures/api_harness.h"
#include "fixtures/sluice_process.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"

namespace sluice::platform {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using nlohmann::json;
using ::testing::HasSubstr;

constexpr std::string_view kCentral = R"(
[store]
dir = "data"
[log]
status_interval = 0
[[sources]]
name = "things"
type = "platform"
)";
constexpr const char* kExternalKey = "an-external-key-of-the-device";
const std::string kSealKey(32, '\x5a');

class EdgeBootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(central_.start(dir_, kCentral, {.bootstrap_key = kSealKey}));
    auto channels = central_.platform()->create_channels(Scope::everything(),
                                                         {NewChannel{.name = "edge-data"}});
    ASSERT_TRUE(channels.ok());
    channel_ = channels->at(0).id;
    NewBootstrap n;
    n.external_id = "00:11:22:33:44:55";
    n.external_key = kExternalKey;
    n.name = "edge-1";
    n.channels = {channel_};
    n.content = json::parse(R"({
      "log": {"status_interval": 0},
      "sources": [{"name": "sim", "type": "simulator", "rate": 20, "series": 2,
                   "asset": "line1", "shape": "counter"}]
    })");
    auto made = central_.bootstrap()->create(Scope::everything(), n);
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    thing_ = made->config.thing_id;
  }

  EdgeBootstrapOptions fetch_options() const {
    EdgeBootstrapOptions o;
    o.url = central_.url("");
    o.external_id = "00:11:22:33:44:55";
    o.external_key = kExternalKey;
    return o;
  }

  uint64_t central_samples() {
    for (const auto& s : central_.runtime()->sources()) {
      if (s.name == "things") return s.samples;
    }
    return 0;
  }

  testing::TempDir dir_;
  testing::TempDir edge_dir_;
  testing::ApiHarness central_;
  std::string channel_;
  std::string thing_;
};

TEST_F(EdgeBootstrapTest, EdgeBootstrapsForwardsAndBootstrapsAgainWhenItsKeyIsRotated) {
  const std::string edge = edge_dir_.file("edge");
  testing::SluiceProcess process(
      {"run", "--bootstrap", central_.url(""), "--external-id", "00:11:22:33:44:55",
       "--external-key", kExternalKey, "--dir", edge, "--rebootstrap-after", "1"},
      edge_dir_.file("edge.log"));

  // The simulator's series arrive at the central, named by the channel, labelled as the thing's.
  const std::string series = channel_ + ".line1.counter0";
  ASSERT_TRUE(testing::eventually([&] {
    return central_.runtime()->last_values().find("things", series).has_value();
  })) << process.log();
  std::optional<SeriesMeta> meta = central_.runtime()->series().find(series);
  ASSERT_TRUE(meta.has_value());
  EXPECT_EQ(meta->labels["publisher"], thing_);
  EXPECT_EQ(meta->labels["protocol"], "http");

  // What the edge wrote: the key private, the config with the channel sink, no key in the JSON.
  struct stat st {};
  ASSERT_EQ(::stat((edge + "/thing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string config = read_file(edge + "/sluice.toml");
  EXPECT_THAT(config, HasSubstr("type = 'channel'"));
  EXPECT_THAT(config, HasSubstr(channel_));
  EXPECT_THAT(read_file(edge + "/bootstrap.json"), ::testing::Not(HasSubstr("thing_key")));
  const std::string first_key = read_file(edge + "/thing.key");

  // The key rotated at the central (as an operator would): the edge is refused, bootstraps
  // again by itself, and forwards with its new key.
  ASSERT_TRUE(central_.platform()->rotate_key(Scope::everything(), thing_).ok());
  const uint64_t bootstraps = central_.bootstrap()->stats().bootstrapped;
  ASSERT_TRUE(testing::eventually([&] {
    return central_.bootstrap()->stats().bootstrapped > bootstraps;
  })) << process.log();
  const uint64_t after = central_samples();
  ASSERT_TRUE(testing::eventually([&] { return central_samples() > after + 20; })) << process.log();
  EXPECT_NE(read_file(edge + "/thing.key"), first_key);
  EXPECT_THAT(process.log(), HasSubstr("bootstrapping again"));
  EXPECT_EQ(process.terminate(), 0);
}

TEST_F(EdgeBootstrapTest, SealedAnswerAndRefusalsSayWhatTheCentralSaid) {
  EdgeBootstrapOptions o = fetch_options();
  o.decryption_key = kSealKey;
  Result<BootstrapAnswer> sealed = fetch_bootstrap(o);
  ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
  EXPECT_EQ(sealed->thing_id, thing_);
  ASSERT_EQ(sealed->channels.size(), 1u);
  EXPECT_EQ(sealed->channels[0].id, channel_);
  EXPECT_TRUE(central_.platform()->authenticate(sealed->thing_key).ok());

  o.decryption_key = std::string(32, '\x01');
  Result<BootstrapAnswer> wrong_seal = fetch_bootstrap(o);
  EXPECT_EQ(wrong_seal.status().code(), Code::kCorruption);

  o = fetch_options();
  o.external_key = "not-the-key-of-this-device";
  EXPECT_EQ(fetch_bootstrap(o).status().code(), Code::kPermissionDenied);
  o = fetch_options();
  o.external_id = "ff:ff:ff:ff:ff:ff";
  EXPECT_EQ(fetch_bootstrap(o).status().code(), Code::kNotFound);
  ASSERT_TRUE(
      central_.bootstrap()->set_state(Scope::everything(), "00:11:22:33:44:55", false).ok());
  Result<BootstrapAnswer> off = fetch_bootstrap(fetch_options());
  EXPECT_EQ(off.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(off.status().message(), HasSubstr("409"));
  o = fetch_options();
  o.url = "http://127.0.0.1:1";
  EXPECT_EQ(fetch_bootstrap(o).status().code(), Code::kUnavailable);
}

TEST_F(EdgeBootstrapTest, EdgeWithoutAnAnswerOrACachedConfigKeepsTrying) {
  const std::string edge = edge_dir_.file("edge");
  testing::SluiceProcess process(
      {"run", "--bootstrap", central_.url(""), "--external-id", "00:11:22:33:44:55",
       "--external-key", "a-wrong-key-0123456", "--dir", edge},
      edge_dir_.file("edge.log"));
  ASSERT_TRUE(testing::eventually([&] {
    return process.log().find("trying again") != std::string::npos;
  })) << process.log();
  EXPECT_THAT(process.log(), HasSubstr("403"));
  EXPECT_TRUE(process.running());
  process.kill();
}

TEST(EdgeConfigTest, ContentBecomesAConfigWithAChannelSink) {
  BootstrapAnswer a;
  a.thing_id = "t1";
  a.thing_key = std::string(64, 'a');
  a.channels = {BootstrapChannel{"c1", "one", json::object()}};
  a.content = json::parse(R"({"sources": [{"name": "sim", "type": "simulator", "rate": 5}],
                              "sinks": [{"name": "csv", "type": "files", "dir": "out"}]})");
  Result<std::string> text = edge_config(a, "http://central:8080");
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  std::vector<runtime::ConfigError> errors;
  auto config = runtime::parse_config(*text, "sluice.toml", cli::builtin_source_types(), &errors);
  std::string all;
  for (const auto& e : errors) all += e.key + ": " + e.message + "\n";
  ASSERT_TRUE(config.ok()) << *text << "\n" << all;
  ASSERT_EQ(config->sinks.size(), 2u);
  EXPECT_EQ(config->sinks[1].type, "channel");
  EXPECT_EQ(config->sinks[1].name, "central");

  // A channel sink of the content's own is filled in, not doubled.
  a.content = json::parse(R"({"sinks": [{"name": "up", "type": "channel", "subtopic": "x"}]})");
  text = edge_config(a, "http://central:8080");
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("channel = 'c1'"));
  EXPECT_THAT(*text, HasSubstr("key_file = 'thing.key'"));
  EXPECT_THAT(*text, ::testing::Not(HasSubstr("central'")));

  a.content = json::parse(R"({"sources": [{"name": null}]})");
  text = edge_config(a, "http://central:8080");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("content.sources[0].name"));
  a.content = json::parse(R"([1, 2])");
  EXPECT_FALSE(edge_config(a, "http://central:8080").ok());
}

}  // namespace
}  // namespace sluice::platform
