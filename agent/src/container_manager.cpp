// ContainerManager: lookup, records and exit recording shared by the container verbs.
#include "peapod/agent/container_manager.h"

#include <spdlog/spdlog.h>

#include "entries.h"
#include "peapod/agent/events.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/state_store.h"

namespace peapod::agent {

ContainerManager::ContainerManager(AgentConfig config, image::ImageService* images,
                                   runtime::LogCollector* logs, ExitMonitor* monitor,
                                   StateStore* store, SandboxManager* sandboxes)
    : config_(std::move(config)),
      images_(images),
      logs_(logs),
      monitor_(monitor),
      store_(store),
      sandboxes_(sandboxes) {}

ContainerManager::~ContainerManager() = default;

Result<std::shared_ptr<ContainerEntry>> ContainerManager::Lookup(const std::string& id_or_prefix) {
  std::lock_guard lock(mu_);
  auto it = id_or_prefix.empty() ? containers_.end() : containers_.lower_bound(id_or_prefix);
  bool found = it != containers_.end() && it->first.starts_with(id_or_prefix);
  if (found && it->first != id_or_prefix) {
    auto next = std::next(it);
    if (next != containers_.end() && next->first.starts_with(id_or_prefix)) found = false;
  }
  if (!found) return Fail(ErrorCode::kNotFound, "container \"" + id_or_prefix + "\" not found");
  return it->second;
}

Status ContainerManager::WriteRecord(const ContainerEntry& entry) {
  std::string text;
  {
    std::lock_guard lock(mu_);
    text = ContainerRecordLocked(entry).dump(2);
  }
  if (auto s = store_->Put(RecordKind::kContainer, entry.id, text); !s) {
    return std::unexpected(std::move(s.error()).Context("record container " + entry.id));
  }
  return Ok();
}

std::vector<std::string> ContainerManager::ContainersOf(const std::string& sandbox_id) {
  std::vector<std::string> ids;
  std::lock_guard lock(mu_);
  for (const auto& [id, e] : containers_) {
    if (e->sandbox_id == sandbox_id) ids.push_back(id);
  }
  return ids;
}

void ContainerManager::RecordExit(ContainerEntry& entry) {
  runtime::ExitStatus status = runtime::ExitStatus::Unknown(runtime::NowRealtimeNs());
  if (entry.container) {
    auto waited = entry.container->Wait(std::chrono::milliseconds(0));
    if (waited && *waited) status = **waited;
    if (!waited) {
      spdlog::warn("container {}: collect exit status: {}", entry.id, waited.error().ToString());
    }
  }
  if (monitor_) monitor_->Unwatch("c/" + entry.id);
  {
    std::lock_guard lock(mu_);
    entry.state = ContainerState::kExited;
    entry.finished_at = status.finished_at_ns;
    if (status.unknown) {
      // containerd reports an exit nobody saw as 255 "Unknown".
      entry.exit_code = 255;
      entry.reason = "Unknown";
      entry.message = "the container exited while its status could not be recorded";
    } else {
      entry.exit_code = status.ShellCode();
      entry.reason = status.oom_killed         ? "OOMKilled"
                     : entry.exit_code == 0 ? "Completed"
                                            : "Error";
      entry.message = status.signal ? "killed by signal " + std::to_string(status.signal) : "";
    }
  }
  if (auto s = WriteRecord(entry); !s) {
    spdlog::warn("container {}: {}", entry.id, s.error().ToString());
  }
  spdlog::info("container {}: exited ({})", entry.id, status.ToString());
  EmitEvent(ContainerEventType::kStopped, entry);
}

bool ContainerManager::OnExit(const std::string& id) {
  std::shared_ptr<ContainerEntry> entry;
  {
    std::lock_guard lock(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return true;
    entry = it->second;
  }
  std::unique_lock op(entry->op_mu, std::try_to_lock);
  if (!op.owns_lock()) return false;  // the verb holding it records the exit itself
  bool running;
  {
    std::lock_guard lock(mu_);
    running = entry->state == ContainerState::kRunning && !entry->removed;
  }
  if (running) RecordExit(*entry);
  return true;
}

}  // namespace peapod::agent
