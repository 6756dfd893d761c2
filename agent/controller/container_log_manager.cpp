#include "container_log_manager.h"

#include <spdlog/spdlog.h>

#include <set>

#include "peapod/agent/agent.h"
#include "peapod/catch_boundary.h"
#include "pod_config.h"

namespace peapod::agent::controller {

ContainerLogManager::ContainerLogManager(Agent& agent, LogRotationPolicy policy,
                                         std::chrono::milliseconds period)
    : agent_(agent), policy_(policy), period_(period) {}

ContainerLogManager::~ContainerLogManager() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ContainerLogManager::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void ContainerLogManager::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, period_, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    // The thread's catch boundary: a failed pass is logged and the next one runs.
    (void)CatchAll("log rotation", [this] { (void)RotateAll(); });
    lock.lock();
  }
}

int ContainerLogManager::RotateAll() {
  PodSandboxFilter sandbox_filter;
  sandbox_filter.label_selector[kLabelManaged] = "true";
  std::set<std::string> managed;
  for (const auto& sandbox : agent_.sandboxes().ListPodSandbox(sandbox_filter)) {
    managed.insert(sandbox.id);
  }
  ContainerFilter filter;
  filter.state = ContainerState::kRunning;
  int rotated = 0;
  for (const auto& c : agent_.containers().ListContainers(filter)) {
    if (!managed.contains(c.pod_sandbox_id)) continue;
    auto status = agent_.containers().ContainerStatus(c.id);
    if (!status || status->status.log_path.empty()) continue;
    const std::string& path = status->status.log_path;
    auto done = RotateContainerLog(
        path, policy_, [&] { return agent_.containers().ReopenContainerLog(c.id); },
        std::chrono::system_clock::now());
    if (!done) {
      spdlog::warn("container {}: rotate log {}: {}", c.id, path, done.error().ToString());
    } else if (*done) {
      ++rotated;
      spdlog::debug("container {}: rotated log {}", c.id, path);
    }
  }
  return rotated;
}

}  // namespace peapod::agent::controller
