// Internal to the manifest parser: walking YAML nodes (peapod/yaml_document.h) with the JSON
// typing rules the API server applies (a YAML manifest is converted to JSON before it is decoded),
// collecting every issue with its line instead of stopping at the first.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "peapod/agent/controller/manifest.h"
#include "peapod/yaml_document.h"

namespace peapod::agent::controller::manifest_internal {

// "spec.containers[0].resizePolicy" -> "spec.containers.resizePolicy"; "items[2]." dropped.
std::string WithoutIndices(std::string_view path);

// Line of a node, 1-based; 0 when the node has no mark (an absent field).
int LineOf(const yaml::Node& node);

// "spec" + "containers" -> "spec.containers"; "x" + 3 -> "x[3]".
std::string Field(const std::string& path, std::string_view name);
std::string Index(const std::string& path, size_t i);

class Reader {
 public:
  Reader(std::string file, const ParseOptions& options)
      : file_(std::move(file)), options_(options) {}

  void Error(const yaml::Node& at, const std::string& path, std::string message);
  void Error(int line, const std::string& path, std::string message);
  // A field peapod does not act on. Harmless to ignore (HarmlessToIgnore): a warning, an error
  // when parsing strictly. Otherwise an error, a warning with ignore_unsupported.
  void Unsupported(const yaml::Node& at, const std::string& path);
  // Something peapod will not do, with why: an error, or with ignore_unsupported a warning
  // ("<why>, ignored"). Returns whether it was an error.
  bool Refuse(const yaml::Node& at, const std::string& path, const std::string& why);

  // Checks that `node` is a mapping ("must be an object" otherwise) and reports every key not in
  // `known` as unsupported (keys in `ignored` are dropped silently: see manifest.cpp for why).
  // Duplicate keys are errors, as in kubectl. Returns false when `node` is not a mapping.
  bool Object(const yaml::Node& node, const std::string& path,
              std::initializer_list<std::string_view> known,
              std::initializer_list<std::string_view> ignored = {});
  // false (with "must be a list") unless `node` is a sequence; an absent or null node is an
  // empty list (returns false too, without an issue).
  bool List(const yaml::Node& node, const std::string& path);

  // Scalars with JSON typing. Each returns whether a value was present and well-typed; an absent
  // or null node leaves `out` untouched and returns false without an issue.
  bool String(const yaml::Node& node, const std::string& path, std::string& out);
  bool String(const yaml::Node& node, const std::string& path, std::optional<std::string>& out);
  bool Int(const yaml::Node& node, const std::string& path, int64_t& out);
  bool Int32(const yaml::Node& node, const std::string& path, int32_t& out);
  bool Int64(const yaml::Node& node, const std::string& path, std::optional<int64_t>& out);
  bool Bool(const yaml::Node& node, const std::string& path, bool& out);
  bool Bool(const yaml::Node& node, const std::string& path, std::optional<bool>& out);
  bool StringList(const yaml::Node& node, const std::string& path, std::vector<std::string>& out);
  bool StringMap(const yaml::Node& node, const std::string& path,
                 std::map<std::string, std::string>& out);
  // Kubernetes' IntOrString (probe and hook ports).
  bool IntOrString(const yaml::Node& node, const std::string& path,
                   std::variant<int32_t, std::string>& out);
  // A quantity written as a number or a string.
  bool QuantityValue(const yaml::Node& node, const std::string& path, bool cpu, Quantity& out);

  SourceRef Source(const yaml::Node& node) const { return {file_, LineOf(node)}; }
  const std::string& file() const { return file_; }
  bool strict() const { return options_.strict; }
  bool ignore_unsupported() const { return options_.ignore_unsupported; }

  std::vector<ManifestIssue> errors;
  std::vector<ManifestIssue> warnings;

