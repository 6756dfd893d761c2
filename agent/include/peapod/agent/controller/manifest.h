// Kubernetes manifests as peapod understands them: the parts of v1 Pod, ConfigMap and Secret
// that peapod acts on, as plain structs, and the parser/validator that turns YAML text into them.
//
// Field names follow the Kubernetes API (camelCase there, snake_case here). Optional fields are
// std::optional where Kubernetes distinguishes "unset" from a zero value (defaults are applied by
// ApplyDefaults, as the API server would). Every parsed node keeps the line it came from so that
// later checks (in the controller) can still point at the manifest.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "peapod/error.h"

namespace peapod::agent::controller {

// Where a value came from: "<file>:<line>" for messages. line is 1-based; 0 means unknown.
struct SourceRef {
  std::string file;
  int line = 0;
};

// A Kubernetes quantity ("100m", "1.5", "128Mi", "1G") kept as text and as its value.
struct Quantity {
  std::string text;
  // cpu: millicores; memory/storage: bytes.
  int64_t value = 0;
};

// metadata.ownerReferences: the workload (Job, Deployment, StatefulSet) that made a pod.
struct OwnerReference {
  std::string api_version;  // batch/v1, apps/v1
  std::string kind;
  std::string name;
  std::string uid;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_ = "default";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string uid;  // assigned by peapod when empty
  std::vector<OwnerReference> owner_references;
  SourceRef source;
};

// ---- ConfigMap / Secret -------------------------------------------------------------------------

struct ConfigMap {
  ObjectMeta metadata;
  std::map<std::string, std::string> data;
  std::map<std::string, std::string> binary_data;  // decoded bytes
};

struct Secret {
  ObjectMeta metadata;
  std::string type = "Opaque";
  std::map<std::string, std::string> data;  // decoded bytes (from base64 `data` and `stringData`)
};

// ---- Pod spec -----------------------------------------------------------------------------------

struct KeySelector {  // configMapKeyRef / secretKeyRef
  std::string name;
  std::string key;
  bool optional = false;
};

struct FieldRef {  // fieldRef: metadata.name, metadata.namespace, metadata.uid, status.podIP, ...
  std::string field_path;
};

struct ResourceFieldRef {
  std::string container_name;
  std::string resource;  // limits.cpu, limits.memory, requests.cpu, requests.memory
  std::string divisor;
};

struct EnvVar {
  std::string name;
  std::optional<std::string> value;
  std::optional<KeySelector> config_map_key_ref;
  std::optional<KeySelector> secret_key_ref;
  std::optional<FieldRef> field_ref;
  std::optional<ResourceFieldRef> resource_field_ref;
  SourceRef source;
};

struct EnvFromSource {
  std::string prefix;
  std::optional<KeySelector> config_map_ref;  // key unused
  std::optional<KeySelector> secret_ref;      // key unused
};

struct ContainerPort {
  std::string name;
  int32_t container_port = 0;
  int32_t host_port = 0;
  std::string host_ip;
  std::string protocol = "TCP";  // TCP, UDP, SCTP
  SourceRef source;
};

struct ResourceRequirements {
  std::map<std::string, Quantity> requests;  // "cpu", "memory", "hugepages-2Mi", ...
  std::map<std::string, Quantity> limits;
};

// How a container takes a resize of one resource (KEP-1287): NotRequired changes its cgroup in
// place, RestartContainer restarts it with the new limits. Absent: NotRequired.
struct ContainerResizePolicy {
  std::string resource_name;   // cpu, memory
  std::string restart_policy;  // NotRequired, RestartContainer
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
  std::string sub_path;
  // subPathExpr: $(VAR) references to the container's environment, expanded when the container
  // is created (kubelet's subpath expansion); exclusive with sub_path.
  std::string sub_path_expr;
  bool read_only = false;
  std::string mount_propagation;  // None, HostToContainer, Bidirectional
  std::string recursive_read_only;  // "", Disabled, IfPossible, Enabled (KEP-3857)
  SourceRef source;
};

struct ExecAction {
  std::vector<std::string> command;
};

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpGetAction {
  std::string path = "/";
  // A number, or the name of a container port.
  std::variant<int32_t, std::string> port = int32_t{0};
  std::string host;  // default: the pod IP
  std::string scheme = "HTTP";
  std::vector<HttpHeader> http_headers;
};

struct TcpSocketAction {
  std::variant<int32_t, std::string> port = int32_t{0};
  std::string host;
};

struct GrpcAction {
  int32_t port = 0;
  std::string service;  // empty: the server's overall health
};

struct SleepAction {
  int64_t seconds = 0;
};

// One of exec / httpGet / tcpSocket / grpc (probes) or exec / httpGet / sleep (hooks).
using Handler = std::variant<std::monostate, ExecAction, HttpGetAction, TcpSocketAction,
                             GrpcAction, SleepAction>;

struct Probe {
  Handler handler;
  // Kubernetes' defaults (ApplyDefaults): 0, 1, 10, 1, 3; successThreshold must be 1 for
  // liveness and startup probes.
  int32_t initial_delay_seconds = 0;
  int32_t timeout_seconds = 1;
  int32_t period_seconds = 10;
  int32_t success_threshold = 1;
  int32_t failure_threshold = 3;
  std::optional<int64_t> termination_grace_period_seconds;
  SourceRef source;
};

struct Lifecycle {
  Handler post_start;
  Handler pre_stop;
  std::string stop_signal;  // "" = the image's (Kubernetes' ContainerStopSignals)
};

struct Capabilities {
  std::vector<std::string> add;
  std::vector<std::string> drop;
};

struct SeccompProfile {
  std::string type;  // RuntimeDefault, Unconfined, Localhost
  // Relative to the node's seccomp profile root (the controller's seccomp_root), as kubelet
  // reads it relative to <root-dir>/seccomp.
  std::string localhost_profile;
  SourceRef source;
};

struct Sysctl {
  std::string name;
  std::string value;
};

struct SecurityContext {  // container level
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  std::optional<bool> run_as_non_root;
  std::optional<bool> read_only_root_filesystem;
  std::optional<bool> privileged;
  std::optional<bool> allow_privilege_escalation;
  std::optional<Capabilities> capabilities;
  std::optional<SeccompProfile> seccomp_profile;
};

struct PodSecurityContext {
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  std::optional<bool> run_as_non_root;
  std::optional<int64_t> fs_group;
  std::vector<int64_t> supplemental_groups;
  std::string supplemental_groups_policy;  // "", Merge, Strict (KEP-3619)
  std::optional<SeccompProfile> seccomp_profile;
  std::vector<Sysctl> sysctls;
};

// restartPolicyRules[] (KEP-5307): on an exit whose code is In (or NotIn) `values`, `action`.
struct ContainerRestartRule {
  std::string action;               // "Restart", the only action Kubernetes defines
  std::string exit_codes_operator;  // In, NotIn
  std::vector<int32_t> exit_codes_values;

