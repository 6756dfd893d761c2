// CRI ImageService verbs against a real peapodd and a local registry: PullImage, ListImages,
// ImageStatus, RemoveImage, ImageFsInfo.
#include <filesystem>

#include "cri_test_fixture.h"
#include "integration/oci_layout_builder.h"
#include "support/recording_http_server.h"

namespace peapod::testing {
namespace {

using Stub = v1::ImageService::Stub;

class CriImage : public CriBusyboxTest {
 protected:
  static void SetUpTestSuite() {
    CriBusyboxTest::SetUpTestSuite();
    if (HasFatalFailure()) return;
    PushBusybox("library/busybox:latest");  // For the mirror test.
  }

  // The tests pull for themselves.
  bool PullsBusybox() const override { return false; }

  grpc::Status Pull(const std::string& ref, std::string* image_ref) {
    v1::PullImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::PullImageResponse resp;
    auto status = CriCall(images(), &Stub::PullImage, req, &resp, std::chrono::seconds(120));
    if (image_ref != nullptr) *image_ref = resp.image_ref();
    return status;
  }

  grpc::Status StatusOf(const std::string& ref, v1::ImageStatusResponse* resp,
                        bool verbose = false) {
    v1::ImageStatusRequest req;
    req.mutable_image()->set_image(ref);
    req.set_verbose(verbose);
    return CriCall(images(), &Stub::ImageStatus, req, resp);
  }

  grpc::Status Remove(const std::string& ref) {
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(ref);
    v1::RemoveImageResponse resp;
    return CriCall(images(), &Stub::RemoveImage, req, &resp);
  }

