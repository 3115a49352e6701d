// Value helpers for the data model.
#include "core/sample.h"

#include <cstring>

namespace sluice {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kDouble: return "double";
    case ValueType::kInt64: return "int64";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
  }
  return "unknown";
}

bool identical(const Value& a, const Value& b) {
  if (a.index() != b.index()) return false;
  if (const double* da = std::get_if<double>(&a)) {
    const double db = std::get<double>(b);
    return std::memcmp(da, &db, sizeof(double)) == 0;
  }
  return a == b;
}

bool identical(const Batch& a, const Batch& b) {
  if (a.samples.size() != b.samples.size()) return false;
  for (size_t i = 0; i < a.samples.size(); ++i) {
    if (!identical(a.samples[i], b.samples[i])) return false;
  }
  return true;
}

}  // namespace sluice
