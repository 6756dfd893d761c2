// What a CRI request may ask for that peapod cannot give: a user namespace, SELinux labels, an
// AppArmor profile, a seccomp profile that does not load, an ID-mapped or recursively read-only
// mount it cannot make, a runtime handler it does not have. Each check fails with
// kInvalidArgument naming the field and why, before anything is made, so a pod never runs with
// less isolation than it asked for. (The same fields in a manifest are refused at apply.)
#pragma once

#include <string>
#include <vector>

#include "peapod/agent/cri_types.h"
#include "peapod/error.h"

namespace peapod::agent {

// `handlers` are the names besides the default "" that the agent accepts (peapodd
// --runtime-handler).
Status CheckSandboxRequest(const PodSandboxConfig& config, const std::string& runtime_handler,
                           const std::vector<std::string>& handlers);

// Container-level fields other than capabilities and seccomp/AppArmor of the container itself,
// which BuildContainerSecurity refuses when it cannot honour them.
Status CheckContainerRequest(const ContainerConfig& config);

}  // namespace peapod::agent
