// PosixEnv: the Env the running gateway uses, a thin layer over the POSIX calls. Appends are
// plain write(2)s on an O_APPEND descriptor, sync() is fdatasync(2), sync_dir() is fsync(2) on the
// directory, lock() is flock(2). Every call that fails names the operation, the path and the OS
// error (errno_status); every descriptor is opened with O_CLOEXEC so that child processes (sink
// scripts, helpers) never inherit a segment file or the store lock.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <set>

#include "io/env.h"

namespace sluice {

namespace {

constexpr mode_t kFileMode = 0644;
constexpr mode_t kDirMode = 0755;

// Retries a system call that was interrupted by a signal before it did anything.
template <typename F>
auto retry_on_eintr(F call) {
  for (;;) {
    auto r = call();
    if (r != -1 || errno != EINTR) return r;
  }
}

Status closed_error(std::string_view op, const std::string& path) {
  return failed_precondition(std::string(op) + " " + path + ": file is closed");
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  Status append(std::string_view data) override {
    if (fd_ < 0) return closed_error("append", path_);
    // O_APPEND puts every write at the current end, also after truncate(); a write may be short
    // (signal, nearly full disk), so loop until all of `data` is in or the OS reports an error.
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("append", path_, errno);
      }
      size_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }

  Status sync() override {
    if (fd_ < 0) return closed_error("sync", path_);
    if (retry_on_eintr([&] { return ::fdatasync(fd_); }) != 0) {
      return errno_status("sync", path_, errno);
    }
    return {};
  }

  Status truncate(uint64_t size) override {
    if (fd_ < 0) return closed_error("truncate", path_);
    if (retry_on_eintr([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return errno_status("truncate", path_, errno);
    }
    size_.store(size, std::memory_order_relaxed);
    return {};
  }

  Status close() override {
    if (fd_ < 0) return closed_error("close", path_);
    // No retry on EINTR: Linux releases the descriptor even then, and it may be reused already.
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return errno_status("close", path_, errno);
    return {};
  }

  uint64_t size() const override { return size_.load(std::memory_order_relaxed); }

 private:
  const std::string path_;
  int fd_;
  // Logical size: what was there at open plus appends, or the last truncate. Atomic because a
  // sync thread may read it while the appending thread writes it.
  std::atomic<uint64_t> size_;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixReadableFile() override { ::close(fd_); }
  PosixReadableFile(const PosixReadableFile&) = delete;
  PosixReadableFile& operator=(const PosixReadableFile&) = delete;

  // pread does not move a shared file offset, so many threads may read at once.
  Result<size_t> read_at(uint64_t offset, size_t n, char* dst) const override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno_status("read", path_, errno);
      }
      if (r == 0) break;  // end of file
      done += static_cast<size_t>(r);
    }
    return done;
  }

