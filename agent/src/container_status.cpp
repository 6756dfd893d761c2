// ContainerStatus: answered from memory (the exit monitor records exits as they happen).
#include "entries.h"
#include "peapod/agent/container_manager.h"

namespace peapod::agent {

Result<ContainerStatusResponse> ContainerManager::ContainerStatus(const std::string& id,
                                                                   bool verbose) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  const ContainerEntry& e = **found;
  ContainerStatusResponse response;
  auto& st = response.status;
  st.id = e.id;
  st.metadata = e.config.metadata;
  st.image = e.config.image;
  st.image_ref = e.image_id;
  st.labels = e.config.labels;
  st.annotations = e.config.annotations;
  st.mounts = e.config.mounts;
  st.log_path = e.log_path;
  st.resources = e.config.linux.resources;
  // What the runtime set with setresuid/setresgid/setgroups before execve (KEP-3619's
  // ContainerStatus.user); a process may change its own identity later.
  st.user = LinuxContainerUser{
      e.spec.uid, e.spec.gid, {e.spec.additional_gids.begin(), e.spec.additional_gids.end()}};
  st.stop_signal = e.stop_signal;
  {
    std::lock_guard lock(mu_);
    st.state = e.state;
    st.created_at = e.created_at;
    st.started_at = e.started_at;
    st.finished_at = e.finished_at;
    st.exit_code = e.exit_code;
    st.reason = e.reason;
    st.message = e.message;
  }
  if (verbose) {
    response.info["sandboxID"] = e.sandbox_id;
    response.info["pid"] = std::to_string(e.process.host.pid);
    response.info["rootfs"] = e.rootfs_dir;
  }
  return response;
}

}  // namespace peapod::agent
