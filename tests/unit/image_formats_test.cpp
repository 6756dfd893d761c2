// Pure logic of the image library: digests, manifests and indexes, platform selection, image
// configs, whiteout names, entry path confinement, overlay options, auth challenges.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "peapod/image/digest.h"
#include "peapod/image/image_config.h"
#include "peapod/image/image_store.h"
#include "peapod/image/layer_unpacker.h"
#include "peapod/image/manifest.h"
#include "peapod/image/overlay.h"
#include "peapod/image/registry_client.h"

namespace peapod::image {
namespace {

const std::string kAbcDigest =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(ImageDigest, Sha256OfKnownVectorMatches) {
  EXPECT_EQ(DigestOf("abc"), kAbcDigest);
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.Final(), kAbcDigest);
}

TEST(ImageDigest, VerifyAcceptsMatchingAndRejectsOtherContent) {
  EXPECT_TRUE(VerifyDigest("abc", kAbcDigest).has_value());
  auto bad = VerifyDigest("abd", kAbcDigest);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(VerifyDigest("abc", "sha256:1234").has_value());
}

TEST(ImageManifest, OciIndexListsPlatformsAndSelectionPicksHost) {
  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
    "manifests":[
     {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
                      std::string(64, '1') + R"(","size":10,
      "platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
     {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
                      std::string(64, '2') + R"(","size":10,
      "platform":{"os":"linux","architecture":"amd64"}},
     {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
                      std::string(64, '3') + R"(","size":10,
      "platform":{"os":"unknown","architecture":"unknown"}}]})";
  auto parsed = ParseManifest(index);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ManifestKind::kIndex);
  ASSERT_EQ(parsed->manifests.size(), 3u);
  auto amd = SelectPlatform(*parsed, PlatformForMachine("x86_64"));
  ASSERT_TRUE(amd.has_value());
  EXPECT_EQ(amd->digest, "sha256:" + std::string(64, '2'));
  auto arm = SelectPlatform(*parsed, PlatformForMachine("aarch64"));
  ASSERT_TRUE(arm.has_value());
  EXPECT_EQ(arm->digest, "sha256:" + std::string(64, '1'));
  auto none = SelectPlatform(*parsed, Platform{"linux", "s390x", ""});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
  EXPECT_NE(none.error().message.find("linux/amd64"), std::string::npos);
}

TEST(ImageManifest, Arm64WithoutVariantMatchesV8) {
  ParsedManifest index;
  index.kind = ManifestKind::kIndex;
  Descriptor d;
  d.digest = "sha256:" + std::string(64, '4');
  d.has_platform = true;
  d.platform = {"linux", "arm64", ""};
  index.manifests.push_back(d);
  EXPECT_TRUE(SelectPlatform(index, Platform{"linux", "arm64", "v8"}).has_value());
}

TEST(ImageManifest, DockerSchema2ManifestGivesConfigAndLayers) {
  std::string m = R"({"schemaVersion":2,
    "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,
              "digest":"sha256:)" + std::string(64, 'c') + R"("},
    "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":99,
               "digest":"sha256:)" + std::string(64, 'd') + R"("}]})";
  auto parsed = ParseManifest(m);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->kind, ManifestKind::kManifest);
  EXPECT_EQ(parsed->config.digest, "sha256:" + std::string(64, 'c'));
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(parsed->layers[0].size, 99);
  EXPECT_EQ(parsed->layers[0].media_type, media::kDockerLayerGzip);
}

TEST(ImageManifest, ManifestListWithoutMediaTypeFieldUsesContentType) {
  std::string list = R"({"schemaVersion":2,"manifests":[{"digest":"sha256:)" +
                     std::string(64, 'e') +
                     R"(","platform":{"os":"linux","architecture":"amd64"}}]})";
  auto parsed = ParseManifest(list, media::kDockerManifestList);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, ManifestKind::kIndex);
}

TEST(ImageManifest, SchemaOneAndGarbageAreRefused) {
  auto v1 = ParseManifest(R"({"schemaVersion":1,"name":"x","fsLayers":[]})");
  ASSERT_FALSE(v1.has_value());
  EXPECT_EQ(v1.error().code, ErrorCode::kUnimplemented);
  EXPECT_FALSE(ParseManifest("not json").has_value());
  EXPECT_FALSE(ParseManifest(R"({"mediaType":"text/plain"})").has_value());
}

