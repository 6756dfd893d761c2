#include "peapod/runtime/sandbox.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "child_report.h"
#include "peapod/runtime/exit_ledger.h"
#include "peapod/runtime/sealed_executable.h"

namespace peapod::runtime {
namespace {

constexpr Namespace kAllNamespaces[] = {Namespace::kNetwork, Namespace::kIpc, Namespace::kUts,
                                        Namespace::kPid, Namespace::kUser};

enum PauseStep {
  kStepStdio,
  kStepLedgerFd,
  kStepSetsid,
  kStepHostname,
  kStepLoopback,
  kStepSysctl,
  kStepExec,
  kStepKeeper,
  kStepEmptyRoot,
  kStepIdMaps,
  kStepUserNamespaceRoot,
};
constexpr std::array<const char*, kStepUserNamespaceRoot + 1> kPauseStepNames = {
    "set up stdio",
    "hand over the exit ledger",
    "start a new session",
    "set the hostname",
    "bring up the loopback interface",
    "write sysctl",
    "execute peapod-pause",
    "hand over the descriptor keeper",
    "move into an empty root",
    "wait for the user namespace's ID maps",
    "become root of the user namespace",
};

// Everything the pause child needs, prepared before clone: the child only reads it.
struct PausePlan {
  int null_fd = -1;
  int ledger_fd = -1;
  int report_fd = -1;
  int keeper_send_fd = -1, keeper_receive_fd = -1;
  // In a new user namespace: the agent writes the ID maps, then one byte here. The child
  // closes its copy of the write end first, so an agent that dies before writing means EOF.
  int maps_written_fd = -1;
  int maps_write_end_fd = -1;
  const char* hostname = nullptr;
  size_t hostname_len = 0;
  bool loopback_up = false;
  ifreq loopback{};
  std::vector<std::string> sysctl_paths;
  std::vector<std::string> sysctl_values;
  const SealedExecutable* pause = nullptr;
  const char* empty_root_mount_point = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// Runs between clone and execve in the pod's new namespaces: raw syscalls on prepared memory only.
[[noreturn]] void RunPauseChild(PausePlan& plan) {
  // Move our fds above the range pause inherits (0-5) first, so installing those cannot clobber
  // them.
  int report = ::fcntl(plan.report_fd, F_DUPFD_CLOEXEC, 10);
  int ledger = plan.ledger_fd >= 0 ? ::fcntl(plan.ledger_fd, F_DUPFD, 10) : -1;
  int keeper_send = ::fcntl(plan.keeper_send_fd, F_DUPFD, 10);
  int keeper_receive = ::fcntl(plan.keeper_receive_fd, F_DUPFD, 10);
  int pause_fd = ::fcntl(plan.pause->fd(), F_DUPFD_CLOEXEC, 10);
  if (report < 0) ::_exit(127);
  if (plan.maps_written_fd >= 0) {
    ::close(plan.maps_write_end_fd);
    // Nothing may run before the maps exist. Until the exec we keep the node's root as our
    // ids (not mapped in the namespace, but the owner of the run directory on the way to the
    // empty root) with every capability in the new namespace.
    char byte = 0;
    ssize_t n;
    do {
      n = ::read(plan.maps_written_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      detail::ReportChildFailure(report, kStepIdMaps, n < 0 ? errno : EPIPE);
      ::_exit(127);
    }
  }
  if (pause_fd < 0) {
    detail::ReportChildFailure(report, kStepExec, errno);
    ::_exit(127);
  }
  if (::dup2(plan.null_fd, 0) < 0 || ::dup2(plan.null_fd, 1) < 0 || ::dup2(plan.null_fd, 2) < 0) {
    detail::ReportChildFailure(report, kStepStdio, errno);
    ::_exit(127);
  }
  if (ledger >= 0 && ::dup2(ledger, 3) < 0) {
    detail::ReportChildFailure(report, kStepLedgerFd, errno);
    ::_exit(127);
  }
  // pause holds the descriptor keeper's two ends without knowing it (fd_keeper.h).
  if (keeper_send < 0 || keeper_receive < 0 || ::dup2(keeper_send, FdKeeper::kPauseSendFd) < 0 ||
      ::dup2(keeper_receive, FdKeeper::kPauseReceiveFd) < 0) {
    detail::ReportChildFailure(report, kStepKeeper, errno);
    ::_exit(127);
  }
  // Nothing of the agent but fds 0-5 survives the exec.
  ::syscall(SYS_close_range, 6U, ~0U, CLOSE_RANGE_CLOEXEC);
  if (::setsid() < 0) {
    detail::ReportChildFailure(report, kStepSetsid, errno);
    ::_exit(127);
  }
  if (plan.hostname && ::sethostname(plan.hostname, plan.hostname_len) < 0) {
    detail::ReportChildFailure(report, kStepHostname, errno);
    ::_exit(127);
  }
  if (plan.loopback_up) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &plan.loopback) < 0) {
      detail::ReportChildFailure(report, kStepLoopback, errno);
      ::_exit(127);
    }
    plan.loopback.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(s, SIOCSIFFLAGS, &plan.loopback) < 0) {
      detail::ReportChildFailure(report, kStepLoopback, errno);
      ::_exit(127);
    }
    ::close(s);
  }
  // /proc/sys/net and the IPC sysctls resolve against the namespaces of the opener: ours.
  for (size_t i = 0; i < plan.sysctl_paths.size(); ++i) {
    int fd = ::open(plan.sysctl_paths[i].c_str(), O_WRONLY | O_CLOEXEC);
    const std::string& value = plan.sysctl_values[i];
    if (fd < 0 || ::write(fd, value.data(), value.size()) < 0) {
      detail::ReportChildFailure(report, kStepSysctl, errno, static_cast<int>(i));
      ::_exit(127);
    }
    ::close(fd);
  }
  // pause needs no file once it runs, and a process of the pod with CAP_SYS_PTRACE must not
  // find the host's root through /proc/1/root: pause gets a mount namespace (a clone flag)
  // whose only mount is an empty read-only tmpfs. Private first, so nothing reaches the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", plan.empty_root_mount_point, "tmpfs",
              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") != 0 ||
      ::chdir(plan.empty_root_mount_point) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 ||
      ::umount2(".", MNT_DETACH) != 0 || ::chdir("/") != 0) {
    detail::ReportChildFailure(report, kStepEmptyRoot, errno);
    ::_exit(127);
  }
  // pause runs as the user namespace's root, with no supplementary group of the node's.
  if (plan.maps_written_fd >= 0 &&
      (::syscall(SYS_setgroups, 0, nullptr) != 0 || ::syscall(SYS_setresgid, 0, 0, 0) != 0 ||
       ::syscall(SYS_setresuid, 0, 0, 0) != 0)) {
    detail::ReportChildFailure(report, kStepUserNamespaceRoot, errno);
    ::_exit(127);
  }
  int err = plan.pause->Exec(plan.argv, plan.envp, pause_fd);
  detail::ReportChildFailure(report, kStepExec, err);
  ::_exit(127);
}

