// The pod controller's supervision on a real agent: restarts with CrashLoopBackOff per
// restartPolicy, init containers in order, sidecars, re-apply, delete, and the agent restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "controller_fixture.h"

namespace peapod::testing {
namespace {

using agent::controller::PodView;

class ControllerLifecycleTest : public ControllerFixture {};

TEST_F(ControllerLifecycleTest, ACrashingContainerIsRestartedWithBackOff) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo attempt; exit 1"]
)");
  auto pod = WaitPod(
      "crasher", [](const PodView& p) { return Restarts(p, "app") >= 3; }, "three restarts");
  EXPECT_EQ(pod.phase, "Running");
  EXPECT_TRUE(HasEvent(pod, "BackOff", "app")) << Describe(pod);
  EXPECT_TRUE(HasEvent(pod, "Started", "app"));
  // Between restarts the container waits in CrashLoopBackOff with its last exit recorded.
  pod = WaitReason("crasher", "app", "CrashLoopBackOff");
  auto* app = Find(pod, "app");
  ASSERT_NE(app, nullptr);
  ASSERT_TRUE(app->last_state.has_value());
  EXPECT_EQ(app->last_state->kind, "terminated");
  EXPECT_EQ(app->last_state->exit_code, 1);
  EXPECT_EQ(app->last_state->reason, "Error");
  EXPECT_EQ(Condition(pod, "Ready"), "False");
  // The previous instance's log is kept for `logs --previous`.
  auto previous = controller_->LogPath("default", "crasher", "app", true);
  ASSERT_TRUE(previous.has_value()) << previous.error().ToString();
  EXPECT_NE(ReadFile(*previous).find("attempt"), std::string::npos);
  auto current = controller_->LogPath("default", "crasher", "app", false);
  ASSERT_TRUE(current.has_value());
  EXPECT_NE(*current, *previous);
  // Only the current and the previous instance are kept.
  EXPECT_LE(agent_->containers().ListContainers({.pod_sandbox_id = pod.sandbox_id}).size(), 2u);
}

TEST_F(ControllerLifecycleTest, OnFailureRestartsOnlyFailuresAndNeverRestartsNothing) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: onfailure
spec:
  restartPolicy: OnFailure
  containers:
  - name: ok
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 0"]
  - name: bad
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 2"]
---
apiVersion: v1
kind: Pod
metadata:
  name: never-fails
spec:
  restartPolicy: Never
  containers:
  - name: bad
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 3"]
---
apiVersion: v1
kind: Pod
metadata:
  name: never-succeeds
spec:
  restartPolicy: Never
  containers:
  - name: ok
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 0"]
)");
  auto pod = WaitPod(
      "onfailure", [](const PodView& p) { return Restarts(p, "bad") >= 2; },
      "restarts of the failing container");
  EXPECT_EQ(Restarts(pod, "ok"), 0);
  auto* ok = Find(pod, "ok");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->state.kind, "terminated");
  EXPECT_EQ(ok->state.reason, "Completed");
  EXPECT_EQ(pod.phase, "Running");

  auto failed = WaitPod(
      "never-fails", [](const PodView& p) { return p.phase == "Failed"; }, "Failed");
  EXPECT_EQ(Restarts(failed, "bad"), 0);
  ASSERT_NE(Find(failed, "bad"), nullptr);
  EXPECT_EQ(Find(failed, "bad")->state.exit_code, 3);

  auto succeeded = WaitPod(
      "never-succeeds", [](const PodView& p) { return p.phase == "Succeeded"; }, "Succeeded");
  EXPECT_EQ(Restarts(succeeded, "ok"), 0);
  EXPECT_EQ(Condition(succeeded, "Ready"), "False");
}

TEST_F(ControllerLifecycleTest, InitContainersRunInOrderBeforeTheApp) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: inits
spec:
  volumes:
  - name: work
    emptyDir: {}
  initContainers:
  - name: first
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 0.3; echo first >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo second >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo app >> /work/order; exec sleep 3600"]
    volumeMounts: [{name: work, mountPath: /work}]
)");
  auto pod = WaitPod(
      "inits", [](const PodView& p) { return ContainerRunning(p, "app"); }, "app running");
  EXPECT_EQ(Condition(pod, "Initialized"), "True");
  for (const char* name : {"first", "second"}) {
    auto* c = Find(pod, name);
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->is_init);
    EXPECT_EQ(c->state.kind, "terminated");
    EXPECT_EQ(c->state.reason, "Completed");
  }
  WaitPod(
      "inits",
      [&](const PodView& p) {
        return ReadFile(VolumeDir(p, "work") + "/order") == "first\nsecond\napp\n";
      },
      "the order file");
}

