// In-place pod resize (KEP-1287) and pod-level resources (KEP-2837) through `peapod apply`
// against a real peapodd: a re-apply that changes only containers' resources changes their
// cgroups without a restart (or restarts them where resizePolicy says RestartContainer), waits as
// PodResizePending when the node cannot take it, and pod-level limits bound the pod's cgroup.
// Everything is read back from the host's cgroup files.
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "e2e/cli_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMiB = 1024 * 1024;

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

class CliResize : public CliTest {
 protected:
  // The container's cgroup directory (relative to a v1 hierarchy root), found by its id under the
  // daemon's cgroup parent; "" when not there.
  std::string ContainerCgroup(const std::string& pod, const std::string& container) {
    auto status = ContainerStatus(Pod(pod), container);
    if (!status.is_object()) return "";
    std::string id = status.value("containerID", "");
    if (id.rfind("peapod://", 0) != 0) return "";
    id = id.substr(9);
    fs::path root = fs::path("/sys/fs/cgroup/memory") / daemon_->cgroup_parent();
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory() && it->path().filename() == id) {
        return fs::relative(it->path(), "/sys/fs/cgroup/memory").string();
      }
    }
    return "";
  }
  static std::string Read(const std::string& controller, const std::string& cgroup,
                          const std::string& file) {
    return FirstLine(ReadFile("/sys/fs/cgroup/" + controller + "/" + cgroup + "/" + file));
  }
  // The container's first process: the lowest pid in its cgroup (a shell may not have forked
  // its children yet when this is first read).
  static std::string Procs(const std::string& cgroup) {
    std::istringstream in(ReadFile("/sys/fs/cgroup/memory/" + cgroup + "/cgroup.procs"));
    long lowest = 0;
    for (long pid = 0; in >> pid;) lowest = lowest == 0 ? pid : std::min(lowest, pid);
    return lowest == 0 ? "" : std::to_string(lowest);
  }
  // The condition `type` of the pod, null when absent.
  nlohmann::json Condition(const std::string& pod, const std::string& type) {
    auto p = Pod(pod);
    if (!p.is_object()) return nullptr;
    for (const auto& c : p["status"].value("conditions", nlohmann::json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return nullptr;
  }

  // One container "c" sleeping, with the given resources and resizePolicy (YAML, indented).
  static std::string PodYaml(const std::string& name, const std::string& resources,
                             const std::string& resize_policy = "") {
    return R"(apiVersion: v1
kind: Pod
metadata:
  name: )" +
           name + R"(
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
    resources:
)" + resources +
           resize_policy;
  }

  bool HostHasV1CpuAndMemory() {
    return fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") &&
           fs::exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  }
};

const char* kSmall =
    "      requests: {cpu: 100m, memory: 32Mi}\n      limits: {cpu: 200m, memory: 64Mi}\n";
const char* kLarger =
    "      requests: {cpu: 100m, memory: 32Mi}\n      limits: {cpu: 400m, memory: 96Mi}\n";

