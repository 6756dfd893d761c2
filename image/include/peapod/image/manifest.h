// Manifests and indexes: the OCI image-spec and Docker schema2 JSON documents that name an
// image's config and layers, and the platform selection over an index / manifest list.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::image {

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64", "arm"
  std::string variant;       // "v8", "v7", or empty
  bool operator==(const Platform&) const = default;
};

// linux + the host's architecture in OCI terms (uname x86_64 -> amd64, aarch64 -> arm64, ...).
Platform HostPlatform();
// Maps a uname(2) machine name to the OCI architecture and variant.
Platform PlatformForMachine(std::string_view machine);

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  bool has_platform = false;
  Platform platform;
};

enum class ManifestKind { kIndex, kManifest };

// An index / manifest list, or an image manifest.
struct ParsedManifest {
  ManifestKind kind = ManifestKind::kManifest;
  std::string media_type;
  std::vector<Descriptor> manifests;  // kIndex
  Descriptor config;                  // kManifest
  std::vector<Descriptor> layers;     // kManifest
};

// Parses either kind. `content_type` (from HTTP or a descriptor) is used when the document has
// no mediaType field; schema1 and unknown documents fail with kUnimplemented/kInvalidArgument.
Result<ParsedManifest> ParseManifest(std::string_view json, std::string_view content_type = {});

// Picks the index entry for `want`: exact os/architecture, then variant (an empty wanted variant
// accepts any; arm64 treats "" and "v8" alike). kNotFound lists the platforms available.
Result<Descriptor> SelectPlatform(const ParsedManifest& index, const Platform& want);

bool IsIndexMediaType(std::string_view media_type);
bool IsManifestMediaType(std::string_view media_type);

}  // namespace peapod::image
