// What a CRI request may ask for that peapod cannot give: a user namespace it cannot make (or
// one combined with host namespaces or privileged), SELinux labels, an
// AppArmor profile, a seccomp profile that does not load, an ID-mapped or recursively read-only
// mount it cannot make, a runtime handler it does not have. Each check fails with
// kInvalidArgument naming the field and why, before anything is made, so a pod never runs with
// less isolation than it asked for. (The same fields in a manifest are refused at apply.)
#pragma once

#include <string>
#include <vector>

#include "peapod/agent/cri_types.h"
#include "peapod/error.h"
#include "peapod/runtime/user_namespace.h"

namespace peapod::agent {

// `handlers` are the names besides the default "" that the agent accepts (peapodd
// --runtime-handler). `userns_support` is the node's (SandboxManager::user_namespace_support).
Status CheckSandboxRequest(const PodSandboxConfig& config, const std::string& runtime_handler,
                           const std::vector<std::string>& handlers, const Status& userns_support);

// Container-level fields other than capabilities and seccomp/AppArmor of the container itself,
// which BuildContainerSecurity refuses when it cannot honour them. `pod` is its sandbox's config
// (the user namespace must be the pod's).
Status CheckContainerRequest(const ContainerConfig& config, const PodSandboxConfig& pod);

// CRI's mappings as the runtime's.
std::vector<runtime::IdMap> ToIdMaps(const std::vector<IdMapping>& mappings);

}  // namespace peapod::agent
