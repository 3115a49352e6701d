// MemEnv: the in-memory, crash-modelling file system (see mem_env.h for the model). Built for
// speed, since store tests run thousands of crash sequences: a file that only grew since its last
// sync keeps its durable bytes as a prefix length of its current bytes instead of a copy, so
// append and sync never copy data; only a truncate below the synced length makes a copy.
#include "io/mem_env.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <random>
#include <utility>

namespace sluice {

struct MemEnv::Inode {
  std::string current;  // what reads see
  // The durable bytes are current[0, durable_len) while durable_is_prefix (the file only grew
  // since its last sync); otherwise they are `durable`.
  bool durable_is_prefix = true;
  size_t durable_len = 0;
  std::string durable;
  int names = 0;            // current directory entries that name this inode
  int handles = 0;          // open handles from the current epoch
  uint64_t crash_mark = 0;  // the epoch of the last crash that already reverted this inode
};

struct MemEnv::Dir {
  std::map<std::string, InodePtr> current;
  std::map<std::string, InodePtr> durable;
  std::set<std::string> subdirs;  // created and removed durably, so one set serves both views
};

namespace {

// "a//b/./c/" -> "a/b/c", "/x/../y" -> "/y", "" -> ".".
std::string normalize(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
        continue;
      }
      if (absolute) continue;  // "/.." is "/"
    }
    parts.push_back(part);
  }
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  if (out.empty()) out = ".";
  return out;
}

bool is_root(const std::string& normalized) { return normalized == "/" || normalized == "."; }

// Splits a normalized path that is not a root into its directory and its last name.
std::pair<std::string, std::string> split(const std::string& normalized) {
  const size_t slash = normalized.rfind('/');
  if (slash == std::string::npos) return {".", normalized};
  if (slash == 0) return {"/", normalized.substr(1)};
  return {normalized.substr(0, slash), normalized.substr(slash + 1)};
}

Status stale_error(std::string_view op, const std::string& path) {
  return io_error(std::string(op) + " " + path + ": stale handle after crash");
}

Status closed_error(std::string_view op, const std::string& path) {
  return failed_precondition(std::string(op) + " " + path + ": file is closed");
}

}  // namespace

// ---- handles ---------------------------------------------------------------------------------

class MemEnv::MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(MemEnv& env, std::string path, InodePtr inode, uint64_t epoch)
      : env_(env),
        path_(std::move(path)),
        inode_(std::move(inode)),
        epoch_(epoch),
        size_(inode_->current.size()) {}

  ~MemWritableFile() override {
    std::lock_guard<std::mutex> l(env_.mu_);
    if (!closed_ && epoch_ == env_.epoch_) env_.unref_handle_locked(*inode_);
  }
  MemWritableFile(const MemWritableFile&) = delete;
  MemWritableFile& operator=(const MemWritableFile&) = delete;

  Status append(std::string_view data) override {
    std::lock_guard<std::mutex> l(env_.mu_);
    SLUICE_RETURN_IF_ERROR(usable_locked("append"));
    SLUICE_RETURN_IF_ERROR(env_.step_locked("append", path_));
    const uint64_t before = inode_->current.size();
    Status st = env_.append_locked(path_, *inode_, data);
    // A failed append may still have written some (fail_writes with write_half).
    size_.fetch_add(inode_->current.size() - before, std::memory_order_relaxed);
    return st;
  }

  Status sync() override {
    std::lock_guard<std::mutex> l(env_.mu_);
    SLUICE_RETURN_IF_ERROR(usable_locked("sync"));
    SLUICE_RETURN_IF_ERROR(env_.step_locked("sync", path_));
    return env_.sync_locked(path_, *inode_);
  }

  Status truncate(uint64_t size) override {
    std::lock_guard<std::mutex> l(env_.mu_);
    SLUICE_RETURN_IF_ERROR(usable_locked("truncate"));
    SLUICE_RETURN_IF_ERROR(env_.step_locked("truncate", path_));
    SLUICE_RETURN_IF_ERROR(env_.resize_locked("truncate", path_, *inode_, size));
    size_.store(size, std::memory_order_relaxed);
    return {};
  }

  Status close() override {
    std::lock_guard<std::mutex> l(env_.mu_);
    SLUICE_RETURN_IF_ERROR(usable_locked("close"));
    closed_ = true;
    env_.unref_handle_locked(*inode_);
    return {};
  }

  uint64_t size() const override { return size_.load(std::memory_order_relaxed); }

 private:
  Status usable_locked(std::string_view op) {
    SLUICE_RETURN_IF_ERROR(env_.check_halted_locked(op, path_));
    if (epoch_ != env_.epoch_) return stale_error(op, path_);
    if (closed_) return closed_error(op, path_);
    return {};
  }

  MemEnv& env_;
  const std::string path_;
  const InodePtr inode_;
  const uint64_t epoch_;
  bool closed_ = false;
  // Logical size: what was there at open plus appends, or the last truncate. Atomic, not under
  // the env's mutex, because a sync thread may read it while the appending thread writes it.
  std::atomic<uint64_t> size_;
};

