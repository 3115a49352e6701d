// Parses the TOML config into a Config: walks the document with toml++, reads each table
// through a ConfigTable that checks types and ranges, records every problem with its file,
// line, column and key, and reports keys nobody asked for. Source types parse their own keys
// (runtime/source_types.h). The reference of the keys is docs/configuration.md: change both
// together.
#include "runtime/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include "runtime/units.h"

namespace sluice::runtime {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr uint64_t kMaxConfigFileBytes = 16u << 20;
constexpr size_t kMaxSourceNameLength = 100;
constexpr size_t kMaxShownValueChars = 60;

// Collects the errors of one file.
class ErrorList {
 public:
  explicit ErrorList(std::string file) : file_(std::move(file)) {}

  void add(const toml::source_region& where, std::string key, std::string message) {
    ConfigError e;
    e.file = file_;
    e.line = static_cast<int>(where.begin.line);
    e.column = static_cast<int>(where.begin.column);
    if (e.line == 0) {  // no position known (e.g. a key missing from an absent table)
      e.line = 1;
      e.column = 1;
    }
    e.key = std::move(key);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  const std::string& file() const { return file_; }
  bool empty() const { return errors_.empty(); }
  std::vector<ConfigError> take_sorted() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(errors_);
  }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// A value as the user wrote it, for "got ..." (strings in double quotes, long ones cut).
std::string show(const toml::node& node) {
  std::string text;
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  if (const auto* s = node.as_string()) {
    text = "\"" + s->get() + "\"";
  } else {
    std::ostringstream os;
    node.visit([&os](const auto& v) {
      if constexpr (toml::is_value<decltype(v)>) os << v;
    });
    text = os.str();
  }
  if (text.size() > kMaxShownValueChars) text = text.substr(0, kMaxShownValueChars) + "...";
  return text;
}

// Levenshtein distance, for "did you mean" on unknown keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// How a table's header is written in the file: "sources[1].subscriptions" is
// [[sources.subscriptions]] (the indices are not written).
std::string header_of(std::string_view path) {
  std::string out;
  bool in_index = false;
  for (const char c : path) {
    if (c == '[') {
      in_index = true;
    } else if (c == ']') {
      in_index = false;
    } else if (!in_index) {
      out += c;
    }
  }
  return out;
}

std::filesystem::path base_dir_of(std::string_view file_name);

// One TOML table seen through ConfigTable.
class TomlTable final : public ConfigTable {
 public:
  using NamedValues = std::vector<std::pair<std::string, Value>>;
  TomlTable(const toml::table& table, std::string path, ErrorList& errors)
      : table_(table), path_(std::move(path)), errors_(errors) {}

  const std::string& path() const override { return path_; }
  bool has(std::string_view key) const override { return table_.contains(key); }
  const toml::source_region& where() const { return table_.source(); }

  std::string string(std::string_view key, std::string fallback, std::string_view expected,
                     const Check<std::string>& check) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    const auto* s = node->as_string();
    if (s == nullptr || (check && !check(s->get()))) return bad(key, *node, expected, fallback);
    return s->get();
  }

  bool boolean(std::string_view key, bool fallback) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    const auto* b = node->as_boolean();
    if (b == nullptr) return bad(key, *node, "true or false", fallback);
    return b->get();
  }

