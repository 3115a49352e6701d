// Data substitution: `$Asset.datapoint$` references in delivery text, and value formatting.
#include "rules/substitution.h"

#include <array>
#include <charconv>
#include <cmath>
#include <variant>

namespace sluice::rules {

void append_value(std::string& out, const Value& value) {
  std::array<char, 32> buf{};  // the longest shortest-form double is 24 characters
  switch (value_type(value)) {
    case ValueType::kDouble: {
      const double x = std::get<double>(value);
      if (std::isnan(x)) {
        out += "nan";
        return;
      }
      const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), x);
      out.append(buf.data(), ec == std::errc() ? end : buf.data());
      return;
    }
    case ValueType::kInt64: {
      const auto [end, ec] =
          std::to_chars(buf.data(), buf.data() + buf.size(), std::get<int64_t>(value));
      out.append(buf.data(), ec == std::errc() ? end : buf.data());
      return;
    }
    case ValueType::kBool: out += std::get<bool>(value) ? "true" : "false"; return;
    case ValueType::kString: out += std::get<std::string>(value); return;
  }
}

std::string format_value(const Value& value) {
  std::string out;
  append_value(out, value);
  return out;
}

std::string substitute_with(std::string_view text, const Lookup& lookup, size_t* replaced) {
  std::string out;
  out.reserve(text.size());
  size_t count = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, dollar - i));
    if (dollar + 1 < text.size() && text[dollar + 1] == '$') {  // `$$`
      out += '$';
      i = dollar + 2;
      continue;
    }
    const size_t close = text.find('$', dollar + 1);
    if (close != std::string_view::npos &&
        lookup(text.substr(dollar + 1, close - dollar - 1), out)) {
      ++count;
      i = close + 1;
      continue;
    }
    out += '$';  // not a reference: keep it and go on after it
    i = dollar + 1;
  }
  if (replaced != nullptr) *replaced = count;
  return out;
}

std::string substitute(std::string_view text, std::span<const NamedValue> values) {
  return substitute_with(text, [values](std::string_view name, std::string& out) {
    const Value* v = find_value(values, name);
    if (v != nullptr) append_value(out, *v);
    return v != nullptr;
  });
}

}  // namespace sluice::rules
