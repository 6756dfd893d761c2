// PodController: the applied objects, their persistence under <state_root>/controller, and one
// PodWorker per pod (pod_worker.cpp does the supervising).
#include "peapod/agent/controller/pod_controller.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "container_log_manager.h"
#include "controller_ids.h"
#include "peapod/agent/agent.h"
#include "peapod/atomic_file.h"
#include "peapod/json_field.h"
#include "peapod/parse.h"
#include "peapod/runtime/security.h"
#include "pod_worker.h"
#include "workload_controller.h"

namespace peapod::agent::controller {
namespace fs = std::filesystem;

namespace {

std::string NodeName() {
  utsname u{};
  if (::uname(&u) != 0) return "localhost";
  return u.nodename;
}

// The node's address as kubelet reports status.hostIP: the first non-loopback IPv4 address.
std::string NodeIp() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string ip;
  for (ifaddrs* a = list; a && ip.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_LOOPBACK) || !(a->ifa_flags & IFF_UP)) continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf))) ip = buf;
  }
  ::freeifaddrs(list);
  return ip;
}

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string ObjectFile(const std::string& ns, const std::string& name) {
  return ns + "_" + name + ".json";
}

struct ParsedSources {
  std::vector<std::pair<Pod, ManifestSource>> pods;
  std::vector<std::pair<ConfigMap, ManifestSource>> config_maps;
  std::vector<std::pair<Secret, ManifestSource>> secrets;
  std::vector<std::pair<Workload, ManifestSource>> workloads;
  std::vector<std::string> warnings;
};

// Every source parsed and validated, or every error of every source.
Result<ParsedSources> ParseAll(const std::vector<ManifestSource>& sources,
                               const ParseOptions& options) {
  ParsedSources out;
  std::string errors;
  std::set<std::string> seen;
  for (const auto& source : sources) {
    auto set = ParseManifests(source.text, source.name, options);
    if (!set) {
      errors += (errors.empty() ? "" : "\n") + set.error().message;
      continue;
    }
    for (const auto& w : set->warnings) out.warnings.push_back(w.ToString());
    auto check_unique = [&](const std::string& kind, const ObjectMeta& m) {
      if (!seen.insert(kind + "/" + Key(m.namespace_, m.name)).second) {
        errors += (errors.empty() ? "" : "\n") + source.name + ": " + kind + " " +
                  Key(m.namespace_, m.name) + " is given more than once";
      }
    };
    for (auto& p : set->pods) {
      check_unique("Pod", p.metadata);
      out.pods.emplace_back(std::move(p), source);
    }
    for (auto& c : set->config_maps) {
      check_unique("ConfigMap", c.metadata);
      out.config_maps.emplace_back(std::move(c), source);
    }
    for (auto& s : set->secrets) {
      check_unique("Secret", s.metadata);
      out.secrets.emplace_back(std::move(s), source);
    }
    for (auto& w : set->workloads) {
      check_unique(w.kind, w.metadata);
      out.workloads.emplace_back(std::move(w), source);
    }
  }
  if (!errors.empty()) return Fail(ErrorCode::kInvalidArgument, errors);
  return out;
}

// What a manifest asks that only the node can answer: its seccomp profiles exist under the
// profile root and compile, and its runtimeClassName is a handler the agent runs. Checked at
// apply, so the pod is refused with its line instead of failing later in the background.
void CheckSeccompProfile(const std::optional<SeccompProfile>& profile, const std::string& path,
                         const std::string& root, std::vector<std::string>& errors) {
  if (!profile || profile->type != "Localhost" || profile->localhost_profile.empty()) return;
  runtime::SeccompProfileRef ref{runtime::SeccompProfileType::kLocalhost,
                                 root + "/" + profile->localhost_profile};
  auto compiled = runtime::CompileSeccompProfile(ref, runtime::DefaultCapabilities());
  if (compiled) return;
  ManifestIssue issue{profile->source, path + ".localhostProfile",
                      "the profile cannot be used, and peapod will not run the pod unconfined: " +
                          compiled.error().ToString()};
  errors.push_back(issue.ToString());
}

