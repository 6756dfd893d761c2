// peapod-pause against the real kernel: it is small and static, reaps orphans as PID 1 of a PID
// namespace, records every exit in the ledger, and exits 0 on SIGTERM/SIGINT. Runs as root.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../../pause/exit_record.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using peapod::testing::ReadFile;
using peapod::testing::TempDir;

constexpr auto kTimeout = 5s;

// A child process that is SIGKILLed and reaped when the test lets go of it, so a failed
// assertion never leaks a pause (or a whole pod PID namespace) into the next test.
class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid = -1) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& other) noexcept {
    std::swap(pid_, other.pid_);
    return *this;
  }
  ~ChildProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, __WALL);
  }
  pid_t pid() const { return pid_; }

  // The raw wait status, or nothing if it is still running after `timeout`.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout = kTimeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      pid_t reaped = waitpid(pid_, &status, WNOHANG | __WALL);
      if (reaped == pid_) {
        pid_ = -1;
        return status;
      }
      if (reaped < 0 || std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
  }

 private:
  pid_t pid_;
};

struct SpawnOptions {
  bool new_pid_namespace = false;
  int ledger_fd = -1;  // inherited by pause under the same number
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::function<void()> before_exec;  // runs in the child, e.g. to give pause children
};

// Starts peapod-pause with `args`; returns once it has exec'ed (or failed to).
ChildProcess SpawnPause(const std::vector<std::string>& args, const SpawnOptions& options = {}) {
  std::vector<std::string> strings{PEAPOD_PAUSE_BINARY};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int exec_done[2];
  if (pipe2(exec_done, O_CLOEXEC) != 0) return ChildProcess();
  // clone with CLONE_NEWPID and no new stack behaves like fork, with the child as PID 1 of a new
  // PID namespace.
  unsigned long flags = SIGCHLD | (options.new_pid_namespace ? CLONE_NEWPID : 0);
  pid_t pid = static_cast<pid_t>(syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr));
  if (pid == 0) {
    close(exec_done[0]);
    if (options.ledger_fd >= 0) fcntl(options.ledger_fd, F_SETFD, 0);
    if (options.stdout_fd >= 0) dup2(options.stdout_fd, STDOUT_FILENO);
    if (options.stderr_fd >= 0) dup2(options.stderr_fd, STDERR_FILENO);
    if (options.before_exec) options.before_exec();
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(exec_done[1]);
  char byte;
  while (pid > 0 && read(exec_done[0], &byte, 1) < 0 && errno == EINTR) {
  }
  close(exec_done[0]);
  return ChildProcess(pid);
}

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

RunResult RunPause(const std::vector<std::string>& args) {
  int out[2], err[2];
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
  ChildProcess pause = SpawnPause(args, {.stdout_fd = out[1], .stderr_fd = err[1]});
  close(out[1]);
  close(err[1]);
  RunResult result;
  result.out = ReadAll(out[0]);  // the outputs are tiny: reading one after the other cannot block
  result.err = ReadAll(err[0]);
  close(out[0]);
  close(err[0]);
  result.status = pause.WaitForExit().value_or(-1);
  return result;
}

