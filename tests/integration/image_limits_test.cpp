// Bounded unpack: the layers of one image together may write only so many bytes of content and
// so many entries, and an unpack never takes the layer store's filesystem below its reserve. A
// refused image leaves nothing behind (no layer dir, no temp dir, no blob, no record), whether it
// came through UnpackLayer, a pull from a real registry or an archive load; the next good image
// still works.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "integration/image_tar_builder.h"
#include "integration/oci_layout_builder.h"
#include "peapod/image/image_service.h"
#include "peapod/image/layer_unpacker.h"
#include "support/registry.h"
#include "support/temp_dir.h"

namespace peapod::image {
namespace {

namespace fs = std::filesystem;
using peapod::testing::LocalRegistry;
using peapod::testing::OciLayoutBuilder;
using peapod::testing::TarBuilder;
using peapod::testing::TempDir;
using peapod::testing::TestImagesDir;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Every path below `root`, relative, with "/" after directories.
std::vector<std::string> Listing(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    out.push_back(fs::relative(it->path(), root).string() + (it->is_directory() ? "/" : ""));
  }
  return out;
}

// A 2 GiB file of zeros as one tar+gzip layer: 9 MiB on the wire (gzip -1, so that it is made in
// seconds; gzip -9 would make it 2 MiB).
void WriteGzipBomb(const std::string& path) {
  TarBuilder(path, TarBuilder::Compression::kGzip).Zeros("zeros", static_cast<int64_t>(2 * kGiB));
}

class UnpackLimits : public ::testing::Test {
 protected:
  std::string Tar(const std::string& name) { return dir_ / (name + ".tar"); }
  Result<UnpackStats> Unpack(const std::string& tar, const std::string& layer,
                             UnpackBudget& budget) {
    UnpackOptions options;
    options.budget = &budget;
    return UnpackLayer(tar, dir_ / ("layers/" + layer), options);
  }
  void SetUp() override { fs::create_directories(dir_ / "layers"); }

  TempDir dir_{"peapod-unpack-limits"};
};

TEST_F(UnpackLimits, LayerExactlyAtBothLimitsUnpacks) {
  TarBuilder(Tar("exact"))
      .Dir("d")
      .File("d/a", std::string(kMiB / 2, 'a'))
      .File("d/b", std::string(kMiB / 4, 'b'))
      .File("c", std::string(kMiB / 4, 'c'));
  UnpackBudget budget(kMiB, 4);
  auto r = Unpack(Tar("exact"), "L", budget);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->content_bytes, kMiB);
  EXPECT_EQ(r->entries, 4u);
  EXPECT_EQ(budget.bytes(), kMiB);
  EXPECT_EQ(budget.entries(), 4u);
  EXPECT_EQ(fs::file_size(dir_ / "layers/L/d/a"), kMiB / 2);
}

TEST_F(UnpackLimits, OneByteOverTheSizeLimitIsRefusedAndLeavesNothing) {
  TarBuilder(Tar("over"))
      .File("a", std::string(kMiB / 2, 'a'))
      .File("b", std::string(kMiB / 2 + 1, 'b'));
  UnpackBudget budget(kMiB, 100);
  auto r = Unpack(Tar("over"), "L", budget);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted) << r.error().ToString();
  EXPECT_TRUE(Contains(r.error().message, "more than 1 MiB")) << r.error().message;
  EXPECT_TRUE(Contains(r.error().message, "--max-image-size")) << r.error().message;
  EXPECT_TRUE(fs::is_empty(dir_ / "layers")) << "left: " << Listing(dir_ / "layers").front();
}

TEST_F(UnpackLimits, ManyFilesStopAtTheLimitNotAtTheEndOfTheLayer) {
  {
    TarBuilder b(Tar("many"));
    for (int i = 0; i < 64; ++i) b.File("f" + std::to_string(i), std::string(kMiB, 'x'));
  }
  UnpackBudget budget(8 * kMiB, 1000);
  auto r = Unpack(Tar("many"), "L", budget);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  // Nine files were read at most: the ninth does not fit, and nothing after it is looked at.
  EXPECT_LE(budget.entries(), 9u);
  EXPECT_LE(budget.bytes(), 9 * kMiB);
  EXPECT_TRUE(fs::is_empty(dir_ / "layers"));
}

