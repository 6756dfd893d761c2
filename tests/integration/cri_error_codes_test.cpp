// The CRI's NOT_FOUND is "no such id": kubelet reads it as "already gone" on a stop or remove
// and forgets the object. These run verbs whose object exists but where something deep inside
// is missing (a bind source, the pod's network namespace pin) against a real peapodd, and
// check that the answer is never NOT_FOUND, while an unknown id still is.
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>

#include "cri_test_fixture.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

class CriErrorCodes : public CriBusyboxTest {
 protected:
  void SetUp() override {
    CriBusyboxTest::SetUp();
    if (HasFatalFailure()) return;
    pod_config_ = TestPodConfig("codes");
    pod_config_.set_log_directory(daemon_->log_dir() + "/codes");
    auto status = RunPod(pod_config_, &pod_id_);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  v1::ContainerConfig Config(const std::string& name) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    config.add_command("sleep");
    config.add_command("3600");
    config.set_log_path(name + ".log");
    return config;
  }

  grpc::Status Create(const v1::ContainerConfig& config, std::string* id) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id_);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod_config_;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    if (id != nullptr) *id = resp.container_id();
    return status;
  }

  grpc::Status StopContainer(const std::string& id) {
    v1::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(1);
    v1::StopContainerResponse resp;
    return CriCall(runtime(), &Stub::StopContainer, req, &resp);
  }

  grpc::Status RemoveContainer(const std::string& id) {
    v1::RemoveContainerRequest req;
    req.set_container_id(id);
    v1::RemoveContainerResponse resp;
    return CriCall(runtime(), &Stub::RemoveContainer, req, &resp);
  }

  grpc::Status ContainerStatus(const std::string& id) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    return CriCall(runtime(), &Stub::ContainerStatus, req, &resp);
  }

  v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

TEST_F(CriErrorCodes, AContainerWhoseBindSourceVanishedIsNotNotFound) {
  TempDir host("peapod-cri-bind");
  std::string source = host / "data";
  std::filesystem::create_directories(source);
  v1::ContainerConfig config = Config("bound");
  auto* mount = config.add_mounts();
  mount->set_host_path(source);
  mount->set_container_path("/data");
  std::string id;
  auto created = Create(config, &id);
  ASSERT_TRUE(created.ok()) << Describe(created);
  ASSERT_EQ(::rmdir(source.c_str()), 0);

  // ENOENT from the bind mount in the container's child: a failed start, not an unknown id.
  auto started = Start(id);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(started);
  EXPECT_NE(started.error_message().find(source), std::string::npos) << Describe(started);
  EXPECT_TRUE(ContainerStatus(id).ok()) << "the container is still there";

  auto stopped = StopContainer(id);
  EXPECT_TRUE(stopped.ok()) << Describe(stopped);
  auto removed = RemoveContainer(id);
  EXPECT_TRUE(removed.ok()) << Describe(removed);
  // Now the id is unknown, and only now NOT_FOUND is the answer.
  EXPECT_EQ(ContainerStatus(id).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StopContainer(id).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CriErrorCodes, APodWhoseNetworkNamespacePinVanishedIsNotNotFound) {
  std::string pin = daemon_->run_root() + "/pods/" + pod_id_ + "/ns/net";
  ASSERT_TRUE(std::filesystem::exists(pin)) << pin;
  ASSERT_EQ(::umount2(pin.c_str(), MNT_DETACH), 0) << pin;
  ASSERT_EQ(::unlink(pin.c_str()), 0) << pin;

  // A container cannot join the pod's network any more: its start fails, but the container
  // and the pod are still there.
  std::string id;
  auto created = Create(Config("joiner"), &id);
  if (created.ok()) {
    auto started = Start(id);
    EXPECT_NE(started.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(started);
    EXPECT_TRUE(ContainerStatus(id).ok());
  } else {
    EXPECT_NE(created.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(created);
  }
  v1::PodSandboxStatusResponse status;
  EXPECT_TRUE(PodStatus(pod_id_, &status).ok());

  // Stop and remove finish the pod; neither may claim it never existed.
  auto stopped = StopPod(pod_id_);
  EXPECT_NE(stopped.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(stopped);
  EXPECT_TRUE(stopped.ok()) << Describe(stopped);
  auto removed = RemovePod(pod_id_);
  EXPECT_TRUE(removed.ok()) << Describe(removed);
  EXPECT_TRUE(ListPods().empty());
  EXPECT_FALSE(std::filesystem::exists(daemon_->run_root() + "/pods/" + pod_id_));
  // The id is gone now: NOT_FOUND, as kubelet expects.
  status.Clear();
  EXPECT_EQ(PodStatus(pod_id_, &status).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StopPod(pod_id_).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CriErrorCodes, AnUnknownIdIsNotFoundForEveryStopAndRemove) {
  const std::string unknown = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(StopPod(unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StopContainer(unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ContainerStatus(unknown).error_code(), grpc::StatusCode::NOT_FOUND);
  // Remove of an unknown id succeeds, as kubelet and containerd expect.
  EXPECT_TRUE(RemovePod(unknown).ok());
  EXPECT_TRUE(RemoveContainer(unknown).ok());
}

}  // namespace
}  // namespace peapod::testing
