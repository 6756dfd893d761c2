// AttachOutput: what a streaming Attach connects to, the running container's output as its log
// collector drains it (the CRI log keeps recording everything).
#include <fcntl.h>

#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {

Result<ContainerManager::AttachedOutput> ContainerManager::AttachOutput(const std::string& id) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  ContainerEntry& e = **found;
  std::lock_guard op(e.op_mu);
  {
    std::lock_guard lock(mu_);
    if (e.removed || e.state != ContainerState::kRunning || !e.container) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "attach to container " + e.id + ": container is not running");
    }
  }
  const auto& logs = e.container->log_writer();
  if (!logs) {
    return Fail(ErrorCode::kFailedPrecondition,
                "attach to container " + e.id + ": its output is not collected");
  }
  UniqueFd pidfd(::fcntl(e.container->pidfd(), F_DUPFD_CLOEXEC, 0));
  if (!pidfd) return FailErrno("attach to container " + e.id + ": duplicate its pidfd");
  AttachedOutput out;
  if (auto s = logs->AddTap(out.tap); !s) return std::unexpected(std::move(s.error()));
  out.logs = logs;
  out.pidfd = std::move(pidfd);
  return out;
}

}  // namespace peapod::agent
