// Env tests: one behavioural suite run against both PosixEnv (in a temporary directory) and
// MemEnv, so the in-memory file system the store's crash tests rely on behaves like the real one;
// then MemEnv's own crash model and fault injection, each test named after what it proves.
#include "io/env.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/test_support.h"
#include "io/mem_env.h"

namespace sluice {
namespace {

#define EXPECT_OK(expr)                                      \
  do {                                                       \
    const ::sluice::Status _s = (expr);                      \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.to_string(); \
  } while (0)
#define ASSERT_OK(expr)                                      \
  do {                                                       \
    const ::sluice::Status _s = (expr);                      \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.to_string(); \
  } while (0)

constexpr uint64_t kMaxRead = 16 << 20;

// Creates (or empties) `path` and writes `data` to it; optionally syncs the bytes.
Status put(Env& env, const std::string& path, std::string_view data, bool sync = false) {
  SLUICE_ASSIGN_OR_RETURN(auto file, env.open_writable(path, OpenMode::kTruncate));
  SLUICE_RETURN_IF_ERROR(file->append(data));
  if (sync) SLUICE_RETURN_IF_ERROR(file->sync());
  return file->close();
}

// The file's content, or "<CODE: message>" so that a failure shows in the comparison.
std::string get(Env& env, const std::string& path) {
  Result<std::string> r = read_file(env, path, kMaxRead);
  return r.ok() ? *r : "<" + r.status().to_string() + ">";
}

std::string read_range(ReadableFile& file, uint64_t offset, size_t n) {
  std::string buf(n, '\0');
  Result<size_t> got = file.read_at(offset, n, buf.data());
  if (!got.ok()) return "<" + got.status().to_string() + ">";
  buf.resize(*got);
  return buf;
}

// ---- the shared suite ------------------------------------------------------------------------

struct PosixEnvMaker {
  static constexpr const char* kName = "Posix";
  ::sluice::testing::TempDir tmp;
  Env& env() { return Env::posix(); }
  std::string root() const { return tmp.path(); }
};

struct MemEnvMaker {
  static constexpr const char* kName = "Mem";
  MemEnv mem;
  Env& env() { return mem; }
  std::string root() const { return "/data/test"; }
};

template <typename Maker>
class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(env().create_dirs(maker_.root())); }
  Env& env() { return maker_.env(); }
  std::string root() const { return maker_.root(); }
  std::string path(const std::string& name) const { return join_path(root(), name); }

 private:
  Maker maker_;
};

struct MakerNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Makers = ::testing::Types<PosixEnvMaker, MemEnvMaker>;
TYPED_TEST_SUITE(EnvTest, Makers, MakerNames);

TYPED_TEST(EnvTest, AppendedBytesAreReadBack) {
  Env& env = this->env();
  const std::string p = this->path("f");
  auto w = env.open_writable(p, OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  EXPECT_EQ((*w)->size(), 0u);
  ASSERT_OK((*w)->append("hello"));
  ASSERT_OK((*w)->append(" world"));
  EXPECT_EQ((*w)->size(), 11u);
  ASSERT_OK((*w)->close());

  auto r = env.open_readable(p);
  ASSERT_OK(r.status());
  EXPECT_EQ(read_range(**r, 0, 11), "hello world");
  EXPECT_EQ(read_range(**r, 6, 100), "world");  // short at end of file
  EXPECT_EQ(read_range(**r, 20, 5), "");
  ASSERT_OK((*r)->size().status());
  EXPECT_EQ(*(*r)->size(), 11u);
  ASSERT_OK(env.file_size(p).status());
  EXPECT_EQ(*env.file_size(p), 11u);
  EXPECT_TRUE(env.exists(p));
}

TYPED_TEST(EnvTest, TruncateShrinksOrZeroExtendsAndLaterAppendsGoAfter) {
  Env& env = this->env();
  const std::string p = this->path("f");
  auto w = env.open_writable(p, OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  ASSERT_OK((*w)->append("0123456789"));
  ASSERT_OK((*w)->truncate(4));
  EXPECT_EQ((*w)->size(), 4u);
  ASSERT_OK((*w)->append("xy"));
  EXPECT_EQ((*w)->size(), 6u);
  EXPECT_EQ(get(env, p), "0123xy");
  ASSERT_OK((*w)->truncate(8));
  EXPECT_EQ((*w)->size(), 8u);
  EXPECT_EQ(get(env, p), std::string("0123xy\0\0", 8));
}

TYPED_TEST(EnvTest, PathTruncateShrinksTheFile) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->path("f"), "abcdef"));
  ASSERT_OK(env.truncate(this->path("f"), 2));
  EXPECT_EQ(get(env, this->path("f")), "ab");
  EXPECT_EQ(env.truncate(this->path("missing"), 0).code(), Code::kNotFound);
}

