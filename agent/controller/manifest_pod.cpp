// A Pod's spec: volumes, pod-level settings and the checks across containers, validated as the
// API server's ValidatePodCreate would, every problem reported with the line of its node.
// Containers are read in manifest_container.cpp.
#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include "manifest_reader.h"

namespace peapod::agent::controller::manifest_internal {
namespace {

void ReadKeyToPaths(Reader& r, const yaml::Node& node, const std::string& path,
                    std::vector<KeyToPath>& out) {
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p, {"key", "path", "mode"})) continue;
    KeyToPath entry;
    if (!r.String(item["key"], Field(p, "key"), entry.key) || entry.key.empty()) {
      r.Error(item, Field(p, "key"), "required");
    } else if (auto problem = CheckConfigMapKey(entry.key)) {
      r.Error(item["key"], Field(p, "key"), *problem);
    }
    if (!r.String(item["path"], Field(p, "path"), entry.path) || entry.path.empty()) {
      r.Error(item, Field(p, "path"), "required");
    } else if (auto problem = CheckRelativePath(entry.path)) {
      r.Error(item["path"], Field(p, "path"), *problem);
    }
    FileMode(r, item["mode"], Field(p, "mode"), entry.mode);
    out.push_back(std::move(entry));
  }
}

constexpr std::string_view kSupportedVolumeSources[] = {
    "emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected", "image"};

// Volume sources Kubernetes knows but peapod does not implement: refused.
constexpr std::string_view kOtherVolumeSources[] = {"persistentVolumeClaim",
                                                    "nfs",
                                                    "csi",
                                                    "ephemeral",
                                                    "iscsi",
                                                    "gitRepo",
                                                    "awsElasticBlockStore",
                                                    "gcePersistentDisk",
                                                    "azureDisk",
                                                    "azureFile",
                                                    "cephfs",
                                                    "cinder",
                                                    "fc",
                                                    "flexVolume",
                                                    "flocker",
                                                    "glusterfs",
                                                    "photonPersistentDisk",
                                                    "portworxVolume",
                                                    "quobyte",
                                                    "rbd",
                                                    "scaleIO",
                                                    "storageos",
                                                    "vsphereVolume"};

void ReadDownwardApiFiles(Reader& r, const yaml::Node& node, const std::string& path,
                          std::vector<DownwardApiFile>& out) {
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p, {"path", "fieldRef", "resourceFieldRef", "mode"})) continue;
    DownwardApiFile file;
    if (!r.String(item["path"], Field(p, "path"), file.path) || file.path.empty()) {
      r.Error(item, Field(p, "path"), "required");
    } else if (auto problem = CheckRelativePath(file.path)) {
      r.Error(item["path"], Field(p, "path"), *problem);
    }
    file.field_ref = ReadFieldRef(r, item["fieldRef"], Field(p, "fieldRef"), true);
    file.resource_field_ref =
        ReadResourceFieldRef(r, item["resourceFieldRef"], Field(p, "resourceFieldRef"), true);
    int refs = file.field_ref.has_value() + file.resource_field_ref.has_value();
    if (refs == 0) {
      r.Error(item, p, "must specify one of: `fieldRef` or `resourceFieldRef`");
    } else if (refs > 1) {
      r.Error(item, p, "fieldRef and resourceFieldRef can not be specified simultaneously");
    }
    FileMode(r, item["mode"], Field(p, "mode"), file.mode);
    out.push_back(std::move(file));
  }
}