class MemEnv::MemReadableFile final : public ReadableFile {
 public:
  MemReadableFile(MemEnv& env, std::string path, InodePtr inode, uint64_t epoch)
      : env_(env), path_(std::move(path)), inode_(std::move(inode)), epoch_(epoch) {}

  ~MemReadableFile() override {
    std::lock_guard<std::mutex> l(env_.mu_);
    if (epoch_ == env_.epoch_) env_.unref_handle_locked(*inode_);
  }
  MemReadableFile(const MemReadableFile&) = delete;
  MemReadableFile& operator=(const MemReadableFile&) = delete;

  Result<size_t> read_at(uint64_t offset, size_t n, char* dst) const override {
    std::lock_guard<std::mutex> l(env_.mu_);
    SLUICE_RETURN_IF_ERROR(usable_locked("read"));
    const std::string& bytes = inode_->current;
    if (offset >= bytes.size()) return size_t{0};
    const size_t got = std::min<uint64_t>(n, bytes.size() - offset);
    bytes.copy(dst, got, offset);
    return got;
  }

  Result<uint64_t> size() const override {
    std::lock_guard<std::mutex> l(env_.mu_);
    SLUICE_RETURN_IF_ERROR(usable_locked("stat"));
    return static_cast<uint64_t>(inode_->current.size());
  }

 private:
  Status usable_locked(std::string_view op) const {
    SLUICE_RETURN_IF_ERROR(env_.check_halted_locked(op, path_));
    if (epoch_ != env_.epoch_) return stale_error(op, path_);
    return {};
  }

  MemEnv& env_;
  const std::string path_;
  const InodePtr inode_;
  const uint64_t epoch_;
};

class MemEnv::MemFileLock final : public FileLock {
 public:
  MemFileLock(MemEnv& env, std::string normalized, uint64_t epoch)
      : env_(env), normalized_(std::move(normalized)), epoch_(epoch) {}
  ~MemFileLock() override {
    std::lock_guard<std::mutex> l(env_.mu_);
    env_.unlock_locked(normalized_, epoch_);
  }
  MemFileLock(const MemFileLock&) = delete;
  MemFileLock& operator=(const MemFileLock&) = delete;

 private:
  MemEnv& env_;
  const std::string normalized_;
  const uint64_t epoch_;
};

// ---- MemEnv ----------------------------------------------------------------------------------

MemEnv::MemEnv() {
  dirs_["/"];
  dirs_["."];
}

MemEnv::~MemEnv() = default;

Status MemEnv::check_halted_locked(std::string_view op, std::string_view path) const {
  if (!halted_) return {};
  return io_error(std::string(op) + " " + std::string(path) +
                  ": the file system crashed (crash_after); call restart()");
}

Status MemEnv::step_locked(std::string_view op, std::string_view path) {
  SLUICE_RETURN_IF_ERROR(check_halted_locked(op, path));
  if (!crash_armed_) return {};
  if (crash_ops_left_ > 0) {
    --crash_ops_left_;
    return {};
  }
  crash_armed_ = false;
  crash_locked(crash_seed_, crash_torn_);
  halted_ = true;
  return check_halted_locked(op, path);
}

Result<MemEnv::Location> MemEnv::locate_locked(std::string_view op, const std::string& path) const {
  const std::string normalized = normalize(path);
  if (is_root(normalized)) return errno_status(op, path, EISDIR);
  auto [dir, name] = split(normalized);
  if (dirs_.find(dir) == dirs_.end()) return errno_status(op, path, ENOENT);
  return Location{std::move(dir), std::move(name)};
}

