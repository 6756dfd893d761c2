// WorkloadController: applied workloads, their records, and the reconcile loop (see the header).
// Job: the job controller's counting (succeeded and failed pods, restarts of OnFailure pods
// toward backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished). Deployment: one
// revision per pod template, rolled with maxSurge/maxUnavailable gated on readiness, or
// Recreate. StatefulSet: OrderedReady creation, reverse-ordered removal, claims as directories.
#include "workload_controller.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <deque>
#include <filesystem>

#include "controller_ids.h"
#include "peapod/atomic_file.h"
#include "peapod/catch_boundary.h"
#include "peapod/json_field.h"
#include "peapod/parse.h"

namespace peapod::agent::controller {
namespace fs = std::filesystem;

namespace {

// The alphabet of Kubernetes' generated names and hashes: no vowels, no look-alike digits.
constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
constexpr size_t kMaxEvents = 50;

// A dump that cannot throw: invalid UTF-8 (which the YAML reader should never let through) is
// replaced rather than ending the reconcile.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Rfc3339(int64_t ns) {
  time_t seconds = static_cast<time_t>(ns / 1000000000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

bool Ready(const PodView& pod) {
  if (pod.deleting || pod.phase != "Running") return false;
  for (const auto& c : pod.conditions) {
    if (c.type == "Ready") return c.status == "True";
  }
  return false;
}

bool Terminal(const PodView& pod) { return pod.phase == "Succeeded" || pod.phase == "Failed"; }

std::string Label(const PodView& pod, const std::string& key) {
  const auto& labels = pod.spec.metadata.labels;
  auto it = labels.find(key);
  return it == labels.end() ? "" : it->second;
}

int32_t Restarts(const PodView& pod) {
  int32_t total = 0;
  for (const auto& c : pod.container_statuses) total += c.restart_count;
  for (const auto& c : pod.init_container_statuses) total += c.restart_count;
  return total;
}

// Which pods go first when scaling down: not ready before ready, newest before oldest (as the
// ReplicaSet controller ranks them).
void SortForRemoval(std::vector<const PodView*>& pods) {
  std::sort(pods.begin(), pods.end(), [](const PodView* a, const PodView* b) {
    if (Ready(*a) != Ready(*b)) return !Ready(*a);
    if (a->created_at != b->created_at) return a->created_at > b->created_at;
    return a->name < b->name;
  });
}

// "<name>-<ordinal>" -> ordinal; -1 for any other name.
int64_t Ordinal(const std::string& set, const std::string& pod) {
  if (!pod.starts_with(set + "-")) return -1;
  std::string_view rest = std::string_view(pod).substr(set.size() + 1);
  if (rest.empty() || (rest.size() > 1 && rest[0] == '0')) return -1;
  auto value = ParseUnsigned(rest, 1000000);
  return value ? static_cast<int64_t>(*value) : -1;
}

std::string KindKey(const std::string& kind, const std::string& ns, const std::string& name) {
  return kind + "/" + ns + "/" + name;
}

}  // namespace

std::string PodTemplateHash(const nlohmann::json& pod_template) {
  // FNV-1a over the template's canonical JSON (keys sorted), written as Kubernetes writes
  // hashes: the decimal digits, each mapped onto the safe alphabet.
  uint32_t hash = 2166136261u;
  for (unsigned char c : Dump(pod_template)) {
    hash ^= c;
    hash *= 16777619u;
  }
  std::string digits = std::to_string(hash);
  std::string out;
  for (char c : digits) out += kSafeAlphabet[static_cast<size_t>(c) % kSafeAlphabet.size()];
  return out;
}

int32_t ResolveIntOrPercent(const std::variant<int32_t, std::string>& value, int32_t replicas,
                            bool round_up) {
  if (const auto* number = std::get_if<int32_t>(&value)) return *number;
  const std::string& text = std::get<std::string>(value);
  int64_t percent = static_cast<int64_t>(
      ParseUnsigned(std::string_view(text).substr(0, text.size() - 1), 100000).value_or(0));
  int64_t scaled = percent * replicas;
  return static_cast<int32_t>(round_up ? (scaled + 99) / 100 : scaled / 100);
}

struct WorkloadController::State {
  Workload w;
  std::string uid;
  int64_t created_at = 0;
  int64_t generation = 1;
  // Job
  int64_t start_time = 0;
  int64_t finished_at = 0;
  std::string finished;  // "", Complete, Failed
  std::string finished_reason;
  std::string finished_message;
  // Deployment and StatefulSet: the templates seen, oldest first.
  struct Revision {
    int64_t number = 0;
    std::string hash;
    nlohmann::json pod_template;
  };
  std::vector<Revision> revisions;
  std::deque<PodEvent> events;
  bool deleted = false;  // removed by the TTL controller during a reconcile

