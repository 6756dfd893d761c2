// Kubernetes manifests: documents, objects and metadata (see manifest.h). Pod specs are read in
// manifest_pod.cpp, defaults and the spec hash are in manifest_defaults.cpp.
//
// Fields dropped without a warning: `status` (on create the API server ignores a pod's status)
// and the metadata the API server itself owns and overwrites on create (creationTimestamp, uid,
// resourceVersion, generation, selfLink, managedFields), so the output of
// `kubectl get -o yaml` applies here as it does with kubectl. Everything else peapod does not act
// on is reported.
#include "peapod/agent/controller/manifest.h"

#include <algorithm>
#include <set>

#include "manifest_reader.h"

namespace peapod::agent::controller {

using manifest_internal::Field;
using manifest_internal::Index;
using manifest_internal::Reader;

std::string ManifestIssue::ToString() const {
  std::string out = where.file;
  if (where.line > 0) {
    out += ':';
    out += std::to_string(where.line);
  }
  out += ": ";
  if (!field_path.empty()) {
    out += field_path;
    out += ": ";
  }
  out += message;
  return out;
}

bool HarmlessToIgnore(std::string_view field_path) {
  // What a scheduler, the API server or a controller acts on, never the node: ignoring it runs
  // the pod as it would run on the node a scheduler picked. Service accounts: no API server to
  // talk to, so no token to mount (the pod runs as if automountServiceAccountToken were false).
  static const std::set<std::string_view> kHarmless = {
      // A ConfigMap or Secret the API server would refuse to change: peapod lets a re-apply
      // change it, which only an apply that asks for a change can do.
      "immutable",
      "metadata.generateName",
      "metadata.ownerReferences",
      "metadata.finalizers",
      "metadata.deletionGracePeriodSeconds",
      "metadata.deletionTimestamp",
      "spec.nodeSelector",
      "spec.nodeName",
      "spec.affinity",
      "spec.tolerations",
      "spec.topologySpreadConstraints",
      "spec.schedulerName",
      "spec.priorityClassName",
      "spec.priority",
      "spec.preemptionPolicy",
      "spec.overhead",
      "spec.serviceAccountName",
      "spec.serviceAccount",
      "spec.automountServiceAccountToken",
      "spec.enableServiceLinks",
      "spec.imagePullSecrets",
      "spec.resources.requests",
      "spec.securityContext.fsGroupChangePolicy",
      "spec.securityContext.seLinuxChangePolicy",
      "spec.containers.resizePolicy",
      "spec.initContainers.resizePolicy",
      // A Deployment's: no condition is set from it (see README, Workloads).
      "spec.progressDeadlineSeconds",
  };
  if (kHarmless.contains(field_path)) return true;
  // A workload's pod template is read as a pod: what is harmless there is harmless here.
  if (field_path.starts_with("spec.template.spec.")) {
    return HarmlessToIgnore(field_path.substr(std::string_view("spec.template.").size()));
  }
  for (std::string_view list : {"spec.containers.resources.", "spec.initContainers.resources."}) {
    if (!field_path.starts_with(list)) continue;
    std::string_view rest = field_path.substr(list.size());
    // A request for another resource is a scheduling hint; a limit on an extended resource
    // (vendor.example/gpu) asks for a device a device plugin would add, not for confinement.
    if (rest.starts_with("requests.")) return true;
    if (rest.starts_with("limits.") && rest.find('/') != std::string_view::npos) return true;
  }
  return false;
}

namespace {

const std::initializer_list<std::string_view> kServerOwnedMetadata = {
    "creationTimestamp", "uid", "resourceVersion", "generation", "selfLink", "managedFields"};

// The API server's limit on a ConfigMap's or Secret's total data (etcd's value size).
constexpr size_t kMaxDataBytes = 1024 * 1024;

ObjectMeta ReadMetadata(Reader& r, const yaml::Node& object, const std::string& prefix,
                        bool namespaced_subdomain_name) {
  ObjectMeta meta;
  const yaml::Node node = object["metadata"];
  std::string path = Field(prefix, "metadata");
  meta.source = r.Source(node.IsDefined() ? node : object);
  if (!node.IsDefined() || node.IsNull()) {
    r.Error(object, Field(path, "name"), "required");
    return meta;
  }
  if (!r.Object(node, path, {"name", "namespace", "labels", "annotations", "ownerReferences"},
                kServerOwnedMetadata)) {
    return meta;
  }
  manifest_internal::ReadOwnerReferences(r, node["ownerReferences"], Field(path, "ownerReferences"),
                                         meta.owner_references);
  if (!r.String(node["name"], Field(path, "name"), meta.name) || meta.name.empty()) {
    r.Error(node, Field(path, "name"), "required");
  } else if (namespaced_subdomain_name) {
    if (auto problem = manifest_internal::CheckDns1123Subdomain(meta.name)) {
      r.Error(node["name"], Field(path, "name"), *problem);
    }
  }
  if (r.String(node["namespace"], Field(path, "namespace"), meta.namespace_)) {
    if (meta.namespace_.empty()) {
      meta.namespace_ = "default";
    } else if (auto problem = manifest_internal::CheckDns1123Label(meta.namespace_)) {
      r.Error(node["namespace"], Field(path, "namespace"), *problem);
    }
  }
  std::string labels_path = Field(path, "labels");
  if (r.StringMap(node["labels"], labels_path, meta.labels)) {
    for (const auto& kv : node["labels"]) {
      const std::string& key = kv.first.Scalar();
      if (auto problem = manifest_internal::CheckLabelKey(key)) {
        r.Error(kv.first, Field(labels_path, key), *problem);
      } else if (auto value_problem = manifest_internal::CheckLabelValue(meta.labels[key])) {
        r.Error(kv.second, Field(labels_path, key), *value_problem);
      }
    }
  }
  std::string annotations_path = Field(path, "annotations");
  if (r.StringMap(node["annotations"], annotations_path, meta.annotations)) {
    for (const auto& kv : node["annotations"]) {
      if (auto problem = manifest_internal::CheckLabelKey(kv.first.Scalar())) {
        r.Error(kv.first, Field(annotations_path, kv.first.Scalar()), *problem);
      }
    }
  }
  return meta;
}

void CheckApiVersion(Reader& r, const yaml::Node& object, const std::string& prefix) {
  std::string api_version;
  std::string path = Field(prefix, "apiVersion");
  if (!r.String(object["apiVersion"], path, api_version) || api_version.empty()) {
    r.Error(object, path, "required");
  } else if (api_version != "v1") {
    r.Error(object["apiVersion"], path, "must be \"v1\"");
  }
}

// Keys of `data`, `binaryData` and `stringData` maps: ConfigMap key rules.
void CheckDataKeys(Reader& r, const yaml::Node& map, const std::string& path) {
  if (!map.IsMap()) return;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) continue;
    if (auto problem = manifest_internal::CheckConfigMapKey(kv.first.Scalar())) {
      r.Error(kv.first, Field(path, kv.first.Scalar()), *problem);
    }
  }
}

