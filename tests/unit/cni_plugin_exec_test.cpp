#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "peapod/cni/plugin_exec.h"
#include "support/temp_dir.h"

namespace peapod::cni {
namespace {

using peapod::testing::ReadFile;
using peapod::testing::TempDir;
using peapod::testing::WriteFile;

std::string Script(const TempDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir / name;
  WriteFile(path, "#!/bin/sh\n" + body + "\n");
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(CniPluginExec, PassesEnvAndStdinAndCollectsOutput) {
  TempDir dir;
  auto path = Script(dir, "echo", "echo \"$CNI_COMMAND:$CNI_IFNAME\"; cat; echo oops >&2; exit 3");
  auto run = RunPlugin(path, {"CNI_COMMAND=ADD", "CNI_IFNAME=eth0"}, "{\"a\":1}",
                       std::chrono::seconds(10));
  ASSERT_TRUE(run) << run.error().ToString();
  EXPECT_EQ(run->exit_status, 3);
  EXPECT_EQ(run->stdout_data, "ADD:eth0\n{\"a\":1}");
  EXPECT_EQ(run->stderr_data, "oops\n");
}

TEST(CniPluginExec, GivesThePluginNoEnvironmentOfTheAgent) {
  TempDir dir;
  ::setenv("PEAPOD_SECRET_TEST_VAR", "leak", 1);
  auto path = Script(dir, "env", "env");
  auto run = RunPlugin(path, {"CNI_COMMAND=VERSION"}, "", std::chrono::seconds(10));
  ::unsetenv("PEAPOD_SECRET_TEST_VAR");
  ASSERT_TRUE(run);
  EXPECT_NE(run->stdout_data.find("CNI_COMMAND=VERSION"), std::string::npos);
  EXPECT_EQ(run->stdout_data.find("PEAPOD_SECRET_TEST_VAR"), std::string::npos);
}

TEST(CniPluginExec, PluginInheritsOnlyStandardFds) {
  TempDir dir;
  // Deliberately without O_CLOEXEC, at a number no one else uses.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  ASSERT_EQ(::dup2(leaky, 100), 100);
  ::close(leaky);
  auto path = Script(dir, "fds", "ls /proc/self/fd");
  auto run = RunPlugin(path, {}, "", std::chrono::seconds(10));
  ::close(100);
  ASSERT_TRUE(run);
  std::string fds = "\n" + run->stdout_data;
  EXPECT_NE(fds.find("\n0\n1\n2\n"), std::string::npos) << fds;
  EXPECT_EQ(fds.find("\n100\n"), std::string::npos) << fds;
}

TEST(CniPluginExec, KillsAHangingPluginAndItsChildren) {
  TempDir dir;
  std::string pidfile = dir / "pids";
  auto path = Script(dir, "hang",
                     "sleep 1000 & echo $! > " + pidfile + "; echo $$ >> " + pidfile + "; wait");
  auto run = RunPlugin(path, {}, "", std::chrono::seconds(2));
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error().code, ErrorCode::kDeadlineExceeded);
  std::string pids = ReadFile(pidfile);
  ASSERT_FALSE(pids.empty());
  size_t nl = pids.find('\n');
  pid_t sleeper = std::stoi(pids.substr(0, nl));
  pid_t shell = std::stoi(pids.substr(nl + 1));
  EXPECT_NE(::kill(shell, 0), 0);  // reaped by RunPlugin
  // The orphaned sleep was sent SIGKILL too. On a busy machine it may still be running for a
  // moment (the signal acts when it is next scheduled), then linger as a zombie until init reaps
  // it: wait for either, a sleep that stays alive for 10 s was not killed.
  std::string stat;
  for (int i = 0; i < 1000; ++i) {
    stat = ReadFile("/proc/" + std::to_string(sleeper) + "/stat");
    if (stat.empty() || stat.find(") Z") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!stat.empty()) {
    EXPECT_NE(stat.find(") Z"), std::string::npos) << stat;
  }
}

TEST(CniPluginExec, WritingLargeStdinToAPluginThatIgnoresItDoesNotKillUs) {
  TempDir dir;
  auto path = Script(dir, "ignore", "exit 0");
  std::string big(4 << 20, 'x');
  auto run = RunPlugin(path, {}, big, std::chrono::seconds(10));
  ASSERT_TRUE(run) << run.error().ToString();  // no SIGPIPE, no hang
  EXPECT_EQ(run->exit_status, 0);
}

TEST(CniPluginExec, FindsPluginOnThePathInOrder) {
  TempDir a, b;
  Script(b, "thing", "true");
  auto found = FindPlugin("thing", {a.path(), b.path()});
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, b / "thing");
  Script(a, "thing", "true");
  EXPECT_EQ(*FindPlugin("thing", {a.path(), b.path()}), a / "thing");
  auto missing = FindPlugin("nope", {a.path(), b.path()});
  ASSERT_FALSE(missing);
  // Not kNotFound, which a CRI stop or remove would answer as "no such pod".
  EXPECT_EQ(missing.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(missing.error().message.find("\"nope\" not found in " + a.path() + ":" + b.path()),
            std::string::npos);
}

TEST(CniPluginExec, QueriesVersionOfARealPlugin) {
  auto info = QueryPluginVersion("/usr/lib/cni/bridge", {"/usr/lib/cni"}, std::chrono::seconds(10));
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_NE(std::find(info->supported_versions.begin(), info->supported_versions.end(), "1.0.0"),
            info->supported_versions.end());
}

}  // namespace
}  // namespace peapod::cni
