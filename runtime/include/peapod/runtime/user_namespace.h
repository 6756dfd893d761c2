// User namespaces (KEP-127, hostUsers: false): a pod's ID mappings, their checks, and the probe
// that tells whether this kernel can run a pod in one with idmapped mounts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "peapod/error.h"

namespace peapod::runtime {

// One contiguous range: container ids [container_id, container_id + length) are host ids
// [host_id, host_id + length).
struct IdMap {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t length = 0;
  bool operator==(const IdMap&) const = default;
};

// Ids below this are the node's own (root, daemons, the users of the host): kubelet's first
// range, never handed to a pod (peapod apply allocates above it too).
inline constexpr uint64_t kFirstPodHostId = 65536;
// The size of kubelet's per-pod range.
inline constexpr uint32_t kPodIdRangeLength = 65536;

// Checks what kubelet (or critest) sends for one of uid/gid, as containerd checks it and a bit
// more: a single range starting at container id 0, at least 65536 long (every id an image
// uses), never mapping the node's root (host id 0), not running past the last id. `what`
// names the field in the error.
Status CheckPodIdMappings(const std::vector<IdMap>& maps, const std::string& what);

// The host id of `id`, or nullopt when the mappings leave it unmapped.
std::optional<uint32_t> HostIdOf(const std::vector<IdMap>& maps, uint32_t id);

// "0 100000 65536\n" lines, as /proc/<pid>/uid_map takes them.
std::string FormatIdMap(const std::vector<IdMap>& maps);

// Writes the maps of a process just made in a new user namespace (gid_map after uid_map, both
// at once as the kernel wants: one write each).
Status WriteIdMaps(pid_t pid, const std::vector<IdMap>& uids, const std::vector<IdMap>& gids);

// Whether pods can run in user namespaces here: a user namespace can be made, and idmapped
// mounts of the kinds a pod needs (tmpfs, a bind of the state directory's filesystem, and
// overlay on idmapped layers) work. `state_dir` is where rootfs layers and volumes live. The
// error says what failed; callers report user_namespaces: false then.
Status ProbeUserNamespaces(const std::string& state_dir);

}  // namespace peapod::runtime
