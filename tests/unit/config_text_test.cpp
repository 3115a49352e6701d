// A service's table as text (runtime/config_text.h): the canonical text does not change with
// comments or layout, only with meaning; a table text is parsed by the config parser with its
// errors at the text's own lines and keys; a sink's `sources` is checked against the sources
// that exist.
#include "runtime/config_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/builtin_sources.h"

namespace sluice::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr std::string_view kFile = R"(
[store]
dir = "data"
[[sources]]
name = "line1"   # the first line
type = "simulator"
rate = 5
[[sinks]]
name = "lake"
type = "files"
dir = "lake"
)";

TEST(ConfigTextTest, TablesOfAFileComeOutInOrderAsCanonicalText) {
  auto tables = service_tables(kFile, "/etc/sluice/plant.toml");
  ASSERT_TRUE(tables.ok()) << tables.status().to_string();
  ASSERT_EQ(tables->size(), 2u);
  EXPECT_EQ((*tables)[0].kind, ServiceKind::kSource);
  EXPECT_EQ((*tables)[0].name, "line1");
  EXPECT_THAT((*tables)[0].text, ::testing::Not(HasSubstr("first line"))) << "comments dropped";
  EXPECT_EQ((*tables)[1].kind, ServiceKind::kSink);
  EXPECT_EQ((*tables)[1].name, "lake");
  EXPECT_FALSE(service_tables("[[sources]\n", "x.toml").ok());
}

TEST(ConfigTextTest, TheHashChangesWithTheMeaningNotWithCommentsOrLayout) {
  auto a = canonical_service_text("name = \"a\"\ntype = \"simulator\"\nrate = 5\n");
  auto b =
      canonical_service_text("# comment\nrate   = 5 # five\n\ntype = \"simulator\"\nname = \"a\"");
  auto c = canonical_service_text("name = \"a\"\ntype = \"simulator\"\nrate = 6\n");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(settings_hash(*a), settings_hash(*b));
  EXPECT_NE(settings_hash(*a), settings_hash(*c));
  EXPECT_EQ(settings_hash(*a).size(), 16u);
  // The name is added when missing; enabled is set.
  auto named = canonical_service_text("rate = 5", "a", false);
  ASSERT_TRUE(named.ok());
  EXPECT_THAT(*named, AllOf(HasSubstr("name = 'a'"), HasSubstr("enabled = false")));
}

TEST(ConfigTextTest, ErrorsNameTheLineAndKeyOfTheText) {
  const SourceTypes types = cli::builtin_source_types();
  std::vector<ConfigError> errors;
  auto bad = parse_source_text("name = \"s\"\ntype = \"simulator\"\n\nrate = -5\n",
                               "settings of source 's'", "/etc/sluice/plant.toml", types, &errors);
  ASSERT_FALSE(bad.ok());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 4);
  EXPECT_EQ(errors[0].key, "rate");
  EXPECT_EQ(errors[0].file, "settings of source 's'");
  EXPECT_THAT(bad.status().message(), HasSubstr("settings of source 's':4:"));

  auto syntax = parse_source_text("name = \"s\"\ntype = ", "t", "/x.toml", types, &errors);
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_THAT(syntax.status().message(), HasSubstr("syntax error"));

  auto good = parse_source_text("name = \"s\"\ntype = \"simulator\"\nrate = 5\nenabled = false",
                                "t", "/x.toml", types);
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(good->name, "s");
  EXPECT_FALSE(good->enabled);

  // One table only: another service's header in the text is refused.
  auto two = parse_source_text(
      "name = \"s\"\ntype = \"simulator\"\n[[sources]]\nname = \"t\"\n"
      "type = \"simulator\"",
      "t", "/x.toml", types);
  EXPECT_FALSE(two.ok());
}

TEST(ConfigTextTest, ASinksSourcesAreCheckedAgainstTheSourcesThatExist) {
  const SourceTypes types = cli::builtin_source_types();
  const std::string text =
      "name = \"lake\"\ntype = \"files\"\ndir = \"lake\"\nsources = [\"line1\"]";
  auto ok = parse_sink_text(text, "t", "/etc/sluice/plant.toml", types, {"line1", "line2"});
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->sources, std::vector<std::string>{"line1"});
  EXPECT_EQ(ok->settings->summary().find("/etc/sluice/lake") != std::string::npos, true)
      << "a relative dir is taken from the config file's directory: " << ok->settings->summary();
  auto missing = parse_sink_text(text, "t", "/x.toml", types, {"line2"});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(),
              AllOf(HasSubstr("t:4:"), HasSubstr("key 'sources'"), HasSubstr("'line1'")));
}

// A source type whose table has an array of sub-tables ([[sources.groups]] in a file).
class GroupedSettings final : public SourceSettings {
 public:
  explicit GroupedSettings(std::vector<int64_t> sizes) : sizes_(std::move(sizes)) {}
  std::string summary() const override {
    std::string out;
    for (int64_t n : sizes_) out += std::to_string(n) + ";";
    return out;
  }
  Result<std::unique_ptr<Source>> create(const std::string&) const override {
    return internal_error("not built in this test");
  }

 private:
  std::vector<int64_t> sizes_;
};

SourceTypes grouped_types() {
  SourceTypes types = cli::builtin_source_types();
  types.add({"grouped", [](ConfigTable& t) -> std::shared_ptr<const SourceSettings> {
               std::vector<int64_t> sizes;
               if (auto groups = t.tables("groups")) {
                 for (ConfigTable& g : *groups) sizes.push_back(g.integer("n", 0, "a number"));
               }
               return std::make_shared<GroupedSettings>(std::move(sizes));
             }});
  return types;
}

TEST(ConfigTextTest, SubTablesOfAFileTableSurviveTheCanonicalTextAndAreParsedFromIt) {
  const SourceTypes types = grouped_types();
  constexpr std::string_view kGrouped = R"(
[store]
dir = "data"
[[sources]]
name = "g"
type = "grouped"
[[sources.groups]]
n = 1
[[sources.groups]]
n = 2
)";
  auto tables = service_tables(kGrouped, "/x.toml");
  ASSERT_TRUE(tables.ok());
  ASSERT_EQ(tables->size(), 1u);
  EXPECT_FALSE(service_text_has_headers((*tables)[0].text)) << (*tables)[0].text;
  auto from_file = parse_source_text((*tables)[0].text, "t", "/x.toml", types);
  ASSERT_TRUE(from_file.ok()) << from_file.status().to_string();
  EXPECT_EQ(from_file->settings->summary(), "1;2;");
  // The same table written with headers of its own, as an API client may send it.
  const std::string with_headers =
      "name = \"g\"\ntype = \"grouped\"\n[[groups]]\nn = 3\n[[groups]]\nn = \"x\"\n";
  EXPECT_TRUE(service_text_has_headers(with_headers));
  auto bad = parse_source_text(with_headers, "t", "/x.toml", types);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("key 'groups[1].n'"));
  auto good = parse_source_text("name = \"g\"\ntype = \"grouped\"\n[[groups]]\nn = 3\n", "t",
                                "/x.toml", types);
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(good->settings->summary(), "3;");
}

}  // namespace
}  // namespace sluice::runtime
