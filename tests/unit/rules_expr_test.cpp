// The expression language (rules/expr.h): what each operator and function computes, precedence,
// short-circuits, names, every error with its column, the limits, evaluation without allocation,
// a property test against a recursive reference evaluator, and the fuzz corpus replay.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/test_support.h"
#include "fuzz/rules_targets.h"
#include "rules/expr.h"

// Counts every allocation of this test program, to prove that evaluate() makes none.
namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

// Every plain form is replaced, so that a sanitizer's own allocator never frees what this one
// allocated (the aligned forms stay the runtime's, in pairs).
namespace {
void* counted_alloc(size_t size) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* counted_alloc_or_throw(size_t size) {
  if (void* p = counted_alloc(size)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t size) { return counted_alloc_or_throw(size); }
void* operator new[](size_t size) { return counted_alloc_or_throw(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return counted_alloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace sluice::rules {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Expression compiled(std::string_view text) {
  Result<Expression> e = Expression::compile(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().message();
  return e.ok() ? std::move(e).value() : Expression();
}

double eval(std::string_view text, const std::vector<double>& slots = {}) {
  return compiled(text).evaluate(slots);
}

std::string canonical(std::string_view text) { return compiled(text).to_string(); }

// Compiles text that must be refused; returns the message and the column.
std::pair<std::string, size_t> refusal(std::string_view text) {
  size_t column = 12345;
  Result<Expression> e = Expression::compile(text, &column);
  EXPECT_FALSE(e.ok()) << text << " compiled to " << (e.ok() ? e->to_string() : "");
  if (e.ok()) return {"", column};
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  return {e.status().message(), column};
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// --- precedence and associativity ---------------------------------------------------------

TEST(ExprPrecedence, MultiplicationBindsTighterThanAddition) {
  EXPECT_EQ(eval("1 + 2 * 3"), 7);
  EXPECT_EQ(eval("(1 + 2) * 3"), 9);
  EXPECT_EQ(canonical("1 + 2 * 3"), "(1 + (2 * 3))");
  EXPECT_EQ(canonical("1 * 2 + 3 % 4 / 5"), "((1 * 2) + ((3 % 4) / 5))");
}

TEST(ExprPrecedence, SubtractionAndDivisionAreLeftAssociative) {
  EXPECT_EQ(eval("10 - 4 - 3"), 3);
  EXPECT_EQ(eval("100 / 10 / 5"), 2);
  EXPECT_EQ(eval("17 % 10 % 4"), 3);
  EXPECT_EQ(canonical("a - b - c"), "((a - b) - c)");
}

TEST(ExprPrecedence, PowerIsRightAssociativeAndBindsTighterThanUnaryMinus) {
  EXPECT_EQ(eval("2 ^ 3 ^ 2"), 512);
  EXPECT_EQ(eval("-2 ^ 2"), -4);
  EXPECT_EQ(eval("2 ^ -1"), 0.5);
  EXPECT_EQ(eval("2 * 3 ^ 2"), 18);
  EXPECT_EQ(canonical("2 ^ 3 ^ 2"), "(2 ^ (3 ^ 2))");
  EXPECT_EQ(canonical("-2 ^ 2"), "(-(2 ^ 2))");
  EXPECT_EQ(canonical("2 ^ -x ^ 2"), "(2 ^ (-(x ^ 2)))");
}

TEST(ExprPrecedence, ComparisonsBindLooserThanArithmeticAndEqualityLooserStill) {
  EXPECT_EQ(eval("1 + 1 > 1"), 1);
  EXPECT_EQ(eval("1 < 2 == 2 < 3"), 1);
  EXPECT_EQ(canonical("a + 1 < b == c >= d"), "(((a + 1) < b) == (c >= d))");
  EXPECT_EQ(eval("3 > 2 > 1"), 0);  // (3 > 2) > 1 is 1 > 1
}

TEST(ExprPrecedence, AndBindsTighterThanOrAndTernaryIsLoosest) {
  EXPECT_EQ(eval("1 || 0 && 0"), 1);
  EXPECT_EQ(eval("(1 || 0) && 0"), 0);
  EXPECT_EQ(canonical("a and b or not c"), "((a && b) || (!c))");
  EXPECT_EQ(canonical("a || b ? c : d"), "((a || b) ? c : d)");
}

TEST(ExprPrecedence, TernaryIsRightAssociative) {
  EXPECT_EQ(canonical("a ? b : c ? d : e"), "(a ? b : (c ? d : e))");
  EXPECT_EQ(canonical("a ? b ? c : d : e"), "(a ? (b ? c : d) : e)");
  EXPECT_EQ(eval("false ? 1 : false ? 2 : 3"), 3);
  EXPECT_EQ(eval("true ? 1 : false ? 2 : 3"), 1);
  EXPECT_EQ(eval("false ? 1 : true ? 2 : 3"), 2);
}

TEST(ExprPrecedence, PrefixOperatorsApplyToTheNextFactor) {
  EXPECT_EQ(eval("!0 + 1"), 2);
  EXPECT_EQ(eval("not 1 == 0"), 1);  // (not 1) == 0
  EXPECT_EQ(eval("--3"), 3);
  EXPECT_EQ(eval("-3 * -2"), 6);
  EXPECT_EQ(canonical("!!x"), "(!(!x))");
}

// --- every operator -------------------------------------------------------------------------

struct Case {
  const char* text;
  double expected;
};

TEST(ExprOperators, EachOperatorComputesItsValue) {
  const Case cases[] = {
      {"7 + 2", 9},
      {"7 - 2", 5},
      {"7 * 2", 14},
      {"7 / 2", 3.5},
      {"7 % 2", 1},
      {"-7 % 2", -1},
      {"7.5 % 2", 1.5},
      {"2 ^ 10", 1024},
      {"-7", -7},
      {"!0", 1},
      {"!5", 0},
      {"not 0", 1},
      {"1 < 2", 1},
      {"2 < 2", 0},
      {"2 <= 2", 1},
      {"3 <= 2", 0},
      {"3 > 2", 1},
      {"2 > 2", 0},
      {"2 >= 2", 1},
      {"1 >= 2", 0},
      {"2 == 2", 1},
      {"2 == 3", 0},
      {"2 != 3", 1},
      {"2 != 2", 0},
      {"2 && 3", 1},
      {"2 && 0", 0},
      {"0 && 2", 0},
      {"2 and 3", 1},
      {"0 || 0", 0},
      {"0 || 4", 1},
      {"4 || 0", 1},
      {"0 or 4", 1},
      {"1 ? 10 : 20", 10},
      {"0 ? 10 : 20", 20},
      {"-1 ? 10 : 20", 10},
      {"true", 1},
      {"false", 0},
      {"1.5e3", 1500},
      {"2E-2", 0.02},
      {".5", 0.5},
      {"5.", 5},
      {"1e+2", 100},
  };
  for (const Case& c : cases) EXPECT_EQ(eval(c.text), c.expected) << c.text;
}

TEST(ExprOperators, DivisionByZeroFollowsIeee) {
  EXPECT_EQ(eval("1 / 0"), kInf);
  EXPECT_EQ(eval("-1 / 0"), -kInf);
  EXPECT_TRUE(std::isnan(eval("0 / 0")));
  EXPECT_TRUE(std::isnan(eval("5 % 0")));
  EXPECT_EQ(eval("1 / 0 > 1e308"), 1);
}

TEST(ExprOperators, NanPropagatesThroughArithmeticLogicAndConditions) {
  const std::vector<double> nan{kNaN};
  EXPECT_TRUE(std::isnan(eval("x + 1", nan)));
  EXPECT_TRUE(std::isnan(eval("-x", nan)));
  EXPECT_TRUE(std::isnan(eval("!x", nan)));
  EXPECT_TRUE(std::isnan(eval("x && 1", nan)));
  EXPECT_TRUE(std::isnan(eval("x || 1", nan)));
  EXPECT_TRUE(std::isnan(eval("1 && x", nan)));
  EXPECT_TRUE(std::isnan(eval("0 || x", nan)));
  EXPECT_TRUE(std::isnan(eval("x ? 1 : 2", nan)));
  EXPECT_TRUE(std::isnan(eval("max(1, x, 3)", nan)));
  EXPECT_TRUE(std::isnan(eval("min(x)", nan)));
  EXPECT_TRUE(std::isnan(eval("clamp(x, 0, 1)", nan)));
  EXPECT_TRUE(std::isnan(eval("clamp(1, x, 2)", nan)));
  EXPECT_TRUE(std::isnan(eval("sign(x)", nan)));
  // Comparisons are IEEE: false, except !=.
  EXPECT_EQ(eval("x > 1", nan), 0);
  EXPECT_EQ(eval("x == x", nan), 0);
  EXPECT_EQ(eval("x != x", nan), 1);
  EXPECT_EQ(eval("isnan(x)", nan), 1);
  EXPECT_EQ(eval("isnan(x) ? 0 : x", nan), 0);
  EXPECT_FALSE(compiled("x").is_true(nan));
}

// --- every function -------------------------------------------------------------------------

TEST(ExprFunctions, EachFunctionComputesItsValue) {
  const Case cases[] = {
      {"abs(-2.5)", 2.5},
      {"min(3)", 3},
      {"min(3, 1, 2)", 1},
      {"max(3, 1, 2)", 3},
      {"max(-1, -5)", -1},
      {"sqrt(16)", 4},
      {"pow(2, 8)", 256},
      {"exp(0)", 1},
      {"log(1)", 0},
      {"log10(1000)", 3},
      {"sin(0)", 0},
      {"cos(0)", 1},
      {"tan(0)", 0},
      {"asin(1)", std::asin(1.0)},
      {"acos(1)", 0},
      {"atan(1)", std::atan(1.0)},
      {"atan2(1, -1)", std::atan2(1.0, -1.0)},
      {"floor(-1.5)", -2},
      {"ceil(-1.5)", -1},
      {"round(2.5)", 3},
      {"round(-2.5)", -3},
      {"clamp(5, 0, 3)", 3},
      {"clamp(-5, 0, 3)", 0},
      {"clamp(2, 0, 3)", 2},
      {"sign(-4)", -1},
      {"sign(4)", 1},
      {"sign(0)", 0},
      {"hypot(3, 4)", 5},
      {"isnan(1)", 0},
      {"isnan(0 / 0)", 1},
      {"log(exp(2))", 2},
  };
  for (const Case& c : cases) EXPECT_DOUBLE_EQ(eval(c.text), c.expected) << c.text;
  EXPECT_TRUE(std::isnan(eval("sqrt(-1)")));
  EXPECT_TRUE(std::isnan(eval("log(-1)")));
}

TEST(ExprFunctions, MaxTakesAsManyArgumentsAsTheLimitAllows) {
  std::string text = "max(0";
  for (int i = 1; i < static_cast<int>(kMaxArguments); ++i) text += "," + std::to_string(i);
  text += ")";
  EXPECT_EQ(eval(text), kMaxArguments - 1);
}

// --- short-circuit --------------------------------------------------------------------------

TEST(ExprShortCircuit, UnevaluatedOperandsCannotSpoilTheResult) {
  EXPECT_EQ(eval("0 && 1 / 0"), 0);
  EXPECT_EQ(eval("0 && 0 / 0"), 0);  // 0/0 evaluated would give NaN
  EXPECT_EQ(eval("1 || 0 / 0"), 1);
  EXPECT_EQ(eval("1 ? 5 : 0 / 0"), 5);
  EXPECT_EQ(eval("0 ? sqrt(-1) : 7"), 7);
  EXPECT_EQ(eval("x > 0 ? 100 / x : -1", {0.0}), -1);
  EXPECT_EQ(eval("x != 0 && 100 / x > 1", {0.0}), 0);
  // And the operand is used when it is reached.
  EXPECT_TRUE(std::isnan(eval("1 && 0 / 0")));
  EXPECT_TRUE(std::isnan(eval("0 ? 1 : 0 / 0")));
}

TEST(ExprShortCircuit, ProgramJumpsOverTheSkippedBranch) {
  // Proof that the skipped branch is not run: a branch of many operations costs one jump.
  const Expression e = compiled("c ? a : (a + a + a + a + a + a + a + a)");
  EXPECT_EQ(e.evaluate(std::vector<double>{1, 2}), 2);
  EXPECT_EQ(e.evaluate(std::vector<double>{0, 2}), 16);
  EXPECT_GT(e.program().size(), 15u);
}

// --- the issue's example --------------------------------------------------------------------

TEST(ExprIssueExample, DesiredSpeedFollowsTemperatureAboveTwenty) {
  const Expression e = compiled("temperature > 20 ? temperature * 50 + 1200 : 0");
  ASSERT_EQ(e.names(), std::vector<std::string>{"temperature"});
  const std::pair<double, double> cases[] = {
      {-5, 0}, {0, 0}, {19.9, 0}, {20, 0}, {20.5, 2225}, {35, 2950}, {80, 5200},
  };
  for (const auto& [temperature, speed] : cases) {
    EXPECT_DOUBLE_EQ(e.evaluate(std::vector<double>{temperature}), speed) << temperature;
  }
  EXPECT_EQ(e.evaluate(std::vector<double>{kNaN}), 0);  // NaN > 20 is false
  EXPECT_EQ(e.to_string(), "((temperature > 20) ? ((temperature * 50) + 1200) : 0)");
}

TEST(ExprIssueExample, RuleTriggersWhileTheExpressionIsTrue) {
  const Expression rule = compiled("MotorTemperature.temperature > 35 and Fan.coil == 0");
  EXPECT_TRUE(rule.is_true(std::vector<double>{36, 0}));
  EXPECT_FALSE(rule.is_true(std::vector<double>{36, 1}));
  EXPECT_FALSE(rule.is_true(std::vector<double>{34, 0}));
}

// --- names ----------------------------------------------------------------------------------

TEST(ExprNames, DottedNamesAreOneDatapoint) {
  const Expression e = compiled("MotorTemperature.temperature + Motor.a.b_2 * 2");
  EXPECT_EQ(e.names(), (std::vector<std::string>{"MotorTemperature.temperature", "Motor.a.b_2"}));
  EXPECT_EQ(e.evaluate(std::vector<double>{1, 3}), 7);
  EXPECT_EQ(e.to_string(), "(MotorTemperature.temperature + (Motor.a.b_2 * 2))");
}

TEST(ExprNames, QuotedNamesMayHoldAnyCharacter) {
  const Expression e = compiled(R"("Motor Temp.value" - "a \"b\" \\ c" + "and")");
  EXPECT_EQ(e.names(), (std::vector<std::string>{"Motor Temp.value", R"(a "b" \ c)", "and"}));
  EXPECT_EQ(e.evaluate(std::vector<double>{10, 3, 1}), 8);
  EXPECT_EQ(e.to_string(), R"((("Motor Temp.value" - "a \"b\" \\ c") + "and"))");
  // A quoted name that needs no quotes prints without them.
  EXPECT_EQ(canonical(R"("plain.name" * 2)"), "(plain.name * 2)");
}

TEST(ExprNames, SlotsFollowFirstUseAndRepeatsShareASlot) {
  const Expression e = compiled("b + a * b - c / a");
  EXPECT_EQ(e.names(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(e.slot_count(), 3u);
  EXPECT_EQ(e.evaluate(std::vector<double>{2, 4, 8}), 2 + 4 * 2 - 8.0 / 4);
}

TEST(ExprNames, AFunctionNameWithoutParenthesesIsADatapoint) {
  EXPECT_EQ(eval("sqrt + 1", {2}), 3);
}

TEST(ExprNames, ResolverDecidesSlotsAndMayRefuse) {
  int calls = 0;
  const Resolver resolve = [&calls](std::string_view name) -> Result<uint32_t> {
    ++calls;
    if (name == "speed") return uint32_t{5};
    if (name == "temp") return uint32_t{2};
    return not_found("no such datapoint in asset Motor");
  };
  Result<Expression> e = Expression::compile("speed * temp + speed", resolve);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(e->names(), (std::vector<std::string>{"temp", "speed"}));
  EXPECT_EQ(e->slots(), (std::vector<uint32_t>{2, 5}));
  EXPECT_EQ(e->slot_count(), 6u);
  EXPECT_EQ(e->evaluate(std::vector<double>{0, 0, 3, 0, 0, 4}), 16);
  // Too few slots: NaN, not a read out of bounds.
  EXPECT_TRUE(std::isnan(e->evaluate(std::vector<double>{0, 0, 3})));

  size_t column = 0;
  Result<Expression> refused = Expression::compile("speed + rpm", resolve, &column);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "datapoint 'rpm' at column 9: no such datapoint in asset Motor");
  EXPECT_EQ(column, 9u);
}

TEST(ExprNames, EmptyExpressionObjectEvaluatesToNan) {
  const Expression e;
  EXPECT_TRUE(std::isnan(e.evaluate({})));
  EXPECT_EQ(e.to_string(), "");
}

// --- errors ---------------------------------------------------------------------------------

struct ErrorCase {
  std::string text;
  std::string message;
  size_t column;
};

TEST(ExprErrors, EachErrorSaysWhatAndWhere) {
  const ErrorCase cases[] = {
      {"(temperature + 1", "expected ')' at column 17", 17},
      {"(a + b c", "expected ')' at column 8, found 'c'", 8},
      {"1 + sqr(4)", "unknown function 'sqr' at column 5 (did you mean 'sqrt'?)", 5},
      {"SQRT(4)", "unknown function 'SQRT' at column 1 (did you mean 'sqrt'?)", 1},
      {"frobnicate(4)", "unknown function 'frobnicate' at column 1", 1},
      {"max()", "'max' needs at least 1 argument at column 1", 1},
      {"2 * atan2(1)", "'atan2' needs 2 arguments, got 1 at column 5", 5},
      {"sqrt(1, 2)", "'sqrt' needs 1 argument, got 2 at column 1", 1},
      {"clamp(1, 2)", "'clamp' needs 3 arguments, got 2 at column 1", 1},
      {"1 +", "unexpected end of expression at column 4", 4},
      {"-", "unexpected end of expression at column 2", 2},
      {"", "empty expression", 1},
      {"  \t", "empty expression", 1},
      {"1 2", "unexpected '2' at column 3", 3},
      {"a b", "unexpected 'b' at column 3", 3},
      {")", "unexpected ')' at column 1", 1},
      {"1 + * 2", "unexpected '*' at column 5", 5},
      {"a = 1", "unexpected '=' at column 3 (did you mean '=='?)", 3},
      {"a & b", "unexpected '&' at column 3 (did you mean '&&'?)", 3},
      {"a | b", "unexpected '|' at column 3 (did you mean '||'?)", 3},
      {"1 # 2", "unexpected character '#' at column 3", 3},
      {"1 \x01", "unexpected character byte 0x01 at column 3", 3},
      {"1.2.3", "malformed number '1.2.3' at column 1", 1},
      {"x + 2x", "malformed number '2x' at column 5", 5},
      {"1e", "malformed number '1e' at column 1", 1},
      {"0x0", "malformed number '0x0' at column 1", 1},
      {"1e999", "number '1e999' is out of range at column 1", 1},
      {"\"abc", "unterminated quoted name at column 1 (missing '\"')", 1},
      {"1 + \"abc\\", "unterminated quoted name at column 5 (missing '\"')", 5},
      {"\"\"", "empty quoted name at column 1", 1},
      {"\"a\\n\"",
       "unknown escape '\\n' in a quoted name at column 3 (only \\\" and \\\\ are escapes)", 3},
      {"a ? b", "expected ':' at column 6", 6},
      {"a ? b c", "expected ':' at column 7, found 'c'", 7},
      {"max(1, 2", "expected ')' at column 9", 9},
      {"max(1 2)", "expected ',' or ')' at column 7, found '2'", 7},
      {"max(1,)", "unexpected ')' at column 7", 7},
      {"(a", "expected ')' at column 3", 3},
      {"a.", "unexpected character '.' at column 2", 2},
      {"\"f\"(1)", "unexpected '(' at column 4", 4},
  };
  for (const ErrorCase& c : cases) {
    const auto [message, column] = refusal(c.text);
    EXPECT_EQ(message, c.message) << c.text;
    EXPECT_EQ(column, c.column) << c.text;
  }
}

TEST(ExprErrors, ColumnsCountBytesAcrossLineBreaks) {
  const auto [message, column] = refusal("1 +\n  sqr(2)");
  EXPECT_EQ(message, "unknown function 'sqr' at column 7 (did you mean 'sqrt'?)");
  EXPECT_EQ(column, 7u);
  EXPECT_EQ(caret_line("1 +\n  sqr(2)", column), "1 +   sqr(2)\n      ^");
}

TEST(ExprCanonical, NumbersPrintShortestAndCompileBack) {
  EXPECT_EQ(canonical("1e300 + 0.1 + 1.50 + 100"), "(((1e+300 + 0.1) + 1.5) + 100)");
  EXPECT_EQ(canonical("true != false"), "(true != false)");
  const std::string once = canonical("a.5 + \"x y\" * max(1, 2 ^ 3)");
  EXPECT_EQ(once, "(a.5 + (\"x y\" * max(1, (2 ^ 3))))");
  EXPECT_EQ(canonical(once), once);
}

TEST(ExprErrors, CaretLinePointsAtTheColumn) {
  EXPECT_EQ(caret_line("1 + sqr(4)", 5), "1 + sqr(4)\n    ^");
  EXPECT_EQ(caret_line("(a", 3), "(a\n  ^");     // just past the end
  EXPECT_EQ(caret_line("a\tb", 3), "a b\n  ^");  // tabs shown as spaces
  // UTF-8: "é" is two bytes but one place on screen.
  EXPECT_EQ(caret_line("\"\xC3\xA9\" #", 6), "\"\xC3\xA9\" #\n    ^");
  EXPECT_EQ(caret_line("ab", 99), "ab\n  ^");
}

// --- limits ---------------------------------------------------------------------------------

TEST(ExprLimits, NestingUpToTheLimitCompilesAndBeyondIsRefused) {
  const size_t ok_depth = kMaxDepth - 1;
  EXPECT_EQ(eval(std::string(ok_depth, '(') + "1" + std::string(ok_depth, ')')), 1);
  const std::string deep = std::string(kMaxDepth + 1, '(') + "1" + std::string(kMaxDepth + 1, ')');
  EXPECT_EQ(refusal(deep).first,
            "expression nested deeper than 256 levels at column " + std::to_string(kMaxDepth + 1));
  EXPECT_EQ(eval(std::string(200, '-') + "1"), 1);
  EXPECT_NE(refusal(std::string(300, '-') + "1").first.find("nested deeper than 256 levels"),
            std::string::npos);
  // Far beyond: the parser's recursion stops before the stack does.
  EXPECT_NE(refusal(std::string(60000, '(')).first.find("nested deeper than 256 levels"),
            std::string::npos);
  EXPECT_NE(refusal(std::string(60000, '!') + "1").first.find("nested deeper than 256 levels"),
            std::string::npos);
  std::string power = "2";
  for (int i = 0; i < 1000; ++i) power += "^2";
  EXPECT_NE(refusal(power).first.find("nested deeper"), std::string::npos);
}

TEST(ExprLimits, ALongChainOfOperatorsCountsAsNesting) {
  std::string sum = "1";
  for (size_t i = 1; i < kMaxDepth; ++i) sum += "+1";
  EXPECT_EQ(eval(sum), static_cast<double>(kMaxDepth));
  sum += "+1";
  EXPECT_NE(refusal(sum).first.find("nested deeper than 256 levels"), std::string::npos);
  // Split with parentheses or max(), it fits.
  EXPECT_EQ(eval("(" + std::string(sum, 0, 201) + ")+(" + std::string(sum, 0, 201) + ")"), 202);
}

TEST(ExprLimits, HugeInputIsRefusedBeforeParsing) {
  const std::string huge(kMaxTextBytes + 1, '1');
  const auto [message, column] = refusal(huge);
  EXPECT_EQ(message, "expression is 65537 bytes long; at most 65536 are allowed");
  EXPECT_EQ(column, 0u);
  // Just inside the limit: a long number of ones (out of range) is still a parse error.
  EXPECT_NE(refusal(std::string(kMaxTextBytes, '1')).first.find("out of range"), std::string::npos);
}

TEST(ExprLimits, TooManyArgumentsIsRefused) {
  std::string text = "min(0";
  for (size_t i = 1; i <= kMaxArguments; ++i) text += ",1";
  text += ")";
  EXPECT_EQ(refusal(text).first, "too many arguments to 'min' (at most 255) at column " +
                                     std::to_string(5 + 2 * kMaxArguments));
}

TEST(ExprLimits, StackBeyondTheLimitIsRefused) {
  // Each level keeps 200 values while the next computes: three levels need over 512.
  auto level = [](const std::string& inner) {
    std::string s = "max(";
    for (int i = 0; i < 200; ++i) s += "1,";
    return s + inner + ")";
  };
  const Expression two = compiled(level(level("7")));
  EXPECT_EQ(two.stack_size(), 401u);
  EXPECT_EQ(two.evaluate({}), 7);
  EXPECT_EQ(refusal(level(level(level("7")))).first,
            "expression is too large: it needs more than 512 values at once (fewer function "
            "arguments or less nesting)");
}

// --- evaluation cost ------------------------------------------------------------------------

TEST(ExprEvaluate, AllocatesNothing) {
  const Expression e =
      compiled("t > 20 ? max(t * 50 + 1200, hypot(a, b), clamp(a, 0, 9)) : (a && b) || !c ^ 2 % 3");
  const std::vector<double> slots{25, 3, 4, 0};
  double sum = 0;
  const size_t before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) sum += e.evaluate(slots);
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_EQ(sum, 1000 * 2450.0);
}

// --- property: compiled evaluation equals a recursive reference ---------------------------

// A random expression as a tree, rendered fully parenthesized and evaluated recursively.
struct Tree {
  enum Kind { kNumber, kVariable, kUnary, kBinary, kTernary, kCall } kind = kNumber;
  double number = 0;
  int variable = 0;
  std::string op;  // operator or function name
  std::vector<Tree> kids;
};

constexpr int kVariables = 4;
const char* const kBinaryOps[] = {
    "+", "-", "*", "/", "%", "^", "<", "<=", ">", ">=", "==", "!=", "&&", "||", "and", "or"};
const char* const kUnaryOps[] = {"-", "!", "not "};
const char* const kUnaryFunctions[] = {"abs",  "sqrt",  "exp",  "log",  "log10", "sin",
                                       "cos",  "tan",   "asin", "acos", "atan",  "floor",
                                       "ceil", "round", "sign", "isnan"};
const char* const kBinaryFunctions[] = {"pow", "atan2", "hypot"};
const double kConstants[] = {0, 1, 2, 0.5, 3.25, 10, 100, 1e300, 7};

// Uniform in [0, n) whatever rapidcheck's current size (which would favour small values early).
size_t pick(size_t n) { return *rc::gen::resize(100, rc::gen::inRange<size_t>(0, n)); }

Tree random_tree(int depth) {
  const size_t kind = pick(depth <= 0 ? 2 : 6);
  Tree t;
  switch (kind) {
    case 0:
      t.kind = Tree::kNumber;
      t.number = kConstants[pick(std::size(kConstants))];
      break;
    case 1:
      t.kind = Tree::kVariable;
      t.variable = static_cast<int>(pick(kVariables));
      break;
    case 2:
      t.kind = Tree::kUnary;
      t.op = kUnaryOps[pick(std::size(kUnaryOps))];
      t.kids.push_back(random_tree(depth - 1));
      break;
    case 3:
      t.kind = Tree::kBinary;
      t.op = kBinaryOps[pick(std::size(kBinaryOps))];
      t.kids.push_back(random_tree(depth - 1));
      t.kids.push_back(random_tree(depth - 1));
      break;
    case 4:
      t.kind = Tree::kTernary;
      for (int i = 0; i < 3; ++i) t.kids.push_back(random_tree(depth - 1));
      break;
    default: {
      t.kind = Tree::kCall;
      const size_t shape = pick(5);
      int arity = 1;
      if (shape == 0) {
        t.op = kUnaryFunctions[pick(std::size(kUnaryFunctions))];
      } else if (shape == 1) {
        t.op = kBinaryFunctions[pick(std::size(kBinaryFunctions))];
        arity = 2;
      } else if (shape == 2) {
        t.op = "clamp";
        arity = 3;
      } else {
        t.op = shape == 3 ? "min" : "max";
        arity = 1 + static_cast<int>(pick(4));
      }
      for (int i = 0; i < arity; ++i) t.kids.push_back(random_tree(depth - 1));
      break;
    }
  }
  return t;
}

std::string render(const Tree& t) {
  switch (t.kind) {
    case Tree::kNumber: {
      std::ostringstream out;
      out.precision(17);
      out << t.number;
      return out.str();
    }
    case Tree::kVariable: return "v" + std::to_string(t.variable);
    case Tree::kUnary: return "(" + t.op + render(t.kids[0]) + ")";
    case Tree::kBinary: return "(" + render(t.kids[0]) + " " + t.op + " " + render(t.kids[1]) + ")";
    case Tree::kTernary:
      return "(" + render(t.kids[0]) + " ? " + render(t.kids[1]) + " : " + render(t.kids[2]) + ")";
    case Tree::kCall: {
      std::string s = t.op + "(";
      for (size_t i = 0; i < t.kids.size(); ++i) s += (i > 0 ? ", " : "") + render(t.kids[i]);
      return s + ")";
    }
  }
  return "";
}

double logic(double v) { return std::isnan(v) ? v : (v != 0 ? 1.0 : 0.0); }

double reference(const Tree& t, const std::vector<double>& v) {
  switch (t.kind) {
    case Tree::kNumber: return t.number;
    case Tree::kVariable: return v[static_cast<size_t>(t.variable)];
    case Tree::kUnary: {
      const double x = reference(t.kids[0], v);
      if (t.op == "-") return -x;
      return std::isnan(x) ? x : (x == 0 ? 1.0 : 0.0);
    }
    case Tree::kTernary: {
      const double c = reference(t.kids[0], v);
      if (std::isnan(c)) return c;
      return c != 0 ? reference(t.kids[1], v) : reference(t.kids[2], v);
    }
    case Tree::kBinary: {
      const double a = reference(t.kids[0], v);
      if (t.op == "&&" || t.op == "and") {
        if (std::isnan(a) || a == 0) return std::isnan(a) ? a : 0.0;
        return logic(reference(t.kids[1], v));
      }
      if (t.op == "||" || t.op == "or") {
        if (std::isnan(a) || a != 0) return std::isnan(a) ? a : 1.0;
        return logic(reference(t.kids[1], v));
      }
      const double b = reference(t.kids[1], v);
      if (t.op == "+") return a + b;
      if (t.op == "-") return a - b;
      if (t.op == "*") return a * b;
      if (t.op == "/") return a / b;
      if (t.op == "%") return std::fmod(a, b);
      if (t.op == "^") return std::pow(a, b);
      if (t.op == "<") return a < b ? 1 : 0;
      if (t.op == "<=") return a <= b ? 1 : 0;
      if (t.op == ">") return a > b ? 1 : 0;
      if (t.op == ">=") return a >= b ? 1 : 0;
      if (t.op == "==") return a == b ? 1 : 0;
      if (t.op == "!=") return a != b ? 1 : 0;
      return kNaN;
    }
    case Tree::kCall: {
      std::vector<double> x;
      for (const Tree& k : t.kids) x.push_back(reference(k, v));
      const std::string& f = t.op;
      if (f == "min" || f == "max") {
        double r = x[0];
        for (double e : x) {
          if (std::isnan(e)) return kNaN;
          r = f == "min" ? std::min(r, e) : std::max(r, e);
        }
        return r;
      }
      if (f == "clamp") {
        if (std::isnan(x[0]) || std::isnan(x[1]) || std::isnan(x[2])) return kNaN;
        return x[0] < x[1] ? x[1] : (x[0] > x[2] ? x[2] : x[0]);
      }
      if (f == "pow") return std::pow(x[0], x[1]);
      if (f == "atan2") return std::atan2(x[0], x[1]);
      if (f == "hypot") return std::hypot(x[0], x[1]);
      if (f == "abs") return std::fabs(x[0]);
      if (f == "sqrt") return std::sqrt(x[0]);
      if (f == "exp") return std::exp(x[0]);
      if (f == "log") return std::log(x[0]);
      if (f == "log10") return std::log10(x[0]);
      if (f == "sin") return std::sin(x[0]);
      if (f == "cos") return std::cos(x[0]);
      if (f == "tan") return std::tan(x[0]);
      if (f == "asin") return std::asin(x[0]);
      if (f == "acos") return std::acos(x[0]);
      if (f == "atan") return std::atan(x[0]);
      if (f == "floor") return std::floor(x[0]);
      if (f == "ceil") return std::ceil(x[0]);
      if (f == "round") return std::round(x[0]);
      if (f == "sign") return std::isnan(x[0]) ? x[0] : (x[0] > 0 ? 1 : (x[0] < 0 ? -1 : 0));
      if (f == "isnan") return std::isnan(x[0]) ? 1 : 0;
      return kNaN;
    }
  }
  return kNaN;
}

RC_GTEST_PROP(ExprProperty, CompiledEvaluationMatchesRecursiveReference, ()) {
  const Tree tree = random_tree(static_cast<int>(pick(7)));
  const std::string text = render(tree);
  const Resolver resolve = [](std::string_view name) -> Result<uint32_t> {
    return static_cast<uint32_t>(name[1] - '0');  // v0..v3 read slots 0..3
  };
  Result<Expression> e = Expression::compile(text, resolve);
  RC_ASSERT(e.ok());
  const double kValues[] = {0, 1, -1, 2.5, -0.75, 20, 1e300, kInf, -kInf, kNaN};
  std::vector<double> slots(kVariables);
  for (double& s : slots) s = kValues[pick(std::size(kValues))];
  const double expected = reference(tree, slots);
  const double actual = e->evaluate(slots);
  RC_LOG() << text << " = " << actual << ", reference " << expected;
  RC_ASSERT(same(actual, expected));
  // The canonical text compiles to the same canonical text and value.
  Result<Expression> again = Expression::compile(e->to_string(), resolve);
  RC_ASSERT(again.ok());
  RC_ASSERT(again->to_string() == e->to_string());
  RC_ASSERT(same(again->evaluate(slots), expected));
}

// --- fuzz corpus ----------------------------------------------------------------------------

TEST(ExprFuzzCorpus, KeptInputsReplayCleanly) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::source_dir()) / "fuzz" / "corpus" / "rules_expr";
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(fuzz::rules_expr(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++n;
  }
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace sluice::rules