  int64_t integer(std::string_view key, int64_t fallback, std::string_view expected,
                  const Check<int64_t>& check) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    const auto* i = node->as_integer();
    if (i == nullptr || (check && !check(i->get()))) return bad(key, *node, expected, fallback);
    return i->get();
  }

  double number(std::string_view key, double fallback, std::string_view expected,
                const Check<double>& check) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    double v = 0;
    if (const auto* i = node->as_integer()) {
      v = static_cast<double>(i->get());
    } else if (const auto* f = node->as_floating_point()) {
      v = f->get();
    } else {
      return bad(key, *node, expected, fallback);
    }
    if (!std::isfinite(v) || (check && !check(v))) return bad(key, *node, expected, fallback);
    return v;
  }

  uint64_t size(std::string_view key, uint64_t fallback, std::string_view expected,
                const Check<uint64_t>& check) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    uint64_t v = 0;
    if (const auto* i = node->as_integer()) {
      if (i->get() < 0) return bad(key, *node, expected, fallback);
      v = static_cast<uint64_t>(i->get());
    } else if (const auto* s = node->as_string()) {
      Result<uint64_t> parsed = parse_size(s->get());
      if (!parsed.ok()) return bad(key, *node, expected, fallback);
      v = *parsed;
    } else {
      return bad(key, *node, expected, fallback);
    }
    if (check && !check(v)) return bad(key, *node, expected, fallback);
    return v;
  }

  nanoseconds duration(std::string_view key, nanoseconds fallback, std::string_view expected,
                       const Check<nanoseconds>& check) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    nanoseconds v{0};
    if (const auto* i = node->as_integer(); i != nullptr && i->get() == 0) {
      v = nanoseconds{0};
    } else if (const auto* s = node->as_string()) {
      Result<nanoseconds> parsed = parse_duration(s->get());
      if (!parsed.ok()) return bad(key, *node, expected, fallback);
      v = *parsed;
    } else {
      return bad(key, *node, expected, fallback);
    }
    if (check && !check(v)) return bad(key, *node, expected, fallback);
    return v;
  }

  std::string file_path(std::string_view key, std::string fallback,
                        std::string_view expected) override {
    std::string value =
        string(key, std::move(fallback), expected, [](const std::string& v) { return !v.empty(); });
    if (value.empty()) return value;
    const std::filesystem::path p(value);
    if (p.is_absolute()) return value;
    return (base_dir_of(errors_.file()) / p).lexically_normal().string();
  }

  std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback,
                                   std::string_view expected,
                                   const Check<std::string>& check) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    const auto* array = node->as_array();
    if (array == nullptr) return bad(key, *node, expected, fallback);
    std::vector<std::string> out;
    for (const toml::node& element : *array) {
      const auto* s = element.as_string();
      if (s == nullptr || (check && !check(s->get()))) return bad(key, element, expected, fallback);
      out.push_back(s->get());
    }
    return out;
  }

  size_t choice(std::string_view key, size_t fallback,
                std::initializer_list<std::string_view> choices) override {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    if (const auto* s = node->as_string()) {
      size_t index = 0;
      for (std::string_view c : choices) {
        if (c == s->get()) return index;
        ++index;
      }
    }
    std::vector<std::string> quoted;
    for (std::string_view c : choices) quoted.push_back("\"" + std::string(c) + "\"");
    const std::string expected = "one of " + join(quoted, ", ");
    return bad(key, *node, expected, fallback);
  }

  std::optional<std::vector<std::pair<std::string, Value>>> values(
      std::string_view key, std::string_view expected) override {
    const toml::node* node = get(key);
    if (node == nullptr) return std::nullopt;
    const toml::table* table = node->as_table();
    if (table == nullptr) return bad(key, *node, expected, std::optional<NamedValues>{});
    NamedValues out;
    for (auto&& [name, value] : *table) {
      if (const auto* b = value.as_boolean()) {
        out.emplace_back(std::string(name.str()), b->get());
      } else if (const auto* i = value.as_integer()) {
        out.emplace_back(std::string(name.str()), i->get());
      } else if (const auto* f = value.as_floating_point()) {
        out.emplace_back(std::string(name.str()), f->get());
      } else if (const auto* s = value.as_string()) {
        out.emplace_back(std::string(name.str()), s->get());
      } else {
        errors_.add(value.source(), full_key(key) + "." + std::string(name.str()),
                    "expected a number, boolean or string, got " + show(value));
        return std::nullopt;
      }
    }
    return out;
  }

  std::optional<Tables> tables(std::string_view key) override {
    auto it = children_.find(key);
    if (it == children_.end()) it = children_.emplace(std::string(key), read_tables(key)).first;
    if (!it->second) return std::nullopt;
    Tables out;
    for (const std::unique_ptr<TomlTable>& child : *it->second) out.emplace_back(*child);
    return out;
  }

  void error(std::string_view key, std::string message) override {
    known_.emplace(key);
    const toml::node* node = table_.get(key);
    errors_.add(node != nullptr ? node->source() : table_.source(), full_key(key),
                std::move(message));
  }

  // The sub-table `key`, or null if it is absent (or not a table: that is an error).
  const toml::table* table(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      errors_.add(node->source(), full_key(key),
                  "expected a table [" + full_key(key) + "], got " + show(*node));
      return nullptr;
    }
    return node->as_table();
  }

  // The array of tables `key` ([[key]]), or null if absent (or not one: an error).
  const toml::array* table_array(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr) return nullptr;
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      errors_.add(
          node->source(), full_key(key),
          "expected an array of tables written [[" + full_key(key) + "]], got " + show(*node));
    }
    return array;
  }

  // Marks a key as known without reading it (keys a caller handles itself).
  void accept(std::string_view key) { known_.emplace(key); }

  void ignore_unknown_keys() override { ignore_unknown_ = true; }

  // Reports every key no getter asked for, with a suggestion when one is close.
  void report_unknown_keys() {
    for (auto&& [key, node] : table_) {
      if (ignore_unknown_ || known_.count(key.str()) != 0) continue;
      std::string message = "unknown key";
      std::string best;
      size_t best_distance = 3;  // suggest only close matches
      for (const auto& k : known_) {
        const size_t d = edit_distance(key.str(), k);
        if (d < best_distance) {
          best_distance = d;
          best = k;
        }
      }
      if (!best.empty()) {
        message += "; did you mean '" + best + "'?";
      } else if (!known_.empty()) {
        message += "; the keys here are " +
                   join(std::vector<std::string>(known_.begin(), known_.end()), ", ");
      }
      const toml::source_region& where =
          key.source().begin.line != 0 ? key.source() : node.source();
      errors_.add(where, full_key(key.str()), std::move(message));
    }
    for (auto& [key, children] : children_) {
      if (!children) continue;
      for (const std::unique_ptr<TomlTable>& child : *children) child->report_unknown_keys();
    }
  }

  std::string full_key(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  ErrorList& errors() { return errors_; }

 private:
  const toml::node* get(std::string_view key) {
    known_.emplace(key);
    return table_.get(key);
  }

  using Children = std::vector<std::unique_ptr<TomlTable>>;

  // The elements of the array of tables `key` as child tables; nullopt if absent or not an
  // array of tables (then an error is recorded for the value or for each bad element).
  std::optional<Children> read_tables(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr) return std::nullopt;
    const std::string written = "[[" + header_of(full_key(key)) + "]]";
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      errors_.add(node->source(), full_key(key),
                  "expected an array of tables written " + written + ", got " + show(*node));
      return std::nullopt;
    }
    Children children;
    bool all_tables = true;
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = (*array)[i];
      const std::string path = full_key(key) + "[" + std::to_string(i) + "]";
      const toml::table* table = element.as_table();
      if (table == nullptr) {
        errors_.add(element.source(), path,
                    "expected a table written " + written + ", got " + show(element));
        all_tables = false;
        continue;
      }
      children.push_back(std::make_unique<TomlTable>(*table, path, errors_));
    }
    if (!all_tables) return std::nullopt;
    return children;
  }

  template <typename T>
  T bad(std::string_view key, const toml::node& node, std::string_view expected, T fallback) {
    errors_.add(node.source(), full_key(key),
                "expected " + std::string(expected) + ", got " + show(node));
    return fallback;
  }

  const toml::table& table_;
  std::string path_;
  ErrorList& errors_;
  std::set<std::string, std::less<>> known_;
  bool ignore_unknown_ = false;
  // Arrays of tables read with tables(), by key; nullopt where the key was absent or bad.
  std::map<std::string, std::optional<Children>, std::less<>> children_;
};

