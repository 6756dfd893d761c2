// Fields that ask for isolation or restriction. A pod asking for one peapod cannot give is
// refused with an error (never a warning, strict or not): it must not run with less than it
// asked for. What peapod does anyway is accepted without a word: hostUsers (false runs the pod
// in a user namespace; with host namespaces or privileged it is refused),
// procMount: Default, appArmorProfile Unconfined, supplementalGroupsPolicy: Merge, an empty
// seLinuxOptions.
#include <algorithm>

#include "manifest_reader.h"
#include "peapod/runtime/security.h"

namespace peapod::agent::controller::manifest_internal {
namespace {

constexpr std::string_view kAppArmorAnnotationPrefix =
    "container.apparmor.security.beta.kubernetes.io/";
constexpr std::string_view kSeccompPodAnnotation = "seccomp.security.alpha.kubernetes.io/pod";
constexpr std::string_view kSeccompAnnotationPrefix =
    "container.seccomp.security.alpha.kubernetes.io/";

constexpr char kNoAppArmor[] =
    "cannot be applied: peapod has no AppArmor support (and AppArmor is not enabled on this "
    "node), so the containers would run unconfined";

// The annotation form of a seccomp profile ("runtime/default", "localhost/<path>") as the
// field form, for comparison; nullopt for values Kubernetes never accepted.
std::optional<SeccompProfile> SeccompFromAnnotation(const std::string& value) {
  if (value == "unconfined") return SeccompProfile{"Unconfined", {}};
  if (value == "runtime/default" || value == "docker/default") {
    return SeccompProfile{"RuntimeDefault", {}};
  }
  if (value.starts_with("localhost/")) return SeccompProfile{"Localhost", value.substr(10)};
  return std::nullopt;
}

const Container* FindContainer(const PodSpec& spec, const std::string& name) {
  for (const auto* list : {&spec.init_containers, &spec.containers}) {
    for (const auto& c : *list) {
      if (c.name == name) return &c;
    }
  }
  return nullptr;
}

// The seccomp profile a container runs with: its own, else the pod's.
std::optional<SeccompProfile> EffectiveSeccomp(const PodSpec& spec, const Container* c) {
  if (c && c->security_context && c->security_context->seccomp_profile) {
    return c->security_context->seccomp_profile;
  }
  if (spec.security_context) return spec.security_context->seccomp_profile;
  return std::nullopt;
}

bool SameSeccomp(const std::optional<SeccompProfile>& a, const SeccompProfile& b) {
  return a && a->type == b.type && a->localhost_profile == b.localhost_profile;
}

}  // namespace

void CheckHostUsers(Reader& r, const yaml::Node& spec, const std::string& path,
                    const PodSpec& pod) {
  if (pod.host_users) return;
  const yaml::Node node = spec["hostUsers"];
  std::string field = Field(path, "hostUsers");
  for (auto [set, name] :
       {std::pair{pod.host_network, "hostNetwork"}, std::pair{pod.host_pid, "hostPID"},
        std::pair{pod.host_ipc, "hostIPC"}}) {
    if (set) r.Error(node, field, std::string("false cannot be combined with ") + name + ": true");
  }
  for (const auto* list : {&pod.init_containers, &pod.containers}) {
    for (const auto& c : *list) {
      if (c.security_context && c.security_context->privileged.value_or(false)) {
        r.Error(node, field,
                "false cannot be combined with a privileged container (" + Quote(c.name) + ")");
      }
    }
  }
}

void ReadSeLinuxOptions(Reader& r, const yaml::Node& node, const std::string& path) {
  if (!r.Object(node, path, {"user", "role", "type", "level"})) return;
  bool asks = false;
  for (const char* key : {"user", "role", "type", "level"}) {
    std::string value;
    if (r.String(node[key], Field(path, key), value) && !value.empty()) asks = true;
  }
  if (asks) {
    r.Error(node, path,
            "SELinux labels cannot be applied: peapod has no SELinux support (and SELinux is not "
            "enabled on this node), so the containers would run unlabelled");
  }
}

void ReadAppArmorProfile(Reader& r, const yaml::Node& node, const std::string& path) {
  if (!r.Object(node, path, {"type", "localhostProfile"})) return;
  std::string type, localhost;
  if (!node["type"].IsDefined()) {
    r.Error(node, Field(path, "type"), "required");
  } else {
    Enum(r, node["type"], Field(path, "type"), type, {"RuntimeDefault", "Unconfined", "Localhost"});
  }
  r.String(node["localhostProfile"], Field(path, "localhostProfile"), localhost);
  if (type == "Localhost" && localhost.empty()) {
    r.Error(node, Field(path, "localhostProfile"), "must be set when type is Localhost");
  }
  if (type == "RuntimeDefault" || type == "Localhost") {
    r.Error(node["type"], Field(path, "type"),
            Quote(type) + " " + kNoAppArmor + " (use type: Unconfined or remove the field)");
  }
}

void ReadWindowsOptions(Reader& r, const yaml::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return;
  r.Error(node, path,
          "cannot be honoured: peapod runs Linux containers only, where Windows options have no "
          "effect (remove windowsOptions)");
}

void ReadProcMount(Reader& r, const yaml::Node& node, const std::string& path) {
  std::string value;
  if (!node.IsDefined()) return;
  Enum(r, node, path, value, {"Default", "Unmasked"});
  if (value == "Unmasked") {
    r.Error(node, path,
            "\"Unmasked\" is not supported: peapod masks /proc as with \"Default\", also in a "
            "user namespace");
  }
}

void ReadSupplementalGroupsPolicy(Reader& r, const yaml::Node& node, const std::string& path,
                                  std::string& policy) {
  if (!node.IsDefined()) return;
  Enum(r, node, path, policy, {"Merge", "Strict"});
}

void ReadRecursiveReadOnly(Reader& r, const yaml::Node& node, const std::string& path,
                           VolumeMount& mount) {
  if (!node.IsDefined()) return;
  Enum(r, node, path, mount.recursive_read_only, {"Disabled", "IfPossible", "Enabled"});
  const std::string& value = mount.recursive_read_only;
  if ((value == "IfPossible" || value == "Enabled") && !mount.read_only) {
    r.Error(node, path, "may only be " + Quote(value) + " when readOnly is true");
  }
  if (value == "Enabled" && !mount.mount_propagation.empty() && mount.mount_propagation != "None") {
    r.Error(node, path,
            "\"Enabled\" requires mountPropagation None: mounts propagated in later "
            "would not be read-only");
  }
}

void CheckCapabilityNames(Reader& r, const yaml::Node& list, const std::string& path,
                          const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "ALL" || runtime::CapabilityFromName(names[i])) continue;
    r.Error(list[i], Index(path, i), "unknown capability " + Quote(names[i]));
  }
}