  bool Matches(int32_t exit_code) const {
    bool in = std::find(exit_codes_values.begin(), exit_codes_values.end(), exit_code) !=
              exit_codes_values.end();
    return exit_codes_operator == "In" ? in : !in;
  }
};

struct Container {
  std::string name;
  std::string image;
  std::string image_pull_policy;  // Always, IfNotPresent, Never (defaulted by ApplyDefaults)
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::string working_dir;
  std::vector<EnvVar> env;
  std::vector<EnvFromSource> env_from;
  std::vector<ContainerPort> ports;
  ResourceRequirements resources;
  std::vector<ContainerResizePolicy> resize_policy;
  std::vector<VolumeMount> volume_mounts;
  std::optional<Probe> liveness_probe;
  std::optional<Probe> readiness_probe;
  std::optional<Probe> startup_probe;
  std::optional<Lifecycle> lifecycle;
  std::optional<SecurityContext> security_context;
  // On initContainers only "Always", which makes it a sidecar (Kubernetes 1.29+). On containers
  // Always, OnFailure or Never: this container's policy instead of the pod's (KEP-5307).
  std::optional<std::string> restart_policy;
  // containers only, with restart_policy (KEP-5307): the first rule matching an exit decides.
  std::vector<ContainerRestartRule> restart_policy_rules;
  std::string termination_message_path = "/dev/termination-log";
  std::string termination_message_policy = "File";  // File, FallbackToLogsOnError
  bool stdin = false;
  bool stdin_once = false;
  bool tty = false;
  SourceRef source;

