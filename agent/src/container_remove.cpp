// RemoveContainer: stop it if needed, then drop its process objects, rootfs and record.
// Removing an unknown container succeeds, as in containerd.
#include <spdlog/spdlog.h>
#include <sys/mount.h>

#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/events.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/state_store.h"
#include "peapod/image/image_service.h"

namespace peapod::agent {

Status ContainerManager::RemoveContainer(const std::string& id) {
  auto found = Lookup(id);
  if (!found) return Ok();
  std::lock_guard op((*found)->op_mu);
  return RemoveLocked(**found);
}

Status ContainerManager::RemoveLocked(ContainerEntry& e) {
  std::string what = "remove container " + e.id;
  {
    std::lock_guard lock(mu_);
    if (e.removed) return Ok();
  }
  if (auto s = StopLocked(e, 0); !s) return std::unexpected(std::move(s.error()).Context(what));
  if (monitor_) monitor_->Unwatch("c/" + e.id);
  if (e.container) {
    if (auto s = e.container->Destroy(); !s) return std::unexpected(std::move(s.error()).Context(what));
    e.container.reset();
  }
  // The overlay lives in the container's own mount namespace; a leftover from user resolution
  // (a crash between mount and unmount) is detached here.
  if (!e.rootfs_dir.empty()) ::umount2(e.rootfs_dir.c_str(), MNT_DETACH);
  if (auto s = images_->RemoveContainerRootfs(e.id); !s && s.error().code != ErrorCode::kNotFound) {
    return std::unexpected(std::move(s.error()).Context(what));
  }
  if (auto s = store_->Remove(RecordKind::kContainer, e.id); !s) {
    return std::unexpected(std::move(s.error()).Context(what));
  }
  {
    std::lock_guard lock(mu_);
    e.removed = true;
    containers_.erase(e.id);
    for (auto it = names_.begin(); it != names_.end(); ++it) {
      if (it->second == e.id) {
        names_.erase(it);
        break;
      }
    }
  }
  EmitEvent(ContainerEventType::kDeleted, e);
  spdlog::info("container {}: removed", e.id);
  return Ok();
}

}  // namespace peapod::agent