Status CheckNodeCanHonour(const ParsedSources& parsed, const ControllerShared& shared) {
  std::vector<std::string> errors;
  const auto& handlers = shared.agent->config().runtime_handlers;
  for (const auto& [pod, source] : parsed.pods) {
    const PodSpec& spec = pod.spec;
    if (!spec.runtime_class_name.empty() &&
        std::find(handlers.begin(), handlers.end(), spec.runtime_class_name) == handlers.end()) {
      std::string known;
      for (const auto& h : handlers) known += (known.empty() ? "" : ", ") + ("\"" + h + "\"");
      errors.push_back(ManifestIssue{spec.runtime_class_source, "spec.runtimeClassName",
                                     "no runtime handler \"" + spec.runtime_class_name +
                                         "\" on this node (peapodd --runtime-handler; known: " +
                                         (known.empty() ? "none besides the default" : known) + ")"}
                           .ToString());
    }
    if (spec.security_context) {
      CheckSeccompProfile(spec.security_context->seccomp_profile,
                          "spec.securityContext.seccompProfile", shared.config.seccomp_root,
                          errors);
    }
    for (const char* list : {"initContainers", "containers"}) {
      const auto& containers =
          std::string_view(list) == "containers" ? spec.containers : spec.init_containers;
      for (size_t i = 0; i < containers.size(); ++i) {
        if (!containers[i].security_context) continue;
        CheckSeccompProfile(containers[i].security_context->seccomp_profile,
                            "spec." + std::string(list) + "[" + std::to_string(i) +
                                "].securityContext.seccompProfile",
                            shared.config.seccomp_root, errors);
      }
    }
  }
  if (errors.empty()) return Ok();
  std::string message;
  for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
  return Fail(ErrorCode::kInvalidArgument, message);
}

nlohmann::json SourceJson(const ManifestSource& source) {
  return {{"source_name", source.name}, {"source_text", source.text}};
}

}  // namespace

struct PodController::Impl {
  ControllerShared shared;
  std::mutex apply_mu;  // one Apply/Delete at a time
  std::mutex mu;        // guards pods and started
  std::map<std::string, std::shared_ptr<PodWorker>> pods;
  bool started = false;
  // Jobs, Deployments, StatefulSets: made in Start(), after the pods were loaded, so that no
  // workload counts its pods before they are back.
  std::unique_ptr<WorkloadController> workloads;
  std::unique_ptr<ContainerLogManager> logs;

  std::string Dir(const std::string& kind) const { return shared.root + "/" + kind; }

