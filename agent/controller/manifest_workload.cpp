// Workload manifests: Job (batch/v1), Deployment, DaemonSet and StatefulSet (apps/v1), validated
// as the API server validates them where peapod acts on the field. The pod template is read as a
// pod (manifest_pod.cpp), so its errors name "spec.template.spec..." and their lines.
#include <algorithm>

#include "manifest_reader.h"
#include "peapod/parse.h"

namespace peapod::agent::controller::manifest_internal {

namespace {

using IntOrPercent = std::variant<int32_t, std::string>;

// An IntOrString that must be a count or a percentage ("25%").
bool ReadIntOrPercent(Reader& r, const yaml::Node& node, const std::string& path,
                      IntOrPercent& out) {
  IntOrPercent value;
  if (!r.IntOrString(node, path, value)) return false;
  if (const auto* number = std::get_if<int32_t>(&value)) {
    if (*number < 0) {
      r.Error(node, path, "must be greater than or equal to 0");
      return false;
    }
  } else {
    const std::string& text = std::get<std::string>(value);
    bool digits =
        text.size() >= 2 && text.back() == '%' &&
        std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || text.size() > 5) {
      r.Error(node, path, "a valid percent string must be a numeric string followed by '%'");
      return false;
    }
  }
  out = value;
  return true;
}

bool IsZero(const IntOrPercent& value) {
  if (const auto* number = std::get_if<int32_t>(&value)) return *number == 0;
  const std::string& text = std::get<std::string>(value);
  return std::all_of(text.begin(), text.end() - 1, [](char c) { return c == '0'; });
}

bool OverHundredPercent(const IntOrPercent& value) {
  const auto* text = std::get_if<std::string>(&value);
  if (!text) return false;
  return ParseUnsigned(text->substr(0, text->size() - 1)).value_or(UINT64_MAX) > 100;
}

void ReadCount(Reader& r, const yaml::Node& node, const std::string& path, int32_t& out) {
  int32_t value = 0;
  if (!r.Int32(node, path, value)) return;
  if (value < 0) {
    r.Error(node, path, "must be greater than or equal to 0");
    return;
  }
  out = value;
}

// spec.selector of an apps/v1 workload: required, matchLabels only, and it must select the
// template's pods (the API server's "`selector` does not match template `labels`").
void ReadSelector(Reader& r, const yaml::Node& spec, const std::string& spec_path, Workload& w) {
  std::string path = Field(spec_path, "selector");
  const yaml::Node node = spec["selector"];
  if (!node.IsDefined() || node.IsNull()) {
    r.Error(spec, path, "Required value");
    return;
  }
  if (!r.Object(node, path, {"matchLabels", "matchExpressions"})) return;
  if (node["matchExpressions"].IsDefined() && !node["matchExpressions"].IsNull()) {
    r.Refuse(node["matchExpressions"], Field(path, "matchExpressions"),
             "not supported by peapod (use matchLabels)");
  }
  std::string labels_path = Field(path, "matchLabels");
  r.StringMap(node["matchLabels"], labels_path, w.selector);
  for (const auto& [key, value] : w.selector) {
    if (auto problem = CheckLabelKey(key)) r.Error(node["matchLabels"], labels_path, *problem);
  }
  if (w.selector.empty()) {
    r.Error(node, path, "empty selector is invalid for " + w.kind);
    return;
  }
  const auto& labels = w.pod_template.pod.metadata.labels;
  for (const auto& [key, value] : w.selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) {
      const yaml::Node at = spec["template"]["metadata"]["labels"];
      r.Error(at.IsDefined() ? at : spec["template"], "spec.template.metadata.labels",
              "Invalid value: `selector` does not match template `labels`");
      return;
    }
  }
}

void ReadTemplate(Reader& r, const yaml::Node& spec, const std::string& spec_path, Workload& w) {
  std::string path = Field(spec_path, "template");
  const yaml::Node node = spec["template"];
  Pod& pod = w.pod_template.pod;
  pod.metadata.name = w.metadata.name;
  pod.metadata.namespace_ = w.metadata.namespace_;
  pod.metadata.source = r.Source(node.IsDefined() ? node : spec);
  if (!node.IsDefined() || node.IsNull()) {
    r.Error(spec, path, "required");
    return;
  }
  if (!r.Object(node, path, {"metadata", "spec"})) return;
  const yaml::Node meta = node["metadata"];
  std::string meta_path = Field(path, "metadata");
  nlohmann::json meta_json = nlohmann::json::object();
  // `kubectl get -o yaml` prints the template's creationTimestamp as null: dropped, as on create.
  if (meta.IsDefined() && !meta.IsNull() &&
      r.Object(meta, meta_path, {"labels", "annotations", "name"}, {"creationTimestamp"})) {
    std::string labels_path = Field(meta_path, "labels");
    if (r.StringMap(meta["labels"], labels_path, pod.metadata.labels)) {
      for (const auto& kv : meta["labels"]) {
        if (auto problem = CheckLabelKey(kv.first.Scalar())) {
          r.Error(kv.first, Field(labels_path, kv.first.Scalar()), *problem);
        } else if (auto value = CheckLabelValue(pod.metadata.labels[kv.first.Scalar()])) {
          r.Error(kv.second, Field(labels_path, kv.first.Scalar()), *value);
        }
      }
      meta_json["labels"] = ToJson(meta["labels"]);
    }
    if (r.StringMap(meta["annotations"], Field(meta_path, "annotations"),
                    pod.metadata.annotations)) {
      meta_json["annotations"] = ToJson(meta["annotations"]);
    }
  }
  ReadPodSpec(r, node["spec"], Field(path, "spec"), pod, w.volume_claims);
  w.pod_template.json = {{"metadata", meta_json}, {"spec", ToJson(node["spec"])}};
}

