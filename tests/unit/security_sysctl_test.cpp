#include <gtest/gtest.h>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

TEST(Sysctl, NamespacedOnesAreAllowed) {
  for (const char* name : {"kernel.shm_rmid_forced", "kernel.shmmax", "kernel.msgmax", "kernel.sem",
                           "fs.mqueue.msg_max", "net.ipv4.ip_forward",
                           "net/ipv4/conf/eth0.100/rp_filter", "net.core.somaxconn"}) {
    EXPECT_TRUE(ValidateSysctl(name, {})) << name;
  }
}

TEST(Sysctl, NodeWideOnesAreRefused) {
  for (const char* name : {"kernel.hostname_x", "vm.overcommit_memory", "kernel.pid_max",
                           "fs.file-max", "kernel.semx", "user.max_user_namespaces"}) {
    auto st = ValidateSysctl(name, {});
    ASSERT_FALSE(st) << name;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message.find("not namespaced"), std::string::npos);
  }
}

TEST(Sysctl, NetNeedsOwnNetworkAndIpcNeedsOwnIpc) {
  EXPECT_FALSE(ValidateSysctl("net.ipv4.ip_forward", {.own_network = false, .own_ipc = true}));
  EXPECT_TRUE(ValidateSysctl("kernel.shmmax", {.own_network = false, .own_ipc = true}));
  EXPECT_FALSE(ValidateSysctl("kernel.shmmax", {.own_network = true, .own_ipc = false}));
}

TEST(Sysctl, RejectsPathsThatClimb) {
  EXPECT_FALSE(ValidateSysctl("net/../../etc/passwd", {}));
  EXPECT_FALSE(ValidateSysctl("net..ipv4", {}));
  EXPECT_FALSE(ValidateSysctl("/net/ipv4/ip_forward", {}));
}

TEST(Sysctl, PrepareBuildsProcPaths) {
  auto p =
      PrepareSysctls({{"net.ipv4.ip_forward", "1"}, {"net/ipv4/conf/eth0.100/rp_filter", "2"}}, {});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].path, "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ((*p)[1].path, "/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
  EXPECT_FALSE(PrepareSysctls({{"net.ipv4.ip_forward", "1\n2"}}, {}));
}

}  // namespace
}  // namespace peapod::runtime
