// ImageService's side of image garbage collection: removing one image whole (every tag) with
// the disk space that frees. Which images containers hold is ImagesInUse (image_volume.cpp);
// the policy (thresholds, ages, least recently used first) is the agent's ImageGarbageCollector.
#include <spdlog/spdlog.h>

#include "peapod/image/image_service.h"

namespace peapod::image {

Result<uint64_t> ImageService::RemoveUnusedImage(const std::string& image_id) {
  std::unique_lock gc(gc_mutex_);
  auto rec = store_->Get(image_id);
  if (!rec) return Fail(ErrorCode::kNotFound, "image " + image_id + " not found");
  // Under the exclusive lock no container can take a new reference meanwhile.
  std::vector<std::string> users = ContainersUsing(rec->id);
  if (!users.empty()) {
    return Fail(ErrorCode::kFailedPrecondition,
                "image " + rec->id + " is in use by container " + users.front());
  }
  if (auto st = store_->Delete(rec->id); !st) return std::unexpected(st.error());
  uint64_t freed = 0;
  if (auto st = CollectGarbage(&freed); !st) return std::unexpected(st.error());
  return freed;
}

}  // namespace peapod::image
