// How a container's CRI config and its image's config combine into what runs, as Kubernetes
// and containerd do it (pure logic, unit-tested without root).
#pragma once

#include <string>
#include <vector>

#include "peapod/agent/cri_types.h"
#include "peapod/error.h"
#include "peapod/image/image_config.h"

namespace peapod::agent {

struct MergedProcess {
  std::vector<std::string> args;  // the argv to exec
  std::vector<std::string> env;   // KEY=VALUE, image env first, container env overriding by key
  std::string working_dir;        // config, else image, else "/"
};

// command replaces the image Entrypoint and drops its Cmd; args replace Cmd. With neither the
// image's Entrypoint + Cmd run. Nothing to run at all -> kInvalidArgument.
Result<MergedProcess> MergeProcess(const ContainerConfig& config,
                                   const image::ContainerDefaults& image);

// "SIGTERM", "TERM", "15", "sigquit" -> the number; "" -> SIGTERM. Unknown -> kInvalidArgument.
Result<int> ParseStopSignal(const std::string& name);

}  // namespace peapod::agent
