#include "peapod/runtime/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace peapod::runtime {

ExitStatus ExitStatus::FromWaitStatus(int wait_status, int64_t finished_at_ns) {
  ExitStatus s;
  s.finished_at_ns = finished_at_ns;
  if (WIFEXITED(wait_status)) {
    s.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    s.signal = WTERMSIG(wait_status);
    s.core_dumped = WCOREDUMP(wait_status);
  }
  return s;
}

ExitStatus ExitStatus::Unknown(int64_t finished_at_ns) {
  ExitStatus s;
  s.unknown = true;
  s.exit_code = 255;
  s.finished_at_ns = finished_at_ns;
  return s;
}

std::string ExitStatus::ToString() const {
  if (unknown) return "exit status unknown";
  if (signal) return std::string("killed by signal ") + std::to_string(signal) + " (" +
                     strsignal(signal) + ")";
  return "exited with code " + std::to_string(exit_code);
}

Result<uint64_t> ReadStartTicks(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FailErrno("read start time of pid " + std::to_string(pid));
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return FailErrno("read start time of pid " + std::to_string(pid), n < 0 ? errno : ESRCH);
  buf[n] = '\0';
  // comm (field 2) may contain spaces and parentheses; fields resume after the last ')'.
  char* p = std::strrchr(buf, ')');
  if (!p) return Fail(ErrorCode::kInternal, "malformed " + path);
  std::istringstream rest(p + 2);
  std::string field;
  // After ')' comes field 3 (state); starttime is field 22.
  for (int i = 3; i < 22 && rest >> field; ++i) {
  }
  uint64_t ticks = 0;
  if (!(rest >> ticks)) return Fail(ErrorCode::kInternal, "malformed " + path);
  return ticks;
}

int64_t StartTicksToBoottimeNs(uint64_t ticks) {
  static const long hz = sysconf(_SC_CLK_TCK);
  return static_cast<int64_t>(ticks) * (1000000000LL / hz);
}

Result<ProcessIdentity> IdentifyProcess(pid_t pid) {
  auto ticks = ReadStartTicks(pid);
  if (!ticks) return std::unexpected(std::move(ticks.error()));
  return ProcessIdentity{pid, *ticks};
}

bool IsRunning(const ProcessIdentity& id) {
  if (id.pid <= 0) return false;
  std::ifstream status("/proc/" + std::to_string(id.pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("State:")) {
      if (line.find('Z') != std::string::npos || line.find('X') != std::string::npos) return false;
      break;
    }
  }
  auto ticks = ReadStartTicks(id.pid);
  return ticks && *ticks == id.start_ticks;
}

Result<std::vector<pid_t>> ReadNamespacePids(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return FailErrno("read /proc/" + std::to_string(pid) + "/status", ESRCH);
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("NSpid:")) continue;
    std::istringstream fields(line.substr(6));
    std::vector<pid_t> pids;
    pid_t p;
    while (fields >> p) pids.push_back(p);
    return pids;
  }
  return Fail(ErrorCode::kInternal, "no NSpid line for pid " + std::to_string(pid));
}

Result<UniqueFd> OpenPidfd(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return FailErrno("pidfd_open " + std::to_string(pid));
  return UniqueFd(fd);
}

Status SendSignal(int pidfd, int signal) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) != 0) {
    if (errno == ESRCH) return Ok();  // already gone: nothing left to signal
    return FailErrno("send signal " + std::to_string(signal));
  }
  return Ok();
}

Result<bool> WaitForExit(int pidfd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    pollfd p{pidfd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("poll pidfd");
    return n > 0;
  }
}

static int64_t ClockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int64_t NowRealtimeNs() { return ClockNs(CLOCK_REALTIME); }
int64_t NowBoottimeNs() { return ClockNs(CLOCK_BOOTTIME); }

}  // namespace peapod::runtime