MemEnv::Dir* MemEnv::find_dir_locked(const std::string& normalized) {
  auto it = dirs_.find(normalized);
  return it == dirs_.end() ? nullptr : &it->second;
}

const MemEnv::Dir* MemEnv::find_dir_locked(const std::string& normalized) const {
  auto it = dirs_.find(normalized);
  return it == dirs_.end() ? nullptr : &it->second;
}

Result<MemEnv::InodePtr> MemEnv::find_file_locked(std::string_view op, const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(Location loc, locate_locked(op, path));
  Dir& dir = dirs_.at(loc.dir);
  if (dir.subdirs.count(loc.name) != 0) return errno_status(op, path, EISDIR);
  auto it = dir.current.find(loc.name);
  if (it == dir.current.end()) return errno_status(op, path, ENOENT);
  return it->second;
}

bool MemEnv::live_locked(const Inode& inode) const { return inode.names > 0 || inode.handles > 0; }

void MemEnv::unref_name_locked(Inode& inode) {
  --inode.names;
  if (!live_locked(inode)) used_ -= inode.current.size();
}

void MemEnv::unref_handle_locked(Inode& inode) {
  --inode.handles;
  if (!live_locked(inode)) used_ -= inode.current.size();
}

Status MemEnv::resize_locked(std::string_view op, const std::string& path, Inode& inode,
                             uint64_t size) {
  const uint64_t old = inode.current.size();
  if (size > old && size - old > capacity_ - std::min(used_, capacity_)) {
    return errno_status(op, path, ENOSPC);
  }
  if (inode.durable_is_prefix && size < inode.durable_len) {
    // The synced bytes are about to be cut from `current`: keep them aside for a crash.
    inode.durable = inode.current.substr(0, inode.durable_len);
    inode.durable_is_prefix = false;
  }
  inode.current.resize(size, '\0');
  used_ = used_ - old + size;  // callers hold a name or a handle, so the inode is live
  return {};
}

Status MemEnv::append_locked(const std::string& path, Inode& inode, std::string_view data) {
  const uint64_t room = capacity_ - std::min(used_, capacity_);
  if (fail_writes_ > 0) {
    --fail_writes_;
    if (fail_writes_half_) {
      const std::string_view half = data.substr(0, std::min<uint64_t>(data.size() / 2, room));
      inode.current.append(half);
      used_ += half.size();
      bytes_written_ += half.size();
    }
    return io_error("append " + path + ": injected write failure");
  }
  if (data.size() > room) return errno_status("append", path, ENOSPC);
  inode.current.append(data);
  used_ += data.size();
  bytes_written_ += data.size();
  return {};
}

Status MemEnv::sync_locked(const std::string& path, Inode& inode) {
  if (fail_syncs_ > 0) {
    --fail_syncs_;
    return io_error("sync " + path + ": injected sync failure");
  }
  inode.durable_is_prefix = true;
  inode.durable_len = inode.current.size();
  std::string().swap(inode.durable);
  ++sync_count_;
  return {};
}

void MemEnv::unlock_locked(const std::string& path, uint64_t epoch) {
  if (epoch == epoch_) locks_.erase(path);  // a crash already dropped older locks
}

Result<std::unique_ptr<WritableFile>> MemEnv::open_writable(const std::string& path,
                                                            OpenMode mode) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(step_locked("open", path));
  SLUICE_ASSIGN_OR_RETURN(Location loc, locate_locked("open", path));
  Dir& dir = dirs_.at(loc.dir);
  if (dir.subdirs.count(loc.name) != 0) return errno_status("open", path, EISDIR);
  InodePtr inode;
  auto it = dir.current.find(loc.name);
  if (it != dir.current.end()) {
    if (mode == OpenMode::kCreateNew) return errno_status("open", path, EEXIST);
    inode = it->second;
    if (mode == OpenMode::kTruncate) SLUICE_RETURN_IF_ERROR(resize_locked("open", path, *inode, 0));
  } else {
    inode = std::make_shared<Inode>();
    inode->names = 1;
    dir.current.emplace(loc.name, inode);
  }
  ++inode->handles;
  return std::unique_ptr<WritableFile>(
      std::make_unique<MemWritableFile>(*this, path, std::move(inode), epoch_));
}

