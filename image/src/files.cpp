#include "files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include "peapod/unique_fd.h"

namespace peapod::image::files {

std::string UniqueSuffix() {
  static std::atomic<uint64_t> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::to_string(now & 0xffffff);
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return FailErrno("create directory " + path, ec.value());
  return Ok();
}

uint64_t DiskUsage(const std::string& path) {
  struct stat top {};
  if (::lstat(path.c_str(), &top) != 0) return 0;
  uint64_t bytes = static_cast<uint64_t>(top.st_blocks) * 512;
  if (!S_ISDIR(top.st_mode)) return bytes;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(path, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0) bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return bytes;
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);  // does not follow symlinks
  if (ec && ec.value() != ENOENT) return FailErrno("remove " + path, ec.value());
  return Ok();
}

}  // namespace peapod::image::files
