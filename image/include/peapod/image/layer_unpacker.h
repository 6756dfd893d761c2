// LayerUnpacker: turns one layer blob (tar, tar+gzip or tar+zstd, detected by magic) into a
// directory that overlayfs can use as a lower layer. Whiteouts become overlay whiteouts (char
// device 0/0, trusted.overlay.opaque=y), and every entry is confined to the layer directory:
// absolute or climbing names, writes through symlinks and hard links to outside are refused.
// What a layer writes is bounded: by its image's UnpackBudget, and by a reserve of free space
// kept on the filesystem it unpacks to.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::image {

// What the layers of one image may write together: bytes of file content and entries (every tar
// header counts: files, directories, links, whiteouts). Counted as the unpack writes, never
// taken from sizes in headers. The layers of an image unpack in parallel and share one budget.
class UnpackBudget {
 public:
  static constexpr uint64_t kUnlimited = UINT64_MAX;
  UnpackBudget(uint64_t max_bytes, uint64_t max_entries)
      : max_bytes_(max_bytes), max_entries_(max_entries) {}
  UnpackBudget(const UnpackBudget&) = delete;
  UnpackBudget& operator=(const UnpackBudget&) = delete;

  // Takes `n` more; false when the total would exceed the limit (the image is then refused, so
  // what was taken does not matter any more).
  bool TakeBytes(uint64_t n) { return Take(bytes_, n, max_bytes_); }
  bool TakeEntries(uint64_t n) { return Take(entries_, n, max_entries_); }
  // Whether `n` more bytes would exceed the limit, without taking them.
  bool BytesWouldExceed(uint64_t n) const {
    uint64_t used = bytes_.load(std::memory_order_relaxed);
    return n > max_bytes_ || used > max_bytes_ - n;
  }
  uint64_t bytes() const { return bytes_.load(); }
  uint64_t entries() const { return entries_.load(); }
  uint64_t max_bytes() const { return max_bytes_; }
  uint64_t max_entries() const { return max_entries_; }

 private:
  static bool Take(std::atomic<uint64_t>& used, uint64_t n, uint64_t max) {
    if (max == kUnlimited) {
      used.fetch_add(n, std::memory_order_relaxed);
      return true;
    }
    uint64_t before = used.fetch_add(n, std::memory_order_relaxed);
    return n <= max && before <= max - n;
  }
  const uint64_t max_bytes_;
  const uint64_t max_entries_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> entries_{0};
};

struct UnpackOptions {
  // Create char/block device entries the image contains (Docker does, as root). When false a
  // layer with a device node is refused.
  bool allow_device_nodes = true;
  // Apply uid/gid from the archive (needs CAP_CHOWN; defaults to "running as root").
  bool preserve_ownership = true;
  // When set, the uncompressed tar stream must hash to this diff id or the unpack fails.
  std::string expected_diff_id;
  // The image's limits, shared with its other layers (not owned); null: unbounded. Going over
  // fails the unpack with kResourceExhausted.
  UnpackBudget* budget = nullptr;
  // Free space (bytes) the unpack leaves on the target's filesystem: checked before the first
  // entry, every few MiB while writing, and before the layer is renamed into place. Inodes
  // keep 1% free. Running short fails the unpack with kResourceExhausted.
  uint64_t min_free_bytes = 0;
};

struct UnpackStats {
  std::string diff_id;  // sha256 of the uncompressed tar stream
  uint64_t compressed_bytes = 0;
  uint64_t uncompressed_bytes = 0;  // the tar stream, headers and padding included
  uint64_t content_bytes = 0;       // file content written (sparse holes included)
  uint64_t entries = 0;
};

// "64 MiB", "1.5 GiB", "512 B": sizes in error messages.
std::string HumanBytes(uint64_t bytes);

// Whether the filesystem holding `fd` has at least `min_free_bytes` and 1% of its inodes
// available; kResourceExhausted naming `what` and both figures when it has not.
Status CheckFreeSpace(int fd, uint64_t min_free_bytes, const std::string& what);

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
