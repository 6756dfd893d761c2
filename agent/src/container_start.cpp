// StartContainer: spawn the created container's process and watch it for its exit.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "crash_point.h"
#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/events.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/sandbox_manager.h"

namespace peapod::agent {
namespace {
constexpr int32_t kStartErrorExitCode = 128;  // containerd's errorStartExitCode
}

Status ContainerManager::StartContainer(const std::string& id) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  ContainerEntry& e = **found;
  std::lock_guard op(e.op_mu);
  std::string what = "start container " + e.id;
  ContainerState state;
  {
    std::lock_guard lock(mu_);
    state = e.removed ? ContainerState::kUnknown : e.state;
  }
  if (state != ContainerState::kCreated || !e.container) {
    return Fail(ErrorCode::kFailedPrecondition, what + ": container is not in created state");
  }
  auto sandbox = sandboxes_->Find(e.sandbox_id);
  if (!sandbox || sandbox->phase != SandboxPhase::kReady) {
    return Fail(ErrorCode::kFailedPrecondition,
                what + ": sandbox " + e.sandbox_id + " is not ready");
  }
  if (!e.log_path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(e.log_path).parent_path(), ec);
  }
  auto started = e.container->Start();
  if (!started) {
    {
      std::lock_guard lock(mu_);
      e.state = ContainerState::kExited;
      e.finished_at = runtime::NowRealtimeNs();
      e.exit_code = kStartErrorExitCode;
      e.reason = "StartError";
      e.message = started.error().ToString();
    }
    (void)WriteRecord(e);
    return std::unexpected(std::move(started.error()).Context(what));
  }
  CrashPoint("container-start-after-spawn");  // recovery kills it; the container stays created
  e.process = e.container->process();
  {
    std::lock_guard lock(mu_);
    e.state = ContainerState::kRunning;
    e.started_at = e.process.started_at_ns;
  }
  if (auto s = WriteRecord(e); !s) spdlog::warn("container {}: {}", e.id, s.error().ToString());
  if (monitor_) {
    if (auto s = monitor_->Watch("c/" + e.id, e.container->pidfd()); !s) {
      spdlog::warn("container {}: {}", e.id, s.error().ToString());
    }
  }
  EmitEvent(ContainerEventType::kStarted, e);
  spdlog::info("container {}: started (pid {})", e.id, e.process.host.pid);
  return Ok();
}

}  // namespace peapod::agent
