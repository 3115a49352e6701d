// Data substitution: the text of a delivery (a log line, a webhook body, an MQTT payload, a set
// point or operation parameter) with each `$Asset.datapoint$` replaced by the value that made
// the rule trigger (the window's average, min or max when the rule used one; see rule.h).
//
// Syntax:
// - `$name$` where `name` is a series among the values: replaced by its value. Literal text
//   around it stays as it is: `$MotorTemperature.temperature$00` gives `4500` for 45.
// - `$$` is one literal `$`.
// - Anything else is copied as it is: a `$name$` whose name is not among the values stays
//   `$name$` (so a mistyped name is visible in the delivery, not silently blank), and a lone
//   `$` stays `$`. After such a `$` the scan resumes at the next character, so in
//   `costs $5, now $Motor.speed$` the reference is still found.
// Values are formatted by format_value().
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/sample.h"
#include "rules/rule.h"

namespace sluice::rules {

// Numbers in the shortest form that reads back to the same double (45, 0.1, 1e+21, nan, inf,
// -inf), int64 in decimal, booleans `true`/`false`, strings as they are.
std::string format_value(const Value& value);
// Appends format_value(value) to `out`.
void append_value(std::string& out, const Value& value);

// `text` with its references replaced, as described above.
std::string substitute(std::string_view text, std::span<const NamedValue> values);

// The same scan with any source of values: `lookup(name, out)` appends the value of `name` to
// `out` and returns true, or returns false for a name it does not know (the reference then
// stays as written). `replaced`, if given, receives how many references were replaced. Scripts'
// `$param$` use it (control/script.h).
using Lookup = std::function<bool(std::string_view name, std::string& out)>;
std::string substitute_with(std::string_view text, const Lookup& lookup,
                            size_t* replaced = nullptr);

}  // namespace sluice::rules
