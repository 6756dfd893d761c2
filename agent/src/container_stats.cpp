// ContainerStats / ListContainerStats: CPU and memory from the container's cgroup (while it
// runs), and the usage of its writable layer, the overlay upper dir.
#include <filesystem>
#include <set>

#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/runtime/process.h"

namespace peapod::agent {
namespace {

std::string UpperDirOf(const ContainerEntry& e) {
  if (e.rootfs_dir.empty()) return "";
  // <image root>/containers/<id>/rootfs is the mount point; the upper dir is its sibling.
  return std::filesystem::path(e.rootfs_dir).parent_path() / "upper";
}

bool Matches(const ContainerEntry& e, const ContainerStatsFilter& filter) {
  if (!filter.id.empty() && !e.id.starts_with(filter.id)) return false;
  if (!filter.pod_sandbox_id.empty() && !e.sandbox_id.starts_with(filter.pod_sandbox_id)) {
    return false;
  }
  return MatchesLabels(e.config.labels, filter.label_selector);
}

}  // namespace

Result<agent::ContainerStats> ContainerManager::ContainerStats(const std::string& id) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  return StatsOf(**found);
}

std::vector<agent::ContainerStats> ContainerManager::ListContainerStats(
    const ContainerStatsFilter& filter) {
  std::vector<std::shared_ptr<ContainerEntry>> matching;
  std::set<std::string> ids, uppers;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : containers_) {
      ids.insert(id);
      uppers.insert(UpperDirOf(*e));
      if (Matches(*e, filter)) matching.push_back(e);
    }
  }
  // kubelet relists every period: the samples of removed containers go here.
  cpu_rates_.ForgetAllBut(ids);
  layer_usage_.ForgetAllBut(uppers);
  std::vector<agent::ContainerStats> result;
  result.reserve(matching.size());
  for (const auto& e : matching) result.push_back(StatsOf(*e));
  return result;
}

agent::ContainerStats ContainerManager::StatsOf(const ContainerEntry& e) {
  agent::ContainerStats stats;
  stats.attributes.id = e.id;
  stats.attributes.metadata = e.config.metadata;
  stats.attributes.labels = e.config.labels;
  stats.attributes.annotations = e.config.annotations;
  bool running;
  {
    std::lock_guard lock(mu_);
    running = e.state == ContainerState::kRunning && !e.removed;
  }
  int64_t now = runtime::NowRealtimeNs();
  auto sandbox = running ? sandboxes_->Find(e.sandbox_id) : nullptr;
  if (sandbox) {
    if (auto cgroups = PodCgroupManager(sandboxes_->cgroup_driver(), config_, sandbox->config)) {
      if (auto cg = cgroups->Container(e.sandbox_id, e.id).Stats()) {
        stats.cpu = CpuUsageOf(*cg, now, cpu_rates_, e.id);
        stats.memory = MemoryUsageOf(*cg, now);
        stats.io = IoUsageOf(*cg, now);
      }
    }
  }
  std::string upper = UpperDirOf(e);
  if (!upper.empty()) {
    FilesystemUsage layer;
    layer.timestamp = now;
    // The image filesystem, as ImageFsInfo names it: kubelet matches the two by mountpoint.
    layer.mountpoint = config_.image.root;
    if (auto usage = layer_usage_.Get(upper)) {
      layer.used_bytes = usage->bytes;
      layer.inodes_used = usage->inodes;
    }
    stats.writable_layer = std::move(layer);
  }
  return stats;
}

}  // namespace peapod::agent
