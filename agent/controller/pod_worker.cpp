#include "pod_worker.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../src/crash_point.h"
#include "controller_ids.h"
#include "peapod/agent/agent.h"
#include "peapod/atomic_file.h"
#include "peapod/catch_boundary.h"
#include "peapod/image/image_service.h"

namespace peapod::agent::controller {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

std::string FormatDuration(milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) {
    auto s = ms / 1000;
    if (s >= 60 && s % 60 == 0) return std::to_string(s / 60) + "m0s";
    if (s >= 60) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    return std::to_string(s) + "s";
  }
  return std::to_string(ms) + "ms";
}

constexpr size_t kMaxEvents = 200;
constexpr int64_t kMinimumGraceSeconds = 2;  // kubelet's minimumGracePeriodInSeconds
constexpr size_t kMaxTerminationMessage = 4096;
constexpr size_t kMaxFallbackLogLines = 80;  // kubelet's fallback: the log's tail, 80 lines

// The text of the last lines of a CRI log file, without the "<time> <stream> <tag> " prefixes.
std::string LogTail(const std::string& path) {
  auto raw = ReadWholeFile(path);
  if (!raw) return "";
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < raw->size()) {
    size_t end = raw->find('\n', pos);
    if (end == std::string::npos) end = raw->size();
    std::string line = raw->substr(pos, end - pos);
    size_t cut = 0;
    for (int i = 0; i < 3 && cut != std::string::npos; ++i) cut = line.find(' ', cut + (i ? 1 : 0));
    lines.push_back(cut == std::string::npos ? line : line.substr(cut + 1));
    pos = end + 1;
  }
  std::string text;
  size_t first = lines.size() > kMaxFallbackLogLines ? lines.size() - kMaxFallbackLogLines : 0;
  for (size_t i = first; i < lines.size(); ++i) text += lines[i] + "\n";
  if (text.size() > kMaxTerminationMessage)
    text = text.substr(text.size() - kMaxTerminationMessage);
  return text;
}

}  // namespace

struct PodWorker::Slot {
  const Container* spec = nullptr;
  std::string name;
  bool is_init = false;
  bool is_sidecar = false;
  std::string object;  // "spec.containers{name}" as kubectl describe shows it
  std::string id;
  std::string previous_id;
  int32_t restart_count = 0;
  bool had_instance = false;
  std::optional<ContainerStatus> cri;
  std::optional<ContainerStatus> previous_cri;
  std::string termination_message;
  std::string previous_termination_message;
  std::string waiting_reason;
  std::string waiting_message;
  bool init_succeeded = false;
  milliseconds backoff{0};
  milliseconds image_backoff{0};
  Clock::time_point image_retry_at{};
  // A config error (missing ConfigMap key, bad subPath) is retried with a back-off, or at once
  // when ConfigMaps/Secrets change.
  milliseconds config_backoff{0};
  Clock::time_point config_retry_at{};
  uint64_t config_generation = 0;
  bool adopted_running = false;
  std::shared_ptr<std::atomic<bool>> started_flag = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<ProbeWorker> startup, liveness, readiness;
  bool restart_for_resize = false;  // stopped by a RestartContainer resize: start it again
};

PodWorker::PodWorker(ControllerShared& shared, Pod pod, PodRecord record)
    : shared_(shared), pod_(std::move(pod)), record_(std::move(record)) {
  key_ = pod_.metadata.namespace_ + "/" + pod_.metadata.name;
  paths_.root = shared_.root + "/pod-data/" + record_.uid;
  log_directory_ = shared_.config.pod_log_root + "/" + pod_.metadata.namespace_ + "_" +
                   pod_.metadata.name + "_" + record_.uid;
  for (const auto& c : pod_.spec.init_containers) {
    auto s = std::make_unique<Slot>();
    s->spec = &c;
    s->name = c.name;
    s->is_init = true;
    s->is_sidecar = c.IsSidecar();
    s->object = "spec.initContainers{" + c.name + "}";
    slots_.push_back(std::move(s));
  }
  for (const auto& c : pod_.spec.containers) {
    auto s = std::make_unique<Slot>();
    s->spec = &c;
    s->name = c.name;
    s->object = "spec.containers{" + c.name + "}";
    slots_.push_back(std::move(s));
  }
  for (auto& s : slots_) {
    if (auto it = record_.restart_counts.find(s->name); it != record_.restart_counts.end()) {
      s->restart_count = it->second;
      s->had_instance = true;
    }
  }
  initialized_ = record_.initialized;
  delete_requested_ = record_.deleting;
  hash_ = record_.hash;
  hash_without_metadata_ = SpecHashWithoutMetadata(pod_);
  hash_without_resources_ = SpecHashWithoutResources(pod_);
  qos_class_ = QosClass(pod_);
  Publish();
}

void PodWorker::UpdateMetadata(const ObjectMeta& metadata, const std::string& hash,
                               const std::string& source_name, const std::string& source_text) {
  {
    std::lock_guard lock(mu_);
    hash_ = hash;
    pending_metadata_ = PendingMetadata{metadata, source_name, source_text};
    wake_ = true;
  }
  cv_.notify_all();
}

void PodWorker::ApplyPendingMetadata() {
  std::optional<PendingMetadata> pending;
  std::string hash;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_metadata_);
    hash = hash_;
  }
  if (!pending) return;
  pod_.metadata.labels = std::move(pending->metadata.labels);
  pod_.metadata.annotations = std::move(pending->metadata.annotations);
  record_.source_name = std::move(pending->source_name);
  record_.source_text = std::move(pending->source_text);
  record_.hash = hash;
  Persist();
  volumes_generation_ = UINT64_MAX;  // the downwardAPI files follow the new labels
  spdlog::info("pod {}: labels and annotations updated in place", key_);
}

PodWorker::~PodWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The probe threads call back into this object: they go before anything else does.
  for (auto& s : slots_) StopProbes(*s);
}

void PodWorker::Start(std::function<void()> on_adopted) {
  on_adopted_ = std::move(on_adopted);
  thread_ = std::thread([this] { Run(); });
}

void PodWorker::Adopted() {
  if (!on_adopted_) return;
  Guarded("record adoption", on_adopted_);
  on_adopted_ = nullptr;
}

void PodWorker::RequestDelete() {
  {
    std::lock_guard lock(mu_);
    delete_requested_ = true;
    view_.deleting = true;
    view_.reason = "Terminating";
  }
  cv_.notify_all();
}

void PodWorker::WaitFinished() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return finished_.load(); });
}

void PodWorker::Notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

bool PodWorker::Stopping() {
  std::lock_guard lock(mu_);
  return stop_ || delete_requested_;
}

// The worker's catch boundary: an exception nobody expected (a bug, or input no check caught)
// becomes an error in the log and an Event on the pod; the worker goes on with the next sync,
// and the agent with its other pods.
bool PodWorker::Guarded(const char* step, const std::function<void()>& body) {
  auto done = CatchAll("pod " + key_ + ": " + step, body);
  if (done) return true;
  Event("Warning", "InternalError", "", done.error().message);
  return false;
}