TEST_F(ControllerLifecycleTest, AFailedInitContainerFailsANeverPodAndIsRetriedOtherwise) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: init-never
spec:
  restartPolicy: Never
  initContainers:
  - name: setup
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 4"]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: init-always
spec:
  initContainers:
  - name: setup
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 4"]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
)");
  auto failed = WaitPod(
      "init-never", [](const PodView& p) { return p.phase == "Failed"; }, "Failed");
  EXPECT_EQ(Restarts(failed, "setup"), 0);
  EXPECT_EQ(Find(failed, "app")->state.kind, "waiting");
  EXPECT_EQ(Condition(failed, "Initialized"), "False");
  auto retried = WaitPod(
      "init-always", [](const PodView& p) { return Restarts(p, "setup") >= 2; }, "init retries");
  EXPECT_EQ(retried.phase, "Pending");
  EXPECT_EQ(Find(retried, "app")->state.reason, "PodInitializing");
  EXPECT_FALSE(Find(retried, "app")->container_id.size());
}

TEST_F(ControllerLifecycleTest, ASidecarStartsBeforeTheAppAndIsRestartedWhenItExits) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: sidecar
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes:
  - name: work
    emptyDir: {}
  initContainers:
  - name: helper
    image: busybox
    imagePullPolicy: IfNotPresent
    restartPolicy: Always
    command: ["sh", "-c", "echo helper >> /work/order; touch /work/helper-up; sleep 3; exit 0"]
    volumeMounts: [{name: work, mountPath: /work}]
    startupProbe:
      exec:
        command: ["test", "-f", "/work/helper-up"]
      periodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo app >> /work/order; exec sleep 3600"]
    volumeMounts: [{name: work, mountPath: /work}]
)");
  auto pod = WaitPod(
      "sidecar",
      [](const PodView& p) { return ContainerRunning(p, "app") && Restarts(p, "helper") >= 2; },
      "the app running and the sidecar restarted");
  auto* helper = Find(pod, "helper");
  ASSERT_NE(helper, nullptr);
  EXPECT_TRUE(helper->is_sidecar);
  EXPECT_EQ(Restarts(pod, "app"), 0);
  std::string order = ReadFile(VolumeDir(pod, "work") + "/order");
  EXPECT_TRUE(order.starts_with("helper\napp\nhelper\n")) << order;
  // Sidecars stop after the app when the pod goes.
  ASSERT_TRUE(controller_->DeletePod("default", "sidecar", true).has_value());
}

TEST_F(ControllerLifecycleTest, ReapplyingIsANoOpAndAChangedSpecReplacesThePod) {
  const std::string yaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
)";
  auto first = Apply(yaml);
  ASSERT_EQ(first.objects.size(), 1u);
  EXPECT_EQ(first.objects[0].action, "created");
  EXPECT_EQ(first.objects[0].kind, "Pod");
  EXPECT_EQ(first.objects[0].name, "web");
  EXPECT_EQ(first.objects[0].namespace_, "default");
  auto pod = WaitRunning("web");
  auto again = Apply(yaml);
  ASSERT_EQ(again.objects.size(), 1u);
  EXPECT_EQ(again.objects[0].action, "unchanged");
  auto same = controller_->GetPod("default", "web");
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->uid, pod.uid);
  EXPECT_EQ(Find(*same, "app")->container_id, Find(pod, "app")->container_id);

  std::string changed = yaml;
  changed.replace(changed.find("3600"), 4, "3601");
  auto replaced = Apply(changed);
  ASSERT_EQ(replaced.objects.size(), 1u);
  EXPECT_EQ(replaced.objects[0].action, "configured");
  auto fresh = WaitPod(
      "web", [](const PodView& p) { return ContainerRunning(p, "app"); }, "running again");
  EXPECT_NE(fresh.uid, pod.uid);
  EXPECT_EQ(agent_->sandboxes().ListPodSandbox().size(), 1u);

  // A bad document anywhere changes nothing.
  auto bad = controller_->Apply(
      {{"ok.yaml", changed},
       {"bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\n"}});
  EXPECT_FALSE(bad.has_value());
  auto still = controller_->GetPod("default", "web");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->uid, fresh.uid);
}

TEST_F(ControllerLifecycleTest, DeleteLeavesNothingBehind) {
  Apply(R"(apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2
---
apiVersion: v1
kind: Pod
metadata:
  name: doomed
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: scratch
    emptyDir:
      medium: Memory
  - name: creds
    secret:
      secretName: creds
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: creds, mountPath: /creds}
)");
  auto pod = WaitRunning("doomed");
  EXPECT_EQ(Exec("doomed", "app", "cat /creds/password"), "hunter2");
  EXPECT_FALSE(MountsUnder(dir_ / "state").empty());
  ASSERT_TRUE(controller_->DeletePod("default", "doomed", true).has_value());
  EXPECT_EQ(controller_->GetPod("default", "doomed").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(controller_->ListPods().empty());
  EXPECT_TRUE(agent_->sandboxes().ListPodSandbox().empty());
  EXPECT_TRUE(agent_->containers().ListContainers().empty());
  EXPECT_TRUE(MountsUnder(dir_ / "state").empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ / ("state/controller/pod-data/" + pod.uid)));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "state/controller/pods/default_doomed.json"));
  EXPECT_TRUE(DirEntries(dir_ / "pod-logs").empty());
  EXPECT_EQ(controller_->DeletePod("default", "doomed", true).error().code, ErrorCode::kNotFound);
}