TEST_F(UnpackLimits, DirectoriesLinksAndWhiteoutsCountAsEntries) {
  auto build = [&](const std::string& name) {
    TarBuilder(Tar(name))
        .Dir("d")
        .File("d/f", "x")
        .HardLink("d/h", "d/f")
        .Symlink("s", "d/f")
        .File(".wh.gone", "")
        .File("d/.wh..wh..opq", "");
  };
  build("six");
  UnpackBudget enough(kMiB, 6);
  auto ok = Unpack(Tar("six"), "L1", enough);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(enough.entries(), 6u);

  UnpackBudget short_by_one(kMiB, 5);
  auto refused = Unpack(Tar("six"), "L2", short_by_one);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_TRUE(Contains(refused.error().message, "more than 5 entries")) << refused.error().message;
  EXPECT_TRUE(Contains(refused.error().message, "--max-image-entries")) << refused.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "layers/L2"));
}

TEST_F(UnpackLimits, LayersOfOneImageShareOneBudget) {
  TarBuilder(Tar("first")).File("a", std::string(600 * 1024, 'a'));
  TarBuilder(Tar("second")).File("b", std::string(600 * 1024, 'b'));
  UnpackBudget budget(kMiB, 100);
  ASSERT_TRUE(Unpack(Tar("first"), "L1", budget).has_value());
  auto second = Unpack(Tar("second"), "L2", budget);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kResourceExhausted);
  EXPECT_TRUE(fs::exists(dir_ / "layers/L1/a"));
  EXPECT_FALSE(fs::exists(dir_ / "layers/L2"));
  EXPECT_EQ(Listing(dir_ / "layers"), (std::vector<std::string>{"L1/", "L1/a"}));
}

TEST_F(UnpackLimits, GzipBombIsRefusedWithoutFillingTheDisk) {
  std::string bomb = dir_ / "bomb.tar.gz";
  WriteGzipBomb(bomb);
  EXPECT_LT(fs::file_size(bomb), 16 * kMiB) << "the bomb is small on the wire";
  UnpackBudget budget(kGiB, 1000);
  auto r = Unpack(bomb, "L", budget);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_TRUE(Contains(r.error().message, "more than 1 GiB")) << r.error().message;
  EXPECT_LT(budget.bytes(), kGiB) << "the declared size is enough to refuse it";
  EXPECT_TRUE(fs::is_empty(dir_ / "layers"));
}

// The layer store on a small tmpfs, so "the disk" fills for real.
class UnpackFreeSpace : public ::testing::Test {
 protected:
  void Mount(const std::string& size) {
    fs::create_directories(dir_ / "fs");
    ASSERT_EQ(::mount("tmpfs", (dir_ / "fs").c_str(), "tmpfs", 0, ("size=" + size).c_str()), 0)
        << std::strerror(errno);
    fs::create_directories(dir_ / "fs/layers");
  }
  TempDir dir_{"peapod-unpack-space"};  // detaches the tmpfs
};

TEST_F(UnpackFreeSpace, UnpackStopsBeforeTheReserveIsUsed) {
  Mount("64m");
  std::string tar = dir_ / "big.tar";  // outside the tmpfs
  {
    TarBuilder b(tar);
    for (int i = 0; i < 48; ++i) b.File("f" + std::to_string(i), std::string(kMiB, 'x'));
  }
  UnpackOptions options;
  options.min_free_bytes = 24 * kMiB;
  auto r = UnpackLayer(tar, dir_ / "fs/layers/L", options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted) << r.error().ToString();
  EXPECT_TRUE(Contains(r.error().message, "less than the 24 MiB")) << r.error().message;
  EXPECT_TRUE(Contains(r.error().message, "--image-fs-reserve")) << r.error().message;
  EXPECT_TRUE(fs::is_empty(dir_ / "fs/layers"));
  EXPECT_EQ(fs::space(dir_ / "fs").available, fs::space(dir_ / "fs").capacity)
      << "everything written was removed";

  // The same layer fits when the reserve allows it.
  options.min_free_bytes = 4 * kMiB;
  auto fits = UnpackLayer(tar, dir_ / "fs/layers/L", options);
  EXPECT_TRUE(fits.has_value()) << fits.error().ToString();
}