TEST_F(CliResize, ReapplyWithNewResourcesResizesInPlaceWithoutARestart) {
  if (!HostHasV1CpuAndMemory()) GTEST_SKIP() << "reads cgroup v1 files";
  const char* policy =
      "    resizePolicy:\n    - {resourceName: cpu, restartPolicy: NotRequired}\n"
      "    - {resourceName: memory, restartPolicy: NotRequired}\n";
  auto r = Apply(PodYaml("grow", kSmall, policy));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("grow", "c"));
  std::string cgroup = ContainerCgroup("grow", "c");
  ASSERT_FALSE(cgroup.empty());
  EXPECT_EQ(Read("memory", cgroup, "memory.limit_in_bytes"), std::to_string(64 * kMiB));
  EXPECT_EQ(Read("cpu", cgroup, "cpu.cfs_quota_us"), "20000");
  std::string procs = Procs(cgroup);
  ASSERT_FALSE(procs.empty());

  r = Apply(PodYaml("grow", kLarger, policy));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("pod/grow configured"), std::string::npos) << r.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    return Read("memory", cgroup, "memory.limit_in_bytes") == std::to_string(96 * kMiB);
  })) << Read("memory", cgroup, "memory.limit_in_bytes");
  EXPECT_EQ(Read("cpu", cgroup, "cpu.cfs_quota_us"), "40000");
  EXPECT_EQ(Procs(cgroup), procs);  // the same process, in the same cgroup

  // kubelet's status: what the runtime reports, and the requests allocated.
  EXPECT_TRUE(WaitUntil([&] {
    auto s = ContainerStatus(Pod("grow"), "c");
    return s.is_object() && s["resources"]["limits"].value("memory", "") == "96Mi";
  }));
  auto pod = Pod("grow");
  auto status = ContainerStatus(pod, "c");
  EXPECT_EQ(status["resources"]["limits"].value("cpu", ""), "400m") << status.dump();
  EXPECT_EQ(status["allocatedResources"].value("memory", ""), "32Mi") << status.dump();
  EXPECT_EQ(status["allocatedResources"].value("cpu", ""), "100m") << status.dump();
  EXPECT_EQ(RestartCount(pod, "c"), 0);
  EXPECT_EQ(pod["spec"]["containers"][0]["resizePolicy"].size(), 2u) << pod["spec"].dump();
  EXPECT_TRUE(Condition("grow", "PodResizePending").is_null());
  EXPECT_TRUE(Condition("grow", "PodResizeInProgress").is_null());

  // The same manifest again is unchanged.
  r = Apply(PodYaml("grow", kLarger, policy));
  EXPECT_NE(r.out.find("pod/grow unchanged"), std::string::npos) << r.Describe();
}

TEST_F(CliResize, RestartContainerPolicyRestartsTheContainerWithTheNewLimits) {
  if (!HostHasV1CpuAndMemory()) GTEST_SKIP() << "reads cgroup v1 files";
  const char* policy =
      "    resizePolicy:\n    - {resourceName: memory, restartPolicy: RestartContainer}\n";
  auto r = Apply(PodYaml("restarted", kSmall, policy));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("restarted", "c"));
  std::string before = ContainerCgroup("restarted", "c");
  ASSERT_FALSE(before.empty());

  r = Apply(PodYaml("restarted", kLarger, policy));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    auto pod = Pod("restarted");
    return RestartCount(pod, "c") == 1 && StateKind(pod, "c") == "running";
  })) << Pod("restarted").dump();
  std::string after = ContainerCgroup("restarted", "c");
  ASSERT_FALSE(after.empty());
  EXPECT_NE(after, before);  // a new container
  EXPECT_EQ(Read("memory", after, "memory.limit_in_bytes"), std::to_string(96 * kMiB));
  EXPECT_EQ(Read("cpu", after, "cpu.cfs_quota_us"), "40000");
}

TEST_F(CliResize, ResizeThatTheNodeCannotTakeIsPendingAndTheContainerKeepsItsLimits) {
  if (!HostHasV1CpuAndMemory()) GTEST_SKIP() << "reads cgroup v1 files";
  auto r = Apply(PodYaml("too-big", kSmall));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("too-big", "c"));
  std::string cgroup = ContainerCgroup("too-big", "c");
  ASSERT_FALSE(cgroup.empty());

  // More cpu than the node has at all.
  r = Apply(PodYaml("too-big",
                    "      requests: {cpu: \"100000\", memory: 32Mi}\n"
                    "      limits: {cpu: \"100000\", memory: 64Mi}\n"));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(WaitUntil([&] { return Condition("too-big", "PodResizePending").is_object(); }));
  auto pending = Condition("too-big", "PodResizePending");
  EXPECT_EQ(pending.value("reason", ""), "Infeasible") << pending.dump();
  EXPECT_NE(pending.value("message", "").find("cpu"), std::string::npos) << pending.dump();
  EXPECT_EQ(Read("cpu", cgroup, "cpu.cfs_quota_us"), "20000");
  auto pod = Pod("too-big");
  EXPECT_EQ(pod["spec"]["containers"][0]["resources"]["requests"].value("cpu", ""), "100000");
  EXPECT_EQ(ContainerStatus(pod, "c")["allocatedResources"].value("cpu", ""), "100m");
  EXPECT_EQ(RestartCount(pod, "c"), 0);
}