std::string SysctlPath(const std::string& key) {
  std::string path = key;
  if (path.find('/') == std::string::npos) {
    for (char& c : path) c = c == '.' ? '/' : c;
  }
  return "/proc/sys/" + path;
}

// pause runs from a read-only view of its binary, so that /proc/1/exe in a pod is never a host
// file. One view per binary for the whole process, made anew when the file is replaced.
Result<std::shared_ptr<const SealedExecutable>> PauseExecutable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return FailErrno("pause binary " + path);
  static std::mutex mutex;
  static std::map<std::string, std::pair<struct stat, std::shared_ptr<const SealedExecutable>>>
      views;
  std::lock_guard lock(mutex);
  auto& [seen, view] = views[path];
  if (view && seen.st_dev == st.st_dev && seen.st_ino == st.st_ino &&
      seen.st_mtim.tv_sec == st.st_mtim.tv_sec && seen.st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
    return view;
  }
  auto opened = SealedExecutable::Open(path);
  if (!opened) return std::unexpected(std::move(opened.error()));
  seen = st;
  view = std::move(*opened);
  return view;
}

}  // namespace

const char* NamespaceProcName(Namespace ns) {
  switch (ns) {
    case Namespace::kNetwork: return "net";
    case Namespace::kIpc: return "ipc";
    case Namespace::kUts: return "uts";
    case Namespace::kPid: return "pid";
    case Namespace::kUser:
      return "user";
  }
  return "?";
}

bool Sandbox::HasNamespace(Namespace ns) const {
  switch (ns) {
    case Namespace::kNetwork: return spec_.new_network;
    case Namespace::kIpc: return spec_.new_ipc;
    case Namespace::kUts: return spec_.new_uts;
    case Namespace::kPid: return spec_.new_pid;
    case Namespace::kUser:
      return !spec_.uid_mappings.empty();
  }
  return false;
}

std::string Sandbox::NamespacePath(Namespace ns) const {
  if (!HasNamespace(ns)) return "";
  return spec_.run_dir + "/ns/" + NamespaceProcName(ns);
}

