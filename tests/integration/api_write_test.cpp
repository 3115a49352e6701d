// POST /api/v1/write: custom collectors' samples go through the link source into the write
// session's store stream, answered only once durable; bad samples are 400s that name the sample;
// roles and tokens as everywhere in the API.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures/api_harness.h"
#include "fixtures/http_client.h"
#include "fixtures/test_support.h"

namespace sluice {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

std::string config(bool with_link, std::string_view link_extra = "") {
  std::string text = R"(
[instance]
name = "edge-1"
[store]
dir = "data"
)";
  if (with_link) {
    text += fmt::format(R"(
[[sources]]
name = "link"
type = "link"
listen = "127.0.0.1:{}"
{}
)",
                        testing::free_port(), link_extra);
  }
  return text;
}

class ApiWriteTest : public ::testing::Test {
 protected:
  void start(bool with_link, std::string_view link_extra = "") {
    ASSERT_TRUE(harness_.start(dir_, config(with_link, link_extra), {.auth = true}));
    ASSERT_TRUE(
        harness_.auth()->users().create("otto", "operator password 1", auth::Role::kOperator).ok());
    ASSERT_TRUE(
        harness_.auth()->users().create("vera", "viewer password 12", auth::Role::kViewer).ok());
    operator_ = login("otto", "operator password 1");
    viewer_ = login("vera", "viewer password 12");
    if (with_link) {
      // The link source runs (its own thread starts it).
      ASSERT_TRUE(testing::eventually([&] {
        for (const auto& s : harness_.runtime()->sources()) {
          if (s.name == "link" && s.mode == runtime::Mode::kRunning) return true;
        }
        return false;
      }));
    }
  }
  std::string login(const std::string& user, const std::string& password) {
    testing::HttpClient c;
    const auto r = c.request("POST", harness_.url("/api/v1/login"),
                             json{{"user", user}, {"password", password}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["token"].get<std::string>() : std::string();
  }
  testing::HttpClient::Response write(const json& body, const std::string& token) {
    return client_.request("POST", harness_.url("/api/v1/write"), body.dump(),
                           {{"Authorization", "Bearer " + token}});
  }
  // Every sample of a store stream, in sequence order.
  std::vector<Sample> stored(const std::string& stream) {
    std::vector<Sample> out;
    auto reader = harness_.runtime()->store().open_reader(stream, 0);
    EXPECT_TRUE(reader.ok()) << reader.status().to_string();
    if (!reader.ok()) return out;
    store::ReadItem item;
    while (true) {
      auto got = (*reader)->next(1000, &item);
      if (!got.ok() || !*got) break;
      for (auto& s : item.batch.samples) out.push_back(s);
    }
    return out;
  }

  testing::TempDir dir_;
  testing::ApiHarness harness_;
  testing::HttpClient client_;
  std::string operator_;
  std::string viewer_;
};

TEST_F(ApiWriteTest, SamplesAreDurableInTheWriteSessionWhenTheAnswerComes) {
  start(true);
  const json body = {
      {"session", "line-3"},
      {"samples",
       {{{"series", "Line3.Speed"}, {"ts", 1'700'000'000'000'000'000}, {"value", 12.5}},
        {{"series", "Line3.Count"}, {"ts", "2023-11-14T22:13:21Z"}, {"value", 7}},
        {{"series", "Line3.Running"},
         {"ts", 1'700'000'002'000'000'000},
         {"value", true},
         {"quality", 0x40000000u}},
        {{"series", "Line3.Batch"}, {"ts", 1'700'000'003'000'000'000}, {"value", "B-17"}}}}};
  const auto r = write(body, operator_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"samples", 4}, {"stream", "write.line-3"}}));
  // Readable (durable) as soon as the answer came.
  const std::vector<Sample> samples = stored("write.line-3");
  ASSERT_EQ(samples.size(), 4u);
  std::map<std::string, Sample> by_series;
  for (const Sample& s : samples) by_series[s.series] = s;
  EXPECT_EQ(std::get<double>(by_series["Line3.Speed"].value), 12.5);
  EXPECT_EQ(std::get<int64_t>(by_series["Line3.Count"].value), 7);
  EXPECT_EQ(by_series["Line3.Count"].ts, 1'700'000'001'000'000'000);
  EXPECT_EQ(std::get<bool>(by_series["Line3.Running"].value), true);
  EXPECT_EQ(by_series["Line3.Running"].quality, 0x40000000u);
  EXPECT_EQ(std::get<std::string>(by_series["Line3.Batch"].value), "B-17");
  // The session is a stream of the link source, with this instance as collector and hop.
  const json meta = json::parse(harness_.runtime()->store().stream_meta("write.line-3").value());
  EXPECT_EQ(meta["service"], "link");
  EXPECT_EQ(meta["hops"], json({"edge-1"}));
  EXPECT_EQ(meta["session"]["collector"], "edge-1");
  // A second write goes on in the same stream.
  ASSERT_EQ(
      write({{"session", "line-3"},
             {"samples",
              {{{"series", "Line3.Speed"}, {"ts", 1'700'000'004'000'000'000}, {"value", 13.0}}}}},
            operator_)
          .status,
      200);
  EXPECT_EQ(stored("write.line-3").size(), 5u);
}

