// WriteAtomicVolume: the kubelet layout of configMap/secret volumes on a real filesystem.
#include "../../agent/controller/atomic_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "peapod/atomic_file.h"
#include "peapod/unique_fd.h"
#include "support/temp_dir.h"

namespace peapod::agent::controller {
namespace {

using peapod::testing::TempDir;

std::string ReadLink(const std::string& path) {
  char buffer[4096];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof(buffer));
  return n < 0 ? std::string() : std::string(buffer, static_cast<size_t>(n));
}

std::string Read(const std::string& path) {
  auto content = ReadWholeFile(path);
  return content ? *content : "<missing>";
}

// Every entry directly in `dir`.
std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

std::set<std::string> DataDirs(const std::string& dir) {
  std::set<std::string> out;
  for (const std::string& name : Entries(dir)) {
    if (name.starts_with("..") && name != "..data") out.insert(name);
  }
  return out;
}

TEST(AtomicWriter, WritesKubeletLayout) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(
      WriteAtomicVolume(dir, {{"nginx.conf", "server {}\n"}, {"conf.d/a.conf", "a"}}, 0640));

  std::string data = ReadLink(dir + "/..data");
  ASSERT_TRUE(data.starts_with("..2")) << data;  // ..<year>_...
  EXPECT_EQ(Entries(dir), (std::set<std::string>{"..data", data, "nginx.conf", "conf.d"}));
  EXPECT_EQ(ReadLink(dir + "/nginx.conf"), "..data/nginx.conf");
  EXPECT_EQ(ReadLink(dir + "/conf.d"), "..data/conf.d");
  EXPECT_EQ(Read(dir + "/nginx.conf"), "server {}\n");
  EXPECT_EQ(Read(dir + "/conf.d/a.conf"), "a");

  struct stat st {};
  ASSERT_EQ(::stat((dir + "/nginx.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::stat((dir + "/" + data).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST(AtomicWriter, UpdateSwapsDataAndRemovesOldKeysAndDirectory) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}, {"b", "1"}}, 0644));
  std::string first = ReadLink(dir + "/..data");

  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "2"}, {"c", "2"}}, 0644));
  std::string second = ReadLink(dir + "/..data");
  EXPECT_NE(first, second);
  EXPECT_EQ(Read(dir + "/a"), "2");
  EXPECT_EQ(Read(dir + "/c"), "2");
  // The removed key's link is gone, and so is the old data directory.
  EXPECT_EQ(Entries(dir), (std::set<std::string>{"..data", second, "a", "c"}));
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + first));
}

TEST(AtomicWriter, SameContentIsANoOp) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}, {"sub/b", "2"}}, 0644));
  std::string first = ReadLink(dir + "/..data");
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}, {"sub/b", "2"}}, 0644));
  EXPECT_EQ(ReadLink(dir + "/..data"), first);
  EXPECT_EQ(DataDirs(dir), (std::set<std::string>{first}));

  // As kubelet, only paths and bytes decide: a mode or owner changed afterwards (fsGroup) does
  // not make every resync a new version.
  ASSERT_EQ(::chmod((dir + "/a").c_str(), 0664), 0);
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}, {"sub/b", "2"}}, 0644));
  EXPECT_EQ(ReadLink(dir + "/..data"), first);

  // One changed byte is a new version.
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}, {"sub/b", "3"}}, 0644));
  EXPECT_NE(ReadLink(dir + "/..data"), first);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

gid_t GroupOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_gid;
}

TEST(AtomicWriter, PerFileModesAndFsGroupAreSetBeforeTheSwap) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another group needs root";
  TempDir tmp;
  std::string dir = tmp / "vol";
  std::map<std::string, VolumeFile> files = {{"key.pem", VolumeFile{"secret", 0400}},
                                             {"conf/app.conf", VolumeFile{"x=1", 0644}}};
  ASSERT_TRUE(WriteAtomicVolumeFiles(dir, files, 4321));
  std::string data = dir + "/" + ReadLink(dir + "/..data");
  EXPECT_EQ(ModeOf(data + "/key.pem"), 0440u);  // group-readable for the fsGroup
  EXPECT_EQ(ModeOf(data + "/conf/app.conf"), 0644u);
  EXPECT_EQ(GroupOf(data + "/key.pem"), 4321u);
  EXPECT_EQ(GroupOf(data + "/conf"), 4321u);
  EXPECT_EQ(ModeOf(data + "/conf") & 02000, 02000u);  // setgid directory
  EXPECT_EQ(GroupOf(data), 4321u);

  ASSERT_TRUE(WriteAtomicVolumeFiles(dir, {{"plain", VolumeFile{"p", 0600}}}));
  EXPECT_EQ(ModeOf(dir + "/plain"), 0600u);
  EXPECT_NE(GroupOf(dir + "/plain"), 4321u);

  EXPECT_FALSE(WriteAtomicVolumeFiles(dir, {{"bad-mode", VolumeFile{"p", 010000}}}));
  EXPECT_FALSE(WriteAtomicVolumeFiles(dir, {{"x", VolumeFile{"p", 0644}}}, -5));
  EXPECT_EQ(Read(dir + "/plain"), "p");
}

