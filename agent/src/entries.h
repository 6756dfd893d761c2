// The managers' in-memory objects and their JSON records (internal to agent/).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "peapod/agent/config.h"
#include "peapod/agent/cri_types.h"
#include "peapod/cni/types.h"
#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/container.h"
#include "peapod/runtime/sandbox.h"

namespace peapod::agent {

// Lifecycle phase of a record, so a crash half-way is recognised at start-up.
enum class SandboxPhase { kCreating = 0, kReady = 1, kStopped = 2 };

struct SandboxEntry {
  std::string id;
  PodSandboxConfig config;
  std::string runtime_handler;
  int64_t created_at = 0;
  bool host_network = false;
  std::string pod_dir;  // run dir: ns/, exits, FIFOs, hosts, resolv.conf, hostname
  runtime::SandboxSpec spec;

  // Serialises verbs on this sandbox; CreateContainer takes it shared, Stop/Remove exclusive.
  std::shared_mutex op_mu;
  // Guarded by op_mu.
  std::unique_ptr<runtime::Sandbox> sandbox;
  runtime::ProcessIdentity pause;
  bool network_attached = false;

  // Guarded by the manager's mu_ (snapshots for List/Status), except phase.
  std::atomic<SandboxPhase> phase{SandboxPhase::kCreating};  // read without locks
  std::string ip;
  std::vector<std::string> additional_ips;
  bool removed = false;

  PodSandboxState State() const {
    return phase == SandboxPhase::kReady ? PodSandboxState::kReady : PodSandboxState::kNotReady;
  }
  std::string HostsPath() const { return pod_dir + "/hosts"; }
  std::string ResolvConfPath() const { return pod_dir + "/resolv.conf"; }
  std::string HostnamePath() const { return pod_dir + "/hostname"; }
};

struct ContainerEntry {
  std::string id;
  std::string sandbox_id;
  ContainerConfig config;
  std::string image_id;  // the resolved image ("sha256:...") — CRI image_ref
  int stop_signal = 15;
  std::string log_path;  // absolute, "" when the sandbox has no log directory
  runtime::ContainerSpec spec;
  std::string rootfs_dir;  // the container's rootfs mount point

  std::mutex op_mu;  // serialises verbs and exit recording on this container
  // Guarded by op_mu.
  std::unique_ptr<runtime::Container> container;
  runtime::ContainerProcess process;

  // Guarded by the manager's mu_.
  ContainerState state = ContainerState::kCreated;
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int32_t exit_code = 0;
  std::string reason;
  std::string message;
  bool removed = false;
};

// The pod's CNI attachment (identity, netns, hostPorts), built the same way for ADD and DEL.
cni::PodNetwork PodNetworkOf(const SandboxEntry& entry, const std::string& netns_path);

// The cgroups of a pod: under its CRI cgroup_parent, else the agent's parent. nullopt when the
// agent runs without cgroups (no driver). Pause gets a container cgroup named after the sandbox
// id, since on v2 the pod cgroup itself cannot hold processes once it has children.
std::optional<runtime::CgroupManager> PodCgroupManager(
    const std::shared_ptr<const runtime::CgroupDriver>& driver, const AgentConfig& config,
    const PodSandboxConfig& pod_config);

// The limits of the pod cgroup: the pod's resources (the sum over its containers, or the pod-level
// resources of KEP-2837) plus its overhead; nullopt when the pod has no resources.
std::optional<LinuxContainerResources> PodCgroupLimits(const LinuxPodSandboxConfig& linux);

// 64 hex characters from the kernel's random source, as containerd's ids.
std::string GenerateId();

// Record <-> JSON. The *Locked variants read fields guarded by the manager's mu_, which the
// caller holds.
nlohmann::json SandboxRecordLocked(const SandboxEntry& entry);
Status LoadSandboxRecord(const nlohmann::json& record, SandboxEntry& entry);
nlohmann::json ContainerRecordLocked(const ContainerEntry& entry);
Status LoadContainerRecord(const nlohmann::json& record, ContainerEntry& entry);

bool MatchesLabels(const std::map<std::string, std::string>& labels,
                   const std::map<std::string, std::string>& selector);

}  // namespace peapod::agent