// projected.sources: configMap, secret and downwardAPI. A serviceAccountToken is refused: there
// is no API server to mint a token for the pod's service account, and an empty file or a
// made-up token would only fail later, wherever the pod presents it.
void ReadProjections(Reader& r, const yaml::Node& node, const std::string& path,
                     ProjectedVolume& out) {
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p,
                  {"configMap", "secret", "downwardAPI", "serviceAccountToken",
                   "clusterTrustBundle", "podCertificate"})) {
      continue;
    }
    int kinds = 0;
    for (const auto& kv : item) kinds += kv.second.IsNull() ? 0 : 1;
    if (kinds > 1) {
      r.Error(item, p, "may not specify more than 1 volume type per source");
      continue;
    }
    for (const char* unsupported : {"clusterTrustBundle", "podCertificate"}) {
      if (item[unsupported].IsDefined()) r.Unsupported(item[unsupported], Field(p, unsupported));
    }
    if (item["serviceAccountToken"].IsDefined()) {
      r.Refuse(item["serviceAccountToken"], Field(p, "serviceAccountToken"),
               "peapod has no API server to issue a service account token: put the token in a "
               "Secret and project that instead");
    }
    const yaml::Node cm = item["configMap"];
    std::string cm_path = Field(p, "configMap");
    if (r.Object(cm, cm_path, {"name", "items", "optional"})) {
      ConfigMapVolume source;
      if (!r.String(cm["name"], Field(cm_path, "name"), source.name) || source.name.empty()) {
        r.Error(cm, Field(cm_path, "name"), "required");
      } else if (auto problem = CheckDns1123Subdomain(source.name)) {
        r.Error(cm["name"], Field(cm_path, "name"), *problem);
      }
      ReadKeyToPaths(r, cm["items"], Field(cm_path, "items"), source.items);
      r.Bool(cm["optional"], Field(cm_path, "optional"), source.optional);
      out.sources.emplace_back(std::move(source));
    }
    const yaml::Node secret = item["secret"];
    std::string secret_path = Field(p, "secret");
    if (r.Object(secret, secret_path, {"name", "items", "optional"})) {
      SecretVolume source;
      if (!r.String(secret["name"], Field(secret_path, "name"), source.secret_name) ||
          source.secret_name.empty()) {
        r.Error(secret, Field(secret_path, "name"), "required");
      } else if (auto problem = CheckDns1123Subdomain(source.secret_name)) {
        r.Error(secret["name"], Field(secret_path, "name"), *problem);
      }
      ReadKeyToPaths(r, secret["items"], Field(secret_path, "items"), source.items);
      r.Bool(secret["optional"], Field(secret_path, "optional"), source.optional);
      out.sources.emplace_back(std::move(source));
    }
    const yaml::Node downward = item["downwardAPI"];
    std::string downward_path = Field(p, "downwardAPI");
    if (r.Object(downward, downward_path, {"items"})) {
      DownwardApiVolume source;
      ReadDownwardApiFiles(r, downward["items"], Field(downward_path, "items"), source.items);
      out.sources.emplace_back(std::move(source));
    }
  }
}

