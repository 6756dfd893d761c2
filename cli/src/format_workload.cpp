// Jobs, Deployments, DaemonSets and StatefulSets as kubectl prints them (see format_workload.h).
// The JSON comes from the server and is read as untrusted: a missing or mistyped field prints
// as empty or 0, never an exception.
#include "peapod/cli/format_workload.h"

#include <map>

namespace peapod::cli {
namespace {

using nlohmann::json;

const json& At(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string Str(const json& value) { return value.is_string() ? value.get<std::string>() : ""; }

int64_t Int(const json& value, int64_t fallback = 0) {
  return value.is_number_integer() ? value.get<int64_t>() : fallback;
}

std::string Name(const json& o) { return Str(At(At(o, "metadata"), "name")); }
std::string Namespace(const json& o) { return Str(At(At(o, "metadata"), "namespace")); }
std::string Age(const json& o, int64_t now) {
  return AgeSince(Str(At(At(o, "metadata"), "creationTimestamp")), now);
}

std::string MapText(const json& map, const char* separator) {
  if (!map.is_object() || map.empty()) return "<none>";
  std::string out;
  for (const auto& [k, v] : map.items()) {
    if (!out.empty()) out += separator;
    out += k + "=" + Str(v);
  }
  return out;
}

int64_t SpecReplicas(const json& o) { return Int(At(At(o, "spec"), "replicas"), 1); }

std::vector<std::string> Row(const json& o, int64_t now, const std::string& kind) {
  const json& status = At(o, "status");
  const json& spec = At(o, "spec");
  if (kind == "Job") {
    int64_t start = ParseRfc3339(Str(At(status, "startTime")));
    int64_t end = ParseRfc3339(Str(At(status, "completionTime")));
    std::string duration;
    if (start != 0) duration = HumanDuration(((end != 0 ? end : now) - start) / 1000000000);
    return {Name(o), JobStatus(o),
            std::to_string(Int(At(status, "succeeded"))) + "/" +
                std::to_string(Int(At(spec, "completions"), 1)),
            duration, Age(o, now)};
  }
  std::string ready = std::to_string(Int(At(status, "readyReplicas")));
  if (kind == "StatefulSet") {
    return {Name(o), ready + "/" + std::to_string(SpecReplicas(o)), Age(o, now)};
  }
  if (kind == "DaemonSet") {
    return {Name(o),
            "1",
            std::to_string(Int(At(status, "replicas"))),
            ready,
            std::to_string(Int(At(status, "updatedReplicas"))),
            std::to_string(Int(At(status, "availableReplicas"))),
            "<none>",
            Age(o, now)};
  }
  return {Name(o), ready + "/" + std::to_string(SpecReplicas(o)),
          std::to_string(Int(At(status, "updatedReplicas"))),
          std::to_string(Int(At(status, "availableReplicas"))), Age(o, now)};
}

}  // namespace

std::string WorkloadKindOf(const std::string& resource) {
  static const std::map<std::string, std::string> kKinds = {{"deployment", "Deployment"},
                                                            {"deployments", "Deployment"},
                                                            {"deploy", "Deployment"},
                                                            {"deployment.apps", "Deployment"},
                                                            {"deployments.apps", "Deployment"},
                                                            {"statefulset", "StatefulSet"},
                                                            {"statefulsets", "StatefulSet"},
                                                            {"sts", "StatefulSet"},
                                                            {"statefulset.apps", "StatefulSet"},
                                                            {"statefulsets.apps", "StatefulSet"},
                                                            {"job", "Job"},
                                                            {"jobs", "Job"},
                                                            {"job.batch", "Job"},
                                                            {"jobs.batch", "Job"},
                                                            {"daemonset", "DaemonSet"},
                                                            {"daemonsets", "DaemonSet"},
                                                            {"ds", "DaemonSet"},
                                                            {"daemonset.apps", "DaemonSet"},
                                                            {"daemonsets.apps", "DaemonSet"}};
  auto it = kKinds.find(resource);
  return it == kKinds.end() ? "" : it->second;
}

std::string WorkloadResource(const std::string& kind) {
  if (kind == "Job") return "jobs.batch";
  if (kind == "Deployment") return "deployments.apps";
  if (kind == "StatefulSet") return "statefulsets.apps";
  if (kind == "DaemonSet") return "daemonsets.apps";
  return "";
}

std::string JobStatus(const json& job) {
  const json& conditions = At(At(job, "status"), "conditions");
  if (conditions.is_array()) {
    for (const auto& c : conditions) {
      if (Str(At(c, "status")) != "True") continue;
      std::string type = Str(At(c, "type"));
      if (type == "Complete" || type == "Failed") return type;
    }
  }
  return "Running";
}

std::string FormatWorkloadTable(const std::string& kind, const std::vector<json>& items,
                                int64_t now_nanos, bool all_namespaces) {
  std::vector<std::string> header;
  if (kind == "Job") {
    header = {"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"};
  } else if (kind == "StatefulSet") {
    header = {"NAME", "READY", "AGE"};
  } else if (kind == "DaemonSet") {
    header = {"NAME",       "DESIRED",   "CURRENT",       "READY",
              "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"};
  } else {
    header = {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"};
  }
  if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
  std::vector<std::vector<std::string>> rows = {header};
  for (const auto& o : items) {
    auto row = Row(o, now_nanos, kind);
    if (all_namespaces) row.insert(row.begin(), Namespace(o));
    rows.push_back(std::move(row));
  }
  return FormatTable(rows);
}

std::string DescribeWorkload(const json& o, const std::vector<std::string>& pods,
                             const std::vector<EventRow>& events, int64_t now_nanos) {
  const json& meta = At(o, "metadata");
  const json& spec = At(o, "spec");
  const json& status = At(o, "status");
  const std::string kind = Str(At(o, "kind"));
  std::vector<std::vector<std::string>> rows = {
      {"Name:", Name(o)},
      {"Namespace:", Namespace(o)},
      {"CreationTimestamp:", Str(At(meta, "creationTimestamp"))},
      {"Labels:", MapText(At(meta, "labels"), ",")},
      {"Annotations:", MapText(At(meta, "annotations"), ",")}};
  if (kind == "Job") {
    rows.push_back({"Parallelism:", std::to_string(Int(At(spec, "parallelism"), 1))});
    rows.push_back({"Completions:", std::to_string(Int(At(spec, "completions"), 1))});
    rows.push_back({"Backoff Limit:", std::to_string(Int(At(spec, "backoffLimit"), 6))});
    if (At(spec, "activeDeadlineSeconds").is_number_integer()) {
      rows.push_back({"Active Deadline Seconds:",
                      std::to_string(Int(At(spec, "activeDeadlineSeconds"))) + "s"});
    }
    rows.push_back({"Start Time:", Str(At(status, "startTime"))});
    if (!Str(At(status, "completionTime")).empty()) {
      rows.push_back({"Completed At:", Str(At(status, "completionTime"))});
    }
    rows.push_back({"Pods Statuses:", std::to_string(Int(At(status, "active"))) + " Active / " +
                                          std::to_string(Int(At(status, "succeeded"))) +
                                          " Succeeded / " +
                                          std::to_string(Int(At(status, "failed"))) + " Failed"});
    const json& conditions = At(status, "conditions");
    if (conditions.is_array()) {
      for (const auto& c : conditions) {
        rows.push_back({"Condition:", Str(At(c, "type")) + "=" + Str(At(c, "status")) + " " +
                                          Str(At(c, "reason")) + " " + Str(At(c, "message"))});
      }
    }
  } else {
    rows.push_back({"Selector:", MapText(At(At(spec, "selector"), "matchLabels"), ",")});
    rows.push_back(
        {"Replicas:", std::to_string(kind == "DaemonSet" ? 1 : SpecReplicas(o)) + " desired | " +
                          std::to_string(Int(At(status, "updatedReplicas"))) + " updated | " +
                          std::to_string(Int(At(status, "replicas"))) + " total | " +
                          std::to_string(Int(At(status, "availableReplicas"))) + " available | " +
                          std::to_string(Int(At(status, "unavailableReplicas"))) + " unavailable"});
    const json& strategy = At(spec, kind == "Deployment" ? "strategy" : "updateStrategy");
    std::string type = Str(At(strategy, "type"));
    rows.push_back(
        {"StrategyType:",
         type.empty() ? (kind == "Deployment" ? "RollingUpdate" : "RollingUpdate") : type});
    if (kind == "Deployment" && type != "Recreate") {
      const json& rolling = At(strategy, "rollingUpdate");
      auto text = [](const json& v) {
        return v.is_string()           ? v.get<std::string>()
               : v.is_number_integer() ? std::to_string(v.get<int64_t>())
                                       : "25%";
      };
      rows.push_back({"RollingUpdateStrategy:", text(At(rolling, "maxUnavailable")) +
                                                    " max unavailable, " +
                                                    text(At(rolling, "maxSurge")) + " max surge"});
    }
    if (kind == "Deployment" || kind == "DaemonSet") {
      rows.push_back(
          {"Revision:", Str(At(At(meta, "annotations"), "deployment.kubernetes.io/revision"))});
    }
  }
  std::string containers;
  const json& list = At(At(At(spec, "template"), "spec"), "containers");
  if (list.is_array()) {
    for (const auto& c : list) {
      if (!containers.empty()) containers += ", ";
      containers += Str(At(c, "name")) + " (" + Str(At(c, "image")) + ")";
    }
  }
  rows.push_back({"Pod Template:",
                  "labels " + MapText(At(At(At(spec, "template"), "metadata"), "labels"), ",") +
                      "; containers " + containers});
  std::string pod_list;
  for (const auto& p : pods) pod_list += (pod_list.empty() ? "" : ", ") + p;
  rows.push_back({"Pods:", pod_list.empty() ? "<none>" : pod_list});
  std::string out = FormatTable(rows, 2);
  if (events.empty()) return out + "Events:  <none>\n";
  out += "Events:\n";
  std::vector<std::vector<std::string>> table = {{"  Type", "Reason", "Age", "From", "Message"},
                                                 {"  ----", "------", "----", "----", "-------"}};
  for (const auto& e : events) {
    table.push_back({"  " + e.type, e.reason, EventAge(e, now_nanos), e.from, e.message});
  }
  return out + FormatTable(table, 2);
}

RolloutProgress DeploymentRolloutStatus(const json& o) {
  const json& status = At(o, "status");
  const std::string name = "\"" + Name(o) + "\"";
  int64_t generation = Int(At(At(o, "metadata"), "generation"));
  if (Int(At(status, "observedGeneration")) < generation) {
    return {"Waiting for deployment spec update to be observed...", false};
  }
  int64_t replicas = Str(At(o, "kind")) == "DaemonSet" ? 1 : SpecReplicas(o);
  int64_t updated = Int(At(status, "updatedReplicas"));
  int64_t total = Int(At(status, "replicas"));
  int64_t available = Int(At(status, "availableReplicas"));
  const std::string prefix = "Waiting for deployment " + name + " rollout to finish: ";
  if (updated < replicas) {
    return {prefix + std::to_string(updated) + " out of " + std::to_string(replicas) +
                " new replicas have been updated...",
            false};
  }
  if (total > updated) {
    return {prefix + std::to_string(total - updated) + " old replicas are pending termination...",
            false};
  }
  if (available < updated) {
    return {prefix + std::to_string(available) + " of " + std::to_string(updated) +
                " updated replicas are available...",
            false};
  }
  return {"deployment " + name + " successfully rolled out", true};
}

RolloutProgress StatefulSetRolloutStatus(const json& o) {
  const json& status = At(o, "status");
  int64_t replicas = SpecReplicas(o);
  int64_t ready = Int(At(status, "readyReplicas"));
  int64_t updated = Int(At(status, "updatedReplicas"));
  int64_t total = Int(At(status, "replicas"));
  std::string revision = Str(At(status, "updateRevision"));
  if (ready < replicas || total > replicas) {
    int64_t waiting = ready < replicas ? replicas - ready : total - replicas;
    return {"Waiting for " + std::to_string(waiting) + " pods to be ready...", false};
  }
  if (updated < replicas) {
    return {"waiting for statefulset rolling update to complete " + std::to_string(updated) +
                " pods at revision " + revision + "...",
            false};
  }
  return {"statefulset rolling update complete " + std::to_string(updated) + " pods at revision " +
              revision + "...",
          true};
}

}  // namespace peapod::cli
