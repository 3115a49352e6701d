// A JSON object read through the ConfigTable interface (runtime/config_table.h), so that the code
// that reads a part's keys from the config file reads the same keys from JSON too (a Modbus
// register map file, a rule or a script sent to the REST API) with the same checks and
// messages. Errors have no line: each reads "key 'PATH.KEY': ..." with the key's whole path.
// Unknown keys are reported by report_unknown_keys(), children's included.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config_table.h"
#include "runtime/units.h"

namespace sluice::runtime {

// A JSON value as a short text for messages (at most 60 characters and "...").

inline std::string show_json(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  constexpr size_t kMaxShown = 60;
  if (s.size() > kMaxShown) s = s.substr(0, kMaxShown) + "...";
  return s;
}

class JsonTable final : public ConfigTable {
 public:
  using nanoseconds = std::chrono::nanoseconds;
  using NamedValues = std::vector<std::pair<std::string, Value>>;
  // `object` and `errors` must outlive the table; `base_dir` is where relative paths start.
  JsonTable(const nlohmann::json& object, std::string path, const std::string& base_dir,
            std::vector<std::string>& errors)
      : object_(object), path_(std::move(path)), base_dir_(base_dir), errors_(errors) {}

  const std::string& path() const override { return path_; }
  bool has(std::string_view key) const override { return object_.contains(key); }

