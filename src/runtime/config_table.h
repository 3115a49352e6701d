// How a part of Sluice reads its own keys from the config file without knowing TOML: a
// ConfigTable is one table of the file (e.g. one [[sources]] entry). Each getter checks the
// value's type and range and, when it is wrong, records an error that names the file, line,
// column and key ("expected <what>, got <value>") and returns the fallback, so that the parser
// goes on and every error of the file is reported at once. Keys that no getter asked for are
// reported as unknown when the table is done, so a typo never passes silently. Arrays of tables
// inside a table ([[sources.subscriptions]]) are read as child ConfigTables, checked the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sample.h"

namespace sluice::runtime {

class ConfigTable {
 public:
  template <typename T>
  using Check = std::function<bool(const T&)>;

  virtual ~ConfigTable() = default;

  // The table's key path in messages, e.g. "store" or "sources[1]".
  virtual const std::string& path() const = 0;
  virtual bool has(std::string_view key) const = 0;

  // Each getter returns the key's value, or `fallback` when the key is absent or its value is
  // wrong (an error is then recorded). `expected` says what a good value is, as it should read
  // after "expected ": "a positive number of samples per second". `check`, if given, must
  // hold for the value too.
  virtual std::string string(std::string_view key, std::string fallback,
                             std::string_view expected = "a string",
                             const Check<std::string>& check = {}) = 0;
  virtual bool boolean(std::string_view key, bool fallback) = 0;
  // A TOML integer (a float is an error even when whole).
  virtual int64_t integer(std::string_view key, int64_t fallback, std::string_view expected,
                          const Check<int64_t>& check = {}) = 0;
  // A TOML integer or float.
  virtual double number(std::string_view key, double fallback, std::string_view expected,
                        const Check<double>& check = {}) = 0;
  // A byte count: a non-negative integer or a string such as "64MiB" (see runtime/units.h).
  virtual uint64_t size(std::string_view key, uint64_t fallback, std::string_view expected,
                        const Check<uint64_t>& check = {}) = 0;
  // A string such as "10ms" or "1h30m" (see runtime/units.h), or the integer 0.
  virtual std::chrono::nanoseconds duration(std::string_view key, std::chrono::nanoseconds fallback,
                                            std::string_view expected,
                                            const Check<std::chrono::nanoseconds>& check = {}) = 0;
  // A file or directory path; a relative one is taken from the config file's directory.
  virtual std::string file_path(std::string_view key, std::string fallback,
                                std::string_view expected = "a path") = 0;
  // An array of strings, e.g. sources = ["line1", "line2"]; each element must pass `check`.
  virtual std::vector<std::string> strings(std::string_view key, std::vector<std::string> fallback,
                                           std::string_view expected,
                                           const Check<std::string>& check = {}) = 0;
  // One of `choices` (exact, case-sensitive); returns its index, or `fallback`.
  virtual size_t choice(std::string_view key, size_t fallback,
                        std::initializer_list<std::string_view> choices) = 0;

  // A table of scalar values, e.g. values = { speed = 1200, run = true } (JSON: an object), each
  // as a Value: an integer an int64, any other number a double, a boolean, a string. In the
  // order the table keeps (TOML: by key; JSON: by key). nullopt when absent, or when it is not a
  // table of scalars (an error is then recorded).
  virtual std::optional<std::vector<std::pair<std::string, Value>>> values(
      std::string_view key, std::string_view expected) = 0;

  // The array of tables `key`, written [[<this table's header>.<key>]] (e.g.
  // [[sources.subscriptions]]) or key = [{...}, ...]: one ConfigTable per element, in file
  // order. An element's path is "<path>.<key>[i]" (i from 0), so its errors name the whole key,
  // e.g. "sources[1].subscriptions[2].qos", at the element's line. Its keys that no getter asked
  // for are reported as unknown together with this table's. The children belong to this table
  // and live as long as it does; asking again for the same key gives the same children.
  // Returns nullopt when the key is absent, or when it is not an array of tables (an error is
  // then recorded: at the value, or at each element that is not a table); an empty array gives
  // an empty list.
  using Tables = std::vector<std::reference_wrapper<ConfigTable>>;
  virtual std::optional<Tables> tables(std::string_view key) = 0;

  // Its keys are not reported as unknown: for a table whose `type` is missing or unknown, whose
  // other keys belong to a type we do not know (so one error, at `type`, says it all).
  virtual void ignore_unknown_keys() = 0;

  // Records an error about `key`, located at its value (or at the table if it is absent).
  // `message` is the whole text after "key '<path>.<key>': ".
  virtual void error(std::string_view key, std::string message) = 0;
};

}  // namespace sluice::runtime
