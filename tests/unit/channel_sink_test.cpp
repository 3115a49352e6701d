// The channel sink's SenML packs, read back with the parser the central uses
// (formats::SenmlParser): names, values, times and units survive; a backlog is split into packs
// each under the byte limit, with nothing lost or repeated; what SenML cannot carry is refused
// with a reason. And the sink's config keys, with errors that name the key.
#include "sinks/channel/channel_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "formats/senml.h"
#include "runtime/config.h"
#include "sinks/channel/senml_pack.h"

namespace sluice::sinks::channel {
namespace {

using ::testing::HasSubstr;

constexpr Timestamp kT0 = 1'700'000'000'123'456'000;  // 2023-11-14, with micro seconds
constexpr int64_t kTimeToleranceNs = 1'000;           // doubles of seconds: ~0.24 us at 2023

Sample make(std::string series, Timestamp ts, Value v) {
  Sample s;
  s.series = std::move(series);
  s.ts = ts;
  s.value = std::move(v);
  return s;
}

formats::Parsed parse(const std::string& body) {
  formats::SenmlParser parser;
  formats::Parsed out;
  const Status st = parser.parse(body, {.topic = "", .receive_time = 5}, &out);
  EXPECT_TRUE(st.ok()) << st.message() << "\n" << body;
  return out;
}

// What the central stores for a sample: an int64 travels as a JSON number it reads as a double.
Value as_received(const Value& v) {
  if (const int64_t* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return v;
}

void expect_same(const std::vector<Sample>& sent, const std::vector<Sample>& got) {
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].series, sent[i].series) << "record " << i;
    EXPECT_TRUE(identical(got[i].value, as_received(sent[i].value))) << "record " << i;
    EXPECT_LE(std::llabs(got[i].ts - sent[i].ts), kTimeToleranceNs)
        << "record " << i << ": sent " << sent[i].ts << ", got " << got[i].ts;
  }
}

