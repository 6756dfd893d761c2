// SandboxManager: the CRI pod sandbox verbs (RunPodSandbox, StopPodSandbox, RemovePodSandbox,
// PodSandboxStatus, ListPodSandbox), one source file each as containerd has them.
// Thread-safe: verbs on one sandbox are serialised by that sandbox's lock; no manager-wide lock
// is held across a CNI call or a process stop; List and Status answer from memory.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "peapod/agent/config.h"
#include "peapod/agent/cri_types.h"
#include "peapod/agent/stats.h"
#include "peapod/error.h"

namespace peapod::cni {
class CniClient;
}
namespace peapod::runtime {
class CgroupDriver;
}

namespace peapod::agent {

class ContainerManager;
class EventBus;
class ExitMonitor;
enum class ContainerEventType;
class StateStore;
struct SandboxEntry;

class SandboxManager {
 public:
  SandboxManager(AgentConfig config, cni::CniClient* cni, ExitMonitor* monitor, StateStore* store);
  ~SandboxManager();
  SandboxManager(const SandboxManager&) = delete;
  SandboxManager& operator=(const SandboxManager&) = delete;
  void SetContainerManager(ContainerManager* containers) { containers_ = containers; }
  // The host's cgroup hierarchies; null (the default) runs pods without cgroups.
  void SetCgroupDriver(std::shared_ptr<const runtime::CgroupDriver> driver) {
    cgroup_driver_ = std::move(driver);
  }
  const std::shared_ptr<const runtime::CgroupDriver>& cgroup_driver() const {
    return cgroup_driver_;
  }
  // Whether pods can run in user namespaces on this node (runtime::ProbeUserNamespaces at
  // start-up); the error says why not. Pods asking for one are refused with it.
  void SetUserNamespaceSupport(Status support) { userns_support_ = std::move(support); }
  const Status& user_namespace_support() const { return userns_support_; }

  // Starts pause in the pod's namespaces, attaches the network (unless hostNetwork) and writes
  // the pod's /etc/hosts, /etc/resolv.conf and /etc/hostname. Returns the sandbox id. Any
  // failure rolls back everything done so far.
  Result<std::string> RunPodSandbox(const PodSandboxConfig& config,
                                    const std::string& runtime_handler = "");
  // Stops the pod's containers, detaches the network and stops pause. Idempotent; an unknown id
  // is kNotFound, as in containerd.
  Status StopPodSandbox(const std::string& id);
  // Stops if needed, removes the pod's containers, its namespaces, dirs and record. An unknown
  // id succeeds: kubelet expects removing a gone sandbox to work.
  Status RemovePodSandbox(const std::string& id);
  Result<PodSandboxStatusResponse> PodSandboxStatus(const std::string& id, bool verbose = false);
  // In-place pod resize (KEP-1287): the pod cgroup takes `resources` plus `overhead` live (an
  // absent one keeps what the pod had), all or nothing; the record keeps both.
  Status UpdatePodSandboxResources(const std::string& id,
                                   const std::optional<LinuxContainerResources>& overhead,
                                   const std::optional<LinuxContainerResources>& resources);
  std::vector<PodSandbox> ListPodSandbox(const PodSandboxFilter& filter = {});

  // CPU, memory, processes and network of a ready pod plus its containers' stats
  // (sandbox_stats.cpp); a pod that is not ready is kUnavailable, as in containerd.
  Result<agent::PodSandboxStats> PodSandboxStats(const std::string& id);
  // Stats of every ready pod matching `filter`.
  std::vector<agent::PodSandboxStats> ListPodSandboxStats(const PodSandboxStatsFilter& filter = {});
  // ListPodSandboxMetrics: the cadvisor-like metrics of every ready pod and its containers.
  std::vector<PodSandboxMetrics> ListPodSandboxMetrics();
  // Where lifecycle events are published (GetContainerEvents); null publishes nothing.
  void SetEventBus(EventBus* events) { events_ = events; }

  // Re-adopts the sandboxes recorded under the state root (at start-up, before serving).
  Status Recover();

  // For the container manager: the sandbox with this id (or unique id prefix), or null.
  std::shared_ptr<SandboxEntry> Find(const std::string& id_or_prefix);
  // The monitor saw pause exit: the pod is no longer ready.
  bool OnPauseExit(const std::string& id);
  const AgentConfig& config() const { return config_; }

 private:
  Status userns_support_ = Fail(ErrorCode::kFailedPrecondition, "not probed");
  Result<std::shared_ptr<SandboxEntry>> Lookup(const std::string& id_or_prefix);
  Status WriteRecord(const SandboxEntry& entry);
  Status StopLocked(SandboxEntry& entry);
  void WatchPause(SandboxEntry& entry);
  void MarkNotReady(SandboxEntry& entry);
  void SweepLeftOverPodCgroups();
  // Recovery (recover.cpp): undo a RunPodSandbox that never finished; release what a crash
  // left without a record (pause processes found by ledger, run dirs, CNI cache, cgroups).
  void RemoveUnfinishedSandbox(SandboxEntry& entry, const std::vector<pid_t>& pauses);
  void SweepLeaks(const std::set<std::string>& recorded,
                  const std::map<std::string, std::vector<pid_t>>& pauses);
  // Takes the pod's name+attempt for a RunPodSandbox in progress (under mu_, before any side
  // effect); kAlreadyExists while a listed sandbox or another call in progress holds it. Takes
  // its host ports too: kFailedPrecondition when a ready sandbox, or one being made, already
  // maps one of them (same protocol and port, same address or a wildcard), so a second pod
  // cannot take a port from the first by adding its iptables rules in front of them.
  Status ReserveName(const std::string& key, const PodSandboxConfig& config);
  void ReleaseName(const std::string& key);
  Result<agent::PodSandboxStats> StatsOf(SandboxEntry& entry);
  // Publishes a lifecycle event of the sandbox (its id as container_id; events.cpp).
  void EmitEvent(ContainerEventType type, const std::string& id);

  AgentConfig config_;
  cni::CniClient* cni_;
  ExitMonitor* monitor_;
  StateStore* store_;
  ContainerManager* containers_ = nullptr;
  std::shared_ptr<const runtime::CgroupDriver> cgroup_driver_;
  EventBus* events_ = nullptr;
  CpuRateTracker cpu_rates_;

  std::mutex mu_;  // guards sandboxes_ and every entry's status fields; held only briefly
  std::map<std::string, std::shared_ptr<SandboxEntry>> sandboxes_;
  // Names ("<name>_<namespace>_<uid>_<attempt>") of sandboxes being made; a made sandbox holds
  // its name by being in sandboxes_ until it is removed.
  // Each with its host port mappings (hostNetwork pods map none).
  std::map<std::string, std::vector<PortMapping>> names_in_flight_;
};

}  // namespace peapod::agent