void PodWorker::Run() {
  bool adopted = Guarded("adopt", [this] {
    CrashPoint("pod-adopt");
    Adopt();
  });
  adopted = Guarded("publish", [this] { Publish(); }) && adopted;
  for (;;) {
    bool do_delete = false;
    {
      std::lock_guard lock(mu_);
      if (delete_requested_)
        do_delete = true;
      else if (stop_)
        break;
    }
    if (do_delete) {
      Guarded("delete", [this] {
        record_.deleting = true;
        Persist();
        Terminate(true);
        Cleanup();
      });
      break;
    }
    next_wake_ = Clock::now() + shared_.config.relist_period;
    bool synced = Guarded("sync", [this] {
      Sync();
      Publish();
    });
    if (adopted && synced) Adopted();
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, next_wake_, [this] { return stop_ || delete_requested_ || wake_; });
    wake_ = false;
  }
  Guarded("stop", [this] {
    for (auto& s : slots_) StopProbes(*s);
    Publish();
  });
  // Stopped (or deleted) cleanly after an adoption that threw nothing: it did not end the agent.
  if (adopted) Adopted();
  {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  cv_.notify_all();
}

// ---- Adoption after an agent restart
// --------------------------------------------------------------

void PodWorker::Adopt() {
  auto& sandboxes = shared_.agent->sandboxes();
  auto& containers = shared_.agent->containers();
  PodSandboxFilter filter;
  filter.label_selector = {{kLabelPodUid, record_.uid}, {kLabelManaged, "true"}};
  auto found = sandboxes.ListPodSandbox(filter);
  const PodSandbox* chosen = nullptr;
  bool terminal = !record_.terminal_phase.empty();
  for (const auto& sb : found) {
    if (!terminal && sb.state != PodSandboxState::kReady) continue;
    if (!chosen || sb.metadata.attempt > chosen->metadata.attempt) chosen = &sb;
  }
  for (const auto& sb : found) {
    if (chosen && sb.id == chosen->id) continue;
    if (auto s = sandboxes.RemovePodSandbox(sb.id); !s) {
      spdlog::warn("pod {}: remove stale sandbox {}: {}", key_, sb.id, s.error().ToString());
    }
  }
  if (terminal) {
    phase_ = record_.terminal_phase;
    terminated_ = true;
  }
  if (!chosen) return;
  if (!terminal) {
    // It runs already: placed whether or not it fits next to the others.
    shared_.admission.Admit(record_.uid, ClaimOf(pod_));
    admitted_ = true;
  }
  sandbox_id_ = chosen->id;
  started_at_ = chosen->created_at;
  record_.sandbox_attempt = std::max(record_.sandbox_attempt, chosen->metadata.attempt + 1);
  auto resolv = ReadWholeFile("/etc/resolv.conf");
  sandbox_config_ = BuildSandboxConfig(pod_, record_.uid, chosen->metadata.attempt, log_directory_,
                                       resolv ? *resolv : "");
  // The adopted sandbox runs with the range it was made with: the one recorded for the pod.
  if (auto userns = PodUserNamespace(); userns) {
    sandbox_config_.linux.security_context.namespace_options.userns_options = std::move(*userns);
  } else {
    spdlog::warn("pod {}: {}", key_, userns.error().ToString());
  }
  ResolveLocalhostSeccomp(sandbox_config_.linux.security_context.seccomp,
                          shared_.config.seccomp_root);
  if (auto st = sandboxes.PodSandboxStatus(sandbox_id_); st) {
    sandbox_ready_ = !terminal && st->status.state == PodSandboxState::kReady;
    pod_ip_ = st->status.network.ip;
    pod_ips_ = {pod_ip_};
    for (const auto& ip : st->status.network.additional_ips) pod_ips_.push_back(ip.ip);
    if (pod_ip_.empty()) pod_ips_.clear();
  }
  if (pod_.spec.host_network && pod_ip_.empty() && !shared_.host_ip.empty()) {
    pod_ip_ = shared_.host_ip;
    pod_ips_ = {pod_ip_};
  }
  ContainerFilter cf;
  cf.pod_sandbox_id = sandbox_id_;
  std::map<std::string, std::vector<agent::Container>> by_name;
  for (auto& c : containers.ListContainers(cf)) by_name[c.metadata.name].push_back(std::move(c));
  for (auto& [name, list] : by_name) {
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a.metadata.attempt > b.metadata.attempt; });
    Slot* slot = nullptr;
    for (auto& s : slots_) {
      if (s->name == name) slot = s.get();
    }
    size_t keep = slot ? 2 : 0;
    for (size_t i = keep; i < list.size(); ++i) (void)containers.RemoveContainer(list[i].id);
    if (!slot) continue;
    Slot& s = *slot;
    s.id = list[0].id;
    s.had_instance = true;
    s.restart_count =
        std::max<int32_t>(s.restart_count, static_cast<int32_t>(list[0].metadata.attempt));
    if (auto st = containers.ContainerStatus(s.id); st) s.cri = st->status;
    if (list.size() > 1) {
      s.previous_id = list[1].id;
      if (auto st = containers.ContainerStatus(s.previous_id); st) s.previous_cri = st->status;
    }
    if (s.is_init && !s.is_sidecar && Exited(s) && s.cri->exit_code == 0) s.init_succeeded = true;
    if (Running(s) && !terminated_) {
      // Started before this agent: counted as started, as kubelet does after its restart.
      s.adopted_running = true;
      s.started_flag->store(true);
      StartProbes(s, true);
    }
    spdlog::info("pod {}: adopted container {} ({}, restarts {})", key_, name, s.id,
                 s.restart_count);
  }
}

// ---- The sync loop
// --------------------------------------------------------------------------------

void PodWorker::Sync() {
  ApplyPendingMetadata();
  TakePendingResize();
  RefreshContainers();
  if (resizing_) Resize();
  if (terminated_) return;
  if (!Admit()) return;
  if (DeadlineExceeded()) return;
  if (!EnsureVolumes() || Stopping()) return;
  if (!EnsureSandbox() || Stopping()) return;
  RefreshContainers();
  CheckProbes();
  if (Stopping()) return;
  if (phase_ != "Failed" && RunInitContainers() && !Stopping()) RunAppContainers();
  RefreshContainers();
  UpdatePhase();
}

// The scheduler's part: the pod is placed once, when its host ports are free and its requests
// fit; until then it stays Pending with PodScheduled=False and is tried again every relist.
bool PodWorker::Admit() {
  if (admitted_) return true;
  auto why = shared_.admission.TryAdmit(record_.uid, ClaimOf(pod_));
  if (why) {
    if (unschedulable_ != *why) {
      Event("Warning", "FailedScheduling", "pod/" + pod_.metadata.name, *why);
      spdlog::info("pod {}: unschedulable: {}", key_, *why);
    }
    unschedulable_ = *why;
    return false;
  }
  admitted_ = true;
  unschedulable_.clear();
  if (record_.admitted_at == 0) {
    record_.admitted_at = NowNs();
    Persist();
  }
  Event("Normal", "Scheduled", "pod/" + pod_.metadata.name,
        "Successfully assigned " + key_ + " to " + shared_.node_name);
  return true;
}

