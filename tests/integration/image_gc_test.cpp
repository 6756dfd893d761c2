// Image garbage collection over a real image store, with images pulled from a local registry.
// Only the filesystem figure (statvfs) is injected: a test cannot fill a real disk. Times are
// passed in, so ages and least-recently-used order never depend on how fast the test runs.
#include "peapod/agent/image_gc.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "peapod/image/image_service.h"
#include "support/registry.h"
#include "support/temp_dir.h"

namespace peapod::agent {
namespace {

using namespace std::chrono_literals;
using peapod::testing::LocalRegistry;
using peapod::testing::TempDir;
using peapod::testing::TestImagesDir;
using Clock = std::chrono::system_clock;

class ImageGc : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = LocalRegistry::Start();
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    registry_ = std::move(*r);
    const std::string& images = TestImagesDir();
    for (const char* name : {"busybox", "user-numeric", "nginx", "etcd"}) {
      ASSERT_TRUE(registry_->Push(images + "/" + name, std::string(name) + ":gc").has_value());
    }
    // The same tag twice: pulling it again leaves the first image untagged (dangling).
    ASSERT_TRUE(registry_->Push(images + "/user-numeric", "moving:1").has_value());
  }
  static void TearDownTestSuite() { registry_.reset(); }

  void SetUp() override {
    image::ImageServiceOptions options;
    options.root = dir_ / "images";
    auto service = image::ImageService::Open(options);
    ASSERT_TRUE(service.has_value()) << service.error().ToString();
    images_ = std::move(*service);
  }

  std::string Pull(const std::string& repo_tag) {
    auto id = images_->Pull(registry_->HostPort() + "/" + repo_tag);
    EXPECT_TRUE(id.has_value()) << repo_tag << ": " << id.error().ToString();
    return id.value_or("");
  }

  // A policy whose filesystem of 100 kB is `used_percent` full: above the high threshold, every
  // image removed frees more than the low threshold asks for, so each pass removes exactly one.
  static ImageGcPolicy Policy(uint64_t used_percent) {
    ImageGcPolicy policy;
    policy.period = 0ms;
    uint64_t capacity = 100'000;
    policy.probe = [=](const std::string&) -> Result<FsCapacity> {
      return FsCapacity{capacity, capacity - capacity / 100 * used_percent};
    };
    return policy;
  }

  std::set<std::string> Present() const {
    std::set<std::string> out;
    for (const auto& record : images_->List()) out.insert(record.id);
    return out;
  }

  static std::vector<std::string> Ids(const ImageGcReport& report) {
    std::vector<std::string> out;
    for (const auto& removed : report.removed) out.push_back(removed.id);
    return out;
  }

  // A container holds the image while the collector looks at `at`, then goes.
  void UseBetween(ImageGarbageCollector& gc, const std::string& container, const std::string& id,
                  Clock::time_point at) {
    ASSERT_TRUE(images_->CreateContainerRootfs(container, id).has_value());
    gc.Detect(at);
    ASSERT_TRUE(images_->RemoveContainerRootfs(container).has_value());
  }

  static inline std::unique_ptr<LocalRegistry> registry_;
  TempDir dir_{"peapod-image-gc"};
  std::unique_ptr<image::ImageService> images_;
};

TEST_F(ImageGc, AboveTheHighThresholdRemovesLeastRecentlyUsedFirstAndNeverAnImageInUse) {
  std::string busybox = Pull("busybox:gc");
  std::string nginx = Pull("nginx:gc");
  std::string etcd = Pull("etcd:gc");
  // etcd was used longest ago, then nginx; busybox is held by a container.
  ImageGarbageCollector gc(*images_, Policy(90));
  auto t0 = Clock::now();
  gc.Detect(t0);
  UseBetween(gc, "old", etcd, t0 + 1min);
  UseBetween(gc, "newer", nginx, t0 + 2min);
  ASSERT_TRUE(images_->CreateContainerRootfs("running", busybox).has_value());

  auto first = gc.Collect(t0 + 10min);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(Ids(*first), std::vector<std::string>{etcd});
  EXPECT_GT(first->freed_bytes, 0u);
  EXPECT_EQ(Present(), (std::set<std::string>{busybox, nginx}));

  auto second = gc.Collect(t0 + 11min);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(Ids(*second), std::vector<std::string>{nginx});
  // Nothing left to remove but the image a container holds: it stays, and so does its rootfs.
  auto third = gc.Collect(t0 + 12min);
  ASSERT_TRUE(third.has_value()) << third.error().ToString();
  EXPECT_TRUE(third->removed.empty());
  EXPECT_EQ(Present(), std::set<std::string>{busybox});
  EXPECT_TRUE(images_->ContainerRootfsOf("running").has_value());
  ASSERT_TRUE(images_->RemoveContainerRootfs("running").has_value());
}

