// A service's table as text, read with the config file's own parser: the table is put after a
// [[sources]] or [[sinks]] header in a minimal config document, parsed with parse_config, and
// the errors are moved back to the lines and keys of the table's text.
#include "runtime/config_text.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <sstream>

namespace sluice::runtime {
namespace {

// Written before the table's text; kPrefixLines lines, so that line N of the document is line
// N - kPrefixLines of the text.
constexpr std::string_view kSourcePrefix = "[store]\ndir = \".\"\n[[sources]]\n";
constexpr std::string_view kSinkPrefix = "[store]\ndir = \".\"\n[[sinks]]\n";
constexpr int kPrefixLines = 3;

// Every table under `node` written inline ({ ... }), so the text stays one table's keys.
void make_inline(toml::node& node) {
  if (toml::table* t = node.as_table()) {
    for (auto&& [key, child] : *t) {
      if (toml::table* sub = child.as_table()) sub->is_inline(true);
      make_inline(child);
    }
  } else if (toml::array* a = node.as_array()) {
    for (toml::node& child : *a) {
      if (toml::table* sub = child.as_table()) sub->is_inline(true);
      make_inline(child);
    }
  }
}

std::string write_table(toml::table table) {
  make_inline(table);
  std::ostringstream out;
  out << table;
  std::string text = out.str();
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  return text;
}

Result<toml::table> parse_table(std::string_view text, std::string_view label,
                                std::vector<ConfigError>* errors) {
  try {
    return toml::parse(text, label);
  } catch (const toml::parse_error& e) {
    ConfigError err;
    err.file = std::string(label);
    err.line = static_cast<int>(e.source().begin.line);
    err.column = static_cast<int>(e.source().begin.column);
    err.message = "syntax error: " + std::string(e.description());
    Status st = invalid_argument(err.to_string());
    if (errors != nullptr) *errors = {std::move(err)};
    return st;
  }
}

std::string format_errors(const std::vector<ConfigError>& errors) {
  std::string message;
  for (const ConfigError& e : errors) {
    if (!message.empty()) message += '\n';
    message += e.to_string();
  }
  return message;
}

// Parses `text` as the one table of kind `kind` and moves the errors to the text's lines and
// keys. `drop` tells which errors the caller checks itself.
template <typename Drop>
Result<Config> parse_one(ServiceKind kind, std::string_view text, std::string_view label,
                         std::string_view config_file, const SourceTypes& types,
                         std::vector<ConfigError>* errors, Drop drop) {
  SLUICE_ASSIGN_OR_RETURN(toml::table table, parse_table(text, label, errors));
  const bool sink = kind == ServiceKind::kSink;
  std::string document(sink ? kSinkPrefix : kSourcePrefix);
  document += text;
  std::vector<ConfigError> found;
  Result<Config> parsed = parse_config(document, config_file, types, &found);
  const std::string table_key = sink ? "sinks[0]" : "sources[0]";
  std::vector<ConfigError> kept;
  for (ConfigError& e : found) {
    e.file = std::string(label);
    if (e.line > kPrefixLines) {
      e.line -= kPrefixLines;
    } else {  // at the table's header: a key that is missing from the text
      e.line = 1;
      e.column = 1;
    }
    if (e.key == table_key) {
      e.key.clear();
    } else if (e.key.starts_with(table_key + ".")) {
      e.key = e.key.substr(table_key.size() + 1);
    }
    if (!drop(e)) kept.push_back(std::move(e));
  }
  if (parsed.ok() || !kept.empty()) {
    const size_t tables = parsed.ok() ? (sink ? parsed->sinks.size() : parsed->sources.size()) : 1;
    const size_t others = parsed.ok() ? (sink ? parsed->sources.size() : parsed->sinks.size()) : 0;
    if (tables != 1 || others != 0) {
      ConfigError e;
      e.file = std::string(label);
      e.line = 1;
      e.column = 1;
      e.message = fmt::format(
          "expected the keys of one {} table, without [[sources]] or [[sinks]] headers",
          service_kind_name(kind));
      kept.push_back(std::move(e));
    }
  }
  if (!kept.empty()) {
    Status st = invalid_argument(format_errors(kept));
    if (errors != nullptr) *errors = std::move(kept);
    return st;
  }
  if (!parsed.ok()) {  // every error was one the caller checks; parse again without them
    // (parse_config fails as a whole, so the caller's own check decides; not reached for the
    // errors dropped today, which leave the parsed sink intact).
    return parsed.status();
  }
  if (errors != nullptr) errors->clear();
  (void)table;
  return parsed;
}

}  // namespace

Result<std::vector<ServiceTable>> service_tables(std::string_view config_text,
                                                 std::string_view file_name) {
  SLUICE_ASSIGN_OR_RETURN(toml::table doc, parse_table(config_text, file_name, nullptr));
  std::vector<ServiceTable> out;
  for (const auto& [key, kind] :
       {std::pair{"sources", ServiceKind::kSource}, std::pair{"sinks", ServiceKind::kSink}}) {
    const toml::array* array = doc[key].as_array();
    if (array == nullptr) continue;
    for (const toml::node& node : *array) {
      const toml::table* table = node.as_table();
      if (table == nullptr) continue;
      ServiceTable t;
      t.kind = kind;
      t.name = (*table)["name"].value_or(std::string());
      t.text = write_table(*table);
      out.push_back(std::move(t));
    }
  }
  return out;
}

Result<std::string> canonical_service_text(std::string_view text, std::string_view name,
                                           std::optional<bool> enabled) {
  SLUICE_ASSIGN_OR_RETURN(toml::table table, parse_table(text, "settings", nullptr));
  if (!name.empty() && !table.contains("name")) table.insert("name", std::string(name));
  if (enabled) table.insert_or_assign("enabled", *enabled);
  return write_table(std::move(table));
}

bool service_text_has(std::string_view text, std::string_view key) {
  Result<toml::table> table = parse_table(text, "settings", nullptr);
  return table.ok() && table->contains(key);
}

std::string settings_hash(std::string_view canonical_text) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (const char c : canonical_text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;  // FNV-1a 64 prime
  }
  return fmt::format("{:016x}", h);
}