// The pod template's restartPolicy, as the API server allows it for the workload.
void CheckRestartPolicy(Reader& r, const yaml::Node& spec, Workload& w) {
  const std::string policy = w.pod_template.pod.spec.restart_policy;
  const yaml::Node tspec = spec["template"]["spec"];
  const yaml::Node at = tspec["restartPolicy"].IsDefined() ? tspec["restartPolicy"] : tspec;
  const std::string path = "spec.template.spec.restartPolicy";
  if (w.kind == "Job") {
    if (policy != "Never" && policy != "OnFailure") {
      r.Error(at, path,
              "Unsupported value: \"" + policy + "\": supported values: \"OnFailure\", \"Never\"");
    }
  } else if (policy != "Always") {
    r.Error(at, path, "Unsupported value: \"" + policy + "\": supported values: \"Always\"");
  }
}

void ReadJobSpec(Reader& r, const yaml::Node& spec, const std::string& path, Workload& w) {
  r.Object(spec, path,
           {"template", "completions", "parallelism", "backoffLimit", "activeDeadlineSeconds",
            "ttlSecondsAfterFinished"});
  ReadCount(r, spec["completions"], Field(path, "completions"), w.completions);
  ReadCount(r, spec["parallelism"], Field(path, "parallelism"), w.parallelism);
  ReadCount(r, spec["backoffLimit"], Field(path, "backoffLimit"), w.backoff_limit);
  const yaml::Node deadline = spec["activeDeadlineSeconds"];
  if (r.Int64(deadline, Field(path, "activeDeadlineSeconds"), w.active_deadline_seconds) &&
      *w.active_deadline_seconds < 1) {
    r.Error(deadline, Field(path, "activeDeadlineSeconds"), "must be greater than 0");
  }
  const yaml::Node ttl = spec["ttlSecondsAfterFinished"];
  if (r.Int64(ttl, Field(path, "ttlSecondsAfterFinished"), w.ttl_seconds_after_finished)) {
    NonNegative(r, ttl, Field(path, "ttlSecondsAfterFinished"), *w.ttl_seconds_after_finished);
  }
  ReadTemplate(r, spec, path, w);
}

void ReadRollingUpdate(Reader& r, const yaml::Node& node, const std::string& path, Workload& w) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!r.Object(node, path, {"maxSurge", "maxUnavailable"})) return;
  ReadIntOrPercent(r, node["maxSurge"], Field(path, "maxSurge"), w.max_surge);
  if (ReadIntOrPercent(r, node["maxUnavailable"], Field(path, "maxUnavailable"),
                       w.max_unavailable) &&
      OverHundredPercent(w.max_unavailable)) {
    r.Error(node["maxUnavailable"], Field(path, "maxUnavailable"), "must not be greater than 100%");
  }
  if (IsZero(w.max_surge) && IsZero(w.max_unavailable)) {
    r.Error(node, Field(path, "maxUnavailable"), "may not be 0 when `maxSurge` is 0");
  }
}

