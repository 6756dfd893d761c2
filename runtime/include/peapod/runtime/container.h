// Container: one process tree inside a sandbox, started as ARCHITECTURE.md describes: join the
// pod's namespaces with setns, a private mount namespace, its root filesystem, pivot_root, execve.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "peapod/error.h"
#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/cri_log.h"
#include "peapod/runtime/fd_keeper.h"
#include "peapod/runtime/process.h"
#include "peapod/runtime/security.h"
#include "peapod/runtime/user_namespace.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {

enum class PidMode {
  kContainer,  // its own PID namespace nested in the pod's (Kubernetes' default)
  kPod,        // the pod's PID namespace (shareProcessNamespace)
  kHost,       // the host's (hostPID)
};

enum class Propagation { kPrivate, kHostToContainer, kBidirectional };

struct MountSpec {
  std::string destination;  // absolute, inside the container
  std::string type = "bind";  // "bind" or a filesystem type such as "tmpfs"
  std::string source;       // host path for bind mounts
  std::string data;         // filesystem options, e.g. "size=64m,mode=1777"
  bool read_only = false;
  // With read_only: every mount below the source read-only too (CRI recursive_read_only); without,
  // only the bind itself is, and submounts keep their own flags, as runc's "ro" bind.
  bool recursive_read_only = false;
  Propagation propagation = Propagation::kPrivate;
};

// An overlay root prepared by the image layer: the child chdir()s to `chdir_to` (so lowerdir
// entries can be short relative names) and mounts overlay with `options` on the rootfs path.
struct OverlayRootfs {
  std::string chdir_to;
  std::string options;
};

struct ContainerSpec {
  std::string id;
  std::string rootfs;                     // the directory that becomes "/"
  std::optional<OverlayRootfs> overlay;   // mounted on `rootfs` inside the container only
  bool readonly_rootfs = false;
  std::vector<MountSpec> mounts;

  // The pod's pinned namespaces; "" means the host's.
  std::string net_ns, ipc_ns, uts_ns, pid_ns;
  PidMode pid_mode = PidMode::kContainer;
  // The pod's pinned user namespace ("" = the host's) and its mappings. With one, the image's
  // layers, every bind and tmpfs mount are idmapped through it and the process joins it before
  // its ids and capabilities are set: uid 0 inside is the mapped host id outside. The upper dir
  // of `overlay` must then be owned by the pod's root (the agent chowns it).
  std::string user_ns;
  std::vector<IdMap> uid_mappings;
  std::vector<IdMap> gid_mappings;

  std::vector<std::string> args;  // args[0] is searched in PATH when it has no '/'
  std::vector<std::string> env;   // KEY=VALUE
  std::string cwd = "/";          // created when missing, as runc does
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;

  // Capabilities, no_new_privs, seccomp, rlimits, oom_score_adj. Its uid/gid/groups are taken
  // from the fields above. Without it the process keeps the agent's (root's) privileges, which
  // only tests and the agent's own helpers may ask for.
  std::optional<SecurityPlan> security;
  bool privileged = false;  // host devices, writable /sys, no masked or read-only paths
  std::vector<std::string> masked_paths;    // e.g. DefaultMaskedPaths()
  std::vector<std::string> readonly_paths;  // e.g. DefaultReadonlyPaths()
  // With a cgroup attached the container gets a private cgroup namespace rooted at its own
  // cgroup and sees it at /sys/fs/cgroup: read-only, unless this is set (systemd as PID 1
  // makes its units' cgroups there) or the container is privileged.
  bool cgroup_writable = false;

  std::string run_dir;      // where the stdout/stderr FIFOs live (the pod's run dir)
  std::string ledger_path;  // the pod's exit ledger, when it has a PID namespace
  std::string log_path;     // CRI log file; "" discards output

  // A console, as runc gives one: the container's stdin/stdout/stderr are the slave of a pty from
  // its own /dev/pts and its controlling terminal; the agent holds the master and drains it into
  // the log as stdout.
  bool tty = false;
  // stdin the agent can write to (attach): the console's input with `tty`, else a pipe. It stays
  // open and empty until CloseStdin. Without it stdin is /dev/null.
  bool stdin = false;
};

