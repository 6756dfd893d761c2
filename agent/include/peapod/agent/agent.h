// Agent: everything peapodd serves CRI with, wired together: the image service, the CNI client,
// the log collector, the exit monitor, and the sandbox and container managers over one state
// root. Destroying it leaves pods and containers running; opening it again re-adopts them.
#pragma once

#include <memory>

#include "peapod/agent/config.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/events.h"
#include "peapod/agent/image_gc.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::cni {
class CniClient;
}
namespace peapod::image {
class ImageService;
}
namespace peapod::runtime {
class LogCollector;
}

namespace peapod::agent {

class ExitMonitor;
class StateStore;

class Agent {
 public:
  // Creates the roots, opens the image service and CNI client, and recovers recorded pods.
  static Result<std::unique_ptr<Agent>> Open(AgentConfig config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  SandboxManager& sandboxes() { return *sandboxes_; }
  ContainerManager& containers() { return *containers_; }
  image::ImageService& images() { return *images_; }
  cni::CniClient& cni() { return *cni_; }
  EventBus& events() { return *events_; }
  ImageGarbageCollector& image_gc() { return *image_gc_; }
  const AgentConfig& config() const { return config_; }

 private:
  explicit Agent(AgentConfig config);

  AgentConfig config_;
  // Held while this agent lives: one agent per cgroup parent (see LockCgroupParent).
  UniqueFd cgroup_parent_lock_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<EventBus> events_ = std::make_unique<EventBus>();
  std::unique_ptr<image::ImageService> images_;
  std::unique_ptr<cni::CniClient> cni_;
  std::unique_ptr<runtime::LogCollector> logs_;
  std::unique_ptr<SandboxManager> sandboxes_;
  std::unique_ptr<ContainerManager> containers_;
  std::unique_ptr<ExitMonitor> monitor_;
  // Last, so it stops before the image service it collects goes.
  std::unique_ptr<ImageGarbageCollector> image_gc_;
};

}  // namespace peapod::agent
