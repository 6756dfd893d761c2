// ReopenContainerLog: kubelet rotated the log file; write to a fresh one at the same path.
#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {

Status ContainerManager::ReopenContainerLog(const std::string& id) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  ContainerEntry& e = **found;
  std::lock_guard op(e.op_mu);
  {
    std::lock_guard lock(mu_);
    if (e.removed || e.state != ContainerState::kRunning || !e.container) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "reopen log of container " + e.id + ": container is not running");
    }
  }
  if (auto s = e.container->ReopenLog(); !s) {
    return std::unexpected(std::move(s.error()).Context("reopen log of container " + e.id));
  }
  return Ok();
}

}  // namespace peapod::agent
