#include "peapod/image/layer_unpacker.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "archive_text.h"
#include "files.h"
#include "peapod/image/digest.h"
#include "peapod/unique_fd.h"

namespace peapod::image {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr size_t kReadBlock = 1 << 17;
// How often the free space is looked at while unpacking: a statvfs costs about a microsecond,
// and the reserve must be well above what is written between two looks.
constexpr uint64_t kSpaceCheckBytes = 8 << 20;
constexpr uint64_t kSpaceCheckEntries = 1024;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

std::unique_ptr<archive, ArchiveDeleter> NewReader() {
  return std::unique_ptr<archive, ArchiveDeleter>(archive_read_new());
}

std::unexpected<Error> Refuse(std::string_view entry, std::string_view why) {
  return Fail(ErrorCode::kInvalidArgument,
              "layer entry \"" + std::string(entry) + "\" refused: " + std::string(why));
}

std::unexpected<Error> OverSizeLimit(const UnpackBudget& budget) {
  return Fail(ErrorCode::kResourceExhausted, "the image would unpack to more than " +
                                                 HumanBytes(budget.max_bytes()) +
                                                 " (limit: --max-image-size)");
}

std::unexpected<Error> OverEntryLimit(const UnpackBudget& budget) {
  return Fail(ErrorCode::kResourceExhausted, "the image would unpack more than " +
                                                 std::to_string(budget.max_entries()) +
                                                 " entries (limit: --max-image-entries)");
}

// Looks at the free space of the layer's filesystem now and then while the layer is written, so
// a layer that would fill the disk stops while the reserve is still there.
class SpaceGuard {
 public:
  SpaceGuard(int fd, uint64_t min_free_bytes, std::string what)
      : fd_(fd), min_free_(min_free_bytes), what_(std::move(what)) {}

  Status Check() {
    bytes_since_ = entries_since_ = 0;
    if (min_free_ == 0) return Ok();
    return CheckFreeSpace(fd_, min_free_, what_);
  }
  Status Wrote(uint64_t bytes) {
    bytes_since_ += bytes;
    return bytes_since_ >= kSpaceCheckBytes ? Check() : Ok();
  }
  Status Entry() { return ++entries_since_ >= kSpaceCheckEntries ? Check() : Ok(); }