// activeDeadlineSeconds, counted from when the node took the pod (kubelet: status.startTime):
// once past, the pod fails with DeadlineExceeded and its containers are killed.
bool PodWorker::DeadlineExceeded() {
  if (!pod_.spec.active_deadline_seconds) return false;
  int64_t start = record_.admitted_at != 0 ? record_.admitted_at : record_.created_at;
  int64_t deadline = start + *pod_.spec.active_deadline_seconds * 1'000'000'000;
  int64_t now = NowNs();
  if (now < deadline) {
    next_wake_ = std::min(next_wake_, Clock::now() + std::chrono::nanoseconds(deadline - now));
    return false;
  }
  const std::string message = "Pod was active on the node longer than the specified deadline";
  Event("Normal", "DeadlineExceeded", "pod/" + pod_.metadata.name, message);
  spdlog::info("pod {}: Failed: DeadlineExceeded", key_);
  phase_ = "Failed";
  record_.terminal_reason = "DeadlineExceeded";
  record_.terminal_message = message;
  Terminate(false);
  terminated_ = true;
  record_.terminal_phase = phase_;
  Persist();
  shared_.admission.Release(record_.uid);
  RefreshContainers();
  return true;
}

bool PodWorker::EnsureVolumes() {
  uint64_t generation = shared_.objects_generation.load();
  if (generation == volumes_generation_) return true;
  PodRuntimeInfo info{record_.uid, pod_ip_, pod_ips_, shared_.host_ip, shared_.node_name};
  auto volumes = SetUpVolumes(pod_, paths_, shared_.SnapshotObjects(), info);
  if (!volumes) {
    Event("Warning", "FailedMount", "pod/" + pod_.metadata.name, volumes.error().ToString());
    return false;
  }
  volume_paths_ = std::move(*volumes);
  volumes_generation_ = generation;
  return true;
}

bool PodWorker::EnsureSandbox() {
  auto& sandboxes = shared_.agent->sandboxes();
  if (!sandbox_id_.empty()) {
    auto st = sandboxes.PodSandboxStatus(sandbox_id_);
    sandbox_ready_ = st && st->status.state == PodSandboxState::kReady;
    if (sandbox_ready_) return true;
    // pause died (or the sandbox vanished): kubelet kills what is left and starts over.
    Event("Normal", "SandboxChanged", "pod/" + pod_.metadata.name,
          "Pod sandbox changed, it will be killed and re-created.");
    for (auto& s : slots_) {
      StopProbes(*s);
      if (s->cri) {
        s->previous_cri = s->cri;
        s->previous_termination_message = s->termination_message;
      }
      s->id.clear();
      s->previous_id.clear();
      s->cri.reset();
      s->init_succeeded = false;
    }
    if (auto s = sandboxes.RemovePodSandbox(sandbox_id_); !s) {
      spdlog::warn("pod {}: remove dead sandbox {}: {}", key_, sandbox_id_, s.error().ToString());
    }
    sandbox_id_.clear();
    initialized_ = false;
    record_.initialized = false;
  }
  if (Clock::now() < sandbox_retry_at_) return false;
  auto resolv = ReadWholeFile("/etc/resolv.conf");
  sandbox_config_ = BuildSandboxConfig(pod_, record_.uid, record_.sandbox_attempt, log_directory_,
                                       resolv ? *resolv : "");
  ResolveLocalhostSeccomp(sandbox_config_.linux.security_context.seccomp,
                          shared_.config.seccomp_root);
  if (auto userns = PodUserNamespace(); userns) {
    sandbox_config_.linux.security_context.namespace_options.userns_options = std::move(*userns);
  } else {
    Event("Warning", "FailedCreatePodSandBox", "pod/" + pod_.metadata.name,
          "Failed to create pod sandbox: " + userns.error().ToString());
    sandbox_retry_at_ = Clock::now() + std::max(shared_.config.backoff_initial, milliseconds(500));
    return false;
  }
  auto id = sandboxes.RunPodSandbox(sandbox_config_, pod_.spec.runtime_class_name);
  if (!id) {
    Event("Warning", "FailedCreatePodSandBox", "pod/" + pod_.metadata.name,
          "Failed to create pod sandbox: " + id.error().ToString());
    sandbox_retry_at_ = Clock::now() + std::max(shared_.config.backoff_initial, milliseconds(500));
    next_wake_ = std::min(next_wake_, sandbox_retry_at_);
    return false;
  }
  sandbox_id_ = *id;
  sandbox_ready_ = true;  // RunPodSandbox returns once the network is set up
  record_.sandbox_attempt++;
  if (started_at_ == 0) started_at_ = NowNs();
  pod_ip_.clear();
  pod_ips_.clear();
  if (auto st = sandboxes.PodSandboxStatus(sandbox_id_); st && !st->status.network.ip.empty()) {
    pod_ip_ = st->status.network.ip;
    pod_ips_.push_back(pod_ip_);
    for (const auto& ip : st->status.network.additional_ips) pod_ips_.push_back(ip.ip);
  }
  if (pod_.spec.host_network && pod_ip_.empty() && !shared_.host_ip.empty()) {
    pod_ip_ = shared_.host_ip;  // kubelet reports the node's IP for hostNetwork pods
    pod_ips_ = {pod_ip_};
  }
  if (NeedsOwnHostsFile(pod_)) {
    auto node_hosts = ReadWholeFile("/etc/hosts");
    std::error_code ec;
    fs::create_directories(paths_.root, ec);
    auto hosts = BuildPodHostsFile(pod_, pod_ips_, node_hosts ? *node_hosts : "");
    if (auto s = WriteFileAtomically(paths_.HostsFile(), hosts); !s) {
      spdlog::warn("pod {}: write hosts file: {}", key_, s.error().ToString());
    }
  }
  Persist();
  return true;
}

void PodWorker::RefreshContainers() {
  if (sandbox_id_.empty()) return;
  auto& containers = shared_.agent->containers();
  // The relist (kubelet's PLEG): one list of the pod's containers, a status only for changes.
  ContainerFilter filter;
  filter.pod_sandbox_id = sandbox_id_;
  std::map<std::string, ContainerState> states;
  for (const auto& c : containers.ListContainers(filter)) states[c.id] = c.state;
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (s.id.empty()) continue;
    auto it = states.find(s.id);
    if (it == states.end()) {  // removed behind our back: it will be created again
      StopProbes(s);
      if (s.cri) s.previous_cri = s.cri;
      s.id.clear();
      s.cri.reset();
      continue;
    }
    if (s.cri && s.cri->state == it->second) continue;
    auto st = containers.ContainerStatus(s.id);
    if (!st) continue;
    bool exited_now = st->status.state == ContainerState::kExited &&
                      (!s.cri || s.cri->state != ContainerState::kExited);
    s.cri = st->status;
    if (exited_now) {
      StopProbes(s);
      s.termination_message = TerminationMessage(s, st->status);
      spdlog::info("pod {}: container {} exited with {} ({})", key_, s.name, s.cri->exit_code,
                   s.cri->reason);
    }
  }
}

std::string PodWorker::TerminationMessage(const Slot& s, const ContainerStatus& st) {
  auto text = ReadWholeFile(paths_.ContainerDir(s.name) + "/termination-log-" +
                            std::to_string(st.metadata.attempt));
  std::string message = text ? text->substr(0, kMaxTerminationMessage) : "";
  if (message.empty() && st.exit_code != 0 &&
      s.spec->termination_message_policy == "FallbackToLogsOnError") {
    message = LogTail(st.log_path);
  }
  return message;
}

