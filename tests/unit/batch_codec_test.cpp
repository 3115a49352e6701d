// The batch codec: random batches round-trip bit-exactly through every compression as the
// stable group-by-series of their input; special values (NaN payloads, -0.0, infinities,
// denormals, int64 and timestamp extremes, strings with NUL bytes) survive; the decoder turns
// truncated, flipped and forged payloads into kCorruption without crashing, touching its output
// or allocating by a forged count; steady-state encoding allocates nothing.
#include "core/batch_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <set>
#include <unordered_map>

#include "core/varint.h"

// ---- allocation accounting for the whole test binary ----
// Replacing the global operator new lets tests prove "no allocation in steady state" and
// "no allocation sized by a forged count".
namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocations{0};
std::atomic<size_t> g_largest_allocation{0};

void note_allocation(std::size_t n) {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n)) {
  }
}
}  // namespace

// GCC cannot see that these replacements pair malloc with free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  note_allocation(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace sluice {
namespace {

namespace bf = batch_format;
using namespace std::string_literals;

// Counts allocations made between construction and stop().
class AllocationCounter {
 public:
  AllocationCounter() {
    g_allocations = 0;
    g_largest_allocation = 0;
    g_counting = true;
  }
  ~AllocationCounter() { g_counting = false; }
  void stop() { g_counting = false; }
  size_t count() const { return g_allocations.load(); }
  size_t largest() const { return g_largest_allocation.load(); }
};

constexpr std::array<Compression, 3> kAllCompressions = {Compression::kNone, Compression::kLz4,
                                                         Compression::kZstd};

// The series catalog a store would keep: names to dense ids and back.
struct Catalog {
  std::unordered_map<uint32_t, std::string> names;