  bool IsSidecar() const { return restart_policy && *restart_policy == "Always"; }
};

struct KeyToPath {
  std::string key;
  std::string path;
  std::optional<int32_t> mode;
};

struct EmptyDirVolume {
  std::string medium;  // "" (node disk) or "Memory" (tmpfs)
  std::optional<Quantity> size_limit;
};

struct HostPathVolume {
  std::string path;
  std::string type;  // "", DirectoryOrCreate, Directory, FileOrCreate, File, Socket, ...
};

// An OCI image mounted read-only as a volume (KEP-4639): pulled like a container's image.
struct ImageVolume {
  std::string reference;
  std::string pull_policy;  // Always, IfNotPresent, Never; defaulted as a container's
};

struct ConfigMapVolume {
  std::string name;
  std::vector<KeyToPath> items;
  std::optional<int32_t> default_mode;  // 0644 by default
  bool optional = false;
};

struct SecretVolume {
  std::string secret_name;
  std::vector<KeyToPath> items;
  std::optional<int32_t> default_mode;  // 0644 by default
  bool optional = false;
};

// One file of a downwardAPI volume (or projection): a fieldRef (metadata.name, .namespace,
// .uid, .labels, .annotations, one label or annotation) or a resourceFieldRef of a container.
struct DownwardApiFile {
  std::string path;
  std::optional<FieldRef> field_ref;
  std::optional<ResourceFieldRef> resource_field_ref;
  std::optional<int32_t> mode;
};

struct DownwardApiVolume {
  std::vector<DownwardApiFile> items;
  std::optional<int32_t> default_mode;  // 0644 by default
};

// A projected volume: configMap, secret and downwardAPI sources written into one directory
// (their own default_mode fields are unused; the projection's applies). serviceAccountToken
// sources are refused at parse time: there is no API server to mint a token.
struct ProjectedVolume {
  std::vector<std::variant<ConfigMapVolume, SecretVolume, DownwardApiVolume>> sources;
  std::optional<int32_t> default_mode;  // 0644 by default
};

struct Volume {
  std::string name;
  // A volume written with no source at all is an EmptyDirVolume, as the API server defaults it.
  // A source peapod does not support (persistentVolumeClaim, ...) is refused, or with
  // ignore_unsupported replaced by an EmptyDirVolume and reported.
  std::variant<EmptyDirVolume, HostPathVolume, ConfigMapVolume, SecretVolume, DownwardApiVolume,
               ProjectedVolume, ImageVolume>
      source_;
  SourceRef source;
};

struct HostAlias {
  std::string ip;
  std::vector<std::string> hostnames;
};

struct PodDnsConfigOption {
  std::string name;
  std::optional<std::string> value;
};

struct PodDnsConfig {
  std::vector<std::string> nameservers;
  std::vector<std::string> searches;
  std::vector<PodDnsConfigOption> options;
};

struct PodSpec {
  std::vector<Container> init_containers;  // includes sidecars (restartPolicy: Always)
  std::vector<Container> containers;
  std::vector<Volume> volumes;
  std::string restart_policy = "Always";  // Always, OnFailure, Never
  std::optional<int64_t> termination_grace_period_seconds;  // default 30
  // Seconds from the pod's start after which it fails with DeadlineExceeded.
  std::optional<int64_t> active_deadline_seconds;
  bool share_process_namespace = false;
  bool host_network = false;
  bool host_pid = false;
  bool host_ipc = false;
  // false: the pod runs in a user namespace of its own (KEP-127), with a 65536-id range the
  // controller allocates (userns_ranges.h).
  bool host_users = true;
  std::string hostname;
  std::string subdomain;
  std::string dns_policy = "ClusterFirst";  // ClusterFirst, Default, None, ClusterFirstWithHostNet
  std::optional<PodDnsConfig> dns_config;
  std::vector<HostAlias> host_aliases;
  std::optional<PodSecurityContext> security_context;
  std::string runtime_class_name;
  SourceRef runtime_class_source;
  // Pod-level requests and limits of cpu and memory (KEP-2837): the pod cgroup's limits, what
  // admission counts, and the bound of every container that has no limit of its own.
  ResourceRequirements resources;
};

struct Pod {
  ObjectMeta metadata;
  PodSpec spec;
};

// ---- Workloads (manifest_workload.cpp; run by workload_controller.cpp) -------------------------

// spec.template of a workload: the JSON the pods are stamped from (its metadata and spec, typed
// as kubectl types YAML) and the pod it describes, parsed and defaulted, for checks and display.
struct PodTemplate {
  nlohmann::json json;
  Pod pod;
};

// A workload as applied. `object` is the whole manifest as JSON: what is persisted, shown by
// `get -o yaml`, and changed by `scale` and `rollout undo`.
struct Workload {
  std::string kind;  // Job, Deployment, StatefulSet (a DaemonSet is read as a Deployment of one)
  std::string api_version;
  ObjectMeta metadata;
  nlohmann::json object;
  PodTemplate pod_template;
  std::map<std::string, std::string> selector;  // matchLabels (Deployment, StatefulSet)
  // Job
  int32_t completions = 1;
  int32_t parallelism = 1;
  int32_t backoff_limit = 6;
  std::optional<int64_t> active_deadline_seconds;
  std::optional<int64_t> ttl_seconds_after_finished;
  // Deployment, StatefulSet
  int32_t replicas = 1;
  std::string strategy;  // RollingUpdate, Recreate (Deployment); RollingUpdate, OnDelete (sts)
  std::variant<int32_t, std::string> max_surge = std::string("25%");
  std::variant<int32_t, std::string> max_unavailable = std::string("25%");
  int32_t revision_history_limit = 10;
  bool daemon_set = false;  // applied as kind DaemonSet
  // StatefulSet: spec.volumeClaimTemplates[].metadata.name, each a node-local directory.
  std::vector<std::string> volume_claims;
};

// ---- Parsing ------------------------------------------------------------------------------------

// One problem found in a manifest. `ToString()` gives the form users see:
//   "pod.yaml:14: spec.containers[1].ports[0].containerPort: must be 1-65535"
struct ManifestIssue {
  SourceRef where;
  std::string field_path;  // "spec.containers[1].ports[0].containerPort"
  std::string message;
  std::string ToString() const;
};

struct ManifestSet {
  std::vector<Pod> pods;
  std::vector<ConfigMap> config_maps;
  std::vector<Secret> secrets;
  std::vector<Workload> workloads;
  // Fields peapod does not act on but that are harmless to ignore (scheduling hints, service
  // accounts, requests for extended resources: see HarmlessToIgnore), and, with
  // ignore_unsupported, the fields and documents it refuses otherwise. With strict parsing the
  // harmless ones are errors too. Dropped without a word, because the API server also discards
  // them on create (so `kubectl get -o yaml` output applies): `status`,
  // metadata.creationTimestamp, uid, resourceVersion, generation, selfLink, managedFields.
  std::vector<ManifestIssue> warnings;
};

struct ParseOptions {
  // Harmless unsupported fields are errors too, not warnings.
  bool strict = false;
  // What peapod will not do (a field it does not implement, a document of another kind, a volume
  // source it has not) is a warning instead of an error; a dropped volume becomes an emptyDir so
  // that the pod does not wait for it forever. Never applies to fields that ask for isolation.
  bool ignore_unsupported = false;
};

// Whether an unsupported field (its path with list indices removed, "spec.containers.resizePolicy")
// is harmless to ignore: only a warning without --strict, never a refusal.
bool HarmlessToIgnore(std::string_view field_path);

// Parses one file's text (multi-document YAML: Pod, ConfigMap, Secret; `kind: List` too) and
// validates it as the API server would (DNS-1123 names, required fields, port ranges, unique
// container names and ports, volumes that exist, probe thresholds). On any error the result is
// kInvalidArgument whose message lists every issue, one per line, in ManifestIssue form.
// `file_name` is only used in messages. Scalars are typed as kubectl types them (YAML 1.1, then
// JSON): unquoted `yes`/`on` are booleans, `0644` is octal, a quoted "80" is not an integer, and
// an unquoted 8080 is not a string.
Result<ManifestSet> ParseManifests(const std::string& text, const std::string& file_name,
                                   const ParseOptions& options = {});

// Fills the defaults the API server fills (imagePullPolicy from the tag, probe defaults,
// termination grace 30 s, namespace "default", protocol TCP, ...). ParseManifests calls it.
void ApplyDefaults(Pod& pod);

// A stable hash of a pod's spec and metadata (not its source lines, not metadata.uid), taken
// after ApplyDefaults: equal for an unchanged re-apply however it is formatted ("0.5" and "500m"
// cpu are equal), different when anything the controller acts on changed (labels included).
std::string SpecHash(const Pod& pod);
// The same without the labels and the annotations peapod does not act on: when only those
// changed, a re-apply updates the running pod in place (its downward API files), as the API
// server lets labels and annotations change without replacing the pod.
std::string SpecHashWithoutMetadata(const Pod& pod);
// The same without the app containers' resources either: when only those (and metadata)
// changed, a re-apply resizes the running pod in place (KEP-1287).
std::string SpecHashWithoutResources(const Pod& pod);

// Parses a quantity; nullopt when malformed. cpu=true gives millicores, else bytes (rounded up).
std::optional<Quantity> ParseQuantity(const std::string& text, bool cpu);

}  // namespace peapod::agent::controller
