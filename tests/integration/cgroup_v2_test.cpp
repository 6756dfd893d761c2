// Cgroup v2 code paths against the real unified hierarchy. On a hybrid host that hierarchy has
// few controllers (hugetlb here), so these tests check what v2 gives without controllers too:
// subtree_control, membership, cpu.stat usage, cgroup.kill and removal. They also mount a second
// view of the hierarchy in a private mount namespace, as a pure-v2 host would have at
// /sys/fs/cgroup.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include "peapod/runtime/cgroup.h"
#include "support/cgroup_support.h"
#include "support/temp_dir.h"

namespace peapod::runtime {
namespace {

using peapod::testing::ReadFile;
using peapod::testing::RootSubtreeControlRestorer;
using peapod::testing::TempDir;

std::string TestParent() { return "peapod-v2-test-" + std::to_string(::getpid()); }

std::string UnifiedMount() {
  auto host = CgroupDriver::Detect();
  if (!host || host->Unified() == nullptr) return "";
  return host->Unified()->mount_point;
}

pid_t SpawnSleeper(bool busy) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (busy) {
      for (uint64_t i = 0; i < 200000000; ++i) asm volatile("" : : "r"(i));
    }
    for (;;) ::pause();
  }
  return pid;
}

int Reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

class CgroupV2Test : public ::testing::Test {
 protected:
  RootSubtreeControlRestorer restore_root_;
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    mount_ = UnifiedMount();
    if (mount_.empty()) GTEST_SKIP() << "no cgroup2 hierarchy mounted";
    auto d = CgroupDriver::ForUnifiedMount(mount_);
    ASSERT_TRUE(d) << d.error().ToString();
    driver_ = std::make_shared<const CgroupDriver>(std::move(*d));
    std::cout << "v2 at " << mount_ << ": " << driver_->Describe() << "\n";
  }
  void TearDown() override {
    if (driver_) {
      auto st = Cgroup(driver_, "/" + TestParent()).Remove();
      EXPECT_TRUE(st) << st.error().ToString();
    }
  }

  std::string mount_;
  std::shared_ptr<const CgroupDriver> driver_;
};

