// The expression language of edge control (issue 7): the expression filter computes a new
// datapoint from others (`desiredSpeed = temperature > 20 ? temperature * 50 + 1200 : 0`) and the
// expression rule triggers while an expression is true. Text is compiled once into a flat postfix
// program; evaluating it reads datapoint values from slots and allocates nothing.
//
// Language
//   numbers      42  3.5  .5  1.  6.02e23  1E-3
//   booleans     true false                      (1 and 0)
//   datapoints   temperature  MotorTemperature.temperature  "Motor Temp.value"
//                (a quoted name may hold any character; \" and \\ escape a quote and a backslash)
//   operators, loosest first:
//     c ? a : b                 right-associative; only the chosen branch is evaluated
//     a || b   a or b           short-circuit, gives 1 or 0
//     a && b   a and b          short-circuit, gives 1 or 0
//     == !=                     give 1 or 0 (exact comparison of doubles)
//     < <= > >=                 give 1 or 0
//     + -
//     * / %                     % is fmod: the sign of the dividend
//     -a  !a  not a             prefix
//     a ^ b                     power, right-associative: 2^3^2 = 2^9, -2^2 = -(2^2)
//   functions: abs min max sqrt pow exp log log10 sin cos tan asin acos atan atan2 floor ceil
//     round clamp sign hypot isnan; min and max take 1 to 255 arguments, clamp(x, lo, hi).
//
// Values are doubles; a condition is true when it is not 0. NaN is never turned into a truth
// value: it propagates through arithmetic and functions (min, max and clamp included), a NaN
// condition makes `?:` give NaN, and `!NaN`, `NaN && x`, `NaN || x` give NaN. Comparisons follow
// IEEE 754: any comparison with NaN gives 0, except != which gives 1; isnan(x) tests for it.
// Division by zero follows IEEE 754 as well: x/0 is +-inf (NaN for 0/0), x%0 is NaN; nothing traps.
//
// Errors name what is wrong and the 1-based column (a byte offset into the text) where it is,
// e.g. "expected ')' at column 17", "unknown function 'sqr' at column 5 (did you mean 'sqrt'?)";
// caret_line() draws the position for a person.
//
// Limits (checked while compiling, refused with an error): text length kMaxTextBytes; nesting
// kMaxDepth, counted as the depth of the syntax tree (every operator or call on top of another
// is one level, so a chain of 300 additions is too deep too) and as parentheses open at once;
// function arguments kMaxArguments; evaluation stack kMaxStack; program size kMaxInstructions
// (a guard: text within kMaxTextBytes compiles to at most one operation per byte).
//
// Thread safety: a compiled Expression is immutable; evaluate() may be called from any number of
// threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice::rules {

inline constexpr size_t kMaxTextBytes = 64 * 1024;
inline constexpr size_t kMaxDepth = 256;
inline constexpr size_t kMaxArguments = 255;
inline constexpr size_t kMaxInstructions = 64 * 1024;
inline constexpr size_t kMaxStack = 512;  // doubles on evaluate()'s own stack frame (4 KiB)

// Maps a datapoint name, as written (quotes removed), to the index of the slot that will hold
// its value at evaluation, or refuses it with a Status whose message says why (the compiler adds
// the name and column). Called once per distinct name, in order of first use.
using Resolver = std::function<Result<uint32_t>(std::string_view name)>;

class Expression {
 public:
  // One instruction of the compiled program (exposed for tests that count them; not an API).
  struct Instruction {
    double constant = 0;  // kConstant
    uint32_t a = 0;       // slot, jump target or argument count
    uint32_t b = 0;       // second jump target (?: when the condition is NaN)
    uint8_t op = 0;
  };

  // An empty expression: evaluates to NaN, to_string() is "".
  Expression() = default;

  // Compiles `text`, resolving each datapoint through `resolve`. On failure, the Status is
  // kInvalidArgument with a message saying what is wrong and, where a position applies, "at
  // column N"; `*error_column` (when given) is set to N (0 when no position applies, e.g. the
  // text is too long).
  static Result<Expression> compile(std::string_view text, const Resolver& resolve,
                                    size_t* error_column = nullptr);
  // As above, with slots assigned 0, 1, 2 ... in order of first use: names()[i] is slot i.
  static Result<Expression> compile(std::string_view text, size_t* error_column = nullptr);

  // The datapoints the expression reads, ordered by slot (ties in order of first use).
  const std::vector<std::string>& names() const { return names_; }
  // The slot of names()[i].
  const std::vector<uint32_t>& slots() const { return slots_; }
  // evaluate() needs at least this many slots: 1 + the largest slot used (0 when none).
  size_t slot_count() const { return slot_count_; }

  // Runs the program over `slots` (indexed as the resolver decided). Allocates nothing, never
  // throws; returns NaN when `slots` is shorter than slot_count() or the expression is empty.
  double evaluate(std::span<const double> slots) const noexcept;
  // evaluate() != 0 and not NaN: what an expression rule triggers on.
  bool is_true(std::span<const double> slots) const noexcept;

  // The canonical text, fully parenthesized, e.g. "((a + 1) > 2)"; it compiles to the same
  // program and prints the same again.
  const std::string& to_string() const { return canonical_; }

  const std::vector<Instruction>& program() const { return program_; }
  // The evaluation stack entries the program needs (<= kMaxStack).
  size_t stack_size() const { return stack_size_; }

 private:
  friend class Compiler;
  std::vector<Instruction> program_;
  std::vector<std::string> names_;
  std::vector<uint32_t> slots_;
  size_t slot_count_ = 0;
  size_t stack_size_ = 0;
  std::string canonical_;
};

// The text on one line and a caret under `column` (1-based byte offset, as in errors) on the
// next, for showing an error to a person:
//   temperature > 20 ? 1
//                       ^
// Tabs and line breaks in the text are shown as spaces; the caret counts UTF-8 characters. A
// column past the end points just after the last character.
std::string caret_line(std::string_view text, size_t column);

}  // namespace sluice::rules
