// WorkloadController: the controllers of kube-controller-manager that one node needs, in
// miniature. It keeps the applied Jobs, Deployments (DaemonSets as Deployments of one) and
// StatefulSets under <state_root>/controller/workloads and reconciles each against the pods it
// owns (pods whose metadata.ownerReferences name its uid), creating and deleting pods through the
// PodController. Its pods are ordinary controller pods, so an agent restart re-adopts them; the
// workloads are loaded again and reconciliation continues from what the pods say.
// Internal to the controller.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "peapod/agent/controller/pod_controller.h"

namespace peapod::agent::controller {

// What the workload controller may do with pods (implemented by the PodController).
struct WorkloadPodOps {
  // Every applied pod.
  std::function<std::vector<PodView>()> list_pods;
  // Creates a pod from one Pod manifest; fails if a pod of that name exists.
  std::function<Status(const ManifestSource& manifest)> create_pod;
  // Graceful delete; `wait`: until it is gone.
  std::function<void(const std::string& ns, const std::string& name, bool wait)> delete_pod;
};

// The pod-template-hash of a template: 10 characters of Kubernetes' safe alphabet.
std::string PodTemplateHash(const nlohmann::json& pod_template);

// maxSurge/maxUnavailable of `replicas`: a count, or a percentage rounded up (surge) or down.
int32_t ResolveIntOrPercent(const std::variant<int32_t, std::string>& value, int32_t replicas,
                            bool round_up);

class WorkloadController {
 public:
  WorkloadController(std::string root, WorkloadPodOps ops,
                     std::chrono::milliseconds period = std::chrono::milliseconds(500));
  ~WorkloadController();  // stops reconciling; pods keep running
  WorkloadController(const WorkloadController&) = delete;
  WorkloadController& operator=(const WorkloadController&) = delete;

  // Loads the persisted workloads, then reconciles them on a thread of its own.
  void Start();

  // Creates or updates a workload: "created", "configured" or "unchanged".
  Result<std::string> Apply(Workload workload);
  // Deletes a workload and (cascading) its pods; a StatefulSet's highest ordinal first.
  // `wait`: returns once the pods are gone. kind: Job, Deployment, StatefulSet.
  Status Delete(const std::string& kind, const std::string& ns, const std::string& name, bool wait);
  Status Scale(const std::string& kind, const std::string& ns, const std::string& name,
               int32_t replicas);
  // Back to the template of revision `to_revision` (0: the previous one); the revision rolled
  // back to.
  Result<int64_t> Undo(const std::string& ns, const std::string& name, int64_t to_revision);

  // kind empty: all kinds; ns empty: all namespaces.
  std::vector<WorkloadView> List(const std::string& kind, const std::string& ns);
  Result<WorkloadView> Get(const std::string& kind, const std::string& ns, const std::string& name);

 private:
  struct State;
  void Run();
  void Load();
  void ReconcileAll();
  void Reconcile(State& s, const std::vector<PodView>& owned, int64_t now);
  void ReconcileJob(State& s, const std::vector<PodView>& owned, int64_t now);
  void ReconcileDeployment(State& s, const std::vector<PodView>& owned);
  void ReconcileStatefulSet(State& s, const std::vector<PodView>& owned);
  bool CreatePod(State& s, const std::string& name, std::map<std::string, std::string> labels);
  void DeletePod(State& s, const PodView& pod, const std::string& why);
  void Persist(const State& s);
  void Event(State& s, const std::string& type, const std::string& reason,
             const std::string& message);
  WorkloadView View(const State& s, const std::vector<PodView>& owned, int64_t now);
  void RecordRevision(State& s);
  std::string RecordPath(const State& s) const;
  std::vector<PodView> Owned(const State& s, const std::vector<PodView>& all) const;

  std::string root_;  // <state_root>/controller
  WorkloadPodOps ops_;
  std::chrono::milliseconds period_;

  std::mutex mu_;  // guards everything below; held while reconciling
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<State>> workloads_;  // "<Kind>/<ns>/<name>"
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace peapod::agent::controller