TEST_F(CgroupV2Test, CreateAddStatsKillRemoveOnUnifiedHierarchy) {
  CgroupManager manager(driver_, {TestParent(), 0});
  auto pod = manager.CreatePod("p1");
  ASSERT_TRUE(pod) << pod.error().ToString();
  auto ctr = manager.CreateContainer("p1", "c1");
  ASSERT_TRUE(ctr) << ctr.error().ToString();
  const CgroupHierarchy& h = *driver_->Unified();
  for (const std::string& c : h.controllers) {
    EXPECT_NE(ReadFile(pod->DirIn(h) + "/cgroup.subtree_control").find(c), std::string::npos) << c;
    EXPECT_NE(ReadFile(ctr->DirIn(h) + "/cgroup.controllers").find(c), std::string::npos) << c;
  }

  pid_t child = SpawnSleeper(true);
  ASSERT_TRUE(ctr->AddProcess(child));
  EXPECT_NE(ReadFile("/proc/" + std::to_string(child) + "/cgroup")
                .find("0::/" + TestParent() + "/pod-p1/c1\n"),
            std::string::npos);
  ::usleep(200 * 1000);
  auto stats = ctr->Stats();
  ASSERT_TRUE(stats) << stats.error().ToString();
  ASSERT_TRUE(
      stats->cpu_usage_ns.has_value());  // cpu.stat exists in v2 even without the cpu controller
  EXPECT_GT(*stats->cpu_usage_ns, 0u);

  ASSERT_TRUE(::access((ctr->DirIn(h) + "/cgroup.kill").c_str(), F_OK) == 0)
      << "kernel has cgroup.kill";
  ASSERT_TRUE(ctr->KillAll(SIGKILL));
  int status = Reap(child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(pod->Remove());
  EXPECT_NE(::access(pod->DirIn(h).c_str(), F_OK), 0);
}

TEST_F(CgroupV2Test, HugetlbAndUnifiedLimitsAreWrittenInV2Format) {
  if (driver_->HierarchyFor("hugetlb") == nullptr) GTEST_SKIP() << "no hugetlb on v2 here";
  CgroupManager manager(driver_, {TestParent(), 0});
  ASSERT_TRUE(manager.CreatePod("p1"));
  Resources r;
  r.hugepage_limits["2MB"] = 4 << 21;
  r.unified["cgroup.max.descendants"] = "5";
  auto ctr = manager.CreateContainer("p1", "c1", r);
  ASSERT_TRUE(ctr) << ctr.error().ToString();
  const CgroupHierarchy& h = *driver_->Unified();
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/hugetlb.2MB.max"), std::to_string(4 << 21) + "\n");
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/cgroup.max.descendants"), "5\n");
}

TEST_F(CgroupV2Test, LimitsForControllersV2LacksHereAreRefusedClearly) {
  CgroupManager manager(driver_, {TestParent(), 0});
  ASSERT_TRUE(manager.CreatePod("p1"));
  for (const char* controller : {"memory", "pids"}) {
    if (driver_->HierarchyFor(controller) != nullptr) continue;
    Resources r;
    if (std::string(controller) == "memory") r.memory_limit_bytes = 1 << 20;
    if (std::string(controller) == "pids") r.pids_limit = 10;
    auto ctr = manager.CreateContainer("p1", controller, r);
    ASSERT_FALSE(ctr) << controller;
    EXPECT_EQ(ctr.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(ctr.error().message.find(controller), std::string::npos) << ctr.error().message;
  }
}

TEST_F(CgroupV2Test, UpdateChangesALiveCgroupInPlaceAndKeepsItsProcess) {
  if (driver_->HierarchyFor("hugetlb") == nullptr) GTEST_SKIP() << "no hugetlb on v2 here";
  CgroupManager manager(driver_, {TestParent(), 0});
  ASSERT_TRUE(manager.CreatePod("p1"));
  Resources r;
  r.hugepage_limits["2MB"] = 4 << 21;
  auto ctr = manager.CreateContainer("p1", "c1", r);
  ASSERT_TRUE(ctr) << ctr.error().ToString();
  pid_t sleeper = SpawnSleeper(false);
  ASSERT_TRUE(ctr->AddProcess(sleeper));
  const CgroupHierarchy& h = *driver_->Unified();
  r.hugepage_limits["2MB"] = 8 << 21;
  r.unified["cgroup.max.descendants"] = "3";
  auto updated = ctr->Update(r);
  EXPECT_TRUE(updated) << updated.error().ToString();
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/hugetlb.2MB.max"), std::to_string(8 << 21) + "\n");
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/cgroup.max.descendants"), "3\n");
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/cgroup.procs"), std::to_string(sleeper) + "\n");
  ::kill(sleeper, SIGKILL);
  Reap(sleeper);
}

TEST_F(CgroupV2Test, UpdateThatFailsHalfWayPutsBackWhatItWrote) {
  if (driver_->HierarchyFor("hugetlb") == nullptr) GTEST_SKIP() << "no hugetlb on v2 here";
  CgroupManager manager(driver_, {TestParent(), 0});
  ASSERT_TRUE(manager.CreatePod("p1"));
  Resources r;
  r.hugepage_limits["2MB"] = 4 << 21;
  r.unified["cgroup.max.descendants"] = "5";
  auto ctr = manager.CreateContainer("p1", "c1", r);
  ASSERT_TRUE(ctr) << ctr.error().ToString();
  const CgroupHierarchy& h = *driver_->Unified();
  // hugetlb is written before the unified keys, which go in name order: the bad value of the
  // second key fails the update after hugetlb and the first key were written. All is undone.
  Resources bad;
  bad.hugepage_limits["2MB"] = 8 << 21;
  bad.unified["cgroup.max.depth"] = "2";
  bad.unified["cgroup.max.descendants"] = "not-a-number";
  auto refused = ctr->Update(bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("cgroup.max.descendants"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/hugetlb.2MB.max"), std::to_string(4 << 21) + "\n");
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/cgroup.max.descendants"), "5\n");
  EXPECT_EQ(ReadFile(ctr->DirIn(h) + "/cgroup.max.depth"), "max\n");
}

// Steps reported through the exit code of the forked child.
int RunInPrivateMountOfCgroup2(const std::string& where) {
  if (::unshare(CLONE_NEWNS) != 0) return 10;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 11;
  if (::mount("none", where.c_str(), "cgroup2", 0, nullptr) != 0) return 12;
  auto d = CgroupDriver::Detect();  // the mountinfo now also shows our mount: use it explicitly
  if (!d) return 13;
  auto driver = CgroupDriver::ForUnifiedMount(where);
  if (!driver) return 14;
  auto shared = std::make_shared<const CgroupDriver>(std::move(*driver));
  CgroupManager manager(shared, {TestParent() + "-private", 0});
  auto pod = manager.CreatePod("p1");
  if (!pod) return 15;
  auto ctr = manager.CreateContainer("p1", "c1");
  if (!ctr) return 16;
  pid_t sleeper = SpawnSleeper(false);
  int rc = 0;
  if (!ctr->AddProcess(sleeper)) rc = 17;
  std::string membership = ReadFile("/proc/" + std::to_string(sleeper) + "/cgroup");
  if (rc == 0 &&
      membership.find("0::/" + TestParent() + "-private/pod-p1/c1\n") == std::string::npos)
    rc = 18;
  if (rc == 0 && ReadFile(where + "/" + TestParent() + "-private/pod-p1/c1/cgroup.procs") !=
                     std::to_string(sleeper) + "\n") {
    rc = 19;
  }
  if (!Cgroup(shared, "/" + TestParent() + "-private").Remove() && rc == 0) rc = 20;
  Reap(sleeper);
  if (rc == 0 && ::access((where + "/" + TestParent() + "-private").c_str(), F_OK) == 0) rc = 21;
  return rc;
}

TEST_F(CgroupV2Test, WorksOnASecondMountOfTheHierarchyInAPrivateMountNamespace) {
  TempDir where;
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(RunInPrivateMountOfCgroup2(where.path()));
  int status = Reap(pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed step (see RunInPrivateMountOfCgroup2)";
  // Whatever happened in the child, leave nothing behind in the real hierarchy.
  auto st = Cgroup(driver_, "/" + TestParent() + "-private").Remove();
  EXPECT_TRUE(st) << st.error().ToString();
}

}  // namespace
}  // namespace peapod::runtime
