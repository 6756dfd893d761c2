// The runtime core against the real kernel: pause in fresh namespaces, containers joining them,
// exit statuses through the ledger, CRI logs, and clean failure.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "peapod/runtime/exit_ledger.h"
#include "support/pod_fixture.h"

namespace peapod::testing {
namespace {

using runtime::PidMode;
using namespace std::chrono_literals;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(RuntimePod, ContainersShareLocalhostAndThePodsNamespaces) {
  PodFixture pod;
  auto server_spec = pod.Spec(
      "server", "echo hello-from-server > /tmp/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp");
  auto& server = pod.Run(server_spec);
  auto& client = pod.Run(pod.Spec(
      "client",
      "for i in $(seq 100); do wget -q -O- http://127.0.0.1:8080/index.html && exit 0; "
      "sleep 0.1; done; exit 1"));

  EXPECT_EQ(pod.WaitExit(client).exit_code, 0) << pod.Log(client);
  EXPECT_NE(pod.Log(client).find("stdout F hello-from-server"), std::string::npos)
      << pod.Log(client);

  int pause = pod.sandbox().pause().pid;
  int server_pid = server.process().host.pid;
  for (const char* ns : {"net", "ipc", "uts"}) {
    EXPECT_NE(NamespaceInode(pause, ns), 0u);
    EXPECT_EQ(NamespaceInode(server_pid, ns), NamespaceInode(pause, ns)) << ns;
    EXPECT_NE(NamespaceInode(server_pid, ns), NamespaceInode(getpid(), ns)) << ns;
  }
  // Each container has its own mount namespace.
  EXPECT_NE(NamespaceInode(server_pid, "mnt"), NamespaceInode(getpid(), "mnt"));
}

TEST(RuntimePod, ContainerSeesThePodsHostnameAndLoopbackIsUp) {
  runtime::SandboxSpec spec;
  spec.hostname = "peapod-test-host";
  PodFixture pod(spec);
  auto& c = pod.Run(pod.Spec("c", "hostname; ip link show lo"));
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0) << pod.Log(c);
  std::string log = pod.Log(c);
  EXPECT_NE(log.find("stdout F peapod-test-host"), std::string::npos) << log;
  EXPECT_NE(log.find("UP"), std::string::npos) << log;
}

TEST(RuntimePod, SharedPidNamespaceLetsOneContainerSignalAnother) {
  TempDir shared("peapod-shared");
  PodFixture pod;
  auto a_spec = pod.Spec("a",
                         "trap 'echo got-hup; exit 0' HUP; echo $$ > /shared/a.pid; "
                         "while true; do sleep 0.05; done",
                         PidMode::kPod);
  a_spec.mounts.push_back({"/shared", "bind", shared.path(), "", false, {}});
  auto& a = pod.Run(a_spec);
  auto b_spec = pod.Spec("b",
                         "while [ ! -s /shared/a.pid ]; do sleep 0.05; done; ps; "
                         "kill -HUP $(cat /shared/a.pid)",
                         PidMode::kPod);
  b_spec.mounts.push_back({"/shared", "bind", shared.path(), "", false, {}});
  auto& b = pod.Run(b_spec);

  EXPECT_EQ(pod.WaitExit(b).exit_code, 0) << pod.Log(b);
  EXPECT_EQ(pod.WaitExit(a).exit_code, 0) << pod.Log(a);
  EXPECT_NE(pod.Log(a).find("stdout F got-hup"), std::string::npos) << pod.Log(a);
  // b's ps lists a's loop: they share one process tree, whose init is pause.
  EXPECT_NE(pod.Log(b).find("while true"), std::string::npos) << pod.Log(b);
  EXPECT_NE(pod.Log(b).find("peapod-pause"), std::string::npos) << pod.Log(b);
}

TEST(RuntimePod, WithoutSharingEachEntrypointIsPidOneOfItsOwnNamespace) {
  PodFixture pod;
  auto& sleeper = pod.Run(pod.Spec("sleeper", "exec sleep 30"));
  auto& c = pod.Run(pod.Spec("c", "echo pid=$$; ps"));
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0);
  std::string log = pod.Log(c);
  EXPECT_NE(log.find("stdout F pid=1"), std::string::npos) << log;
  EXPECT_EQ(log.find("sleep 30"), std::string::npos) << log;
  EXPECT_EQ(log.find("peapod-pause"), std::string::npos) << log;
  // Still a descendant of pause: its nested namespace lives inside the pod's.
  auto ns_pids = runtime::ReadNamespacePids(sleeper.process().host.pid);
  ASSERT_TRUE(ns_pids.has_value());
  EXPECT_EQ(ns_pids->size(), 3u);
  EXPECT_EQ(ns_pids->back(), 1);
}

