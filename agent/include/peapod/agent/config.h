// AgentConfig: where peapodd keeps its state and what it runs pods with. Every root is
// configurable so tests (and a second agent) never touch the host's /var/lib/peapod.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "peapod/agent/image_gc.h"
#include "peapod/cni/types.h"
#include "peapod/image/image_service.h"

namespace peapod::agent {

struct AgentConfig {
  std::string state_root = "/var/lib/peapod";  // images, container dirs, CNI result cache
  // sandbox and container records, per-pod run dirs (namespace pins, ledgers, FIFOs)
  std::string run_root = "/run/peapod";
  std::string pause_binary = "/usr/libexec/peapod/peapod-pause";
  // conf_dir and plugin_dirs as given; an empty cache_dir becomes <state_root>/cni/cache.
  cni::CniOptions cni;
  // An empty root becomes <state_root>/image.
  image::ImageServiceOptions image;
  // RuntimeClass handler names accepted besides the default "" (peapodd --runtime-handler).
  // Names only: each runs pods the same way. A sandbox asking for any other is refused, never
  // run with the default in its place.
  std::vector<std::string> runtime_handlers;
  // How long pause gets after SIGTERM when a pod stops.
  std::chrono::milliseconds pause_stop_grace{std::chrono::seconds(2)};
  // Parent of the pod cgroups when the pod's CRI cgroup_parent is empty (cgroupfs driver, from
  // the hierarchy root), and the pids limit each pod cgroup gets (Kubernetes' podPidsLimit;
  // <= 0 off).
  std::string cgroup_parent = "peapod";
  // Every pod's cgroup gets this pids.max unless it asks for less, so a fork bomb stays inside
  // its pod; 0 means no limit.
  int64_t pod_pids_limit = 32768;
  // Image garbage collection (peapodd: --image-gc-*-threshold-percent, --image-*-gc-age).
  ImageGcPolicy image_gc;

  // Fills the defaults that derive from state_root.
  AgentConfig WithDefaults() const;
  // Records live as long as the objects they describe: until the next boot (see state_store.h).
  std::string SandboxRecordDir() const { return run_root + "/sandboxes"; }
  std::string ContainerRecordDir() const { return run_root + "/containers"; }
  std::string PodRunDir(const std::string& sandbox_id) const {
    return run_root + "/pods/" + sandbox_id;
  }
};

}  // namespace peapod::agent