  // Drops the workers of pods that finished deleting.
  void Reap() {
    std::vector<std::shared_ptr<PodWorker>> done;
    {
      std::lock_guard lock(mu);
      for (auto it = pods.begin(); it != pods.end();) {
        if (it->second->finished()) {
          done.push_back(std::move(it->second));
          it = pods.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  std::shared_ptr<PodWorker> Find(const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu);
    auto it = pods.find(Key(ns, name));
    if (it == pods.end() || it->second->finished()) return nullptr;
    return it->second;
  }

  Status DeleteAndWait(const std::string& ns, const std::string& name, bool wait) {
    std::shared_ptr<PodWorker> worker;
    {
      std::lock_guard lock(mu);
      auto it = pods.find(Key(ns, name));
      if (it == pods.end()) return Fail(ErrorCode::kNotFound, "pods \"" + name + "\" not found");
      worker = it->second;
    }
    worker->RequestDelete();
    if (!wait) return Ok();
    worker->WaitFinished();
    {
      std::lock_guard lock(mu);
      auto it = pods.find(Key(ns, name));
      if (it != pods.end() && it->second == worker) pods.erase(it);
    }
    return Ok();
  }

  // Starts a worker for a pod (new, or loaded at start-up).
  void Launch(Pod pod, PodRecord record, std::function<void()> on_adopted = nullptr) {
    std::string key = Key(pod.metadata.namespace_, pod.metadata.name);
    pod.metadata.uid = record.uid;
    auto worker = std::make_shared<PodWorker>(shared, std::move(pod), std::move(record));
    worker->Start(std::move(on_adopted));
    std::lock_guard lock(mu);
    pods[key] = std::move(worker);
  }

  void NotifyAll() {
    std::lock_guard lock(mu);
    for (auto& [key, w] : pods) w->Notify();
  }

  Status PersistObject(const std::string& kind, const ObjectMeta& m, const ManifestSource& source) {
    std::error_code ec;
    fs::create_directories(Dir(kind), ec);
    return WriteFileAtomically(Dir(kind) + "/" + ObjectFile(m.namespace_, m.name),
                               SourceJson(source).dump(), 0600);
  }

  // A record that cannot be loaded would fail again at every start: it is moved aside, so the
  // agent starts and serves the rest, and kept for a human.
  void Quarantine(const std::string& path, const std::string& why) {
    auto moved = QuarantineFile(path);
    if (!moved) {
      spdlog::error("controller: record {} cannot be used ({}) nor quarantined: {}", path, why,
                    moved.error().ToString());
      return;
    }
    spdlog::error("controller: record {} cannot be used, quarantined as {}: {}", path, *moved, why);
  }

  // A pod whose adoption ends the agent (a crash no catch boundary stops) or throws would do
  // so at every start. "<record>.adopting" counts the starts whose adoption of it never
  // finished; at kMaxFailedAdoptions the record is quarantined instead of adopted again.
  static constexpr int kMaxFailedAdoptions = 3;
  bool AdoptionKeepsFailing(const std::string& path) {
    std::string marker = path + ".adopting";
    auto text = ReadWholeFile(marker);
    int failed = 0;
    if (text) failed = static_cast<int>(ParseUnsigned(*text, 1000).value_or(kMaxFailedAdoptions));
    if (failed >= kMaxFailedAdoptions) {
      Quarantine(path, "adopting its pod failed or ended the agent " + std::to_string(failed) +
                           " starts in a row");
      ::unlink(marker.c_str());
      return true;
    }
    if (auto s = WriteFileAtomically(marker, std::to_string(failed + 1), 0600); !s) {
      spdlog::warn("controller: {}: {}", marker, s.error().ToString());
    }
    return false;
  }

  Status LoadObjects();
  Status LoadPods();

  // Persists a new pod's record and starts its worker.
  Status CreatePod(Pod pod, const ManifestSource& source, const std::string& action) {
    const std::string ns = pod.metadata.namespace_;
    const std::string name = pod.metadata.name;
    PodRecord record;
    record.source_name = source.name;
    record.source_text = source.text;
    record.uid = pod.metadata.uid.empty() ? NewUid() : pod.metadata.uid;
    record.hash = SpecHash(pod);
    record.created_at = NowNs();
    nlohmann::json j = SourceJson(source);
    j["uid"] = record.uid;
    j["hash"] = record.hash;
    j["created_at"] = record.created_at;
    if (auto s = WriteFileAtomically(shared.PodRecordPath(ns, name), j.dump(), 0600); !s) {
      return std::unexpected(std::move(s.error()).Context("store pod " + Key(ns, name)));
    }
    spdlog::info("controller: pod {}/{} {} ({})", ns, name, action, record.uid);
    Launch(std::move(pod), std::move(record));
    return Ok();
  }

  // A workload's pod, from the Pod manifest its controller stamped from the template.
  Status CreateOwnedPod(const ManifestSource& source) {
    auto set = ParseManifests(source.text, source.name, ParseOptions{.ignore_unsupported = true});
    if (!set) return std::unexpected(std::move(set.error()));
    if (set->pods.size() != 1) return Fail(ErrorCode::kInternal, "not one pod");
    Pod& pod = set->pods.front();
    Reap();
    if (Find(pod.metadata.namespace_, pod.metadata.name)) {
      return Fail(ErrorCode::kAlreadyExists, "pods \"" + pod.metadata.name + "\" already exists");
    }
    return CreatePod(std::move(pod), source, "created");
  }

  void StartWorkloads() {
    WorkloadPodOps ops;
    ops.list_pods = [this] {
      Reap();
      std::vector<std::shared_ptr<PodWorker>> workers;
      {
        std::lock_guard lock(mu);
        for (const auto& [key, w] : pods) workers.push_back(w);
      }
      std::vector<PodView> views;
      for (const auto& w : workers) {
        if (!w->finished()) views.push_back(w->View());
      }
      return views;
    };
    ops.create_pod = [this](const ManifestSource& source) { return CreateOwnedPod(source); };
    ops.delete_pod = [this](const std::string& ns, const std::string& name, bool wait) {
      (void)DeleteAndWait(ns, name, wait);
    };
    workloads = std::make_unique<WorkloadController>(
        shared.root, std::move(ops),
        std::max(shared.config.relist_period, std::chrono::milliseconds(200)));
    workloads->Start();
  }
};

PodController::PodController(Agent& agent, ControllerConfig config)
    : impl_(std::make_unique<Impl>()) {
  impl_->shared.agent = &agent;
  impl_->shared.config = std::move(config);
  if (impl_->shared.config.seccomp_root.empty()) {
    impl_->shared.config.seccomp_root = agent.config().state_root + "/seccomp";
  }
  impl_->shared.root = agent.config().state_root + "/controller";
  impl_->shared.userns_ranges =
      std::make_unique<UserNamespaceRanges>(impl_->shared.root + "/userns-ranges");
  impl_->shared.node_name = NodeName();
  impl_->shared.host_ip = NodeIp();
  const ControllerConfig& c = impl_->shared.config;
  impl_->logs = std::make_unique<ContainerLogManager>(
      agent, LogRotationPolicy{c.container_log_max_size, c.container_log_max_files},
      c.log_rotation_period);
}

PodController::~PodController() {
  impl_->workloads.reset();  // no pod is made or deleted from here on
  impl_->logs.reset();
  std::map<std::string, std::shared_ptr<PodWorker>> pods;
  {
    std::lock_guard lock(impl_->mu);
    pods.swap(impl_->pods);
  }
  pods.clear();  // each worker stops its thread and probes; the pods keep running
}

// ---- Start-up
// -------------------------------------------------------------------------------------

namespace {

struct LoadedSource {
  ManifestSource source;
  ManifestSet set;
};

Result<LoadedSource> LoadSourceFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text) return std::unexpected(std::move(text.error()));
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Fail(ErrorCode::kInvalidArgument, path + ": not a controller record");
  }
  LoadedSource out;
  JsonFields fields(j, path);
  out.source.name = fields.Get<std::string>("source_name", "");
  out.source.text = fields.Get<std::string>("source_text", "");
  if (auto s = fields.Status(); !s) return std::unexpected(std::move(s.error()));
  // Accepted when it was applied: what is refused since then must not lose a running pod.
  auto set =
      ParseManifests(out.source.text, out.source.name, ParseOptions{.ignore_unsupported = true});
  if (!set) return std::unexpected(std::move(set.error()).Context(path));
  out.set = std::move(*set);
  return out;
}

std::vector<std::string> JsonFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->path().extension() == ".json") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Status PodController::Impl::LoadObjects() {
  for (const char* kind : {"configmaps", "secrets"}) {
    for (const auto& path : JsonFiles(Dir(kind))) {
      auto loaded = LoadSourceFile(path);
      if (!loaded) {
        if (loaded.error().sys_errno != 0) {
          spdlog::warn("controller: skipping {}: {}", path, loaded.error().ToString());
        } else {
          Quarantine(path, loaded.error().ToString());
        }
        continue;
      }
      std::string file = fs::path(path).filename();
      std::lock_guard lock(shared.objects_mu);
      if (std::string(kind) == "configmaps") {
        for (auto& cm : loaded->set.config_maps) {
          if (ObjectFile(cm.metadata.namespace_, cm.metadata.name) != file) continue;
          shared.objects.config_maps[Key(cm.metadata.namespace_, cm.metadata.name)] = cm;
        }
      } else {
        for (auto& s : loaded->set.secrets) {
          if (ObjectFile(s.metadata.namespace_, s.metadata.name) != file) continue;
          shared.objects.secrets[Key(s.metadata.namespace_, s.metadata.name)] = s;
        }
      }
    }
  }
  shared.objects_generation++;
  return Ok();
}

