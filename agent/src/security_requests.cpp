#include "peapod/agent/security_requests.h"

#include <algorithm>

#include "peapod/runtime/security.h"
#include "peapod/runtime/user_namespace.h"

namespace peapod::agent {
namespace {

// CRI's SecurityProfile.ProfileType values.
constexpr int kProfileRuntimeDefault = 0;
constexpr int kProfileUnconfined = 1;
constexpr int kProfileLocalhost = 2;

std::unexpected<Error> Refuse(const std::string& field, const std::string& why) {
  return Fail(ErrorCode::kInvalidArgument, field + ": " + why);
}

constexpr const char* kUsernsField = "linux.security_context.namespace_options.userns_options";

bool SameMappings(const std::vector<IdMapping>& a, const std::vector<IdMapping>& b) {
  return ToIdMaps(a) == ToIdMaps(b);
}

// What kubelet sends for hostUsers: false, and what containerd 2 and the API server refuse with
// it: the host's network, PID or IPC namespace, and privileged.
Status CheckSandboxUserNamespace(const LinuxSandboxSecurityContext& sc, const Status& support) {
  const NamespaceOption& ns = sc.namespace_options;
  const UserNamespace& userns = ns.userns_options;
  const std::string field = kUsernsField;
  if (userns.mode == NamespaceMode::kNode) {
    if (userns.uids.empty() && userns.gids.empty()) return Ok();
    return Refuse(field, "uid/gid mappings are only meaningful with mode POD");
  }
  if (userns.mode != NamespaceMode::kPod) {
    return Refuse(field + ".mode",
                  "a pod's user namespace is POD or NODE, not CONTAINER or TARGET");
  }
  if (!support) {
    return Refuse(field, "user namespaces do not work on this node: " + support.error().ToString());
  }
  if (auto s = runtime::CheckPodIdMappings(ToIdMaps(userns.uids), field + ".uids"); !s) return s;
  if (auto s = runtime::CheckPodIdMappings(ToIdMaps(userns.gids), field + ".gids"); !s) return s;
  const std::pair<NamespaceMode, const char*> host_namespaces[] = {
      {ns.network, "network (hostNetwork)"}, {ns.pid, "PID (hostPID)"}, {ns.ipc, "IPC (hostIPC)"}};
  for (const auto& [mode, what] : host_namespaces) {
    if (mode == NamespaceMode::kNode) {
      return Refuse(field, std::string("a user namespace cannot be combined with the host's ") +
                               what + " namespace");
    }
  }
  if (sc.privileged) {
    return Refuse("linux.security_context.privileged",
                  "a privileged pod cannot run in a user namespace (hostUsers: false)");
  }
  return Ok();
}

Status CheckSeLinux(const SELinuxOption& options, const std::string& field) {
  if (options.user.empty() && options.role.empty() && options.type.empty() &&
      options.level.empty()) {
    return Ok();
  }
  return Refuse(field + ".selinux_options",
                "SELinux labels cannot be applied: peapod has no SELinux support (and SELinux is "
                "not enabled on this node)");
}

// The sandbox's profile would apply to pause alone, which runs none of the pod's code; it is
// still checked, so that a profile that cannot load is reported where it was asked for.
Status CheckSandboxSeccomp(const LinuxSandboxSecurityContext& sc) {
  runtime::SeccompProfileRef ref;
  if (!sc.seccomp) {
    auto legacy = runtime::ParseLegacySeccompProfile(sc.seccomp_profile_path);
    if (!legacy)
      return Refuse("linux.security_context.seccomp_profile_path", legacy.error().message);
    ref = *legacy;
  } else if (sc.seccomp->profile_type == kProfileLocalhost) {
    ref = {runtime::SeccompProfileType::kLocalhost, sc.seccomp->localhost_ref};
  } else if (sc.seccomp->profile_type != kProfileRuntimeDefault &&
             sc.seccomp->profile_type != kProfileUnconfined) {
    return Refuse("linux.security_context.seccomp.profile_type",
                  "unknown value " + std::to_string(sc.seccomp->profile_type));
  }
  if (ref.type != runtime::SeccompProfileType::kLocalhost) return Ok();
  if (!ref.localhost_path.starts_with('/')) {
    return Refuse("linux.security_context.seccomp.localhost_ref",
                  "\"" + ref.localhost_path + "\" is not an absolute path");
  }
  auto compiled = runtime::CompileSeccompProfile(ref, runtime::DefaultCapabilities());
  if (!compiled) return Refuse("linux.security_context.seccomp", compiled.error().ToString());
  return Ok();
}

Status CheckMounts(const std::vector<Mount>& mounts, const UserNamespace& pod) {
  bool userns = pod.mode == NamespaceMode::kPod;
  for (const auto& m : mounts) {
    std::string field = "mounts[" + m.container_path + "]";
    if (!m.uidMappings.empty() || !m.gidMappings.empty()) {
      // Every mount of a pod in a user namespace is idmapped with the pod's mappings; other
      // mappings would need a user namespace of their own for the mount.
      if (!userns) {
        return Refuse(field, "ID-mapped mounts need the pod to run in a user namespace");
      }
      if (!SameMappings(m.uidMappings, pod.uids) || !SameMappings(m.gidMappings, pod.gids)) {
        return Refuse(field, "uidMappings/gidMappings must be the pod's user namespace mappings");
      }
    }
    // An image volume as containerd 2 takes it: the image is the source, and it is read-only.
    if (m.image) {
      if (m.image->image.empty()) return Refuse(field + ".image.image", "must name an image");
      if (!m.host_path.empty()) {
        return Refuse(field + ".host_path", "must be empty for an image volume");
      }
      if (!m.readonly) return Refuse(field + ".readonly", "must be true for an image volume");
    } else if (!m.image_sub_path.empty()) {
      return Refuse(field + ".image_sub_path", "is set without an image");
    }
    if (!m.recursive_read_only) continue;
    // As containerd and kubelet: recursive read-only needs a read-only mount that nothing can
    // propagate into later (a mount propagated in would not be read-only).
    if (!m.readonly) {
      return Refuse(field + ".recursive_read_only", "needs readonly to be set as well");
    }
    if (m.propagation != MountPropagation::kPrivate) {
      return Refuse(field + ".recursive_read_only",
                    "needs propagation PRIVATE: mounts propagated in later would be writable");
    }
  }
  return Ok();
}

}  // namespace

Status CheckSandboxRequest(const PodSandboxConfig& config, const std::string& runtime_handler,
                           const std::vector<std::string>& handlers, const Status& userns_support) {
  if (!runtime_handler.empty() &&
      std::find(handlers.begin(), handlers.end(), runtime_handler) == handlers.end()) {
    return Refuse("runtime_handler", "\"" + runtime_handler +
                                         "\" is not a runtime handler of this node (peapodd "
                                         "--runtime-handler)");
  }
  const auto& sc = config.linux.security_context;
  if (auto s = CheckSandboxUserNamespace(sc, userns_support); !s) return s;
  if (auto s = CheckSeLinux(sc.selinux_options, "linux.security_context"); !s) return s;
  if (sc.apparmor && sc.apparmor->profile_type != kProfileUnconfined) {
    return Refuse("linux.security_context.apparmor",
                  "apparmor is not supported on this host: peapod has no AppArmor support (and "
                  "AppArmor is not enabled on this node)");
  }
  return CheckSandboxSeccomp(sc);
}

Status CheckContainerRequest(const ContainerConfig& config, const PodSandboxConfig& pod) {
  const auto& sc = config.linux.security_context;
  const UserNamespace& pod_userns = pod.linux.security_context.namespace_options.userns_options;
  const UserNamespace& userns = sc.namespace_options.userns_options;
  // kubelet sends the pod's user namespace options with every container; a container can only
  // live in its pod's (the pod's network and IPC namespaces belong to it). Options left unset
  // (NODE, as crictl sends) mean the pod's.
  if (userns.mode != NamespaceMode::kNode || !userns.uids.empty() || !userns.gids.empty()) {
    if (userns.mode != pod_userns.mode || !SameMappings(userns.uids, pod_userns.uids) ||
        !SameMappings(userns.gids, pod_userns.gids)) {
      return Refuse(kUsernsField,
                    pod_userns.mode == NamespaceMode::kPod
                        ? "must be the pod's user namespace (mode POD with the pod's mappings)"
                        : "the pod runs in the node's user namespace: its containers cannot have "
                          "one of their own");
    }
  }
  if (pod_userns.mode == NamespaceMode::kPod && sc.privileged) {
    return Refuse("linux.security_context.privileged",
                  "a privileged container cannot run in a user namespace (hostUsers: false)");
  }
  if (auto s = CheckSeLinux(sc.selinux_options, "linux.security_context"); !s) return s;
  return CheckMounts(config.mounts, pod_userns);
}

std::vector<runtime::IdMap> ToIdMaps(const std::vector<IdMapping>& mappings) {
  std::vector<runtime::IdMap> out;
  for (const auto& m : mappings) out.push_back({m.container_id, m.host_id, m.length});
  return out;
}

}  // namespace peapod::agent
