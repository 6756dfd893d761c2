// Resource limits and the security context, seen from inside real containers: cgroups on this
// host's hierarchies, capabilities, no_new_privs, seccomp, masked and read-only paths.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <thread>

#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/security.h"
#include "support/cgroup_support.h"
#include "support/pod_fixture.h"

namespace peapod::testing {
namespace {

using namespace std::chrono_literals;
using runtime::Cgroup;
using runtime::CgroupDriver;
using runtime::CgroupManager;

// The security context Kubernetes gives a container by default, with RuntimeDefault seccomp and
// allowPrivilegeEscalation: false.
runtime::SecurityPlan DefaultPlan(const std::string& id) {
  runtime::SecurityPlan plan;
  uint64_t caps = runtime::DefaultCapabilities();
  plan.capabilities = runtime::ClampToCurrentProcess(runtime::ContainerCapabilitySet(caps), id);
  plan.last_cap = runtime::KernelLastCapability();
  plan.no_new_privs = true;
  auto seccomp = runtime::CompileRuntimeDefaultSeccomp(caps);
  if (seccomp) plan.seccomp = std::move(*seccomp);
  plan.rlimits = runtime::DefaultContainerRlimits(id);
  return plan;
}

runtime::ContainerSpec Confined(PodFixture& pod, const std::string& id, const std::string& cmd) {
  auto spec = pod.Spec(id, cmd);
  spec.security = DefaultPlan(id);
  spec.masked_paths = runtime::DefaultMaskedPaths();
  spec.readonly_paths = runtime::DefaultReadonlyPaths();
  return spec;
}

class CgroupedPod : public ::testing::Test {
 protected:
  void SetUp() override {
    auto driver = CgroupDriver::Detect();
    ASSERT_TRUE(driver.has_value()) << driver.error().ToString();
    driver_ = std::make_shared<const CgroupDriver>(std::move(*driver));
    parent_ = "peapod-rt-test-" + std::to_string(getpid());
    manager_.emplace(driver_, runtime::CgroupManagerOptions{.parent = parent_});
  }
  void TearDown() override {
    pod_.reset();
    if (driver_) {
      auto removed = Cgroup(driver_, "/" + parent_).Remove();
      EXPECT_TRUE(removed.has_value()) << removed.error().ToString();
    }
  }
  runtime::Container& RunLimited(const runtime::ContainerSpec& spec,
                                 const runtime::Resources& resources) {
    auto cgroup = manager_->CreateContainer(pod_->sandbox().spec().id, spec.id, resources);
    if (!cgroup) throw std::runtime_error(cgroup.error().ToString());
    auto c = runtime::Container::Create(spec, &pod_->logs());
    if (!c) throw std::runtime_error(c.error().ToString());
    (*c)->AttachCgroup(*cgroup);
    auto started = (*c)->Start();
    if (!started) throw std::runtime_error(started.error().ToString());
    owned_.push_back(std::move(*c));
    return *owned_.back();
  }
  RootSubtreeControlRestorer restore_root_;
  std::shared_ptr<const CgroupDriver> driver_;
  std::string parent_;
  std::optional<CgroupManager> manager_;
  std::unique_ptr<PodFixture> pod_ = std::make_unique<PodFixture>();
  std::vector<std::unique_ptr<runtime::Container>> owned_;
};

TEST_F(CgroupedPod, MemoryLimitEndsInAnOomKillReportedAsSuch) {
  runtime::Resources limits;
  limits.memory_limit_bytes = 20 << 20;
  auto spec = pod_->Spec("hog", "");
  // awk doubles a string until it holds far more than 20 MiB, all of it in its own RSS.
  spec.args = {"awk", "BEGIN { s = \"x\"; for (i = 0; i < 27; i++) s = s s; print length(s) }"};
  auto& c = RunLimited(spec, limits);
  auto status = pod_->WaitExit(c);
  EXPECT_EQ(status.signal, SIGKILL) << status.ToString();
  EXPECT_TRUE(status.oom_killed);
  ASSERT_TRUE(c.Destroy().has_value());
}

TEST_F(CgroupedPod, CpuQuotaThrottlesABusyLoop) {
  runtime::Resources limits;
  limits.cpu_quota_us = 50000;
  limits.cpu_period_us = 100000;
  // The most weight the kernel allows, and two loops that want two CPUs: however loaded the
  // machine is, the container gets CPU up to its quota, and the quota is what stops it.
  limits.cpu_shares = 262144;
  // Weight counts only against siblings, so the parent and pod cgroups need it as well.
  runtime::Resources weight;
  weight.cpu_shares = limits.cpu_shares;
  ASSERT_TRUE(manager_->CreatePod(pod_->sandbox().spec().id, weight).has_value());
  ASSERT_TRUE(Cgroup(driver_, "/" + parent_).Apply(weight).has_value());
  auto& c = RunLimited(pod_->Spec("spin", "while :; do :; done & while :; do :; done"), limits);
  auto before = c.cgroup()->Stats();
  ASSERT_TRUE(before.has_value());
  auto wall_start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(2s);
  auto after = c.cgroup()->Stats();
  double wall_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() -
                                                            wall_start)
                       .count();
  ASSERT_TRUE(after.has_value());
  ASSERT_TRUE(after->cpu_nr_throttled.has_value());
  EXPECT_GT(*after->cpu_nr_throttled, before->cpu_nr_throttled.value_or(0));
  ASSERT_TRUE(after->cpu_usage_ns.has_value() && before->cpu_usage_ns.has_value());
  double cores = static_cast<double>(*after->cpu_usage_ns - *before->cpu_usage_ns) / wall_ns;
  EXPECT_LT(cores, 0.75) << "a 0.5 CPU quota let the loop use " << cores << " cores";
  EXPECT_GT(cores, 0.05);
}

TEST_F(CgroupedPod, PidsLimitStopsAForkBombInsideThePod) {
  runtime::Resources limits;
  limits.pids_limit = 64;
  // 200 forks against a limit of 64. sh gives up at its first failed fork, so the bomb runs in
  // an inner shell; the init survives it and keeps the cgroup populated to be counted.
  auto& c = RunLimited(
      pod_->Spec("bomb",
                 "sh -c 'i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done'; "
                 "echo bomb-done; exec sleep 30"),
      limits);
  for (int i = 0; i < 500 && pod_->Log(c).find("bomb-done") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  std::string log = pod_->Log(c);
  ASSERT_NE(log.find("bomb-done"), std::string::npos) << log.substr(0, 400);
  EXPECT_NE(log.find("can't fork"), std::string::npos) << log.substr(0, 400);
  auto stats = c.cgroup()->Stats();
  ASSERT_TRUE(stats.has_value() && stats->pids_current.has_value());
  EXPECT_LE(*stats->pids_current, 64u);
  EXPECT_GE(*stats->pids_current, 32u) << "the bomb should have filled most of its quota";
  ASSERT_TRUE(c.Stop(SIGKILL, 0ms).has_value());
  auto procs = c.cgroup()->Processes();
  ASSERT_TRUE(procs.has_value());
  EXPECT_TRUE(procs->empty());
  ASSERT_TRUE(c.Destroy().has_value());
}

TEST_F(CgroupedPod, StopKillsWhatTheInitLeftInASharedPidNamespace) {
  auto& c = RunLimited(pod_->Spec("leaver", "sleep 300 & exec sleep 300", runtime::PidMode::kPod),
                       {});
  for (int i = 0; i < 100; ++i) {
    auto procs = c.cgroup()->Processes();
    if (procs && procs->size() >= 2) break;
    std::this_thread::sleep_for(20ms);
  }
  auto stopped = c.Stop(SIGKILL, 0ms);
  ASSERT_TRUE(stopped.has_value()) << stopped.error().ToString();
  auto procs = c.cgroup()->Processes();
  ASSERT_TRUE(procs.has_value());
  EXPECT_TRUE(procs->empty()) << procs->size() << " processes left";
}

TEST(RuntimeSecurity, DefaultContextGivesTheDefaultCapsNoNewPrivsAndSeccomp) {
  PodFixture pod;
  auto& c = pod.Run(Confined(pod, "ctx", "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"));
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0) << pod.Log(c);
  std::string log = pod.Log(c);
  char caps[32];
  std::snprintf(caps, sizeof(caps), "%016llx",
                static_cast<unsigned long long>(runtime::DefaultCapabilities()));
  EXPECT_NE(log.find(std::string("CapEff:\t") + caps), std::string::npos) << log;
  EXPECT_NE(log.find(std::string("CapBnd:\t") + caps), std::string::npos) << log;
  EXPECT_NE(log.find("NoNewPrivs:\t1"), std::string::npos) << log;
  EXPECT_NE(log.find("Seccomp:\t2"), std::string::npos) << log;
}

TEST(RuntimeSecurity, RuntimeDefaultRefusesMountAndUserNamespaces) {
  PodFixture pod;
  auto& c = pod.Run(Confined(pod, "denied",
                             "mount -t tmpfs none /mnt 2>&1; echo mount=$?; "
                             "unshare -U true 2>&1; echo unshare=$?"));
  pod.WaitExit(c);
  std::string log = pod.Log(c);
  EXPECT_NE(log.find("Operation not permitted"), std::string::npos) << log;
  EXPECT_EQ(log.find("mount=0"), std::string::npos) << log;
  EXPECT_EQ(log.find("unshare=0"), std::string::npos) << log;
}

TEST(RuntimeSecurity, LocalhostProfileDenyingMkdirMakesMkdirFail) {
  PodFixture pod;
  auto spec = Confined(pod, "nomkdir", "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touched");
  auto profile = runtime::CompileSeccompJson(
      R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],
          "action":"SCMP_ACT_ERRNO","errnoRet":1}]})",
      runtime::DefaultCapabilities());
  ASSERT_TRUE(profile.has_value()) << profile.error().ToString();
  spec.security->seccomp = std::move(*profile);
  auto& c = pod.Run(spec);
  pod.WaitExit(c);
  std::string log = pod.Log(c);
  EXPECT_NE(log.find("mkdir=1"), std::string::npos) << log;
  EXPECT_NE(log.find("touched"), std::string::npos) << log;
}

