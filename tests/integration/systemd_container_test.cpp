// systemd as PID 1: a minimal Debian (scripts/images/systemd-test.sh, command /sbin/init, no
// StopSignal) boots in a peapod container to `systemctl is-system-running` = running (or
// degraded with only hardware-bound units failed), halts cleanly on the stop signal peapod picks
// for it (SIGRTMIN+3) within the grace period, and leaves no unit process behind.
#include <unistd.h>

#include <set>
#include <sstream>

#include "agent_fixture.h"
#include "peapod/runtime/cgroup.h"
#include "support/systemd_image.h"

namespace peapod::testing {
namespace {

// Units that need hardware or a kernel interface a container does not have; nothing else may
// fail for a boot to count.
const std::set<std::string> kHardwareUnits = {
    "systemd-modules-load.service", "sys-kernel-config.mount",     "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",     "dev-hugepages.mount",         "dev-mqueue.mount",
    "systemd-udevd.service",        "systemd-udev-trigger.service"};

class SystemdContainer : public AgentFixture {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    const auto& image = SystemdTestImage();
    ASSERT_TRUE(image.has_value()) << image.error().ToString();
    ASSERT_NO_FATAL_FAILURE(UseOwnCgroupParent("peapod-systemd-test"));
    AgentFixture::SetUp();
    auto ids = agent_->images().Load(*image);
    ASSERT_TRUE(ids && !ids->empty()) << (ids ? "no image" : ids.error().ToString());
    pod_config_ = PodConfig("machine");
    pod_ = RunPod(pod_config_);
    ASSERT_FALSE(pod_.empty());
  }

  std::string Exec(const std::string& id, std::vector<std::string> cmd, int64_t timeout = 20) {
    auto r = agent_->containers().ExecSync(id, cmd, timeout);
    if (!r) {
      ADD_FAILURE() << cmd[0] << ": " << r.error().ToString();
      return "";
    }
    if (r->status.exit_code != 0 || !r->stderr_data.empty()) {
      std::cout << "exec";
      for (const auto& a : cmd) std::cout << " " << a;
      std::cout << ": status " << r->status.ShellCode() << "\n" << r->stderr_data;
    }
    std::string out = r->stdout_data;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  agent::PodSandboxConfig pod_config_;
  std::string pod_;
};

TEST_F(SystemdContainer, BootsToRunningAndHaltsCleanlyOnSigrtmin3) {
  // No command: the image's /sbin/init, which makes it a systemd container.
  auto config = ContainerConfig("init", "systemd-test");
  auto id = Run(pod_, pod_config_, config);
  ASSERT_FALSE(id.empty());

  // --wait blocks until the boot is over, once systemd is far enough to answer at all.
  std::string state = Exec(id,
                           {"sh", "-c",
                            "for i in $(seq 1200); do"
                            "  s=$(systemctl is-system-running --wait 2>/dev/null);"
                            "  case $s in running|degraded|maintenance|stopping)"
                            "    echo $s; exit 0;; esac; sleep 0.1; "
                            "done; echo timed out: $s"},
                           150);
  std::string failed = Exec(id, {"systemctl", "list-units", "--failed", "--plain", "--no-legend"});
  std::cout << "is-system-running: " << state << "\nfailed units:\n" << failed << "\n";
  EXPECT_TRUE(state == "running" || state == "degraded") << state << "\n" << LogText(id);
  std::istringstream lines(failed);
  for (std::string line; std::getline(lines, line);) {
    std::string unit = line.substr(0, line.find(' '));
    if (!unit.empty() && unit != "●") {
      EXPECT_TRUE(kHardwareUnits.contains(unit)) << "failed: " << line;
    }
  }
  EXPECT_EQ(Exec(id, {"cat", "/proc/1/comm"}), "systemd");
  EXPECT_EQ(Exec(id, {"sh", "-c", "echo $(tr '\\0' '\\n' </proc/1/environ | grep ^container=)"}),
            "container=peapod");
  // systemd made its own cgroups below the container's: PID 1 sits in init.scope.
  std::string own = Exec(id, {"cat", "/proc/1/cgroup"});
  EXPECT_NE(own.find("/init.scope"), std::string::npos) << own;
  std::string units =
      Exec(id, {"systemctl", "is-active", "dbus.service", "systemd-journald.service"});
  EXPECT_EQ(units, "active\nactive");

  auto cgroup = runtime::CgroupManager(driver_, {cgroup_parent_, 0}).Container(pod_, id);
  auto before = cgroup.ProcessesRecursive();
  ASSERT_TRUE(before.has_value()) << before.error().ToString();
  EXPECT_GT(before->size(), 2u);  // systemd, journald, dbus, ...

  // SIGRTMIN+3 (the image names no StopSignal) within a 60 s grace: systemd halts, exits 0.
  auto stopped = agent_->containers().StopContainer(id, 60);
  ASSERT_TRUE(stopped.has_value()) << stopped.error().ToString();
  auto st = WaitExited(id);
  EXPECT_EQ(st.exit_code, 0) << st.reason << " " << st.message << "\n" << LogText(id);
  EXPECT_EQ(st.reason, "Completed");
  auto after = cgroup.ProcessesRecursive();
  ASSERT_TRUE(after.has_value()) << after.error().ToString();
  EXPECT_TRUE(after->empty());
}

}  // namespace
}  // namespace peapod::testing
