// What a manifest pod becomes in CRI terms, as kubelet converts it: the sandbox config (hostname,
// DNS, port mappings, namespaces, pod security context, sysctls, labels), each container's config
// (env with its references resolved and $(VAR) expanded, resources, security context, mounts),
// and the pod's volumes on the node. Internal to the controller.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "peapod/agent/controller/manifest.h"
#include "peapod/agent/cri_types.h"
#include "peapod/error.h"

namespace peapod::agent::controller {

// Labels kubelet (and peapod) put on what it creates.
inline constexpr const char* kLabelPodName = "io.kubernetes.pod.name";
inline constexpr const char* kLabelPodNamespace = "io.kubernetes.pod.namespace";
inline constexpr const char* kLabelPodUid = "io.kubernetes.pod.uid";
inline constexpr const char* kLabelContainerName = "io.kubernetes.container.name";
inline constexpr const char* kLabelManaged = "io.peapod.managed";

// ConfigMaps and Secrets the controller holds, keyed "<namespace>/<name>".
struct ConfigObjects {
  std::map<std::string, ConfigMap> config_maps;
  std::map<std::string, Secret> secrets;
  const ConfigMap* FindConfigMap(const std::string& ns, const std::string& name) const;
  const Secret* FindSecret(const std::string& ns, const std::string& name) const;
};

// What the downward API and resourceFieldRef need about the running pod.
struct PodRuntimeInfo {
  std::string uid;
  std::string pod_ip;
  std::vector<std::string> pod_ips;
  std::string host_ip;
  std::string node_name;
};

// Expands $(VAR) references as kubelet does: a defined variable is replaced, an undefined one is
// left as written, and $$ escapes a dollar sign.
std::string ExpandVariables(const std::string& input,
                            const std::map<std::string, std::string>& vars);

// The container's environment in kubelet's order: envFrom sources first, then env (later names
// override earlier ones). Missing non-optional references fail (kubelet's
// CreateContainerConfigError).
Result<std::vector<KeyValue>> ResolveEnvironment(const Pod& pod, const Container& container,
                                                 const ConfigObjects& objects,
                                                 const PodRuntimeInfo& info);

// resources -> CRI LinuxContainerResources as kubelet converts them (cpu shares from the request,
// CFS quota from the limit with a 100 ms period, memory limit, oom_score_adj by QoS class).
LinuxContainerResources ConvertResources(const Pod& pod, const Container& container);
// The pod's QoS class: Guaranteed, Burstable or BestEffort (pod-level resources decide alone).
std::string QosClass(const Pod& pod);
// The cpu and memory requests the node allocates to a container (requests default to limits):
// kubelet's containerStatuses[].allocatedResources.
std::map<std::string, Quantity> AllocatedRequests(const Container& container);
// containerStatuses[].resources from what the runtime reports (ContainerStatus.resources).
ResourceRequirements StatusResources(const LinuxContainerResources& r, const Container& allocated);
// Pod-level resources (KEP-2837) as the pod cgroup's limits; nullopt when the pod has none.
std::optional<LinuxContainerResources> PodLevelResources(const Pod& pod);

// The merged pod + container security context in CRI form. Fails when runAsNonRoot cannot hold
// (`image_user` is the image config's USER).
Result<LinuxContainerSecurityContext> ConvertSecurityContext(const Pod& pod,
                                                             const Container& container,
                                                             const std::string& image_user);

// A Localhost profile names a file below `root`: the manifest's localhostProfile is relative,
// as kubelet's is to <root-dir>/seccomp, and CRI wants the absolute path.
void ResolveLocalhostSeccomp(std::optional<SecurityProfile>& profile, const std::string& root);

// The pod's node-side paths: <state_root>/controller/pod-data/<uid>/...
struct PodPaths {
  std::string root;
  std::string VolumeDir(const std::string& volume) const { return root + "/volumes/" + volume; }
  std::string ContainerDir(const std::string& container) const {
    return root + "/containers/" + container;
  }
  std::string HostsFile() const { return root + "/etc-hosts"; }
};

// subPathExpr: $(VAR) replaced from the container's environment; as kubelet, a variable that
// is undefined or empty fails ("missing value for VAR"), and so does a result that is absolute
// or climbs out with "..".
Result<std::string> ExpandSubPathExpr(const std::string& expr,
                                      const std::map<std::string, std::string>& vars);

// A downwardAPI file of labels or annotations: `key="value"` lines, sorted, the value quoted as
// Go's %q quotes it (kubelet's fieldpath.FormatMap), no newline after the last.
std::string FormatDownwardMap(const std::map<std::string, std::string>& map);

// Makes every volume exist on the node (emptyDir, tmpfs for medium Memory, secrets and
// projections, hostPath type checks, configMap/secret/downwardAPI/projected contents written
// atomically) and returns name -> host path. Idempotent: called again after a ConfigMap/Secret or
// the pod's labels or annotations changed, it rewrites their contents (one ..data swap each).
Result<std::map<std::string, std::string>> SetUpVolumes(const Pod& pod, const PodPaths& paths,
                                                        const ConfigObjects& objects,
                                                        const PodRuntimeInfo& info);
// Unmounts the pod's tmpfs volumes and removes its data dir.
Status TearDownVolumes(const PodPaths& paths);

// The CRI mounts of a container: its volumeMounts (subPath, or subPathExpr expanded from `env`,
// resolved inside the volume), and the termination message file.
Result<std::vector<Mount>> ContainerMounts(const Pod& pod, const Container& container,
                                           const std::map<std::string, std::string>& volume_paths,
                                           const std::string& termination_file,
                                           const std::string& hosts_file,
                                           const std::map<std::string, std::string>& env);

// kubelet's /etc/hosts for a pod: the managed lines, the pod's IP with its (FQDN) hostname, then
// the hostAliases. `base` is the node's /etc/hosts for hostNetwork pods.
std::string BuildPodHostsFile(const Pod& pod, const std::vector<std::string>& ips,
                              const std::string& node_hosts);
bool NeedsOwnHostsFile(const Pod& pod);

// The sandbox config: metadata, hostname, log directory, DNS (dnsPolicy + dnsConfig over the
// node's resolv.conf), port mappings, namespaces, pod security context, sysctls, labels.
PodSandboxConfig BuildSandboxConfig(const Pod& pod, const std::string& uid, uint32_t attempt,
                                    const std::string& log_directory,
                                    const std::string& node_resolv_conf);

// The hostname a pod's sandbox gets (spec.hostname or the name, at most 63 characters).
std::string PodHostname(const Pod& pod);

}  // namespace peapod::agent::controller
