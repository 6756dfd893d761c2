#include "peapod/cli/format_prune.h"

#include "peapod/cli/format.h"

namespace peapod::cli {

std::string FormatPruneSummary(const std::vector<PrunedImageRow>& images, uint64_t freed_bytes) {
  std::string out;
  if (!images.empty()) out += "Deleted Images:\n";
  for (const auto& image : images) {
    out += "deleted: " + image.id;
    std::string names;
    for (const auto& tag : image.repo_tags) names += (names.empty() ? "" : ", ") + tag;
    out += " (" + (names.empty() ? std::string("<none>") : names) + "), " +
           HumanBytes(image.freed_bytes) + " freed\n";
  }
  out += "Total reclaimed space: " + HumanBytes(freed_bytes) + "\n";
  return out;
}

}  // namespace peapod::cli
