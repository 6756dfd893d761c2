// Exec into real running containers: the exec'd process shares the container's namespaces,
// filesystem, identity, capabilities and cgroup; output, stdin, terminals, timeouts and failures;
// and nothing is left behind.
#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "peapod/runtime/cgroup.h"
#include "peapod/runtime/exec.h"
#include "peapod/runtime/security.h"
#include "support/cgroup_support.h"
#include "support/pod_fixture.h"

namespace peapod::testing {
namespace {

using namespace std::chrono_literals;
using runtime::ExecSpec;
using runtime::ExecSync;
using runtime::ExecSyncResult;

ExecSpec Shell(const std::string& command) {
  ExecSpec spec;
  spec.args = {"sh", "-c", command};
  return spec;
}

ExecSyncResult MustExec(const runtime::Container& c, const ExecSpec& spec,
                        std::chrono::milliseconds timeout = 20s) {
  auto r = ExecSync(c, spec, timeout);
  if (!r) throw std::runtime_error("exec: " + r.error().ToString());
  return std::move(*r);
}

// Direct children of this test process, other than pause (which a pod fixture owns).
std::vector<int> ChildrenExcept(int keep) {
  std::vector<int> children;
  DIR* proc = ::opendir("/proc");
  while (dirent* e = proc ? ::readdir(proc) : nullptr) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == keep) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = content.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(content.substr(close + 2));
    char state;
    int parent = 0;
    rest >> state >> parent;
    if (parent == ::getpid()) children.push_back(pid);
  }
  if (proc) ::closedir(proc);
  return children;
}

// Host pids whose command line is exactly `argv` (NUL-separated in /proc/<pid>/cmdline).
std::vector<int> ProcessesRunning(const std::vector<std::string>& argv) {
  std::string want;
  for (const auto& a : argv) want += a + '\0';
  std::vector<int> found;
  DIR* proc = ::opendir("/proc");
  while (dirent* e = proc ? ::readdir(proc) : nullptr) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmdline == want) found.push_back(pid);
  }
  if (proc) ::closedir(proc);
  return found;
}

// Reads `fd` until `needle` shows up (or EOF/EIO, or 10 s).
std::string ReadUntil(int fd, const std::string& needle) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (out.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class RuntimeExec : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!pod_) return;
    // Every exec helper was reaped and no exec'd process is left as our zombie.
    EXPECT_TRUE(ZombieChildren(::getpid()).empty());
    auto children = ChildrenExcept(pod_->sandbox().pause().pid);
    EXPECT_TRUE(children.empty()) << children.size() << " children left, first pid "
                                  << children.front();
    pod_.reset();
  }
  runtime::Container& Sleeper(runtime::ContainerSpec spec) { return pod_->Run(std::move(spec)); }
  runtime::Container& Sleeper() { return Sleeper(pod_->Spec("sleeper", "exec sleep 300")); }

  std::unique_ptr<PodFixture> pod_ = std::make_unique<PodFixture>();
};

