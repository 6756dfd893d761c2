// RemovePodSandbox: stop, remove the pod's containers, unpin its namespaces, drop its dirs and
// record. Removing an unknown sandbox succeeds, as kubelet expects.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/events.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/agent/state_store.h"

namespace peapod::agent {

Status SandboxManager::RemovePodSandbox(const std::string& id) {
  auto entry = Find(id);
  if (!entry) return Ok();
  std::unique_lock op(entry->op_mu);
  if (entry->removed) return Ok();
  std::string what = "remove pod sandbox " + entry->id;
  if (auto s = StopLocked(*entry); !s) return s;
  if (containers_) {
    for (const auto& cid : containers_->ContainersOf(entry->id)) {
      if (auto s = containers_->RemoveContainer(cid); !s) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
    }
  }
  if (entry->sandbox) {
    if (auto s = entry->sandbox->Destroy(); !s) return std::unexpected(std::move(s.error()).Context(what));
  }
  // Last of the processes: the containers' and pause's cgroups go with the pod's.
  if (auto cgroups = PodCgroupManager(cgroup_driver_, config_, entry->config)) {
    if (auto s = cgroups->Pod(entry->id).Remove(); !s) {
      return std::unexpected(std::move(s.error()).Context(what));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(entry->pod_dir, ec);
  if (ec) return FailErrno(what + ": remove " + entry->pod_dir, ec.value());
  if (auto s = store_->Remove(RecordKind::kSandbox, entry->id); !s) {
    return std::unexpected(std::move(s.error()).Context(what));
  }
  {
    std::lock_guard lock(mu_);
    entry->removed = true;
    sandboxes_.erase(entry->id);
  }
  EmitEvent(ContainerEventType::kDeleted, entry->id);
  spdlog::info("sandbox {}: removed", entry->id);
  return Ok();
}

}  // namespace peapod::agent
