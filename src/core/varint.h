// Integer and bit encodings shared by the binary formats (batch payload, store records):
// LEB128 unsigned varints, zigzag for signed values, little-endian fixed-width integers, and a
// bit writer/reader for Gorilla-style XOR floats. Readers never step past the bytes they were
// given: every get returns false on truncation instead of reading on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice {

// A 64-bit varint takes at most 10 bytes (7 payload bits per byte).
inline constexpr size_t kMaxVarint64Bytes = 10;
inline constexpr size_t kMaxVarint32Bytes = 5;

// ---- zigzag: small magnitudes of either sign become small unsigned numbers ----

inline constexpr uint64_t zigzag_encode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline constexpr int64_t zigzag_decode(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

// ---- varints ----

// Writes `v` at `dst` (which has room for kMaxVarint64Bytes) and returns the end.
inline char* encode_varint64(char* dst, uint64_t v) {
  auto* p = reinterpret_cast<uint8_t*>(dst);
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return reinterpret_cast<char*>(p);
}

inline size_t varint_length(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline void put_varint64(std::string* dst, uint64_t v) {
  char buf[kMaxVarint64Bytes];
  dst->append(buf, static_cast<size_t>(encode_varint64(buf, v) - buf));
}

inline void put_varint32(std::string* dst, uint32_t v) { put_varint64(dst, v); }

// Parses a varint from [p, limit). Returns the byte after it, or nullptr when the bytes end
// first, the varint is longer than 10 bytes, or its value does not fit in 64 bits.
inline const char* decode_varint64(const char* p, const char* limit, uint64_t* v) {
  uint64_t result = 0;
  for (unsigned shift = 0; shift < 64 && p < limit; shift += 7) {
    const uint64_t byte = static_cast<uint8_t>(*p++);
    if (shift == 63 && byte > 1) return nullptr;  // bits beyond the 64th
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      *v = result;
      return p;
    }
  }
  return nullptr;
}

// ---- fixed width, little endian ----

inline void encode_fixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline void encode_fixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t decode_fixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
inline uint64_t decode_fixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
inline void put_fixed32(std::string* dst, uint32_t v) {
  char buf[4];
  encode_fixed32(buf, v);
  dst->append(buf, 4);
}
inline void put_fixed64(std::string* dst, uint64_t v) {
  char buf[8];
  encode_fixed64(buf, v);
  dst->append(buf, 8);
}

// ---- a bounded reading cursor over bytes ----

// Reads forward through a byte range that it never leaves. `base` is the range's offset in
// the enclosing buffer, so offset() names a position a person can find in a hex dump.
class ByteCursor {
 public:
  ByteCursor() = default;
  explicit ByteCursor(std::string_view bytes, size_t base = 0)
      : begin_(bytes.data()), p_(bytes.data()), end_(bytes.data() + bytes.size()), base_(base) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }
  size_t offset() const { return base_ + static_cast<size_t>(p_ - begin_); }

  bool get_varint64(uint64_t* v) {
    if (p_ < end_ && static_cast<uint8_t>(*p_) < 0x80) {  // the common one-byte case
      *v = static_cast<uint8_t>(*p_++);
      return true;
    }
    const char* next = decode_varint64(p_, end_, v);
    if (next == nullptr) return false;
    p_ = next;
    return true;
  }
  // Fails (without moving) when the varint does not fit in 32 bits.
  bool get_varint32(uint32_t* v) {
    const char* start = p_;
    uint64_t wide{};
    if (!get_varint64(&wide)) return false;
    if (wide > UINT32_MAX) {
      p_ = start;
      return false;
    }
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool get_byte(uint8_t* b) {
    if (p_ == end_) return false;
    *b = static_cast<uint8_t>(*p_++);
    return true;
  }
  bool get_fixed32(uint32_t* v) {
    if (remaining() < 4) return false;
    *v = decode_fixed32(p_);
    p_ += 4;
    return true;
  }
  bool get_fixed64(uint64_t* v) {
    if (remaining() < 8) return false;
    *v = decode_fixed64(p_);
    p_ += 8;
    return true;
  }
  // The next n bytes, without copying.
  bool get_bytes(size_t n, std::string_view* out) {
    if (n > remaining()) return false;
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }

 private:
  const char* begin_ = nullptr;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  size_t base_ = 0;
};

// ---- bits, most significant first ----

// Appends bit fields to a string. Bits fill each byte from its most significant bit; finish()
// pads the last byte with zero bits.
class BitWriter {
 public:
  explicit BitWriter(std::string* dst) : dst_(dst) {}

  // Writes the low `n` bits of `v`, n in 0..64.
  void write(uint64_t v, unsigned n) {
    if (n > 32) {
      write(v >> 32, n - 32);
      n = 32;
    }
    if (n == 0) return;
    v &= (uint64_t{1} << n) - 1;
    acc_ = (acc_ << n) | v;  // acc_ holds < 32 bits, so at most 63 after this
    bits_ += n;
    if (bits_ >= 32) {
      bits_ -= 32;
      const auto word = static_cast<uint32_t>(acc_ >> bits_);
      const char out[4] = {static_cast<char>(word >> 24), static_cast<char>(word >> 16),
                           static_cast<char>(word >> 8), static_cast<char>(word)};
      dst_->append(out, 4);
      acc_ &= (uint64_t{1} << bits_) - 1;
    }
  }
  void write_bit(bool b) { write(b ? 1u : 0u, 1); }

  // Flushes the pending bits, zero-padded to a whole byte. The writer may be reused after.
  void finish() {
    while (bits_ >= 8) {
      bits_ -= 8;
      dst_->push_back(static_cast<char>(acc_ >> bits_));
    }
    if (bits_ > 0) dst_->push_back(static_cast<char>(acc_ << (8 - bits_)));
    acc_ = 0;
    bits_ = 0;
  }

 private:
  std::string* dst_;
  uint64_t acc_ = 0;
  unsigned bits_ = 0;
};

// Reads bit fields written by BitWriter; every read is checked against the end.
class BitReader {
 public:
  BitReader() = default;
  explicit BitReader(std::string_view bytes, size_t base = 0)
      : data_(reinterpret_cast<const uint8_t*>(bytes.data())),
        size_bytes_(bytes.size()),
        base_(base) {}

  size_t bits_remaining() const { return size_bytes_ * 8 - pos_; }
  // The byte that holds the next bit, as an offset in the enclosing buffer.
  size_t offset() const { return base_ + pos_ / 8; }

  // Reads n bits (0..64) into the low bits of *v.
  bool read(unsigned n, uint64_t* v) {
    if (n > bits_remaining()) return false;
    if (n == 0) {
      *v = 0;
      return true;
    }
    if (n > 56) {  // more than one aligned 8-byte window can hold after a bit offset
      uint64_t hi{};
      uint64_t lo{};
      read(n - 32, &hi);
      read(32, &lo);
      *v = (hi << 32) | lo;
      return true;
    }
    const size_t byte = pos_ >> 3;
    const unsigned skip = pos_ & 7u;
    uint64_t window = 0;
    if (byte + 8 <= size_bytes_) {
      for (int i = 0; i < 8; ++i) window = (window << 8) | data_[byte + i];
    } else {
      for (size_t i = 0; i < 8; ++i) {
        window = (window << 8) | (byte + i < size_bytes_ ? data_[byte + i] : 0u);
      }
    }
    *v = (window << skip) >> (64 - n);  // skip + n <= 63
    pos_ += n;
    return true;
  }
  bool read_bit(bool* b) {
    uint64_t v{};
    if (!read(1, &v)) return false;
    *b = v != 0;
    return true;
  }
  // True when only zero padding (fewer than 8 bits) is left.
  bool at_padding() const {
    const size_t left = bits_remaining();
    if (left >= 8) return false;
    if (left == 0) return true;
    return (data_[size_bytes_ - 1] & ((1u << left) - 1)) == 0;
  }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_bytes_ = 0;
  size_t pos_ = 0;  // in bits
  size_t base_ = 0;
};

}  // namespace sluice
