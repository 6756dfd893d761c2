// Cgroup driver detection: per controller, a v1 mount or the v2 (unified) hierarchy.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <sstream>

#include "cgroup_files.h"
#include "peapod/runtime/cgroup.h"
#include "peapod/unique_fd.h"

namespace peapod::runtime {
namespace cgroup_internal {

Result<std::string> ReadText(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status WriteText(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open " + path + " for writing");
  ssize_t n;
  do {
    n = ::write(fd.Get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("write \"" + std::string(value) + "\" to " + path);
  return Ok();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::optional<uint64_t> ParseU64(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> FlatKeyedValue(std::string_view text, std::string_view key) {
  for (std::string_view line : SplitLines(text)) {
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return ParseU64(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace cgroup_internal

namespace {

using cgroup_internal::ReadText;
using cgroup_internal::SplitLines;

// The controllers peapod reads or limits. cpuacct only exists on v1 (v2 has cpu.stat everywhere).
// "name=systemd" is a v1 hierarchy without controllers: systemd in a container needs its own
// cgroup there on a v1 or hybrid host.
constexpr std::string_view kControllers[] = {"cpu",  "cpuacct", "cpuset",      "memory",
                                             "pids", "hugetlb", "name=systemd"};

// The options that name a v1 hierarchy to mount(2): its controllers and name=, not flags such
// as rw, xattr or release_agent=.
std::string HierarchyMountOptions(const std::vector<std::string>& super_options) {
  std::string out;
  for (const std::string& o : super_options) {
    bool flag = o == "rw" || o == "ro" || o == "xattr" || o == "noprefix" ||
                o == "clone_children" || o == "cpuset_v2_mode" || o.starts_with("release_agent=");
    if (flag) continue;
    if (!out.empty()) out.push_back(',');
    out += o;
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = field[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

struct MountEntry {
  std::string root;
  std::string mount_point;
  std::string fstype;
  std::vector<std::string> super_options;
};

std::vector<MountEntry> ParseMountinfo(std::string_view text) {
  std::vector<MountEntry> entries;
  for (std::string_view line : SplitLines(text)) {
    std::vector<std::string_view> fields = Split(line, ' ');
    auto dash = std::find(fields.begin(), fields.end(), std::string_view("-"));
    if (fields.size() < 7 || dash == fields.end() || fields.end() - dash < 4) continue;
    MountEntry e;
    e.root = Unescape(fields[3]);
    e.mount_point = Unescape(fields[4]);
    e.fstype = std::string(dash[1]);
    for (std::string_view opt : Split(dash[3], ',')) e.super_options.emplace_back(opt);
    entries.push_back(std::move(e));
  }
  return entries;
}

// Controllers that /proc/cgroups lists as disabled (cgroup_disable= on the command line).
std::set<std::string> DisabledControllers(std::string_view proc_cgroups) {
  std::set<std::string> disabled;
  for (std::string_view line : SplitLines(proc_cgroups)) {
    if (line.front() == '#') continue;
    std::vector<std::string_view> f = Split(line, '\t');
    if (f.size() == 1) f = Split(line, ' ');
    if (f.size() >= 4 && f[3] == "0") disabled.emplace(f[0]);
  }
  return disabled;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Several mounts can show one hierarchy (bind mounts, a second mount in a test): prefer the one
// that shows its root, then the first.
bool Better(const MountEntry& candidate, const CgroupHierarchy& current) {
  return candidate.root == "/" && current.mount_root != "/";
}

}  // namespace

Result<CgroupDriver> CgroupDriver::FromSources(const CgroupDetectSources& sources) {
  std::set<std::string> disabled = DisabledControllers(sources.proc_cgroups);
  std::vector<MountEntry> mounts = ParseMountinfo(sources.mountinfo);

  CgroupDriver driver;
  std::optional<CgroupHierarchy> unified;
  std::vector<CgroupHierarchy> v1;
  std::set<std::string> claimed;  // controllers already bound to a v1 mount

  for (const MountEntry& m : mounts) {
    if (m.fstype == "cgroup2") {
      if (!unified || Better(m, *unified)) {
        unified = CgroupHierarchy{CgroupVersion::kV2, m.mount_point, m.root, {}, {}};
      }
      continue;
    }
    if (m.fstype != "cgroup") continue;
    std::vector<std::string> ours;
    for (std::string_view c : kControllers) {
      if (Contains(m.super_options, c) && !disabled.contains(std::string(c))) ours.emplace_back(c);
    }
    if (ours.empty()) continue;
    // The same hierarchy mounted twice: keep one entry.
    auto same = std::find_if(v1.begin(), v1.end(),
                             [&](const CgroupHierarchy& h) { return h.controllers == ours; });
    if (same != v1.end()) {
      if (Better(m, *same)) {
        *same = CgroupHierarchy{CgroupVersion::kV1, m.mount_point, m.root, ours,
                                HierarchyMountOptions(m.super_options)};
      }
      continue;
    }
    claimed.insert(ours.begin(), ours.end());
    v1.push_back(CgroupHierarchy{CgroupVersion::kV1, m.mount_point, m.root, std::move(ours),
                                 HierarchyMountOptions(m.super_options)});
  }

  if (unified) {
    std::string text;
    if (sources.v2_root_controllers) {
      text = *sources.v2_root_controllers;
    } else {
      auto read = ReadText(unified->mount_point + "/cgroup.controllers");
      if (!read)
        return std::unexpected(std::move(read.error()).Context("detect cgroup v2 controllers"));
      text = *read;
    }
    std::vector<std::string_view> available = Split(text, ' ');
    for (std::string_view c : kControllers) {
      if (c == "cpuacct" || c.starts_with("name=") || claimed.contains(std::string(c)) ||
          disabled.contains(std::string(c))) {
        continue;
      }
      for (std::string_view a : available) {
        while (!a.empty() && a.back() == '\n') a.remove_suffix(1);
        if (a == c) unified->controllers.emplace_back(c);
      }
    }
  }

  driver.hierarchies_ = std::move(v1);
  if (unified) driver.hierarchies_.push_back(std::move(*unified));
  if (driver.hierarchies_.empty()) {
    return Fail(ErrorCode::kFailedPrecondition,
                "no cgroup hierarchy is mounted (see /proc/self/mountinfo)");
  }
  return driver;
}

Result<CgroupDriver> CgroupDriver::Detect() {
  auto mountinfo = ReadText("/proc/self/mountinfo");
  if (!mountinfo) return std::unexpected(std::move(mountinfo.error()).Context("detect cgroups"));
  auto proc_cgroups = ReadText("/proc/cgroups");  // absent on some v2-only kernels: fine
  return FromSources({*mountinfo, proc_cgroups ? *proc_cgroups : std::string(), std::nullopt});
}

Result<CgroupDriver> CgroupDriver::ForUnifiedMount(const std::string& mount_point) {
  std::string escaped;
  for (char c : mount_point) {
    if (c == ' ') {
      escaped += "\\040";
    } else {
      escaped.push_back(c);
    }
  }
  return FromSources({"1 0 0:1 / " + escaped + " rw - cgroup2 cgroup2 rw\n", "", std::nullopt});
}

const CgroupHierarchy* CgroupDriver::HierarchyFor(std::string_view controller) const {
  for (const CgroupHierarchy& h : hierarchies_) {
    if (Contains(h.controllers, controller)) return &h;
  }
  return nullptr;
}

const CgroupHierarchy* CgroupDriver::Unified() const {
  for (const CgroupHierarchy& h : hierarchies_) {
    if (h.version == CgroupVersion::kV2) return &h;
  }
  return nullptr;
}

std::string CgroupDriver::Describe() const {
  std::ostringstream out;
  bool first = true;
  for (const CgroupHierarchy& h : hierarchies_) {
    std::string where = (h.version == CgroupVersion::kV2 ? "v2:" : "v1:") + h.mount_point;
    if (h.controllers.empty()) {
      out << (first ? "" : " ") << "(none)=" << where;
      first = false;
    }
    for (const std::string& c : h.controllers) {
      out << (first ? "" : " ") << c << "=" << where;
      first = false;
    }
  }
  return out.str();
}

}  // namespace peapod::runtime
