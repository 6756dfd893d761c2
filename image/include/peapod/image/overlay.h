// Overlay root filesystems: a container's root is an overlay of its image's layers (read-only
// lower dirs) plus a private upper and work dir. Layer dirs are named by short links in one
// directory, and the mount is made from inside that directory with relative lowerdir entries,
// so even 100+ layer images fit the kernel's one-page limit on mount options.
#pragma once

#include <string>
#include <vector>

#include "peapod/error.h"

namespace peapod::image {

// Everything a child that may only make raw syscalls needs to mount the overlay:
//   chdir(chdir_to); mount("overlay", target, "overlay", 0, options.c_str());
struct OverlayPlan {
  std::string chdir_to;  // directory the lowerdir entries are relative to
  std::string options;   // "lowerdir=top:...:bottom,upperdir=/abs/upper,workdir=/abs/work"
};

// `lower_names_bottom_first` are entries of `links_dir` (short names of the image's layers, the
// base layer first). Fails with kInvalidArgument when there are no layers or the options would
// not fit in one page (4096 bytes including the terminating NUL).
Result<OverlayPlan> BuildOverlayPlan(const std::string& links_dir,
                                     const std::vector<std::string>& lower_names_bottom_first,
                                     const std::string& upper_dir, const std::string& work_dir);

// A read-only overlay of two or more layers (no upper or work dir): an image volume's root. The
// kernel refuses a single lower dir without an upper dir; bind such a layer read-only instead.
Result<OverlayPlan> BuildReadOnlyOverlayPlan(
    const std::string& links_dir, const std::vector<std::string>& lower_names_bottom_first);

// Mounts the plan on `target`. The chdir happens in a short-lived child (the cwd is per process,
// and the caller may be multi-threaded); the child shares the caller's mount namespace.
Status MountOverlay(const OverlayPlan& plan, const std::string& target);

struct ContainerDirs {
  std::string dir;    // <containers_root>/<id>
  std::string upper;  // <dir>/upper
  std::string work;   // <dir>/work
};

// Creates <containers_root>/<id>/{upper,work}. `id` must be a single path component.
Result<ContainerDirs> CreateContainerDirs(const std::string& containers_root,
                                          const std::string& id);
ContainerDirs ContainerDirsOf(const std::string& containers_root, const std::string& id);
// Detaches the image volumes mounted under <containers_root>/<id>/volumes; fine when none are.
Status UnmountImageVolumes(const std::string& containers_root, const std::string& id);
// Removes the container's dirs; fine when they are already gone.
Status RemoveContainerDirs(const std::string& containers_root, const std::string& id);

}  // namespace peapod::image
