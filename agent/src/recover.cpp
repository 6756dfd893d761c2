// Recover: at start-up, re-adopt the sandboxes and containers recorded under the state root.
// Running pause and container processes are taken over (matched by pid and start time), exits
// that happened while the agent was down are read from the pods' ledgers, objects whose
// creation never finished are removed, and what a crash left without any record (pause
// processes, namespace pins and mounts, CNI attachments, pod cgroups, container dirs) is
// released.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "crash_point.h"
#include "entries.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/container_security.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/agent/state_store.h"
#include "peapod/atomic_file.h"
#include "peapod/cni/cni_client.h"
#include "peapod/cni/result_cache.h"
#include "peapod/image/image_service.h"
#include "peapod/parse.h"
#include "peapod/runtime/process.h"

namespace peapod::agent {
namespace {

Result<nlohmann::json> ParseRecord(const std::string& id, const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Fail(ErrorCode::kInternal, "record " + id + " is not valid JSON");
  return j;
}

void QuarantineRecord(const StateStore& store, RecordKind kind, const std::string& id,
                      const Error& why) {
  const char* what = kind == RecordKind::kSandbox ? "sandbox" : "container";
  auto moved = QuarantineFile(store.PathOf(kind, id));
  if (!moved) {
    spdlog::error("{} {}: unusable record ({}) could not be quarantined: {}", what, id,
                  why.ToString(), moved.error().ToString());
    return;
  }
  spdlog::error("{} {}: unusable record quarantined as {}: {}", what, id, *moved, why.ToString());
}

std::string Canonical(const std::string& path) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

// mountinfo escapes blanks, tabs, newlines and backslashes in paths as \ooo.
std::string UnescapeMountPath(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out +=
          static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The agent's mount points at or under `dir`, deepest first.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "<id> <parent> <major:minor> <root> <mount point> ..."
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    if (!(fields >> id >> parent >> dev >> root >> point)) continue;
    point = UnescapeMountPath(point);
    if (point == dir || point.starts_with(dir + "/")) found.push_back(point);
  }
  std::sort(found.begin(), found.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return found;
}

// Detaches every mount at or under `dir` (stacked ones too); returns how many.
int UnmountUnder(const std::string& dir) {
  int count = 0;
  for (const auto& point : MountsUnder(dir)) {
    for (int i = 0; i < 8 && ::umount2(point.c_str(), MNT_DETACH) == 0; ++i) ++count;
  }
  return count;
}

// What a pause's fd 3 (its exit ledger) points at, "" when it has none.
std::string LedgerOf(pid_t pid) {
  char buf[4096];
  std::string link = "/proc/" + std::to_string(pid) + "/fd/3";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string target(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (target.ends_with(kDeleted)) target.resize(target.size() - kDeleted.size());
  return target;
}

// Pause processes found by their ledger, <pods_dir>/<id>/exits: sandbox id -> pids. This finds
// a pause whose pid never reached a record (a crash between clone and the record update).
std::map<std::string, std::vector<pid_t>> FindPauseProcesses(const std::string& pods_dir) {
  std::map<std::string, std::vector<pid_t>> found;
  std::string prefix = pods_dir + "/";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    auto number = ParseUnsigned(name, INT32_MAX);
    if (!number) continue;
    auto pid = static_cast<pid_t>(*number);
    if (pid == ::getpid()) continue;
    std::string ledger = LedgerOf(pid);
    if (!ledger.starts_with(prefix) || !ledger.ends_with("/exits")) continue;
    std::string id = ledger.substr(prefix.size(), ledger.size() - prefix.size() - 6);
    if (id.empty() || id.find('/') != std::string::npos) continue;
    found[id].push_back(pid);
  }
  return found;
}

// SIGKILL through a pidfd, after checking the pid still holds the same ledger.
void KillPause(pid_t pid, const std::string& id) {
  std::string ledger = LedgerOf(pid);
  auto pidfd = runtime::OpenPidfd(pid);
  if (!pidfd || LedgerOf(pid) != ledger || ledger.empty()) return;
  spdlog::info("sandbox {}: killing unrecorded pause (pid {})", id, pid);
  if (auto s = runtime::SendSignal(pidfd->Get(), SIGKILL); !s) {
    spdlog::warn("sandbox {}: kill pause {}: {}", id, pid, s.error().ToString());
    return;
  }
  (void)runtime::WaitForExit(pidfd->Get(), std::chrono::seconds(5));
}

std::vector<std::string> SubdirNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) names.push_back(entry.path().filename());
  }
  return names;
}

}  // namespace

