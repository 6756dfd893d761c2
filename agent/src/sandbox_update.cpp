// UpdatePodSandboxResources: the pod's overall limits changed by an in-place resize (KEP-1287).
// kubelet calls it after resizing the pod-level cgroups it owns; peapod's own pod cgroup
// (<cgroup_parent>/pod-<id>) takes the new limits live, so the pod's containers stay bounded by
// what kubelet allocated, and the record keeps them for PodSandboxStatus and a restarted agent.
#include <spdlog/spdlog.h>

#include "entries.h"
#include "peapod/agent/container_security.h"
#include "peapod/agent/sandbox_manager.h"

namespace peapod::agent {

std::optional<LinuxContainerResources> PodCgroupLimits(const LinuxPodSandboxConfig& linux) {
  if (!linux.resources) return std::nullopt;
  LinuxContainerResources out = *linux.resources;
  out.oom_score_adj = 0;  // a property of processes, not of the pod's cgroup
  if (!linux.overhead) return out;
  // kubelet sizes the pod cgroup as its containers plus the RuntimeClass overhead; CRI sends the
  // two apart (containerd 2 hands both to NRI). A limit the containers do not have stays absent.
  const LinuxContainerResources& o = *linux.overhead;
  if (out.cpu_shares > 0) out.cpu_shares += std::max<int64_t>(o.cpu_shares, 0);
  if (out.cpu_quota > 0 && o.cpu_quota > 0) out.cpu_quota += o.cpu_quota;
  if (out.memory_limit_in_bytes > 0 && o.memory_limit_in_bytes > 0) {
    out.memory_limit_in_bytes += o.memory_limit_in_bytes;
  }
  return out;
}

Status SandboxManager::UpdatePodSandboxResources(
    const std::string& id, const std::optional<LinuxContainerResources>& overhead,
    const std::optional<LinuxContainerResources>& resources) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  SandboxEntry& e = **found;
  std::unique_lock op(e.op_mu);
  std::string what = "update resources of pod sandbox " + e.id;
  LinuxPodSandboxConfig next;
  {
    std::lock_guard lock(mu_);
    if (e.removed) return Fail(ErrorCode::kNotFound, what + ": sandbox was removed");
    next = e.config.linux;
  }
  // Nothing to apply is not an error: kubelet calls this on every resize, limits or not.
  if (!resources && !overhead) return Ok();
  if (resources) next.resources = resources;
  if (overhead) next.overhead = overhead;
  auto limits_cri = PodCgroupLimits(next);
  std::optional<runtime::Resources> limits;
  if (limits_cri) {
    auto converted = ToCgroupResources(*limits_cri);
    if (!converted) return std::unexpected(std::move(converted.error()).Context(what));
    limits = std::move(*converted);
    // A limit the pod had and no longer has is lifted.
    auto before = PodCgroupLimits(e.config.linux);
    if (before && before->memory_limit_in_bytes > 0 && limits_cri->memory_limit_in_bytes == 0) {
      limits->memory_limit_bytes = -1;
    }
    if (before && before->cpu_quota > 0 && limits_cri->cpu_quota <= 0) limits->cpu_quota_us = -1;
  }
  if (limits && e.phase == SandboxPhase::kReady) {
    if (auto cgroups = PodCgroupManager(cgroup_driver_, config_, e.config)) {
      if (auto s = cgroups->Pod(e.id).Update(*limits); !s) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    e.config.linux = std::move(next);
  }
  if (auto s = WriteRecord(e); !s) return std::unexpected(std::move(s.error()).Context(what));
  spdlog::info("sandbox {}: resources updated", e.id);
  return Ok();
}

}  // namespace peapod::agent
