// The test images (scripts/images/build.sh) and the local registry fixture: layouts are
// well-formed and deterministic, push.sh stores them so the registry serves the layout's digests,
// and the nginx image really runs under chroot.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/utsname.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/registry.h"
#include "support/temp_dir.h"

namespace peapod::testing {
namespace {

using nlohmann::json;

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
const std::vector<std::string> kSingleImages = {"busybox",    "busybox-layers", "user-numeric",
                                                "user-named", "nginx",          "etcd"};

// Runs a shell command; its stdout, or an error with everything it printed.
Result<std::string> Capture(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return FailErrno("popen " + command);
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  if (int status = pclose(pipe); status != 0) {
    return Fail(ErrorCode::kInternal,
                command + " exited " + std::to_string(status) + ": " + output);
  }
  return output;
}

std::string FirstWord(const std::string& s) { return s.substr(0, s.find_first_of(" \n")); }

std::string Sha256Of(const std::string& path) {
  auto out = Capture("sha256sum '" + path + "'");
  return out ? "sha256:" + FirstWord(*out) : "";
}

json ReadJson(const std::string& path) { return json::parse(ReadFile(path)); }

std::string BlobPath(const std::string& layout, const std::string& digest) {
  return layout + "/blobs/sha256/" + digest.substr(std::string("sha256:").size());
}

// The single manifest (or index) that a layout's index.json points to.
std::string TopDigest(const std::string& layout) {
  return ReadJson(layout + "/index.json")["manifests"][0]["digest"];
}

json Manifest(const std::string& layout) { return ReadJson(BlobPath(layout, TopDigest(layout))); }

json Config(const std::string& layout) {
  return ReadJson(BlobPath(layout, Manifest(layout)["config"]["digest"]));
}

std::string HostArchitecture() {
  utsname u{};
  uname(&u);
  const std::map<std::string, std::string> oci_names = {
      {"x86_64", "amd64"},    {"aarch64", "arm64"}, {"i686", "386"},
      {"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"}};
  auto it = oci_names.find(u.machine);
  return it == oci_names.end() ? u.machine : it->second;
}

class RegistryImages : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { registry_.reset(); }

  void SetUp() override {
    images_ = TestImagesDir();
    if (!registry_) {
      auto started = LocalRegistry::Start();
      ASSERT_TRUE(started) << started.error().ToString();
      registry_ = std::move(*started);
    }
  }

  std::string Layout(const std::string& name) const { return images_ + "/" + name; }

  // GET from the registry with curl; the body, or an error for any status but 200.
  Result<std::string> Get(const std::string& path, const std::string& accept) const {
    return Capture("curl -sSf -H 'Accept: " + accept + "' http://" + registry_->HostPort() + path);
  }

  // The digest of what the registry serves at `path`, hashed as received.
  Result<std::string> DigestOfServed(const std::string& path, const std::string& accept) const {
    auto out = Capture("curl -sSf -H 'Accept: " + accept + "' http://" + registry_->HostPort() +
                       path + " | sha256sum");
    if (!out) return out;
    return "sha256:" + FirstWord(*out);
  }

