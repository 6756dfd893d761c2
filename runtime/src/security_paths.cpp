// Masked and read-only paths of a non-privileged container (OCI/containerd defaults), and the
// async-signal-safe functions the container child applies them with.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

long Mount(const char* source, const char* target, const char* fstype, unsigned long flags,
           const char* data) {
  return ::syscall(SYS_mount, source, target, fstype, flags, data);
}

// statfs f_flags -> the mount flags a read-only remount must keep (the kernel refuses to drop
// locked nosuid/nodev/noexec, and dropping them would loosen the mount anyway).
unsigned long KeptFlags(const char* path) {
  struct statfs st;
  if (::syscall(SYS_statfs, path, &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flags & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flags & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flags & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flags & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flags & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flags & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

}  // namespace

const std::vector<std::string>& DefaultMaskedPaths() {
  static const std::vector<std::string> paths = {"/proc/acpi",
                                                 "/proc/asound",
                                                 "/proc/kcore",
                                                 "/proc/keys",
                                                 "/proc/latency_stats",
                                                 "/proc/timer_list",
                                                 "/proc/timer_stats",
                                                 "/proc/sched_debug",
                                                 "/proc/scsi",
                                                 "/sys/firmware",
                                                 "/sys/devices/virtual/powercap"};
  return paths;
}

const std::vector<std::string>& DefaultReadonlyPaths() {
  static const std::vector<std::string> paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger"};
  return paths;
}

int MaskPaths(const char* const* paths, size_t count, size_t* failed_index) noexcept {
  for (size_t i = 0; i < count; ++i) {
    if (Mount("/dev/null", paths[i], nullptr, MS_BIND, nullptr) == 0) continue;
    if (errno == ENOENT) continue;
    if (errno == ENOTDIR &&
        Mount("tmpfs", paths[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=0k,mode=0555") == 0) {
      continue;
    }
    if (failed_index != nullptr) *failed_index = i;
    return errno;
  }
  return 0;
}

int MakePathsReadonly(const char* const* paths, size_t count, size_t* failed_index) noexcept {
  for (size_t i = 0; i < count; ++i) {
    if (Mount(paths[i], paths[i], nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      if (failed_index != nullptr) *failed_index = i;
      return errno;
    }
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | KeptFlags(paths[i]);
    if (Mount(paths[i], paths[i], nullptr, flags, nullptr) != 0) {
      if (failed_index != nullptr) *failed_index = i;
      return errno;
    }
  }
  return 0;
}

}  // namespace peapod::runtime
