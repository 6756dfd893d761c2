// Image volumes (CRI Mount.image and image_sub_path, KEP-4639) through CRI against a real
// peapodd and a real registry: the image's merged layers (whiteouts applied) are readable in the
// container and not writable, a sub path mounts just that directory, a sub path that climbs out
// of the image or is missing is refused, a missing image is NOT_FOUND as containerd 2 answers,
// the image cannot be removed while a container mounts it, and a pod in a user namespace sees
// the image's files as their owners through an idmapped mount.
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "cri_test_fixture.h"

namespace peapod::testing {
namespace {

using Stub = v1::RuntimeService::Stub;

constexpr uint32_t kHostBase = 41 * 65536;  // a range of its own, as cri_userns uses range 40

struct ExecResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CriImageVolume : public CriBusyboxTest {
 protected:
  static void SetUpTestSuite() {
    CriBusyboxTest::SetUpTestSuite();
    auto pushed = registry_->Push(TestImagesDir() + "/busybox-layers", "layers:1");
    ASSERT_TRUE(pushed) << pushed.error().ToString();
  }

  void SetUp() override {
    CriBusyboxTest::SetUp();
    if (HasFatalFailure()) return;
    v1::PullImageRequest req;
    req.mutable_image()->set_image(LayersRef());
    v1::PullImageResponse resp;
    auto status = CriCall(images(), &v1::ImageService::Stub::PullImage, req, &resp);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }

  // busybox + /data/{a,b,sub/c}, then a layer that whites out /data/a and makes /data/sub
  // opaque with /data/sub/d in it: three layers, so the volume is a read-only overlay.
  static std::string LayersRef() { return registry_->HostPort() + "/layers:1"; }

  std::string RunTestPod(const std::string& name, bool userns = false) {
    pod_ = TestPodConfig(name);
    if (userns) {
      auto* options = pod_.mutable_linux()
                          ->mutable_security_context()
                          ->mutable_namespace_options()
                          ->mutable_userns_options();
      options->set_mode(v1::POD);
      for (auto* m : {options->add_uids(), options->add_gids()}) {
        m->set_host_id(kHostBase);
        m->set_container_id(0);
        m->set_length(65536);
      }
    }
    std::string id;
    auto status = RunPod(pod_, &id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return id;
  }

  v1::ContainerConfig Config(const std::string& name, const std::string& sub_path = "") {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(BusyboxRef());
    config.add_command("sleep");
    config.add_command("600");
    *config.mutable_linux()->mutable_security_context()->mutable_namespace_options() =
        pod_.linux().security_context().namespace_options();
    auto* mount = config.add_mounts();
    mount->set_container_path("/vol");
    mount->mutable_image()->set_image(LayersRef());
    mount->set_image_sub_path(sub_path);
    mount->set_readonly(true);  // as kubelet sends every image volume
    return config;
  }

  grpc::Status Create(const std::string& pod_id, const v1::ContainerConfig& config,
                      std::string* id) {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = pod_;
    v1::CreateContainerResponse resp;
    auto status = CriCall(runtime(), &Stub::CreateContainer, req, &resp);
    if (id != nullptr) *id = resp.container_id();
    return status;
  }

  std::string CreateAndStart(const std::string& pod_id, const v1::ContainerConfig& config) {
    std::string id;
    auto status = Create(pod_id, config, &id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    status = Start(id);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return id;
  }

  ExecResult Exec(const std::string& id, const std::string& script) {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    req.add_cmd("sh");
    req.add_cmd("-c");
    req.add_cmd(script);
    req.set_timeout(30);
    v1::ExecSyncResponse resp;
    auto status = CriCall(runtime(), &Stub::ExecSync, req, &resp);
    EXPECT_TRUE(status.ok()) << script << ": " << Describe(status);
    return {resp.exit_code(), resp.stdout(), resp.stderr()};
  }

  grpc::Status RemoveImage(const std::string& ref) {
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::RemoveImageResponse resp;
    return CriCall(images(), &v1::ImageService::Stub::RemoveImage, req, &resp);
  }

  grpc::Status RemoveContainer(const std::string& id) {
    v1::RemoveContainerRequest req;
    req.set_container_id(id);
    v1::RemoveContainerResponse resp;
    return CriCall(runtime(), &Stub::RemoveContainer, req, &resp);
  }

  std::string VolumesDir(const std::string& id) {
    return daemon_->state_root() + "/image/containers/" + id + "/volumes";
  }

  void RemoveAllAndExpectNoLeftovers() {
    for (const auto& pod : ListPods()) {
      auto status = RemovePod(pod.id());
      EXPECT_TRUE(status.ok()) << Describe(status);
    }
    auto left = daemon_->Leftovers();
    EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
  }

  v1::PodSandboxConfig pod_;
};

TEST_F(CriImageVolume, TheImageIsReadableWithItsLayersMergedAndNotWritable) {
  std::string pod = RunTestPod("imagevol-read");
  std::string id = CreateAndStart(pod, Config("reader"));
  auto read = Exec(id, "cat /vol/data/b /vol/data/sub/d");
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out, "b\nd\n");
  // The top layer's whiteout and opaque dir hide what the layers below hold.
  auto hidden = Exec(id, "test ! -e /vol/data/a && test ! -e /vol/data/sub/c");
  EXPECT_EQ(hidden.exit_code, 0);
  auto write = Exec(id, "echo x > /vol/data/new");
  EXPECT_NE(write.exit_code, 0);
  EXPECT_NE(write.err.find("Read-only file system"), std::string::npos) << write.err;
  auto change = Exec(id, "rm /vol/data/b");
  EXPECT_NE(change.exit_code, 0);
  EXPECT_NE(change.err.find("Read-only file system"), std::string::npos) << change.err;
  // The container's own root filesystem stays writable.
  EXPECT_EQ(Exec(id, "echo x > /tmp/new").exit_code, 0);
  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriImageVolume, ASubPathMountsOnlyThatDirectory) {
  std::string pod = RunTestPod("imagevol-subpath");
  std::string id = CreateAndStart(pod, Config("sub", "data/sub"));
  auto listing = Exec(id, "ls -A /vol");
  EXPECT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_EQ(listing.out, "d\n");
  EXPECT_NE(Exec(id, "touch /vol/e").exit_code, 0);
  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriImageVolume, SubPathsThatLeaveTheImageOrAreMissingAreRefused) {
  std::string pod = RunTestPod("imagevol-escape");
  struct Case {
    std::string sub_path;
    grpc::StatusCode code;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {"../../../../etc", grpc::INVALID_ARGUMENT, "escapes the image root"},
           {"data/../../etc", grpc::INVALID_ARGUMENT, "escapes the image root"},
           {"/etc", grpc::INVALID_ARGUMENT, "relative to the image root"},
           // /bin/sh -> /bin/busybox: an absolute symlink would leave the image's root.
           {"bin/sh", grpc::INVALID_ARGUMENT, "through a symlink"},
           {"data/b", grpc::INVALID_ARGUMENT, "not a directory"},
           {"data/nothing", grpc::FAILED_PRECONDITION, "does not exist in the image"},
       }) {
    std::string id;
    auto status = Create(pod, Config("escape", c.sub_path), &id);
    EXPECT_EQ(status.error_code(), c.code) << c.sub_path << ": " << Describe(status);
    EXPECT_NE(status.error_message().find(c.says), std::string::npos)
        << c.sub_path << ": " << status.error_message();
    EXPECT_NE(status.error_message().find("ImageVolumeMountFailed"), std::string::npos)
        << status.error_message();
  }
  // Nothing half-made is left: no container, no mount.
  EXPECT_TRUE(ListContainers().empty());
  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriImageVolume, RequestsContainerdWouldRefuseAreRefused) {
  std::string pod = RunTestPod("imagevol-refused");
  auto missing = Config("missing");
  missing.mutable_mounts(0)->mutable_image()->set_image(registry_->HostPort() + "/absent:1");
  auto status = Create(pod, missing, nullptr);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND) << Describe(status);
  EXPECT_NE(status.error_message().find("failed to resolve image"), std::string::npos)
      << status.error_message();

