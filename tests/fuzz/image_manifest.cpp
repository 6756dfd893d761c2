// Image indexes and manifests (OCI and Docker schema2) from a registry or an archive, and the
// platform selection over an index. The first byte picks the Content-Type a registry would send.
#include <string_view>

#include "fuzz_support.h"
#include "peapod/image/manifest.h"

using namespace peapod::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr std::string_view kContentTypes[] = {
      {},
      media::kOciIndex,
      media::kOciManifest,
      media::kDockerManifestList,
      media::kDockerManifest,
      "application/vnd.docker.distribution.manifest.v1+prettyjws"};
  std::string_view text = peapod::fuzz::AsText(data, size);
  std::string_view content_type;
  if (!text.empty()) {
    content_type = kContentTypes[static_cast<uint8_t>(text[0]) % std::size(kContentTypes)];
    text.remove_prefix(1);
  }
  auto parsed = ParseManifest(text, content_type);
  if (!parsed || parsed->kind != ManifestKind::kIndex) return 0;
  for (const Platform& want : {HostPlatform(), PlatformForMachine("aarch64"),
                               PlatformForMachine("armv7l"), Platform{"linux", "amd64", ""}}) {
    (void)SelectPlatform(*parsed, want);
  }
  return 0;
}
