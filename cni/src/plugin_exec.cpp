#include "peapod/cni/plugin_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "peapod/unique_fd.h"

namespace peapod::cni {

namespace {

using Clock = std::chrono::steady_clock;

// RAII for the posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

Status MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return FailErrno("create pipe for CNI plugin");
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  return Ok();
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what is available; returns false at EOF or on a hard error.
bool DrainInto(int fd, std::string& out) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

Result<pid_t> Spawn(const std::string& path, const std::vector<std::string>& env, int stdin_fd,
                    int stdout_fd, int stderr_fd) {
  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, stdin_fd, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&setup.actions, stderr_fd, 2);
  // Backstop for fds some other thread opened without O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  // Own process group, so a timeout kills whatever the plugin started too; default signal
  // dispositions and an empty mask whatever the agent's threads set.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv = {const_cast<char*>(path.c_str()), nullptr};
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int err =
      ::posix_spawn(&pid, path.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (err != 0) return FailErrno("spawn CNI plugin " + path, err);
  return pid;
}

}  // namespace

Result<PluginRun> RunPlugin(const std::string& path, const std::vector<std::string>& env,
                            const std::string& stdin_data, std::chrono::milliseconds timeout) {
  // stdin is a socket so writing to a plugin that already exited gives EPIPE, not SIGPIPE.
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return FailErrno("create stdin socket for CNI plugin");
  }
  UniqueFd in_parent(sv[0]), in_child(sv[1]);
  UniqueFd out_read, out_write, err_read, err_write;
  if (auto st = MakePipe(out_read, out_write); !st) return std::unexpected(st.error());
  if (auto st = MakePipe(err_read, err_write); !st) return std::unexpected(st.error());

  auto pid = Spawn(path, env, in_child.Get(), out_write.Get(), err_write.Get());
  if (!pid) return std::unexpected(pid.error());
  in_child.Reset();
  out_write.Reset();
  err_write.Reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0)));
  SetNonBlocking(in_parent.Get());
  SetNonBlocking(out_read.Get());
  SetNonBlocking(err_read.Get());

  PluginRun run;
  run.pid = *pid;
  size_t written = 0;
  if (stdin_data.empty()) in_parent.Reset();
  const auto deadline = Clock::now() + timeout;
  bool exited = false;
  while (!exited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd fds[4];
    int n = 0;
    auto add = [&](const UniqueFd& fd, short events) {
      if (fd.Valid()) fds[n++] = pollfd{fd.Get(), events, 0};
    };
    add(in_parent, POLLOUT);
    add(out_read, POLLIN);
    add(err_read, POLLIN);
    add(pidfd, POLLIN);
    // Without a pidfd (old kernels) fall back to polling waitpid every 20ms.
    int wait_ms = pidfd.Valid() ? static_cast<int>(left.count())
                                : static_cast<int>(std::min<long>(left.count(), 20));
    int ready = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (ready < 0 && errno != EINTR) return FailErrno("poll CNI plugin " + path);
    for (int i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_parent.Get()) {
        ssize_t w = ::send(in_parent.Get(), stdin_data.data() + written,
                           stdin_data.size() - written, MSG_NOSIGNAL);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size()) {
          in_parent.Reset();
        }
      } else if (fds[i].fd == out_read.Get()) {
        if (!DrainInto(out_read.Get(), run.stdout_data)) out_read.Reset();
      } else if (fds[i].fd == err_read.Get()) {
        if (!DrainInto(err_read.Get(), run.stderr_data)) err_read.Reset();
      } else if (fds[i].fd == pidfd.Get()) {
        exited = true;
      }
    }
    if (!pidfd.Valid()) {
      int status = 0;
      if (::waitpid(*pid, &status, WNOHANG) == *pid) {
        run.exit_status = DecodeWaitStatus(status);
        if (out_read) DrainInto(out_read.Get(), run.stdout_data);
        if (err_read) DrainInto(err_read.Get(), run.stderr_data);
        return run;
      }
    }
  }
  if (!exited) {
    // The whole group: a shell-script plugin's children must not outlive it.
    ::kill(-*pid, SIGKILL);
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
    return Fail(ErrorCode::kDeadlineExceeded, "timed out after " + std::to_string(timeout.count()) +
                                                  "ms; killed pid " + std::to_string(*pid));
  }
  // Everything the plugin wrote is in the pipes by the time it exited; a daemon it left
  // behind holding them open must not make us wait for EOF.
  if (out_read) DrainInto(out_read.Get(), run.stdout_data);
  if (err_read) DrainInto(err_read.Get(), run.stderr_data);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exit_status = DecodeWaitStatus(status);
  return run;
}

Result<PluginVersionInfo> QueryPluginVersion(const std::string& path,
                                             const std::vector<std::string>& plugin_dirs,
                                             std::chrono::milliseconds timeout) {
  std::string cni_path;
  for (const auto& d : plugin_dirs) cni_path += (cni_path.empty() ? "" : ":") + d;
  std::vector<std::string> env = {
      "CNI_COMMAND=VERSION", "CNI_PATH=" + cni_path,
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  auto run = RunPlugin(path, env, R"({"cniVersion":"1.0.0"})", timeout);
  if (!run) return std::unexpected(std::move(run.error()).Context("VERSION " + path));
  if (run->exit_status != 0) {
    return Fail(ErrorCode::kInternal, "VERSION " + path + " exited with status " +
                                          std::to_string(run->exit_status) + ": " +
                                          run->stderr_data);
  }
  return ParseVersionInfo(run->stdout_data);
}

Result<std::string> FindPlugin(const std::string& name, const std::vector<std::string>& dirs) {
  std::string searched;
  for (const auto& dir : dirs) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(path.c_str(), X_OK) == 0) {
      return path;
    }
    searched += (searched.empty() ? "" : ":") + dir;
  }
  // Not kNotFound: that is the CRI's "no such pod" once it reaches a stop or remove.
  return Fail(ErrorCode::kFailedPrecondition, "cni plugin \"" + name + "\" not found in " +
                                                  (searched.empty() ? "(no dirs)" : searched));
}

}  // namespace peapod::cni
