// The exec plan: everything the helper and the exec'd process need between fork and execve,
// prepared by the agent, so the children only walk it with raw syscalls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "peapod/runtime/security.h"

namespace peapod::runtime::detail {

enum ExecStep {
  kExecStepSetns,
  kExecStepFork,
  kExecStepHandshake,
  kExecStepTerminal,
  kExecStepStdio,
  kExecStepCwd,
  kExecStepGroups,
  kExecStepGid,
  kExecStepUid,
  kExecStepSecurity,
  kExecStepExec,
};
extern const char* const kExecStepNames[];

// The index of a kExecStepTerminal failure.
enum TerminalStep {
  kTerminalOpenMaster,
  kTerminalUnlock,
  kTerminalOpenSlave,
  kTerminalSetsid,
  kTerminalControlling,
  kTerminalSendMaster,
};
extern const char* const kTerminalStepNames[];

struct ExecPlan {
  int target_pidfd = -1;  // the container's init
  int ns_flags = 0;       // CLONE_NEW* to join through target_pidfd, all at once
  int sync_fd = -1;       // SEQPACKET: ready byte, pty master, the helper's exit report
  int report_fd = -1;     // pipe: a ChildFailure, or EOF once execve succeeded
  bool tty = false;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // without tty
  const char* cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  const SecurityPlan* security = nullptr;  // nullptr: only the uid/gid/groups above
  int userns_fd = -1;                      // the pod's user namespace, joined last (-1: none)
  uid_t console_uid = 0;                   // host id of the terminal's owner
  std::vector<const char*> exec_candidates;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// Messages on the sync socket. Handshake bytes as for containers.
inline constexpr char kExecReadyByte = 'R';
inline constexpr char kExecGoByte = 'G';
inline constexpr char kExecMasterByte = 'M';  // carries the pty master with SCM_RIGHTS

// The helper's last word: the exec'd process's raw wait status.
struct ExecExitReport {
  int32_t tag;  // kExecExitTag
  int32_t wait_status;
};
inline constexpr int32_t kExecExitTag = 0x57414954;  // "WAIT"

// The agent's direct child (the helper): joins the container, forks the exec'd process, waits for
// it, reports its status and exits. Never returns.
[[noreturn]] void RunExecHelper(ExecPlan& plan);

}  // namespace peapod::runtime::detail