void DecodeBase64Map(Reader& r, const yaml::Node& map, const std::string& path,
                     std::map<std::string, std::string>& out) {
  std::map<std::string, std::string> encoded;
  if (!r.StringMap(map, path, encoded)) return;
  CheckDataKeys(r, map, path);
  for (auto& [key, text] : encoded) {
    auto decoded = manifest_internal::DecodeBase64(text);
    if (!decoded) {
      r.Error(map[key], Field(path, key), "must be valid base64");
      continue;
    }
    out[key] = std::move(*decoded);
  }
}

size_t DataBytes(const std::map<std::string, std::string>& data) {
  size_t total = 0;
  for (const auto& [key, value] : data) total += key.size() + value.size();
  return total;
}

void ReadConfigMap(Reader& r, const yaml::Node& object, const std::string& prefix,
                   ManifestSet& set) {
  r.Object(object, prefix, {"apiVersion", "kind", "metadata", "data", "binaryData"});
  CheckApiVersion(r, object, prefix);
  ConfigMap config_map;
  config_map.metadata = ReadMetadata(r, object, prefix, true);
  std::string data_path = Field(prefix, "data");
  if (r.StringMap(object["data"], data_path, config_map.data)) {
    CheckDataKeys(r, object["data"], data_path);
  }
  std::string binary_path = Field(prefix, "binaryData");
  DecodeBase64Map(r, object["binaryData"], binary_path, config_map.binary_data);
  for (const auto& [key, value] : config_map.binary_data) {
    if (config_map.data.contains(key)) {
      r.Error(object["binaryData"][key], Field(binary_path, key),
              "duplicate of key present in data");
    }
  }
  if (DataBytes(config_map.data) + DataBytes(config_map.binary_data) > kMaxDataBytes) {
    r.Error(object, prefix, "data must have at most 1048576 bytes");
  }
  set.config_maps.push_back(std::move(config_map));
}

