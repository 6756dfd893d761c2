// Image garbage collection through a real peapodd: `peapod image prune` by hand, and the
// periodic collection above the high threshold (the image filesystem's figure injected through
// the PEAPOD_TEST_IMAGE_FS hook; a test cannot fill a disk). The image a pod uses always stays.
#include "cli_fixture.h"

namespace peapod::testing {
namespace {

const char* kSleeperPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: sleeper
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
)";

bool Has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

class CliImagePrune : public CliTest {};

TEST_F(CliImagePrune, PruneRemovesUnusedImagesAndSaysWhatItFreed) {
  // Every loaded image has a name: nothing is dangling.
  auto dangling = Cli({"image", "prune"});
  ASSERT_EQ(dangling.exit_code, 0) << dangling.Describe();
  EXPECT_EQ(dangling.out, "Total reclaimed space: 0B\n");

  auto applied = Apply(kSleeperPod);
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("sleeper", "app"));
  auto pruned = Cli({"image", "prune", "--all"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.Describe();
  EXPECT_TRUE(pruned.out.starts_with("Deleted Images:\n")) << pruned.out;
  EXPECT_TRUE(Has(pruned.out, "nginx")) << pruned.out;
  EXPECT_TRUE(Has(pruned.out, "etcd")) << pruned.out;
  EXPECT_FALSE(Has(pruned.out, "busybox")) << pruned.out;
  EXPECT_TRUE(Has(pruned.out, "Total reclaimed space: ")) << pruned.out;
  EXPECT_FALSE(Has(pruned.out, "Total reclaimed space: 0B")) << pruned.out;

  auto images = Cli({"images"});
  EXPECT_TRUE(Has(images.out, "busybox")) << images.out;
  EXPECT_FALSE(Has(images.out, "nginx")) << images.out;
  EXPECT_FALSE(Has(images.out, "etcd")) << images.out;
  // The pod goes on running on the image it uses.
  auto exec = Cli({"exec", "sleeper", "--", "echo", "alive"});
  EXPECT_EQ(exec.out, "alive\n") << exec.Describe();
}

TEST_F(CliImagePrune, ImageNeedsASubcommand) {
  auto r = Cli({"image"});
  EXPECT_NE(r.exit_code, 0);
}

// 99 % of the image filesystem used (by the hook's figure), a pass every 300 ms, and a minimum
// age long enough for the test to start its pod first.
class CliImageGc : public CliTest {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--image-minimum-gc-age", "20s"};
  }
  std::vector<std::string> ExtraDaemonEnv() const override {
    return {"PEAPOD_TEST_IMAGE_GC_PERIOD=300ms", "PEAPOD_TEST_IMAGE_FS=100Gi:1Gi"};
  }
};

TEST_F(CliImageGc, AboveTheHighThresholdUnusedImagesGoAndTheOneInUseStays) {
  auto applied = Apply(kSleeperPod);
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  ASSERT_TRUE(WaitRunning("sleeper", "app"));
  std::string images;
  ASSERT_TRUE(WaitUntil([&] {
    images = Cli({"images"}).out;
    return !Has(images, "nginx") && !Has(images, "etcd");
  })) << images;
  EXPECT_TRUE(Has(images, "busybox")) << images;
  EXPECT_TRUE(Has(daemon_->Log(), "image gc: removed image")) << daemon_->Log();
  auto exec = Cli({"exec", "sleeper", "--", "echo", "alive"});
  EXPECT_EQ(exec.out, "alive\n") << exec.Describe();
}

}  // namespace
}  // namespace peapod::testing
