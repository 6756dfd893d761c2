#include "peapod/agent/container_security.h"

namespace peapod::agent {
namespace {

// CRI's SecurityProfile.ProfileType values.
constexpr int kProfileRuntimeDefault = 0;
constexpr int kProfileUnconfined = 1;
constexpr int kProfileLocalhost = 2;

Result<runtime::SeccompProfileRef> SeccompRef(const LinuxContainerSecurityContext& context) {
  // The structured field wins; the legacy string is what older kubelets and critest 1.26 send.
  if (!context.seccomp) return runtime::ParseLegacySeccompProfile(context.seccomp_profile_path);
  runtime::SeccompProfileRef ref;
  switch (context.seccomp->profile_type) {
    case kProfileRuntimeDefault: ref.type = runtime::SeccompProfileType::kRuntimeDefault; break;
    case kProfileUnconfined: ref.type = runtime::SeccompProfileType::kUnconfined; break;
    case kProfileLocalhost:
      ref.type = runtime::SeccompProfileType::kLocalhost;
      ref.localhost_path = context.seccomp->localhost_ref;
      break;
    default:
      return Fail(ErrorCode::kInvalidArgument,
                  "security_context.seccomp.profile_type: unknown value " +
                      std::to_string(context.seccomp->profile_type));
  }
  return ref;
}

// This host has no AppArmor. containerd, in that case, refuses any profile but "unconfined"
// rather than silently running the container unprotected.
Status CheckAppArmor(const LinuxContainerSecurityContext& context) {
  bool wants_profile =
      (context.apparmor && context.apparmor->profile_type != kProfileUnconfined) ||
      (!context.apparmor && !context.apparmor_profile.empty() &&
       context.apparmor_profile != "unconfined");
  if (wants_profile) {
    return Fail(ErrorCode::kInvalidArgument,
                "security_context.apparmor: apparmor is not supported on this host");
  }
  return Ok();
}

}  // namespace

Result<ContainerSecurity> BuildContainerSecurity(const LinuxContainerSecurityContext& context,
                                                 const std::optional<LinuxContainerResources>& res,
                                                 const std::string& container_id) {
  if (auto s = CheckAppArmor(context); !s) return std::unexpected(s.error());
  ContainerSecurity out;
  out.privileged = context.privileged;
  std::vector<std::string> add, drop;
  if (context.capabilities) {
    add = context.capabilities->add_capabilities;
    drop = context.capabilities->drop_capabilities;
  }
  auto caps = runtime::ComputeCapabilities(add, drop, context.privileged);
  if (!caps) {
    return std::unexpected(std::move(caps.error()).Context("security_context.capabilities"));
  }
  runtime::CapabilitySet set = runtime::ContainerCapabilitySet(*caps);
  if (context.capabilities && !context.capabilities->add_ambient_capabilities.empty()) {
    auto ambient =
        runtime::ComputeCapabilities(context.capabilities->add_ambient_capabilities, {"ALL"}, false);
    if (!ambient) {
      return std::unexpected(
          std::move(ambient.error()).Context("security_context.capabilities.add_ambient"));
    }
    // An ambient capability must also be inheritable and permitted, or the kernel refuses it.
    uint64_t allowed = *ambient & set.permitted;
    set.ambient = allowed;
    set.inheritable |= allowed;
  }
  out.plan.capabilities = runtime::ClampToCurrentProcess(set, container_id);
  out.plan.last_cap = runtime::KernelLastCapability();
  out.plan.no_new_privs = context.no_new_privs;
  out.plan.rlimits = runtime::DefaultContainerRlimits(container_id);
  if (res && res->oom_score_adj != 0) {
    out.plan.oom_score_adj =
        runtime::ClampOomScoreAdj(static_cast<int>(res->oom_score_adj), container_id);
  }

  // Privileged containers run unconfined, with nothing masked, as with containerd.
  if (!context.privileged) {
    auto ref = SeccompRef(context);
    if (!ref) return std::unexpected(std::move(ref.error()).Context("security_context.seccomp"));
    if (ref->type == runtime::SeccompProfileType::kLocalhost &&
        !ref->localhost_path.starts_with('/')) {
      return Fail(ErrorCode::kInvalidArgument, "security_context.seccomp: localhost profile \"" +
                                                   ref->localhost_path +
                                                   "\" is not an absolute path");
    }
    auto program = runtime::CompileSeccompProfile(*ref, *caps);
    if (!program) {
      // A profile that is missing or does not parse was asked for: the container is refused,
      // never run unconfined, and the caller's request is what was wrong (not "not found").
      Error error = std::move(program.error()).Context("security_context.seccomp");
      error.code = ErrorCode::kInvalidArgument;
      return std::unexpected(std::move(error));
    }
    out.plan.seccomp = std::move(*program);
    // kubelet sends the lists it wants; none at all means the runtime's defaults.
    out.masked_paths = context.masked_paths.empty() ? runtime::DefaultMaskedPaths()
                                                    : context.masked_paths;
    out.readonly_paths = context.readonly_paths.empty() ? runtime::DefaultReadonlyPaths()
                                                        : context.readonly_paths;
  }
  return out;
}

void ApplyContainerSecurity(ContainerSecurity security, runtime::ContainerSpec& spec) {
  spec.security = std::move(security.plan);
  spec.privileged = security.privileged;
  spec.masked_paths = std::move(security.masked_paths);
  spec.readonly_paths = std::move(security.readonly_paths);
}

Result<runtime::Resources> ToCgroupResources(const LinuxContainerResources& r) {
  auto negative = [](const char* field) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string("linux.resources.") + field + ": must not be negative");
  };
  if (r.cpu_period < 0) return negative("cpu_period");
  if (r.cpu_quota < 0 && r.cpu_quota != -1) return negative("cpu_quota");
  if (r.cpu_shares < 0) return negative("cpu_shares");
  if (r.memory_limit_in_bytes < 0) return negative("memory_limit_in_bytes");
  if (r.memory_swap_limit_in_bytes < 0) return negative("memory_swap_limit_in_bytes");
  runtime::Resources out;
  if (r.cpu_shares > 0) out.cpu_shares = static_cast<uint64_t>(r.cpu_shares);
  if (r.cpu_quota > 0) out.cpu_quota_us = r.cpu_quota;
  if (r.cpu_period > 0) out.cpu_period_us = static_cast<uint64_t>(r.cpu_period);
  if (r.memory_limit_in_bytes > 0) out.memory_limit_bytes = r.memory_limit_in_bytes;
  if (!r.cpuset_cpus.empty()) out.cpuset_cpus = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) out.cpuset_mems = r.cpuset_mems;
  for (const auto& h : r.hugepage_limits) out.hugepage_limits[h.page_size] = h.limit;
  out.unified = r.unified;
  return out;
}

}  // namespace peapod::agent
