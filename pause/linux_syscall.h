// The few Linux system calls peapod-pause makes, issued directly: pause links no libc, so that it
// is a few KiB on disk and in memory and has nothing to load or resolve at start-up.
// Every call returns the kernel's raw result: >= 0 on success, -errno on failure.
#pragma once

namespace peapod::pause::linux_abi {

using Int32 = __INT32_TYPE__;
using Int64 = __INT64_TYPE__;
using UInt64 = __UINT64_TYPE__;

#if defined(__x86_64__)

enum SyscallNumber : long {
  kWrite = 1,
  kRtSigaction = 13,
  kRtSigprocmask = 14,
  kExitGroup = 231,
  kWait4 = 61,
  kFcntl = 72,
  kClockGettime = 228,
  kRtSigtimedwait = 128,
  kPrctl = 157,
};

inline long Syscall(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
  register long r10 asm("r10") = d;
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
  return result;
}

#elif defined(__aarch64__)

// arm64 uses the generic syscall table (asm-generic/unistd.h).
enum SyscallNumber : long {
  kWrite = 64,
  kRtSigaction = 134,
  kRtSigprocmask = 135,
  kExitGroup = 94,
  kWait4 = 260,
  kFcntl = 25,
  kClockGettime = 113,
  kRtSigtimedwait = 137,
  kPrctl = 167,
};

inline long Syscall(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
  register long x8 asm("x8") = number;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  asm volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}

#else
#error "peapod-pause supports x86_64 and aarch64 only"
#endif

// Signal numbers and flags below are the same on x86_64 and arm64.
constexpr int kSigInt = 2;
constexpr int kSigTerm = 15;
constexpr int kSigChld = 17;
constexpr int kSigSetMask = 2;
constexpr int kEintr = 4;
constexpr int kWnohang = 1;
constexpr int kWall = 0x40000000;  // __WALL
constexpr int kFGetFl = 3;
constexpr int kOAccMode = 3;
constexpr int kORdOnly = 0;
constexpr int kClockRealtime = 0;
constexpr int kClockBoottime = 7;
constexpr int kPrSetDumpable = 4;
constexpr int kPrSetName = 15;

// The kernel's sigset_t is 64 bits (_NSIG = 64), not glibc's 1024-bit one.
using SignalSet = UInt64;
constexpr long kSignalSetSize = sizeof(SignalSet);
constexpr SignalSet SignalBit(int signal) { return SignalSet{1} << (signal - 1); }

// The kernel's struct sigaction. x86_64 has sa_restorer before sa_mask, arm64's generic layout
// may not; for SIG_DFL with no flags every field is zero, so one all-zero layout serves both.
struct DefaultSignalAction {
  long handler = 0;  // SIG_DFL
  unsigned long flags = 0;
  long restorer = 0;
  SignalSet mask = 0;
};

struct Timespec {
  Int64 seconds;
  long nanoseconds;
};

template <typename T>
inline long Arg(T* pointer) {
  return reinterpret_cast<long>(pointer);
}

inline long Write(int fd, const void* data, unsigned long size) {
  return Syscall(kWrite, fd, Arg(data), static_cast<long>(size));
}

[[noreturn]] inline void ExitGroup(int status) {
  for (;;) Syscall(kExitGroup, status);
}

inline long Fcntl(int fd, int command) { return Syscall(kFcntl, fd, command); }

inline long Prctl(int option, long argument) { return Syscall(kPrctl, option, argument); }

inline long ResetSignalToDefault(int signal) {
  DefaultSignalAction action;
  return Syscall(kRtSigaction, signal, Arg(&action), 0, kSignalSetSize);
}

inline long SetSignalMask(SignalSet mask) {
  return Syscall(kRtSigprocmask, kSigSetMask, Arg(&mask), 0, kSignalSetSize);
}

// Blocks until a signal in `set` is pending (no timeout) and returns its number.
inline long WaitForSignal(SignalSet set) {
  return Syscall(kRtSigtimedwait, Arg(&set), 0, 0, kSignalSetSize);
}

inline long Wait4(int pid, int* status, int options) {
  return Syscall(kWait4, pid, Arg(status), options, 0);
}

// Raw clock_gettime, without the vDSO: pause reads the clock once per reaped child.
inline Int64 ClockNanoseconds(int clock) {
  Timespec now{0, 0};
  if (Syscall(kClockGettime, clock, Arg(&now)) < 0) return 0;
  return now.seconds * 1000000000 + now.nanoseconds;
}

}  // namespace peapod::pause::linux_abi
