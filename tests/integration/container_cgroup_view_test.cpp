// A container sees its own cgroups at /sys/fs/cgroup, in a cgroup namespace rooted at its own
// cgroup: its limits read back there, /proc/self/cgroup names no host path, and writes fail
// unless it runs systemd. On this host's layout (v1 or hybrid, through the agent) and on a
// pure-v2 layout (the unified hierarchy alone, through the runtime).
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "agent_fixture.h"
#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/container.h"
#include "support/cgroup_support.h"
#include "support/pod_fixture.h"

namespace peapod::testing {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

// Prints NAME=VALUE for each limit file the container finds, its /proc/self/cgroup as cg: lines,
// its cgroup mounts, and whether writing and making a child cgroup there work.
constexpr const char* kInspect = R"sh(
for f in memory.max cpu.max memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us \
         cpu/cpu.cfs_period_us cgroup.max.descendants hugetlb.2MB.max; do
  [ -e /sys/fs/cgroup/$f ] && echo "$f=$(cat /sys/fs/cgroup/$f)"
done
sed 's/^/cg:/' /proc/self/cgroup
grep ' /sys/fs/cgroup' /proc/self/mountinfo | sed 's/^/mnt:/'
dir=/sys/fs/cgroup; [ -d /sys/fs/cgroup/memory ] && dir=/sys/fs/cgroup/memory
(echo 1 > $dir/cgroup.procs.missing) 2>/dev/null
(echo $$ > $dir/cgroup.procs) 2>/dev/null && echo write=ok || echo write=refused
mkdir $dir/child 2>/dev/null && echo mkdir=ok || echo mkdir=refused
rmdir $dir/child 2>/dev/null
true
)sh";

// Lines of `text` starting with `prefix` (after the CRI log's "<time> <stream> <tag> " when
// `text` is a raw log file), without it.
std::vector<std::string> LinesWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (size_t tag = line.find(" stdout F "); tag != std::string::npos) line.erase(0, tag + 10);
    if (line.starts_with(prefix)) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

void ExpectOwnRootEverywhere(const std::string& log, const std::string& host_path_part) {
  auto lines = LinesWith(log, "cg:");
  ASSERT_FALSE(lines.empty()) << log;
  for (const auto& line : lines) {
    EXPECT_TRUE(line.ends_with(":/")) << "not the namespace root: " << line;
    EXPECT_EQ(line.find(host_path_part), std::string::npos) << "names a host path: " << line;
  }
}

class ContainerCgroupView : public AgentFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(UseOwnCgroupParent("peapod-cgview-test"));
    std::cout << "host cgroups: " << driver_->Describe() << "\n";
    AgentFixture::SetUp();
    ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
    pod_config_ = PodConfig("cgview");
    pod_ = RunPod(pod_config_);
    ASSERT_FALSE(pod_.empty());
  }

  agent::ContainerConfig Limited(const std::string& name, const std::string& script) {
    auto config = ContainerConfig(name, "busybox", {"sh", "-c", script});
    agent::LinuxContainerResources resources;
    resources.memory_limit_in_bytes = 64 * kMiB;
    resources.cpu_period = 100000;
    resources.cpu_quota = 50000;
    config.linux.resources = resources;
    return config;
  }

  agent::PodSandboxConfig pod_config_;
  std::string pod_;
};