TEST(ImageConfigParse, ContainerDefaultsComeThrough) {
  std::string cfg = R"({"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
    "config":{"Entrypoint":["/docker-entrypoint.sh"],"Cmd":["nginx","-g","daemon off;"],
      "Env":["PATH=/usr/bin","NGINX_VERSION=1.25"],"WorkingDir":"/srv","User":"101:101",
      "StopSignal":"SIGQUIT","Labels":{"maintainer":"x"},"ExposedPorts":{"80/tcp":{}},
      "Volumes":{"/data":{}}},
    "rootfs":{"type":"layers","diff_ids":["sha256:)" +
                    std::string(64, 'a') + R"(","sha256:)" + std::string(64, 'b') + R"("]}})";
  auto c = ParseImageConfig(cfg);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->defaults.entrypoint, std::vector<std::string>{"/docker-entrypoint.sh"});
  EXPECT_EQ(c->defaults.cmd.size(), 3u);
  EXPECT_EQ(c->defaults.env[1], "NGINX_VERSION=1.25");
  EXPECT_EQ(c->defaults.working_dir, "/srv");
  EXPECT_EQ(c->defaults.user, "101:101");
  EXPECT_EQ(c->defaults.stop_signal, "SIGQUIT");
  EXPECT_EQ(c->defaults.labels.at("maintainer"), "x");
  EXPECT_EQ(c->defaults.exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(c->defaults.volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(c->diff_ids.size(), 2u);
}

TEST(ImageConfigParse, ConfigWithoutRootfsOrWithBadDiffIdIsRejected) {
  EXPECT_FALSE(ParseImageConfig(R"({"config":{}})").has_value());
  EXPECT_FALSE(ParseImageConfig(R"({"rootfs":{"type":"layers","diff_ids":["md5:1"]}})").has_value());
}

TEST(ImageConfigParse, ChainIdsFollowTheSpecFormula) {
  std::string a = "sha256:" + std::string(64, 'a');
  std::string b = "sha256:" + std::string(64, 'b');
  auto chains = ChainIds({a, b});
  ASSERT_EQ(chains.size(), 2u);
  EXPECT_EQ(chains[0], a);
  EXPECT_EQ(chains[1], DigestOf(a + " " + b));
}

TEST(ImageWhiteout, NamesMapToOverlayWhiteouts) {
  EXPECT_EQ(ClassifyWhiteout(".wh.passwd").kind, WhiteoutKind::kRemove);
  EXPECT_EQ(ClassifyWhiteout(".wh.passwd").name, "passwd");
  EXPECT_EQ(ClassifyWhiteout(".wh..wh..opq").kind, WhiteoutKind::kOpaque);
  EXPECT_EQ(ClassifyWhiteout(".wh..wh.plnk").kind, WhiteoutKind::kIgnore);
  EXPECT_EQ(ClassifyWhiteout(".wh...").kind, WhiteoutKind::kIgnore);
  EXPECT_EQ(ClassifyWhiteout("passwd").kind, WhiteoutKind::kNone);
  EXPECT_EQ(ClassifyWhiteout("x.wh.y").kind, WhiteoutKind::kNone);
}

TEST(ImageEntryPath, NamesAreNormalizedInsideTheLayer) {
  EXPECT_EQ(ConfinedEntryPath("./a//b/").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ConfinedEntryPath("a/../b").value(), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(ConfinedEntryPath("./").value().empty());
}

TEST(ImageEntryPath, AbsoluteAndClimbingNamesAreRefused) {
  EXPECT_FALSE(ConfinedEntryPath("/etc/passwd").has_value());
  EXPECT_FALSE(ConfinedEntryPath("../x").has_value());
  EXPECT_FALSE(ConfinedEntryPath("a/../../x").has_value());
  EXPECT_FALSE(ConfinedEntryPath("./..").has_value());
}

// A gzip member that inflates to zero bytes: libarchive ends it with EOF and no error text, which
// once went into a std::string as a null pointer (a fuzz finding). It is refused, and no layer
// directory is left.
TEST(ImageLayerUnpack, CompressedStreamOfNothingIsRefusedWithAReason) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("peapod-empty-layer-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const unsigned char gzip_of_nothing[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00,
                                           0x00, 0x00, 0x00, 0x03, 0x03, 0x00};
  std::ofstream(dir / "layer", std::ios::binary)
      .write(reinterpret_cast<const char*>(gzip_of_nothing), sizeof gzip_of_nothing);
  auto r = UnpackLayer((dir / "layer").string(), (dir / "root").string());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("no data after decompression"), std::string::npos)
      << r.error().message;
  // Only the blob remains: neither the target nor the temp directory beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

TEST(ImageOverlayPlan, LowerDirsAreRelativeAndTopmostFirst) {
  auto plan = BuildOverlayPlan("/r/layers/l", {"base", "mid", "top"}, "/r/c/1/upper", "/r/c/1/work");
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->chdir_to, "/r/layers/l");
  EXPECT_EQ(plan->options, "lowerdir=top:mid:base,upperdir=/r/c/1/upper,workdir=/r/c/1/work");
}

TEST(ImageOverlayPlan, TwoHundredLayersFitButOptionsOverAPageAreRefused) {
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) names.push_back(std::string(15, 'a') + char('a' + i % 26));
  auto ok = BuildOverlayPlan("/l", names, "/u", "/w");
  ASSERT_TRUE(ok.has_value());
  EXPECT_LT(ok->options.size(), 4096u);
  for (int i = 0; i < 100; ++i) names.push_back(std::string(16, 'b'));
  auto too_big = BuildOverlayPlan("/l", names, "/u", "/w");
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
}