TEST_F(RuntimeExec, ExecSyncCapturesStdoutStderrAndTheExitCode) {
  auto& c = Sleeper();
  auto r = MustExec(c, Shell("echo out; echo err >&2; exit 7"));
  EXPECT_EQ(r.stdout_data, "out\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_EQ(r.status.exit_code, 7);
  EXPECT_EQ(r.status.signal, 0);
  EXPECT_FALSE(r.timed_out);
}

TEST_F(RuntimeExec, SeesTheContainersFilesystemHostnameAndPidNamespace) {
  runtime::SandboxSpec sandbox;
  sandbox.hostname = "exec-host";
  pod_ = std::make_unique<PodFixture>(sandbox);
  auto& c = Sleeper(pod_->Spec("writer", "echo secret > /tmp/only-here; exec sleep 300"));
  std::string file;
  for (int i = 0; i < 100 && file.empty(); ++i) {
    file = MustExec(c, Shell("cat /tmp/only-here 2>/dev/null")).stdout_data;
    if (file.empty()) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(file, "secret\n");
  EXPECT_EQ(MustExec(c, Shell("hostname")).stdout_data, "exec-host\n");

  auto ps = MustExec(c, Shell("ps; echo pid=$$"));
  EXPECT_NE(ps.stdout_data.find("sleep 300"), std::string::npos) << ps.stdout_data;
  EXPECT_EQ(ps.stdout_data.find("pid=1\n"), std::string::npos) << ps.stdout_data;
  // The container's init is pid 1 in its own PID namespace, and that is the sleep.
  auto init = MustExec(c, Shell("cat /proc/1/cmdline | tr '\\0' ' '"));
  EXPECT_EQ(init.stdout_data, "sleep 300 ");
  // The default cwd and env are the container's.
  auto env = MustExec(c, Shell("pwd; echo $HOME"));
  EXPECT_EQ(env.stdout_data, "/\n/root\n");
}

TEST_F(RuntimeExec, CwdAndEnvCanBeGivenPerExec) {
  auto& c = Sleeper();
  auto spec = Shell("pwd; echo $GREETING");
  spec.cwd = "/etc";
  spec.env = {"PATH=/bin:/usr/bin", "GREETING=hi"};
  EXPECT_EQ(MustExec(c, spec).stdout_data, "/etc\nhi\n");
}

TEST_F(RuntimeExec, RunsWithTheContainersUserAndCapabilities) {
  auto spec = pod_->Spec("user", "exec sleep 300");
  spec.uid = 1000;
  spec.gid = 1000;
  spec.additional_gids = {2000};
  runtime::SecurityPlan plan;
  uint64_t caps = runtime::DefaultCapabilities();
  plan.capabilities = runtime::ClampToCurrentProcess(runtime::ContainerCapabilitySet(caps), "user");
  plan.last_cap = runtime::KernelLastCapability();
  plan.no_new_privs = true;
  auto seccomp = runtime::CompileRuntimeDefaultSeccomp(caps);
  ASSERT_TRUE(seccomp.has_value()) << seccomp.error().ToString();
  plan.seccomp = std::move(*seccomp);
  spec.security = plan;
  auto& c = Sleeper(spec);

  auto r = MustExec(c, Shell("id -u; id -g; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' "
                             "/proc/self/status"));
  EXPECT_EQ(r.status.exit_code, 0) << r.stderr_data;
  std::string out = r.stdout_data;
  EXPECT_EQ(out.rfind("1000\n1000\n1000 2000\n", 0), 0u) << out;
  EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
  char bounding[32];
  std::snprintf(bounding, sizeof(bounding), "CapBnd:\t%016llx",
                static_cast<unsigned long long>(caps));
  EXPECT_NE(out.find(bounding), std::string::npos) << out;
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
  EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
}

TEST_F(RuntimeExec, TimeoutKillsTheProcess) {
  auto& c = Sleeper();
  ExecSpec spec;
  spec.args = {"sleep", "1007"};
  auto start = std::chrono::steady_clock::now();
  auto r = ExecSync(c, spec, 300ms);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->status.signal, SIGKILL) << r->status.ToString();
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(ProcessesRunning({"sleep", "1007"}).empty());
  EXPECT_TRUE(c.Running());
}

TEST_F(RuntimeExec, LargeOutputOnBothStreamsIsCapturedFully) {
  auto& c = Sleeper();
  auto r = MustExec(c, Shell("head -c 2097152 /dev/zero | tr '\\0' o & "
                             "head -c 2097152 /dev/zero | tr '\\0' e >&2; wait"));
  EXPECT_EQ(r.status.exit_code, 0);
  EXPECT_EQ(r.stdout_data.size(), 2097152u);
  EXPECT_EQ(r.stderr_data.size(), 2097152u);
  EXPECT_EQ(r.stdout_data.find_first_not_of('o'), std::string::npos);
  EXPECT_EQ(r.stderr_data.find_first_not_of('e'), std::string::npos);
}

TEST_F(RuntimeExec, OutputBeyondTheCapIsDropped) {
  auto& c = Sleeper();
  auto r = ExecSync(c, Shell("head -c 100000 /dev/zero"), 20s, 1000);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->stdout_data.size(), 1000u);
  EXPECT_EQ(r->status.exit_code, 0);
}

