// PodController: kubelet in miniature. It takes applied Pod manifests and keeps each pod running
// through the agent's in-process CRI managers (never through a socket): sandbox -> init
// containers in order -> sidecars -> app containers; restartPolicy per container with
// CrashLoopBackOff; startup/liveness/readiness probes; postStart/preStop hooks; graceful
// termination; configMap/secret volumes written as kubelet writes them. Applied pods are
// persisted under <state_root>/controller and come back after an agent restart without
// restarting healthy containers.
//
// Pods created directly through CRI (kubelet, crictl) are never touched by the controller; the
// controller's sandboxes carry the label "io.peapod.managed=true".
//
// Thread-safe. One worker thread per pod reconciles it; a relist loop (as kubelet's PLEG) notices
// container exits within `relist_period`.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "peapod/agent/controller/manifest.h"
#include "peapod/error.h"

namespace peapod::agent {
class Agent;
}

namespace peapod::agent::controller {

struct ControllerConfig {
  // CrashLoopBackOff: first delay, doubled per crash up to the cap, reset after a container ran
  // for `backoff_reset` (kubelet: 10 s, 5 min, 10 min).
  std::chrono::milliseconds backoff_initial{std::chrono::seconds(10)};
  std::chrono::milliseconds backoff_max{std::chrono::minutes(5)};
  std::chrono::milliseconds backoff_reset{std::chrono::minutes(10)};
  // How often the controller relists container states (kubelet's PLEG: 1 s).
  std::chrono::milliseconds relist_period{std::chrono::seconds(1)};
  // Where pods' log directories go: <pod_log_root>/<namespace>_<name>_<uid>/<container>/<n>.log
  std::string pod_log_root = "/var/log/pods";
  // Where seccompProfile.localhostProfile is looked up (kubelet: <root-dir>/seccomp); empty:
  // <state_root>/seccomp. A profile missing there, or one that does not compile, fails the apply.
  std::string seccomp_root;
  // Log rotation of the pods' containers (kubelet's containerLogMaxSize, containerLogMaxFiles)
  // and how often logs are checked (kubelet: 10 s; shorter in tests).
  uint64_t container_log_max_size = uint64_t{10} << 20;
  int64_t container_log_max_files = 5;
  std::chrono::milliseconds log_rotation_period{std::chrono::seconds(10)};
};

// ---- Status, as kubectl shows it ------------------------------------------------------------------

struct ContainerStateView {
  // "waiting", "running" or "terminated".
  std::string kind = "waiting";
  std::string reason;  // waiting: ContainerCreating, PodInitializing, CrashLoopBackOff,
                       // ErrImagePull, ImagePullBackOff, CreateContainerError;
                       // terminated: Completed, Error, OOMKilled
  std::string message;
  int32_t exit_code = 0;
  int32_t signal = 0;
  int64_t started_at = 0;   // ns since the epoch; 0 when unknown
  int64_t finished_at = 0;  // ns since the epoch
  std::string container_id;
};

struct ContainerStatusView {
  std::string name;
  std::string image;
  std::string image_id;
  std::string container_id;  // the CRI container id of the current instance, may be empty
  ContainerStateView state;
  std::optional<ContainerStateView> last_state;
  bool ready = false;
  bool started = false;
  int32_t restart_count = 0;
  bool is_init = false;
  bool is_sidecar = false;
  // In-place resize (KEP-1287), app containers only: the requests the node allocated, and what
  // the runtime reports the running container has (absent while it does not run).
  std::map<std::string, Quantity> allocated_resources;
  std::optional<ResourceRequirements> resources;
};

struct PodCondition {
  std::string type;    // PodScheduled (False/Unschedulable while the pod does not fit the node),
                       // Initialized, ContainersReady, Ready; PodResizePending (Deferred,
                       // Infeasible) and PodResizeInProgress (Error) only while they hold
  std::string status;  // "True", "False"
  std::string reason;
  std::string message;
  int64_t last_transition = 0;
};

struct PodEvent {
  std::string type;    // Normal, Warning
  std::string reason;  // Pulling, Pulled, Created, Started, Killing, Unhealthy, BackOff, Failed
  std::string object;  // "pod/<name>" or "spec.containers{<name>}"
  std::string message;
  int32_t count = 1;
  int64_t first_seen = 0;
  int64_t last_seen = 0;
};

struct PodView {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string phase;   // Pending, Running, Succeeded, Failed
  std::string reason;  // e.g. "Terminating" while being deleted, "DeadlineExceeded"
  std::string message;  // "Pod was active on the node longer than the specified deadline"
  std::string sandbox_id;
  std::string pod_ip;
  std::vector<std::string> pod_ips;
  std::string host_ip;
  std::string node_name;
  int64_t created_at = 0;
  int64_t started_at = 0;
  bool deleting = false;
  std::vector<PodCondition> conditions;
  std::vector<ContainerStatusView> init_container_statuses;  // init containers and sidecars
  std::vector<ContainerStatusView> container_statuses;
  std::vector<PodEvent> events;  // oldest first, bounded
  Pod spec;                      // the applied manifest (defaults filled)
};

// ---- Apply / delete -------------------------------------------------------------------------------

struct ManifestSource {
  std::string name;  // file name for messages ("pod.yaml", "-" for stdin)
  std::string text;
};

struct AppliedObject {
  std::string kind;  // Pod, ConfigMap, Secret
  std::string namespace_;
  std::string name;
  std::string action;  // "created", "configured", "unchanged"
};

struct ApplyResult {
  std::vector<AppliedObject> objects;
  std::vector<std::string> warnings;  // ManifestIssue::ToString() of each unsupported field
};

struct DeletedObject {
  std::string kind;
  std::string namespace_;
  std::string name;
  bool found = false;
};

// A Job, Deployment (or DaemonSet) or StatefulSet as `kubectl get -o json` shows it: the applied
// object with uid, creationTimestamp, generation and the status its controller computes.
struct WorkloadView {
  std::string kind;
  std::string namespace_;
  std::string name;
  nlohmann::json object;
  std::vector<PodEvent> events;   // oldest first, bounded
  std::vector<std::string> pods;  // the pods it owns
};

class PodController {
 public:
  PodController(Agent& agent, ControllerConfig config);
  ~PodController();  // stops the workers; pods keep running
  PodController(const PodController&) = delete;
  PodController& operator=(const PodController&) = delete;

