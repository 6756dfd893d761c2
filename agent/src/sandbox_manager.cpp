// SandboxManager: lookup, records and exit handling shared by the sandbox verbs.
#include "peapod/agent/sandbox_manager.h"

#include <spdlog/spdlog.h>

#include "entries.h"
#include "peapod/agent/events.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/state_store.h"
#include "peapod/runtime/process.h"

namespace peapod::agent {

SandboxManager::SandboxManager(AgentConfig config, cni::CniClient* cni, ExitMonitor* monitor,
                               StateStore* store)
    : config_(std::move(config)), cni_(cni), monitor_(monitor), store_(store) {}

SandboxManager::~SandboxManager() = default;

std::optional<runtime::CgroupManager> PodCgroupManager(
    const std::shared_ptr<const runtime::CgroupDriver>& driver, const AgentConfig& config,
    const PodSandboxConfig& pod_config) {
  if (!driver) return std::nullopt;
  runtime::CgroupManagerOptions options;
  options.parent = pod_config.linux.cgroup_parent.empty() ? config.cgroup_parent
                                                          : pod_config.linux.cgroup_parent;
  options.default_pod_pids_limit = config.pod_pids_limit;
  return runtime::CgroupManager(driver, std::move(options));
}

std::shared_ptr<SandboxEntry> SandboxManager::Find(const std::string& id_or_prefix) {
  if (id_or_prefix.empty()) return nullptr;
  std::lock_guard lock(mu_);
  auto it = sandboxes_.lower_bound(id_or_prefix);
  if (it == sandboxes_.end() || !it->first.starts_with(id_or_prefix)) return nullptr;
  if (it->first != id_or_prefix) {
    auto next = std::next(it);
    // An ambiguous prefix matches nothing, as containerd's truncindex.
    if (next != sandboxes_.end() && next->first.starts_with(id_or_prefix)) return nullptr;
  }
  return it->second;
}

Result<std::shared_ptr<SandboxEntry>> SandboxManager::Lookup(const std::string& id_or_prefix) {
  auto entry = Find(id_or_prefix);
  if (!entry) {
    return Fail(ErrorCode::kNotFound, "pod sandbox \"" + id_or_prefix + "\" not found");
  }
  return entry;
}

Status SandboxManager::WriteRecord(const SandboxEntry& entry) {
  std::string text;
  {
    std::lock_guard lock(mu_);
    text = SandboxRecordLocked(entry).dump(2);
  }
  if (auto s = store_->Put(RecordKind::kSandbox, entry.id, text); !s) {
    return std::unexpected(std::move(s.error()).Context("record sandbox " + entry.id));
  }
  return Ok();
}

void SandboxManager::WatchPause(SandboxEntry& entry) {
  if (!monitor_ || entry.pause.pid == 0) return;
  auto pidfd = runtime::OpenPidfd(entry.pause.pid);
  // Checked after opening: the pidfd then refers to our pause, not a recycled pid.
  if (!pidfd || !runtime::IsRunning(entry.pause)) {
    MarkNotReady(entry);
    return;
  }
  if (auto s = monitor_->Watch("s/" + entry.id, pidfd->Get()); !s) {
    spdlog::warn("sandbox {}: cannot watch pause: {}", entry.id, s.error().ToString());
  }
}

void SandboxManager::MarkNotReady(SandboxEntry& entry) {
  SandboxPhase expected = SandboxPhase::kReady;
  entry.phase.compare_exchange_strong(expected, SandboxPhase::kStopped);
}

bool SandboxManager::OnPauseExit(const std::string& id) {
  auto entry = Find(id);
  if (!entry) return true;
  spdlog::info("sandbox {}: pause exited; the pod is not ready", id);
  bool was_ready = entry->phase == SandboxPhase::kReady;
  MarkNotReady(*entry);
  if (was_ready) EmitEvent(ContainerEventType::kStopped, id);
  // Persisted lazily: recovery re-checks pause anyway, and Stop writes the record.
  return true;
}

}  // namespace peapod::agent