TEST_F(ApiWriteTest, BadBodiesAreRefusedNamingTheField) {
  start(true);
  struct Case {
    std::string body;
    std::string field;
  };
  const Case cases[] = {
      {"not json", ""},
      {R"({"samples": []})", "samples"},
      {R"({"samples": [{"ts": 1, "value": 1}]})", "samples[0].series"},
      {R"({"samples": [{"series": "a", "ts": 1, "value": 1}, {"series": "b", "value": 1}]})",
       "samples[1].ts"},
      {R"({"samples": [{"series": "a", "ts": "yesterday", "value": 1}]})", "samples[0].ts"},
      {R"({"samples": [{"series": "a", "ts": 1, "value": [1]}]})", "samples[0].value"},
      {R"({"samples": [{"series": "a", "ts": 1, "value": 1, "quality": -1}]})",
       "samples[0].quality"},
      {R"({"session": "no spaces", "samples": [{"series": "a", "ts": 1, "value": 1}]})", "session"},
      {R"({"session": 3, "samples": [{"series": "a", "ts": 1, "value": 1}]})", "session"},
  };
  for (const Case& c : cases) {
    const auto r = client_.request("POST", harness_.url("/api/v1/write"), c.body,
                                   {{"Authorization", "Bearer " + operator_}});
    EXPECT_EQ(r.status, 400) << c.body << " → " << r.body;
    if (!c.field.empty()) {
      EXPECT_EQ(json::parse(r.body)["error"]["field"], c.field) << c.body << " → " << r.body;
    }
  }
  // Nothing of them was stored.
  EXPECT_FALSE(harness_.runtime()->store().has_stream("write.http"));
  // An unknown link source is a 404.
  const auto r = write(
      {{"source", "nope"}, {"samples", {{{"series", "a"}, {"ts", 1}, {"value", 1}}}}}, operator_);
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(ApiWriteTest, WritingNeedsAnOperatorToken) {
  start(true);
  const json body = {{"samples", {{{"series", "a"}, {"ts", 1}, {"value", 1}}}}};
  EXPECT_EQ(client_.request("POST", harness_.url("/api/v1/write"), body.dump()).status, 401);
  EXPECT_EQ(write(body, "slu_not-a-real-token").status, 401);
  EXPECT_EQ(write(body, viewer_).status, 403);
  EXPECT_EQ(write(body, operator_).status, 200);
}

TEST_F(ApiWriteTest, AnIdleSessionClosesAndNoDataMarksWhereLoggingStopped) {
  // The link source's session defaults apply to the sessions written over HTTP.
  start(true, "inactive_timeout = \"1s\"\nwrite_nodata_on_close = true\n");
  const json body = {{"session", "oven"},
                     {"samples",
                      {{{"series", "Oven.Temp"}, {"ts", 1'000}, {"value", 180.5}},
                       {{"series", "Oven.Door"}, {"ts", 2'000}, {"value", false}}}}};
  ASSERT_EQ(write(body, operator_).status, 200);
  std::vector<Sample> samples;
  ASSERT_TRUE(testing::eventually([&] {
    samples = stored("write.oven");
    return samples.size() == 4;
  })) << samples.size()
      << " samples";
  std::map<std::string, std::vector<Sample>> by_series;
  for (const Sample& s : samples) by_series[s.series].push_back(s);
  ASSERT_EQ(by_series["Oven.Temp"].size(), 2u);
  ASSERT_EQ(by_series["Oven.Door"].size(), 2u);
  // Just after each series' last sample, a Bad_NoData mark.
  EXPECT_EQ(by_series["Oven.Temp"][1].ts, 1'001);
  EXPECT_EQ(by_series["Oven.Temp"][1].quality, quality::kBadNoData);
  EXPECT_EQ(by_series["Oven.Door"][1].ts, 2'001);
  EXPECT_EQ(by_series["Oven.Door"][1].quality, quality::kBadNoData);
  // Closed once: no second mark while it stays idle; new input opens it again.
  const json meta = json::parse(harness_.runtime()->store().stream_meta("write.oven").value());
  EXPECT_EQ(meta["session"]["settings"]["inactive_timeout_ms"], 1000);
  ASSERT_EQ(write({{"session", "oven"},
                   {"samples", {{{"series", "Oven.Temp"}, {"ts", 5'000}, {"value", 181.0}}}}},
                  operator_)
                .status,
            200);
  ASSERT_TRUE(testing::eventually([&] { return stored("write.oven").size() == 6; }));
  EXPECT_EQ(stored("write.oven").back().quality, quality::kBadNoData);
}

TEST_F(ApiWriteTest, WithoutALinkSourceTheAnswerSaysWhatToConfigure) {
  start(false);
  const auto r = write({{"samples", {{{"series", "a"}, {"ts", 1}, {"value", 1}}}}}, operator_);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("type = \\\"link\\\""));
}

}  // namespace
}  // namespace sluice