// True once `predicate` holds, polling until the timeout.
bool Eventually(const std::function<bool()>& predicate) {
  auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// For before_exec: forks a busybox shell running `script`, with stdin from `stdin_fd` if given.
// The shell execs, so it holds none of the test's O_CLOEXEC pipes (SpawnPause waits for EOF on
// one).
pid_t ForkShell(const char* script, int stdin_fd = -1) {
  pid_t pid = fork();
  if (pid == 0) {
    if (stdin_fd >= 0) dup2(stdin_fd, STDIN_FILENO);
    execl("/bin/busybox", "sh", "-c", script, static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// A field of /proc/<pid>/status, e.g. "VmRSS" -> "12 kB"; empty if absent.
std::string StatusField(pid_t pid, const std::string& name) {
  std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("\n" + name + ":");
  if (at == std::string::npos) return "";
  at = status.find_first_not_of(" \t", at + name.size() + 2);
  return status.substr(at, status.find('\n', at) - at);
}

// pause has set up its signals once it sleeps in rt_sigtimedwait; before that, a SIGTERM would
// still find the default action. (/proc/<pid>/syscall starts with the syscall number.)
bool WaitUntilPauseWaitsForSignals(pid_t pid) {
  std::string prefix = std::to_string(SYS_rt_sigtimedwait) + " ";
  return Eventually(
      [&] { return ReadFile("/proc/" + std::to_string(pid) + "/syscall").starts_with(prefix); });
}

int64_t ClockNs(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

std::vector<peapod_exit_record> ReadLedger(const std::string& path) {
  std::string bytes = ReadFile(path);
  std::vector<peapod_exit_record> records(bytes.size() / sizeof(peapod_exit_record));
  std::memcpy(records.data(), bytes.data(), records.size() * sizeof(peapod_exit_record));
  return records;
}

// Processes (other than `except`) whose parent is `parent` or that live in `pid_namespace`.
std::vector<std::string> ProcessesLeftBehind(pid_t parent, const std::string& pid_namespace,
                                             pid_t except) {
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoi(name) == except) continue;
    std::error_code ec;
    auto ns = std::filesystem::read_symlink(entry.path() / "ns/pid", ec);
    std::string ppid = StatusField(std::stoi(name), "PPid");
    if (ppid == std::to_string(parent) || (!ec && ns.string() == pid_namespace)) {
      left.push_back(name + " (" + StatusField(std::stoi(name), "Name") + ", state " +
                     StatusField(std::stoi(name), "State") + ")");
    }
  }
  return left;
}

class Ledger {
 public:
  Ledger() : path_(dir_ / "exits.ledger") {
    fd_ = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  }
  ~Ledger() { close(fd_); }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  std::vector<peapod_exit_record> WaitForRecords(size_t count) {
    Eventually([&] { return ReadFile(path_).size() >= count * sizeof(peapod_exit_record); });
    std::this_thread::sleep_for(200ms);  // long enough for an unexpected extra record to show
    return ReadLedger(path_);
  }

 private:
  TempDir dir_{"peapod-pause"};
  std::string path_;
  int fd_ = -1;
};

TEST(PauseCli, VersionPrintsNameAndVersion) {
  RunResult result = RunPause({"--version"});
  EXPECT_EQ(result.out, std::string("peapod-pause ") + PEAPOD_VERSION + "\n");
  EXPECT_EQ(result.err, "");
  ASSERT_TRUE(WIFEXITED(result.status));
  EXPECT_EQ(WEXITSTATUS(result.status), 0);
}

TEST(PauseCli, UnknownArgumentPrintsUsageAndExits2) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--bogus"}, {"--ledger-fd"}, {"--ledger-fd", "x1"}, {"--ledger-fd", "-1"}, {"extra"}}) {
    RunResult result = RunPause(args);
    ASSERT_TRUE(WIFEXITED(result.status)) << args[0];
    EXPECT_EQ(WEXITSTATUS(result.status), 2) << args[0];
    EXPECT_NE(result.err.find("usage: peapod-pause"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
  }
}

TEST(PauseCli, LedgerFdThatIsNotOpenForWritingExits2) {
  RunResult result = RunPause({"--ledger-fd", "987"});
  ASSERT_TRUE(WIFEXITED(result.status));
  EXPECT_EQ(WEXITSTATUS(result.status), 2);
  EXPECT_NE(result.err.find("--ledger-fd"), std::string::npos) << result.err;
}

TEST(PauseBinary, IsSmallStrippedAndStaticWithoutLibc) {
  std::string image = ReadFile(PEAPOD_PAUSE_BINARY);
  std::printf("peapod-pause stripped size: %zu bytes\n", image.size());
  RecordProperty("stripped_size_bytes", std::to_string(image.size()));
  ASSERT_GE(image.size(), sizeof(Elf64_Ehdr));
  EXPECT_LT(image.size(), 1u << 20);

  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof header);
  ASSERT_EQ(std::memcmp(header.e_ident, ELFMAG, SELFMAG), 0);
  ASSERT_EQ(header.e_ident[EI_CLASS], ELFCLASS64);
  EXPECT_EQ(header.e_type, ET_EXEC);
  ASSERT_LE(header.e_phoff + size_t{header.e_phnum} * sizeof(Elf64_Phdr), image.size());
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    std::memcpy(&segment, image.data() + header.e_phoff + i * sizeof segment, sizeof segment);
    EXPECT_NE(segment.p_type, PT_INTERP) << "needs a dynamic loader";
    EXPECT_NE(segment.p_type, PT_DYNAMIC) << "links shared libraries";
  }
  ASSERT_LE(header.e_shoff + size_t{header.e_shnum} * sizeof(Elf64_Shdr), image.size());
  for (int i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr section;
    std::memcpy(&section, image.data() + header.e_shoff + i * sizeof section, sizeof section);
    EXPECT_NE(section.sh_type, SHT_SYMTAB) << "not stripped";
  }
  // A statically linked libc leaves its marks in the strings even when stripped.
  for (const char* mark : {"GLIBC", "glibc", "musl", "libc"}) {
    EXPECT_EQ(image.find(mark), std::string::npos) << mark;
  }
}

TEST(PauseProcess, ResidentMemoryStaysUnder300KiB) {
  ChildProcess pause = SpawnPause({});
  ASSERT_TRUE(WaitUntilPauseWaitsForSignals(pause.pid()));
  std::string rss = StatusField(pause.pid(), "VmRSS");
  std::printf("peapod-pause VmRSS: %s\n", rss.c_str());
  RecordProperty("vm_rss", rss);
  ASSERT_TRUE(rss.ends_with(" kB")) << rss;
  EXPECT_LT(std::stol(rss), 300);

  kill(pause.pid(), SIGTERM);
  auto status = pause.WaitForExit();
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

class PauseSignal : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(PauseSignal, ExitsZero) {
  auto [signal, in_pid_namespace] = GetParam();
  ChildProcess pause = SpawnPause({}, {.new_pid_namespace = in_pid_namespace});
  ASSERT_TRUE(WaitUntilPauseWaitsForSignals(pause.pid()));
  if (in_pid_namespace) {
    // PID 1 of its namespace: the kernel drops a SIG_DFL SIGTERM sent from the parent namespace,
    // so this only passes because pause blocks and waits for it.
    EXPECT_EQ(StatusField(pause.pid(), "NSpid"), std::to_string(pause.pid()) + "\t1");
  }
  ASSERT_EQ(kill(pause.pid(), signal), 0);
  auto status = pause.WaitForExit();
  ASSERT_TRUE(status.has_value()) << "still running after " << strsignal(signal);
  ASSERT_TRUE(WIFEXITED(*status)) << "status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

std::string SignalCaseName(const ::testing::TestParamInfo<std::tuple<int, bool>>& param_info) {
  auto [signal, in_pid_namespace] = param_info.param;
  return std::string(signal == SIGTERM ? "Sigterm" : "Sigint") +
         (in_pid_namespace ? "AsPid1OfPidNamespace" : "AsOrdinaryProcess");
}

INSTANTIATE_TEST_SUITE_P(SigtermAndSigint, PauseSignal,
                         ::testing::Combine(::testing::Values(SIGTERM, SIGINT), ::testing::Bool()),
                         SignalCaseName);

// Joins pause's PID namespace and runs a shell there whose parent exits at once, the way the
// agent starts a container: the shell and its two background sleeps are orphaned to pause. The
// shell exits 3; the sleeps exit 0 a little later. Returns the shell's pid in the pod namespace.
pid_t RunOrphanedShellInPod(pid_t pause_pid) {
  int ns = open(("/proc/" + std::to_string(pause_pid) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC);
  int report[2];
  if (ns < 0 || pipe2(report, O_CLOEXEC) != 0) return -1;
  const char* shell[] = {"/bin/busybox", "sh", "-c", "sleep 0.2 & sleep 0.2 & exit 3", nullptr};

  ChildProcess joiner(fork());
  if (joiner.pid() == 0) {
    // setns(CLONE_NEWPID) moves only our future children into the pod namespace.
    if (setns(ns, CLONE_NEWPID) != 0) _exit(10);
    pid_t launcher = fork();
    if (launcher == 0) {
      pid_t shell_pid = fork();
      if (shell_pid == 0) {
        execv(shell[0], const_cast<char**>(shell));
        _exit(127);
      }
      // shell_pid is the pod-namespace pid: we live there. Exiting now orphans the shell to pause.
      _exit(write(report[1], &shell_pid, sizeof shell_pid) == sizeof shell_pid ? 0 : 11);
    }
    int status = 0;
    waitpid(launcher, &status, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 12);
  }
  close(ns);
  close(report[1]);
  auto joined = joiner.WaitForExit();
  EXPECT_TRUE(joined.has_value() && WIFEXITED(*joined) && WEXITSTATUS(*joined) == 0);
  pid_t shell_pid = -1;
  if (read(report[0], &shell_pid, sizeof shell_pid) != sizeof shell_pid) shell_pid = -1;
  close(report[0]);
  return shell_pid;
}

TEST(PausePodInit, ReapsOrphansInItsPidNamespaceAndRecordsEachExit) {
  Ledger ledger;
  int64_t realtime_before = ClockNs(CLOCK_REALTIME);
  int64_t boottime_before = ClockNs(CLOCK_BOOTTIME);
  ChildProcess pause = SpawnPause({"--ledger-fd", std::to_string(ledger.fd())},
                                  {.new_pid_namespace = true, .ledger_fd = ledger.fd()});
  ASSERT_TRUE(WaitUntilPauseWaitsForSignals(pause.pid()));
  ASSERT_EQ(StatusField(pause.pid(), "NSpid"), std::to_string(pause.pid()) + "\t1");

  pid_t shell_pid = RunOrphanedShellInPod(pause.pid());
  ASSERT_GT(shell_pid, 1);
  std::vector<peapod_exit_record> records = ledger.WaitForRecords(3);
  int64_t realtime_after = ClockNs(CLOCK_REALTIME);
  int64_t boottime_after = ClockNs(CLOCK_BOOTTIME);

  ASSERT_EQ(ReadFile(ledger.path()).size() % sizeof(peapod_exit_record), 0u);
  ASSERT_EQ(records.size(), 3u) << "one record per reaped process: the shell and two sleeps";
  std::set<int32_t> pids;
  int shells = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const peapod_exit_record& record = records[i];
    SCOPED_TRACE("record " + std::to_string(i) + " pid " + std::to_string(record.pid));
    EXPECT_EQ(record.magic, PEAPOD_EXIT_RECORD_MAGIC);
    EXPECT_EQ(record.reserved, 0u);
    EXPECT_GT(record.pid, 1);
    EXPECT_LT(record.pid, 64) << "not a pod-namespace pid";
    pids.insert(record.pid);
    ASSERT_TRUE(WIFEXITED(record.wait_status)) << record.wait_status;
    if (record.pid == shell_pid) {
      ++shells;
      EXPECT_EQ(WEXITSTATUS(record.wait_status), 3);
    } else {
      EXPECT_EQ(WEXITSTATUS(record.wait_status), 0);
    }
    EXPECT_GE(record.realtime_ns, realtime_before);
    EXPECT_LE(record.realtime_ns, realtime_after);
    EXPECT_GE(record.boottime_ns, boottime_before);
    EXPECT_LE(record.boottime_ns, boottime_after);
    EXPECT_NEAR(static_cast<double>(record.realtime_ns - record.boottime_ns),
                static_cast<double>(realtime_before - boottime_before), 1e9);
    if (i > 0) {
      EXPECT_GE(record.boottime_ns, records[i - 1].boottime_ns) << "appended in reap order";
    }
  }
  EXPECT_EQ(shells, 1);
  EXPECT_EQ(pids.size(), 3u);

  std::string pod_pid_namespace =
      std::filesystem::read_symlink("/proc/" + std::to_string(pause.pid()) + "/ns/pid");
  EXPECT_EQ(ProcessesLeftBehind(pause.pid(), pod_pid_namespace, pause.pid()),
            std::vector<std::string>{})
      << "zombies or strays left in the pod";

  kill(pause.pid(), SIGTERM);
  auto status = pause.WaitForExit();
  ASSERT_TRUE(status.has_value() && WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

// Outside a PID namespace (hostPID pods, tests) pause still reaps its own children: here two it
// inherits across execve. The first is already a zombie when pause starts, so no SIGCHLD will
// announce it; it must be recorded while the second is still alive.
TEST(PauseOrdinaryProcess, ReapsInheritedChildrenIncludingOnesAlreadyDead) {
  Ledger ledger;
  int report[2], release[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(release, O_CLOEXEC), 0);
  ChildProcess pause = SpawnPause(
      {"--ledger-fd", std::to_string(ledger.fd())},
      {.ledger_fd = ledger.fd(), .before_exec = [&] {
         pid_t children[2] = {ForkShell("exit 7"),
                              ForkShell("read line; exit 9", release[0])};  // exits on EOF
         usleep(100'000);  // the first child is a zombie before pause starts
         if (write(report[1], children, sizeof children) != sizeof children) _exit(126);
       }});
  close(report[1]);
  close(release[0]);
  pid_t children[2] = {-1, -1};
  ASSERT_EQ(read(report[0], children, sizeof children), static_cast<ssize_t>(sizeof children));
  close(report[0]);

  std::vector<peapod_exit_record> records = ledger.WaitForRecords(1);
  ASSERT_EQ(records.size(), 1u) << "the zombie that was already dead is not recorded";
  EXPECT_EQ(records[0].pid, children[0]);
  EXPECT_TRUE(WIFEXITED(records[0].wait_status) && WEXITSTATUS(records[0].wait_status) == 7);

  close(release[1]);
  records = ledger.WaitForRecords(2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].pid, children[1]);
  EXPECT_TRUE(WIFEXITED(records[1].wait_status) && WEXITSTATUS(records[1].wait_status) == 9);
  EXPECT_EQ(ProcessesLeftBehind(pause.pid(), "", pause.pid()), std::vector<std::string>{});
}

// SIGCHLD is a standard signal: children that die while pause is stopped leave one pending
// SIGCHLD between them, and pause must still reap (and record) all of them.
TEST(PauseOrdinaryProcess, ReapsEveryChildWhenTheirSigchldsCoalesce) {
  constexpr int kChildren = 5;
  Ledger ledger;
  int report[2], release[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(release, O_CLOEXEC), 0);
  ChildProcess pause =
      SpawnPause({"--ledger-fd", std::to_string(ledger.fd())},
                 {.ledger_fd = ledger.fd(), .before_exec = [&] {
                    pid_t children[kChildren];
                    for (pid_t& child : children)
                      child = ForkShell("read line; exit 4", release[0]);
                    if (write(report[1], children, sizeof children) != sizeof children) _exit(126);
                  }});
  close(report[1]);
  close(release[0]);
  pid_t children[kChildren];
  ASSERT_EQ(read(report[0], children, sizeof children), static_cast<ssize_t>(sizeof children));
  close(report[0]);
  ASSERT_TRUE(WaitUntilPauseWaitsForSignals(pause.pid()));

  ASSERT_EQ(kill(pause.pid(), SIGSTOP), 0);
  ASSERT_TRUE(Eventually([&] { return StatusField(pause.pid(), "State").starts_with("T"); }));
  close(release[1]);  // every child reads EOF and exits
  for (pid_t child : children) {
    EXPECT_TRUE(Eventually([&] { return StatusField(child, "State").starts_with("Z"); })) << child;
  }
  ASSERT_EQ(kill(pause.pid(), SIGCONT), 0);

  std::vector<peapod_exit_record> records = ledger.WaitForRecords(kChildren);
  ASSERT_EQ(records.size(), static_cast<size_t>(kChildren));
  std::set<pid_t> recorded;
  for (const auto& record : records) {
    recorded.insert(record.pid);
    EXPECT_TRUE(WIFEXITED(record.wait_status) && WEXITSTATUS(record.wait_status) == 4);
  }
  EXPECT_EQ(recorded, std::set<pid_t>(std::begin(children), std::end(children)));
  EXPECT_EQ(ProcessesLeftBehind(pause.pid(), "", pause.pid()), std::vector<std::string>{});
  ASSERT_TRUE(WaitUntilPauseWaitsForSignals(pause.pid())) << "pause died after SIGSTOP/SIGCONT";
}

// SIG_IGN for SIGCHLD survives execve and would make the kernel reap children itself, statuses
// lost; pause must restore the default action.
TEST(PauseOrdinaryProcess, RecordsExitsEvenIfSigchldWasIgnoredAcrossExec) {
  Ledger ledger;
  ChildProcess pause = SpawnPause({"--ledger-fd", std::to_string(ledger.fd())},
                                  {.ledger_fd = ledger.fd(), .before_exec = [] {
                                     ForkShell("sleep 0.3; exit 5");
                                     signal(SIGCHLD, SIG_IGN);
                                   }});
  std::vector<peapod_exit_record> records = ledger.WaitForRecords(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(WIFEXITED(records[0].wait_status) && WEXITSTATUS(records[0].wait_status) == 5);
}

// A ledger that cannot be written (here: ENOSPC from /dev/full) must not stop pause reaping.
TEST(PauseOrdinaryProcess, KeepsReapingWhenTheLedgerWriteFails) {
  int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(full, 0);
  int report[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  ChildProcess pause = SpawnPause({"--ledger-fd", std::to_string(full)},
                                  {.ledger_fd = full, .before_exec = [&] {
                                     pid_t child = ForkShell("sleep 0.1; exit 1");
                                     if (write(report[1], &child, sizeof child) < 0) _exit(126);
                                   }});
  close(full);
  close(report[1]);
  pid_t child = -1;
  ASSERT_EQ(read(report[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  close(report[0]);

  EXPECT_TRUE(Eventually([&] {
    return !std::filesystem::exists("/proc/" + std::to_string(child));
  })) << "child "
      << child << " was not reaped";
  ASSERT_TRUE(WaitUntilPauseWaitsForSignals(pause.pid())) << "pause died";
  kill(pause.pid(), SIGTERM);
  auto status = pause.WaitForExit();
  ASSERT_TRUE(status.has_value() && WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