std::filesystem::path base_dir_of(std::string_view file_name) {
  std::filesystem::path parent = std::filesystem::path(file_name).parent_path();
  std::error_code ec;
  std::filesystem::path base = std::filesystem::absolute(parent.empty() ? "." : parent, ec);
  return ec ? parent : base;
}

// A string key whose values the store itself parses (one list of names, the store's).
template <typename T>
T parse_with(ConfigTable& t, std::string_view key, T fallback,
             Result<T> (*parse)(std::string_view)) {
  bool is_string = false;  // the check runs only on a string value
  const std::string text = t.string(key, "", "a string", [&is_string](const std::string&) {
    is_string = true;
    return true;
  });
  if (!is_string) return fallback;  // absent, or the type error is recorded
  Result<T> parsed = parse(text);
  if (parsed.ok()) return *parsed;
  t.error(key, parsed.status().message());
  return fallback;
}

void parse_store(ConfigTable& t, const std::filesystem::path& base_dir, store::StoreOptions* o) {
  if (!t.has("dir")) {
    t.error("dir",
            "missing; say where the store keeps its data, e.g. dir = \"data\" (relative "
            "to this file's directory)");
  }
  const std::string dir =
      t.string("dir", "", "a directory path", [](const std::string& s) { return !s.empty(); });
  if (!dir.empty()) o->dir = (base_dir / dir).lexically_normal().string();

  constexpr uint64_t kMinSegment = 64u << 10;
  constexpr uint64_t kMaxSegment = 16ull << 30;
  o->segment_bytes =
      t.size("segment_size", o->segment_bytes, "a segment size from 64KiB to 16GiB, e.g. \"64MiB\"",
             [](uint64_t v) { return v >= kMinSegment && v <= kMaxSegment; });

  o->sync_policy = parse_with(t, "sync", o->sync_policy, store::parse_sync_policy);
  const nanoseconds interval = t.duration(
      "sync_interval", o->sync_interval,
      "a sync interval of whole milliseconds from 1ms to 1h, e.g. \"10ms\"", [](nanoseconds d) {
        return d >= milliseconds(1) && d <= std::chrono::hours(1) &&
               d % milliseconds(1) == nanoseconds{0};
      });
  o->sync_interval = std::chrono::duration_cast<milliseconds>(interval);

  o->max_bytes = t.size("max_size", o->max_bytes,
                        "a size limit for the whole store, e.g. \"10GiB\", or 0 for none");
  if (o->max_bytes != 0 && o->max_bytes < 2 * o->segment_bytes) {
    t.error("max_size", "max_size " + format_size(o->max_bytes) +
                            " is less than two segments (segment_size " +
                            format_size(o->segment_bytes) +
                            "): the store frees space a whole segment at a time; raise max_size "
                            "or lower segment_size");
  }
  o->min_free_bytes =
      t.size("min_free", o->min_free_bytes, "a size to keep free on the disk, e.g. \"1GiB\"");

  o->full_policy = parse_with(t, "full_policy", o->full_policy, store::parse_full_policy);
  o->block_timeout = std::chrono::duration_cast<milliseconds>(
      t.duration("block_timeout", o->block_timeout,
                 "a duration of whole milliseconds up to 1h, e.g. \"10s\"", [](nanoseconds d) {
                   return d <= std::chrono::hours(1) && d % milliseconds(1) == nanoseconds{0};
                 }));

  static constexpr Compression kCompression[] = {Compression::kNone, Compression::kLz4,
                                                 Compression::kZstd};
  o->encoding.compression = kCompression[t.choice("compression", 2, {"none", "lz4", "zstd"})];
  o->encoding.zstd_level = static_cast<int>(t.integer(
      "zstd_level", o->encoding.zstd_level, "a zstd compression level from 1 (fast) to 22 (small)",
      [](int64_t v) { return v >= 1 && v <= 22; }));

  const auto whole_seconds = [](nanoseconds d) { return d % seconds(1) == nanoseconds{0}; };
  o->backup_retention = std::chrono::duration_cast<seconds>(t.duration(
      "backup_retention", o->backup_retention,
      "a duration of whole seconds, e.g. \"7d\", or 0 to delete delivered data", whole_seconds));
  o->purged_retention = std::chrono::duration_cast<seconds>(
      t.duration("purged_retention", o->purged_retention,
                 "a duration of whole seconds, e.g. \"30d\"", whole_seconds));
}