TEST_F(CliResize, DeferredResizeHappensOnceAnotherPodLeavesRoom) {
  if (!HostHasV1CpuAndMemory()) GTEST_SKIP() << "reads cgroup v1 files";
  int64_t cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  std::string most = std::to_string(cpus * 1000 - 300) + "m";
  std::string hog = PodYaml("hog", "      requests: {cpu: " + most + "}\n");
  auto r = Apply(hog);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("hog", "c"));
  r = Apply(PodYaml("deferred", kSmall));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("deferred", "c"));
  std::string cgroup = ContainerCgroup("deferred", "c");
  ASSERT_FALSE(cgroup.empty());

  r = Apply(PodYaml("deferred",
                    "      requests: {cpu: 500m, memory: 32Mi}\n"
                    "      limits: {cpu: 800m, memory: 64Mi}\n"));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(WaitUntil([&] { return Condition("deferred", "PodResizePending").is_object(); }));
  EXPECT_EQ(Condition("deferred", "PodResizePending").value("reason", ""), "Deferred");
  EXPECT_EQ(Read("cpu", cgroup, "cpu.cfs_quota_us"), "20000");

  ASSERT_EQ(Cli({"delete", "pod", "hog"}).exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] { return Read("cpu", cgroup, "cpu.cfs_quota_us") == "80000"; }));
  EXPECT_TRUE(WaitUntil([&] { return Condition("deferred", "PodResizePending").is_null(); }));
  EXPECT_EQ(RestartCount(Pod("deferred"), "c"), 0);
}

TEST_F(CliResize, PodLevelLimitsBoundThePodCgroupAndCountForAdmission) {
  if (!HostHasV1CpuAndMemory()) GTEST_SKIP() << "reads cgroup v1 files";
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: pod-level
spec:
  terminationGracePeriodSeconds: 1
  resources:
    limits: {cpu: 500m, memory: 128Mi}
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitRunning("pod-level", "c"));
  std::string cgroup = ContainerCgroup("pod-level", "c");
  ASSERT_FALSE(cgroup.empty());
  std::string pod_cgroup = fs::path(cgroup).parent_path().string();
  EXPECT_EQ(Read("memory", pod_cgroup, "memory.limit_in_bytes"), std::to_string(128 * kMiB));
  EXPECT_EQ(Read("cpu", pod_cgroup, "cpu.cfs_quota_us"), "50000");
  // The container has no limit of its own: the pod's bounds it.
  EXPECT_EQ(Read("cpu", cgroup, "cpu.cfs_quota_us"), "-1");
  auto pod = Pod("pod-level");
  EXPECT_EQ(pod["spec"]["resources"]["limits"].value("memory", ""), "128Mi") << pod.dump();
  EXPECT_EQ(pod["spec"]["resources"]["requests"].value("cpu", ""), "500m") << pod.dump();

  // Pod-level requests are what admission counts.
  r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: pod-level-huge
spec:
  resources:
    requests: {cpu: "100000"}
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    auto p = Pod("pod-level-huge");
    if (!p.is_object()) return false;
    for (const auto& c : p["status"].value("conditions", nlohmann::json::array())) {
      if (c.value("type", "") == "PodScheduled") {
        return c.value("message", "").find("Insufficient cpu") != std::string::npos;
      }
    }
    return false;
  })) << Pod("pod-level-huge").dump();
}

TEST_F(CliResize, ContainerLimitAboveThePodLimitIsRefusedWithItsLine) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: bad-pod-level
spec:
  resources:
    limits: {memory: 64Mi}
  containers:
  - name: c
    image: busybox:latest
    resources:
      limits: {memory: 128Mi}
    resizePolicy:
    - {resourceName: disk, restartPolicy: NotRequired}
)");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("spec.resources.limits.memory"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("\"c\""), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("spec.containers[0].resizePolicy[0].resourceName"), std::string::npos)
      << r.Describe();
}

}  // namespace
}  // namespace peapod::testing
