// Running one CNI plugin binary: env and stdin in, stdout/stderr and exit status out, with a
// deadline after which the plugin and its process group are killed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "peapod/cni/version.h"
#include "peapod/error.h"

namespace peapod::cni {

struct PluginRun {
  int exit_status = -1;  // WEXITSTATUS, or 128+signal when killed by a signal
  std::string stdout_data;
  std::string stderr_data;
  int pid = 0;  // the plugin's pid (gone by the time this is returned)
};

// posix_spawn()s `path` in its own process group with only the given environment and fds 0-2,
// writes `stdin_data`, and collects its output. Fails with kDeadlineExceeded (after killing
// the process group) when it outlives `timeout`; a plugin that ran and exited non-zero is not
// an error here, the caller reads exit_status.
Result<PluginRun> RunPlugin(const std::string& path, const std::vector<std::string>& env,
                            const std::string& stdin_data, std::chrono::milliseconds timeout);

// Runs CNI_COMMAND=VERSION: which spec versions the plugin at `path` speaks.
Result<PluginVersionInfo> QueryPluginVersion(const std::string& path,
                                             const std::vector<std::string>& plugin_dirs,
                                             std::chrono::milliseconds timeout);

// The first executable `name` in `dirs`, or kFailedPrecondition naming the dirs searched.
Result<std::string> FindPlugin(const std::string& name, const std::vector<std::string>& dirs);

}  // namespace peapod::cni