Status SandboxManager::Recover() {
  if (const char* point = CrashPointName()) spdlog::warn("crash point armed: {}", point);
  auto records = store_->List(RecordKind::kSandbox);
  if (!records) return std::unexpected(std::move(records.error()).Context("recover sandboxes"));
  auto pauses = FindPauseProcesses(Canonical(config_.run_root + "/pods"));
  std::set<std::string> recorded;
  for (const auto& [id, text] : *records) {
    recorded.insert(id);
    auto entry = std::make_shared<SandboxEntry>();
    auto j = ParseRecord(id, text);
    Status loaded = j ? LoadSandboxRecord(*j, *entry) : Status(std::unexpected(j.error()));
    if (!loaded) {
      // A record we cannot read cannot be acted on, and would fail at every start: it is moved
      // aside for a human, and what it described is swept as left over.
      QuarantineRecord(*store_, RecordKind::kSandbox, id, loaded.error());
      recorded.erase(id);
      continue;
    }
    auto sandbox = runtime::Sandbox::Adopt(entry->spec, entry->pause);
    if (!sandbox) {
      // Not supervised, it must not stay half-known: the record goes aside for a human and the
      // pod's pause, pins, network and cgroup are swept as left over, its containers with it.
      QuarantineRecord(*store_, RecordKind::kSandbox, id, Error(sandbox.error()).Context("adopt"));
      recorded.erase(id);
      continue;
    }
    entry->sandbox = std::move(*sandbox);
    if (entry->phase == SandboxPhase::kCreating) {
      RemoveUnfinishedSandbox(*entry, pauses[id]);
      recorded.erase(id);
      continue;
    }
    if (entry->phase == SandboxPhase::kReady && !entry->sandbox->Running()) {
      entry->phase = SandboxPhase::kStopped;
    }
    {
      std::lock_guard lock(mu_);
      sandboxes_[id] = entry;
    }
    if (entry->phase == SandboxPhase::kReady) WatchPause(*entry);
    spdlog::info("sandbox {}: recovered ({})", id,
                 entry->phase == SandboxPhase::kReady ? "ready" : "not ready");
  }
  SweepLeaks(recorded, pauses);
  return Ok();
}

// RunPodSandbox never finished: undo whatever it got to, in the order it would have rolled back.
// The record names the pod's run dir and cgroup; pause may be recorded or found by its ledger.
void SandboxManager::RemoveUnfinishedSandbox(SandboxEntry& entry,
                                             const std::vector<pid_t>& pauses) {
  const std::string& id = entry.id;
  spdlog::info("sandbox {}: removing a creation that did not finish", id);
  if (entry.network_attached) {
    auto net = PodNetworkOf(entry, entry.sandbox->NamespacePath(runtime::Namespace::kNetwork));
    if (auto s = cni_->Del(net); !s)
      spdlog::warn("sandbox {}: CNI DEL: {}", id, s.error().ToString());
  }
  for (pid_t pid : pauses) KillPause(pid, id);
  if (auto s = entry.sandbox->Destroy(); !s) {
    spdlog::warn("sandbox {}: destroy: {}", id, s.error().ToString());
  }
  if (auto cgroups = PodCgroupManager(cgroup_driver_, config_, entry.config)) {
    if (auto s = cgroups->Pod(id).Remove(); !s) {
      spdlog::warn("sandbox {}: remove cgroup: {}", id, s.error().ToString());
    }
  }
  UnmountUnder(Canonical(entry.pod_dir));
  std::error_code ec;
  std::filesystem::remove_all(entry.pod_dir, ec);
  (void)store_->Remove(RecordKind::kSandbox, id);
}

