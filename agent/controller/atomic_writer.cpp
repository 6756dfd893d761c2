// The kubelet AtomicWriter layout:
//   <dir>/..2026_11_24_15_04_05.AbC123/   the payload, written in full before anyone sees it
//   <dir>/..data -> ..2026_11_24_15_04_05.AbC123   swapped by rename(2), which is atomic
//   <dir>/<key>  -> ..data/<key>           one per top-level entry, stable across updates
// A reader that resolves `..data` once sees one whole version; inotify watchers on the volume see
// one change (the rename of ..data).
#include "atomic_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>
#include <vector>

#include "peapod/atomic_file.h"
#include "peapod/unique_fd.h"

namespace peapod::agent::controller {
namespace {

constexpr std::string_view kDataLink = "..data";
constexpr std::string_view kDataTmpLink = "..data_tmp";

std::string Join(const std::string& dir, std::string_view name) {
  std::string out = dir;
  out += '/';
  out += name;
  return out;
}

// kubelet's validatePath, a little stricter: relative, no "..", "." or empty elements, no
// leading "..", so nothing can escape the data directory or shadow ..data.
Status CheckPayloadPath(const std::string& path) {
  auto fail = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                "volume file path \"" + path + "\": " + std::string(why));
  };
  if (path.empty()) return fail("must not be empty");
  if (path.size() > 4096) return fail("must be at most 4096 characters");
  if (path.front() == '/') return fail("must be relative");
  if (path.starts_with("..")) return fail("must not start with '..'");
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view part = std::string_view(path).substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == ".") return fail("must not contain empty or '.' elements");
    if (part == "..") return fail("must not contain '..'");
    if (part.size() > 255) return fail("elements must be at most 255 characters");
    if (part.find('\0') != std::string_view::npos) return fail("must not contain NUL");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Ok();
}

std::string TopLevel(const std::string& path) { return path.substr(0, path.find('/')); }

// A file in the payload must not also be a directory of another ("a" and "a/b").
Status CheckNoFileDirClash(const std::map<std::string, VolumeFile>& files) {
  for (const auto& [path, content] : files) {
    std::string prefix = path + "/";
    auto next = files.lower_bound(prefix);
    if (next != files.end() && next->first.starts_with(prefix)) {
      return Fail(ErrorCode::kInvalidArgument, "volume file paths \"" + path + "\" and \"" +
                                                   next->first +
                                                   "\": one is a file and a directory at once");
    }
  }
  return Ok();
}

// The data directory ..data currently points at, "" when there is none yet.
Result<std::string> CurrentDataDir(const std::string& dir) {
  char target[4096];
  ssize_t n = ::readlink(Join(dir, kDataLink).c_str(), target, sizeof(target) - 1);
  if (n < 0) {
    if (errno == ENOENT) return std::string();
    return FailErrno("read link " + Join(dir, kDataLink));
  }
  std::string name(target, static_cast<size_t>(n));
  if (!name.starts_with("..") || name.find('/') != std::string::npos) {
    return Fail(ErrorCode::kFailedPrecondition,
                Join(dir, kDataLink) + " points at \"" + name + "\", not a data directory");
  }
  return name;
}

// Whether `data_dir` holds exactly the paths of `files` with the same bytes (kubelet compares
// content only; modes and ownership follow the pod spec, whose change replaces the pod).
bool SamePayload(const std::string& data_dir, const std::map<std::string, VolumeFile>& files) {
  std::error_code ec;
  size_t regular_files = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink(ec)) return false;
    if (it->is_regular_file(ec)) ++regular_files;
  }
  if (ec || regular_files != files.size()) return false;
  for (const auto& [path, file] : files) {
    std::string full = Join(data_dir, path);
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    auto existing = ReadWholeFile(full);
    if (!existing || *existing != file.content) return false;
  }
  return true;
}

