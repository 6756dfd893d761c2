#include "peapod/agent/security_requests.h"

#include <algorithm>

#include "peapod/runtime/security.h"

namespace peapod::agent {
namespace {

// CRI's SecurityProfile.ProfileType values.
constexpr int kProfileRuntimeDefault = 0;
constexpr int kProfileUnconfined = 1;
constexpr int kProfileLocalhost = 2;

std::unexpected<Error> Refuse(const std::string& field, const std::string& why) {
  return Fail(ErrorCode::kInvalidArgument, field + ": " + why);
}

Status CheckUserNamespace(const NamespaceOption& ns, const std::string& field) {
  if (ns.userns_options.mode == NamespaceMode::kNode) return Ok();
  return Refuse(field + ".namespace_options.userns_options",
                "a user namespace is not implemented by peapod yet; the pod would run as the "
                "node's root (send mode NODE)");
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

Status CheckMounts(const std::vector<Mount>& mounts) {
  for (const auto& m : mounts) {
    std::string field = "mounts[" + m.container_path + "]";
    if (!m.uidMappings.empty() || !m.gidMappings.empty()) {
      return Refuse(field,
                    "ID-mapped mounts need user namespaces, which peapod does not "
                    "implement yet");
    }
    if (m.image) {
      return Refuse(field + ".image", "image volumes are not implemented by peapod yet");
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
                           const std::vector<std::string>& handlers) {
  if (!runtime_handler.empty() &&
      std::find(handlers.begin(), handlers.end(), runtime_handler) == handlers.end()) {
    return Refuse("runtime_handler", "\"" + runtime_handler +
                                         "\" is not a runtime handler of this node (peapodd "
                                         "--runtime-handler)");
  }
  const auto& sc = config.linux.security_context;
  if (auto s = CheckUserNamespace(sc.namespace_options, "linux.security_context"); !s) return s;
  if (auto s = CheckSeLinux(sc.selinux_options, "linux.security_context"); !s) return s;
  if (sc.apparmor && sc.apparmor->profile_type != kProfileUnconfined) {
    return Refuse("linux.security_context.apparmor",
                  "apparmor is not supported on this host: peapod has no AppArmor support (and "
                  "AppArmor is not enabled on this node)");
  }
  return CheckSandboxSeccomp(sc);
}

Status CheckContainerRequest(const ContainerConfig& config) {
  const auto& sc = config.linux.security_context;
  if (auto s = CheckUserNamespace(sc.namespace_options, "linux.security_context"); !s) return s;
  if (auto s = CheckSeLinux(sc.selinux_options, "linux.security_context"); !s) return s;
  return CheckMounts(config.mounts);
}

}  // namespace peapod::agent