// What a crash can leave with no record naming it: a pause, pins and mounts in a pod run dir,
// a CNI attachment (its result cache entry holds everything DEL needs, so host-local leases,
// veths and portmap rules go with it) and a pod cgroup. Every one is released here.
void SandboxManager::SweepLeaks(const std::set<std::string>& recorded,
                                const std::map<std::string, std::vector<pid_t>>& pauses) {
  for (const auto& [id, pids] : pauses) {
    if (recorded.contains(id)) continue;
    for (pid_t pid : pids) KillPause(pid, id);
  }
  std::string pods_dir = config_.run_root + "/pods";
  for (const auto& id : SubdirNames(pods_dir)) {
    if (recorded.contains(id)) continue;
    std::string dir = Canonical(pods_dir + "/" + id);
    int unmounted = UnmountUnder(dir);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    spdlog::info("sandbox {}: removed a left-over run dir ({} mount(s))", id, unmounted);
  }
  const std::string& cache_dir = cni_->options().cache_dir;
  std::error_code ec;
  for (const auto& file : std::filesystem::directory_iterator(cache_dir, ec)) {
    if (!file.path().string().ends_with(".json")) continue;
    auto text = ReadWholeFile(file.path());
    if (!text) continue;
    auto cached = cni::CacheEntryFromJson(*text);
    if (!cached || recorded.contains(cached->container_id)) continue;
    cni::PodNetwork net;
    net.sandbox_id = cached->container_id;
    net.ifname = cached->ifname;
    if (auto s = cni_->Del(net); !s) {
      spdlog::warn("sandbox {}: CNI DEL of a left-over attachment: {}", net.sandbox_id,
                   s.error().ToString());
    } else {
      spdlog::info("sandbox {}: released a left-over CNI attachment", net.sandbox_id);
    }
  }
  SweepLeftOverPodCgroups();
}

// Pod cgroups under the default parent that no record names are what a crash left behind
// (kubelet's cgroup_parent hierarchies are kubelet's to clean).
void SandboxManager::SweepLeftOverPodCgroups() {
  auto cgroups = PodCgroupManager(cgroup_driver_, config_, PodSandboxConfig{});
  if (!cgroups) return;
  std::set<std::string> known;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, entry] : sandboxes_) known.insert(id);
  }
  auto swept = cgroups->SweepUnknownPods(known);
  if (!swept) {
    spdlog::warn("sweep left-over pod cgroups: {}", swept.error().ToString());
  } else if (!swept->empty()) {
    spdlog::info("removed {} left-over pod cgroup(s)", swept->size());
  }
}

Status ContainerManager::Recover() {
  auto records = store_->List(RecordKind::kContainer);
  if (!records) return std::unexpected(std::move(records.error()).Context("recover containers"));
  std::set<std::string> recorded;
  for (const auto& [id, text] : *records) {
    recorded.insert(id);
    auto entry = std::make_shared<ContainerEntry>();
    auto j = ParseRecord(id, text);
    Status loaded = j ? LoadContainerRecord(*j, *entry) : Status(std::unexpected(j.error()));
    if (!loaded) {
      QuarantineRecord(*store_, RecordKind::kContainer, id, loaded.error());
      recorded.erase(id);
      continue;
    }
    auto sandbox = sandboxes_->Find(entry->sandbox_id);
    if (!sandbox || entry->spec.id.empty()) {
      // Its pod is gone, or CreateContainer never finished: nothing of it may stay.
      RemoveUnfinishedContainer(*entry, sandbox.get());
      recorded.erase(id);
      continue;
    }
    // The security plan is not in the record: rebuild it from the CRI config, as at creation.
    // A container whose context no longer compiles is not started unconfined: it is dropped.
    auto security = BuildContainerSecurity(entry->config.linux.security_context,
                                           entry->config.linux.resources, id);
    if (!security) {
      DropUnadoptableContainer(*entry, *sandbox,
                               Error(security.error()).Context("security context"));
      recorded.erase(id);
      continue;
    }
    ApplyContainerSecurity(std::move(*security), entry->spec);
    auto cgroups = PodCgroupManager(sandboxes_->cgroup_driver(), config_, sandbox->config);
    if (entry->state == ContainerState::kCreated && cgroups) {
      // A start that crashed before recording its process: it never answered, so the process
      // is killed and the container stays created for the retried StartContainer.
      (void)cgroups->Container(sandbox->id, id).KillAll(SIGKILL);
    }
    std::shared_ptr<runtime::FdKeeper> keeper;
    if (sandbox->sandbox) keeper = sandbox->sandbox->fd_keeper();
    auto container = entry->state == ContainerState::kCreated
                         ? runtime::Container::Create(entry->spec, logs_)
                         : runtime::Container::Adopt(entry->spec, entry->process, logs_, keeper);
    if (!container) {
      DropUnadoptableContainer(*entry, *sandbox, Error(container.error()).Context("adopt"));
      recorded.erase(id);
      continue;
    }
    entry->container = std::move(*container);
    entry->container->AttachFdKeeper(keeper);
    // The cgroup made at creation is still there: Stop, Destroy and OOM detection need it.
    if (cgroups) entry->container->AttachCgroup(cgroups->Container(sandbox->id, id));
    {
      std::lock_guard lock(mu_);
      containers_[id] = entry;
      names_[entry->sandbox_id + "/" + entry->config.metadata.name + "_" +
             std::to_string(entry->config.metadata.attempt)] = id;
    }
    if (entry->state != ContainerState::kRunning) continue;
    std::lock_guard op(entry->op_mu);
    if (entry->container->Running()) {
      if (monitor_) (void)monitor_->Watch("c/" + id, entry->container->pidfd());
      spdlog::info("container {}: recovered (running, pid {})", id, entry->process.host.pid);
    } else {
      // It exited while the agent was down: the pod's ledger has its status.
      RecordExit(*entry);
    }
  }
  SweepLeftOverContainerDirs(recorded);
  return Ok();
}