 private:
  int fd_;
  uint64_t min_free_;
  std::string what_;
  uint64_t bytes_since_ = 0;
  uint64_t entries_since_ = 0;
};

// Removes `name` below `dirfd` without following symlinks.
Status RemoveAt(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return Ok();
  if (errno != EISDIR) return FailErrno("remove " + name);
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return FailErrno("open " + name);
  DIR* dir = ::fdopendir(::dup(fd.Get()));
  if (dir == nullptr) return FailErrno("read directory " + name);
  std::vector<std::string> children;
  while (dirent* e = ::readdir(dir)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") children.emplace_back(n);
  }
  ::closedir(dir);
  for (const auto& child : children) {
    if (auto st = RemoveAt(fd.Get(), child); !st) return st;
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return FailErrno("remove " + name);
  return Ok();
}

// State shared with libarchive's read callback: the inner (tar) reader pulls decompressed bytes
// from the outer (raw + any filter) reader, hashing them on the way to get the diff id.
struct Stream {
  archive* outer = nullptr;
  Sha256 hash;
  uint64_t bytes = 0;
  std::string buf = std::string(kReadBlock, '\0');
};

la_ssize_t ReadDecompressed(archive* inner, void* client, const void** out) {
  auto* s = static_cast<Stream*>(client);
  la_ssize_t n = archive_read_data(s->outer, s->buf.data(), s->buf.size());
  if (n < 0) {
    archive_set_error(inner, EIO, "decompress layer: %s", ArchiveErrorText(s->outer).c_str());
    return -1;
  }
  s->hash.Update(s->buf.data(), static_cast<size_t>(n));
  s->bytes += static_cast<uint64_t>(n);
  *out = s->buf.data();
  return n;
}

struct DeferredDir {
  std::vector<std::string> path;
  timespec times[2];
};

class Unpacker {
 public:
  Unpacker(int root, const UnpackOptions& options, SpaceGuard& space)
      : root_(root), options_(options), space_(space) {}

  Status Run(archive* tar) {
    archive_entry* entry = nullptr;
    while (true) {
      int r = archive_read_next_header(tar, &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN)
        return Fail(ErrorCode::kInvalidArgument,
                    std::string("read layer tar: ") + ArchiveErrorText(tar));
      ++entries_;
      // Every header counts, whatever it becomes (or not): a million empty entries cost
      // inodes, directory blocks and time even when they write no content.
      if (options_.budget && !options_.budget->TakeEntries(1)) {
        return OverEntryLimit(*options_.budget);
      }
      if (auto st = space_.Entry(); !st) return st;
      if (auto st = Entry(tar, entry); !st) return st;
    }
    return FinishDirs();
  }
  uint64_t entries() const { return entries_; }
  uint64_t content_bytes() const { return content_bytes_; }

 private:
  Status Entry(archive* tar, archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    std::string name = raw ? raw : "";
    auto parts = ConfinedEntryPath(name);
    if (!parts) return Refuse(name, parts.error().message);
    if (parts->empty()) return Ok();  // "./": the layer root keeps its own attributes
    std::string leaf = parts->back();
    parts->pop_back();

    Whiteout wh = ClassifyWhiteout(leaf);
    if (wh.kind == WhiteoutKind::kIgnore) return Ok();
    auto parent = OpenParent(name, *parts);
    if (!parent) return std::unexpected(parent.error());
    int pfd = *parent;

    if (wh.kind == WhiteoutKind::kOpaque) {
      if (::fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) != 0)
        return FailErrno("mark directory opaque for " + name);
      return Ok();
    }
    if (wh.kind == WhiteoutKind::kRemove) {
      if (auto st = Replace(pfd, wh.name); !st) return st;
      if (::mknodat(pfd, wh.name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
        return FailErrno("create whiteout for " + name);
      return Ok();
    }

    if (const char* link = archive_entry_hardlink(e)) return HardLink(name, pfd, leaf, link);

    mode_t type = archive_entry_filetype(e);
    struct stat existing {};
    bool exists = ::fstatat(pfd, leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(type == AE_IFDIR && S_ISDIR(existing.st_mode))) {
      if (auto st = Replace(pfd, leaf); !st) return st;
    }
    switch (type) {
      case AE_IFDIR:
        return Directory(name, pfd, leaf, *parts, e, exists && S_ISDIR(existing.st_mode));
      case AE_IFREG:
        return RegularFile(tar, name, pfd, leaf, e);
      case AE_IFLNK:
        return Symlink(name, pfd, leaf, e);
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        return Node(name, pfd, leaf, e, type);
      default:
        return Ok();  // sockets and unknown types carry no content worth restoring
    }
  }

  // Opens the parent directory component by component with O_NOFOLLOW, creating missing
  // directories, so no symlink (absolute or relative) inside the layer can redirect a write.
  Result<int> OpenParent(const std::string& name, const std::vector<std::string>& parts) {
    std::string key;
    for (const auto& p : parts) key += p + "/";
    if (cached_fd_ && key == cached_key_) return cached_fd_.Get();
    UniqueFd cur;
    int at = root_;
    for (const auto& p : parts) {
      int fd = ::openat(at, p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) {
        if (::mkdirat(at, p.c_str(), 0755) != 0 && errno != EEXIST)
          return FailErrno("create parent directory " + p + " of " + name);
        fd = ::openat(at, p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
        return Refuse(name, "path component \"" + p + "\" is a symlink or not a directory");
      if (fd < 0) return FailErrno("open parent directory " + p + " of " + name);
      cur.Reset(fd);
      at = fd;
    }
    cached_key_ = key;
    cached_fd_ = parts.empty() ? UniqueFd(::dup(root_)) : std::move(cur);
    return cached_fd_.Get();
  }

  // Anything previously at `leaf` gives way to the new entry. The cached parent is the parent
  // of `leaf`, never `leaf` itself, so it stays valid.
  Status Replace(int pfd, const std::string& leaf) { return RemoveAt(pfd, leaf); }

  Status Owner(const std::string& name, int fd, const char* leaf, archive_entry* e,
               int flags) {
    if (!options_.preserve_ownership) return Ok();
    uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
    gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
    int r = leaf ? ::fchownat(fd, leaf, uid, gid, flags) : ::fchown(fd, uid, gid);
    if (r != 0) return FailErrno("chown " + name);
    return Ok();
  }

  Status Xattrs(const std::string& name, int fd, archive_entry* e) {
    const char* key = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
      if (key == nullptr) continue;
      std::string_view k = key;
      // trusted.* would let a layer forge overlay metadata (redirects, opaque markers); the
      // rest of system.* is ACLs we do not carry.
      if (!k.starts_with("user.") && !k.starts_with("security.")) continue;
      if (::fsetxattr(fd, key, value, size, 0) != 0 && errno != ENOTSUP)
        return FailErrno("set xattr " + std::string(k) + " on " + name);
    }
    return Ok();
  }

  static void Times(archive_entry* e, timespec out[2]) {
    out[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    out[0] = archive_entry_atime_is_set(e)
                 ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                 : out[1];
  }

  Status Directory(const std::string& name, int pfd, const std::string& leaf,
                   const std::vector<std::string>& parent_parts, archive_entry* e, bool exists) {
    if (!exists && ::mkdirat(pfd, leaf.c_str(), 0700) != 0)
      return FailErrno("create directory " + name);
    UniqueFd fd(::openat(pfd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return FailErrno("open directory " + name);
    if (auto st = Owner(name, fd.Get(), nullptr, e, 0); !st) return st;
    if (::fchmod(fd.Get(), archive_entry_perm(e)) != 0) return FailErrno("chmod " + name);
    if (auto st = Xattrs(name, fd.Get(), e); !st) return st;
    // Later entries inside the directory would bump its mtime; set it once all are written.
    DeferredDir d;
    d.path = parent_parts;
    d.path.push_back(leaf);
    Times(e, d.times);
    dirs_.push_back(std::move(d));
    return Ok();
  }

  // Charges `n` bytes of content to the image's budget and the space guard.
  Status Charge(uint64_t n) {
    content_bytes_ += n;
    if (options_.budget && !options_.budget->TakeBytes(n)) return OverSizeLimit(*options_.budget);
    return space_.Wrote(n);
  }

  Status RegularFile(archive* tar, const std::string& name, int pfd, const std::string& leaf,
                     archive_entry* e) {
    // A header that already says "too big" is refused before a byte is written; a header that
    // says less than what follows is caught by the count below.
    la_int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (options_.budget && declared > 0 &&
        options_.budget->BytesWouldExceed(static_cast<uint64_t>(declared))) {
      return OverSizeLimit(*options_.budget);
    }
    UniqueFd fd(::openat(pfd, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         0600));
    if (!fd) return FailErrno("create file " + name);
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    uint64_t end = 0;  // one past the last byte written
    while (true) {
      int r = archive_read_data_block(tar, &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN)
        return Fail(ErrorCode::kInvalidArgument,
                    "read data of " + name + ": " + ArchiveErrorText(tar));
      if (offset < 0) return Refuse(name, "data block at a negative offset");
      if (auto st = Charge(size); !st) return st;
      end = std::max(end, static_cast<uint64_t>(offset) + size);
      const char* p = static_cast<const char*>(block);
      while (size > 0) {
        ssize_t n = ::pwrite(fd.Get(), p, size, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return FailErrno("write " + name);
        p += n;
        offset += n;
        size -= static_cast<size_t>(n);
      }
    }
    // Sparse files end in a hole that no data block covers; the hole counts as content, as it
    // would be written in full when a container copies the file up.
    if (declared > 0 && static_cast<uint64_t>(declared) > end) {
      if (auto st = Charge(static_cast<uint64_t>(declared) - end); !st) return st;
    }
    if (archive_entry_size_is_set(e) && ::ftruncate(fd.Get(), declared) != 0)
      return FailErrno("truncate " + name);
    if (auto st = Owner(name, fd.Get(), nullptr, e, 0); !st) return st;
    // After chown, which clears setuid/setgid.
    if (::fchmod(fd.Get(), archive_entry_perm(e)) != 0) return FailErrno("chmod " + name);
    if (auto st = Xattrs(name, fd.Get(), e); !st) return st;
    timespec t[2];
    Times(e, t);
    if (::futimens(fd.Get(), t) != 0) return FailErrno("set times of " + name);
    return Ok();
  }

  Status Symlink(const std::string& name, int pfd, const std::string& leaf, archive_entry* e) {
    const char* target = archive_entry_symlink(e);
    if (target == nullptr) return Refuse(name, "symlink without target");
    // The link itself may point anywhere: it is only ever followed inside the container's root,
    // and nothing here follows it.
    if (::symlinkat(target, pfd, leaf.c_str()) != 0) return FailErrno("create symlink " + name);
    if (auto st = Owner(name, pfd, leaf.c_str(), e, AT_SYMLINK_NOFOLLOW); !st) return st;
    timespec t[2];
    Times(e, t);
    if (::utimensat(pfd, leaf.c_str(), t, AT_SYMLINK_NOFOLLOW) != 0)
      return FailErrno("set times of " + name);
    return Ok();
  }

  Status Node(const std::string& name, int pfd, const std::string& leaf, archive_entry* e,
              mode_t type) {
    if (type != AE_IFIFO && !options_.allow_device_nodes)
      return Refuse(name, "device nodes are not allowed in this layer");
    dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
    if (::mknodat(pfd, leaf.c_str(), type | (archive_entry_perm(e) & 0777), dev) != 0)
      return FailErrno("create node " + name);
    if (auto st = Owner(name, pfd, leaf.c_str(), e, AT_SYMLINK_NOFOLLOW); !st) return st;
    if (::fchmodat(pfd, leaf.c_str(), archive_entry_perm(e), 0) != 0)
      return FailErrno("chmod " + name);
    timespec t[2];
    Times(e, t);
    if (::utimensat(pfd, leaf.c_str(), t, AT_SYMLINK_NOFOLLOW) != 0)
      return FailErrno("set times of " + name);
    return Ok();
  }

  Status HardLink(const std::string& name, int pfd, const std::string& leaf, const char* link) {
    auto parts = ConfinedEntryPath(link);
    if (!parts) return Refuse(name, "hard link target \"" + std::string(link) + "\": " +
                                        parts.error().message);
    if (parts->empty()) return Refuse(name, "hard link to the layer root");
    std::string src_leaf = parts->back();
    parts->pop_back();
    // Resolve the source without creating anything and without following symlinks.
    UniqueFd cur;
    int at = root_;
    for (const auto& p : *parts) {
      int fd = ::openat(at, p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        return Refuse(name, "hard link target \"" + std::string(link) +
                                "\" is not an earlier entry of this layer");
      cur.Reset(fd);
      at = fd;
    }
    struct stat st {};
    if (::fstatat(at, src_leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Refuse(name, "hard link target \"" + std::string(link) +
                              "\" is not an earlier entry of this layer");
    if (S_ISDIR(st.st_mode)) return Refuse(name, "hard link to a directory");
    if (auto s = Replace(pfd, leaf); !s) return s;
    if (::linkat(at, src_leaf.c_str(), pfd, leaf.c_str(), 0) != 0)
      return FailErrno("create hard link " + name);
    return Ok();
  }

  Status FinishDirs() {
    cached_fd_.Reset();
    cached_key_.clear();
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd cur(::dup(root_));
      bool ok = true;
      for (const auto& p : it->path) {
        int fd = ::openat(cur.Get(), p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
          ok = false;  // replaced by a later entry: its times no longer apply
          break;
        }
        cur.Reset(fd);
      }
      if (ok && ::futimens(cur.Get(), it->times) != 0) return FailErrno("set directory times");
    }
    return Ok();
  }

  int root_;
  const UnpackOptions& options_;
  SpaceGuard& space_;
  std::string cached_key_;
  UniqueFd cached_fd_;
  std::vector<DeferredDir> dirs_;
  uint64_t entries_ = 0;
  uint64_t content_bytes_ = 0;
};

Result<UnpackStats> UnpackInto(const std::string& blob_path, int root, const UnpackOptions& options,
                               SpaceGuard& space) {
  UniqueFd blob(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!blob) return FailErrno("open layer blob " + blob_path);
  struct stat bst {};
  ::fstat(blob.Get(), &bst);

  ArchivePtr outer = NewReader();
  archive_read_support_filter_all(outer.get());  // gzip, zstd, xz, ... by magic
  archive_read_support_format_raw(outer.get());
  archive_entry* raw_entry = nullptr;
  // A compressed stream that inflates to nothing fails here without an error text.
  if (archive_read_open_fd(outer.get(), blob.Get(), kReadBlock) != ARCHIVE_OK ||
      archive_read_next_header(outer.get(), &raw_entry) != ARCHIVE_OK) {
    return Fail(
        ErrorCode::kInvalidArgument,
        "read layer " + blob_path + ": " +
            ArchiveErrorText(outer.get(), "no data after decompression, not a tar archive"));
  }

  Stream stream;
  stream.outer = outer.get();
  ArchivePtr tar = NewReader();
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), &stream, nullptr, ReadDecompressed, nullptr) != ARCHIVE_OK) {
    return Fail(ErrorCode::kInvalidArgument,
                "layer " + blob_path + " is not a tar archive: " + ArchiveErrorText(tar.get()));
  }
  Unpacker unpacker(root, options, space);
  if (auto st = unpacker.Run(tar.get()); !st) return std::unexpected(st.error());
  // The tar reader stops at the end-of-archive marker; the diff id covers the padding after it.
  const void* out = nullptr;
  while (true) {
    la_ssize_t n = ReadDecompressed(tar.get(), &stream, &out);
    if (n < 0) return Fail(ErrorCode::kInvalidArgument, ArchiveErrorText(tar.get()));
    if (n == 0) break;
  }
  UnpackStats stats;
  stats.diff_id = stream.hash.Final();
  stats.uncompressed_bytes = stream.bytes;
  stats.compressed_bytes = static_cast<uint64_t>(bst.st_size);
  stats.entries = unpacker.entries();
  stats.content_bytes = unpacker.content_bytes();
  if (!options.expected_diff_id.empty() && stats.diff_id != options.expected_diff_id) {
    return Fail(ErrorCode::kInvalidArgument, "layer " + blob_path + " unpacks to diff id " +
                                                 stats.diff_id + ", image config says " +
                                                 options.expected_diff_id);
  }
  return stats;
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  uint64_t whole = bytes;
  while (whole >= 1024 && unit < 6) {
    whole /= 1024;
    ++unit;
  }
  if (unit == 0) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / static_cast<double>(uint64_t{1} << (10 * unit));
  char text[32];
  // Exact values print without a fraction: "64 MiB", not "64.0 MiB".
  if (whole << (10 * unit) == bytes) {
    std::snprintf(text, sizeof text, "%llu %s", static_cast<unsigned long long>(whole),
                  kUnits[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

Status CheckFreeSpace(int fd, uint64_t min_free_bytes, const std::string& what) {
  struct statvfs fs {};
  if (::fstatvfs(fd, &fs) != 0) return FailErrno("statvfs " + what);
  uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < min_free_bytes) {
    return Fail(ErrorCode::kResourceExhausted,
                "the filesystem of " + what + " has " + HumanBytes(free_bytes) +
                    " free, less than the " + HumanBytes(min_free_bytes) +
                    " it must keep (reserve: --image-fs-reserve)");
  }
  // Filesystems without a fixed inode table (btrfs) report none at all.
  if (fs.f_files > 0 && fs.f_favail < fs.f_files / 100) {
    return Fail(ErrorCode::kResourceExhausted, "the filesystem of " + what + " has " +
                                                   std::to_string(fs.f_favail) +
                                                   " free inodes, less than the 1% it must keep");
  }
  return Ok();
}

Result<std::vector<std::string>> ConfinedEntryPath(std::string_view name) {
  if (name.starts_with('/'))
    return Fail(ErrorCode::kInvalidArgument, "absolute path names are not allowed");
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string_view c = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (c == "..") {
      if (parts.empty())
        return Fail(ErrorCode::kInvalidArgument, "path climbs out of the layer with \"..\"");
      parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.emplace_back(c);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

Whiteout ClassifyWhiteout(std::string_view base) {
  if (base == kOpaqueMarker) return {WhiteoutKind::kOpaque, {}};
  if (base.starts_with(kWhiteoutMetaPrefix)) return {WhiteoutKind::kIgnore, {}};
  if (base.starts_with(kWhiteoutPrefix)) {
    std::string_view target = base.substr(kWhiteoutPrefix.size());
    if (target.empty() || target == "." || target == "..") return {WhiteoutKind::kIgnore, {}};
    return {WhiteoutKind::kRemove, std::string(target)};
  }
  return {WhiteoutKind::kNone, {}};
}

Result<UnpackStats> UnpackLayer(const std::string& blob_path, const std::string& target,
                                const UnpackOptions& options) {
  std::filesystem::path t(target);
  std::string temp = (t.parent_path() / (".tmp-" + t.filename().string() + "-" +
                                         files::UniqueSuffix()))
                         .string();
  if (::mkdir(temp.c_str(), 0755) != 0) return FailErrno("create layer directory " + temp);
  UniqueFd root(::open(temp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) {
    int err = errno;
    (void)files::RemoveTree(temp);
    return FailErrno("open layer directory " + temp, err);
  }
  SpaceGuard space(root.Get(), options.min_free_bytes, t.parent_path().string());
  Result<UnpackStats> stats = std::unexpected(Error{});
  if (auto st = space.Check(); !st) {
    stats = std::unexpected(std::move(st.error()));
  } else {
    stats = UnpackInto(blob_path, root.Get(), options, space);
  }
  if (stats && ::syncfs(root.Get()) != 0) stats = FailErrno("sync layer " + target);
  // Written and synced, the layer's blocks are allocated: the last look before it counts.
  if (stats) {
    if (auto st = space.Check(); !st) stats = std::unexpected(std::move(st.error()));
  }
  root.Reset();
  if (!stats) {
    (void)files::RemoveTree(temp);
    return stats;
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    int err = errno;
    (void)files::RemoveTree(temp);
    if (err != EEXIST && err != ENOTEMPTY) return FailErrno("move layer into " + target, err);
  }
  return stats;
}

}  // namespace peapod::image
