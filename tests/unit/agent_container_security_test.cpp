#include <gtest/gtest.h>
#include <linux/capability.h>

#include "peapod/agent/container_security.h"

namespace peapod::agent {
namespace {

constexpr uint64_t Bit(int cap) { return 1ULL << cap; }

TEST(ContainerSecurity, DefaultContextGetsContainerdsCapabilitiesAndDefaultPaths) {
  auto sec = BuildContainerSecurity({}, std::nullopt, "c");
  ASSERT_TRUE(sec.has_value()) << sec.error().ToString();
  uint64_t expected = runtime::DefaultCapabilities();
  EXPECT_EQ(sec->plan.capabilities.bounding & expected, sec->plan.capabilities.bounding);
  EXPECT_TRUE(sec->plan.capabilities.bounding & Bit(CAP_NET_BIND_SERVICE));
  EXPECT_FALSE(sec->plan.capabilities.bounding & Bit(CAP_SYS_ADMIN));
  EXPECT_FALSE(sec->plan.seccomp.has_value());  // legacy "" is unconfined, as in containerd
  EXPECT_EQ(sec->masked_paths, runtime::DefaultMaskedPaths());
  EXPECT_EQ(sec->readonly_paths, runtime::DefaultReadonlyPaths());
  EXPECT_FALSE(sec->plan.no_new_privs);
}

TEST(ContainerSecurity, RuntimeDefaultThroughEitherFieldCompilesAFilter) {
  LinuxContainerSecurityContext structured;
  structured.seccomp = SecurityProfile{0, ""};
  auto a = BuildContainerSecurity(structured, std::nullopt, "c");
  ASSERT_TRUE(a.has_value()) << a.error().ToString();
  EXPECT_TRUE(a->plan.seccomp.has_value());

  LinuxContainerSecurityContext legacy;
  legacy.seccomp_profile_path = "runtime/default";
  auto b = BuildContainerSecurity(legacy, std::nullopt, "c");
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  EXPECT_TRUE(b->plan.seccomp.has_value());
}

TEST(ContainerSecurity, DropAllThenAddKeepsOnlyTheAddedCapability) {
  LinuxContainerSecurityContext context;
  context.capabilities = Capability{{"NET_BIND_SERVICE"}, {"ALL"}, {}};
  auto sec = BuildContainerSecurity(context, std::nullopt, "c");
  ASSERT_TRUE(sec.has_value());
  EXPECT_EQ(sec->plan.capabilities.bounding, Bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(sec->plan.capabilities.effective, Bit(CAP_NET_BIND_SERVICE));
}

TEST(ContainerSecurity, UnknownCapabilityIsRefusedNamingTheField) {
  LinuxContainerSecurityContext context;
  context.capabilities = Capability{{"NOT_A_CAP"}, {}, {}};
  auto sec = BuildContainerSecurity(context, std::nullopt, "c");
  ASSERT_FALSE(sec.has_value());
  EXPECT_NE(sec.error().message.find("capabilities"), std::string::npos) << sec.error().message;
}

TEST(ContainerSecurity, AppArmorProfileIsRefusedOnAHostWithoutAppArmor) {
  LinuxContainerSecurityContext context;
  context.apparmor = SecurityProfile{0, ""};
  auto sec = BuildContainerSecurity(context, std::nullopt, "c");
  ASSERT_FALSE(sec.has_value());
  EXPECT_EQ(sec.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(sec.error().message.find("apparmor is not supported"), std::string::npos);

  LinuxContainerSecurityContext unconfined;
  unconfined.apparmor_profile = "unconfined";
  EXPECT_TRUE(BuildContainerSecurity(unconfined, std::nullopt, "c").has_value());
}

TEST(ContainerSecurity, PrivilegedRunsUnconfinedWithNothingMasked) {
  LinuxContainerSecurityContext context;
  context.privileged = true;
  context.seccomp_profile_path = "runtime/default";
  auto sec = BuildContainerSecurity(context, std::nullopt, "c");
  ASSERT_TRUE(sec.has_value());
  EXPECT_TRUE(sec->privileged);
  EXPECT_FALSE(sec->plan.seccomp.has_value());
  EXPECT_TRUE(sec->masked_paths.empty());
  EXPECT_TRUE(sec->plan.capabilities.bounding & Bit(CAP_SYS_ADMIN));
}

TEST(ContainerSecurity, NoNewPrivsAndOomScoreAdjComeThrough) {
  LinuxContainerSecurityContext context;
  context.no_new_privs = true;
  LinuxContainerResources res;
  res.oom_score_adj = 1000;
  auto sec = BuildContainerSecurity(context, res, "c");
  ASSERT_TRUE(sec.has_value());
  EXPECT_TRUE(sec->plan.no_new_privs);
  ASSERT_TRUE(sec->plan.oom_score_adj.has_value());
  EXPECT_EQ(*sec->plan.oom_score_adj, 1000);  // raising is always allowed
}

TEST(ContainerResources, MapOntoCgroupLimits) {
  LinuxContainerResources r;
  r.cpu_shares = 512;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.memory_limit_in_bytes = 64 << 20;
  r.hugepage_limits = {{"2MB", 4 << 20}};
  auto out = ToCgroupResources(r);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->cpu_shares, 512u);
  EXPECT_EQ(out->cpu_quota_us, 50000);
  EXPECT_EQ(out->memory_limit_bytes, 64 << 20);
  EXPECT_EQ(out->hugepage_limits.at("2MB"), 4u << 20);
  EXPECT_FALSE(ToCgroupResources({}).value().memory_limit_bytes.has_value());
}

TEST(ContainerResources, NegativeValuesAreRefusedNamingTheField) {
  LinuxContainerResources r;
  r.memory_limit_in_bytes = -5;
  auto out = ToCgroupResources(r);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(out.error().message.find("memory_limit_in_bytes"), std::string::npos);
}

}  // namespace
}  // namespace peapod::agent