void parse_log(ConfigTable& t, LogConfig* log) {
  static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
  const size_t level = t.choice(
      "level", 2,
      {kLevels[0], kLevels[1], kLevels[2], kLevels[3], kLevels[4], kLevels[5], kLevels[6]});
  log->level = std::string(kLevels[level]);
  log->status_interval =
      t.duration("status_interval", log->status_interval,
                 "a duration of at least 1s, e.g. \"10s\", or 0 for none",
                 [](nanoseconds d) { return d == nanoseconds{0} || d >= seconds(1); });
}

bool valid_instance_name(const std::string& v) {
  if (v.empty() || v.size() > 64 || v.front() == '.') return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// The host name, made a valid instance name ("sluice" if there is none).
std::string default_instance_name() {
  char host[256] = {};
  std::string name;
  if (gethostname(host, sizeof host - 1) == 0) {
    for (const char* c = host; *c != 0 && name.size() < 64; ++c) {
      const bool ok =
          std::isalnum(static_cast<unsigned char>(*c)) || *c == '_' || *c == '.' || *c == '-';
      name += ok ? *c : '-';
    }
  }
  while (!name.empty() && name.front() == '.') name.erase(0, 1);
  return name.empty() ? std::string("sluice") : name;
}

void parse_instance(ConfigTable& t, InstanceConfig* instance) {
  instance->name = t.string("name", default_instance_name(),
                            "a name of 1 to 64 characters A-Z a-z 0-9 _ . - (not starting with "
                            "'.'), e.g. \"plant-a\"",
                            valid_instance_name);
}

void parse_control(ConfigTable& t, ControlConfig* c) {
  const auto count = [&t](std::string_view key, size_t fallback, int64_t max) {
    return static_cast<size_t>(t.integer(key, static_cast<int64_t>(fallback),
                                         fmt::format("a whole number from 1 to {}", max),
                                         [max](int64_t v) { return v >= 1 && v <= max; }));
  };
  c->dispatcher_threads = count("dispatcher_threads", c->dispatcher_threads, 64);
  c->dispatcher_queue = count("dispatcher_queue", c->dispatcher_queue, 1'000'000);
  c->delivery_threads = count("delivery_threads", c->delivery_threads, 64);
  c->delivery_queue = count("delivery_queue", c->delivery_queue, 1'000'000);
}

void parse_api(ConfigTable& t, const std::string& base_dir, ApiConfig* api) {
  api->enabled = t.boolean("enabled", true);  // an [api] table turns it on unless it says not
  const std::string listen =
      t.string("listen", api->address + ":" + std::to_string(api->port),
               "an address and port to listen on, e.g. \"127.0.0.1:8080\" (port 0: any free port)",
               [](const std::string& v) {
                 const size_t colon = v.rfind(':');
                 if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
                   return false;
                 const std::string port = v.substr(colon + 1);
                 if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
                   return false;
                 }
                 return std::stoi(port) <= 65535;
               });
  const size_t colon = listen.rfind(':');
  api->address = listen.substr(0, colon);
  if (api->address.size() > 2 && api->address.front() == '[' && api->address.back() == ']') {
    api->address = api->address.substr(1, api->address.size() - 2);  // [::1]
  }
  api->port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
  api->cert_file = t.file_path("tls_cert_file", "", "a PEM certificate (chain) file");
  api->key_file = t.file_path("tls_key_file", "", "a PEM private key file");
  if (api->cert_file.empty() != api->key_file.empty()) {
    t.error(api->cert_file.empty() ? "tls_cert_file" : "tls_key_file",
            "HTTPS needs both tls_cert_file and tls_key_file");
  }
  api->max_body_bytes =
      t.size("max_body", api->max_body_bytes, "a size from 1KiB to 64MiB, e.g. \"1MiB\"",
             [](uint64_t v) { return v >= 1024 && v <= (64u << 20); });
  api->metrics_public = t.boolean("metrics_public", api->metrics_public);
  api->threads =
      static_cast<int>(t.integer("threads", api->threads, "a number of threads from 1 to 256",
                                 [](int64_t v) { return v >= 1 && v <= 256; }));
  api->bootstrap_key_file = t.file_path(
      "bootstrap_key_file", "", "a file holding 64 hex characters (`openssl rand -hex 32`)");
  (void)base_dir;
}