Result<std::unique_ptr<ReadableFile>> MemEnv::open_readable(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(check_halted_locked("open", path));
  SLUICE_ASSIGN_OR_RETURN(InodePtr inode, find_file_locked("open", path));
  ++inode->handles;
  return std::unique_ptr<ReadableFile>(
      std::make_unique<MemReadableFile>(*this, path, std::move(inode), epoch_));
}

bool MemEnv::exists(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (halted_) return false;
  const std::string normalized = normalize(path);
  if (dirs_.count(normalized) != 0) return true;
  const auto [dir, name] = split(normalized);
  const Dir* d = find_dir_locked(dir);
  return d != nullptr && d->current.count(name) != 0;
}

Result<uint64_t> MemEnv::file_size(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(check_halted_locked("stat", path));
  SLUICE_ASSIGN_OR_RETURN(InodePtr inode, find_file_locked("stat", path));
  return static_cast<uint64_t>(inode->current.size());
}

Result<std::vector<std::string>> MemEnv::list_dir(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(check_halted_locked("list_dir", dir));
  const Dir* d = find_dir_locked(normalize(dir));
  if (d == nullptr) {
    // POSIX says ENOTDIR when the name is a file.
    return errno_status("list_dir", dir, find_file_locked("list_dir", dir).ok() ? ENOTDIR : ENOENT);
  }
  std::vector<std::string> names;
  names.reserve(d->current.size() + d->subdirs.size());
  for (const auto& [name, inode] : d->current) names.push_back(name);
  names.insert(names.end(), d->subdirs.begin(), d->subdirs.end());
  std::sort(names.begin(), names.end());
  return names;
}

Status MemEnv::create_dirs(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(step_locked("create_dirs", dir));
  if (dir.empty()) return invalid_argument("create_dirs: empty path");
  const std::string normalized = normalize(dir);
  // Visit "a", "a/b", "a/b/c" (or "/a", "/a/b", ...), making each one that is missing.
  size_t pos = normalized.front() == '/' ? 1 : 0;
  while (pos <= normalized.size() && !is_root(normalized)) {
    size_t slash = normalized.find('/', pos);
    if (slash == std::string::npos) slash = normalized.size();
    const std::string prefix = normalized.substr(0, slash);
    pos = slash + 1;
    if (dirs_.count(prefix) != 0) continue;
    const auto [parent_name, name] = split(prefix);
    Dir& parent = dirs_.at(parent_name);
    if (parent.current.count(name) != 0) return errno_status("create_dirs", prefix, ENOTDIR);
    dirs_[prefix];
    parent.subdirs.insert(name);
    parent.durable = parent.current;  // PosixEnv syncs the parent, which makes all of it durable
  }
  return {};
}

Status MemEnv::remove_file(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(step_locked("remove", path));
  SLUICE_ASSIGN_OR_RETURN(InodePtr inode, find_file_locked("remove", path));
  const auto [dir, name] = split(normalize(path));
  dirs_.at(dir).current.erase(name);
  unref_name_locked(*inode);
  return {};
}

Status MemEnv::remove_dir(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(step_locked("remove_dir", dir));
  const std::string normalized = normalize(dir);
  if (is_root(normalized)) return errno_status("remove_dir", dir, EBUSY);
  auto it = dirs_.find(normalized);
  if (it == dirs_.end()) {
    return errno_status("remove_dir", dir,
                        find_file_locked("remove_dir", dir).ok() ? ENOTDIR : ENOENT);
  }
  if (!it->second.current.empty() || !it->second.subdirs.empty()) {
    return errno_status("remove_dir", dir, ENOTEMPTY);
  }
  dirs_.erase(it);
  const auto [parent_name, name] = split(normalized);
  Dir& parent = dirs_.at(parent_name);
  parent.subdirs.erase(name);
  parent.durable = parent.current;  // as PosixEnv, which syncs the parent
  return {};
}

