// Batch codec throughput and size: encode and decode samples/s and bytes per sample for
// workload W1 (bench/w1.h) with compression none, lz4, zstd 1 and zstd 3, and a string-heavy
// batch with compression off. Bytes per sample count the payload plus the store's record
// header per batch, i.e. what W1 costs on disk; the target is <= 4.
//
//   ninja -C build codec_bench && build/bench/codec_bench
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/batch_codec.h"
#include "store/format.h"
#include "w1.h"

namespace sluice::bench {
namespace {

constexpr size_t kRecordHeaderBytes =
    store::format::kRecordHeaderSize;  // per record, for bytes/sample
// Ten seconds of W1: enough distinct batches that caches see a stream, small enough to hold.
constexpr uint64_t kW1Batches = 100;

struct Workload {
  std::vector<Batch> batches;
  std::vector<std::vector<uint32_t>> ids;
  std::vector<std::string> names;  // by series id
  size_t samples = 0;
};

const Workload& w1() {
  static const Workload w = [] {
    Workload out;
    for (uint64_t k = 0; k < kW1Batches; ++k) {
      out.batches.push_back(w1_batch(k));
      out.ids.push_back(w1_series_ids(k));
      out.samples += out.batches.back().size();
    }
    for (uint32_t i = 0; i < kW1Series; ++i) out.names.push_back(w1_series_name(i));
    return out;
  }();
  return w;
}

// 256 samples of 16 series, each value a 1-4 KiB log line: a payload-heavy record where the
// bytes, not the encoding work, dominate.
const Workload& strings() {
  static const Workload w = [] {
    Workload out;
    uint64_t x = 0x243F6A8885A308D3ull;
    auto next = [&x] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    for (uint32_t i = 0; i < 16; ++i)
      out.names.push_back("plant.gateway" + std::to_string(i) + ".log");
    for (uint64_t k = 0; k < 8; ++k) {
      Batch b;
      std::vector<uint32_t> ids;
      for (uint32_t i = 0; i < 256; ++i) {
        const uint32_t series = i % 16;
        std::string line(1024 + next() % 3072, ' ');
        for (char& c : line) c = static_cast<char>(' ' + next() % 95);
        b.samples.push_back({out.names[series],
                             kW1Start + static_cast<Timestamp>(k * 256 + i) * 1'000'000,
                             std::move(line), quality::kGood});
        ids.push_back(series);
      }
      out.samples += b.size();
      out.batches.push_back(std::move(b));
      out.ids.push_back(std::move(ids));
    }
    return out;
  }();
  return w;
}

EncodeOptions options_for(int64_t codec) {
  EncodeOptions o;
  switch (codec) {
    case 0: o.compression = Compression::kNone; break;
    case 1: o.compression = Compression::kLz4; break;
    case 2:
      o.compression = Compression::kZstd;
      o.zstd_level = 1;
      break;
    default:
      o.compression = Compression::kZstd;
      o.zstd_level = 3;
      break;
  }
  return o;
}

const char* label_for(int64_t codec) {
  static const char* const kLabels[] = {"none", "lz4", "zstd-1", "zstd-3"};
  return kLabels[codec];
}

// The size figures of a whole workload under `options`, from one encoding pass.
void report_sizes(benchmark::State& state, const Workload& w, const EncodeOptions& options) {
  size_t stored = 0;
  size_t raw = 0;
  EncodedBatch enc;
  for (size_t k = 0; k < w.batches.size(); ++k) {
    if (!encode_batch(w.batches[k], w.ids[k], options, &enc).ok()) {
      state.SkipWithError("encode failed");
      return;
    }
    stored += enc.bytes.size() + kRecordHeaderBytes;
    raw += enc.raw_size;
  }
  const double n = static_cast<double>(w.samples);
  state.counters["bytes/sample"] = static_cast<double>(stored) / n;
  state.counters["raw_bytes/sample"] = static_cast<double>(raw) / n;
}

void encode_loop(benchmark::State& state, const Workload& w, const EncodeOptions& options) {
  EncodedBatch enc;
  size_t k = 0;
  size_t samples = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    const Status st = encode_batch(w.batches[k], w.ids[k], options, &enc);
    if (!st.ok()) {
      state.SkipWithError(st.to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(enc.bytes.data());
    samples += w.batches[k].size();
    bytes += enc.raw_size;
    k = (k + 1) % w.batches.size();
  }
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  report_sizes(state, w, options);
}

void decode_loop(benchmark::State& state, const Workload& w, const EncodeOptions& options) {
  std::vector<EncodedBatch> encoded(w.batches.size());
  for (size_t k = 0; k < w.batches.size(); ++k) {
    if (!encode_batch(w.batches[k], w.ids[k], options, &encoded[k]).ok()) {
      state.SkipWithError("encode failed");
      return;
    }
  }
  const SeriesNameLookup lookup = [&w](uint32_t id) { return w.names[id]; };
  const DecodeLimits limits;
  std::string raw;
  Batch out;
  size_t k = 0;
  size_t samples = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    const EncodedBatch& e = encoded[k];
    out.samples.clear();
    Status st = decompress_payload(e.bytes, e.compression, e.raw_size, limits, &raw);
    if (st.ok()) st = decode_batch(raw, lookup, limits, &out);
    if (!st.ok()) {
      state.SkipWithError(st.to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.samples.data());
    samples += out.size();
    bytes += e.raw_size;
    k = (k + 1) % encoded.size();
  }
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  report_sizes(state, w, options);
}

void BM_W1Encode(benchmark::State& state) {
  state.SetLabel(label_for(state.range(0)));
  encode_loop(state, w1(), options_for(state.range(0)));
}
BENCHMARK(BM_W1Encode)->DenseRange(0, 3)->ArgName("codec");

void BM_W1Decode(benchmark::State& state) {
  state.SetLabel(label_for(state.range(0)));
  decode_loop(state, w1(), options_for(state.range(0)));
}
BENCHMARK(BM_W1Decode)->DenseRange(0, 3)->ArgName("codec");

void BM_StringsEncode(benchmark::State& state) {
  state.SetLabel("none");
  encode_loop(state, strings(), options_for(0));
}
BENCHMARK(BM_StringsEncode);

void BM_StringsDecode(benchmark::State& state) {
  state.SetLabel("none");
  decode_loop(state, strings(), options_for(0));
}
BENCHMARK(BM_StringsDecode);

}  // namespace
}  // namespace sluice::bench