TEST(ChannelSenmlTest, ValuesTimesAndUnitsRoundTripThroughTheCentralsParser) {
  const std::vector<Sample> sent = {
      make("line1.press.temperature", kT0, 21.5),
      make("line1.press.pressure", kT0 + 1'000, int64_t{1} << 40),
      make("line1.press.running", kT0 + 250'000'000, true),
      make("line1.press.state", kT0 - 3'000'000'000, std::string("ok \"quoted\" \\ \n\t \x01 µ")),
      make("counter", kT0 + 86'400'000'000'000, int64_t{-7}),
      make("line2:a/b_c-d", kT0 + 1, -0.000123456789),
      make("line1.press.temperature", kT0 + 2'000'000'000, 1e300),
  };
  const std::map<std::string, std::string> units = {{"line1.press.temperature", "Cel"},
                                                    {"line1.press.pressure", "Pa"}};
  const UnitOf unit_of = [&units](const std::string& series) -> std::string_view {
    auto it = units.find(series);
    return it == units.end() ? std::string_view() : std::string_view(it->second);
  };
  const Pack pack = encode_pack(sent, unit_of, 1u << 20);
  ASSERT_EQ(pack.samples, sent.size());
  const formats::Parsed got = parse(pack.body);
  expect_same(sent, got.batch.samples);
  std::map<std::string, std::string> got_units;
  for (const SeriesMeta& m : got.meta) got_units[m.name] = m.unit;
  EXPECT_EQ(got_units["line1.press.temperature"], "Cel");
  EXPECT_EQ(got_units["line1.press.pressure"], "Pa");
  EXPECT_EQ(got_units["counter"], "");
  // The shared prefix travels once as a base name, the first time once as a base time.
  EXPECT_THAT(pack.body, HasSubstr(R"({"bn":"line1.press.","bt":1700000000,"n":"temperature")"));
  EXPECT_EQ(pack.body.find("\"bt\""), pack.body.rfind("\"bt\"")) << pack.body;
}

TEST(ChannelSenmlTest, InvalidUtf8InAStringBecomesTheReplacementCharacter) {
  const std::vector<Sample> sent = {make("s", kT0,
                                         std::string("a\xff"
                                                     "b\xc3"))};
  const Pack pack = encode_pack(sent, {}, 1024);
  ASSERT_EQ(pack.samples, 1u);
  const formats::Parsed got = parse(pack.body);
  ASSERT_EQ(got.batch.size(), 1u);
  EXPECT_TRUE(identical(got.batch.samples[0].value, Value(std::string("a\uFFFDb\uFFFD"))));
}

TEST(ChannelSenmlTest, ABacklogIsSplitIntoPacksUnderTheLimitWithNothingLostOrRepeated) {
  std::vector<Sample> sent;
  for (int i = 0; i < 500; ++i) {
    sent.push_back(make("plant.line" + std::to_string(i % 7) + ".value" + std::to_string(i % 3),
                        kT0 + i * 1'000'000LL, i * 0.5));
  }
  constexpr size_t kLimit = 2000;
  std::vector<Sample> got;
  size_t packs = 0;
  std::span<const Sample> rest(sent);
  while (!rest.empty()) {
    const Pack pack = encode_pack(rest, {}, kLimit);
    ASSERT_GT(pack.samples, 0u);
    EXPECT_LE(pack.body.size(), kLimit);
    const formats::Parsed parsed = parse(pack.body);
    ASSERT_EQ(parsed.batch.size(), pack.samples);
    got.insert(got.end(), parsed.batch.samples.begin(), parsed.batch.samples.end());
    rest = rest.subspan(pack.samples);
    ++packs;
  }
  EXPECT_GT(packs, 10u);
  expect_same(sent, got);
}

TEST(ChannelSenmlTest, MaxRecordsCapsAPackAndARecordOverTheLimitIsNotTaken) {
  std::vector<Sample> sent;
  for (int i = 0; i < 10; ++i) sent.push_back(make("a.b", kT0 + i, 1.0));
  EXPECT_EQ(encode_pack(sent, {}, 1u << 20, 3).samples, 3u);
  const std::vector<Sample> big = {make("big", kT0, std::string(5000, 'x'))};
  const Pack pack = encode_pack(big, {}, 1024);
  EXPECT_EQ(pack.samples, 0u);
  EXPECT_EQ(pack.body, "");
}

TEST(ChannelSenmlTest, SamplesSenmlCannotCarryAreRefusedWithTheReason) {
  EXPECT_EQ(senml_unfit(make("ok.name", kT0, 1.0)), std::nullopt);
  Sample bad = make("a", kT0, 1.0);
  bad.quality = quality::kBadSensorFailure;
  EXPECT_THAT(senml_unfit(bad).value_or(""), HasSubstr("quality is Bad"));
  Sample uncertain = make("a", kT0, 1.0);
  uncertain.quality = quality::kUncertainLastUsableValue;
  EXPECT_EQ(senml_unfit(uncertain), std::nullopt);
  EXPECT_THAT(senml_unfit(make("has space", kT0, 1.0)).value_or(""), HasSubstr("not a SenML name"));
  EXPECT_THAT(senml_unfit(make("_x", kT0, 1.0)).value_or(""), HasSubstr("not a SenML name"));
  EXPECT_THAT(senml_unfit(make("early", 1'000, 1.0)).value_or(""), HasSubstr("relative"));
  EXPECT_THAT(senml_unfit(make("n", kT0, std::nan(""))).value_or(""), HasSubstr("not a JSON"));
  EXPECT_THAT(senml_unfit(make("n", kT0, INFINITY)).value_or(""), HasSubstr("not a JSON"));
}

// ---- config ------------------------------------------------------------------------------

runtime::SourceTypes channel_types() {
  runtime::SourceTypes t;
  t.add_sink(channel_sink_type());
  return t;
}

std::string sink_config(std::string_view keys) {
  return "[store]\ndir = \"d\"\n[[sinks]]\nname = \"up\"\ntype = \"channel\"\n" + std::string(keys);
}

std::vector<runtime::ConfigError> errors_of(std::string_view keys) {
  std::vector<runtime::ConfigError> errors;
  const auto config =
      runtime::parse_config(sink_config(keys), "edge.toml", channel_types(), &errors);
  EXPECT_FALSE(config.ok()) << keys;
  return errors;
}

std::string first_error(std::string_view keys) {
  const auto errors = errors_of(keys);
  return errors.empty() ? std::string("<none>") : errors[0].to_string();
}

constexpr std::string_view kGood =
    "url = \"http://central:8080/\"\nchannel = \"c-1\"\nkey = \"abcdef\"\n";

TEST(ChannelSinkConfigTest, AGoodTableGivesTheMessageUrlAndDefaults) {
  std::vector<runtime::ConfigError> errors;
  const auto config =
      runtime::parse_config(sink_config(std::string(kGood) + "subtopic = \"a/b\"\n"), "edge.toml",
                            channel_types(), &errors);
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->sinks.size(), 1u);
  EXPECT_THAT(config->sinks[0].settings->summary(),
              HasSubstr("http://central:8080/channels/c-1/messages/a/b"));
  EXPECT_THAT(config->sinks[0].settings->summary(), HasSubstr("1000 samples per batch"));
  EXPECT_THAT(config->sinks[0].settings->summary(), HasSubstr("1MiB"));
}

TEST(ChannelSinkConfigTest, MissingKeysAreNamed) {
  const auto errors = errors_of("");
  std::vector<std::string> keys;
  for (const auto& e : errors) keys.push_back(e.key);
  EXPECT_THAT(keys,
              ::testing::UnorderedElementsAre("sinks[0].url", "sinks[0].channel", "sinks[0].key"));
}

TEST(ChannelSinkConfigTest, WrongValuesAreErrorsThatNameTheFileLineAndKey) {
  EXPECT_THAT(first_error("url = \"ftp://x\"\nchannel = \"c\"\nkey = \"k\"\n"),
              HasSubstr("edge.toml:6:7: key 'sinks[0].url'"));
  EXPECT_THAT(first_error("url = \"http://x\"\nchannel = \"c d\"\nkey = \"k\"\n"),
              HasSubstr("key 'sinks[0].channel'"));
  EXPECT_THAT(first_error(std::string(kGood) + "key_file = \"k.txt\"\n"),
              HasSubstr("either key or key_file"));
  EXPECT_THAT(first_error(std::string(kGood) + "subtopic = \"a//b\"\n"),
              HasSubstr("key 'sinks[0].subtopic': subtopic 'a//b': an empty segment"));
  EXPECT_THAT(first_error(std::string(kGood) + "subtopic = \"a$\"\n"),
              HasSubstr("'$' is not allowed"));
  EXPECT_THAT(first_error(std::string(kGood) + "ca_file = \"ca.pem\"\n"),
              HasSubstr("key 'sinks[0].ca_file': only for an https:// url"));
  EXPECT_THAT(first_error(std::string(kGood) + "max_message_bytes = \"100B\"\n"),
              HasSubstr("key 'sinks[0].max_message_bytes'"));
  EXPECT_THAT(first_error(std::string(kGood) + "batch_samples = 0\n"),
              HasSubstr("key 'sinks[0].batch_samples'"));
  EXPECT_THAT(first_error(std::string(kGood) + "retry_min = \"10s\"\nretry_max = \"1s\"\n"),
              HasSubstr("must not be below retry_min"));
  EXPECT_THAT(first_error(std::string(kGood) + "colour = \"red\"\n"), HasSubstr("colour"));
}

TEST(ChannelSinkTest, TheMessageUrlJoinsBaseChannelAndSubtopic) {
  ChannelSinkOptions o;
  o.url = "https://central.example:8443/sluice//";
  o.channel = "plant";
  EXPECT_EQ(ChannelSink::message_url(o),
            "https://central.example:8443/sluice/channels/plant/messages");
  o.subtopic = "line1/press";
  EXPECT_EQ(ChannelSink::message_url(o),
            "https://central.example:8443/sluice/channels/plant/messages/line1/press");
}

}  // namespace
}  // namespace sluice::sinks::channel
