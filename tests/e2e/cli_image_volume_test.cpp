// Image volumes (KEP-4639) through `peapod apply` against a real peapodd and a real registry:
// `volumes[].image` pulls the image as a container's image is pulled and mounts it read-only,
// `subPath` mounts one directory of it, a sub path leaving the image is refused, the image
// cannot be removed while the pod mounts it, and manifest mistakes name their field and line.
#include "e2e/cli_fixture.h"

namespace peapod::testing {
namespace {

class CliImageVolume : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (HasFatalFailure()) return;
    auto registry = LocalRegistry::Start();
    ASSERT_TRUE(registry) << registry.error().ToString();
    registry_ = std::move(*registry);
    auto pushed = registry_->Push(TestImagesDir() + "/busybox-layers", "e2e/layers:v1");
    ASSERT_TRUE(pushed) << pushed.error().ToString();
  }

  void TearDown() override {
    CliTest::TearDown();
    registry_.reset();
  }

  std::string LayersRef() const { return registry_->HostPort() + "/e2e/layers:v1"; }

  bool WaitForLog(const std::string& pod, const std::string& container, const std::string& text) {
    return WaitUntil([&] {
      return Cli({"logs", pod, "-c", container}).out.find(text) != std::string::npos;
    });
  }
  std::string Log(const std::string& pod, const std::string& container) {
    return Cli({"logs", pod, "-c", container}).Describe();
  }

  std::unique_ptr<LocalRegistry> registry_;
};

TEST_F(CliImageVolume, TheImageIsPulledAndMountedReadOnlyWithSubPaths) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: imagevol
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "cat /vol/data/b; ls -A /sub; touch /vol/data/x; echo done; sleep 3600"]
    volumeMounts:
    - {name: layers, mountPath: /vol}
    - {name: layers, mountPath: /sub, subPath: data/sub}
  volumes:
  - name: layers
    image:
      reference: )" +
                 LayersRef() + R"(
      pullPolicy: IfNotPresent
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(WaitForLog("imagevol", "c", "done")) << Log("imagevol", "c");
  std::string log = Cli({"logs", "imagevol", "-c", "c"}).out;
  EXPECT_NE(log.find("b\nd\n"), std::string::npos) << log;
  EXPECT_NE(log.find("Read-only file system"), std::string::npos) << log;
  EXPECT_NE(Cli({"images"}).out.find("e2e/layers"), std::string::npos) << "pulled by apply";

  auto in_use = Cli({"rmi", LayersRef()});
  EXPECT_NE(in_use.exit_code, 0) << in_use.Describe();
  EXPECT_NE(in_use.err.find("in use"), std::string::npos) << in_use.Describe();

  EXPECT_EQ(Cli({"delete", "pod", "imagevol"}).exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] {
    return Cli({"rmi", LayersRef()}).exit_code == 0;
  })) << "the image is free once the pod is gone";
}

TEST_F(CliImageVolume, ASubPathThatLeavesTheImageKeepsTheContainerFromStarting) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: escape
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    volumeMounts:
    - {name: layers, mountPath: /vol, subPath: bin/sh}
  volumes:
  - name: layers
    image: {reference: )" +
                 LayersRef() + R"(}
)");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  std::string message;
  EXPECT_TRUE(WaitUntil([&] {
    auto status = ContainerStatus(Pod("escape"), "c");
    if (!status.is_object()) return false;
    message = status["state"].value("waiting", nlohmann::json::object()).value("message", "");
    return message.find("escapes the image root") != std::string::npos;
  })) << message;
  EXPECT_EQ(StateKind(Pod("escape"), "c"), "waiting");
}

TEST_F(CliImageVolume, ManifestMistakesNameTheFieldAndLine) {
  auto r = Apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: c
    image: busybox:latest
  volumes:
  - name: missing
    image: {pullPolicy: Always}
  - name: policy
    image:
      reference: busybox:latest
      pullPolicy: Sometimes
)");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("-:11: spec.volumes[0].image.reference: required"), std::string::npos)
      << r.Describe();
  EXPECT_NE(r.err.find("-:15: spec.volumes[1].image.pullPolicy"), std::string::npos)
      << r.Describe();
}

}  // namespace
}  // namespace peapod::testing