  auto writable = Config("writable");
  writable.mutable_mounts(0)->set_readonly(false);
  status = Create(pod, writable, nullptr);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("readonly"), std::string::npos) << status.error_message();

  auto both = Config("both");
  both.mutable_mounts(0)->set_host_path("/tmp");
  status = Create(pod, both, nullptr);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << Describe(status);
  EXPECT_NE(status.error_message().find("host_path"), std::string::npos) << status.error_message();
  EXPECT_TRUE(ListContainers().empty());
  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriImageVolume, TheImageCannotBeRemovedWhileAContainerMountsIt) {
  std::string pod = RunTestPod("imagevol-inuse");
  std::string id = CreateAndStart(pod, Config("user"));
  auto refused = RemoveImage(LayersRef());
  EXPECT_EQ(refused.error_code(), grpc::FAILED_PRECONDITION) << Describe(refused);
  EXPECT_NE(refused.error_message().find(id), std::string::npos) << refused.error_message();
  EXPECT_EQ(Exec(id, "cat /vol/data/b").out, "b\n");

  struct stat st {};
  ASSERT_EQ(::stat((VolumesDir(id) + "/0").c_str(), &st), 0) << "the volume's mount point";
  auto stopped = StopPod(pod);
  EXPECT_TRUE(stopped.ok()) << Describe(stopped);
  auto removed = RemoveContainer(id);
  ASSERT_TRUE(removed.ok()) << Describe(removed);
  EXPECT_NE(::stat(VolumesDir(id).c_str(), &st), 0) << "unmounted and removed with the container";
  auto freed = RemoveImage(LayersRef());
  EXPECT_TRUE(freed.ok()) << Describe(freed);
  RemoveAllAndExpectNoLeftovers();
}

TEST_F(CriImageVolume, APodInAUserNamespaceSeesTheImageFilesAsTheirOwners) {
  std::string pod = RunTestPod("imagevol-userns", true);
  // busybox: one layer, bound read-only and idmapped like the pod's other volumes.
  auto config = Config("userns");
  config.mutable_mounts(0)->mutable_image()->set_image(BusyboxRef());
  std::string id = CreateAndStart(pod, config);
  // Owned by root in the image: root inside through the idmapped mount, where an unmapped
  // mount would show the overflow id 65534.
  auto owner = Exec(id, "stat -c %u:%g /vol/bin/busybox && test -x /vol/bin/busybox");
  EXPECT_EQ(owner.exit_code, 0) << owner.err;
  EXPECT_EQ(owner.out, "0:0\n");
  auto write = Exec(id, "touch /vol/new");
  EXPECT_NE(write.exit_code, 0);
  EXPECT_NE(write.err.find("Read-only file system"), std::string::npos) << write.err;

  // An overlay cannot be idmapped as a whole: a layered image is refused, saying why.
  std::string refused_id;
  auto refused = Create(pod, Config("layered"), &refused_id);
  EXPECT_EQ(refused.error_code(), grpc::FAILED_PRECONDITION) << Describe(refused);
  EXPECT_NE(refused.error_message().find("one-layer images"), std::string::npos)
      << refused.error_message();
  RemoveAllAndExpectNoLeftovers();
}

}  // namespace
}  // namespace peapod::testing