// What the agent must remember to take a running container over after a restart.
struct ContainerProcess {
  ProcessIdentity host;           // pid and start time in the agent's PID namespace
  pid_t ledger_pid = 0;           // the pid pause sees (the pod's PID namespace)
  int64_t started_boottime_ns = 0;
  int64_t started_at_ns = 0;      // CLOCK_REALTIME
  uint64_t oom_kills_at_start = 0;  // the cgroup's OOM-kill counter when it started
};

class Container {
 public:
  // Called in the agent after the process exists and before it may run anything of the image:
  // the place to move it into cgroups. An error aborts the start.
  using SpawnHook = std::function<Status(pid_t host_pid)>;

  // The container's cgroup: Start places the process in it before anything of the image runs,
  // Stop kills whatever is left in it, exits are checked against its OOM counter.
  void AttachCgroup(Cgroup cgroup) { cgroup_ = std::move(cgroup); }
  const std::optional<Cgroup>& cgroup() const { return cgroup_; }
  // The pod's descriptor keeper: Start parks the console and the stdin writer there so that
  // they survive an agent restart, Adopt takes them back. Without one they die with the agent.
  void AttachFdKeeper(std::shared_ptr<FdKeeper> keeper) { keeper_ = std::move(keeper); }

  // Validates the spec and makes the log FIFOs; nothing runs yet. `logs` may be null.
  static Result<std::unique_ptr<Container>> Create(ContainerSpec spec, LogCollector* logs);
  // Takes over a container started by an earlier agent.
  static Result<std::unique_ptr<Container>> Adopt(ContainerSpec spec, const ContainerProcess& proc,
                                                  LogCollector* logs,
                                                  std::shared_ptr<FdKeeper> keeper = nullptr);
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  // Spawns the process. A failure (missing executable, bad cwd, a mount that failed) names the
  // step and the cause, and leaves no process behind.
  Status Start(const SpawnHook& hook = {});
  // Sends `signal`, waits `grace`, then SIGKILL. Idempotent.
  Status Stop(int signal, std::chrono::milliseconds grace);
  // Waits for the process to exit and its output to be drained; nullopt on timeout.
  Result<std::optional<ExitStatus>> Wait(std::chrono::milliseconds timeout);
  // Reopens the log file at its path (after kubelet's rotation moved it away).
  Status ReopenLog();
  // Removes the FIFOs. The process must have exited.
  Status Destroy();

  bool Running() const;
  const ContainerSpec& spec() const { return spec_; }
  const ContainerProcess& process() const { return process_; }
  int pidfd() const { return pidfd_.Get(); }
  // Where its stdout/stderr go (null without a log collector); attach taps it.
  const std::shared_ptr<CriLogWriter>& log_writer() const { return log_writer_; }
  // The console's master (-1 without tty, or after an agent restart lost it) and the write end
  // of stdin (the master with tty; -1 without stdin, or once closed).
  int console_fd() const { return console_.Get(); }
  int stdin_fd() const { return spec_.tty ? (stdin_open_ ? console_.Get() : -1) : stdin_.Get(); }
  // End of file on the container's stdin (stdin_once). A console has no end of input short of
  // hanging up, so with tty it only stops further writes, as containerd does.
  void CloseStdin();
  // TIOCSWINSZ on the console; kFailedPrecondition without one.
  Status ResizeConsole(unsigned rows, unsigned cols);

 private:
  Container(ContainerSpec spec, LogCollector* logs) : spec_(std::move(spec)), logs_(logs) {}
  std::string FifoPath(LogStream stream) const;
  Status AttachLogs(UniqueFd out, UniqueFd err);
  Status DrainConsole();
  void Park(const char* what, int fd);
  void Unpark(const char* what);
  Result<ExitStatus> CollectExitStatus();

  ContainerSpec spec_;
  LogCollector* logs_;
  std::shared_ptr<CriLogWriter> log_writer_;
  ContainerProcess process_;
  UniqueFd pidfd_;
  std::optional<ExitStatus> exit_;
  std::optional<Cgroup> cgroup_;
  UniqueFd console_;  // the pty master
  UniqueFd stdin_;    // the write end of the stdin pipe (without tty)
  bool stdin_open_ = false;
  std::shared_ptr<FdKeeper> keeper_;
};

}  // namespace peapod::runtime