Status MemEnv::rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string what = from + " -> " + to;
  SLUICE_RETURN_IF_ERROR(step_locked("rename", what));
  if (dirs_.count(normalize(from)) != 0) {
    return invalid_argument("rename " + what + ": MemEnv does not rename directories");
  }
  SLUICE_ASSIGN_OR_RETURN(Location src, locate_locked("rename", from));
  SLUICE_ASSIGN_OR_RETURN(Location dst, locate_locked("rename", to));
  Dir& src_dir = dirs_.at(src.dir);
  Dir& dst_dir = dirs_.at(dst.dir);
  auto src_it = src_dir.current.find(src.name);
  if (src_it == src_dir.current.end()) return errno_status("rename", what, ENOENT);
  if (dst_dir.subdirs.count(dst.name) != 0) return errno_status("rename", what, EISDIR);
  const InodePtr inode = src_it->second;
  auto dst_it = dst_dir.current.find(dst.name);
  if (dst_it != dst_dir.current.end()) {
    if (dst_it->second == inode) return {};  // POSIX: two names of one file, nothing happens
    const InodePtr replaced = std::exchange(dst_it->second, inode);
    unref_name_locked(*replaced);
  } else {
    dst_dir.current.emplace(dst.name, inode);
  }
  src_dir.current.erase(src.name);
  return {};
}

Status MemEnv::link(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string what = from + " -> " + to;
  SLUICE_RETURN_IF_ERROR(step_locked("link", what));
  SLUICE_ASSIGN_OR_RETURN(InodePtr inode, find_file_locked("link", from));
  SLUICE_ASSIGN_OR_RETURN(Location dst, locate_locked("link", to));
  Dir& dst_dir = dirs_.at(dst.dir);
  if (dst_dir.current.count(dst.name) != 0 || dst_dir.subdirs.count(dst.name) != 0) {
    return errno_status("link", what, EEXIST);
  }
  dst_dir.current.emplace(dst.name, inode);
  ++inode->names;
  return {};
}

Status MemEnv::truncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(step_locked("truncate", path));
  SLUICE_ASSIGN_OR_RETURN(InodePtr inode, find_file_locked("truncate", path));
  return resize_locked("truncate", path, *inode, size);
}

Status MemEnv::sync_dir(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(step_locked("sync_dir", dir));
  Dir* d = find_dir_locked(normalize(dir));
  if (d == nullptr) {
    return errno_status("sync_dir", dir, find_file_locked("sync_dir", dir).ok() ? ENOTDIR : ENOENT);
  }
  if (fail_dir_syncs_ > 0) {
    --fail_dir_syncs_;
    return io_error("sync_dir " + dir + ": injected sync failure");
  }
  d->durable = d->current;
  ++dir_sync_count_;
  return {};
}

Result<DiskSpace> MemEnv::disk_space(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(check_halted_locked("disk_space", path));
  if (dirs_.count(normalize(path)) == 0) {
    SLUICE_RETURN_IF_ERROR(find_file_locked("disk_space", path).status());
  }
  DiskSpace space;
  space.capacity = capacity_;
  space.available = capacity_ - std::min(used_, capacity_);
  return space;
}

Result<std::unique_ptr<FileLock>> MemEnv::lock(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_RETURN_IF_ERROR(check_halted_locked("lock", path));
  SLUICE_ASSIGN_OR_RETURN(Location loc, locate_locked("lock", path));
  Dir& dir = dirs_.at(loc.dir);
  if (dir.subdirs.count(loc.name) != 0) return errno_status("lock", path, EISDIR);
  std::string normalized = normalize(path);
  if (locks_.count(normalized) != 0) {
    return failed_precondition("lock " + path + ": held by another owner");
  }
  if (dir.current.count(loc.name) == 0) {
    auto inode = std::make_shared<Inode>();
    inode->names = 1;
    dir.current.emplace(loc.name, std::move(inode));
  }
  locks_.insert(normalized);
  return std::unique_ptr<FileLock>(
      std::make_unique<MemFileLock>(*this, std::move(normalized), epoch_));
}

// ---- crashes and faults ----------------------------------------------------------------------

void MemEnv::crash(uint64_t seed, bool torn) {
  std::lock_guard<std::mutex> l(mu_);
  crash_locked(seed, torn);
}

