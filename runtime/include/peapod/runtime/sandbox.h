// Sandbox: a pod's pause process and the namespaces it owns (network, IPC, UTS, PID and, with
// hostUsers: false, user), pinned by bind mounts under the pod's run directory so they outlive
// any one process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "peapod/error.h"
#include "peapod/runtime/fd_keeper.h"
#include "peapod/runtime/process.h"
#include "peapod/runtime/user_namespace.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {

enum class Namespace { kNetwork, kIpc, kUts, kPid, kUser };
const char* NamespaceProcName(Namespace ns);  // "net", "ipc", "uts", "pid", "user"

struct SandboxSpec {
  std::string id;
  std::string run_dir;        // created by Start; holds ns/, the exit ledger, log FIFOs
  std::string pause_binary;
  std::string hostname;       // set when the pod has its own UTS namespace
  // false means the pod uses the host's namespace (hostNetwork, hostIPC, hostPID).
  bool new_network = true;
  bool new_ipc = true;
  bool new_uts = true;
  bool new_pid = true;
  // Non-empty: pause is made in a new user namespace with these mappings, which then owns the
  // pod's other namespaces; pause runs as the namespace's root (container id 0).
  std::vector<IdMap> uid_mappings;
  std::vector<IdMap> gid_mappings;
  // Namespaced sysctls, e.g. {"net.ipv4.ip_unprivileged_port_start", "0"}.
  std::vector<std::pair<std::string, std::string>> sysctls;
};

class Sandbox {
 public:
  // Starts pause in fresh namespaces, brings up lo, sets the hostname and sysctls, and pins
  // the namespaces. On failure nothing is left behind.
  static Result<std::unique_ptr<Sandbox>> Start(const SandboxSpec& spec);
  // Takes over a sandbox started by an earlier agent. A pause that is gone is not an error:
  // the sandbox is then simply not running, and can still be destroyed.
  static Result<std::unique_ptr<Sandbox>> Adopt(const SandboxSpec& spec,
                                                const ProcessIdentity& pause);

  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;
  ~Sandbox();  // leaves the pod running: pods outlive the agent's objects

  // Stops pause: SIGTERM, then SIGKILL after `grace`. Every process left in the pod's PID
  // namespace dies with it. Idempotent.
  Status Stop(std::chrono::milliseconds grace);
  // Stop, then unpin the namespaces and remove the run directory. Idempotent.
  Status Destroy();

  bool Running() const;
  const SandboxSpec& spec() const { return spec_; }
  const ProcessIdentity& pause() const { return pause_; }
  // The pinned namespace file, or "" when the pod shares the host's namespace.
  std::string NamespacePath(Namespace ns) const;
  bool HasNamespace(Namespace ns) const;
  bool HasUserNamespace() const { return !spec_.uid_mappings.empty(); }
  std::string LedgerPath() const { return spec_.run_dir + "/exits"; }
  // Where containers park what must outlive the agent (fd_keeper.h); null for a pod whose pause
  // holds none (started by an older agent) or is gone.
  const std::shared_ptr<FdKeeper>& fd_keeper() const { return fd_keeper_; }

 private:
  explicit Sandbox(SandboxSpec spec) : spec_(std::move(spec)) {}
  Status PinNamespaces();
  void UnpinNamespaces();
  void ReapIfChild();

  SandboxSpec spec_;
  ProcessIdentity pause_;
  UniqueFd pidfd_;
  bool is_child_ = false;
  std::shared_ptr<FdKeeper> fd_keeper_;
};

}  // namespace peapod::runtime
