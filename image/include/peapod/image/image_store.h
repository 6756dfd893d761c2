// ImageStore: one JSON record per image under <root>/images/<id-hex>.json, keyed by image id
// (the config digest), with the repo tags and repo digests that name it. A tag names one image:
// putting a record with a tag moves the tag off whichever image had it. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::image {

struct LayerRecord {
  std::string digest;      // blob digest (compressed)
  std::string media_type;
  int64_t size = 0;        // blob size
  std::string diff_id;     // uncompressed digest
  std::string chain_id;    // identifies the unpacked layer dir
  // What the layer unpacked to (0 in records from before these were kept): charged to every
  // image that uses the layer.
  uint64_t unpacked_bytes = 0;
  uint64_t unpacked_entries = 0;
};

struct ImageRecord {
  std::string id;               // "sha256:<config hex>"
  std::string manifest_digest;  // generated for docker save / import
  std::vector<std::string> repo_tags;     // "docker.io/library/busybox:latest"
  std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:..."
  std::vector<LayerRecord> layers;        // bottom first
  uint64_t size = 0;  // config + layer blobs
  std::string created;
};

class ImageStore {
 public:
  // Loads every record under <root>/images.
  static Result<std::unique_ptr<ImageStore>> Open(const std::string& root);

  // Writes (or merges into) the record for record.id; its tags move off other images, whose
  // records are rewritten. Returns the stored record.
  Result<ImageRecord> Put(const ImageRecord& record);
  std::optional<ImageRecord> Get(std::string_view id) const;
  std::vector<ImageRecord> List() const;
  // The image a reference names: a full or unique short id, a repo tag or a repo digest.
  Result<ImageRecord> Find(std::string_view ref) const;
  // Drops one tag from its image. kNotFound when no image has it.
  Status Untag(const std::string& repo_tag);
  Status Delete(std::string_view id);

 private:
  explicit ImageStore(std::string dir) : dir_(std::move(dir)) {}
  Status WriteLocked(const ImageRecord& record);
  std::string PathOf(std::string_view id) const;

  std::string dir_;
  mutable std::mutex mutex_;
  std::map<std::string, ImageRecord> images_;
};

std::string ImageRecordToJson(const ImageRecord& record);
Result<ImageRecord> ImageRecordFromJson(std::string_view json);

}  // namespace peapod::image
