// The CRI security context carried through the container manager into the container, seen from
// inside: capabilities, no_new_privs, seccomp (structured and legacy fields), masked and
// read-only paths, a read-only root, and contexts this host cannot honour.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "agent_fixture.h"
#include "peapod/runtime/security.h"

namespace peapod::testing {
namespace {

class AgentSecurityTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    ASSERT_FALSE(LoadImage("busybox.oci.tar").empty());
    pod_config_ = PodConfig("secure");
    pod_ = RunPod(pod_config_);
    ASSERT_FALSE(pod_.empty());
  }

  std::string Output(const std::string& name, const std::string& script,
                     const agent::LinuxContainerSecurityContext& context) {
    auto config = ContainerConfig(name, "busybox", {"sh", "-c", script});
    config.linux.security_context = context;
    auto id = Run(pod_, pod_config_, config);
    if (id.empty()) return "";
    WaitExited(id);
    return LogText(id);
  }

  agent::PodSandboxConfig pod_config_;
  std::string pod_;
};

TEST_F(AgentSecurityTest, DefaultContextGivesContainerdsCapabilitiesAndMasksProc) {
  std::string out = Output("default",
                           "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
                           "echo keys=$(wc -c < /proc/keys)",
                           {});
  char caps[32];
  std::snprintf(caps, sizeof(caps), "CapEff:\t%016llx",
                static_cast<unsigned long long>(runtime::DefaultCapabilities()));
  EXPECT_NE(out.find(caps), std::string::npos) << out;
  EXPECT_NE(out.find("NoNewPrivs:\t0"), std::string::npos) << out;
  EXPECT_NE(out.find("keys=0"), std::string::npos) << out;
}

TEST_F(AgentSecurityTest, RuntimeDefaultSeccompAndNoNewPrivsComeThrough) {
  agent::LinuxContainerSecurityContext structured;
  structured.seccomp = agent::SecurityProfile{0, ""};
  structured.no_new_privs = true;
  std::string out = Output("structured",
                           "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; "
                           "mount -t tmpfs none /mnt 2>&1; echo mount=$?",
                           structured);
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
  EXPECT_EQ(out.find("mount=0"), std::string::npos) << out;

  agent::LinuxContainerSecurityContext legacy;
  legacy.seccomp_profile_path = "runtime/default";
  out = Output("legacy", "grep Seccomp: /proc/self/status", legacy);
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
}

TEST_F(AgentSecurityTest, DroppedCapabilitiesAndReadOnlyRootApply) {
  agent::LinuxContainerSecurityContext context;
  context.capabilities = agent::Capability{{}, {"ALL"}, {}};
  context.readonly_rootfs = true;
  std::string out = Output("dropped",
                           "grep CapEff /proc/self/status; touch /x 2>&1 || echo root-ro; "
                           "chown 1000 /tmp 2>&1 || echo chown-refused",
                           context);
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  EXPECT_NE(out.find("root-ro"), std::string::npos) << out;
  EXPECT_NE(out.find("chown-refused"), std::string::npos) << out;
}

// A host block device, for tests that try to reach one from a container.
std::string AnyHostBlockDevice() {
  struct stat st {};
  if (::stat("/", &st) == 0 && major(st.st_dev) != 0)
    return std::to_string(major(st.st_dev)) + " " + std::to_string(minor(st.st_dev));
  return "7 0";  // loop0
}

// CAP_MKNOD is among the default capabilities (as containerd's), so a container's root can make
// a node for any device; only the device controller stands between that node and the host's disk.
// The same holds for a device node shipped in an image layer.
TEST_F(AgentSecurityTest, HostDevicesCannotBeOpenedThroughANodeTheContainerMakes) {
  std::string dev = AnyHostBlockDevice();
  std::string out = Output("mknod",
                           "for d in /tmp /dev; do mknod $d/disk b " + dev +
                               " && echo made-$d; head -c 1 $d/disk >/dev/null 2>&1 && "
                               "echo opened-$d || echo refused-$d; done; "
                               "head -c 1 /dev/zero >/dev/null && echo zero-ok; "
                               "echo hi > /dev/null && echo null-ok",
                           {});
  EXPECT_NE(out.find("refused-/tmp"), std::string::npos) << out;
  EXPECT_NE(out.find("refused-/dev"), std::string::npos) << out;
  EXPECT_EQ(out.find("opened-"), std::string::npos) << out;
  // The devices a container is given keep working.
  EXPECT_NE(out.find("zero-ok"), std::string::npos) << out;
  EXPECT_NE(out.find("null-ok"), std::string::npos) << out;
}

TEST_F(AgentSecurityTest, AppArmorProfileIsRefusedAndChangesNothing) {
  auto config = ContainerConfig("armored", "busybox", {"true"});
  config.linux.security_context.apparmor = agent::SecurityProfile{0, ""};
  auto id = agent_->containers().CreateContainer(pod_, config, pod_config_);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(id.error().message.find("apparmor is not supported"), std::string::npos);
  EXPECT_TRUE(agent_->containers().ListContainers({}).empty());
  // The name is free again: the same config without AppArmor is created.
  config.linux.security_context.apparmor.reset();
  EXPECT_TRUE(agent_->containers().CreateContainer(pod_, config, pod_config_).has_value());
}

TEST_F(AgentSecurityTest, OnlyNamespacedSysctlsAreAccepted) {
  auto host_wide = PodConfig("host-wide");
  host_wide.linux.sysctls = {{"kernel.panic", "1"}};
  size_t pods = agent_->sandboxes().ListPodSandbox().size();
  auto refused = agent_->sandboxes().RunPodSandbox(host_wide);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("kernel.panic"), std::string::npos);
  EXPECT_EQ(agent_->sandboxes().ListPodSandbox().size(), pods);

  auto pod_wide = PodConfig("pod-wide");
  pod_wide.linux.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "0"}};
  auto id = RunPod(pod_wide);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(AgentFixture::Output(id, pod_wide, "sysctl",
                                 "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"),
            "0\n");
}

TEST_F(AgentSecurityTest, NegativeResourcesAreInvalidArgument) {
  auto config = ContainerConfig("negative", "busybox", {"true"});
  config.linux.resources = agent::LinuxContainerResources{};
  config.linux.resources->memory_limit_in_bytes = -1;
  auto id = agent_->containers().CreateContainer(pod_, config, pod_config_);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(id.error().message.find("memory_limit_in_bytes"), std::string::npos);
  EXPECT_TRUE(agent_->containers().ListContainers({}).empty());
}

}  // namespace
}  // namespace peapod::testing
