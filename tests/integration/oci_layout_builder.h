// Builds OCI image layouts from hand-made layer blobs (see image_tar_builder.h), so image tests
// can push or load images whose layers are exactly what they need: decompression bombs, layers
// right at a limit, hostile entries. A layout can also be written out as an archive for `load`.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "integration/image_tar_builder.h"
#include "peapod/image/archive_loader.h"
#include "peapod/image/digest.h"
#include "peapod/image/manifest.h"
#include "support/temp_dir.h"

namespace peapod::testing {

// The value of a test-setup step that must not fail (throws otherwise).
inline std::string MustHave(const Result<std::string>& result, const std::string& what) {
  if (!result) throw std::runtime_error(what + ": " + result.error().ToString());
  return *result;
}

class OciLayoutBuilder {
 public:
  explicit OciLayoutBuilder(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ + "/blobs/sha256");
  }

  // Adds an image with `layer_blobs` (files: tar, tar+gzip or tar+zstd; bottom first), named
  // `name` ("docker.io/library/bomb:1"; the part after the last ':' is its ref.name tag).
  // Returns the image id (the config digest). Rewrites index.json and oci-layout.
  // `config_fields` are merged into the image config's "config" ({"User": "..."}).
  std::string Image(const std::vector<std::string>& layer_blobs, const std::string& name,
                    const nlohmann::json& config_fields = nlohmann::json::object()) {
    using nlohmann::json;
    json diff_ids = json::array(), layers = json::array();
    for (const auto& blob : layer_blobs) {
      std::string digest = MustHave(image::DigestOfFile(blob), "digest of " + blob);
      diff_ids.push_back(MustHave(image::ComputeDiffId(blob), "diff id of " + blob));
      layers.push_back(
          {{"mediaType", MustHave(image::DetectLayerMediaType(blob), "type of " + blob)},
           {"digest", digest},
           {"size", std::filesystem::file_size(blob)}});
      std::filesystem::copy_file(blob, BlobPath(digest),
                                 std::filesystem::copy_options::overwrite_existing);
    }
    image::Platform platform = image::HostPlatform();
    json config = {{"architecture", platform.architecture},
                   {"os", platform.os},
                   {"config", {{"Cmd", {"sh"}}}},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
    if (!platform.variant.empty()) config["variant"] = platform.variant;
    config["config"].update(config_fields);
    json config_desc = Blob(config.dump(), "application/vnd.oci.image.config.v1+json");
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"config", config_desc},
                     {"layers", layers}};
    json entry = Blob(manifest.dump(), "application/vnd.oci.image.manifest.v1+json");
    entry["annotations"] = {
        {"io.containerd.image.name", name},
        {"org.opencontainers.image.ref.name", name.substr(name.rfind(':') + 1)}};
    manifests_.push_back(entry);
    WriteFile(dir_ + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    WriteFile(dir_ + "/index.json", json{{"schemaVersion", 2},
                                         {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                         {"manifests", manifests_}}
                                        .dump());
    return config_desc["digest"];
  }

  // The layout as an (uncompressed) OCI archive, as `peapod load` takes it.
  void WriteArchive(const std::string& archive) const {
    TarBuilder tar(archive);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
      if (!entry.is_regular_file()) continue;
      tar.File(std::filesystem::relative(entry.path(), dir_).string(), ReadFile(entry.path()));
    }
  }

  const std::string& dir() const { return dir_; }

 private:
  std::string BlobPath(const std::string& digest) const {
    return dir_ + "/blobs/sha256/" + std::string(image::DigestHex(digest));
  }
  nlohmann::json Blob(const std::string& content, const std::string& media_type) {
    std::string digest = image::DigestOf(content);
    WriteFile(BlobPath(digest), content);
    return {{"mediaType", media_type}, {"digest", digest}, {"size", content.size()}};
  }

  std::string dir_;
  nlohmann::json manifests_ = nlohmann::json::array();
};

}  // namespace peapod::testing
