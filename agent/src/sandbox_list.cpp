// ListPodSandbox: answered from memory, filtered by id prefix, state and labels.
#include "entries.h"
#include "peapod/agent/sandbox_manager.h"

namespace peapod::agent {

std::vector<PodSandbox> SandboxManager::ListPodSandbox(const PodSandboxFilter& filter) {
  std::vector<PodSandbox> result;
  std::lock_guard lock(mu_);
  for (const auto& [id, e] : sandboxes_) {
    if (!filter.id.empty() && !id.starts_with(filter.id)) continue;
    PodSandboxState state = e->State();
    if (filter.state && *filter.state != state) continue;
    if (!MatchesLabels(e->config.labels, filter.label_selector)) continue;
    result.push_back(PodSandbox{id, e->config.metadata, state, e->created_at, e->config.labels,
                                e->config.annotations, e->runtime_handler});
  }
  return result;
}

}  // namespace peapod::agent