  std::vector<v1::Image> List(const std::string& filter = "") {
    v1::ListImagesRequest req;
    if (!filter.empty()) req.mutable_filter()->mutable_image()->set_image(filter);
    v1::ListImagesResponse resp;
    auto status = CriCall(images(), &Stub::ListImages, req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return {resp.images().begin(), resp.images().end()};
  }
};

TEST_F(CriImage, PullImageAnswersTheImageIdAndListImagesShowsIt) {
  std::string id;
  auto status = Pull(BusyboxRef(), &id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(id.starts_with("sha256:")) << id;
  auto listed = List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), id);
  ASSERT_EQ(listed[0].repo_tags_size(), 1);
  EXPECT_EQ(listed[0].repo_tags(0), BusyboxRef());
  EXPECT_EQ(List(BusyboxRef()).size(), 1u);
  EXPECT_TRUE(List(registry_->HostPort() + "/nothing:here").empty());
}

TEST_F(CriImage, ImageStatusReportsSizeTagsAndDigests) {
  std::string id;
  ASSERT_TRUE(Pull(BusyboxRef(), &id).ok());
  v1::ImageStatusResponse resp;
  auto status = StatusOf(BusyboxRef(), &resp, /*verbose=*/true);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_TRUE(resp.has_image());
  EXPECT_EQ(resp.image().id(), id);
  EXPECT_GT(resp.image().size(), 100000u) << "busybox is larger than 100 kB";
  ASSERT_EQ(resp.image().repo_tags_size(), 1);
  EXPECT_EQ(resp.image().repo_tags(0), BusyboxRef());
  ASSERT_EQ(resp.image().repo_digests_size(), 1);
  EXPECT_TRUE(resp.image().repo_digests(0).starts_with(registry_->HostPort() + "/busybox@sha256:"))
      << resp.image().repo_digests(0);
  EXPECT_FALSE(resp.info().empty());

  // By id as well.
  v1::ImageStatusResponse by_id;
  ASSERT_TRUE(StatusOf(id, &by_id).ok());
  EXPECT_EQ(by_id.image().id(), id);
}

TEST_F(CriImage, ImageStatusOfAMissingImageIsEmptyNotAnError) {
  v1::ImageStatusResponse resp;
  auto status = StatusOf(registry_->HostPort() + "/nothing:here", &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_FALSE(resp.has_image());
}

TEST_F(CriImage, RemoveImageDeletesItAndIsIdempotent) {
  ASSERT_TRUE(Pull(BusyboxRef(), nullptr).ok());
  auto status = Remove(BusyboxRef());
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_TRUE(List().empty());
  v1::ImageStatusResponse resp;
  ASSERT_TRUE(StatusOf(BusyboxRef(), &resp).ok());
  EXPECT_FALSE(resp.has_image());
  status = Remove(BusyboxRef());
  EXPECT_TRUE(status.ok()) << "second remove: " << Describe(status);
}

TEST_F(CriImage, ImageFsInfoReportsTheStateRootUsage) {
  ASSERT_TRUE(Pull(BusyboxRef(), nullptr).ok());
  v1::ImageFsInfoRequest req;
  v1::ImageFsInfoResponse resp;
  auto status = CriCall(images(), &Stub::ImageFsInfo, req, &resp);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(resp.image_filesystems_size(), 1);
  const auto& fs = resp.image_filesystems(0);
  EXPECT_TRUE(fs.fs_id().mountpoint().starts_with(daemon_->state_root()))
      << fs.fs_id().mountpoint();
  EXPECT_GT(fs.used_bytes().value(), 100000u);
  EXPECT_GT(fs.inodes_used().value(), 0u);
  EXPECT_GT(fs.timestamp(), 0);
}

TEST_F(CriImage, BadOrMissingReferencesFailWithAMessage) {
  auto status = Pull("", nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  status = Pull(registry_->HostPort() + "/nothing:here", nullptr);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  EXPECT_NE(status.error_message().find("nothing"), std::string::npos) << Describe(status);
  EXPECT_TRUE(List().empty());
}

// The mirrored host is a loopback address nothing listens on (not docker.io), so even a
// fallback that should not happen would meet a refused connection, not leave the machine.
constexpr char kMirroredHost[] = "127.0.0.2:9";

class CriImageWithMirror : public CriImage {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--registry-mirror", std::string(kMirroredHost) + "=http://" + registry_->HostPort()};
  }
};

TEST_F(CriImageWithMirror, ReferencesToAMirroredHostArePulledFromTheMirror) {
  std::string ref = std::string(kMirroredHost) + "/library/busybox:latest";
  std::string id;
  auto status = Pull(ref, &id);
  ASSERT_TRUE(status.ok()) << Describe(status);
  v1::ImageStatusResponse resp;
  ASSERT_TRUE(StatusOf(ref, &resp).ok());
  ASSERT_TRUE(resp.has_image());
  EXPECT_EQ(resp.image().id(), id);
}

// peapodd's --max-image-size reaches the pull: a layer of 2 GiB of zeros (9 MiB of gzip) is
// refused with RESOURCE_EXHAUSTED naming the image and the limit, and nothing of it stays.
class CriImageLimits : public CriImage {
 protected:
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--max-image-size", "1Gi", "--max-image-entries", "100k"};
  }
};

TEST_F(CriImageLimits, GzipBombIsRefusedAndTheNextPullWorks) {
  TempDir dir("peapod-cri-bomb");
  TarBuilder(dir / "bomb.tar.gz", TarBuilder::Compression::kGzip).Zeros("zeros", int64_t{2} << 30);
  OciLayoutBuilder layout(dir / "layout");
  layout.Image({dir / "bomb.tar.gz"}, "docker.io/library/bomb:1");
  auto pushed = registry_->Push(layout.dir(), "bomb:1");
  ASSERT_TRUE(pushed) << pushed.error().ToString();

  std::string ref = registry_->HostPort() + "/bomb:1";
  auto status = Pull(ref, nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << Describe(status);
  EXPECT_NE(status.error_message().find("image \"" + ref + "\""), std::string::npos)
      << Describe(status);
  EXPECT_NE(status.error_message().find("more than 1 GiB (limit: --max-image-size)"),
            std::string::npos)
      << Describe(status);
  EXPECT_TRUE(List().empty());
  std::vector<std::string> layers;
  for (const auto& e : std::filesystem::directory_iterator(daemon_->state_root() + "/image/layers"))
    layers.push_back(e.path().filename());
  EXPECT_EQ(layers, std::vector<std::string>{"l"});

  ASSERT_TRUE(Pull(BusyboxRef(), nullptr).ok());
  EXPECT_EQ(List().size(), 1u);
}

// The registry a mirror stands for is a recording server on another loopback address that
// answers 404 to everything: whether the agent ever asked it is in its record.
class CriImageMirroredRegistry : public CriImage {
 protected:
  void SetUp() override {
    auto upstream = RecordingHttpServer::Start("127.0.0.3");
    ASSERT_TRUE(upstream) << upstream.error().ToString();
    upstream_ = std::move(*upstream);
    CriImage::SetUp();
  }
  std::vector<std::string> ExtraDaemonArgs() const override {
    return {"--registry-mirror",
            upstream_->HostPort() + "=http://" + registry_->HostPort() + MirrorOptions()};
  }
  virtual std::string MirrorOptions() const { return ""; }

  std::unique_ptr<RecordingHttpServer> upstream_;
};

TEST_F(CriImageMirroredRegistry, TheMirrorIsTheOnlyEndpointEvenAfterItAnswers404) {
  std::string ref = upstream_->HostPort() + "/library/busybox:latest";
  auto status = Pull(ref, nullptr);
  ASSERT_TRUE(status.ok()) << Describe(status);
  status = Pull(upstream_->HostPort() + "/library/busybox:not-in-the-mirror", nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  EXPECT_NE(status.error_message().find(registry_->HostPort()), std::string::npos)
      << "the error names the mirror that answered: " << Describe(status);
  EXPECT_TRUE(upstream_->Requests().empty())
      << "the registry itself was asked: " << upstream_->Requests().front();
}

class CriImageMirroredRegistryWithFallback : public CriImageMirroredRegistry {
 protected:
  std::string MirrorOptions() const override { return ",fallback"; }
};

TEST_F(CriImageMirroredRegistryWithFallback, TheRegistryItselfIsAskedAfterTheMirrorAnswers404) {
  ASSERT_TRUE(Pull(upstream_->HostPort() + "/library/busybox:latest", nullptr).ok());
  EXPECT_TRUE(upstream_->Requests().empty()) << "the mirror had it: no need to ask further";
  auto status = Pull(upstream_->HostPort() + "/library/busybox:not-in-the-mirror", nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  auto requests = upstream_->Requests();
  ASSERT_FALSE(requests.empty()) << "the fallback never asked the registry itself";
  bool asked_for_the_manifest = false;
  for (const auto& line : requests) {
    if (line.find("/v2/library/busybox/manifests/not-in-the-mirror") != std::string::npos) {
      asked_for_the_manifest = true;
    }
  }
  EXPECT_TRUE(asked_for_the_manifest) << requests.front();
}

}  // namespace
}  // namespace peapod::testing
