// Pod and container cgroups under a configured parent (cgroupfs layout), and the start-up sweep.
#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "cgroup_files.h"
#include "peapod/runtime/cgroup.h"

namespace peapod::runtime {
namespace {

using cgroup_internal::Exists;
using cgroup_internal::ReadText;
using cgroup_internal::WriteText;

constexpr std::string_view kPodPrefix = "pod-";

// "peapod", "/kubepods//besteffort/" -> "/peapod", "/kubepods/besteffort".
std::string NormaliseParent(std::string_view parent) {
  std::string out;
  size_t i = 0;
  while (i < parent.size()) {
    while (i < parent.size() && parent[i] == '/') ++i;
    size_t end = parent.find('/', i);
    if (end == std::string_view::npos) end = parent.size();
    if (end > i) out += "/" + std::string(parent.substr(i, end - i));
    i = end;
  }
  return out;
}

// An id becomes one path component: refuse anything that could climb or nest.
Status CheckComponent(std::string_view what, std::string_view id) {
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string_view::npos ||
      id.find('\0') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(what) + " \"" + std::string(id) + "\" cannot name a cgroup directory");
  }
  return Ok();
}

bool HasWord(std::string_view text, std::string_view word) {
  size_t pos = 0;
  while ((pos = text.find(word, pos)) != std::string_view::npos) {
    bool start = pos == 0 || text[pos - 1] == ' ';
    size_t end = pos + word.size();
    bool stop = end == text.size() || text[end] == ' ' || text[end] == '\n';
    if (start && stop) return true;
    pos = end;
  }
  return false;
}

// v2: a controller's files appear in a cgroup only when every ancestor enables it for its children.
Status EnableSubtreeControllers(const CgroupHierarchy& h, const std::string& dir) {
  auto text = ReadText(dir + "/cgroup.subtree_control");
  if (!text) return std::unexpected(std::move(text.error()).Context("enable cgroup controllers"));
  for (const std::string& c : h.controllers) {
    if (HasWord(*text, c)) continue;
    if (auto st = WriteText(dir + "/cgroup.subtree_control", "+" + c); !st) {
      return std::unexpected(std::move(st.error()).Context("enable cgroup controller " + c));
    }
  }
  return Ok();
}

// v1 cpuset: a new cgroup starts with empty cpus/mems and refuses tasks (ENOSPC) until filled.
Status InheritCpuset(const std::string& parent_dir, const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    auto current = ReadText(dir + "/" + file);
    if (current && !(current->empty() || *current == "\n")) continue;
    auto from_parent = ReadText(parent_dir + "/" + file);
    if (!from_parent)
      return std::unexpected(std::move(from_parent.error()).Context("inherit cpuset"));
    if (auto st = WriteText(dir + "/" + file, *from_parent); !st) {
      return std::unexpected(std::move(st.error()).Context("inherit cpuset"));
    }
  }
  return Ok();
}

void RollBack(const std::vector<std::string>& created) {
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    if (::rmdir(it->c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("roll back cgroup directory {}: {}", *it, std::strerror(errno));
    }
  }
}

}  // namespace

CgroupManager::CgroupManager(std::shared_ptr<const CgroupDriver> driver,
                             CgroupManagerOptions options)
    : driver_(std::move(driver)),
      options_(std::move(options)),
      parent_(NormaliseParent(options_.parent)) {}

Result<CgroupManager> CgroupManager::Create(CgroupManagerOptions options) {
  auto driver = CgroupDriver::Detect();
  if (!driver) return std::unexpected(driver.error());
  spdlog::info("cgroups: {}", driver->Describe());
  return CgroupManager(std::make_shared<const CgroupDriver>(std::move(*driver)),
                       std::move(options));
}

std::string CgroupManager::PodPath(std::string_view pod_id) const {
  return parent_ + "/" + std::string(kPodPrefix) + std::string(pod_id);
}

std::string CgroupManager::ContainerPath(std::string_view pod_id,
                                         std::string_view container_id) const {
  return PodPath(pod_id) + "/" + std::string(container_id);
}

Cgroup CgroupManager::Pod(std::string_view pod_id) const {
  return Cgroup(driver_, PodPath(pod_id));
}

Cgroup CgroupManager::Container(std::string_view pod_id, std::string_view container_id) const {
  return Cgroup(driver_, ContainerPath(pod_id, container_id));
}

