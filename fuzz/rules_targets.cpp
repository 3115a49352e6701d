// Fuzz target bodies for the rules engine's parsers (see rules_targets.h).
#include "fuzz/rules_targets.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <vector>

#include "rules/expr.h"

namespace sluice::fuzz {

int rules_expr(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t column = 0;
  Result<rules::Expression> e = rules::Expression::compile(text, &column);
  if (!e.ok()) {
    if (e.status().message().empty() || column > text.size() + 1) abort();
    (void)rules::caret_line(text, column);
    return 0;
  }
  // A spread of values: ordinary, zero, negative, huge, infinite, NaN.
  constexpr double kValues[] = {21.5,
                                0.0,
                                -3.0,
                                1e300,
                                std::numeric_limits<double>::infinity(),
                                std::numeric_limits<double>::quiet_NaN(),
                                2.0};
  std::vector<double> slots(e->slot_count());
  for (size_t i = 0; i < slots.size(); ++i) slots[i] = kValues[i % std::size(kValues)];
  const double value = e->evaluate(slots);
  if (e->stack_size() > rules::kMaxStack) abort();
  // The canonical text may outgrow the length limit (parentheses and spaces); only then may it
  // be refused.
  if (e->to_string().size() > rules::kMaxTextBytes) return 0;
  Result<rules::Expression> again = rules::Expression::compile(e->to_string());
  if (!again.ok() || again->to_string() != e->to_string() || again->names() != e->names()) abort();
  const double value_again = again->evaluate(slots);
  const bool same = (std::isnan(value) && std::isnan(value_again)) || value == value_again;
  if (!same) abort();
  return 0;
}

}  // namespace sluice::fuzz