void ReadDeploymentSpec(Reader& r, const yaml::Node& spec, const std::string& path, Workload& w) {
  if (w.daemon_set) {
    r.Object(spec, path, {"template", "selector", "updateStrategy", "revisionHistoryLimit"});
    // One node: the DaemonSet's one pod is replaced as its default rolling update does it
    // (maxSurge 0, maxUnavailable 1: the old pod goes, then the new one starts).
    w.max_surge = 0;
    w.max_unavailable = 1;
    w.strategy = "RollingUpdate";
    const yaml::Node strategy = spec["updateStrategy"];
    std::string strategy_path = Field(path, "updateStrategy");
    if (strategy.IsDefined() && !strategy.IsNull() &&
        r.Object(strategy, strategy_path, {"type", "rollingUpdate"})) {
      Enum(r, strategy["type"], Field(strategy_path, "type"), w.strategy, {"RollingUpdate"});
      ReadRollingUpdate(r, strategy["rollingUpdate"], Field(strategy_path, "rollingUpdate"), w);
    }
  } else {
    r.Object(spec, path, {"replicas", "template", "selector", "strategy", "revisionHistoryLimit"});
    ReadCount(r, spec["replicas"], Field(path, "replicas"), w.replicas);
    w.strategy = "RollingUpdate";
    const yaml::Node strategy = spec["strategy"];
    std::string strategy_path = Field(path, "strategy");
    if (strategy.IsDefined() && !strategy.IsNull() &&
        r.Object(strategy, strategy_path, {"type", "rollingUpdate"})) {
      Enum(r, strategy["type"], Field(strategy_path, "type"), w.strategy,
           {"RollingUpdate", "Recreate"});
      if (w.strategy == "Recreate" && strategy["rollingUpdate"].IsDefined() &&
          !strategy["rollingUpdate"].IsNull()) {
        r.Error(strategy["rollingUpdate"], Field(strategy_path, "rollingUpdate"),
                "may not be specified when strategy `type` is 'Recreate'");
      } else {
        ReadRollingUpdate(r, strategy["rollingUpdate"], Field(strategy_path, "rollingUpdate"), w);
      }
    }
  }
  ReadCount(r, spec["revisionHistoryLimit"], Field(path, "revisionHistoryLimit"),
            w.revision_history_limit);
  ReadTemplate(r, spec, path, w);
  ReadSelector(r, spec, path, w);
}

void ReadVolumeClaims(Reader& r, const yaml::Node& list, const std::string& path, Workload& w) {
  if (!r.List(list, path)) return;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string item = Index(path, i);
    // The claim's spec (size, access modes, storage class) asks a provisioner peapod has not:
    // each claim is a directory on the node, whatever it asks.
    if (!ListItem(r, list[i], item, {"apiVersion", "kind", "metadata", "spec", "status"})) {
      continue;
    }
    const yaml::Node meta = list[i]["metadata"];
    std::string name;
    if (!meta.IsMap() ||
        !r.Object(meta, Field(item, "metadata"), {"name", "labels", "annotations"},
                  {"creationTimestamp"}) ||
        !r.String(meta["name"], Field(Field(item, "metadata"), "name"), name) || name.empty()) {
      r.Error(list[i], Field(Field(item, "metadata"), "name"), "required");
      continue;
    }
    if (auto problem = CheckDns1123Label(name)) {
      r.Error(meta["name"], Field(Field(item, "metadata"), "name"), *problem);
      continue;
    }
    if (std::find(w.volume_claims.begin(), w.volume_claims.end(), name) != w.volume_claims.end()) {
      r.Error(meta["name"], Field(Field(item, "metadata"), "name"),
              "Duplicate value: " + Quote(name));
      continue;
    }
    w.volume_claims.push_back(name);
  }
}

void ReadStatefulSetSpec(Reader& r, const yaml::Node& spec, const std::string& path, Workload& w) {
  r.Object(
      spec, path,
      {"replicas", "template", "selector", "serviceName", "podManagementPolicy", "updateStrategy",
       "volumeClaimTemplates", "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy"});
  ReadCount(r, spec["replicas"], Field(path, "replicas"), w.replicas);
  std::string service;
  r.String(spec["serviceName"], Field(path, "serviceName"), service);  // no cluster DNS here
  std::string policy = "OrderedReady";
  Enum(r, spec["podManagementPolicy"], Field(path, "podManagementPolicy"), policy,
       {"OrderedReady"});
  w.strategy = "RollingUpdate";
  const yaml::Node strategy = spec["updateStrategy"];
  std::string strategy_path = Field(path, "updateStrategy");
  if (strategy.IsDefined() && !strategy.IsNull() &&
      r.Object(strategy, strategy_path, {"type", "rollingUpdate"})) {
    Enum(r, strategy["type"], Field(strategy_path, "type"), w.strategy,
         {"RollingUpdate", "OnDelete"});
    const yaml::Node rolling = strategy["rollingUpdate"];
    std::string rolling_path = Field(strategy_path, "rollingUpdate");
    if (rolling.IsDefined() && !rolling.IsNull() &&
        r.Object(rolling, rolling_path, {"partition"})) {
      int32_t partition = 0;
      if (r.Int32(rolling["partition"], Field(rolling_path, "partition"), partition) &&
          partition != 0) {
        r.Refuse(rolling["partition"], Field(rolling_path, "partition"),
                 "a partition other than 0 is not supported by peapod");
      }
    }
  }
  // Kubernetes keeps a StatefulSet's claims when it is deleted or scaled down (Retain, the
  // default); peapod keeps the claims' directories too, and deletes them never.
  const yaml::Node retention = spec["persistentVolumeClaimRetentionPolicy"];
  std::string retention_path = Field(path, "persistentVolumeClaimRetentionPolicy");
  if (retention.IsDefined() && !retention.IsNull() &&
      r.Object(retention, retention_path, {"whenDeleted", "whenScaled"})) {
    for (const char* key : {"whenDeleted", "whenScaled"}) {
      std::string value = "Retain";
      Enum(r, retention[key], Field(retention_path, key), value, {"Retain"});
    }
  }
  ReadCount(r, spec["revisionHistoryLimit"], Field(path, "revisionHistoryLimit"),
            w.revision_history_limit);
  ReadVolumeClaims(r, spec["volumeClaimTemplates"], Field(path, "volumeClaimTemplates"), w);
  ReadTemplate(r, spec, path, w);
  for (const auto& volume : w.pod_template.pod.spec.volumes) {
    if (std::find(w.volume_claims.begin(), w.volume_claims.end(), volume.name) !=
        w.volume_claims.end()) {
      r.Error(spec["template"]["spec"]["volumes"], "spec.template.spec.volumes",
              "volume " + Quote(volume.name) + " is also a volumeClaimTemplate");
    }
  }
  ReadSelector(r, spec, path, w);
}

}  // namespace

