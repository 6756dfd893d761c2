// StopPodSandbox: kill the pod's containers, detach its network, stop pause. Idempotent.
#include <spdlog/spdlog.h>

#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/events.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/cni/cni_client.h"

namespace peapod::agent {

Status SandboxManager::StopPodSandbox(const std::string& id) {
  auto entry = Lookup(id);
  if (!entry) return std::unexpected(std::move(entry.error()));
  std::unique_lock op((*entry)->op_mu);
  if ((*entry)->removed) return Ok();
  return StopLocked(**entry);
}

Status SandboxManager::StopLocked(SandboxEntry& entry) {
  std::string what = "stop pod sandbox " + entry.id;
  // containerd stops a pod's containers with no grace: kubelet has already stopped them
  // gracefully, whatever is left is killed.
  if (containers_) {
    for (const auto& cid : containers_->ContainersOf(entry.id)) {
      if (auto s = containers_->StopContainer(cid, 0); !s && s.error().code != ErrorCode::kNotFound) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
    }
  }
  bool was_ready = entry.phase.exchange(SandboxPhase::kStopped) != SandboxPhase::kStopped;
  if (was_ready) {
    if (auto s = WriteRecord(entry); !s) return std::unexpected(std::move(s.error()).Context(what));
  }
  if (entry.network_attached) {
    std::string netns =
        entry.sandbox ? entry.sandbox->NamespacePath(runtime::Namespace::kNetwork) : "";
    if (auto s = cni_->Del(PodNetworkOf(entry, netns)); !s) {
      return std::unexpected(std::move(s.error()).Context(what + ": detach network"));
    }
    entry.network_attached = false;
    if (auto s = WriteRecord(entry); !s) return std::unexpected(std::move(s.error()).Context(what));
  }
  if (entry.sandbox) {
    if (monitor_) monitor_->Unwatch("s/" + entry.id);
    if (auto s = entry.sandbox->Stop(config_.pause_stop_grace); !s) {
      return std::unexpected(std::move(s.error()).Context(what));
    }
  }
  if (was_ready) EmitEvent(ContainerEventType::kStopped, entry.id);
  if (was_ready) spdlog::info("sandbox {}: stopped", entry.id);
  return Ok();
}

}  // namespace peapod::agent