Volume ReadVolume(Reader& r, const yaml::Node& node, const std::string& path) {
  Volume volume;
  volume.source = r.Source(node);
  if (!node.IsMap()) {
    r.Error(node, path, "must be an object");
    return volume;
  }
  int sources = 0;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    if (key == "name") continue;
    if (std::find(std::begin(kSupportedVolumeSources), std::end(kSupportedVolumeSources), key) !=
        std::end(kSupportedVolumeSources)) {
      ++sources;
      continue;
    }
    if (std::find(std::begin(kOtherVolumeSources), std::end(kOtherVolumeSources), key) !=
        std::end(kOtherVolumeSources)) {
      ++sources;
      // Dropped, a volume would leave the pod waiting for it forever: with --ignore-unsupported
      // an empty directory (the variant's default) stands in for it.
      if (!r.Refuse(kv.first, Field(path, key), "not supported by peapod")) {
        r.warnings.back().message += ": an empty directory is mounted in its place";
      }
      continue;
    }
    r.Unsupported(kv.first, Field(path, key));
  }
  if (!r.String(node["name"], Field(path, "name"), volume.name) || volume.name.empty()) {
    r.Error(node, Field(path, "name"), "required");
  } else if (auto problem = CheckDns1123Label(volume.name)) {
    r.Error(node["name"], Field(path, "name"), *problem);
  }
  if (sources > 1) r.Error(node, path, "may not specify more than 1 volume type");
  // The API server turns a volume without a source into an emptyDir: source_'s default.

  const yaml::Node empty_dir = node["emptyDir"];
  std::string empty_path = Field(path, "emptyDir");
  if (empty_dir.IsDefined() &&
      (empty_dir.IsNull() || r.Object(empty_dir, empty_path, {"medium", "sizeLimit"}))) {
    EmptyDirVolume source;
    if (empty_dir.IsMap()) {
      if (empty_dir["medium"].IsDefined()) {
        Enum(r, empty_dir["medium"], Field(empty_path, "medium"), source.medium, {"", "Memory"});
      }
      Quantity size;
      if (r.QuantityValue(empty_dir["sizeLimit"], Field(empty_path, "sizeLimit"), false, size)) {
        source.size_limit = size;
        // kubelet enforces it by evicting the pod, which peapod does not do; only a tmpfs can
        // be held to a size here.
        if (source.medium != "Memory") {
          r.Error(empty_dir["sizeLimit"], Field(empty_path, "sizeLimit"),
                  "cannot be enforced on a disk-backed emptyDir by peapod: use medium: Memory "
                  "for a size-limited tmpfs, or remove sizeLimit");
        }
      }
    }
    volume.source_ = std::move(source);
  }
  const yaml::Node host_path = node["hostPath"];
  std::string host_path_path = Field(path, "hostPath");
  if (r.Object(host_path, host_path_path, {"path", "type"})) {
    HostPathVolume source;
    if (!r.String(host_path["path"], Field(host_path_path, "path"), source.path) ||
        source.path.empty()) {
      r.Error(host_path, Field(host_path_path, "path"), "required");
    } else if (source.path.front() != '/') {
      r.Error(host_path["path"], Field(host_path_path, "path"), "must be an absolute path");
    } else if (CheckRelativePath(source.path.substr(1)) == "must not contain '..'") {
      r.Error(host_path["path"], Field(host_path_path, "path"), "must not contain '..'");
    }
    if (host_path["type"].IsDefined()) {
      Enum(r, host_path["type"], Field(host_path_path, "type"), source.type,
           {"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
            "BlockDevice"});
    }
    volume.source_ = std::move(source);
  }
  const yaml::Node config_map = node["configMap"];
  std::string cm_path = Field(path, "configMap");
  if (r.Object(config_map, cm_path, {"name", "items", "defaultMode", "optional"})) {
    ConfigMapVolume source;
    if (!r.String(config_map["name"], Field(cm_path, "name"), source.name) || source.name.empty()) {
      r.Error(config_map, Field(cm_path, "name"), "required");
    } else if (auto problem = CheckDns1123Subdomain(source.name)) {
      r.Error(config_map["name"], Field(cm_path, "name"), *problem);
    }
    ReadKeyToPaths(r, config_map["items"], Field(cm_path, "items"), source.items);
    FileMode(r, config_map["defaultMode"], Field(cm_path, "defaultMode"), source.default_mode);
    r.Bool(config_map["optional"], Field(cm_path, "optional"), source.optional);
    volume.source_ = std::move(source);
  }
  const yaml::Node secret = node["secret"];
  std::string secret_path = Field(path, "secret");
  if (r.Object(secret, secret_path, {"secretName", "items", "defaultMode", "optional"})) {
    SecretVolume source;
    if (!r.String(secret["secretName"], Field(secret_path, "secretName"), source.secret_name) ||
        source.secret_name.empty()) {
      r.Error(secret, Field(secret_path, "secretName"), "required");
    } else if (auto problem = CheckDns1123Subdomain(source.secret_name)) {
      r.Error(secret["secretName"], Field(secret_path, "secretName"), *problem);
    }
    ReadKeyToPaths(r, secret["items"], Field(secret_path, "items"), source.items);
    FileMode(r, secret["defaultMode"], Field(secret_path, "defaultMode"), source.default_mode);
    r.Bool(secret["optional"], Field(secret_path, "optional"), source.optional);
    volume.source_ = std::move(source);
  }
  const yaml::Node downward = node["downwardAPI"];
  std::string downward_path = Field(path, "downwardAPI");
  if (r.Object(downward, downward_path, {"items", "defaultMode"})) {
    DownwardApiVolume source;
    ReadDownwardApiFiles(r, downward["items"], Field(downward_path, "items"), source.items);
    FileMode(r, downward["defaultMode"], Field(downward_path, "defaultMode"), source.default_mode);
    volume.source_ = std::move(source);
  }
  const yaml::Node projected = node["projected"];
  std::string projected_path = Field(path, "projected");
  if (r.Object(projected, projected_path, {"sources", "defaultMode"})) {
    ProjectedVolume source;
    ReadProjections(r, projected["sources"], Field(projected_path, "sources"), source);
    FileMode(r, projected["defaultMode"], Field(projected_path, "defaultMode"),
             source.default_mode);
    volume.source_ = std::move(source);
  }
  const yaml::Node image = node["image"];
  std::string image_path = Field(path, "image");
  if (r.Object(image, image_path, {"reference", "pullPolicy"})) {
    ImageVolume source;
    if (!r.String(image["reference"], Field(image_path, "reference"), source.reference) ||
        source.reference.empty()) {
      r.Error(image, Field(image_path, "reference"), "required");
    } else if (std::isspace(static_cast<unsigned char>(source.reference.front())) ||
               std::isspace(static_cast<unsigned char>(source.reference.back()))) {
      r.Error(image["reference"], Field(image_path, "reference"),
              "must not have leading or trailing whitespace");
    }
    if (image["pullPolicy"].IsDefined()) {
      Enum(r, image["pullPolicy"], Field(image_path, "pullPolicy"), source.pull_policy,
           {"Always", "IfNotPresent", "Never"});
    }
    volume.source_ = std::move(source);
  }
  return volume;
}