Status PodController::Impl::LoadPods() {
  // Adoption markers of records deleted since (a pod deleted before its adoption finished).
  std::error_code ec;
  for (auto it = fs::directory_iterator(Dir("pods"), ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const fs::path& marker = it->path();
    if (marker.extension() != ".adopting") continue;
    std::error_code exists_ec;
    if (!fs::exists(fs::path(marker).replace_extension(), exists_ec)) ::unlink(marker.c_str());
  }
  std::set<std::string> uids;
  for (const auto& path : JsonFiles(Dir("pods"))) {
    auto text = ReadWholeFile(path);
    nlohmann::json j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    auto loaded = LoadSourceFile(path);
    if (!loaded && loaded.error().sys_errno != 0) {
      spdlog::warn("controller: skipping {}: {}", path, loaded.error().ToString());
      continue;
    }
    if (!loaded || j.is_discarded() || !j.is_object()) {
      Quarantine(path, loaded ? "not a pod record" : loaded.error().ToString());
      continue;
    }
    PodRecord record;
    record.source_name = loaded->source.name;
    record.source_text = loaded->source.text;
    JsonFields fields(j, path);
    record.uid = fields.Get<std::string>("uid", "");
    record.hash = fields.Get<std::string>("hash", "");
    record.created_at = fields.Get<int64_t>("created_at", 0);
    record.initialized = fields.Get<bool>("initialized", false);
    record.terminal_phase = fields.Get<std::string>("terminal_phase", "");
    record.terminal_reason = fields.Get<std::string>("terminal_reason", "");
    record.terminal_message = fields.Get<std::string>("terminal_message", "");
    record.admitted_at = fields.Get<int64_t>("admitted_at", 0);
    record.deleting = fields.Get<bool>("deleting", false);
    record.sandbox_attempt = fields.Get<uint32_t>("sandbox_attempt", 0);
    auto counts = fields.Get<nlohmann::json>("restart_counts", nlohmann::json::object());
    Status read = fields.Status();
    for (const auto& [name, count] : counts.items()) {
      if (!read) break;
      auto value = JsonAs<int32_t>(count, "restart_counts." + name);
      if (!value) read = std::unexpected(std::move(value.error()).Context(path));
      if (value) record.restart_counts[name] = *value;
    }
    if (!read) {
      Quarantine(path, read.error().ToString());
      continue;
    }
    std::string file = fs::path(path).filename();
    for (auto& pod : loaded->set.pods) {
      if (ObjectFile(pod.metadata.namespace_, pod.metadata.name) != file) continue;
      if (record.uid.empty()) break;
      if (AdoptionKeepsFailing(path)) break;
      uids.insert(record.uid);
      spdlog::info("controller: loaded pod {}/{} ({})", pod.metadata.namespace_, pod.metadata.name,
                   record.uid);
      Launch(std::move(pod), std::move(record),
             [marker = path + ".adopting"] { ::unlink(marker.c_str()); });
      break;
    }
  }
  // Ranges of pods deleted while no agent ran (or half-way through a delete).
  shared.userns_ranges->ReleaseAllBut(uids);
  // Sandboxes of pods no record knows (a crash during a delete): finish removing them.
  PodSandboxFilter filter;
  filter.label_selector = {{kLabelManaged, "true"}};
  for (const auto& sb : shared.agent->sandboxes().ListPodSandbox(filter)) {
    auto it = sb.labels.find(kLabelPodUid);
    if (it != sb.labels.end() && uids.contains(it->second)) continue;
    spdlog::info("controller: removing sandbox {} of a pod no longer applied", sb.id);
    (void)shared.agent->sandboxes().RemovePodSandbox(sb.id);
  }
  return Ok();
}

Status PodController::Start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) return Ok();
    impl_->started = true;
  }
  for (const char* kind : {"pods", "configmaps", "secrets", "pod-data"}) {
    std::error_code ec;
    fs::create_directories(impl_->Dir(kind), ec);
    if (ec) return FailErrno("create " + impl_->Dir(kind), ec.value());
  }
  std::lock_guard apply(impl_->apply_mu);
  if (auto s = impl_->LoadObjects(); !s) return s;
  if (auto s = impl_->LoadPods(); !s) return s;
  impl_->StartWorkloads();
  impl_->logs->Start();
  return Ok();
}

