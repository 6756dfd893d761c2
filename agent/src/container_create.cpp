// CreateContainer: merge the CRI config with the image config, prepare the overlay rootfs,
// resolve the user, and create (not start) the runtime container in the pod's namespaces.
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>

#include "crash_point.h"
#include "entries.h"
#include "peapod/agent/config_merge.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/container_security.h"
#include "peapod/agent/events.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/agent/security_requests.h"
#include "peapod/agent/state_store.h"
#include "peapod/image/image_service.h"
#include "peapod/image/overlay.h"
#include "peapod/runtime/mount_info.h"
#include "peapod/runtime/security.h"

namespace peapod::agent {
namespace {

runtime::PidMode PidModeOf(const ContainerConfig& config, const SandboxEntry& sandbox) {
  if (!sandbox.spec.new_pid) return runtime::PidMode::kHost;
  switch (config.linux.security_context.namespace_options.pid) {
    case NamespaceMode::kPod: return runtime::PidMode::kPod;
    case NamespaceMode::kNode: return runtime::PidMode::kHost;
    default: return runtime::PidMode::kContainer;
  }
}

runtime::Propagation PropagationOf(MountPropagation p) {
  switch (p) {
    case MountPropagation::kHostToContainer: return runtime::Propagation::kHostToContainer;
    case MountPropagation::kBidirectional: return runtime::Propagation::kBidirectional;
    default: return runtime::Propagation::kPrivate;
  }
}

// A mount passes on only what the mount holding its source propagates: from a private source,
// a container would silently see none of the host's later mounts (or share none of its own).
// containerd refuses such a request up front; so do we.
Status CheckSourcePropagation(const Mount& m) {
  if (m.propagation == MountPropagation::kPrivate) return Ok();
  auto state = runtime::PropagationOfMountHolding(m.host_path);
  if (!state) return std::unexpected(std::move(state.error()).Context("mount " + m.host_path));
  bool bidirectional = m.propagation == MountPropagation::kBidirectional;
  if (state->shared || (!bidirectional && state->slave)) return Ok();
  return Fail(ErrorCode::kFailedPrecondition,
              "mount " + m.host_path + " with " +
                  (bidirectional ? "bidirectional" : "host-to-container") +
                  " propagation: " + state->mount_point +
                  ", the mount holding it, is not a shared" + (bidirectional ? "" : " or slave") +
                  " mount (mount --make-rshared " + state->mount_point + " makes it one)");
}

bool HasEnv(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& kv : env) {
    if (kv.size() > key.size() && kv.starts_with(key) && kv[key.size()] == '=') return true;
  }
  return false;
}

// The one layer that provides both /etc/passwd and /etc/group of the merged image, when the
// layers alone settle it: the topmost layer holding each file as a regular file, with no
// whiteout, opaque directory or symlink on the way down from the top. Anything else -> nullopt.
std::optional<std::string> LayerHoldingUserFiles(const std::vector<std::string>& layers) {
  // Not provably plain (opaque, or the marker unreadable) counts as opaque: the mount decides.
  auto maybe_opaque = [](const std::string& dir) {
    char v = 0;
    ssize_t n = ::lgetxattr(dir.c_str(), "trusted.overlay.opaque", &v, 1);
    return n < 0 ? errno != ENODATA : v == 'y';
  };
  std::optional<std::string> found[2];
  const char* files[2] = {"/etc/passwd", "/etc/group"};
  for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer) {
    if (maybe_opaque(*layer)) return std::nullopt;
    std::string etc = *layer + "/etc";
    struct stat st{};
    if (::lstat(etc.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return std::nullopt;
    }
    if (!S_ISDIR(st.st_mode)) return std::nullopt;  // whited out or a symlink: the kernel decides
    for (int i = 0; i < 2; ++i) {
      if (found[i]) continue;
      std::string path = *layer + files[i];
      if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) continue;
        return std::nullopt;
      }
      if (!S_ISREG(st.st_mode)) return std::nullopt;  // a whiteout (0:0 char device), a symlink
      found[i] = *layer;
    }
    if (found[0] && found[1]) break;
    if (maybe_opaque(etc)) return std::nullopt;
  }
  if (found[0] && found[1] && *found[0] != *found[1]) return std::nullopt;
  if (found[0]) return found[0];
  if (found[1]) return found[1];
  return layers.empty() ? std::nullopt : std::optional<std::string>(layers.back());
}

