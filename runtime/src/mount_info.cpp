#include "peapod/runtime/mount_info.h"

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace peapod::runtime {
namespace {

// mountinfo escapes blanks, tabs, newlines and backslashes in paths as \ooo (three octal digits).
std::string UnescapeMountPath(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    bool octal = s[i] == '\\' && i + 3 < s.size();
    if (octal) {
      int value = 0;
      for (size_t k = 1; k <= 3 && octal; ++k) {
        char c = s[i + k];
        octal = c >= '0' && c <= '7';
        value = value * 8 + (c - '0');
      }
      if (octal) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool Contains(const std::string& mount_point, const std::string& path) {
  if (mount_point == "/") return true;
  return path == mount_point || (path.starts_with(mount_point) && path[mount_point.size()] == '/');
}

}  // namespace

std::optional<MountPropagationState> FindMountHolding(std::string_view mountinfo,
                                                      const std::string& path) {
  std::optional<MountPropagationState> best;
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t end = mountinfo.find('\n', pos);
    if (end == std::string_view::npos) end = mountinfo.size();
    std::istringstream fields{std::string(mountinfo.substr(pos, end - pos))};
    pos = end + 1;
    // "<id> <parent> <major:minor> <root> <mount point> <options> [optional fields...] - ..."
    std::string id, parent, dev, root, point, options, field;
    if (!(fields >> id >> parent >> dev >> root >> point >> options)) continue;
    MountPropagationState state;
    state.mount_point = UnescapeMountPath(point);
    if (!Contains(state.mount_point, path)) continue;
    while (fields >> field && field != "-") {
      if (field.starts_with("shared:")) state.shared = true;
      if (field.starts_with("master:")) state.slave = true;
    }
    // Later lines are mounted later: at the same mount point, the later one is on top.
    if (!best || state.mount_point.size() >= best->mount_point.size()) best = std::move(state);
  }
  return best;
}

Result<MountPropagationState> PropagationOfMountHolding(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return FailErrno("resolve " + path);
  std::ifstream in("/proc/self/mountinfo");
  if (!in.is_open()) return FailErrno("open /proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  auto state = FindMountHolding(text.str(), resolved);
  if (!state) {
    return Fail(ErrorCode::kInternal,
                std::string("no mount holds ") + resolved + " in /proc/self/mountinfo");
  }
  return *state;
}

}  // namespace peapod::runtime
