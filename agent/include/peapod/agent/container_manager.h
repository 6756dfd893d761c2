// ContainerManager: the CRI container verbs (CreateContainer, StartContainer, StopContainer,
// RemoveContainer, ContainerStatus, ListContainers), one source file each as containerd has them.
// Thread-safe: verbs on one container are serialised by that container's lock; exits are
// recorded by the ExitMonitor thread, so List and Status answer from memory.
#pragma once

#include <cstdint>
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
#include "peapod/runtime/exec.h"

namespace peapod::image {
class ImageService;
}
namespace peapod::runtime {
class LogCollector;
struct MountSpec;
}

namespace peapod::agent {

class EventBus;
class ExitMonitor;
class SandboxManager;
enum class ContainerEventType;
class StateStore;
struct ContainerEntry;
struct SandboxEntry;

class ContainerManager {
 public:
  ContainerManager(AgentConfig config, image::ImageService* images, runtime::LogCollector* logs,
                   ExitMonitor* monitor, StateStore* store, SandboxManager* sandboxes);
  ~ContainerManager();
  ContainerManager(const ContainerManager&) = delete;
  ContainerManager& operator=(const ContainerManager&) = delete;

  // Creates a container in a ready sandbox from an image already on the node. Returns its id.
  Result<std::string> CreateContainer(const std::string& pod_sandbox_id,
                                      const ContainerConfig& config,
                                      const PodSandboxConfig& sandbox_config);
  Status StartContainer(const std::string& id);
  // Sends the image's StopSignal (else SIGTERM), then SIGKILL after `timeout_seconds`.
  // Idempotent; an unknown id is kNotFound.
  Status StopContainer(const std::string& id, int64_t timeout_seconds);
  // Stops it if running and removes everything it had. An unknown id succeeds.
  Status RemoveContainer(const std::string& id);
  Result<ContainerStatusResponse> ContainerStatus(const std::string& id, bool verbose = false);
  std::vector<Container> ListContainers(const ContainerFilter& filter = {});
  // Applies new limits to the container's cgroup (live while it runs) and records them for
  // ContainerStatus, as containerd does for kubelet's in-place resize.
  Status UpdateContainerResources(const std::string& id, const LinuxContainerResources& resources);

  // Runs `cmd` in a running container (its namespaces, cgroup and security context) and
  // captures its output. A timeout of 0 waits as long as it takes; on timeout the process is
  // killed and the result says timed_out.
  Result<runtime::ExecSyncResult> ExecSync(const std::string& id,
                                           const std::vector<std::string>& cmd,
                                           int64_t timeout_seconds);
  // Starts `cmd` in a running container (as ExecSync does) for a streaming Exec: with `tty` on a
  // terminal, with `stdin` a pipe to write to. The caller owns the process.
  Result<std::unique_ptr<runtime::ExecProcess>> StartExec(const std::string& id,
                                                          const std::vector<std::string>& cmd,
                                                          bool tty, bool stdin);
  // For a streaming attach: a tap on a running container's stdout/stderr (its console's output
  // with tty), a pidfd that turns readable when it exits and, with `stdin`, where input goes.
  struct AttachedOutput {
    std::shared_ptr<runtime::CriLogWriter> logs;
    runtime::CriLogWriter::Tap tap;
    UniqueFd pidfd;
    bool tty = false;         // the container's, whatever the request said
    bool stdin_once = false;  // CloseContainerStdin once this session's stdin ends
    UniqueFd input;           // a copy of the stdin pipe's write end or of the console's master
    UniqueFd console;         // a copy of the console's master, for resizes
  };
  Result<AttachedOutput> AttachOutput(const std::string& id, bool stdin = false);
  // Refuses what AttachOutput would: a container that does not run, stdin it was not created
  // with (as kubelet does), a console lost to an agent restart.
  Status CheckAttach(const std::string& id, bool stdin);
  // End of file on the container's stdin: stdin_once, after the first attach with stdin.
  void CloseContainerStdin(const std::string& id);
  // Reopens a running container's log file, after kubelet rotated it.
  Status ReopenContainerLog(const std::string& id);

  // CPU, memory and writable-layer usage of one container (cpu/memory only while it runs), and
  // of every container matching `filter` (container_stats.cpp).
  Result<agent::ContainerStats> ContainerStats(const std::string& id);
  std::vector<agent::ContainerStats> ListContainerStats(const ContainerStatsFilter& filter = {});
  // Where lifecycle events are published (GetContainerEvents); null publishes nothing.
  void SetEventBus(EventBus* events) { events_ = events; }

  // Re-adopts the containers recorded under the state root; runs after SandboxManager::Recover.
  Status Recover();

  // For the sandbox manager: ids of the containers in a sandbox.
  std::vector<std::string> ContainersOf(const std::string& sandbox_id);
  // The monitor saw a container's process exit; false when the container is busy.
  bool OnExit(const std::string& id);

 private:
  Result<std::shared_ptr<ContainerEntry>> Lookup(const std::string& id_or_prefix);
  Status WriteRecord(const ContainerEntry& entry);
  // Records the exit of a process known to be gone (entry's op lock held).
  void RecordExit(ContainerEntry& entry);
  Status StopLocked(ContainerEntry& entry, int64_t timeout_seconds);
  Status RemoveLocked(ContainerEntry& entry);
  // Mounts image volume `m` (config.mounts[index]) of a container being created.
  Result<runtime::MountSpec> MountImageVolume(const std::string& container_id, size_t index,
                                              const Mount& m);
  // Recovery (recover.cpp): remove a container whose creation never finished or whose pod is
  // gone; remove container dirs no record names.
  void RemoveUnfinishedContainer(const ContainerEntry& entry, const SandboxEntry* sandbox);
  void DropUnadoptableContainer(const ContainerEntry& entry, const SandboxEntry& sandbox,
                                const Error& why);
  void SweepLeftOverContainerDirs(const std::set<std::string>& recorded);
  agent::ContainerStats StatsOf(const ContainerEntry& entry);
  // Publishes a lifecycle event of `entry` with its pod's statuses (events.cpp).
  void EmitEvent(ContainerEventType type, const ContainerEntry& entry);

  AgentConfig config_;
  image::ImageService* images_;
  runtime::LogCollector* logs_;
  ExitMonitor* monitor_;
  StateStore* store_;
  SandboxManager* sandboxes_;
  EventBus* events_ = nullptr;
  CpuRateTracker cpu_rates_;
  // Upper dirs are walked at most every 2 s: kubelet relists every container each period.
  DirUsageCache layer_usage_{std::chrono::seconds(2)};

  std::mutex mu_;  // guards containers_, names_ and every entry's status fields; held briefly
  std::map<std::string, std::shared_ptr<ContainerEntry>> containers_;
  std::map<std::string, std::string> names_;  // "<sandbox id>/<name>_<attempt>" -> container id
};

}  // namespace peapod::agent