// Resolves the user against the image's merged /etc/passwd and /etc/group. Usually one layer
// holds both and nothing above it touches them: that layer is read directly. Otherwise the
// overlay is mounted on the (still unused) rootfs mount point for the lookup and detached again:
// whiteouts and opaque dirs are then the kernel's business, not a second implementation of
// overlay semantics here. (The mount and unmount cost 3-8 ms on a busy machine.)
Result<runtime::ResolvedUser> ResolveContainerUser(const image::ResolvedImage& img,
                                                   const image::ContainerRootfs& rootfs,
                                                   const std::string& mount_point,
                                                   const runtime::UserRequest& request) {
  if (img.layer_dirs.size() == 1) return runtime::ResolveUser(img.layer_dirs[0], request);
  if (auto layer = LayerHoldingUserFiles(img.layer_dirs)) {
    return runtime::ResolveUser(*layer, request);
  }
  if (auto s = image::MountOverlay(rootfs.plan, mount_point); !s) {
    return std::unexpected(std::move(s.error()).Context("mount image to resolve its user"));
  }
  auto user = runtime::ResolveUser(mount_point, request);
  if (::umount2(mount_point.c_str(), MNT_DETACH) != 0) {
    return FailErrno("unmount " + mount_point + " after resolving the user");
  }
  return user;
}

}  // namespace

// An image volume: the image (pulled by kubelet or the pod controller beforehand) mounted
// read-only on the node, then bound into the container like any volume, so that a pod in a
// user namespace sees it through an idmapped mount as it sees the others.
Result<runtime::MountSpec> ContainerManager::MountImageVolume(const std::string& container_id,
                                                              size_t index, const Mount& m) {
  if (m.container_path.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "image volume mount with an empty container_path");
  }
  auto volume = images_->MountImageVolume(container_id, index, m.image->image, m.image_sub_path);
  if (!volume) {
    // containerd 2's wording, so that what kubelet shows reads the same on either runtime.
    std::string what =
        volume.error().code == ErrorCode::kNotFound
            ? "ImageVolumeMountFailed: failed to resolve image \"" + m.image->image + "\""
            : "ImageVolumeMountFailed: image \"" + m.image->image + "\" at " + m.container_path;
    return std::unexpected(std::move(volume.error()).Context(what));
  }
  runtime::MountSpec ms;
  ms.destination = m.container_path;
  ms.source = volume->source;
  ms.read_only = true;
  ms.recursive_read_only = m.recursive_read_only;
  return ms;
}

