// The expression language (rules/expr.h): evaluations per second of the issue's expression
// filter and of a 20-operator expression, and what compiling them costs. Slot values change on
// every iteration so that both branches of ?: are taken.
//
//   ninja -C build expr_bench && build/bench/expr_bench
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <string_view>

#include "rules/expr.h"

namespace sluice::bench {
namespace {

// The issue's example: desiredSpeed = temperature > 20 ? temperature * 50 + 1200 : 0
constexpr std::string_view kIssueExample = "temperature > 20 ? temperature * 50 + 1200 : 0";

// 20 operators (arithmetic, comparison, logic, ?:, a power) and 3 function calls over 4
// datapoints.
constexpr std::string_view kTwentyOperators =
    "Motor.temperature > 35 && Motor.load >= 0.5 || !(Fan.speed < 100) ? "
    "clamp((Motor.temperature - 35) * 120 + Fan.speed / 2 - Motor.load ^ 2, 0, 3000) : "
    "max(Fan.speed - 10 * Motor.load, 0) + sqrt(Fan.rpm % 7 + 1) * 2 - 1";

rules::Expression compile_or_die(std::string_view text) {
  Result<rules::Expression> e = rules::Expression::compile(text);
  if (!e.ok()) std::abort();
  return std::move(e).value();
}

void BM_EvaluateIssueExample(benchmark::State& state) {
  const rules::Expression e = compile_or_die(kIssueExample);
  std::array<double, 1> slots{};
  double t = 0;
  for (auto _ : state) {
    slots[0] = t;
    t = t >= 40 ? 0 : t + 0.5;  // 0 .. 40 °C: half the time above 20
    benchmark::DoNotOptimize(e.evaluate(slots));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EvaluateIssueExample);

void BM_EvaluateTwentyOperators(benchmark::State& state) {
  const rules::Expression e = compile_or_die(kTwentyOperators);
  std::array<double, 4> slots{};
  double t = 0;
  for (auto _ : state) {
    slots = {t, 0.25 + t / 80, 50 + t * 3, 1000 + t};
    t = t >= 60 ? 0 : t + 0.5;
    benchmark::DoNotOptimize(e.evaluate(slots));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["instructions"] = static_cast<double>(e.program().size());
}
BENCHMARK(BM_EvaluateTwentyOperators);

void BM_CompileIssueExample(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(rules::Expression::compile(kIssueExample));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CompileIssueExample);

void BM_CompileTwentyOperators(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(rules::Expression::compile(kTwentyOperators));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CompileTwentyOperators);

}  // namespace
}  // namespace sluice::bench
