// LayerUnpacker: turns one layer blob (tar, tar+gzip or tar+zstd, detected by magic) into a
// directory that overlayfs can use as a lower layer. Whiteouts become overlay whiteouts (char
// device 0/0, trusted.overlay.opaque=y), and every entry is confined to the layer directory:
// absolute or climbing names, writes through symlinks and hard links to outside are refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::image {

struct UnpackOptions {
  // Create char/block device entries the image contains (Docker does, as root). When false a
  // layer with a device node is refused.
  bool allow_device_nodes = true;
  // Apply uid/gid from the archive (needs CAP_CHOWN; defaults to "running as root").
  bool preserve_ownership = true;
  // When set, the uncompressed tar stream must hash to this diff id or the unpack fails.
  std::string expected_diff_id;
};

struct UnpackStats {
  std::string diff_id;  // sha256 of the uncompressed tar stream
  uint64_t compressed_bytes = 0;
  uint64_t uncompressed_bytes = 0;
  uint64_t entries = 0;
};

// Unpacks `blob_path` into `target`, which must not exist yet. The layer is built in a sibling
// temp directory and renamed into place only when every entry succeeded, so a failure leaves
// nothing behind. If another unpack renamed `target` into place first, that one is kept.
Result<UnpackStats> UnpackLayer(const std::string& blob_path, const std::string& target,
                                const UnpackOptions& options = {});

// Splits a tar entry name into confined components: "./a//b/" -> {a, b}, "a/../b" -> {b}.
// Absolute names and names that climb above the layer root fail with kInvalidArgument.
// An empty vector means the layer root itself.
Result<std::vector<std::string>> ConfinedEntryPath(std::string_view name);

enum class WhiteoutKind { kNone, kRemove, kOpaque, kIgnore };
struct Whiteout {
  WhiteoutKind kind = WhiteoutKind::kNone;
  std::string name;  // kRemove: the name being deleted
};
// ".wh.x" -> remove x; ".wh..wh..opq" -> opaque dir; other ".wh..wh." (aufs metadata) -> ignore.
Whiteout ClassifyWhiteout(std::string_view base_name);

}  // namespace peapod::image
