// Env: the file system as the store (and later the file sinks) see it. Everything that touches
// disk goes through here, so tests can run on MemEnv, an in-memory file system that models
// what survives a crash (only synced bytes, only synced directory entries) and injects faults.
//
// Durability contract, the same for every implementation:
//  - WritableFile::sync() makes the file's bytes durable (fdatasync).
//  - A new file's name, a rename, a removal or a link is durable only after sync_dir() of the
//    directory that holds the name.
//  - create_dirs() and remove_dir() are durable when they return: they sync the parent of each
//    directory they add or remove (which also makes the parent's other pending entries durable).
// Thread safety: an Env may be used from many threads. A WritableFile's append/truncate/close
// are called by one thread at a time (the caller serializes), but sync() may run concurrently
// with append() on the same file (the store's sync thread does this; POSIX allows it). A
// ReadableFile may be used by many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends at the end of the file. On failure (e.g. ENOSPC) nothing is promised about how much
  // of `data` reached the file: the caller truncates back to size() as it was before.
  virtual Status append(std::string_view data) = 0;
  // Makes every byte appended so far durable.
  virtual Status sync() = 0;
  // Shrinks (or extends with zeros) the file to `size` bytes; later appends go after it.
  virtual Status truncate(uint64_t size) = 0;
  virtual Status close() = 0;
  // Bytes in the file, as appended (not necessarily durable).
  virtual uint64_t size() const = 0;
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to n bytes at offset into dst; returns how many were read (short at end of file).
  virtual Result<size_t> read_at(uint64_t offset, size_t n, char* dst) const = 0;
  virtual Result<uint64_t> size() const = 0;
};

// Held while a process owns a directory (one writer per store).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct DiskSpace {
  uint64_t capacity = 0;   // bytes on the file system
  uint64_t available = 0;  // bytes an unprivileged writer may still use
};

enum class OpenMode {
  kCreateNew,  // fail with kAlreadyExists if the file is there
  kTruncate,   // create, or empty an existing file
  kAppend,     // open an existing file (or create it) and append at its end
};

class Env {
 public:
  virtual ~Env() = default;

  virtual Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path,
                                                              OpenMode mode) = 0;
  virtual Result<std::unique_ptr<ReadableFile>> open_readable(const std::string& path) = 0;

  virtual bool exists(const std::string& path) = 0;
  virtual Result<uint64_t> file_size(const std::string& path) = 0;
  // Names in a directory (no "." or ".."), sorted.
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  // Creates the directory and any missing parents; ok if it exists.
  virtual Status create_dirs(const std::string& dir) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  // Removes an empty directory.
  virtual Status remove_dir(const std::string& dir) = 0;
  // Atomically replaces `to` with `from`.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // A hard link: `to` names the same file as `from`.
  virtual Status link(const std::string& from, const std::string& to) = 0;
  virtual Status truncate(const std::string& path, uint64_t size) = 0;
  // Makes the directory's entries (creates, renames, removes, links) durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  virtual Result<DiskSpace> disk_space(const std::string& path) = 0;
  // An exclusive lock on `path` (created if missing) held until the FileLock is destroyed;
  // kFailedPrecondition if another owner holds it.
  virtual Result<std::unique_ptr<FileLock>> lock(const std::string& path) = 0;

  // The process-wide POSIX implementation.
  static Env& posix();
};

// Helpers built on the interface.

// Reads a whole file (refuses files larger than max_bytes).
Result<std::string> read_file(Env& env, const std::string& path, uint64_t max_bytes);
// Writes `data` to `path` so that after a crash the file holds either the old or the new
// content, never a mix: write `path.tmp`, sync it, rename over `path`, sync the directory.
Status write_file_atomic(Env& env, const std::string& path, std::string_view data);
// "a/b" + "c" -> "a/b/c".
std::string join_path(std::string_view dir, std::string_view name);
// The directory part of a path ("a/b/c" -> "a/b", "c" -> ".").
std::string parent_dir(std::string_view path);
// The Status for a failed file-system call: ENOENT -> kNotFound, EEXIST -> kAlreadyExists,
// ENOSPC/EDQUOT -> kNoSpace, anything else kIoError; the message is "<op> <path>: <strerror>".
// For the Env implementations, so that every one of them reports errors the same way.
Status errno_status(std::string_view op, std::string_view path, int err);

}  // namespace sluice
