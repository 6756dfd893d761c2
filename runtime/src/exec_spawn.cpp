// Everything in this file runs between clone() and execve() in a child of the multi-threaded
// agent: raw syscalls on memory prepared before the fork only. No malloc, locks, exceptions,
// logging or iostreams.
#include "exec_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "child_report.h"

namespace peapod::runtime::detail {

const char* const kExecStepNames[] = {
    "join the container's namespaces",
    "fork",
    "handshake with the agent",
    "set up the terminal",
    "set up stdio",
    "change to the working directory",
    "set supplementary groups",
    "set group id",
    "set user id",
    "apply the security context",
    "execute",
};

const char* const kTerminalStepNames[] = {
    "open /dev/ptmx",
    "unlock the terminal",
    "open the terminal's slave",
    "start a new session",
    "make it the controlling terminal",
    "hand the master to the agent",
};

namespace {

[[noreturn]] void Die(const ExecPlan& plan, int step, int err, int index = 0) {
  ReportChildFailure(plan.report_fd, step, err, index);
  ::_exit(127);
}

// "/dev/pts/<n>" into `buf` without snprintf.
void PtsPath(unsigned n, char* buf) {
  static constexpr char kPrefix[] = "/dev/pts/";
  std::memcpy(buf, kPrefix, sizeof(kPrefix) - 1);
  char digits[16];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  char* p = buf + sizeof(kPrefix) - 1;
  while (len > 0) *p++ = digits[--len];
  *p = '\0';
}

// A new terminal from the container's own devpts (we are in its mount namespace): the slave
// becomes our controlling terminal and stdio, the master goes to the agent.
void SetUpTerminal(const ExecPlan& plan) {
  int master = AboveStdio(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master < 0) Die(plan, kExecStepTerminal, errno, kTerminalOpenMaster);
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) != 0)
    Die(plan, kExecStepTerminal, errno, kTerminalUnlock);
  // TIOCGPTPEER opens the peer of this very master, with no path the container could swap.
  int slave = AboveStdio(::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (slave < 0) {
    unsigned n = 0;
    if (::ioctl(master, TIOCGPTN, &n) != 0) Die(plan, kExecStepTerminal, errno, kTerminalOpenSlave);
    char path[32];
    PtsPath(n, path);
    slave = AboveStdio(::open(path, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (slave < 0) Die(plan, kExecStepTerminal, errno, kTerminalOpenSlave);
  }
  // The terminal belongs to the user who will run on it, as login does; the tty group stays.
  (void)::fchown(slave, plan.console_uid, static_cast<gid_t>(-1));
  if (::setsid() < 0) Die(plan, kExecStepTerminal, errno, kTerminalSetsid);
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) Die(plan, kExecStepTerminal, errno, kTerminalControlling);
  if (::dup2(slave, 0) < 0 || ::dup2(slave, 1) < 0 || ::dup2(slave, 2) < 0) {
    Die(plan, kExecStepStdio, errno);
  }
  ::close(slave);

  if (int err = SendFdToAgent(plan.sync_fd, kExecMasterByte, master); err != 0) {
    Die(plan, kExecStepTerminal, err, kTerminalSendMaster);
  }
  ::close(master);
}

void SetIdentity(const ExecPlan& plan) {
  // Raw syscalls: glibc's wrappers broadcast the change to every thread they believe exists
  // (setxid), and in a child of a multi-threaded agent those threads are gone: a deadlock.
  if (::syscall(SYS_setgroups, plan.groups.size(), plan.groups.data()) != 0) {
    Die(plan, kExecStepGroups, errno);
  }
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) Die(plan, kExecStepGid, errno);
  if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) Die(plan, kExecStepUid, errno);
}

[[noreturn]] void RunExecProcess(ExecPlan& plan) {
  // Announce ourselves (SO_PASSCRED gives the agent our pid as it sees it), then wait until the
  // agent has a pidfd and has placed us in the container's cgroup.
  char byte = kExecReadyByte;
  if (::send(plan.sync_fd, &byte, 1, MSG_NOSIGNAL) != 1) Die(plan, kExecStepHandshake, errno);
  ssize_t n;
  do {
    n = ::read(plan.sync_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || byte != kExecGoByte) ::_exit(1);

  if (plan.tty) {
    SetUpTerminal(plan);
  } else if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 ||
             ::dup2(plan.stderr_fd, 2) < 0) {
    Die(plan, kExecStepStdio, errno);
  }
  ::umask(022);
  // setns(CLONE_NEWNS) put us at the container's root; the cwd is resolved inside it.
  if (::chdir(plan.cwd) != 0) Die(plan, kExecStepCwd, errno);
  if (plan.security) {
    int step = 0;
    if (int err = ApplySecurityPlan(*plan.security, &step); err != 0) {
      Die(plan, kExecStepSecurity, err, step);
    }
  } else {
    if (plan.userns_fd >= 0 && ::setns(plan.userns_fd, CLONE_NEWUSER) != 0) {
      Die(plan, kExecStepSecurity, errno, kSecurityStepUserNamespace);
    }
    SetIdentity(plan);
  }

  int index = -1;
  int err = ExecFirstCandidate(plan.exec_candidates.data(), plan.exec_candidates.size(), plan.argv,
                               plan.envp, &index);
  Die(plan, kExecStepExec, err, index);
}

}  // namespace

void RunExecHelper(ExecPlan& plan) {
  DetachFromAgent();  // before touching the container
  // One setns through the init's pidfd joins every namespace atomically (Linux >= 5.8); the mount
  // namespace also moves our root and cwd to the container's root. The PID namespace only applies
  // to children: the exec'd process is born in it, this helper stays outside, invisible to it.
  if (::setns(plan.target_pidfd, plan.ns_flags) != 0) Die(plan, kExecStepSetns, errno);
  // Before the fork: the child is born in the container's PID namespace, where its processes
  // can see it before it runs its first instruction.
  const int keep[] = {plan.sync_fd,   plan.report_fd, plan.stdin_fd,
                      plan.stdout_fd, plan.stderr_fd, plan.userns_fd};
  CloseAllFdsExcept(keep, sizeof(keep) / sizeof(keep[0]));
  long child = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (child < 0) Die(plan, kExecStepFork, errno);
  if (child == 0) RunExecProcess(plan);

  // Keep only the sync socket: the agent sees EOF on stdout/stderr and on the report pipe as soon
  // as the exec'd process closes its copies, and nothing of the agent stays open here.
  if (plan.sync_fd > 3) ::syscall(SYS_close_range, 3U, static_cast<unsigned>(plan.sync_fd - 1), 0);
  ::syscall(SYS_close_range, static_cast<unsigned>(plan.sync_fd + 1), ~0U, 0);
  int status = 0;
  while (::waitpid(static_cast<pid_t>(child), &status, 0) < 0 && errno == EINTR) {
  }
  ExecExitReport report{kExecExitTag, status};
  while (::send(plan.sync_fd, &report, sizeof(report), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
  ::_exit(0);
}

}  // namespace peapod::runtime::detail