void PodWorker::CheckProbes() {
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!Running(s)) continue;
    bool started = s.adopted_running || !s.startup || s.startup->result() == ProbeWorker::kSuccess;
    s.started_flag->store(started);
    const char* failed = nullptr;
    std::optional<int64_t> grace;
    if (s.startup && s.startup->result() == ProbeWorker::kFailure) {
      failed = "startup";
      grace = s.startup->probe().termination_grace_period_seconds;
    } else if (s.liveness && s.liveness->result() == ProbeWorker::kFailure) {
      failed = "liveness";
      grace = s.liveness->probe().termination_grace_period_seconds;
    }
    if (!failed) continue;
    KillContainer(s, "Container " + s.name + " failed " + failed + " probe, will be restarted",
                  grace);
  }
}

bool PodWorker::RunInitContainers() {
  if (initialized_) return true;
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.is_init) continue;
    if (s.is_sidecar) {
      // The next init container starts once the sidecar has started (its startup probe passed).
      if (!Running(s) && !StartOrBackOff(s)) return false;
      if (!Running(s) || !s.started_flag->load()) return false;
      continue;
    }
    if (s.init_succeeded) continue;
    if (Running(s)) return false;
    if (Exited(s)) {
      if (s.cri->exit_code == 0) {
        s.init_succeeded = true;
        continue;
      }
      if (pod_.spec.restart_policy == "Never") {
        Event("Warning", "Failed", s.object,
              "Init container " + s.name + " failed with exit code " +
                  std::to_string(s.cri->exit_code));
        phase_ = "Failed";
        return false;
      }
    }
    StartOrBackOff(s);
    return false;
  }
  initialized_ = true;
  record_.initialized = true;
  Persist();
  return true;
}

void PodWorker::RunAppContainers() {
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (Stopping()) return;
    if (s.is_init && !s.is_sidecar) continue;
    if (s.is_sidecar) {
      if (!Running(s)) StartOrBackOff(s);  // sidecars restart whatever the pod's policy
      continue;
    }
    if (!s.cri || (Exited(s) && (ShouldRestart(s) || s.restart_for_resize))) StartOrBackOff(s);
  }
}

void PodWorker::UpdatePhase() {
  if (phase_ == "Succeeded" || (phase_ == "Failed" && terminated_)) return;
  if (phase_ != "Failed") {
    if (!initialized_) {
      phase_ = "Pending";
      return;
    }
    // kubelet's getPhase: a container that has terminated counts as stopped unless it will be
    // restarted (by the pod's restartPolicy, or its own policy and rules: KEP-5307).
    int running = 0, waiting = 0, stopped = 0, succeeded = 0;
    for (const auto& sp : slots_) {
      const Slot& s = *sp;
      if (s.is_init) continue;
      if (Running(s) || (Exited(s) && ShouldRestart(s))) {
        ++running;
      } else if (Exited(s)) {
        ++stopped;
        if (s.cri->exit_code == 0) ++succeeded;
      } else {
        ++waiting;
      }
    }
    // What is stopped now stays stopped: the pod is done.
    if (waiting > 0) {
      phase_ = "Pending";
    } else if (running > 0) {
      phase_ = "Running";
    } else if (stopped > 0) {
      phase_ = stopped == succeeded ? "Succeeded" : "Failed";
    }
  }
  if ((phase_ == "Succeeded" || phase_ == "Failed") && !terminated_) {
    spdlog::info("pod {}: {}", key_, phase_);
    Terminate(false);
    terminated_ = true;
    record_.terminal_phase = phase_;
    Persist();
    shared_.admission.Release(record_.uid);
  }
}

// ---- Starting containers
// --------------------------------------------------------------------------

bool PodWorker::Running(const Slot& s) const {
  return s.cri && s.cri->state == ContainerState::kRunning;
}

bool PodWorker::Exited(const Slot& s) const {
  return s.cri && s.cri->state == ContainerState::kExited;
}

bool PodWorker::ShouldRestart(const Slot& s) const {
  if (s.is_sidecar) return true;
  if (!Exited(s)) return false;
  // KEP-5307: an app container's rules, then its own restartPolicy, then the pod's.
  if (!s.is_init) {
    for (const auto& rule : s.spec->restart_policy_rules) {
      if (rule.Matches(s.cri->exit_code)) return rule.action == "Restart";
    }
  }
  const std::string& policy =
      !s.is_init && s.spec->restart_policy ? *s.spec->restart_policy : pod_.spec.restart_policy;
  if (policy == "Always") return !s.is_init;
  if (policy == "OnFailure") return s.cri->exit_code != 0;
  return false;
}

int64_t PodWorker::GraceSeconds() const {
  return pod_.spec.termination_grace_period_seconds.value_or(30);
}

bool PodWorker::StartOrBackOff(Slot& s) {
  if (Exited(s)) {
    const auto& config = shared_.config;
    int64_t finished = s.cri->finished_at, started = s.cri->started_at;
    int64_t reset_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(config.backoff_reset).count();
    if (started > 0 && finished - started >= reset_ns) s.backoff = milliseconds(0);
    if (s.backoff.count() > 0) {
      int64_t until =
          finished + std::chrono::duration_cast<std::chrono::nanoseconds>(s.backoff).count();
      int64_t now = NowNs();
      if (now < until) {
        s.waiting_reason = "CrashLoopBackOff";
        s.waiting_message =
            "back-off " + FormatDuration(s.backoff) + " restarting failed container=" + s.name +
            " pod=" + pod_.metadata.name + "_" + pod_.metadata.namespace_ + "(" + record_.uid + ")";
        Event("Warning", "BackOff", s.object,
              "Back-off restarting failed container " + s.name + " in pod " + pod_.metadata.name +
                  "_" + pod_.metadata.namespace_ + "(" + record_.uid + ")");
        next_wake_ = std::min(next_wake_, Clock::now() + std::chrono::nanoseconds(until - now));
        return false;
      }
    }
  }
  uint64_t generation = shared_.objects_generation.load();
  if (Clock::now() < s.config_retry_at && generation == s.config_generation) {
    next_wake_ = std::min(next_wake_, s.config_retry_at);
    return false;
  }
  if (!EnsureImage(s)) return false;
  return StartContainer(s);
}

// The container's image, then the images of the image volumes it mounts (kubelet pulls those
// with the same policy rules before it creates the container).
bool PodWorker::EnsureImage(Slot& s) {
  if (!EnsureImage(s, s.spec->image, s.spec->image_pull_policy)) return false;
  for (const auto& vm : s.spec->volume_mounts) {
    for (const auto& v : pod_.spec.volumes) {
      const auto* image = std::get_if<ImageVolume>(&v.source_);
      if (v.name != vm.name || image == nullptr) continue;
      if (!EnsureImage(s, image->reference, image->pull_policy)) return false;
    }
  }
  return true;
}