Result<std::string> ContainerManager::CreateContainer(const std::string& pod_sandbox_id,
                                                      const ContainerConfig& config,
                                                      const PodSandboxConfig& sandbox_config) {
  if (config.metadata.name.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "container config metadata.name is empty");
  }
  if (config.image.image.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "container config image.image is empty");
  }
  // The CRI says a group without a user MUST be an error, whatever user the image names
  // (kubelet always sends the image's user along; containerd and CRI-O refuse it too).
  const auto& requested = config.linux.security_context;
  if (requested.run_as_group && !requested.run_as_user && requested.run_as_username.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "container security context: run_as_group " +
                    std::to_string(*requested.run_as_group) +
                    " is specified without run_as_user or run_as_username");
  }
  auto sandbox = sandboxes_->Find(pod_sandbox_id);
  if (!sandbox) {
    return Fail(ErrorCode::kNotFound, "pod sandbox \"" + pod_sandbox_id + "\" not found");
  }
  // Shared: containers of one pod are created in parallel, but not while the pod stops.
  std::shared_lock pod_lock(sandbox->op_mu);
  std::string what = "create container " + config.metadata.name + " in sandbox " + sandbox->id;
  // Against the pod as it was made (its user namespace), not what the caller says it was.
  if (auto s = CheckContainerRequest(config, sandbox->config); !s) {
    return std::unexpected(std::move(s.error()).Context(what));
  }
  if (sandbox->removed || sandbox->phase != SandboxPhase::kReady || !sandbox->sandbox) {
    return Fail(ErrorCode::kFailedPrecondition,
                what + ": sandbox " + sandbox->id + " is not ready");
  }

  auto img = images_->Resolve(config.image.image);
  if (!img) {
    if (img.error().code == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound,
                  what + ": image \"" + config.image.image + "\" not found");
    }
    return std::unexpected(std::move(img.error()).Context(what));
  }
  auto merged = MergeProcess(config, img->config.defaults);
  if (!merged) return std::unexpected(std::move(merged.error()).Context(what));
  auto systemd = RunsSystemd(merged->args, config.annotations, sandbox_config.annotations);
  if (!systemd) return std::unexpected(std::move(systemd.error()).Context(what));
  // The pod's signal, else the image's, else systemd's halt for a systemd container.
  std::string stop_name =
      !config.stop_signal.empty() ? config.stop_signal : img->config.defaults.stop_signal;
  if (stop_name.empty() && *systemd) stop_name = kSystemdStopSignal;
  auto stop_signal = ParseStopSignal(stop_name);
  if (!stop_signal) return std::unexpected(std::move(stop_signal.error()).Context(what));

  // One name per pod and attempt, as kubelet's naming relies on.
  std::string name_key = sandbox->id + "/" + config.metadata.name + "_" +
                         std::to_string(config.metadata.attempt);
  auto entry = std::make_shared<ContainerEntry>();
  entry->id = GenerateId();
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = names_.emplace(name_key, entry->id);
    if (!inserted) {
      return Fail(ErrorCode::kAlreadyExists, what + ": the name is reserved by container " +
                                                  it->second);
    }
  }
  entry->sandbox_id = sandbox->id;
  entry->config = config;
  entry->image_id = img->record.id;
  entry->stop_signal = *stop_signal;
  entry->created_at = runtime::NowRealtimeNs();
  if (!sandbox_config.log_directory.empty() && !config.log_path.empty()) {
    entry->log_path = (std::filesystem::path(sandbox_config.log_directory) / config.log_path)
                          .lexically_normal();
  }

  bool rootfs_created = false;
  auto rollback = [&](Error error) -> std::unexpected<Error> {
    if (!entry->rootfs_dir.empty()) ::umount2(entry->rootfs_dir.c_str(), MNT_DETACH);
    if (rootfs_created) (void)images_->RemoveContainerRootfs(entry->id);
    (void)store_->Remove(RecordKind::kContainer, entry->id);
    std::lock_guard lock(mu_);
    names_.erase(name_key);
    return std::unexpected(std::move(error).Context(what));
  };

  // Refuse a security context we cannot honour before anything is made.
  auto security = BuildContainerSecurity(config.linux.security_context, config.linux.resources,
                                         entry->id);
  if (!security) return rollback(std::move(security.error()));
  runtime::Resources limits;
  if (config.linux.resources) {
    auto converted = ToCgroupResources(*config.linux.resources);
    if (!converted) return rollback(std::move(converted.error()));
    limits = std::move(*converted);
  }

  // The record comes before the rootfs, so a crash in between is cleaned up at start-up.
  // Until the spec is recorded (spec.id set), recovery removes the container.
  if (auto s = WriteRecord(*entry); !s) return rollback(std::move(s.error()));
  CrashPoint("container-after-record");
  auto rootfs = images_->CreateContainerRootfs(entry->id, img->record.id);
  if (!rootfs) return rollback(std::move(rootfs.error()));
  rootfs_created = true;
  entry->rootfs_dir = rootfs->dirs.dir + "/rootfs";
  CrashPoint("container-after-rootfs");
  std::error_code ec;
  std::filesystem::create_directories(entry->rootfs_dir, ec);
  if (ec) return rollback(FailErrno("create " + entry->rootfs_dir, ec.value()).error());

  const auto& sc = config.linux.security_context;
  runtime::UserRequest request;
  request.image_user = img->config.defaults.user;
  request.run_as_user = sc.run_as_user;
  request.run_as_group = sc.run_as_group;
  request.run_as_username = sc.run_as_username;
  request.supplemental_groups = sc.supplemental_groups;
  request.strict_supplemental_groups =
      sc.supplemental_groups_policy == SupplementalGroupsPolicy::kStrict;
  auto user = ResolveContainerUser(*img, *rootfs, entry->rootfs_dir, request);
  if (!user) return rollback(std::move(user.error()));

  auto& spec = entry->spec;
  spec.id = entry->id;
  spec.rootfs = entry->rootfs_dir;
  spec.overlay = runtime::OverlayRootfs{rootfs->plan.chdir_to, rootfs->plan.options};
  spec.readonly_rootfs = sc.readonly_rootfs;
  const runtime::Sandbox& pod = *sandbox->sandbox;
  spec.net_ns = pod.NamespacePath(runtime::Namespace::kNetwork);
  spec.ipc_ns = pod.NamespacePath(runtime::Namespace::kIpc);
  spec.uts_ns = pod.NamespacePath(runtime::Namespace::kUts);
  spec.pid_ns = pod.NamespacePath(runtime::Namespace::kPid);
  spec.pid_mode = PidModeOf(config, *sandbox);
  if (pod.HasUserNamespace()) {
    spec.user_ns = pod.NamespacePath(runtime::Namespace::kUser);
    spec.uid_mappings = sandbox->spec.uid_mappings;
    spec.gid_mappings = sandbox->spec.gid_mappings;
    // The upper dir is the root directory the container sees (the layers are idmapped, the
    // upper dir is not): it belongs to the pod's root, so that what it writes lands there as
    // the mapped ids.
    auto root_uid = runtime::HostIdOf(spec.uid_mappings, 0);
    auto root_gid = runtime::HostIdOf(spec.gid_mappings, 0);
    if (!root_uid || !root_gid || ::chown(rootfs->dirs.upper.c_str(), *root_uid, *root_gid) != 0) {
      return rollback(
          FailErrno("hand the upper dir " + rootfs->dirs.upper + " to the pod's root").error());
    }
  }
  spec.ledger_path = pod.HasNamespace(runtime::Namespace::kPid) ? pod.LedgerPath() : "";
  spec.run_dir = sandbox->pod_dir;
  spec.log_path = entry->log_path;
  spec.tty = config.tty;
  spec.stdin = config.stdin;
  spec.args = merged->args;
  // containerd puts HOSTNAME first, then the image's env, then the config's.
  spec.env = {"HOSTNAME=" + sandbox->spec.hostname};
  for (auto& kv : merged->env) {
    if (kv.starts_with("HOSTNAME=")) {
      spec.env[0] = kv;
    } else {
      spec.env.push_back(kv);
    }
  }
  if (!HasEnv(spec.env, "HOME")) spec.env.push_back("HOME=" + user->home);
  spec.cwd = merged->working_dir;
  spec.uid = user->uid;
  spec.gid = user->gid;
  // The primary group is a supplementary group too, as containerd and runc set it since
  // CVE-2023-25173, so dropping to it later (or a setgid helper) cannot shed it.
  spec.additional_gids = {user->gid};
  for (gid_t g : user->additional_gids) {
    if (g != user->gid) spec.additional_gids.push_back(g);
  }
  ApplyContainerSecurity(std::move(*security), spec);

  for (size_t i = 0; i < config.mounts.size(); ++i) {
    const Mount& m = config.mounts[i];
    if (m.image) {
      // overlayfs cannot be idmapped as a whole (the root filesystem idmaps each layer inside
      // the container's child instead); a one-layer image is a bind of its layer, which can.
      if (!spec.user_ns.empty()) {
        auto volume_image = images_->Resolve(m.image->image);
        if (volume_image && volume_image->layer_dirs.size() > 1) {
          return rollback(Fail(ErrorCode::kFailedPrecondition,
                               "ImageVolumeMountFailed: image \"" + m.image->image + "\" has " +
                                   std::to_string(volume_image->layer_dirs.size()) +
                                   " layers: peapod mounts only one-layer images as volumes "
                                   "of a pod in a user namespace (hostUsers: false)")
                              .error());
        }
      }
      auto volume = MountImageVolume(entry->id, i, m);
      if (!volume) return rollback(std::move(volume.error()));
      spec.mounts.push_back(std::move(*volume));
      continue;
    }
    if (m.host_path.empty() || m.container_path.empty()) {
      return rollback(Fail(ErrorCode::kInvalidArgument, "mount with an empty path").error());
    }
    // As containerd: a missing host path is created as a directory.
    if (!std::filesystem::exists(m.host_path, ec)) {
      std::filesystem::create_directories(m.host_path, ec);
      if (ec) return rollback(FailErrno("create mount source " + m.host_path, ec.value()).error());
    }
    if (auto s = CheckSourcePropagation(m); !s) return rollback(std::move(s.error()));
    runtime::MountSpec ms;
    ms.destination = m.container_path;
    ms.source = m.host_path;
    ms.read_only = m.readonly;
    ms.recursive_read_only = m.recursive_read_only;
    ms.propagation = PropagationOf(m.propagation);
    spec.mounts.push_back(std::move(ms));
  }
  auto mounted_by_config = [&](std::string_view path) {
    for (const auto& m : config.mounts) {
      if (std::filesystem::path(m.container_path).lexically_normal() == path) return true;
    }
    return false;
  };
  for (auto [dest, source] : {std::pair{"/etc/hosts", sandbox->HostsPath()},
                              std::pair{"/etc/resolv.conf", sandbox->ResolvConfPath()},
                              std::pair{"/etc/hostname", sandbox->HostnamePath()}}) {
    if (mounted_by_config(dest)) continue;
    runtime::MountSpec ms;
    ms.destination = dest;
    ms.source = source;
    ms.read_only = sc.readonly_rootfs;
    spec.mounts.push_back(std::move(ms));
  }

  if (*systemd) {
    ApplySystemdMode(config.mounts, spec);
    spdlog::info("container {}: runs systemd as PID 1 ({})", entry->id, spec.args[0]);
  }

  auto container = runtime::Container::Create(spec, logs_);
  if (!container) return rollback(std::move(container.error()));
  entry->container = std::move(*container);
  if (sandbox->sandbox) entry->container->AttachFdKeeper(sandbox->sandbox->fd_keeper());
  // Made at create time, as containerd does: limits that cannot be applied fail the create, not
  // the start. Destroy removes it with the container.
  if (auto cgroups = PodCgroupManager(sandboxes_->cgroup_driver(), config_, sandbox->config)) {
    auto cgroup = cgroups->CreateContainer(sandbox->id, entry->id, limits);
    if (!cgroup) {
      (void)entry->container->Destroy();
      return rollback(std::move(cgroup.error()));
    }
    // A writable cgroup (systemd as PID 1) in a user namespace: the pod's root cannot write a
    // host root's files, so the cgroup is delegated to it.
    if (!spec.user_ns.empty() && spec.cgroup_writable) {
      auto root_uid = runtime::HostIdOf(spec.uid_mappings, 0);
      auto root_gid = runtime::HostIdOf(spec.gid_mappings, 0);
      auto delegated = cgroup->DelegateTo(root_uid.value_or(0), root_gid.value_or(0));
      if (!root_uid || !root_gid || !delegated) {
        (void)cgroup->Remove();
        (void)entry->container->Destroy();
        return rollback(delegated
                            ? Fail(ErrorCode::kInternal, "no root in the pod's mappings").error()
                            : std::move(delegated.error()));
      }
    }
    entry->container->AttachCgroup(std::move(*cgroup));
  }
  CrashPoint("container-after-create");
  if (auto s = WriteRecord(*entry); !s) {
    (void)entry->container->Destroy();
    return rollback(std::move(s.error()));
  }
  {
    std::lock_guard lock(mu_);
    containers_[entry->id] = entry;
  }
  EmitEvent(ContainerEventType::kCreated, *entry);
  spdlog::info("container {}: created {} in sandbox {} from {}", entry->id, config.metadata.name,
               sandbox->id, config.image.image);
  return entry->id;
}

}  // namespace peapod::agent
