// Probes and hooks run by the controller against real containers: exec, httpGet (busybox httpd
// on the pod IP, named port), tcpSocket; liveness restarts, readiness drives Ready both ways,
// preStop runs before the stop signal.
#include <gtest/gtest.h>

#include "controller_fixture.h"

namespace peapod::testing {
namespace {

using agent::controller::PodView;

class ControllerProbeTest : public ControllerFixture {};

TEST_F(ControllerProbeTest, AFailingLivenessProbeRestartsTheContainer) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: live
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "touch /tmp/healthy; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    livenessProbe:
      exec:
        command: ["test", "-f", "/tmp/healthy"]
      periodSeconds: 1
      failureThreshold: 2
)");
  auto pod = WaitRunning("live");
  std::string first_id = Find(pod, "app")->container_id;
  auto healthy = [&](const PodView&) {
    return Exec("live", "app", "test -f /tmp/healthy && echo yes") == "yes\n";
  };
  WaitPod("live", healthy, "the container to mark itself healthy");
  Exec("live", "app", "rm /tmp/healthy");
  pod = WaitPod(
      "live",
      [](const PodView& p) { return Restarts(p, "app") == 1 && ContainerRunning(p, "app"); },
      "the restart");
  EXPECT_NE(Find(pod, "app")->container_id, first_id);
  EXPECT_TRUE(HasEvent(pod, "Unhealthy", "app")) << Describe(pod);
  EXPECT_TRUE(HasEvent(pod, "Killing", "app")) << Describe(pod);
  ASSERT_TRUE(Find(pod, "app")->last_state.has_value());
  EXPECT_EQ(Find(pod, "app")->last_state->exit_code, 0);  // it got SIGTERM and trapped it
  // The new instance is healthy again (its own /tmp/healthy).
  WaitPod("live", healthy, "the new instance to mark itself healthy");
}

TEST_F(ControllerProbeTest, ReadinessFlipsTheReadyConditionBothWays) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: ready
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    readinessProbe:
      exec:
        command: ["test", "-f", "/tmp/ready"]
      periodSeconds: 1
)");
  auto pod = WaitRunning("ready");
  EXPECT_EQ(Condition(pod, "Ready"), "False");
  EXPECT_FALSE(Find(pod, "app")->ready);
  Exec("ready", "app", "touch /tmp/ready");
  pod = WaitPod(
      "ready", [](const PodView& p) { return Condition(p, "Ready") == "True"; }, "Ready");
  EXPECT_EQ(Condition(pod, "ContainersReady"), "True");
  EXPECT_TRUE(Find(pod, "app")->ready);
  Exec("ready", "app", "rm /tmp/ready");
  pod = WaitPod(
      "ready", [](const PodView& p) { return Condition(p, "Ready") == "False"; }, "not Ready");
  EXPECT_FALSE(Find(pod, "app")->ready);
  EXPECT_EQ(Restarts(pod, "app"), 0);  // readiness never restarts
  EXPECT_TRUE(HasEvent(pod, "Unhealthy", "app"));
}

TEST_F(ControllerProbeTest, HttpGetAndTcpSocketProbesReachThePod) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
    - name: http
      containerPort: 8080
    readinessProbe:
      httpGet:
        path: /index.html
        port: http
      periodSeconds: 1
    livenessProbe:
      tcpSocket:
        port: 8080
      periodSeconds: 1
  - name: missing
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    readinessProbe:
      httpGet:
        path: /missing.html
        port: 8080
      periodSeconds: 1
  - name: closed
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    readinessProbe:
      tcpSocket:
        port: 9999
      periodSeconds: 1
)");
  auto pod = WaitPod(
      "web",
      [](const PodView& p) {
        auto* h = Find(p, "httpd");
        return h && h->ready && HasEvent(p, "Unhealthy", "missing") &&
               HasEvent(p, "Unhealthy", "closed");
      },
      "httpd ready and the others failing");
  EXPECT_FALSE(pod.pod_ip.empty());
  EXPECT_FALSE(Find(pod, "missing")->ready);
  EXPECT_FALSE(Find(pod, "closed")->ready);
  EXPECT_EQ(Condition(pod, "Ready"), "False");
  bool saw_404 = false;
  for (const auto& e : pod.events) {
    if (e.object.find("missing") != std::string::npos &&
        e.message.find("statuscode: 404") != std::string::npos) {
      saw_404 = true;
    }
  }
  EXPECT_TRUE(saw_404) << Describe(pod);
  EXPECT_EQ(Restarts(pod, "httpd"), 0);
}

