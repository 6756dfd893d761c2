#include "userns_ranges.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "peapod/parse.h"
#include "peapod/unique_fd.h"

namespace peapod::agent::controller {
namespace {

namespace fs = std::filesystem;

std::string ReadOwner(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

uint32_t UserNamespaceRanges::FindLocked(const std::string& pod_uid) const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    auto n = ParseUnsigned(entry.path().filename().string(), kLastRange);
    if (!n || *n == 0) continue;
    if (ReadOwner(entry.path()) == pod_uid) return static_cast<uint32_t>(*n);
  }
  return 0;
}

Result<uint32_t> UserNamespaceRanges::Acquire(const std::string& pod_uid) {
  if (pod_uid.empty() || pod_uid.find('\n') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "user namespace range: bad pod uid");
  }
  std::lock_guard lock(mu_);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return FailErrno("create " + dir_, ec.value());
  if (uint32_t n = FindLocked(pod_uid)) return n * kRangeLength;
  for (uint32_t n = 1; n <= kLastRange; ++n) {
    std::string path = dir_ + "/" + std::to_string(n);
    // O_EXCL: a range is claimed once, even by another process on the same state root.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) {
      if (errno == EEXIST) continue;
      return FailErrno("claim user namespace range " + path);
    }
    bool written =
        ::write(fd.Get(), pod_uid.data(), pod_uid.size()) == static_cast<ssize_t>(pod_uid.size()) &&
        ::fsync(fd.Get()) == 0;
    if (!written) {
      auto err = FailErrno("record user namespace range " + path);
      ::unlink(path.c_str());
      return err;
    }
    UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) ::fsync(dir.Get());
    spdlog::info("pod {}: user namespace range {} (host ids {}-{})", pod_uid, n,
                 uint64_t{n} * kRangeLength, uint64_t{n + 1} * kRangeLength - 1);
    return n * kRangeLength;
  }
  return Fail(ErrorCode::kResourceExhausted,
              "no free user namespace range: " + std::to_string(kLastRange) + " pods have one");
}

Status UserNamespaceRanges::Release(const std::string& pod_uid) {
  std::lock_guard lock(mu_);
  uint32_t n = FindLocked(pod_uid);
  if (n == 0) return Ok();
  std::string path = dir_ + "/" + std::to_string(n);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return FailErrno("free user namespace range " + path);
  }
  spdlog::info("pod {}: user namespace range {} freed", pod_uid, n);
  return Ok();
}

void UserNamespaceRanges::ReleaseAllBut(const std::set<std::string>& pod_uids) {
  std::lock_guard lock(mu_);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string owner = ReadOwner(entry.path());
    if (pod_uids.contains(owner)) continue;
    spdlog::info("user namespace range {} of pod {} freed: the pod is gone",
                 entry.path().filename().string(), owner);
    fs::remove(entry.path(), ec);
  }
}

}  // namespace peapod::agent::controller
