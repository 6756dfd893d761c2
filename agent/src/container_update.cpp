// UpdateContainerResources: new cgroup limits for a container, applied live while it runs (no
// restart: in-place resize, KEP-1287) and recorded so ContainerStatus and a restarted agent see
// them. All or nothing: a refused update (a memory limit below the working set, a controller or
// hugepage size the host lacks) leaves the cgroup and the record as they were.
#include <spdlog/spdlog.h>

#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/container_security.h"

namespace peapod::agent {

Status ContainerManager::UpdateContainerResources(const std::string& id,
                                                  const LinuxContainerResources& resources) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  ContainerEntry& e = **found;
  std::lock_guard op(e.op_mu);
  std::string what = "update resources of container " + e.id;
  auto limits = ToCgroupResources(resources);
  if (!limits) return std::unexpected(std::move(limits.error()).Context(what));
  ContainerState state;
  std::optional<LinuxContainerResources> before;
  {
    std::lock_guard lock(mu_);
    if (e.removed) return Fail(ErrorCode::kNotFound, what + ": container was removed");
    state = e.state;
    before = e.config.linux.resources;
  }
  // kubelet sends the whole set: a limit that was there and is now 0 is lifted, not kept.
  if (before && before->memory_limit_in_bytes > 0 && resources.memory_limit_in_bytes == 0) {
    limits->memory_limit_bytes = -1;
  }
  if (before && before->cpu_quota > 0 && resources.cpu_quota <= 0) limits->cpu_quota_us = -1;
  // An exited container keeps no limits worth changing; containerd only records them then.
  if (state != ContainerState::kExited && e.container && e.container->cgroup()) {
    auto cgroup = *e.container->cgroup();
    if (auto s = cgroup.Update(*limits); !s)
      return std::unexpected(std::move(s.error()).Context(what));
  }
  {
    std::lock_guard lock(mu_);
    e.config.linux.resources = resources;
  }
  if (auto s = WriteRecord(e); !s) return std::unexpected(std::move(s.error()).Context(what));
  spdlog::info("container {}: resources updated", e.id);
  return Ok();
}

}  // namespace peapod::agent