TEST_F(ContainerCgroupView, LimitsReadBackFromSysFsCgroupWhichIsReadOnly) {
  auto id = Run(pod_, pod_config_, Limited("reader", kInspect));
  ASSERT_FALSE(id.empty());
  auto st = WaitExited(id);
  std::string log = LogText(id);
  ASSERT_EQ(st.exit_code, 0) << log;

  const runtime::CgroupHierarchy* memory = driver_->HierarchyFor("memory");
  ASSERT_NE(memory, nullptr);
  if (memory->version == runtime::CgroupVersion::kV1) {
    EXPECT_NE(log.find("memory/memory.limit_in_bytes=67108864\n"), std::string::npos) << log;
    EXPECT_NE(log.find("cpu/cpu.cfs_quota_us=50000\n"), std::string::npos) << log;
    EXPECT_NE(log.find("cpu/cpu.cfs_period_us=100000\n"), std::string::npos) << log;
  } else {
    EXPECT_NE(log.find("memory.max=67108864\n"), std::string::npos) << log;
    EXPECT_NE(log.find("cpu.max=50000 100000\n"), std::string::npos) << log;
  }
  ExpectOwnRootEverywhere(log, cgroup_parent_);
  // Every cgroup mount is read-only.
  auto mounts = LinesWith(log, "mnt:");
  ASSERT_FALSE(mounts.empty()) << log;
  for (const auto& m : mounts) EXPECT_NE(m.find(" ro,"), std::string::npos) << m;
  EXPECT_NE(log.find("write=refused\n"), std::string::npos) << log;
  EXPECT_NE(log.find("mkdir=refused\n"), std::string::npos) << log;
  // And nothing was made below its cgroup.
  auto cgroup = runtime::CgroupManager(driver_, {cgroup_parent_, 0}).Container(pod_, id);
  for (const auto& name : DirEntries(cgroup.DirFor("memory"))) {
    EXPECT_FALSE(std::filesystem::is_directory(cgroup.DirFor("memory") + "/" + name)) << name;
  }
}

TEST_F(ContainerCgroupView, HybridHostShowsEachHierarchyAndTheUnifiedOne) {
  if (driver_->Unified() == nullptr || driver_->hierarchies().size() == 1) {
    GTEST_SKIP() << "not a v1 or hybrid host";
  }
  std::string log = Output(pod_, pod_config_, "lister",
                           "ls /sys/fs/cgroup | sed 's/^/ls:/'; "
                           "stat -f -c 'fs:%t' /sys/fs/cgroup /sys/fs/cgroup/unified");
  auto names = LinesWith(log, "ls:");
  for (const auto& h : driver_->hierarchies()) {
    std::string name = h.mount_point.substr(h.mount_point.rfind('/') + 1);
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name << "\n" << log;
  }
  // TMPFS_MAGIC, then CGROUP2_SUPER_MAGIC (busybox prints the type in hex).
  EXPECT_NE(log.find("fs:1021994\nfs:63677270\n"), std::string::npos) << log;
}

TEST_F(ContainerCgroupView, ExecSeesTheSameNamespace) {
  auto id = Run(pod_, pod_config_, Limited("idle", "sleep 300"));
  ASSERT_FALSE(id.empty());
  auto result = agent_->containers().ExecSync(id, {"cat", "/proc/self/cgroup"}, 10);
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->status.exit_code, 0);
  std::string out = result->stdout_data;
  std::string prefixed;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) prefixed += "cg:" + line + "\n";
  ExpectOwnRootEverywhere(prefixed, cgroup_parent_);
  ASSERT_TRUE(agent_->containers().StopContainer(id, 0).has_value());
}

TEST_F(ContainerCgroupView, SystemdAnnotationMakesItsOwnSubtreeWritable) {
  auto config = Limited("delegated",
                        "grep -E ' /(run|run/lock|tmp|var/log/journal) ' /proc/self/mountinfo | "
                        "sed 's/^/tmpfs:/'; echo env:$container\n" +
                            std::string(kInspect));
  config.annotations["io.peapod.systemd"] = "true";
  auto id = Run(pod_, pod_config_, config);
  ASSERT_FALSE(id.empty());
  auto st = WaitExited(id);
  std::string log = LogText(id);
  ASSERT_EQ(st.exit_code, 0) << log;
  EXPECT_NE(log.find("mkdir=ok\n"), std::string::npos) << log;
  ExpectOwnRootEverywhere(log, cgroup_parent_);
  auto tmpfs = LinesWith(log, "tmpfs:");
  EXPECT_EQ(tmpfs.size(), 4u) << log;
  for (const auto& m : tmpfs) EXPECT_NE(m.find(" - tmpfs "), std::string::npos) << m;
  EXPECT_NE(log.find("env:peapod\n"), std::string::npos) << log;
}