bool valid_source_name(const std::string& name) {
  static const std::regex kPattern("[A-Za-z0-9_.-]+");
  return !name.empty() && name.size() <= kMaxSourceNameLength && name[0] != '.' &&
         std::regex_match(name, kPattern);
}

// The keys every service table has: name (valid, unique among its kind), type (named, its
// known values listed), enabled. `kind` is "source" or "sink" in messages.
struct ServiceHead {
  std::string name;
  std::string type;
  bool enabled = true;
  std::string org;
};

ServiceHead parse_service_head(ConfigTable& t, std::string_view kind, std::string_view example,
                               int line, const std::vector<std::string>& type_names,
                               std::map<std::string, int>* first_line_of) {
  const std::string k(kind);
  ServiceHead head;
  if (!t.has("name")) {
    t.error("name", "missing; every " + k + " needs a unique name, e.g. name = \"" +
                        std::string(example) + "\"");
  }
  head.name = t.string("name", "",
                       "a name of letters, digits, '_', '.' and '-' (not starting with '.', "
                       "at most 100 characters)",
                       valid_source_name);
  if (!head.name.empty()) {
    auto [it, inserted] = first_line_of->emplace(head.name, line);
    if (!inserted) {
      t.error("name", "duplicate " + k + " name '" + head.name + "' (first used by the " + k +
                          " at line " + std::to_string(it->second) + "); " + k +
                          " names must be unique");
    }
  }
  const std::string known_types = join(type_names, ", ");
  if (!t.has("type")) t.error("type", "missing; the " + k + " types are " + known_types);
  head.type = t.string("type", "", "a " + k + " type (" + known_types + ")");
  head.enabled = t.boolean("enabled", true);
  head.org = t.string("org", "platform", "an organization's id (1 to 128 printable characters)",
                      [](const std::string& v) {
                        return !v.empty() && v.size() <= 128 &&
                               std::all_of(v.begin(), v.end(),
                                           [](unsigned char c) { return c > ' ' && c != 0x7f; });
                      });
  return head;
}

