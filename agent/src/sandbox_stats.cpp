// PodSandboxStats / ListPodSandboxStats / ListPodSandboxMetrics: CPU, memory and process count of
// the pod cgroup, the network counters of the pod's namespace (read through pause's
// /proc/<pid>/net/dev), and the stats of the pod's containers.
#include <set>

#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/atomic_file.h"
#include "peapod/runtime/process.h"

namespace peapod::agent {
namespace {

// The network counters of pause's namespace; nullopt when pause is gone (or its pid reused).
std::optional<NetworkUsage> NetworkOf(const runtime::ProcessIdentity& pause, int64_t now) {
  if (pause.pid <= 0) return std::nullopt;
  auto text = ReadWholeFile("/proc/" + std::to_string(pause.pid) + "/net/dev");
  // Checked after reading: a pid recycled in between would have shown another namespace.
  if (!text || !runtime::IsRunning(pause)) return std::nullopt;
  return NetworkUsageOf(ParseNetDev(*text), now);
}

}  // namespace

Result<agent::PodSandboxStats> SandboxManager::PodSandboxStats(const std::string& id) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  return StatsOf(**found);
}

std::vector<agent::PodSandboxStats> SandboxManager::ListPodSandboxStats(
    const PodSandboxStatsFilter& filter) {
  std::vector<std::shared_ptr<SandboxEntry>> matching;
  std::set<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : sandboxes_) {
      ids.insert(id);
      if (!filter.id.empty() && !id.starts_with(filter.id)) continue;
      if (!MatchesLabels(e->config.labels, filter.label_selector)) continue;
      matching.push_back(e);
    }
  }
  cpu_rates_.ForgetAllBut(ids);
  std::vector<agent::PodSandboxStats> result;
  for (const auto& e : matching) {
    // As containerd: pods that are not ready are left out of the list, not an error.
    if (auto stats = StatsOf(*e)) result.push_back(std::move(*stats));
  }
  return result;
}

std::vector<PodSandboxMetrics> SandboxManager::ListPodSandboxMetrics() {
  std::vector<PodSandboxMetrics> result;
  for (const auto& stats : ListPodSandboxStats()) {
    std::map<std::string, std::string> images;
    if (containers_ != nullptr) {
      ContainerFilter filter;
      filter.pod_sandbox_id = stats.attributes.id;
      for (const auto& c : containers_->ListContainers(filter)) images[c.id] = c.image.image;
    }
    result.push_back(MetricsOf(stats, images));
  }
  return result;
}

Result<agent::PodSandboxStats> SandboxManager::StatsOf(SandboxEntry& e) {
  bool removed;
  {
    std::lock_guard lock(mu_);
    removed = e.removed;
  }
  if (removed || e.phase != SandboxPhase::kReady) {
    return Fail(ErrorCode::kUnavailable, "pod sandbox " + e.id + " is not ready: no stats");
  }
  agent::PodSandboxStats stats;
  stats.attributes.id = e.id;
  stats.attributes.metadata = e.config.metadata;
  stats.attributes.labels = e.config.labels;
  stats.attributes.annotations = e.config.annotations;
  int64_t now = runtime::NowRealtimeNs();
  if (auto cgroups = PodCgroupManager(cgroup_driver_, config_, e.config)) {
    if (auto cg = cgroups->Pod(e.id).Stats()) {
      stats.cpu = CpuUsageOf(*cg, now, cpu_rates_, e.id);
      stats.memory = MemoryUsageOf(*cg, now);
      stats.io = IoUsageOf(*cg, now);
      if (cg->pids_current) {
        ProcessUsage process;
        process.timestamp = now;
        process.process_count = cg->pids_current;
        stats.process = process;
      }
    }
  }
  if (!e.host_network) {
    // pause is set while the pod is made and reset while it stops, both under the op lock held
    // exclusively; a pod busy with either has no network figures this time.
    std::shared_lock op(e.op_mu, std::try_to_lock);
    if (op.owns_lock()) stats.network = NetworkOf(e.pause, now);
  }
  if (containers_ != nullptr) {
    ContainerStatsFilter filter;
    filter.pod_sandbox_id = e.id;
    stats.containers = containers_->ListContainerStats(filter);
  }
  return stats;
}

}  // namespace peapod::agent
