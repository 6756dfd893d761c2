// State that survives the agent: a real peapodd killed with SIGKILL (or made to _exit(137) at
// a named crash point through PEAPOD_CRASH_AT, the one failure a real kill cannot aim at) and
// restarted on the same roots. Pods and containers keep their ids and states, exits that
// happened meanwhile are reported, half-made objects are removed, and nothing leaks: no
// mounts, namespace pins, pause processes, veths, host-local leases, pod cgroups, CNI cache
// entries or container dirs.
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cri_test_fixture.h"
#include "peapod/runtime/process.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class CriRecovery : public CriBusyboxTest {
 protected:
  v1::PodSandboxConfig PodConfig(const std::string& name) {
    auto config = TestPodConfig(name);
    config.set_log_directory(daemon_->log_dir() + "/" + name);
    return config;
  }

  v1::ContainerConfig Config(const std::string& name, std::vector<std::string> command) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    for (auto& c : command) config.add_command(c);
    config.set_log_path(name + ".log");
    return config;
  }

  grpc::Status Create(const std::string& pod_id, const v1::PodSandboxConfig& pod_config,
                      const v1::ContainerConfig& config, std::string* id) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod_config;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    if (id != nullptr) *id = resp.container_id();
    return status;
  }

  // Creates and starts; fails the test on error.
  std::string RunContainer(const std::string& pod_id, const v1::PodSandboxConfig& pod_config,
                           const v1::ContainerConfig& config) {
    std::string id;
    auto status = Create(pod_id, pod_config, config, &id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    status = Start(id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return id;
  }

  v1::ContainerStatus ContainerStatusOf(const std::string& id) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    auto status = CriCall(runtime(), &Stub::ContainerStatus, req, &resp);
    EXPECT_TRUE(status.ok()) << id << ": " << Describe(status);
    return resp.status();
  }

  // SIGKILL, as a node agent dies; the pods stay as they are.
  void KillDaemon() {
    int status = daemon_->Terminate(SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "wait status " << status;
  }

  void RestartDaemon(const std::vector<std::string>& env = {}) {
    auto restarted = daemon_->Restart(env);
    ASSERT_TRUE(restarted) << restarted.error().ToString();
  }

  // Removes every pod through CRI, then checks that nothing of them is left on the node.
  void RemoveAllAndExpectNoLeftovers() {
    for (const auto& pod : ListPods()) {
      auto status = RemovePod(pod.id());
      EXPECT_TRUE(status.ok()) << Describe(status);
    }
    EXPECT_TRUE(ListPods().empty());
    EXPECT_TRUE(ListContainers().empty());
    ExpectNoLeftovers();
  }

  void ExpectNoLeftovers() {
    auto left = daemon_->Leftovers();
    EXPECT_TRUE(left.empty()) << JoinLines(left);
    EXPECT_TRUE(network_->BridgePorts().empty()) << JoinLines(network_->BridgePorts());
    EXPECT_TRUE(network_->Leases().empty()) << JoinLines(network_->Leases());
  }
};

// How many processes run with exactly this command line (arguments separated by spaces).
int ProcessesWithCommandLine(const std::string& wanted) {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline == wanted) ++count;
  }
  return count;
}

// The numbers of the "line N" lines in a CRI log file, in order.
std::vector<int> LoggedLineNumbers(const std::string& path) {
  std::vector<int> numbers;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto at = line.find(" line ");
    if (at != std::string::npos) numbers.push_back(std::stoi(line.substr(at + 6)));
  }
  return numbers;
}

