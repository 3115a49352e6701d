// MemEnv: an in-memory file system for the store's tests and benchmarks. It keeps, for every
// file, the bytes a crash would leave and the bytes the process sees, and for every directory the
// entries a crash would leave and the current ones, so a test can pull the plug at any point
// (crash()) and check that recovery finds what the durability contract in env.h promises, no
// more. It also injects faults: full disk, failing writes and syncs, flipped bits.
//
// The model:
//  - A file is an inode with `current` bytes (what reads see) and `durable` bytes. sync() sets
//    durable = current for that inode. Hard links share the inode.
//  - A directory has `current` entries (name -> inode) and `durable` entries; sync_dir() sets
//    durable = current. Directories themselves are created and removed durably (create_dirs and
//    remove_dir sync the parent, as PosixEnv does), and cannot be renamed.
//  - crash(): every directory's entries revert to its durable entries, every surviving inode's
//    bytes to its durable bytes (or, torn, to the durable bytes plus part of the unsynced tail).
//    Handles and locks from before the crash go stale.
//  - Paths are strings with '/', normalized ("a//b/" is "a/b", "." parts dropped, ".." folded);
//    relative paths live under ".", absolute ones under "/", and both of those always exist.
//
// Thread safety: every method may be called from any thread; one mutex guards all state. Files
// and locks handed out must not outlive the MemEnv.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "io/env.h"

namespace sluice {

class MemEnv final : public Env {
 public:
  // What disk_space() reports while no capacity is set.
  static constexpr uint64_t kUnlimitedCapacity = uint64_t{1} << 40;  // 1 TiB

  MemEnv();
  ~MemEnv() override;
  MemEnv(const MemEnv&) = delete;
  MemEnv& operator=(const MemEnv&) = delete;