TEST_F(ContainerCgroupView, SystemdContainerStopsWithSigrtmin3) {
  // sh stands in for systemd: it reports the signal it gets and exits cleanly.
  auto config =
      ContainerConfig("halts", "busybox",
                      {"sh", "-c",
                       "trap 'echo got-37; exit 0' 37; trap 'echo got-term; exit 3' TERM; "
                       "echo ready; while :; do sleep 1; done"});
  config.annotations["io.peapod.systemd"] = "true";
  auto id = Run(pod_, pod_config_, config);
  ASSERT_FALSE(id.empty());
  for (int i = 0; i < 500 && LogText(id).find("ready") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(agent_->containers().StopContainer(id, 10).has_value());
  auto st = WaitExited(id);
  EXPECT_EQ(st.exit_code, 0) << LogText(id);
  EXPECT_NE(LogText(id).find("got-37"), std::string::npos) << LogText(id);
}

TEST_F(ContainerCgroupView, BadSystemdAnnotationIsRefused) {
  auto config = ContainerConfig("bad", "busybox", {"true"});
  config.annotations["io.peapod.systemd"] = "yes";
  auto id = agent_->containers().CreateContainer(pod_, config, pod_config_);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(id.error().message.find("io.peapod.systemd"), std::string::npos) << id.error().message;
  EXPECT_TRUE(agent_->containers().ListContainers({}).empty());
}

// A pure-v2 layout: the unified hierarchy alone, as a v2-only host has it. On this hybrid host
// it has hugetlb at most, so the limits are hugetlb's and cgroup.max.descendants.
TEST(ContainerCgroupViewV2, UnifiedOnlyMountsCgroup2AtSysFsCgroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto host = runtime::CgroupDriver::Detect();
  if (!host || host->Unified() == nullptr) GTEST_SKIP() << "no cgroup2 hierarchy";
  RootSubtreeControlRestorer restore_root;
  auto v2 = runtime::CgroupDriver::ForUnifiedMount(host->Unified()->mount_point);
  ASSERT_TRUE(v2) << v2.error().ToString();
  auto driver = std::make_shared<const runtime::CgroupDriver>(std::move(*v2));
  std::string parent = "peapod-cgview-v2-" + std::to_string(::getpid());
  runtime::CgroupManager manager(driver, {parent, 0});
  struct Cleanup {
    std::shared_ptr<const runtime::CgroupDriver> d;
    std::string p;
    ~Cleanup() { (void)runtime::Cgroup(d, "/" + p).Remove(); }
  } cleanup{driver, parent};
  ASSERT_TRUE(manager.CreatePod("p"));
  runtime::Resources limits;
  limits.unified["cgroup.max.descendants"] = "7";
  bool hugetlb = driver->HierarchyFor("hugetlb") != nullptr;
  if (hugetlb) limits.hugepage_limits["2MB"] = 4 << 21;
  auto cgroup = manager.CreateContainer("p", "c", limits);
  ASSERT_TRUE(cgroup) << cgroup.error().ToString();

  PodFixture pod;
  auto spec = pod.Spec("v2", kInspect);
  auto c = runtime::Container::Create(spec, &pod.logs());
  ASSERT_TRUE(c) << c.error().ToString();
  (*c)->AttachCgroup(*cgroup);
  auto started = (*c)->Start();
  ASSERT_TRUE(started) << started.error().ToString();
  auto exit = (*c)->Wait(std::chrono::seconds(20));
  ASSERT_TRUE(exit && *exit);
  std::string log = ReadFile(spec.log_path);
  EXPECT_EQ((*exit)->exit_code, 0) << log;
  EXPECT_NE(log.find("cgroup.max.descendants=7\n"), std::string::npos) << log;
  if (hugetlb) {
    EXPECT_NE(log.find("hugetlb.2MB.max=" + std::to_string(4 << 21) + "\n"), std::string::npos)
        << log;
  }
  ExpectOwnRootEverywhere(log, parent);
  auto cg = LinesWith(log, "cg:");
  EXPECT_NE(std::find(cg.begin(), cg.end(), "0::/"), cg.end()) << log;
  auto mounts = LinesWith(log, "mnt:");
  ASSERT_EQ(mounts.size(), 1u) << log;
  EXPECT_NE(mounts[0].find(" /sys/fs/cgroup ro,"), std::string::npos) << mounts[0];
  EXPECT_NE(mounts[0].find(" - cgroup2 "), std::string::npos) << mounts[0];
  EXPECT_NE(log.find("write=refused\n"), std::string::npos) << log;
  EXPECT_NE(log.find("mkdir=refused\n"), std::string::npos) << log;
  EXPECT_TRUE((*c)->Destroy());
}

}  // namespace
}  // namespace peapod::testing
