// EventBus and the managers' event emission: each lifecycle verb publishes one event carrying
// the pod's status and its containers' statuses at that moment, as containerd's CRI plugin does.
#include "peapod/agent/events.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/runtime/process.h"

namespace peapod::agent {

EventSubscription::Wait EventSubscription::Next(ContainerEvent* out,
                                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return state_->dropped || !state_->queue.empty(); });
  if (state_->dropped) return Wait::kDropped;
  if (state_->queue.empty()) return Wait::kTimeout;
  *out = std::move(state_->queue.front());
  state_->queue.pop_front();
  return Wait::kEvent;
}

std::unique_ptr<EventSubscription> EventBus::Subscribe() {
  auto state = std::make_shared<EventSubscription::State>();
  std::lock_guard lock(mu_);
  subscribers_.push_back(state);
  return std::make_unique<EventSubscription>(std::move(state));
}

void EventBus::Publish(const ContainerEvent& event) {
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [&](const std::weak_ptr<EventSubscription::State>& weak) {
    auto state = weak.lock();
    if (!state) return true;
    std::lock_guard sub(state->mu);
    if (state->queue.size() >= capacity_) {
      // A reader this far behind would get a stream with a hole in it; ending its stream
      // makes it relist, as kubelet's evented PLEG does on a broken stream.
      state->dropped = true;
      state->queue.clear();
      state->cv.notify_all();
      spdlog::warn("events: dropped a subscriber that fell {} events behind", capacity_);
      return true;
    }
    state->queue.push_back(event);
    state->cv.notify_all();
    return false;
  });
}

bool EventBus::HasSubscribers() {
  std::lock_guard lock(mu_);
  std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
  return !subscribers_.empty();
}

namespace {

// The statuses of a pod's containers, for an event about the pod or one of them.
std::vector<ContainerStatus> StatusesOf(ContainerManager& containers,
                                        const std::string& sandbox_id) {
  std::vector<ContainerStatus> statuses;
  for (const auto& id : containers.ContainersOf(sandbox_id)) {
    if (auto status = containers.ContainerStatus(id)) statuses.push_back(std::move(status->status));
  }
  return statuses;
}

}  // namespace

void ContainerManager::EmitEvent(ContainerEventType type, const ContainerEntry& entry) {
  if (events_ == nullptr || !events_->HasSubscribers()) return;
  ContainerEvent event;
  event.container_id = entry.id;
  event.type = type;
  event.created_at = runtime::NowRealtimeNs();
  if (auto pod = sandboxes_->PodSandboxStatus(entry.sandbox_id)) {
    event.pod_sandbox_status = std::move(pod->status);
  }
  event.containers_statuses = StatusesOf(*this, entry.sandbox_id);
  events_->Publish(event);
}

void SandboxManager::EmitEvent(ContainerEventType type, const std::string& id) {
  if (events_ == nullptr || !events_->HasSubscribers()) return;
  ContainerEvent event;
  event.container_id = id;
  event.type = type;
  event.created_at = runtime::NowRealtimeNs();
  if (auto pod = PodSandboxStatus(id)) event.pod_sandbox_status = std::move(pod->status);
  if (containers_ != nullptr) event.containers_statuses = StatusesOf(*containers_, id);
  events_->Publish(event);
}

}  // namespace peapod::agent
