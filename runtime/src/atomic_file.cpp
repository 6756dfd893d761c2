#include "peapod/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "peapod/unique_fd.h"

namespace peapod {

Status FsyncDirectory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return FailErrno("open directory " + dir);
  if (::fsync(fd.Get()) != 0) return FailErrno("fsync directory " + dir);
  return Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode,
                           Durability durability) {
  const bool sync = durability == Durability::kPowerLoss;
  // Unique per process and call, so concurrent writers of one path never share a temp file.
  static std::atomic<uint64_t> counter{0};
  std::string tmp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return FailErrno("create " + tmp);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd.Get(), content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return FailErrno("write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if ((sync && ::fsync(fd.Get()) != 0) || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FailErrno("write " + path, err);
  }
  fd.Reset();
  if (!sync) return Ok();
  return FsyncDirectory(std::filesystem::path(path).parent_path().string());
}

Result<std::string> QuarantineFile(const std::string& path) {
  std::filesystem::path from(path);
  std::string dir = (from.parent_path() / "quarantine").string();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return FailErrno("create quarantine directory " + dir);
  }
  std::string name = from.filename().string();
  std::string to = dir + "/" + name;
  for (int n = 1; ::access(to.c_str(), F_OK) == 0; ++n) {
    to = dir + "/" + name + "." + std::to_string(n);
  }
  if (::rename(path.c_str(), to.c_str()) != 0) {
    return FailErrno("move " + path + " to " + to);
  }
  if (auto s = FsyncDirectory(from.parent_path().string()); !s) return std::unexpected(s.error());
  return to;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace peapod
