// The SecurityPlan applier against the real kernel: a forked child applies a plan and execs
// busybox, whose output shows what the container would see.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <regex>

#include "peapod/runtime/security.h"
#include "support/temp_dir.h"

namespace peapod::runtime {
namespace {

using peapod::testing::TempDir;
using peapod::testing::WriteFile;

struct RunResult {
  int status = -1;
  std::string output;
  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
};

constexpr int kPlanFailed = 120;

// Runs /bin/busybox `args` in a child that first (optionally) enters a private mount namespace,
// then applies `plan`. On a plan failure the output is "plan failed: <step> <errno>".
RunResult RunWithPlan(const SecurityPlan& plan, std::vector<std::string> args,
                      bool private_mounts = false) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("busybox"));
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (private_mounts && (::unshare(CLONE_NEWNS) != 0 ||
                           ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)) {
      ::_exit(121);
    }
    int step = 0;
    int err = ApplySecurityPlan(plan, &step);
    if (err != 0) {
      char msg[64];
      int n = std::snprintf(msg, sizeof msg, "plan failed: %d %d", step, err);
      (void)::write(1, msg, static_cast<size_t>(n));
      ::_exit(kPlanFailed);
    }
    ::execv("/bin/busybox", argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  RunResult result;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
    result.output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  ::waitpid(pid, &result.status, 0);
  return result;
}

std::string StatusField(const std::string& status, const std::string& field) {
  std::smatch m;
  std::regex re(field + ":\\s*(\\S+)");
  return std::regex_search(status, m, re) ? m[1].str() : "";
}

std::string Hex16(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

SecurityPlan DefaultPlan() {
  SecurityPlan plan;
  plan.capabilities = ClampToCurrentProcess(ContainerCapabilitySet(DefaultCapabilities()), "test");
  plan.last_cap = KernelLastCapability();
  plan.no_new_privs = true;
  auto seccomp = CompileRuntimeDefaultSeccomp(DefaultCapabilities());
  if (seccomp) plan.seccomp = std::move(*seccomp);
  plan.rlimits = DefaultContainerRlimits("test");
  return plan;
}

class SecurityPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox";
  }
};

