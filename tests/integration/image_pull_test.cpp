// Pulls from a real distribution registry (Debian's docker-registry on loopback, plain HTTP)
// and loads the test images that scripts/images builds.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>

#include "peapod/image/image_service.h"
#include "support/registry.h"
#include "support/temp_dir.h"

namespace peapod::image {
namespace {

namespace fs = std::filesystem;
using peapod::testing::LocalRegistry;
using peapod::testing::TempDir;
using peapod::testing::TestImagesDir;

class ImagePull : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = LocalRegistry::Start();
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    registry_ = std::move(*r);
    const std::string& images = TestImagesDir();
    ASSERT_TRUE(registry_->Push(images + "/busybox", "busybox:latest").has_value());
    ASSERT_TRUE(registry_->Push(images + "/busybox", "library/busybox:mirror").has_value());
    ASSERT_TRUE(registry_->Push(images + "/busybox-multi", "multi:1").has_value());
    ASSERT_TRUE(registry_->Push(images + "/nginx", "nginx:test").has_value());
  }
  static void TearDownTestSuite() { registry_.reset(); }

  std::unique_ptr<ImageService> Service(const std::string& sub, RegistryConfig cfg = {}) {
    ImageServiceOptions opts;
    opts.root = dir_ / sub;
    opts.registries = std::move(cfg);
    auto s = ImageService::Open(opts);
    EXPECT_TRUE(s.has_value());
    return s ? std::move(*s) : nullptr;
  }
  std::string Ref(const std::string& repo) const { return registry_->HostPort() + "/" + repo; }

  static inline std::unique_ptr<LocalRegistry> registry_;
  TempDir dir_{"peapod-image-pull"};
};

TEST_F(ImagePull, PullByTagStoresVerifiedLayersAndReportsProgress) {
  auto service = Service("a");
  std::mutex mu;
  std::map<std::string, PullProgress> last;
  auto id = service->Pull(Ref("busybox:latest"), {}, [&](const PullProgress& p) {
    std::lock_guard lock(mu);
    last[p.digest] = p;
  });
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  auto img = service->Resolve(Ref("busybox:latest"));
  ASSERT_TRUE(img.has_value()) << img.error().ToString();
  EXPECT_EQ(img->record.id, *id);
  EXPECT_EQ(img->record.repo_tags, std::vector<std::string>{Ref("busybox:latest")});
  ASSERT_EQ(img->record.repo_digests.size(), 1u);
  EXPECT_TRUE(fs::exists(img->layer_dirs.back() + "/bin/busybox"));
  EXPECT_FALSE(img->config.defaults.cmd.empty());
  for (const auto& l : img->record.layers) {
    ASSERT_TRUE(last.contains(l.digest));
    EXPECT_TRUE(last[l.digest].done);
    EXPECT_EQ(last[l.digest].bytes_done, static_cast<uint64_t>(l.size));
  }
}

TEST_F(ImagePull, PullByDigestGivesTheSameImage) {
  auto first = Service("a");
  auto id = first->Pull(Ref("busybox:latest"));
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  std::string repo_digest = first->ImageStatus(*id).value().repo_digests.at(0);
  auto second = Service("b");
  auto by_digest = second->Pull(repo_digest);
  ASSERT_TRUE(by_digest.has_value()) << by_digest.error().ToString();
  EXPECT_EQ(*by_digest, *id);
  EXPECT_TRUE(second->ImageStatus(repo_digest).has_value());
  EXPECT_TRUE(second->ImageStatus(Ref("busybox:latest")).error().code == ErrorCode::kNotFound);
}

TEST_F(ImagePull, UnknownTagFailsWithTheRegistrysAnswer) {
  auto service = Service("a");
  auto r = service->Pull(Ref("busybox:no-such-tag"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("busybox:no-such-tag"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("not found in " + registry_->HostPort()), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("404"), std::string::npos) << r.error().message;
  EXPECT_TRUE(service->List().empty());
}

TEST_F(ImagePull, DockerHubNameIsServedByAConfiguredMirror) {
  RegistryConfig cfg;
  cfg.hosts["docker.io"].mirrors = {"http://" + registry_->HostPort()};
  auto service = Service("a", cfg);
  auto id = service->Pull("busybox:mirror");
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  EXPECT_EQ(service->ImageStatus("busybox:mirror").value().id, *id);
  EXPECT_EQ(service->ImageStatus("busybox:mirror").value().repo_tags,
            std::vector<std::string>{"docker.io/library/busybox:mirror"});
}

TEST_F(ImagePull, MultiPlatformIndexResolvesToTheHostPlatform) {
  auto service = Service("a");
  auto id = service->Pull(Ref("multi:1"));
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  auto img = service->Resolve(*id);
  ASSERT_TRUE(img.has_value());
  EXPECT_EQ(img->config.architecture, HostPlatform().architecture);
}

TEST_F(ImagePull, NginxPullAndUnpackTimeIsReported) {
  auto service = Service("a");
  auto start = std::chrono::steady_clock::now();
  auto id = service->Pull(Ref("nginx:test"));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  auto img = service->Resolve(*id);
  ASSERT_TRUE(img.has_value());
  uint64_t bytes = img->record.size;
  std::printf("[ figure ] pull+unpack nginx (%zu layers, %.1f MiB compressed): %.2fs\n",
              img->record.layers.size(), bytes / 1048576.0, secs);
  bool has_nginx = false;
  for (const auto& d : img->layer_dirs) has_nginx |= fs::exists(d + "/usr/sbin/nginx");
  EXPECT_TRUE(has_nginx);
}

TEST_F(ImagePull, TestImageArchivesLoadInBothFormats) {
  auto service = Service("a");
  const std::string& images = TestImagesDir();
  auto saved = service->Load(images + "/busybox.docker.tar");
  ASSERT_TRUE(saved.has_value()) << saved.error().ToString();
  auto oci = service->Load(images + "/busybox.oci.tar");
  ASSERT_TRUE(oci.has_value()) << oci.error().ToString();
  for (const auto& id : *saved) {
    auto img = service->Resolve(id);
    ASSERT_TRUE(img.has_value());
    EXPECT_TRUE(fs::exists(img->layer_dirs.back() + "/bin/busybox"));
  }
}

}  // namespace
}  // namespace peapod::image