TEST_F(CriRecovery, KillNineKeepsPodsRunningAndReportsExitsThatHappenedWhileDown) {
  auto config_a = PodConfig("survivor-a");
  auto config_b = PodConfig("survivor-b");
  std::string pod_a, pod_b;
  ASSERT_TRUE(RunPod(config_a, &pod_a).ok());
  ASSERT_TRUE(RunPod(config_b, &pod_b).ok());
  std::string writer = RunContainer(
      pod_b, config_b,
      Config("writer",
             {"sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done"}));
  std::string sleeper = RunContainer(pod_a, config_a, Config("sleeper", {"sleep", "3600"}));
  // Started last, so it is still running when the agent dies right after.
  std::string exiter =
      RunContainer(pod_a, config_a, Config("exiter", {"sh", "-c", "sleep 5; exit 3"}));
  ASSERT_FALSE(HasFailure());
  v1::PodSandboxStatusResponse before_a;
  ASSERT_TRUE(PodStatus(pod_a, &before_a).ok());
  ASSERT_NO_FATAL_FAILURE(KillDaemon());
  int64_t killed_at = runtime::NowRealtimeNs();
  // The exiter ends (exit 3) while nobody is there to see it; pause records it in its ledger.
  std::this_thread::sleep_for(std::chrono::seconds(7));
  ASSERT_NO_FATAL_FAILURE(RestartDaemon());

  auto pods = ListPods();
  ASSERT_EQ(pods.size(), 2u);
  for (const auto& pod : pods) {
    EXPECT_TRUE(pod.id() == pod_a || pod.id() == pod_b) << pod.id();
    EXPECT_EQ(pod.state(), v1::SANDBOX_READY) << pod.id();
  }

  v1::PodSandboxStatusResponse after_a;
  ASSERT_TRUE(PodStatus(pod_a, &after_a).ok());
  EXPECT_EQ(after_a.status().network().ip(), before_a.status().network().ip());
  EXPECT_EQ(after_a.status().created_at(), before_a.status().created_at());

  EXPECT_EQ(ListContainers().size(), 3u);
  EXPECT_EQ(ContainerStatusOf(sleeper).state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(ContainerStatusOf(writer).state(), v1::CONTAINER_RUNNING);
  auto exited = ContainerStatusOf(exiter);
  EXPECT_EQ(exited.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(exited.exit_code(), 3);
  EXPECT_EQ(exited.reason(), "Error");
  EXPECT_GT(exited.finished_at(), killed_at);

  // The writer's log keeps growing through the new agent, and no line was lost meanwhile.
  std::string log = config_b.log_directory() + "/writer.log";
  size_t at_restart = LoggedLineNumbers(log).size();
  std::vector<int> numbers;
  for (int i = 0; i < 100; ++i) {
    numbers = LoggedLineNumbers(log);
    if (numbers.size() > at_restart + 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(numbers.size(), at_restart + 5) << "the log stopped growing after the restart";
  for (size_t i = 0; i < numbers.size(); ++i) ASSERT_EQ(numbers[i], static_cast<int>(i));

  // The adopted containers are still fully manageable.
  v1::StopContainerRequest stop;
  stop.set_container_id(sleeper);
  stop.set_timeout(0);
  v1::StopContainerResponse stop_resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::StopContainer, stop, &stop_resp).ok());
  EXPECT_EQ(ContainerStatusOf(sleeper).state(), v1::CONTAINER_EXITED);

  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriRecovery, APodWhosePauseDiedWhileDownIsNotReadyAndStillRemovable) {
  auto config = PodConfig("orphan");
  std::string pod;
  ASSERT_TRUE(RunPod(config, &pod).ok());
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(pod);
  req.set_verbose(true);
  v1::PodSandboxStatusResponse resp;
  ASSERT_TRUE(CriCall(runtime(), &Stub::PodSandboxStatus, req, &resp).ok());
  pid_t pause = std::stoi(resp.info().at("pid"));
  ASSERT_GT(pause, 1);
  ASSERT_NO_FATAL_FAILURE(KillDaemon());
  // Our own test's pause, killed by the pid the agent reported.
  ASSERT_EQ(::kill(pause, SIGKILL), 0);
  for (int i = 0; i < 100 && ::kill(pause, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NO_FATAL_FAILURE(RestartDaemon());
  auto pods = ListPods();
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].state(), v1::SANDBOX_NOTREADY);
  RemoveAllAndExpectNoLeftovers();
}

// One window of RunPodSandbox, CreateContainer or StartContainer: the agent dies there.
struct CrashCase {
  const char* point;
  enum Kind { kSandbox, kContainerCreate, kContainerStart } kind;
  // True when the object was recorded whole before the crash and must be there afterwards.
  bool survives;
};

class CriCrashPoint : public CriRecovery, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CriCrashPoint, RestartFinishesOrRemovesTheHalfMadeObjectAndLeaksNothing) {
  const CrashCase& c = GetParam();
  auto config = PodConfig("crash");
  std::string pod, container;
  auto container_config = Config("c", {"sleep", "3600"});
  if (c.kind != CrashCase::kSandbox) {
    ASSERT_TRUE(RunPod(config, &pod).ok());
    if (c.kind == CrashCase::kContainerStart) {
      ASSERT_TRUE(Create(pod, config, container_config, &container).ok());
    }
  }
  ASSERT_NO_FATAL_FAILURE(KillDaemon());
  ASSERT_NO_FATAL_FAILURE(RestartDaemon({std::string("PEAPOD_CRASH_AT=") + c.point}));

  grpc::Status status;
  switch (c.kind) {
    case CrashCase::kSandbox:
      status = RunPod(config, &pod);
      break;
    case CrashCase::kContainerCreate:
      status = Create(pod, config, container_config, nullptr);
      break;
    case CrashCase::kContainerStart:
      status = Start(container);
      break;
  }
  EXPECT_FALSE(status.ok()) << "the call returned although the agent should have died";
  int wait_status = daemon_->Terminate(SIGKILL);
  ASSERT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 137)
      << "crash point " << c.point << " was not reached (wait status " << wait_status << ")\n"
      << daemon_->Log();
  ASSERT_NO_FATAL_FAILURE(RestartDaemon());

  switch (c.kind) {
    case CrashCase::kSandbox: {
      auto pods = ListPods();
      if (c.survives) {
        ASSERT_EQ(pods.size(), 1u);
        EXPECT_EQ(pods[0].state(), v1::SANDBOX_READY);
        // A retry of the call that never answered finds the pod made.
        status = RunPod(config, nullptr);
        EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Describe(status);
        EXPECT_NE(status.error_message().find(pods[0].id()), std::string::npos);
      } else {
        EXPECT_TRUE(pods.empty());
        ExpectNoLeftovers();
        // The name is free again: the retried call makes the pod.
        status = RunPod(config, &pod);
        ASSERT_TRUE(status.ok()) << Describe(status);
        EXPECT_EQ(ListPods().size(), 1u);
      }
      break;
    }
    case CrashCase::kContainerCreate: {
      EXPECT_TRUE(ListContainers().empty());
      ASSERT_TRUE(Create(pod, config, container_config, &container).ok());
      ASSERT_TRUE(Start(container).ok());
      EXPECT_EQ(ContainerStatusOf(container).state(), v1::CONTAINER_RUNNING);
      break;
    }
    case CrashCase::kContainerStart: {
      // The start never answered: its process is gone and the container can be started anew.
      EXPECT_EQ(ContainerStatusOf(container).state(), v1::CONTAINER_CREATED);
      status = Start(container);
      ASSERT_TRUE(status.ok()) << Describe(status);
      EXPECT_EQ(ContainerStatusOf(container).state(), v1::CONTAINER_RUNNING);
      break;
    }
  }
  RemoveAllAndExpectNoLeftovers();
}