// A record that reads but cannot be acted on (its security context no longer compiles, its
// process cannot be adopted): the agent could neither restart nor confine it again, so nothing of
// it may run unsupervised. The record goes aside for a human, then the container's processes,
// rootfs and cgroup go as for an unfinished creation; kubelet or the controller makes a new one.
void ContainerManager::DropUnadoptableContainer(const ContainerEntry& entry,
                                                const SandboxEntry& sandbox, const Error& why) {
  QuarantineRecord(*store_, RecordKind::kContainer, entry.id, why);
  if (auto cgroups = PodCgroupManager(sandboxes_->cgroup_driver(), config_, sandbox.config)) {
    (void)cgroups->Container(sandbox.id, entry.id).KillAll(SIGKILL);
  }
  RemoveUnfinishedContainer(entry, &sandbox);
}

// CreateContainer never finished, or the pod went: its rootfs (and any mount on it), its
// cgroup and log FIFOs in the pod's run dir, and the record go.
void ContainerManager::RemoveUnfinishedContainer(const ContainerEntry& entry,
                                                 const SandboxEntry* sandbox) {
  const std::string& id = entry.id;
  spdlog::info("container {}: removing (pod gone or creation unfinished)", id);
  if (!entry.rootfs_dir.empty()) UnmountUnder(Canonical(entry.rootfs_dir));
  if (sandbox != nullptr) {
    if (auto cgroups = PodCgroupManager(sandboxes_->cgroup_driver(), config_, sandbox->config)) {
      (void)cgroups->Container(sandbox->id, id).Remove();
    }
    for (const char* stream : {".stdout", ".stderr"}) {
      std::string fifo = sandbox->pod_dir + "/" + id + stream;
      ::unlink(fifo.c_str());
    }
  }
  (void)images_->RemoveContainerRootfs(id);
  (void)store_->Remove(RecordKind::kContainer, id);
}

// Container dirs (upper, work, rootfs mount point) under the image root that no record names:
// a crash between making them and recording the container, or a half-done removal.
void ContainerManager::SweepLeftOverContainerDirs(const std::set<std::string>& recorded) {
  std::string dir = images_->root() + "/containers";
  for (const auto& id : SubdirNames(dir)) {
    if (recorded.contains(id)) continue;
    std::string container_dir = Canonical(dir + "/" + id);
    UnmountUnder(container_dir);
    if (auto s = images_->RemoveContainerRootfs(id); !s) {
      spdlog::warn("container {}: remove left-over rootfs: {}", id, s.error().ToString());
    } else {
      spdlog::info("container {}: removed a left-over rootfs", id);
    }
  }
}

}  // namespace peapod::agent
