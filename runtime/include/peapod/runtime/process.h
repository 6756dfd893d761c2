// Process identity and exit status. A process is tracked by pid *and* start time, so a recycled
// pid is never mistaken for the process we started; signals go through pidfds for the same reason.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "peapod/error.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {

struct ProcessIdentity {
  pid_t pid = 0;             // in the agent's (host's) PID namespace
  uint64_t start_ticks = 0;  // field 22 of /proc/<pid>/stat
  bool operator==(const ProcessIdentity&) const = default;
};

struct ExitStatus {
  bool unknown = false;   // the exit happened where nobody could record it
  int exit_code = 0;      // valid when signal == 0
  int signal = 0;         // the terminating signal, 0 for a normal exit
  int64_t finished_at_ns = 0;  // CLOCK_REALTIME
  bool core_dumped = false;
  bool oom_killed = false;  // killed by the kernel's OOM killer in its cgroup

  static ExitStatus FromWaitStatus(int wait_status, int64_t finished_at_ns);
  static ExitStatus Unknown(int64_t finished_at_ns);
  // The code a shell would show: exit_code, or 128 + signal.
  int ShellCode() const { return signal ? 128 + signal : exit_code; }
  std::string ToString() const;
};

Result<uint64_t> ReadStartTicks(pid_t pid);
// Clock ticks since boot (as in /proc/<pid>/stat) to CLOCK_BOOTTIME nanoseconds.
int64_t StartTicksToBoottimeNs(uint64_t ticks);
Result<ProcessIdentity> IdentifyProcess(pid_t pid);
// True while a process with this pid and this start time exists (zombies count as gone).
bool IsRunning(const ProcessIdentity& id);
// The pid in every PID namespace the process is in, outermost first (the NSpid line).
Result<std::vector<pid_t>> ReadNamespacePids(pid_t pid);

Result<UniqueFd> OpenPidfd(pid_t pid);
Status SendSignal(int pidfd, int signal);
// Waits until the process behind `pidfd` has exited. False on timeout.
Result<bool> WaitForExit(int pidfd, std::chrono::milliseconds timeout);

int64_t NowRealtimeNs();
int64_t NowBoottimeNs();

}  // namespace peapod::runtime
