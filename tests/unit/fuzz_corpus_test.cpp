// Replays every kept fuzz input (fuzz/corpus/<target>/*) through the fuzz target's body, so a
// crash a fuzzer once found stays fixed in every test run, with or without libFuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fixtures/test_support.h"
#include "fuzz/api_targets.h"
#include "fuzz/jwt_targets.h"
#include "fuzz/mqtt_targets.h"
#include "fuzz/targets.h"

namespace sluice {
namespace {

size_t replay(const std::string& target, int (*body)(const uint8_t*, size_t)) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / target;
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(body(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++n;
  }
  return n;
}

TEST(FuzzCorpusTest, BatchCodecCorpusReplaysCleanly) {
  EXPECT_GT(replay("batch_codec", fuzz::batch_codec), 0u);
}

TEST(FuzzCorpusTest, SegmentCorpusReplaysCleanly) {
  EXPECT_GT(replay("segment", fuzz::segment), 0u);
}

TEST(FuzzCorpusTest, ConfigCorpusReplaysCleanly) { EXPECT_GT(replay("config", fuzz::config), 0u); }

TEST(FuzzCorpusTest, ApiParameterCorpusReplaysCleanly) {
  EXPECT_GT(replay("api", fuzz::api_params), 0u);
}

TEST(FuzzCorpusTest, ApiBodyCorpusReplaysCleanly) {
  EXPECT_GT(replay("api_bodies", fuzz::api_bodies), 0u);
}

TEST(FuzzCorpusTest, JwtCorpusReplaysCleanly) { EXPECT_GT(replay("jwt", fuzz::jwt), 0u); }

TEST(FuzzCorpusTest, MqttPacketCorpusReplaysCleanly) {
  EXPECT_GT(replay("mqtt", fuzz::mqtt_packets), 0u);
}

}  // namespace
}  // namespace sluice