  std::string images_;
  static std::unique_ptr<LocalRegistry> registry_;
};

std::unique_ptr<LocalRegistry> RegistryImages::registry_;

TEST_F(RegistryImages, EveryBlobIsNamedByItsSha256) {
  for (const auto& name : kSingleImages) {
    for (const auto& blob : std::filesystem::directory_iterator(Layout(name) + "/blobs/sha256")) {
      EXPECT_EQ(Sha256Of(blob.path()), "sha256:" + blob.path().filename().string())
          << name << ": " << blob.path();
    }
  }
}

TEST_F(RegistryImages, LayoutsDescribeConfigAndLayersWithMatchingDiffIds) {
  for (const auto& name : kSingleImages) {
    SCOPED_TRACE(name);
    const std::string layout = Layout(name);
    EXPECT_EQ(ReadJson(layout + "/oci-layout")["imageLayoutVersion"], "1.0.0");
    json entry = ReadJson(layout + "/index.json")["manifests"][0];
    EXPECT_EQ(entry["annotations"]["org.opencontainers.image.ref.name"], "latest");
    EXPECT_EQ(entry["mediaType"], kOciManifest);
    EXPECT_EQ(entry["size"], std::filesystem::file_size(BlobPath(layout, entry["digest"])));

    json manifest = Manifest(layout);
    json config = Config(layout);
    EXPECT_EQ(config["os"], "linux");
    EXPECT_EQ(config["architecture"], HostArchitecture());
    ASSERT_EQ(config["rootfs"]["diff_ids"].size(), manifest["layers"].size());
    for (size_t i = 0; i < manifest["layers"].size(); ++i) {
      const json& layer = manifest["layers"][i];
      EXPECT_EQ(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
      const std::string path = BlobPath(layout, layer["digest"]);
      EXPECT_EQ(layer["size"], std::filesystem::file_size(path));
      auto diff_id = Capture("gzip -dc '" + path + "' | sha256sum");
      ASSERT_TRUE(diff_id) << diff_id.error().ToString();
      EXPECT_EQ(config["rootfs"]["diff_ids"][i], "sha256:" + FirstWord(*diff_id));
    }
  }
}

TEST_F(RegistryImages, ConfigsCarryEntrypointUserPortsAndStopSignal) {
  EXPECT_EQ(Config(Layout("busybox"))["config"]["Cmd"], json({"sh"}));
  EXPECT_EQ(Config(Layout("user-numeric"))["config"]["User"], "1000:1000");
  EXPECT_EQ(Config(Layout("user-named"))["config"]["User"], "app");

  json nginx = Config(Layout("nginx"))["config"];
  EXPECT_EQ(nginx["Entrypoint"], json({"/usr/sbin/nginx", "-g", "daemon off;"}));
  EXPECT_EQ(nginx["StopSignal"], "SIGQUIT");
  EXPECT_TRUE(nginx["ExposedPorts"].contains("80/tcp"));
  EXPECT_EQ(Config(Layout("etcd"))["config"]["Entrypoint"], json({"/usr/bin/etcd"}));
}

TEST_F(RegistryImages, NamedUserExistsInTheImagePasswd) {
  const std::string layer =
      BlobPath(Layout("user-named"), Manifest(Layout("user-named"))["layers"][0]["digest"]);
  auto passwd = Capture("tar -xzOf '" + layer + "' etc/passwd");
  ASSERT_TRUE(passwd) << passwd.error().ToString();
  EXPECT_NE(passwd->find("\napp:x:1000:1000:"), std::string::npos) << *passwd;
}

TEST_F(RegistryImages, LayeredImageWhitesOutDataA) {
  const std::string layout = Layout("busybox-layers");
  json layers = Manifest(layout)["layers"];
  ASSERT_EQ(layers.size(), 3u);
  auto added = Capture("tar -tzf '" + BlobPath(layout, layers[1]["digest"]) + "'");
  auto deleted = Capture("tar -tzf '" + BlobPath(layout, layers[2]["digest"]) + "'");
  ASSERT_TRUE(added && deleted);
  EXPECT_NE(added->find("data/a\n"), std::string::npos) << *added;
  EXPECT_NE(added->find("data/b\n"), std::string::npos) << *added;
  EXPECT_NE(deleted->find("data/.wh.a\n"), std::string::npos) << *deleted;
  EXPECT_NE(deleted->find("data/sub/.wh..wh..opq\n"), std::string::npos) << *deleted;
  EXPECT_EQ(deleted->find("data/b"), std::string::npos) << *deleted;
}

TEST_F(RegistryImages, NginxRootfsPassesConfigTestUnderChroot) {
  TempDir dir("peapod-nginx-rootfs");
  const std::string layout = Layout("nginx");
  const std::string layer = BlobPath(layout, Manifest(layout)["layers"][0]["digest"]);
  auto unpacked = Capture("tar -xzf '" + layer + "' --numeric-owner -C " + dir.path() + " 2>&1");
  ASSERT_TRUE(unpacked) << unpacked.error().ToString();
  // nginx -t opens its log files; a runtime provides /dev/std{out,err}, plain files do here.
  WriteFile(dir / "dev/stdout", "");
  WriteFile(dir / "dev/stderr", "");
  auto tested = Capture("chroot " + dir.path() + " /usr/sbin/nginx -t 2>&1");
  ASSERT_TRUE(tested) << tested.error().ToString();
  EXPECT_NE(tested->find("test is successful"), std::string::npos) << *tested;
}

TEST_F(RegistryImages, PushedManifestsAreServedUnderTheLayoutDigest) {
  for (const std::string name : {"busybox", "nginx"}) {
    SCOPED_TRACE(name);
    const std::string layout = Layout(name);
    auto pushed = registry_->Push(layout, "peapod/" + name + ":latest");
    ASSERT_TRUE(pushed) << pushed.error().ToString();

    auto served = DigestOfServed("/v2/peapod/" + name + "/manifests/latest", kOciManifest);
    ASSERT_TRUE(served) << served.error().ToString();
    EXPECT_EQ(*served, TopDigest(layout));

    auto headers = Capture("curl -sSfI -H 'Accept: " + std::string(kOciManifest) + "' http://" +
                           registry_->HostPort() + "/v2/peapod/" + name + "/manifests/latest");
    ASSERT_TRUE(headers) << headers.error().ToString();
    EXPECT_NE(headers->find("Docker-Content-Digest: " + TopDigest(layout)), std::string::npos)
        << *headers;

    const std::string layer = Manifest(layout)["layers"][0]["digest"];
    auto served_layer = DigestOfServed("/v2/peapod/" + name + "/blobs/" + layer, "*/*");
    ASSERT_TRUE(served_layer) << served_layer.error().ToString();
    EXPECT_EQ(*served_layer, layer);
  }
}

TEST_F(RegistryImages, PushingTwiceSkipsBlobsAndKeepsTheDigest) {
  ASSERT_TRUE(registry_->Push(Layout("user-named"), "peapod/user-named:v1"));
  auto again = registry_->Push(Layout("user-named"), "peapod/user-named:v1");
  ASSERT_TRUE(again) << again.error().ToString();
  auto served = DigestOfServed("/v2/peapod/user-named/manifests/v1", kOciManifest);
  ASSERT_TRUE(served) << served.error().ToString();
  EXPECT_EQ(*served, TopDigest(Layout("user-named")));
}

TEST_F(RegistryImages, MultiPlatformIndexOffersTheHostImageBesideAnotherPlatform) {
  const std::string layout = Layout("busybox-multi");
  auto pushed = registry_->Push(layout, "peapod/busybox:multi");
  ASSERT_TRUE(pushed) << pushed.error().ToString();

  auto body = Get("/v2/peapod/busybox/manifests/multi", kOciIndex);
  ASSERT_TRUE(body) << body.error().ToString();
  json index = json::parse(*body);
  EXPECT_EQ(index["mediaType"], kOciIndex);
  ASSERT_EQ(index["manifests"].size(), 2u);
  const json& other = index["manifests"][0];
  const json& host = index["manifests"][1];
  EXPECT_NE(other["platform"]["architecture"], HostArchitecture());
  EXPECT_EQ(host["platform"]["architecture"], HostArchitecture());
  EXPECT_EQ(host["platform"]["os"], "linux");
  EXPECT_EQ(host["digest"], TopDigest(Layout("busybox")));

  for (const auto& entry : index["manifests"]) {
    std::string digest = entry["digest"];
    auto served = DigestOfServed("/v2/peapod/busybox/manifests/" + digest, kOciManifest);
    ASSERT_TRUE(served) << served.error().ToString();
    EXPECT_EQ(*served, digest);
  }
}

TEST_F(RegistryImages, DockerArchiveNamesConfigAndLayersByDigest) {
  TempDir dir("peapod-docker-archive");
  auto unpacked = Capture("tar -xf " + images_ + "/busybox.docker.tar -C " + dir.path() + " 2>&1");
  ASSERT_TRUE(unpacked) << unpacked.error().ToString();
  json manifest = ReadJson(dir / "manifest.json");
  ASSERT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest[0]["RepoTags"], json({"busybox:latest"}));
  std::string config_file = manifest[0]["Config"];
  EXPECT_EQ(Sha256Of(dir / config_file), "sha256:" + config_file.substr(0, config_file.find('.')));
  json config = ReadJson(dir / config_file);
  ASSERT_EQ(manifest[0]["Layers"].size(), config["rootfs"]["diff_ids"].size());
  for (size_t i = 0; i < manifest[0]["Layers"].size(); ++i) {
    EXPECT_EQ(Sha256Of(dir / manifest[0]["Layers"][i].get<std::string>()),
              config["rootfs"]["diff_ids"][i].get<std::string>());
  }
  EXPECT_EQ(config, Config(Layout("busybox")));
}

TEST_F(RegistryImages, RebuildingGivesTheSameDigests) {
  TempDir dir("peapod-rebuild");
  // etcd goes through the same code and only adds seconds of gzip (40 MB of Go binaries).
  const std::vector<std::string> names = {"busybox",      "busybox-layers", "busybox-multi",
                                          "user-numeric", "user-named",     "nginx"};
  std::string command = std::string(PEAPOD_SOURCE_DIR) + "/scripts/images/build.sh " + dir.path();
  for (const auto& name : names) command += " " + name;
  auto rebuilt = Capture(command + " 2>&1");
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  for (const auto& name : names) {
    EXPECT_EQ(TopDigest(dir / name), TopDigest(Layout(name))) << name;
    EXPECT_EQ(Sha256Of(dir / (name + ".oci.tar")), Sha256Of(Layout(name) + ".oci.tar")) << name;
  }
  EXPECT_EQ(Sha256Of(dir / "busybox.docker.tar"), Sha256Of(images_ + "/busybox.docker.tar"));
}

TEST_F(RegistryImages, UpToDateBuildIsANoOp) {
  auto again =
      Capture(std::string(PEAPOD_SOURCE_DIR) + "/scripts/images/build.sh " + images_ + " 2>&1");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->find("built"), std::string::npos) << *again;
}

TEST(LocalRegistry, StopsTheRegistryAndRemovesItsDirectory) {
  auto started = LocalRegistry::Start();
  ASSERT_TRUE(started) << started.error().ToString();
  const pid_t pid = (*started)->Pid();
  const std::string dir = (*started)->Dir();
  const std::string url = "http://" + (*started)->HostPort() + "/v2/";
  EXPECT_TRUE(Capture("curl -sSf " + url));
  started->reset();
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(Capture("curl -sSf " + url + " 2>/dev/null"));
}

}  // namespace
}  // namespace peapod::testing
