// The spawn plan: everything a container's child processes need between fork and execve,
// prepared by the agent beforehand, so the children only walk it with raw syscalls.
#pragma once

#include <sys/types.h>

#include <array>
#include <vector>

#include "peapod/runtime/security.h"

namespace peapod::runtime::detail {

enum SpawnStep {
  kStepSetns,
  kStepFork,
  kStepUnshare,
  kStepHandshake,
  kStepStdio,
  kStepMountSlave,
  kStepRootfs,
  kStepOpenBindSource,
  kStepReadonlyBind,
  kStepPivotRoot,
  kStepSystemMount,
  kStepDeviceNode,
  kStepDeviceLink,
  kStepMountTarget,
  kStepMount,
  kStepPropagation,
  kStepReadonlyRoot,
  kStepCwd,
  kStepGroups,
  kStepGid,
  kStepUid,
  kStepMaskPaths,
  kStepReadonlyPaths,
  kStepSecurity,
  kStepExec,
  kStepConsole,
  kStepCgroupNamespace,
  kStepCgroupMount,
  kStepIdmap,
  kSpawnStepCount,
};
extern const std::array<const char*, kSpawnStepCount> kSpawnStepNames;

struct ChildNamespace {
  int fd;
  int type;  // CLONE_NEWNET, ...
};

struct ChildMount {
  const char* source;
  const char* destination;
  const char* fstype;  // nullptr for bind mounts
  const char* data;
  unsigned long flags;
  unsigned long propagation;  // MS_PRIVATE, MS_SLAVE or MS_SHARED
  bool bind;
  bool source_is_dir;
  bool read_only;
  bool recursive_read_only;  // with read_only: the whole copied tree, not just its top mount
  bool idmap;                // bind: idmap the copy; tmpfs: idmap the new mount in place
  int tree_fd;  // filled in by the child: the detached copy of a bind source
};

// A CgroupMountStep for the child: kind as CgroupMountStep::Kind.
struct ChildCgroupMount {
  int kind;
  const char* target;
  const char* data;
};

struct SpawnPlan {
  int sync_fd = -1;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  // Replace stdio with a new pty's slave once /dev/pts is mounted; its master goes to the agent
  // over sync_fd (kConsoleByte with SCM_RIGHTS).
  bool console = false;
  ChildNamespace namespaces[4] = {};
  int namespace_count = 0;
  bool new_pid_ns = false;
  const char* rootfs = nullptr;
  const char* overlay_chdir = nullptr;
  const char* overlay_options = nullptr;
  std::vector<ChildMount> mounts;
  bool readonly_rootfs = false;
  const char* cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  const SecurityPlan* security = nullptr;  // nullptr: only the uid/gid/groups above
  bool privileged = false;
  int host_dev_fd = -1;  // filled in by the child for privileged containers
  std::vector<const char*> masked_paths;
  std::vector<const char*> readonly_paths;
  // Once placed in its cgroup: unshare a cgroup namespace (its cgroup becomes the root) and
  // mount these at /sys/fs/cgroup, read-only unless cgroup_writable.
  bool cgroup_namespace = false;
  bool cgroup_writable = false;
  std::vector<ChildCgroupMount> cgroup_mounts;
  // The pod's user namespace (-1: none). Every file system the container sees is an idmapped
  // mount through it (the image's layers under the overlay, volumes, tmpfs), what the set-up
  // creates is owned by the pod's root (owner_uid/gid, host ids), and the container joins it
  // last (SecurityPlan::user_namespace_fd), so ids and capabilities are the pod's.
  int userns_fd = -1;
  uid_t owner_uid = static_cast<uid_t>(-1);
  gid_t owner_gid = static_cast<gid_t>(-1);
  std::vector<const char*> idmapped_layers;  // overlay lowerdir entries, relative to overlay_chdir
  const char* devpts_data = nullptr;         // devpts options with the host id of group tty
  uid_t console_uid = 0;                     // host id of the console's owner
  std::vector<const char*> exec_candidates;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// Handshake bytes on the sync socket.
inline constexpr char kReadyByte = 'R';
inline constexpr char kGoByte = 'G';
inline constexpr char kConsoleByte = 'C';

// The agent's direct child. Joins the pod, forks twice so the container's init is re-parented to
// pause, and never returns.
[[noreturn]] void RunSpawnChild(SpawnPlan& plan);

}  // namespace peapod::runtime::detail