void parse_sources(TomlTable& root, const toml::array& array, const SourceTypes& types,
                   std::vector<SourceConfig>* out) {
  std::map<std::string, int> first_line_of;  // name -> line, to report duplicates
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string path = "sources[" + std::to_string(i) + "]";
    const toml::table* table = array[i].as_table();
    if (table == nullptr) {
      root.errors().add(array[i].source(), path,
                        "expected a table written [[sources]], got " + show(array[i]));
      continue;
    }
    TomlTable toml_table(*table, path, root.errors());
    ConfigTable& t = toml_table;  // (the getters' default arguments are the interface's)
    SourceConfig source;
    source.line = static_cast<int>(table->source().begin.line);
    ServiceHead head =
        parse_service_head(t, "source", "line1", source.line, types.names(), &first_line_of);
    source.name = std::move(head.name);
    source.type = std::move(head.type);
    source.enabled = head.enabled;
    source.org = std::move(head.org);
    const std::string known_types = join(types.names(), ", ");

    const SourceType* type = source.type.empty() ? nullptr : types.find(source.type);
    if (type == nullptr) {
      if (!source.type.empty()) {
        t.error("type",
                "unknown source type '" + source.type + "'; the source types are " + known_types);
      }
      continue;  // its other keys belong to a type we do not know: not reported as unknown
    }
    source.settings = type->parse(t);
    source.acl = t.string("acl", "", "the name of an [[acls]] entry",
                          [](const std::string& v) { return !v.empty(); });
    source.filters = ingest::parse_filters(t);
    toml_table.report_unknown_keys();
    out->push_back(std::move(source));
  }
}

void parse_documents(TomlTable& root, const toml::array& array, const DocumentType& kind,
                     std::vector<DocumentConfig>* out) {
  std::map<std::string, int> first_line_of;  // name -> line, to report duplicates
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string path = fmt::format("{}[{}]", kind.name, i);
    const toml::table* table = array[i].as_table();
    if (table == nullptr) {
      root.errors().add(
          array[i].source(), path,
          fmt::format("expected a table written [[{}]], got {}", kind.name, show(array[i])));
      continue;
    }
    TomlTable t(*table, path, root.errors());
    kind.check(t);
    t.report_unknown_keys();
    DocumentConfig doc;
    doc.kind = kind.name;
    doc.line = static_cast<int>(table->source().begin.line);
    if (const auto* name = table->get_as<std::string>("name")) doc.name = name->get();
    if (!doc.name.empty()) {
      auto [it, inserted] = first_line_of.emplace(doc.name, doc.line);
      if (!inserted) {
        t.error("name", fmt::format("'{}' is used by the [[{}]] at line {} too; names are unique",
                                    doc.name, kind.name, it->second));
      }
    }
    std::ostringstream json;
    json << toml::json_formatter{*table, toml::format_flags::none};
    doc.json = json.str();
    out->push_back(std::move(doc));
  }
}