std::optional<PodSecurityContext> ReadPodSecurityContext(Reader& r, const yaml::Node& node,
                                                         const std::string& path) {
  if (!r.Object(node, path,
                {"runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "supplementalGroups",
                 "seccompProfile", "sysctls", "seLinuxOptions", "appArmorProfile", "windowsOptions",
                 "supplementalGroupsPolicy"})) {
    return std::nullopt;
  }
  ReadSeLinuxOptions(r, node["seLinuxOptions"], Field(path, "seLinuxOptions"));
  ReadAppArmorProfile(r, node["appArmorProfile"], Field(path, "appArmorProfile"));
  ReadWindowsOptions(r, node["windowsOptions"], Field(path, "windowsOptions"));
  PodSecurityContext sc;
  ReadSupplementalGroupsPolicy(r, node["supplementalGroupsPolicy"],
                               Field(path, "supplementalGroupsPolicy"),
                               sc.supplemental_groups_policy);
  IdField(r, node["runAsUser"], Field(path, "runAsUser"), sc.run_as_user);
  IdField(r, node["runAsGroup"], Field(path, "runAsGroup"), sc.run_as_group);
  r.Bool(node["runAsNonRoot"], Field(path, "runAsNonRoot"), sc.run_as_non_root);
  IdField(r, node["fsGroup"], Field(path, "fsGroup"), sc.fs_group);
  const yaml::Node groups = node["supplementalGroups"];
  if (r.List(groups, Field(path, "supplementalGroups"))) {
    for (size_t i = 0; i < groups.size(); ++i) {
      std::optional<int64_t> gid;
      IdField(r, groups[i], Index(Field(path, "supplementalGroups"), i), gid);
      if (gid) sc.supplemental_groups.push_back(*gid);
    }
  }
  sc.seccomp_profile = ReadSeccomp(r, node["seccompProfile"], Field(path, "seccompProfile"));
  const yaml::Node sysctls = node["sysctls"];
  std::string sysctls_path = Field(path, "sysctls");
  if (r.List(sysctls, sysctls_path)) {
    std::set<std::string> names;
    for (size_t i = 0; i < sysctls.size(); ++i) {
      std::string p = Index(sysctls_path, i);
      if (!r.Object(sysctls[i], p, {"name", "value"})) continue;
      Sysctl sysctl;
      if (!r.String(sysctls[i]["name"], Field(p, "name"), sysctl.name) || sysctl.name.empty()) {
        r.Error(sysctls[i], Field(p, "name"), "required");
      } else if (!std::all_of(sysctl.name.begin(), sysctl.name.end(), [](char c) {
                   return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '-' || c == '.' || c == '/';
                 })) {
        r.Error(sysctls[i]["name"], Field(p, "name"), "must be a valid sysctl name");
      } else if (!names.insert(sysctl.name).second) {
        r.Error(sysctls[i]["name"], Field(p, "name"), "duplicate sysctl " + Quote(sysctl.name));
      }
      r.String(sysctls[i]["value"], Field(p, "value"), sysctl.value);
      sc.sysctls.push_back(std::move(sysctl));
    }
  }
  return sc;
}