void ReadSecret(Reader& r, const yaml::Node& object, const std::string& prefix, ManifestSet& set) {
  r.Object(object, prefix, {"apiVersion", "kind", "metadata", "data", "stringData", "type"});
  CheckApiVersion(r, object, prefix);
  Secret secret;
  secret.metadata = ReadMetadata(r, object, prefix, true);
  if (r.String(object["type"], Field(prefix, "type"), secret.type) && secret.type.empty()) {
    secret.type = "Opaque";
  }
  DecodeBase64Map(r, object["data"], Field(prefix, "data"), secret.data);
  // stringData is write-only convenience: merged over data, and it wins (as the API server does).
  std::map<std::string, std::string> string_data;
  std::string string_path = Field(prefix, "stringData");
  if (r.StringMap(object["stringData"], string_path, string_data)) {
    CheckDataKeys(r, object["stringData"], string_path);
    for (auto& [key, value] : string_data) secret.data[key] = std::move(value);
  }
  if (DataBytes(secret.data) > kMaxDataBytes) {
    r.Error(object, Field(prefix, "data"), "must have at most 1048576 bytes");
  }
  set.secrets.push_back(std::move(secret));
}

void ReadPod(Reader& r, const yaml::Node& object, const std::string& prefix, ManifestSet& set) {
  r.Object(object, prefix, {"apiVersion", "kind", "metadata", "spec"}, {"status"});
  CheckApiVersion(r, object, prefix);
  Pod pod;
  pod.metadata = ReadMetadata(r, object, prefix, true);
  manifest_internal::ReadPodSpec(r, object["spec"], Field(prefix, "spec"), pod);
  if (object["metadata"].IsDefined() && object["metadata"].IsMap()) {
    manifest_internal::CheckSecurityAnnotations(r, object["metadata"]["annotations"],
                                                Field(Field(prefix, "metadata"), "annotations"),
                                                pod.spec);
  }
  set.pods.push_back(std::move(pod));
}

void ReadObject(Reader& r, const yaml::Node& object, const std::string& prefix, ManifestSet& set,
                bool in_list);

void ReadList(Reader& r, const yaml::Node& object, const std::string& prefix, ManifestSet& set) {
  r.Object(object, prefix, {"apiVersion", "kind", "items"}, {"metadata"});
  const yaml::Node items = object["items"];
  std::string path = Field(prefix, "items");
  if (!r.List(items, path)) return;
  for (size_t i = 0; i < items.size(); ++i) {
    ReadObject(r, items[i], Index(path, i), set, true);
  }
}