Result<std::unique_ptr<Sandbox>> Sandbox::Start(const SandboxSpec& spec) {
  if (spec.id.empty() || spec.run_dir.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "sandbox needs an id and a run directory");
  }
  if (::access(spec.pause_binary.c_str(), X_OK) != 0) {
    return FailErrno("pause binary " + spec.pause_binary + " is not executable");
  }
  auto pause = PauseExecutable(spec.pause_binary);
  if (!pause) return std::unexpected(std::move(pause.error()).Context("start sandbox " + spec.id));
  std::error_code ec;
  bool created_dir = std::filesystem::create_directories(spec.run_dir + "/ns", ec);
  if (ec) return FailErrno("create sandbox run dir " + spec.run_dir, ec.value());
  std::unique_ptr<Sandbox> sandbox(new Sandbox(spec));
  auto cleanup_dir = [&] {
    if (created_dir) std::filesystem::remove_all(spec.run_dir, ec);
  };

  auto ledger = ExitLedger::CreateForWriter(sandbox->LedgerPath());
  if (!ledger) {
    cleanup_dir();
    return std::unexpected(std::move(ledger.error()));
  }
  UniqueFd ledger_fd(*ledger);
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  int pipe_fds[2];
  if (!null_fd || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    cleanup_dir();
    return FailErrno("prepare pause process");
  }
  UniqueFd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
  bool new_user = !spec.uid_mappings.empty();
  if (new_user && spec.gid_mappings.empty()) {
    cleanup_dir();
    return Fail(ErrorCode::kInvalidArgument,
                "start sandbox " + spec.id + ": user namespace without gid mappings");
  }
  UniqueFd maps_read, maps_written;
  if (new_user) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      cleanup_dir();
      return FailErrno("prepare pause process");
    }
    maps_read.Reset(pipe_fds[0]);
    maps_written.Reset(pipe_fds[1]);
  }
  auto keeper = FdKeeper::Create();
  if (!keeper) {
    cleanup_dir();
    return std::unexpected(std::move(keeper.error()));
  }

  PausePlan plan;
  plan.null_fd = null_fd.Get();
  plan.ledger_fd = ledger_fd.Get();
  plan.report_fd = report_write.Get();
  plan.keeper_send_fd = (*keeper)->send_fd();
  plan.keeper_receive_fd = (*keeper)->receive_fd();
  plan.maps_written_fd = maps_read.Get();
  plan.maps_write_end_fd = maps_written.Get();
  if (spec.new_uts && !spec.hostname.empty()) {
    plan.hostname = spec.hostname.c_str();
    plan.hostname_len = spec.hostname.size();
  }
  plan.loopback_up = spec.new_network;
  std::strncpy(plan.loopback.ifr_name, "lo", IFNAMSIZ - 1);
  for (const auto& [key, value] : spec.sysctls) {
    plan.sysctl_paths.push_back(SysctlPath(key));
    plan.sysctl_values.push_back(value);
  }
  std::string arg0 = "peapod-pause", arg1 = "--ledger-fd", arg2 = "3";
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  char* envp[] = {nullptr};
  plan.pause = pause->get();
  plan.empty_root_mount_point = spec.run_dir.c_str();  // any directory: only pause sees the mount
  plan.argv = argv;
  plan.envp = envp;

  unsigned long flags = SIGCHLD | CLONE_NEWNS;
  // The user namespace is made first by the kernel, so it owns every other one made here.
  if (new_user) flags |= CLONE_NEWUSER;
  if (spec.new_network) flags |= CLONE_NEWNET;
  if (spec.new_ipc) flags |= CLONE_NEWIPC;
  if (spec.new_uts) flags |= CLONE_NEWUTS;
  if (spec.new_pid) flags |= CLONE_NEWPID;
  // Raw clone: glibc's fork() would run atfork handlers, which a multi-threaded agent cannot
  // afford in the child. With a null stack the child continues on a copy of ours, like fork.
  long pid = ::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) {
    cleanup_dir();
    return FailErrno("clone pause process for sandbox " + spec.id);
  }
  if (pid == 0) RunPauseChild(plan);

  report_write.Reset();
  maps_read.Reset();
  if (new_user) {
    auto written = WriteIdMaps(static_cast<pid_t>(pid), spec.uid_mappings, spec.gid_mappings);
    if (!written) {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
      cleanup_dir();
      return std::unexpected(std::move(written.error()).Context("start sandbox " + spec.id));
    }
    char go = 'G';
    (void)::write(maps_written.Get(), &go, 1);  // a child that died reports below
    maps_written.Reset();
  }
  detail::ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.Get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    cleanup_dir();
    bool known = failure.step >= 0 && static_cast<size_t>(failure.step) < kPauseStepNames.size();
    std::string what = "start sandbox " + spec.id + ": " +
                       (known ? kPauseStepNames[failure.step] : "unknown step");
    if (failure.step == kStepSysctl && failure.index >= 0 &&
        static_cast<size_t>(failure.index) < spec.sysctls.size()) {
      what += " " + spec.sysctls[failure.index].first;
    }
    return FailErrno(what, failure.err);
  }

  sandbox->is_child_ = true;
  auto identity = IdentifyProcess(static_cast<pid_t>(pid));
  auto pidfd = OpenPidfd(static_cast<pid_t>(pid));
  if (!identity || !pidfd) {
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    cleanup_dir();
    return std::unexpected(identity ? std::move(pidfd.error()) : std::move(identity.error()));
  }
  sandbox->pause_ = *identity;
  sandbox->pidfd_ = std::move(*pidfd);
  sandbox->fd_keeper_ = std::move(*keeper);
  if (auto pinned = sandbox->PinNamespaces(); !pinned) {
    (void)sandbox->Destroy();
    return std::unexpected(std::move(pinned.error()).Context("start sandbox " + spec.id));
  }
  spdlog::debug("sandbox {}: pause started as pid {}", spec.id, pid);
  return sandbox;
}