void MemEnv::crash_locked(uint64_t seed, bool torn) {
  ++epoch_;  // every handle and lock from before is stale now
  locks_.clear();
  std::mt19937_64 rng(seed);
  // Maps are ordered, so one seed visits the inodes in one order and tears them the same way.
  used_ = 0;
  for (auto& [path, dir] : dirs_) {
    dir.current = dir.durable;
    for (auto& [name, inode] : dir.current) {
      Inode& f = *inode;
      if (f.crash_mark == epoch_) {  // a hard link already reverted it
        ++f.names;
        continue;
      }
      f.crash_mark = epoch_;
      f.names = 1;
      f.handles = 0;
      if (!f.durable_is_prefix) {
        f.current = std::move(f.durable);
        std::string().swap(f.durable);
        f.durable_is_prefix = true;
      } else {
        size_t keep = f.durable_len;
        if (torn && f.current.size() > f.durable_len) {
          const size_t tail = f.current.size() - f.durable_len;
          const size_t kept_tail = static_cast<size_t>(rng() % (tail + 1));
          keep += kept_tail;
          if (kept_tail > 0 && rng() % 2 == 0) {
            // A torn sector: a stretch of the kept tail holds bytes that were never written.
            const size_t start = f.durable_len + static_cast<size_t>(rng() % kept_tail);
            const size_t len = 1 + static_cast<size_t>(rng() % (keep - start));
            for (size_t i = start; i < start + len; ++i) f.current[i] = static_cast<char>(rng());
          }
        }
        f.current.resize(keep);
      }
      f.durable_len = f.current.size();  // what the crash left is on the disk now
      used_ += f.current.size();
    }
  }
}

void MemEnv::crash_after(uint64_t ops, uint64_t seed, bool torn) {
  std::lock_guard<std::mutex> l(mu_);
  crash_armed_ = true;
  crash_ops_left_ = ops;
  crash_seed_ = seed;
  crash_torn_ = torn;
}

bool MemEnv::crashed() const {
  std::lock_guard<std::mutex> l(mu_);
  return halted_;
}

void MemEnv::restart() {
  std::lock_guard<std::mutex> l(mu_);
  halted_ = false;
  crash_armed_ = false;
}

void MemEnv::set_capacity(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  capacity_ = bytes;
}

Status MemEnv::corrupt(const std::string& path, uint64_t offset, uint8_t xor_mask) {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_ASSIGN_OR_RETURN(InodePtr inode, find_file_locked("corrupt", path));
  bool flipped = false;
  // While durable_is_prefix the durable bytes share storage with current: one flip does both.
  if (offset < inode->current.size()) {
    inode->current[offset] = static_cast<char>(inode->current[offset] ^ xor_mask);
    flipped = true;
  }
  if (!inode->durable_is_prefix && offset < inode->durable.size()) {
    inode->durable[offset] = static_cast<char>(inode->durable[offset] ^ xor_mask);
    flipped = true;
  }
  if (!flipped) {
    return invalid_argument("corrupt " + path + ": offset " + std::to_string(offset) +
                            " is past the end of the file");
  }
  return {};
}

void MemEnv::fail_syncs(int n) {
  std::lock_guard<std::mutex> l(mu_);
  fail_syncs_ = n;
}

void MemEnv::fail_dir_syncs(int n) {
  std::lock_guard<std::mutex> l(mu_);
  fail_dir_syncs_ = n;
}

void MemEnv::fail_writes(int n, bool write_half) {
  std::lock_guard<std::mutex> l(mu_);
  fail_writes_ = n;
  fail_writes_half_ = write_half;
}

Result<std::string> MemEnv::durable_content(const std::string& path) const {
  std::lock_guard<std::mutex> l(mu_);
  SLUICE_ASSIGN_OR_RETURN(Location loc, locate_locked("durable_content", path));
  const Dir& dir = dirs_.at(loc.dir);
  auto it = dir.durable.find(loc.name);
  if (it == dir.durable.end()) return errno_status("durable_content", path, ENOENT);
  const Inode& f = *it->second;
  return f.durable_is_prefix ? f.current.substr(0, f.durable_len) : f.durable;
}

uint64_t MemEnv::sync_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return sync_count_;
}

uint64_t MemEnv::dir_sync_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return dir_sync_count_;
}

uint64_t MemEnv::bytes_written() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_written_;
}

void MemEnv::reset_counters() {
  std::lock_guard<std::mutex> l(mu_);
  sync_count_ = 0;
  dir_sync_count_ = 0;
  bytes_written_ = 0;
}

}  // namespace sluice