void ReadDns(Reader& r, const yaml::Node& spec, const std::string& path, PodSpec& out) {
  if (spec["dnsPolicy"].IsDefined()) {
    Enum(r, spec["dnsPolicy"], Field(path, "dnsPolicy"), out.dns_policy,
         {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"});
  }
  const yaml::Node config = spec["dnsConfig"];
  std::string p = Field(path, "dnsConfig");
  if (r.Object(config, p, {"nameservers", "searches", "options"})) {
    PodDnsConfig dns;
    if (r.StringList(config["nameservers"], Field(p, "nameservers"), dns.nameservers)) {
      if (dns.nameservers.size() > 3) {
        r.Error(config["nameservers"], Field(p, "nameservers"),
                "must not have more than 3 nameservers");
      }
      for (size_t i = 0; i < dns.nameservers.size(); ++i) {
        if (!IsIpAddress(dns.nameservers[i])) {
          r.Error(config["nameservers"][i], Index(Field(p, "nameservers"), i),
                  "must be a valid IP address");
        }
      }
    }
    if (r.StringList(config["searches"], Field(p, "searches"), dns.searches)) {
      if (dns.searches.size() > 32) {
        r.Error(config["searches"], Field(p, "searches"),
                "must not have more than 32 search paths");
      }
      for (size_t i = 0; i < dns.searches.size(); ++i) {
        std::string search = dns.searches[i];
        if (search.ends_with('.')) search.pop_back();  // a fully qualified name is allowed
        if (auto problem = CheckDns1123Subdomain(search)) {
          r.Error(config["searches"][i], Index(Field(p, "searches"), i), *problem);
        }
      }
    }
    const yaml::Node options = config["options"];
    if (r.List(options, Field(p, "options"))) {
      for (size_t i = 0; i < options.size(); ++i) {
        std::string op = Index(Field(p, "options"), i);
        if (!r.Object(options[i], op, {"name", "value"})) continue;
        PodDnsConfigOption option;
        if (!r.String(options[i]["name"], Field(op, "name"), option.name) || option.name.empty()) {
          r.Error(options[i], Field(op, "name"), "required");
        }
        r.String(options[i]["value"], Field(op, "value"), option.value);
        dns.options.push_back(std::move(option));
      }
    }
    out.dns_config = std::move(dns);
  }
  if (out.dns_policy == "None" && (!out.dns_config || out.dns_config->nameservers.empty())) {
    r.Error(spec["dnsPolicy"], Field(path, "dnsConfig"),
            "must provide at least one DNS nameserver when `dnsPolicy` is None");
  }
}

void ReadHostAliases(Reader& r, const yaml::Node& node, const std::string& path, PodSpec& out) {
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    if (!r.Object(node[i], p, {"ip", "hostnames"})) continue;
    HostAlias alias;
    if (!r.String(node[i]["ip"], Field(p, "ip"), alias.ip) || alias.ip.empty()) {
      r.Error(node[i], Field(p, "ip"), "required");
    } else if (!IsIpAddress(alias.ip)) {
      r.Error(node[i]["ip"], Field(p, "ip"), "must be a valid IP address");
    }
    if (r.StringList(node[i]["hostnames"], Field(p, "hostnames"), alias.hostnames)) {
      for (size_t j = 0; j < alias.hostnames.size(); ++j) {
        if (auto problem = CheckDns1123Subdomain(alias.hostnames[j])) {
          r.Error(node[i]["hostnames"][j], Index(Field(p, "hostnames"), j), *problem);
        }
      }
    }
    out.host_aliases.push_back(std::move(alias));
  }
}

// Pod-level resources (KEP-2837): requests and limits of cpu and memory for the pod as a whole.
// Requests default to limits, as the API server fills them.
void ReadPodResources(Reader& r, const yaml::Node& node, const std::string& path, PodSpec& out) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!r.Object(node, path, {"requests", "limits"})) return;
  for (const char* section : {"requests", "limits"}) {
    const yaml::Node map = node[section];
    std::string p = Field(path, section);
    if (!map.IsDefined() || map.IsNull()) continue;
    if (!r.Object(map, p, {"cpu", "memory"})) continue;
    auto& into =
        std::string_view(section) == "requests" ? out.resources.requests : out.resources.limits;
    for (const char* name : {"cpu", "memory"}) {
      Quantity quantity;
      if (!r.QuantityValue(map[name], Field(p, name), std::string_view(name) == "cpu", quantity)) {
        continue;
      }
      if (quantity.value < 0) {
        r.Error(map[name], Field(p, name), "must be greater than or equal to 0");
        continue;
      }
      into[name] = quantity;
    }
  }
  for (const auto& [name, limit] : out.resources.limits) {
    auto [request, added] = out.resources.requests.emplace(name, limit);
    if (!added && request->second.value > limit.value) {
      r.Error(node["requests"][name], Field(Field(path, "requests"), name),
              "must be less than or equal to " + name + " limit of " + limit.text);
    }
  }
}