TEST(RuntimeSecurity, MaskedAndReadOnlyPathsAndReadOnlyRoot) {
  PodFixture pod;
  auto spec = Confined(pod, "paths",
                       "echo keys=$(wc -c < /proc/keys); "
                       "echo 1 > /proc/sys/kernel/domainname 2>&1 || echo sys-ro; "
                       "touch /newfile 2>&1 || echo root-ro; touch /tmp/ok && echo tmp-rw");
  spec.readonly_rootfs = true;
  auto& c = pod.Run(spec);
  pod.WaitExit(c);
  std::string log = pod.Log(c);
  EXPECT_NE(log.find("keys=0"), std::string::npos) << log;
  EXPECT_NE(log.find("sys-ro"), std::string::npos) << log;
  EXPECT_NE(log.find("Read-only file system"), std::string::npos) << log;
  EXPECT_NE(log.find("root-ro"), std::string::npos) << log;
  EXPECT_NE(log.find("tmp-rw"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(spec.rootfs + "/newfile"));
}

TEST(RuntimeSecurity, NonRootUserGetsItsIdsAndNoEffectiveCapabilities) {
  PodFixture pod;
  auto spec = Confined(pod, "user", "id; grep CapEff /proc/self/status");
  spec.uid = 1000;
  spec.gid = 1000;
  spec.additional_gids = {100};
  auto& c = pod.Run(spec);
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0);
  std::string log = pod.Log(c);
  EXPECT_NE(log.find("uid=1000(app) gid=1000(app) groups=100(users)"), std::string::npos) << log;
  EXPECT_NE(log.find("CapEff:\t0000000000000000"), std::string::npos) << log;
}

