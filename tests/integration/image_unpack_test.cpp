// Layer unpacking against the real kernel: hostile archives are refused without writing a byte
// outside the layer, whiteouts work under a real overlay mount, and deep images still mount.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "image_tar_builder.h"
#include "peapod/image/archive_loader.h"
#include "peapod/image/content_store.h"
#include "peapod/image/digest.h"
#include "peapod/image/image_service.h"
#include "peapod/image/layer_unpacker.h"
#include "peapod/image/overlay.h"
#include "support/temp_dir.h"

namespace peapod::image {
namespace {

namespace fs = std::filesystem;
using peapod::testing::ReadFile;
using peapod::testing::TarBuilder;
using peapod::testing::TempDir;
using peapod::testing::WriteFile;

std::set<std::string> Tree(const std::string& root) {
  std::set<std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    out.insert(it->path().string() + " " + std::to_string(st.st_mode) + " " +
               std::to_string(st.st_size) + " " + std::to_string(st.st_nlink));
  }
  return out;
}

// A temp dir with a sentinel dir beside the layers dir; the layer goes to layers/L.
class HostileLayer : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "sentinel");
    fs::create_directories(dir_ / "layers");
    WriteFile(dir_ / "sentinel/passwd", "root:x:0:0\n");
    before_ = Tree(dir_.path());
  }

  // Unpacks the tar, expects a refusal, and checks nothing changed anywhere in the temp dir.
  void ExpectRefused(const std::string& tar) {
    auto r = UnpackLayer(tar, dir_ / "layers/L");
    fs::remove(tar);
    ASSERT_FALSE(r.has_value()) << "hostile layer was unpacked";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().ToString();
    EXPECT_EQ(Tree(dir_.path()), before_) << "something was written: " << r.error().message;
    EXPECT_TRUE(fs::is_empty(dir_ / "layers")) << "a partial layer dir remains";
    EXPECT_EQ(ReadFile(dir_ / "sentinel/passwd"), "root:x:0:0\n");
  }

  std::string Tar() const { return dir_.path() + "/../" + fs::path(dir_.path()).filename().string() + ".tar"; }

  TempDir dir_{"peapod-image-hostile"};
  std::set<std::string> before_;
};

TEST_F(HostileLayer, DotDotEntryIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).File("ok", "fine").File("../../escaped", "x");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, AbsoluteEntryIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).File(dir_ / "sentinel/abs", "x");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, WriteThroughAbsoluteSymlinkIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).Symlink("a", dir_ / "sentinel").File("a/passwd", "owned");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, WriteThroughClimbingRelativeSymlinkChainIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).Symlink("a", "..").Symlink("b", "a/..").File("b/x", "owned");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, WriteThroughSymlinkToSentinelViaDotDotsIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).Dir("d").Symlink("d/s", "../../../sentinel").File("d/s/passwd", "owned");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, DirectoryReplacedBySymlinkCannotBeWrittenThrough) {
  std::string tar = Tar();
  TarBuilder(tar).Dir("d").File("d/x", "1").Symlink("d", dir_ / "sentinel").File("d/passwd", "2");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, HardLinkToAbsolutePathIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).HardLink("shadow", dir_ / "sentinel/passwd");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, HardLinkClimbingOutIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).HardLink("shadow", "../../sentinel/passwd");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, HardLinkThroughSymlinkIsRefused) {
  std::string tar = Tar();
  TarBuilder(tar).Symlink("s", dir_ / "sentinel").HardLink("shadow", "s/passwd");
  ExpectRefused(tar);
}

TEST_F(HostileLayer, DeviceNodeIsRefusedWhenNotAllowed) {
  std::string tar = Tar();
  TarBuilder(tar).CharDevice("dev/mem", 1, 1);
  UnpackOptions opts;
  opts.allow_device_nodes = false;
  auto r = UnpackLayer(tar, dir_ / "layers/L", opts);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("device nodes"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_ / "layers"));
  fs::remove(tar);
}

TEST_F(HostileLayer, TruncatedArchiveLeavesNoPartialLayer) {
  std::string tar = Tar();
  TarBuilder(tar).File("a", std::string(100000, 'a')).File("b", std::string(100000, 'b'));
  fs::resize_file(tar, 60000);
  auto r = UnpackLayer(tar, dir_ / "layers/L");
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(fs::is_empty(dir_ / "layers"));
  fs::remove(tar);
}

class LayerUnpack : public ::testing::TestWithParam<TarBuilder::Compression> {
 protected:
  TempDir dir_{"peapod-image-unpack"};
};

