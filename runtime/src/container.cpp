#include "peapod/runtime/container.h"

#include <fcntl.h>
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

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <thread>

#include "child_report.h"
#include "container_spawn.h"
#include "exec_spawn.h"
#include "peapod/runtime/exit_ledger.h"
#include "peapod/runtime/sealed_executable.h"
#include "search_path.h"

namespace peapod::runtime {
namespace {

constexpr int kPipeSize = 1 << 20;  // output waits here while no agent drains it

// The lowerdir entries of overlay options ("lowerdir=a:b,upperdir=...").
Result<std::vector<std::string>> OverlayLowerDirs(const std::string& options) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= options.size()) {
    size_t end = options.find(',', start);
    if (end == std::string::npos) end = options.size();
    std::string_view option(options.data() + start, end - start);
    if (option.starts_with("lowerdir=")) {
      option.remove_prefix(9);
      size_t from = 0;
      while (from <= option.size()) {
        size_t colon = option.find(':', from);
        if (colon == std::string_view::npos) colon = option.size();
        if (colon > from) out.emplace_back(option.substr(from, colon - from));
        from = colon + 1;
      }
    }
    start = end + 1;
  }
  if (out.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "overlay options \"" + options + "\" name no lowerdir");
  }
  return out;
}

bool IsCleanAbsolutePath(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  for (const auto& part : std::filesystem::path(path)) {
    if (part == "..") return false;
  }
  return true;
}

unsigned long PropagationFlag(Propagation p) {
  switch (p) {
    case Propagation::kPrivate: return MS_PRIVATE;
    case Propagation::kHostToContainer: return MS_SLAVE;
    case Propagation::kBidirectional: return MS_SHARED;
  }
  return MS_PRIVATE;
}

size_t PathDepth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

// Receives one message from the spawn socket with the sender's credentials and, for the
// console, the pty master it carries.
struct SpawnMessage {
  ssize_t size = 0;
  char data[sizeof(detail::ChildFailure)] = {};
  pid_t sender = 0;
  UniqueFd fd;
};

SpawnMessage ReceiveSpawnMessage(int fd) {
  SpawnMessage msg;
  iovec iov{msg.data, sizeof(msg.data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int))];
  msghdr header{};
  header.msg_iov = &iov;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof(control);
  do {
    msg.size = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC);
  } while (msg.size < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      msg.sender = cred.pid;
    }
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int received;
      std::memcpy(&received, CMSG_DATA(c), sizeof(int));
      msg.fd.Reset(received);
    }
  }
  return msg;
}

}  // namespace

Result<std::unique_ptr<Container>> Container::Create(ContainerSpec spec, LogCollector* logs) {
  std::string what = "create container " + spec.id;
  if (spec.id.empty()) return Fail(ErrorCode::kInvalidArgument, "container id is empty");
  if (spec.args.empty() || spec.args[0].empty()) {
    return Fail(ErrorCode::kInvalidArgument, what + ": no command to run");
  }
  struct stat st {};
  if (::stat(spec.rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, what + ": root filesystem " + spec.rootfs +
                                                 " is not a directory");
  }
  if (!IsCleanAbsolutePath(spec.cwd)) {
    return Fail(ErrorCode::kInvalidArgument,
                what + ": working directory \"" + spec.cwd + "\" must be an absolute path");
  }
  for (const auto& m : spec.mounts) {
    if (!IsCleanAbsolutePath(m.destination)) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + ": mount destination \"" + m.destination + "\" must be absolute");
    }
    if (m.type == "bind" && ::stat(m.source.c_str(), &st) != 0) {
      return FailErrno(what + ": mount source " + m.source);
    }
  }
  std::unique_ptr<Container> c(new Container(std::move(spec), logs));
  if (logs && !c->spec_.run_dir.empty()) {
    for (LogStream s : {LogStream::kStdout, LogStream::kStderr}) {
      if (::mkfifo(c->FifoPath(s).c_str(), 0600) != 0 && errno != EEXIST) {
        auto err = FailErrno(what + ": make log fifo " + c->FifoPath(s));
        (void)c->Destroy();
        return err;
      }
    }
    auto writer = CriLogWriter::Open(c->spec_.log_path);
    if (!writer) {
      (void)c->Destroy();
      return std::unexpected(std::move(writer.error()).Context(what));
    }
    c->log_writer_ = std::move(*writer);
  }
  return c;
}

