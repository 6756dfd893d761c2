// Recover: at start-up, re-adopt the sandboxes and containers recorded under the state root.
// Running pause and container processes are taken over (matched by pid and start time), exits
// that happened while the agent was down are read from the pods' ledgers, and objects whose
// creation never finished are cleaned up.
#include <spdlog/spdlog.h>
#include <sys/mount.h>

#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "entries.h"
#include "peapod/agent/container_security.h"
#include "peapod/agent/container_manager.h"
#include "peapod/agent/exit_monitor.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/agent/state_store.h"
#include "peapod/cni/cni_client.h"
#include "peapod/image/image_service.h"

namespace peapod::agent {
namespace {

Result<nlohmann::json> ParseRecord(const std::string& id, const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Fail(ErrorCode::kInternal, "record " + id + " is not valid JSON");
  return j;
}

}  // namespace

Status SandboxManager::Recover() {
  auto records = store_->List(RecordKind::kSandbox);
  if (!records) return std::unexpected(std::move(records.error()).Context("recover sandboxes"));
  for (const auto& [id, text] : *records) {
    auto entry = std::make_shared<SandboxEntry>();
    auto j = ParseRecord(id, text);
    Status loaded = j ? LoadSandboxRecord(*j, *entry) : Status(std::unexpected(j.error()));
    if (!loaded) {
      // A record we cannot read cannot be acted on; keep it for a human, skip the sandbox.
      spdlog::error("sandbox {}: {}", id, loaded.error().ToString());
      continue;
    }
    auto sandbox = runtime::Sandbox::Adopt(entry->spec, entry->pause);
    if (!sandbox) {
      spdlog::error("sandbox {}: adopt: {}", id, sandbox.error().ToString());
      continue;
    }
    entry->sandbox = std::move(*sandbox);
    if (entry->phase == SandboxPhase::kCreating) {
      // RunPodSandbox never finished: finish its rollback.
      spdlog::info("sandbox {}: cleaning up a creation that did not finish", id);
      if (entry->network_attached) {
        auto net = PodNetworkOf(*entry, entry->sandbox->NamespacePath(runtime::Namespace::kNetwork));
        if (auto s = cni_->Del(net); !s) spdlog::warn("sandbox {}: CNI DEL: {}", id, s.error().ToString());
      }
      (void)entry->sandbox->Destroy();
      if (auto cgroups = PodCgroupManager(cgroup_driver_, config_, entry->config)) {
        (void)cgroups->Pod(id).Remove();
      }
      std::error_code ec;
      std::filesystem::remove_all(entry->pod_dir, ec);
      (void)store_->Remove(RecordKind::kSandbox, id);
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
  SweepLeftOverPodCgroups();
  return Ok();
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
  for (const auto& [id, text] : *records) {
    auto entry = std::make_shared<ContainerEntry>();
    auto j = ParseRecord(id, text);
    Status loaded = j ? LoadContainerRecord(*j, *entry) : Status(std::unexpected(j.error()));
    if (!loaded) {
      spdlog::error("container {}: {}", id, loaded.error().ToString());
      continue;
    }
    auto sandbox = sandboxes_->Find(entry->sandbox_id);
    if (!sandbox || entry->spec.id.empty()) {
      // Its pod is gone, or CreateContainer never finished: nothing of it may stay.
      spdlog::info("container {}: cleaning up (pod gone or creation unfinished)", id);
      if (!entry->rootfs_dir.empty()) ::umount2(entry->rootfs_dir.c_str(), MNT_DETACH);
      (void)images_->RemoveContainerRootfs(id);
      (void)store_->Remove(RecordKind::kContainer, id);
      continue;
    }
    // The security plan is not in the record: rebuild it from the CRI config, as at creation.
    // A container whose context no longer compiles is not started unconfined: it is dropped.
    auto security = BuildContainerSecurity(entry->config.linux.security_context,
                                           entry->config.linux.resources, id);
    if (!security) {
      spdlog::error("container {}: security context: {}", id, security.error().ToString());
      continue;
    }
    ApplyContainerSecurity(std::move(*security), entry->spec);
    auto container = entry->state == ContainerState::kCreated
                         ? runtime::Container::Create(entry->spec, logs_)
                         : runtime::Container::Adopt(entry->spec, entry->process, logs_);
    if (!container) {
      spdlog::error("container {}: adopt: {}", id, container.error().ToString());
      continue;
    }
    entry->container = std::move(*container);
    // The cgroup made at creation is still there: Stop, Destroy and OOM detection need it.
    if (auto cgroups = PodCgroupManager(sandboxes_->cgroup_driver(), config_, sandbox->config)) {
      entry->container->AttachCgroup(cgroups->Container(sandbox->id, id));
    }
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
  return Ok();
}

}  // namespace peapod::agent
