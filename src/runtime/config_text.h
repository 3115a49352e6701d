// One service's table of the config file as text: what the state database keeps for services
// changed at run time (runtime/state_db.h). A table is stored as its TOML text and read back by
// the same parser as the config file (parse_config), so a service from the database is checked
// and built exactly like one from the file, and its errors name the line and key in that text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/config.h"
#include "runtime/state_db.h"

namespace sluice::runtime {

// One [[sources]] or [[sinks]] table of a config file.
struct ServiceTable {
  ServiceKind kind = ServiceKind::kSource;
  std::string name;
  std::string text;  // canonical TOML (see canonical_service_text)
};

// The [[sources]] and [[sinks]] tables of a config file's text, in file order. Fails only if the
// text is not TOML.
Result<std::vector<ServiceTable>> service_tables(std::string_view config_text,
                                                 std::string_view file_name);

// The table's text as toml++ writes it: comments and layout dropped, keys sorted, sub-tables
// inline. Two texts that mean the same table give the same canonical text, so a hash of it
// changes only when the table's meaning does. `name`, if not empty, is written when the text
// has no name key; `enabled`, if set, replaces (or adds) the enabled key.
Result<std::string> canonical_service_text(std::string_view text, std::string_view name = {},
                                           std::optional<bool> enabled = std::nullopt);

// Whether the table text sets `key` (at its top level). False if it is not TOML.
bool service_text_has(std::string_view text, std::string_view key);

// Whether the table text has [sub] or [[sub]] headers (keys after them belong to the sub-table).
bool service_text_has_headers(std::string_view text);

// A stable hash of a table's canonical text (16 hex digits, FNV-1a 64): the state database's
// seed_hash. Not a security measure; it tells whether the file's table changed.
std::string settings_hash(std::string_view canonical_text);

// Parses one service's table text with the config parser. `config_file` is the config file's
// path: relative paths are taken from its directory, as in the file. `label` names the text in
// errors, e.g. "settings of sink 'lake'"; each error reads "<label>:LINE:COL: key 'KEY': ..."
// with LINE counted in `text`. A sink's `sources` must name one of `source_names`.
Result<SourceConfig> parse_source_text(std::string_view text, std::string_view label,
                                       std::string_view config_file, const SourceTypes& types,
                                       std::vector<ConfigError>* errors = nullptr);
Result<SinkConfig> parse_sink_text(std::string_view text, std::string_view label,
                                   std::string_view config_file, const SourceTypes& types,
                                   const std::vector<std::string>& source_names,
                                   std::vector<ConfigError>* errors = nullptr);

}  // namespace sluice::runtime

namespace sluice::runtime {

// The table text `toml_text` with its top-level `key` set to `toml_value`, a TOML value as text
// ("2", "\"500ms\"", "true", "[1, 2]", "{ a = 1 }"), added if absent, replaced if present; written
// back as canonical_service_text writes it (comments and layout dropped). Only a top-level key:
// a dotted key ("a.b") is refused rather than read as a sub-table's key, so that a change of one
// key never reaches into a sub-table by surprise. kInvalidArgument when `toml_text` is not TOML,
// `key` is not a bare key ([A-Za-z0-9_-]+), or `toml_value` is not one TOML value; each message
// says which. What the service makes of the new value is checked when the text is applied
// (Runtime::update_settings).
Result<std::string> set_table_key(std::string_view toml_text, std::string_view key,
                                  std::string_view toml_value);

}  // namespace sluice::runtime
