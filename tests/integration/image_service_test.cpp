// ImageService end to end on the real filesystem: archives built here are loaded, imported,
// resolved to layer dirs, mounted, referenced by containers and removed.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "image_tar_builder.h"
#include "peapod/image/digest.h"
#include "peapod/image/image_service.h"
#include "support/temp_dir.h"

namespace peapod::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using peapod::testing::ReadFile;
using peapod::testing::TarBuilder;
using peapod::testing::TempDir;

struct BuiltLayer {
  std::string bytes;    // the blob as stored
  std::string diff_id;  // digest of the uncompressed tar
};

BuiltLayer MakeLayer(const TempDir& dir, const std::string& file, const std::string& content,
                     TarBuilder::Compression c = TarBuilder::Compression::kNone) {
  std::string plain = dir / "plain.tar", blob = dir / "blob";
  TarBuilder(plain).Dir("etc").File("etc/" + file, content).File("bin/sh", "#!", 0755);
  TarBuilder(blob, c).Dir("etc").File("etc/" + file, content).File("bin/sh", "#!", 0755);
  BuiltLayer out{ReadFile(blob), DigestOf(ReadFile(plain))};
  fs::remove(plain);
  fs::remove(blob);
  return out;
}

std::string ConfigJson(const std::vector<std::string>& diff_ids, const std::string& cmd) {
  json c = {{"architecture", HostPlatform().architecture},
            {"os", "linux"},
            {"config",
             {{"Cmd", {cmd}},
              {"Env", {"PATH=/bin", "MODE=test"}},
              {"WorkingDir", "/work"},
              {"User", "1000:1000"},
              {"StopSignal", "SIGTERM"},
              {"Labels", {{"origin", "test"}}},
              {"ExposedPorts", {{"8080/tcp", json::object()}}},
              {"Volumes", {{"/data", json::object()}}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  return c.dump();
}

// docker save: manifest.json + <config>.json + <id>/layer.tar
std::string MakeDockerSave(const TempDir& dir, const std::string& tag, const BuiltLayer& layer,
                           const std::string& cmd) {
  std::string config = ConfigJson({layer.diff_id}, cmd);
  std::string config_name = std::string(DigestHex(DigestOf(config))) + ".json";
  std::string layer_dir = std::string(DigestHex(layer.diff_id));
  json manifest = json::array(
      {{{"Config", config_name}, {"RepoTags", {tag}}, {"Layers", {layer_dir + "/layer.tar"}}}});
  std::string path = dir / ("save-" + cmd + ".tar");
  TarBuilder(path)
      .File(config_name, config)
      .Dir(layer_dir)
      .File(layer_dir + "/layer.tar", layer.bytes)
      .File(layer_dir + "/VERSION", "1.0")
      .File("manifest.json", manifest.dump());
  return path;
}

struct OciLayout {
  std::string path;
  std::string config_digest;
  std::string manifest_digest;
};

OciLayout MakeOciLayout(const TempDir& dir, const std::string& name, const BuiltLayer& layer,
                        bool corrupt_layer = false) {
  std::string config = ConfigJson({layer.diff_id}, "oci");
  std::string layer_digest = DigestOf(layer.bytes);
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", media::kOciManifest},
                   {"config",
                    {{"mediaType", media::kOciConfig},
                     {"digest", DigestOf(config)},
                     {"size", config.size()}}},
                   {"layers",
                    {{{"mediaType", media::kOciLayerGzip},
                      {"digest", layer_digest},
                      {"size", layer.bytes.size()}}}}};
  std::string manifest_text = manifest.dump();
  json index = {{"schemaVersion", 2},
                {"manifests",
                 {{{"mediaType", media::kOciManifest},
                   {"digest", DigestOf(manifest_text)},
                   {"size", manifest_text.size()},
                   {"annotations", {{"org.opencontainers.image.ref.name", name}}}}}}};
  auto blob = [](const std::string& d) { return "blobs/sha256/" + std::string(DigestHex(d)); };
  std::string path = dir / "layout.tar";
  TarBuilder(path)
      .File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})")
      .File("index.json", index.dump())
      .File(blob(DigestOf(manifest_text)), manifest_text)
      .File(blob(DigestOf(config)), config)
      .File(blob(layer_digest), corrupt_layer ? layer.bytes + "x" : layer.bytes);
  return {path, DigestOf(config), DigestOf(manifest_text)};
}

class ImageServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ImageServiceOptions opts;
    opts.root = dir_ / "state";
    auto s = ImageService::Open(opts);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    service_ = std::move(*s);
  }
  size_t LayerDirs() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_ / "state/layers"))
      n += e.path().filename().string().size() == 64;
    return n;
  }

  TempDir dir_{"peapod-image-service"};
  std::unique_ptr<ImageService> service_;
};