  std::string Hash() const { return PodTemplateHash(w.pod_template.json); }
  int32_t Replicas() const { return w.daemon_set ? 1 : w.replicas; }
  int64_t CurrentRevision() const {
    for (const auto& r : revisions) {
      if (r.hash == Hash()) return r.number;
    }
    return 0;
  }
};

WorkloadController::WorkloadController(std::string root, WorkloadPodOps ops,
                                       std::chrono::milliseconds period)
    : root_(std::move(root)), ops_(std::move(ops)), period_(period) {}

WorkloadController::~WorkloadController() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string WorkloadController::RecordPath(const State& s) const {
  std::string kind = s.w.kind;
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return root_ + "/workloads/" + kind + "_" + s.w.metadata.namespace_ + "_" + s.w.metadata.name +
         ".json";
}

void WorkloadController::Persist(const State& s) {
  nlohmann::json revisions = nlohmann::json::array();
  for (const auto& r : s.revisions) {
    revisions.push_back({{"number", r.number}, {"hash", r.hash}, {"template", r.pod_template}});
  }
  nlohmann::json j = {{"object", s.w.object},
                      {"uid", s.uid},
                      {"created_at", s.created_at},
                      {"generation", s.generation},
                      {"start_time", s.start_time},
                      {"finished_at", s.finished_at},
                      {"finished", s.finished},
                      {"finished_reason", s.finished_reason},
                      {"finished_message", s.finished_message},
                      {"revisions", revisions}};
  std::error_code ec;
  fs::create_directories(root_ + "/workloads", ec);
  if (auto st = WriteFileAtomically(RecordPath(s), Dump(j), 0600); !st) {
    spdlog::warn("workload {}/{}: persist: {}", s.w.kind, s.w.metadata.name, st.error().ToString());
  }
}

void WorkloadController::Load() {
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ + "/workloads", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string path = it->path();
    if (it->path().extension() != ".json") continue;
    auto text = ReadWholeFile(path);
    if (!text) {
      spdlog::warn("controller: skipping {}: {}", path, text.error().ToString());
      continue;
    }
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    auto object = j.is_object() ? JsonField<nlohmann::json>(j, "object", nlohmann::json())
                                : Result<nlohmann::json>(nlohmann::json());
    if (!object || !object->is_object()) {
      spdlog::error("controller: {} is not a workload record, ignored", path);
      continue;
    }
    // Accepted when it was applied: what is refused since then must not lose its pods.
    auto set = ParseManifests(Dump(*object), path, ParseOptions{.ignore_unsupported = true});
    if (!set || set->workloads.size() != 1) {
      spdlog::error("controller: {} cannot be read: {}", path,
                    set ? "not one workload" : set.error().ToString());
      continue;
    }
    auto s = std::make_unique<State>();
    s->w = std::move(set->workloads.front());
    JsonFields fields(j, path);
    s->uid = fields.Get<std::string>("uid", "");
    s->created_at = fields.Get<int64_t>("created_at", 0);
    s->generation = fields.Get<int64_t>("generation", 1);
    s->start_time = fields.Get<int64_t>("start_time", 0);
    s->finished_at = fields.Get<int64_t>("finished_at", 0);
    s->finished = fields.Get<std::string>("finished", "");
    s->finished_reason = fields.Get<std::string>("finished_reason", "");
    s->finished_message = fields.Get<std::string>("finished_message", "");
    auto revisions = fields.Get<nlohmann::json>("revisions", nlohmann::json::array());
    if (auto st = fields.Status(); !st || s->uid.empty()) {
      spdlog::error("controller: {} cannot be read: {}", path,
                    st ? "no uid" : st.error().ToString());
      continue;
    }
    for (const auto& r : revisions) {
      if (!r.is_object()) continue;
      State::Revision rev;
      rev.number = JsonField<int64_t>(r, "number", 0).value_or(0);
      rev.hash = JsonField<std::string>(r, "hash", "").value_or("");
      rev.pod_template =
          JsonField<nlohmann::json>(r, "template", nlohmann::json()).value_or(nlohmann::json());
      if (rev.number > 0 && !rev.hash.empty()) s->revisions.push_back(std::move(rev));
    }
    spdlog::info("controller: loaded {} {}/{} ({})", s->w.kind, s->w.metadata.namespace_,
                 s->w.metadata.name, s->uid);
    std::string key = KindKey(s->w.kind, s->w.metadata.namespace_, s->w.metadata.name);
    workloads_[key] = std::move(s);
  }
}

void WorkloadController::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  Load();
  thread_ = std::thread([this] { Run(); });
}

