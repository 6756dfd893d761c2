#include "admission.h"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <set>

namespace peapod::agent::controller {
namespace {

int64_t Request(const Container& c, const std::string& name) {
  if (auto it = c.resources.requests.find(name); it != c.resources.requests.end()) {
    return it->second.value;
  }
  if (auto it = c.resources.limits.find(name); it != c.resources.limits.end()) {
    return it->second.value;
  }
  return 0;
}

bool IsWildcard(const std::string& ip) { return ip.empty() || ip == "0.0.0.0" || ip == "::"; }

}  // namespace

PodClaim ClaimOf(const Pod& pod) {
  PodClaim claim = ContainersClaimOf(pod);
  // Pod-level requests (KEP-2837) are what the scheduler counts when the pod has them.
  const auto& pod_requests = pod.spec.resources.requests;
  if (auto it = pod_requests.find("cpu"); it != pod_requests.end())
    claim.cpu_millis = it->second.value;
  if (auto it = pod_requests.find("memory"); it != pod_requests.end()) {
    claim.memory_bytes = it->second.value;
  }
  return claim;
}

PodClaim ContainersClaimOf(const Pod& pod) {
  PodClaim claim;
  int64_t app_cpu = 0, app_memory = 0, sidecar_cpu = 0, sidecar_memory = 0;
  int64_t init_cpu = 0, init_memory = 0;
  for (const Container& c : pod.spec.init_containers) {
    if (c.IsSidecar()) {
      sidecar_cpu += Request(c, "cpu");
      sidecar_memory += Request(c, "memory");
      continue;
    }
    // A plain init container runs next to the sidecars declared before it.
    init_cpu = std::max(init_cpu, sidecar_cpu + Request(c, "cpu"));
    init_memory = std::max(init_memory, sidecar_memory + Request(c, "memory"));
  }
  for (const Container& c : pod.spec.containers) {
    app_cpu += Request(c, "cpu");
    app_memory += Request(c, "memory");
  }
  claim.cpu_millis = std::max(app_cpu + sidecar_cpu, init_cpu);
  claim.memory_bytes = std::max(app_memory + sidecar_memory, init_memory);
  for (const auto* list : {&pod.spec.init_containers, &pod.spec.containers}) {
    for (const Container& c : *list) {
      for (const ContainerPort& p : c.ports) {
        int32_t port = pod.spec.host_network ? p.container_port : p.host_port;
        if (port <= 0) continue;
        claim.host_ports.push_back({p.protocol.empty() ? "TCP" : p.protocol, p.host_ip, port});
      }
    }
  }
  return claim;
}

bool HostPortsConflict(const HostPortClaim& a, const HostPortClaim& b) {
  if (a.port != b.port || a.protocol != b.protocol) return false;
  return IsWildcard(a.host_ip) || IsWildcard(b.host_ip) || a.host_ip == b.host_ip;
}

std::optional<std::string> WhyUnschedulable(const PodClaim& pod,
                                            const std::vector<PodClaim>& placed,
                                            const NodeAllocatable& node) {
  int64_t cpu = 0, memory = 0;
  bool ports_taken = false;
  for (const PodClaim& other : placed) {
    cpu += other.cpu_millis;
    memory += other.memory_bytes;
    for (const HostPortClaim& mine : pod.host_ports) {
      for (const HostPortClaim& theirs : other.host_ports) {
        ports_taken = ports_taken || HostPortsConflict(mine, theirs);
      }
    }
  }
  // kube-scheduler lists each reason with its node count, sorted, joined by ", ".
  std::set<std::string> reasons;
  if (pod.cpu_millis > 0 && cpu + pod.cpu_millis > node.cpu_millis) {
    reasons.insert("1 Insufficient cpu");
  }
  if (pod.memory_bytes > 0 && memory + pod.memory_bytes > node.memory_bytes) {
    reasons.insert("1 Insufficient memory");
  }
  if (ports_taken) reasons.insert("1 node(s) didn't have free ports for the requested pod ports");
  if (reasons.empty()) return std::nullopt;
  std::string message = "0/1 nodes are available: ";
  bool first = true;
  for (const std::string& reason : reasons) {
    if (!first) message += ", ";
    message += reason;
    first = false;
  }
  return message + ".";
}

NodeAllocatable DetectNodeAllocatable() {
  NodeAllocatable node;
  node.cpu_millis = int64_t{std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))} * 1000;
  struct sysinfo si {};
  if (::sysinfo(&si) == 0) node.memory_bytes = static_cast<int64_t>(si.totalram) * si.mem_unit;
  return node;
}

std::optional<std::string> Admission::TryAdmit(const std::string& uid, const PodClaim& claim) {
  std::lock_guard lock(mu_);
  if (placed_.contains(uid)) return std::nullopt;
  std::vector<PodClaim> others;
  for (const auto& [key, other] : placed_) others.push_back(other);
  if (auto why = WhyUnschedulable(claim, others, node_)) return why;
  placed_[uid] = claim;
  return std::nullopt;
}

void Admission::Admit(const std::string& uid, const PodClaim& claim) {
  std::lock_guard lock(mu_);
  placed_[uid] = claim;
}

std::optional<ResizeVerdict> Admission::TryResize(const std::string& uid, const PodClaim& claim) {
  std::lock_guard lock(mu_);
  int64_t cpu_used = 0, memory_used = 0;
  for (const auto& [key, other] : placed_) {
    if (key == uid) continue;
    cpu_used += other.cpu_millis;
    memory_used += other.memory_bytes;
  }
  struct Need {
    const char* name;
    int64_t requested, used, capacity;
  };
  for (Need n : {Need{"cpu", claim.cpu_millis, cpu_used, node_.cpu_millis},
                 Need{"memory", claim.memory_bytes, memory_used, node_.memory_bytes}}) {
    std::string what = std::string(n.name) + ", requested: " + std::to_string(n.requested);
    if (n.requested > n.capacity) {
      return ResizeVerdict{"Infeasible", "Node didn't have enough capacity: " + what +
                                             ", capacity: " + std::to_string(n.capacity)};
    }
    if (n.requested + n.used > n.capacity) {
      return ResizeVerdict{"Deferred", "Node didn't have enough resource: " + what +
                                           ", used: " + std::to_string(n.used) +
                                           ", capacity: " + std::to_string(n.capacity)};
    }
  }
  placed_[uid].cpu_millis = claim.cpu_millis;
  placed_[uid].memory_bytes = claim.memory_bytes;
  return std::nullopt;
}

void Admission::Release(const std::string& uid) {
  std::lock_guard lock(mu_);
  placed_.erase(uid);
}

}  // namespace peapod::agent::controller
