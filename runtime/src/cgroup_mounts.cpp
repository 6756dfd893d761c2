// What a container mounts at /sys/fs/cgroup to see its own cgroups: the host's layout, from the
// driver's hierarchies (pure logic; the spawn child walks the result).
#include <string_view>

#include "peapod/runtime/cgroup.h"

namespace peapod::runtime {
namespace {

constexpr std::string_view kCgroupRoot = "/sys/fs/cgroup";

// The directory name the host gives a hierarchy under /sys/fs/cgroup; "" when it is mounted
// elsewhere (a test's second mount).
std::string_view HostName(std::string_view mount_point) {
  if (!mount_point.starts_with(kCgroupRoot) || mount_point.size() <= kCgroupRoot.size() + 1 ||
      mount_point[kCgroupRoot.size()] != '/') {
    return {};
  }
  return mount_point.substr(kCgroupRoot.size() + 1);
}

// A name the container can use as a directory under /sys/fs/cgroup.
bool UsableName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

}  // namespace

std::vector<CgroupMountStep> ContainerCgroupMounts(const CgroupDriver& driver) {
  using Kind = CgroupMountStep::Kind;
  std::vector<CgroupMountStep> steps;
  const CgroupHierarchy* unified = driver.Unified();
  bool only_v2 = unified != nullptr && driver.hierarchies().size() == 1;
  if (only_v2) {
    steps.push_back({Kind::kCgroup2, std::string(kCgroupRoot), ""});
    return steps;
  }
  steps.push_back({Kind::kTmpfs, std::string(kCgroupRoot), ""});
  std::vector<CgroupMountStep> links;
  for (const CgroupHierarchy& h : driver.hierarchies()) {
    if (h.version == CgroupVersion::kV2) continue;
    // The host's directory name (cpu,cpuacct), else the options it would have (systemd).
    std::string name(HostName(h.mount_point));
    if (!UsableName(name)) name = h.mount_options;
    if (name.starts_with("name=")) name = name.substr(5);
    if (!UsableName(name) || h.mount_options.empty()) continue;
    steps.push_back({Kind::kCgroup1, std::string(kCgroupRoot) + "/" + name, h.mount_options});
    if (name.find(',') == std::string::npos) continue;
    for (const std::string& controller : h.controllers) {
      if (controller != name && UsableName(controller) && !controller.starts_with("name=")) {
        links.push_back({Kind::kSymlink, std::string(kCgroupRoot) + "/" + controller, name});
      }
    }
  }
  if (unified != nullptr) {
    std::string name(HostName(unified->mount_point));
    if (!UsableName(name)) name = "unified";
    steps.push_back({Kind::kCgroup2, std::string(kCgroupRoot) + "/" + name, ""});
  }
  steps.insert(steps.end(), links.begin(), links.end());
  return steps;
}

}  // namespace peapod::runtime