INSTANTIATE_TEST_SUITE_P(
    Windows, CriCrashPoint,
    ::testing::Values(CrashCase{"sandbox-after-record", CrashCase::kSandbox, false},
                      CrashCase{"sandbox-after-cgroup", CrashCase::kSandbox, false},
                      CrashCase{"sandbox-after-pause", CrashCase::kSandbox, false},
                      CrashCase{"sandbox-after-pause-record", CrashCase::kSandbox, false},
                      CrashCase{"sandbox-after-cni-add", CrashCase::kSandbox, false},
                      CrashCase{"sandbox-after-ready-record", CrashCase::kSandbox, true},
                      CrashCase{"container-after-record", CrashCase::kContainerCreate, false},
                      CrashCase{"container-after-rootfs", CrashCase::kContainerCreate, false},
                      CrashCase{"container-after-create", CrashCase::kContainerCreate, false},
                      CrashCase{"container-start-after-spawn", CrashCase::kContainerStart, false}),
    [](const ::testing::TestParamInfo<CrashCase>& param) {
      std::string name = param.param.point;
      for (auto& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

// Unrecorded leftovers (what a crash in a removal, or an older agent, can leave): a run dir with
// namespace pins of a live pause, a CNI attachment and a pod cgroup, none of them with a record.
TEST_F(CriRecovery, StartUpReleasesLeftoversThatNoRecordNames) {
  auto config = PodConfig("unrecorded");
  std::string pod;
  ASSERT_TRUE(RunPod(config, &pod).ok());
  ASSERT_EQ(network_->BridgePorts().size(), 1u);
  ASSERT_NO_FATAL_FAILURE(KillDaemon());
  std::filesystem::remove(daemon_->run_root() + "/sandboxes/" + pod + ".json");
  ASSERT_NO_FATAL_FAILURE(RestartDaemon());
  EXPECT_TRUE(ListPods().empty());
  ExpectNoLeftovers();
}

// A record that reads but cannot be acted on at start-up: the container's Localhost seccomp
// profile went while the agent was down, so it could be neither confined again on a restart
// nor left running unsupervised. The record is quarantined, the process and everything of the
// container go, the agent serves, and the pod stays usable.
TEST_F(CriRecovery, AContainerWhoseSecurityNoLongerCompilesIsQuarantinedAndRemoved) {
  TempDir profiles;
  std::string profile = profiles.path() + "/allow.json";
  { std::ofstream(profile) << R"({"defaultAction": "SCMP_ACT_ALLOW"})"; }
  auto pod_config = PodConfig("lost-profile");
  std::string pod;
  ASSERT_TRUE(RunPod(pod_config, &pod).ok());
  auto config = Config("confined", {"sleep", "4242"});
  auto* seccomp = config.mutable_linux()->mutable_security_context()->mutable_seccomp();
  seccomp->set_profile_type(v1::SecurityProfile::Localhost);
  seccomp->set_localhost_ref(profile);
  std::string id = RunContainer(pod, pod_config, config);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(ContainerStatusOf(id).state(), v1::CONTAINER_RUNNING);
  ASSERT_EQ(ProcessesWithCommandLine("sleep 4242"), 1);

  ASSERT_NO_FATAL_FAILURE(KillDaemon());
  std::filesystem::remove(profile);
  ASSERT_NO_FATAL_FAILURE(RestartDaemon());

  EXPECT_TRUE(ListContainers().empty());
  EXPECT_EQ(ProcessesWithCommandLine("sleep 4242"), 0);
  EXPECT_EQ(ListPods().size(), 1u);
  std::string quarantined = daemon_->run_root() + "/containers/quarantine/" + id + ".json";
  EXPECT_TRUE(std::filesystem::exists(quarantined)) << quarantined;
  EXPECT_FALSE(std::filesystem::exists(daemon_->run_root() + "/containers/" + id + ".json"));
  // Nothing of the container is left in the pod: the same name can be created again.
  config.mutable_linux()->mutable_security_context()->clear_seccomp();
  std::string again = RunContainer(pod, pod_config, config);
  EXPECT_FALSE(again.empty());
  std::filesystem::remove_all(std::filesystem::path(quarantined).parent_path());  // a human's job
  RemoveAllAndExpectNoLeftovers();
}

// Not recovery, but the same container fixture: an exec holds its container only while it is
// spawned, so a second exec and a stop proceed while a long exec is still running.
using CriExecConcurrency = CriRecovery;

TEST_F(CriExecConcurrency, ALongExecBlocksNeitherAnotherExecNorAStop) {
  auto config = PodConfig("exec");
  std::string pod;
  ASSERT_TRUE(RunPod(config, &pod).ok());
  std::string id = RunContainer(pod, config, Config("box", {"sleep", "3600"}));
  ASSERT_FALSE(HasFailure());

  std::atomic<bool> long_done{false};
  grpc::Status long_status;
  v1::ExecSyncResponse long_resp;
  std::thread long_exec([&] {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (const char* arg : {"sh", "-c", "touch /tmp/started; sleep 60"}) req.add_cmd(arg);
    req.set_timeout(120);
    long_status = CriCall(runtime(), &Stub::ExecSync, req, &long_resp, std::chrono::seconds(150));
    long_done = true;
  });
  // A second exec sees the first one's mark while the first still sleeps.
  bool seen = false;
  for (int i = 0; i < 200 && !seen && !long_done; ++i) {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (const char* arg : {"test", "-e", "/tmp/started"}) req.add_cmd(arg);
    req.set_timeout(30);
    v1::ExecSyncResponse resp;
    auto status = CriCall(runtime(), &Stub::ExecSync, req, &resp);
    ASSERT_TRUE(status.ok()) << Describe(status);
    seen = resp.exit_code() == 0;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(seen);
  EXPECT_FALSE(long_done) << "the second exec waited for the first one to end";
  // The stop does not wait for the exec either: the exec dies with the container.
  v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(0);
  v1::StopContainerResponse stop_resp;
  auto status = CriCall(runtime(), &Stub::StopContainer, stop, &stop_resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_FALSE(long_done && long_status.ok() && long_resp.exit_code() == 0)
      << "the stop waited for the whole exec";
  long_exec.join();
  EXPECT_EQ(ContainerStatusOf(id).state(), v1::CONTAINER_EXITED);
  RemoveAllAndExpectNoLeftovers();
}

}  // namespace
}  // namespace peapod::testing
