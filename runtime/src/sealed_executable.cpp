#include "peapod/runtime/sealed_executable.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

namespace peapod::runtime {
namespace {

// Linux 6.3 asks memfd_create to say whether the file may be executed (vm.memfd_noexec).
#ifdef MFD_EXEC
constexpr unsigned kMfdExec = MFD_EXEC;
#else
constexpr unsigned kMfdExec = 0x0010U;
#endif

// How a re-executed program learns what it was started from; its presence also stops a second
// re-execution should the first not have sealed anything.
constexpr char kSealedFromVariable[] = "PEAPOD_SEALED_FROM";

std::string& OriginalPathStorage() {
  static std::string path;
  return path;
}

std::string ReadLink(const char* link) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(link, buf, sizeof(buf));
  if (n <= 0 || n == static_cast<ssize_t>(sizeof(buf))) return "";
  return std::string(buf, static_cast<size_t>(n));
}

int FsOpen(const char* fstype) {
  return static_cast<int>(::syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC));
}

int FsConfigString(const UniqueFd& fs, const char* key, const std::string& value) {
  return static_cast<int>(
      ::syscall(SYS_fsconfig, fs.Get(), FSCONFIG_SET_STRING, key, value.c_str(), 0));
}

int FsCreate(const UniqueFd& fs) {
  return static_cast<int>(
      ::syscall(SYS_fsconfig, fs.Get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0));
}

int FsMount(const UniqueFd& fs, unsigned attributes) {
  return static_cast<int>(::syscall(SYS_fsmount, fs.Get(), FSMOUNT_CLOEXEC, attributes));
}

std::string FdPath(const UniqueFd& fd) { return "/proc/self/fd/" + std::to_string(fd.Get()); }

