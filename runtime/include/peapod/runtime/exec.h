// Exec: a new process inside a running container, the primitive behind CRI ExecSync, exec probes
// and streaming Exec. It joins all of the container init's namespaces, its cgroup and its security
// context (uid/gid/groups, capabilities, no_new_privs, seccomp, rlimits), as `runc exec` does.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "peapod/error.h"
#include "peapod/runtime/container.h"
#include "peapod/runtime/process.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {

struct ExecSpec {
  std::vector<std::string> args;  // args[0] is searched in the exec's PATH when it has no '/'
  std::vector<std::string> env;   // KEY=VALUE; empty: the container's env
  std::string cwd;                // absolute; empty: the container's cwd (never created)
  bool tty = false;               // one pseudo-terminal for stdin/stdout/stderr (stderr is merged)
  bool stdin = false;             // a pipe (or the terminal) to write to; else /dev/null
};

// One exec'd process. Its parent is a small helper in the agent's PID namespace that reaps it and
// reports its wait status, so the status is exact even when the container's init does not reap.
// Destroying a process that is still running kills it and reaps the helper.
class ExecProcess {
 public:
  ~ExecProcess();
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;

  pid_t pid() const { return pid_; }          // in the agent's PID namespace
  const std::string& container_id() const { return container_id_; }
  int pidfd() const { return pidfd_.Get(); }  // readable once the process has exited
  // Without tty: the write end of stdin (-1 unless ExecSpec::stdin) and the read ends of
  // stdout/stderr. With tty: only the terminal's master, for both directions.
  int stdin_fd() const { return stdin_.Get(); }
  int stdout_fd() const { return stdout_.Get(); }
  int stderr_fd() const { return stderr_.Get(); }
  int pty_master_fd() const { return pty_master_.Get(); }
  // EOF on the process's stdin (without tty).
  void CloseStdin() { stdin_.Reset(); }

  // The exit status; kDeadlineExceeded when it is still running after `timeout`.
  Result<ExitStatus> Wait(std::chrono::milliseconds timeout);
  // SIGKILL. Fine when it has exited already.
  Status Kill();
  // The terminal's window size (TIOCSWINSZ on the master); kFailedPrecondition without tty.
  Status Resize(unsigned rows, unsigned cols);
  bool Exited() const { return status_.has_value(); }

 private:
  friend Result<std::unique_ptr<ExecProcess>> StartExec(const Container&, const ExecSpec&);
  ExecProcess() = default;
  void ReapHelper();

  std::string container_id_;
  pid_t pid_ = 0;
  UniqueFd pidfd_;
  pid_t helper_pid_ = 0;  // our child; reaped once it has reported
  UniqueFd helper_pidfd_;
  UniqueFd sync_;  // the helper reports the wait status here
  UniqueFd stdin_, stdout_, stderr_, pty_master_;
  std::optional<ExitStatus> status_;
};

// Starts `spec` in `container`. Returns once the process has exec'd; a failure before that
// (missing executable, bad cwd, security context) names the step and leaves nothing behind.
// kFailedPrecondition when the container is not running.
Result<std::unique_ptr<ExecProcess>> StartExec(const Container& container, const ExecSpec& spec);

struct ExecSyncResult {
  std::string stdout_data, stderr_data;  // with tty: everything in stdout_data
  ExitStatus status;
  // The timeout passed and the process was killed (status then says SIGKILL). containerd answers
  // ExecSync with DEADLINE_EXCEEDED ("timeout 1s exceeded") in this case; the CRI layer should
  // too, and kubelet turns that into a probe timeout.
  bool timed_out = false;
};

// Runs `spec` to completion, draining stdout and stderr together (no deadlock on large output).
// stdin, when asked for, is closed at once. Output beyond `max_output` per stream is read and
// dropped, as containerd caps ExecSync streams at 16 MiB. `timeout` 0 means none. After the process
// exits, output still held open by a process it left behind is read for at most one more second.
Result<ExecSyncResult> ExecSync(const Container& container, const ExecSpec& spec,
                                std::chrono::milliseconds timeout,
                                size_t max_output = size_t{16} << 20);
// ExecSync after StartExec: for a caller that spawns under its own lock and waits without it.
Result<ExecSyncResult> FinishExecSync(ExecProcess& proc, std::chrono::milliseconds timeout,
                                      size_t max_output = size_t{16} << 20);

}  // namespace peapod::runtime
