// ListContainers: answered from memory, filtered by id prefix, sandbox, state and labels.
#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {

std::vector<Container> ContainerManager::ListContainers(const ContainerFilter& filter) {
  std::vector<Container> result;
  std::lock_guard lock(mu_);
  for (const auto& [id, e] : containers_) {
    if (!filter.id.empty() && !id.starts_with(filter.id)) continue;
    if (!filter.pod_sandbox_id.empty() && !e->sandbox_id.starts_with(filter.pod_sandbox_id)) continue;
    if (filter.state && *filter.state != e->state) continue;
    if (!MatchesLabels(e->config.labels, filter.label_selector)) continue;
    result.push_back(Container{id, e->sandbox_id, e->config.metadata, e->config.image, e->image_id,
                               e->state, e->created_at, e->config.labels, e->config.annotations});
  }
  return result;
}

}  // namespace peapod::agent
