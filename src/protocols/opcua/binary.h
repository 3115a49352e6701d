// OPC UA Binary encoding's primitives (Part 6, 5.2.2): little-endian integers and floats,
// Boolean, String and ByteString (Int32 length, -1 = null), DateTime (Int64 100 ns ticks since
// 1601-01-01 UTC) and Guid. Everything above it (node ids, variants, service messages, the
// secure channel's headers) is written with a Writer and read with a Reader.
//
// A Reader distrusts its input: every read checks the bytes left, every length and count is
// checked against what is left and against a limit before anything is allocated, and the
// first failure sticks (later reads return zero values) with what was being read and at which
// offset, so a decoder reads a whole structure and checks ok() once at the end.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::opcua {

using Bytes = std::string;  // encoded bytes; std::string for cheap appends and views

// 100 ns ticks between 1601-01-01 and 1970-01-01 (Part 6, 5.2.2.5).
inline constexpr int64_t kDateTimeUnixEpochTicks = 116444736000000000LL;
inline int64_t unix_ns_to_datetime(int64_t unix_ns) {
  return unix_ns / 100 + kDateTimeUnixEpochTicks;
}
// 0 (the encoding's "no time") stays 0.
inline int64_t datetime_to_unix_ns(int64_t ticks) {
  return ticks == 0 ? 0 : (ticks - kDateTimeUnixEpochTicks) * 100;
}

// Limits on what a peer may make us allocate (the server's and client's buffers are bounded
// by the negotiated message size anyway; these catch a bad count inside one message).
inline constexpr int32_t kMaxStringLength = 16 * 1024 * 1024;
inline constexpr int32_t kMaxArrayLength = 1024 * 1024;
// How deep values may nest inside one another (Variant in Variant, DiagnosticInfo in
// DiagnosticInfo ...); Part 6 asks decoders to support at least 100 levels.
inline constexpr int kMaxNestingDepth = 100;
// Memory one Reader's decoders may allocate for decoded arrays (charge()), on top of the
// input itself: a count that fits in the input can still ask for many large C++ elements.
inline constexpr size_t kMaxDecodedBytes = 256u * 1024 * 1024;

struct Guid {
  uint32_t data1 = 0;
  uint16_t data2 = 0;
  uint16_t data3 = 0;
  std::array<uint8_t, 8> data4{};
  bool operator==(const Guid&) const = default;
  auto operator<=>(const Guid&) const = default;
};

