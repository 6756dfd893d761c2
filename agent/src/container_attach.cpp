// Attach: what a streaming Attach connects to. The running container's output as its log
// collector drains it (the CRI log keeps recording everything) and, when it was created with
// stdin, its stdin pipe or its console's master.
#include <fcntl.h>

#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {
namespace {

Status CheckAttachable(const ContainerEntry& e, bool stdin) {
  std::string what = "attach to container " + e.id;
  if (!e.container->log_writer()) {
    return Fail(ErrorCode::kFailedPrecondition, what + ": its output is not collected");
  }
  if (stdin && !e.config.stdin) {
    return Fail(ErrorCode::kFailedPrecondition,
                what + ": stdin was requested but the container was not created with stdin");
  }
  if (e.config.tty && e.container->console_fd() < 0) {
    return Fail(ErrorCode::kFailedPrecondition,
                what + ": its terminal was lost when peapodd restarted");
  }
  if (stdin && e.container->stdin_fd() < 0) {
    return Fail(ErrorCode::kFailedPrecondition,
                what + ": its stdin was closed (stdin_once, after the first attach)");
  }
  return Ok();
}

}  // namespace

Status ContainerManager::CheckAttach(const std::string& id, bool stdin) {
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
  return CheckAttachable(e, stdin);
}

Result<ContainerManager::AttachedOutput> ContainerManager::AttachOutput(const std::string& id,
                                                                        bool stdin) {
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
  if (auto s = CheckAttachable(e, stdin); !s) return std::unexpected(std::move(s.error()));
  const runtime::Container& c = *e.container;
  AttachedOutput out;
  out.tty = e.config.tty;
  out.stdin_once = stdin && e.config.stdin_once;
  out.pidfd.Reset(::fcntl(c.pidfd(), F_DUPFD_CLOEXEC, 0));
  if (!out.pidfd) return FailErrno("attach to container " + e.id + ": duplicate its pidfd");
  // Copies, so that the session's descriptors outlive a concurrent stop or remove.
  if (stdin) {
    out.input.Reset(::fcntl(c.stdin_fd(), F_DUPFD_CLOEXEC, 0));
    if (!out.input) return FailErrno("attach to container " + e.id + ": duplicate its stdin");
  }
  if (out.tty) {
    out.console.Reset(::fcntl(c.console_fd(), F_DUPFD_CLOEXEC, 0));
    if (!out.console) return FailErrno("attach to container " + e.id + ": duplicate its console");
  }
  if (auto s = c.log_writer()->AddTap(out.tap); !s) return std::unexpected(std::move(s.error()));
  out.logs = c.log_writer();
  return out;
}

void ContainerManager::CloseContainerStdin(const std::string& id) {
  auto found = Lookup(id);
  if (!found) return;
  ContainerEntry& e = **found;
  std::lock_guard op(e.op_mu);
  if (e.container) e.container->CloseStdin();
}

}  // namespace peapod::agent