TYPED_TEST(EnvTest, CreateNewRefusesAnExistingFile) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->path("f"), "old"));
  auto w = env.open_writable(this->path("f"), OpenMode::kCreateNew);
  EXPECT_EQ(w.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(get(env, this->path("f")), "old");
}

TYPED_TEST(EnvTest, TruncateModeEmptiesAnExistingFile) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->path("f"), "old content"));
  auto w = env.open_writable(this->path("f"), OpenMode::kTruncate);
  ASSERT_OK(w.status());
  EXPECT_EQ((*w)->size(), 0u);
  ASSERT_OK((*w)->append("new"));
  ASSERT_OK((*w)->close());
  EXPECT_EQ(get(env, this->path("f")), "new");
}

TYPED_TEST(EnvTest, AppendModeContinuesAtTheEndOrCreates) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->path("f"), "abc"));
  auto w = env.open_writable(this->path("f"), OpenMode::kAppend);
  ASSERT_OK(w.status());
  EXPECT_EQ((*w)->size(), 3u);
  ASSERT_OK((*w)->append("def"));
  EXPECT_EQ((*w)->size(), 6u);
  ASSERT_OK((*w)->close());
  EXPECT_EQ(get(env, this->path("f")), "abcdef");

  auto fresh = env.open_writable(this->path("g"), OpenMode::kAppend);
  ASSERT_OK(fresh.status());
  EXPECT_EQ((*fresh)->size(), 0u);
  EXPECT_TRUE(env.exists(this->path("g")));
}

TYPED_TEST(EnvTest, CreatingAFileInAMissingDirectoryIsNotFound) {
  auto w = this->env().open_writable(this->path("no/such/f"), OpenMode::kCreateNew);
  EXPECT_EQ(w.status().code(), Code::kNotFound);
}

TYPED_TEST(EnvTest, MissingFilesAreNotFoundAndTheErrorNamesOperationAndPath) {
  Env& env = this->env();
  const std::string p = this->path("missing");
  EXPECT_FALSE(env.exists(p));
  auto r = env.open_readable(p);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("open " + p), std::string::npos) << r.status().message();
  EXPECT_EQ(env.file_size(p).status().code(), Code::kNotFound);
  Status st = env.remove_file(p);
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find("remove " + p), std::string::npos) << st.message();
}

TYPED_TEST(EnvTest, DirectoriesAreNotOpenedAsFiles) {
  Env& env = this->env();
  ASSERT_OK(env.create_dirs(this->path("d")));
  EXPECT_FALSE(env.open_readable(this->path("d")).ok());
  EXPECT_FALSE(env.open_writable(this->path("d"), OpenMode::kAppend).ok());
  EXPECT_FALSE(env.remove_file(this->path("d")).ok());
}

TYPED_TEST(EnvTest, RenameReplacesTheTarget) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->path("a"), "new"));
  ASSERT_OK(put(env, this->path("b"), "old"));
  ASSERT_OK(env.rename(this->path("a"), this->path("b")));
  EXPECT_FALSE(env.exists(this->path("a")));
  EXPECT_EQ(get(env, this->path("b")), "new");
  EXPECT_EQ(env.rename(this->path("a"), this->path("c")).code(), Code::kNotFound);
}

TYPED_TEST(EnvTest, OpenHandleFollowsARenamedFile) {
  Env& env = this->env();
  auto w = env.open_writable(this->path("a"), OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  ASSERT_OK((*w)->append("one "));
  ASSERT_OK(env.rename(this->path("a"), this->path("b")));
  ASSERT_OK((*w)->append("two"));
  EXPECT_EQ(get(env, this->path("b")), "one two");
}

TYPED_TEST(EnvTest, LinkNamesTheSameFile) {
  Env& env = this->env();
  auto w = env.open_writable(this->path("a"), OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  ASSERT_OK((*w)->append("shared"));
  ASSERT_OK(env.link(this->path("a"), this->path("b")));
  ASSERT_OK((*w)->append("+more"));
  EXPECT_EQ(get(env, this->path("b")), "shared+more");
  ASSERT_OK(env.remove_file(this->path("a")));
  EXPECT_EQ(get(env, this->path("b")), "shared+more");
  ASSERT_OK(put(env, this->path("c"), "c"));
  EXPECT_EQ(env.link(this->path("b"), this->path("c")).code(), Code::kAlreadyExists);
  EXPECT_EQ(env.link(this->path("missing"), this->path("d")).code(), Code::kNotFound);
}

TYPED_TEST(EnvTest, RemovedFileStaysReadableThroughAnOpenHandle) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->path("f"), "still here"));
  auto r = env.open_readable(this->path("f"));
  ASSERT_OK(r.status());
  ASSERT_OK(env.remove_file(this->path("f")));
  EXPECT_FALSE(env.exists(this->path("f")));
  EXPECT_EQ(read_range(**r, 0, 100), "still here");
}