TEST_F(SecurityPlanTest, DefaultPlanGivesContainerdCapsNoNewPrivsAndSeccompFilter) {
  SecurityPlan plan = DefaultPlan();
  ASSERT_TRUE(plan.seccomp);
  RunResult r = RunWithPlan(plan, {"cat", "/proc/self/status"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(StatusField(r.output, "CapEff"), Hex16(DefaultCapabilities()));
  EXPECT_EQ(StatusField(r.output, "CapPrm"), Hex16(DefaultCapabilities()));
  EXPECT_EQ(StatusField(r.output, "CapBnd"), Hex16(DefaultCapabilities()));
  EXPECT_EQ(StatusField(r.output, "CapInh"), Hex16(0));
  EXPECT_EQ(StatusField(r.output, "CapAmb"), Hex16(0));
  EXPECT_EQ(StatusField(r.output, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(r.output, "Seccomp"), "2");
}

TEST_F(SecurityPlanTest, RuntimeDefaultRefusesMountEvenWithCapSysAdmin) {
  TempDir target;
  SecurityPlan plan = DefaultPlan();
  plan.capabilities = ClampToCurrentProcess(ContainerCapabilitySet(AllCapabilities()), "test");
  RunResult denied = RunWithPlan(plan, {"mount", "-t", "tmpfs", "x", target.path()}, true);
  EXPECT_NE(denied.exit_code(), 0);
  // busybox words EPERM from mount(2) as "permission denied (are you root?)".
  EXPECT_TRUE(std::regex_search(denied.output, std::regex("ermission denied|not permitted")))
      << denied.output;
  plan.seccomp.reset();  // the control: the same plan without the filter mounts fine
  RunResult allowed = RunWithPlan(plan, {"mount", "-t", "tmpfs", "x", target.path()}, true);
  EXPECT_EQ(allowed.exit_code(), 0) << allowed.output;
}

TEST_F(SecurityPlanTest, RuntimeDefaultRefusesUserNamespaces) {
  SecurityPlan plan = DefaultPlan();
  RunResult denied = RunWithPlan(plan, {"unshare", "-U", "true"});
  EXPECT_NE(denied.exit_code(), 0) << denied.output;
  plan.seccomp.reset();
  RunResult allowed = RunWithPlan(plan, {"unshare", "-U", "true"});
  EXPECT_EQ(allowed.exit_code(), 0) << allowed.output;
}

TEST_F(SecurityPlanTest, LocalhostProfileDenyingMkdirMakesMkdirFail) {
  TempDir dir;
  WriteFile(dir / "profile.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]})");
  auto ref = ParseLegacySeccompProfile("localhost/" + (dir / "profile.json"));
  ASSERT_TRUE(ref);
  auto program = CompileSeccompProfile(*ref, DefaultCapabilities());
  ASSERT_TRUE(program) << program.error().ToString();
  ASSERT_TRUE(program->has_value());
  SecurityPlan plan = DefaultPlan();
  plan.seccomp = std::move(**program);
  RunResult r = RunWithPlan(plan, {"mkdir", dir / "new"});
  EXPECT_NE(r.exit_code(), 0);
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;
  EXPECT_NE(::access((dir / "new").c_str(), F_OK), 0);
}

TEST_F(SecurityPlanTest, NonRootUserGetsIdsGroupsAndNoEffectiveCaps) {
  SecurityPlan plan = DefaultPlan();
  plan.uid = 1000;
  plan.gid = 1001;
  plan.additional_gids = {10, 2000};
  RunResult id = RunWithPlan(plan, {"id"});
  ASSERT_EQ(id.exit_code(), 0) << id.output;
  EXPECT_TRUE(std::regex_search(id.output, std::regex("uid=1000[ (]"))) << id.output;
  EXPECT_TRUE(std::regex_search(id.output, std::regex("gid=1001[ (]"))) << id.output;
  EXPECT_TRUE(std::regex_search(id.output, std::regex("groups=.*10[(,].*2000"))) << id.output;
  RunResult status = RunWithPlan(plan, {"cat", "/proc/self/status"});
  ASSERT_EQ(status.exit_code(), 0) << status.output;
  EXPECT_EQ(StatusField(status.output, "CapEff"), Hex16(0));  // the kernel clears it at execve
  EXPECT_EQ(StatusField(status.output, "CapBnd"), Hex16(DefaultCapabilities()));
  EXPECT_EQ(StatusField(status.output, "Uid"), "1000");
}

TEST_F(SecurityPlanTest, AmbientCapabilitiesSurviveExecForNonRoot) {
  SecurityPlan plan = DefaultPlan();
  plan.uid = 1000;
  plan.gid = 1000;
  uint64_t nbs = uint64_t{1} << *CapabilityFromName("NET_BIND_SERVICE");
  plan.capabilities.inheritable = nbs;
  plan.capabilities.ambient = nbs;
  RunResult r = RunWithPlan(plan, {"cat", "/proc/self/status"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(StatusField(r.output, "CapAmb"), Hex16(nbs));
  EXPECT_EQ(StatusField(r.output, "CapEff"), Hex16(nbs));
}

TEST_F(SecurityPlanTest, SeccompWithoutNoNewPrivsIsInstalledBeforeTheUidSwitch) {
  SecurityPlan plan = DefaultPlan();
  plan.no_new_privs = false;
  plan.uid = 1000;
  plan.gid = 1000;
  RunResult r = RunWithPlan(plan, {"cat", "/proc/self/status"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(StatusField(r.output, "NoNewPrivs"), "0");
  EXPECT_EQ(StatusField(r.output, "Seccomp"), "2");
}

TEST_F(SecurityPlanTest, RlimitsAndOomScoreAdjAreClampedAndApplied) {
  struct rlimit own;
  ::getrlimit(RLIMIT_NOFILE, &own);
  SecurityPlan plan = DefaultPlan();
  ASSERT_EQ(plan.rlimits.size(), 1u);
  EXPECT_LE(plan.rlimits[0].hard, own.rlim_max);
  plan.oom_score_adj = ClampOomScoreAdj(500, "test");
  EXPECT_EQ(*plan.oom_score_adj, 500);
  RunResult r = RunWithPlan(plan, {"sh", "-c", "ulimit -n; cat /proc/self/oom_score_adj"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(r.output, std::to_string(plan.rlimits[0].soft) + "\n500\n");
  // Lowering below our own score would need CAP_SYS_RESOURCE, which this host's root lacks.
  int own_score = std::atoi(peapod::testing::ReadFile("/proc/self/oom_score_adj").c_str());
  uint64_t own_caps = std::stoull(
      StatusField(peapod::testing::ReadFile("/proc/self/status"), "CapEff"), nullptr, 16);
  bool has_sys_resource = (own_caps >> *CapabilityFromName("SYS_RESOURCE")) & 1;
  EXPECT_EQ(ClampOomScoreAdj(-999, "test"),
            has_sys_resource || own_score <= -999 ? -999 : own_score);
}

TEST_F(SecurityPlanTest, PrivilegedGetsEveryCapabilityPeapodHolds) {
  auto all = ComputeCapabilities({}, {}, true);
  ASSERT_TRUE(all);
  SecurityPlan plan;
  plan.capabilities = ClampToCurrentProcess(ContainerCapabilitySet(*all), "test");
  plan.last_cap = KernelLastCapability();
  RunResult r = RunWithPlan(plan, {"cat", "/proc/self/status"});
  ASSERT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_EQ(StatusField(r.output, "CapEff"),
            StatusField(peapod::testing::ReadFile("/proc/self/status"), "CapEff"));
}

TEST_F(SecurityPlanTest, FailingStepIsReportedWithErrno) {
  SecurityPlan plan;
  plan.capabilities = ContainerCapabilitySet(AllCapabilities());  // not clamped
  plan.last_cap = KernelLastCapability();
  std::string own = peapod::testing::ReadFile("/proc/self/status");
  if (StatusField(own, "CapPrm") == Hex16(AllCapabilities()))
    GTEST_SKIP() << "peapod holds every capability here";
  RunResult r = RunWithPlan(plan, {"true"});
  EXPECT_EQ(r.exit_code(), kPlanFailed);
  EXPECT_EQ(r.output,
            "plan failed: " + std::to_string(kSecurityStepCapset) + " " + std::to_string(EPERM));
  EXPECT_EQ(SecurityStepName(kSecurityStepCapset), "capset");
}

TEST_F(SecurityPlanTest, MaskedAndReadonlyPathsHideAndFreeze) {
  SecurityPlan plan;  // no restrictions: the checks run as root
  plan.capabilities = ClampToCurrentProcess(ContainerCapabilitySet(AllCapabilities()), "test");
  plan.last_cap = KernelLastCapability();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      ::_exit(2);
    std::vector<const char*> masked, readonly;
    for (const std::string& p : DefaultMaskedPaths()) masked.push_back(p.c_str());
    for (const std::string& p : DefaultReadonlyPaths()) readonly.push_back(p.c_str());
    size_t failed = 0;
    if (int err = MaskPaths(masked.data(), masked.size(), &failed); err != 0) {
      std::printf("mask %s: %s\n", masked[failed], std::strerror(err));
      ::_exit(3);
    }
    if (int err = MakePathsReadonly(readonly.data(), readonly.size(), &failed); err != 0) {
      std::printf("readonly %s: %s\n", readonly[failed], std::strerror(err));
      ::_exit(4);
    }
    ::fflush(stdout);
    ::execl(
        "/bin/busybox", "busybox", "sh", "-c",
        "cat /proc/keys /proc/timer_list | wc -c; (ls -A /sys/firmware; ls -A /proc/acpi) | wc -l; "
        "echo 1 > /proc/sys/vm/drop_caches && echo writable",
        nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(std::regex_search(out, std::regex("^0\n0\n"))) << out;
  EXPECT_NE(out.find("Read-only file system"), std::string::npos) << out;
  EXPECT_EQ(out.find("writable"), std::string::npos) << out;
}

TEST_F(SecurityPlanTest, SysctlWriterWritesInsideNewNamespaces) {
  auto prepared = PrepareSysctls({{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}}, {});
  ASSERT_TRUE(prepared) << prepared.error().ToString();
  std::string host_shmmni = peapod::testing::ReadFile("/proc/sys/kernel/shmmni");
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNET | CLONE_NEWIPC) != 0) ::_exit(2);
    size_t failed = 0;
    if (WriteSysctls(prepared->data(), prepared->size(), &failed) != 0) ::_exit(3);
    int fd = ::open("/proc/sys/kernel/shmmni", O_RDONLY);
    char buf[16] = {};
    if (fd < 0 || ::read(fd, buf, sizeof buf - 1) <= 0) ::_exit(4);
    ::_exit(std::strcmp(buf, "1234\n") == 0 ? 0 : 5);
  }
  int status;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(peapod::testing::ReadFile("/proc/sys/kernel/shmmni"), host_shmmni);
}

}  // namespace
}  // namespace peapod::runtime
