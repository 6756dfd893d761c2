// PodWorker: one thread per applied pod, doing what kubelet's pod worker does for it: volumes,
// sandbox, image pulls, init containers in order, sidecars, app containers, restarts with
// CrashLoopBackOff, probes, hooks, graceful termination, and a status snapshot for readers.
// Internal to the controller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admission.h"
#include "peapod/agent/controller/pod_controller.h"
#include "peapod/agent/cri_types.h"
#include "pod_config.h"
#include "prober.h"
#include "userns_ranges.h"

namespace peapod::agent::controller {

// What every worker shares with the controller.
struct ControllerShared {
  Agent* agent = nullptr;
  ControllerConfig config;
  std::string root;  // <state_root>/controller
  std::string node_name;
  std::string host_ip;
  Admission admission{DetectNodeAllocatable()};  // the pods placed on the node
  std::unique_ptr<UserNamespaceRanges> userns_ranges;  // under <root>/userns-ranges

  std::mutex objects_mu;
  ConfigObjects objects;                        // guarded by objects_mu
  std::atomic<uint64_t> objects_generation{0};  // bumped when a ConfigMap/Secret changes

  ConfigObjects SnapshotObjects() {
    std::lock_guard lock(objects_mu);
    return objects;
  }
  std::string PodRecordPath(const std::string& ns, const std::string& name) const {
    return root + "/pods/" + ns + "_" + name + ".json";
  }
};

// What is persisted per pod (besides the manifest text it came from).
struct PodRecord {
  std::string source_name;
  std::string source_text;
  std::string uid;
  std::string hash;
  int64_t created_at = 0;
  bool initialized = false;
  std::string terminal_phase;  // "", Succeeded, Failed
  std::string terminal_reason;  // DeadlineExceeded
  std::string terminal_message;
  int64_t admitted_at = 0;     // ns since the epoch: when the pod was placed on the node
  bool deleting = false;       // a delete began: an agent restart finishes it
  uint32_t sandbox_attempt = 0;
  std::map<std::string, int32_t> restart_counts;
};

class PodWorker {
 public:
  PodWorker(ControllerShared& shared, Pod pod, PodRecord record);
  ~PodWorker();  // stops the thread (and the probes); the pod keeps running
  PodWorker(const PodWorker&) = delete;
  PodWorker& operator=(const PodWorker&) = delete;

  // `on_adopted` runs once, on the worker's thread, when the pod was adopted and synced once
  // without an exception, or when the worker stops cleanly after such an adoption.
  void Start(std::function<void()> on_adopted = nullptr);
  // Graceful termination and removal of everything the pod had, then the worker finishes.
  void RequestDelete();
  void WaitFinished();
  bool finished() const { return finished_.load(); }
  bool deleting() {
    std::lock_guard lock(mu_);
    return delete_requested_;
  }
  void Notify();

  std::string hash() {
    std::lock_guard lock(mu_);
    return hash_;
  }
  // SpecHashWithoutMetadata of the pod it runs (or is being resized to).
  std::string hash_without_metadata() {
    std::lock_guard lock(mu_);
    return hash_without_metadata_;
  }
  // Labels and annotations changed, nothing else: the running pod takes them in place (its
  // downwardAPI files are rewritten, its record updated), as the API server lets them change.
  void UpdateMetadata(const ObjectMeta& metadata, const std::string& hash,
                      const std::string& source_name, const std::string& source_text);
  // Whether `pod` differs from the one this worker runs only in metadata and in its app
  // containers' resources, within the same QoS class: an in-place resize.
  bool CanResizeTo(const Pod& pod);
  // Resizes the running pod to `pod`'s container resources (with its metadata): each container
  // by its resizePolicy, in place or restarted; Pending (Deferred/Infeasible) while the new
  // requests do not fit the node.
  void UpdateResources(const Pod& pod, const std::string& hash, const std::string& source_name,
                       const std::string& source_text);
  PodView View();
  Result<std::string> LogPath(const std::string& container, bool previous);
  Result<std::string> ContainerId(const std::string& container);

 private:
  struct Slot;
  using Clock = std::chrono::steady_clock;

