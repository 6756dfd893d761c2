// Pod spec fields as the containers see them: security contexts and fsGroup, resources in the
// CRI config, hostname/subdomain/hostAliases and dnsConfig, termination messages, image pull
// failures.
#include <gtest/gtest.h>

#include "controller_fixture.h"

namespace peapod::testing {
namespace {

using agent::controller::PodView;

class ControllerPodSpecTest : public ControllerFixture {};

TEST_F(ControllerPodSpecTest, SecurityContextsAndFsGroupReachTheContainer) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: secure
spec:
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    fsGroup: 2000
    supplementalGroups: [4000]
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "id > /data/id; (touch /rootfs-test 2>/dev/null && echo writable || echo readonly) > /data/rootfs; grep NoNewPrivs /proc/self/status > /data/nnp; touch /data/file; stat -c %g /data/file > /data/group; exec sleep 3600"]
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
    volumeMounts: [{name: data, mountPath: /data}]
)");
  auto pod = WaitPod(
      "secure",
      [&](const PodView& p) {
        return ContainerRunning(p, "app") && !ReadFile(VolumeDir(p, "data") + "/group").empty();
      },
      "the container's report");
  std::string dir = VolumeDir(pod, "data");
  std::string id = ReadFile(dir + "/id");
  EXPECT_NE(id.find("uid=1000"), std::string::npos) << id;
  EXPECT_NE(id.find("gid=3000"), std::string::npos) << id;
  EXPECT_NE(id.find("2000"), std::string::npos) << id;
  EXPECT_NE(id.find("4000"), std::string::npos) << id;
  EXPECT_EQ(ReadFile(dir + "/rootfs"), "readonly\n");
  EXPECT_NE(ReadFile(dir + "/nnp").find("1"), std::string::npos);
  EXPECT_EQ(ReadFile(dir + "/group"), "2000\n");  // the emptyDir is setgid to fsGroup
}

TEST_F(ControllerPodSpecTest, RunAsNonRootRefusesAnImageThatRunsAsRoot) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: rootless
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    securityContext:
      runAsNonRoot: true
)");
  auto pod = WaitReason("rootless", "app", "CreateContainerConfigError");
  EXPECT_NE(Find(pod, "app")->state.message.find("runAsNonRoot"), std::string::npos);
  EXPECT_TRUE(agent_->containers().ListContainers().empty());
}

TEST_F(ControllerPodSpecTest, ResourcesBecomeCriLimitsAsKubeletConvertsThem) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: limited
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: 250m, memory: 32Mi}
      limits: {cpu: 500m, memory: 64Mi}
)");
  auto pod = WaitRunning("limited");
  auto st = agent_->containers().ContainerStatus(Find(pod, "app")->container_id);
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(st->status.resources.has_value());
  EXPECT_EQ(st->status.resources->cpu_shares, 256);
  EXPECT_EQ(st->status.resources->cpu_period, 100000);
  EXPECT_EQ(st->status.resources->cpu_quota, 50000);
  EXPECT_EQ(st->status.resources->memory_limit_in_bytes, 64 << 20);
  EXPECT_EQ(st->status.labels.at("io.kubernetes.pod.name"), "limited");
  EXPECT_EQ(st->status.labels.at("io.kubernetes.container.name"), "app");
}

TEST_F(ControllerPodSpecTest, HostnameSubdomainHostAliasesAndDnsConfigAreWritten) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: named
spec:
  terminationGracePeriodSeconds: 1
  hostname: web-0
  subdomain: backends
  hostAliases:
  - ip: 10.9.8.7
    hostnames: [db.internal, cache.internal]
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.0.0.53]
    searches: [svc.example]
    options:
    - name: ndots
      value: "3"
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
)");
  auto pod = WaitRunning("named");
  EXPECT_EQ(Exec("named", "app", "hostname"), "web-0\n");
  std::string hosts = Exec("named", "app", "cat /etc/hosts");
  EXPECT_NE(hosts.find(pod.pod_ip + "\tweb-0.backends.default.svc.cluster.local\tweb-0\n"),
            std::string::npos)
      << hosts;
  EXPECT_NE(hosts.find("10.9.8.7\tdb.internal\tcache.internal\n"), std::string::npos) << hosts;
  std::string resolv = Exec("named", "app", "cat /etc/resolv.conf");
  EXPECT_NE(resolv.find("nameserver 10.0.0.53\n"), std::string::npos) << resolv;
  EXPECT_NE(resolv.find("search svc.example\n"), std::string::npos) << resolv;
  EXPECT_NE(resolv.find("options ndots:3\n"), std::string::npos) << resolv;
}

TEST_F(ControllerPodSpecTest, TheTerminationMessageIsReported) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: farewell
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo 'bye now' > /dev/termination-log; exit 3"]
  - name: logger
    image: busybox
    imagePullPolicy: IfNotPresent
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo oops-in-the-log; exit 5"]
)");
  auto pod = WaitPod(
      "farewell", [](const PodView& p) { return p.phase == "Failed"; }, "Failed");
  auto* app = Find(pod, "app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->state.kind, "terminated");
  EXPECT_EQ(app->state.exit_code, 3);
  EXPECT_EQ(app->state.message, "bye now\n");
  auto* logger = Find(pod, "logger");
  ASSERT_NE(logger, nullptr);
  EXPECT_EQ(logger->state.exit_code, 5);
  EXPECT_EQ(logger->state.message, "oops-in-the-log\n");
}

TEST_F(ControllerPodSpecTest, AnImageThatCannotBePulledBacksOff) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: unpullable
spec:
  containers:
  - name: app
    image: 127.0.0.1:1/missing:1.0
    command: ["sleep", "3600"]
)");
  auto pod = WaitReason("unpullable", "app", "ImagePullBackOff");
  EXPECT_TRUE(HasEvent(pod, "Pulling", "app"));
  EXPECT_TRUE(HasEvent(pod, "Failed", "app")) << Describe(pod);
  EXPECT_EQ(pod.phase, "Pending");
  EXPECT_TRUE(agent_->containers().ListContainers().empty());
}

}  // namespace
}  // namespace peapod::testing