// ---- Apply / delete
// -------------------------------------------------------------------------------

Result<ApplyResult> PodController::Apply(const std::vector<ManifestSource>& sources,
                                         const ParseOptions& options) {
  auto parsed = ParseAll(sources, options);
  if (!parsed) return std::unexpected(std::move(parsed.error()));
  if (auto s = CheckNodeCanHonour(*parsed, impl_->shared); !s) {
    return std::unexpected(std::move(s.error()));
  }
  ParsedSources templates;  // what the workloads' pods will ask of the node
  for (const auto& [w, source] : parsed->workloads) {
    templates.pods.emplace_back(w.pod_template.pod, source);
  }
  if (auto s = CheckNodeCanHonour(templates, impl_->shared); !s) {
    return std::unexpected(std::move(s.error()));
  }
  if (auto s = Start(); !s) return std::unexpected(std::move(s.error()));
  std::lock_guard apply(impl_->apply_mu);
  impl_->Reap();
  ApplyResult result;
  result.warnings = parsed->warnings;
  auto& shared = impl_->shared;

  // ConfigMaps and Secrets first: the pods of this apply may use them.
  bool objects_changed = false;
  for (auto& [cm, source] : parsed->config_maps) {
    std::string key = Key(cm.metadata.namespace_, cm.metadata.name);
    std::string action = "created";
    {
      std::lock_guard lock(shared.objects_mu);
      auto it = shared.objects.config_maps.find(key);
      if (it != shared.objects.config_maps.end()) {
        action = it->second.data == cm.data && it->second.binary_data == cm.binary_data
                     ? "unchanged"
                     : "configured";
      }
    }
    if (action != "unchanged") {
      if (auto s = impl_->PersistObject("configmaps", cm.metadata, source); !s) {
        return std::unexpected(std::move(s.error()).Context("store configmap " + key));
      }
      std::lock_guard lock(shared.objects_mu);
      shared.objects.config_maps[key] = cm;
      objects_changed = true;
    }
    result.objects.push_back({"ConfigMap", cm.metadata.namespace_, cm.metadata.name, action});
  }
  for (auto& [secret, source] : parsed->secrets) {
    std::string key = Key(secret.metadata.namespace_, secret.metadata.name);
    std::string action = "created";
    {
      std::lock_guard lock(shared.objects_mu);
      auto it = shared.objects.secrets.find(key);
      if (it != shared.objects.secrets.end()) {
        action = it->second.data == secret.data && it->second.type == secret.type ? "unchanged"
                                                                                  : "configured";
      }
    }
    if (action != "unchanged") {
      if (auto s = impl_->PersistObject("secrets", secret.metadata, source); !s) {
        return std::unexpected(std::move(s.error()).Context("store secret " + key));
      }
      std::lock_guard lock(shared.objects_mu);
      shared.objects.secrets[key] = secret;
      objects_changed = true;
    }
    result.objects.push_back({"Secret", secret.metadata.namespace_, secret.metadata.name, action});
  }
  if (objects_changed) {
    shared.objects_generation++;
    impl_->NotifyAll();  // running pods rewrite their configMap/secret volumes
  }

  for (auto& [pod, source] : parsed->pods) {
    const std::string ns = pod.metadata.namespace_;  // copies: the pod is moved away below
    const std::string name = pod.metadata.name;
    std::string hash = SpecHash(pod);
    std::string action = "created";
    if (auto existing = impl_->Find(ns, name)) {
      if (existing->deleting()) {
        // Being deleted: the apply creates it again once the old one is gone.
        existing->WaitFinished();
        impl_->Reap();
      } else if (existing->hash() == hash) {
        result.objects.push_back({"Pod", ns, name, "unchanged"});
        continue;
      } else if (existing->hash_without_metadata() == SpecHashWithoutMetadata(pod)) {
        // Only labels or annotations changed: the pod keeps running and takes them in place.
        existing->UpdateMetadata(pod.metadata, hash, source.name, source.text);
        result.objects.push_back({"Pod", ns, name, "configured"});
        continue;
      } else if (existing->CanResizeTo(pod)) {
        // Only containers' resources changed: an in-place resize (KEP-1287), as the API
        // server's resize subresource would ask kubelet for.
        existing->UpdateResources(pod, hash, source.name, source.text);
        result.objects.push_back({"Pod", ns, name, "configured"});
        continue;
      } else {
        // A changed spec replaces the pod: the old one terminates gracefully first.
        spdlog::info("controller: pod {}/{} changed, replacing it", ns, name);
        (void)impl_->DeleteAndWait(ns, name, true);
        action = "configured";
      }
    }
    if (auto s = impl_->CreatePod(std::move(pod), source, action); !s) {
      return std::unexpected(std::move(s.error()));
    }
    result.objects.push_back({"Pod", ns, name, action});
  }
  for (auto& [w, source] : parsed->workloads) {
    std::string kind = w.daemon_set ? "DaemonSet" : w.kind;
    std::string ns = w.metadata.namespace_, name = w.metadata.name;
    auto action = impl_->workloads->Apply(std::move(w));
    if (!action) return std::unexpected(std::move(action.error()));
    result.objects.push_back({kind, ns, name, *action});
    if (kind == "DaemonSet" && *action == "created") {
      result.warnings.push_back(source.name + ": DaemonSet " + name +
                                ": peapod runs a DaemonSet as a Deployment of one pod "
                                "(there is one node)");
    }
  }
  return result;
}

