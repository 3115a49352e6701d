// Batch payload encoder and decoder: turns a Batch into the columnar bytes of a store record
// (docs/batch-format.md) and back. The encoder groups samples by series id, writes each column
// into its own section so that zstd or lz4 squeeze the constant ones, and keeps its scratch
// space thread_local so that steady-state encoding allocates nothing. The decoder distrusts
// its input: every count and length is checked against DecodeLimits and the bytes left before
// anything is allocated or read.
#include "core/batch_codec.h"

#include <fmt/format.h>
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/varint.h"

namespace sluice {
namespace {

namespace bf = batch_format;

constexpr std::array<double, bf::kMaxDecimalScale + 1> kPow10 = {1e0, 1e1, 1e2, 1e3, 1e4,
                                                                 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr double kDecimalLimit = static_cast<double>(bf::kMaxDecimalMagnitude);  // 2^53
// The encoder keeps the previous group's decimal scale while the values would lose at most this
// many digits at a smaller one: "21.50" keeps scale 2 like its neighbours.
constexpr int kStickyScaleSlack = 2;
constexpr unsigned kXorLeadingBits = 5;  // leading-zero count, capped at 31
constexpr unsigned kXorLengthBits = 6;   // meaningful bit count - 1 (1..64)
constexpr unsigned kMaxXorLeading = (1u << kXorLeadingBits) - 1;
constexpr size_t kMinHashSlots = 64;

// ---------------------------------------------------------------------------------------------
// Shared helpers

inline uint64_t double_bits(double v) { return std::bit_cast<uint64_t>(v); }
inline double bits_double(uint64_t b) { return std::bit_cast<double>(b); }

// Round half away from zero, for |x| < 2^53. Exact: x - trunc(x) has no rounding error.
inline int64_t round_to_int(double x) {
  auto n = static_cast<int64_t>(x);
  const double frac = x - static_cast<double>(n);
  if (frac >= 0.5) {
    ++n;
  } else if (frac <= -0.5) {
    --n;
  }
  return n;
}

// True when v == n / 10^e bitwise for the n nearest to v * 10^e, with |n| < 2^53. The rounding
// only proposes n; the division (what the decoder computes) decides.
inline bool decimal_at(double v, int e, int64_t* n) {
  const double x = v * kPow10[e];
  const double magnitude = std::fabs(x);
  if (!(magnitude < kDecimalLimit)) return false;  // also rejects NaN and Inf
  const int64_t r = round_to_int(x);
  if (r >= bf::kMaxDecimalMagnitude || r <= -bf::kMaxDecimalMagnitude) return false;
  // A true decimal lands within about 2^-52 |x| of r after the multiply; anything farther off
  // is not one, and skipping its division (the slow part) is what makes the search cheap.
  if (std::fabs(x - static_cast<double>(r)) > magnitude * 0x1p-50) return false;
  if (double_bits(static_cast<double>(r) / kPow10[e]) != double_bits(v)) return false;
  *n = r;
  return true;
}

// The smallest scale >= from at which v is a decimal, or -1.
inline int decimal_scale_from(double v, int from, int64_t* n) {
  for (int e = from; e <= bf::kMaxDecimalScale; ++e) {
    if (decimal_at(v, e, n)) return e;
  }
  return -1;
}

// A grow-only byte buffer written through a cursor. It keeps its capacity between batches, so
// steady-state encoding does not allocate, and a varint costs one bounds check, not a call.
class SectionBuffer {
 public:
  void clear() { size_ = 0; }
  size_t size() const { return size_; }
  std::string_view view() const { return {buf_.data(), size_}; }

  void put_u8(uint8_t b) {
    reserve(1);
    buf_[size_++] = static_cast<char>(b);
  }
  void put_varint(uint64_t v) {
    reserve(kMaxVarint64Bytes);
    size_ = static_cast<size_t>(encode_varint64(buf_.data() + size_, v) - buf_.data());
  }
  // Frees the buffer when it grew past `keep` bytes, so that one huge batch does not pin its
  // memory to the thread for good.
  void trim(size_t keep) {
    if (buf_.size() > keep) {
      std::string().swap(buf_);
      size_ = 0;
    }
  }
  void append(std::string_view bytes) {
    reserve(bytes.size());
    if (!bytes.empty()) std::memcpy(buf_.data() + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
  }

 private:
  void reserve(size_t n) {
    if (buf_.size() - size_ < n) grow(n);
  }
  [[gnu::noinline]] void grow(size_t n) { buf_.resize(std::max(2 * buf_.size(), size_ + n)); }

  std::string buf_;  // its size is the capacity; bytes past size_ are unused
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Encoder

// Thread-local working space of the encoder; every container keeps its capacity between
// batches.
struct EncodeScratch {
  // Open-addressing map series id -> group; a slot is live when its stamp is the batch's.
  struct Slot {
    uint32_t stamp = 0;
    uint32_t id = 0;
    uint32_t group = 0;
  };
  std::vector<Slot> slots;
  uint32_t stamp = 0;

  std::vector<uint32_t> group_ids;     // in first-appearance order
  std::vector<uint32_t> group_counts;  // samples per group
  std::vector<uint32_t> group_end;     // one past the group's last entry in `order`
  std::vector<uint32_t> sample_group;  // group of each input sample
  std::vector<uint32_t> order;         // input indices, grouped, stable within a group
  std::vector<int64_t> decimals;       // scaled integers of the current decimal group
  std::vector<const Sample*> group;    // the current group's samples, contiguous

  // All sections but kValueBits, which the BitWriter fills in `bits`.
  std::array<SectionBuffer, bf::kSectionCount> sections;
  std::string bits;
  SectionBuffer raw;

  SectionBuffer& operator[](bf::Section section) { return sections[static_cast<size_t>(section)]; }
};

// Scratch space above this size is freed after the batch that needed it; normal batches (a
// few thousand samples) stay far below, so steady-state encoding keeps all of its buffers.
constexpr size_t kKeepScratchBytes = 16u << 20;

template <typename T>
void trim_vector(std::vector<T>* v) {
  // T is sometimes a pointer; its size is what the vector holds.
  if (v->capacity() * sizeof(T) > kKeepScratchBytes) {  // NOLINT(bugprone-sizeof-expression)
    std::vector<T>().swap(*v);
  }
}

void trim_scratch(EncodeScratch* s) {
  if (s->slots.capacity() * sizeof(EncodeScratch::Slot) > kKeepScratchBytes) {
    std::vector<EncodeScratch::Slot>().swap(s->slots);
    s->stamp = 0;
  }
  trim_vector(&s->group_ids);
  trim_vector(&s->group_counts);
  trim_vector(&s->group_end);
  trim_vector(&s->sample_group);
  trim_vector(&s->order);
  trim_vector(&s->decimals);
  trim_vector(&s->group);
  for (SectionBuffer& section : s->sections) section.trim(kKeepScratchBytes);
  if (s->bits.capacity() > kKeepScratchBytes) std::string().swap(s->bits);
  s->raw.trim(kKeepScratchBytes);
}

EncodeScratch& encode_scratch() {
  thread_local EncodeScratch scratch;
  return scratch;
}

struct ZstdContexts {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx{ZSTD_createCCtx(), &ZSTD_freeCCtx};
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx{ZSTD_createDCtx(), &ZSTD_freeDCtx};
};

ZstdContexts& zstd_contexts() {
  thread_local ZstdContexts contexts;
  return contexts;
}

// Groups the samples by series id, groups in first-appearance order: O(n) with a hash map whose
// table is reused, then a counting sort of the indices.
void group_by_series(std::span<const uint32_t> ids, EncodeScratch* s) {
  const size_t n = ids.size();
  s->group_ids.clear();
  s->group_counts.clear();
  s->sample_group.resize(n);
  s->order.resize(n);

  size_t want = kMinHashSlots;
  while (want < 2 * n) want *= 2;
  if (s->slots.size() < want) {
    s->slots.assign(want, EncodeScratch::Slot{});
    s->stamp = 0;
  }
  if (++s->stamp == 0) {  // the stamp wrapped: old slots could look live
    std::fill(s->slots.begin(), s->slots.end(), EncodeScratch::Slot{});
    s->stamp = 1;
  }
  const uint32_t stamp = s->stamp;
  const size_t mask = s->slots.size() - 1;
  const int shift = 64 - std::countr_zero(s->slots.size());
  EncodeScratch::Slot* slots = s->slots.data();

  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = ids[i];
    size_t h = static_cast<size_t>((uint64_t{id} * 0x9E3779B97F4A7C15ull) >> shift);
    uint32_t group;
    for (;;) {
      EncodeScratch::Slot& slot = slots[h];
      if (slot.stamp != stamp) {
        group = static_cast<uint32_t>(s->group_ids.size());
        slot = {stamp, id, group};
        s->group_ids.push_back(id);
        s->group_counts.push_back(0);
        break;
      }
      if (slot.id == id) {
        group = slot.group;
        break;
      }
      h = (h + 1) & mask;
    }
    s->sample_group[i] = group;
    ++s->group_counts[group];
  }

  const size_t groups = s->group_ids.size();
  s->group_end.resize(groups);
  if (groups == n) {  // every sample its own series: the input order is already grouped
    for (size_t i = 0; i < n; ++i) {
      s->order[i] = static_cast<uint32_t>(i);
      s->group_end[i] = static_cast<uint32_t>(i + 1);
    }
    return;
  }
  uint32_t next = 0;
  for (size_t g = 0; g < groups; ++g) {
    s->group_end[g] = next;  // the group's first position; becomes its end while filling
    next += s->group_counts[g];
  }
  for (size_t i = 0; i < n; ++i)
    s->order[s->group_end[s->sample_group[i]]++] = static_cast<uint32_t>(i);
}

// Fills *n with v * 10^e of every value of the group; false when one is not a decimal at e.
bool all_decimal_at(const Sample* const* group, size_t count, int e, std::vector<int64_t>* n) {
  n->clear();
  for (size_t i = 0; i < count; ++i) {
    int64_t v{};
    if (!decimal_at(*std::get_if<double>(&group[i]->value), e, &v)) return false;
    n->push_back(v);
  }
  return true;
}

// How many of the last `limit` decimal digits of n are zero.
inline int trailing_decimal_zeros(int64_t n, int limit) {
  int zeros = 0;
  while (zeros < limit && n % 10 == 0) {
    n /= 10;
    ++zeros;
  }
  return zeros;
}

// The decimal scale for a group of doubles, with *n filled at that scale, or -1 when the group
// is not all decimals. The previous group's scale is tried first: neighbouring series usually
// share one, which keeps the tag section constant and spares the search. It is left for a
// smaller one only when every value would lose more than kStickyScaleSlack digits.
int choose_decimal_scale(const Sample* const* group, size_t count, int prev_scale,
                         std::vector<int64_t>* n) {
  if (prev_scale >= 0 && all_decimal_at(group, count, prev_scale, n)) {
    int zeros = prev_scale;
    for (size_t i = 0; i < count && zeros > kStickyScaleSlack; ++i) {
      zeros = trailing_decimal_zeros((*n)[i], zeros);
    }
    if (zeros <= kStickyScaleSlack) return prev_scale;
    if (all_decimal_at(group, count, prev_scale - zeros, n)) return prev_scale - zeros;
    all_decimal_at(group, count, prev_scale, n);
    return prev_scale;
  }
  // The smallest scale that fits every value; restarts when a value needs a larger one.
  int scale = 0;
  n->clear();
  for (size_t i = 0; i < count;) {
    int64_t v{};
    const double d = *std::get_if<double>(&group[i]->value);
    if (decimal_at(d, scale, &v)) {
      n->push_back(v);
      ++i;
      continue;
    }
    scale = decimal_scale_from(d, scale + 1, &v);
    if (scale < 0) return -1;
    n->clear();
    i = 0;
  }
  return scale;
}

// Writes the values of one group, all of which are doubles, as decimals if they all are, else
// with Gorilla XOR. `prev_scale` is the scale of the last decimal group (-1 before any).
void encode_doubles(const Sample* const* group, size_t count, int* prev_scale, EncodeScratch* s,
                    BitWriter* bits) {
  SectionBuffer& tags = (*s)[bf::Section::kValueTags];
  SectionBuffer& varints = (*s)[bf::Section::kValueVarints];
  std::vector<int64_t>& n = s->decimals;

  const int scale = choose_decimal_scale(group, count, *prev_scale, &n);
  if (scale >= 0) {
    *prev_scale = scale;
    tags.put_u8(static_cast<uint8_t>(bf::ValueEncoding::kDoubleDecimal));
    tags.put_u8(static_cast<uint8_t>(scale));
    int64_t prev = 0;
    for (size_t i = 0; i < count; ++i) {
      varints.put_varint(zigzag_encode(n[i] - prev));  // |n| < 2^53: no overflow
      prev = n[i];
    }
    return;
  }

  tags.put_u8(static_cast<uint8_t>(bf::ValueEncoding::kDoubleXor));
  uint64_t prev = double_bits(std::get<double>(group[0]->value));
  bits->write(prev, 64);
  bool have_window = false;
  unsigned window_lead = 0;
  unsigned window_trail = 0;
  for (size_t i = 1; i < count; ++i) {
    const uint64_t cur = double_bits(std::get<double>(group[i]->value));
    const uint64_t x = cur ^ prev;
    prev = cur;
    if (x == 0) {
      bits->write(0, 1);
      continue;
    }
    const unsigned lead = std::min<unsigned>(std::countl_zero(x), kMaxXorLeading);
    const unsigned trail = std::countr_zero(x);
    if (have_window && lead >= window_lead && trail >= window_trail) {
      bits->write(0b10, 2);
      bits->write(x >> window_trail, 64 - window_lead - window_trail);
    } else {
      const unsigned len = 64 - lead - trail;
      bits->write(0b11, 2);
      bits->write(lead, kXorLeadingBits);
      bits->write(len - 1, kXorLengthBits);
      bits->write(x >> trail, len);
      have_window = true;
      window_lead = lead;
      window_trail = trail;
    }
  }
}

Status encode_group_values(const Sample* const* group, size_t count, int* prev_scale,
                           EncodeScratch* s, BitWriter* bits) {
  SectionBuffer& tags = (*s)[bf::Section::kValueTags];
  SectionBuffer& varints = (*s)[bf::Section::kValueVarints];
  SectionBuffer& strings = (*s)[bf::Section::kStringBytes];
  const uint32_t max_string = DecodeLimits{}.max_string_bytes;

  const uint32_t max_raw = DecodeLimits{}.max_raw_bytes;
  auto put_string = [&](const std::string& v) -> Status {
    if (v.size() > max_string) {
      return invalid_argument(fmt::format("string value of {} bytes exceeds the limit of {} bytes",
                                          v.size(), max_string));
    }
    if (strings.size() + v.size() > max_raw) {  // refuse early, before buffering gigabytes
      return invalid_argument(
          fmt::format("string values exceed the batch limit of {} bytes", max_raw));
    }
    varints.put_varint(v.size());
    strings.append(v);
    return {};
  };

  const size_t type = group[0]->value.index();
  bool same_type = true;
  for (size_t i = 1; i < count && same_type; ++i) same_type = group[i]->value.index() == type;

  if (!same_type) {
    tags.put_u8(static_cast<uint8_t>(bf::ValueEncoding::kMixed));
    for (size_t i = 0; i < count; ++i) tags.put_u8(static_cast<uint8_t>(group[i]->value.index()));
    for (size_t i = 0; i < count; ++i) {
      const Value& v = group[i]->value;
      switch (value_type(v)) {
        case ValueType::kDouble: bits->write(double_bits(std::get<double>(v)), 64); break;
        case ValueType::kInt64: varints.put_varint(zigzag_encode(std::get<int64_t>(v))); break;
        case ValueType::kBool: bits->write(std::get<bool>(v) ? 1 : 0, 1); break;
        case ValueType::kString:
          SLUICE_RETURN_IF_ERROR(put_string(std::get<std::string>(v)));
          break;
      }
    }
    return {};
  }

  switch (static_cast<ValueType>(type)) {
    case ValueType::kDouble: encode_doubles(group, count, prev_scale, s, bits); break;
    case ValueType::kInt64: {
      tags.put_u8(static_cast<uint8_t>(bf::ValueEncoding::kInt64Delta));
      uint64_t prev = 0;
      for (size_t i = 0; i < count; ++i) {
        const auto cur = static_cast<uint64_t>(std::get<int64_t>(group[i]->value));
        varints.put_varint(zigzag_encode(static_cast<int64_t>(cur - prev)));  // wraps
        prev = cur;
      }
      break;
    }
    case ValueType::kBool:
      tags.put_u8(static_cast<uint8_t>(bf::ValueEncoding::kBool));
      for (size_t i = 0; i < count; ++i) bits->write(std::get<bool>(group[i]->value) ? 1 : 0, 1);
      break;
    case ValueType::kString:
      tags.put_u8(static_cast<uint8_t>(bf::ValueEncoding::kString));
      for (size_t i = 0; i < count; ++i) {
        SLUICE_RETURN_IF_ERROR(put_string(std::get<std::string>(group[i]->value)));
      }
      break;
  }
  return {};
}

struct RawStats {
  uint32_t sample_count = 0;
  Timestamp min_ts = 0;
  Timestamp max_ts = 0;
};

// Builds the raw payload of `batch` in s->raw.
Status encode_raw(const Batch& batch, std::span<const uint32_t> series_ids, EncodeScratch* s,
                  RawStats* stats) {
  const size_t n = batch.samples.size();
  for (SectionBuffer& section : s->sections) section.clear();
  s->bits.clear();
  group_by_series(series_ids, s);

  SectionBuffer& ids_out = (*s)[bf::Section::kSeriesIds];
  SectionBuffer& counts_out = (*s)[bf::Section::kCounts];
  SectionBuffer& ts_out = (*s)[bf::Section::kTimestamps];
  SectionBuffer& quality_out = (*s)[bf::Section::kQualities];
  BitWriter bits(&s->bits);

  Timestamp min_ts = n > 0 ? INT64_MAX : 0;
  Timestamp max_ts = n > 0 ? INT64_MIN : 0;
  int64_t prev_id = 0;
  uint64_t prev_first_ts = 0;
  int prev_scale = -1;
  std::vector<const Sample*>& group = s->group;

  const size_t groups = s->group_ids.size();
  for (size_t g = 0; g < groups; ++g) {
    const uint32_t count = s->group_counts[g];
    const uint32_t* idx = s->order.data() + (s->group_end[g] - count);
    group.resize(count);
    for (uint32_t j = 0; j < count; ++j) group[j] = &batch.samples[idx[j]];

    ids_out.put_varint(zigzag_encode(int64_t{s->group_ids[g]} - prev_id));
    prev_id = s->group_ids[g];
    counts_out.put_varint(count);

    // Timestamps: the first against the previous group's first, then delta-of-delta. All in
    // uint64 so that any int64 pair wraps instead of overflowing.
    uint64_t prev_ts = static_cast<uint64_t>(group[0]->ts);
    ts_out.put_varint(zigzag_encode(static_cast<int64_t>(prev_ts - prev_first_ts)));
    prev_first_ts = prev_ts;
    uint64_t prev_delta = 0;
    min_ts = std::min(min_ts, group[0]->ts);
    max_ts = std::max(max_ts, group[0]->ts);
    for (uint32_t j = 1; j < count; ++j) {
      const Timestamp t = group[j]->ts;
      const uint64_t delta = static_cast<uint64_t>(t) - prev_ts;
      ts_out.put_varint(zigzag_encode(static_cast<int64_t>(delta - prev_delta)));
      prev_delta = delta;
      prev_ts = static_cast<uint64_t>(t);
      min_ts = std::min(min_ts, t);
      max_ts = std::max(max_ts, t);
    }

    SLUICE_RETURN_IF_ERROR(encode_group_values(group.data(), count, &prev_scale, s, &bits));

    const Quality q0 = group[0]->quality;
    bool same_quality = true;
    for (uint32_t j = 1; j < count && same_quality; ++j) same_quality = group[j]->quality == q0;
    if (same_quality) {
      quality_out.put_u8(static_cast<uint8_t>(bf::QualityMode::kSame));
      quality_out.put_varint(q0);
    } else {
      quality_out.put_u8(static_cast<uint8_t>(bf::QualityMode::kPerSample));
      for (uint32_t j = 0; j < count; ++j) quality_out.put_varint(group[j]->quality);
    }
  }
  bits.finish();

  SectionBuffer& raw = s->raw;
  raw.clear();
  raw.put_u8(bf::kVersion);
  raw.put_varint(n);
  raw.put_varint(groups);
  for (size_t i = 0; i < s->sections.size(); ++i) {
    const std::string_view section = i == static_cast<size_t>(bf::Section::kValueBits)
                                         ? std::string_view(s->bits)
                                         : s->sections[i].view();
    raw.put_varint(section.size());
    raw.append(section);
  }
  if (raw.size() > DecodeLimits{}.max_raw_bytes) {
    return invalid_argument(fmt::format("encoded batch of {} bytes exceeds the limit of {} bytes",
                                        raw.size(), DecodeLimits{}.max_raw_bytes));
  }
  stats->sample_count = static_cast<uint32_t>(n);
  stats->min_ts = min_ts;
  stats->max_ts = max_ts;
  return {};
}

// Compresses `raw` into `dst`; returns the compressed size, or 0 when the codec failed.
size_t compress_into(std::string_view raw, const EncodeOptions& options, std::string* dst) {
  if (options.compression == Compression::kLz4) {
    const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
    dst->resize(static_cast<size_t>(bound));
    const int size =
        LZ4_compress_default(raw.data(), dst->data(), static_cast<int>(raw.size()), bound);
    return size > 0 ? static_cast<size_t>(size) : 0;
  }
  ZSTD_CCtx* cctx = zstd_contexts().cctx.get();
  if (cctx == nullptr) return 0;
  dst->resize(ZSTD_compressBound(raw.size()));
  const size_t size =
      ZSTD_compressCCtx(cctx, dst->data(), dst->size(), raw.data(), raw.size(), options.zstd_level);
  return ZSTD_isError(size) ? 0 : size;
}

// Fills `out` with `raw`, compressed when that saves at least options.min_saving.
void store_payload(std::string_view raw, const EncodeOptions& options, const RawStats& stats,
                   EncodedBatch* out) {
  out->sample_count = stats.sample_count;
  out->min_ts = stats.min_ts;
  out->max_ts = stats.max_ts;
  out->raw_size = static_cast<uint32_t>(raw.size());
  if (options.compression != Compression::kNone) {
    const size_t size = compress_into(raw, options, &out->bytes);
    const double most = static_cast<double>(raw.size()) * (1.0 - options.min_saving);
    if (size > 0 && static_cast<double>(size) <= most) {
      out->bytes.resize(size);
      out->compression = options.compression;
      return;
    }
  }
  out->bytes.assign(raw);
  out->compression = Compression::kNone;
}

// ---------------------------------------------------------------------------------------------
// Decoder

Status corrupt_at(size_t offset, std::string_view what) {
  return corruption(fmt::format("batch payload: {} at byte {}", what, offset));
}

// The header and section boundaries of a raw payload, checked against each other and the
// limits.
struct PayloadView {
  uint32_t sample_count = 0;
  uint32_t group_count = 0;
  std::array<ByteCursor, bf::kSectionCount> sections;
  std::array<std::string_view, bf::kSectionCount> section_bytes;
  std::array<size_t, bf::kSectionCount> section_offset{};

  ByteCursor& operator[](bf::Section s) { return sections[static_cast<size_t>(s)]; }
};

constexpr std::array<const char*, bf::kSectionCount> kSectionNames = {
    "series ids",    "counts",     "timestamps",   "value tags",
    "value varints", "value bits", "string bytes", "qualities"};

Status parse_payload(std::string_view raw, const DecodeLimits& limits, PayloadView* view) {
  if (raw.size() > limits.max_raw_bytes) {
    return corruption(fmt::format("batch payload: {} bytes exceed the limit of {} bytes",
                                  raw.size(), limits.max_raw_bytes));
  }
  ByteCursor in(raw);
  uint8_t version;
  if (!in.get_byte(&version)) return corrupt_at(in.offset(), "missing version byte");
  if (version != bf::kVersion) {
    return corrupt_at(0, fmt::format("unknown format version/flags 0x{:02x}", version));
  }
  uint64_t samples{};
  size_t at = in.offset();
  if (!in.get_varint64(&samples)) return corrupt_at(at, "truncated sample count");
  if (samples > limits.max_samples) {
    return corrupt_at(
        at, fmt::format("sample count {} over the limit {}", samples, limits.max_samples));
  }
  uint64_t groups{};
  at = in.offset();
  if (!in.get_varint64(&groups)) return corrupt_at(at, "truncated group count");
  if (groups > samples || (groups == 0) != (samples == 0)) {
    return corrupt_at(at,
                      fmt::format("group count {} does not fit sample count {}", groups, samples));
  }
  view->sample_count = static_cast<uint32_t>(samples);
  view->group_count = static_cast<uint32_t>(groups);

  for (int i = 0; i < bf::kSectionCount; ++i) {
    uint64_t len{};
    at = in.offset();
    if (!in.get_varint64(&len)) {
      return corrupt_at(at, fmt::format("truncated length of the {} section", kSectionNames[i]));
    }
    std::string_view bytes;
    if (len > in.remaining() || !in.get_bytes(static_cast<size_t>(len), &bytes)) {
      return corrupt_at(at, fmt::format("{} section of {} bytes runs past the end ({} left)",
                                        kSectionNames[i], len, in.remaining()));
    }
    const size_t base = in.offset() - bytes.size();
    view->sections[i] = ByteCursor(bytes, base);
    view->section_bytes[i] = bytes;
    view->section_offset[i] = base;
  }
  if (!in.at_end()) return corrupt_at(in.offset(), "trailing bytes after the last section");

  // Every sample has at least one byte in the timestamp section and every group one in the id
  // and count sections, so the counts are bounded by the bytes actually present.
  if (samples > (*view)[bf::Section::kTimestamps].remaining()) {
    return corrupt_at(view->section_offset[static_cast<size_t>(bf::Section::kTimestamps)],
                      fmt::format("{} samples cannot fit in a timestamp section of {} bytes",
                                  samples, (*view)[bf::Section::kTimestamps].remaining()));
  }
  if (groups > (*view)[bf::Section::kSeriesIds].remaining() ||
      groups > (*view)[bf::Section::kCounts].remaining()) {
    return corrupt_at(view->section_offset[static_cast<size_t>(bf::Section::kSeriesIds)],
                      fmt::format("{} groups cannot fit in the id and count sections", groups));
  }
  return {};
}

// Reads one group's id and count; shared by decode and scan.
Status read_group_header(PayloadView& view, int64_t* prev_id, uint32_t samples_left, uint32_t* id,
                         uint32_t* count) {
  ByteCursor& ids = view[bf::Section::kSeriesIds];
  ByteCursor& counts = view[bf::Section::kCounts];
  uint64_t zz{};
  size_t at = ids.offset();
  if (!ids.get_varint64(&zz)) return corrupt_at(at, "truncated series id");
  const int64_t delta = zigzag_decode(zz);
  if (delta > int64_t{UINT32_MAX} || delta < -int64_t{UINT32_MAX} || *prev_id + delta < 0 ||
      *prev_id + delta > int64_t{UINT32_MAX}) {
    return corrupt_at(at, "series id out of range");
  }
  *prev_id += delta;
  *id = static_cast<uint32_t>(*prev_id);
  at = counts.offset();
  if (!counts.get_varint32(count)) return corrupt_at(at, "truncated or oversized group count");
  if (*count == 0 || *count > samples_left) {
    return corrupt_at(at,
                      fmt::format("group of {} samples where {} are left", *count, samples_left));
  }
  return {};
}

// Reads one group after another from the sections of a parsed payload, each column from its
// own cursor; carries what crosses groups (the previous first timestamp, the bit position).
class GroupDecoder {
 public:
  GroupDecoder(PayloadView& view, const DecodeLimits& limits)
      : view_(view),
        limits_(limits),
        bits_(view.section_bytes[static_cast<size_t>(bf::Section::kValueBits)],
              view.section_offset[static_cast<size_t>(bf::Section::kValueBits)]) {}

  Status timestamps(Sample* group, uint32_t count) {
    ByteCursor& in = view_[bf::Section::kTimestamps];
    uint64_t zz{};
    size_t at = in.offset();
    if (!in.get_varint64(&zz)) return corrupt_at(at, "truncated timestamp");
    uint64_t ts = prev_first_ts_ + static_cast<uint64_t>(zigzag_decode(zz));
    prev_first_ts_ = ts;
    group[0].ts = static_cast<Timestamp>(ts);
    uint64_t delta = 0;
    for (uint32_t j = 1; j < count; ++j) {
      at = in.offset();
      if (!in.get_varint64(&zz)) return corrupt_at(at, "truncated timestamp");
      delta += static_cast<uint64_t>(zigzag_decode(zz));
      ts += delta;
      group[j].ts = static_cast<Timestamp>(ts);
    }
    return {};
  }

  Status values(Sample* group, uint32_t count) {
    ByteCursor& tags = view_[bf::Section::kValueTags];
    const size_t at = tags.offset();
    uint8_t tag{};
    if (!tags.get_byte(&tag)) return corrupt_at(at, "truncated value tag");
    switch (static_cast<bf::ValueEncoding>(tag)) {
      case bf::ValueEncoding::kDoubleXor: return xor_doubles(group, count);
      case bf::ValueEncoding::kDoubleDecimal: return decimals(group, count);
      case bf::ValueEncoding::kInt64Delta: return int64_deltas(group, count);
      case bf::ValueEncoding::kBool:
        for (uint32_t j = 0; j < count; ++j) {
          bool b{};
          SLUICE_RETURN_IF_ERROR(read_bool(&b));
          group[j].value = b;
        }
        return {};
      case bf::ValueEncoding::kString:
        for (uint32_t j = 0; j < count; ++j) SLUICE_RETURN_IF_ERROR(read_string(&group[j].value));
        return {};
      case bf::ValueEncoding::kMixed: return mixed(group, count);
    }
    return corrupt_at(at, fmt::format("unknown value encoding {}", tag));
  }

  Status qualities(Sample* group, uint32_t count) {
    ByteCursor& in = view_[bf::Section::kQualities];
    size_t at = in.offset();
    uint8_t mode{};
    if (!in.get_byte(&mode)) return corrupt_at(at, "truncated quality mode");
    if (mode != static_cast<uint8_t>(bf::QualityMode::kSame) &&
        mode != static_cast<uint8_t>(bf::QualityMode::kPerSample)) {
      return corrupt_at(at, fmt::format("unknown quality mode {}", mode));
    }
    const bool same = mode == static_cast<uint8_t>(bf::QualityMode::kSame);
    Quality q = 0;
    for (uint32_t j = 0; j < count; ++j) {
      if (j == 0 || !same) {
        at = in.offset();
        if (!in.get_varint32(&q)) return corrupt_at(at, "truncated or oversized quality");
      }
      group[j].quality = q;
    }
    return {};
  }

  // After the last group: every section read to its end, the bit stream to its padding.
  Status finish() {
    for (int i = 0; i < bf::kSectionCount; ++i) {
      if (i == static_cast<int>(bf::Section::kValueBits)) continue;
      if (!view_.sections[i].at_end()) {
        return corrupt_at(view_.sections[i].offset(),
                          fmt::format("unread bytes in the {} section", kSectionNames[i]));
      }
    }
    if (!bits_.at_padding()) return corrupt_at(bits_.offset(), "unread bits in the value bits");
    return {};
  }

 private:
  Status read_bits(unsigned n, uint64_t* v) {
    if (!bits_.read(n, v)) return corrupt_at(bits_.offset(), "truncated value bits");
    return {};
  }
  Status read_bool(bool* b) {
    uint64_t v{};
    SLUICE_RETURN_IF_ERROR(read_bits(1, &v));
    *b = v != 0;
    return {};
  }
  Status read_varint(uint64_t* v) {
    ByteCursor& in = view_[bf::Section::kValueVarints];
    const size_t at = in.offset();
    if (!in.get_varint64(v)) return corrupt_at(at, "truncated value varint");
    return {};
  }
  Status read_string(Value* out) {
    ByteCursor& lengths = view_[bf::Section::kValueVarints];
    ByteCursor& bytes = view_[bf::Section::kStringBytes];
    const size_t at = lengths.offset();
    uint64_t len{};
    if (!lengths.get_varint64(&len)) return corrupt_at(at, "truncated string length");
    if (len > limits_.max_string_bytes || len > bytes.remaining()) {
      return corrupt_at(at, fmt::format("string of {} bytes (limit {}, {} string bytes left)", len,
                                        limits_.max_string_bytes, bytes.remaining()));
    }
    std::string_view sv;
    bytes.get_bytes(static_cast<size_t>(len), &sv);
    out->emplace<std::string>(sv);
    return {};
  }

  Status xor_doubles(Sample* group, uint32_t count) {
    uint64_t prev{};
    SLUICE_RETURN_IF_ERROR(read_bits(64, &prev));
    group[0].value = bits_double(prev);
    bool have_window = false;
    unsigned lead = 0;
    unsigned trail = 0;
    for (uint32_t j = 1; j < count; ++j) {
      const size_t at = bits_.offset();
      uint64_t control{};
      SLUICE_RETURN_IF_ERROR(read_bits(1, &control));
      if (control != 0) {
        SLUICE_RETURN_IF_ERROR(read_bits(1, &control));
        if (control != 0) {
          uint64_t l{};
          uint64_t len{};
          SLUICE_RETURN_IF_ERROR(read_bits(kXorLeadingBits, &l));
          SLUICE_RETURN_IF_ERROR(read_bits(kXorLengthBits, &len));
          ++len;
          if (l + len > 64) return corrupt_at(at, "XOR window past 64 bits");
          lead = static_cast<unsigned>(l);
          trail = static_cast<unsigned>(64 - l - len);
          have_window = true;
        } else if (!have_window) {
          return corrupt_at(at, "XOR window reused before one was set");
        }
        uint64_t meaningful{};
        SLUICE_RETURN_IF_ERROR(read_bits(64 - lead - trail, &meaningful));
        prev ^= meaningful << trail;
      }
      group[j].value = bits_double(prev);
    }
    return {};
  }

  Status decimals(Sample* group, uint32_t count) {
    ByteCursor& tags = view_[bf::Section::kValueTags];
    size_t at = tags.offset();
    uint8_t scale{};
    if (!tags.get_byte(&scale)) return corrupt_at(at, "truncated decimal scale");
    if (scale > bf::kMaxDecimalScale) return corrupt_at(at, fmt::format("decimal scale {}", scale));
    ByteCursor& in = view_[bf::Section::kValueVarints];
    uint64_t n = 0;
    for (uint32_t j = 0; j < count; ++j) {
      at = in.offset();
      uint64_t zz{};
      if (!in.get_varint64(&zz)) return corrupt_at(at, "truncated decimal");
      n += static_cast<uint64_t>(zigzag_decode(zz));
      const auto v = static_cast<int64_t>(n);
      if (v >= bf::kMaxDecimalMagnitude || v <= -bf::kMaxDecimalMagnitude) {
        return corrupt_at(at, "decimal magnitude of 2^53 or more");
      }
      group[j].value = static_cast<double>(v) / kPow10[scale];
    }
    return {};
  }

  Status int64_deltas(Sample* group, uint32_t count) {
    uint64_t n = 0;
    for (uint32_t j = 0; j < count; ++j) {
      uint64_t zz{};
      SLUICE_RETURN_IF_ERROR(read_varint(&zz));
      n += static_cast<uint64_t>(zigzag_decode(zz));
      group[j].value = static_cast<int64_t>(n);
    }
    return {};
  }

  Status mixed(Sample* group, uint32_t count) {
    ByteCursor& tags = view_[bf::Section::kValueTags];
    for (uint32_t j = 0; j < count; ++j) {
      const size_t at = tags.offset();
      uint8_t type{};
      if (!tags.get_byte(&type)) return corrupt_at(at, "truncated value type");
      switch (type) {
        case static_cast<uint8_t>(ValueType::kDouble): {
          uint64_t b{};
          SLUICE_RETURN_IF_ERROR(read_bits(64, &b));
          group[j].value = bits_double(b);
          break;
        }
        case static_cast<uint8_t>(ValueType::kInt64): {
          uint64_t zz{};
          SLUICE_RETURN_IF_ERROR(read_varint(&zz));
          group[j].value = zigzag_decode(zz);
          break;
        }
        case static_cast<uint8_t>(ValueType::kBool): {
          bool b{};
          SLUICE_RETURN_IF_ERROR(read_bool(&b));
          group[j].value = b;
          break;
        }
        case static_cast<uint8_t>(ValueType::kString):
          SLUICE_RETURN_IF_ERROR(read_string(&group[j].value));
          break;
        default: return corrupt_at(at, fmt::format("unknown value type {}", type));
      }
    }
    return {};
  }

  PayloadView& view_;
  const DecodeLimits& limits_;
  BitReader bits_;
  uint64_t prev_first_ts_ = 0;
};

// Decodes every group of a parsed payload into samples[0, view.sample_count).
Status decode_groups(PayloadView& view, const SeriesNameLookup& lookup, const DecodeLimits& limits,
                     Sample* samples) {
  GroupDecoder decoder(view, limits);
  int64_t prev_id = 0;
  uint32_t done = 0;
  for (uint32_t g = 0; g < view.group_count; ++g) {
    uint32_t id{};
    uint32_t count{};
    SLUICE_RETURN_IF_ERROR(
        read_group_header(view, &prev_id, view.sample_count - done, &id, &count));
    Sample* group = samples + done;
    SLUICE_RETURN_IF_ERROR(decoder.timestamps(group, count));
    SLUICE_RETURN_IF_ERROR(decoder.values(group, count));
    SLUICE_RETURN_IF_ERROR(decoder.qualities(group, count));
    std::string name = lookup(id);
    for (uint32_t j = 0; j + 1 < count; ++j) group[j].series = name;
    group[count - 1].series = std::move(name);
    done += count;
  }
  if (done != view.sample_count) {
    return corrupt_at(
        view.section_offset[static_cast<size_t>(bf::Section::kCounts)],
        fmt::format("groups hold {} samples, the header says {}", done, view.sample_count));
  }
  return decoder.finish();
}

}  // namespace

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kLz4: return "lz4";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

Status encode_batch(const Batch& batch, std::span<const uint32_t> series_ids,
                    const EncodeOptions& options, EncodedBatch* out) {
  if (series_ids.size() != batch.samples.size()) {
    return invalid_argument(fmt::format("encode_batch: {} series ids for {} samples",
                                        series_ids.size(), batch.samples.size()));
  }
  if (batch.samples.size() > DecodeLimits{}.max_samples) {
    return invalid_argument(fmt::format("encode_batch: {} samples exceed the limit of {}",
                                        batch.samples.size(), DecodeLimits{}.max_samples));
  }
  if (!(options.min_saving >= 0.0 && options.min_saving <= 1.0)) {
    return invalid_argument(
        fmt::format("encode_batch: min_saving {} is not in [0, 1]", options.min_saving));
  }
  switch (options.compression) {
    case Compression::kNone:
    case Compression::kLz4: break;
    case Compression::kZstd:
      if (options.zstd_level < ZSTD_minCLevel() || options.zstd_level > ZSTD_maxCLevel()) {
        return invalid_argument(fmt::format("encode_batch: zstd level {} not in [{}, {}]",
                                            options.zstd_level, ZSTD_minCLevel(),
                                            ZSTD_maxCLevel()));
      }
      break;
    default:
      return invalid_argument(fmt::format("encode_batch: unknown compression {}",
                                          static_cast<int>(options.compression)));
  }

  EncodeScratch& s = encode_scratch();
  RawStats stats;
  Status st = encode_raw(batch, series_ids, &s, &stats);
  if (st.ok()) store_payload(s.raw.view(), options, stats, out);
  trim_scratch(&s);
  return st;
}

Status decompress_payload(std::string_view stored, Compression compression, uint32_t raw_size,
                          const DecodeLimits& limits, std::string* raw) {
  if (raw_size > limits.max_raw_bytes) {
    return corruption(fmt::format("batch payload: raw size {} over the limit {}", raw_size,
                                  limits.max_raw_bytes));
  }
  switch (compression) {
    case Compression::kNone:
      if (stored.size() != raw_size) {
        return corruption(
            fmt::format("batch payload: {} bytes stored, {} expected", stored.size(), raw_size));
      }
      raw->assign(stored);
      return {};
    case Compression::kLz4: {
      if (stored.size() > static_cast<size_t>(INT_MAX)) {
        return corruption(fmt::format("batch payload: lz4 input of {} bytes", stored.size()));
      }
      raw->resize(raw_size);
      const int n = LZ4_decompress_safe(stored.data(), raw->data(), static_cast<int>(stored.size()),
                                        static_cast<int>(raw_size));
      if (n < 0 || static_cast<uint32_t>(n) != raw_size) {
        return corruption(
            fmt::format("batch payload: lz4 data does not decompress to {} bytes", raw_size));
      }
      return {};
    }
    case Compression::kZstd: {
      ZSTD_DCtx* dctx = zstd_contexts().dctx.get();
      if (dctx == nullptr) return internal_error("batch payload: no zstd decompression context");
      raw->resize(raw_size);
      const size_t n =
          ZSTD_decompressDCtx(dctx, raw->data(), raw_size, stored.data(), stored.size());
      if (ZSTD_isError(n)) {
        return corruption(fmt::format("batch payload: zstd: {}", ZSTD_getErrorName(n)));
      }
      if (n != raw_size) {
        return corruption(fmt::format(
            "batch payload: zstd data decompresses to {} bytes, {} expected", n, raw_size));
      }
      return {};
    }
  }
  return corruption(
      fmt::format("batch payload: unknown compression {}", static_cast<int>(compression)));
}

Status decode_batch(std::string_view raw, const SeriesNameLookup& lookup,
                    const DecodeLimits& limits, Batch* out) {
  PayloadView view;
  SLUICE_RETURN_IF_ERROR(parse_payload(raw, limits, &view));

  // Samples are decoded in place after the caller's, and cut off again on failure, so that a
  // reused batch keeps its capacity. parse_payload bounded sample_count by the bytes present,
  // so this allocation is bounded too.
  std::vector<Sample>& samples = out->samples;
  const size_t before = samples.size();
  samples.resize(before + view.sample_count);
  Status st = decode_groups(view, lookup, limits, samples.data() + before);
  if (!st.ok()) {
    samples.resize(before);
    return st;
  }
  return {};
}

Status scan_series_ids(std::string_view raw, const DecodeLimits& limits, std::vector<uint32_t>* ids,
                       std::vector<uint32_t>* counts) {
  PayloadView view;
  SLUICE_RETURN_IF_ERROR(parse_payload(raw, limits, &view));
  std::vector<uint32_t> group_ids;
  std::vector<uint32_t> group_counts;
  group_ids.reserve(view.group_count);
  group_counts.reserve(view.group_count);
  int64_t prev_id = 0;
  uint32_t done = 0;
  for (uint32_t g = 0; g < view.group_count; ++g) {
    uint32_t id{};
    uint32_t count{};
    SLUICE_RETURN_IF_ERROR(
        read_group_header(view, &prev_id, view.sample_count - done, &id, &count));
    group_ids.push_back(id);
    group_counts.push_back(count);
    done += count;
  }
  if (done != view.sample_count) {
    return corrupt_at(
        view.section_offset[static_cast<size_t>(bf::Section::kCounts)],
        fmt::format("groups hold {} samples, the header says {}", done, view.sample_count));
  }
  for (bf::Section s : {bf::Section::kSeriesIds, bf::Section::kCounts}) {
    if (!view[s].at_end()) {
      return corrupt_at(view[s].offset(), fmt::format("unread bytes in the {} section",
                                                      kSectionNames[static_cast<size_t>(s)]));
    }
  }
  ids->swap(group_ids);
  counts->swap(group_counts);
  return {};
}

}  // namespace sluice
