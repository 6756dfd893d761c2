// Admission as a one-node scheduler would do it: a pod is placed only when its host ports are
// free and its requests fit the node's allocatable CPU and memory next to the pods already
// placed; otherwise it stays Pending with kube-scheduler's message. Internal to the controller.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "peapod/agent/controller/manifest.h"

namespace peapod::agent::controller {

struct HostPortClaim {
  std::string protocol;  // TCP, UDP, SCTP
  std::string host_ip;   // "" or 0.0.0.0 / :: : every address
  int32_t port = 0;
};

// What a placed pod holds on the node.
struct PodClaim {
  std::vector<HostPortClaim> host_ports;
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
};

struct NodeAllocatable {
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
};

// The pod's host ports (a hostNetwork pod's container ports, which the API server copies into
// hostPort) and its effective requests as the scheduler computes them: the larger of the sum over
// app containers and sidecars and the largest plain init container (with the sidecars started
// before it); a container's request defaults to its limit.
// Pod-level requests (KEP-2837), where the pod has them, stand for its containers'.
PodClaim ClaimOf(const Pod& pod);
// The containers' part of ClaimOf alone (what pod-level requests must cover).
PodClaim ContainersClaimOf(const Pod& pod);

// Whether two host ports collide: same protocol and port, and the same address or either one a
// wildcard (kube-scheduler's NodePorts filter).
bool HostPortsConflict(const HostPortClaim& a, const HostPortClaim& b);

// Empty when `pod` fits next to `placed`; otherwise kube-scheduler's FailedScheduling message
// for a one-node cluster, e.g. "0/1 nodes are available: 1 Insufficient cpu." or
// "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
std::optional<std::string> WhyUnschedulable(const PodClaim& pod,
                                            const std::vector<PodClaim>& placed,
                                            const NodeAllocatable& node);

// Why a resize waits, as kubelet says it: reason "Infeasible" (more than the node has at all) or
// "Deferred" (more than is free now), and a message naming the resource.
struct ResizeVerdict {
  std::string reason;
  std::string message;
};

// The node's allocatable: every online CPU and all of the memory (no system reservation).
NodeAllocatable DetectNodeAllocatable();

// The set of placed pods, keyed by pod uid. Thread-safe.
class Admission {
 public:
  explicit Admission(NodeAllocatable node) : node_(node) {}
  // Places the pod if it fits (or was already placed); otherwise returns why not.
  std::optional<std::string> TryAdmit(const std::string& uid, const PodClaim& claim);
  // Places the pod whether or not it fits: it already runs (adopted after an agent restart).
  void Admit(const std::string& uid, const PodClaim& claim);
  void Release(const std::string& uid);
  // A placed pod asks for new requests (in-place resize, KEP-1287): nullopt, and the pod now
  // holds `claim`, when they fit next to the other pods; otherwise kubelet's PodResizePending
  // verdict, the old claim kept.
  std::optional<ResizeVerdict> TryResize(const std::string& uid, const PodClaim& claim);

 private:
  std::mutex mu_;
  NodeAllocatable node_;
  std::map<std::string, PodClaim> placed_;
};

}  // namespace peapod::agent::controller
