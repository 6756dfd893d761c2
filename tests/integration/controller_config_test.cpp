// ConfigMaps, Secrets and the downward API in pods the controller runs: env resolution with
// $(VAR) expansion, and configMap volumes updated atomically in a running pod.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <sstream>

#include "controller_fixture.h"

namespace peapod::testing {
namespace {

using agent::controller::PodView;

class ControllerConfigTest : public ControllerFixture {};

std::map<std::string, std::string> ParseEnv(const std::string& text) {
  std::map<std::string, std::string> env;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

TEST_F(ControllerConfigTest, EnvComesFromConfigMapsSecretsAndTheDownwardApi) {
  Apply(R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
  LEVEL: "3"
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  token: c2VjcmV0LXRva2Vu
---
apiVersion: v1
kind: Pod
metadata:
  name: envy
  labels:
    tier: backend
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "env > /tmp/env; echo '$(GREETING)' > /tmp/args; exec sleep 3600"]
    envFrom:
    - prefix: CFG_
      configMapRef:
        name: settings
    env:
    - name: NAME
      value: world
    - name: GREETING
      value: hello-$(NAME)-$$(NAME)
    - name: MODE
      valueFrom:
        configMapKeyRef: {name: settings, key: mode}
    - name: TOKEN
      valueFrom:
        secretKeyRef: {name: creds, key: token}
    - name: POD_NAME
      valueFrom:
        fieldRef: {fieldPath: metadata.name}
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef: {fieldPath: metadata.namespace}
    - name: POD_IP
      valueFrom:
        fieldRef: {fieldPath: status.podIP}
    - name: TIER
      valueFrom:
        fieldRef: {fieldPath: "metadata.labels['tier']"}
    - name: MISSING_OK
      valueFrom:
        configMapKeyRef: {name: nope, key: x, optional: true}
    - name: MEMORY_MI
      valueFrom:
        resourceFieldRef: {resource: limits.memory, divisor: 1Mi}
    resources:
      limits: {memory: 64Mi}
    volumeMounts:
    - {name: settings, mountPath: /etc/mode, subPath: mode}
  volumes:
  - name: settings
    configMap:
      name: settings
)");
  auto pod = WaitRunning("envy");
  // /tmp/args is written after /tmp/env.
  WaitPod(
      "envy",
      [&](const PodView&) { return Exec("envy", "app", "test -f /tmp/args && echo y") == "y\n"; },
      "the container's env dump");
  auto env = ParseEnv(Exec("envy", "app", "cat /tmp/env"));
  EXPECT_EQ(env["NAME"], "world");
  EXPECT_EQ(env["GREETING"], "hello-world-$(NAME)");
  EXPECT_EQ(env["MODE"], "fast");
  EXPECT_EQ(env["TOKEN"], "secret-token");
  EXPECT_EQ(env["POD_NAME"], "envy");
  EXPECT_EQ(env["POD_NAMESPACE"], "default");
  EXPECT_EQ(env["POD_IP"], pod.pod_ip);
  EXPECT_FALSE(pod.pod_ip.empty());
  EXPECT_EQ(env["TIER"], "backend");
  EXPECT_EQ(env["CFG_mode"], "fast");
  EXPECT_EQ(env["CFG_LEVEL"], "3");
  EXPECT_FALSE(env.contains("MISSING_OK"));
  EXPECT_EQ(env["MEMORY_MI"], "64");
  EXPECT_EQ(Exec("envy", "app", "cat /etc/mode"), "fast");  // one key through subPath
  EXPECT_EQ(Exec("envy", "app", "cat /tmp/args"), "hello-world-$(NAME)\n");
}

TEST_F(ControllerConfigTest, AMissingConfigMapKeepsTheContainerWaitingWithAnError) {
  Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: needy
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    env:
    - name: X
      valueFrom:
        configMapKeyRef: {name: absent, key: x}
)");
  auto pod = WaitReason("needy", "app", "CreateContainerConfigError");
  EXPECT_EQ(pod.phase, "Pending");
  EXPECT_NE(Find(pod, "app")->state.message.find("absent"), std::string::npos);
  // Applying the ConfigMap lets it start.
  Apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: absent\ndata:\n  x: here\n",
        "cm.yaml");
  WaitRunning("needy");
  EXPECT_EQ(Exec("needy", "app", "echo $X"), "here\n");
}

TEST_F(ControllerConfigTest, AConfigMapVolumeChangesAtomicallyInARunningPod) {
  auto config_map = [](const std::string& version) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site\ndata:\n  a: " + version +
           "\n  b: " + version + "\n";
  };
  Apply(config_map("v1") + R"(---
apiVersion: v1
kind: Pod
metadata:
  name: watcher
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: site
    configMap:
      name: site
  - name: out
    emptyDir: {}
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    # Reads both keys through one resolution of ..data, as a watcher of the volume would.
    command: ["sh", "-c", "while true; do (cd /site/..data 2>/dev/null && a=$(cat a 2>/dev/null) && b=$(cat b 2>/dev/null) && echo $a$b >> /out/seen); sleep 0.02; done"]
    volumeMounts:
    - {name: site, mountPath: /site}
    - {name: out, mountPath: /out}
)");
  auto pod = WaitRunning("watcher");
  std::string volume = VolumeDir(pod, "site");
  // kubelet's layout: each key a symlink through ..data.
  struct stat st {};
  ASSERT_EQ(::lstat((volume + "/a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(std::filesystem::read_symlink(volume + "/a"), "..data/a");
  std::string out = VolumeDir(pod, "out") + "/seen";
  WaitPod(
      "watcher", [&](const PodView&) { return ReadFile(out).find("v1v1") != std::string::npos; },
      "the watcher to see v1");

  auto result = Apply(config_map("v2"), "cm.yaml");
  ASSERT_EQ(result.objects.size(), 1u);
  EXPECT_EQ(result.objects[0].action, "configured");
  pod = WaitPod(
      "watcher", [&](const PodView&) { return ReadFile(out).find("v2v2") != std::string::npos; },
      "the watcher to see v2");
  EXPECT_EQ(ReadFile(volume + "/a"), "v2");
  std::istringstream lines(ReadFile(out));
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(line == "v1v1" || line == "v2v2") << "a torn read: " << line;
  }
  EXPECT_EQ(Restarts(pod, "app"), 0);
}

}  // namespace
}  // namespace peapod::testing