bool IsWorkloadKind(std::string_view kind) {
  return kind == "Job" || kind == "Deployment" || kind == "DaemonSet" || kind == "StatefulSet";
}

void ReadOwnerReferences(Reader& r, const yaml::Node& node, const std::string& path,
                         std::vector<OwnerReference>& out) {
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string item = Index(path, i);
    if (!ListItem(r, node[i], item,
                  {"apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"})) {
      continue;
    }
    OwnerReference ref;
    r.String(node[i]["apiVersion"], Field(item, "apiVersion"), ref.api_version);
    r.String(node[i]["kind"], Field(item, "kind"), ref.kind);
    r.String(node[i]["name"], Field(item, "name"), ref.name);
    r.String(node[i]["uid"], Field(item, "uid"), ref.uid);
    bool flag = false;
    r.Bool(node[i]["controller"], Field(item, "controller"), flag);
    r.Bool(node[i]["blockOwnerDeletion"], Field(item, "blockOwnerDeletion"), flag);
    for (auto [key, value] : {std::pair<const char*, const std::string*>{"kind", &ref.kind},
                              {"name", &ref.name},
                              {"uid", &ref.uid}}) {
      if (value->empty()) r.Error(node[i], Field(item, key), "required");
    }
    out.push_back(std::move(ref));
  }
}

void ReadWorkload(Reader& r, const yaml::Node& object, const std::string& prefix,
                  const std::string& kind, ManifestSet& set) {
  r.Object(object, prefix, {"apiVersion", "kind", "metadata", "spec"}, {"status"});
  Workload w;
  w.daemon_set = kind == "DaemonSet";
  w.kind = w.daemon_set ? "Deployment" : kind;
  w.api_version = kind == "Job" ? "batch/v1" : "apps/v1";
  std::string api_version;
  std::string api_path = Field(prefix, "apiVersion");
  if (!r.String(object["apiVersion"], api_path, api_version) || api_version.empty()) {
    r.Error(object, api_path, "required");
  } else if (api_version != w.api_version) {
    r.Error(object["apiVersion"], api_path, "must be " + Quote(w.api_version) + " for " + kind);
  }
  w.metadata = ReadObjectMeta(r, object, prefix);
  const yaml::Node spec = object["spec"];
  std::string spec_path = Field(prefix, "spec");
  if (!spec.IsMap()) {
    r.Error(spec.IsDefined() ? spec : object, spec_path,
            spec.IsDefined() && !spec.IsNull() ? "must be an object" : "required");
    return;
  }
  if (kind == "Job") {
    ReadJobSpec(r, spec, spec_path, w);
  } else if (kind == "StatefulSet") {
    ReadStatefulSetSpec(r, spec, spec_path, w);
  } else {
    ReadDeploymentSpec(r, spec, spec_path, w);
  }
  CheckRestartPolicy(r, spec, w);
  nlohmann::json json = ToJson(object);
  json.erase("status");
  json["kind"] = kind;
  if (json["metadata"].is_object()) {
    for (const char* owned : {"creationTimestamp", "uid", "resourceVersion", "generation",
                              "selfLink", "managedFields"}) {
      json["metadata"].erase(owned);
    }
    json["metadata"]["namespace"] = w.metadata.namespace_;
  }
  w.object = std::move(json);
  set.workloads.push_back(std::move(w));
}

}  // namespace peapod::agent::controller::manifest_internal
