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
  // 5 controller hierarchies + name=systemd (a container's own cgroup there is what systemd in it
  // needs) + unified.
  EXPECT_EQ(d->hierarchies().size(), 7u);
  ASSERT_NE(d->HierarchyFor("name=systemd"), nullptr);
  EXPECT_EQ(d->HierarchyFor("name=systemd")->mount_point, "/sys/fs/cgroup/systemd");
  EXPECT_EQ(d->HierarchyFor("name=systemd")->mount_options, "name=systemd");
  EXPECT_EQ(d->HierarchyFor("memory")->mount_options, "memory");
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

using Kind = CgroupMountStep::Kind;

TEST(ContainerCgroupMounts, PureV2IsOneCgroup2MountAtSysFsCgroup) {
  auto d = CgroupDriver::FromSources(
      {"30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", "",
       "cpu memory pids\n"});
  ASSERT_TRUE(d);
  auto steps = ContainerCgroupMounts(*d);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].kind, Kind::kCgroup2);
  EXPECT_EQ(steps[0].target, "/sys/fs/cgroup");
}

TEST(ContainerCgroupMounts, HybridMirrorsTheHostsDirectories) {
  auto d = CgroupDriver::FromSources({kHybrid, "", "hugetlb\n"});
  ASSERT_TRUE(d);
  auto steps = ContainerCgroupMounts(*d);
  ASSERT_EQ(steps.size(), 8u);
  EXPECT_EQ(steps[0].kind, Kind::kTmpfs);
  EXPECT_EQ(steps[0].target, "/sys/fs/cgroup");
  const std::pair<const char*, const char*> v1[] = {
      {"/sys/fs/cgroup/cpu", "cpu"},       {"/sys/fs/cgroup/cpuacct", "cpuacct"},
      {"/sys/fs/cgroup/cpuset", "cpuset"}, {"/sys/fs/cgroup/memory", "memory"},
      {"/sys/fs/cgroup/pids", "pids"},     {"/sys/fs/cgroup/systemd", "name=systemd"}};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(steps[i + 1].kind, Kind::kCgroup1);
    EXPECT_EQ(steps[i + 1].target, v1[i].first);
    EXPECT_EQ(steps[i + 1].data, v1[i].second);
  }
  EXPECT_EQ(steps[7].kind, Kind::kCgroup2);
  EXPECT_EQ(steps[7].target, "/sys/fs/cgroup/unified");
}

TEST(ContainerCgroupMounts, CoMountedControllersGetTheUsualSymlinks) {
  auto d = CgroupDriver::FromSources(
      {"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,xattr,cpu,cpuacct\n"
       "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
       "36 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup "
       "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n",
       "", std::nullopt});
  ASSERT_TRUE(d);
  auto steps = ContainerCgroupMounts(*d);
  ASSERT_EQ(steps.size(), 6u);
  EXPECT_EQ(steps[1].target, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(steps[1].data, "cpu,cpuacct");  // no xattr: mount(2) names the hierarchy by these
  EXPECT_EQ(steps[3].target, "/sys/fs/cgroup/systemd");
  EXPECT_EQ(steps[3].data, "name=systemd");
  EXPECT_EQ(steps[4].kind, Kind::kSymlink);
  EXPECT_EQ(steps[4].target, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(steps[4].data, "cpu,cpuacct");
  EXPECT_EQ(steps[5].target, "/sys/fs/cgroup/cpuacct");
}

TEST(ContainerCgroupMounts, HierarchiesMountedElsewhereGetTheirUsualNames) {
  auto d =
      CgroupDriver::FromSources({"37 31 0:33 / /mnt/x rw - cgroup cgroup rw,pids\n"
                                 "38 31 0:34 / /tmp/v2 rw - cgroup2 cgroup2 rw\n",
                                 "", ""});
  ASSERT_TRUE(d);
  auto steps = ContainerCgroupMounts(*d);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[1].target, "/sys/fs/cgroup/pids");
  EXPECT_EQ(steps[2].target, "/sys/fs/cgroup/unified");
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