Result<std::unique_ptr<Sandbox>> Sandbox::Adopt(const SandboxSpec& spec,
                                                const ProcessIdentity& pause) {
  std::unique_ptr<Sandbox> sandbox(new Sandbox(spec));
  sandbox->pause_ = pause;
  if (IsRunning(pause)) {
    auto pidfd = OpenPidfd(pause.pid);
    // Check again after opening: the pidfd must refer to the process we recorded.
    if (pidfd && IsRunning(pause)) sandbox->pidfd_ = std::move(*pidfd);
  }
  if (sandbox->pidfd_) {
    if (auto keeper = FdKeeper::Retake(sandbox->pidfd_.Get())) {
      sandbox->fd_keeper_ = std::move(*keeper);
    }
  }
  return sandbox;
}

Sandbox::~Sandbox() = default;

bool Sandbox::Running() const {
  if (!pidfd_) return false;
  auto exited = WaitForExit(pidfd_.Get(), std::chrono::milliseconds(0));
  return exited && !*exited;
}

Status Sandbox::PinNamespaces() {
  for (Namespace ns : kAllNamespaces) {
    if (!HasNamespace(ns)) continue;
    std::string target = NamespacePath(ns);
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) return FailErrno("create namespace pin " + target);
    ::close(fd);
    std::string source = "/proc/" + std::to_string(pause_.pid) + "/ns/" + NamespaceProcName(ns);
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return FailErrno("pin " + source + " at " + target);
    }
  }
  return Ok();
}

void Sandbox::UnpinNamespaces() {
  for (Namespace ns : kAllNamespaces) {
    std::string target = spec_.run_dir + "/ns/" + NamespaceProcName(ns);
    // A pin can be stacked if an earlier attempt was interrupted; detach until none is left.
    for (int i = 0; i < 8 && ::umount2(target.c_str(), MNT_DETACH) == 0; ++i) {
    }
    ::unlink(target.c_str());
  }
}

void Sandbox::ReapIfChild() {
  if (!is_child_) return;
  siginfo_t info{};
  if (pidfd_ && ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.Get(), &info, WEXITED | WNOHANG) == 0) {
    if (info.si_pid != 0) is_child_ = false;
  }
}

Status Sandbox::Stop(std::chrono::milliseconds grace) {
  if (!pidfd_) return Ok();
  if (Running()) {
    spdlog::debug("sandbox {}: stopping pause (pid {})", spec_.id, pause_.pid);
    if (auto s = SendSignal(pidfd_.Get(), SIGTERM); !s) return s;
    auto exited = WaitForExit(pidfd_.Get(), grace);
    if (!exited || !*exited) {
      if (auto s = SendSignal(pidfd_.Get(), SIGKILL); !s) return s;
      auto killed = WaitForExit(pidfd_.Get(), std::chrono::seconds(10));
      if (!killed || !*killed) {
        return Fail(ErrorCode::kInternal, "sandbox " + spec_.id + ": pause did not die");
      }
    }
  }
  ReapIfChild();
  return Ok();
}

Status Sandbox::Destroy() {
  if (auto s = Stop(std::chrono::seconds(0)); !s) return s;
  pidfd_.Reset();
  UnpinNamespaces();
  std::error_code ec;
  std::filesystem::remove_all(spec_.run_dir, ec);
  if (ec) return FailErrno("remove sandbox run dir " + spec_.run_dir, ec.value());
  return Ok();
}

}  // namespace peapod::runtime
