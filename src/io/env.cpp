// Helpers built on the Env interface: whole-file reads, the write-temp-sync-rename protocol that
// makes a small file (a cursor, a manifest) change atomically, path joining, and the one errno
// mapping every Env implementation reports its errors with.
#include "io/env.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace sluice {

namespace {

// read_file asks for this much at a time once the file turns out larger than it said.
constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

Status errno_status(std::string_view op, std::string_view path, int err) {
  Code code = Code::kIoError;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case ENOSPC:
    case EDQUOT: code = Code::kNoSpace; break;
    default: break;
  }
  std::string m(op);
  m += ' ';
  m += path;
  m += ": ";
  m += std::generic_category().message(err);  // thread-safe, unlike strerror
  return {code, std::move(m)};
}

Result<std::string> read_file(Env& env, const std::string& path, uint64_t max_bytes) {
  // Never hold more than limit + 1 bytes: one byte past the limit proves the file is too large.
  const uint64_t limit = std::min<uint64_t>(max_bytes, SIZE_MAX - 1);
  auto too_large = [&](uint64_t size) {
    return Status(Code::kResourceExhausted, "read_file " + path + ": " + std::to_string(size) +
                                                " bytes is more than the limit of " +
                                                std::to_string(max_bytes));
  };
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> file, env.open_readable(path));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->size());
  if (size > limit) return too_large(size);

  // Ask for one byte more than the size: a full read means the file grew meanwhile, and the loop
  // goes on until end of file (a short read) or until the limit is passed.
  std::string data;
  uint64_t want = size + 1;
  for (;;) {
    const size_t old = data.size();
    const size_t n = static_cast<size_t>(std::min<uint64_t>(want, limit + 1 - old));
    data.resize(old + n);
    SLUICE_ASSIGN_OR_RETURN(size_t got, file->read_at(old, n, data.data() + old));
    data.resize(old + got);
    if (data.size() > limit) return too_large(data.size());
    if (got < n) break;
    want = kReadChunk;
  }
  return data;
}

Status write_file_atomic(Env& env, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  Status st = [&]() -> Status {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                            env.open_writable(tmp, OpenMode::kTruncate));
    SLUICE_RETURN_IF_ERROR(file->append(data));
    SLUICE_RETURN_IF_ERROR(file->sync());
    return file->close();
  }();
  if (st.ok()) st = env.rename(tmp, path);
  if (!st.ok()) {
    // Best effort: a leftover temp file is harmless (the next call truncates it), but tidy.
    (void)env.remove_file(tmp);
    return st;
  }
  // Until the directory is synced a crash may bring back the old file; that is allowed, a mix
  // is not, and the mix cannot happen because the new bytes were synced before the rename.
  return env.sync_dir(parent_dir(path));
}

std::string join_path(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string p(dir);
  if (p.back() != '/') p += '/';
  p += name;
  return p;
}

std::string parent_dir(std::string_view path) {
  // Trailing slashes name the same path ("a/b/" is "a/b"); a run of slashes is one separator.
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  std::string_view dir = path.substr(0, slash);
  while (!dir.empty() && dir.back() == '/') dir.remove_suffix(1);
  if (dir.empty()) return "/";
  return std::string(dir);
}

}  // namespace sluice