TYPED_TEST(EnvTest, ListDirIsSortedAndHasNoDots) {
  Env& env = this->env();
  for (const char* name : {"b", "a", "c10", "c2"}) ASSERT_OK(put(env, this->path(name), name));
  ASSERT_OK(env.create_dirs(this->path("d")));
  auto names = env.list_dir(this->root());
  ASSERT_OK(names.status());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c10", "c2", "d"}));
  auto empty = env.list_dir(this->path("d"));
  ASSERT_OK(empty.status());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(env.list_dir(this->path("missing")).status().code(), Code::kNotFound);
}

TYPED_TEST(EnvTest, CreateDirsMakesParentsAndIsIdempotent) {
  Env& env = this->env();
  ASSERT_OK(env.create_dirs(this->path("x/y/z")));
  EXPECT_TRUE(env.exists(this->path("x/y/z")));
  ASSERT_OK(env.create_dirs(this->path("x/y/z")));
  ASSERT_OK(env.create_dirs(this->path("x//y/")));
  auto names = env.list_dir(this->path("x"));
  ASSERT_OK(names.status());
  EXPECT_EQ(*names, std::vector<std::string>{"y"});
  ASSERT_OK(put(env, this->path("file"), ""));
  EXPECT_FALSE(env.create_dirs(this->path("file")).ok());
  EXPECT_FALSE(env.create_dirs(this->path("file/sub")).ok());
}

TYPED_TEST(EnvTest, RemoveDirRemovesOnlyEmptyDirectories) {
  Env& env = this->env();
  ASSERT_OK(env.create_dirs(this->path("d")));
  ASSERT_OK(put(env, this->path("d/f"), "x"));
  EXPECT_EQ(env.remove_dir(this->path("d")).code(), Code::kIoError);
  ASSERT_OK(env.remove_file(this->path("d/f")));
  ASSERT_OK(env.remove_dir(this->path("d")));
  EXPECT_FALSE(env.exists(this->path("d")));
  EXPECT_EQ(env.remove_dir(this->path("d")).code(), Code::kNotFound);
}

TYPED_TEST(EnvTest, DoubleSlashesNameTheSameFile) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->root() + "//f", "x"));
  EXPECT_EQ(get(env, this->root() + "/f"), "x");
}

TYPED_TEST(EnvTest, LockIsExclusiveUntilReleased) {
  Env& env = this->env();
  const std::string p = this->path("LOCK");
  auto first = env.lock(p);
  ASSERT_OK(first.status());
  EXPECT_TRUE(env.exists(p));
  auto second = env.lock(p);
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(p), std::string::npos);
  first->reset();
  auto third = env.lock(p);
  EXPECT_OK(third.status());
}

TYPED_TEST(EnvTest, ReadFileRefusesFilesOverTheLimit) {
  Env& env = this->env();
  ASSERT_OK(put(env, this->path("f"), std::string(100, 'x')));
  auto exact = read_file(env, this->path("f"), 100);
  ASSERT_OK(exact.status());
  EXPECT_EQ(exact->size(), 100u);
  EXPECT_EQ(read_file(env, this->path("f"), 99).status().code(), Code::kResourceExhausted);
  ASSERT_OK(put(env, this->path("empty"), ""));
  EXPECT_EQ(get(env, this->path("empty")), "");
  EXPECT_EQ(read_file(env, this->path("missing"), 10).status().code(), Code::kNotFound);
}