// overlayfs without an upper layer wants two lower ones: an empty read-only tmpfs, mounted
// nowhere, is the second.
Result<UniqueFd> EmptyDirectory() {
  UniqueFd fs(FsOpen("tmpfs"));
  if (!fs) return FailErrno("fsopen tmpfs");
  if (FsConfigString(fs, "size", "4k") != 0 || FsConfigString(fs, "mode", "0555") != 0 ||
      FsCreate(fs) != 0) {
    return FailErrno("create an empty tmpfs");
  }
  UniqueFd root(
      FsMount(fs, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (!root) return FailErrno("fsmount an empty tmpfs");
  return root;
}

// A read-only overlay of the file's directory over an empty one, never attached to any mount
// table: the file is the original (no copy, its pages shared), and every open for writing fails
// with EROFS. It lives as long as the returned fd does.
struct OverlayView {
  UniqueFd root;
  std::string name;  // the file's name in `root`
};

Result<OverlayView> OpenOverlayView(const std::filesystem::path& path) {
  UniqueFd dir(::open(path.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return FailErrno("open " + path.parent_path().string());
  auto empty = EmptyDirectory();
  if (!empty) return std::unexpected(std::move(empty.error()));
  UniqueFd fs(FsOpen("overlay"));
  if (!fs) return FailErrno("fsopen overlay");
  // Paths through /proc/self/fd: no escaping of ':' or '\' in the directory's name.
  if (FsConfigString(fs, "lowerdir", FdPath(dir) + ":" + FdPath(*empty)) != 0 ||
      FsCreate(fs) != 0) {
    return FailErrno("create a read-only overlay of " + path.parent_path().string());
  }
  UniqueFd root(FsMount(fs, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!root) return FailErrno("fsmount a read-only overlay of " + path.parent_path().string());
  struct stat st {};
  std::string name = path.filename();
  if (::fstatat(root.Get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return FailErrno("find " + name + " in the overlay of " + path.parent_path().string());
  }
  if (!S_ISREG(st.st_mode)) {
    return Fail(ErrorCode::kFailedPrecondition, path.string() + " is not a regular file");
  }
  return OverlayView{std::move(root), std::move(name)};
}

// A copy in a memfd sealed against every change: where the overlay cannot be made (the
// directory's filesystem refuses to be a lower layer, or no CAP_SYS_ADMIN).
Result<UniqueFd> CopyIntoSealedMemfd(const std::filesystem::path& path) {
  UniqueFd source(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!source) return FailErrno("open " + path.string());
  struct stat st {};
  if (::fstat(source.Get(), &st) != 0) return FailErrno("stat " + path.string());
  std::string name = path.filename();
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  UniqueFd copy(::memfd_create(name.c_str(), flags | kMfdExec));
  if (!copy && errno == EINVAL) copy.Reset(::memfd_create(name.c_str(), flags));  // before 6.3
  if (!copy) return FailErrno("memfd_create for a copy of " + path.string());
  off_t copied = 0;
  while (copied < st.st_size) {
    ssize_t n =
        ::sendfile(copy.Get(), source.Get(), &copied, static_cast<size_t>(st.st_size - copied));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FailErrno("copy " + path.string() + " into a memfd");
  }
  if (::fchmod(copy.Get(), 0555) != 0 ||
      ::fcntl(copy.Get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
          0) {
    return FailErrno("seal the copy of " + path.string());
  }
  return copy;
}

bool CannotBeWrittenThrough(int fd) {
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE)) return true;
  struct statvfs st {};
  return ::fstatvfs(fd, &st) == 0 && (st.f_flag & ST_RDONLY);
}

}  // namespace

Result<std::unique_ptr<SealedExecutable>> SealedExecutable::Open(const std::string& path) {
  std::error_code ec;
  std::filesystem::path real = std::filesystem::canonical(path, ec);
  if (ec) return FailErrno("resolve executable " + path, ec.value());
  if (!std::filesystem::is_regular_file(real, ec)) {
    return Fail(ErrorCode::kFailedPrecondition, "executable " + path + " is not a regular file");
  }
  auto view = OpenOverlayView(real);
  if (view) {
    return std::unique_ptr<SealedExecutable>(
        new SealedExecutable(std::move(view->root), std::move(view->name), Kind::kOverlay, real));
  }
  auto copy = CopyIntoSealedMemfd(real);
  if (!copy) {
    return Fail(ErrorCode::kFailedPrecondition, "no read-only view of " + real.string() +
                                                    " could be made: " + view.error().ToString() +
                                                    "; " + copy.error().ToString());
  }
  return std::unique_ptr<SealedExecutable>(
      new SealedExecutable(std::move(*copy), "", Kind::kMemfd, real));
}

int SealedExecutable::Exec(char* const* argv, char* const* envp, int fd) const {
  if (fd < 0) fd = fd_.Get();
  if (kind_ == Kind::kOverlay) {
    // By name in the view's root, so the process's name (comm) is the file's, not a number.
    ::syscall(SYS_execveat, fd, name_.c_str(), argv, envp, 0);
  } else {
    ::syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
  }
  return errno;
}

bool SelfIsSealed() {
  static const bool sealed = [] {
    UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    return self && CannotBeWrittenThrough(self.Get());
  }();
  return sealed;
}

std::string OriginalExecutablePath() { return OriginalPathStorage(); }

Status RunFromSealedSelf(char** argv) {
  const char* sealed_from = ::getenv(kSealedFromVariable);
  if (SelfIsSealed()) {
    OriginalPathStorage() = sealed_from ? sealed_from : ReadLink("/proc/self/exe");
    if (sealed_from) {
      ::unsetenv(kSealedFromVariable);  // nothing the agent starts inherits it
      // A memfd's process is named after its fd number; keep the program's own name.
      std::string name = std::filesystem::path(OriginalPathStorage()).filename();
      ::prctl(PR_SET_NAME, name.substr(0, 15).c_str(), 0, 0, 0);
    }
    return Ok();
  }
  if (sealed_from) {
    return Fail(ErrorCode::kInternal, std::string("re-executed from a read-only view of ") +
                                          sealed_from + ", yet /proc/self/exe is still writable");
  }
  std::string self = ReadLink("/proc/self/exe");
  if (self.empty()) return FailErrno("readlink /proc/self/exe");
  auto sealed = SealedExecutable::Open(self);
  if (!sealed) return std::unexpected(std::move(sealed.error()));
  ::setenv(kSealedFromVariable, self.c_str(), 1);
  int err = (*sealed)->Exec(argv, environ);
  ::unsetenv(kSealedFromVariable);
  return FailErrno("re-execute " + self + " from a read-only view of itself", err);
}

Status CheckSelfIsSealed(std::string_view what) {
  if (SelfIsSealed()) return Ok();
  return Fail(ErrorCode::kFailedPrecondition,
              std::string(what) + ": this process runs from a writable executable (" +
                  ReadLink("/proc/self/exe") +
                  "), which a container could reach; it must call RunFromSealedSelf first");
}

}  // namespace peapod::runtime
