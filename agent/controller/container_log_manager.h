// ContainerLogManager: kubelet's container log rotation for the pods the controller applies.
// One thread checks every running container of a managed sandbox each `period` (kubelet: 10 s)
// and rotates a log over containerLogMaxSize through ReopenContainerLog, keeping at most
// containerLogMaxFiles files (see container_log_files.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "peapod/agent/container_log_files.h"

namespace peapod::agent {
class Agent;
}

namespace peapod::agent::controller {

class ContainerLogManager {
 public:
  ContainerLogManager(Agent& agent, LogRotationPolicy policy, std::chrono::milliseconds period);
  ~ContainerLogManager();  // stops the thread
  ContainerLogManager(const ContainerLogManager&) = delete;
  ContainerLogManager& operator=(const ContainerLogManager&) = delete;

  // Starts the periodic thread (once).
  void Start();
  // One pass over every running container of a managed sandbox; returns how many rotated.
  int RotateAll();

 private:
  void Loop();

  Agent& agent_;
  LogRotationPolicy policy_;
  std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace peapod::agent::controller