  SeriesNameLookup lookup() const {
    return [this](uint32_t id) {
      auto it = names.find(id);
      return it == names.end() ? std::string("?") : it->second;
    };
  }
};

struct TestBatch {
  Batch batch;
  std::vector<uint32_t> ids;
  Catalog catalog;
};

// The decoder's order contract, written the obvious way.
Batch stable_group_by_series(const Batch& b) {
  std::vector<std::string> order;
  std::unordered_map<std::string, std::vector<const Sample*>> groups;
  for (const Sample& s : b.samples) {
    auto [it, inserted] = groups.try_emplace(s.series);
    if (inserted) order.push_back(s.series);
    it->second.push_back(&s);
  }
  Batch out;
  for (const std::string& name : order) {
    for (const Sample* s : groups[name]) out.samples.push_back(*s);
  }
  return out;
}

// Encodes, decompresses and decodes.
Result<Batch> round_trip(const TestBatch& t, const EncodeOptions& options,
                         EncodedBatch* encoded = nullptr) {
  EncodedBatch local;
  EncodedBatch* enc = encoded != nullptr ? encoded : &local;
  SLUICE_RETURN_IF_ERROR(encode_batch(t.batch, t.ids, options, enc));
  std::string raw;
  SLUICE_RETURN_IF_ERROR(decompress_payload(enc->bytes, enc->compression, enc->raw_size, {}, &raw));
  Batch out;
  SLUICE_RETURN_IF_ERROR(decode_batch(raw, t.catalog.lookup(), {}, &out));
  return out;
}

EncodeOptions with(Compression c, int zstd_level = 1) {
  EncodeOptions o;
  o.compression = c;
  o.zstd_level = zstd_level;
  return o;
}

// Builds a TestBatch from (series, ts, value, quality) rows, series names mapped to ids 0, 1, ...
TestBatch make_batch(std::vector<Sample> samples) {
  TestBatch t;
  std::unordered_map<std::string, uint32_t> ids;
  for (Sample& s : samples) {
    auto [it, inserted] = ids.try_emplace(s.series, static_cast<uint32_t>(ids.size()));
    if (inserted) t.catalog.names[it->second] = s.series;
    t.ids.push_back(it->second);
    t.batch.samples.push_back(std::move(s));
  }
  return t;
}

// 1000 series, one reading each, rounded to 2 decimals: the shape of workload W1.
TestBatch sensor_batch(size_t series = 1000, Timestamp ts = 1'700'000'000'000'000'000) {
  std::vector<Sample> samples;
  for (size_t i = 0; i < series; ++i) {
    const double v = 20.0 + 30.0 * std::sin(0.37 * static_cast<double>(i)) +
                     0.01 * static_cast<double>((i * 7919) % 97);
    samples.push_back(
        {"plant.line" + std::to_string(i % 10) + ".asset" + std::to_string(i) + ".temperature", ts,
         std::round(v * 100.0) / 100.0, quality::kGood});
  }
  return make_batch(std::move(samples));
}

uint64_t bits_of(double d) { return std::bit_cast<uint64_t>(d); }

// ---- generators ----

const std::vector<double>& special_doubles() {
  static const std::vector<double> v = {
      0.0,
      -0.0,
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      std::numeric_limits<double>::quiet_NaN(),
      -std::numeric_limits<double>::quiet_NaN(),
      std::bit_cast<double>(uint64_t{0x7ff0000000000001}),  // signalling NaN, payload 1
      std::bit_cast<double>(uint64_t{0xfff8dead0000beef}),  // negative NaN with payload
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min(),
      std::bit_cast<double>(uint64_t{0x000fffffffffffff}),  // largest denormal
      std::numeric_limits<double>::min(),
      std::numeric_limits<double>::max(),
      std::numeric_limits<double>::lowest(),
      std::numeric_limits<double>::epsilon(),
      0.1,
      -0.3,
      0.1 + 0.2,      // 0.30000000000000004: near a decimal, but not one
      1.0 + 0x1p-52,  // the double after 1
      21.37 * 3.0,
      9007199254740992.0,  // 2^53
      9007199254740993.0 * 1e-9,
      1e-300,
  };
  return v;
}

rc::Gen<double> gen_decimal() {
  return rc::gen::map(
      rc::gen::pair(rc::gen::inRange<int64_t>(-100'000'000, 100'000'000), rc::gen::inRange(0, 10)),
      [](std::pair<int64_t, int> p) {
        static constexpr double kPow[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
        return static_cast<double>(p.first) / kPow[p.second];
      });
}

rc::Gen<double> gen_any_double() {
  return rc::gen::weightedOneOf<double>({
      {3, rc::gen::elementOf(special_doubles())},
      {3, rc::gen::map(rc::gen::arbitrary<uint64_t>(),
                       [](uint64_t b) { return std::bit_cast<double>(b); })},
      {3, gen_decimal()},
      {1, rc::gen::arbitrary<double>()},
  });
}

rc::Gen<int64_t> gen_int64() {
  return rc::gen::weightedOneOf<int64_t>({
      {2, rc::gen::element<int64_t>(INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1)},
      {3, rc::gen::arbitrary<int64_t>()},
      {3, rc::gen::inRange<int64_t>(-1000, 1000)},
  });
}

rc::Gen<std::string> gen_string() {
  return rc::gen::weightedOneOf<std::string>({
      {1, rc::gen::just(std::string())},
      {1, rc::gen::just(std::string("\0a\0", 3))},
      {4, rc::gen::arbitrary<std::string>()},
      {1, rc::gen::map(rc::gen::inRange<size_t>(0, 5000),
                       [](size_t n) { return std::string(n, '\0'); })},
  });
}

// The kind of values one series carries in a random batch. Pure kinds reach the per-group
// encodings (decimal, XOR, int64 delta, bool, string); kMixed reaches the per-sample tags.
enum class SeriesKind { kDecimal, kDouble, kInt64, kBool, kString, kMixed };

Value pick_value(SeriesKind kind) {
  switch (kind) {
    case SeriesKind::kDecimal: return *gen_decimal();
    case SeriesKind::kDouble: return *gen_any_double();
    case SeriesKind::kInt64: return *gen_int64();
    case SeriesKind::kBool: return *rc::gen::arbitrary<bool>();
    case SeriesKind::kString: return *gen_string();
    case SeriesKind::kMixed:
      return pick_value(*rc::gen::element(SeriesKind::kDecimal, SeriesKind::kDouble,
                                          SeriesKind::kInt64, SeriesKind::kBool,
                                          SeriesKind::kString));
  }
  return 0.0;
}

// A random batch: series from a small or a large pool with random (sparse, extreme) ids,
// timestamps regular, jittered, out of order or extreme, qualities constant or random.
TestBatch pick_batch() {
  TestBatch t;
  const size_t pool = *rc::gen::element<size_t>(1, 3, 20, 600);
  std::set<uint32_t> used;
  std::vector<uint32_t> pool_ids;
  std::vector<SeriesKind> kinds;
  std::vector<bool> constant_quality;
  for (size_t i = 0; i < pool; ++i) {
    uint32_t id = *rc::gen::weightedOneOf<uint32_t>(
        {{1, rc::gen::element<uint32_t>(0, UINT32_MAX, UINT32_MAX - 1, 1)},
         {2, rc::gen::arbitrary<uint32_t>()},
         {4, rc::gen::just(static_cast<uint32_t>(i))}});
    while (!used.insert(id).second) ++id;
    pool_ids.push_back(id);
    t.catalog.names[id] = "site.area" + std::to_string(i % 7) + ".series" + std::to_string(i);
    kinds.push_back(*rc::gen::element(SeriesKind::kDecimal, SeriesKind::kDouble, SeriesKind::kInt64,
                                      SeriesKind::kBool, SeriesKind::kString, SeriesKind::kMixed));
    constant_quality.push_back(*rc::gen::arbitrary<bool>());
  }

  const size_t n = *rc::gen::inRange<size_t>(0, 300);
  const int ts_mode = *rc::gen::inRange(0, 4);
  const Timestamp base = *rc::gen::arbitrary<int64_t>();
  for (size_t i = 0; i < n; ++i) {
    const size_t k = *rc::gen::inRange<size_t>(0, pool);
    Sample s;
    s.series = t.catalog.names[pool_ids[k]];
    switch (ts_mode) {
      case 0:  // regular, one second apart (wrapping, like the codec)
        s.ts = static_cast<Timestamp>(static_cast<uint64_t>(base) + i * 1'000'000'000ull);
        break;
      case 1:  // jittered and sometimes backwards
        s.ts = static_cast<Timestamp>(static_cast<uint64_t>(base) + i * 1'000'000ull +
                                      static_cast<uint64_t>(*rc::gen::inRange(-5000, 5000)));
        break;
      case 2: s.ts = *rc::gen::element<int64_t>(INT64_MIN, INT64_MAX, 0, -1, 1); break;
      default: s.ts = *rc::gen::arbitrary<int64_t>(); break;
    }
    s.value = pick_value(kinds[k]);
    s.quality =
        constant_quality[k]
            ? quality::kGood
            : *rc::gen::weightedOneOf<uint32_t>(
                  {{2, rc::gen::element(Quality{quality::kGood}, Quality{quality::kUncertain},
                                        Quality{quality::kBadTimeout}, Quality{UINT32_MAX})},
                   {1, rc::gen::arbitrary<uint32_t>()}});
    t.ids.push_back(pool_ids[k]);
    t.batch.samples.push_back(std::move(s));
  }
  return t;
}

// ---- round trips ----

RC_GTEST_PROP(BatchCodec, RandomBatchesRoundTripAsStableGroupBySeries, ()) {
  const TestBatch t = pick_batch();
  const Batch expected = stable_group_by_series(t.batch);
  for (Compression c : kAllCompressions) {
    EncodedBatch enc;
    auto decoded = round_trip(t, with(c), &enc);
    RC_ASSERT(decoded.ok());
    RC_ASSERT(identical(*decoded, expected));
    RC_ASSERT(enc.sample_count == t.batch.size());
    RC_ASSERT(enc.compression == c || enc.compression == Compression::kNone);
    if (!t.batch.empty()) {
      Timestamp lo = INT64_MAX;
      Timestamp hi = INT64_MIN;
      for (const Sample& s : t.batch.samples) {
        lo = std::min(lo, s.ts);
        hi = std::max(hi, s.ts);
      }
      RC_ASSERT(enc.min_ts == lo);
      RC_ASSERT(enc.max_ts == hi);
    }
  }
}

RC_GTEST_PROP(BatchCodec, ScanSeriesIdsListsGroupsInFirstAppearanceOrder, ()) {
  const TestBatch t = pick_batch();
  EncodedBatch enc;
  RC_ASSERT(encode_batch(t.batch, t.ids, with(Compression::kNone), &enc).ok());
  std::vector<uint32_t> ids{7};
  std::vector<uint32_t> counts{7};
  RC_ASSERT(scan_series_ids(enc.bytes, {}, &ids, &counts).ok());
  std::vector<uint32_t> want_ids;
  std::unordered_map<uint32_t, uint32_t> want_counts;
  for (uint32_t id : t.ids) {
    if (want_counts[id]++ == 0) want_ids.push_back(id);
  }
  RC_ASSERT(ids == want_ids);
  RC_ASSERT(counts.size() == want_ids.size());
  for (size_t i = 0; i < ids.size(); ++i) RC_ASSERT(counts[i] == want_counts[ids[i]]);
}

TEST(BatchCodec, EmptyBatchRoundTrips) {
  for (Compression c : kAllCompressions) {
    TestBatch t;
    EncodedBatch enc;
    auto decoded = round_trip(t, with(c), &enc);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_TRUE(decoded->empty());
    EXPECT_EQ(enc.sample_count, 0u);
    EXPECT_EQ(enc.min_ts, 0);
    EXPECT_EQ(enc.max_ts, 0);
  }
}

TEST(BatchCodec, DecimalValuesRoundTripBitExact) {
  std::vector<Sample> samples;
  const std::vector<double> values = {21.37, 21.4,
                                      21.0,  -0.01,
                                      0.0,   1e-9,
                                      0.1,   0.2,
                                      0.3,   123456789.123456789,
                                      -7.5,  4503599627370495.0};
  for (double v : values) samples.push_back({"tank.level", 1000, v, quality::kGood});
  TestBatch t = make_batch(samples);
  for (Compression c : kAllCompressions) {
    auto decoded = round_trip(t, with(c));
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    ASSERT_EQ(decoded->size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(bits_of(std::get<double>(decoded->samples[i].value)), bits_of(values[i]))
          << values[i];
    }
  }
}

RC_GTEST_PROP(BatchCodec, DecimalSeriesRoundTripBitExact, ()) {
  const auto values = *rc::gen::nonEmpty(rc::gen::container<std::vector<double>>(gen_decimal()));
  std::vector<Sample> samples;
  for (double v : values) samples.push_back({"s", 0, v, quality::kGood});
  const TestBatch t = make_batch(samples);
  auto decoded = round_trip(t, with(Compression::kNone));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(identical(*decoded, t.batch));
}

TEST(BatchCodec, TwoDecimalSensorValuesCostAboutTwoBytesRaw) {
  std::vector<Sample> samples;
  for (int i = 0; i < 1000; ++i) {
    const double v = std::round((50.0 + 10.0 * std::sin(i / 50.0)) * 100.0) / 100.0;
    samples.push_back({"boiler.temperature", i * 1'000'000'000ll, v, quality::kGood});
  }
  TestBatch t = make_batch(samples);
  EncodedBatch enc;
  auto decoded = round_trip(t, with(Compression::kNone), &enc);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_TRUE(identical(*decoded, t.batch));
  // One varint of the scaled delta and one byte of timestamp delta-of-delta per sample.
  EXPECT_LT(enc.raw_size, 3u * 1000u + 64u) << "decimal encoding not chosen?";
}

TEST(BatchCodec, W1ShapedBatchCompressesUnderFourBytesPerSample) {
  TestBatch t = sensor_batch();
  EncodedBatch enc;
  auto decoded = round_trip(t, with(Compression::kZstd), &enc);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_TRUE(identical(*decoded, t.batch));
  EXPECT_EQ(enc.compression, Compression::kZstd);
  EXPECT_LE(enc.bytes.size() + 48, 4u * 1000u) << "raw " << enc.raw_size;
}

TEST(BatchCodec, SpecialDoublesRoundTripBitExact) {
  std::vector<Sample> samples;
  // Each special value alone (a one-sample group), then all in one series (XOR), then mixed in
  // with other types (per-sample tags).
  for (size_t i = 0; i < special_doubles().size(); ++i) {
    samples.push_back({"alone" + std::to_string(i), 5, special_doubles()[i], quality::kGood});
  }
  for (double d : special_doubles()) samples.push_back({"xor", 5, d, quality::kGood});
  for (double d : special_doubles()) {
    samples.push_back({"mixed", 5, d, quality::kGood});
    samples.push_back({"mixed", 6, int64_t{1}, quality::kGood});
  }
  TestBatch t = make_batch(samples);
  const Batch expected = stable_group_by_series(t.batch);
  for (Compression c : kAllCompressions) {
    auto decoded = round_trip(t, with(c));
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_TRUE(identical(*decoded, expected));
  }
}

TEST(BatchCodec, Int64ExtremesRoundTrip) {
  std::vector<Sample> samples;
  for (int64_t v : {INT64_MIN, INT64_MAX, int64_t{0}, int64_t{-1}, INT64_MIN, int64_t{1}, INT64_MAX,
                    INT64_MAX}) {
    samples.push_back({"counter", 1, v, quality::kGood});
  }
  TestBatch t = make_batch(samples);
  auto decoded = round_trip(t, with(Compression::kNone));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_TRUE(identical(*decoded, t.batch));
}

TEST(BatchCodec, ExtremeAndOutOfOrderTimestampsRoundTrip) {
  std::vector<Sample> samples;
  for (Timestamp ts : {INT64_MAX, INT64_MIN, Timestamp{0}, INT64_MAX, Timestamp{-1}, INT64_MIN,
                       Timestamp{5}, Timestamp{3}, Timestamp{4}}) {
    samples.push_back({"a", ts, 1.5, quality::kGood});
    samples.push_back({"b", ~ts, true, quality::kGood});
  }
  TestBatch t = make_batch(samples);
  const Batch expected = stable_group_by_series(t.batch);
  auto decoded = round_trip(t, with(Compression::kNone));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_TRUE(identical(*decoded, expected));
}

TEST(BatchCodec, EmptyStringsAndStringsWithNulBytesRoundTrip) {
  std::vector<Sample> samples = {
      {"msg", 1, std::string(), quality::kGood},
      {"msg", 2, std::string("\0\0\0", 3), quality::kGood},
      {"msg", 3, std::string("a\0b", 3), quality::kBad},
      {"msg", 4, std::string(70000, 'x'), quality::kGood},
      {"other", 4, std::string(), quality::kGood},
  };
  TestBatch t = make_batch(samples);
  const Batch expected = stable_group_by_series(t.batch);
  for (Compression c : kAllCompressions) {
    auto decoded = round_trip(t, with(c));
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_TRUE(identical(*decoded, expected));
  }
}

TEST(BatchCodec, QualitiesPerSampleAndConstantRoundTrip) {
  std::vector<Sample> samples = {
      {"a", 1, 1.0, quality::kGood},      {"a", 2, 2.0, quality::kBadTimeout},
      {"a", 3, 3.0, UINT32_MAX},          {"b", 1, 1.0, quality::kUncertain},
      {"b", 2, 2.0, quality::kUncertain}, {"c", 1, int64_t{1}, 0x40900000},
  };
  TestBatch t = make_batch(samples);
  auto decoded = round_trip(t, with(Compression::kNone));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_TRUE(identical(*decoded, stable_group_by_series(t.batch)));
}

TEST(BatchCodec, DecodeAppendsAfterExistingSamples) {
  TestBatch t = sensor_batch(10);
  EncodedBatch enc;
  ASSERT_TRUE(encode_batch(t.batch, t.ids, with(Compression::kNone), &enc).ok());
  Batch out;
  out.samples.push_back({"earlier", 1, 2.0, quality::kGood});
  ASSERT_TRUE(decode_batch(enc.bytes, t.catalog.lookup(), {}, &out).ok());
  ASSERT_EQ(out.size(), 11u);
  EXPECT_EQ(out.samples[0].series, "earlier");
  EXPECT_TRUE(identical(out.samples[1], t.batch.samples[0]));
}

TEST(BatchCodec, ReusedOutputIsOverwritten) {
  TestBatch big = sensor_batch(1000);
  TestBatch small = sensor_batch(3);
  EncodedBatch enc;
  ASSERT_TRUE(encode_batch(big.batch, big.ids, with(Compression::kZstd), &enc).ok());
  ASSERT_TRUE(encode_batch(small.batch, small.ids, with(Compression::kNone), &enc).ok());
  EXPECT_EQ(enc.compression, Compression::kNone);
  EXPECT_EQ(enc.sample_count, 3u);
  EXPECT_EQ(enc.bytes.size(), enc.raw_size);
  Batch out;
  ASSERT_TRUE(decode_batch(enc.bytes, small.catalog.lookup(), {}, &out).ok());
  EXPECT_TRUE(identical(out, small.batch));
}

// ---- compression choice ----

TEST(BatchCodec, CompressionIsKeptOnlyWhenItSavesEnough) {
  // Random bytes do not compress: the raw form is kept and says so.
  std::vector<Sample> noise;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 200; ++i) {
    std::string s(64, '\0');
    for (char& c : s) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
    noise.push_back({"blob", i, std::move(s), quality::kGood});
  }
  TestBatch random = make_batch(noise);
  for (Compression c : {Compression::kLz4, Compression::kZstd}) {
    EncodedBatch enc;
    ASSERT_TRUE(encode_batch(random.batch, random.ids, with(c), &enc).ok());
    EXPECT_EQ(enc.compression, Compression::kNone) << compression_name(c);
    EXPECT_EQ(enc.bytes.size(), enc.raw_size);
  }
  // Sensor data compresses, unless the caller demands a saving nothing can reach.
  TestBatch sensors = sensor_batch();
  for (Compression c : {Compression::kLz4, Compression::kZstd}) {
    EncodedBatch enc;
    ASSERT_TRUE(encode_batch(sensors.batch, sensors.ids, with(c), &enc).ok());
    EXPECT_EQ(enc.compression, c) << compression_name(c);
    EXPECT_LT(enc.bytes.size(), enc.raw_size);
    EncodeOptions strict = with(c);
    strict.min_saving = 1.0;
    ASSERT_TRUE(encode_batch(sensors.batch, sensors.ids, strict, &enc).ok());
    EXPECT_EQ(enc.compression, Compression::kNone);
  }
}

TEST(BatchCodec, ZstdLevelsAllRoundTrip) {
  TestBatch t = sensor_batch(300);
  for (int level : {-5, 1, 3, 9, 19}) {
    auto decoded = round_trip(t, with(Compression::kZstd, level));
    ASSERT_TRUE(decoded.ok()) << level << " " << decoded.status().to_string();
    EXPECT_TRUE(identical(*decoded, t.batch));
  }
}

// ---- encoder argument checks ----

TEST(BatchCodec, MismatchedSeriesIdsAreInvalidArgument) {
  TestBatch t = sensor_batch(5);
  t.ids.pop_back();
  EncodedBatch enc;
  enc.bytes = "keep";
  Status st = encode_batch(t.batch, t.ids, {}, &enc);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(enc.bytes, "keep");
}

TEST(BatchCodec, StringOverTheDecodeLimitIsRefusedByTheEncoder) {
  TestBatch t = make_batch(
      {{"doc", 1, std::string(DecodeLimits{}.max_string_bytes + 1, 'a'), quality::kGood}});
  EncodedBatch enc;
  Status st = encode_batch(t.batch, t.ids, {}, &enc);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.to_string();
  TestBatch fits =
      make_batch({{"doc", 1, std::string(DecodeLimits{}.max_string_bytes, 'a'), quality::kGood}});
  EXPECT_TRUE(round_trip(fits, {}).ok());
}

TEST(BatchCodec, OptionsOutOfRangeAreInvalidArgument) {
  TestBatch t = sensor_batch(5);
  EncodedBatch enc;
  EncodeOptions bad_level = with(Compression::kZstd, 1000);
  EXPECT_EQ(encode_batch(t.batch, t.ids, bad_level, &enc).code(), Code::kInvalidArgument);
  EncodeOptions bad_saving;
  bad_saving.min_saving = std::nan("");
  EXPECT_EQ(encode_batch(t.batch, t.ids, bad_saving, &enc).code(), Code::kInvalidArgument);
  EncodeOptions bad_codec;
  bad_codec.compression = static_cast<Compression>(9);
  EXPECT_EQ(encode_batch(t.batch, t.ids, bad_codec, &enc).code(), Code::kInvalidArgument);
}

// ---- performance contracts ----

TEST(BatchCodec, SteadyStateEncodingDoesNotAllocate) {
  TestBatch t = sensor_batch(1000);
  TestBatch mixed = make_batch({{"a", 1, std::string("text"), quality::kGood},
                                {"a", 2, int64_t{5}, quality::kBad},
                                {"b", 3, true, quality::kGood},
                                {"b", 4, false, quality::kGood},
                                {"c", 5, 0.123456789123, quality::kGood},
                                {"c", 6, 7.0, quality::kGood}});
  for (Compression c : kAllCompressions) {
    EncodedBatch enc;
    for (int warm = 0; warm < 3; ++warm) {
      ASSERT_TRUE(encode_batch(t.batch, t.ids, with(c), &enc).ok());
      ASSERT_TRUE(encode_batch(mixed.batch, mixed.ids, with(c), &enc).ok());
    }
    AllocationCounter counter;
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(encode_batch(t.batch, t.ids, with(c), &enc).ok());
      ASSERT_TRUE(encode_batch(mixed.batch, mixed.ids, with(c), &enc).ok());
    }
    counter.stop();
    EXPECT_EQ(counter.count(), 0u) << compression_name(c);
  }
}

TEST(BatchCodec, ManySamplesOfFewSeriesGroupCorrectly) {
  // Exercises the grouping table with collisions and a counting sort over many samples.
  std::vector<Sample> samples;
  for (int i = 0; i < 50'000; ++i) {
    samples.push_back(
        {"s" + std::to_string((i * 7) % 1013), i, static_cast<int64_t>(i), quality::kGood});
  }
  TestBatch t = make_batch(samples);
  auto decoded = round_trip(t, with(Compression::kZstd));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_TRUE(identical(*decoded, stable_group_by_series(t.batch)));
}

// ---- corruption ----

// A payload built section by section, for forging inputs the encoder never writes.
struct Forged {
  uint64_t samples = 1;
  uint64_t groups = 1;
  uint8_t version = bf::kVersion;
  std::array<std::string, bf::kSectionCount> sections;

  std::string& operator[](bf::Section s) { return sections[static_cast<size_t>(s)]; }

  std::string bytes() const {
    std::string out(1, static_cast<char>(version));
    put_varint64(&out, samples);
    put_varint64(&out, groups);
    for (const std::string& s : sections) {
      put_varint64(&out, s.size());
      out += s;
    }
    return out;
  }
};

// One double sample of series 1: the smallest well-formed payload.
Forged forged_one_sample() {
  Forged f;
  f[bf::Section::kSeriesIds] = std::string(1, static_cast<char>(zigzag_encode(1)));
  f[bf::Section::kCounts] = "\x01";
  f[bf::Section::kTimestamps] = "\x00"s;
  f[bf::Section::kValueTags] = std::string("\x02\x01", 2);  // decimal, scale 1
  f[bf::Section::kValueVarints] = std::string(1, static_cast<char>(zigzag_encode(15)));
  f[bf::Section::kQualities] = std::string("\x00\x00", 2);
  return f;
}

Batch sentinel_batch() {
  Batch b;
  b.samples.push_back({"sentinel", 42, std::string("unchanged"), quality::kBad});
  return b;
}

// Decodes `raw` into a batch holding a sentinel; a failure must be kCorruption, name a byte
// offset and leave the sentinel alone.
Status decode_checked(std::string_view raw, const DecodeLimits& limits = {}) {
  Batch out = sentinel_batch();
  Catalog catalog;
  Status st = decode_batch(raw, catalog.lookup(), limits, &out);
  if (!st.ok()) {
    EXPECT_EQ(st.code(), Code::kCorruption) << st.to_string();
    EXPECT_TRUE(identical(out, sentinel_batch())) << "output changed on " << st.to_string();
  }
  return st;
}

TEST(BatchCodecCorruption, ForgedMinimalPayloadDecodes) {
  Catalog catalog;
  catalog.names[1] = "one";
  Batch out;
  ASSERT_TRUE(decode_batch(forged_one_sample().bytes(), catalog.lookup(), {}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.samples[0].series, "one");
  EXPECT_EQ(std::get<double>(out.samples[0].value), 1.5);
}

TEST(BatchCodecCorruption, TruncatedPayloadIsCorruptionNotCrash) {
  TestBatch t = make_batch({{"a", 1, 1.25, quality::kGood},
                            {"a", 2, std::numeric_limits<double>::quiet_NaN(), quality::kBad},
                            {"b", -5, int64_t{-3}, quality::kGood},
                            {"c", 7, std::string("hello\0world", 11), quality::kGood},
                            {"c", 8, true, 0x12345678},
                            {"d", 9, false, quality::kGood},
                            {"a", 3, 0.1, quality::kGood}});
  EncodedBatch enc;
  ASSERT_TRUE(encode_batch(t.batch, t.ids, with(Compression::kNone), &enc).ok());
  const std::string raw = enc.bytes;
  ASSERT_TRUE(decode_checked(raw).ok());
  for (size_t len = 0; len < raw.size(); ++len) {
    Status st = decode_checked(std::string_view(raw).substr(0, len));
    EXPECT_FALSE(st.ok()) << "prefix of " << len << " bytes decoded";
    std::vector<uint32_t> ids;
    std::vector<uint32_t> counts;
    EXPECT_FALSE(scan_series_ids(std::string_view(raw).substr(0, len), {}, &ids, &counts).ok());
  }
}

TEST(BatchCodecCorruption, TruncatedCompressedPayloadIsCorruption) {
  TestBatch t = sensor_batch(200);
  for (Compression c : {Compression::kLz4, Compression::kZstd}) {
    EncodedBatch enc;
    ASSERT_TRUE(encode_batch(t.batch, t.ids, with(c), &enc).ok());
    ASSERT_EQ(enc.compression, c);
    for (size_t len = 0; len < enc.bytes.size(); ++len) {
      std::string raw;
      Status st =
          decompress_payload(std::string_view(enc.bytes).substr(0, len), c, enc.raw_size, {}, &raw);
      EXPECT_EQ(st.code(), Code::kCorruption) << compression_name(c) << " prefix " << len;
    }
  }
}

TEST(BatchCodecCorruption, DecompressChecksTheRawSize) {
  TestBatch t = sensor_batch(200);
  for (Compression c : kAllCompressions) {
    EncodedBatch enc;
    ASSERT_TRUE(encode_batch(t.batch, t.ids, with(c), &enc).ok());
    std::string raw;
    EXPECT_TRUE(decompress_payload(enc.bytes, enc.compression, enc.raw_size, {}, &raw).ok());
    for (uint32_t wrong : {enc.raw_size - 1, enc.raw_size + 1, 0u}) {
      EXPECT_EQ(decompress_payload(enc.bytes, enc.compression, wrong, {}, &raw).code(),
                Code::kCorruption)
          << compression_name(c) << " raw_size " << wrong;
    }
    DecodeLimits tight;
    tight.max_raw_bytes = enc.raw_size - 1;
    EXPECT_EQ(decompress_payload(enc.bytes, enc.compression, enc.raw_size, tight, &raw).code(),
              Code::kCorruption);
  }
  std::string raw;
  EXPECT_EQ(decompress_payload("abc", static_cast<Compression>(7), 3, {}, &raw).code(),
            Code::kCorruption);
  EXPECT_EQ(decompress_payload("garbage!", Compression::kZstd, 100, {}, &raw).code(),
            Code::kCorruption);
  EXPECT_EQ(decompress_payload("\xff\xff\xff", Compression::kLz4, 100, {}, &raw).code(),
            Code::kCorruption);
}

TEST(BatchCodecCorruption, HugeRawSizeIsRejectedBeforeAllocating) {
  AllocationCounter counter;
  std::string raw;
  Status st = decompress_payload("x", Compression::kZstd, UINT32_MAX, {}, &raw);
  counter.stop();
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_LT(counter.largest(), 4096u);
}

RC_GTEST_PROP(BatchCodecCorruption, RandomByteFlipsNeverCrash, ()) {
  const TestBatch t = pick_batch();
  EncodedBatch enc;
  RC_ASSERT(encode_batch(t.batch, t.ids, with(Compression::kNone), &enc).ok());
  std::string raw = enc.bytes;
  const int flips = *rc::gen::inRange(1, 9);
  for (int i = 0; i < flips; ++i) {
    const size_t at = *rc::gen::inRange<size_t>(0, raw.size());
    raw[at] = static_cast<char>(raw[at] ^ *rc::gen::inRange(1, 256));
  }
  Batch out = sentinel_batch();
  Status st = decode_batch(raw, t.catalog.lookup(), {}, &out);
  if (st.ok()) {
    RC_ASSERT(out.size() >= 1u);
  } else {
    RC_ASSERT(st.code() == Code::kCorruption);
    RC_ASSERT(st.message().find("at byte") != std::string::npos ||
              st.message().find("limit") != std::string::npos);
    RC_ASSERT(identical(out, sentinel_batch()));
  }
  std::vector<uint32_t> ids;
  std::vector<uint32_t> counts;
  Status scan = scan_series_ids(raw, {}, &ids, &counts);
  RC_ASSERT(scan.ok() || scan.code() == Code::kCorruption);
}

RC_GTEST_PROP(BatchCodecCorruption, RandomBytesNeverCrashTheDecoder, ()) {
  // Random bytes behind a valid version byte reach deeper than random bytes alone.
  std::string raw = *rc::gen::arbitrary<std::string>();
  if (*rc::gen::arbitrary<bool>()) raw.insert(raw.begin(), static_cast<char>(bf::kVersion));
  Batch out = sentinel_batch();
  Catalog catalog;
  Status st = decode_batch(raw, catalog.lookup(), {}, &out);
  RC_ASSERT(st.ok() || st.code() == Code::kCorruption);
  if (!st.ok()) RC_ASSERT(identical(out, sentinel_batch()));
}

TEST(BatchCodecCorruption, HugeCountsAreRejectedBeforeAllocating) {
  std::vector<std::pair<std::string, Forged>> cases;
  {
    Forged f = forged_one_sample();
    f.samples = DecodeLimits{}.max_samples;  // within the limit, but the bytes are not there
    cases.emplace_back("samples at the limit", f);
  }
  {
    Forged f = forged_one_sample();
    f.samples = uint64_t{1} << 40;
    cases.emplace_back("samples over the limit", f);
  }
  {
    Forged f = forged_one_sample();
    f.groups = uint64_t{1} << 20;
    f.samples = uint64_t{1} << 20;
    cases.emplace_back("groups", f);
  }
  {
    Forged f = forged_one_sample();
    f[bf::Section::kCounts].clear();
    put_varint64(&f[bf::Section::kCounts], uint64_t{1} << 31);
    cases.emplace_back("group count", f);
  }
  {
    Forged f = forged_one_sample();
    f[bf::Section::kValueTags] = "\x05"s;  // string
    f[bf::Section::kValueVarints].clear();
    put_varint64(&f[bf::Section::kValueVarints], uint64_t{1} << 40);
    f[bf::Section::kStringBytes] = "abc";
    cases.emplace_back("string length", f);
  }
  {
    Forged f = forged_one_sample();
    f[bf::Section::kValueTags] = "\x05"s;
    f[bf::Section::kValueVarints].clear();
    put_varint64(&f[bf::Section::kValueVarints], DecodeLimits{}.max_string_bytes + 1);
    f[bf::Section::kStringBytes] = std::string(DecodeLimits{}.max_string_bytes + 1, 'x');
    cases.emplace_back("string over its limit", f);
  }
  for (auto& [name, forged] : cases) {
    const std::string raw = forged.bytes();
    AllocationCounter counter;
    Status st = decode_checked(raw);
    counter.stop();
    EXPECT_EQ(st.code(), Code::kCorruption) << name;
    EXPECT_LT(counter.largest(), 64u * 1024) << name << ": " << st.to_string();
  }
}

TEST(BatchCodecCorruption, LimitsBelowThePayloadAreCorruption) {
  TestBatch t = make_batch({{"a", 1, std::string(100, 'z'), quality::kGood},
                            {"b", 1, 1.0, quality::kGood},
                            {"c", 1, 2.0, quality::kGood}});
  EncodedBatch enc;
  ASSERT_TRUE(encode_batch(t.batch, t.ids, with(Compression::kNone), &enc).ok());
  DecodeLimits few_samples;
  few_samples.max_samples = 2;
  EXPECT_EQ(decode_checked(enc.bytes, few_samples).code(), Code::kCorruption);
  DecodeLimits short_strings;
  short_strings.max_string_bytes = 99;
  EXPECT_EQ(decode_checked(enc.bytes, short_strings).code(), Code::kCorruption);
  DecodeLimits small_raw;
  small_raw.max_raw_bytes = static_cast<uint32_t>(enc.bytes.size() - 1);
  EXPECT_EQ(decode_checked(enc.bytes, small_raw).code(), Code::kCorruption);
}

TEST(BatchCodecCorruption, ErrorsNameTheByteOffset) {
  Forged f = forged_one_sample();
  f[bf::Section::kValueTags] = std::string("\x7f\x01", 2);
  const std::string raw = f.bytes();
  // Header: version, samples, groups; then per section a length byte and its bytes.
  size_t tag_offset = 3;
  for (bf::Section s : {bf::Section::kSeriesIds, bf::Section::kCounts, bf::Section::kTimestamps}) {
    tag_offset += 1 + f[s].size();
  }
  tag_offset += 1;
  ASSERT_EQ(static_cast<uint8_t>(raw[tag_offset]), 0x7f);
  Status st = decode_checked(raw);
  EXPECT_NE(st.message().find("at byte " + std::to_string(tag_offset)), std::string::npos)
      << st.to_string();
}

TEST(BatchCodecCorruption, InconsistentStructureIsCorruption) {
  std::vector<std::pair<std::string, std::string>> cases;
  auto add = [&](std::string name, auto edit) {
    Forged f = forged_one_sample();
    edit(f);
    cases.emplace_back(std::move(name), f.bytes());
  };
  add("unknown version", [](Forged& f) { f.version = 2; });
  add("flags set", [](Forged& f) { f.version = 0x11; });
  add("no groups for samples", [](Forged& f) { f.groups = 0; });
  add("more groups than samples", [](Forged& f) { f.groups = 2; });
  add("zero-sample group", [](Forged& f) { f[bf::Section::kCounts] = "\x00"s; });
  add("group larger than the batch", [](Forged& f) { f[bf::Section::kCounts] = "\x02"; });
  add("negative series id", [](Forged& f) { f[bf::Section::kSeriesIds] = "\x03"; });
  add("series id over 32 bits", [](Forged& f) {
    f[bf::Section::kSeriesIds].clear();
    put_varint64(&f[bf::Section::kSeriesIds], zigzag_encode(int64_t{1} << 32));
  });
  add("unknown value tag", [](Forged& f) { f[bf::Section::kValueTags] = "\x09"; });
  add("value tag zero", [](Forged& f) { f[bf::Section::kValueTags] = "\x00"s; });
  add("decimal scale 10", [](Forged& f) { f[bf::Section::kValueTags] = "\x02\x0a"; });
  add("decimal of 2^53", [](Forged& f) {
    f[bf::Section::kValueVarints].clear();
    put_varint64(&f[bf::Section::kValueVarints], zigzag_encode(int64_t{1} << 53));
  });
  add("unknown quality mode", [](Forged& f) { f[bf::Section::kQualities] = "\x02\x00"s; });
  add("quality over 32 bits", [](Forged& f) {
    f[bf::Section::kQualities] = "\x00"s;
    put_varint64(&f[bf::Section::kQualities], uint64_t{1} << 32);
  });
  add("mixed type 4", [](Forged& f) { f[bf::Section::kValueTags] = "\x06\x04"; });
  add("XOR window reused before set", [](Forged& f) {
    f.samples = 2;
    f[bf::Section::kCounts] = "\x02";
    f[bf::Section::kTimestamps] = "\x00\x00"s;
    f[bf::Section::kValueTags] = "\x01";
    f[bf::Section::kValueVarints].clear();
    f[bf::Section::kValueBits] = std::string(8, '\0') + "\x80"s;  // 64 bits, then "10"
  });
  add("XOR window past 64 bits", [](Forged& f) {
    f.samples = 2;
    f[bf::Section::kCounts] = "\x02";
    f[bf::Section::kTimestamps] = "\x00\x00"s;
    f[bf::Section::kValueTags] = "\x01";
    f[bf::Section::kValueVarints].clear();
    // "11", lead 31 (11111), length-1 63 (111111), then 64 bits.
    f[bf::Section::kValueBits] = std::string(8, '\0') + std::string(10, '\xff');
  });
  add("trailing bytes in a section", [](Forged& f) { f[bf::Section::kQualities] += "\x00"s; });
  add("nonzero padding bits", [](Forged& f) {
    f[bf::Section::kValueTags] = "\x04";  // bool: one bit used
    f[bf::Section::kValueVarints].clear();
    f[bf::Section::kValueBits] = "\x01";
  });
  add("a whole unread byte of bits", [](Forged& f) { f[bf::Section::kValueBits] = "\x00"s; });
  add("oversized varint",
      [](Forged& f) { f[bf::Section::kValueVarints] = std::string(10, '\xff') + "\x01"s; });
  add("varint beyond 64 bits",
      [](Forged& f) { f[bf::Section::kValueVarints] = std::string(9, '\xff') + "\x02"s; });
  for (const auto& [name, raw] : cases) {
    EXPECT_EQ(decode_checked(raw).code(), Code::kCorruption) << name;
  }
  Forged trailing = forged_one_sample();
  EXPECT_EQ(decode_checked(trailing.bytes() + "x").code(), Code::kCorruption);
}

// ---- the primitives underneath ----

RC_GTEST_PROP(Varint, RoundTripsAndRejectsEveryTruncation, (uint64_t v)) {
  std::string s;
  put_varint64(&s, v);
  RC_ASSERT(s.size() == varint_length(v));
  RC_ASSERT(s.size() <= kMaxVarint64Bytes);
  ByteCursor in(s);
  uint64_t back = 0;
  RC_ASSERT(in.get_varint64(&back));
  RC_ASSERT(back == v);
  RC_ASSERT(in.at_end());
  for (size_t len = 0; len < s.size(); ++len) {
    ByteCursor cut(std::string_view(s).substr(0, len));
    RC_ASSERT(!cut.get_varint64(&back));
  }
}

RC_GTEST_PROP(Varint, ZigzagRoundTrips, (int64_t v)) {
  RC_ASSERT(zigzag_decode(zigzag_encode(v)) == v);
}

TEST(Varint, ZigzagKeepsSmallMagnitudesSmall) {
  EXPECT_EQ(zigzag_encode(0), 0u);
  EXPECT_EQ(zigzag_encode(-1), 1u);
  EXPECT_EQ(zigzag_encode(1), 2u);
  EXPECT_EQ(zigzag_encode(INT64_MIN), UINT64_MAX);
  EXPECT_EQ(zigzag_encode(INT64_MAX), UINT64_MAX - 1);
}

TEST(Varint, FixedWidthIsLittleEndian) {
  std::string s;
  put_fixed32(&s, 0x04030201u);
  put_fixed64(&s, 0x0807060504030201ull);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x01\x02\x03\x04\x05\x06\x07\x08"));
  ByteCursor in(s);
  uint32_t a = 0;
  uint64_t b = 0;
  ASSERT_TRUE(in.get_fixed32(&a));
  ASSERT_TRUE(in.get_fixed64(&b));
  EXPECT_EQ(a, 0x04030201u);
  EXPECT_EQ(b, 0x0807060504030201ull);
  EXPECT_FALSE(in.get_fixed32(&a));
}

RC_GTEST_PROP(BitStream, FieldsRoundTripAndReadsStopAtTheEnd, ()) {
  const auto widths = *rc::gen::container<std::vector<unsigned>>(rc::gen::inRange<unsigned>(0, 65));
  std::vector<uint64_t> values;
  std::string bytes;
  BitWriter w(&bytes);
  size_t total = 0;
  for (unsigned n : widths) {
    uint64_t v = *rc::gen::arbitrary<uint64_t>();
    if (n < 64) v &= (uint64_t{1} << n) - 1;
    values.push_back(v);
    w.write(v, n);
    total += n;
  }
  w.finish();
  RC_ASSERT(bytes.size() == (total + 7) / 8);
  BitReader r(bytes);
  for (size_t i = 0; i < widths.size(); ++i) {
    uint64_t v = 0;
    RC_ASSERT(r.read(widths[i], &v));
    RC_ASSERT(v == values[i]);
  }
  RC_ASSERT(r.at_padding());
  uint64_t v = 0;
  RC_ASSERT(!r.read(static_cast<unsigned>(r.bits_remaining() + 1), &v));
}

}  // namespace
}  // namespace sluice
