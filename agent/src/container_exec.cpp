// StartExec: a process in a running container for CRI streaming Exec, handed to the caller
// with its pipes or terminal (the streaming server copies them to the client).
#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {

Result<std::unique_ptr<runtime::ExecProcess>> ContainerManager::StartExec(
    const std::string& id, const std::vector<std::string>& cmd, bool tty, bool stdin) {
  if (cmd.empty() || cmd[0].empty()) {
    return Fail(ErrorCode::kInvalidArgument, "exec in container " + id + ": cmd is empty");
  }
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  ContainerEntry& e = **found;
  // Held only while starting: a streaming exec may run for hours and must not block a stop,
  // which kills it along with the container (same cgroup and PID namespace).
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
  spec.tty = tty;
  spec.stdin = stdin;
  return runtime::StartExec(*e.container, spec);
}

}  // namespace peapod::agent
