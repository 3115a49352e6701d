// The data model: a Sample is one time-stamped value of one series; a Batch is the samples that
// arrive together and the unit of appending, forwarding and acknowledging. Series metadata
// (unit, labels, ...) lives in the state database, not in every sample.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "core/quality.h"

namespace sluice {

// Nanoseconds since the Unix epoch, source time.
using Timestamp = int64_t;

enum class ValueType : uint8_t { kDouble = 0, kInt64 = 1, kBool = 2, kString = 3 };

// The index of each alternative equals its ValueType.
using Value = std::variant<double, int64_t, bool, std::string>;

inline ValueType value_type(const Value& v) { return static_cast<ValueType>(v.index()); }
const char* value_type_name(ValueType t);

// Exact equality: doubles compare by bit pattern, so NaN == NaN and -0.0 != 0.0. This is the
// equality a round trip through the store must preserve.
bool identical(const Value& a, const Value& b);

struct Sample {
  std::string series;  // e.g. "Channel1.Device1.Tag1" or "<asset>.<datapoint>"
  Timestamp ts = 0;
  Value value = 0.0;
  Quality quality = quality::kGood;

  friend bool identical(const Sample& a, const Sample& b) {
    return a.series == b.series && a.ts == b.ts && a.quality == b.quality &&
           identical(a.value, b.value);
  }
};

struct Batch {
  std::vector<Sample> samples;

  size_t size() const { return samples.size(); }
  bool empty() const { return samples.empty(); }
};

bool identical(const Batch& a, const Batch& b);

// Context for a series, kept once in the state database. Labels are key=value pairs as in
// Prometheus; `source` names the service that ingests the series.
struct SeriesMeta {
  std::string name;
  std::string unit;
  std::string description;
  ValueType type = ValueType::kDouble;
  std::map<std::string, std::string> labels;
  std::string source;
};

}  // namespace sluice