 private:
  std::string file_;
  ParseOptions options_;
};

// ---- Kubernetes name and value rules (k8s.io/apimachinery/pkg/util/validation) ---------------

// Empty optional: valid; otherwise the message to report.
std::optional<std::string> CheckDns1123Subdomain(std::string_view value);
std::optional<std::string> CheckDns1123Label(std::string_view value);
std::optional<std::string> CheckIanaServiceName(std::string_view value);
std::optional<std::string> CheckEnvVarName(std::string_view value);
std::optional<std::string> CheckConfigMapKey(std::string_view value);
std::optional<std::string> CheckLabelKey(std::string_view value);
std::optional<std::string> CheckLabelValue(std::string_view value);
// A relative path without ".." elements (items[].path, subPath).
std::optional<std::string> CheckRelativePath(std::string_view value);
bool IsIpAddress(const std::string& value);

// Standard base64 (as Go's encoding/base64.StdEncoding, which the API server uses); nullopt
// when malformed.
std::optional<std::string> DecodeBase64(std::string_view text);

// ---- helpers shared by the pod and container readers ----------------------------------------

std::string Quote(std::string_view value);
// "must be one of \"A\", \"B\"".
std::string OneOf(std::initializer_list<std::string_view> values);
// A list element that must be an object (null is not allowed either).
bool ListItem(Reader& r, const yaml::Node& item, const std::string& path,
              std::initializer_list<std::string_view> known);
// An enum-like string field checked against `values`.
void Enum(Reader& r, const yaml::Node& node, const std::string& path, std::string& out,
          std::initializer_list<std::string_view> values);
void PortNumber(Reader& r, const yaml::Node& node, const std::string& path, int32_t value,
                bool allow_zero);
void NonNegative(Reader& r, const yaml::Node& node, const std::string& path, int64_t value);
// A file mode (0-0777), as defaultMode and items[].mode.
void FileMode(Reader& r, const yaml::Node& node, const std::string& path,
              std::optional<int32_t>& out);
// A user or group id (0-2147483647).
void IdField(Reader& r, const yaml::Node& node, const std::string& path,
             std::optional<int64_t>& out);
std::optional<SeccompProfile> ReadSeccomp(Reader& r, const yaml::Node& node,
                                          const std::string& path);

// ---- fields that ask for isolation (manifest_security.cpp) ------------------------------------
// Each reads its field and reports an error, never a warning, when peapod cannot give what it
// asks for; what peapod does anyway is accepted silently.

// hostUsers: false as the API server validates it: not with the host's network, PID or IPC
// namespace, nor with a privileged container.
void CheckHostUsers(Reader& r, const yaml::Node& spec, const std::string& path, const PodSpec& pod);
void ReadSeLinuxOptions(Reader& r, const yaml::Node& node, const std::string& path);
void ReadAppArmorProfile(Reader& r, const yaml::Node& node, const std::string& path);
void ReadWindowsOptions(Reader& r, const yaml::Node& node, const std::string& path);
void ReadProcMount(Reader& r, const yaml::Node& node, const std::string& path);
void ReadSupplementalGroupsPolicy(Reader& r, const yaml::Node& node, const std::string& path,
                                  std::string& policy);
// volumeMounts[].recursiveReadOnly into mount.recursive_read_only, checked against the mount's
// readOnly and propagation as the API server validates them.
void ReadRecursiveReadOnly(Reader& r, const yaml::Node& node, const std::string& path,
                           VolumeMount& mount);
// capabilities.add/drop: names the kernel interface knows ("ALL" included).
void CheckCapabilityNames(Reader& r, const yaml::Node& list, const std::string& path,
                          const std::vector<std::string>& names);
// resources.limits: only cpu and memory can be enforced (ephemeral-storage, hugepages-* are
// refused); extended resources (a name with a '/') are unsupported, as requests are.
void CheckResourceLimitNames(Reader& r, const yaml::Node& limits, const std::string& path);
// Pod sysctls must live in a namespace the pod owns (net.* without hostNetwork, IPC ones
// without hostIPC): anything else would be set on the node.
void CheckSysctlNamespaces(Reader& r, const yaml::Node& spec, const std::string& path,
                           const PodSpec& pod);
// AppArmor annotations (refused unless "unconfined") and the seccomp annotations Kubernetes no
// longer reads (refused unless the field asks for the same profile).
void CheckSecurityAnnotations(Reader& r, const yaml::Node& annotations, const std::string& path,
                              const PodSpec& spec);
// seccompProfile.localhostProfile: relative to the node's seccomp profile root, no "..".
void CheckLocalhostProfilePath(Reader& r, const yaml::Node& node, const std::string& path,
                               const std::string& profile);

// fieldRef and resourceFieldRef, of an env var or (volume) of a downwardAPI file, which may
// name metadata.labels and metadata.annotations whole but no status, and must name its container.
std::optional<FieldRef> ReadFieldRef(Reader& r, const yaml::Node& node, const std::string& path,
                                     bool volume);
std::optional<ResourceFieldRef> ReadResourceFieldRef(Reader& r, const yaml::Node& node,
                                                     const std::string& path, bool volume);

// What a container's fields are checked against in its pod.
struct PodContext {
  std::set<std::string> volumes;
  bool host_network = false;
};

// One entry of containers or initContainers (manifest_container.cpp).
Container ReadContainer(Reader& r, const yaml::Node& node, const std::string& path, bool init,
                        const PodContext& pod);

// Parses a pod object's spec into `pod` (manifest_pod.cpp). Validates everything that can be
// checked within one pod.
// `claim_volumes`: volumes a StatefulSet adds (its volumeClaimTemplates), mountable too.
void ReadPodSpec(Reader& reader, const yaml::Node& spec, const std::string& path, Pod& pod,
                 const std::vector<std::string>& claim_volumes = {});

// ---- workloads (manifest_workload.cpp) ------------------------------------------------------

// A node as the JSON kubectl would send for it (scalars typed as the readers above type them).
nlohmann::json ToJson(const yaml::Node& node);
// metadata of any object (manifest.cpp).
ObjectMeta ReadObjectMeta(Reader& r, const yaml::Node& object, const std::string& prefix);
void ReadOwnerReferences(Reader& r, const yaml::Node& node, const std::string& path,
                         std::vector<OwnerReference>& out);
// Job, Deployment, DaemonSet (a Deployment of one), StatefulSet.
bool IsWorkloadKind(std::string_view kind);
void ReadWorkload(Reader& r, const yaml::Node& object, const std::string& prefix,
                  const std::string& kind, ManifestSet& set);

}  // namespace peapod::agent::controller::manifest_internal
