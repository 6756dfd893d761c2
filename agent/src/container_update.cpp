// UpdateContainerResources: new cgroup limits for a container, applied live while it runs and
// recorded so ContainerStatus and a restarted agent see them.
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
  {
    std::lock_guard lock(mu_);
    if (e.removed) return Fail(ErrorCode::kNotFound, what + ": container was removed");
    state = e.state;
  }
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