TEST(RuntimePod, OrphansLeftBehindAreReapedByPause) {
  PodFixture pod;
  auto& c = pod.Run(pod.Spec("orphans", "sleep 1 & sleep 1 & exit 0", PidMode::kPod));
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0);
  int pause = pod.sandbox().pause().pid;
  // Wait (bounded) until both sleeps have exited and been recorded by pause.
  runtime::ExitLedger ledger(pod.sandbox().LedgerPath());
  size_t records = 0;
  for (int i = 0; i < 100 && records < 3; ++i) {
    std::this_thread::sleep_for(50ms);
    auto all = ledger.ReadAll();
    ASSERT_TRUE(all.has_value());
    records = all->size();
  }
  EXPECT_GE(records, 3u);  // the shell and its two orphans
  EXPECT_TRUE(ZombieChildren(pause).empty());
}

TEST(RuntimePod, ExitCodeAndKillSignalAreReported) {
  PodFixture pod;
  auto& three = pod.Run(pod.Spec("three", "exit 3"));
  auto status = pod.WaitExit(three);
  EXPECT_FALSE(status.unknown);
  EXPECT_EQ(status.signal, 0);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_GT(status.finished_at_ns, 0);

  auto& sleeper = pod.Run(pod.Spec("sleeper", "exec sleep 100"));
  ASSERT_TRUE(sleeper.Stop(SIGKILL, 0ms).has_value());
  status = pod.WaitExit(sleeper);
  EXPECT_EQ(status.signal, SIGKILL);
  EXPECT_EQ(status.ShellCode(), 137);
}

TEST(RuntimePod, StopSendsTheSignalThenKillsAfterTheGracePeriod) {
  PodFixture pod;
  auto& polite = pod.Run(pod.Spec("polite", "trap 'exit 0' TERM; while true; do sleep 0.05; done"));
  // sh as PID 1 only sees TERM once the trap is installed: wait for it to be running.
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(polite.Stop(SIGTERM, 10s).has_value());
  EXPECT_EQ(pod.WaitExit(polite).exit_code, 0);

  // PID 1 without a handler ignores SIGTERM: the grace period runs out and SIGKILL follows.
  auto& stubborn = pod.Run(pod.Spec("stubborn", "exec sleep 100"));
  ASSERT_TRUE(stubborn.Stop(SIGTERM, 300ms).has_value());
  EXPECT_EQ(pod.WaitExit(stubborn).signal, SIGKILL);
}

TEST(RuntimePod, ExitWhileNobodyWatchesIsReadBackFromTheLedger) {
  PodFixture pod;
  auto spec = pod.Spec("detached", "sleep 0.3; exit 7");
  auto& c = pod.Run(spec);
  runtime::ContainerProcess proc = c.process();
  pod.Forget(c);  // the agent's object is gone; the process runs on
  for (int i = 0; i < 200 && runtime::IsRunning(proc.host); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(runtime::IsRunning(proc.host));

  auto adopted = runtime::Container::Adopt(spec, proc, nullptr);
  ASSERT_TRUE(adopted.has_value()) << adopted.error().ToString();
  auto status = (*adopted)->Wait(5s);
  ASSERT_TRUE(status.has_value() && status->has_value());
  EXPECT_FALSE((*status)->unknown);
  EXPECT_EQ((*status)->exit_code, 7);
}

TEST(RuntimePod, AdoptedRunningContainerIsStillWatchedAndLogged) {
  PodFixture pod;
  auto spec = pod.Spec("longer", "echo before; sleep 0.5; echo after; exit 5");
  auto& c = pod.Run(spec);
  runtime::ContainerProcess proc = c.process();
  pod.Forget(c);
  auto adopted = runtime::Container::Adopt(spec, proc, &pod.logs());
  ASSERT_TRUE(adopted.has_value()) << adopted.error().ToString();
  EXPECT_TRUE((*adopted)->Running());
  auto status = (*adopted)->Wait(10s);
  ASSERT_TRUE(status.has_value() && status->has_value());
  EXPECT_EQ((*status)->exit_code, 5);
  std::string log = ReadFile(spec.log_path);
  EXPECT_NE(log.find("stdout F after"), std::string::npos) << log;
}

TEST(RuntimePod, LogsUseTheCriFormatForBothStreamsAndSplitLongLines) {
  PodFixture pod;
  auto& c = pod.Run(pod.Spec(
      "logger", "echo out-line; echo err-line >&2; head -c 40960 /dev/zero | tr '\\0' x; echo"));
  ASSERT_EQ(pod.WaitExit(c).exit_code, 0);
  auto lines = Lines(pod.Log(c));
  std::regex format(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) .*$)");
  std::vector<std::string> long_tags;
  size_t long_bytes = 0;
  bool saw_out = false, saw_err = false;
  for (const auto& line : lines) {
    EXPECT_TRUE(std::regex_match(line, format)) << line.substr(0, 80);
    if (line.ends_with(" stdout F out-line")) saw_out = true;
    if (line.ends_with(" stderr F err-line")) saw_err = true;
    auto space = line.find(' ', line.find(' ', line.find(' ') + 1) + 1);
    std::string text = line.substr(space + 1);
    if (!text.empty() && text[0] == 'x') {
      long_tags.push_back(line.substr(space - 1, 1));
      long_bytes += text.size();
    }
  }
  EXPECT_TRUE(saw_out);
  EXPECT_TRUE(saw_err);
  EXPECT_EQ(long_tags, (std::vector<std::string>{"P", "P", "F"}));
  EXPECT_EQ(long_bytes, 40960u);
}