TEST_F(UnpackFreeSpace, FilesystemAlreadyBelowTheReserveRefusesBeforeWriting) {
  Mount("16m");
  std::string tar = dir_ / "small.tar";
  TarBuilder(tar).File("a", "a");
  UnpackOptions options;
  options.min_free_bytes = 32 * kMiB;
  auto r = UnpackLayer(tar, dir_ / "fs/layers/L", options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_TRUE(fs::is_empty(dir_ / "fs/layers"));
}

// The image service: limits from its options (peapodd's flags), images from a real registry and
// from archives.
class ImageLimits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = LocalRegistry::Start();
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    registry_ = std::move(*r);
    const std::string& images = TestImagesDir();
    ASSERT_TRUE(registry_->Push(images + "/busybox", "busybox:latest").has_value());
  }
  static void TearDownTestSuite() { registry_.reset(); }

  std::unique_ptr<ImageService> Service(uint64_t max_bytes, uint64_t max_entries) {
    ImageServiceOptions opts;
    opts.root = dir_ / "root";
    opts.max_image_bytes = max_bytes;
    opts.max_image_entries = max_entries;
    auto s = ImageService::Open(opts);
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  }
  std::string Ref(const std::string& repo) const { return registry_->HostPort() + "/" + repo; }

  // A layer tar of `files` files of `size` bytes each, under dir d/ (one more entry).
  std::string Layer(const std::string& name, int files, size_t size) {
    std::string path = dir_ / (name + ".tar");
    TarBuilder b(path);
    b.Dir("d-" + name);
    for (int i = 0; i < files; ++i) {
      b.File("d-" + name + "/f" + std::to_string(i), std::string(size, 'x'));
    }
    return path;
  }

  // An archive with one image per entry of `images` (each a list of layer tars).
  std::string Archive(const std::string& name,
                      const std::vector<std::pair<std::string, std::vector<std::string>>>& images) {
    OciLayoutBuilder layout(dir_ / ("layout-" + name));
    for (const auto& [image_name, layers] : images) layout.Image(layers, image_name);
    std::string archive = dir_ / (name + ".oci.tar");
    layout.WriteArchive(archive);
    return archive;
  }

  // The unpacked layer dirs of the state root (not the links dir).
  std::vector<std::string> LayerDirs() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_ / "root/layers")) {
      if (e.path().filename() != "l") out.push_back(e.path().filename());
    }
    return out;
  }

  // Nothing of a refused image is left in the state root: no record, no layer, no link, no
  // blob, no temp dir.
  void ExpectNothingLeft(const ImageService& service) {
    EXPECT_TRUE(service.List().empty());
    std::string root = dir_ / "root";
    EXPECT_EQ(Listing(root + "/layers"), (std::vector<std::string>{"l/"}));
    EXPECT_TRUE(fs::is_empty(root + "/blobs/sha256")) << Listing(root + "/blobs").front();
    EXPECT_TRUE(fs::is_empty(root + "/images"));
    if (fs::exists(root + "/ingest")) {
      EXPECT_TRUE(fs::is_empty(root + "/ingest"));
    }
  }

  static inline std::unique_ptr<LocalRegistry> registry_;
  TempDir dir_{"peapod-image-limits"};
};

TEST_F(ImageLimits, GzipBombPulledFromARegistryIsRefusedAndLeavesNothing) {
  std::string bomb = dir_ / "bomb.tar.gz";
  WriteGzipBomb(bomb);
  OciLayoutBuilder layout(dir_ / "bomb-layout");
  layout.Image({bomb}, "docker.io/library/bomb:1");
  auto pushed = registry_->Push(layout.dir(), "bomb:1");
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();

  auto service = Service(kGiB, 1'000'000);
  auto id = service->Pull(Ref("bomb:1"));
  ASSERT_FALSE(id.has_value()) << "the bomb was pulled";
  const std::string& message = id.error().message;
  EXPECT_EQ(id.error().code, ErrorCode::kResourceExhausted) << message;
  EXPECT_TRUE(Contains(message, "image \"" + Ref("bomb:1") + "\"")) << message;
  auto layer_digest = DigestOfFile(bomb);
  ASSERT_TRUE(layer_digest.has_value());
  EXPECT_TRUE(Contains(message, "layer " + *layer_digest)) << message;
  EXPECT_TRUE(Contains(message, "more than 1 GiB (limit: --max-image-size)")) << message;
  ExpectNothingLeft(*service);

  auto good = service->Pull(Ref("busybox:latest"));
  ASSERT_TRUE(good.has_value()) << good.error().ToString();
  EXPECT_EQ(service->List().size(), 1u);
}

