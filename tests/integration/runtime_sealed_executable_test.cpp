// SealedExecutable against the real kernel: a program run from the view can read its own
// /proc/<pid>/exe but never write through it, and the view is not the file on the host.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "peapod/runtime/sealed_executable.h"
#include "support/temp_dir.h"

namespace peapod::runtime {
namespace {

using peapod::testing::ReadFile;
using peapod::testing::TempDir;

// busybox-static: one file that is a shell, stat and readlink at once.
constexpr char kBusybox[] = "/bin/busybox";

// What a shell run from `sealed` says about its own executable, one line each: the link, the
// device:inode, and whether appending to it worked.
constexpr char kSelfReport[] =
    "readlink /proc/$$/exe; stat -L -c %d:%i /proc/$$/exe; "
    "if printf x >> /proc/$$/exe 2>/dev/null; then echo writable; else echo refused; fi";

std::string DeviceAndInode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

// Runs the shell script through the view in a child; returns what it printed.
std::string RunFromView(const SealedExecutable& sealed, const TempDir& dir) {
  std::string out = dir / "out";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::dup2(fd, 1) < 0) ::_exit(120);
    char arg0[] = "sh", arg1[] = "-c";
    std::string script = kSelfReport;
    char* argv[] = {arg0, arg1, script.data(), nullptr};
    char* envp[] = {nullptr};
    sealed.Exec(argv, envp);
    ::_exit(121);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  return ReadFile(out);
}

TEST(SealedExecutable, RunsFromAReadOnlyOverlayThatIsNotTheHostFile) {
  TempDir dir("peapod-sealed");
  auto before = ReadFile(kBusybox).size();
  auto sealed = SealedExecutable::Open(kBusybox);
  ASSERT_TRUE(sealed) << sealed.error().ToString();
  EXPECT_EQ((*sealed)->kind(), SealedExecutable::Kind::kOverlay);

  std::string report = RunFromView(**sealed, dir);
  EXPECT_NE(report.find("/busybox\n"), std::string::npos) << report;
  EXPECT_EQ(report.find(kBusybox), std::string::npos) << "the host path shows through: " << report;
  EXPECT_EQ(report.find(DeviceAndInode(kBusybox) + "\n"), std::string::npos)
      << "the view is the host's file: " << report;
  EXPECT_NE(report.find("refused"), std::string::npos) << report;
  EXPECT_EQ(ReadFile(kBusybox).size(), before);
  // The view is mounted nowhere.
  EXPECT_EQ(ReadFile("/proc/self/mountinfo").find("lowerdir=/proc/self/fd"), std::string::npos);
}

TEST(SealedExecutable, FallsBackToASealedCopyWithoutCapSysAdmin) {
  TempDir dir("peapod-sealed");
  // Without CAP_SYS_ADMIN no overlay can be made: the agent of an unprivileged user, say.
  pid_t pid = ::fork();
  if (pid == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    ::syscall(SYS_capget, &header, data);
    data[0].effective &= ~(1U << CAP_SYS_ADMIN);
    if (::syscall(SYS_capset, &header, data) != 0) ::_exit(100);
    auto sealed = SealedExecutable::Open(kBusybox);
    if (!sealed) ::_exit(101);
    if ((*sealed)->kind() != SealedExecutable::Kind::kMemfd) ::_exit(102);
    std::string report = RunFromView(**sealed, dir);
    peapod::testing::WriteFile(dir / "report", report);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0) << "100: capset, 101: Open failed, 102: not a memfd";
  std::string report = ReadFile(dir / "report");
  EXPECT_NE(report.find("/memfd:busybox"), std::string::npos) << report;
  EXPECT_NE(report.find("refused"), std::string::npos) << report;
}

TEST(SealedExecutable, TestBinariesRunSealedAndRememberWhereTheyCameFrom) {
  EXPECT_TRUE(SelfIsSealed());
  EXPECT_TRUE(CheckSelfIsSealed("start a container"));
  std::string original = OriginalExecutablePath();
  EXPECT_TRUE(original.ends_with("/integration_runtime_sealed_executable_test")) << original;
  EXPECT_TRUE(std::filesystem::exists(original)) << original;
  EXPECT_EQ(::getenv("PEAPOD_SEALED_FROM"), nullptr) << "leaks into whatever the agent starts";
}

TEST(SealedExecutable, RefusesWhatIsNotARegularFile) {
  auto sealed = SealedExecutable::Open("/tmp");
  EXPECT_FALSE(sealed);
  auto missing = SealedExecutable::Open("/nonexistent/peapodd");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().ToString().find("/nonexistent/peapodd"), std::string::npos);
}

}  // namespace
}  // namespace peapod::runtime
