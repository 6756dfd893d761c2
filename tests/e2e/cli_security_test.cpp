// Security requests through the CLI against a real peapodd: `peapod apply` of a pod asking for
// isolation peapod cannot give exits 1 with `file:line: field: why` and creates nothing; a
// Localhost seccomp profile under the node's profile root is applied for real; `peapod load` of a
// decompression bomb is refused under the daemon's limits and leaves nothing behind.
#include <algorithm>
#include <filesystem>

#include "e2e/cli_fixture.h"
#include "integration/image_tar_builder.h"
#include "integration/oci_layout_builder.h"

namespace peapod::testing {
namespace {

struct RefusedPod {
  const char* what;
  const char* yaml;
  const char* expected;  // "-:<line>: <field>: " and a part of the reason
  const char* because;
};

// Line numbers are of the YAML below (line 1 is "apiVersion: v1").
const RefusedPod kRefusedPods[] = {
    {"hostUsers: false with hostPID", R"(apiVersion: v1
kind: Pod
metadata:
  name: userns
spec:
  hostUsers: false
  hostPID: true
  containers:
  - name: c
    image: busybox:latest
)",
     "-:6: spec.hostUsers: ", "hostPID"},
    {"seLinuxOptions", R"(apiVersion: v1
kind: Pod
metadata:
  name: selinux
spec:
  securityContext:
    seLinuxOptions: {level: "s0:c123,c456"}
  containers:
  - name: c
    image: busybox:latest
)",
     "-:7: spec.securityContext.seLinuxOptions: ", "SELinux"},
    {"appArmorProfile RuntimeDefault", R"(apiVersion: v1
kind: Pod
metadata:
  name: apparmor
spec:
  containers:
  - name: c
    image: busybox:latest
    securityContext:
      appArmorProfile:
        type: RuntimeDefault
)",
     "-:11: spec.containers[0].securityContext.appArmorProfile.type: ", "AppArmor"},
    {"procMount Unmasked", R"(apiVersion: v1
kind: Pod
metadata:
  name: unmasked
spec:
  containers:
  - name: c
    image: busybox:latest
    securityContext:
      procMount: Unmasked
)",
     "-:10: spec.containers[0].securityContext.procMount: ", "user namespace"},
    {"a seccomp profile missing from the node", R"(apiVersion: v1
kind: Pod
metadata:
  name: seccomp
spec:
  containers:
  - name: c
    image: busybox:latest
    securityContext:
      seccompProfile:
        type: Localhost
        localhostProfile: profiles/missing.json
)",
     "-:12: spec.containers[0].securityContext.seccompProfile.localhostProfile: ",
     "will not run the pod unconfined"},
    {"a runtime class the node lacks", R"(apiVersion: v1
kind: Pod
metadata:
  name: sandboxed
spec:
  runtimeClassName: gvisor
  containers:
  - name: c
    image: busybox:latest
)",
     "-:6: spec.runtimeClassName: ", "no runtime handler \"gvisor\""},
    {"a sysctl of the whole node", R"(apiVersion: v1
kind: Pod
metadata:
  name: panic
spec:
  securityContext:
    sysctls:
    - name: kernel.panic
      value: "1"
  containers:
  - name: c
    image: busybox:latest
)",
     "-:8: spec.securityContext.sysctls[0].name: ", "whole node"},
    {"a size limit on a disk emptyDir", R"(apiVersion: v1
kind: Pod
metadata:
  name: scratch
spec:
  containers:
  - name: c
    image: busybox:latest
  volumes:
  - name: scratch
    emptyDir:
      sizeLimit: 1Gi
)",
     "-:12: spec.volumes[0].emptyDir.sizeLimit: ", "medium: Memory"},
};

class CliSecurity : public CliTest {};

TEST_F(CliSecurity, ApplyOfAPodAskingForWhatPeapodCannotGiveFailsAndCreatesNothing) {
  for (const auto& pod : kRefusedPods) {
    SCOPED_TRACE(pod.what);
    auto r = Apply(pod.yaml);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(pod.expected), std::string::npos) << r.Describe();
    EXPECT_NE(r.err.find(pod.because), std::string::npos) << r.Describe();
    EXPECT_EQ(r.err.find("Warning"), std::string::npos) << r.Describe();
    EXPECT_EQ(r.out, "");
  }
  auto pods = GetJson({"get", "pods", "-A", "-o", "json"});
  ASSERT_TRUE(pods.is_object());
  EXPECT_TRUE(pods["items"].empty()) << pods.dump();
  EXPECT_TRUE(daemon_->Leftovers().empty()) << ::testing::PrintToString(daemon_->Leftovers());
}

TEST_F(CliSecurity, LocalhostSeccompProfileFromTheProfileRootIsApplied) {
  std::string root = daemon_->state_root() + "/seccomp/profiles";
  std::filesystem::create_directories(root);
  WriteFile(root + "/no-mkdir.json",
            R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],
                "action":"SCMP_ACT_ERRNO","errnoRet":1}]})");
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: confined
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir /tmp/d; echo mkdir=$?; sleep 3600"]
    securityContext:
      seccompProfile:
        type: Localhost
        localhostProfile: profiles/no-mkdir.json
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(WaitUntil([&] {
    return Cli({"logs", "confined"}).out.find("mkdir=1") != std::string::npos;
  })) << Cli({"logs", "confined"}).Describe();
}

// The daemon with small image limits, so that the bombs stay small and fast.
class CliImageLimits : public CliTest {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--max-image-size", "64Mi", "--max-image-entries", "5000"};
  }
};

TEST_F(CliImageLimits, LoadOfABombIsRefusedAndLeavesNothingBehind) {
  TempDir dir("peapod-e2e-bomb");
  TarBuilder(dir / "zeros.tar.gz", TarBuilder::Compression::kGzip)
      .Zeros("zeros", int64_t{256} << 20);
  {
    TarBuilder tiny(dir / "tiny.tar");
    for (int i = 0; i < 6000; ++i) tiny.File("f" + std::to_string(i), "");
  }
  auto state = [&] {
    std::vector<std::string> out;
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(daemon_->state_root() + "/image")) {
      out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<std::string> before = state();
  struct Bomb {
    const char* layer;
    const char* name;
    const char* because;
  } bombs[] = {
      {"zeros.tar.gz", "docker.io/library/zeros:1", "more than 64 MiB (limit: --max-image-size)"},
      {"tiny.tar", "docker.io/library/tiny:1",
       "more than 5000 entries (limit: --max-image-entries)"}};
  for (const auto& bomb : bombs) {
    SCOPED_TRACE(bomb.name);
    OciLayoutBuilder layout(dir / (std::string(bomb.layer) + "-layout"));
    layout.Image({dir / bomb.layer}, bomb.name);
    std::string archive = dir / (std::string(bomb.layer) + ".oci.tar");
    layout.WriteArchive(archive);
    auto r = Cli({"load", "-i", archive});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find("image \"" + std::string(bomb.name) + "\""), std::string::npos)
        << r.Describe();
    EXPECT_NE(r.err.find(bomb.because), std::string::npos) << r.Describe();
    auto images = Cli({"images"});
    EXPECT_EQ(images.out.find(bomb.name), std::string::npos) << images.Describe();
  }
  EXPECT_EQ(state(), before) << "the refused images left something behind";
  // A good image still loads.
  auto good = Cli({"load", "-i", TestImagesDir() + "/busybox.docker.tar"});
  EXPECT_EQ(good.exit_code, 0) << good.Describe();
}

}  // namespace
}  // namespace peapod::testing
