// The propagation of the mount that holds a path, from /proc/self/mountinfo: what a bind mount
// with HostToContainer or Bidirectional propagation needs of its source before it can honour it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "peapod/error.h"

namespace peapod::runtime {

struct MountPropagationState {
  std::string mount_point;  // of the mount holding the path
  bool shared = false;      // "shared:N": in a peer group, propagates both ways
  bool slave = false;       // "master:N": receives from a peer group
};

// Pure: the mount holding `path` (absolute, symlinks resolved) in a mountinfo text; the topmost
// of the deepest mount points that contain it. nullopt when none does.
std::optional<MountPropagationState> FindMountHolding(std::string_view mountinfo,
                                                      const std::string& path);

// The same for this process's mount namespace; resolves `path` first.
Result<MountPropagationState> PropagationOfMountHolding(const std::string& path);

}  // namespace peapod::runtime