  void Run();
  bool Stopping();
  void Adopt();
  void Sync();
  bool Admit();
  bool DeadlineExceeded();
  void ApplyPendingMetadata();
  // In-place resize (pod_resize.cpp): takes a resize asked for, then acts on it each sync.
  void TakePendingResize();
  void Resize();
  bool ResizeContainer(Slot& s, const Container& target);
  void Terminate(bool for_delete);
  void Cleanup();
  // The pod's user namespace options: the node's, or (hostUsers: false) mode POD with the
  // pod's allocated range.
  Result<UserNamespace> PodUserNamespace();

  bool EnsureVolumes();
  bool EnsureSandbox();
  void RefreshContainers();
  void CheckProbes();
  bool RunInitContainers();
  void RunAppContainers();
  void UpdatePhase();

  bool StartOrBackOff(Slot& s);
  bool EnsureImage(Slot& s);
  bool EnsureImage(Slot& s, const std::string& image, const std::string& policy);
  bool StartContainer(Slot& s);
  void StartProbes(Slot& s, bool adopted);
  void StopProbes(Slot& s);
  void KillContainer(Slot& s, const std::string& message, std::optional<int64_t> grace_override);
  bool ShouldRestart(const Slot& s) const;
  std::string TerminationMessage(const Slot& s, const ContainerStatus& st);
  bool Running(const Slot& s) const;
  bool Exited(const Slot& s) const;
  int64_t GraceSeconds() const;

  void Event(const std::string& type, const std::string& reason, const std::string& object,
             const std::string& message);
  bool Guarded(const char* step, const std::function<void()>& body);
  void Adopted();
  void Persist();
  void Publish();
  ContainerStatusView SlotView(const Slot& s);

  ControllerShared& shared_;
  Pod pod_;
  PodRecord record_;
  PodPaths paths_;
  std::string key_;  // "<namespace>/<name>"
  std::string log_directory_;
  PodSandboxConfig sandbox_config_;

  // Worker-thread state.
  std::vector<std::unique_ptr<Slot>> slots_;  // init containers (in order), then app containers
  std::string sandbox_id_;
  bool sandbox_ready_ = false;  // PodReadyToStartContainers: the sandbox is up, networked
  std::string pod_ip_;
  std::vector<std::string> pod_ips_;
  std::map<std::string, std::string> volume_paths_;
  uint64_t volumes_generation_ = UINT64_MAX;
  std::string phase_ = "Pending";
  bool initialized_ = false;
  bool terminated_ = false;  // a terminal pod's containers and sandbox were stopped
  int64_t started_at_ = 0;
  Clock::time_point next_wake_;
  Clock::time_point sandbox_retry_at_{};
  std::map<std::string, std::pair<std::string, int64_t>> conditions_;  // type -> status, time
  bool admitted_ = false;
  std::string unschedulable_;  // kube-scheduler's message while the pod does not fit
  // Fixed for the worker's life: a change to either replaces the pod.
  std::string hash_without_resources_;  // SpecHashWithoutResources
  std::string qos_class_;
  // The pod being resized to: the desired spec while the resize is pending or in progress.
  struct Resizing {
    Pod target;
    std::string source_name, source_text;
    std::string pending_reason, pending_message;  // PodResizePending (Deferred, Infeasible)
    std::string error;                            // PodResizeInProgress with reason Error
  };
  std::optional<Resizing> resizing_;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  bool stop_ = false;
  bool delete_requested_ = false;
  bool wake_ = false;
  std::string hash_;
  std::string hash_without_metadata_;
  std::optional<Resizing> pending_resize_;
  struct PendingMetadata {
    ObjectMeta metadata;
    std::string source_name, source_text;
  };
  std::optional<PendingMetadata> pending_metadata_;
  PodView view_;
  std::deque<PodEvent> events_;
  std::map<std::string, std::pair<std::string, std::string>> ids_;  // name -> current, previous

  std::atomic<bool> finished_{false};
  std::thread thread_;
  std::function<void()> on_adopted_;
};

}  // namespace peapod::agent::controller
