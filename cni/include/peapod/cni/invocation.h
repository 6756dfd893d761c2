// Building what a plugin is given: the CNI_* environment, CNI_ARGS, and the stdin config with
// name, cniVersion, prevResult and runtimeConfig injected.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "peapod/cni/config.h"
#include "peapod/cni/types.h"

namespace peapod::cni {

// "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name;K8S_POD_INFRA_CONTAINER_ID=id;
// K8S_POD_UID=uid", as kubelet's dockershim and containerd pass it.
std::string BuildCniArgs(const PodNetwork& pod);

// The capability arguments a pod carries, keyed by capability name ("portMappings",
// "bandwidth", "ips", "mac", "dns"); only those the pod has a value for.
nlohmann::json CapabilityArgs(const PodNetwork& pod);

// The stdin config for one plugin of `list`: its object plus "name" and "cniVersion" from the
// list, "prevResult" when given, and "runtimeConfig" holding only the capabilities the plugin
// declares (the spec forbids sending undeclared ones).
nlohmann::json BuildPluginStdin(const NetworkConfigList& list, const PluginConfig& plugin,
                                const nlohmann::json& capability_args,
                                const std::optional<nlohmann::json>& prev_result);

struct InvocationEnv {
  std::string command;  // ADD, CHECK, DEL, VERSION
  std::string container_id;
  std::string netns;
  std::string ifname;
  std::string cni_args;
  std::vector<std::string> plugin_dirs;
};
// The whole environment of a plugin: CNI_* plus PATH, nothing else of the agent's.
std::vector<std::string> BuildPluginEnv(const InvocationEnv& env);

}  // namespace peapod::cni