TEST_P(LayerUnpack, RestoresContentModesOwnersLinksAndTimes) {
  std::string tar = dir_ / "layer.tar";
  {
    TarBuilder b(tar, GetParam());
    b.Dir("bin", 0755)
        .File("bin/su", "setuid", 04755, 0, 0)
        .File("home/user/data", "mine", 0600, 1000, 1001)
        .Symlink("bin/sh", "busybox")
        .Symlink("etc-link", "/etc")
        .HardLink("bin/su2", "bin/su")
        .CharDevice("dev/null", 1, 3)
        .Dir("ro", 0555);
  }
  auto r = UnpackLayer(tar, dir_ / "L");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  std::string L = dir_ / "L";
  struct stat st {};
  ASSERT_EQ(::stat((L + "/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  ASSERT_EQ(::stat((L + "/home/user/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(ReadFile(L + "/home/user/data"), "mine");
  EXPECT_EQ(fs::read_symlink(L + "/bin/sh"), "busybox");
  EXPECT_EQ(fs::read_symlink(L + "/etc-link"), "/etc");
  ASSERT_EQ(::lstat((L + "/dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  ASSERT_EQ(::stat((L + "/ro").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  // The diff id is the digest of the uncompressed tar, whatever the compression.
  auto expected = ComputeDiffId(tar);
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(r->diff_id, *expected);
  EXPECT_EQ(r->entries, 8u);
}

INSTANTIATE_TEST_SUITE_P(Compressions, LayerUnpack,
                         ::testing::Values(TarBuilder::Compression::kNone,
                                           TarBuilder::Compression::kGzip,
                                           TarBuilder::Compression::kZstd));

TEST(LayerUnpackDiffId, MismatchedDiffIdFailsAndLeavesNothing) {
  TempDir dir("peapod-image-diffid");
  std::string tar = dir / "layer.tar";
  TarBuilder(tar).File("a", "a");
  UnpackOptions opts;
  opts.expected_diff_id = "sha256:" + std::string(64, '0');
  auto r = UnpackLayer(tar, dir / "L", opts);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("diff id"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "L"));
}

TEST(ContentStoreVerify, CorruptedBlobIsRejectedAndNotStored) {
  TempDir dir("peapod-image-content");
  auto store = ContentStore::Open(dir.path());
  ASSERT_TRUE(store.has_value());
  std::string claimed = DigestOf("the real content");
  auto w = (*store)->Writer();
  ASSERT_TRUE(w.has_value());
  ASSERT_TRUE(w->Write("tampered content").has_value());
  auto st = w->Commit(claimed);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message.find("digest mismatch"), std::string::npos);
  EXPECT_FALSE((*store)->Has(claimed));
  EXPECT_TRUE(fs::is_empty(dir / "blobs/sha256"));
  EXPECT_TRUE(fs::is_empty(dir / "ingest"));
  EXPECT_FALSE((*store)->Put("tampered content", claimed).has_value());
  auto good = (*store)->Put("the real content", claimed);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ((*store)->Read(claimed).value_or(""), "the real content");
}

// Layers + links as the image service lays them out: <dir>/layers/<name>, <dir>/l/<name>.
struct Stack {
  std::string links;
  std::vector<std::string> names;
};

TEST(OverlayWhiteouts, DeletedFileAndOpaqueDirAreHiddenInTheMountedOverlay) {
  TempDir dir("peapod-image-whiteout");
  std::string lower = dir / "lower.tar", upper = dir / "upper.tar";
  TarBuilder(lower)
      .File("etc/keep", "k")
      .File("etc/gone", "g")
      .File("data/old1", "1")
      .File("data/old2", "2");
  TarBuilder(upper).File("etc/.wh.gone", "").File("data/.wh..wh..opq", "").File("data/new", "n");
  fs::create_directories(dir / "l");
  ASSERT_TRUE(UnpackLayer(lower, dir / "l/lower").has_value());
  auto up = UnpackLayer(upper, dir / "l/upper");
  ASSERT_TRUE(up.has_value()) << up.error().ToString();

  struct stat st {};
  ASSERT_EQ(::lstat((dir / "l/upper/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  char value[8] = {};
  EXPECT_EQ(::getxattr((dir / "l/upper/data").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_EQ(value[0], 'y');

  auto cdirs = CreateContainerDirs(dir / "containers", "c1");
  ASSERT_TRUE(cdirs.has_value());
  auto plan = BuildOverlayPlan(dir / "l", {"lower", "upper"}, cdirs->upper, cdirs->work);
  ASSERT_TRUE(plan.has_value());
  fs::create_directories(dir / "rootfs");
  auto mounted = MountOverlay(*plan, dir / "rootfs");
  ASSERT_TRUE(mounted.has_value()) << mounted.error().ToString();
  EXPECT_EQ(ReadFile(dir / "rootfs/etc/keep"), "k");
  EXPECT_FALSE(fs::exists(dir / "rootfs/etc/gone"));
  EXPECT_FALSE(fs::exists(dir / "rootfs/data/old1"));
  EXPECT_EQ(ReadFile(dir / "rootfs/data/new"), "n");
  // Writes land in the container's upper dir, never in a layer.
  WriteFile(dir / "rootfs/etc/keep", "changed");
  EXPECT_EQ(ReadFile(dir / "l/lower/etc/keep"), "k");
  EXPECT_EQ(ReadFile(cdirs->upper + "/etc/keep"), "changed");
  EXPECT_EQ(::umount2((dir / "rootfs").c_str(), MNT_DETACH), 0);
  EXPECT_TRUE(RemoveContainerDirs(dir / "containers", "c1").has_value());
  EXPECT_FALSE(fs::exists(cdirs->dir));
}

TEST(OverlayDeepImage, SixtyLayerImageMountsWithShortRelativeNames) {
  TempDir dir("peapod-image-deep");
  constexpr int kLayers = 60;
  std::string layers = dir / "layers-with-a-long-directory-name-to-make-absolute-paths-long";
  fs::create_directories(layers + "/l");
  std::vector<std::string> names;
  size_t absolute_length = 0;
  for (int i = 0; i < kLayers; ++i) {
    std::string tar = dir / ("layer" + std::to_string(i) + ".tar");
    TarBuilder(tar).File("layer" + std::to_string(i), std::to_string(i)).File("top", std::to_string(i));
    std::string hex = DigestOf(std::to_string(i)).substr(7);
    ASSERT_TRUE(UnpackLayer(tar, layers + "/" + hex).has_value());
    std::string name = hex.substr(0, 16);
    fs::create_directory_symlink("../" + hex, layers + "/l/" + name);
    names.push_back(name);
    absolute_length += layers.size() + 66;
  }
  ASSERT_GT(absolute_length, 4096u) << "absolute lowerdirs would have fit anyway";
  auto cdirs = CreateContainerDirs(dir / "containers", "deep");
  ASSERT_TRUE(cdirs.has_value());
  auto plan = BuildOverlayPlan(layers + "/l", names, cdirs->upper, cdirs->work);
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  fs::create_directories(dir / "rootfs");
  auto mounted = MountOverlay(*plan, dir / "rootfs");
  ASSERT_TRUE(mounted.has_value()) << mounted.error().ToString();
  for (int i = 0; i < kLayers; ++i)
    EXPECT_EQ(ReadFile(dir / ("rootfs/layer" + std::to_string(i))), std::to_string(i));
  EXPECT_EQ(ReadFile(dir / "rootfs/top"), std::to_string(kLayers - 1));
  EXPECT_EQ(::umount2((dir / "rootfs").c_str(), MNT_DETACH), 0);
}

TEST(OverlayMount, MissingLinksDirFailsWithTheStepThatFailed) {
  OverlayPlan plan{"/nonexistent-peapod-links", "lowerdir=a,upperdir=/u,workdir=/w"};
  auto r = MountOverlay(plan, "/tmp");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().sys_errno, ENOENT);
  EXPECT_NE(r.error().message.find("chdir"), std::string::npos);
}

// Not a benchmark, a figure for the report: prints unpack throughput of a 256 MiB layer.
TEST(LayerUnpackThroughput, LargeLayerUnpacksCompletelyAndReportsThroughput) {
  TempDir dir("peapod-image-throughput");
  std::string tar = dir / "big.tar";
  std::string gz = dir / "big.tar.gz";
  std::string chunk(1 << 20, '\0');
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>((i * 2654435761u) >> 13);
  constexpr int kFiles = 256;
  {
    TarBuilder b(tar), g(gz, TarBuilder::Compression::kGzip);
    for (int i = 0; i < kFiles; ++i) {
      chunk[0] = static_cast<char>(i);
      b.File("d" + std::to_string(i % 16) + "/f" + std::to_string(i), chunk);
      g.File("d" + std::to_string(i % 16) + "/f" + std::to_string(i), chunk);
    }
  }
  // Bounded as the image service bounds it (its defaults), so the figure includes the cost.
  const ImageServiceOptions defaults;
  for (const auto& [name, path] : {std::pair{"tar", tar}, std::pair{"tar+gzip", gz}}) {
    UnpackBudget budget(defaults.max_image_bytes, defaults.max_image_entries);
    UnpackOptions options;
    options.budget = &budget;
    options.min_free_bytes = defaults.min_free_bytes;
    auto start = std::chrono::steady_clock::now();
    auto r = UnpackLayer(path, dir / (std::string("L-") + name), options);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->entries, static_cast<uint64_t>(kFiles + 0));
    EXPECT_EQ(fs::file_size(dir / (std::string("L-") + name + "/d3/f3")), chunk.size());
    std::printf("[ figure ] unpack %s: %.0f MiB in %.2fs = %.0f MiB/s (uncompressed)\n", name,
                r->uncompressed_bytes / 1048576.0, secs, r->uncompressed_bytes / 1048576.0 / secs);
  }
}

}  // namespace
}  // namespace peapod::image
