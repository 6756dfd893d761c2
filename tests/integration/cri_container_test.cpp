// CRI container verbs against a real peapodd with busybox pulled from a local registry:
// CreateContainer, StartContainer, ContainerStatus, ListContainers, StopContainer,
// RemoveContainer, and their error cases.
#include <thread>

#include "cri_test_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

class CriContainer : public CriBusyboxTest {
 protected:
  void SetUp() override {
    CriBusyboxTest::SetUp();
    if (HasFatalFailure()) return;
    pod_config_ = TestPodConfig("box");
    pod_config_.set_log_directory(daemon_->log_dir() + "/box");
    auto status = RunPod(pod_config_, &pod_id_);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  v1::ContainerConfig Config(const std::string& name, std::vector<std::string> command) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    for (auto& c : command) config.add_command(c);
    config.set_log_path(name + ".log");
    (*config.mutable_labels())["container"] = name;
    (*config.mutable_annotations())["peapod.test/kind"] = "busybox";
    return config;
  }

  grpc::Status Create(const v1::ContainerConfig& config, std::string* id,
                      const std::string& pod_id = "") {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id.empty() ? pod_id_ : pod_id);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod_config_;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    if (id != nullptr) *id = resp.container_id();
    return status;
  }

  grpc::Status StopContainer(const std::string& id, int64_t timeout) {
    v1::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(timeout);
    v1::StopContainerResponse resp;
    return CriCall(runtime(), &Stub::StopContainer, req, &resp);
  }

  grpc::Status RemoveContainer(const std::string& id) {
    v1::RemoveContainerRequest req;
    req.set_container_id(id);
    v1::RemoveContainerResponse resp;
    return CriCall(runtime(), &Stub::RemoveContainer, req, &resp);
  }

  grpc::Status ContainerStatus(const std::string& id, v1::ContainerStatusResponse* resp) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    return CriCall(runtime(), &Stub::ContainerStatus, req, resp);
  }

  // Polls ContainerStatus until the container has exited (10 s at most).
  v1::ContainerStatus WaitExited(const std::string& id) {
    v1::ContainerStatusResponse resp;
    for (int i = 0; i < 500; ++i) {
      resp.Clear();
      if (ContainerStatus(id, &resp).ok() && resp.status().state() == v1::CONTAINER_EXITED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return resp.status();
  }

  v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

TEST_F(CriContainer, ASleepingContainerRunsStopsAndIsRemoved) {
  std::string id;
  auto status = Create(Config("sleeper", {"sleep", "3600"}), &id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::ContainerStatusResponse resp;
  ASSERT_TRUE(ContainerStatus(id, &resp).ok());
  EXPECT_EQ(resp.status().state(), v1::CONTAINER_CREATED);
  EXPECT_GT(resp.status().created_at(), 0);

  status = Start(id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  resp.Clear();
  ASSERT_TRUE(ContainerStatus(id, &resp).ok());
  const auto& s = resp.status();
  EXPECT_EQ(s.id(), id);
  EXPECT_EQ(s.state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(s.metadata().name(), "sleeper");
  EXPECT_GE(s.started_at(), s.created_at());
  EXPECT_EQ(s.finished_at(), 0);
  EXPECT_EQ(s.image().image(), BusyboxRef());
  EXPECT_TRUE(s.image_ref().starts_with("sha256:")) << s.image_ref();
  EXPECT_EQ(s.labels().at("container"), "sleeper");
  EXPECT_EQ(s.annotations().at("peapod.test/kind"), "busybox");
  EXPECT_EQ(s.log_path(), daemon_->log_dir() + "/box/sleeper.log");

  status = StopContainer(id, 1);
  ASSERT_TRUE(status.ok()) << Describe(status);
  resp.Clear();
  ASSERT_TRUE(ContainerStatus(id, &resp).ok());
  EXPECT_EQ(resp.status().state(), v1::CONTAINER_EXITED);
  EXPECT_GT(resp.status().finished_at(), 0);
  EXPECT_TRUE(StopContainer(id, 1).ok()) << "stop is idempotent";

  status = RemoveContainer(id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  resp.Clear();
  EXPECT_EQ(ContainerStatus(id, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(ListContainers().empty());
  EXPECT_TRUE(RemoveContainer(id).ok()) << "remove is idempotent";
}

TEST_F(CriContainer, ExecSyncRunsInTheContainerAndHonoursItsTimeout) {
  std::string id;
  ASSERT_TRUE(Create(Config("execd", {"sh", "-c", "echo inside > /tmp/mark; exec sleep 3600"}), &id)
                  .ok());
  ASSERT_TRUE(Start(id).ok());
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const char* arg : {"sh", "-c", "cat /tmp/mark; echo err >&2; exit 3"}) req.add_cmd(arg);
  req.set_timeout(10);
  v1::ExecSyncResponse resp;
  grpc::Status status;
  for (int i = 0; i < 50; ++i) {  // the container writes /tmp/mark right after it starts
    resp.Clear();
    status = CriCall(runtime(), &Stub::ExecSync, req, &resp);
    if (!status.ok() || resp.stdout() == "inside\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(resp.stdout(), "inside\n");
  EXPECT_EQ(resp.stderr(), "err\n");
  EXPECT_EQ(resp.exit_code(), 3);

  v1::ExecSyncRequest slow;
  slow.set_container_id(id);
  for (const char* arg : {"sleep", "30"}) slow.add_cmd(arg);
  slow.set_timeout(1);
  status = CriCall(runtime(), &Stub::ExecSync, slow, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Describe(status);

  v1::ExecSyncRequest empty;
  empty.set_container_id(id);
  EXPECT_EQ(CriCall(runtime(), &Stub::ExecSync, empty, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ExecSyncRequest unknown = req;
  unknown.set_container_id("no-such-container");
  EXPECT_EQ(CriCall(runtime(), &Stub::ExecSync, unknown, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(StopContainer(id, 0).ok());
  EXPECT_EQ(CriCall(runtime(), &Stub::ExecSync, req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(CriContainer, ReopenContainerLogStartsAFreshFileAfterRotation) {
  std::string id;
  ASSERT_TRUE(
      Create(Config("ticker", {"sh", "-c", "while true; do echo tick; sleep 0.05; done"}), &id)
          .ok());
  ASSERT_TRUE(Start(id).ok());
  std::string log = daemon_->log_dir() + "/box/ticker.log";
  for (int i = 0; i < 100 && ReadFile(log).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
  v1::ReopenContainerLogRequest req;
  req.set_container_id(id);
  v1::ReopenContainerLogResponse resp;
  auto status = CriCall(runtime(), &Stub::ReopenContainerLog, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  for (int i = 0; i < 100 && ReadFile(log).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(ReadFile(log).find("stdout F tick"), std::string::npos);
  EXPECT_NE(ReadFile(log + ".1").find("stdout F tick"), std::string::npos);
}

TEST_F(CriContainer, ExitedContainersReportTheirExitCodeAndReason) {
  std::string failing, passing;
  ASSERT_TRUE(Create(Config("fails", {"sh", "-c", "exit 3"}), &failing).ok());
  ASSERT_TRUE(Create(Config("passes", {"true"}), &passing).ok());
  ASSERT_TRUE(Start(failing).ok());
  ASSERT_TRUE(Start(passing).ok());

  auto failed = WaitExited(failing);
  EXPECT_EQ(failed.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(failed.exit_code(), 3);
  EXPECT_EQ(failed.reason(), "Error");
  EXPECT_GE(failed.finished_at(), failed.started_at());

  auto passed = WaitExited(passing);
  EXPECT_EQ(passed.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(passed.exit_code(), 0);
  EXPECT_EQ(passed.reason(), "Completed");
}

TEST_F(CriContainer, ListContainersFiltersByIdStateSandboxAndLabels) {
  std::string running, created;
  ASSERT_TRUE(Create(Config("running", {"sleep", "3600"}), &running).ok());
  ASSERT_TRUE(Create(Config("created", {"sleep", "3600"}), &created).ok());
  ASSERT_TRUE(Start(running).ok());

  auto all = ListContainers();
  ASSERT_EQ(all.size(), 2u);

  v1::ContainerFilter by_id;
  by_id.set_id(running.substr(0, 12));
  auto found = ListContainers(&by_id);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id(), running);
  EXPECT_EQ(found[0].pod_sandbox_id(), pod_id_);
  EXPECT_EQ(found[0].metadata().name(), "running");
  EXPECT_EQ(found[0].state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(found[0].image().image(), BusyboxRef());

  v1::ContainerFilter by_state;
  by_state.mutable_state()->set_state(v1::CONTAINER_CREATED);
  found = ListContainers(&by_state);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id(), created);

  v1::ContainerFilter by_sandbox;
  by_sandbox.set_pod_sandbox_id(pod_id_);
  EXPECT_EQ(ListContainers(&by_sandbox).size(), 2u);
  by_sandbox.set_pod_sandbox_id("ffffffffffffffff");
  EXPECT_TRUE(ListContainers(&by_sandbox).empty());

  v1::ContainerFilter by_label;
  (*by_label.mutable_label_selector())["container"] = "created";
  found = ListContainers(&by_label);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id(), created);
}

TEST_F(CriContainer, CreateContainerInAStoppedSandboxIsAFailedPrecondition) {
  ASSERT_TRUE(StopPod(pod_id_).ok());
  auto status = Create(Config("late", {"sleep", "3600"}), nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  EXPECT_TRUE(ListContainers().empty());
}

TEST_F(CriContainer, UnknownIdsAreNotFoundExceptForRemove) {
  auto status = Create(Config("orphan", {"true"}), nullptr, "0123456789abcdef");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  EXPECT_EQ(Start("0123456789abcdef").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StopContainer("0123456789abcdef", 1).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ContainerStatusResponse resp;
  EXPECT_EQ(ContainerStatus("0123456789abcdef", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(RemoveContainer("0123456789abcdef").ok());
}

TEST_F(CriContainer, BadContainerConfigsAreInvalidArguments) {
  v1::CreateContainerRequest no_config;
  no_config.set_pod_sandbox_id(pod_id_);
  v1::CreateContainerResponse resp;
  EXPECT_EQ(CriCall(runtime(), &Stub::CreateContainer, no_config, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto no_name = Config("", {"true"});
  EXPECT_EQ(Create(no_name, nullptr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto no_image = Config("noimage", {"true"});
  no_image.clear_image();
  EXPECT_EQ(Create(no_image, nullptr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto missing_image = Config("missing", {"true"});
  missing_image.mutable_image()->set_image(registry_->HostPort() + "/nothing:here");
  EXPECT_EQ(Create(missing_image, nullptr).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(ListContainers().empty());
}

TEST_F(CriContainer, RemovingTheSandboxRemovesItsContainers) {
  std::string id;
  ASSERT_TRUE(Create(Config("inside", {"sleep", "3600"}), &id).ok());
  ASSERT_TRUE(Start(id).ok());
  auto status = RemovePod(pod_id_);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(ListContainers().empty());
  v1::ContainerStatusResponse resp;
  EXPECT_EQ(ContainerStatus(id, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace peapod::testing
