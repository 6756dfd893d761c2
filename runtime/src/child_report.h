// The record a child writes to its parent when a step between fork and execve fails. The child
// may only make raw syscalls, so it reports numbers; the parent turns them into a sentence.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace peapod::runtime::detail {

struct ChildFailure {
  int32_t step;   // index into the caller's step-name table
  int32_t err;    // errno
  int32_t index;  // which mount / which exec candidate, when the step has several
  int32_t pad;
};

// Async-signal-safe: one write, retried on EINTR; nothing else.
inline void ReportChildFailure(int fd, int step, int err, int index = 0) {
  ChildFailure f{step, err, index, 0};
  while (::write(fd, &f, sizeof(f)) < 0 && errno == EINTR) {
  }
}

// Async-signal-safe: unblock everything and restore default dispositions. Ignored signals stay
// ignored across execve; the agent ignores SIGPIPE, and a container must not inherit that.
inline void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
}

// Async-signal-safe, first thing in a child of the agent: no core dumps or ptrace into the
// agent's memory, every inherited fd closed at execve (a child dup2s what it hands over onto
// 0-2, which clears the flag), and the agent's signal mask and ignored signals undone.
inline void DetachFromAgent() {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  ResetSignals();
}

// Async-signal-safe: closes every fd but the ones in `keep` (at most 8; negative ones ignored).
// For a child about to enter a container: the agent's other fds are only close-on-exec until
// then, and a process in the container with CAP_SYS_PTRACE could take them from /proc/<pid>/fd.
inline void CloseAllFdsExcept(const int* keep, size_t count) {
  int sorted[8];
  size_t n = 0;
  for (size_t i = 0; i < count && n < 8; ++i) {
    if (keep[i] < 0) continue;
    size_t j = n++;
    for (; j > 0 && sorted[j - 1] > keep[i]; --j) sorted[j] = sorted[j - 1];
    sorted[j] = keep[i];
  }
  unsigned from = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned fd = static_cast<unsigned>(sorted[i]);
    if (fd > from) ::syscall(SYS_close_range, from, fd - 1, 0U);
    if (fd + 1 > from) from = fd + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0U);
}

// Async-signal-safe: `fd`, moved to 3 or above when it landed on 0-2 (stdio closed by
// CloseAllFdsExcept), so that dup2-ing it onto 0-2 cannot close it. -1 stays -1.
inline int AboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

// execvpe without malloc: tries the candidate paths the agent resolved from PATH beforehand.
// Returns only on failure, with the errno to report and the candidate it belongs to (-1 when
// none was found, as execvp reports ENOENT/EACCES).
inline int ExecFirstCandidate(const char* const* candidates, size_t count, char* const* argv,
                              char* const* envp, int* failed_index) {
  int last_err = ENOENT;
  for (size_t i = 0; i < count; ++i) {
    ::execve(candidates[i], argv, envp);
    if (errno == EACCES) {
      last_err = EACCES;
      continue;
    }
    if (errno != ENOENT && errno != ENOTDIR) {
      *failed_index = static_cast<int>(i);
      return errno;
    }
  }
  *failed_index = -1;
  return last_err;
}

// Sends one byte carrying `fd` (SCM_RIGHTS) over `sock`: how a child hands the agent the master
// of a terminal it opened. Raw syscalls on the stack only. Returns 0 or the errno.
inline int SendFdToAgent(int sock, char byte, int fd) {
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  std::memset(control, 0, sizeof(control));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t sent;
  do {
    sent = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent == 1) return 0;
  return sent < 0 ? errno : EIO;
}

}  // namespace peapod::runtime::detail