TEST_F(ControllerLifecycleTest, APodDeletedWhileItIsBeingCreatedIsCleanedUp) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: hasty
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "0.5"]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
)");
  ASSERT_TRUE(controller_->DeletePod("default", "hasty", true).has_value());
  EXPECT_TRUE(controller_->ListPods().empty());
  EXPECT_TRUE(agent_->sandboxes().ListPodSandbox().empty());
  EXPECT_TRUE(agent_->containers().ListContainers().empty());
}

TEST_F(ControllerLifecycleTest, AnAgentRestartKeepsPodsAndRestartCountsWithoutRestartingThem) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: survivor
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo init >> /work/runs"]
    volumeMounts: [{name: work, mountPath: /work}]
  volumes:
  - name: work
    emptyDir: {}
  containers:
  - name: steady
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
  - name: flaky
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 0.2; exit 1"]
)");
  auto before = WaitPod(
      "survivor",
      [](const PodView& p) { return ContainerRunning(p, "steady") && Restarts(p, "flaky") >= 2; },
      "steady running and flaky restarted");
  std::string steady_id = Find(before, "steady")->container_id;
  int32_t flaky_restarts = Restarts(before, "flaky");

  RestartAgent();
  ASSERT_FALSE(HasFatalFailure());
  auto after = WaitPod(
      "survivor",
      [&](const PodView& p) {
        return ContainerRunning(p, "steady") && Restarts(p, "flaky") > flaky_restarts;
      },
      "the pod back, flaky still counting");
  EXPECT_EQ(after.uid, before.uid);
  EXPECT_EQ(after.sandbox_id, before.sandbox_id);
  EXPECT_EQ(Find(after, "steady")->container_id, steady_id);
  EXPECT_EQ(Restarts(after, "steady"), 0);
  EXPECT_EQ(after.phase, "Running");
  EXPECT_EQ(Condition(after, "Initialized"), "True");
  EXPECT_EQ(ReadFile(VolumeDir(after, "work") + "/runs"), "init\n");  // init did not run again
}

TEST_F(ControllerLifecycleTest, APodWhosePauseDiedGetsANewSandbox) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: phoenix
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
)");
  auto pod = WaitRunning("phoenix");
  auto status = agent_->sandboxes().PodSandboxStatus(pod.sandbox_id, true);
  ASSERT_TRUE(status.has_value());
  int pause = std::stoi(status->info.at("pid"));
  ASSERT_GT(pause, 1);
  // pause is this test's own child (the agent runs in-process): killed by its pid.
  ASSERT_EQ(::kill(pause, SIGKILL), 0);
  auto after = WaitPod(
      "phoenix",
      [&](const PodView& p) {
        return p.sandbox_id != pod.sandbox_id && !p.sandbox_id.empty() &&
               ContainerRunning(p, "app");
      },
      "a new sandbox with the app running");
  EXPECT_TRUE(HasEvent(after, "SandboxChanged")) << Describe(after);
  EXPECT_EQ(Restarts(after, "app"), 1);
  EXPECT_EQ(agent_->sandboxes().ListPodSandbox().size(), 1u);
}

TEST_F(ControllerLifecycleTest, SidecarsStopAfterTheAppInReverseOrder) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: ordered-stop
spec:
  terminationGracePeriodSeconds: 5
  volumes:
  - name: out
    hostPath:
      path: )" +
        std::string(dir_ / "stop-order") + R"(
      type: DirectoryOrCreate
  initContainers:
  - name: first-sidecar
    image: busybox
    imagePullPolicy: IfNotPresent
    restartPolicy: Always
    command: ["sh", "-c", "trap 'echo first-sidecar >> /out/log; exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts: [{name: out, mountPath: /out}]
  - name: second-sidecar
    image: busybox
    imagePullPolicy: IfNotPresent
    restartPolicy: Always
    command: ["sh", "-c", "trap 'echo second-sidecar >> /out/log; exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts: [{name: out, mountPath: /out}]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'sleep 0.3; echo app >> /out/log; exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts: [{name: out, mountPath: /out}]
)");
  WaitPod(
      "ordered-stop",
      [](const PodView& p) {
        return ContainerRunning(p, "app") && ContainerRunning(p, "first-sidecar") &&
               ContainerRunning(p, "second-sidecar");
      },
      "everything running");
  ASSERT_TRUE(controller_->DeletePod("default", "ordered-stop", true).has_value());
  EXPECT_EQ(ReadFile(dir_ / "stop-order/log"), "app\nsecond-sidecar\nfirst-sidecar\n");
}

}  // namespace
}  // namespace peapod::testing
