// Archive loading: `docker save` archives (manifest.json + layer tars), OCI image-layout
// archives (oci-layout, index.json, blobs/sha256/...) and plain root-filesystem tarballs
// (`docker export`), all turned into verified blobs in a ContentStore plus what names them.
#pragma once

#include <string>
#include <vector>

#include "peapod/error.h"
#include "peapod/image/content_store.h"
#include "peapod/image/manifest.h"
#include "peapod/image/reference.h"

namespace peapod::image {

struct LoadedImage {
  std::string manifest_digest;         // in the store; generated for docker save and imports
  std::string config_digest;           // the image id
  std::vector<Descriptor> layers;      // bottom first; blobs in the store
  std::vector<std::string> repo_tags;  // normalized "docker.io/library/busybox:latest"
};

// Reads a docker save or OCI layout archive (optionally compressed). Every blob is hashed as it
// is read; a blob whose content does not match its name is refused. Multi-platform indexes are
// narrowed to `platform`. `base_name` names OCI entries whose ref.name annotation is a bare tag.
Result<std::vector<LoadedImage>> LoadImageArchive(ContentStore& store,
                                                  const std::string& archive_path,
                                                  const Platform& platform,
                                                  const std::string& base_name = {});

// Stores a root filesystem tarball (plain, gzip or zstd) as the single layer of a new image
// named `name`, generating its config and manifest.
Result<LoadedImage> ImportRootfsArchive(ContentStore& store, const std::string& tar_path,
                                        const Reference& name, const Platform& platform);

// The OCI layer media type matching a blob's compression, detected from its first bytes.
Result<std::string> DetectLayerMediaType(const std::string& blob_path);

// The diff id (sha256 of the uncompressed stream) of a possibly compressed layer blob.
Result<std::string> ComputeDiffId(const std::string& blob_path);

}  // namespace peapod::image