  Result<uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return errno_status("stat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing the descriptor releases the flock
  PosixFileLock(const PosixFileLock&) = delete;
  PosixFileLock& operator=(const PosixFileLock&) = delete;

 private:
  const int fd_;
};

Status sync_directory(const std::string& dir) {
  const int fd =
      retry_on_eintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) return errno_status("sync_dir", dir, errno);
  const int rc = retry_on_eintr([&] { return ::fsync(fd); });
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status("sync_dir", dir, err);
  return {};
}

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path,
                                                      OpenMode mode) override {
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    switch (mode) {
      case OpenMode::kCreateNew: flags |= O_EXCL; break;
      case OpenMode::kTruncate: flags |= O_TRUNC; break;
      case OpenMode::kAppend: break;
    }
    const int fd = retry_on_eintr([&] { return ::open(path.c_str(), flags, kFileMode); });
    if (fd < 0) return errno_status("open", path, errno);
    uint64_t size = 0;
    if (mode == OpenMode::kAppend) {
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return errno_status("stat", path, err);
      }
      size = static_cast<uint64_t>(st.st_size);
    }
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd, size));
  }

  Result<std::unique_ptr<ReadableFile>> open_readable(const std::string& path) override {
    const int fd = retry_on_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (fd < 0) return errno_status("open", path, errno);
    // open(2) accepts a directory for reading; refuse it here rather than at the first read.
    struct stat st {};
    int err = 0;
    if (::fstat(fd, &st) != 0) {
      err = errno;
    } else if (S_ISDIR(st.st_mode)) {
      err = EISDIR;
    }
    if (err != 0) {
      ::close(fd);
      return errno_status("open", path, err);
    }
    return std::unique_ptr<ReadableFile>(std::make_unique<PosixReadableFile>(path, fd));
  }

  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }

  Result<uint64_t> file_size(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return errno_status("stat", path, errno);
    if (S_ISDIR(st.st_mode)) return errno_status("stat", path, EISDIR);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());  // glibc opens it with O_CLOEXEC
    if (d == nullptr) return errno_status("list_dir", dir, errno);
    std::vector<std::string> names;
    int err = 0;
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(d);
      if (e == nullptr) {
        err = errno;
        break;
      }
      const std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(d);
    if (err != 0) return errno_status("list_dir", dir, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status create_dirs(const std::string& dir) override {
    if (dir.empty()) return invalid_argument("create_dirs: empty path");
    // Walk the prefixes "a", "a/b", "a/b/c"; each one made here is durable only once its parent
    // is synced, so remember those parents and sync them before returning.
    std::set<std::string> parents_to_sync;
    size_t pos = 0;
    while (pos <= dir.size()) {
      size_t slash = dir.find('/', pos);
      if (slash == std::string::npos) slash = dir.size();
      const std::string prefix = dir.substr(0, slash);
      pos = slash + 1;
      if (prefix.empty() || prefix.back() == '/') continue;  // leading "/" or a "//" run
      if (::mkdir(prefix.c_str(), kDirMode) == 0) {
        parents_to_sync.insert(parent_dir(prefix));
        continue;
      }
      if (errno != EEXIST) return errno_status("create_dirs", prefix, errno);
      struct stat st {};
      if (::stat(prefix.c_str(), &st) != 0) return errno_status("create_dirs", prefix, errno);
      if (!S_ISDIR(st.st_mode)) return errno_status("create_dirs", prefix, ENOTDIR);
    }
    for (const std::string& parent : parents_to_sync) {
      SLUICE_RETURN_IF_ERROR(sync_directory(parent));
    }
    return {};
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return errno_status("remove", path, errno);
    return {};
  }

  Status remove_dir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return errno_status("remove_dir", dir, errno);
    return sync_directory(parent_dir(dir));
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return errno_status("rename", from + " -> " + to, errno);
    }
    return {};
  }

  Status link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) {
      return errno_status("link", from + " -> " + to, errno);
    }
    return {};
  }

  Status truncate(const std::string& path, uint64_t size) override {
    if (retry_on_eintr([&] { return ::truncate(path.c_str(), static_cast<off_t>(size)); }) != 0) {
      return errno_status("truncate", path, errno);
    }
    return {};
  }

  Status sync_dir(const std::string& dir) override { return sync_directory(dir); }

  Result<DiskSpace> disk_space(const std::string& path) override {
    struct statvfs st {};
    if (retry_on_eintr([&] { return ::statvfs(path.c_str(), &st); }) != 0) {
      return errno_status("disk_space", path, errno);
    }
    DiskSpace space;
    space.capacity = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
    space.available = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    return space;
  }

  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override {
    const int fd = retry_on_eintr(
        [&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kFileMode); });
    if (fd < 0) return errno_status("lock", path, errno);
    // flock locks belong to the open file description, so a second lock() in this same process
    // conflicts too, which is what "one writer per store" needs.
    if (retry_on_eintr([&] { return ::flock(fd, LOCK_EX | LOCK_NB); }) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return failed_precondition("lock " + path +
                                   ": held by another owner (is another sluice running on this "
                                   "directory?)");
      }
      return errno_status("lock", path, err);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }
};

}  // namespace

Env& Env::posix() {
  static PosixEnv env;
  return env;
}

}  // namespace sluice