TEST_F(ImageLimits, ArchiveWithTooManyEntriesIsRefusedAndLeavesNothing) {
  auto service = Service(kGiB, 1000);
  std::string archive = Archive("tiny", {{"docker.io/library/tiny:1", {Layer("tiny", 2000, 0)}}});
  auto ids = service->Load(archive);
  ASSERT_FALSE(ids.has_value()) << "the image was loaded";
  EXPECT_EQ(ids.error().code, ErrorCode::kResourceExhausted) << ids.error().message;
  EXPECT_TRUE(Contains(ids.error().message, "image \"docker.io/library/tiny:1\""))
      << ids.error().message;
  EXPECT_TRUE(Contains(ids.error().message, "more than 1000 entries")) << ids.error().message;
  ExpectNothingLeft(*service);

  auto good = service->Load(TestImagesDir() + "/busybox.oci.tar");
  ASSERT_TRUE(good.has_value()) << good.error().ToString();
}

TEST_F(ImageLimits, ImageExactlyAtTheLimitsLoadsAndRecordsWhatItUnpacked) {
  // 1 + 10 entries and 10 * 64 KiB, then 1 + 6 entries and 6 * 64 KiB: 18 entries, 1 MiB.
  std::string archive = Archive("exact", {{"docker.io/library/exact:1",
                                           {Layer("a", 10, 64 * 1024), Layer("b", 6, 64 * 1024)}}});
  auto service = Service(kMiB, 18);
  auto ids = service->Load(archive);
  ASSERT_TRUE(ids.has_value()) << ids.error().ToString();
  auto record = service->ImageStatus("docker.io/library/exact:1");
  ASSERT_TRUE(record.has_value());
  ASSERT_EQ(record->layers.size(), 2u);
  EXPECT_EQ(record->layers[0].unpacked_bytes + record->layers[1].unpacked_bytes, kMiB);
  EXPECT_EQ(record->layers[0].unpacked_entries + record->layers[1].unpacked_entries, 18u);

  // The same layers again, under one entry less: they are on the node already, and still count.
  auto one_less = Service(kMiB, 17);
  auto again = Archive("again", {{"docker.io/library/again:1",
                                  {Layer("a", 10, 64 * 1024), Layer("b", 6, 64 * 1024)}}});
  auto refused = one_less->Load(again);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_TRUE(Contains(refused.error().message, "unpacked already, for another image"))
      << refused.error().message;
}

TEST_F(ImageLimits, ALayerAlreadyOnTheNodeStillCountsAndIsKeptForItsImage) {
  auto service = Service(kMiB, 1000);
  std::string shared = Layer("shared", 1, 600 * 1024);
  ASSERT_TRUE(service->Load(Archive("a", {{"docker.io/library/a:1", {shared}}})).has_value());
  auto a = service->Resolve("docker.io/library/a:1");
  ASSERT_TRUE(a.has_value());

  auto b = service->Load(
      Archive("b", {{"docker.io/library/b:1", {shared, Layer("more", 1, 600 * 1024)}}}));
  ASSERT_FALSE(b.has_value()) << "1.2 MiB fit in 1 MiB";
  EXPECT_EQ(b.error().code, ErrorCode::kResourceExhausted);
  // Image a and its layer stay; nothing of b does.
  ASSERT_EQ(service->List().size(), 1u);
  EXPECT_TRUE(fs::exists(a->layer_dirs[0] + "/d-shared/f0"));
  EXPECT_EQ(LayerDirs().size(), 1u) << ::testing::PrintToString(LayerDirs());
}

TEST_F(ImageLimits, ArchiveLoadIsAllOrNothing) {
  auto service = Service(kMiB, 1000);
  std::string archive =
      Archive("two", {{"docker.io/library/good:1", {Layer("good", 1, 1024)}},
                      {"docker.io/library/big:1", {Layer("big", 2, 600 * 1024)}}});
  auto ids = service->Load(archive);
  ASSERT_FALSE(ids.has_value());
  EXPECT_TRUE(Contains(ids.error().message, "image \"docker.io/library/big:1\""))
      << ids.error().message;
  ExpectNothingLeft(*service);
}

}  // namespace
}  // namespace peapod::image