TEST(RuntimePod, MissingExecutableFailsWithItsNameAndLeavesNothing) {
  PodFixture pod;
  auto spec = pod.Spec("missing", "");
  spec.args = {"no-such-command"};
  auto c = runtime::Container::Create(spec, &pod.logs());
  ASSERT_TRUE(c.has_value());
  auto started = (*c)->Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().ToString().find("\"no-such-command\" not found in $PATH"),
            std::string::npos)
      << started.error().ToString();
  EXPECT_FALSE((*c)->Running());

  spec.args = {"/bin/not-here"};
  c = runtime::Container::Create(spec, &pod.logs());
  started = (*c)->Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().ToString().find("/bin/not-here"), std::string::npos);
  EXPECT_NE(started.error().ToString().find("No such file"), std::string::npos);
  ASSERT_TRUE((*c)->Destroy().has_value());
  EXPECT_FALSE(std::filesystem::exists(spec.run_dir + "/missing.stdout"));
  EXPECT_TRUE(ZombieChildren(pod.sandbox().pause().pid).empty());
  EXPECT_TRUE(ZombieChildren(getpid()).empty());
  EXPECT_TRUE(MountsUnder(spec.rootfs).empty());
}

TEST(RuntimePod, BadWorkingDirectoryFailsWithItsName) {
  PodFixture pod;
  auto spec = pod.Spec("badcwd", "pwd");
  spec.cwd = "/bin/busybox/sub";  // below a regular file
  auto c = runtime::Container::Create(spec, &pod.logs());
  ASSERT_TRUE(c.has_value());
  auto started = (*c)->Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_NE(started.error().ToString().find("working directory \"/bin/busybox/sub\""),
            std::string::npos)
      << started.error().ToString();
  EXPECT_TRUE(MountsUnder(spec.rootfs).empty());

  spec.cwd = "../relative";
  EXPECT_FALSE(runtime::Container::Create(spec, &pod.logs()).has_value());
}

TEST(RuntimePod, MissingWorkingDirectoryIsCreatedAsRuncDoes) {
  PodFixture pod;
  auto spec = pod.Spec("newcwd", "pwd");
  spec.cwd = "/tmp/work/dir";
  auto& c = pod.Run(spec);
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0);
  EXPECT_NE(pod.Log(c).find("stdout F /tmp/work/dir"), std::string::npos);
}

TEST(RuntimePod, UserGroupsReadOnlyMountsAndDevicesApply) {
  TempDir data("peapod-data");
  WriteFile(data / "hello", "hi\n");
  std::filesystem::permissions(data.path(), std::filesystem::perms(0755));
  PodFixture pod;
  auto spec = pod.Spec("user",
                       "id; cat /data/hello; touch /data/x 2>&1 || echo ro-refused; "
                       "ls -l /dev/null /dev/ptmx; mount | grep -c ' /proc '");
  spec.uid = 1000;
  spec.gid = 1000;
  spec.additional_gids = {100, 5};
  spec.mounts.push_back({"/data", "bind", data.path(), "", true, {}});
  auto& c = pod.Run(spec);
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0) << pod.Log(c);
  std::string log = pod.Log(c);
  EXPECT_NE(log.find("uid=1000(app) gid=1000(app) groups=5(tty),100(users)"), std::string::npos)
      << log;
  EXPECT_NE(log.find("stdout F hi"), std::string::npos) << log;
  EXPECT_NE(log.find("ro-refused"), std::string::npos) << log;
  EXPECT_NE(log.find("/dev/ptmx -> pts/ptmx"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(data / "x"));
}

