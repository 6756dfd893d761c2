// Exec into a running container, agent side: prepare the plan, fork the helper, place the exec'd
// process in the container's cgroup during the handshake, learn whether execve succeeded, and
// later collect the wait status the helper reports.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>

#include "child_report.h"
#include "exec_spawn.h"
#include "peapod/runtime/exec.h"
#include "peapod/runtime/sealed_executable.h"
#include "search_path.h"

namespace peapod::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// Every namespace a container init has that an exec must share. Joining one that is also ours
// (e.g. the host's cgroup namespace) is a no-op; the user namespace is left out on purpose:
// setns refuses to re-enter the caller's own, and a pod's is joined last (the container's mount
// namespace belongs to the node's, which the pod's root could not enter).
constexpr int kExecNamespaces =
    CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;

// How long ExecSync keeps reading output after the process exited, in case something it started
// in the background still holds the pipes open.
constexpr auto kDrainGrace = std::chrono::seconds(1);

bool IsCleanAbsolutePath(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  for (const auto& part : std::filesystem::path(path)) {
    if (part == "..") return false;
  }
  return true;
}

// One message from the sync socket, with the sender's pid and at most one passed fd.
struct SyncMessage {
  ssize_t size = 0;  // 0: every other end is closed
  char data[sizeof(detail::ExecExitReport)] = {};
  pid_t sender = 0;
  UniqueFd fd;
};

SyncMessage ReceiveSyncMessage(int sock) {
  SyncMessage msg;
  iovec iov{msg.data, sizeof(msg.data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(4 * sizeof(int))];
  msghdr header{};
  header.msg_iov = &iov;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  do {
    msg.size = ::recvmsg(sock, &header, MSG_CMSG_CLOEXEC);
  } while (msg.size < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      msg.sender = cred.pid;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (!msg.fd) {
          msg.fd.Reset(fd);
        } else {
          ::close(fd);  // never more than one is sent; do not leak a stray one
        }
      }
    }
  }
  return msg;
}

// Reads the report pipe: a ChildFailure, or nothing (EOF) once execve succeeded.
std::optional<detail::ChildFailure> ReadFailureReport(int fd) {
  detail::ChildFailure f{};
  ssize_t n;
  do {
    n = ::read(fd, &f, sizeof(f));
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(f))) return std::nullopt;
  return f;
}

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

// Everything the children need, owned here so it outlives the fork.
struct PreparedExec {
  std::vector<std::string> args, env;
  std::string cwd;
  std::vector<std::string> candidates;
  std::vector<char*> argv, envp;
  std::optional<SecurityPlan> security;
  UniqueFd userns;
  detail::ExecPlan plan;
};

