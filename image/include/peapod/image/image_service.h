// ImageService: the image side of the node, as the CRI ImageService and the container manager
// use it. Pulls, loads and imports images into a state root (<root>/blobs, images, layers,
// containers), resolves references to unpacked layers, hands out per-container overlay root
// filesystems (which hold a reference on their image), and removes images nobody uses.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"
#include "peapod/image/content_store.h"
#include "peapod/image/image_config.h"
#include "peapod/image/image_store.h"
#include "peapod/image/layer_unpacker.h"
#include "peapod/image/manifest.h"
#include "peapod/image/overlay.h"
#include "peapod/image/registry_client.h"

namespace peapod::image {

struct ImageServiceOptions {
  std::string root;  // state root; never the host's /var/lib unless the agent says so
  RegistryConfig registries;
  Platform platform = HostPlatform();
  int parallel_downloads = 3;
  UnpackOptions unpack;  // expected_diff_id, budget and min_free_bytes are set per layer
  // What one image may unpack, all its layers together (UnpackBudget::kUnlimited: no limit):
  // bytes of file content and entries. An image over either is refused, and what it added is
  // removed again. peapodd: --max-image-size, --max-image-entries.
  uint64_t max_image_bytes = uint64_t{10} << 30;
  uint64_t max_image_entries = 1'000'000;
  // Free space an unpack leaves on the state root's filesystem (peapodd: --image-fs-reserve).
  uint64_t min_free_bytes = uint64_t{512} << 20;
};

struct ResolvedImage {
  ImageRecord record;
  ImageConfig config;
  std::vector<std::string> layer_dirs;   // absolute paths, base layer first
  std::vector<std::string> layer_links;  // names in links_dir, base layer first
  std::string links_dir;                 // <root>/layers/l
};

struct ContainerRootfs {
  std::string container_id;
  std::string image_id;
  ContainerDirs dirs;  // <root>/containers/<id>/{upper,work}
  OverlayPlan plan;    // mount with MountOverlay or from the container's child
};

// An image mounted read-only as a volume of one container (CRI Mount.image, KEP-4639).
struct ImageVolume {
  std::string image_id;
  std::string root;    // where the image's root filesystem is mounted on the node
  std::string source;  // `root`, or the image_sub_path directory inside it: what to bind
};

struct ImageFsUsage {
  std::string mountpoint;  // the state root
  uint64_t used_bytes = 0;
  uint64_t inodes_used = 0;
};

class ImageService {
 public:
  static Result<std::unique_ptr<ImageService>> Open(ImageServiceOptions options);

  // Pulls `ref` for the configured platform; returns the image id ("sha256:<config hex>").
  // An image whose layers are refused (over a limit, hostile, corrupt) leaves nothing behind.
  Result<std::string> Pull(std::string_view ref, const AuthConfig& auth = {},
                           const ProgressCallback& progress = {});
  // Loads a docker save or OCI layout archive; returns the ids of the images it held. All or
  // nothing: when one image is refused, none is added and the archive's blobs are removed.
  Result<std::vector<std::string>> Load(const std::string& archive_path);
  // Imports a root filesystem tarball as a one-layer image named `name`; returns its id.
  Result<std::string> Import(const std::string& tar_path, std::string_view name);

  std::vector<ImageRecord> List() const;
  // kNotFound when no image matches (an id, short id, tag or digest reference).
  Result<ImageRecord> ImageStatus(std::string_view ref) const;
  Result<ResolvedImage> Resolve(std::string_view ref) const;
  // Removing one of several tags untags; otherwise the image is deleted, which is refused with
  // kFailedPrecondition while a container uses it. Blobs and layers no image uses are freed.
  Status Remove(std::string_view ref);
  Result<ImageFsUsage> FsInfo() const;

