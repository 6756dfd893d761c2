// Pod lifecycle fields of Kubernetes 1.29-1.34 through `peapod apply` against a real peapodd:
// a container's own restartPolicy and restartPolicyRules (KEP-5307) decide its restarts and the
// pod's phase, and the PodReadyToStartContainers condition follows the pod's sandbox.
#include <filesystem>

#include "e2e/cli_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

class CliRestartRules : public CliTest {
 protected:
  static std::string Phase(const nlohmann::json& pod) {
    if (!pod.is_object()) return "";
    return pod["status"].value("phase", "");
  }
  static std::string Condition(const nlohmann::json& pod, const std::string& type) {
    if (!pod.is_object()) return "";
    for (const auto& c : pod["status"].value("conditions", nlohmann::json::array())) {
      if (c.value("type", "") == type) return c.value("status", "");
    }
    return "";
  }
};

// Exit 42 the first time (a rule restarts it although its policy is Never), 0 the second.
TEST_F(CliRestartRules, ARuleRestartsOnItsExitCodeAndTheContainerPolicyDecidesTheRest) {
  TempDir dir;
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: rules
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  containers:
  - name: retried
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "if [ -e /out/once ]; then exit 0; fi; touch /out/once; exit 42"]
    restartPolicy: Never
    restartPolicyRules:
    - action: Restart
      exitCodes: {operator: In, values: [42]}
    volumeMounts:
    - {name: out, mountPath: /out}
  - name: once
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "exit 3"]
    restartPolicy: Never
  volumes:
  - name: out
    hostPath: {path: )" +
                 dir.path() + R"(}
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  // Neither is restarted by the pod's Always: both end, one failed, so the pod failed.
  EXPECT_TRUE(WaitUntil([&] { return Phase(Pod("rules")) == "Failed"; })) << Pod("rules").dump(2);
  auto pod = Pod("rules");
  EXPECT_EQ(RestartCount(pod, "retried"), 1) << pod.dump(2);
  EXPECT_EQ(RestartCount(pod, "once"), 0) << pod.dump(2);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/once"));
  // The sandbox is stopped with the pod: no longer ready to start containers.
  EXPECT_EQ(Condition(pod, "PodReadyToStartContainers"), "False") << pod.dump(2);
}

TEST_F(CliRestartRules, PodReadyToStartContainersIsTrueOnceTheSandboxRuns) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: sandboxed
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(WaitPodReady("sandboxed"));
  EXPECT_EQ(Condition(Pod("sandboxed"), "PodReadyToStartContainers"), "True")
      << Pod("sandboxed").dump(2);
}

}  // namespace
}  // namespace peapod::testing
