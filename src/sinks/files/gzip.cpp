// Gzip compression and bounded decompression with zlib, for the `files` sink.
#include "sinks/files/gzip.h"

#include <fmt/format.h>
#include <zlib.h>

namespace sluice::sinks::files {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 2^15 window, gzip framing instead of zlib's
constexpr int kMemLevel = 8;              // zlib's default
constexpr size_t kChunk = 64 * 1024;

}  // namespace

Result<std::string> gzip(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemLevel,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return internal_error("gzip: deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return internal_error(fmt::format("gzip: deflate returned {}", rc));
  out.resize(produced);
  return out;
}

Result<std::string> gunzip(std::string_view data, size_t max_size) {
  z_stream z{};
  if (inflateInit2(&z, kGzipWindowBits) != Z_OK) return internal_error("gunzip: inflateInit2");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= max_size) {
      inflateEnd(&z);
      return invalid_argument(fmt::format("gunzip: output exceeds {} bytes", max_size));
    }
    const size_t before = out.size();
    const size_t room = std::min(kChunk, max_size - before);
    out.resize(before + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = static_cast<uInt>(room);
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(before + room - z.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
      inflateEnd(&z);
      return invalid_argument(
          fmt::format("gunzip: corrupt or truncated input ({})", z.msg != nullptr ? z.msg : "eof"));
    }
  }
  inflateEnd(&z);
  return out;
}

}  // namespace sluice::sinks::files
