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

// Whether the table has sub-tables written with a [header] or [[header]] of their own.
bool has_headers(const toml::table& table) {
  for (auto&& [key, child] : table) {
    if (const toml::table* sub = child.as_table(); sub != nullptr && !sub->is_inline()) return true;
    if (const toml::array* array = child.as_array()) {
      for (const toml::node& element : *array) {
        const toml::table* sub = element.as_table();
        if (sub != nullptr && !sub->is_inline()) return true;
      }
    }
  }
  return false;
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

// Stands for a source that exists in the runtime, so that the parser can check a sink's
// `sources` against the runtime's sources. Never built.
constexpr std::string_view kExistingSourceType = "sluice-existing-source";

class ExistingSourceSettings final : public SourceSettings {
 public:
  std::string summary() const override { return "an existing source"; }
  Result<std::unique_ptr<Source>> create(const std::string& name) const override {
    return internal_error("source '" + name + "' stands for an existing one; not built");
  }
};

// Parses `text` as the one table of kind `kind` and moves the errors to the text's lines and
// keys. For a sink, the runtime's `source_names` are declared after the table.
Result<Config> parse_one(ServiceKind kind, std::string_view text, std::string_view label,
                         std::string_view config_file, const SourceTypes& types,
                         const std::vector<std::string>& source_names,
                         std::vector<ConfigError>* errors) {
  // Syntax first, on the text alone, so its line numbers are the text's own.
  SLUICE_ASSIGN_OR_RETURN(toml::table table, parse_table(text, label, errors));
  const bool sink = kind == ServiceKind::kSink;
  std::string document(sink ? kSinkPrefix : kSourcePrefix);
  std::string shown_label(label);
  if (has_headers(table)) {
    // [sub] or [[sub]] headers in the text would leave the service's table in the document;
    // the same table with inline sub-tables stays in it (errors then count lines in that form).
    document += write_table(table);
    shown_label += " (written with inline tables)";
  } else {
    document += text;
  }
  SourceTypes with_existing = types;
  if (sink) {
    with_existing.add({std::string(kExistingSourceType),
                       [](ConfigTable&) -> std::shared_ptr<const SourceSettings> {
                         return std::make_shared<ExistingSourceSettings>();
                       }});
    for (const std::string& name : source_names) {
      document +=
          fmt::format("\n[[sources]]\nname = \"{}\"\ntype = \"{}\"\n", name, kExistingSourceType);
    }
  }
  std::vector<ConfigError> found;
  Result<Config> parsed = parse_config(document, config_file, with_existing, &found);
  const std::string table_key = sink ? "sinks[0]" : "sources[0]";
  for (ConfigError& e : found) {
    e.file = shown_label;
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
  }
  if (parsed.ok()) {
    const size_t tables = sink ? parsed->sinks.size() : parsed->sources.size();
    const size_t others =
        sink ? parsed->sources.size() - source_names.size() : parsed->sinks.size();
    if (tables != 1 || others != 0) {
      ConfigError e;
      e.file = std::string(label);
      e.line = 1;
      e.column = 1;
      e.message =
          fmt::format("expected the keys of one {} table, without [[sources]] or [[sinks]] headers",
                      service_kind_name(kind));
      found.push_back(std::move(e));
    }
  }
  if (!found.empty()) {
    Status st = invalid_argument(format_errors(found));
    if (errors != nullptr) *errors = std::move(found);
    return st;
  }
  if (errors != nullptr) errors->clear();
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

bool service_text_has_headers(std::string_view text) {
  Result<toml::table> table = parse_table(text, "settings", nullptr);
  return table.ok() && has_headers(*table);
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
  SLUICE_ASSIGN_OR_RETURN(
      Config config, parse_one(ServiceKind::kSource, text, label, config_file, types, {}, errors));
  return config.sources.front();
}

Result<SinkConfig> parse_sink_text(std::string_view text, std::string_view label,
                                   std::string_view config_file, const SourceTypes& types,
                                   const std::vector<std::string>& source_names,
                                   std::vector<ConfigError>* errors) {
  SLUICE_ASSIGN_OR_RETURN(Config config, parse_one(ServiceKind::kSink, text, label, config_file,
                                                   types, source_names, errors));
  return config.sinks.front();
}

}  // namespace sluice::runtime

// ---- set_table_key (the control dispatcher's configure step) -------------------------------

namespace sluice::runtime {

Result<std::string> set_table_key(std::string_view toml_text, std::string_view key,
                                  std::string_view toml_value) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  if (!bare) {
    return invalid_argument(fmt::format(
        "'{}' is not a top-level key: only letters, digits, '_' and '-' (a sub-table's key "
        "cannot be set this way)",
        key));
  }
  SLUICE_ASSIGN_OR_RETURN(toml::table table, parse_table(toml_text, "settings", nullptr));
  // The value is parsed as the only key of a document of its own; anything else in the text
  // (a newline and a second key, a header) makes that document more than one key.
  toml::table holder;
  try {
    const std::string document = "v = " + std::string(toml_value) + "\n";
    holder = toml::parse(std::string_view(document), std::string_view("value"));
  } catch (const toml::parse_error& e) {
    return invalid_argument(fmt::format("'{}' is not a TOML value (e.g. 2, \"500ms\", true): {}",
                                        toml_value, e.description()));
  }
  if (holder.size() != 1 || !holder.contains("v")) {
    return invalid_argument(
        fmt::format("'{}' is not one TOML value (e.g. 2, \"500ms\", true)", toml_value));
  }
  holder["v"].node()->visit(
      [&](const auto& node) { table.insert_or_assign(std::string(key), node); });
  return write_table(std::move(table));
}

}  // namespace sluice::runtime