void parse_sinks(TomlTable& root, const toml::array& array, const SourceTypes& types,
                 const std::vector<SourceConfig>& sources, std::vector<SinkConfig>* out) {
  std::map<std::string, int> first_line_of;
  std::set<std::string> source_names;
  for (const SourceConfig& s : sources) source_names.insert(s.name);
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string path = "sinks[" + std::to_string(i) + "]";
    const toml::table* table = array[i].as_table();
    if (table == nullptr) {
      root.errors().add(array[i].source(), path,
                        "expected a table written [[sinks]], got " + show(array[i]));
      continue;
    }
    TomlTable toml_table(*table, path, root.errors());
    ConfigTable& t = toml_table;
    SinkConfig sink;
    sink.line = static_cast<int>(table->source().begin.line);
    ServiceHead head =
        parse_service_head(t, "sink", "datalake", sink.line, types.sink_names(), &first_line_of);
    sink.name = std::move(head.name);
    sink.type = std::move(head.type);
    sink.enabled = head.enabled;
    sink.org = std::move(head.org);
    const std::string known_types = join(types.sink_names(), ", ");
    sink.sources = t.strings("sources", {}, "an array of source names, e.g. [\"line1\"]");
    for (const std::string& name : sink.sources) {
      if (!source_names.contains(name)) {
        t.error("sources",
                "no source is named '" + name + "'; the sources are " +
                    join(std::vector<std::string>(source_names.begin(), source_names.end()), ", "));
      }
    }
    const SinkType* type = sink.type.empty() ? nullptr : types.find_sink(sink.type);
    if (type == nullptr) {
      if (!sink.type.empty()) {
        t.error("type", "unknown sink type '" + sink.type + "'; the sink types are " + known_types);
      }
      continue;
    }
    sink.settings = type->parse(t);
    toml_table.report_unknown_keys();
    out->push_back(std::move(sink));
  }
}

std::string format_errors(const std::vector<ConfigError>& errors) {
  std::string message;
  for (const auto& e : errors) {
    if (!message.empty()) message += '\n';
    message += e.to_string();
  }
  return message;
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string s = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!key.empty()) s += "key '" + key + "': ";
  return s + message;
}

Result<Config> parse_config(std::string_view text, std::string_view file_name,
                            const SourceTypes& types, std::vector<ConfigError>* errors_out) {
  ErrorList errors{std::string(file_name)};
  Config config;
  config.file = std::string(file_name);

  toml::table doc;
  try {
    doc = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    errors.add(e.source(), "", "syntax error: " + std::string(e.description()));
  }

  if (errors.empty()) {
    TomlTable root(doc, "", errors);
    if (const toml::table* store = root.table("store")) {
      TomlTable t(*store, "store", errors);
      parse_store(t, base_dir_of(file_name), &config.store);
      t.report_unknown_keys();
    } else if (!doc.contains("store")) {
      errors.add(doc.source(), "store.dir",
                 "missing; add a [store] table that says where the data goes, e.g. "
                 "[store] dir = \"data\"");
    }
    if (const toml::table* instance = root.table("instance")) {
      TomlTable t(*instance, "instance", errors);
      parse_instance(t, &config.instance);
      t.report_unknown_keys();
    } else {
      config.instance.name = default_instance_name();
    }
    if (const toml::table* log = root.table("log")) {
      TomlTable t(*log, "log", errors);
      parse_log(t, &config.log);
      t.report_unknown_keys();
    }
    if (const toml::table* api = root.table("api")) {
      TomlTable t(*api, "api", errors);
      parse_api(t, base_dir_of(file_name), &config.api);
      if (const toml::table* oidc = t.table("oidc")) {
        TomlTable o(*oidc, "api.oidc", errors);
        config.api.oidc = auth::read_oidc_options(o);
        o.report_unknown_keys();
      }
      t.report_unknown_keys();
    }
    if (const toml::table* control = root.table("control")) {
      TomlTable t(*control, "control", errors);
      parse_control(t, &config.control);
      t.report_unknown_keys();
    }
    if (const toml::array* sources = root.table_array("sources")) {
      parse_sources(root, *sources, types, &config.sources);
    }
    if (const toml::array* sinks = root.table_array("sinks")) {
      parse_sinks(root, *sinks, types, config.sources, &config.sinks);
    }
    for (const DocumentType& kind : types.documents()) {
      if (const toml::array* tables = root.table_array(kind.name)) {
        parse_documents(root, *tables, kind, &config.documents);
      }
    }
    root.report_unknown_keys();
  }

  if (!errors.empty()) {
    std::vector<ConfigError> list = errors.take_sorted();
    Status status = invalid_argument(format_errors(list));
    if (errors_out != nullptr) *errors_out = std::move(list);
    return status;
  }
  if (errors_out != nullptr) errors_out->clear();
  return config;
}