// The API server's checks of pod-level resources against the containers': no container limit
// above the pod's limit, and the pod's request at least what its containers request together.
void CheckPodResources(Reader& r, const yaml::Node& spec, const std::string& path,
                       const PodSpec& out) {
  if (out.resources.requests.empty() && out.resources.limits.empty()) return;
  std::string resources_path = Field(path, "resources");
  for (const char* name : {"cpu", "memory"}) {
    int64_t requested = 0;
    for (const auto* list : {&out.init_containers, &out.containers}) {
      for (const Container& c : *list) {
        auto limit = c.resources.limits.find(name);
        auto request = c.resources.requests.find(name);
        if (list == &out.containers || c.IsSidecar()) {
          if (request != c.resources.requests.end()) {
            requested += request->second.value;
          } else if (limit != c.resources.limits.end()) {
            requested += limit->second.value;
          }
        }
        auto pod_limit = out.resources.limits.find(name);
        if (limit != c.resources.limits.end() && pod_limit != out.resources.limits.end() &&
            limit->second.value > pod_limit->second.value) {
          r.Error(spec["resources"], Field(Field(resources_path, "limits"), name),
                  "must be greater than or equal to the " + std::string(name) +
                      " limit of container " + Quote(c.name) + " (" + limit->second.text + ")");
        }
      }
    }
    auto pod_request = out.resources.requests.find(name);
    if (pod_request != out.resources.requests.end() && requested > pod_request->second.value) {
      r.Error(spec["resources"], Field(Field(resources_path, "requests"), name),
              "must be greater than or equal to the aggregate container requests (" +
                  std::to_string(requested) + (std::string_view(name) == "cpu" ? "m" : "") + ")");
    }
  }
}