void CheckResourceLimitNames(Reader& r, const yaml::Node& limits, const std::string& path) {
  if (!limits.IsDefined() || !limits.IsMap()) return;
  for (const auto& kv : limits) {
    if (!kv.first.IsScalar()) continue;
    const std::string& name = kv.first.Scalar();
    if (name == "cpu" || name == "memory") continue;
    // Extended resources (vendor.example/gpu) ask for devices a device plugin would hand out:
    // missing, the container lacks the device, it is not less confined.
    if (name.find('/') != std::string::npos) {
      r.Unsupported(kv.first, Field(path, name));
      continue;
    }
    r.Error(kv.first, Field(path, name),
            "a limit on " + Quote(name) +
                " cannot be enforced by peapod (it enforces cpu and "
                "memory limits)");
  }
}

void CheckSysctlNamespaces(Reader& r, const yaml::Node& spec, const std::string& path,
                           const PodSpec& pod) {
  if (!pod.security_context) return;
  const yaml::Node list = spec["securityContext"]["sysctls"];
  std::string list_path = Field(Field(path, "securityContext"), "sysctls");
  const auto& sysctls = pod.security_context->sysctls;
  for (size_t i = 0; i < sysctls.size(); ++i) {
    if (sysctls[i].name.empty()) continue;
    auto ok = runtime::ValidateSysctl(sysctls[i].name,
                                      {.own_network = !pod.host_network, .own_ipc = !pod.host_ipc});
    if (!ok) r.Error(list[i]["name"], Field(Index(list_path, i), "name"), ok.error().message);
  }
}

void CheckSecurityAnnotations(Reader& r, const yaml::Node& annotations, const std::string& path,
                              const PodSpec& spec) {
  if (!annotations.IsDefined() || !annotations.IsMap()) return;
  for (const auto& kv : annotations) {
    if (!kv.first.IsScalar() || !kv.second.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    const std::string& value = kv.second.Scalar();
    if (key.starts_with(kAppArmorAnnotationPrefix)) {
      if (value != "unconfined") {
        r.Error(
            kv.second, Field(path, key),
            Quote(value) + " " + kNoAppArmor + " (use \"unconfined\" or remove the annotation)");
      }
      continue;
    }
    bool pod_wide = key == kSeccompPodAnnotation;
    if (!pod_wide && !key.starts_with(kSeccompAnnotationPrefix)) continue;
    // Kubernetes stopped reading these in 1.27; older `kubectl get -o yaml` output still carries
    // them next to the field that took their place, which then must say the same.
    auto asked = SeccompFromAnnotation(value);
    if (asked && asked->type == "Unconfined") continue;
    const Container* c =
        pod_wide ? nullptr : FindContainer(spec, key.substr(kSeccompAnnotationPrefix.size()));
    std::optional<SeccompProfile> field =
        pod_wide ? (spec.security_context ? spec.security_context->seccomp_profile : std::nullopt)
                 : EffectiveSeccomp(spec, c);
    if (asked && SameSeccomp(field, *asked)) continue;
    r.Error(kv.second, Field(path, key),
            "asks for seccomp profile " + Quote(value) +
                " through an annotation Kubernetes no longer reads (since 1.27): set "
                "securityContext.seccompProfile to the same profile, or remove the annotation");
  }
}

void CheckLocalhostProfilePath(Reader& r, const yaml::Node& node, const std::string& path,
                               const std::string& profile) {
  if (profile.empty()) return;
  if (profile.front() == '/' || CheckRelativePath(profile)) {
    r.Error(node, path,
            "must be a path relative to the node's seccomp profile root, without '..' "
            "(e.g. profiles/audit.json)");
  }
}

}  // namespace peapod::agent::controller::manifest_internal
