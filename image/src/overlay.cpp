#include "peapod/image/overlay.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "files.h"

namespace peapod::image {
namespace {

constexpr size_t kPageSize = 4096;

Status CheckContainerId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos ||
      id.find('\0') != std::string::npos)
    return Fail(ErrorCode::kInvalidArgument, "invalid container id \"" + id + "\"");
  return Ok();
}

// "top:...:bottom": overlay stacks lowerdir entries left to right from the top down.
Result<std::string> LowerDirList(const std::vector<std::string>& lower_names_bottom_first) {
  if (lower_names_bottom_first.empty())
    return Fail(ErrorCode::kInvalidArgument, "an overlay needs at least one lower layer");
  std::string lower;
  for (auto it = lower_names_bottom_first.rbegin(); it != lower_names_bottom_first.rend(); ++it) {
    if (it->find_first_of(":,/\\") != std::string::npos || it->empty())
      return Fail(ErrorCode::kInvalidArgument, "invalid layer link name \"" + *it + "\"");
    if (!lower.empty()) lower += ':';
    lower += *it;
  }
  return lower;
}

Status CheckOptionsFit(const OverlayPlan& plan, size_t layers) {
  if (plan.options.size() + 1 <= kPageSize) return Ok();
  return Fail(ErrorCode::kInvalidArgument, "overlay options for " + std::to_string(layers) +
                                               " layers need " +
                                               std::to_string(plan.options.size() + 1) +
                                               " bytes, more than the kernel's one-page limit");
}

}  // namespace

Result<OverlayPlan> BuildReadOnlyOverlayPlan(
    const std::string& links_dir, const std::vector<std::string>& lower_names_bottom_first) {
  if (lower_names_bottom_first.size() < 2)
    return Fail(ErrorCode::kInvalidArgument, "a read-only overlay needs at least two layers");
  auto lower = LowerDirList(lower_names_bottom_first);
  if (!lower) return std::unexpected(lower.error());
  OverlayPlan plan{links_dir, "lowerdir=" + *lower};
  if (auto st = CheckOptionsFit(plan, lower_names_bottom_first.size()); !st)
    return std::unexpected(st.error());
  return plan;
}

Result<OverlayPlan> BuildOverlayPlan(const std::string& links_dir,
                                     const std::vector<std::string>& lower_names_bottom_first,
                                     const std::string& upper_dir, const std::string& work_dir) {
  auto lower = LowerDirList(lower_names_bottom_first);
  if (!lower) return std::unexpected(lower.error());
  OverlayPlan plan;
  plan.chdir_to = links_dir;
  for (const auto* dir : {&upper_dir, &work_dir}) {
    if (dir->find_first_of(":,") != std::string::npos)
      return Fail(ErrorCode::kInvalidArgument, "overlay dir \"" + *dir + "\" contains ':' or ','");
  }
  plan.options = "lowerdir=" + *lower + ",upperdir=" + upper_dir + ",workdir=" + work_dir;
  if (auto st = CheckOptionsFit(plan, lower_names_bottom_first.size()); !st)
    return std::unexpected(st.error());
  return plan;
}

Status MountOverlay(const OverlayPlan& plan, const std::string& target) {
  const char* dir = plan.chdir_to.c_str();
  const char* data = plan.options.c_str();
  const char* where = target.c_str();
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return FailErrno("create pipe for overlay mount");
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    return FailErrno("fork to mount overlay on " + target, err);
  }
  if (pid == 0) {
    // Raw syscalls only: the parent may be multi-threaded. Report {step, errno} on failure.
    int failure[2] = {0, 0};
    if (::chdir(dir) != 0) failure[0] = 1;
    else if (::mount("overlay", where, "overlay", 0, data) != 0) failure[0] = 2;
    if (failure[0] != 0) {
      failure[1] = errno;
      (void)!::write(report[1], failure, sizeof failure);
    }
    ::_exit(failure[0]);
  }
  ::close(report[1]);
  int failure[2] = {0, 0};
  ssize_t n;
  do n = ::read(report[0], failure, sizeof failure);
  while (n < 0 && errno == EINTR);
  ::close(report[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof failure)) {
    if (failure[0] == 1) return FailErrno("chdir to layer links " + plan.chdir_to, failure[1]);
    return FailErrno("mount overlay on " + target + " (layers in " + plan.chdir_to + ")",
                     failure[1]);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Fail(ErrorCode::kInternal, "overlay mount child for " + target + " failed");
  return Ok();
}

ContainerDirs ContainerDirsOf(const std::string& containers_root, const std::string& id) {
  ContainerDirs d;
  d.dir = containers_root + "/" + id;
  d.upper = d.dir + "/upper";
  d.work = d.dir + "/work";
  return d;
}

Result<ContainerDirs> CreateContainerDirs(const std::string& containers_root,
                                          const std::string& id) {
  if (auto st = CheckContainerId(id); !st) return std::unexpected(st.error());
  ContainerDirs d = ContainerDirsOf(containers_root, id);
  if (auto st = files::MakeDirs(containers_root); !st) return std::unexpected(st.error());
  if (::mkdir(d.dir.c_str(), 0711) != 0) return FailErrno("create container dir " + d.dir);
  for (const auto* p : {&d.upper, &d.work}) {
    if (::mkdir(p->c_str(), 0755) != 0) {
      int err = errno;
      (void)files::RemoveTree(d.dir);
      return FailErrno("create " + *p, err);
    }
  }
  return d;
}

Status UnmountImageVolumes(const std::string& containers_root, const std::string& id) {
  if (auto st = CheckContainerId(id); !st) return st;
  std::string volumes = ContainerDirsOf(containers_root, id).dir + "/volumes";
  DIR* d = ::opendir(volumes.c_str());
  if (d == nullptr) return errno == ENOENT ? Ok() : FailErrno("list " + volumes);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  for (const auto& name : names) {
    std::string target = volumes + "/" + name;
    // EINVAL: not a mount point (a mount that failed, or one already detached).
    if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL &&
        errno != ENOENT) {
      return FailErrno("unmount image volume " + target);
    }
  }
  return Ok();
}

Status RemoveContainerDirs(const std::string& containers_root, const std::string& id) {
  if (auto st = CheckContainerId(id); !st) return st;
  return files::RemoveTree(ContainerDirsOf(containers_root, id).dir);
}

}  // namespace peapod::image
