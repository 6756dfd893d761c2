// The record a child writes to its parent when a step between fork and execve fails. The child
// may only make raw syscalls, so it reports numbers; the parent turns them into a sentence.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdint>

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

}  // namespace peapod::runtime::detail