TEST(AtomicWriter, RemovesDataDirectoriesLeftByAnInterruptedWrite) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}}, 0644));
  ASSERT_TRUE(std::filesystem::create_directory(dir + "/..2020_01_01_00_00_00.crashed"));
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "2"}}, 0644));
  EXPECT_EQ(DataDirs(dir), (std::set<std::string>{ReadLink(dir + "/..data")}));
}

TEST(AtomicWriter, RefusesHostilePathsAndChangesNothing) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}}, 0644));
  std::set<std::string> before = Entries(dir);
  for (std::string bad : {"../escape", "/etc/passwd", "..data", "..hidden", "sub/../../x", "a/./b",
                          "a//b", "", "sub/.."}) {
    auto status = WriteAtomicVolume(dir, {{bad, "x"}}, 0644);
    ASSERT_FALSE(status) << bad;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(status.error().message.find("volume file path"), std::string::npos);
  }
  auto clash = WriteAtomicVolume(dir, {{"x", "1"}, {"x/y", "2"}}, 0644);
  EXPECT_FALSE(clash);
  EXPECT_EQ(Entries(dir), before);
  EXPECT_EQ(Read(dir + "/a"), "1");
  EXPECT_FALSE(std::filesystem::exists(tmp / "escape"));
}

TEST(AtomicWriter, RefusesToReplaceAFileThatIsNotItsLink) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(std::filesystem::create_directories(dir));
  ASSERT_TRUE(WriteFileAtomically(dir + "/a", "user data"));
  EXPECT_FALSE(WriteAtomicVolume(dir, {{"a", "1"}}, 0644));
  EXPECT_EQ(Read(dir + "/a"), "user data");
  EXPECT_EQ(Entries(dir), (std::set<std::string>{"a"}));
}

// A reader that resolves ..data once and then reads several keys through it sees one version:
// both keys old or both new, never one of each.
TEST(AtomicWriter, ReaderThroughDataSeesOldOrNewNeverAMix) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "0"}, {"b", "0"}}, 0644));

  std::atomic<bool> done{false};
  std::atomic<int> consistent{0};
  std::atomic<int> mixed{0};
  std::thread reader([&] {
    while (!done.load()) {
      UniqueFd data(::open((dir + "/..data").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      // The link was read just before a swap and its old target removed just after: the reader
      // retries, as readers of kubelet volumes do.
      if (!data) continue;
      auto read_key = [&](const char* key) -> std::string {
        UniqueFd fd(::openat(data.Get(), key, O_RDONLY | O_CLOEXEC));
        if (!fd) return "";
        char buffer[32];
        ssize_t n = ::read(fd.Get(), buffer, sizeof(buffer));
        return n <= 0 ? "" : std::string(buffer, static_cast<size_t>(n));
      };
      std::string a = read_key("a");
      std::string b = read_key("b");
      // Empty: the old directory was removed under us after the swap (the reader retries).
      if (a.empty() || b.empty()) continue;
      (a == b ? consistent : mixed).fetch_add(1);
    }
  });
  // At least 300 swaps, and on until the reader has seen some whole versions (no timing).
  for (int version = 1; version <= 300 || consistent.load() < 20; ++version) {
    std::string v = std::to_string(version);
    ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", v}, {"b", v}}, 0644));
    ASSERT_EQ(Read(dir + "/a"), v);
  }
  done = true;
  reader.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GT(consistent.load(), 0);
  EXPECT_EQ(DataDirs(dir).size(), 1u);
}

TEST(AtomicWriter, EmptyPayloadLeavesOnlyData) {
  TempDir tmp;
  std::string dir = tmp / "vol";
  ASSERT_TRUE(WriteAtomicVolume(dir, {{"a", "1"}}, 0644));
  ASSERT_TRUE(WriteAtomicVolume(dir, {}, 0644));
  std::string data = ReadLink(dir + "/..data");
  EXPECT_EQ(Entries(dir), (std::set<std::string>{"..data", data}));
}

}  // namespace
}  // namespace peapod::agent::controller