Result<std::vector<DeletedObject>> PodController::DeleteManifests(
    const std::vector<ManifestSource>& sources, bool wait) {
  // Whatever else the files hold, what peapod made from them can be deleted.
  auto parsed = ParseAll(sources, ParseOptions{.ignore_unsupported = true});
  if (!parsed) return std::unexpected(std::move(parsed.error()));
  if (auto s = Start(); !s) return std::unexpected(std::move(s.error()));
  std::vector<DeletedObject> deleted;
  std::vector<std::pair<std::string, std::string>> pods;
  {
    std::lock_guard apply(impl_->apply_mu);
    for (const auto& [pod, source] : parsed->pods) {
      const auto& m = pod.metadata;
      bool found = impl_->Find(m.namespace_, m.name) != nullptr;
      if (found) (void)impl_->DeleteAndWait(m.namespace_, m.name, false);
      deleted.push_back({"Pod", m.namespace_, m.name, found});
      if (found) pods.emplace_back(m.namespace_, m.name);
    }
    auto& shared = impl_->shared;
    bool changed = false;
    for (const auto& [cm, source] : parsed->config_maps) {
      const auto& m = cm.metadata;
      std::lock_guard lock(shared.objects_mu);
      bool found = shared.objects.config_maps.erase(Key(m.namespace_, m.name)) > 0;
      std::error_code ec;
      fs::remove(impl_->Dir("configmaps") + "/" + ObjectFile(m.namespace_, m.name), ec);
      deleted.push_back({"ConfigMap", m.namespace_, m.name, found});
      changed |= found;
    }
    for (const auto& [secret, source] : parsed->secrets) {
      const auto& m = secret.metadata;
      std::lock_guard lock(shared.objects_mu);
      bool found = shared.objects.secrets.erase(Key(m.namespace_, m.name)) > 0;
      std::error_code ec;
      fs::remove(impl_->Dir("secrets") + "/" + ObjectFile(m.namespace_, m.name), ec);
      deleted.push_back({"Secret", m.namespace_, m.name, found});
      changed |= found;
    }
    // As kubelet: the files of a volume whose object is gone stay as they were.
  }
  for (const auto& [w, source] : parsed->workloads) {
    const auto& m = w.metadata;
    auto s = impl_->workloads->Delete(w.kind, m.namespace_, m.name, wait);
    deleted.push_back({w.daemon_set ? "DaemonSet" : w.kind, m.namespace_, m.name, bool(s)});
  }
  if (wait) {
    for (const auto& [ns, name] : pods) (void)impl_->DeleteAndWait(ns, name, true);
  }
  return deleted;
}

