// Never weaker than asked: a manifest field that asks for isolation or restriction peapod cannot
// give is an error with its file, line and field, strict or not; never a warning. What peapod
// does anyway is accepted without a word.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "peapod/agent/controller/manifest.h"

namespace peapod::agent::controller {
namespace {

// A pod whose spec, container and volume parts are filled in by each case.
std::string PodYaml(const std::string& annotations, const std::string& spec,
                    const std::string& container, const std::string& volumes = "") {
  return "apiVersion: v1\n"
         "kind: Pod\n"
         "metadata:\n"
         "  name: p\n" +
         annotations + "spec:\n" + spec +
         "  containers:\n"
         "  - name: c\n"
         "    image: busybox\n" +
         container + volumes;
}

// 1-based line of the first line of `text` containing `marker`.
int LineWith(const std::string& text, const std::string& marker) {
  size_t at = text.find(marker);
  if (at == std::string::npos) return -1;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

struct Refused {
  const char* what;
  std::string yaml;
  const char* marker;   // text on the line the error must point at
  const char* field;    // field path in the error
  const char* because;  // part of the reason
};

std::vector<Refused> RefusedCases() {
  return {
      {"hostUsers: false with hostNetwork",
       PodYaml("", "  hostUsers: false\n  hostNetwork: true\n", ""), "hostUsers", "spec.hostUsers",
       "hostNetwork"},
      {"hostUsers: false with hostIPC", PodYaml("", "  hostUsers: false\n  hostIPC: true\n", ""),
       "hostUsers", "spec.hostUsers", "hostIPC"},
      {"hostUsers: false with a privileged container",
       PodYaml("", "  hostUsers: false\n", "    securityContext:\n      privileged: true\n"),
       "hostUsers", "spec.hostUsers", "privileged container"},
      {"pod seLinuxOptions",
       PodYaml("", "  securityContext:\n    seLinuxOptions: {level: \"s0:c1,c2\"}\n", ""),
       "seLinuxOptions", "spec.securityContext.seLinuxOptions", "SELinux"},
      {"container seLinuxOptions",
       PodYaml("", "", "    securityContext:\n      seLinuxOptions: {type: spc_t}\n"),
       "seLinuxOptions", "spec.containers[0].securityContext.seLinuxOptions", "SELinux"},
      {"pod appArmorProfile RuntimeDefault",
       PodYaml("", "  securityContext:\n    appArmorProfile: {type: RuntimeDefault}\n", ""),
       "appArmorProfile", "spec.securityContext.appArmorProfile.type", "AppArmor"},
      {"container appArmorProfile Localhost",
       PodYaml("", "",
               "    securityContext:\n      appArmorProfile:\n        type: Localhost\n"
               "        localhostProfile: k8s-nginx\n"),
       "type: Localhost", "spec.containers[0].securityContext.appArmorProfile.type", "AppArmor"},
      {"AppArmor annotation",
       PodYaml("  annotations:\n    container.apparmor.security.beta.kubernetes.io/c: "
               "runtime/default\n",
               "", ""),
       "container.apparmor",
       "metadata.annotations.container.apparmor.security.beta.kubernetes.io/c", "AppArmor"},
      {"seccomp annotation without the field",
       PodYaml("  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: runtime/default\n",
               "", ""),
       "seccomp.security", "metadata.annotations.seccomp.security.alpha.kubernetes.io/pod",
       "no longer reads"},
      {"pod windowsOptions",
       PodYaml("", "  securityContext:\n    windowsOptions: {runAsUserName: ContainerUser}\n", ""),
       "windowsOptions", "spec.securityContext.windowsOptions", "Linux containers only"},
      {"container windowsOptions",
       PodYaml("", "", "    securityContext:\n      windowsOptions: {hostProcess: true}\n"),
       "windowsOptions", "spec.containers[0].securityContext.windowsOptions",
       "Linux containers only"},
      {"procMount Unmasked", PodYaml("", "", "    securityContext:\n      procMount: Unmasked\n"),
       "procMount", "spec.containers[0].securityContext.procMount", "user namespace"},
      {"an unknown supplementalGroupsPolicy",
       PodYaml("", "  securityContext:\n    supplementalGroupsPolicy: Union\n", ""),
       "supplementalGroupsPolicy", "spec.securityContext.supplementalGroupsPolicy", "Strict"},
      {"a sysctl that is not namespaced",
       PodYaml("",
               "  securityContext:\n    sysctls:\n    - name: kernel.panic\n      value: \"1\"\n",
               ""),
       "kernel.panic", "spec.securityContext.sysctls[0].name", "whole node"},
      {"a net sysctl with hostNetwork",
       PodYaml("",
               "  hostNetwork: true\n  securityContext:\n    sysctls:\n"
               "    - {name: net.ipv4.ip_forward, value: \"1\"}\n",
               ""),
       "net.ipv4.ip_forward", "spec.securityContext.sysctls[0].name", "host network"},
      {"an unknown capability to drop",
       PodYaml("", "",
               "    securityContext:\n      capabilities:\n        drop: [NET_RAW, NOT_A_CAP]\n"),
       "NOT_A_CAP", "spec.containers[0].securityContext.capabilities.drop[1]",
       "unknown capability"},
      {"a limit peapod cannot enforce",
       PodYaml("", "", "    resources:\n      limits:\n        ephemeral-storage: 1Gi\n"),
       "ephemeral-storage", "spec.containers[0].resources.limits.ephemeral-storage",
       "cannot be enforced"},
      {"a container limit above the pod-level limit",
       PodYaml("", "  resources:\n    limits: {memory: 1Mi}\n",
               "    resources:\n      limits: {memory: 2Mi}\n"),
       "limits: {memory: 1Mi", "spec.resources.limits.memory", "limit of container \"c\""},
      {"pod-level requests below the containers'",
       PodYaml("", "  resources:\n    requests: {cpu: 100m}\n",
               "    resources:\n      requests: {cpu: 200m}\n"),
       "requests: {cpu: 100m", "spec.resources.requests.cpu", "aggregate container requests"},
      {"a resizePolicy for another resource",
       PodYaml("", "",
               "    resizePolicy:\n    - {resourceName: disk, restartPolicy: NotRequired}\n"),
       "resourceName: disk", "spec.containers[0].resizePolicy[0].resourceName", "\"cpu\""},
      {"a size limit on a disk-backed emptyDir",
       PodYaml("", "", "    volumeMounts:\n    - {name: scratch, mountPath: /scratch}\n",
               "  volumes:\n  - name: scratch\n    emptyDir: {sizeLimit: 1Gi}\n"),
       "sizeLimit", "spec.volumes[0].emptyDir.sizeLimit", "medium: Memory"},
      {"recursiveReadOnly on a writable mount",
       PodYaml("", "",
               "    volumeMounts:\n    - name: data\n      mountPath: /data\n"
               "      recursiveReadOnly: Enabled\n",
               "  volumes:\n  - name: data\n    hostPath: {path: /tmp}\n"),
       "recursiveReadOnly", "spec.containers[0].volumeMounts[0].recursiveReadOnly",
       "readOnly is true"},
      {"recursiveReadOnly with propagation",
       PodYaml("", "",
               "    volumeMounts:\n    - name: data\n      mountPath: /data\n"
               "      readOnly: true\n      mountPropagation: HostToContainer\n"
               "      recursiveReadOnly: Enabled\n",
               "  volumes:\n  - name: data\n    hostPath: {path: /tmp}\n"),
       "recursiveReadOnly", "spec.containers[0].volumeMounts[0].recursiveReadOnly",
       "mountPropagation None"},
      {"an absolute Localhost seccomp profile",
       PodYaml("", "",
               "    securityContext:\n      seccompProfile:\n        type: Localhost\n"
               "        localhostProfile: /etc/passwd\n"),
       "localhostProfile", "spec.containers[0].securityContext.seccompProfile.localhostProfile",
       "relative"},
  };
}

TEST(ManifestSecurity, EachFieldPeapodCannotHonourIsAnErrorWithItsLineEvenWithoutStrict) {
  for (const auto& c : RefusedCases()) {
    SCOPED_TRACE(c.what);
    auto parsed = ParseManifests(c.yaml, "pod.yaml");
    ASSERT_FALSE(parsed.has_value()) << "accepted:\n" << c.yaml;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    const std::string& message = parsed.error().message;
    std::string where =
        "pod.yaml:" + std::to_string(LineWith(c.yaml, c.marker)) + ": " + c.field + ": ";
    EXPECT_NE(message.find(where), std::string::npos) << message << "\nwanted: " << where;
    EXPECT_NE(message.find(c.because), std::string::npos) << message;
    EXPECT_EQ(message.find("ignored"), std::string::npos) << message;
  }
}

TEST(ManifestSecurity, WhatPeapodDoesAnywayIsAcceptedWithoutAWarning) {
  std::string yaml = PodYaml(
      "  annotations:\n"
      "    container.apparmor.security.beta.kubernetes.io/c: unconfined\n"
      "    seccomp.security.alpha.kubernetes.io/pod: runtime/default\n"
      "    container.seccomp.security.alpha.kubernetes.io/c: localhost/audit.json\n",
      "  hostUsers: true\n"
      "  securityContext:\n"
      "    seLinuxOptions: {}\n"
      "    appArmorProfile: {type: Unconfined}\n"
      "    supplementalGroupsPolicy: Merge\n"
      "    seccompProfile: {type: RuntimeDefault}\n"
      "    sysctls:\n"
      "    - {name: net.ipv4.ip_unprivileged_port_start, value: \"0\"}\n"
      "    - {name: kernel.shm_rmid_forced, value: \"1\"}\n",
      "    securityContext:\n"
      "      procMount: Default\n"
      "      capabilities: {add: [NET_ADMIN, cap_sys_time], drop: [ALL]}\n"
      "      seccompProfile: {type: Localhost, localhostProfile: audit.json}\n"
      "    resources:\n"
      "      limits: {cpu: 500m, memory: 64Mi}\n"
      "    volumeMounts:\n"
      "    - {name: data, mountPath: /data, readOnly: true, recursiveReadOnly: Enabled}\n"
      "    - {name: cache, mountPath: /cache, readOnly: true, recursiveReadOnly: Disabled}\n"
      "    - {name: mem, mountPath: /mem}\n",
      "  volumes:\n"
      "  - {name: data, hostPath: {path: /tmp}}\n"
      "  - {name: cache, emptyDir: {}}\n"
      "  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}\n");
  auto parsed = ParseManifests(yaml, "pod.yaml", ParseOptions{.strict = true});
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_TRUE(parsed->warnings.empty()) << parsed->warnings.front().ToString();
  ASSERT_EQ(parsed->pods.size(), 1u);
  const auto& sc = parsed->pods[0].spec.containers[0].security_context;
  ASSERT_TRUE(sc && sc->seccomp_profile);
  EXPECT_EQ(sc->seccomp_profile->localhost_profile, "audit.json");
  EXPECT_EQ(sc->seccomp_profile->source.line, LineWith(yaml, "localhostProfile: audit.json"));
  EXPECT_EQ(parsed->pods[0].spec.security_context->supplemental_groups_policy, "Merge");
  const auto& mounts = parsed->pods[0].spec.containers[0].volume_mounts;
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_EQ(mounts[0].recursive_read_only, "Enabled");
  EXPECT_EQ(mounts[1].recursive_read_only, "Disabled");
  EXPECT_EQ(mounts[2].recursive_read_only, "");
}

TEST(ManifestSecurity, StrictSupplementalGroupsPolicyIsKept) {
  std::string yaml = PodYaml("", "  securityContext:\n    supplementalGroupsPolicy: Strict\n", "");
  auto parsed = ParseManifests(yaml, "pod.yaml", ParseOptions{.strict = true});
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_TRUE(parsed->pods[0].spec.security_context);
  EXPECT_EQ(parsed->pods[0].spec.security_context->supplemental_groups_policy, "Strict");
}

TEST(ManifestSecurity, ALimitOnAnExtendedResourceIsOnlyAWarning) {
  std::string yaml =
      PodYaml("", "", "    resources:\n      limits: {memory: 1Gi, vendor.example/gpu: 1}\n");
  auto parsed = ParseManifests(yaml, "pod.yaml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->warnings.size(), 1u);
  EXPECT_EQ(parsed->warnings[0].ToString(),
            "pod.yaml:" + std::to_string(LineWith(yaml, "vendor.example")) +
                ": spec.containers[0].resources.limits.vendor.example/gpu: not supported by "
                "peapod, ignored");
  EXPECT_EQ(parsed->pods[0].spec.containers[0].resources.limits.at("memory").value, 1 << 30);
}

TEST(ManifestSecurity, HostUsersFalseAloneIsAcceptedAndKept) {
  auto parsed = ParseManifests(PodYaml("", "  hostUsers: false\n", ""), "pod.yaml");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_TRUE(parsed->warnings.empty());
  EXPECT_FALSE(parsed->pods[0].spec.host_users);
  auto by_default = ParseManifests(PodYaml("", "", ""), "pod.yaml");
  ASSERT_TRUE(by_default.has_value()) << by_default.error().message;
  EXPECT_TRUE(by_default->pods[0].spec.host_users);
}

TEST(ManifestSecurity, EveryRefusalIsReportedNotOnlyTheFirst) {
  std::string yaml = PodYaml(
      "",
      "  hostUsers: false\n  hostPID: true\n  securityContext:\n    seLinuxOptions: {user: u}\n",
      "    securityContext:\n      procMount: Unmasked\n");
  auto parsed = ParseManifests(yaml, "pod.yaml");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(std::count(parsed.error().message.begin(), parsed.error().message.end(), '\n'), 2)
      << parsed.error().message;
}

}  // namespace
}  // namespace peapod::agent::controller
