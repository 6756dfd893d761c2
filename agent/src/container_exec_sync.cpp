// ExecSync: a command inside a running container, with its output captured.
#include <memory>

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
  std::unique_ptr<runtime::ExecProcess> process;
  {
    // Held only to check and spawn: a StopContainer must not wait behind a long exec. Once
    // spawned, the exec needs nothing of the container object; a stop kills it with the
    // container's namespaces, and the wait below sees that exit.
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
    auto started = runtime::StartExec(*e.container, spec);
    if (!started) return std::unexpected(std::move(started.error()));
    process = std::move(*started);
  }
  return runtime::FinishExecSync(*process, std::chrono::seconds(timeout_seconds));
}

}  // namespace peapod::agent