TEST_F(ImageGc, BelowTheHighThresholdOrYoungerThanTheMinimumAgeNothingGoes) {
  std::string busybox = Pull("busybox:gc");
  std::string nginx = Pull("nginx:gc");
  auto t0 = Clock::now();
  {
    ImageGarbageCollector gc(*images_, Policy(84));
    gc.Detect(t0);
    auto report = gc.Collect(t0 + 1h);
    ASSERT_TRUE(report.has_value()) << report.error().ToString();
    EXPECT_TRUE(report->removed.empty());
  }
  {
    ImageGarbageCollector gc(*images_, Policy(99));
    gc.Detect(t0);
    auto report = gc.Collect(t0 + 1min);  // the minimum age is kubelet's 2 minutes
    ASSERT_TRUE(report.has_value()) << report.error().ToString();
    EXPECT_TRUE(report->removed.empty());
  }
  EXPECT_EQ(Present(), (std::set<std::string>{busybox, nginx}));
}

TEST_F(ImageGc, MaximumAgeRemovesLongUnusedImagesWhateverTheUsage) {
  std::string busybox = Pull("busybox:gc");
  std::string nginx = Pull("nginx:gc");
  std::string etcd = Pull("etcd:gc");
  ImageGcPolicy policy = Policy(10);
  policy.max_age = 1h;
  ImageGarbageCollector gc(*images_, policy);
  auto t0 = Clock::now();
  gc.Detect(t0);
  UseBetween(gc, "recent", nginx, t0 + 50min);
  ASSERT_TRUE(images_->CreateContainerRootfs("holder", busybox).has_value());
  auto report = gc.Collect(t0 + 90min);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(Ids(*report), std::vector<std::string>{etcd});
  EXPECT_EQ(Present(), (std::set<std::string>{busybox, nginx}));
  ASSERT_TRUE(images_->RemoveContainerRootfs("holder").has_value());
}

TEST_F(ImageGc, LayersSharedWithAKeptImageStay) {
  std::string busybox = Pull("busybox:gc");
  std::string user = Pull("user-numeric:gc");  // the same busybox layer, another config
  ASSERT_TRUE(images_->CreateContainerRootfs("holder", busybox).has_value());
  ImageGarbageCollector gc(*images_, Policy(99));
  auto t0 = Clock::now();
  gc.Detect(t0);
  auto report = gc.Collect(t0 + 10min);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(Ids(*report), std::vector<std::string>{user});
  // busybox still resolves to unpacked layers on disk.
  auto resolved = images_->Resolve(busybox);
  ASSERT_TRUE(resolved.has_value()) << resolved.error().ToString();
  for (const auto& dir : resolved->layer_dirs) EXPECT_TRUE(std::filesystem::exists(dir)) << dir;
  ASSERT_TRUE(images_->RemoveContainerRootfs("holder").has_value());
}

TEST_F(ImageGc, PruneRemovesUntaggedImagesAndWithAllEveryUnusedOne) {
  std::string first = Pull("moving:1");
  // The tag moves to another image: the first one is left without a name.
  ASSERT_TRUE(registry_->Push(TestImagesDir() + "/nginx", "moving:1").has_value());
  std::string second = Pull("moving:1");
  ASSERT_NE(first, second);
  std::string etcd = Pull("etcd:gc");
  std::string busybox = Pull("busybox:gc");
  ASSERT_TRUE(images_->CreateContainerRootfs("holder", busybox).has_value());
  ImageGarbageCollector gc(*images_, Policy(0));

  ImageGcReport dangling = gc.Prune(false);
  EXPECT_EQ(Ids(dangling), std::vector<std::string>{first});
  EXPECT_TRUE(dangling.errors.empty());

  ImageGcReport all = gc.Prune(true);
  std::vector<std::string> ids = Ids(all);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), (std::set<std::string>{second, etcd}));
  EXPECT_EQ(all.freed_bytes, all.removed[0].freed_bytes + all.removed[1].freed_bytes);
  EXPECT_GT(all.freed_bytes, 0u);
  EXPECT_EQ(Present(), std::set<std::string>{busybox});
  ASSERT_TRUE(images_->RemoveContainerRootfs("holder").has_value());
}

}  // namespace
}  // namespace peapod::agent
