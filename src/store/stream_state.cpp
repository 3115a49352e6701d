// STATE file encoding: "sluice-state 1", then "cursor <sink> <seq>" and "dropped <cause> <n>"
// lines, then "crc <masked crc32c of everything before this line>". Sink names are escaped like
// stream ids so that they never contain spaces or newlines.
#include "store/stream_state.h"

#include <fmt/format.h>

#include <charconv>

#include "core/crc32c.h"
#include "store/format.h"

namespace sluice::store {
namespace {

constexpr std::string_view kHeader = "sluice-state 1\n";
constexpr uint64_t kMaxStateBytes = 16u << 20;

bool parse_u64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string encode_stream_state(const StreamState& state) {
  std::string out(kHeader);
  for (const auto& [sink, seq] : state.cursors) {
    out += fmt::format("cursor {} {}\n", format::escape_stream_id(sink), seq);
  }
  for (const auto& [cause, n] : state.dropped) {
    out += fmt::format("dropped {} {}\n", format::escape_stream_id(cause), n);
  }
  out += fmt::format("crc {}\n", crc32c_mask(crc32c(out.data(), out.size())));
  return out;
}

Result<StreamState> decode_stream_state(std::string_view text) {
  if (!text.starts_with(kHeader)) return corruption("STATE does not start with 'sluice-state 1'");
  // The crc line is the last line.
  if (text.empty() || text.back() != '\n')
    return corruption("STATE is not complete (no final newline)");
  const size_t last = text.rfind('\n', text.size() - 2);
  if (last == std::string_view::npos) return corruption("STATE has no crc line");
  const std::string_view body = text.substr(0, last + 1);
  std::string_view crc_line = text.substr(last + 1, text.size() - last - 2);
  uint64_t crc = 0;
  if (!crc_line.starts_with("crc ") || !parse_u64(crc_line.substr(4), &crc)) {
    return corruption("STATE has no crc line");
  }
  if (crc32c_mask(crc32c(body.data(), body.size())) != crc) {
    return corruption("STATE checksum mismatch");
  }
  StreamState state;
  size_t pos = kHeader.size();
  int line_no = 1;
  while (pos < body.size()) {
    ++line_no;
    const size_t nl = body.find('\n', pos);
    const std::string_view line = body.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t a = line.find(' ');
    const size_t b = line.rfind(' ');
    uint64_t n = 0;
    if (a == std::string_view::npos || a == b || !parse_u64(line.substr(b + 1), &n)) {
      return corruption(fmt::format("STATE line {}: cannot parse '{}'", line_no, line));
    }
    auto name = format::unescape_stream_id(line.substr(a + 1, b - a - 1));
    if (!name.ok()) return corruption(fmt::format("STATE line {}: bad name", line_no));
    const std::string_view kind = line.substr(0, a);
    if (kind == "cursor") {
      state.cursors[*name] = n;
    } else if (kind == "dropped") {
      state.dropped[*name] = n;
    } else {
      return corruption(fmt::format("STATE line {}: unknown item '{}'", line_no, kind));
    }
  }
  return state;
}

Status write_stream_state(Env& env, const std::string& path, const StreamState& state) {
  return write_file_atomic(env, path, encode_stream_state(state));
}

Result<StreamState> read_stream_state(Env& env, const std::string& path) {
  if (!env.exists(path)) return StreamState{};
  SLUICE_ASSIGN_OR_RETURN(std::string text, read_file(env, path, kMaxStateBytes));
  auto st = decode_stream_state(text);
  if (!st.ok()) return st.status().with_context(path);
  return st;
}

}  // namespace sluice::store