void WorkloadController::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    // The thread's catch boundary: one bad pass is logged and the next one runs.
    (void)CatchAll("workload controller: reconcile", [this] { ReconcileAll(); });
    lock.lock();
    cv_.wait_for(lock, period_, [this] { return stop_ || wake_; });
    wake_ = false;
  }
}

void WorkloadController::ReconcileAll() {
  std::lock_guard lock(mu_);
  if (workloads_.empty()) return;
  std::vector<PodView> all = ops_.list_pods();
  int64_t now = NowNs();
  for (auto it = workloads_.begin(); it != workloads_.end();) {
    State& s = *it->second;
    try {
      Reconcile(s, Owned(s, all), now);
    } catch (const std::exception& e) {
      spdlog::error("workload {} {}/{}: reconcile: {}", s.w.kind, s.w.metadata.namespace_,
                    s.w.metadata.name, e.what());
    }
    if (s.deleted) {
      it = workloads_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<PodView> WorkloadController::Owned(const State& s,
                                               const std::vector<PodView>& all) const {
  std::vector<PodView> owned;
  for (const auto& pod : all) {
    for (const auto& ref : pod.spec.metadata.owner_references) {
      if (ref.uid == s.uid) {
        owned.push_back(pod);
        break;
      }
    }
  }
  return owned;
}

void WorkloadController::Event(State& s, const std::string& type, const std::string& reason,
                               const std::string& message) {
  int64_t now = NowNs();
  if (!s.events.empty() && s.events.back().reason == reason && s.events.back().message == message) {
    s.events.back().count++;
    s.events.back().last_seen = now;
    return;
  }
  PodEvent e;
  e.type = type;
  e.reason = reason;
  e.object = s.w.kind + "/" + s.w.metadata.name;
  e.message = message;
  e.first_seen = e.last_seen = now;
  s.events.push_back(std::move(e));
  if (s.events.size() > kMaxEvents) s.events.pop_front();
}

bool WorkloadController::CreatePod(State& s, const std::string& name,
                                   std::map<std::string, std::string> labels) {
  const Workload& w = s.w;
  nlohmann::json tmpl = w.pod_template.json;
  nlohmann::json meta = tmpl.value("metadata", nlohmann::json::object());
  if (!meta.is_object()) meta = nlohmann::json::object();
  meta["name"] = name;
  meta["namespace"] = w.metadata.namespace_;
  if (!meta["labels"].is_object()) meta["labels"] = nlohmann::json::object();
  for (auto& [k, v] : labels) meta["labels"][k] = v;
  std::string kind = w.daemon_set ? "DaemonSet" : w.kind;
  meta["ownerReferences"] = nlohmann::json::array({{{"apiVersion", w.api_version},
                                                    {"kind", kind},
                                                    {"name", w.metadata.name},
                                                    {"uid", s.uid},
                                                    {"controller", true},
                                                    {"blockOwnerDeletion", true}}});
  nlohmann::json spec = tmpl.value("spec", nlohmann::json::object());
  if (!w.volume_claims.empty()) {
    if (!spec["volumes"].is_array()) spec["volumes"] = nlohmann::json::array();
    for (const auto& claim : w.volume_claims) {
      // A claim is a directory on the node that outlives the pod, named as the PVC would be.
      std::string dir = root_ + "/volumes/" + claim + "-" + name;
      std::error_code ec;
      fs::create_directories(dir, ec);
      spec["volumes"].push_back(
          {{"name", claim}, {"hostPath", {{"path", dir}, {"type", "DirectoryOrCreate"}}}});
    }
  }
  nlohmann::json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
  std::string source = (w.daemon_set             ? "daemonset"
                        : w.kind == "Job"        ? "job"
                        : w.kind == "Deployment" ? "deployment"
                                                 : "statefulset") +
                       std::string("/") + w.metadata.name;
  if (auto st = ops_.create_pod(ManifestSource{source, Dump(pod)}); !st) {
    Event(s, "Warning", "FailedCreate", "Error creating: " + st.error().message);
    spdlog::warn("workload {} {}/{}: create pod {}: {}", w.kind, w.metadata.namespace_,
                 w.metadata.name, name, st.error().ToString());
    return false;
  }
  Event(s, "Normal", "SuccessfulCreate", "Created pod: " + name);
  return true;
}

void WorkloadController::DeletePod(State& s, const PodView& pod, const std::string& why) {
  if (pod.deleting) return;
  ops_.delete_pod(pod.namespace_, pod.name, false);
  Event(s, "Normal", "SuccessfulDelete", "Deleted pod: " + pod.name + why);
}

void WorkloadController::Reconcile(State& s, const std::vector<PodView>& owned, int64_t now) {
  if (s.w.kind == "Job") return ReconcileJob(s, owned, now);
  if (s.w.kind == "Deployment") return ReconcileDeployment(s, owned);
  if (s.w.kind == "StatefulSet") return ReconcileStatefulSet(s, owned);
}

// ---- Job ------------------------------------------------------------------------------------

namespace {

struct JobCounts {
  int32_t active = 0;
  int32_t succeeded = 0;
  int32_t failed = 0;  // failed pods, and restarts of OnFailure pods (as backoffLimit counts)
};

JobCounts CountJob(const std::vector<PodView>& owned, bool on_failure) {
  JobCounts c;
  for (const auto& pod : owned) {
    if (pod.phase == "Succeeded") {
      c.succeeded++;
    } else if (pod.phase == "Failed") {
      c.failed++;
    } else if (!pod.deleting) {
      c.active++;
    }
    if (on_failure) c.failed += Restarts(pod);
  }
  return c;
}

}  // namespace

void WorkloadController::ReconcileJob(State& s, const std::vector<PodView>& owned, int64_t now) {
  const Workload& w = s.w;
  if (!s.finished.empty()) {
    // A finished job keeps its finished pods and runs nothing more.
    for (const auto& pod : owned) {
      if (!Terminal(pod)) DeletePod(s, pod, "");
    }
    if (w.ttl_seconds_after_finished &&
        now >= s.finished_at + *w.ttl_seconds_after_finished * 1000000000) {
      // The TTL-after-finished controller: the job and its pods go.
      spdlog::info("workload Job {}/{}: ttlSecondsAfterFinished passed, deleting it",
                   w.metadata.namespace_, w.metadata.name);
      for (const auto& pod : owned) ops_.delete_pod(pod.namespace_, pod.name, false);
      std::error_code ec;
      fs::remove(RecordPath(s), ec);
      s.deleted = true;
    }
    return;
  }
  if (s.start_time == 0) {
    s.start_time = now;
    Persist(s);
  }
  bool on_failure = w.pod_template.pod.spec.restart_policy == "OnFailure";
  JobCounts c = CountJob(owned, on_failure);
  auto finish = [&](const std::string& type, const std::string& reason,
                    const std::string& message) {
    s.finished = type;
    s.finished_reason = reason;
    s.finished_message = message;
    s.finished_at = now;
    Persist(s);
    spdlog::info("workload Job {}/{}: {} {}", w.metadata.namespace_, w.metadata.name, type, reason);
    if (type == "Failed") {
      Event(s, "Warning", reason, message);
      for (const auto& pod : owned) {
        if (!Terminal(pod)) DeletePod(s, pod, "");
      }
    } else {
      Event(s, "Normal", "Completed", "Job completed");
    }
  };
  if (c.failed > w.backoff_limit) {
    return finish("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
  }
  if (w.active_deadline_seconds && now - s.start_time >= *w.active_deadline_seconds * 1000000000) {
    return finish("Failed", "DeadlineExceeded", "Job was active longer than specified deadline");
  }
  if (c.succeeded >= w.completions) return finish("Complete", "", "");
  int32_t wanted = std::min(w.parallelism, w.completions - c.succeeded);
  for (int32_t i = c.active; i < wanted; ++i) {
    std::string name = w.metadata.name + "-" + RandomSuffix(5);
    if (!CreatePod(s, name,
                   {{"batch.kubernetes.io/controller-uid", s.uid},
                    {"batch.kubernetes.io/job-name", w.metadata.name},
                    {"controller-uid", s.uid},
                    {"job-name", w.metadata.name}})) {
      break;
    }
  }
}

// ---- Deployment -----------------------------------------------------------------------------

void WorkloadController::ReconcileDeployment(State& s, const std::vector<PodView>& owned) {
  const std::string hash = s.Hash();
  std::vector<const PodView*> current, old;
  bool old_terminating = false;
  for (const auto& pod : owned) {
    bool is_current = Label(pod, "pod-template-hash") == hash;
    if (pod.deleting) {
      old_terminating |= !is_current;
      continue;
    }
    // A failed pod is replaced, as a ReplicaSet replaces one.
    if (Terminal(pod)) {
      DeletePod(s, pod, " (it " + Lower(pod.phase) + ")");
      continue;
    }
    (is_current ? current : old).push_back(&pod);
  }
  const int32_t replicas = s.Replicas();
  auto create = [&](int32_t count) {
    for (int32_t i = 0; i < count; ++i) {
      std::string name = s.w.metadata.name + "-" + hash + "-" + RandomSuffix(5);
      if (!CreatePod(s, name, {{"pod-template-hash", hash}})) return;
    }
  };
  auto remove = [&](std::vector<const PodView*> pods, int32_t count) {
    SortForRemoval(pods);
    for (int32_t i = 0; i < count && i < static_cast<int32_t>(pods.size()); ++i) {
      DeletePod(s, *pods[i], "");
    }
  };
  const int32_t have = static_cast<int32_t>(current.size());
  if (old.empty()) {
    if (s.w.strategy == "Recreate" && old_terminating) return;  // the old pods go first
    if (have < replicas) create(replicas - have);
    if (have > replicas) remove(current, have - replicas);
    return;
  }
  if (s.w.strategy == "Recreate") {
    for (const PodView* pod : old) DeletePod(s, *pod, "");
    for (const PodView* pod : current) DeletePod(s, *pod, "");
    return;
  }
  int32_t surge = ResolveIntOrPercent(s.w.max_surge, replicas, true);
  int32_t unavailable = ResolveIntOrPercent(s.w.max_unavailable, replicas, false);
  if (surge == 0 && unavailable == 0) unavailable = 1;
  const int32_t total = have + static_cast<int32_t>(old.size());
  if (have > replicas) remove(current, have - replicas);
  if (have < replicas && total < replicas + surge) {
    create(std::min(replicas - have, replicas + surge - total));
  }
  // Old pods go while enough pods stay available: unready ones first (they give nothing).
  int32_t ready = 0, current_unready = 0;
  for (const PodView* pod : current) {
    if (Ready(*pod)) {
      ready++;
    } else {
      current_unready++;
    }
  }
  for (const PodView* pod : old) ready += Ready(*pod) ? 1 : 0;
  const int32_t min_available = replicas - unavailable;
  int32_t may_remove = total - min_available - current_unready;
  if (may_remove <= 0) return;
  std::vector<const PodView*> unready_old, ready_old;
  for (const PodView* pod : old) (Ready(*pod) ? ready_old : unready_old).push_back(pod);
  int32_t removed = 0;
  for (const PodView* pod : unready_old) {
    if (removed >= may_remove) break;
    DeletePod(s, *pod, "");
    removed++;
  }
  int32_t spare = std::min(may_remove - removed, ready - min_available);
  remove(ready_old, spare);
}

// ---- StatefulSet ----------------------------------------------------------------------------

void WorkloadController::ReconcileStatefulSet(State& s, const std::vector<PodView>& owned) {
  const std::string& name = s.w.metadata.name;
  const std::string revision = name + "-" + s.Hash();
  std::map<int64_t, const PodView*> by_ordinal;
  for (const auto& pod : owned) {
    int64_t ordinal = Ordinal(name, pod.name);
    if (ordinal >= 0) by_ordinal[ordinal] = &pod;
  }
  const int32_t replicas = s.Replicas();
  // OrderedReady: pod i is made only when 0..i-1 are Running and Ready; a failed pod is made
  // again under the same name.
  for (int32_t i = 0; i < replicas; ++i) {
    auto it = by_ordinal.find(i);
    if (it == by_ordinal.end()) {
      CreatePod(s, name + "-" + std::to_string(i),
                {{"apps.kubernetes.io/pod-index", std::to_string(i)},
                 {"controller-revision-hash", revision},
                 {"statefulset.kubernetes.io/pod-name", name + "-" + std::to_string(i)}});
      return;
    }
    const PodView& pod = *it->second;
    if (pod.deleting) return;
    if (Terminal(pod)) {
      DeletePod(s, pod, " (it " + Lower(pod.phase) + ", it is made again)");
      return;
    }
    if (!Ready(pod)) return;
  }
  // Scale down: the highest ordinal first, one at a time, each gone before the next.
  if (!by_ordinal.empty() && by_ordinal.rbegin()->first >= replicas) {
    const PodView& highest = *by_ordinal.rbegin()->second;
    if (!highest.deleting) DeletePod(s, highest, "");
    return;
  }
  if (s.w.strategy == "OnDelete") return;
  // Rolling update: the highest ordinal of an older revision goes; it comes back as the
  // current one through the ordered creation above.
  for (auto it = by_ordinal.rbegin(); it != by_ordinal.rend(); ++it) {
    if (Label(*it->second, "controller-revision-hash") != revision) {
      DeletePod(s, *it->second, " (update to revision " + revision + ")");
      return;
    }
  }
}

// ---- API ------------------------------------------------------------------------------------

void WorkloadController::RecordRevision(State& s) {
  if (s.w.kind == "Job") return;
  const std::string hash = s.Hash();
  int64_t highest = 0;
  for (const auto& r : s.revisions) highest = std::max(highest, r.number);
  auto it = std::find_if(s.revisions.begin(), s.revisions.end(),
                         [&](const State::Revision& r) { return r.hash == hash; });
  if (it != s.revisions.end()) {
    // A template seen before (an undo, or a re-apply of it) becomes the newest revision.
    if (it->number == highest) return;
    State::Revision again = *it;
    s.revisions.erase(it);
    again.number = highest + 1;
    s.revisions.push_back(std::move(again));
  } else {
    s.revisions.push_back({highest + 1, hash, s.w.pod_template.json});
  }
  size_t keep = static_cast<size_t>(s.w.revision_history_limit) + 1;
  while (s.revisions.size() > keep) s.revisions.erase(s.revisions.begin());
}

Result<std::string> WorkloadController::Apply(Workload workload) {
  std::string action;
  {
    std::lock_guard lock(mu_);
    std::string key = KindKey(workload.kind, workload.metadata.namespace_, workload.metadata.name);
    auto it = workloads_.find(key);
    if (it == workloads_.end()) {
      auto s = std::make_unique<State>();
      s->w = std::move(workload);
      s->uid = NewUid();
      s->created_at = NowNs();
      RecordRevision(*s);
      Persist(*s);
      spdlog::info("controller: {} {}/{} created ({})", s->w.kind, s->w.metadata.namespace_,
                   s->w.metadata.name, s->uid);
      workloads_[key] = std::move(s);
      action = "created";
    } else {
      State& s = *it->second;
      if (s.w.object == workload.object) return std::string("unchanged");
      if (s.w.kind == "Job" && s.w.pod_template.json != workload.pod_template.json) {
        return Fail(ErrorCode::kInvalidArgument,
                    "Job.batch \"" + s.w.metadata.name +
                        "\" is invalid: spec.template: Invalid value: field is immutable");
      }
      s.w = std::move(workload);
      s.generation++;
      RecordRevision(s);
      Persist(s);
      spdlog::info("controller: {} {}/{} configured", s.w.kind, s.w.metadata.namespace_,
                   s.w.metadata.name);
      action = "configured";
    }
    wake_ = true;
  }
  cv_.notify_all();
  return action;
}

Status WorkloadController::Delete(const std::string& kind, const std::string& ns,
                                  const std::string& name, bool wait) {
  std::unique_ptr<State> s;
  std::vector<PodView> owned;
  {
    std::lock_guard lock(mu_);
    auto it = workloads_.find(KindKey(kind, ns, name));
    if (it == workloads_.end()) {
      std::string plural = kind == "Job"          ? "jobs.batch"
                           : kind == "Deployment" ? "deployments.apps"
                                                  : "statefulsets.apps";
      return Fail(ErrorCode::kNotFound, plural + " \"" + name + "\" not found");
    }
    s = std::move(it->second);
    workloads_.erase(it);
    std::error_code ec;
    fs::remove(RecordPath(*s), ec);
    owned = Owned(*s, ops_.list_pods());
  }
  spdlog::info("controller: {} {}/{} deleted, with its {} pods", kind, ns, name, owned.size());
  if (kind == "StatefulSet") {
    // Highest ordinal first, each gone before the next goes (claims' directories stay).
    std::sort(owned.begin(), owned.end(), [&](const PodView& a, const PodView& b) {
      return Ordinal(name, a.name) > Ordinal(name, b.name);
    });
    for (const auto& pod : owned) ops_.delete_pod(pod.namespace_, pod.name, wait);
    return Ok();
  }
  for (const auto& pod : owned) ops_.delete_pod(pod.namespace_, pod.name, false);
  if (wait) {
    for (const auto& pod : owned) ops_.delete_pod(pod.namespace_, pod.name, true);
  }
  return Ok();
}

Status WorkloadController::Scale(const std::string& kind, const std::string& ns,
                                 const std::string& name, int32_t replicas) {
  if (replicas < 0) {
    return Fail(ErrorCode::kInvalidArgument, "--replicas: must be greater than or equal to 0");
  }
  {
    std::lock_guard lock(mu_);
    auto it = workloads_.find(KindKey(kind, ns, name));
    if (it == workloads_.end()) {
      return Fail(ErrorCode::kNotFound, Lower(kind) + "s \"" + name + "\" not found");
    }
    State& s = *it->second;
    if (kind == "Job" || s.w.daemon_set) {
      return Fail(ErrorCode::kInvalidArgument,
                  "cannot scale a " + std::string(s.w.daemon_set ? "DaemonSet" : kind));
    }
    if (s.w.replicas == replicas) return Ok();
    s.w.replicas = replicas;
    s.w.object["spec"]["replicas"] = replicas;
    s.generation++;
    Persist(s);
    Event(s, "Normal", "ScalingReplicaSet", "Scaled to " + std::to_string(replicas));
    wake_ = true;
  }
  cv_.notify_all();
  return Ok();
}

Result<int64_t> WorkloadController::Undo(const std::string& ns, const std::string& name,
                                         int64_t to_revision) {
  int64_t number = 0;
  {
    std::lock_guard lock(mu_);
    auto it = workloads_.find(KindKey("Deployment", ns, name));
    if (it == workloads_.end()) {
      return Fail(ErrorCode::kNotFound, "deployments.apps \"" + name + "\" not found");
    }
    State& s = *it->second;
    int64_t current = s.CurrentRevision();
    const State::Revision* target = nullptr;
    for (const auto& r : s.revisions) {
      if (to_revision != 0 ? r.number == to_revision
                           : r.number != current && (!target || r.number > target->number)) {
        target = &r;
      }
    }
    if (!target) {
      return Fail(ErrorCode::kFailedPrecondition,
                  to_revision != 0
                      ? "unable to find the specified revision " + std::to_string(to_revision)
                      : "no rollout history found for deployment \"" + name + "\"");
    }
    // The old template through the parser again, so the workload is what applying it makes.
    nlohmann::json object = s.w.object;
    object["spec"]["template"] = target->pod_template;
    auto set = ParseManifests(Dump(object), "deployment/" + name,
                              ParseOptions{.ignore_unsupported = true});
    if (!set || set->workloads.size() != 1) {
      return Fail(ErrorCode::kInternal,
                  "revision " + std::to_string(target->number) +
                      " cannot be used: " + (set ? "not one workload" : set.error().message));
    }
    number = target->number;
    s.w = std::move(set->workloads.front());
    s.generation++;
    RecordRevision(s);
    Persist(s);
    Event(s, "Normal", "DeploymentRollback",
          "Rolled back deployment \"" + name + "\" to revision " + std::to_string(number));
    wake_ = true;
  }
  cv_.notify_all();
  return number;
}

// ---- Views ----------------------------------------------------------------------------------

WorkloadView WorkloadController::View(const State& s, const std::vector<PodView>& owned,
                                      int64_t now) {
  const Workload& w = s.w;
  WorkloadView view;
  view.kind = w.daemon_set ? "DaemonSet" : w.kind;
  view.namespace_ = w.metadata.namespace_;
  view.name = w.metadata.name;
  view.events.assign(s.events.begin(), s.events.end());
  for (const auto& pod : owned) view.pods.push_back(pod.name);
  nlohmann::json object = w.object;
  nlohmann::json& meta = object["metadata"];
  meta["uid"] = s.uid;
  meta["creationTimestamp"] = Rfc3339(s.created_at);
  meta["generation"] = s.generation;
  nlohmann::json status = nlohmann::json::object();
  auto condition = [&](const std::string& type, bool value, const std::string& reason,
                       const std::string& message, int64_t at) {
    nlohmann::json c = {{"type", type},
                        {"status", value ? "True" : "False"},
                        {"lastTransitionTime", Rfc3339(at ? at : now)}};
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    return c;
  };
  if (w.kind == "Job") {
    JobCounts c = CountJob(owned, w.pod_template.pod.spec.restart_policy == "OnFailure");
    if (c.active > 0) status["active"] = c.active;
    if (c.succeeded > 0) status["succeeded"] = c.succeeded;
    if (c.failed > 0) status["failed"] = c.failed;
    int32_t ready = 0;
    for (const auto& pod : owned) ready += Ready(pod) ? 1 : 0;
    status["ready"] = ready;
    if (s.start_time) status["startTime"] = Rfc3339(s.start_time);
    if (s.finished == "Complete") {
      status["completionTime"] = Rfc3339(s.finished_at);
      status["conditions"] =
          nlohmann::json::array({condition("Complete", true, "", "", s.finished_at)});
    } else if (s.finished == "Failed") {
      status["conditions"] = nlohmann::json::array(
          {condition("Failed", true, s.finished_reason, s.finished_message, s.finished_at)});
    }
    // For the CLI's DURATION and STATUS (as kubectl computes them from the above).
    object["status"] = status;
    view.object = std::move(object);
    return view;
  }
  const std::string hash = s.Hash();
  int32_t replicas = 0, updated = 0, ready = 0, updated_ready = 0;
  for (const auto& pod : owned) {
    if (pod.deleting || Terminal(pod)) continue;
    replicas++;
    bool current = w.kind == "StatefulSet"
                       ? Label(pod, "controller-revision-hash") == w.metadata.name + "-" + hash
                       : Label(pod, "pod-template-hash") == hash;
    bool is_ready = Ready(pod);
    updated += current ? 1 : 0;
    ready += is_ready ? 1 : 0;
    updated_ready += current && is_ready ? 1 : 0;
  }
  const int32_t want = s.Replicas();
  status["observedGeneration"] = s.generation;
  status["replicas"] = replicas;
  status["updatedReplicas"] = updated;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = ready;
  if (w.kind == "StatefulSet") {
    status["currentReplicas"] = updated;
    status["currentRevision"] = w.metadata.name + "-" + hash;
    status["updateRevision"] = w.metadata.name + "-" + hash;
  } else {
    if (want > ready) status["unavailableReplicas"] = want - ready;
    int32_t unavailable = ResolveIntOrPercent(w.max_unavailable, want, false);
    bool available = ready >= want - unavailable;
    bool done = updated == want && replicas == want && updated_ready == want;
    status["conditions"] = nlohmann::json::array(
        {condition("Available", available,
                   available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                   available ? "Deployment has minimum availability."
                             : "Deployment does not have minimum availability.",
                   0),
         condition("Progressing", true, done ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                   "ReplicaSet \"" + w.metadata.name + "-" + hash + "\" " +
                       (done ? "has successfully progressed." : "is progressing."),
                   0)});
    if (!meta["annotations"].is_object()) meta["annotations"] = nlohmann::json::object();
    meta["annotations"]["deployment.kubernetes.io/revision"] = std::to_string(s.CurrentRevision());
  }
  object["status"] = status;
  view.object = std::move(object);
  return view;
}

std::vector<WorkloadView> WorkloadController::List(const std::string& kind, const std::string& ns) {
  std::lock_guard lock(mu_);
  std::vector<PodView> all = ops_.list_pods();
  std::vector<WorkloadView> out;
  int64_t now = NowNs();
  for (const auto& [key, s] : workloads_) {
    if (!kind.empty() && s->w.kind != kind) continue;
    if (!ns.empty() && s->w.metadata.namespace_ != ns) continue;
    out.push_back(View(*s, Owned(*s, all), now));
  }
  return out;
}

Result<WorkloadView> WorkloadController::Get(const std::string& kind, const std::string& ns,
                                             const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = workloads_.find(KindKey(kind, ns, name));
  if (it == workloads_.end()) {
    return Fail(ErrorCode::kNotFound, Lower(kind) + "s \"" + name + "\" not found");
  }
  return View(*it->second, Owned(*it->second, ops_.list_pods()), NowNs());
}

}  // namespace peapod::agent::controller