Result<std::unique_ptr<PreparedExec>> Prepare(const Container& container, const ExecSpec& spec,
                                              const std::string& what) {
  const ContainerSpec& cs = container.spec();
  if (spec.args.empty() || spec.args[0].empty()) {
    return Fail(ErrorCode::kInvalidArgument, what + ": no command to run");
  }
  auto p = std::make_unique<PreparedExec>();
  p->args = spec.args;
  p->env = spec.env.empty() ? cs.env : spec.env;
  p->cwd = spec.cwd.empty() ? cs.cwd : spec.cwd;
  if (!IsCleanAbsolutePath(p->cwd)) {
    return Fail(ErrorCode::kInvalidArgument,
                what + ": working directory \"" + p->cwd + "\" must be an absolute path");
  }
  p->candidates = detail::SearchPathCandidates(p->args[0], p->env);
  for (auto& a : p->args) p->argv.push_back(a.data());
  p->argv.push_back(nullptr);
  for (auto& e : p->env) p->envp.push_back(e.data());
  p->envp.push_back(nullptr);

  detail::ExecPlan& plan = p->plan;
  plan.target_pidfd = container.pidfd();
  plan.ns_flags = kExecNamespaces;
  plan.tty = spec.tty;
  plan.cwd = p->cwd.c_str();
  plan.uid = cs.uid;
  plan.gid = cs.gid;
  plan.groups = cs.additional_gids;
  plan.console_uid = cs.uid;
  if (!cs.user_ns.empty()) {
    p->userns.Reset(::open(cs.user_ns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!p->userns) return FailErrno(what + ": open user namespace " + cs.user_ns);
    plan.userns_fd = p->userns.Get();
    plan.console_uid = HostIdOf(cs.uid_mappings, cs.uid).value_or(cs.uid);
  }
  if (cs.security) {
    // The same context as the container's init, so an exec can do nothing the container cannot.
    p->security = cs.security;
    p->security->uid = cs.uid;
    p->security->gid = cs.gid;
    p->security->additional_gids = cs.additional_gids;
    p->security->user_namespace_fd = p->userns.Get();
    plan.security = &*p->security;
  }
  for (const auto& c : p->candidates) plan.exec_candidates.push_back(c.c_str());
  plan.argv = p->argv.data();
  plan.envp = p->envp.data();
  return p;
}

Error DescribeFailure(const detail::ChildFailure& f, const std::string& what,
                      const PreparedExec& p) {
  if (f.step == detail::kExecStepExec) {
    if (f.err == ENOENT && p.args[0].find('/') == std::string::npos) {
      return FailErrno(what + ": executable \"" + p.args[0] + "\" not found in $PATH", f.err)
          .error();
    }
    return FailErrno(what + ": execute \"" + p.args[0] + "\"", f.err).error();
  }
  if (f.step == detail::kExecStepCwd) {
    return FailErrno(what + ": change to working directory \"" + p.cwd + "\"", f.err).error();
  }
  if (f.step == detail::kExecStepSecurity) {
    return FailErrno(what + ": apply the security context (" +
                         std::string(SecurityStepName(f.index)) + ")",
                     f.err)
        .error();
  }
  if (f.step == detail::kExecStepSetns && f.err == ESRCH) {
    return Error{ErrorCode::kFailedPrecondition, f.err, what + ": container is not running"};
  }
  if (f.step < 0 || f.step > detail::kExecStepExec) {
    return Error{ErrorCode::kInternal, f.err, what + ": unknown failure"};
  }
  std::string step = detail::kExecStepNames[f.step];
  if (f.step == detail::kExecStepTerminal && f.index >= 0 &&
      f.index <= detail::kTerminalSendMaster) {
    step += std::string(": ") + detail::kTerminalStepNames[f.index];
  }
  return FailErrno(what + ": " + step, f.err).error();
}

// The fds of one exec: the ends the agent keeps and the ends the child gets.
struct ExecStdio {
  UniqueFd stdin_write, stdout_read, stderr_read;
  UniqueFd child_stdin, child_stdout, child_stderr;
};

Result<ExecStdio> MakeStdio(const ExecSpec& spec, const std::string& what) {
  ExecStdio io;
  if (spec.tty) return io;  // the child makes a terminal instead
  auto make_pipe = [&](UniqueFd& read_end, UniqueFd& write_end) -> Status {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return FailErrno(what + ": pipe");
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
    return Ok();
  };
  if (spec.stdin) {
    if (auto s = make_pipe(io.child_stdin, io.stdin_write); !s) return std::unexpected(s.error());
  } else {
    io.child_stdin.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!io.child_stdin) return FailErrno(what + ": open /dev/null");
  }
  if (auto s = make_pipe(io.stdout_read, io.child_stdout); !s) return std::unexpected(s.error());
  if (auto s = make_pipe(io.stderr_read, io.child_stderr); !s) return std::unexpected(s.error());
  return io;
}

}  // namespace