  // Env.
  Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path,
                                                      OpenMode mode) override;
  Result<std::unique_ptr<ReadableFile>> open_readable(const std::string& path) override;
  bool exists(const std::string& path) override;
  Result<uint64_t> file_size(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status create_dirs(const std::string& dir) override;
  Status remove_file(const std::string& path) override;
  Status remove_dir(const std::string& dir) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status link(const std::string& from, const std::string& to) override;
  Status truncate(const std::string& path, uint64_t size) override;
  Status sync_dir(const std::string& dir) override;
  Result<DiskSpace> disk_space(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override;

  // Crashes.

  // Power loss, now. Names created, renamed or removed since their directory's last sync_dir
  // revert; each file's bytes revert to what was last synced. With `torn`, a file whose unsynced
  // change was only appends keeps a prefix of random length (0 to all) of the unsynced tail, and
  // in half of the cases a random stretch of that kept tail is overwritten with garbage; the
  // choices come from `seed`, so one seed always tears the same way. Operations on files and
  // locks opened before the crash fail with kIoError ("stale handle after crash").
  void crash(uint64_t seed = 0, bool torn = false);

  // Arms a crash inside the code under test: the next `ops` mutating operations run, and the
  // one after that instead crashes (as crash(seed, torn)) and fails, and so does every operation
  // after it, reads included, until restart(). Mutating operations: open_writable, append, sync,
  // both truncates, create_dirs, remove_file, remove_dir, rename, link, sync_dir. Running a
  // procedure with ops = 0, 1, 2, ... until crashed() stays false visits every step boundary.
  void crash_after(uint64_t ops, uint64_t seed = 0, bool torn = false);
  // True once an armed crash has happened (and until restart()).
  bool crashed() const;
  // Lets operations run again after an armed crash, on the file system the crash left; disarms
  // a crash that has not happened yet.
  void restart();

  // Faults.

  // Total bytes the files may hold (the current bytes of every file that has a name or an open
  // handle). An append or an extending truncate that would pass it fails with kNoSpace and
  // changes nothing. disk_space() reports capacity and capacity - used.
  void set_capacity(uint64_t bytes);
  // Flips bits (byte ^= xor_mask) at `offset` in both the durable and the current bytes of the
  // file, as media corruption would; kInvalidArgument if offset is past both.
  Status corrupt(const std::string& path, uint64_t offset, uint8_t xor_mask);
  // The next n WritableFile::sync() calls fail with kIoError and make nothing durable.
  void fail_syncs(int n);
  // The next n sync_dir() calls fail with kIoError and make nothing durable.
  void fail_dir_syncs(int n);
  // The next n append() calls fail with kIoError. They write nothing, or with `write_half` the
  // first half of their data (a short write followed by an error, which the caller must repair
  // by truncating back).
  void fail_writes(int n, bool write_half = false);

  // Inspection.

  // The bytes that would be found under `path` after a crash now (before any tearing):
  // kNotFound if the name is not durable.
  Result<std::string> durable_content(const std::string& path) const;
  // Successful WritableFile::sync() and sync_dir() calls, and bytes appended, since
  // construction or reset_counters().
  uint64_t sync_count() const;
  uint64_t dir_sync_count() const;
  uint64_t bytes_written() const;
  void reset_counters();

 private:
  struct Inode;
  struct Dir;
  class MemWritableFile;
  class MemReadableFile;
  class MemFileLock;
  // Shared by every name and open handle of the file: hard links and open-after-unlink need
  // shared ownership, so this is the one place the project uses shared_ptr by design.
  using InodePtr = std::shared_ptr<Inode>;

  // A normalized path split into its directory and the last name.
  struct Location {
    std::string dir;
    std::string name;
  };

  // Everything below is called with mu_ held.
  Status check_halted_locked(std::string_view op, std::string_view path) const;
  // Counts a mutating operation and performs an armed crash when it is due; returns the
  // kIoError the operation must report then.
  Status step_locked(std::string_view op, std::string_view path);
  void crash_locked(uint64_t seed, bool torn);
  Result<Location> locate_locked(std::string_view op, const std::string& path) const;
  Dir* find_dir_locked(const std::string& normalized);
  const Dir* find_dir_locked(const std::string& normalized) const;
  // The inode `path` names now, or an error naming `op` (kNotFound, or kIoError for a directory).
  Result<InodePtr> find_file_locked(std::string_view op, const std::string& path);
  bool live_locked(const Inode& inode) const;
  // Drops one name or handle from the inode and releases its bytes if that was the last.
  void unref_name_locked(Inode& inode);
  void unref_handle_locked(Inode& inode);
  Status resize_locked(std::string_view op, const std::string& path, Inode& inode, uint64_t size);
  Status append_locked(const std::string& path, Inode& inode, std::string_view data);
  Status sync_locked(const std::string& path, Inode& inode);
  void unlock_locked(const std::string& path, uint64_t epoch);

  mutable std::mutex mu_;
  std::map<std::string, Dir> dirs_;  // by normalized path; guarded by mu_
  std::set<std::string> locks_;      // normalized paths locked now; guarded by mu_
  // Bumped by every crash; handles and locks remember the epoch they were made in.
  uint64_t epoch_ = 0;                      // guarded by mu_
  uint64_t capacity_ = kUnlimitedCapacity;  // guarded by mu_
  uint64_t used_ = 0;                       // guarded by mu_
  int fail_syncs_ = 0;                      // guarded by mu_
  int fail_dir_syncs_ = 0;                  // guarded by mu_
  int fail_writes_ = 0;                     // guarded by mu_
  bool fail_writes_half_ = false;           // guarded by mu_
  bool crash_armed_ = false;                // guarded by mu_
  uint64_t crash_ops_left_ = 0;             // guarded by mu_
  uint64_t crash_seed_ = 0;                 // guarded by mu_
  bool crash_torn_ = false;                 // guarded by mu_
  bool halted_ = false;                     // guarded by mu_
  uint64_t sync_count_ = 0;                 // guarded by mu_
  uint64_t dir_sync_count_ = 0;             // guarded by mu_
  uint64_t bytes_written_ = 0;              // guarded by mu_
};

}  // namespace sluice
