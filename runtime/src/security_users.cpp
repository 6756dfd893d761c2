// The container's user: runAsUser/runAsGroup/runAsUserName/image USER resolved through the
// rootfs's own /etc/passwd and /etc/group, never following a symlink out of the rootfs.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "peapod/parse.h"
#include "peapod/runtime/security.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {
namespace {

constexpr size_t kMaxDatabaseBytes = 16 << 20;

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(sep, start);
    parts.push_back(
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

std::optional<uint32_t> ParseId(std::string_view text) {
  auto value = ParseUnsigned(text, kMaxId);
  if (!value) return std::nullopt;
  return static_cast<uint32_t>(*value);
}

// Reads <rootfs>/<path> with every symlink resolved as if rootfs were "/". Missing -> "".
Result<std::string> ReadInRoot(int root_fd, const char* path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root_fd, path, &how, sizeof how)));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::string();
    return FailErrno(std::string("open ") + path + " in the container's root filesystem");
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return FailErrno(std::string("read ") + path + " in the container's root filesystem");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxDatabaseBytes) {
      return Fail(ErrorCode::kInvalidArgument,
                  std::string(path) + " in the image is unreasonably large");
    }
  }
  return out;
}

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> entries;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    auto f = Split(line, ':');
    if (f.size() < 7) continue;
    auto uid = ParseId(f[2]);
    auto gid = ParseId(f[3]);
    if (!uid || !gid) continue;
    entries.push_back({std::string(f[0]), *uid, *gid, std::string(f[5])});
  }
  return entries;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> entries;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    auto f = Split(line, ':');
    if (f.size() < 4) continue;
    auto gid = ParseId(f[2]);
    if (!gid) continue;
    GroupEntry g{std::string(f[0]), *gid, {}};
    for (std::string_view m : Split(f[3], ',')) {
      if (!m.empty()) g.members.emplace_back(m);
    }
    entries.push_back(std::move(g));
  }
  return entries;
}

// kubelet's verifyRunAsNonRoot, before anything is resolved.
Status CheckRunAsNonRoot(const UserRequest& req, std::string_view user_part) {
  if (!req.run_as_non_root) return Ok();
  if (req.run_as_user) {
    if (*req.run_as_user == 0) {
      return Fail(ErrorCode::kFailedPrecondition, "container's runAsUser breaks non-root policy");
    }
    return Ok();
  }
  if (user_part.empty()) {
    return Fail(ErrorCode::kFailedPrecondition,
                "container has runAsNonRoot and image will run as root");
  }
  auto uid = ParseId(user_part);
  if (!uid) {
    return Fail(ErrorCode::kFailedPrecondition,
                "container has runAsNonRoot and image has non-numeric user (" +
                    std::string(user_part) + "), cannot verify user is non-root");
  }
  if (*uid == 0) {
    return Fail(ErrorCode::kFailedPrecondition,
                "container has runAsNonRoot and image will run as root");
  }
  return Ok();
}

Result<gid_t> CheckedId(int64_t value, const char* what) {
  if (value < 0 || value > 0xFFFFFFFELL) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(what) + " " + std::to_string(value) + " is out of range");
  }
  return static_cast<gid_t>(value);
}

}  // namespace

Result<ResolvedUser> ResolveUser(const std::string& rootfs, const UserRequest& req) {
  std::string_view image_user = req.image_user;
  size_t colon = image_user.find(':');
  std::string_view image_user_part = image_user.substr(0, colon);
  std::string_view image_group_part =
      colon == std::string_view::npos ? std::string_view() : image_user.substr(colon + 1);

  // As containerd and CRI-O: a user from the CRI replaces the image's USER as a whole, its group
  // too, and a name wins over a uid when a client sends both.
  std::string user_part;
  bool user_from_image = false;
  if (!req.run_as_username.empty()) {
    user_part = req.run_as_username;
  } else if (req.run_as_user) {
    auto uid = CheckedId(*req.run_as_user, "runAsUser");
    if (!uid) return std::unexpected(uid.error());
    user_part = std::to_string(*uid);
  } else {
    user_part = std::string(image_user_part);
    user_from_image = true;
  }
  if (auto st = CheckRunAsNonRoot(req, user_part); !st) {
    return std::unexpected(st.error());
  }

  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return FailErrno("open root filesystem " + rootfs);
  auto passwd_text = ReadInRoot(root.Get(), "/etc/passwd");
  if (!passwd_text) return std::unexpected(passwd_text.error());
  auto group_text = ReadInRoot(root.Get(), "/etc/group");
  if (!group_text) return std::unexpected(group_text.error());
  std::vector<PasswdEntry> passwd = ParsePasswd(*passwd_text);
  std::vector<GroupEntry> groups = ParseGroup(*group_text);

  ResolvedUser out;
  const PasswdEntry* entry = nullptr;
  if (user_part.empty()) user_part = "0";
  if (auto uid = ParseId(user_part)) {
    out.uid = *uid;
    auto it = std::find_if(passwd.begin(), passwd.end(),
                           [&](const PasswdEntry& e) { return e.uid == *uid; });
    if (it != passwd.end()) entry = &*it;
  } else {
    auto it = std::find_if(passwd.begin(), passwd.end(),
                           [&](const PasswdEntry& e) { return e.name == user_part; });
    if (it == passwd.end()) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "unable to find user " + user_part + ": no matching entries in passwd file");
    }
    entry = &*it;
    out.uid = entry->uid;
  }
  if (entry != nullptr) {
    out.gid = entry->gid;
    out.name = entry->name;
    if (!entry->home.empty()) out.home = entry->home;
  }

  if (req.run_as_group) {
    auto gid = CheckedId(*req.run_as_group, "runAsGroup");
    if (!gid) return std::unexpected(gid.error());
    out.gid = *gid;
  } else if (user_from_image && !image_group_part.empty()) {
    if (auto gid = ParseId(image_group_part)) {
      out.gid = *gid;
    } else {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const GroupEntry& g) { return g.name == image_group_part; });
      if (it == groups.end()) {
        return Fail(ErrorCode::kFailedPrecondition, "unable to find group " +
                                                        std::string(image_group_part) +
                                                        ": no matching entries in group file");
      }
      out.gid = it->gid;
    }
  }

  auto add = [&](gid_t gid) {
    if (std::find(out.additional_gids.begin(), out.additional_gids.end(), gid) ==
        out.additional_gids.end()) {
      out.additional_gids.push_back(gid);
    }
  };
  if (!out.name.empty() && !req.strict_supplemental_groups) {
    for (const GroupEntry& g : groups) {
      if (std::find(g.members.begin(), g.members.end(), out.name) != g.members.end()) add(g.gid);
    }
  }
  for (int64_t g : req.supplemental_groups) {
    auto gid = CheckedId(g, "supplemental group");
    if (!gid) return std::unexpected(gid.error());
    add(*gid);
  }
  if (req.fs_group) {
    auto gid = CheckedId(*req.fs_group, "fsGroup");
    if (!gid) return std::unexpected(gid.error());
    add(*gid);
  }
  return out;
}

}  // namespace peapod::runtime