TEST_F(ImageServiceTest, DockerSaveArchiveLoadsWithTagsAndConfigDefaults) {
  auto layer = MakeLayer(dir_, "hello", "docker save");
  auto ids = service_->Load(MakeDockerSave(dir_, "saved/app:1.0", layer, "run"));
  ASSERT_TRUE(ids.has_value()) << ids.error().ToString();
  ASSERT_EQ(ids->size(), 1u);
  auto img = service_->Resolve("saved/app:1.0");
  ASSERT_TRUE(img.has_value()) << img.error().ToString();
  EXPECT_EQ(img->record.id, (*ids)[0]);
  EXPECT_EQ(img->record.repo_tags, std::vector<std::string>{"docker.io/saved/app:1.0"});
  EXPECT_EQ(img->config.defaults.cmd, std::vector<std::string>{"run"});
  EXPECT_EQ(img->config.defaults.env, (std::vector<std::string>{"PATH=/bin", "MODE=test"}));
  EXPECT_EQ(img->config.defaults.working_dir, "/work");
  EXPECT_EQ(img->config.defaults.user, "1000:1000");
  EXPECT_EQ(img->config.defaults.exposed_ports, std::vector<std::string>{"8080/tcp"});
  EXPECT_EQ(img->config.defaults.volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(img->config.defaults.labels.at("origin"), "test");
  ASSERT_EQ(img->layer_dirs.size(), 1u);
  EXPECT_EQ(ReadFile(img->layer_dirs[0] + "/etc/hello"), "docker save");
  // Short and full ids find it too.
  EXPECT_TRUE(service_->ImageStatus(img->record.id).has_value());
  EXPECT_TRUE(service_->ImageStatus(std::string(DigestHex(img->record.id)).substr(0, 12)).has_value());
}

TEST_F(ImageServiceTest, OciLayoutArchiveLoadsUnderItsRefNameAnnotation) {
  auto layer = MakeLayer(dir_, "oci", "layout", TarBuilder::Compression::kGzip);
  auto layout = MakeOciLayout(dir_, "registry.local:5000/team/oci:v2", layer);
  auto ids = service_->Load(layout.path);
  ASSERT_TRUE(ids.has_value()) << ids.error().ToString();
  auto img = service_->ImageStatus("registry.local:5000/team/oci:v2");
  ASSERT_TRUE(img.has_value()) << img.error().ToString();
  EXPECT_EQ(img->id, layout.config_digest);
  EXPECT_EQ(img->manifest_digest, layout.manifest_digest);
  EXPECT_EQ(img->layers[0].media_type, media::kOciLayerGzip);
  auto resolved = service_->Resolve(img->id);
  ASSERT_TRUE(resolved.has_value());
  EXPECT_EQ(ReadFile(resolved->layer_dirs[0] + "/etc/oci"), "layout");
  EXPECT_EQ(resolved->config.defaults.cmd, std::vector<std::string>{"oci"});
}

TEST_F(ImageServiceTest, OciLayoutWithCorruptedBlobIsRefusedAndNothingIsStored) {
  auto layer = MakeLayer(dir_, "oci", "layout", TarBuilder::Compression::kGzip);
  auto layout = MakeOciLayout(dir_, "corrupt:v1", layer, /*corrupt_layer=*/true);
  auto ids = service_->Load(layout.path);
  ASSERT_FALSE(ids.has_value());
  EXPECT_EQ(ids.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(ids.error().message.find("digest mismatch"), std::string::npos) << ids.error().message;
  EXPECT_TRUE(service_->List().empty());
  EXPECT_FALSE(service_->content().Has(DigestOf(layer.bytes)));
  EXPECT_EQ(LayerDirs(), 0u);
}

TEST_F(ImageServiceTest, RootfsTarballImportsAsOneLayerImageUnderTheGivenName) {
  std::string tar = dir_ / "rootfs.tar.gz";
  TarBuilder(tar, TarBuilder::Compression::kGzip).File("etc/os-release", "ID=peapod").File("bin/sh", "#!", 0755);
  auto id = service_->Import(tar, "imported/rootfs:2024");
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  auto img = service_->Resolve("imported/rootfs:2024");
  ASSERT_TRUE(img.has_value()) << img.error().ToString();
  EXPECT_EQ(img->record.id, *id);
  ASSERT_EQ(img->record.layers.size(), 1u);
  EXPECT_EQ(img->record.layers[0].media_type, media::kOciLayerGzip);
  EXPECT_EQ(img->config.os, "linux");
  EXPECT_EQ(ReadFile(img->layer_dirs[0] + "/etc/os-release"), "ID=peapod");
}

TEST_F(ImageServiceTest, LoadingAnotherImageWithTheSameTagMovesTheTag) {
  auto first = service_->Load(MakeDockerSave(dir_, "app:latest", MakeLayer(dir_, "v", "1"), "one"));
  auto second = service_->Load(MakeDockerSave(dir_, "app:latest", MakeLayer(dir_, "v", "2"), "two"));
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_NE((*first)[0], (*second)[0]);
  EXPECT_EQ(service_->ImageStatus("app").value().id, (*second)[0]);
  auto old = service_->ImageStatus((*first)[0]);
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->repo_tags.empty());
  // Records survive a restart of the service.
  service_.reset();
  ImageServiceOptions opts;
  opts.root = dir_ / "state";
  auto reopened = ImageService::Open(opts);
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ((*reopened)->ImageStatus("app:latest").value().id, (*second)[0]);
  EXPECT_EQ((*reopened)->List().size(), 2u);
}

TEST_F(ImageServiceTest, RemovingAnImageInUseIsRefusedUntilItsContainerIsGone) {
  auto layer = MakeLayer(dir_, "used", "by c1");
  auto ids = service_->Load(MakeDockerSave(dir_, "busy:1", layer, "x"));
  ASSERT_TRUE(ids.has_value());
  auto rootfs = service_->CreateContainerRootfs("c1", "busy:1");
  ASSERT_TRUE(rootfs.has_value()) << rootfs.error().ToString();
  EXPECT_TRUE(fs::is_directory(rootfs->dirs.upper));
  EXPECT_TRUE(fs::is_directory(rootfs->dirs.work));

  auto refused = service_->Remove("busy:1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("c1"), std::string::npos);
  EXPECT_TRUE(service_->ImageStatus("busy:1").has_value());
  EXPECT_EQ(LayerDirs(), 1u);

  // The reference survives a restart (it is read back from the container dir).
  service_.reset();
  ImageServiceOptions opts;
  opts.root = dir_ / "state";
  service_ = std::move(ImageService::Open(opts).value());
  EXPECT_EQ(service_->ContainersUsing((*ids)[0]), std::vector<std::string>{"c1"});
  EXPECT_FALSE(service_->Remove((*ids)[0]).has_value());

  ASSERT_TRUE(service_->RemoveContainerRootfs("c1").has_value());
  auto removed = service_->Remove("busy:1");
  ASSERT_TRUE(removed.has_value()) << removed.error().ToString();
  EXPECT_FALSE(service_->ImageStatus("busy:1").has_value());
  EXPECT_EQ(LayerDirs(), 0u);
  EXPECT_TRUE(service_->content().List().empty());
  EXPECT_TRUE(fs::is_empty(dir_ / "state/layers/l"));
}

TEST_F(ImageServiceTest, RemovalKeepsLayersAndBlobsAnotherImageStillUses) {
  auto layer = MakeLayer(dir_, "shared", "base");
  auto a = service_->Load(MakeDockerSave(dir_, "a:1", layer, "a"));
  auto b = service_->Load(MakeDockerSave(dir_, "b:1", layer, "b"));
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(LayerDirs(), 1u);  // one unpack per chain id
  ASSERT_TRUE(service_->Remove("a:1").has_value());
  EXPECT_EQ(LayerDirs(), 1u);
  EXPECT_TRUE(service_->content().Has(DigestOf(layer.bytes)));
  EXPECT_FALSE(service_->content().Has((*a)[0]));
  ASSERT_TRUE(service_->Remove("b:1").has_value());
  EXPECT_EQ(LayerDirs(), 0u);
  EXPECT_TRUE(service_->content().List().empty());
}

TEST_F(ImageServiceTest, RemovingOneOfTwoTagsOnlyUntags) {
  auto layer = MakeLayer(dir_, "t", "t");
  ASSERT_TRUE(service_->Load(MakeDockerSave(dir_, "x:1", layer, "same")).has_value());
  ASSERT_TRUE(service_->Load(MakeDockerSave(dir_, "y:1", layer, "same")).has_value());
  auto img = service_->ImageStatus("x:1");
  ASSERT_TRUE(img.has_value());
  EXPECT_EQ(img->repo_tags.size(), 2u);
  ASSERT_TRUE(service_->Remove("x:1").has_value());
  EXPECT_FALSE(service_->ImageStatus("x:1").has_value());
  EXPECT_EQ(service_->ImageStatus("y:1").value().id, img->id);
}

TEST_F(ImageServiceTest, ContainerRootfsMountsTheImageAndUnknownImagesAreNotFound) {
  auto ids = service_->Load(MakeDockerSave(dir_, "mnt:1", MakeLayer(dir_, "m", "mounted"), "m"));
  ASSERT_TRUE(ids.has_value());
  auto rootfs = service_->CreateContainerRootfs("c2", "mnt:1");
  ASSERT_TRUE(rootfs.has_value());
  EXPECT_EQ(service_->CreateContainerRootfs("c2", "mnt:1").error().code, ErrorCode::kAlreadyExists);
  fs::create_directories(dir_ / "target");
  auto mounted = MountOverlay(rootfs->plan, dir_ / "target");
  ASSERT_TRUE(mounted.has_value()) << mounted.error().ToString();
  EXPECT_EQ(ReadFile(dir_ / "target/etc/m"), "mounted");
  EXPECT_EQ(::umount2((dir_ / "target").c_str(), MNT_DETACH), 0);
  auto missing = service_->CreateContainerRootfs("c3", "nope:1");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir_ / "state/containers/c3"));
  auto usage = service_->FsInfo();
  ASSERT_TRUE(usage.has_value());
  EXPECT_GT(usage->used_bytes, 0u);
  EXPECT_GT(usage->inodes_used, 3u);
}

}  // namespace
}  // namespace peapod::image