Status PodController::DeletePod(const std::string& namespace_, const std::string& name, bool wait) {
  if (auto s = Start(); !s) return s;
  std::string ns = namespace_.empty() ? "default" : namespace_;
  if (!impl_->Find(ns, name)) return Fail(ErrorCode::kNotFound, "pods \"" + name + "\" not found");
  return impl_->DeleteAndWait(ns, name, wait);
}

// ---- Status
// ---------------------------------------------------------------------------------------

std::vector<PodView> PodController::ListPods(const std::string& namespace_) {
  impl_->Reap();
  std::vector<std::shared_ptr<PodWorker>> workers;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [key, w] : impl_->pods) {
      if (namespace_.empty() || key.starts_with(namespace_ + "/")) workers.push_back(w);
    }
  }
  std::vector<PodView> views;
  for (const auto& w : workers) {
    if (!w->finished()) views.push_back(w->View());
  }
  return views;
}

Result<PodView> PodController::GetPod(const std::string& namespace_, const std::string& name) {
  auto w = impl_->Find(namespace_.empty() ? "default" : namespace_, name);
  if (!w) return Fail(ErrorCode::kNotFound, "pods \"" + name + "\" not found");
  return w->View();
}

Result<std::string> PodController::LogPath(const std::string& namespace_, const std::string& pod,
                                           const std::string& container, bool previous) {
  auto w = impl_->Find(namespace_.empty() ? "default" : namespace_, pod);
  if (!w) return Fail(ErrorCode::kNotFound, "pods \"" + pod + "\" not found");
  return w->LogPath(container, previous);
}