// Container names unique across init and app containers; host ports unique across the pod.
void CheckAcrossContainers(Reader& r, const std::string& path, const PodSpec& spec) {
  std::map<std::string, int> names;
  std::map<std::tuple<std::string, int32_t, std::string>, int> host_ports;
  auto check = [&](const std::vector<Container>& containers, const std::string& list) {
    for (size_t i = 0; i < containers.size(); ++i) {
      const Container& c = containers[i];
      std::string p = Index(Field(path, list), i);
      if (!c.name.empty()) {
        auto [it, inserted] = names.emplace(c.name, c.source.line);
        if (!inserted) {
          r.Error(c.source.line, Field(p, "name"),
                  "duplicate container name " + Quote(c.name) + " (first at line " +
                      std::to_string(it->second) + ")");
        }
      }
      for (size_t j = 0; j < c.ports.size(); ++j) {
        const ContainerPort& port = c.ports[j];
        if (port.host_port == 0) continue;
        auto key = std::make_tuple(port.host_ip, port.host_port, port.protocol);
        auto [it, inserted] = host_ports.emplace(key, port.source.line);
        if (!inserted) {
          r.Error(port.source.line, Field(Index(Field(p, "ports"), j), "hostPort"),
                  "duplicate host port " + std::to_string(port.host_port) + "/" + port.protocol +
                      " (first at line " + std::to_string(it->second) + ")");
        }
      }
    }
  };
  check(spec.init_containers, "initContainers");
  check(spec.containers, "containers");
}

// A resourceFieldRef in a volume names its container: one of the pod's.
void CheckDownwardApiContainers(Reader& r, const yaml::Node& spec, const std::string& path,
                                const PodSpec& out) {
  std::set<std::string> names;
  for (const auto* list : {&out.init_containers, &out.containers}) {
    for (const Container& c : *list) names.insert(c.name);
  }
  auto check = [&](const DownwardApiVolume& downward, const yaml::Node& at, const std::string& p) {
    for (const DownwardApiFile& file : downward.items) {
      if (file.resource_field_ref && !file.resource_field_ref->container_name.empty() &&
          !names.contains(file.resource_field_ref->container_name)) {
        r.Error(at, p,
                "resourceFieldRef: no container named " +
                    Quote(file.resource_field_ref->container_name));
      }
    }
  };
  for (size_t i = 0; i < out.volumes.size(); ++i) {
    const Volume& v = out.volumes[i];
    const yaml::Node at = spec["volumes"][i];
    if (const auto* downward = std::get_if<DownwardApiVolume>(&v.source_)) {
      check(*downward, at, Field(Index(path, i), "downwardAPI"));
    } else if (const auto* projected = std::get_if<ProjectedVolume>(&v.source_)) {
      for (const auto& source : projected->sources) {
        if (const auto* d = std::get_if<DownwardApiVolume>(&source)) {
          check(*d, at, Field(Index(path, i), "projected"));
        }
      }
    }
  }
}

}  // namespace