TEST(RuntimePod, HostNamespacesAreSharedWhenAsked) {
  runtime::SandboxSpec spec;
  spec.new_network = false;
  spec.new_pid = false;
  PodFixture pod(spec);
  EXPECT_EQ(pod.sandbox().NamespacePath(runtime::Namespace::kNetwork), "");
  auto& c = pod.Run(pod.Spec("hostnet", "exec sleep 30", PidMode::kHost));
  EXPECT_EQ(NamespaceInode(c.process().host.pid, "net"), NamespaceInode(getpid(), "net"));
  EXPECT_EQ(NamespaceInode(c.process().host.pid, "pid"), NamespaceInode(getpid(), "pid"));
  EXPECT_NE(NamespaceInode(c.process().host.pid, "ipc"), NamespaceInode(getpid(), "ipc"));
  ASSERT_TRUE(c.Stop(SIGKILL, 0ms).has_value());
  // Without a pod PID namespace the agent (subreaper) reaps and reports the exit itself.
  EXPECT_EQ(pod.WaitExit(c).signal, SIGKILL);
}

TEST(RuntimeSandbox, DestroyLeavesNoPinsProcessesOrDirectories) {
  TempDir dir("peapod-sandbox");
  runtime::SandboxSpec spec{.id = "teardown", .run_dir = dir / "run",
                            .pause_binary = PEAPOD_PAUSE_BINARY};
  auto sandbox = runtime::Sandbox::Start(spec);
  ASSERT_TRUE(sandbox.has_value()) << sandbox.error().ToString();
  auto pause = (*sandbox)->pause();
  EXPECT_TRUE(runtime::IsRunning(pause));
  EXPECT_EQ(MountsUnder(spec.run_dir).size(), 4u);
  EXPECT_EQ(NamespaceInode(pause.pid, "net"),
            [&] {
              struct stat st {};
              ::stat((*sandbox)->NamespacePath(runtime::Namespace::kNetwork).c_str(), &st);
              return st.st_ino;
            }());
  ASSERT_TRUE((*sandbox)->Destroy().has_value());
  EXPECT_FALSE(runtime::IsRunning(pause));
  EXPECT_TRUE(MountsUnder(spec.run_dir).empty());
  EXPECT_FALSE(std::filesystem::exists(spec.run_dir));
  EXPECT_TRUE((*sandbox)->Destroy().has_value());  // idempotent
}

TEST(RuntimeSandbox, FailedStartNamesTheProblemAndLeavesNothing) {
  TempDir dir("peapod-sandbox");
  runtime::SandboxSpec spec{.id = "bad-sysctl", .run_dir = dir / "run",
                            .pause_binary = PEAPOD_PAUSE_BINARY,
                            .sysctls = {{"net.ipv4.no_such_knob", "1"}}};
  auto sandbox = runtime::Sandbox::Start(spec);
  ASSERT_FALSE(sandbox.has_value());
  EXPECT_NE(sandbox.error().ToString().find("net.ipv4.no_such_knob"), std::string::npos)
      << sandbox.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(spec.run_dir));
  EXPECT_TRUE(ZombieChildren(getpid()).empty());

  spec.sysctls.clear();
  spec.pause_binary = dir / "no-pause";
  sandbox = runtime::Sandbox::Start(spec);
  ASSERT_FALSE(sandbox.has_value());
  EXPECT_NE(sandbox.error().ToString().find("no-pause"), std::string::npos);
}

TEST(RuntimeSandbox, NamespacedSysctlsApplyInsideThePod) {
  runtime::SandboxSpec spec;
  spec.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "80"}};
  PodFixture pod(spec);
  auto& c = pod.Run(pod.Spec("c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"));
  EXPECT_EQ(pod.WaitExit(c).exit_code, 0);
  EXPECT_NE(pod.Log(c).find("stdout F 80"), std::string::npos) << pod.Log(c);
}

}  // namespace
}  // namespace peapod::testing