bool PodWorker::EnsureImage(Slot& s, const std::string& image, const std::string& policy) {
  auto& images = shared_.agent->images();
  bool present = images.ImageStatus(image).has_value();
  if (policy == "Never") {
    if (present) return true;
    s.waiting_reason = "ErrImageNeverPull";
    s.waiting_message =
        "Container image \"" + image + "\" is not present with pull policy of Never";
    Event("Warning", "ErrImageNeverPull", s.object, s.waiting_message);
    return false;
  }
  if (present && policy != "Always") {
    if (!s.had_instance) {
      Event("Normal", "Pulled", s.object,
            "Container image \"" + image + "\" already present on machine");
    }
    return true;
  }
  if (Clock::now() < s.image_retry_at) {
    s.waiting_reason = "ImagePullBackOff";
    s.waiting_message = "Back-off pulling image \"" + image + "\"";
    Event("Normal", "BackOff", s.object, s.waiting_message);
    next_wake_ = std::min(next_wake_, s.image_retry_at);
    return false;
  }
  Event("Normal", "Pulling", s.object, "Pulling image \"" + image + "\"");
  auto begin = Clock::now();
  auto pulled = images.Pull(image);
  if (!pulled) {
    s.waiting_reason = "ErrImagePull";
    s.waiting_message = pulled.error().ToString();
    Event("Warning", "Failed", s.object,
          "Failed to pull image \"" + image + "\": " + pulled.error().ToString());
    Event("Warning", "Failed", s.object, "Error: ErrImagePull");
    const auto& config = shared_.config;
    s.image_backoff = s.image_backoff.count() == 0
                          ? config.backoff_initial
                          : std::min(s.image_backoff * 2, config.backoff_max);
    s.image_retry_at = Clock::now() + s.image_backoff;
    next_wake_ = std::min(next_wake_, s.image_retry_at);
    return false;
  }
  s.image_backoff = milliseconds(0);
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - begin);
  Event("Normal", "Pulled", s.object,
        "Successfully pulled image \"" + image + "\" in " + FormatDuration(took));
  return true;
}

bool PodWorker::StartContainer(Slot& s) {
  auto& containers = shared_.agent->containers();
  const Container& spec = *s.spec;
  auto config_error = [&](const std::string& reason, const std::string& message) {
    s.waiting_reason = reason;
    s.waiting_message = message;
    Event("Warning", "Failed", s.object, "Error: " + message);
    const auto& config = shared_.config;
    s.config_backoff = s.config_backoff.count() == 0
                           ? config.backoff_initial
                           : std::min(s.config_backoff * 2, config.backoff_max);
    s.config_retry_at = Clock::now() + s.config_backoff;
    s.config_generation = shared_.objects_generation.load();
    next_wake_ = std::min(next_wake_, s.config_retry_at);
    return false;
  };
  ConfigObjects objects = shared_.SnapshotObjects();
  PodRuntimeInfo info{record_.uid, pod_ip_, pod_ips_, shared_.host_ip, shared_.node_name};
  auto env = ResolveEnvironment(pod_, spec, objects, info);
  if (!env) return config_error("CreateContainerConfigError", env.error().message);
  auto image = shared_.agent->images().Resolve(spec.image);
  if (!image) return config_error("CreateContainerConfigError", image.error().ToString());
  auto security = ConvertSecurityContext(pod_, spec, image->config.defaults.user);
  if (!security) return config_error("CreateContainerConfigError", security.error().message);
  // As kubelet: the container asks for its pod's user namespace.
  security->namespace_options.userns_options =
      sandbox_config_.linux.security_context.namespace_options.userns_options;
  ResolveLocalhostSeccomp(security->seccomp, shared_.config.seccomp_root);

  uint32_t attempt = static_cast<uint32_t>(s.had_instance ? s.restart_count + 1 : s.restart_count);
  std::error_code ec;
  std::string container_dir = paths_.ContainerDir(s.name);
  fs::create_directories(container_dir, ec);
  std::string termination_file = container_dir + "/termination-log-" + std::to_string(attempt);
  if (int fd = ::open(termination_file.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0666);
      fd >= 0) {
    ::fchmod(fd, 0666);  // whatever user the container runs as may write it
    ::close(fd);
  } else {
    termination_file.clear();
  }
  std::map<std::string, std::string> vars;
  for (const auto& kv : *env) vars[kv.key] = kv.value;
  auto mounts = ContainerMounts(pod_, spec, volume_paths_, termination_file,
                                NeedsOwnHostsFile(pod_) ? paths_.HostsFile() : "", vars);
  if (!mounts) return config_error("CreateContainerConfigError", mounts.error().message);
  ContainerConfig cc;
  cc.metadata = {s.name, attempt};
  cc.image.image = spec.image;
  for (const auto& c : spec.command) cc.command.push_back(ExpandVariables(c, vars));
  for (const auto& a : spec.args) cc.args.push_back(ExpandVariables(a, vars));
  cc.working_dir = spec.working_dir;
  cc.envs = std::move(*env);
  cc.mounts = std::move(*mounts);
  cc.labels = {{kLabelContainerName, s.name},
               {kLabelPodName, pod_.metadata.name},
               {kLabelPodNamespace, pod_.metadata.namespace_},
               {kLabelPodUid, record_.uid},
               {kLabelManaged, "true"}};
  cc.annotations = {
      {"io.kubernetes.container.restartCount", std::to_string(attempt)},
      {"io.kubernetes.container.terminationMessagePath", spec.termination_message_path},
      {"io.peapod.container.type", s.is_sidecar ? "sidecar"
                                   : s.is_init  ? "init"
                                                : "app"}};
  cc.log_path = s.name + "/" + std::to_string(attempt) + ".log";
  cc.stdin = spec.stdin;
  cc.stdin_once = spec.stdin_once;
  cc.tty = spec.tty;
  if (spec.lifecycle) cc.stop_signal = spec.lifecycle->stop_signal;
  cc.linux.resources = ConvertResources(pod_, spec);
  cc.linux.security_context = std::move(*security);

  // The instance before this one is kept for `logs --previous`; older ones go, first, so a
  // container never has more than two instances.
  if (!s.previous_id.empty() && !s.id.empty()) {
    (void)containers.RemoveContainer(s.previous_id);
    s.previous_id.clear();
  }
  auto id = containers.CreateContainer(sandbox_id_, cc, sandbox_config_);
  if (!id) return config_error("CreateContainerError", id.error().ToString());
  s.config_backoff = milliseconds(0);

  if (!s.previous_id.empty()) (void)containers.RemoveContainer(s.previous_id);
  if (!s.id.empty()) {
    s.previous_id = s.id;
    s.previous_cri = s.cri;
    s.previous_termination_message = s.termination_message;
  } else {
    s.previous_id.clear();
  }
  if (s.had_instance) {
    const auto& config = shared_.config;
    s.backoff = s.backoff.count() == 0 ? config.backoff_initial
                                       : std::min(s.backoff * 2, config.backoff_max);
  }
  s.id = *id;
  s.restart_for_resize = false;
  s.restart_count = static_cast<int32_t>(attempt);
  s.had_instance = true;
  s.adopted_running = false;
  s.termination_message.clear();
  s.waiting_reason.clear();
  s.waiting_message.clear();
  s.cri.reset();
  if (auto st = containers.ContainerStatus(s.id); st) s.cri = st->status;
  record_.restart_counts[s.name] = s.restart_count;
  Persist();
  Event("Normal", "Created", s.object, "Created container " + s.name);

  auto started = containers.StartContainer(s.id);
  if (auto st = containers.ContainerStatus(s.id); st) s.cri = st->status;
  if (!started) {
    Event("Warning", "Failed", s.object, "Error: " + started.error().ToString());
    return false;
  }
  Event("Normal", "Started", s.object, "Started container " + s.name);
  spdlog::info("pod {}: started container {} ({}, attempt {})", key_, s.name, s.id, attempt);
  StartProbes(s, false);

  if (spec.lifecycle && !std::holds_alternative<std::monostate>(spec.lifecycle->post_start)) {
    ProbeTarget target{s.id, pod_.spec.host_network ? "" : pod_ip_, spec.ports};
    auto result = RunHandler(containers, spec.lifecycle->post_start, target,
                             std::chrono::seconds(GraceSeconds()));
    if (!result.success) {
      // kubelet kills a container whose postStart hook failed; the restart policy decides.
      Event("Warning", "FailedPostStartHook", s.object, result.message);
      KillContainer(s, "FailedPostStartHook", std::nullopt);
      return false;
    }
  }
  return true;
}