Result<std::string> PodController::ContainerId(const std::string& namespace_,
                                               const std::string& pod,
                                               const std::string& container) {
  auto w = impl_->Find(namespace_.empty() ? "default" : namespace_, pod);
  if (!w) return Fail(ErrorCode::kNotFound, "pods \"" + pod + "\" not found");
  return w->ContainerId(container);
}

// ---- Workloads
// ------------------------------------------------------------------------------------

std::vector<WorkloadView> PodController::ListWorkloads(const std::string& kind,
                                                       const std::string& namespace_) {
  if (auto s = Start(); !s) return {};
  return impl_->workloads->List(kind, namespace_);
}

Result<WorkloadView> PodController::GetWorkload(const std::string& kind,
                                                const std::string& namespace_,
                                                const std::string& name) {
  if (auto s = Start(); !s) return std::unexpected(std::move(s.error()));
  return impl_->workloads->Get(kind, namespace_.empty() ? "default" : namespace_, name);
}

Status PodController::DeleteWorkload(const std::string& kind, const std::string& namespace_,
                                     const std::string& name, bool wait) {
  if (auto s = Start(); !s) return s;
  return impl_->workloads->Delete(kind, namespace_.empty() ? "default" : namespace_, name, wait);
}

Status PodController::ScaleWorkload(const std::string& kind, const std::string& namespace_,
                                    const std::string& name, int32_t replicas) {
  if (auto s = Start(); !s) return s;
  return impl_->workloads->Scale(kind, namespace_.empty() ? "default" : namespace_, name, replicas);
}

Result<int64_t> PodController::RolloutUndo(const std::string& namespace_, const std::string& name,
                                           int64_t to_revision) {
  if (auto s = Start(); !s) return std::unexpected(std::move(s.error()));
  return impl_->workloads->Undo(namespace_.empty() ? "default" : namespace_, name, to_revision);
}

int PodController::RotateContainerLogs() { return impl_->logs->RotateAll(); }

}  // namespace peapod::agent::controller