Status CgroupManager::CreateDirs(const std::string& path, std::vector<std::string>* created) const {
  Cgroup target(driver_, path);
  for (const CgroupHierarchy& h : driver_->hierarchies()) {
    std::string leaf = target.DirIn(h);
    if (!leaf.starts_with(h.mount_point)) continue;
    std::string dir = h.mount_point;
    std::string_view rest = std::string_view(leaf).substr(h.mount_point.size());
    while (!rest.empty()) {
      size_t next = rest.find('/', 1);
      std::string_view component = rest.substr(0, next);
      std::string parent_dir = dir;
      dir += std::string(component);
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next);
      if (h.version == CgroupVersion::kV2 && !h.controllers.empty()) {
        if (auto st = EnableSubtreeControllers(h, parent_dir); !st) {
          return std::unexpected(
              std::move(st.error()).Context("create cgroup " + path + " in " + parent_dir));
        }
      }
      bool made = ::mkdir(dir.c_str(), 0755) == 0;
      if (!made && errno != EEXIST) return FailErrno("create cgroup directory " + dir);
      if (made) created->push_back(dir);
      // Also when the directory exists: a concurrent call may have made it a moment ago and not
      // filled its cpuset yet, and a child of an empty cpuset refuses tasks with ENOSPC (seen
      // with 50 pods started at once under a new cgroup parent). Filling is idempotent.
      if (h.version == CgroupVersion::kV1 &&
          std::find(h.controllers.begin(), h.controllers.end(), "cpuset") != h.controllers.end()) {
        if (auto st = InheritCpuset(parent_dir, dir); !st) {
          return std::unexpected(std::move(st.error()).Context("create cgroup " + path));
        }
      }
    }
  }
  return Ok();
}

Result<Cgroup> CgroupManager::CreatePod(std::string_view pod_id, const Resources& resources) {
  if (auto st = CheckComponent("pod id", pod_id); !st) return std::unexpected(st.error());
  Cgroup pod(driver_, PodPath(pod_id));
  std::vector<std::string> created;
  Resources effective = resources;
  if (!effective.pids_limit && options_.default_pod_pids_limit > 0) {
    effective.pids_limit = options_.default_pod_pids_limit;
  }
  auto st = CreateDirs(pod.path(), &created);
  if (st) st = pod.Apply(effective);
  if (!st) {
    RollBack(created);
    return std::unexpected(
        std::move(st.error()).Context("create cgroup of pod " + std::string(pod_id)));
  }
  spdlog::debug("pod {}: cgroup {} ready", pod_id, pod.path());
  return pod;
}

Result<Cgroup> CgroupManager::CreateContainer(std::string_view pod_id,
                                              std::string_view container_id,
                                              const Resources& resources) {
  if (auto st = CheckComponent("pod id", pod_id); !st) return std::unexpected(st.error());
  if (auto st = CheckComponent("container id", container_id); !st)
    return std::unexpected(st.error());
  Cgroup container(driver_, ContainerPath(pod_id, container_id));
  std::vector<std::string> created;
  auto st = CreateDirs(container.path(), &created);
  if (st) st = container.Apply(resources);
  if (!st) {
    RollBack(created);
    return std::unexpected(
        std::move(st.error()).Context("create cgroup of container " + std::string(container_id)));
  }
  spdlog::debug("pod {}: container {} cgroup {} ready", pod_id, container_id, container.path());
  return container;
}

Result<std::vector<std::string>> CgroupManager::SweepUnknownPods(
    const std::set<std::string>& known) {
  std::set<std::string> leftover;
  Cgroup parent(driver_, parent_.empty() ? "/" : parent_);
  for (const CgroupHierarchy& h : driver_->hierarchies()) {
    std::string dir = parent_.empty() ? h.mount_point : parent.DirIn(h);
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) continue;
      return FailErrno("sweep cgroups under " + dir);
    }
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (e->d_type != DT_DIR || !name.starts_with(kPodPrefix)) continue;
      std::string id(name.substr(kPodPrefix.size()));
      if (!id.empty() && !known.contains(id)) leftover.insert(id);
    }
    ::closedir(d);
  }
  std::vector<std::string> removed;
  for (const std::string& id : leftover) {
    if (auto st = Pod(id).Remove(); !st) {
      spdlog::warn("pod {}: could not remove left-over cgroup: {}", id, st.error().ToString());
      continue;
    }
    spdlog::info("pod {}: removed left-over cgroup {}", id, PodPath(id));
    removed.push_back(id);
  }
  return removed;
}

}  // namespace peapod::runtime
