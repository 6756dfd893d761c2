// Supervision seen through the CLI, as a user sees it: restart counting and CrashLoopBackOff,
// liveness restarts, readiness flipping Ready, init containers in order, OnFailure vs Never,
// and an agent restart that keeps pods and their restart counts.
#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

using nlohmann::json;

class Supervision : public CliTest {};

TEST_F(Supervision, ContainerThatExitsOneIsRestartedWithBackoff) {
  auto applied = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'echo "run"; exit 1']
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  EXPECT_EQ(applied.out, "pod/crash created\n");
  ASSERT_TRUE(WaitUntil([&] { return RestartCount(Pod("crash"), "app") >= 2; }))
      << Cli({"describe", "pod", "crash"}).out;
  // Between restarts the container waits in CrashLoopBackOff, and kubectl's table says so.
  ASSERT_TRUE(WaitUntil([&] {
    auto s = ContainerStatus(Pod("crash"), "app");
    return s.is_object() && s["state"].contains("waiting") &&
           s["state"]["waiting"].value("reason", "") == "CrashLoopBackOff";
  }));
  auto pod = Pod("crash");
  auto last = ContainerStatus(pod, "app")["lastState"]["terminated"];
  EXPECT_EQ(last.value("exitCode", -1), 1);
  EXPECT_EQ(last.value("reason", ""), "Error");
  auto describe = Cli({"describe", "pod", "crash"});
  EXPECT_NE(describe.out.find("BackOff"), std::string::npos) << describe.out;
  auto previous = Cli({"logs", "crash", "--previous"});
  EXPECT_EQ(previous.exit_code, 0) << previous.Describe();
  EXPECT_EQ(previous.out, "run\n");
}

TEST_F(Supervision, FailingLivenessProbeRestartsTheContainer) {
  auto applied = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: live
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'touch /tmp/healthy; exec sleep 3600']
      livenessProbe:
        exec:
          command: [test, -f, /tmp/healthy]
        periodSeconds: 1
        failureThreshold: 2
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("live", "app"));
  EXPECT_EQ(RestartCount(Pod("live"), "app"), 0);
  auto rm = Cli({"exec", "live", "--", "rm", "/tmp/healthy"});
  ASSERT_EQ(rm.exit_code, 0) << rm.Describe();
  EXPECT_TRUE(WaitUntil([&] { return RestartCount(Pod("live"), "app") >= 1; }))
      << Cli({"describe", "pod", "live"}).out;
  auto describe = Cli({"describe", "pod", "live"});
  EXPECT_NE(describe.out.find("Unhealthy"), std::string::npos) << describe.out;
  // The new instance wrote its health file again and stays up.
  EXPECT_TRUE(WaitRunning("live", "app"));
}

TEST_F(Supervision, ReadinessProbeFlipsReady) {
  auto applied = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: ready
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'exec sleep 3600']
      readinessProbe:
        exec:
          command: [test, -f, /tmp/ready]
        periodSeconds: 1
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("ready", "app"));
  EXPECT_FALSE(PodReady(Pod("ready")));
  EXPECT_NE(Cli({"get", "pods"}).out.find("ready   0/1     Running"), std::string::npos);

  ASSERT_EQ(Cli({"exec", "ready", "--", "touch", "/tmp/ready"}).exit_code, 0);
  EXPECT_TRUE(WaitPodReady("ready", true));
  EXPECT_NE(Cli({"get", "pods"}).out.find("ready   1/1     Running"), std::string::npos);

  ASSERT_EQ(Cli({"exec", "ready", "--", "rm", "/tmp/ready"}).exit_code, 0);
  EXPECT_TRUE(WaitPodReady("ready", false));
  EXPECT_EQ(RestartCount(Pod("ready"), "app"), 0);  // readiness never restarts
}