void ReadPodSpec(Reader& r, const yaml::Node& spec, const std::string& path, Pod& pod,
                 const std::vector<std::string>& claim_volumes) {
  PodSpec& out = pod.spec;
  if (!spec.IsDefined() || spec.IsNull()) {
    r.Error(pod.metadata.source.line, path, "required");
    return;
  }
  if (!r.Object(spec, path,
                {"containers", "initContainers", "volumes", "restartPolicy",
                 "terminationGracePeriodSeconds", "shareProcessNamespace", "hostNetwork", "hostPID",
                 "hostIPC", "hostname", "subdomain", "dnsPolicy", "dnsConfig", "hostAliases",
                 "securityContext", "runtimeClassName", "hostUsers", "resources",
                 "activeDeadlineSeconds"})) {
    return;
  }
  r.Bool(spec["hostUsers"], Field(path, "hostUsers"), out.host_users);
  ReadPodResources(r, spec["resources"], Field(path, "resources"), out);
  PodContext context;
  r.Bool(spec["hostNetwork"], Field(path, "hostNetwork"), out.host_network);
  context.host_network = out.host_network;

  const yaml::Node volumes = spec["volumes"];
  std::string volumes_path = Field(path, "volumes");
  if (r.List(volumes, volumes_path)) {
    for (size_t i = 0; i < volumes.size(); ++i) {
      Volume volume = ReadVolume(r, volumes[i], Index(volumes_path, i));
      if (!volume.name.empty() && !context.volumes.insert(volume.name).second) {
        r.Error(volumes[i]["name"], Field(Index(volumes_path, i), "name"),
                "duplicate volume name " + Quote(volume.name));
      }
      out.volumes.push_back(std::move(volume));
    }
  }

  // A StatefulSet's volumeClaimTemplates are volumes its pods get (workload_controller.cpp).
  for (const auto& claim : claim_volumes) context.volumes.insert(claim);
  for (const char* list : {"initContainers", "containers"}) {
    const yaml::Node containers = spec[list];
    std::string p = Field(path, list);
    bool init = std::string_view(list) == "initContainers";
    if (!r.List(containers, p)) {
      if (!init && (!containers.IsDefined() || containers.IsNull() ||
                    (containers.IsSequence() && containers.size() == 0))) {
        r.Error(containers.IsDefined() ? containers : spec, p, "required");
      }
      continue;
    }
    if (!init && containers.size() == 0) r.Error(containers, p, "required");
    for (size_t i = 0; i < containers.size(); ++i) {
      if (!containers[i].IsMap()) {
        r.Error(containers[i], Index(p, i), "must be an object");
        continue;
      }
      Container c = ReadContainer(r, containers[i], Index(p, i), init, context);
      (init ? out.init_containers : out.containers).push_back(std::move(c));
    }
  }
  CheckAcrossContainers(r, path, out);
  CheckPodResources(r, spec, path, out);

  if (spec["restartPolicy"].IsDefined()) {
    Enum(r, spec["restartPolicy"], Field(path, "restartPolicy"), out.restart_policy,
         {"Always", "OnFailure", "Never"});
  }
  const yaml::Node grace = spec["terminationGracePeriodSeconds"];
  if (r.Int64(grace, Field(path, "terminationGracePeriodSeconds"),
              out.termination_grace_period_seconds)) {
    NonNegative(r, grace, Field(path, "terminationGracePeriodSeconds"),
                *out.termination_grace_period_seconds);
  }
  const yaml::Node deadline = spec["activeDeadlineSeconds"];
  if (r.Int64(deadline, Field(path, "activeDeadlineSeconds"), out.active_deadline_seconds) &&
      (*out.active_deadline_seconds < 1 || *out.active_deadline_seconds > 2147483647)) {
    r.Error(deadline, Field(path, "activeDeadlineSeconds"),
            "must be between 1 and 2147483647, inclusive");
  }
  CheckDownwardApiContainers(r, spec, volumes_path, out);
  r.Bool(spec["shareProcessNamespace"], Field(path, "shareProcessNamespace"),
         out.share_process_namespace);
  r.Bool(spec["hostPID"], Field(path, "hostPID"), out.host_pid);
  r.Bool(spec["hostIPC"], Field(path, "hostIPC"), out.host_ipc);
  if (out.share_process_namespace && out.host_pid) {
    r.Error(spec["shareProcessNamespace"], Field(path, "shareProcessNamespace"),
            "ShareProcessNamespace and HostPID cannot both be enabled");
  }
  for (auto [name, field] : {std::pair<const char*, std::string*>{"hostname", &out.hostname},
                             std::pair<const char*, std::string*>{"subdomain", &out.subdomain}}) {
    if (r.String(spec[name], Field(path, name), *field) && !field->empty()) {
      if (auto problem = CheckDns1123Label(*field))
        r.Error(spec[name], Field(path, name), *problem);
    }
  }
  ReadDns(r, spec, path, out);
  ReadHostAliases(r, spec["hostAliases"], Field(path, "hostAliases"), out);
  out.security_context =
      ReadPodSecurityContext(r, spec["securityContext"], Field(path, "securityContext"));
  CheckSysctlNamespaces(r, spec, path, out);
  CheckHostUsers(r, spec, path, out);
  out.runtime_class_source = r.Source(spec["runtimeClassName"]);
  if (r.String(spec["runtimeClassName"], Field(path, "runtimeClassName"), out.runtime_class_name) &&
      !out.runtime_class_name.empty()) {
    if (auto problem = CheckDns1123Subdomain(out.runtime_class_name)) {
      r.Error(spec["runtimeClassName"], Field(path, "runtimeClassName"), *problem);
    }
  }
}

}  // namespace peapod::agent::controller::manifest_internal