std::string TimestampTemplate(const std::string& dir) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[64];
  std::strftime(stamp, sizeof(stamp), "..%Y_%m_%d_%H_%M_%S.XXXXXX", &tm);
  return Join(dir, stamp);
}

Status MakeParents(const std::string& root, const std::string& path) {
  size_t slash = 0;
  while ((slash = path.find('/', slash)) != std::string::npos) {
    std::string sub = Join(root, path.substr(0, slash));
    if (::mkdir(sub.c_str(), 0755) != 0 && errno != EEXIST) return FailErrno("create " + sub);
    ++slash;
  }
  return Ok();
}

Status WriteFile(const std::string& path, const std::string& content, int32_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return FailErrno("create " + path);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.Get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("write " + path);
    }
    done += static_cast<size_t>(n);
  }
  // The mode is set explicitly: the umask must not change what the pod sees.
  if (::fchmod(fd.Get(), static_cast<mode_t>(mode)) != 0) return FailErrno("chmod " + path);
  return Ok();
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

// Top-level names in the old payload (their symlinks may have to go).
std::set<std::string> TopLevelEntries(const std::string& data_dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir, ec)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// kubelet's SetVolumeOwnership for a read-only volume: group `gid`, group-readable,
// directories group-searchable and setgid.
Status ApplyFsGroup(const std::string& data_dir, int64_t gid) {
  auto own = [gid](const std::string& path) -> Status {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return FailErrno("stat " + path);
    if (::lchown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0) {
      return FailErrno("chown " + path + " to group " + std::to_string(gid));
    }
    mode_t mode = (st.st_mode & 07777) | S_IRGRP;
    if (S_ISDIR(st.st_mode)) mode |= S_IXGRP | S_ISGID;
    if (::chmod(path.c_str(), mode) != 0) return FailErrno("chmod " + path);
    return Ok();
  };
  if (auto owned = own(data_dir); !owned) return owned;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(data_dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (auto owned = own(it->path().string()); !owned) return owned;
  }
  if (ec) return Fail(ErrorCode::kInternal, "walk " + data_dir + ": " + ec.message());
  return Ok();
}

Status WritePayload(const std::string& data_dir, const std::map<std::string, VolumeFile>& files,
                    std::optional<int64_t> fs_group) {
  if (::chmod(data_dir.c_str(), 0755) != 0) return FailErrno("chmod " + data_dir);
  for (const auto& [path, file] : files) {
    if (auto made = MakeParents(data_dir, path); !made) return made;
    if (auto written = WriteFile(Join(data_dir, path), file.content, file.mode); !written) {
      return written;
    }
  }
  if (fs_group) return ApplyFsGroup(data_dir, *fs_group);
  return Ok();
}

// `<dir>/<name>` -> `..data/<name>`; an existing correct link is kept, a wrong link replaced,
// anything else refused (it is not ours).
Status LinkTopLevel(const std::string& dir, const std::string& name) {
  std::string link = Join(dir, name);
  std::string target = Join(std::string(kDataLink), name);
  char existing[4096];
  ssize_t n = ::readlink(link.c_str(), existing, sizeof(existing) - 1);
  if (n >= 0) {
    if (std::string_view(existing, static_cast<size_t>(n)) == target) return Ok();
    if (::unlink(link.c_str()) != 0) return FailErrno("remove stale link " + link);
  } else if (errno != ENOENT) {
    return FailErrno("check " + link + " (expected a symlink into ..data)");
  }
  if (::symlink(target.c_str(), link.c_str()) != 0) return FailErrno("link " + link);
  return Ok();
}

}  // namespace

Status WriteAtomicVolume(const std::string& dir, const std::map<std::string, std::string>& files,
                         int32_t mode) {
  std::map<std::string, VolumeFile> with_modes;
  for (const auto& [path, content] : files) with_modes[path] = VolumeFile{content, mode};
  return WriteAtomicVolumeFiles(dir, with_modes);
}