class Writer {
 public:
  Writer() = default;
  explicit Writer(Bytes* out) : out_(out) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void u8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void i8(int8_t v) { u8(static_cast<uint8_t>(v)); }
  void u16(uint16_t v) { put_le(v); }
  void i16(int16_t v) { put_le(static_cast<uint16_t>(v)); }
  void u32(uint32_t v) { put_le(v); }
  void i32(int32_t v) { put_le(static_cast<uint32_t>(v)); }
  void u64(uint64_t v) { put_le(v); }
  void i64(int64_t v) { put_le(static_cast<uint64_t>(v)); }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    put_le(bits);
  }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    put_le(bits);
  }
  void datetime(int64_t ticks) { i64(ticks); }
  // A String or ByteString with content (an empty one is length 0, not null).
  void string(std::string_view s) {
    i32(static_cast<int32_t>(s.size()));
    out_->append(s);
  }
  void bytestring(std::string_view s) { string(s); }
  void null_string() { i32(-1); }
  void guid(const Guid& g) {
    u32(g.data1);
    u16(g.data2);
    u16(g.data3);
    out_->append(reinterpret_cast<const char*>(g.data4.data()), 8);
  }
  void raw(std::string_view bytes) { out_->append(bytes); }
  // Overwrites 4 bytes at `offset` (a length or size written before it was known).
  void patch_u32(size_t offset, uint32_t v) {
    for (int i = 0; i < 4; ++i) (*out_)[offset + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }

  size_t size() const { return out_->size(); }
  Bytes& bytes() { return *out_; }

 private:
  template <typename U>
  void put_le(U v) {
    for (size_t i = 0; i < sizeof(U); ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }

  Bytes own_;
  Bytes* out_ = &own_;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  uint8_t u8(const char* what = "Byte") {
    if (!need(1, what)) return 0;
    return static_cast<uint8_t>(data_[pos_++]);
  }
  bool boolean(const char* what = "Boolean") { return u8(what) != 0; }
  int8_t i8(const char* what = "SByte") { return static_cast<int8_t>(u8(what)); }
  uint16_t u16(const char* what = "UInt16") { return get_le<uint16_t>(what); }
  int16_t i16(const char* what = "Int16") { return static_cast<int16_t>(get_le<uint16_t>(what)); }
  uint32_t u32(const char* what = "UInt32") { return get_le<uint32_t>(what); }
  int32_t i32(const char* what = "Int32") { return static_cast<int32_t>(get_le<uint32_t>(what)); }
  uint64_t u64(const char* what = "UInt64") { return get_le<uint64_t>(what); }
  int64_t i64(const char* what = "Int64") { return static_cast<int64_t>(get_le<uint64_t>(what)); }
  float f32(const char* what = "Float") {
    uint32_t bits = get_le<uint32_t>(what);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  double f64(const char* what = "Double") {
    uint64_t bits = get_le<uint64_t>(what);
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  int64_t datetime(const char* what = "DateTime") { return i64(what); }

  // A String or ByteString; null (length -1) reads as empty, and is_null (if given) says which.
  std::string string(const char* what = "String", bool* is_null = nullptr) {
    int32_t n = i32(what);
    if (is_null) *is_null = (n == -1);
    if (!ok() || n == -1) return {};
    if (n < -1 || n > kMaxStringLength) {
      fail(what, "length " + std::to_string(n) + " is out of range");
      return {};
    }
    if (!need(static_cast<size_t>(n), what)) return {};
    std::string s(data_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string bytestring(const char* what = "ByteString", bool* is_null = nullptr) {
    return string(what, is_null);
  }
  Guid guid(const char* what = "Guid") {
    Guid g;
    g.data1 = u32(what);
    g.data2 = u16(what);
    g.data3 = u16(what);
    if (!need(8, what)) return {};
    std::memcpy(g.data4.data(), data_.data() + pos_, 8);
    pos_ += 8;
    return g;
  }
  std::string_view raw(size_t n, const char* what) {
    if (!need(n, what)) return {};
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }

  // An array's Int32 length: -1 (null) and 0 read as 0. Fails if negative below -1, above
  // kMaxArrayLength, or if `min_element_size` bytes per element cannot fit in what is left
  // (so a forged count never makes the caller reserve memory).
  size_t array_length(const char* what, size_t min_element_size = 1) {
    int32_t n = i32(what);
    if (!ok() || n == -1 || n == 0) return 0;
    if (n < -1 || n > kMaxArrayLength) {
      fail(what, "array length " + std::to_string(n) + " is out of range");
      return 0;
    }
    if (min_element_size > 0 && static_cast<size_t>(n) > remaining() / min_element_size) {
      fail(what, "array length " + std::to_string(n) + " exceeds the " +
                     std::to_string(remaining()) + " bytes left");
      return 0;
    }
    return static_cast<size_t>(n);
  }

  // A decoder entering a nested value calls enter() (false, and the input marked bad, past
  // kMaxNestingDepth) and leave() when done with it, whether or not enter() succeeded.
  bool enter(const char* what) {
    ++depth_;
    if (depth_ > kMaxNestingDepth) {
      fail(what, "nesting is deeper than " + std::to_string(kMaxNestingDepth) + " levels");
      return false;
    }
    return ok();
  }
  void leave() { --depth_; }
  int depth() const { return depth_; }

  // Accounts for `bytes` a decoder is about to allocate; false (and the input marked bad)
  // once the total passes kMaxDecodedBytes.
  bool charge(size_t bytes, const char* what) {
    if (!ok()) return false;
    if (bytes > kMaxDecodedBytes - charged_) {
      fail(what,
           "decoded values would take more than " + std::to_string(kMaxDecodedBytes) + " bytes");
      return false;
    }
    charged_ += bytes;
    return true;
  }

  // Marks the input bad (a decoder's own check, e.g. an unknown encoding byte).
  void fail(const char* what, std::string_view why) {
    if (!error_.empty()) return;
    error_ = std::string(what) + " at offset " + std::to_string(pos_) + ": " + std::string(why);
    pos_ = data_.size();
  }

  bool ok() const { return error_.empty(); }
  // ok, or kCorruption with what was read, where, and why.
  Status status() const { return ok() ? Status::ok_status() : corruption(error_); }
  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  bool need(size_t n, const char* what) {
    if (!ok()) return false;
    if (n > remaining()) {
      fail(what, "needs " + std::to_string(n) + " bytes, " + std::to_string(remaining()) +
                     " left");
      return false;
    }
    return true;
  }
  template <typename U>
  U get_le(const char* what) {
    if (!need(sizeof(U), what)) return 0;
    U v = 0;
    for (size_t i = 0; i < sizeof(U); ++i)
      v |= static_cast<U>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += sizeof(U);
    return v;
  }

  std::string_view data_;
  size_t pos_ = 0;
  std::string error_;
  int depth_ = 0;
  size_t charged_ = 0;
};

}  // namespace sluice::opcua
