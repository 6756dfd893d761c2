// The CRI runtime.v1 messages the sandbox and container managers speak, as plain C++ structs.
// Names and shapes follow api.proto so the cri/ layer maps protobuf onto them field by field;
// fields peapod does not act on yet are kept so nothing a client sends is lost.
// Times are nanoseconds since the epoch (CLOCK_REALTIME), as CRI's int64 timestamps are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace peapod::agent {

// ---- Shared ---------------------------------------------------------------------------------------

// NamespaceMode values are CRI's: POD = 0, CONTAINER = 1, NODE = 2, TARGET = 3.
enum class NamespaceMode { kPod = 0, kContainer = 1, kNode = 2, kTarget = 3 };

struct IdMapping {
  uint32_t host_id = 0;
  uint32_t container_id = 0;
  uint32_t length = 0;
};

struct UserNamespace {
  NamespaceMode mode = NamespaceMode::kNode;
  std::vector<IdMapping> uids;
  std::vector<IdMapping> gids;
};

struct NamespaceOption {
  NamespaceMode network = NamespaceMode::kPod;
  NamespaceMode pid = NamespaceMode::kContainer;
  NamespaceMode ipc = NamespaceMode::kPod;
  std::string target_id;
  UserNamespace userns_options;
};

struct SELinuxOption {
  std::string user, role, type, level;
};

// SecurityProfile.ProfileType: RuntimeDefault = 0, Unconfined = 1, Localhost = 2.
struct SecurityProfile {
  int profile_type = 1;
  std::string localhost_ref;
};

struct Capability {
  std::vector<std::string> add_capabilities;
  std::vector<std::string> drop_capabilities;
  std::vector<std::string> add_ambient_capabilities;
};

struct HugepageLimit {
  std::string page_size;
  uint64_t limit = 0;
};

struct LinuxContainerResources {
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_shares = 0;
  int64_t memory_limit_in_bytes = 0;
  int64_t oom_score_adj = 0;
  std::string cpuset_cpus;
  std::string cpuset_mems;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;
  int64_t memory_swap_limit_in_bytes = 0;
};

// ---- Pod sandbox ----------------------------------------------------------------------------------

struct PodSandboxMetadata {
  std::string name;
  std::string uid;
  std::string namespace_;  // CRI "namespace"
  uint32_t attempt = 0;
};