  std::string string(std::string_view key, std::string fallback, std::string_view expected,
                     const Check<std::string>& check) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_string() || (check && !check(v->get_ref<const std::string&>()))) {
      return bad(key, *v, expected, fallback);
    }
    return v->get<std::string>();
  }
  bool boolean(std::string_view key, bool fallback) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return bad(key, *v, "true or false", fallback);
    return v->get<bool>();
  }
  int64_t integer(std::string_view key, int64_t fallback, std::string_view expected,
                  const Check<int64_t>& check) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer()) return bad(key, *v, expected, fallback);
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX}) {
      return bad(key, *v, expected, fallback);
    }
    const int64_t i = v->get<int64_t>();
    if (check && !check(i)) return bad(key, *v, expected, fallback);
    return i;
  }
  double number(std::string_view key, double fallback, std::string_view expected,
                const Check<double>& check) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) return bad(key, *v, expected, fallback);
    const double d = v->get<double>();
    if (!std::isfinite(d) || (check && !check(d))) return bad(key, *v, expected, fallback);
    return d;
  }
  uint64_t size(std::string_view key, uint64_t fallback, std::string_view expected,
                const Check<uint64_t>& check) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    uint64_t n = 0;
    if (v->is_number_unsigned()) {
      n = v->get<uint64_t>();
    } else if (v->is_string()) {
      Result<uint64_t> parsed = parse_size(v->get_ref<const std::string&>());
      if (!parsed.ok()) return bad(key, *v, expected, fallback);
      n = *parsed;
    } else {
      return bad(key, *v, expected, fallback);
    }
    if (check && !check(n)) return bad(key, *v, expected, fallback);
    return n;
  }
  nanoseconds duration(std::string_view key, nanoseconds fallback, std::string_view expected,
                       const Check<nanoseconds>& check) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    nanoseconds d{0};
    if (v->is_number_integer() && v->get<int64_t>() == 0) {
      d = nanoseconds{0};
    } else if (v->is_string()) {
      Result<nanoseconds> parsed = parse_duration(v->get_ref<const std::string&>());
      if (!parsed.ok()) return bad(key, *v, expected, fallback);
      d = *parsed;
    } else {
      return bad(key, *v, expected, fallback);
    }
    if (check && !check(d)) return bad(key, *v, expected, fallback);
    return d;
  }
  std::string file_path(std::string_view key, std::string fallback,
                        std::string_view expected) override {
    std::string p =
        string(key, std::move(fallback), expected, [](const std::string& v) { return !v.empty(); });
    if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (std::filesystem::path(base_dir_) / p).lexically_normal().string();
  }
  std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback,
                                   std::string_view expected,
                                   const Check<std::string>& check) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    if (!v->is_array()) return bad(key, *v, expected, fallback);
    std::vector<std::string> out;
    for (const nlohmann::json& e : *v) {
      if (!e.is_string() || (check && !check(e.get_ref<const std::string&>()))) {
        return bad(key, e, expected, fallback);
      }
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  size_t choice(std::string_view key, size_t fallback,
                std::initializer_list<std::string_view> choices) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return fallback;
    std::string expected = "one of ";
    size_t i = 0;
    for (std::string_view c : choices) {
      if (v->is_string() && v->get_ref<const std::string&>() == c) return i;
      expected += fmt::format("{}\"{}\"", i++ == 0 ? "" : ", ", c);
    }
    return bad(key, *v, expected, fallback);
  }
  std::optional<Tables> tables(std::string_view key) override {
    auto it = children_.find(key);
    if (it == children_.end()) it = children_.emplace(std::string(key), read_tables(key)).first;
    if (!it->second) return std::nullopt;
    Tables out;
    for (const std::unique_ptr<JsonTable>& c : *it->second) out.emplace_back(*c);
    return out;
  }
  std::optional<std::vector<std::pair<std::string, Value>>> values(
      std::string_view key, std::string_view expected) override {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_object()) return bad(key, *v, expected, std::optional<NamedValues>{});
    NamedValues out;
    for (const auto& [name, value] : v->items()) {
      if (value.is_boolean()) {
        out.emplace_back(name, value.get<bool>());
      } else if (value.is_number_integer() &&
                 !(value.is_number_unsigned() && value.get<uint64_t>() > uint64_t{INT64_MAX})) {
        out.emplace_back(name, value.get<int64_t>());
      } else if (value.is_number()) {
        out.emplace_back(name, value.get<double>());
      } else if (value.is_string()) {
        out.emplace_back(name, value.get<std::string>());
      } else {
        errors_.push_back(fmt::format("key '{}.{}': expected {}, got {}", full_key(key), name,
                                      "a number, boolean or string", show_json(value)));
        return std::nullopt;
      }
    }
    return out;
  }
  void ignore_unknown_keys() override { ignore_unknown_ = true; }
  void error(std::string_view key, std::string message) override {
    known_.emplace(key);
    errors_.push_back(fmt::format("key '{}': {}", full_key(key), message));
  }

  void report_unknown_keys() {
    for (const auto& [key, value] : object_.items()) {
      if (ignore_unknown_ || known_.count(key) != 0) continue;
      std::string names;
      for (const std::string& k : known_) names += (names.empty() ? "" : ", ") + k;
      errors_.push_back(fmt::format("key '{}': unknown key{}", full_key(key),
                                    names.empty() ? "" : "; the keys here are " + names));
    }
    for (auto& [key, children] : children_) {
      if (!children) continue;
      for (const std::unique_ptr<JsonTable>& c : *children) c->report_unknown_keys();
    }
  }

 private:
  using Children = std::vector<std::unique_ptr<JsonTable>>;

  std::string full_key(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const nlohmann::json* get(std::string_view key) {
    known_.emplace(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  template <typename T>
  T bad(std::string_view key, const nlohmann::json& v, std::string_view expected, T fallback) {
    errors_.push_back(
        fmt::format("key '{}': expected {}, got {}", full_key(key), expected, show_json(v)));
    return fallback;
  }
  std::optional<Children> read_tables(std::string_view key) {
    const nlohmann::json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_array()) {
      errors_.push_back(
          fmt::format("key '{}': expected an array of objects, got {}", full_key(key), show_json(*v)));
      return std::nullopt;
    }
    Children children;
    bool all = true;
    for (size_t i = 0; i < v->size(); ++i) {
      const std::string path = fmt::format("{}[{}]", full_key(key), i);
      if (!(*v)[i].is_object()) {
        errors_.push_back(fmt::format("key '{}': expected an object, got {}", path, show_json((*v)[i])));
        all = false;
        continue;
      }
      children.push_back(std::make_unique<JsonTable>((*v)[i], path, base_dir_, errors_));
    }
    if (!all) return std::nullopt;
    return children;
  }

  const nlohmann::json& object_;
  std::string path_;
  const std::string& base_dir_;
  std::vector<std::string>& errors_;
  std::set<std::string, std::less<>> known_;
  bool ignore_unknown_ = false;
  std::map<std::string, std::optional<Children>, std::less<>> children_;
};


}  // namespace sluice::runtime
