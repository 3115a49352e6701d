// The sluice binary as an operator uses it: validate a good and a broken config, print the
// version, and run the gateway, stop it with SIGTERM and find the samples in the store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "fixtures/test_support.h"
#include "sluice/version.h"

namespace sluice {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::run_command;
using testing::sluice_binary;
using testing::source_dir;
using testing::TempDir;

std::string quote(const std::string& s) { return "'" + s + "'"; }

// The first group of the last match of `re` in `text`, or "".
std::string last_match(const std::string& text, const std::regex& re) {
  std::string found;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    found = (*it)[1];
  }
  return found;
}

// Runs `sluice run` on tmp/sluice.toml in the background, waits (bounded) until it has logged a
// status line, sends SIGTERM and returns what it printed followed by "exit=<status>".
testing::CommandResult run_until_status_line_then_sigterm(const TempDir& tmp) {
  const std::string log = tmp.file("run.log");
  std::ofstream(tmp.file("run.sh"))
      << sluice_binary() << " run --config " << quote(tmp.file("sluice.toml")) << " > "
      << quote(log) << " 2>&1 &\n"
      << "pid=$!\n"
      << "for i in $(seq 300); do grep -q 'status: in' " << quote(log)
      << " && break; sleep 0.1; done\n"
      << "kill -TERM $pid\n"
      << "wait $pid\n"
      << "status=$?\n"
      << "cat " << quote(log) << "\n"
      << "echo \"exit=$status\"\n";
  return run_command("bash " + quote(tmp.file("run.sh")));
}

TEST(CliTest, ValidateAcceptsTheDemoConfig) {
  const std::string demo = source_dir() + "/examples/demo.toml";
  testing::CommandResult r = run_command(sluice_binary() + " validate " + quote(demo));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr(demo + ": ok"), HasSubstr("sim [simulator]"),
                              HasSubstr("100 series")));
}

TEST(CliTest, ValidateReportsEveryErrorWithFileLineAndKeyAndExits2) {
  TempDir tmp;
  const std::string file = tmp.file("broken.toml");
  std::ofstream(file) << "[store]\n"
                         "dir = \"d\"\n"
                         "sync = \"sometimes\"\n"
                         "[[sources]]\n"
                         "name = \"s\"\n"
                         "type = \"simulator\"\n"
                         "rate = -5\n";
  testing::CommandResult r = run_command(sluice_binary() + " validate " + quote(file));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(file + ":3:8: key 'store.sync'"));
  EXPECT_THAT(r.output, HasSubstr(file + ":7:8: key 'sources[0].rate': expected a positive"));
  EXPECT_THAT(r.output, HasSubstr("2 errors"));
}

TEST(CliTest, RunWithABrokenConfigStartsNothingAndExits2) {
  TempDir tmp;
  const std::string file = tmp.file("broken.toml");
  std::ofstream(file) << "[store]\ndir = \"d\"\nsegment_size = \"big\"\n";
  testing::CommandResult r = run_command(sluice_binary() + " run --config " + quote(file));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(file + ":3:16: key 'store.segment_size'"));
  EXPECT_THAT(r.output, Not(HasSubstr("running")));
}

TEST(CliTest, ValidateOfAMissingFileSaysSoAndExits2) {
  testing::CommandResult r = run_command(sluice_binary() + " validate /nonexistent/x.toml");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("/nonexistent/x.toml"));
}

TEST(CliTest, BadArgumentsExit2) {
  EXPECT_EQ(run_command(sluice_binary() + " frobnicate").exit_code, 2);
  EXPECT_EQ(run_command(sluice_binary() + " run").exit_code, 2);  // --config is required
  EXPECT_EQ(run_command(sluice_binary() + " --log-level loud version").exit_code, 2);
  EXPECT_EQ(run_command(sluice_binary() + " --help").exit_code, 0);
}

TEST(CliTest, VersionPrintsTheVersion) {
  testing::CommandResult r = run_command(sluice_binary() + " version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(std::string("sluice ") + kVersion));
}

TEST(CliTest, RunStopsGracefullyOnSigtermAndTheStoreHoldsTheSamples) {
  TempDir tmp;
  std::ofstream(tmp.file("sluice.toml")) << "[store]\n"
                                            "dir = \"data\"\n"
                                            "[log]\n"
                                            "status_interval = \"1s\"\n"
                                            "[[sources]]\n"
                                            "name = \"sim\"\n"
                                            "type = \"simulator\"\n"
                                            "rate = 2000\n"
                                            "series = 20\n";
  testing::CommandResult r = run_until_status_line_then_sigterm(tmp);
  EXPECT_THAT(r.output, HasSubstr("exit=0"));
  EXPECT_THAT(r.output, HasSubstr("running"));
  EXPECT_THAT(r.output, HasSubstr("received SIGTERM"));
  EXPECT_THAT(r.output, HasSubstr("store closed"));

  // The last status line, written after the sources stopped, counts every acknowledged sample;
  // the store holds exactly those.
  const std::string total = last_match(r.output, std::regex("([0-9]+) samples total"));
  ASSERT_FALSE(total.empty()) << r.output;
  EXPECT_GT(std::stoull(total), 0u);
  testing::CommandResult inspect =
      run_command(sluice_binary() + " store inspect " + quote(tmp.file("data")));
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_THAT(inspect.output, HasSubstr("stream 'sim'"));
  EXPECT_THAT(inspect.output, HasSubstr(" " + total + " samples")) << "acknowledged: " << total;

  testing::CommandResult fsck =
      run_command(sluice_binary() + " store fsck " + quote(tmp.file("data")));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

TEST(CliTest, FsckExitsOneOnDamageAndZeroOnceRepaired) {
  TempDir tmp;
  std::ofstream(tmp.file("sluice.toml")) << "[store]\n"
                                            "dir = \"data\"\n"
                                            "[log]\n"
                                            "status_interval = \"1s\"\n"
                                            "[[sources]]\n"
                                            "name = \"sim\"\n"
                                            "type = \"simulator\"\n"
                                            "rate = 5000\n"
                                            "batch_size = 100\n";
  ASSERT_THAT(run_until_status_line_then_sigterm(tmp).output, HasSubstr("exit=0"));
  const std::string segment = tmp.file("data/streams/sim/00000000000000000000.seg");
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << segment;
    f.seekp(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(f.tellp());
    ASSERT_GT(size, 1000);
    f.seekp(size / 2);
    f.write("\xff\xff\xff\xff", 4);  // damage a record in the middle
  }
  const std::string fsck = sluice_binary() + " store fsck " + quote(tmp.file("data"));
  testing::CommandResult damaged = run_command(fsck);
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_THAT(damaged.output, HasSubstr("problem"));
  testing::CommandResult repaired = run_command(fsck + " --repair");
  EXPECT_EQ(repaired.exit_code, 0) << repaired.output;
  testing::CommandResult clean = run_command(fsck);
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
}

TEST(CliTest, StoreCommandsOnAMissingDirectoryExit2) {
  EXPECT_EQ(run_command(sluice_binary() + " store inspect /nonexistent/store").exit_code, 2);
  EXPECT_EQ(run_command(sluice_binary() + " store fsck /nonexistent/store").exit_code, 2);
}

}  // namespace
}  // namespace sluice
