#include "peapod/agent/image_gc.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>

#include "peapod/catch_boundary.h"
#include "peapod/image/image_service.h"

namespace peapod::agent {
namespace {

using Clock = std::chrono::system_clock;

std::string Names(const std::vector<std::string>& tags) {
  if (tags.empty()) return "<none>";
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ", ") + t;
  return out;
}

}  // namespace

Result<FsCapacity> StatFsCapacity(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return FailErrno("statvfs " + path);
  FsCapacity out;
  out.capacity_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  out.available_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  return out;
}

ImageGarbageCollector::ImageGarbageCollector(image::ImageService& images, ImageGcPolicy policy)
    : images_(images), policy_(std::move(policy)) {
  if (!policy_.probe) policy_.probe = StatFsCapacity;
}

ImageGarbageCollector::~ImageGarbageCollector() {
  {
    std::lock_guard lock(thread_mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ImageGarbageCollector::AddInUseSource(std::function<std::set<std::string>()> source) {
  std::lock_guard lock(mu_);
  sources_.push_back(std::move(source));
}

void ImageGarbageCollector::Start() {
  std::lock_guard lock(thread_mu_);
  if (policy_.period.count() <= 0 || thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void ImageGarbageCollector::Loop() {
  std::unique_lock lock(thread_mu_);
  // As kubelet, a first detection right away so that ages count from the agent's start.
  lock.unlock();
  (void)CatchAll("image gc: detect", [this] { Detect(); });
  lock.lock();
  while (!stop_) {
    cv_.wait_for(lock, policy_.period, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    // The thread's catch boundary: a failed pass is logged and the next one runs.
    (void)CatchAll("image gc", [this] {
      if (auto report = Collect(); !report) {
        spdlog::warn("image gc: {}", report.error().ToString());
      }
    });
    lock.lock();
  }
}

std::set<std::string> ImageGarbageCollector::InUseLocked() {
  std::set<std::string> in_use = images_.ImagesInUse();
  for (const auto& source : sources_) in_use.merge(source());
  return in_use;
}

void ImageGarbageCollector::DetectLocked(Clock::time_point now,
                                         const std::set<std::string>& in_use) {
  std::map<std::string, Record> next;
  for (auto& image : images_.List()) {
    auto it = records_.find(image.id);
    Record record = it != records_.end() ? it->second : Record{now, {}, {}};
    record.repo_tags = std::move(image.repo_tags);
    if (in_use.contains(image.id)) record.last_used = now;
    next[image.id] = std::move(record);
  }
  records_ = std::move(next);
}

void ImageGarbageCollector::Detect(Clock::time_point now) {
  std::lock_guard lock(mu_);
  DetectLocked(now, InUseLocked());
}

bool ImageGarbageCollector::RemoveLocked(const std::string& id, const std::string& reason,
                                         ImageGcReport& report) {
  auto freed = images_.RemoveUnusedImage(id);
  if (!freed) {
    // A container took it since the pass looked: in use after all, not an error.
    if (freed.error().code == ErrorCode::kFailedPrecondition) return false;
    spdlog::warn("image gc: remove {}: {}", id, freed.error().ToString());
    report.errors.push_back(id + ": " + freed.error().message);
    return false;
  }
  RemovedImage removed{id, records_[id].repo_tags, *freed, reason};
  spdlog::info("image gc: removed image {} ({}), {} bytes freed: {}", id, Names(removed.repo_tags),
               *freed, reason);
  report.freed_bytes += *freed;
  report.removed.push_back(std::move(removed));
  records_.erase(id);
  return true;
}

Result<ImageGcReport> ImageGarbageCollector::Collect(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::set<std::string> in_use = InUseLocked();
  DetectLocked(now, in_use);
  ImageGcReport report;

  // Candidates: unused and older than the minimum age, least recently used first (never used
  // before used; then the earliest detected).
  std::vector<std::pair<std::string, Record>> candidates;
  for (const auto& [id, record] : records_) {
    if (in_use.contains(id)) continue;
    if (now - record.first_detected < policy_.min_age) continue;
    candidates.emplace_back(id, record);
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    if (a.second.last_used != b.second.last_used) return a.second.last_used < b.second.last_used;
    return a.second.first_detected < b.second.first_detected;
  });

  if (policy_.max_age.count() > 0) {
    std::vector<std::pair<std::string, Record>> remaining;
    for (auto& candidate : candidates) {
      auto last = std::max(candidate.second.last_used, candidate.second.first_detected);
      if (now - last > policy_.max_age &&
          RemoveLocked(candidate.first, "unused for longer than the maximum age", report)) {
        continue;
      }
      remaining.push_back(std::move(candidate));
    }
    candidates = std::move(remaining);
  }

  if (policy_.high_threshold_percent >= 100) return report;
  auto fs = policy_.probe(images_.root());
  if (!fs) return std::unexpected(std::move(fs.error()).Context("image gc: measure image fs"));
  if (fs->capacity_bytes == 0) return report;
  uint64_t available = std::min(fs->available_bytes, fs->capacity_bytes);
  uint64_t used_percent = (fs->capacity_bytes - available) * 100 / fs->capacity_bytes;
  if (used_percent < static_cast<uint64_t>(policy_.high_threshold_percent)) return report;
  // kubelet: free down to the low threshold, counting what was removed already.
  uint64_t target_available =
      fs->capacity_bytes / 100 * static_cast<uint64_t>(100 - policy_.low_threshold_percent);
  uint64_t to_free = target_available > available ? target_available - available : 0;
  to_free = to_free > report.freed_bytes ? to_free - report.freed_bytes : 0;
  spdlog::info("image gc: image filesystem {}% used (high threshold {}%): freeing {} bytes",
               used_percent, policy_.high_threshold_percent, to_free);
  uint64_t freed = 0;
  for (const auto& [id, record] : candidates) {
    if (freed >= to_free) break;
    size_t before = report.removed.size();
    if (RemoveLocked(id, "image filesystem above the high threshold", report)) {
      freed += report.removed[before].freed_bytes;
    }
  }
  if (freed < to_free) {
    spdlog::warn(
        "image gc: freed {} of the {} bytes wanted: the other images are in use or "
        "younger than the minimum age",
        freed, to_free);
  }
  return report;
}

ImageGcReport ImageGarbageCollector::Prune(bool all) {
  std::lock_guard lock(mu_);
  std::set<std::string> in_use = InUseLocked();
  DetectLocked(Clock::now(), in_use);
  ImageGcReport report;
  std::vector<std::string> ids;
  for (const auto& [id, record] : records_) {
    if (in_use.contains(id)) continue;
    if (all || record.repo_tags.empty()) ids.push_back(id);
  }
  for (const auto& id : ids) RemoveLocked(id, "pruned", report);
  return report;
}

}  // namespace peapod::agent
