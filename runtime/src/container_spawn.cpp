// Everything in this file runs between clone() and execve() in a child of the multi-threaded
// agent: raw syscalls on memory prepared before the fork only. No malloc, locks, exceptions,
// logging or iostreams.
#include "container_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "child_report.h"
#include "exec_spawn.h"
#include "peapod/runtime/cgroup.h"  // CgroupMountStep::Kind  // TerminalStep: the same steps as an exec's terminal

namespace peapod::runtime::detail {

const std::array<const char*, kSpawnStepCount> kSpawnStepNames = {
    "join the pod's namespace",
    "fork",
    "create the container's mount/PID namespace",
    "handshake with the agent",
    "set up stdio",
    "make the mount tree a slave of the host's",
    "mount the root filesystem",
    "open bind mount source",
    "make bind mount read-only",
    "pivot_root into the root filesystem",
    "mount system filesystem",
    "create device node",
    "create /dev symlink",
    "create mount point",
    "mount",
    "set mount propagation",
    "make the root filesystem read-only",
    "change to the working directory",
    "set supplementary groups",
    "set group id",
    "set user id",
    "mask path",
    "make path read-only",
    "apply the security context",
    "execute",
    "set up the console",
    "create the cgroup namespace",
    "mount cgroup filesystem",
    "make an idmapped mount",
};

namespace {

struct SystemMount {
  const char* source;
  const char* target;
  const char* fstype;
  unsigned long flags;
  const char* data;
};

constexpr size_t kProcMount = 0;
constexpr size_t kDevMount = 1;
constexpr size_t kDevptsMount = 2;
constexpr SystemMount kSystemMounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr},
    {"tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
     "newinstance,ptmxmode=0666,mode=0620,gid=5"},
    {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"},
    {"mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr},
};

struct DeviceNode {
  const char* path;
  unsigned major, minor;
};
constexpr DeviceNode kDevices[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},
                                   {"/dev/full", 1, 7},   {"/dev/random", 1, 8},
                                   {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

struct DeviceLink {
  const char* target;
  const char* path;
};
constexpr DeviceLink kDeviceLinks[] = {{"pts/ptmx", "/dev/ptmx"},
                                       {"/proc/self/fd", "/dev/fd"},
                                       {"/proc/self/fd/0", "/dev/stdin"},
                                       {"/proc/self/fd/1", "/dev/stdout"},
                                       {"/proc/self/fd/2", "/dev/stderr"},
                                       {"/proc/kcore", "/dev/core"}};

[[noreturn]] void Die(const SpawnPlan& plan, int step, int err, int index = 0) {
  ReportChildFailure(plan.sync_fd, step, err, index);
  ::_exit(127);
}

// Files and directories the set-up creates belong to the pod's root in a user namespace, as if
// it had made them; through an idmapped mount host root could not create them at all (its id
// has no mapping there). Switching fsuid keeps every other capability.
struct CreateAsOwner {
  explicit CreateAsOwner(const SpawnPlan& plan) : active(plan.userns_fd >= 0) {
    if (!active) return;
    ::syscall(SYS_setfsgid, plan.owner_gid);
    ::syscall(SYS_setfsuid, plan.owner_uid);
  }
  ~CreateAsOwner() {
    if (!active) return;
    // Back to fsuid 0: the file-system capabilities return to the effective set.
    ::syscall(SYS_setfsuid, 0);
    ::syscall(SYS_setfsgid, 0);
  }
  CreateAsOwner(const CreateAsOwner&) = delete;
  CreateAsOwner& operator=(const CreateAsOwner&) = delete;
  bool active;
};

// mkdir -p for every parent of `path` (and `path` itself when `include_last`), in a stack buffer.
int MakeParents(const char* path, bool include_last) {
  char buf[4096];
  size_t len = 0;
  while (path[len] && len < sizeof(buf) - 1) {
    buf[len] = path[len];
    ++len;
  }
  buf[len] = '\0';
  for (size_t i = 1; i <= len; ++i) {
    if (i < len && buf[i] != '/') continue;
    if (i == len && !include_last) break;
    char saved = buf[i];
    buf[i] = '\0';
    if (::mkdir(buf, 0755) != 0 && errno != EEXIST) return errno;
    buf[i] = saved;
  }
  return 0;
}

int IdmapTree(int tree_fd, int userns_fd, bool recursive) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  return static_cast<int>(::syscall(SYS_mount_setattr, tree_fd, "",
                                    AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
                                    sizeof(attr)));
}

// Replaces the mount at `path` (just made, nothing below it) with an idmapped copy of itself:
// only a mount not yet attached can take an idmapping. `follow` follows a symlink at `path`.
// Returns 0 or errno.
int IdmapInPlace(const char* path, int userns_fd, bool follow) {
  int fd = static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (fd < 0) return errno;
  int err = 0;
  if (IdmapTree(fd, userns_fd, false) != 0 ||
      ::syscall(SYS_move_mount, fd, "", AT_FDCWD, path,
                MOVE_MOUNT_F_EMPTY_PATH | (follow ? MOVE_MOUNT_T_SYMLINKS : 0)) != 0) {
    err = errno;
  }
  ::close(fd);
  return err;
}

// Takes a detached copy of a bind source (a host path) to attach after pivot_root, where every
// destination resolves inside the container's root.
void OpenBindSource(SpawnPlan& plan, size_t index) {
  ChildMount& m = plan.mounts[index];
  m.tree_fd = static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, m.source,
                                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (m.tree_fd < 0) Die(plan, kStepOpenBindSource, errno, static_cast<int>(index));
  // A source whose file system cannot be idmapped fails here (EINVAL), never silently unmapped.
  if (m.idmap && IdmapTree(m.tree_fd, plan.userns_fd, true) != 0) {
    Die(plan, kStepIdmap, errno, static_cast<int>(index));
  }
  if (m.read_only) {
    // A plain read-only bind is read-only at its top only, as runc's "ro"; submounts keep their
    // flags. Recursive read-only (KEP-3857) reaches every mount of the copied tree.
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    unsigned int flags = AT_EMPTY_PATH | (m.recursive_read_only ? AT_RECURSIVE : 0u);
    if (::syscall(SYS_mount_setattr, m.tree_fd, "", flags, &attr, sizeof(attr)) != 0) {
      Die(plan, kStepReadonlyBind, errno, static_cast<int>(index));
    }
  }
}

void SetUpRootfs(SpawnPlan& plan) {
  // A copy joins its source's peer group only while the source is shared in this namespace, so
  // bidirectional sources are copied before the slave step below: what the container mounts in
  // them then reaches the host, as runc's rshared root gives (without sharing anything else).
  for (size_t i = 0; i < plan.mounts.size(); ++i) {
    if (plan.mounts[i].bind && plan.mounts[i].propagation == MS_SHARED) OpenBindSource(plan, i);
  }
  // Nothing else we mount may propagate back to the host; host mounts may still reach us.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    Die(plan, kStepMountSlave, errno);
  }
  if (plan.overlay_options) {
    if (::chdir(plan.overlay_chdir) != 0) Die(plan, kStepRootfs, errno);
    // In a user namespace the image's layers are seen through idmapped mounts (stacked on them
    // in this mount namespace only): the image's root is the pod's root. The upper dir is not
    // idmapped, so what the container writes lands on the node as its mapped ids.
    for (size_t i = 0; i < plan.idmapped_layers.size(); ++i) {
      if (int err = IdmapInPlace(plan.idmapped_layers[i], plan.userns_fd, true); err != 0) {
        Die(plan, kStepIdmap, err, -2 - static_cast<int>(i));
      }
    }
    if (::mount("overlay", plan.rootfs, "overlay", 0, plan.overlay_options) != 0) {
      Die(plan, kStepRootfs, errno);
    }
  } else if (::mount(plan.rootfs, plan.rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    // pivot_root needs the new root to be a mount point.
    Die(plan, kStepRootfs, errno);
  }
  for (size_t i = 0; i < plan.mounts.size(); ++i) {
    if (plan.mounts[i].bind && plan.mounts[i].tree_fd < 0) OpenBindSource(plan, i);
  }
  if (plan.privileged) {
    plan.host_dev_fd = static_cast<int>(::syscall(
        SYS_open_tree, AT_FDCWD, "/dev", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (plan.host_dev_fd < 0) Die(plan, kStepOpenBindSource, errno, -1);
  }
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only
  // the container's root, with no path back to the host's.
  if (::chdir(plan.rootfs) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 ||
      ::umount2(".", MNT_DETACH) != 0 || ::chdir("/") != 0) {
    Die(plan, kStepPivotRoot, errno);
  }
}

void MakeDevices(const SpawnPlan& plan);

// Everything but /proc, which shows the PID namespace of whoever mounts it (MountProc).
void MountSystemFilesystems(const SpawnPlan& plan) {
  ::umask(0);
  ::mkdir(kSystemMounts[kProcMount].target, 0755);
  for (size_t i = kProcMount + 1; i < sizeof(kSystemMounts) / sizeof(kSystemMounts[0]); ++i) {
    const SystemMount& m = kSystemMounts[i];
    ::mkdir(m.target, 0755);
    bool is_dev = m.target[1] == 'd' && m.target[4] == '\0';  // "/dev"
    if (plan.privileged && is_dev) {
      // Privileged containers see the host's devices, as with runc's --privileged.
      if (::syscall(SYS_move_mount, plan.host_dev_fd, "", AT_FDCWD, "/dev",
                    MOVE_MOUNT_F_EMPTY_PATH) != 0 ||
          ::mount(nullptr, "/dev", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        Die(plan, kStepSystemMount, errno, static_cast<int>(i));
      }
      ::close(plan.host_dev_fd);
      continue;
    }
    unsigned long flags = m.flags;
    if (plan.privileged) flags &= ~static_cast<unsigned long>(MS_RDONLY);  // writable /sys
    const char* data = i == kDevptsMount && plan.devpts_data ? plan.devpts_data : m.data;
    if (::mount(m.source, m.target, m.fstype, flags, data) != 0) {
      Die(plan, kStepSystemMount, errno, static_cast<int>(i));
    }
    if (i == kDevMount && !plan.privileged) MakeDevices(plan);
    // tmpfs in a user namespace: idmapped like the pod's volumes (/dev's nodes are made by then).
    bool tmpfs = m.fstype[0] == 't';
    if (tmpfs && plan.userns_fd >= 0) {
      if (int err = IdmapInPlace(m.target, plan.userns_fd, false); err != 0) {
        Die(plan, kStepIdmap, err, -1);
      }
    }
  }
}

// Before /dev becomes idmapped: host root cannot create anything through the mapping.
void MakeDevices(const SpawnPlan& plan) {
  for (size_t i = kDevptsMount; i < sizeof(kSystemMounts) / sizeof(kSystemMounts[0]); ++i) {
    if (kSystemMounts[i].target[1] == 'd') ::mkdir(kSystemMounts[i].target, 0755);
  }
  for (size_t i = 0; i < sizeof(kDevices) / sizeof(kDevices[0]); ++i) {
    const DeviceNode& d = kDevices[i];
    if (::mknod(d.path, S_IFCHR | 0666, makedev(d.major, d.minor)) != 0) {
      Die(plan, kStepDeviceNode, errno, static_cast<int>(i));
    }
  }
  for (size_t i = 0; i < sizeof(kDeviceLinks) / sizeof(kDeviceLinks[0]); ++i) {
    if (::symlink(kDeviceLinks[i].target, kDeviceLinks[i].path) != 0 && errno != EEXIST) {
      Die(plan, kStepDeviceLink, errno, static_cast<int>(i));
    }
  }
}

// In a cgroup namespace a cgroup mount (v1 or v2) shows the namespace's root: the container's
// own cgroup, entered just before, with no host path above it.
void MountCgroups(const SpawnPlan& plan) {
  if (!plan.cgroup_namespace) return;
  if (::unshare(CLONE_NEWCGROUP) != 0) Die(plan, kStepCgroupNamespace, errno);
  constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  unsigned long cgroup_flags = kFlags | (plan.cgroup_writable ? 0 : MS_RDONLY);
  const char* tmpfs = nullptr;
  for (size_t i = 0; i < plan.cgroup_mounts.size(); ++i) {
    const ChildCgroupMount& m = plan.cgroup_mounts[i];
    int index = static_cast<int>(i);
    int rc = 0;
    if (m.kind == static_cast<int>(CgroupMountStep::Kind::kSymlink)) {
      rc = ::symlink(m.data, m.target);
    } else if (m.kind == static_cast<int>(CgroupMountStep::Kind::kTmpfs)) {
      rc = ::mount("tmpfs", m.target, "tmpfs", kFlags, "mode=755,size=64k");
      tmpfs = m.target;
    } else {
      bool v2 = m.kind == static_cast<int>(CgroupMountStep::Kind::kCgroup2);
      if (::mkdir(m.target, 0755) != 0 && errno != EEXIST)
        Die(plan, kStepCgroupMount, errno, index);
      rc = ::mount(v2 ? "cgroup2" : "cgroup", m.target, v2 ? "cgroup2" : "cgroup", cgroup_flags,
                   v2 ? nullptr : m.data);
    }
    if (rc != 0) Die(plan, kStepCgroupMount, errno, index);
  }
  // The directory holding the hierarchies is never the container's to change (runc's too).
  if (tmpfs && !plan.privileged &&
      ::mount(nullptr, tmpfs, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | kFlags, nullptr) != 0) {
    Die(plan, kStepCgroupMount, errno, 0);
  }
}

void MountProc(const SpawnPlan& plan) {
  const SystemMount& m = kSystemMounts[kProcMount];
  if (::mount(m.source, m.target, m.fstype, m.flags, m.data) != 0) {
    Die(plan, kStepSystemMount, errno, static_cast<int>(kProcMount));
  }
}

// The console, as runc makes one: a pty from the container's own devpts (mounted just now) whose
// slave becomes stdio and the controlling terminal of a new session; the master goes to the agent.
void SetUpConsole(const SpawnPlan& plan) {
  int master = AboveStdio(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master < 0) Die(plan, kStepConsole, errno, kTerminalOpenMaster);
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) != 0) Die(plan, kStepConsole, errno, kTerminalUnlock);
  // TIOCGPTPEER: the peer of this very master, with no /dev/pts path to resolve.
  int slave = AboveStdio(::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (slave < 0) Die(plan, kStepConsole, errno, kTerminalOpenSlave);
  // The user's terminal, as login does (its host id: we are not in its user namespace yet).
  (void)::fchown(slave, plan.console_uid, static_cast<gid_t>(-1));
  if (::setsid() < 0) Die(plan, kStepConsole, errno, kTerminalSetsid);
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) Die(plan, kStepConsole, errno, kTerminalControlling);
  if (::dup2(slave, 0) < 0 || ::dup2(slave, 1) < 0 || ::dup2(slave, 2) < 0) {
    Die(plan, kStepStdio, errno);
  }
  ::close(slave);
  if (int err = SendFdToAgent(plan.sync_fd, kConsoleByte, master); err != 0) {
    Die(plan, kStepConsole, err, kTerminalSendMaster);
  }
  ::close(master);
}

// Returns 0 or errno.
int MakeMountTarget(const ChildMount& m) {
  bool dir = !m.bind || m.source_is_dir;
  if (int err = MakeParents(m.destination, dir); err != 0) return err;
  if (!dir) {
    int fd = ::open(m.destination, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EISDIR) return errno;
    if (fd >= 0) ::close(fd);
  }
  return 0;
}

void MakeMountTarget(const SpawnPlan& plan, const ChildMount& m, int index) {
  int err;
  {
    CreateAsOwner owner(plan);
    err = MakeMountTarget(m);
  }
  // A directory of another of the image's users on the way, which the pod's root could only
  // enter with capabilities in its namespace: made as the node's root instead.
  if (err == EACCES && plan.userns_fd >= 0) err = MakeMountTarget(m);
  if (err != 0) Die(plan, kStepMountTarget, err, index);
}

void MountVolumes(const SpawnPlan& plan) {
  for (size_t i = 0; i < plan.mounts.size(); ++i) {
    const ChildMount& m = plan.mounts[i];
    int index = static_cast<int>(i);
    MakeMountTarget(plan, m, index);
    if (m.bind) {
      if (::syscall(SYS_move_mount, m.tree_fd, "", AT_FDCWD, m.destination,
                    MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        Die(plan, kStepMount, errno, index);
      }
      ::close(m.tree_fd);  // mounted now: the container reaches it by its path
    } else if (::mount(m.source, m.destination, m.fstype, m.flags, m.data) != 0) {
      Die(plan, kStepMount, errno, index);
    } else if (m.idmap) {
      if (int err = IdmapInPlace(m.destination, plan.userns_fd, false); err != 0) {
        Die(plan, kStepIdmap, err, index);
      }
    }
    if (::mount(nullptr, m.destination, nullptr, m.propagation | MS_REC, nullptr) != 0) {
      Die(plan, kStepPropagation, errno, index);
    }
  }
  if (plan.readonly_rootfs &&
      ::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    Die(plan, kStepReadonlyRoot, errno);
  }
}

void SetIdentity(const SpawnPlan& plan) {
  // Raw syscalls: glibc's wrappers broadcast the change to every thread they believe exists
  // (setxid), and in a child of a multi-threaded agent those threads are gone: a deadlock.
  if (::syscall(SYS_setgroups, plan.groups.size(), plan.groups.data()) != 0) {
    Die(plan, kStepGroups, errno);
  }
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) Die(plan, kStepGid, errno);
  if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) Die(plan, kStepUid, errno);
}

// Everything of the container's file system that does not depend on its PID namespace. Done
// before the spawn enters that namespace: a process of the pod that can look into another's
// /proc/<pid>/root (CAP_SYS_PTRACE) must never find the host's root there.
void SetUpFileSystem(SpawnPlan& plan) {
  if (::unshare(CLONE_NEWNS) != 0) Die(plan, kStepUnshare, errno);
  SetUpRootfs(plan);
  MountSystemFilesystems(plan);
  MountVolumes(plan);
}

[[noreturn]] void RunContainerInit(SpawnPlan& plan) {
  // Announce ourselves. The agent's end has SO_PASSCRED, so the kernel attaches our pid as the
  // agent sees it; then wait until the agent has a pidfd and has placed us in our cgroups.
  char byte = kReadyByte;
  if (::write(plan.sync_fd, &byte, 1) != 1) Die(plan, kStepHandshake, errno);
  ssize_t n;
  do {
    n = ::read(plan.sync_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || byte != kGoByte) ::_exit(1);

  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 ||
      ::dup2(plan.stderr_fd, 2) < 0) {
    Die(plan, kStepStdio, errno);
  }
  MountCgroups(plan);
  MountProc(plan);
  if (plan.console) SetUpConsole(plan);
  ::umask(022);
  size_t failed = 0;
  if (int err = MaskPaths(plan.masked_paths.data(), plan.masked_paths.size(), &failed)) {
    Die(plan, kStepMaskPaths, err, static_cast<int>(failed));
  }
  if (int err = MakePathsReadonly(plan.readonly_paths.data(), plan.readonly_paths.size(), &failed)) {
    Die(plan, kStepReadonlyPaths, err, static_cast<int>(failed));
  }

  {
    CreateAsOwner owner(plan);
    if (int err = MakeParents(plan.cwd, true); err != 0) Die(plan, kStepCwd, err);
  }
  if (::chdir(plan.cwd) != 0) Die(plan, kStepCwd, errno);
  if (plan.security) {
    int step = 0;
    if (int err = ApplySecurityPlan(*plan.security, &step); err != 0) {
      Die(plan, kStepSecurity, err, step);
    }
  } else {
    if (plan.userns_fd >= 0 && ::setns(plan.userns_fd, CLONE_NEWUSER) != 0) {
      Die(plan, kStepSecurity, errno, kSecurityStepUserNamespace);
    }
    SetIdentity(plan);
  }

  int index = -1;
  int err = ExecFirstCandidate(plan.exec_candidates.data(), plan.exec_candidates.size(), plan.argv,
                               plan.envp, &index);
  Die(plan, kStepExec, err, index);
}

}  // namespace

void RunSpawnChild(SpawnPlan& plan) {
  DetachFromAgent();  // before touching the pod
  // The pod's network and IPC namespaces first: /sys and /dev/mqueue show the mounter's.
  int pid_ns = -1;
  for (int i = 0; i < plan.namespace_count; ++i) {
    if (plan.namespaces[i].type == CLONE_NEWPID) {
      pid_ns = i;
    } else if (::setns(plan.namespaces[i].fd, plan.namespaces[i].type) != 0) {
      Die(plan, kStepSetns, errno, i);
    }
  }
  SetUpFileSystem(plan);
  if (pid_ns >= 0 && ::setns(plan.namespaces[pid_ns].fd, CLONE_NEWPID) != 0) {
    Die(plan, kStepSetns, errno, pid_ns);
  }
  // What follows lives in the pod's PID namespace, where the pod's processes can see it.
  const int keep[] = {plan.sync_fd, plan.stdin_fd, plan.stdout_fd, plan.stderr_fd, plan.userns_fd};
  CloseAllFdsExcept(keep, sizeof(keep) / sizeof(keep[0]));
  // setns(CLONE_NEWPID) only affects children: C1 is born in the pod's PID namespace.
  long c1 = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (c1 < 0) Die(plan, kStepFork, errno);
  if (c1 > 0) {
    int status = 0;
    while (::waitpid(static_cast<pid_t>(c1), &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
  }
  if (plan.new_pid_ns && ::unshare(CLONE_NEWPID) != 0) Die(plan, kStepUnshare, errno);
  long c2 = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (c2 < 0) Die(plan, kStepFork, errno);
  // C1 exits at once: an orphan goes to the child reaper of its exiting parent's PID namespace,
  // which for C1 is the pod's, so the container's init is re-parented to pause.
  if (c2 > 0) ::_exit(0);
  RunContainerInit(plan);
}

}  // namespace peapod::runtime::detail
