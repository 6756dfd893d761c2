// How a container's CRI config and its image's config combine into what runs, as Kubernetes
// and containerd do it (pure logic, unit-tested without root).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/agent/cri_types.h"
#include "peapod/error.h"
#include "peapod/image/image_config.h"
#include "peapod/runtime/container.h"

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

// "SIGTERM", "TERM", "15", "sigquit", "SIGRTMIN+3" -> the number (runtime::ParseSignal);
// "" -> SIGTERM. Unknown -> kInvalidArgument.
Result<int> ParseStopSignal(const std::string& name);

// "true" on a container (or its pod) runs it as a systemd container whatever its command is;
// "false" never does.
inline constexpr std::string_view kSystemdAnnotation = "io.peapod.systemd";
// What systemd halts on when neither the image nor the pod names a stop signal.
inline constexpr std::string_view kSystemdStopSignal = "SIGRTMIN+3";

// Whether the container runs systemd as PID 1: CRI-O's rule (the command is /sbin/init or a file
// named systemd: /lib/systemd/systemd, /usr/lib/systemd/systemd), unless kSystemdAnnotation on
// the container, else on the pod, says otherwise. Any value but "true"/"false" ->
// kInvalidArgument.
Result<bool> RunsSystemd(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& container_annotations,
                         const std::map<std::string, std::string>& pod_annotations);

// What a systemd container gets beyond any other (as CRI-O and Podman give it): tmpfs on /run,
// /run/lock, /tmp and /var/log/journal where `config_mounts` puts nothing, container=peapod in
// the environment unless set, and its own cgroup subtree writable.
void ApplySystemdMode(const std::vector<Mount>& config_mounts, runtime::ContainerSpec& spec);

}  // namespace peapod::agent