void ReadObject(Reader& r, const yaml::Node& object, const std::string& prefix, ManifestSet& set,
                bool in_list) {
  if (!object.IsMap()) {
    r.Error(object, prefix, "must be an object (a Kubernetes manifest)");
    return;
  }
  std::string kind;
  std::string kind_path = Field(prefix, "kind");
  if (!r.String(object["kind"], kind_path, kind) || kind.empty()) {
    r.Error(object, kind_path, "required");
    return;
  }
  if (kind == "Pod") return ReadPod(r, object, prefix, set);
  if (kind == "ConfigMap") return ReadConfigMap(r, object, prefix, set);
  if (kind == "Secret") return ReadSecret(r, object, prefix, set);
  if (manifest_internal::IsWorkloadKind(kind)) {
    return manifest_internal::ReadWorkload(r, object, prefix, kind, set);
  }
  if (!in_list &&
      (kind == "List" || kind == "PodList" || kind == "ConfigMapList" || kind == "SecretList")) {
    return ReadList(r, object, prefix, set);
  }
  // Nothing of another kind would run: an apply that exits 0 must have made what it was given.
  r.Refuse(object["kind"], kind_path, "\"" + kind + "\" is not supported by peapod");
}

// Two objects of one kind with the same namespace/name in one apply: kubectl would apply the
// second over the first; for a pod runtime that is almost always a copy-paste mistake.
template <typename T>
void CheckUnique(Reader& r, const std::vector<T>& objects, std::string_view kind) {
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const T& object : objects) {
    const ObjectMeta& meta = object.metadata;
    if (meta.name.empty()) continue;
    auto [it, inserted] =
        seen.emplace(std::make_pair(meta.namespace_, meta.name), meta.source.line);
    if (!inserted) {
      std::string message = std::string(kind) + " \"" + meta.namespace_ + "/" + meta.name +
                            "\" is defined twice (first at line " + std::to_string(it->second) +
                            ")";
      r.Error(meta.source.line, "metadata.name", std::move(message));
    }
  }
}

}  // namespace

ObjectMeta manifest_internal::ReadObjectMeta(Reader& r, const yaml::Node& object,
                                             const std::string& prefix) {
  return ReadMetadata(r, object, prefix, true);
}

Result<ManifestSet> ParseManifests(const std::string& text, const std::string& file_name,
                                   const ParseOptions& options) {
  Reader reader(file_name, options);
  ManifestSet set;
  // Merge keys, anchors and the limits on depth and aliases are the document model's job.
  auto documents = yaml::LoadAll(text);
  if (!documents) {
    const yaml::ParseError& error = documents.error();
    ManifestIssue issue{
        SourceRef{file_name, error.mark.line}, "",
        "invalid YAML at column " + std::to_string(error.mark.column) + ": " + error.Message()};
    return Fail(ErrorCode::kInvalidArgument, issue.ToString());
  }
  for (const yaml::Node& document : *documents) {
    // An empty document (a stray `---`, a file of comments) is skipped, as kubectl does.
    if (!document.IsDefined() || document.IsNull()) continue;
    ReadObject(reader, document, "", set, false);
  }
  CheckUnique(reader, set.pods, "pod");
  CheckUnique(reader, set.config_maps, "configmap");
  CheckUnique(reader, set.secrets, "secret");
  for (std::string_view kind : {"Job", "Deployment", "StatefulSet"}) {
    std::vector<Workload> of_kind;
    for (const Workload& w : set.workloads) {
      if (w.kind == kind) of_kind.push_back(w);
    }
    CheckUnique(reader, of_kind,
                kind == "Job"          ? "job"
                : kind == "Deployment" ? "deployment"
                                       : "statefulset");
  }
  if (!reader.errors.empty()) {
    std::stable_sort(
        reader.errors.begin(), reader.errors.end(),
        [](const ManifestIssue& a, const ManifestIssue& b) { return a.where.line < b.where.line; });
    std::string message;
    for (const ManifestIssue& issue : reader.errors) {
      if (!message.empty()) message += '\n';
      message += issue.ToString();
    }
    return Fail(ErrorCode::kInvalidArgument, std::move(message));
  }
  for (Pod& pod : set.pods) ApplyDefaults(pod);
  for (Workload& w : set.workloads) ApplyDefaults(w.pod_template.pod);
  set.warnings = std::move(reader.warnings);
  return set;
}

}  // namespace peapod::agent::controller
