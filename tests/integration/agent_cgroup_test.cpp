// Cgroups applied by the agent, seen from the host's hierarchies: a container's limits, a live
// update of them, the OOM killer reported as kubelet expects, and a removed pod leaving no
// cgroup behind.
#include <unistd.h>

#include <filesystem>

#include "agent_fixture.h"
#include "peapod/runtime/cgroup.h"
#include "support/cgroup_support.h"

namespace peapod::testing {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

class AgentCgroupTest : public AgentFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(UseOwnCgroupParent("peapod-agent-test"));
    AgentFixture::SetUp();
    ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
    pod_config_ = PodConfig("limited");
    pod_ = RunPod(pod_config_);
    ASSERT_FALSE(pod_.empty());
  }

  runtime::CgroupManager Manager() const {
    return runtime::CgroupManager(driver_, runtime::CgroupManagerOptions{cgroup_parent_, 0});
  }

  // The memory limit in bytes the kernel holds for `cgroup` (v1 or v2 file), -1 when unlimited.
  int64_t MemoryLimit(const runtime::Cgroup& cgroup) const {
    std::string dir = cgroup.DirFor("memory");
    std::string v2 = ReadFile(dir + "/memory.max");
    if (!v2.empty()) return v2.starts_with("max") ? -1 : std::stoll(v2);
    return std::stoll(ReadFile(dir + "/memory.limit_in_bytes"));
  }

  // "<quota> <period>" from cpu.max (v2) or cpu.cfs_quota_us/cpu.cfs_period_us (v1).
  std::string CpuMax(const runtime::Cgroup& cgroup) const {
    std::string dir = cgroup.DirFor("cpu");
    std::string v2 = ReadFile(dir + "/cpu.max");
    if (!v2.empty()) return v2.substr(0, v2.find('\n'));
    auto first_line = [](std::string s) { return s.substr(0, s.find('\n')); };
    return first_line(ReadFile(dir + "/cpu.cfs_quota_us")) + " " +
           first_line(ReadFile(dir + "/cpu.cfs_period_us"));
  }

  agent::PodSandboxConfig pod_config_;
  std::string pod_;
};

TEST_F(AgentCgroupTest, ContainerOverItsMemoryLimitIsReportedOomKilled) {
  auto config = ContainerConfig("hungry", "busybox",
                                {"awk", "BEGIN { s = \"x\"; for (i = 0; i < 27; i++) s = s s }"});
  agent::LinuxContainerResources resources;
  resources.memory_limit_in_bytes = 20 * kMiB;
  config.linux.resources = resources;
  auto id = Run(pod_, pod_config_, config);
  ASSERT_FALSE(id.empty());
  auto st = WaitExited(id, std::chrono::seconds(60));
  EXPECT_EQ(st.reason, "OOMKilled") << st.message;
  EXPECT_EQ(st.exit_code, 137);
}

TEST_F(AgentCgroupTest, LimitsReachTheCgroupAndUpdateChangesThemLive) {
  auto config =
      ContainerConfig("limited", "busybox", {"sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"});
  agent::LinuxContainerResources resources;
  resources.memory_limit_in_bytes = 64 * kMiB;
  resources.cpu_period = 100000;
  resources.cpu_quota = 50000;
  resources.cpu_shares = 512;
  config.linux.resources = resources;
  auto id = Run(pod_, pod_config_, config);
  ASSERT_FALSE(id.empty());

  auto cgroup = Manager().Container(pod_, id);
  EXPECT_EQ(MemoryLimit(cgroup), 64 * kMiB);
  EXPECT_EQ(CpuMax(cgroup), "50000 100000");
  auto procs = cgroup.Processes();
  ASSERT_TRUE(procs.has_value()) << procs.error().ToString();
  EXPECT_FALSE(procs->empty());

  resources.memory_limit_in_bytes = 128 * kMiB;
  auto updated = agent_->containers().UpdateContainerResources(id, resources);
  ASSERT_TRUE(updated.has_value()) << updated.error().ToString();
  EXPECT_EQ(MemoryLimit(cgroup), 128 * kMiB);
  auto st = agent_->containers().ContainerStatus(id);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  ASSERT_TRUE(st->status.resources.has_value());
  EXPECT_EQ(st->status.resources->memory_limit_in_bytes, 128 * kMiB);

  agent::LinuxContainerResources negative;
  negative.memory_limit_in_bytes = -1;
  auto refused = agent_->containers().UpdateContainerResources(id, negative);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(MemoryLimit(cgroup), 128 * kMiB);
}

TEST_F(AgentCgroupTest, PauseHasItsOwnCgroupAndRemovedPodLeavesNoCgroup) {
  auto pause = Manager().Container(pod_, pod_).Processes();
  ASSERT_TRUE(pause.has_value()) << pause.error().ToString();
  EXPECT_EQ(pause->size(), 1u);
  auto id = RunShell(pod_, pod_config_, "short", "true");
  ASSERT_FALSE(id.empty());
  WaitExited(id);

  auto pod_cgroup = Manager().Pod(pod_);
  ASSERT_FALSE(driver_->hierarchies().empty());
  for (const auto& h : driver_->hierarchies()) {
    EXPECT_TRUE(std::filesystem::is_directory(pod_cgroup.DirIn(h))) << pod_cgroup.DirIn(h);
  }
  auto removed = agent_->sandboxes().RemovePodSandbox(pod_);
  ASSERT_TRUE(removed.has_value()) << removed.error().ToString();
  for (const auto& h : driver_->hierarchies()) {
    EXPECT_FALSE(std::filesystem::exists(pod_cgroup.DirIn(h))) << pod_cgroup.DirIn(h);
  }
}

TEST_F(AgentCgroupTest, RecoverySweepsPodCgroupsNoRecordNames) {
  auto stray = Manager().CreatePod("0123456789abcdef-left-over");
  ASSERT_TRUE(stray.has_value()) << stray.error().ToString();
  std::string stray_dir = stray->DirFor("memory");
  std::string kept_dir = Manager().Pod(pod_).DirFor("memory");
  ASSERT_TRUE(std::filesystem::exists(stray_dir));
  agent_.reset();  // pods keep running
  OpenAgent();
  EXPECT_FALSE(std::filesystem::exists(stray_dir));
  EXPECT_TRUE(std::filesystem::exists(kept_dir));
}

TEST_F(AgentCgroupTest, PodsGetTheDefaultPidsLimit) {
  std::string pids = Manager().Pod(pod_).DirFor("pids");
  ASSERT_FALSE(pids.empty());
  std::string file = std::filesystem::exists(pids + "/pids.max") ? pids + "/pids.max" : "";
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(ReadFile(file), "32768\n");
}

}  // namespace
}  // namespace peapod::testing
