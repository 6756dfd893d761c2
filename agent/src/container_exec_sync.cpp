// ExecSync: a command inside a running container, with its output captured.
#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {

Result<runtime::ExecSyncResult> ContainerManager::ExecSync(const std::string& id,
                                                            const std::vector<std::string>& cmd,
                                                            int64_t timeout_seconds) {
  if (cmd.empty() || cmd[0].empty()) {
    return Fail(ErrorCode::kInvalidArgument, "exec in container " + id + ": cmd is empty");
  }
  if (timeout_seconds < 0) {
    return Fail(ErrorCode::kInvalidArgument, "exec in container " + id + ": negative timeout");
  }
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  ContainerEntry& e = **found;
  // Held for the whole exec so the container cannot be removed underneath it; a stop waits
  // for the exec, which the timeout bounds (kubelet's probes always set one).
  std::lock_guard op(e.op_mu);
  {
    std::lock_guard lock(mu_);
    if (e.removed || e.state != ContainerState::kRunning || !e.container) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "exec in container " + e.id + ": container is not running");
    }
  }
  runtime::ExecSpec spec;
  spec.args = cmd;
  return runtime::ExecSync(*e.container, spec, std::chrono::seconds(timeout_seconds));
}

}  // namespace peapod::agent
