// ContainerSecurity: what a CRI container's security context and resources become for the
// runtime: a SecurityPlan (capabilities, no_new_privs, seccomp, rlimits, oom_score_adj), the
// masked and read-only paths, and cgroup limits. Mirrors what containerd + runc give.
#pragma once

#include <string>
#include <vector>

#include "peapod/agent/cri_types.h"
#include "peapod/error.h"
#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/container.h"
#include "peapod/runtime/security.h"

namespace peapod::agent {

struct ContainerSecurity {
  runtime::SecurityPlan plan;  // uid/gid/groups are filled in by the container's user
  bool privileged = false;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
};

// Fails with kInvalidArgument naming the field for capabilities or profiles that cannot be
// honoured (an unknown capability, a bad seccomp profile, an AppArmor profile on a host
// without AppArmor, as containerd answers).
Result<ContainerSecurity> BuildContainerSecurity(const LinuxContainerSecurityContext& context,
                                                 const std::optional<LinuxContainerResources>& res,
                                                 const std::string& container_id);

// Puts the plan, privileged mode and path lists into the runtime's container spec. The spec is
// not persisted with them: recovery rebuilds them from the recorded CRI config the same way.
void ApplyContainerSecurity(ContainerSecurity security, runtime::ContainerSpec& spec);

// Negative values are kInvalidArgument naming the field; zero means "not set", as in CRI.
Result<runtime::Resources> ToCgroupResources(const LinuxContainerResources& resources);

}  // namespace peapod::agent
