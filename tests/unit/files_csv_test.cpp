// The files sink's CSV: RFC 4180 quoting, timestamps, values, names, atomic delivery.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/mem_env.h"
#include "sinks/files/csv.h"

namespace sluice::sinks::files {
namespace {

TEST(FilesCsvTest, TimestampsAreIsoUtcWithMillisecondsFlooredTowardThePast) {
  EXPECT_EQ(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_ms(1'700'000'000'123'999'999), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(iso8601_ms(-1), "1969-12-31T23:59:59.999Z");
}

TEST(FilesCsvTest, FieldsWithSeparatorsQuotesOrNewlinesAreQuotedAndQuotesDoubled) {
  std::string out;
  append_field(out, "plain");
  EXPECT_EQ(out, "plain");
  out.clear();
  append_field(out, "a,b");
  EXPECT_EQ(out, "\"a,b\"");
  out.clear();
  append_field(out, "say \"hi\"");
  EXPECT_EQ(out, "\"say \"\"hi\"\"\"");
  out.clear();
  append_field(out, "two\r\nlines");
  EXPECT_EQ(out, "\"two\r\nlines\"");
}

TEST(FilesCsvTest, ValuesKeepTheirTypeAndFullPrecision) {
  EXPECT_EQ(value_text(0.1), "0.1");
  EXPECT_EQ(value_text(23.45), "23.45");
  EXPECT_EQ(value_text(std::nan("")), "NaN");
  EXPECT_EQ(value_text(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(value_text(int64_t{-9223372036854775807 - 1}), "-9223372036854775808");
  EXPECT_EQ(value_text(true), "true");
  EXPECT_EQ(value_text(std::string("open, closed")), "open, closed");
  // Shortest round trip: parsing the text gives the same double back.
  const double d = 1.0 / 3.0;
  EXPECT_EQ(std::stod(value_text(d)), d);
}

TEST(FilesCsvTest, RowHasTimestampSeriesValueQualityUnit) {
  std::string out;
  Sample s{"Channel1.Device1.Tag1", 1'700'000'000'000'000'000, 21.5, quality::kBad};
  append_row(out, s, "°C");
  EXPECT_EQ(out, "2023-11-14T22:13:20.000Z,Channel1.Device1.Tag1,21.5,Bad,°C\r\n");
}

TEST(FilesCsvTest, FileNamesCarryConnectorAndTimeRangeAndAreSafe) {
  const std::string name =
      batch_file_name("kep ware/1", 1'700'000'000'000'000'000, 1'700'000'600'000'000'000, "s1-42");
  EXPECT_EQ(name, "kep_ware_1_20231114T221320.000Z_20231114T222320.000Z_s1-42.csv");
  EXPECT_EQ(name.find('/'), std::string::npos);
}

TEST(FilesCsvTest, DeliveredFileIsWholeOrAbsentAfterACrash) {
  for (uint64_t ops = 0;; ++ops) {
    MemEnv env;
    ASSERT_TRUE(env.create_dirs("/lake").ok());
    const std::string content = std::string(kCsvHeader) + "x,y,1,Good,\r\n";
    env.crash_after(ops);
    const Status st = deliver_file(env, "/lake", "a.csv", content);
    const bool crashed = env.crashed();
    env.restart();
    auto got = env.durable_content("/lake/a.csv");
    if (got.ok()) {
      EXPECT_EQ(*got, content) << "a half file after a crash at op " << ops;
    }
    if (!crashed) {
      EXPECT_TRUE(st.ok());
      EXPECT_TRUE(got.ok()) << "delivered but not durable";
      break;
    }
  }
}

TEST(FilesCsvTest, SecondDeliveryOfTheSameNameIsRefusedNotOverwritten) {
  MemEnv env;
  ASSERT_TRUE(deliver_file(env, "/lake", "a.csv", "first").ok());
  EXPECT_EQ(deliver_file(env, "/lake", "a.csv", "second").code(), Code::kAlreadyExists);
  EXPECT_EQ(*env.durable_content("/lake/a.csv"), "first");
}

}  // namespace
}  // namespace sluice::sinks::files
