#include <gtest/gtest.h>

#include "peapod/runtime/cgroup.h"

namespace peapod::runtime {
namespace {

constexpr const char* kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(CgroupDriverDetect, HybridPutsEachControllerWhereItIsMounted) {
  auto d = CgroupDriver::FromSources({kHybrid, "", "hugetlb\n"});
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->HierarchyFor("memory")->version, CgroupVersion::kV1);
  EXPECT_EQ(d->HierarchyFor("memory")->mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(d->HierarchyFor("cpuacct")->mount_point, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(d->HierarchyFor("hugetlb")->version, CgroupVersion::kV2);
  EXPECT_EQ(d->Unified()->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(d->hierarchies().size(), 6u);  // 5 v1 + unified; name=systemd is not ours
}

TEST(CgroupDriverDetect, HybridWithEmptyUnifiedStillKeepsItForMembership) {
  auto d = CgroupDriver::FromSources({kHybrid, "", ""});
  ASSERT_TRUE(d);
  ASSERT_NE(d->Unified(), nullptr);
  EXPECT_TRUE(d->Unified()->controllers.empty());
  EXPECT_EQ(d->HierarchyFor("hugetlb"), nullptr);
}

TEST(CgroupDriverDetect, PureV2) {
  auto d = CgroupDriver::FromSources(
      {"30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", "",
       "cpuset cpu io memory hugetlb pids rdma misc\n"});
  ASSERT_TRUE(d);
  ASSERT_EQ(d->hierarchies().size(), 1u);
  for (const char* c : {"cpu", "cpuset", "memory", "pids", "hugetlb"}) {
    ASSERT_NE(d->HierarchyFor(c), nullptr) << c;
    EXPECT_EQ(d->HierarchyFor(c)->mount_point, "/sys/fs/cgroup");
  }
  EXPECT_EQ(d->HierarchyFor("cpuacct"), nullptr);
}

TEST(CgroupDriverDetect, PureV1WithCoMountedCpuAndDisabledController) {
  auto d = CgroupDriver::FromSources(
      {"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
       "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
       "36 31 0:33 / /sys/fs/cgroup/my\\040pids rw - cgroup cgroup rw,pids\n"
       "37 31 0:33 /sub /mnt/pids-again rw - cgroup cgroup rw,pids\n",
       "#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t1\t0\npids\t5\t1\t1\n",
       std::nullopt});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->HierarchyFor("cpu"), d->HierarchyFor("cpuacct"));
  EXPECT_EQ(d->HierarchyFor("memory"), nullptr);  // disabled in /proc/cgroups
  EXPECT_EQ(d->HierarchyFor("pids")->mount_point, "/sys/fs/cgroup/my pids");
  EXPECT_EQ(d->Unified(), nullptr);
}

TEST(CgroupDriverDetect, NoCgroupsIsFailedPrecondition) {
  auto d = CgroupDriver::FromSources({"1 0 0:1 / / rw - ext4 /dev/vda rw\n", "", std::nullopt});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ErrorCode::kFailedPrecondition);
}

TEST(CgroupPaths, DirInStripsTheMountRoot) {
  auto d = std::make_shared<const CgroupDriver>(*CgroupDriver::FromSources(
      {"37 31 0:33 /outer /mnt/pids rw - cgroup cgroup rw,pids\n", "", std::nullopt}));
  Cgroup cg(d, "/outer/peapod/pod-1");
  EXPECT_EQ(cg.DirFor("pids"), "/mnt/pids/peapod/pod-1");
}

TEST(CgroupPaths, ManagerLaysOutPodsUnderTheParent) {
  auto d = std::make_shared<const CgroupDriver>(*CgroupDriver::FromSources({kHybrid, "", ""}));
  CgroupManager m(d, {"/kubepods//besteffort/poduid/", 0});
  EXPECT_EQ(m.PodPath("abc"), "/kubepods/besteffort/poduid/pod-abc");
  EXPECT_EQ(m.ContainerPath("abc", "c1"), "/kubepods/besteffort/poduid/pod-abc/c1");
  EXPECT_EQ(m.Container("abc", "c1").DirFor("memory"),
            "/sys/fs/cgroup/memory/kubepods/besteffort/poduid/pod-abc/c1");
}

TEST(CpuWeight, ConvertsSharesAsKubernetesAndRunc) {
  EXPECT_EQ(CpuSharesToWeight(2), 1u);
  EXPECT_EQ(CpuSharesToWeight(1024), 39u);
  EXPECT_EQ(CpuSharesToWeight(262144), 10000u);
  EXPECT_EQ(CpuSharesToWeight(1), 1u);            // clamped up to 2
  EXPECT_EQ(CpuSharesToWeight(1000000), 10000u);  // clamped down
  EXPECT_EQ(CpuSharesToWeight(512), 20u);
}

}  // namespace
}  // namespace peapod::runtime