TEST(ImageOverlayPlan, NoLayersOrNamesWithSeparatorsAreRefused) {
  EXPECT_FALSE(BuildOverlayPlan("/l", {}, "/u", "/w").has_value());
  EXPECT_FALSE(BuildOverlayPlan("/l", {"a:b"}, "/u", "/w").has_value());
  EXPECT_FALSE(BuildOverlayPlan("/l", {"../x"}, "/u", "/w").has_value());
}

TEST(ImageRegistryAuth, BearerChallengeParamsAreParsed) {
  auto ch = ParseAuthChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  EXPECT_EQ(ch.scheme, "bearer");
  EXPECT_EQ(ch.params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(ch.params["service"], "registry.docker.io");
  EXPECT_EQ(ch.params["scope"], "repository:library/busybox:pull");
  EXPECT_EQ(ParseAuthChallenge(R"(Basic realm="x")").scheme, "basic");
}

TEST(ImageRegistryEndpoints, MirrorsAreTheOnlyEndpointsAndLoopbackIsPlainHttp) {
  RegistryConfig cfg;
  cfg.hosts["docker.io"].mirrors = {"http://127.0.0.1:5000/", "http://127.0.0.1:5001/v2/"};
  RegistryClient client(cfg, nullptr);
  EXPECT_EQ(client.EndpointsFor("docker.io"),
            (std::vector<std::string>{"http://127.0.0.1:5000", "http://127.0.0.1:5001"}));
  EXPECT_EQ(client.EndpointsFor("127.0.0.1:5000"), std::vector<std::string>{"http://127.0.0.1:5000"});
  EXPECT_EQ(client.EndpointsFor("localhost:5000"), std::vector<std::string>{"http://localhost:5000"});
  EXPECT_EQ(client.EndpointsFor("quay.io"), std::vector<std::string>{"https://quay.io"});
}

TEST(ImageRegistryEndpoints, UpstreamFallbackTriesTheRegistryAfterItsMirrors) {
  RegistryConfig cfg;
  cfg.hosts["docker.io"].mirrors = {"http://127.0.0.1:5000"};
  cfg.hosts["docker.io"].upstream_fallback = true;
  cfg.hosts["gcr.io"].upstream_fallback = true;  // no mirror: the registry alone, as ever
  RegistryClient client(cfg, nullptr);
  EXPECT_EQ(client.EndpointsFor("docker.io"),
            (std::vector<std::string>{"http://127.0.0.1:5000", "https://registry-1.docker.io"}));
  EXPECT_EQ(client.EndpointsFor("gcr.io"), std::vector<std::string>{"https://gcr.io"});
}

TEST(RegistryMirrorFlag, AddsMirrorsInOrderAndFallbackOnlyWhenAsked) {
  RegistryConfig cfg;
  ASSERT_TRUE(AddRegistryMirror("gcr.io=http://127.0.0.1:5000", cfg).has_value());
  ASSERT_TRUE(AddRegistryMirror("docker.io=http://127.0.0.1:5000", cfg).has_value());
  ASSERT_TRUE(AddRegistryMirror("docker.io=https://mirror.example,fallback", cfg).has_value());
  EXPECT_EQ(cfg.hosts["gcr.io"].mirrors, std::vector<std::string>{"http://127.0.0.1:5000"});
  EXPECT_FALSE(cfg.hosts["gcr.io"].upstream_fallback);
  EXPECT_EQ(cfg.hosts["docker.io"].mirrors,
            (std::vector<std::string>{"http://127.0.0.1:5000", "https://mirror.example"}));
  EXPECT_TRUE(cfg.hosts["docker.io"].upstream_fallback);
}

TEST(RegistryMirrorFlag, RefusesWhatItCannotReadAndChangesNothing) {
  RegistryConfig cfg;
  for (const char* bad :
       {"gcr.io", "=http://127.0.0.1:5000", "gcr.io=", "gcr.io=127.0.0.1:5000",
        "https://gcr.io=http://127.0.0.1:5000", "gcr.io=http://127.0.0.1:5000,fallbak"}) {
    auto s = AddRegistryMirror(bad, cfg);
    ASSERT_FALSE(s.has_value()) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
  }
  EXPECT_TRUE(cfg.hosts.empty());
}

TEST(ImageRecordJson, RoundTripsEveryField) {
  ImageRecord r;
  r.id = "sha256:" + std::string(64, 'f');
  r.manifest_digest = "sha256:" + std::string(64, 'e');
  r.repo_tags = {"docker.io/library/busybox:latest"};
  r.repo_digests = {"docker.io/library/busybox@" + r.manifest_digest};
  r.layers.push_back({"sha256:" + std::string(64, '1'), "t", 5, "sha256:" + std::string(64, '2'),
                      "sha256:" + std::string(64, '2')});
  r.size = 42;
  auto back = ImageRecordFromJson(ImageRecordToJson(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->repo_tags, r.repo_tags);
  EXPECT_EQ(back->repo_digests, r.repo_digests);
  EXPECT_EQ(back->layers[0].chain_id, r.layers[0].chain_id);
  EXPECT_EQ(back->size, 42u);
}

}  // namespace
}  // namespace peapod::image
