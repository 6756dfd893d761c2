// Image volumes (CRI Mount.image, KEP-4639): an image's root filesystem mounted read-only under
// a container's dir, for the runtime to bind into the container like any other volume, and
// held in use (not removable) for as long as the container exists.
#include <fcntl.h>
#include <linux/openat2.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "files.h"
#include "peapod/atomic_file.h"
#include "peapod/image/image_service.h"
#include "peapod/unique_fd.h"

namespace peapod::image {
namespace {

constexpr char kVolumeImagesFile[] = "volume-images";

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return "";
  return std::string(buf, static_cast<size_t>(n));
}

// The sub path as the container will see it: a directory inside `root`, found without leaving
// it. Lexical climbs are refused before the walk; the kernel refuses the rest (a symlink that
// points out, absolute or up) with RESOLVE_BENEATH. The image is read-only, so the path found
// cannot be swapped for a symlink between this walk and the bind.
Result<std::string> ResolveSubPath(const std::string& root, std::string_view sub_path) {
  std::string quoted = "image_sub_path \"" + std::string(sub_path) + "\"";
  if (sub_path.find('\0') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, quoted + " contains a NUL byte");
  }
  if (sub_path.front() == '/') {
    return Fail(ErrorCode::kInvalidArgument, quoted + " must be a path relative to the image root");
  }
  for (const auto& part : std::filesystem::path(sub_path)) {
    if (part == "..") {
      return Fail(ErrorCode::kInvalidArgument, quoted + " escapes the image root ('..')");
    }
  }
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return FailErrno("open image volume root " + root);
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  std::string sub(sub_path);
  long fd = 0;
  do fd = ::syscall(SYS_openat2, root_fd.Get(), sub.c_str(), &how, sizeof how);
  while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  if (fd < 0) {
    int err = errno;
    if (err == EXDEV) {
      return Fail(ErrorCode::kInvalidArgument,
                  quoted + " escapes the image root (through a symlink)");
    }
    if (err == ENOENT) {
      return Fail(ErrorCode::kFailedPrecondition, quoted + " does not exist in the image");
    }
    if (err == ENOTDIR) {
      // As containerd: an image volume's sub path is a directory, never a single file.
      return Fail(ErrorCode::kInvalidArgument, quoted + " is not a directory in the image");
    }
    return FailErrno("resolve " + quoted + " in " + root, err);
  }
  UniqueFd found(static_cast<int>(fd));
  std::string path = ReadLink("/proc/self/fd/" + std::to_string(found.Get()));
  if (path != root && !path.starts_with(root + "/")) {
    return Fail(ErrorCode::kInvalidArgument, quoted + " resolves outside the image root");
  }
  return path;
}

Status BindReadOnly(const std::string& source, const std::string& target) {
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return FailErrno("bind " + source + " on " + target);
  }
  if (::mount(nullptr, target.c_str(), nullptr,
              MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    int err = errno;
    ::umount2(target.c_str(), MNT_DETACH);
    return FailErrno("make " + target + " read-only", err);
  }
  return Ok();
}

}  // namespace

Status ImageService::LoadVolumeLeases(const std::string& container_id) {
  std::string file = options_.root + "/containers/" + container_id + "/" + kVolumeImagesFile;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 && errno == ENOENT) return Ok();
  auto text = ReadWholeFile(file);
  if (!text) return std::unexpected(text.error());
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) volume_leases_.emplace(container_id, line);
  }
  return Ok();
}

std::set<std::string> ImageService::ImagesInUse() const {
  std::lock_guard lock(lease_mutex_);
  std::set<std::string> out;
  for (const auto& [container, image] : leases_) out.insert(image);
  for (const auto& [container, image] : volume_leases_) out.insert(image);
  return out;
}

Status ImageService::MountImageRoot(const ImageRecord& rec, const std::string& target) const {
  if (rec.layers.empty()) {
    return Fail(ErrorCode::kFailedPrecondition, "image " + rec.id + " has no layers to mount");
  }
  if (rec.layers.size() == 1) return BindReadOnly(LayerDir(rec.layers[0].chain_id), target);
  std::vector<std::string> names;
  for (const auto& l : rec.layers) names.push_back(LinkName(l.chain_id));
  auto plan = BuildReadOnlyOverlayPlan(LinksDir(), names);
  if (!plan) return std::unexpected(plan.error());
  return MountOverlay(*plan, target);
}

Result<ImageVolume> ImageService::MountImageVolume(const std::string& container_id, size_t index,
                                                   std::string_view image_ref,
                                                   std::string_view sub_path) {
  // Shared: the image cannot be removed between being found and being recorded as in use.
  std::shared_lock gc(gc_mutex_);
  auto rec = store_->Find(image_ref);
  if (!rec) return std::unexpected(rec.error());
  ContainerDirs dirs = ContainerDirsOf(options_.root + "/containers", container_id);
  {
    std::lock_guard lock(lease_mutex_);
    if (!leases_.contains(container_id)) {
      return Fail(ErrorCode::kFailedPrecondition, "container " + container_id + " has no rootfs");
    }
    // Recorded before the mount: a crash after it leaves a volume whose image is still held.
    volume_leases_.emplace(container_id, rec->id);
    std::string list;
    auto [begin, end] = volume_leases_.equal_range(container_id);
    for (auto it = begin; it != end; ++it) list += it->second + "\n";
    if (auto st = WriteFileAtomically(dirs.dir + "/" + kVolumeImagesFile, list, 0644,
                                      Durability::kProcessCrash);
        !st) {
      return std::unexpected(st.error());
    }
  }
  ImageVolume volume;
  volume.image_id = rec->id;
  volume.root = dirs.dir + "/volumes/" + std::to_string(index);
  if (auto st = files::MakeDirs(volume.root); !st) return std::unexpected(st.error());
  if (auto st = MountImageRoot(*rec, volume.root); !st) {
    return std::unexpected(std::move(st.error()).Context("mount image " + rec->id));
  }
  volume.source = volume.root;
  if (!sub_path.empty()) {
    auto source = ResolveSubPath(volume.root, sub_path);
    if (!source) {
      ::umount2(volume.root.c_str(), MNT_DETACH);
      return std::unexpected(source.error());
    }
    volume.source = std::move(*source);
  }
  spdlog::debug("container {}: image {} mounted read-only on {}", container_id, rec->id,
                volume.root);
  return volume;
}

}  // namespace peapod::image