TEST_F(Supervision, InitContainersRunInOrderBeforeTheApp) {
  auto applied = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: inits
spec:
  terminationGracePeriodSeconds: 1
  volumes:
    - name: shared
      emptyDir: {}
  initContainers:
    - name: first
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'sleep 1; echo first >>/shared/order']
      volumeMounts: [{name: shared, mountPath: /shared}]
    - name: second
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'test -f /shared/order && echo second >>/shared/order']
      volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'echo app >>/shared/order; exec sleep 3600']
      volumeMounts: [{name: shared, mountPath: /shared}]
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("inits", "app")) << Cli({"describe", "pod", "inits"}).out;
  auto order = Cli({"exec", "inits", "--", "cat", "/shared/order"});
  EXPECT_EQ(order.out, "first\nsecond\napp\n") << order.Describe();
  auto pod = Pod("inits");
  for (const char* init : {"first", "second"}) {
    auto s = ContainerStatus(pod, init);
    EXPECT_EQ(s["state"]["terminated"].value("reason", ""), "Completed") << s.dump();
    EXPECT_EQ(s.value("restartCount", -1), 0);
  }
}

TEST_F(Supervision, OnFailureRestartsOnlyFailuresAndNeverRestartsNothing) {
  auto applied = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: onfailure
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: OnFailure
  containers:
    - name: ok
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'exit 0']
    - name: fails-twice
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      # Counts its runs in an emptyDir; succeeds on the third.
      command: [sh, -c, 'echo x >>/state/runs; [ $(wc -l </state/runs) -ge 3 ]']
      volumeMounts: [{name: state, mountPath: /state}]
  volumes:
    - name: state
      emptyDir: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
    - name: fails
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'exit 3']
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitUntil([&] {
    return Pod("onfailure")["status"].value("phase", "") == "Succeeded";
  })) << Cli({"describe", "pod", "onfailure"}).out;
  auto pod = Pod("onfailure");
  EXPECT_EQ(RestartCount(pod, "ok"), 0);
  EXPECT_EQ(RestartCount(pod, "fails-twice"), 2);
  EXPECT_NE(Cli({"get", "pods", "onfailure"}).out.find("Completed"), std::string::npos);

  ASSERT_TRUE(WaitUntil([&] { return Pod("never")["status"].value("phase", "") == "Failed"; }))
      << Cli({"describe", "pod", "never"}).out;
  auto never = Pod("never");
  EXPECT_EQ(RestartCount(never, "fails"), 0);
  EXPECT_EQ(ContainerStatus(never, "fails")["state"]["terminated"].value("exitCode", -1), 3);
  EXPECT_NE(Cli({"get", "pods", "never"}).out.find("Error"), std::string::npos);
}

TEST_F(Supervision, AgentRestartKeepsPodsAndRestartCounts) {
  auto applied = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: steady
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'exec sleep 3600']
---
apiVersion: v1
kind: Pod
metadata:
  name: flaky
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: busybox:latest
      imagePullPolicy: IfNotPresent
      command: [sh, -c, 'exit 1']
)");
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("steady", "app"));
  ASSERT_TRUE(WaitUntil([&] { return RestartCount(Pod("flaky"), "app") >= 1; }));
  std::string steady_id = ContainerStatus(Pod("steady"), "app").value("containerID", "");
  int flaky_restarts = RestartCount(Pod("flaky"), "app");

  ASSERT_EQ(WEXITSTATUS(daemon_->Terminate(SIGTERM)), 0);
  auto down = Cli({"get", "pods"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("cannot reach peapodd at"), std::string::npos) << down.err;
  ASSERT_TRUE(daemon_->Restart()) << daemon_->Log();

  auto steady = Pod("steady");
  ASSERT_TRUE(steady.is_object()) << daemon_->Log();
  EXPECT_EQ(ContainerStatus(steady, "app").value("containerID", ""), steady_id);
  EXPECT_EQ(RestartCount(steady, "app"), 0);
  EXPECT_EQ(StateKind(steady, "app"), "running");
  EXPECT_GE(RestartCount(Pod("flaky"), "app"), flaky_restarts);
  // Supervision goes on after the restart.
  EXPECT_TRUE(WaitUntil([&] { return RestartCount(Pod("flaky"), "app") > flaky_restarts; }));
}

}  // namespace
}  // namespace peapod::testing
