// Replays the payload-parser fuzz corpus (fuzz/corpus/formats/) through the fuzz body, and runs
// a short deterministic mutation loop over it, so parser crashes are caught without libFuzzer.
// The body lives in fuzz/formats_targets.cpp, built into the test support library.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "fixtures/test_support.h"
#include "fuzz/formats_targets.h"

namespace sluice {
namespace {

std::vector<std::string> corpus() {
  const auto dir = std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / "formats";
  std::vector<std::string> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

int run(const std::string& bytes) {
  return fuzz::formats(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(FormatsFuzzCorpusTest, CorpusReplaysCleanly) {
  const auto inputs = corpus();
  EXPECT_GE(inputs.size(), 7u);
  for (const auto& in : inputs) EXPECT_EQ(run(in), 0);
}

TEST(FormatsFuzzCorpusTest, MutatedCorpusInputsNeverBreakTheParserContract) {
  std::mt19937 rng(12345);
  const auto inputs = corpus();
  for (int round = 0; round < 3000; ++round) {
    std::string in = inputs[rng() % inputs.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && in.size() > 1; ++e) {
      const size_t at = 1 + rng() % (in.size() - 1);
      switch (rng() % 4) {
        case 0: in[at] = static_cast<char>(rng()); break;
        case 1: in.erase(at, 1 + rng() % 8); break;
        case 2: in.insert(at, in.substr(1 + rng() % (in.size() - 1), 1 + rng() % 16)); break;
        default: in.insert(at, 1, "{}[]\",:\\ \n#=e.-"[rng() % 16]); break;
      }
    }
    ASSERT_EQ(run(in), 0);  // the body aborts on a contract breach
  }
}

}  // namespace
}  // namespace sluice