Result<Config> load_config(const std::string& path, const SourceTypes& types,
                           std::vector<ConfigError>* errors) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return invalid_argument("config file '" + path + "' is a directory; pass a TOML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return not_found("cannot read config file '" + path + "': " + std::strerror(errno) +
                     "; pass the path of a TOML file, e.g. examples/demo.toml");
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxConfigFileBytes) {
    return invalid_argument("config file '" + path + "' is " + format_size(size) +
                            "; a config file may be at most " + format_size(kMaxConfigFileBytes));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, types, errors);
}

std::string describe_config(const Config& config) {
  const store::StoreOptions& s = config.store;
  std::ostringstream out;
  out << "instance: " << config.instance.name << "\n";
  out << "store: " << s.dir << "\n";
  out << "  segments of " << format_size(s.segment_bytes) << ", sync ";
  if (s.sync_policy == store::SyncPolicy::kInterval) {
    out << "every " << format_duration(s.sync_interval);
  } else {
    out << store::sync_policy_name(s.sync_policy);
  }
  out << ", compression " << compression_name(s.encoding.compression);
  if (s.encoding.compression == Compression::kZstd) out << " level " << s.encoding.zstd_level;
  out << "\n  limit " << (s.max_bytes == 0 ? std::string("none") : format_size(s.max_bytes))
      << ", keep " << format_size(s.min_free_bytes) << " free, when full "
      << store::full_policy_name(s.full_policy);
  if (s.full_policy == store::FullPolicy::kBlock) {
    out << " for up to " << format_duration(s.block_timeout);
  }
  out << "\n  backup of delivered data "
      << (s.backup_retention.count() == 0 ? std::string("off")
                                          : "kept " + format_duration(s.backup_retention))
      << ", purged data kept " << format_duration(s.purged_retention) << "\n";
  out << "log: level " << config.log.level << ", status line "
      << (config.log.status_interval.count() == 0
              ? std::string("off")
              : "every " + format_duration(config.log.status_interval))
      << "\n";
  if (config.api.enabled) {
    out << "api: " << (config.api.cert_file.empty() ? "http" : "https") << "://"
        << config.api.address << ":" << config.api.port << "\n";
  } else {
    out << "api: off\n";
  }
  const auto enabled = std::count_if(config.sources.begin(), config.sources.end(),
                                     [](const SourceConfig& c) { return c.enabled; });
  out << "sources: " << config.sources.size() << " (" << enabled << " enabled)\n";
  for (const SourceConfig& c : config.sources) {
    out << "  " << c.name << " [" << c.type << "]" << (c.enabled ? "" : " (disabled)") << ": "
        << c.settings->summary() << "\n";
    if (c.filters) {
      for (const std::string& f : c.filters->descriptions()) out << "    filter: " << f << "\n";
    }
  }
  out << "sinks: " << config.sinks.size() << "\n";
  for (const SinkConfig& c : config.sinks) {
    out << "  " << c.name << " [" << c.type << "]" << (c.enabled ? "" : " (disabled)") << " <- "
        << (c.sources.empty() ? std::string("all sources") : join(c.sources, ", ")) << ": "
        << c.settings->summary() << "\n";
  }
  return out.str();
}

}  // namespace sluice::runtime