Result<std::unique_ptr<ExecProcess>> StartExec(const Container& container, const ExecSpec& spec) {
  const std::string what = "exec in container " + container.spec().id;
  if (auto s = CheckSelfIsSealed(what); !s) return std::unexpected(std::move(s.error()));
  if (container.process().host.pid == 0 || !container.Running() || container.pidfd() < 0) {
    return Fail(ErrorCode::kFailedPrecondition, what + ": container is not running");
  }
  auto prepared = Prepare(container, spec, what);
  if (!prepared) return std::unexpected(std::move(prepared.error()));
  PreparedExec& p = **prepared;
  detail::ExecPlan& plan = p.plan;

  auto io = MakeStdio(spec, what);
  if (!io) return std::unexpected(std::move(io.error()));
  plan.stdin_fd = io->child_stdin.Get();
  plan.stdout_fd = io->child_stdout.Get();
  plan.stderr_fd = io->child_stderr.Get();

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return FailErrno(what + ": socketpair");
  }
  UniqueFd sync(sv[0]), child_sync(sv[1]);
  int on = 1;
  if (::setsockopt(sync.Get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
    return FailErrno(what + ": SO_PASSCRED");
  }
  int report_fds[2];
  if (::pipe2(report_fds, O_CLOEXEC) != 0) return FailErrno(what + ": pipe");
  UniqueFd report(report_fds[0]), child_report(report_fds[1]);
  plan.sync_fd = child_sync.Get();
  plan.report_fd = child_report.Get();

  long helper = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (helper < 0) return FailErrno(what + ": fork");
  if (helper == 0) detail::RunExecHelper(plan);
  child_sync.Reset();
  child_report.Reset();
  io->child_stdin.Reset();
  io->child_stdout.Reset();
  io->child_stderr.Reset();

  std::unique_ptr<ExecProcess> proc(new ExecProcess());
  proc->container_id_ = container.spec().id;
  proc->helper_pid_ = static_cast<pid_t>(helper);
  if (auto helper_pidfd = OpenPidfd(proc->helper_pid_))
    proc->helper_pidfd_ = std::move(*helper_pidfd);
  proc->sync_ = std::move(sync);
  // From here on, an early return destroys `proc`: it kills what was started and reaps the helper.
  auto failed = [&](Error error) -> std::unexpected<Error> {
    if (proc->pidfd_) (void)SendSignal(proc->pidfd_.Get(), SIGKILL);
    proc->sync_.Reset();  // a process still in the handshake reads EOF and exits
    proc->ReapHelper();
    proc->status_ = ExitStatus::Unknown(NowRealtimeNs());
    return std::unexpected(std::move(error));
  };
  auto child_failure = [&]() -> std::unexpected<Error> {
    auto f = ReadFailureReport(report.Get());
    if (f) return failed(DescribeFailure(*f, what, p));
    return failed(Error{ErrorCode::kInternal, 0, what + ": process vanished before it started"});
  };

  SyncMessage msg = ReceiveSyncMessage(proc->sync_.Get());
  if (msg.size != 1 || msg.data[0] != detail::kExecReadyByte || msg.sender <= 0) {
    return child_failure();
  }
  pid_t pid = msg.sender;
  // Blocked in the handshake, so this pid is still the process we forked.
  auto pidfd = OpenPidfd(pid);
  if (!pidfd) {
    ::kill(pid, SIGKILL);
    return failed(std::move(pidfd.error()).Context(what));
  }
  proc->pid_ = pid;
  proc->pidfd_ = std::move(*pidfd);
  if (container.cgroup()) {
    // In the container's cgroup before it runs anything: its limits hold for the exec too.
    Cgroup cgroup = *container.cgroup();  // a plain handle (driver + path); Add is non-const
    if (auto s = cgroup.AddProcess(pid); !s) return failed(std::move(s.error()).Context(what));
  }
  char go = detail::kExecGoByte;
  if (::send(proc->sync_.Get(), &go, 1, MSG_NOSIGNAL) != 1) {
    return failed(FailErrno(what + ": handshake").error());
  }

  if (spec.tty) {
    pollfd fds[2] = {{proc->sync_.Get(), POLLIN, 0}, {report.Get(), POLLIN, 0}};
    int n;
    do {
      n = ::poll(fds, 2, -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return failed(FailErrno(what + ": poll").error());
    if (!(fds[0].revents & POLLIN)) return child_failure();
    msg = ReceiveSyncMessage(proc->sync_.Get());
    if (msg.size != 1 || msg.data[0] != detail::kExecMasterByte || !msg.fd) return child_failure();
    proc->pty_master_ = std::move(msg.fd);
  }
  // EOF on the report pipe: execve closed the last copy of its write end.
  if (auto f = ReadFailureReport(report.Get())) return failed(DescribeFailure(*f, what, p));

  proc->stdin_ = std::move(io->stdin_write);
  proc->stdout_ = std::move(io->stdout_read);
  proc->stderr_ = std::move(io->stderr_read);
  spdlog::debug("container {}: exec {} as pid {}", proc->container_id_, p.args[0], pid);
  return proc;
}

ExecProcess::~ExecProcess() {
  if (!status_ && pidfd_) {
    (void)Kill();
    (void)Wait(std::chrono::seconds(10));
  }
  ReapHelper();
}

void ExecProcess::ReapHelper() {
  if (helper_pid_ <= 0) return;
  // The helper exits right after reporting, i.e. once the exec'd process is gone. Should that
  // take too long (a process stuck in the kernel), kill the helper rather than hang the agent.
  if (pidfd_) (void)WaitForExit(pidfd_.Get(), std::chrono::seconds(10));
  auto exited = helper_pidfd_ ? WaitForExit(helper_pidfd_.Get(), std::chrono::seconds(2))
                              : Result<bool>(false);
  if (!exited || !*exited) ::kill(helper_pid_, SIGKILL);  // our unreaped child: the pid is ours
  while (::waitpid(helper_pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  helper_pid_ = 0;
  helper_pidfd_.Reset();
}

Result<ExitStatus> ExecProcess::Wait(std::chrono::milliseconds timeout) {
  if (status_) return *status_;
  if (!sync_)
    return Fail(ErrorCode::kInternal, "exec in container " + container_id_ + ": no helper");
  auto wait_ms = std::clamp<int64_t>(timeout.count(), 0, std::numeric_limits<int>::max());
  if (!Readable(sync_.Get(), static_cast<int>(wait_ms))) {
    return Fail(ErrorCode::kDeadlineExceeded, "exec in container " + container_id_ + ": pid " +
                                                  std::to_string(pid_) + " still running after " +
                                                  std::to_string(timeout.count()) + "ms");
  }
  SyncMessage msg = ReceiveSyncMessage(sync_.Get());
  detail::ExecExitReport report{};
  if (msg.size == static_cast<ssize_t>(sizeof(report)))
    std::memcpy(&report, msg.data, sizeof(report));
  if (report.tag == detail::kExecExitTag) {
    status_ = ExitStatus::FromWaitStatus(report.wait_status, NowRealtimeNs());
  } else {
    status_ = ExitStatus::Unknown(NowRealtimeNs());  // the helper died without reporting
  }
  sync_.Reset();
  ReapHelper();
  return *status_;
}

Status ExecProcess::Kill() {
  if (status_ || !pidfd_) return Ok();
  return SendSignal(pidfd_.Get(), SIGKILL);
}

Status ExecProcess::Resize(unsigned rows, unsigned cols) {
  if (!pty_master_) {
    return Fail(ErrorCode::kFailedPrecondition,
                "exec in container " + container_id_ + ": resize needs a terminal");
  }
  winsize size{};
  size.ws_row = static_cast<unsigned short>(rows);
  size.ws_col = static_cast<unsigned short>(cols);
  if (::ioctl(pty_master_.Get(), TIOCSWINSZ, &size) != 0) {
    return FailErrno("exec in container " + container_id_ + ": resize terminal");
  }
  return Ok();
}

namespace {

// One output stream of ExecSync: read until EOF, keep at most `limit` bytes.
struct OutputStream {
  int fd = -1;
  std::string* sink = nullptr;
  size_t limit = 0;
  bool open() const { return fd >= 0; }

  // Reads what is there now. A terminal master reports EIO once the last slave is closed.
  void Drain() {
    char buf[65536];
    ssize_t n;
    do {
      n = ::read(fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      fd = -1;
      return;
    }
    size_t keep = std::min(static_cast<size_t>(n), limit - std::min(limit, sink->size()));
    sink->append(buf, keep);
  }
};

}  // namespace

Result<ExecSyncResult> ExecSync(const Container& container, const ExecSpec& spec,
                                std::chrono::milliseconds timeout, size_t max_output) {
  auto started = StartExec(container, spec);
  if (!started) return std::unexpected(std::move(started.error()));
  return FinishExecSync(**started, timeout, max_output);
}

Result<ExecSyncResult> FinishExecSync(ExecProcess& proc, std::chrono::milliseconds timeout,
                                      size_t max_output) {
  proc.CloseStdin();

  ExecSyncResult result;
  OutputStream streams[2];
  if (proc.pty_master_fd() >= 0) {
    streams[0] = {proc.pty_master_fd(), &result.stdout_data, max_output};
  } else {
    streams[0] = {proc.stdout_fd(), &result.stdout_data, max_output};
    streams[1] = {proc.stderr_fd(), &result.stderr_data, max_output};
  }
  std::optional<Clock::time_point> deadline;
  if (timeout.count() > 0) deadline = Clock::now() + timeout;
  std::optional<Clock::time_point> drain_until;  // set once the process has exited

  for (;;) {
    bool exited = proc.Exited();
    if (exited && !streams[0].open() && !streams[1].open()) break;
    auto now = Clock::now();
    if (drain_until && now >= *drain_until) break;
    if (!exited && !result.timed_out && deadline && now >= *deadline) {
      // As containerd: kill the exec'd process, collect its status, report the timeout.
      if (auto s = proc.Kill(); !s) return std::unexpected(std::move(s.error()));
      result.timed_out = true;
    }

    std::optional<Clock::time_point> wake;
    if (!exited && !result.timed_out) wake = deadline;
    if (drain_until) wake = *drain_until;
    int wait_ms = -1;
    if (wake) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*wake - now).count();
      wait_ms = static_cast<int>(std::max<int64_t>(left, 0));
    }
    pollfd fds[3];
    nfds_t count = 0;
    for (auto& s : streams) {
      if (s.open()) fds[count++] = {s.fd, POLLIN, 0};
    }
    int pid_index = -1;
    if (!exited) {
      pid_index = static_cast<int>(count);
      fds[count++] = {proc.pidfd(), POLLIN, 0};
    }
    int n = ::poll(fds, count, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("exec in container " + proc.container_id() + ": poll");
    for (nfds_t i = 0; i < count; ++i) {
      if (!fds[i].revents || static_cast<int>(i) == pid_index) continue;
      for (auto& s : streams) {
        if (s.fd == fds[i].fd) s.Drain();
      }
    }
    if (pid_index >= 0 && fds[pid_index].revents) {
      auto status = proc.Wait(std::chrono::seconds(10));
      if (!status) return std::unexpected(std::move(status.error()));
      drain_until = Clock::now() + kDrainGrace;
    }
  }
  auto status = proc.Wait(std::chrono::seconds(10));
  if (!status) return std::unexpected(std::move(status.error()));
  result.status = *status;
  return result;
}

}  // namespace peapod::runtime