TEST_F(ControllerProbeTest, PreStopRunsBeforeTheStopSignal) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: hooks
spec:
  terminationGracePeriodSeconds: 5
  volumes:
  - name: out
    hostPath:
      path: )" +
        std::string(dir_ / "hook-out") + R"(
      type: DirectoryOrCreate
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'echo term >> /out/log; exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo poststart >> /out/log"]
      preStop:
        exec:
          command: ["sh", "-c", "echo prestop >> /out/log"]
)");
  WaitRunning("hooks");
  ASSERT_TRUE(controller_->DeletePod("default", "hooks", true).has_value());
  EXPECT_EQ(ReadFile(dir_ / "hook-out/log"), "poststart\nprestop\nterm\n");
}

TEST_F(ControllerProbeTest, AFailingPostStartHookKillsTheContainer) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: badhook
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "exit 1"]
)");
  auto pod = WaitPod(
      "badhook", [](const PodView& p) { return p.phase == "Succeeded" || p.phase == "Failed"; },
      "the pod to end");
  EXPECT_TRUE(HasEvent(pod, "FailedPostStartHook", "app")) << Describe(pod);
  EXPECT_EQ(Find(pod, "app")->state.kind, "terminated");
}

TEST_F(ControllerProbeTest, AGrpcProbeAsksTheHealthService) {
  ASSERT_FALSE(LoadImage("etcd.oci.tar").empty());
  // etcd serves grpc.health.v1 on its client port.
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: etcd
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: etcd
    image: etcd
    imagePullPolicy: IfNotPresent
    readinessProbe:
      grpc:
        port: 2379
      periodSeconds: 1
  - name: other
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    readinessProbe:
      grpc:
        port: 2379
        service: no.such.Service
      periodSeconds: 1
)");
  auto pod = WaitPod(
      "etcd",
      [](const PodView& p) {
        auto* e = Find(p, "etcd");
        bool other_answered = false;  // failing by the server's answer, not by a refused connection
        for (const auto& ev : p.events) {
          if (ev.object.find("other") != std::string::npos && ev.reason == "Unhealthy" &&
              ev.message.find("connect") == std::string::npos) {
            other_answered = true;
          }
        }
        return e && e->ready && other_answered;
      },
      "etcd ready by its gRPC health, the unknown service failing");
  EXPECT_FALSE(Find(pod, "other")->ready);
  EXPECT_EQ(Restarts(pod, "etcd"), 0);
}

TEST_F(ControllerProbeTest, TheStartupProbeHoldsLivenessBackAndRestartsWhenItFails) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    startupProbe:
      exec:
        command: ["test", "-f", "/tmp/started"]
      periodSeconds: 1
      failureThreshold: 2
    livenessProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
      failureThreshold: 1
)");
  auto pod = WaitPod(
      "slow", [](const PodView& p) { return Restarts(p, "app") >= 1; }, "a restart");
  bool startup_kill = false, liveness_kill = false;
  for (const auto& e : pod.events) {
    if (e.reason != "Killing") continue;
    startup_kill |= e.message.find("failed startup probe") != std::string::npos;
    liveness_kill |= e.message.find("failed liveness probe") != std::string::npos;
  }
  EXPECT_TRUE(startup_kill) << Describe(pod);
  EXPECT_FALSE(liveness_kill) << Describe(pod);  // liveness waits for the startup probe
  EXPECT_FALSE(Find(pod, "app")->started);
}

}  // namespace
}  // namespace peapod::testing
