// StopContainer: the image's StopSignal (else SIGTERM), SIGKILL after the timeout. Idempotent.
#include <signal.h>

#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {

Status ContainerManager::StopContainer(const std::string& id, int64_t timeout_seconds) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  std::lock_guard op((*found)->op_mu);
  return StopLocked(**found, timeout_seconds);
}

Status ContainerManager::StopLocked(ContainerEntry& e, int64_t timeout_seconds) {
  bool running;
  {
    std::lock_guard lock(mu_);
    running = e.state == ContainerState::kRunning && !e.removed;
  }
  if (!running || !e.container) return Ok();
  // A zero timeout kills at once, as containerd does.
  int signal = timeout_seconds > 0 ? e.stop_signal : SIGKILL;
  auto grace = std::chrono::seconds(std::max<int64_t>(timeout_seconds, 0));
  if (auto s = e.container->Stop(signal, grace); !s) {
    return std::unexpected(std::move(s.error()).Context("stop container " + e.id));
  }
  RecordExit(e);
  return Ok();
}

}  // namespace peapod::agent
