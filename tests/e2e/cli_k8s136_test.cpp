// Pod fields of Kubernetes 1.31-1.36 through `peapod apply` against a real peapodd:
// securityContext.supplementalGroupsPolicy (KEP-3619), volumeMounts[].recursiveReadOnly
// (KEP-3857) and lifecycle.stopSignal (KEP-4960), each checked from inside the container.
#include <sys/mount.h>

#include <filesystem>

#include "e2e/cli_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

class CliK8s136 : public CliTest {
 protected:
  // True once the log of `container` in `pod` holds `text`.
  bool WaitForLog(const std::string& pod, const std::string& container, const std::string& text) {
    return WaitUntil([&] {
      return Cli({"logs", pod, "-c", container}).out.find(text) != std::string::npos;
    });
  }
  std::string Log(const std::string& pod, const std::string& container) {
    return Cli({"logs", pod, "-c", container}).Describe();
  }
};

// busybox's /etc/group makes "app" (uid 1000) a member of "users" (100).
TEST_F(CliK8s136, SupplementalGroupsPolicyStrictLeavesOutTheImagesGroupsMergeKeepsThem) {
  for (const auto& [policy, groups] :
       {std::pair{"Merge", "Groups:\t100 1000 4000"}, std::pair{"Strict", "Groups:\t1000 4000"}}) {
    SCOPED_TRACE(policy);
    std::string name = std::string("groups-") + (policy[0] == 'M' ? "merge" : "strict");
    auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: )" + name + R"(
spec:
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsUser: 1000
    supplementalGroups: [4000]
    supplementalGroupsPolicy: )" +
                   policy + R"(
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "grep Groups /proc/self/status; sleep 3600"]
)");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_TRUE(WaitForLog(name, "c", groups)) << Log(name, "c");
  }
}

// A hostPath volume with a tmpfs mounted below it, mounted read-only three ways.
TEST_F(CliK8s136, RecursiveReadOnlyMakesTheSubmountReadOnlyAndDisabledLeavesItWritable) {
  TempDir dir;
  std::string volume = dir.path() + "/volume";
  std::filesystem::create_directories(volume + "/sub");
  ASSERT_EQ(::mount("tmpfs", (volume + "/sub").c_str(), "tmpfs", 0, "size=1m"), 0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{volume + "/sub"};

  const char* script = "touch /data/sub/$HOSTNAME-$0 2>/dev/null; echo sub=$?; sleep 3600";
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: rro
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: enabled
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, ")" +
                 std::string(script) + R"(", enabled]
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true, recursiveReadOnly: Enabled}
  - name: ifpossible
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, ")" +
                 std::string(script) + R"(", ifpossible]
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true, recursiveReadOnly: IfPossible}
  - name: disabled
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, ")" +
                 std::string(script) + R"(", disabled]
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true}
  volumes:
  - name: data
    hostPath: {path: )" +
                 volume + R"(}
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(WaitForLog("rro", "enabled", "sub=1")) << Log("rro", "enabled");
  EXPECT_TRUE(WaitForLog("rro", "ifpossible", "sub=1")) << Log("rro", "ifpossible");
  EXPECT_TRUE(WaitForLog("rro", "disabled", "sub=0")) << Log("rro", "disabled");
  EXPECT_TRUE(std::filesystem::exists(volume + "/sub/rro-disabled"));
  EXPECT_FALSE(std::filesystem::exists(volume + "/sub/rro-enabled"));
  EXPECT_EQ(Cli({"delete", "pod", "rro"}).exit_code, 0);
}

TEST_F(CliK8s136, RecursiveReadOnlyEnabledOnAWritableMountIsRefusedWithItsLine) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: bad-rro
spec:
  containers:
  - name: c
    image: busybox:latest
    volumeMounts:
    - name: data
      mountPath: /data
      recursiveReadOnly: Enabled
  volumes:
  - {name: data, emptyDir: {}}
)");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("-:12: spec.containers[0].volumeMounts[0].recursiveReadOnly: "),
            std::string::npos)
      << r.Describe();
  EXPECT_NE(r.err.find("readOnly"), std::string::npos) << r.Describe();
}

TEST_F(CliK8s136, LifecycleStopSignalIsWhatDeleteSendsFirst) {
  TempDir dir;
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: stopper
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "trap 'echo usr1 > /out/signal; exit 0' USR1; trap 'echo term > /out/signal; exit 0' TERM; echo ready; while true; do sleep 0.1; done"]
    lifecycle:
      stopSignal: SIGUSR1
    volumeMounts:
    - {name: out, mountPath: /out}
  volumes:
  - name: out
    hostPath: {path: )" +
                 dir.path() + R"(}
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitForLog("stopper", "c", "ready")) << Log("stopper", "c");
  EXPECT_EQ(Cli({"delete", "pod", "stopper"}).exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir.path() + "/signal"); }));
  EXPECT_EQ(ReadFile(dir.path() + "/signal"), "usr1\n");
}

}  // namespace
}  // namespace peapod::testing