TEST(RuntimeSecurity, PrivilegedSeesHostDevicesAndWritableSys) {
  PodFixture pod;
  auto spec = pod.Spec("priv", "ls /dev/kmsg && mount | grep ' /sys type sysfs (rw'");
  spec.privileged = true;
  runtime::SecurityPlan plan;
  plan.capabilities = runtime::ClampToCurrentProcess(
      runtime::ContainerCapabilitySet(runtime::AllCapabilities()), "priv");
  plan.last_cap = runtime::KernelLastCapability();
  spec.security = plan;
  auto& c = pod.Run(spec);
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0) << pod.Log(c);
}

TEST(RuntimeSecurity, FailingSecurityStepNamesTheStep) {
  PodFixture pod;
  auto spec = Confined(pod, "badcaps", "true");
  // Ask for a capability this agent does not hold (SYS_RESOURCE is missing on this host, and
  // no process may raise a bounding-set capability it lacks): capset must fail.
  spec.security->capabilities.effective = ~0ULL;
  spec.security->capabilities.permitted = ~0ULL;
  auto c = runtime::Container::Create(spec, &pod.logs());
  ASSERT_TRUE(c.has_value());
  auto started = (*c)->Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().ToString().find("apply the security context"), std::string::npos)
      << started.error().ToString();
}

}  // namespace
}  // namespace peapod::testing