Result<std::unique_ptr<Container>> Container::Adopt(ContainerSpec spec,
                                                    const ContainerProcess& proc,
                                                    LogCollector* logs,
                                                    std::shared_ptr<FdKeeper> keeper) {
  std::unique_ptr<Container> c(new Container(std::move(spec), logs));
  c->process_ = proc;
  c->keeper_ = std::move(keeper);
  if (IsRunning(proc.host)) {
    auto pidfd = OpenPidfd(proc.host.pid);
    if (pidfd && IsRunning(proc.host)) c->pidfd_ = std::move(*pidfd);
  }
  if (c->pidfd_ && c->keeper_ && (c->spec_.tty || c->spec_.stdin)) {
    // The console and the stdin writer waited in pause while no agent was there.
    auto parked = c->keeper_->Find(c->spec_.id + "/");
    if (!parked) {
      spdlog::warn("container {}: {}", c->spec_.id, parked.error().ToString());
    } else {
      c->console_ = std::move((*parked)[c->spec_.id + "/console"]);
      c->stdin_ = std::move((*parked)[c->spec_.id + "/stdin"]);
      c->stdin_open_ = c->spec_.stdin && (c->spec_.tty ? bool(c->console_) : bool(c->stdin_));
    }
  }
  if (c->pidfd_ && logs && !c->spec_.run_dir.empty()) {
    // Without a keeper (a pod from an older agent) a console's master died with the earlier
    // agent: the log of a tty container ends there.
    auto writer = CriLogWriter::Open(c->spec_.log_path);
    if (!writer) return std::unexpected(std::move(writer.error()));
    c->log_writer_ = std::move(*writer);
    UniqueFd out(::open(c->FifoPath(LogStream::kStdout).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    UniqueFd err(::open(c->FifoPath(LogStream::kStderr).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (out && err && !c->spec_.tty) {
      if (auto s = c->AttachLogs(std::move(out), std::move(err)); !s) return std::unexpected(s.error());
    }
    if (c->console_) {
      if (auto s = c->DrainConsole(); !s) return std::unexpected(s.error());
    }
  }
  return c;
}

Container::~Container() = default;

std::string Container::FifoPath(LogStream stream) const {
  return spec_.run_dir + "/" + spec_.id + (stream == LogStream::kStdout ? ".stdout" : ".stderr");
}

Status Container::AttachLogs(UniqueFd out, UniqueFd err) {
  log_writer_->ExpectStreams(2);
  if (auto s = logs_->Add(std::move(out), LogStream::kStdout, log_writer_); !s) return s;
  return logs_->Add(std::move(err), LogStream::kStderr, log_writer_);
}

Status Container::Start(const SpawnHook& hook) {
  std::string what = "start container " + spec_.id;
  if (auto s = CheckSelfIsSealed(what); !s) return s;
  if (process_.host.pid != 0) {
    return Fail(ErrorCode::kFailedPrecondition, what + ": already started");
  }
  detail::SpawnPlan plan;

  // Namespaces of the pod, opened now so the child needs no path lookups.
  std::vector<UniqueFd> ns_fds;
  const std::pair<const std::string*, int> namespaces[] = {
      {&spec_.net_ns, CLONE_NEWNET}, {&spec_.ipc_ns, CLONE_NEWIPC},
      {&spec_.uts_ns, CLONE_NEWUTS}, {&spec_.pid_ns, CLONE_NEWPID}};
  bool in_pod_pid_ns = false;
  for (const auto& [path, type] : namespaces) {
    if (path->empty()) continue;
    if (type == CLONE_NEWPID && spec_.pid_mode == PidMode::kHost) continue;
    UniqueFd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return FailErrno(what + ": open namespace " + *path);
    plan.namespaces[plan.namespace_count++] = {fd.Get(), type};
    if (type == CLONE_NEWPID) in_pod_pid_ns = true;
    ns_fds.push_back(std::move(fd));
  }
  plan.new_pid_ns = spec_.pid_mode == PidMode::kContainer;

  // stdio: /dev/null in; out and err into FIFOs opened read-write, so the container itself
  // always holds a reader and never sees EPIPE while the agent is away.
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) return FailErrno(what + ": open /dev/null");
  UniqueFd out_read, err_read, out_write, err_write;
  if (log_writer_ && !spec_.tty) {
    out_read.Reset(::open(FifoPath(LogStream::kStdout).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    err_read.Reset(::open(FifoPath(LogStream::kStderr).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    out_write.Reset(::open(FifoPath(LogStream::kStdout).c_str(), O_RDWR | O_CLOEXEC));
    err_write.Reset(::open(FifoPath(LogStream::kStderr).c_str(), O_RDWR | O_CLOEXEC));
    if (!out_read || !err_read || !out_write || !err_write) {
      return FailErrno(what + ": open log fifos in " + spec_.run_dir);
    }
    ::fcntl(out_write.Get(), F_SETPIPE_SZ, kPipeSize);
    ::fcntl(err_write.Get(), F_SETPIPE_SZ, kPipeSize);
  }
  plan.stdin_fd = null_fd.Get();
  UniqueFd stdin_read, stdin_write;
  if (spec_.stdin && !spec_.tty) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return FailErrno(what + ": stdin pipe");
    stdin_read.Reset(fds[0]);
    stdin_write.Reset(fds[1]);
    plan.stdin_fd = stdin_read.Get();
  }
  plan.console = spec_.tty;
  plan.stdout_fd = out_write ? out_write.Get() : null_fd.Get();
  plan.stderr_fd = err_write ? err_write.Get() : null_fd.Get();

  plan.rootfs = spec_.rootfs.c_str();
  if (spec_.overlay) {
    plan.overlay_chdir = spec_.overlay->chdir_to.c_str();
    plan.overlay_options = spec_.overlay->options.c_str();
  }
  plan.readonly_rootfs = spec_.readonly_rootfs;
  UniqueFd userns_fd;
  std::vector<std::string> layers;
  std::string devpts_data;
  bool userns = !spec_.user_ns.empty();
  if (userns) {
    if (spec_.privileged) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + ": a privileged container cannot run in a user namespace");
    }
    userns_fd.Reset(::open(spec_.user_ns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!userns_fd) return FailErrno(what + ": open user namespace " + spec_.user_ns);
    auto root_uid = HostIdOf(spec_.uid_mappings, 0);
    auto root_gid = HostIdOf(spec_.gid_mappings, 0);
    auto user_uid = HostIdOf(spec_.uid_mappings, spec_.uid);
    auto tty_gid = HostIdOf(spec_.gid_mappings, 5);
    if (!root_uid || !root_gid || !user_uid || !tty_gid) {
      return Fail(ErrorCode::kInvalidArgument,
                  what + ": the user namespace's mappings leave uid 0, gid 0, gid 5 or uid " +
                      std::to_string(spec_.uid) + " unmapped");
    }
    plan.userns_fd = userns_fd.Get();
    plan.owner_uid = *root_uid;
    plan.owner_gid = *root_gid;
    plan.console_uid = *user_uid;
    devpts_data = "newinstance,ptmxmode=0666,mode=0620,gid=" + std::to_string(*tty_gid);
    plan.devpts_data = devpts_data.c_str();
    if (spec_.overlay) {
      auto lowers = OverlayLowerDirs(spec_.overlay->options);
      if (!lowers) return std::unexpected(std::move(lowers.error()).Context(what));
      layers = std::move(*lowers);
      for (const auto& l : layers) plan.idmapped_layers.push_back(l.c_str());
    }
    // A PID namespace can only be made by a process inside the user namespace that owns its
    // parent (the pod's), and that process could no longer mount the container's /proc in the
    // node-owned mount namespace: containers of such a pod share the pod's PID namespace
    // (as with shareProcessNamespace) instead of a nested one of their own.
    plan.new_pid_ns = false;
  } else {
    plan.console_uid = spec_.uid;
  }
  // Parents before children: /data before /data/cache.
  std::vector<const MountSpec*> mounts;
  for (const auto& m : spec_.mounts) mounts.push_back(&m);
  std::stable_sort(mounts.begin(), mounts.end(), [](const MountSpec* a, const MountSpec* b) {
    return PathDepth(a->destination) < PathDepth(b->destination);
  });
  for (const MountSpec* m : mounts) {
    detail::ChildMount cm{};
    cm.bind = m->type == "bind";
    cm.source = m->source.empty() ? m->type.c_str() : m->source.c_str();
    cm.destination = m->destination.c_str();
    cm.fstype = cm.bind ? nullptr : m->type.c_str();
    cm.data = m->data.empty() ? nullptr : m->data.c_str();
    cm.flags = MS_NOSUID | MS_NODEV | (m->read_only ? MS_RDONLY : 0);
    cm.propagation = PropagationFlag(m->propagation);
    cm.read_only = m->read_only;
    cm.recursive_read_only = m->read_only && m->recursive_read_only;
    cm.idmap = userns && (cm.bind || m->type == "tmpfs");
    cm.tree_fd = -1;
    struct stat st {};
    cm.source_is_dir = cm.bind && ::stat(m->source.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    plan.mounts.push_back(cm);
  }
  plan.cwd = spec_.cwd.c_str();
  plan.uid = spec_.uid;
  plan.gid = spec_.gid;
  plan.groups = spec_.additional_gids;
  std::optional<SecurityPlan> security = spec_.security;
  if (security) {
    security->uid = spec_.uid;
    security->gid = spec_.gid;
    security->additional_gids = spec_.additional_gids;
    security->user_namespace_fd = userns_fd.Get();
    plan.security = &*security;
  }
  plan.privileged = spec_.privileged;
  if (!spec_.privileged) {
    for (const auto& p : spec_.masked_paths) plan.masked_paths.push_back(p.c_str());
    for (const auto& p : spec_.readonly_paths) plan.readonly_paths.push_back(p.c_str());
  }

  // Its own cgroups at /sys/fs/cgroup, in a cgroup namespace entered once it is in its cgroup.
  std::vector<CgroupMountStep> cgroup_mounts;
  if (cgroup_ && ::access("/proc/self/ns/cgroup", F_OK) == 0) {
    cgroup_mounts = ContainerCgroupMounts(cgroup_->driver());
    plan.cgroup_namespace = true;
    plan.cgroup_writable = spec_.cgroup_writable || spec_.privileged;
    for (const auto& m : cgroup_mounts) {
      plan.cgroup_mounts.push_back({static_cast<int>(m.kind), m.target.c_str(), m.data.c_str()});
    }
  }

  std::vector<std::string> candidates = detail::SearchPathCandidates(spec_.args[0], spec_.env);
  for (const auto& c : candidates) plan.exec_candidates.push_back(c.c_str());
  std::vector<char*> argv, envp;
  for (auto& a : spec_.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : spec_.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  plan.argv = argv.data();
  plan.envp = envp.data();

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return FailErrno(what + ": socketpair");
  }
  UniqueFd sync(sv[0]), child_sync(sv[1]);
  int on = 1;
  ::setsockopt(sync.Get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
  plan.sync_fd = child_sync.Get();

  long intermediate = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (intermediate < 0) return FailErrno(what + ": fork");
  if (intermediate == 0) detail::RunSpawnChild(plan);
  child_sync.Reset();
  auto reap_intermediate = [&] {
    while (::waitpid(static_cast<pid_t>(intermediate), nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  auto describe = [&](const detail::ChildFailure& f) -> std::unexpected<Error> {
    if (f.step < 0 || f.step >= detail::kSpawnStepCount) {
      return Fail(ErrorCode::kInternal,
                  what + ": the container's process failed at an unknown step");
    }
    std::string step = detail::kSpawnStepNames[f.step];
    if (f.step == detail::kStepExec) {
      if (f.err == ENOENT && spec_.args[0].find('/') == std::string::npos) {
        return FailErrno(what + ": executable \"" + spec_.args[0] + "\" not found in $PATH", f.err);
      }
      return FailErrno(what + ": execute \"" + spec_.args[0] + "\"", f.err);
    }
    if (f.step == detail::kStepConsole && f.index >= 0 && f.index <= detail::kTerminalSendMaster) {
      return FailErrno(
          what + ": set up the console (" + std::string(detail::kTerminalStepNames[f.index]) + ")",
          f.err);
    }
    if (f.step == detail::kStepSecurity) {
      return FailErrno(what + ": apply the security context (" + std::string(SecurityStepName(f.index)) + ")",
                       f.err);
    }
    if (f.step == detail::kStepMaskPaths && static_cast<size_t>(f.index) < plan.masked_paths.size()) {
      step += std::string(" ") + plan.masked_paths[static_cast<size_t>(f.index)];
    }
    if (f.step == detail::kStepReadonlyPaths &&
        static_cast<size_t>(f.index) < plan.readonly_paths.size()) {
      step += std::string(" ") + plan.readonly_paths[static_cast<size_t>(f.index)];
    }
    if (f.step == detail::kStepCgroupMount && f.index >= 0 &&
        static_cast<size_t>(f.index) < cgroup_mounts.size()) {
      const CgroupMountStep& m = cgroup_mounts[static_cast<size_t>(f.index)];
      step += " on " + m.target + (m.data.empty() ? "" : " (" + m.data + ")");
    }
    if (f.step == detail::kStepCwd) {
      return FailErrno(what + ": change to working directory \"" + spec_.cwd + "\"", f.err);
    }
    if (f.step == detail::kStepIdmap) {
      std::string why = f.err == EINVAL ? " (its file system cannot be idmapped)" : "";
      if (f.index == -1) return FailErrno(what + ": " + step + " of a tmpfs in /dev" + why, f.err);
      if (f.index <= -2 && static_cast<size_t>(-2 - f.index) < layers.size()) {
        return FailErrno(what + ": " + step + " of image layer " + spec_.overlay->chdir_to + "/" +
                             layers[static_cast<size_t>(-2 - f.index)] + why,
                         f.err);
      }
      if (f.index >= 0 && static_cast<size_t>(f.index) < mounts.size()) {
        const MountSpec* m = mounts[static_cast<size_t>(f.index)];
        return FailErrno(what + ": " + step + " of " + (m->source.empty() ? m->type : m->source) +
                             " for " + m->destination + why,
                         f.err);
      }
    }
    if ((f.step == detail::kStepMount || f.step == detail::kStepMountTarget ||
         f.step == detail::kStepOpenBindSource || f.step == detail::kStepPropagation ||
         f.step == detail::kStepReadonlyBind) &&
        f.index >= 0 && static_cast<size_t>(f.index) < mounts.size()) {
      const MountSpec* m = mounts[static_cast<size_t>(f.index)];
      step += " " + (m->source.empty() ? m->type : m->source) + " on " + m->destination;
    }
    return FailErrno(what + ": " + step, f.err);
  };

  SpawnMessage msg = ReceiveSpawnMessage(sync.Get());
  if (msg.size == static_cast<ssize_t>(sizeof(detail::ChildFailure))) {
    reap_intermediate();
    detail::ChildFailure f;
    std::memcpy(&f, msg.data, sizeof(f));
    return describe(f);
  }
  if (msg.size != 1 || msg.data[0] != detail::kReadyByte || msg.sender <= 0) {
    reap_intermediate();
    return Fail(ErrorCode::kInternal, what + ": container process vanished before it started");
  }
  pid_t pid = msg.sender;
  auto abort_start = [&](Error error) -> Status {
    char no = 'X';
    (void)::write(sync.Get(), &no, 1);
    ::kill(pid, SIGKILL);  // still blocked in the handshake: this pid is ours
    reap_intermediate();
    return std::unexpected(std::move(error));
  };
  auto identity = IdentifyProcess(pid);
  if (!identity) return abort_start(std::move(identity.error()));
  auto pidfd = OpenPidfd(pid);
  if (!pidfd) return abort_start(std::move(pidfd.error()));
  auto ns_pids = ReadNamespacePids(pid);
  if (!ns_pids) return abort_start(std::move(ns_pids.error()));
  ContainerProcess proc;
  proc.host = *identity;
  // NSpid lists our level first; the next level is the pod's PID namespace, where pause reaps.
  proc.ledger_pid = in_pod_pid_ns && ns_pids->size() > 1 ? (*ns_pids)[1] : 0;
  proc.started_boottime_ns = StartTicksToBoottimeNs(identity->start_ticks);
  proc.started_at_ns = NowRealtimeNs();
  if (cgroup_) {
    // In its cgroup before it runs anything of the image: limits hold from the first instruction.
    if (auto count = cgroup_->OomKillCount(); count) proc.oom_kills_at_start = *count;
    if (auto s = cgroup_->AddProcess(pid); !s) return abort_start(std::move(s.error()).Context(what));
  }
  if (hook) {
    if (auto s = hook(pid); !s) return abort_start(std::move(s.error()).Context(what));
  }
  char go = detail::kGoByte;
  if (::write(sync.Get(), &go, 1) != 1) return abort_start(FailErrno(what + ": handshake").error());
  reap_intermediate();

  // EOF means execve closed the last copy of the socket: the container runs. A console's master
  // comes first.
  msg = ReceiveSpawnMessage(sync.Get());
  UniqueFd console;
  if (msg.size == 1 && msg.data[0] == detail::kConsoleByte && msg.fd) {
    console = std::move(msg.fd);
    msg = ReceiveSpawnMessage(sync.Get());
  }
  if (msg.size == static_cast<ssize_t>(sizeof(detail::ChildFailure))) {
    detail::ChildFailure f;
    std::memcpy(&f, msg.data, sizeof(f));
    (void)WaitForExit(pidfd->Get(), std::chrono::seconds(5));
    // The pidfd fires when the child dies, before pause has reaped it: wait for the record so
    // that a failed start really has left nothing behind, not even a zombie for a moment.
    if (proc.ledger_pid != 0 && !spec_.ledger_path.empty()) {
      ExitLedger ledger(spec_.ledger_path);
      for (int i = 0; i < 1000; ++i) {
        auto record = ledger.Find(proc.ledger_pid, proc.started_boottime_ns);
        if (!record || *record) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    return describe(f);
  }
  if (spec_.tty && !console) {
    (void)SendSignal(pidfd->Get(), SIGKILL);
    return Fail(ErrorCode::kInternal, what + ": the container's console never arrived");
  }
  process_ = proc;
  pidfd_ = std::move(*pidfd);
  stdin_ = std::move(stdin_write);
  stdin_open_ = spec_.stdin;
  if (stdin_) Park("stdin", stdin_.Get());
  if (console) {
    console_ = std::move(console);
    Park("console", console_.Get());
    if (auto s = DrainConsole(); !s) return s;
  } else if (log_writer_) {
    out_write.Reset();
    err_write.Reset();
    if (auto s = AttachLogs(std::move(out_read), std::move(err_read)); !s) return s;
  }
  spdlog::debug("container {}: started as pid {}", spec_.id, pid);
  return Ok();
}

bool Container::Running() const {
  if (!pidfd_ || exit_) return false;
  auto exited = WaitForExit(pidfd_.Get(), std::chrono::milliseconds(0));
  return exited && !*exited;
}

Status Container::Stop(int signal, std::chrono::milliseconds grace) {
  if (!Running()) return Ok();
  spdlog::debug("container {}: stopping with signal {}", spec_.id, signal);
  if (auto s = SendSignal(pidfd_.Get(), signal); !s) return s;
  auto exited = WaitForExit(pidfd_.Get(), grace);
  if (!exited || !*exited) {
    if (auto s = SendSignal(pidfd_.Get(), SIGKILL); !s) return s;
    exited = WaitForExit(pidfd_.Get(), std::chrono::seconds(10));
    if (!exited || !*exited) {
      return Fail(ErrorCode::kInternal, "container " + spec_.id + " did not die after SIGKILL");
    }
  }
  // In a shared PID namespace the init's children outlive it; the cgroup knows them all, also
  // those in cgroups the container made below its own (systemd's units).
  if (!cgroup_) return Ok();
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto left = cgroup_->ProcessesRecursive();
    if (!left) return std::unexpected(std::move(left.error()));
    if (left->empty()) return Ok();
    if (auto s = cgroup_->KillAll(SIGKILL); !s) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Fail(ErrorCode::kInternal, "container " + spec_.id + ": processes survive SIGKILL");
}

Result<ExitStatus> Container::CollectExitStatus() {
  if (process_.ledger_pid != 0 && !spec_.ledger_path.empty()) {
    // pause writes the record right after it reaps; the pidfd fires a moment earlier.
    ExitLedger ledger(spec_.ledger_path);
    auto delay = std::chrono::microseconds(200);
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
         std::chrono::steady_clock::now() < deadline;) {
      auto record = ledger.Find(process_.ledger_pid, process_.started_boottime_ns);
      if (record && *record) {
        return ExitStatus::FromWaitStatus((*record)->wait_status, (*record)->realtime_ns);
      }
      std::this_thread::sleep_for(delay);
      delay = std::min(delay * 2, std::chrono::microseconds(50000));
    }
    return ExitStatus::Unknown(NowRealtimeNs());
  }
  // No pod PID namespace: the agent, as subreaper, is the parent.
  siginfo_t info{};
  if (pidfd_ &&
      ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.Get(), &info, WEXITED) == 0) {
    ExitStatus s;
    s.finished_at_ns = NowRealtimeNs();
    if (info.si_code == CLD_EXITED) {
      s.exit_code = info.si_status;
    } else {
      s.signal = info.si_status;
      s.core_dumped = info.si_code == CLD_DUMPED;
    }
    return s;
  }
  return ExitStatus::Unknown(NowRealtimeNs());
}

Result<std::optional<ExitStatus>> Container::Wait(std::chrono::milliseconds timeout) {
  if (exit_) return exit_;
  if (process_.host.pid == 0) {
    return Fail(ErrorCode::kFailedPrecondition, "container " + spec_.id + " was never started");
  }
  if (pidfd_) {
    auto exited = WaitForExit(pidfd_.Get(), timeout);
    if (!exited) return std::unexpected(std::move(exited.error()));
    if (!*exited) return std::optional<ExitStatus>{};
  }
  auto status = CollectExitStatus();
  if (!status) return std::unexpected(std::move(status.error()));
  if (cgroup_ && status->signal == SIGKILL) {
    auto oom = cgroup_->OomKilled(process_.oom_kills_at_start);
    status->oom_killed = oom && *oom;
  }
  if (log_writer_) log_writer_->WaitClosed(std::chrono::seconds(2));
  if (console_ || stdin_) Unpark("");  // nobody will write to a dead container
  exit_ = *status;
  return exit_;
}

Status Container::DrainConsole() {
  if (!log_writer_) return Ok();
  // The collector gets its own descriptor: it closes it at the console's end (EIO once the
  // last slave is closed), while console_ stays for input and resizes.
  UniqueFd drained(::fcntl(console_.Get(), F_DUPFD_CLOEXEC, 0));
  if (!drained) return FailErrno("container " + spec_.id + ": duplicate the console");
  log_writer_->ExpectStreams(1);
  return logs_->Add(std::move(drained), LogStream::kStdout, log_writer_);
}

void Container::Park(const char* what, int fd) {
  if (!keeper_) return;
  // Not fatal: the container runs, only an agent restart would then hang up its console.
  if (auto s = keeper_->Park(spec_.id + "/" + what, fd); !s) {
    spdlog::warn("container {}: {}", spec_.id, s.error().ToString());
  }
}

void Container::Unpark(const char* what) {
  if (!keeper_) return;
  if (auto s = keeper_->Drop(spec_.id + "/" + what); !s) {
    spdlog::warn("container {}: {}", spec_.id, s.error().ToString());
  }
}

void Container::CloseStdin() {
  stdin_open_ = false;
  if (stdin_) Unpark("stdin");
  stdin_.Reset();
}

Status Container::ResizeConsole(unsigned rows, unsigned cols) {
  if (!console_) {
    return Fail(ErrorCode::kFailedPrecondition, "container " + spec_.id + " has no terminal");
  }
  winsize size{};
  size.ws_row = static_cast<unsigned short>(rows);
  size.ws_col = static_cast<unsigned short>(cols);
  if (::ioctl(console_.Get(), TIOCSWINSZ, &size) != 0) {
    return FailErrno("resize the terminal of container " + spec_.id);
  }
  return Ok();
}

Status Container::ReopenLog() {
  if (!log_writer_) return Ok();
  return log_writer_->Reopen();
}

Status Container::Destroy() {
  if (Running()) {
    return Fail(ErrorCode::kFailedPrecondition, "container " + spec_.id + " is still running");
  }
  Unpark("");
  if (!spec_.run_dir.empty()) {
    ::unlink(FifoPath(LogStream::kStdout).c_str());
    ::unlink(FifoPath(LogStream::kStderr).c_str());
  }
  if (cgroup_) return cgroup_->Remove();
  return Ok();
}

}  // namespace peapod::runtime