void PodWorker::StartProbes(Slot& s, bool adopted) {
  StopProbes(s);
  const Container& spec = *s.spec;
  ProbeTarget target{s.id, pod_.spec.host_network ? "" : pod_ip_, spec.ports};
  auto& containers = shared_.agent->containers();
  s.started_flag = std::make_shared<std::atomic<bool>>(adopted || !spec.startup_probe);
  auto make = [&](ProbeKind kind, const Probe& probe) {
    std::string object = s.object, kind_name = ProbeKindName(kind);
    Probe p = probe;
    if (adopted) p.initial_delay_seconds = 0;
    return std::make_unique<ProbeWorker>(
        kind, std::move(p), target, containers, s.started_flag,
        [this, object, kind_name](const std::string& message) {
          Event("Warning", "Unhealthy", object, kind_name + " probe failed: " + message);
        },
        [this] { Notify(); });
  };
  if (spec.startup_probe && !adopted) s.startup = make(ProbeKind::kStartup, *spec.startup_probe);
  if (spec.liveness_probe) s.liveness = make(ProbeKind::kLiveness, *spec.liveness_probe);
  if (spec.readiness_probe) s.readiness = make(ProbeKind::kReadiness, *spec.readiness_probe);
}

void PodWorker::StopProbes(Slot& s) {
  s.startup.reset();
  s.liveness.reset();
  s.readiness.reset();
}

// ---- Stopping
// -------------------------------------------------------------------------------------

void PodWorker::KillContainer(Slot& s, const std::string& message,
                              std::optional<int64_t> grace_override) {
  if (!Running(s)) return;
  StopProbes(s);
  auto& containers = shared_.agent->containers();
  Event("Normal", "Killing", s.object, message);
  int64_t grace = std::max<int64_t>(0, grace_override.value_or(GraceSeconds()));
  auto deadline = Clock::now() + std::chrono::seconds(grace);
  const Container& spec = *s.spec;
  if (spec.lifecycle && !std::holds_alternative<std::monostate>(spec.lifecycle->pre_stop) &&
      grace > 0) {
    ProbeTarget target{s.id, pod_.spec.host_network ? "" : pod_ip_, spec.ports};
    auto result =
        RunHandler(containers, spec.lifecycle->pre_stop, target, std::chrono::seconds(grace));
    if (!result.success) {
      Event("Warning", "FailedPreStopHook", s.object, "PreStopHook failed: " + result.message);
    }
  }
  // What is left of the grace period goes to the stop signal, at least kubelet's minimum.
  auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count();
  int64_t timeout = grace == 0 ? 0 : std::max<int64_t>(left, kMinimumGraceSeconds);
  if (auto stopped = containers.StopContainer(s.id, timeout); !stopped) {
    spdlog::warn("pod {}: stop container {}: {}", key_, s.id, stopped.error().ToString());
  }
  if (auto st = containers.ContainerStatus(s.id); st) {
    bool was_running = Running(s);
    s.cri = st->status;
    if (was_running && Exited(s)) s.termination_message = TerminationMessage(s, st->status);
  }
}

void PodWorker::Terminate(bool for_delete) {
  for (auto& s : slots_) StopProbes(*s);
  RefreshContainers();
  // App containers (and a running init container) stop together, then the sidecars in reverse
  // order, so the app can still use them while it shuts down.
  std::vector<std::thread> stops;
  for (auto& sp : slots_) {
    Slot* s = sp.get();
    if (s->is_sidecar || !Running(*s)) continue;
    stops.push_back(StartGuardedThread("pod " + key_ + ": stop " + s->name, [this, s] {
      KillContainer(*s, "Stopping container " + s->name, std::nullopt);
    }));
  }
  for (auto& t : stops) t.join();
  for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
    if ((*it)->is_sidecar) KillContainer(**it, "Stopping container " + (*it)->name, std::nullopt);
  }
  sandbox_ready_ = false;
  if (!for_delete && !sandbox_id_.empty()) {
    if (auto s = shared_.agent->sandboxes().StopPodSandbox(sandbox_id_); !s) {
      spdlog::warn("pod {}: stop sandbox {}: {}", key_, sandbox_id_, s.error().ToString());
    }
  }
}

Result<UserNamespace> PodWorker::PodUserNamespace() {
  UserNamespace userns;  // mode NODE: the node's
  if (pod_.spec.host_users) return userns;
  auto host_id = shared_.userns_ranges->Acquire(record_.uid);
  if (!host_id) return std::unexpected(std::move(host_id.error()));
  userns.mode = NamespaceMode::kPod;
  userns.uids = {{*host_id, 0, UserNamespaceRanges::kRangeLength}};
  userns.gids = userns.uids;
  return userns;
}

void PodWorker::Cleanup() {
  auto& sandboxes = shared_.agent->sandboxes();
  PodSandboxFilter filter;
  filter.label_selector = {{kLabelPodUid, record_.uid}, {kLabelManaged, "true"}};
  bool all_removed = true;
  for (const auto& sb : sandboxes.ListPodSandbox(filter)) {
    if (auto s = sandboxes.RemovePodSandbox(sb.id); !s) {
      all_removed = false;
      spdlog::warn("pod {}: remove sandbox {}: {}", key_, sb.id, s.error().ToString());
    }
  }
  // Only once no sandbox uses it: a range is never shared by two pods.
  if (all_removed) {
    if (auto s = shared_.userns_ranges->Release(record_.uid); !s) {
      spdlog::warn("pod {}: {}", key_, s.error().ToString());
    }
  }
  sandbox_id_.clear();
  for (auto& s : slots_) {
    s->id.clear();
    s->previous_id.clear();
  }
  shared_.admission.Release(record_.uid);
  if (auto s = TearDownVolumes(paths_); !s) {
    spdlog::warn("pod {}: tear down volumes: {}", key_, s.error().ToString());
  }
  std::error_code ec;
  fs::remove_all(log_directory_, ec);
  fs::remove(shared_.PodRecordPath(pod_.metadata.namespace_, pod_.metadata.name), ec);
  spdlog::info("pod {}: deleted", key_);
}

// ---- Status
// ---------------------------------------------------------------------------------------

