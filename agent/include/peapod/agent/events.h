// EventBus: the in-process stream of container and sandbox lifecycle events behind CRI's
// GetContainerEvents (kubelet's evented PLEG). Publishing never blocks: each subscriber has a
// bounded queue, and one that falls behind is dropped (told so) rather than slowing the agent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "peapod/agent/cri_types.h"

namespace peapod::agent {

// ContainerEventType values are CRI's.
enum class ContainerEventType { kCreated = 0, kStarted = 1, kStopped = 2, kDeleted = 3 };

// One event; for a sandbox, container_id is the sandbox id (as containerd sends them).
struct ContainerEvent {
  std::string container_id;
  ContainerEventType type = ContainerEventType::kCreated;
  int64_t created_at = 0;                              // ns since the epoch, when it happened
  std::optional<PodSandboxStatus> pod_sandbox_status;  // absent once the sandbox is gone
  std::vector<ContainerStatus> containers_statuses;    // the pod's containers at that moment
};

class EventBus;

// EventSubscription: one subscriber's queue. Unsubscribes when destroyed.
class EventSubscription {
 public:
  enum class Wait { kEvent, kTimeout, kDropped };
  // Takes the oldest queued event into *out, waiting up to `timeout` for one. kDropped once the
  // bus dropped this subscriber for falling behind (its queue was full); nothing more arrives.
  Wait Next(ContainerEvent* out, std::chrono::milliseconds timeout);

  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<ContainerEvent> queue;
    bool dropped = false;
  };
  explicit EventSubscription(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;  // the bus holds a weak_ptr, so destroying this unsubscribes
};

class EventBus {
 public:
  explicit EventBus(size_t queue_capacity = 1024) : capacity_(queue_capacity) {}
  std::unique_ptr<EventSubscription> Subscribe();
  // Queues the event for every subscriber; a subscriber whose queue is full is dropped.
  void Publish(const ContainerEvent& event);
  // Lets publishers skip building an event nobody would read.
  bool HasSubscribers();

 private:
  size_t capacity_;
  std::mutex mu_;
  std::vector<std::weak_ptr<EventSubscription::State>> subscribers_;
};

}  // namespace peapod::agent
