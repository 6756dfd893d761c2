#include "peapod/agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/state_store.h"
#include "peapod/cni/cni_client.h"
#include "peapod/image/image_service.h"
#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/cri_log.h"
#include "peapod/runtime/user_namespace.h"

namespace peapod::agent {

namespace {

// Every agent sweeps, at start-up, the pod cgroups under its cgroup parent that it has no
// record of; a second agent on the same parent would kill the first one's pods. The lock is an
// abstract unix socket named after the parent: atomic, gone when the process dies, no file.
Result<UniqueFd> LockCgroupParent(const std::string& parent) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a: a stable name of any length
  for (unsigned char c : parent) hash = (hash ^ c) * 1099511628211ull;
  char name[64];
  int len = std::snprintf(name, sizeof(name), "peapod-cgroup-parent-%016llx",
                          static_cast<unsigned long long>(hash));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("lock cgroup parent: socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name, static_cast<size_t>(len));  // sun_path[0] = 0: abstract
  auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + len);
  if (::bind(fd.Get(), reinterpret_cast<const sockaddr*>(&addr), size) != 0) {
    if (errno == EADDRINUSE) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "another peapod agent already uses cgroup parent \"" + parent +
                      "\"; give this one its own (--cgroup-parent)");
    }
    return FailErrno("lock cgroup parent " + parent);
  }
  return fd;
}

}  // namespace

Agent::Agent(AgentConfig config) : config_(std::move(config)) {}

Agent::~Agent() {
  image_gc_.reset();
  // The monitor calls into the managers: it stops first.
  monitor_.reset();
}

Result<std::unique_ptr<Agent>> Agent::Open(AgentConfig config) {
  config = config.WithDefaults();
  std::unique_ptr<Agent> agent(new Agent(config));
  auto lock = LockCgroupParent(config.cgroup_parent);
  if (!lock) return std::unexpected(std::move(lock.error()));
  agent->cgroup_parent_lock_ = std::move(*lock);
  for (const auto& dir : {config.state_root, config.run_root + "/pods", config.cni.cache_dir}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return FailErrno("create " + dir, ec.value());
  }
  // Containers with the host's PID namespace are re-parented to us, not to the host's init.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  auto store = StateStore::Open(config.run_root);
  if (!store) return std::unexpected(std::move(store.error()));
  agent->store_ = std::move(*store);
  auto images = image::ImageService::Open(config.image);
  if (!images) return std::unexpected(std::move(images.error()).Context("open image service"));
  agent->images_ = std::move(*images);
  auto cni = cni::CniClient::Create(config.cni);
  if (!cni) return std::unexpected(std::move(cni.error()).Context("create CNI client"));
  agent->cni_ = std::move(*cni);
  agent->logs_ = std::make_unique<runtime::LogCollector>();

  Agent* raw = agent.get();
  auto monitor = ExitMonitor::Start([raw](const std::string& key) {
    if (key.starts_with("c/")) return raw->containers_->OnExit(key.substr(2));
    if (key.starts_with("s/")) return raw->sandboxes_->OnPauseExit(key.substr(2));
    return true;
  });
  if (!monitor) return std::unexpected(std::move(monitor.error()));
  agent->sandboxes_ = std::make_unique<SandboxManager>(config, agent->cni_.get(), monitor->get(),
                                                       agent->store_.get());
  agent->containers_ = std::make_unique<ContainerManager>(
      config, agent->images_.get(), agent->logs_.get(), monitor->get(), agent->store_.get(),
      agent->sandboxes_.get());
  agent->sandboxes_->SetContainerManager(agent->containers_.get());
  agent->sandboxes_->SetEventBus(agent->events_.get());
  agent->containers_->SetEventBus(agent->events_.get());
  // As containerd: a host whose cgroups cannot be read still runs pods, just without limits.
  if (auto driver = runtime::CgroupDriver::Detect(); driver) {
    spdlog::info("cgroups: {}", driver->Describe());
    agent->sandboxes_->SetCgroupDriver(
        std::make_shared<const runtime::CgroupDriver>(std::move(*driver)));
  } else {
    spdlog::warn("cgroups: running pods without cgroups: {}", driver.error().ToString());
  }
  agent->monitor_ = std::move(*monitor);
  auto userns = runtime::ProbeUserNamespaces(agent->config_.state_root);
  if (userns) {
    spdlog::info("user namespaces: supported (idmapped mounts on tmpfs and {})",
                 agent->config_.state_root);
  } else {
    spdlog::warn("user namespaces: not supported, pods with hostUsers: false are refused: {}",
                 userns.error().ToString());
  }
  agent->sandboxes_->SetUserNamespaceSupport(std::move(userns));

  if (auto s = agent->sandboxes_->Recover(); !s) return std::unexpected(std::move(s.error()));
  if (auto s = agent->containers_->Recover(); !s) return std::unexpected(std::move(s.error()));
  // After recovery, so the recovered containers' images count as in use from the first pass.
  agent->image_gc_ =
      std::make_unique<ImageGarbageCollector>(*agent->images_, agent->config_.image_gc);
  agent->image_gc_->Start();
  return agent;
}

}  // namespace peapod::agent