void PodWorker::Event(const std::string& type, const std::string& reason, const std::string& object,
                      const std::string& message) {
  int64_t now = NowNs();
  std::lock_guard lock(mu_);
  for (auto& e : events_) {
    if (e.type == type && e.reason == reason && e.object == object && e.message == message) {
      e.count++;
      e.last_seen = now;
      return;
    }
  }
  PodEvent e;
  e.type = type;
  e.reason = reason;
  e.object = object;
  e.message = message;
  e.first_seen = e.last_seen = now;
  events_.push_back(std::move(e));
  if (events_.size() > kMaxEvents) events_.pop_front();
}

void PodWorker::Persist() {
  nlohmann::json j;
  j["source_name"] = record_.source_name;
  j["source_text"] = record_.source_text;
  j["uid"] = record_.uid;
  j["hash"] = record_.hash;
  j["created_at"] = record_.created_at;
  j["initialized"] = record_.initialized;
  j["terminal_phase"] = record_.terminal_phase;
  if (!record_.terminal_reason.empty()) {
    j["terminal_reason"] = record_.terminal_reason;
    j["terminal_message"] = record_.terminal_message;
  }
  if (record_.admitted_at != 0) j["admitted_at"] = record_.admitted_at;
  j["deleting"] = record_.deleting;
  j["sandbox_attempt"] = record_.sandbox_attempt;
  j["restart_counts"] = record_.restart_counts;
  std::string path = shared_.PodRecordPath(pod_.metadata.namespace_, pod_.metadata.name);
  if (auto s = WriteFileAtomically(path, j.dump(), 0600); !s) {
    spdlog::warn("pod {}: persist: {}", key_, s.error().ToString());
  }
}

ContainerStatusView PodWorker::SlotView(const Slot& s) {
  ContainerStatusView v;
  v.name = s.name;
  v.image = s.spec->image;
  v.container_id = s.id;
  v.restart_count = s.restart_count;
  v.is_init = s.is_init;
  v.is_sidecar = s.is_sidecar;
  auto terminated = [](const ContainerStatus& st, const std::string& message) {
    ContainerStateView t;
    t.kind = "terminated";
    t.exit_code = st.exit_code;
    if (st.exit_code > 128 && st.exit_code < 128 + 65) t.signal = st.exit_code - 128;
    t.reason = st.reason.empty() ? (st.exit_code == 0 ? "Completed" : "Error") : st.reason;
    t.message = message.empty() ? st.message : message;
    t.started_at = st.started_at;
    t.finished_at = st.finished_at;
    t.container_id = st.id;
    return t;
  };
  if (s.cri) v.image_id = s.cri->image_ref;
  bool running = Running(s);
  if (!s.waiting_reason.empty() && !running) {
    v.state.kind = "waiting";
    v.state.reason = s.waiting_reason;
    v.state.message = s.waiting_message;
    if (Exited(s)) v.last_state = terminated(*s.cri, s.termination_message);
  } else if (!s.cri || s.cri->state == ContainerState::kCreated) {
    v.state.kind = "waiting";
    v.state.reason = (s.is_init || initialized_) ? "ContainerCreating" : "PodInitializing";
  } else if (running) {
    v.state.kind = "running";
    v.state.started_at = s.cri->started_at;
    v.state.container_id = s.id;
  } else {
    v.state = terminated(*s.cri, s.termination_message);
  }
  if (!v.last_state && s.previous_cri && s.previous_cri->state == ContainerState::kExited) {
    v.last_state = terminated(*s.previous_cri, s.previous_termination_message);
  }
  // kubelet's resize status: what the node allocated, and what the runtime says the running
  // container has.
  if (!s.is_init) {
    v.allocated_resources = AllocatedRequests(*s.spec);
    if (running && s.cri->resources) v.resources = StatusResources(*s.cri->resources, *s.spec);
  }
  bool started = running && s.started_flag->load();
  v.started = started;
  if (s.is_init && !s.is_sidecar) {
    v.ready = Exited(s) && s.cri->exit_code == 0;
  } else {
    v.ready = started && (!s.readiness || s.readiness->result() == ProbeWorker::kSuccess);
  }
  return v;
}

void PodWorker::Publish() {
  PodView v;
  v.name = pod_.metadata.name;
  v.namespace_ = pod_.metadata.namespace_;
  v.uid = record_.uid;
  v.phase = phase_;
  if (phase_ == "Failed" && !record_.terminal_reason.empty()) {
    v.reason = record_.terminal_reason;
    v.message = record_.terminal_message;
  }
  v.sandbox_id = sandbox_id_;
  v.pod_ip = pod_ip_;
  v.pod_ips = pod_ips_;
  v.host_ip = shared_.host_ip;
  v.node_name = shared_.node_name;
  v.created_at = record_.created_at;
  v.started_at = started_at_;
  std::vector<std::string> unready, uninitialized;
  std::map<std::string, std::pair<std::string, std::string>> ids;
  for (const auto& sp : slots_) {
    auto cv = SlotView(*sp);
    ids[sp->name] = {sp->id, sp->previous_id};
    if (sp->is_init) {
      if (!sp->is_sidecar && !cv.ready) uninitialized.push_back(sp->name);
      if (sp->is_sidecar && !cv.ready) unready.push_back(sp->name);
      v.init_container_statuses.push_back(std::move(cv));
    } else {
      if (!cv.ready) unready.push_back(sp->name);
      v.container_statuses.push_back(std::move(cv));
    }
  }
  bool terminal = phase_ == "Succeeded" || phase_ == "Failed";
  auto join = [](const std::vector<std::string>& names) {
    std::string s = "[";
    for (size_t i = 0; i < names.size(); ++i) s += (i ? " " : "") + names[i];
    return s + "]";
  };
  int64_t now = NowNs();
  auto condition = [&](const std::string& type, bool ok, const std::string& reason,
                       const std::string& message) {
    PodCondition c;
    c.type = type;
    c.status = ok ? "True" : "False";
    if (!ok) {
      c.reason = reason;
      c.message = message;
    }
    auto& last = conditions_[type];
    if (last.first != c.status) last = {c.status, now};
    c.last_transition = last.second;
    v.conditions.push_back(std::move(c));
  };
  bool ready = !terminal && initialized_ && unready.empty();
  std::string ready_reason = terminal ? "PodCompleted" : "ContainersNotReady";
  std::string ready_message = terminal ? "" : "containers with unready status: " + join(unready);
  condition("PodScheduled", unschedulable_.empty(), "Unschedulable", unschedulable_);
  // As kubelet 1.29+: True once the sandbox runs with its network, False (no reason) before,
  // while it is being re-created, and once it is stopped.
  condition("PodReadyToStartContainers", sandbox_ready_ && !terminal, "", "");
  condition("Initialized", initialized_, "ContainersNotInitialized",
            "containers with incomplete status: " + join(uninitialized));
  condition("ContainersReady", ready, ready_reason, ready_message);
  condition("Ready", ready, ready_reason, ready_message);
  // kubelet's resize conditions are there only while they hold.
  auto resize_condition = [&](const std::string& type, bool holds, const std::string& reason,
                              const std::string& message) {
    if (!holds) {
      conditions_.erase(type);
      return;
    }
    auto& last = conditions_[type];
    if (last.first != "True") last = {"True", now};
    v.conditions.push_back({type, "True", reason, message, last.second});
  };
  resize_condition("PodResizePending", resizing_ && !resizing_->pending_reason.empty(),
                   resizing_ ? resizing_->pending_reason : "",
                   resizing_ ? resizing_->pending_message : "");
  resize_condition("PodResizeInProgress", resizing_ && !resizing_->error.empty(), "Error",
                   resizing_ ? resizing_->error : "");
  // The spec asked for; the allocation is in the container statuses.
  v.spec = resizing_ ? resizing_->target : pod_;
  std::lock_guard lock(mu_);
  v.deleting = delete_requested_;
  if (delete_requested_) v.reason = "Terminating";
  view_ = std::move(v);
  ids_ = std::move(ids);
}

