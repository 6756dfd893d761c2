// What `peapod image prune` prints: each removed image with its names and the space it freed,
// then the total, as `docker image prune` ends ("Total reclaimed space: 12.3MB").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace peapod::cli {

struct PrunedImageRow {
  std::string id;
  std::vector<std::string> repo_tags;
  uint64_t freed_bytes = 0;
};

std::string FormatPruneSummary(const std::vector<PrunedImageRow>& images, uint64_t freed_bytes);

}  // namespace peapod::cli