TEST_F(RuntimeExec, MissingExecutableIsAnErrorNamingIt) {
  auto& c = Sleeper();
  ExecSpec spec;
  spec.args = {"no-such-binary"};
  auto r = ExecSync(c, spec, 5s);
  ASSERT_FALSE(r.has_value());
  // A missing binary is no missing container: never kNotFound (the CRI's "no such id").
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("no-such-binary"), std::string::npos) << r.error().ToString();
  EXPECT_NE(r.error().message.find("sleeper"), std::string::npos) << r.error().ToString();

  spec.args = {"true"};
  spec.cwd = "/no/such/dir";
  r = ExecSync(c, spec, 5s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("/no/such/dir"), std::string::npos) << r.error().ToString();
}

TEST_F(RuntimeExec, StdinIsPipedUntilClosed) {
  auto& c = Sleeper();
  ExecSpec spec;
  spec.args = {"cat"};
  spec.stdin = true;
  auto proc = runtime::StartExec(c, spec);
  ASSERT_TRUE(proc.has_value()) << proc.error().ToString();
  std::string text = "hello through stdin\n";
  ASSERT_EQ(::write((*proc)->stdin_fd(), text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  EXPECT_EQ(ReadUntil((*proc)->stdout_fd(), "\n"), text);
  auto running = (*proc)->Wait(50ms);
  ASSERT_FALSE(running.has_value());
  EXPECT_EQ(running.error().code, ErrorCode::kDeadlineExceeded);
  (*proc)->CloseStdin();
  auto status = (*proc)->Wait(5s);
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(status->exit_code, 0);
}

TEST_F(RuntimeExec, TerminalHasTheSizeItWasResizedTo) {
  auto& c = Sleeper();
  ExecSpec spec;
  spec.args = {"sh", "-c", "read line; stty size; tty"};
  spec.tty = true;
  spec.stdin = true;
  auto proc = runtime::StartExec(c, spec);
  ASSERT_TRUE(proc.has_value()) << proc.error().ToString();
  int master = (*proc)->pty_master_fd();
  ASSERT_GE(master, 0);
  EXPECT_LT((*proc)->stdout_fd(), 0);
  ASSERT_TRUE((*proc)->Resize(40, 100).has_value());
  ASSERT_EQ(::write(master, "go\n", 3), 3);
  std::string out = ReadUntil(master, "/dev/pts/");
  out += ReadUntil(master, "\n");
  EXPECT_NE(out.find("40 100\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
  auto status = (*proc)->Wait(5s);
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(status->exit_code, 0);
}

TEST_F(RuntimeExec, ExecSyncWithATerminalCollectsItsOutput) {
  auto& c = Sleeper();
  auto spec = Shell("tty; echo err >&2; exit 3");
  spec.tty = true;
  auto r = MustExec(c, spec);
  EXPECT_EQ(r.status.exit_code, 3);
  EXPECT_EQ(r.stdout_data.rfind("/dev/pts/", 0), 0u) << r.stdout_data;
  EXPECT_NE(r.stdout_data.find("\r\nerr\r\n"), std::string::npos) << r.stdout_data;
  EXPECT_TRUE(r.stderr_data.empty());
}

TEST_F(RuntimeExec, ResizeWithoutTerminalFails) {
  auto& c = Sleeper();
  auto proc = runtime::StartExec(c, Shell("sleep 100"));
  ASSERT_TRUE(proc.has_value()) << proc.error().ToString();
  auto resized = (*proc)->Resize(10, 10);
  ASSERT_FALSE(resized.has_value());
  EXPECT_EQ(resized.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(RuntimeExec, DestroyingARunningExecKillsItAndReapsTheHelper) {
  auto& c = Sleeper();
  pid_t pid = 0;
  {
    ExecSpec spec;
    spec.args = {"sleep", "2003"};
    auto proc = runtime::StartExec(c, spec);
    ASSERT_TRUE(proc.has_value()) << proc.error().ToString();
    pid = (*proc)->pid();
    EXPECT_EQ(ProcessesRunning({"sleep", "2003"}), std::vector<int>{pid});
  }
  EXPECT_TRUE(ProcessesRunning({"sleep", "2003"}).empty());
}

TEST_F(RuntimeExec, ExecIntoAnExitedContainerIsAFailedPrecondition) {
  auto& c = pod_->Run(pod_->Spec("quick", "exit 0"));
  pod_->WaitExit(c);
  auto r = ExecSync(c, Shell("true"), 5s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition) << r.error().ToString();
}

TEST_F(RuntimeExec, SharedPidNamespaceExecSeesEveryContainer) {
  auto& a = Sleeper(pod_->Spec("a", "exec sleep 301", runtime::PidMode::kPod));
  Sleeper(pod_->Spec("b", "exec sleep 302", runtime::PidMode::kPod));
  auto r = MustExec(a, Shell("ps"));
  EXPECT_NE(r.stdout_data.find("sleep 301"), std::string::npos) << r.stdout_data;
  EXPECT_NE(r.stdout_data.find("sleep 302"), std::string::npos) << r.stdout_data;
}

// Speed is measured in bench/, not asserted here: this only checks that exec after exec works
// and that every helper is reaped (the fixture's teardown checks for zombies and children).
TEST_F(RuntimeExec, ManyExecsInARowAllSucceedAndLeaveNothing) {
  auto& c = Sleeper();
  ExecSpec spec;
  spec.args = {"true"};
  for (int i = 0; i < 50; ++i) {
    auto r = MustExec(c, spec);
    ASSERT_EQ(r.status.exit_code, 0) << "exec " << i;
  }
}

class CgroupedExec : public RuntimeExec {
 protected:
  void SetUp() override {
    auto driver = runtime::CgroupDriver::Detect();
    ASSERT_TRUE(driver.has_value()) << driver.error().ToString();
    driver_ = std::make_shared<const runtime::CgroupDriver>(std::move(*driver));
    parent_ = "peapod-exec-test-" + std::to_string(::getpid());
    manager_.emplace(driver_, runtime::CgroupManagerOptions{.parent = parent_});
  }
  void TearDown() override {
    container_.reset();
    RuntimeExec::TearDown();
    if (driver_) {
      auto removed = runtime::Cgroup(driver_, "/" + parent_).Remove();
      EXPECT_TRUE(removed.has_value()) << removed.error().ToString();
    }
  }
  RootSubtreeControlRestorer restore_root_;
  std::shared_ptr<const runtime::CgroupDriver> driver_;
  std::string parent_;
  std::optional<runtime::CgroupManager> manager_;
  std::unique_ptr<runtime::Container> container_;
};

TEST_F(CgroupedExec, ExecRunsInTheContainersCgroup) {
  auto spec = pod_->Spec("grouped", "exec sleep 300");
  auto cgroup = manager_->CreateContainer(pod_->sandbox().spec().id, spec.id, {});
  ASSERT_TRUE(cgroup.has_value()) << cgroup.error().ToString();
  auto c = runtime::Container::Create(spec, &pod_->logs());
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  container_ = std::move(*c);
  container_->AttachCgroup(*cgroup);
  ASSERT_TRUE(container_->Start().has_value());

  auto init = MustExec(*container_, Shell("cat /proc/1/cgroup"));
  auto exec = MustExec(*container_, Shell("cat /proc/self/cgroup"));
  EXPECT_FALSE(exec.stdout_data.empty());
  EXPECT_EQ(exec.stdout_data, init.stdout_data);
  // In the container's cgroup namespace both see its cgroup as the root, no host path.
  EXPECT_EQ(exec.stdout_data.find(cgroup->path()), std::string::npos) << exec.stdout_data;
  EXPECT_NE(exec.stdout_data.find("0::/\n"), std::string::npos) << exec.stdout_data;

  // The exec is counted among the cgroup's processes while it runs.
  ExecSpec sleep;
  sleep.args = {"sleep", "50"};
  auto proc = runtime::StartExec(*container_, sleep);
  ASSERT_TRUE(proc.has_value()) << proc.error().ToString();
  auto procs = cgroup->Processes();
  ASSERT_TRUE(procs.has_value());
  EXPECT_NE(std::find(procs->begin(), procs->end(), (*proc)->pid()), procs->end());
  proc->reset();

  (void)container_->Stop(SIGKILL, 0ms);
  (void)container_->Wait(5s);
  EXPECT_TRUE(container_->Destroy().has_value());
}

}  // namespace
}  // namespace peapod::testing
