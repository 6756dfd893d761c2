#include "peapod/runtime/user_namespace.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peapod/unique_fd.h"

namespace peapod::runtime {
namespace {

constexpr uint64_t kIdLimit = 1ULL << 32;  // (uid_t)-1 is never a valid id

Status WriteMapFile(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  if (::write(fd.Get(), content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    return FailErrno("write \"" + content.substr(0, content.find('\n')) + "\" to " + path);
  }
  return Ok();
}

int IdmapDetached(int tree_fd, int userns_fd) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  return static_cast<int>(
      ::syscall(SYS_mount_setattr, tree_fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)));
}

// A process parked in a fresh user namespace until it is destroyed.
class ScratchUserNamespace {
 public:
  ~ScratchUserNamespace() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Status Create() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return FailErrno("pipe");
    hold_read_.Reset(fds[0]);
    hold_write_.Reset(fds[1]);
    // Raw clone, the child only blocks in read: safe in a multi-threaded agent.
    long pid = ::syscall(SYS_clone, SIGCHLD | CLONE_NEWUSER, nullptr, nullptr, nullptr, nullptr);
    if (pid < 0) return FailErrno("create a user namespace");
    if (pid == 0) {
      char byte;
      (void)::read(hold_read_.Get(), &byte, 1);
      ::_exit(0);
    }
    pid_ = static_cast<pid_t>(pid);
    std::vector<IdMap> map = {{0, static_cast<uint32_t>(kFirstPodHostId), kPodIdRangeLength}};
    if (auto s = WriteIdMaps(pid_, map, map); !s) return s;
    std::string path = "/proc/" + std::to_string(pid_) + "/ns/user";
    fd_.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) return FailErrno("open " + path);
    return Ok();
  }
  int fd() const { return fd_.Get(); }

 private:
  pid_t pid_ = -1;
  UniqueFd hold_read_, hold_write_, fd_;
};

}  // namespace

Status CheckPodIdMappings(const std::vector<IdMap>& maps, const std::string& what) {
  if (maps.size() != 1) {
    return Fail(ErrorCode::kInvalidArgument,
                what + ": expected exactly one mapping (a pod's single contiguous range), got " +
                    std::to_string(maps.size()));
  }
  const IdMap& m = maps[0];
  std::string range = "{container_id " + std::to_string(m.container_id) + ", host_id " +
                      std::to_string(m.host_id) + ", length " + std::to_string(m.length) + "}";
  if (m.container_id != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                what + " " + range + ": must start at container id 0 (the pod's root)");
  }
  // Every id an image uses (0-65535) must exist in the pod, or its files show as nobody.
  if (m.length < kPodIdRangeLength) {
    return Fail(ErrorCode::kInvalidArgument,
                what + " " + range +
                    ": length must be at least 65536 (kubelet sends 65536 or a "
                    "multiple of it)");
  }
  if (m.host_id == 0) {
    return Fail(ErrorCode::kInvalidArgument,
                what + " " + range + ": host id 0 is the node's root and is never given to a pod");
  }
  if (static_cast<uint64_t>(m.host_id) + m.length >= kIdLimit) {
    return Fail(ErrorCode::kInvalidArgument, what + " " + range + ": runs past the last host id");
  }
  return Ok();
}

std::optional<uint32_t> HostIdOf(const std::vector<IdMap>& maps, uint32_t id) {
  for (const IdMap& m : maps) {
    if (id >= m.container_id && id - m.container_id < m.length) {
      return m.host_id + (id - m.container_id);
    }
  }
  return std::nullopt;
}

std::string FormatIdMap(const std::vector<IdMap>& maps) {
  std::string out;
  for (const IdMap& m : maps) {
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
           std::to_string(m.length) + "\n";
  }
  return out;
}

Status WriteIdMaps(pid_t pid, const std::vector<IdMap>& uids, const std::vector<IdMap>& gids) {
  std::string proc = "/proc/" + std::to_string(pid);
  if (auto s = WriteMapFile(proc + "/uid_map", FormatIdMap(uids)); !s) return s;
  return WriteMapFile(proc + "/gid_map", FormatIdMap(gids));
}

Status ProbeUserNamespaces(const std::string& state_dir) {
  ScratchUserNamespace userns;
  if (auto s = userns.Create(); !s) return s;
  // tmpfs, as /dev/shm and memory volumes are.
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC)));
  if (!fs) return FailErrno("fsopen tmpfs");
  if (::syscall(SYS_fsconfig, fs.Get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return FailErrno("create a tmpfs");
  }
  UniqueFd tmpfs(static_cast<int>(::syscall(SYS_fsmount, fs.Get(), FSMOUNT_CLOEXEC, 0)));
  if (!tmpfs) return FailErrno("fsmount tmpfs");
  if (IdmapDetached(tmpfs.Get(), userns.fd()) != 0) return FailErrno("idmap a tmpfs mount");
  // The state directory's filesystem holds image layers, upper dirs and volumes.
  UniqueFd bind(static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, state_dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!bind) return FailErrno("open_tree " + state_dir);
  if (IdmapDetached(bind.Get(), userns.fd()) != 0) {
    return FailErrno("idmap a bind mount of " + state_dir);
  }
  return Ok();
}

}  // namespace peapod::runtime
