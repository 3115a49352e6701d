// Payload parser throughput: samples parsed per second for a Kepware standard-template message of
// 100 values and a SenML pack of 100 records (the two JSON shapes MQTT sources see most), with
// the raw simdjson DOM parse of the same bytes printed beside them as the ceiling.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>

#include "formats/kepware.h"
#include "formats/senml.h"

namespace {

constexpr int kValues = 100;
constexpr sluice::Timestamp kNow = 1'700'000'000'000'000'000;

std::string kepware_message() {
  std::string s = R"({"timestamp":1700000000000,"values":[)";
  for (int i = 0; i < kValues; ++i) {
    if (i > 0) s += ',';
    s += R"({"id":"Channel1.Device1.Tag)" + std::to_string(i) + R"(","v":)" +
         (i % 3 == 0 ? std::to_string(i * 7) : std::to_string(i) + ".25") + R"(,"q":true,"t":)" +
         std::to_string(1700000000000 + i) + "}";
  }
  return s + "]}";
}

std::string senml_pack() {
  std::string s = R"([{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1.7e9,"bu":"Cel",)";
  for (int i = 0; i < kValues; ++i) {
    if (i > 0) s += ",{";
    s += R"("n":"temp)" + std::to_string(i) + R"(","v":)" + std::to_string(20 + i) +
         ".5,\"t\":" + std::to_string(i) + "}";
  }
  return s + "]";
}

template <typename Parser>
void parse_loop(benchmark::State& state, const std::string& payload) {
  Parser parser;
  sluice::formats::Parsed out;
  for (auto _ : state) {
    out.batch.samples.clear();
    out.meta.clear();
    if (!parser.parse(payload, {"bench", kNow}, &out).ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(out.batch.samples.data());
  }
  state.SetItemsProcessed(state.iterations() * kValues);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(payload.size()));
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kValues), benchmark::Counter::kIsRate);
}

void BM_KepwareParse100(benchmark::State& state) {
  parse_loop<sluice::formats::KepwareParser>(state, kepware_message());
}
BENCHMARK(BM_KepwareParse100);

void BM_SenmlParse100(benchmark::State& state) {
  parse_loop<sluice::formats::SenmlParser>(state, senml_pack());
}
BENCHMARK(BM_SenmlParse100);

// The ceiling: simdjson's DOM parse of the Kepware bytes alone, no samples built.
void BM_SimdjsonDomOnlyKepware100(benchmark::State& state) {
  const std::string payload = kepware_message();
  simdjson::dom::parser parser;
  for (auto _ : state) {
    auto doc = parser.parse(payload);
    benchmark::DoNotOptimize(doc.error());
  }
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kValues), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimdjsonDomOnlyKepware100);

}  // namespace
