// The container child's last steps before execve: rlimits, OOM score, groups and ids,
// capabilities, no_new_privs and seccomp. Raw syscalls on memory prepared by the parent only.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "peapod/runtime/security.h"

namespace peapod::runtime {
namespace {

// Raw syscalls: glibc's setxid wrappers synchronise threads through signals, which a forked child
// of a multi-threaded parent must not rely on.
long Sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  return ::syscall(nr, a, b, c, d, e);
}

int Failed(int* failed_step, int step) {
  int err = errno;
  if (failed_step != nullptr) *failed_step = step;
  return err != 0 ? err : EINVAL;
}

// Decimal text of `value` in `buf` (no allocation); returns the length.
size_t FormatInt(int value, char* buf) {
  char tmp[16];
  size_t n = 0;
  bool negative = value < 0;
  unsigned v = negative ? 0u - static_cast<unsigned>(value) : static_cast<unsigned>(value);
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t len = 0;
  if (negative) buf[len++] = '-';
  while (n > 0) buf[len++] = tmp[--n];
  return len;
}

int WriteOomScoreAdj(int value) {
  char buf[16];
  size_t len = FormatInt(value, buf);
  int fd =
      static_cast<int>(Sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/oom_score_adj"),
                           O_WRONLY | O_CLOEXEC));
  if (fd < 0) return -1;
  long n = Sys(SYS_write, fd, reinterpret_cast<long>(buf), static_cast<long>(len));
  int err = errno;
  Sys(SYS_close, fd);
  errno = err;
  return n == static_cast<long>(len) ? 0 : -1;
}

int InstallSeccomp(const SeccompProgram& program) {
  sock_fprog prog{static_cast<unsigned short>(program.filter.size()),
                  const_cast<sock_filter*>(program.filter.data())};
  return static_cast<int>(
      Sys(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, reinterpret_cast<long>(&prog)));
}

int Capset(const CapabilitySet& caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  for (int i = 0; i < 2; ++i) {
    int shift = 32 * i;
    data[i].effective = static_cast<uint32_t>(caps.effective >> shift);
    data[i].permitted = static_cast<uint32_t>(caps.permitted >> shift);
    data[i].inheritable = static_cast<uint32_t>(caps.inheritable >> shift);
  }
  return static_cast<int>(
      Sys(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data)));
}

}  // namespace

std::string_view SecurityStepName(int step) {
  switch (step) {
    case kSecurityStepNone:
      return "none";
    case kSecurityStepRlimits:
      return "set rlimits";
    case kSecurityStepOomScoreAdj:
      return "write oom_score_adj";
    case kSecurityStepUserNamespace:
      return "join the pod's user namespace";
    case kSecurityStepSeccompEarly:
      return "install seccomp filter (before uid switch)";
    case kSecurityStepSetgroups:
      return "setgroups";
    case kSecurityStepSetresgid:
      return "setresgid";
    case kSecurityStepKeepCaps:
      return "prctl(PR_SET_KEEPCAPS)";
    case kSecurityStepBoundingSet:
      return "drop capabilities from the bounding set";
    case kSecurityStepSetresuid:
      return "setresuid";
    case kSecurityStepCapset:
      return "capset";
    case kSecurityStepAmbient:
      return "raise ambient capabilities";
    case kSecurityStepNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case kSecurityStepSeccomp:
      return "install seccomp filter";
  }
  return "unknown step";
}

int ApplySecurityPlan(const SecurityPlan& plan, int* failed_step) noexcept {
  if (failed_step != nullptr) *failed_step = kSecurityStepNone;
  errno = 0;
  for (const RlimitSetting& r : plan.rlimits) {
    struct rlimit64 {
      uint64_t cur, max;
    } limit{r.soft, r.hard};
    if (Sys(SYS_prlimit64, 0, r.resource, reinterpret_cast<long>(&limit), 0) != 0) {
      return Failed(failed_step, kSecurityStepRlimits);
    }
  }
  if (plan.oom_score_adj && WriteOomScoreAdj(*plan.oom_score_adj) != 0) {
    return Failed(failed_step, kSecurityStepOomScoreAdj);
  }
  if (plan.user_namespace_fd >= 0 && Sys(SYS_setns, plan.user_namespace_fd, CLONE_NEWUSER) != 0) {
    return Failed(failed_step, kSecurityStepUserNamespace);
  }
  if (plan.seccomp && !plan.no_new_privs && InstallSeccomp(*plan.seccomp) != 0) {
    return Failed(failed_step, kSecurityStepSeccompEarly);
  }
  if (Sys(SYS_setgroups, static_cast<long>(plan.additional_gids.size()),
          reinterpret_cast<long>(plan.additional_gids.data())) != 0) {
    return Failed(failed_step, kSecurityStepSetgroups);
  }
  if (Sys(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0)
    return Failed(failed_step, kSecurityStepSetresgid);
  // Keep the permitted set across the switch to a non-zero uid; capset below sets it exactly.
  if (Sys(SYS_prctl, PR_SET_KEEPCAPS, 1) != 0) return Failed(failed_step, kSecurityStepKeepCaps);
  for (int cap = 0; cap <= plan.last_cap && cap < 64; ++cap) {
    if ((plan.capabilities.bounding >> cap) & 1) continue;
    if (Sys(SYS_prctl, PR_CAPBSET_DROP, cap) != 0 && errno != EINVAL) {
      return Failed(failed_step, kSecurityStepBoundingSet);
    }
  }
  if (Sys(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0)
    return Failed(failed_step, kSecurityStepSetresuid);
  if (Capset(plan.capabilities) != 0) return Failed(failed_step, kSecurityStepCapset);
  if (Sys(SYS_prctl, PR_SET_KEEPCAPS, 0) != 0) return Failed(failed_step, kSecurityStepKeepCaps);
  if (Sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Failed(failed_step, kSecurityStepAmbient);
  }
  for (int cap = 0; cap < 64; ++cap) {
    if (((plan.capabilities.ambient >> cap) & 1) == 0) continue;
    if (Sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      return Failed(failed_step, kSecurityStepAmbient);
    }
  }
  if (plan.no_new_privs && Sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Failed(failed_step, kSecurityStepNoNewPrivs);
  }
  // Last, so the filter never has to allow our own set-up syscalls.
  if (plan.seccomp && plan.no_new_privs && InstallSeccomp(*plan.seccomp) != 0) {
    return Failed(failed_step, kSecurityStepSeccomp);
  }
  return 0;
}

}  // namespace peapod::runtime
