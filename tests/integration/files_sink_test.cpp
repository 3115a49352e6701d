// The first full path: simulator -> store -> files sink -> CSV files in a directory, on the real
// file system with the real clock. Every sample the store kept arrives in exactly one file
// row, across a restart; while the directory cannot be written the sink waits (WARNING) and
// loses nothing, and delivers everything once it can.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "cli/builtin_sources.h"
#include "fixtures/test_support.h"
#include "runtime/config.h"
#include "runtime/runtime.h"
#include "sinks/files/csv.h"

namespace sluice {
namespace {

using testing::eventually;

namespace fs = std::filesystem;
using runtime::Runtime;

runtime::Config config_for(const testing::TempDir& dir) {
  const std::string text = fmt::format(R"(
[store]
dir = "{0}/data"
[log]
status_interval = 0
[[sources]]
name = "sim"
type = "simulator"
rate = 2000
series = 7
[[sinks]]
name = "lake"
type = "files"
dir = "{0}/lake"
interval = "1s"
allow_short_interval = true
)",
                                       dir.path());
  auto c = runtime::parse_config(text, dir.file("sluice.toml"), cli::builtin_source_types());
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

struct Rows {
  std::vector<std::string> lines;  // without headers
  size_t files = 0;
};

Rows read_rows(const std::string& dir) {
  Rows rows;
  if (!fs::exists(dir)) return rows;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".csv") continue;
    ++rows.files;
    std::ifstream in(entry.path());
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
      if (header) {
        EXPECT_EQ(line, "timestamp,series,value,quality,unit\r");
        header = false;
        continue;
      }
      rows.lines.push_back(line);
    }
  }
  return rows;
}

uint64_t delivered(Runtime& rt) {
  auto sinks = rt.sinks();
  return sinks.empty() ? 0 : sinks[0].delivered;
}

TEST(FilesSinkTest, EverySampleArrivesInExactlyOneRowAcrossARestart) {
  testing::TempDir dir;
  const runtime::Config config = config_for(dir);
  for (int run = 0; run < 2; ++run) {
    auto rt = Runtime::open(config);
    ASSERT_TRUE(rt.ok()) << rt.status().to_string();
    ASSERT_TRUE((*rt)->start().ok());
    ASSERT_TRUE(eventually([&] { return delivered(**rt) >= 2000; }));
    ASSERT_TRUE((*rt)->stop().ok());
  }
  // A third run delivers the rest and stops once nothing is left behind.
  {
    auto rt = Runtime::open(config);
    ASSERT_TRUE(rt.ok());
    ASSERT_TRUE((*rt)->start().ok());
    ASSERT_TRUE(eventually([&] { return delivered(**rt) > 0; }));
    ASSERT_TRUE((*rt)->stop().ok());
  }
  // Everything the store holds up to the sink's cursor is in the files, once.
  store::StoreOptions so = config.store;
  auto st = store::Store::open(Env::posix(), so);
  ASSERT_TRUE(st.ok());
  const uint64_t cursor = (*st)->cursor("sim", "lake")->next_seq;
  const Rows rows = read_rows(dir.path() + "/lake");
  EXPECT_GE(rows.files, 3u);
  EXPECT_EQ(rows.lines.size(), cursor);
  std::set<std::string> unique(rows.lines.begin(), rows.lines.end());
  EXPECT_EQ(unique.size(), rows.lines.size()) << "a row was delivered twice";
  // The files hold exactly the store's samples below the cursor, each rendered as its row.
  auto reader = (*st)->open_reader("sim", 0);
  ASSERT_TRUE(reader.ok());
  std::multiset<std::string> expected;
  store::ReadItem item;
  while (expected.size() < cursor && *(*reader)->next(cursor - expected.size(), &item)) {
    for (const Sample& s : item.batch.samples) {
      std::string row;
      sinks::files::append_row(row, s, "");
      row.resize(row.size() - 1);  // getline keeps the \r, drops the \n
      expected.insert(row);
    }
  }
  ASSERT_EQ(expected.size(), cursor);
  EXPECT_EQ(std::multiset<std::string>(rows.lines.begin(), rows.lines.end()), expected);
}

TEST(FilesSinkTest, UnwritableDirectoryWaitsWithWarningThenDeliversEverything) {
  testing::TempDir dir;
  const runtime::Config config = config_for(dir);
  // The lake path is a file: nothing can be delivered.
  { std::ofstream(dir.path() + "/lake") << "in the way"; }
  auto rt = Runtime::open(config);
  ASSERT_TRUE(rt.ok());
  ASSERT_TRUE((*rt)->start().ok());
  ASSERT_TRUE(eventually([&] {
    auto s = (*rt)->sinks();
    return !s.empty() && s[0].health.state == runtime::HealthState::kWarning;
  }));
  auto s = (*rt)->sinks();
  EXPECT_THAT(s[0].health.reason, ::testing::HasSubstr("failed"));
  EXPECT_EQ(s[0].delivered, 0u);
  EXPECT_GT(s[0].backlog, 0u);
  // The directory becomes writable: the waiting data is delivered.
  fs::remove(dir.path() + "/lake");
  ASSERT_TRUE(eventually([&] { return delivered(**rt) >= 3000; }));
  ASSERT_TRUE((*rt)->stop().ok());
  const Rows rows = read_rows(dir.path() + "/lake");
  auto st = store::Store::open(Env::posix(), config.store);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(rows.lines.size(), (*st)->cursor("sim", "lake")->next_seq);
}

}  // namespace
}  // namespace sluice