PodView PodWorker::View() {
  std::lock_guard lock(mu_);
  PodView v = view_;
  v.events.assign(events_.begin(), events_.end());
  return v;
}

Result<std::string> PodWorker::ContainerId(const std::string& container) {
  std::lock_guard lock(mu_);
  auto it = ids_.find(container);
  if (it == ids_.end()) {
    return Fail(ErrorCode::kNotFound,
                "container " + container + " is not valid for pod " + pod_.metadata.name);
  }
  if (it->second.first.empty()) {
    return Fail(
        ErrorCode::kFailedPrecondition,
        "container " + container + " in pod " + pod_.metadata.name + " has not been created yet");
  }
  return it->second.first;
}

Result<std::string> PodWorker::LogPath(const std::string& container, bool previous) {
  std::string id;
  {
    std::lock_guard lock(mu_);
    auto it = ids_.find(container);
    if (it == ids_.end()) {
      return Fail(ErrorCode::kNotFound,
                  "container " + container + " is not valid for pod " + pod_.metadata.name);
    }
    id = previous ? it->second.second : it->second.first;
  }
  if (id.empty()) {
    if (previous) {
      return Fail(ErrorCode::kNotFound, "previous terminated container \"" + container +
                                            "\" in pod \"" + pod_.metadata.name + "\" not found");
    }
    return Fail(ErrorCode::kFailedPrecondition, "container \"" + container + "\" in pod \"" +
                                                    pod_.metadata.name + "\" is waiting to start");
  }
  auto st = shared_.agent->containers().ContainerStatus(id);
  if (!st) return std::unexpected(std::move(st.error()));
  return st->status.log_path;
}

// ---- In-place resize (KEP-1287) --------------------------------------------------------------

bool PodWorker::CanResizeTo(const Pod& pod) {
  // Same pod but for metadata and app containers' resources, and (as the API server demands)
  // the same QoS class.
  return SpecHashWithoutResources(pod) == hash_without_resources_ && QosClass(pod) == qos_class_;
}

void PodWorker::UpdateResources(const Pod& pod, const std::string& hash,
                                const std::string& source_name, const std::string& source_text) {
  {
    std::lock_guard lock(mu_);
    hash_ = hash;
    hash_without_metadata_ = SpecHashWithoutMetadata(pod);
    pending_resize_ = Resizing{pod, source_name, source_text, "", "", ""};
    wake_ = true;
  }
  cv_.notify_all();
}

void PodWorker::TakePendingResize() {
  std::optional<Resizing> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_resize_);
  }
  if (!pending) return;
  spdlog::info("pod {}: resize requested", key_);
  resizing_ = std::move(*pending);  // a newer resize replaces one still waiting
}

void PodWorker::Resize() {
  Resizing& r = *resizing_;
  auto& containers = pod_.spec.containers;
  const auto& targets = r.target.spec.containers;
  if (admitted_ && !terminated_) {
    Pod allocated = pod_;
    for (size_t i = 0; i < containers.size() && i < targets.size(); ++i) {
      allocated.spec.containers[i].resources = targets[i].resources;
    }
    if (auto verdict = shared_.admission.TryResize(record_.uid, ClaimOf(allocated))) {
      if (r.pending_message != verdict->message) {
        spdlog::info("pod {}: resize {}: {}", key_, verdict->reason, verdict->message);
      }
      r.pending_reason = verdict->reason;
      r.pending_message = verdict->message;
      return;  // tried again at every sync: a Deferred resize may fit once others leave
    }
    r.pending_reason.clear();
    r.pending_message.clear();
    for (size_t i = 0; i < containers.size() && i < targets.size(); ++i) {
      for (auto& sp : slots_) {
        if (sp->is_init || sp->name != containers[i].name) continue;
        if (!ResizeContainer(*sp, targets[i])) return;  // PodResizeInProgress/Error; retried
      }
    }
  } else {
    // Not running yet (or any more): the resources are simply the new ones.
    for (size_t i = 0; i < containers.size() && i < targets.size(); ++i) {
      containers[i].resources = targets[i].resources;
    }
  }
  pod_.metadata.labels = r.target.metadata.labels;
  pod_.metadata.annotations = r.target.metadata.annotations;
  record_.source_name = r.source_name;
  record_.source_text = r.source_text;
  {
    std::lock_guard lock(mu_);
    record_.hash = hash_;
  }
  Persist();
  volumes_generation_ = UINT64_MAX;  // downwardAPI files may show the limits
  Event("Normal", "ResizeCompleted", "pod/" + pod_.metadata.name, "Pod resize completed");
  spdlog::info("pod {}: resized in place", key_);
  resizing_.reset();
}

// One container: nothing when its cpu and memory are unchanged; restarted when a changed
// resource's resizePolicy says RestartContainer; else its cgroup changes in place. false (the
// resize stays in progress with the error) when the runtime refuses.
bool PodWorker::ResizeContainer(Slot& s, const Container& target) {
  Container& current = const_cast<Container&>(*s.spec);  // an element of pod_, which we own
  auto differs = [&](const std::string& name) {
    auto value = [&](const std::map<std::string, Quantity>& m) -> std::optional<int64_t> {
      auto it = m.find(name);
      return it == m.end() ? std::nullopt : std::optional<int64_t>(it->second.value);
    };
    return value(current.resources.requests) != value(target.resources.requests) ||
           value(current.resources.limits) != value(target.resources.limits);
  };
  auto restarts = [&](const std::string& name) {
    for (const ContainerResizePolicy& p : current.resize_policy) {
      if (p.resource_name == name) return p.restart_policy == "RestartContainer";
    }
    return false;  // NotRequired by default
  };
  bool cpu = differs("cpu"), memory = differs("memory");
  if (!cpu && !memory) return true;
  ResourceRequirements before = current.resources;
  current.resources = target.resources;
  if (!Running(s)) return true;  // its next start takes the new resources
  if ((cpu && restarts("cpu")) || (memory && restarts("memory"))) {
    s.restart_for_resize = true;
    s.backoff = milliseconds(0);
    KillContainer(s, "Container " + s.name + " resize requires restart", std::nullopt);
    return true;
  }
  auto& runtime = shared_.agent->containers();
  auto updated = runtime.UpdateContainerResources(s.id, ConvertResources(pod_, current));
  if (!updated) {
    current.resources = std::move(before);
    std::string error = "container " + s.name + ": " + updated.error().ToString();
    if (resizing_->error != error) Event("Warning", "ResizeError", s.object, error);
    resizing_->error = std::move(error);
    return false;
  }
  resizing_->error.clear();
  if (auto st = runtime.ContainerStatus(s.id); st) s.cri = st->status;
  return true;
}

}  // namespace peapod::agent::controller
