#include <gtest/gtest.h>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

TEST(SeccompLegacyString, ParsesEveryForm) {
  auto rd = ParseLegacySeccompProfile("runtime/default");
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->type, SeccompProfileType::kRuntimeDefault);
  auto dd = ParseLegacySeccompProfile("docker/default");
  ASSERT_TRUE(dd);
  EXPECT_EQ(dd->type, SeccompProfileType::kRuntimeDefault);
  auto un = ParseLegacySeccompProfile("unconfined");
  ASSERT_TRUE(un);
  EXPECT_EQ(un->type, SeccompProfileType::kUnconfined);
  auto empty = ParseLegacySeccompProfile("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->type, SeccompProfileType::kUnconfined);
  auto local = ParseLegacySeccompProfile("localhost//var/lib/kubelet/seccomp/p.json");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->type, SeccompProfileType::kLocalhost);
  EXPECT_EQ(local->localhost_path, "/var/lib/kubelet/seccomp/p.json");
}

TEST(SeccompLegacyString, RejectsUnknownAndRelative) {
  EXPECT_EQ(ParseLegacySeccompProfile("docker/strict").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseLegacySeccompProfile("localhost/relative.json").error().code,
            ErrorCode::kInvalidArgument);
}

TEST(SeccompCompile, UnconfinedGivesNoProgram) {
  auto p = CompileSeccompProfile({SeccompProfileType::kUnconfined, {}}, DefaultCapabilities());
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->has_value());
}

TEST(SeccompCompile, RuntimeDefaultCompilesToBpf) {
  auto p = CompileRuntimeDefaultSeccomp(DefaultCapabilities());
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_GT(p->filter.size(), 20u);
  // More capabilities relax the profile, so the program gets shorter.
  auto relaxed = CompileRuntimeDefaultSeccomp(AllCapabilities(40));
  ASSERT_TRUE(relaxed);
  EXPECT_LT(relaxed->filter.size(), p->filter.size());
}

TEST(SeccompCompile, JsonProfileWithArgsAndArchitectures) {
  const char* json = R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
      {"names": ["read", "write", "exit_group", "no_such_syscall_anywhere"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
      {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}},
      {"names": ["kill"], "action": "SCMP_ACT_LOG"}
    ]})";
  auto p = CompileSeccompJson(json, DefaultCapabilities());
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_GT(p->filter.size(), 5u);
}

void ExpectInvalid(const char* json, const char* needle) {
  auto p = CompileSeccompJson(json, DefaultCapabilities());
  ASSERT_FALSE(p) << json;
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(p.error().message.find(needle), std::string::npos) << p.error().message;
}

TEST(SeccompCompile, BadProfilesAreInvalidArgumentNamingTheProblem) {
  ExpectInvalid("{not json", "not valid JSON");
  ExpectInvalid("[]", "not a JSON object");
  ExpectInvalid(R"({"syscalls": []})", "defaultAction");
  ExpectInvalid(R"({"defaultAction": "SCMP_ACT_BOGUS"})", "SCMP_ACT_BOGUS");
  ExpectInvalid(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})",
                "SCMP_ARCH_Z80");
  ExpectInvalid(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]})",
                "no action");
  ExpectInvalid(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]})",
      "names no syscall");
  ExpectInvalid(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]})",
      "SCMP_CMP_ALMOST");
  ExpectInvalid(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
      "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
      "index 7");
  ExpectInvalid(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]})",
      "wrong type");
  ExpectInvalid(R"({"defaultAction": "SCMP_ACT_NOTIFY"})", "listener");
}

TEST(SeccompCompile, MissingLocalhostFileIsAFailedPrecondition) {
  auto p = CompileSeccompProfile({SeccompProfileType::kLocalhost, "/nonexistent/profile.json"}, 0);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace peapod::runtime