  // Loads persisted pods and adopts their sandboxes/containers (no restart of healthy ones),
  // then starts the workers. Call once, after Agent::Open.
  Status Start();

  // Parses and validates every source first; nothing changes unless all are valid. Then creates
  // new pods, replaces pods whose spec changed, leaves unchanged ones alone, and updates
  // ConfigMaps/Secrets (their volumes in running pods are rewritten atomically).
  // `options`: --strict and --ignore-unsupported (see ParseOptions).
  Result<ApplyResult> Apply(const std::vector<ManifestSource>& sources,
                            const ParseOptions& options = {});
  // Deletes what the sources name (pods are stopped gracefully: preStop, signal, grace, KILL).
  // `wait` returns only once the pods are gone.
  Result<std::vector<DeletedObject>> DeleteManifests(const std::vector<ManifestSource>& sources,
                                                     bool wait = true);
  Status DeletePod(const std::string& namespace_, const std::string& name, bool wait = true);

  // Workloads (workload_controller.cpp). kind: Job, Deployment, StatefulSet (a DaemonSet is
  // kept as a Deployment of one); empty kind or namespace_: all.
  std::vector<WorkloadView> ListWorkloads(const std::string& kind, const std::string& namespace_);
  Result<WorkloadView> GetWorkload(const std::string& kind, const std::string& namespace_,
                                   const std::string& name);
  // Deletes it and, cascading, the pods it owns (a StatefulSet's highest ordinal first).
  Status DeleteWorkload(const std::string& kind, const std::string& namespace_,
                        const std::string& name, bool wait = true);
  Status ScaleWorkload(const std::string& kind, const std::string& namespace_,
                       const std::string& name, int32_t replicas);
  // A Deployment back to the template of `to_revision` (0: the previous one).
  Result<int64_t> RolloutUndo(const std::string& namespace_, const std::string& name,
                              int64_t to_revision = 0);

  // namespace_ empty: all namespaces.
  std::vector<PodView> ListPods(const std::string& namespace_ = "");
  Result<PodView> GetPod(const std::string& namespace_, const std::string& name);

  // The CRI log file of a container of a pod: the current instance, or the previous one.
  Result<std::string> LogPath(const std::string& namespace_, const std::string& pod,
                              const std::string& container, bool previous = false);
  // The CRI container id of the current instance of a container (for exec).
  Result<std::string> ContainerId(const std::string& namespace_, const std::string& pod,
                                  const std::string& container);
  // Rotates, now, every log over the size limit (the periodic check does the same); returns
  // how many rotated.
  int RotateContainerLogs();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace peapod::agent::controller