  // Creates the container's upper/work dirs and takes a reference on its image.
  Result<ContainerRootfs> CreateContainerRootfs(const std::string& container_id,
                                                std::string_view image_ref);
  Result<ContainerRootfs> ContainerRootfsOf(const std::string& container_id) const;
  // Unmounts the container's image volumes, removes its dirs (the caller has unmounted the
  // overlay) and drops its image references.
  Status RemoveContainerRootfs(const std::string& container_id);
  // Containers using the image, as their root filesystem or as an image volume.
  std::vector<std::string> ContainersUsing(const std::string& image_id) const;
  // The ids of every image some container uses (root filesystem or image volume): what image
  // removal and garbage collection must keep.
  std::set<std::string> ImagesInUse() const;

  // Mounts the image's root filesystem read-only (an overlay of its layers without an upper
  // dir; a one-layer image is its layer bound read-only) as volume `index` of a container that
  // has a rootfs, and holds the image in use until RemoveContainerRootfs. A `sub_path` must name
  // a directory inside the image: one that climbs out (.., absolute, a symlink) is refused with
  // kInvalidArgument, a missing one with kFailedPrecondition. No such image: kNotFound.
  Result<ImageVolume> MountImageVolume(const std::string& container_id, size_t index,
                                       std::string_view image_ref, std::string_view sub_path);

  // Image garbage collection (image_service_gc.cpp); it keeps ImagesInUse().
  // Deletes the image `image_id` names with all its tags, unless a container holds it
  // (kFailedPrecondition), and frees the blobs and layers no other image shares. Returns the
  // disk space freed.
  Result<uint64_t> RemoveUnusedImage(const std::string& image_id);

  ContentStore& content() { return *content_; }
  const std::string& root() const { return options_.root; }

 private:
  struct ImageUnpack;  // one image being added: its shared limits and its layers' costs

  explicit ImageService(ImageServiceOptions options) : options_(std::move(options)) {}
  Status LoadLeases();
  std::string LayerDir(const std::string& chain_id) const;
  std::string LinkName(const std::string& chain_id) const;
  std::string LinksDir() const;
  Status EnsureLayer(const std::string& chain_id, const std::string& blob_digest,
                     const std::string& diff_id, ImageUnpack& image, size_t index);
  Status ChargeUnpackedLayer(const std::string& chain_id, const std::string& blob_digest,
                             ImageUnpack& image, size_t index);
  // Unpacks the image's layers (within its limits) and returns its record, not yet stored.
  Result<ImageRecord> Prepare(const std::string& manifest_digest, const std::string& config_digest,
                              const std::vector<Descriptor>& layers,
                              const std::vector<std::string>& repo_tags,
                              const std::vector<std::string>& repo_digests, ImageUnpack& image);
  Result<std::string> PullShared(std::string_view ref, const AuthConfig& auth,
                                 const ProgressCallback& progress, bool& refused);
  Result<std::vector<std::string>> LoadShared(const std::string& archive_path);
  Result<std::string> ImportShared(const std::string& tar_path, std::string_view name);
  // After a refused image: removes the blobs and layers no stored image uses (with the
  // exclusive lock, so nothing another pull is still adding).
  void CollectRefusedContent();
  Result<ContainerRootfs> RootfsFor(const std::string& container_id,
                                    const ImageRecord& record) const;
  // Removes the blobs and layers no image uses; adds the disk space they took to *freed.
  Status CollectGarbage(uint64_t* freed = nullptr);
  Status LoadVolumeLeases(const std::string& container_id);
  Status MountImageRoot(const ImageRecord& record, const std::string& target) const;

  ImageServiceOptions options_;
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<ImageStore> store_;
  std::unique_ptr<RegistryClient> registry_;
  // Shared by operations that add content; exclusive for removal and garbage collection, so a
  // blob a pull has stored but not yet recorded is never collected.
  mutable std::shared_mutex gc_mutex_;
  mutable std::mutex lease_mutex_;
  std::map<std::string, std::string> leases_;  // container id -> image id
  // container id -> image id of each of its image volumes (<dir>/volume-images, one a line)
  std::multimap<std::string, std::string> volume_leases_;
};

}  // namespace peapod::image