Status WriteAtomicVolumeFiles(const std::string& dir,
                              const std::map<std::string, VolumeFile>& files,
                              std::optional<int64_t> fs_group) {
  std::set<std::string> top_level;
  for (const auto& [path, file] : files) {
    if (auto ok = CheckPayloadPath(path); !ok) return ok;
    if (file.mode < 0 || file.mode > 07777) {
      return Fail(ErrorCode::kInvalidArgument, "volume file \"" + path + "\": mode " +
                                                   std::to_string(file.mode) +
                                                   " is not a permission mode");
    }
    top_level.insert(TopLevel(path));
  }
  if (fs_group && (*fs_group < 0 || *fs_group > 0xfffffffe)) {
    return Fail(ErrorCode::kInvalidArgument,
                "fsGroup " + std::to_string(*fs_group) + " is not a group id");
  }
  if (auto ok = CheckNoFileDirClash(files); !ok) return ok;

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(ErrorCode::kInternal, "create volume directory " + dir + ": " + ec.message());

  // A top-level name taken by something that is not a link of ours is refused before anything
  // is written, so the volume stays as it was.
  for (const std::string& name : top_level) {
    struct stat st {};
    std::string path = Join(dir, name);
    if (::lstat(path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
      return Fail(ErrorCode::kFailedPrecondition,
                  path + " exists and is not a link into ..data; refusing to replace it");
    }
  }

  auto current = CurrentDataDir(dir);
  if (!current) return std::unexpected(std::move(current.error()));
  std::string old_data_dir = current->empty() ? "" : Join(dir, *current);
  if (!old_data_dir.empty() && SamePayload(old_data_dir, files)) {
    // Nothing changed, but a removed top-level link (by hand, or a crash between the swap and
    // the links) is put back.
    for (const std::string& name : top_level) {
      if (auto linked = LinkTopLevel(dir, name); !linked) return linked;
    }
    return Ok();
  }

  std::string data_dir = TimestampTemplate(dir);
  if (::mkdtemp(data_dir.data()) == nullptr) return FailErrno("create data directory in " + dir);
  if (auto written = WritePayload(data_dir, files, fs_group); !written) {
    RemoveTree(data_dir);
    return written;
  }

  std::string tmp_link = Join(dir, kDataTmpLink);
  std::string data_name = data_dir.substr(dir.size() + 1);
  ::unlink(tmp_link.c_str());  // left over from an interrupted write
  if (::symlink(data_name.c_str(), tmp_link.c_str()) != 0) {
    auto failure = FailErrno("link " + tmp_link);
    RemoveTree(data_dir);
    return failure;
  }
  if (::rename(tmp_link.c_str(), Join(dir, kDataLink).c_str()) != 0) {
    auto failure = FailErrno("swap " + Join(dir, kDataLink));
    ::unlink(tmp_link.c_str());
    RemoveTree(data_dir);
    return failure;
  }

  // From here the new version is what readers see; links and clean-up follow.
  for (const std::string& name : top_level) {
    if (auto linked = LinkTopLevel(dir, name); !linked) return linked;
  }
  if (!old_data_dir.empty()) {
    for (const std::string& name : TopLevelEntries(old_data_dir)) {
      if (top_level.contains(name)) continue;
      std::string link = Join(dir, name);
      struct stat st {};
      if (::lstat(link.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && ::unlink(link.c_str()) != 0) {
        return FailErrno("remove stale link " + link);
      }
    }
  }
  // The old data directory, and any left by a write that was interrupted before its swap.
  std::error_code list_error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, list_error)) {
    std::string name = entry.path().filename().string();
    std::error_code type_error;
    if (name.starts_with("..") && name != data_name && !entry.is_symlink(type_error) &&
        entry.is_directory(type_error)) {
      RemoveTree(entry.path().string());
    }
  }
  return Ok();
}

}  // namespace peapod::agent::controller
