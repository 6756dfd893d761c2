// peapod-pause: the init process of a pod.
//
// It holds the pod's namespaces open, reaps every process that is re-parented to it, and appends
// the exit status of each to the pod's exit ledger (see exit_record.h) so that the agent can learn
// it even if the agent was down when the process died. It exits 0 on SIGTERM or SIGINT.
//
//   peapod-pause [--ledger-fd N]
//   peapod-pause --version
#include "exit_record.h"
#include "linux_syscall.h"

#ifndef PEAPOD_VERSION
#define PEAPOD_VERSION "unknown"
#endif

namespace peapod::pause {
namespace {

namespace sys = linux_abi;

constexpr int kExitUsage = 2;
constexpr int kNoLedger = -1;

constexpr char kUsage[] =
    "usage: peapod-pause [--ledger-fd N]\n"
    "       peapod-pause --version\n";

unsigned long Length(const char* text) {
  unsigned long length = 0;
  while (text[length] != '\0') ++length;
  return length;
}

bool Equal(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

void Print(int fd, const char* text) { sys::Write(fd, text, Length(text)); }

// A file descriptor number: decimal digits only, at most INT_MAX.
bool ParseFd(const char* text, int* fd) {
  if (*text == '\0') return false;
  long value = 0;
  for (; *text != '\0'; ++text) {
    if (*text < '0' || *text > '9') return false;
    value = value * 10 + (*text - '0');
    if (value > 0x7fffffff) return false;
  }
  *fd = static_cast<int>(value);
  return true;
}

struct Options {
  bool version = false;
  int ledger_fd = kNoLedger;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    if (Equal(argv[i], "--version")) {
      options->version = true;
    } else if (Equal(argv[i], "--ledger-fd") && i + 1 < argc) {
      if (!ParseFd(argv[++i], &options->ledger_fd)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Refuse a ledger fd that cannot be written at start-up, while the agent is still waiting to hear
// whether the pod started; afterwards, write errors are ignored.
bool LedgerIsWritable(int fd) {
  long flags = sys::Fcntl(fd, sys::kFGetFl);
  return flags >= 0 && (flags & sys::kOAccMode) != sys::kORdOnly;
}

void AppendExitRecord(int ledger_fd, int pid, int wait_status) {
  const peapod_exit_record record = {
      pid,
      wait_status,
      sys::ClockNanoseconds(sys::kClockRealtime),
      sys::ClockNanoseconds(sys::kClockBoottime),
      PEAPOD_EXIT_RECORD_MAGIC,
      0,
  };
  // One write(2) per record: with O_APPEND the kernel places it whole at the end of the file.
  // Any other failure (disk full, fd closed by mistake) is ignored: the pod matters more than
  // its ledger, and pause must never die.
  while (sys::Write(ledger_fd, &record, sizeof record) == -sys::kEintr) {
  }
}

// SIGCHLD is a standard signal: several children dying at once may raise it only once, so every
// wake-up reaps until nothing is left. __WALL also reaps children whose exit signal is not SIGCHLD.
void ReapExitedChildren(int ledger_fd) {
  for (;;) {
    int wait_status = 0;
    long pid = sys::Wait4(-1, &wait_status, sys::kWnohang | sys::kWall);
    if (pid == -sys::kEintr) continue;
    if (pid <= 0) return;  // 0: children left but none exited; -ECHILD: no children at all
    if (ledger_fd != kNoLedger) AppendExitRecord(ledger_fd, static_cast<int>(pid), wait_status);
  }
}

}  // namespace

int Main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    Print(2, kUsage);
    return kExitUsage;
  }
  if (options.version) {
    Print(1, "peapod-pause " PEAPOD_VERSION "\n");
    return 0;
  }
  // Non-dumpable: no process in the pod may open /proc/1/exe, /proc/1/fd/* (the ledger, the
  // descriptor keeper) or ptrace us. execve reset this; the agent (CAP_SYS_PTRACE) still may.
  sys::Prctl(sys::kPrSetDumpable, 0);
  // Started from a sealed memfd, we would be named after its fd number.
  sys::Prctl(sys::kPrSetName, sys::Arg("peapod-pause"));
  if (options.ledger_fd != kNoLedger && !LedgerIsWritable(options.ledger_fd)) {
    Print(2, "peapod-pause: --ledger-fd is not a file descriptor open for writing\n");
    return kExitUsage;
  }

  // An ignored SIGCHLD (SIG_IGN or SA_NOCLDWAIT survive execve) makes the kernel reap children
  // itself and throw their statuses away, so start from the default action.
  sys::ResetSignalToDefault(sys::kSigChld);
  sys::ResetSignalToDefault(sys::kSigTerm);
  sys::ResetSignalToDefault(sys::kSigInt);

  // Take signals synchronously with sigtimedwait instead of handlers. Blocking also matters
  // because the kernel drops signals that PID 1 of a PID namespace leaves at SIG_DFL (from inside
  // the namespace, and from outside for everything but SIGKILL/SIGSTOP); blocked signals are
  // queued instead. SETMASK, not BLOCK: any other signal the agent left blocked is unblocked.
  const sys::SignalSet handled =
      sys::SignalBit(sys::kSigChld) | sys::SignalBit(sys::kSigTerm) | sys::SignalBit(sys::kSigInt);
  sys::SetSignalMask(handled);

  // Children that died before SIGCHLD was blocked raised no signal we will see.
  ReapExitedChildren(options.ledger_fd);

  for (;;) {
    long signal = sys::WaitForSignal(handled);
    if (signal == sys::kSigChld) {
      ReapExitedChildren(options.ledger_fd);
    } else if (signal == sys::kSigTerm || signal == sys::kSigInt) {
      // Record whoever is already dead; as PID 1 our exit makes the kernel SIGKILL the rest of
      // the namespace, whose statuses nobody can collect.
      ReapExitedChildren(options.ledger_fd);
      return 0;
    }
    // Anything else is an interrupted wait (-EINTR, e.g. after SIGSTOP/SIGCONT): wait again.
  }
}

}  // namespace peapod::pause
