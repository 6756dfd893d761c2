// ImageGarbageCollector: kubelet's image garbage collection for the agent's image store. When
// the image filesystem is used above the high threshold it removes unused images, least
// recently used first and none younger than the minimum age, until usage would be below the
// low threshold; images unused for longer than the maximum age go regardless of usage. An image
// is in use while any container (running or not) holds it, or any other in-use source (image
// volumes, say) names it. Prune removes unused images by hand, as `crictl rmi --prune`.
// Thread-safe; passes run one at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "peapod/error.h"

namespace peapod::image {
class ImageService;
}

namespace peapod::agent {

// What statvfs says of a filesystem.
struct FsCapacity {
  uint64_t capacity_bytes = 0;
  uint64_t available_bytes = 0;
};
// Measures the filesystem holding `path`; tests inject a fixed figure (a real disk cannot be
// filled in a test).
using FsCapacityProbe = std::function<Result<FsCapacity>(const std::string& path)>;
Result<FsCapacity> StatFsCapacity(const std::string& path);

struct ImageGcPolicy {
  // kubelet's imageGCHighThresholdPercent (100: never by usage) and imageGCLowThresholdPercent.
  int64_t high_threshold_percent = 85;
  int64_t low_threshold_percent = 80;
  // kubelet's imageMinimumGCAge and imageMaximumGCAge (0: no maximum).
  std::chrono::milliseconds min_age{std::chrono::minutes(2)};
  std::chrono::milliseconds max_age{0};
  // How often a pass runs (kubelet: 5 min); 0: only when asked (tests).
  std::chrono::milliseconds period{std::chrono::minutes(5)};
  FsCapacityProbe probe;  // empty: StatFsCapacity
};

struct RemovedImage {
  std::string id;
  std::vector<std::string> repo_tags;
  uint64_t freed_bytes = 0;  // blobs and layers no other image shares
  std::string reason;        // "disk usage", "maximum age", "prune"
};

struct ImageGcReport {
  std::vector<RemovedImage> removed;
  uint64_t freed_bytes = 0;
  std::vector<std::string> errors;  // removals that failed (the pass goes on)
};

class ImageGarbageCollector {
 public:
  ImageGarbageCollector(image::ImageService& images, ImageGcPolicy policy);
  ~ImageGarbageCollector();  // stops the thread
  ImageGarbageCollector(const ImageGarbageCollector&) = delete;
  ImageGarbageCollector& operator=(const ImageGarbageCollector&) = delete;

  // Another source of image ids in use, asked at every pass (containers are built in).
  void AddInUseSource(std::function<std::set<std::string>()> source);
  // Starts the periodic pass when policy.period > 0.
  void Start();

  // Notes the images present and those in use at `now` (each pass does this first): an image
  // is first detected when a pass first sees it, and last used when a pass last saw it in use.
  void Detect(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
  // One pass: the maximum age, then the thresholds.
  Result<ImageGcReport> Collect(
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
  // Removes every unused image (`all`), or only the unused ones without a tag; ages not asked.
  ImageGcReport Prune(bool all);

 private:
  struct Record {
    std::chrono::system_clock::time_point first_detected;
    std::chrono::system_clock::time_point last_used;  // epoch: never seen in use
    std::vector<std::string> repo_tags;
  };
  std::set<std::string> InUseLocked();
  void DetectLocked(std::chrono::system_clock::time_point now, const std::set<std::string>& in_use);
  bool RemoveLocked(const std::string& id, const std::string& reason, ImageGcReport& report);
  void Loop();

  image::ImageService& images_;
  ImageGcPolicy policy_;
  std::mutex mu_;  // one pass at a time; guards records_ and sources_
  std::map<std::string, Record> records_;
  std::vector<std::function<std::set<std::string>()>> sources_;
  std::mutex thread_mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace peapod::agent
