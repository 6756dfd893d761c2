// UserNamespaceRanges: the host id ranges of pods with hostUsers: false, as kubelet allocates
// them: one 65536-sized range per pod, range n being host ids [65536*n, 65536*(n+1)), n >= 1
// (range 0 is the node's own). Each allocation is a file <dir>/<n> holding the pod's uid, made
// with O_EXCL, so ranges never collide across pods and outlive agent restarts until freed.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "peapod/error.h"

namespace peapod::agent::controller {

class UserNamespaceRanges {
 public:
  static constexpr uint32_t kRangeLength = 65536;
  // Ranges 1 .. kLastRange: the last one ends below 2^32 - 1, the invalid id.
  static constexpr uint32_t kLastRange = 65534;

  explicit UserNamespaceRanges(std::string dir) : dir_(std::move(dir)) {}

  // The first host id of the pod's range: the one it already has, else the lowest free one.
  Result<uint32_t> Acquire(const std::string& pod_uid);
  // Frees the pod's range; a pod without one is not an error.
  Status Release(const std::string& pod_uid);
  // Frees every range whose pod is not in `pod_uids` (pods deleted while no agent ran).
  void ReleaseAllBut(const std::set<std::string>& pod_uids);

 private:
  // The range number held by `pod_uid`, or 0.
  uint32_t FindLocked(const std::string& pod_uid) const;

  std::string dir_;
  std::mutex mu_;
};

}  // namespace peapod::agent::controller