struct DNSConfig {
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

// Protocol values are CRI's: TCP = 0, UDP = 1, SCTP = 2.
enum class Protocol { kTcp = 0, kUdp = 1, kSctp = 2 };

struct PortMapping {
  Protocol protocol = Protocol::kTcp;
  int32_t container_port = 0;
  int32_t host_port = 0;
  std::string host_ip;
};

// SupplementalGroupsPolicy values are CRI's: Merge = 0 (the image's /etc/group memberships are
// added to the requested groups), Strict = 1 (only the requested groups).
enum class SupplementalGroupsPolicy { kMerge = 0, kStrict = 1 };

struct LinuxSandboxSecurityContext {
  NamespaceOption namespace_options;
  SELinuxOption selinux_options;
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  bool readonly_rootfs = false;
  std::vector<int64_t> supplemental_groups;
  SupplementalGroupsPolicy supplemental_groups_policy = SupplementalGroupsPolicy::kMerge;
  bool privileged = false;
  std::string seccomp_profile_path;
  std::optional<SecurityProfile> seccomp;
  std::optional<SecurityProfile> apparmor;
};

struct LinuxPodSandboxConfig {
  std::string cgroup_parent;
  LinuxSandboxSecurityContext security_context;
  std::map<std::string, std::string> sysctls;
  std::optional<LinuxContainerResources> overhead;
  std::optional<LinuxContainerResources> resources;
};

struct PodSandboxConfig {
  PodSandboxMetadata metadata;
  std::string hostname;
  std::string log_directory;
  std::optional<DNSConfig> dns_config;
  std::vector<PortMapping> port_mappings;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  LinuxPodSandboxConfig linux;
};

// PodSandboxState values are CRI's: SANDBOX_READY = 0, SANDBOX_NOTREADY = 1.
enum class PodSandboxState { kReady = 0, kNotReady = 1 };

struct PodIP {
  std::string ip;
};

struct PodSandboxNetworkStatus {
  std::string ip;
  std::vector<PodIP> additional_ips;
};

struct LinuxPodSandboxStatus {
  NamespaceOption namespaces;  // CRI Namespace{options}
};

struct PodSandboxStatus {
  std::string id;
  PodSandboxMetadata metadata;
  PodSandboxState state = PodSandboxState::kNotReady;
  int64_t created_at = 0;
  PodSandboxNetworkStatus network;
  LinuxPodSandboxStatus linux;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string runtime_handler;
};

struct PodSandboxStatusResponse {
  PodSandboxStatus status;
  std::map<std::string, std::string> info;  // verbose only
};

struct PodSandbox {
  std::string id;
  PodSandboxMetadata metadata;
  PodSandboxState state = PodSandboxState::kNotReady;
  int64_t created_at = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string runtime_handler;
};

struct PodSandboxFilter {
  std::string id;  // a prefix of the id matches, as containerd does
  std::optional<PodSandboxState> state;
  std::map<std::string, std::string> label_selector;
};

// ---- Container ------------------------------------------------------------------------------------

struct ContainerMetadata {
  std::string name;
  uint32_t attempt = 0;
};

struct ImageSpec {
  std::string image;
  std::map<std::string, std::string> annotations;
  std::string user_specified_image;
  std::string runtime_handler;
  std::string image_ref;  // an image volume's resolved image ID (1.36); carried, not acted on
};

struct KeyValue {
  std::string key;
  std::string value;
};

// MountPropagation values are CRI's: PRIVATE = 0, HOST_TO_CONTAINER = 1, BIDIRECTIONAL = 2.
enum class MountPropagation { kPrivate = 0, kHostToContainer = 1, kBidirectional = 2 };

struct Mount {
  std::string container_path;
  std::string host_path;
  bool readonly = false;
  bool selinux_relabel = false;
  MountPropagation propagation = MountPropagation::kPrivate;
  std::vector<IdMapping> uidMappings;
  std::vector<IdMapping> gidMappings;
  bool recursive_read_only = false;
  std::optional<ImageSpec> image;  // an image volume (KEP-4639) instead of host_path
  std::string image_sub_path;
};

struct Device {
  std::string container_path;
  std::string host_path;
  std::string permissions;
};

struct LinuxContainerSecurityContext {
  std::optional<Capability> capabilities;
  bool privileged = false;
  NamespaceOption namespace_options;
  SELinuxOption selinux_options;
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  std::string run_as_username;
  bool readonly_rootfs = false;
  std::vector<int64_t> supplemental_groups;
  SupplementalGroupsPolicy supplemental_groups_policy = SupplementalGroupsPolicy::kMerge;
  std::string apparmor_profile;
  std::string seccomp_profile_path;
  bool no_new_privs = false;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::optional<SecurityProfile> seccomp;
  std::optional<SecurityProfile> apparmor;
};

struct LinuxContainerConfig {
  std::optional<LinuxContainerResources> resources;
  LinuxContainerSecurityContext security_context;
};

struct ContainerConfig {
  ContainerMetadata metadata;
  ImageSpec image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::string working_dir;
  std::vector<KeyValue> envs;
  std::vector<Mount> mounts;
  std::vector<Device> devices;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string log_path;  // relative to the sandbox's log_directory
  bool stdin = false;
  bool stdin_once = false;
  bool tty = false;
  LinuxContainerConfig linux;
  // The pod's stop signal (a manifest's lifecycle.stopSignal, CRI's stop_signal), by name or
  // number; "" = the image's StopSignal, else SIGTERM (SIGRTMIN+3 for systemd).
  std::string stop_signal;
};

// The identity a container's first process was started with (CRI LinuxContainerUser).
struct LinuxContainerUser {
  int64_t uid = 0;
  int64_t gid = 0;
  std::vector<int64_t> supplemental_groups;
};

// ContainerState values are CRI's: CREATED = 0, RUNNING = 1, EXITED = 2, UNKNOWN = 3.
enum class ContainerState { kCreated = 0, kRunning = 1, kExited = 2, kUnknown = 3 };

struct ContainerStatus {
  std::string id;
  ContainerMetadata metadata;
  ContainerState state = ContainerState::kUnknown;
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int32_t exit_code = 0;
  ImageSpec image;
  std::string image_ref;
  std::string reason;  // "Completed", "Error", "OOMKilled"
  std::string message;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<Mount> mounts;
  std::string log_path;  // absolute
  std::optional<LinuxContainerResources> resources;
  std::optional<LinuxContainerUser> user;  // unset until the container was created
  int stop_signal = 0;                     // what StopContainer sends first (kernel number)
};

struct ContainerStatusResponse {
  ContainerStatus status;
  std::map<std::string, std::string> info;  // verbose only
};

struct Container {
  std::string id;
  std::string pod_sandbox_id;
  ContainerMetadata metadata;
  ImageSpec image;
  std::string image_ref;
  ContainerState state = ContainerState::kUnknown;
  int64_t created_at = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct ContainerFilter {
  std::string id;  // a prefix of the id matches, as containerd does
  std::optional<ContainerState> state;
  std::string pod_sandbox_id;
  std::map<std::string, std::string> label_selector;
};

}  // namespace peapod::agent
