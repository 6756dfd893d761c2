#include <gtest/gtest.h>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

uint64_t Bit(const char* name) { return uint64_t{1} << *CapabilityFromName(name); }

TEST(CapabilityNames, AcceptPrefixOrNotInAnyCase) {
  EXPECT_EQ(CapabilityFromName("CAP_CHOWN"), 0);
  EXPECT_EQ(CapabilityFromName("chown"), 0);
  EXPECT_EQ(CapabilityFromName("Cap_Net_Admin"), 12);
  EXPECT_EQ(CapabilityFromName("SYS_ADMIN"), 21);
  EXPECT_EQ(CapabilityFromName("CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityFromName("BPF"), 39);
  EXPECT_FALSE(CapabilityFromName("NOT_A_CAP"));
  EXPECT_FALSE(CapabilityFromName("ALL"));
  EXPECT_EQ(CapabilityName(13), "CAP_NET_RAW");
  EXPECT_EQ(CapabilityName(41), "");
  for (int cap = 0; cap <= kLastKnownCapability; ++cap) {
    EXPECT_EQ(CapabilityFromName(CapabilityName(cap)), cap);
  }
}

TEST(Capabilities, DefaultIsContainerdsFourteen) {
  uint64_t def = DefaultCapabilities();
  EXPECT_EQ(__builtin_popcountll(def), 14);
  EXPECT_EQ(def, 0x00000000a80425fbULL);  // what `docker run` shows as CapEff
  EXPECT_EQ(FormatCapabilities(Bit("KILL") | Bit("CHOWN")), "CAP_CHOWN,CAP_KILL");
}

TEST(Capabilities, AddAndDropByName) {
  auto caps =
      ComputeCapabilities({"NET_ADMIN", "cap_sys_time"}, {"MKNOD", "CAP_NET_RAW"}, false, 40);
  ASSERT_TRUE(caps);
  uint64_t want = (DefaultCapabilities() | Bit("NET_ADMIN") | Bit("SYS_TIME")) & ~Bit("MKNOD") &
                  ~Bit("NET_RAW");
  EXPECT_EQ(*caps, want);
}

TEST(Capabilities, DropAllThenAddKeepsOnlyTheAdds) {
  auto caps = ComputeCapabilities({"NET_BIND_SERVICE"}, {"ALL"}, false, 40);
  ASSERT_TRUE(caps);
  EXPECT_EQ(*caps, Bit("NET_BIND_SERVICE"));
}

TEST(Capabilities, AddAllThenDropOne) {
  auto caps = ComputeCapabilities({"all"}, {"SYS_ADMIN"}, false, 40);
  ASSERT_TRUE(caps);
  EXPECT_EQ(*caps, AllCapabilities(40) & ~Bit("SYS_ADMIN"));
}

TEST(Capabilities, DropAllWinsOverAddAll) {
  auto caps = ComputeCapabilities({"ALL"}, {"ALL"}, false, 40);
  ASSERT_TRUE(caps);
  EXPECT_EQ(*caps, 0u);
}

TEST(Capabilities, PrivilegedGetsEveryCapabilityOfTheKernel) {
  auto caps = ComputeCapabilities({}, {"ALL"}, true, 37);
  ASSERT_TRUE(caps);
  EXPECT_EQ(*caps, (uint64_t{1} << 38) - 1);
  EXPECT_EQ(AllCapabilities(40), 0x1ffffffffffULL);
}

TEST(Capabilities, UnknownNameIsInvalidArgument) {
  auto caps = ComputeCapabilities({"CAP_FLY"}, {}, false, 40);
  ASSERT_FALSE(caps);
  EXPECT_EQ(caps.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(caps.error().message.find("CAP_FLY"), std::string::npos);
}

TEST(Capabilities, ContainerSetHasNoInheritableOrAmbient) {
  CapabilitySet set = ContainerCapabilitySet(DefaultCapabilities());
  EXPECT_EQ(set.bounding, DefaultCapabilities());
  EXPECT_EQ(set.effective, DefaultCapabilities());
  EXPECT_EQ(set.permitted, DefaultCapabilities());
  EXPECT_EQ(set.inheritable, 0u);
  EXPECT_EQ(set.ambient, 0u);
}

}  // namespace
}  // namespace peapod::runtime