TYPED_TEST(EnvTest, ReadFileReadsAFileLargerThanOneChunk) {
  Env& env = this->env();
  std::string big(300 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  ASSERT_OK(put(env, this->path("big"), big));
  EXPECT_EQ(get(env, this->path("big")), big);
}

TYPED_TEST(EnvTest, WriteFileAtomicReplacesContentAndLeavesNoTemp) {
  Env& env = this->env();
  const std::string p = this->path("cursor");
  ASSERT_OK(write_file_atomic(env, p, "first"));
  EXPECT_EQ(get(env, p), "first");
  ASSERT_OK(write_file_atomic(env, p, "second"));
  EXPECT_EQ(get(env, p), "second");
  EXPECT_FALSE(env.exists(p + ".tmp"));
  auto names = env.list_dir(this->root());
  ASSERT_OK(names.status());
  EXPECT_EQ(*names, std::vector<std::string>{"cursor"});
}

TYPED_TEST(EnvTest, ClosedFileRefusesFurtherUse) {
  Env& env = this->env();
  auto w = env.open_writable(this->path("f"), OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  ASSERT_OK((*w)->close());
  EXPECT_EQ((*w)->append("x").code(), Code::kFailedPrecondition);
  EXPECT_EQ((*w)->sync().code(), Code::kFailedPrecondition);
  EXPECT_EQ((*w)->close().code(), Code::kFailedPrecondition);
}

TYPED_TEST(EnvTest, ConcurrentReadsSeeTheSameBytes) {
  Env& env = this->env();
  std::string data(64 * 1024, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  ASSERT_OK(put(env, this->path("f"), data));
  auto r = env.open_readable(this->path("f"));
  ASSERT_OK(r.status());
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = static_cast<uint64_t>(t) * 97; off < data.size(); off += 1013) {
        if (read_range(**r, off, 300) != data.substr(off, 300)) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// env.h allows a sync thread to sync (and read size()) while another thread appends.
TYPED_TEST(EnvTest, SyncMayRunConcurrentlyWithAppend) {
  Env& env = this->env();
  auto w = env.open_writable(this->path("log"), OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  WritableFile& file = **w;
  constexpr int kRecords = 300;
  std::atomic<bool> done{false};
  std::atomic<int> sync_errors{0};
  std::atomic<int> size_went_back{0};
  std::thread syncer([&] {
    uint64_t last = 0;
    while (!done.load()) {
      const uint64_t seen = file.size();
      if (seen < last) ++size_went_back;
      last = seen;
      if (!file.sync().ok()) ++sync_errors;
    }
  });
  std::string expected;
  for (int i = 0; i < kRecords; ++i) {
    const std::string rec = "record " + std::to_string(i) + ";";
    EXPECT_OK(file.append(rec));
    expected += rec;
  }
  done = true;
  syncer.join();
  ASSERT_OK(file.sync());
  EXPECT_EQ(sync_errors.load(), 0);
  EXPECT_EQ(size_went_back.load(), 0);
  EXPECT_EQ(file.size(), expected.size());
  EXPECT_EQ(get(env, this->path("log")), expected);
}

TYPED_TEST(EnvTest, DiskSpaceReportsAvailableWithinCapacity) {
  Env& env = this->env();
  auto space = env.disk_space(this->root());
  ASSERT_OK(space.status());
  EXPECT_GT(space->capacity, 0u);
  EXPECT_GT(space->available, 0u);
  EXPECT_LE(space->available, space->capacity);
  EXPECT_EQ(env.disk_space(this->path("missing")).status().code(), Code::kNotFound);
}

// ---- helpers without an Env ------------------------------------------------------------------

TEST(PathTest, JoinPathAddsOneSeparator) {
  EXPECT_EQ(join_path("a/b", "c"), "a/b/c");
  EXPECT_EQ(join_path("a/b/", "c"), "a/b/c");
  EXPECT_EQ(join_path("/", "c"), "/c");
  EXPECT_EQ(join_path("", "c"), "c");
}

TEST(PathTest, ParentDirIsTheDirectoryPart) {
  EXPECT_EQ(parent_dir("a/b/c"), "a/b");
  EXPECT_EQ(parent_dir("c"), ".");
  EXPECT_EQ(parent_dir("/c"), "/");
  EXPECT_EQ(parent_dir("/"), "/");
  EXPECT_EQ(parent_dir("a/b/"), "a");
  EXPECT_EQ(parent_dir("a//b"), "a");
  EXPECT_EQ(parent_dir(""), ".");
}

TEST(ErrnoStatusTest, MapsErrnoToCodesAndNamesOperationAndPath) {
  EXPECT_EQ(errno_status("open", "/x", ENOENT).code(), Code::kNotFound);
  EXPECT_EQ(errno_status("open", "/x", EEXIST).code(), Code::kAlreadyExists);
  EXPECT_EQ(errno_status("append", "/x", ENOSPC).code(), Code::kNoSpace);
  EXPECT_EQ(errno_status("append", "/x", EDQUOT).code(), Code::kNoSpace);
  const Status st = errno_status("sync", "/x/y", EIO);
  EXPECT_EQ(st.code(), Code::kIoError);
  EXPECT_EQ(st.message(), "sync /x/y: Input/output error");
}

// ---- MemEnv: the crash model -----------------------------------------------------------------

class MemEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(env_.create_dirs(kDir)); }
  static std::string path(const std::string& name) { return join_path(kDir, name); }
  // A file whose name is durable, holding `synced` (durable) then `unsynced`.
  std::unique_ptr<WritableFile> make_file(const std::string& name, std::string_view synced,
                                          std::string_view unsynced) {
    auto w = env_.open_writable(path(name), OpenMode::kCreateNew);
    EXPECT_OK(w.status());
    if (!w.ok()) return nullptr;
    EXPECT_OK((*w)->append(synced));
    EXPECT_OK((*w)->sync());
    EXPECT_OK(env_.sync_dir(kDir));
    EXPECT_OK((*w)->append(unsynced));
    return std::move(*w);
  }

  static constexpr const char* kDir = "/store";
  MemEnv env_;
};

TEST_F(MemEnvTest, UnsyncedBytesVanishOnCrash) {
  auto w = make_file("f", "", "unsynced");
  EXPECT_EQ(get(env_, path("f")), "unsynced");
  env_.crash();
  EXPECT_TRUE(env_.exists(path("f")));
  EXPECT_EQ(get(env_, path("f")), "");
}

TEST_F(MemEnvTest, SyncedBytesSurviveCrash) {
  auto w = make_file("f", "synced|", "lost");
  ASSERT_OK(env_.durable_content(path("f")).status());
  EXPECT_EQ(*env_.durable_content(path("f")), "synced|");
  env_.crash();
  EXPECT_EQ(get(env_, path("f")), "synced|");
}

TEST_F(MemEnvTest, NewFileWithoutDirSyncVanishesOnCrash) {
  ASSERT_OK(put(env_, path("unnamed"), "data", /*sync=*/true));
  ASSERT_OK(put(env_, path("named"), "data", /*sync=*/true));
  ASSERT_OK(env_.sync_dir(kDir));
  ASSERT_OK(put(env_, path("late"), "data", /*sync=*/true));
  EXPECT_EQ(env_.durable_content(path("late")).status().code(), Code::kNotFound);
  env_.crash();
  EXPECT_TRUE(env_.exists(path("unnamed")));  // named by the sync_dir after it
  EXPECT_EQ(get(env_, path("named")), "data");
  EXPECT_FALSE(env_.exists(path("late")));
}

TEST_F(MemEnvTest, RenameWithoutDirSyncRevertsOnCrash) {
  ASSERT_OK(put(env_, path("target"), "old", true));
  ASSERT_OK(put(env_, path("next"), "new", true));
  ASSERT_OK(env_.sync_dir(kDir));
  ASSERT_OK(env_.rename(path("next"), path("target")));
  EXPECT_EQ(get(env_, path("target")), "new");
  env_.crash();
  EXPECT_EQ(get(env_, path("target")), "old");
  EXPECT_EQ(get(env_, path("next")), "new");

  ASSERT_OK(env_.rename(path("next"), path("target")));
  ASSERT_OK(env_.sync_dir(kDir));
  env_.crash();
  EXPECT_EQ(get(env_, path("target")), "new");
  EXPECT_FALSE(env_.exists(path("next")));
}

TEST_F(MemEnvTest, RemoveAndLinkWithoutDirSyncRevertOnCrash) {
  ASSERT_OK(put(env_, path("gone"), "x", true));
  ASSERT_OK(put(env_, path("kept"), "k", true));
  ASSERT_OK(env_.sync_dir(kDir));
  ASSERT_OK(env_.remove_file(path("gone")));
  EXPECT_EQ(env_.link(path("gone"), path("never")).code(), Code::kNotFound);
  ASSERT_OK(env_.link(path("kept"), path("alias")));
  env_.crash();
  EXPECT_EQ(get(env_, path("gone")), "x");
  EXPECT_EQ(get(env_, path("kept")), "k");
  EXPECT_FALSE(env_.exists(path("alias")));
}

TEST_F(MemEnvTest, CreateDirsIsDurableWithoutDirSync) {
  ASSERT_OK(env_.create_dirs(path("a/b")));
  ASSERT_OK(put(env_, path("a/b/f"), "x", true));
  ASSERT_OK(env_.sync_dir(path("a/b")));
  env_.crash();
  EXPECT_EQ(get(env_, path("a/b/f")), "x");
}

TEST_F(MemEnvTest, TruncateBelowTheSyncedLengthRevertsOnCrash) {
  auto w = make_file("f", "0123456789", "");
  ASSERT_OK(w->truncate(3));
  ASSERT_OK(w->append("abc"));
  EXPECT_EQ(get(env_, path("f")), "012abc");
  EXPECT_EQ(*env_.durable_content(path("f")), "0123456789");
  env_.crash(/*seed=*/7, /*torn=*/true);
  EXPECT_EQ(get(env_, path("f")), "0123456789");
}

TEST_F(MemEnvTest, HardLinkedFileRevertsOnceForBothNames) {
  auto w = make_file("a", "synced", "");
  ASSERT_OK(env_.link(path("a"), path("b")));
  ASSERT_OK(env_.sync_dir(kDir));
  ASSERT_OK(w->append("+tail"));
  env_.crash(3, true);
  const std::string a = get(env_, path("a"));
  EXPECT_EQ(a.substr(0, 6), "synced");
  EXPECT_EQ(get(env_, path("b")), a);
}

TEST_F(MemEnvTest, TornCrashKeepsPrefixOfUnsyncedTail) {
  const std::string synced = "SYNCED";
  const std::string tail(200, 't');
  int shorter = 0;
  int garbled = 0;
  int clean_partial = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    MemEnv env;
    ASSERT_OK(env.create_dirs("/d"));
    auto w = env.open_writable("/d/f", OpenMode::kCreateNew);
    ASSERT_OK(w.status());
    ASSERT_OK((*w)->append(synced));
    ASSERT_OK((*w)->sync());
    ASSERT_OK(env.sync_dir("/d"));
    ASSERT_OK((*w)->append(tail));
    env.crash(seed, /*torn=*/true);
    const std::string after = get(env, "/d/f");
    ASSERT_GE(after.size(), synced.size()) << "seed " << seed;
    ASSERT_LE(after.size(), synced.size() + tail.size()) << "seed " << seed;
    ASSERT_EQ(after.substr(0, synced.size()), synced) << "synced bytes changed, seed " << seed;
    const std::string kept = after.substr(synced.size());
    if (kept.size() < tail.size()) ++shorter;
    if (kept != tail.substr(0, kept.size())) {
      ++garbled;
    } else if (!kept.empty() && kept.size() < tail.size()) {
      ++clean_partial;
    }
  }
  EXPECT_GT(shorter, 100);       // nearly every seed cuts the tail somewhere
  EXPECT_GT(garbled, 20);        // about half write garbage into what they keep
  EXPECT_GT(clean_partial, 20);  // and the others keep a clean prefix
}

TEST_F(MemEnvTest, TornCrashIsTheSameForTheSameSeed) {
  auto run = [](uint64_t seed) {
    MemEnv env;
    EXPECT_OK(env.create_dirs("/d"));
    for (const char* name : {"/d/a", "/d/b"}) {
      auto w = env.open_writable(name, OpenMode::kCreateNew);
      EXPECT_OK(env.sync_dir("/d"));
      EXPECT_OK((*w)->append(std::string(500, name[3])));
    }
    env.crash(seed, true);
    return get(env, "/d/a") + "|" + get(env, "/d/b");
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST_F(MemEnvTest, AppendOverCapacityFailsWithNoSpaceAndWritesNothing) {
  env_.set_capacity(10);
  auto space = env_.disk_space(kDir);
  ASSERT_OK(space.status());
  EXPECT_EQ(space->capacity, 10u);
  EXPECT_EQ(space->available, 10u);
  auto w = env_.open_writable(path("f"), OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  ASSERT_OK((*w)->append("12345678"));
  const Status st = (*w)->append("abc");
  EXPECT_EQ(st.code(), Code::kNoSpace);
  EXPECT_NE(st.message().find(path("f")), std::string::npos) << st.message();
  EXPECT_EQ((*w)->size(), 8u);
  EXPECT_EQ(get(env_, path("f")), "12345678");
  EXPECT_EQ(env_.disk_space(kDir)->available, 2u);
  EXPECT_EQ((*w)->truncate(11).code(), Code::kNoSpace);
  ASSERT_OK((*w)->append("ab"));
  EXPECT_EQ(env_.disk_space(kDir)->available, 0u);
}

TEST_F(MemEnvTest, RemovedFileFreesItsSpaceOnceTheLastHandleCloses) {
  env_.set_capacity(100);
  ASSERT_OK(put(env_, path("f"), std::string(60, 'x')));
  EXPECT_EQ(env_.disk_space(kDir)->available, 40u);
  {
    auto r = env_.open_readable(path("f"));
    ASSERT_OK(r.status());
    ASSERT_OK(env_.remove_file(path("f")));
    EXPECT_EQ(env_.disk_space(kDir)->available, 40u);  // still held open
  }
  EXPECT_EQ(env_.disk_space(kDir)->available, 100u);
}

TEST_F(MemEnvTest, DefaultCapacityIsReportedAsOneTebibyte) {
  auto space = env_.disk_space(kDir);
  ASSERT_OK(space.status());
  EXPECT_EQ(space->capacity, MemEnv::kUnlimitedCapacity);
}

TEST_F(MemEnvTest, CorruptFlipsDurableBytes) {
  auto w = make_file("f", "abc", "def");
  ASSERT_OK(env_.corrupt(path("f"), 1, 0x01));  // 'b' ^ 1 == 'c'
  EXPECT_EQ(get(env_, path("f")), "accdef");
  EXPECT_EQ(*env_.durable_content(path("f")), "acc");
  ASSERT_OK(env_.corrupt(path("f"), 4, 0x20));  // an unsynced byte: only current has it
  EXPECT_EQ(get(env_, path("f")), "accdEf");
  env_.crash();
  EXPECT_EQ(get(env_, path("f")), "acc");
  EXPECT_EQ(env_.corrupt(path("f"), 3, 1).code(), Code::kInvalidArgument);

  // Also when the durable bytes are kept apart from the current ones.
  auto v = env_.open_writable(path("f"), OpenMode::kAppend);
  ASSERT_OK(v.status());
  ASSERT_OK((*v)->truncate(1));
  ASSERT_OK(env_.corrupt(path("f"), 0, 0x01));
  EXPECT_EQ(get(env_, path("f")), "`");
  EXPECT_EQ(*env_.durable_content(path("f")), "`cc");
}

TEST_F(MemEnvTest, StaleHandleAfterCrashIsRefused) {
  env_.set_capacity(1000);
  auto w = make_file("f", "abc", "def");
  auto r = env_.open_readable(path("f"));
  ASSERT_OK(r.status());
  env_.crash();
  for (const Status& st : {w->append("x"), w->sync(), w->truncate(0), w->close()}) {
    EXPECT_EQ(st.code(), Code::kIoError);
    EXPECT_NE(st.message().find("stale handle after crash"), std::string::npos) << st.message();
  }
  EXPECT_EQ(read_range(**r, 0, 3), "<IO_ERROR: read " + path("f") + ": stale handle after crash>");
  EXPECT_EQ(get(env_, path("f")), "abc");  // nothing went through
  w.reset();
  r->reset();
  // Dropping stale handles does not disturb the accounting of the file that survived.
  EXPECT_EQ(env_.disk_space(kDir)->available, 997u);
  auto fresh = env_.open_writable(path("f"), OpenMode::kAppend);
  ASSERT_OK(fresh.status());
  EXPECT_OK((*fresh)->append("!"));
}

TEST_F(MemEnvTest, CrashReleasesLocks) {
  auto held = env_.lock(path("LOCK"));
  ASSERT_OK(held.status());
  env_.crash();
  auto again = env_.lock(path("LOCK"));
  ASSERT_OK(again.status());
  held->reset();  // the stale lock going away must not release the new one
  EXPECT_EQ(env_.lock(path("LOCK")).status().code(), Code::kFailedPrecondition);
}

TEST_F(MemEnvTest, FailedSyncsMakeNothingDurable) {
  auto w = make_file("f", "a", "b");
  env_.fail_syncs(2);
  EXPECT_EQ(w->sync().code(), Code::kIoError);
  EXPECT_EQ(w->sync().code(), Code::kIoError);
  EXPECT_EQ(*env_.durable_content(path("f")), "a");
  ASSERT_OK(w->sync());
  EXPECT_EQ(*env_.durable_content(path("f")), "ab");
}

TEST_F(MemEnvTest, FailedDirSyncsMakeNoNameDurable) {
  ASSERT_OK(put(env_, path("f"), "x", true));
  env_.fail_dir_syncs(1);
  EXPECT_EQ(env_.sync_dir(kDir).code(), Code::kIoError);
  env_.crash();
  EXPECT_FALSE(env_.exists(path("f")));
}

TEST_F(MemEnvTest, FailedWritesWriteNothingOrHalf) {
  auto w = make_file("f", "", "");
  env_.fail_writes(1);
  EXPECT_EQ(w->append("abcd").code(), Code::kIoError);
  EXPECT_EQ(w->size(), 0u);
  env_.fail_writes(1, /*write_half=*/true);
  EXPECT_EQ(w->append("abcd").code(), Code::kIoError);
  EXPECT_EQ(w->size(), 2u);  // the short write reached the file; the caller truncates it away
  EXPECT_EQ(get(env_, path("f")), "ab");
  ASSERT_OK(w->truncate(0));
  ASSERT_OK(w->append("abcd"));
  EXPECT_EQ(get(env_, path("f")), "abcd");
}

TEST_F(MemEnvTest, CountersCountSyncsDirSyncsAndBytes) {
  env_.reset_counters();
  auto w = make_file("f", "12345", "678");
  ASSERT_OK(w->sync());
  EXPECT_EQ(env_.sync_count(), 2u);
  EXPECT_EQ(env_.dir_sync_count(), 1u);
  EXPECT_EQ(env_.bytes_written(), 8u);
  env_.reset_counters();
  EXPECT_EQ(env_.sync_count(), 0u);
}

TEST_F(MemEnvTest, ArmedCrashStopsEveryOperationUntilRestart) {
  ASSERT_OK(put(env_, path("f"), "old", true));
  ASSERT_OK(env_.sync_dir(kDir));
  env_.crash_after(1);  // the open runs, the append crashes
  auto w = env_.open_writable(path("g"), OpenMode::kCreateNew);
  ASSERT_OK(w.status());
  EXPECT_FALSE(env_.crashed());
  EXPECT_EQ((*w)->append("x").code(), Code::kIoError);
  EXPECT_TRUE(env_.crashed());
  EXPECT_EQ(env_.open_readable(path("f")).status().code(), Code::kIoError);
  EXPECT_EQ(env_.remove_file(path("f")).code(), Code::kIoError);
  env_.restart();
  EXPECT_FALSE(env_.crashed());
  EXPECT_EQ(get(env_, path("f")), "old");
  EXPECT_FALSE(env_.exists(path("g")));
}

TEST_F(MemEnvTest, ConcurrentWritersLoseNoBytesAndNoCounts) {
  constexpr int kThreads = 4;
  constexpr int kRecords = 500;
  env_.reset_counters();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      auto w = env_.open_writable(path("f" + std::to_string(t)), OpenMode::kCreateNew);
      ASSERT_OK(w.status());
      for (int i = 0; i < kRecords; ++i) {
        ASSERT_OK((*w)->append("rec;"));
        ASSERT_OK((*w)->sync());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string expected;
  for (int i = 0; i < kRecords; ++i) expected += "rec;";
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(get(env_, path("f" + std::to_string(t))), expected);
  EXPECT_EQ(env_.sync_count(), uint64_t{kThreads} * kRecords);
  EXPECT_EQ(env_.bytes_written(), uint64_t{kThreads} * kRecords * 4);
}

TEST_F(MemEnvTest, PathsAreNormalized) {
  ASSERT_OK(put(env_, "/store//a/../f", "x"));
  EXPECT_EQ(get(env_, "/store/./f/"), "x");
  ASSERT_OK(env_.create_dirs("rel/dir"));
  ASSERT_OK(put(env_, "rel/dir/f", "y"));
  EXPECT_EQ(get(env_, "./rel//dir/f"), "y");
}

// Crashes at every step boundary of write_file_atomic, plain and torn: the file is always
// either wholly old or wholly new, and new once the call returned.
TEST_F(MemEnvTest, WriteFileAtomicGivesOldOrNewNeverMixedAfterCrash) {
  const std::string old_content(300, 'o');
  const std::string new_content = "new:" + std::string(500, 'n');
  for (bool torn : {false, true}) {
    for (uint64_t seed = 0; seed < 8; ++seed) {
      int steps = 0;
      for (uint64_t k = 0;; ++k) {
        MemEnv env;
        ASSERT_OK(env.create_dirs("/d"));
        ASSERT_OK(write_file_atomic(env, "/d/cursor", old_content));
        env.crash_after(k, seed, torn);
        const Status st = write_file_atomic(env, "/d/cursor", new_content);
        if (!env.crashed()) {
          ASSERT_OK(st);
          env.crash(seed, torn);
          EXPECT_EQ(get(env, "/d/cursor"), new_content) << "torn " << torn << " seed " << seed;
          break;
        }
        EXPECT_FALSE(st.ok());
        env.restart();
        const std::string after = get(env, "/d/cursor");
        EXPECT_TRUE(after == old_content || after == new_content)
            << "crash before step " << k << " torn " << torn << " seed " << seed << " left "
            << after.size() << " bytes: " << after.substr(0, 40);
        ++steps;
        ASSERT_LT(steps, 100) << "write_file_atomic never completes";
      }
      EXPECT_GE(steps, 5);  // open, append, sync, rename, sync_dir
    }
  }
}

// Any mix of appends and syncs, then a crash: the file holds exactly what was synced last; torn,
// it holds that plus at most the unsynced bytes.
RC_GTEST_PROP(MemEnvProperty, CrashLeavesTheLastSyncedBytes,
              (std::vector<std::string> writes, uint64_t seed, bool torn)) {
  MemEnv env;
  RC_ASSERT(env.create_dirs("/d").ok());
  auto w = env.open_writable("/d/f", OpenMode::kCreateNew);
  RC_ASSERT(w.ok());
  RC_ASSERT(env.sync_dir("/d").ok());
  std::string all;
  std::string synced;
  for (const std::string& chunk : writes) {
    RC_ASSERT((*w)->append(chunk).ok());
    all += chunk;
    if (!chunk.empty() && chunk.front() % 3 == 0) {  // sync after about a third of the writes
      RC_ASSERT((*w)->sync().ok());
      synced = all;
    }
  }
  env.crash(seed, torn);
  const std::string after = get(env, "/d/f");
  if (!torn) {
    RC_ASSERT(after == synced);
  } else {
    RC_ASSERT(after.size() >= synced.size());
    RC_ASSERT(after.size() <= all.size());
    RC_ASSERT(after.substr(0, synced.size()) == synced);
  }
}

}  // namespace
}  // namespace sluice