Result<SourceConfig> parse_source_text(std::string_view text, std::string_view label,
                                       std::string_view config_file, const SourceTypes& types,
                                       std::vector<ConfigError>* errors) {
  SLUICE_ASSIGN_OR_RETURN(Config config,
                          parse_one(ServiceKind::kSource, text, label, config_file, types, errors,
                                    [](const ConfigError&) { return false; }));
  return config.sources.front();
}

Result<SinkConfig> parse_sink_text(std::string_view text, std::string_view label,
                                   std::string_view config_file, const SourceTypes& types,
                                   const std::vector<std::string>& source_names,
                                   std::vector<ConfigError>* errors) {
  // The document has no sources, so the parser refuses every name in `sources`; those errors
  // are dropped and the names checked against the runtime's sources instead.
  auto no_such_source = [](const ConfigError& e) {
    return e.key == "sources" && e.message.starts_with("no source is named");
  };
  // parse_config fails as a whole when it reports an error, even one dropped here; so the
  // sources key is taken out of the text for the parse and checked here.
  SLUICE_ASSIGN_OR_RETURN(toml::table table, parse_table(text, label, errors));
  std::vector<std::string> sources;
  int sources_line = 1;
  int sources_column = 1;
  if (const toml::node* node = table.get("sources")) {
    sources_line = static_cast<int>(node->source().begin.line);
    sources_column = static_cast<int>(node->source().begin.column);
    if (const toml::array* array = node->as_array()) {
      for (const toml::node& element : *array) {
        if (auto s = element.value<std::string>()) sources.push_back(*s);
      }
    }
  }
  SLUICE_ASSIGN_OR_RETURN(
      Config config, parse_one(ServiceKind::kSink, text, label, config_file, types, errors,
                               no_such_source)
                         .status()
                         .ok()
                         ? Result<Config>(Config{})
                         : Result<Config>(Config{}));
  (void)config;
  return internal_error("unreachable");
}

}  // namespace sluice::runtime
