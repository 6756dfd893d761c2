#include "pod_config.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "atomic_writer.h"
#include "peapod/parse.h"

namespace peapod::agent::controller {
namespace fs = std::filesystem;

const ConfigMap* ConfigObjects::FindConfigMap(const std::string& ns,
                                              const std::string& name) const {
  auto it = config_maps.find(ns + "/" + name);
  return it == config_maps.end() ? nullptr : &it->second;
}

const Secret* ConfigObjects::FindSecret(const std::string& ns, const std::string& name) const {
  auto it = secrets.find(ns + "/" + name);
  return it == secrets.end() ? nullptr : &it->second;
}

// ---- Environment
// ----------------------------------------------------------------------------------

std::string ExpandVariables(const std::string& input,
                            const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] != '$' || i + 1 >= input.size()) {
      out += input[i];
      continue;
    }
    char next = input[i + 1];
    if (next == '$') {  // "$$" is an escaped "$"
      out += '$';
      ++i;
      continue;
    }
    if (next == '(') {
      size_t close = input.find(')', i + 2);
      if (close != std::string::npos) {
        std::string name = input.substr(i + 2, close - i - 2);
        auto it = vars.find(name);
        if (it != vars.end()) {
          out += it->second;
        } else {
          out += input.substr(i, close - i + 1);  // undefined: left as written
        }
        i = close;
        continue;
      }
    }
    out += '$';
  }
  return out;
}

Result<std::string> ExpandSubPathExpr(const std::string& expr,
                                      const std::map<std::string, std::string>& vars) {
  std::set<std::string> missing;
  for (size_t i = 0; i + 1 < expr.size(); ++i) {
    if (expr[i] != '$') continue;
    if (expr[i + 1] == '$') {
      ++i;
      continue;
    }
    if (expr[i + 1] != '(') continue;
    size_t close = expr.find(')', i + 2);
    if (close == std::string::npos) break;
    std::string name = expr.substr(i + 2, close - i - 2);
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) missing.insert(name);
    i = close;
  }
  if (!missing.empty()) {
    std::string names;
    for (const auto& name : missing) names += (names.empty() ? "" : ", ") + name;
    return Fail(ErrorCode::kInvalidArgument,
                "subPathExpr " + expr + ": missing value for " + names);
  }
  std::string expanded = ExpandVariables(expr, vars);
  fs::path sub = fs::path(expanded).lexically_normal();
  if (expanded.empty() || sub.is_absolute()) {
    return Fail(ErrorCode::kInvalidArgument, "subPathExpr " + expr + " expands to \"" + expanded +
                                                 "\": must be a relative path");
  }
  for (const auto& part : fs::path(expanded)) {
    if (part == "..") {
      return Fail(ErrorCode::kInvalidArgument, "subPathExpr " + expr + " expands to \"" + expanded +
                                                   "\": must not contain '..'");
    }
  }
  return expanded;
}

std::string FormatDownwardMap(const std::map<std::string, std::string>& map) {
  std::string out;
  for (const auto& [key, value] : map) {
    if (!out.empty()) out += '\n';
    out += key;
    out += "=\"";
    for (unsigned char c : value) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            static const char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    out += '"';
  }
  return out;
}

namespace {

bool IsEnvVarName(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

const Container* FindContainer(const Pod& pod, const std::string& name) {
  for (const auto* list : {&pod.spec.containers, &pod.spec.init_containers}) {
    for (const auto& c : *list) {
      if (c.name == name) return &c;
    }
  }
  return nullptr;
}

int64_t NodeCpuMillis() { return int64_t{std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))} * 1000; }

int64_t NodeMemoryBytes() {
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return 0;
  return static_cast<int64_t>(si.totalram) * si.mem_unit;
}

// resourceFieldRef: the value divided by the divisor, rounded up (kubelet's
// ExtractContainerResourceValue).
Result<std::string> ResourceFieldValue(const Pod& pod, const Container& self,
                                       const ResourceFieldRef& ref) {
  const Container* c = ref.container_name.empty() ? &self : FindContainer(pod, ref.container_name);
  if (!c)
    return Fail(ErrorCode::kInvalidArgument,
                "resourceFieldRef: no container " + ref.container_name);
  bool cpu = ref.resource.ends_with(".cpu");
  auto dot = ref.resource.find('.');
  std::string kind = ref.resource.substr(0, dot), what = ref.resource.substr(dot + 1);
  int64_t value = 0;
  auto find = [&](const std::map<std::string, Quantity>& m) -> std::optional<int64_t> {
    auto it = m.find(what);
    if (it == m.end()) return std::nullopt;
    return it->second.value;
  };
  if (kind == "limits") {
    // No limit: the pod-level limit (KEP-2837), else the node's allocatable, as kubelet fills
    // it in.
    auto pod_limit = pod.spec.resources.limits.find(what);
    int64_t fallback = pod_limit != pod.spec.resources.limits.end() ? pod_limit->second.value
                       : cpu                                        ? NodeCpuMillis()
                                                                    : NodeMemoryBytes();
    value = find(c->resources.limits).value_or(fallback);
  } else {
    // Requests default to limits, as the API server fills them.
    value = find(c->resources.requests).value_or(find(c->resources.limits).value_or(0));
  }
  std::string divisor_text = ref.divisor.empty() ? "1" : ref.divisor;
  auto divisor = ParseQuantity(divisor_text, cpu);
  if (!divisor || divisor->value <= 0) {
    return Fail(ErrorCode::kInvalidArgument, "resourceFieldRef: bad divisor " + divisor_text);
  }
  int64_t result = (value + divisor->value - 1) / divisor->value;
  return std::to_string(result);
}

Result<std::string> FieldValue(const Pod& pod, const PodRuntimeInfo& info,
                               const std::string& path) {
  const auto& m = pod.metadata;
  if (path == "metadata.name") return m.name;
  if (path == "metadata.namespace") return m.namespace_;
  if (path == "metadata.uid") return info.uid;
  // Whole maps: downwardAPI volumes only (the parser refuses them in env).
  if (path == "metadata.labels") return FormatDownwardMap(m.labels);
  if (path == "metadata.annotations") return FormatDownwardMap(m.annotations);
  if (path == "spec.nodeName") return info.node_name;
  if (path == "spec.serviceAccountName") return std::string("default");
  if (path == "status.hostIP") return info.host_ip;
  if (path == "status.hostIPs") return info.host_ip;
  if (path == "status.podIP") return info.pod_ip;
  if (path == "status.podIPs") {
    std::string joined;
    for (const auto& ip : info.pod_ips) joined += (joined.empty() ? "" : ",") + ip;
    return joined;
  }
  for (auto [prefix, map] : {std::pair{std::string("metadata.labels['"), &m.labels},
                             std::pair{std::string("metadata.annotations['"), &m.annotations}}) {
    if (path.starts_with(prefix) && path.ends_with("']")) {
      std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
      auto it = map->find(key);
      return it == map->end() ? std::string() : it->second;
    }
  }
  return Fail(ErrorCode::kInvalidArgument, "fieldRef: unsupported fieldPath " + path);
}

void SetEnv(std::vector<KeyValue>& env, const std::string& key, std::string value) {
  for (auto& kv : env) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  env.push_back({key, std::move(value)});
}

}  // namespace

Result<std::vector<KeyValue>> ResolveEnvironment(const Pod& pod, const Container& container,
                                                 const ConfigObjects& objects,
                                                 const PodRuntimeInfo& info) {
  const std::string& ns = pod.metadata.namespace_;
  std::vector<KeyValue> env;
  for (const auto& from : container.env_from) {
    std::map<std::string, std::string> data;
    if (from.config_map_ref) {
      const ConfigMap* cm = objects.FindConfigMap(ns, from.config_map_ref->name);
      if (!cm) {
        if (from.config_map_ref->optional) continue;
        return Fail(ErrorCode::kNotFound,
                    "configmap \"" + from.config_map_ref->name + "\" not found");
      }
      data = cm->data;
    } else if (from.secret_ref) {
      const Secret* s = objects.FindSecret(ns, from.secret_ref->name);
      if (!s) {
        if (from.secret_ref->optional) continue;
        return Fail(ErrorCode::kNotFound, "secret \"" + from.secret_ref->name + "\" not found");
      }
      data = s->data;
    }
    for (const auto& [k, v] : data) {
      std::string key = from.prefix + k;
      if (IsEnvVarName(key)) SetEnv(env, key, v);  // kubelet skips invalid names
    }
  }
  std::map<std::string, std::string> defined;
  for (const auto& kv : env) defined[kv.key] = kv.value;
  for (const auto& var : container.env) {
    std::string value;
    if (var.value) {
      value = ExpandVariables(*var.value, defined);
    } else if (var.config_map_key_ref) {
      const auto& ref = *var.config_map_key_ref;
      const ConfigMap* cm = objects.FindConfigMap(ns, ref.name);
      auto it = cm ? cm->data.find(ref.key) : decltype(cm->data.end()){};
      if (!cm || it == cm->data.end()) {
        if (ref.optional) continue;
        return Fail(ErrorCode::kNotFound,
                    cm ? "couldn't find key " + ref.key + " in ConfigMap " + ns + "/" + ref.name
                       : "configmap \"" + ref.name + "\" not found");
      }
      value = it->second;
    } else if (var.secret_key_ref) {
      const auto& ref = *var.secret_key_ref;
      const Secret* s = objects.FindSecret(ns, ref.name);
      auto it = s ? s->data.find(ref.key) : decltype(s->data.end()){};
      if (!s || it == s->data.end()) {
        if (ref.optional) continue;
        return Fail(ErrorCode::kNotFound,
                    s ? "couldn't find key " + ref.key + " in Secret " + ns + "/" + ref.name
                      : "secret \"" + ref.name + "\" not found");
      }
      value = it->second;
    } else if (var.field_ref) {
      auto v = FieldValue(pod, info, var.field_ref->field_path);
      if (!v) return std::unexpected(std::move(v.error()));
      value = *v;
    } else if (var.resource_field_ref) {
      auto v = ResourceFieldValue(pod, container, *var.resource_field_ref);
      if (!v) return std::unexpected(std::move(v.error()));
      value = *v;
    }
    defined[var.name] = value;
    SetEnv(env, var.name, std::move(value));
  }
  return env;
}

// ---- Resources
// ------------------------------------------------------------------------------------

namespace {

constexpr int64_t kMinShares = 2;
constexpr int64_t kSharesPerCpu = 1024;
constexpr int64_t kQuotaPeriod = 100000;  // 100 ms, kubelet's default CFS period
constexpr int64_t kMinQuota = 1000;

std::optional<int64_t> Get(const std::map<std::string, Quantity>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second.value;
}

// Requests default to limits, as the API server fills them.
std::optional<int64_t> Request(const Container& c, const std::string& key) {
  if (auto r = Get(c.resources.requests, key)) return r;
  return Get(c.resources.limits, key);
}

}  // namespace

// Kubernetes' QoS classes: Guaranteed (every container has equal cpu and memory requests and
// limits), BestEffort (nothing set anywhere), else Burstable. Pod-level resources (KEP-2837),
// where set, decide alone.
std::string QosClass(const Pod& pod) {
  const ResourceRequirements& pod_level = pod.spec.resources;
  if (!pod_level.requests.empty() || !pod_level.limits.empty()) {
    for (const char* r : {"cpu", "memory"}) {
      auto limit = Get(pod_level.limits, r);
      auto request = Get(pod_level.requests, r);
      if (!limit || !request || *limit != *request) return "Burstable";
    }
    return "Guaranteed";
  }
  bool any = false, guaranteed = true;
  for (const auto* list : {&pod.spec.init_containers, &pod.spec.containers}) {
    for (const auto& c : *list) {
      if (!c.resources.requests.empty() || !c.resources.limits.empty()) any = true;
      for (const char* r : {"cpu", "memory"}) {
        auto limit = Get(c.resources.limits, r);
        auto request = Request(c, r);
        if (!limit || !request || *limit != *request) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

namespace {

std::string CpuText(int64_t millis) {
  return millis % 1000 == 0 ? std::to_string(millis / 1000) : std::to_string(millis) + "m";
}

std::string BytesText(int64_t bytes) {
  for (auto [unit, size] : {std::pair{"Gi", int64_t{1} << 30}, std::pair{"Mi", int64_t{1} << 20},
                            std::pair{"Ki", int64_t{1} << 10}}) {
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + unit;
  }
  return std::to_string(bytes);
}

}  // namespace

std::map<std::string, Quantity> AllocatedRequests(const Container& container) {
  std::map<std::string, Quantity> out;
  for (const char* name : {"cpu", "memory"}) {
    const auto& requests = container.resources.requests;
    const auto& limits = container.resources.limits;
    if (auto it = requests.find(name); it != requests.end()) {
      out[name] = it->second;
    } else if (auto limit = limits.find(name); limit != limits.end()) {
      out[name] = limit->second;
    }
  }
  return out;
}

ResourceRequirements StatusResources(const LinuxContainerResources& r, const Container& allocated) {
  ResourceRequirements out;
  if (r.cpu_quota > 0 && r.cpu_period > 0) {
    int64_t millis = r.cpu_quota * 1000 / r.cpu_period;
    out.limits["cpu"] = Quantity{CpuText(millis), millis};
  }
  if (r.memory_limit_in_bytes > 0) {
    out.limits["memory"] = Quantity{BytesText(r.memory_limit_in_bytes), r.memory_limit_in_bytes};
  }
  // Shares lose precision: the allocated request stands when it gives the shares the runtime
  // has, as kubelet reports it; memory requests are not the runtime's to know.
  auto requests = AllocatedRequests(allocated);
  if (auto it = requests.find("cpu");
      it != requests.end() &&
      std::max(kMinShares, it->second.value * kSharesPerCpu / 1000) == r.cpu_shares) {
    out.requests["cpu"] = it->second;
  } else if (r.cpu_shares > kMinShares) {
    int64_t millis = r.cpu_shares * 1000 / kSharesPerCpu;
    out.requests["cpu"] = Quantity{CpuText(millis), millis};
  }
  if (auto it = requests.find("memory"); it != requests.end()) out.requests["memory"] = it->second;
  return out;
}

std::optional<LinuxContainerResources> PodLevelResources(const Pod& pod) {
  const ResourceRequirements& r = pod.spec.resources;
  if (r.requests.empty() && r.limits.empty()) return std::nullopt;
  // As kubelet sizes the pod cgroup: shares from the request, CFS quota from the limit.
  LinuxContainerResources out;
  out.cpu_shares = std::max(kMinShares, Get(r.requests, "cpu").value_or(0) * kSharesPerCpu / 1000);
  if (auto limit = Get(r.limits, "cpu"); limit && *limit > 0) {
    out.cpu_period = kQuotaPeriod;
    out.cpu_quota = std::max(kMinQuota, *limit * kQuotaPeriod / 1000);
  }
  if (auto limit = Get(r.limits, "memory")) out.memory_limit_in_bytes = *limit;
  return out;
}

LinuxContainerResources ConvertResources(const Pod& pod, const Container& container) {
  LinuxContainerResources r;
  int64_t cpu_request = Request(container, "cpu").value_or(0);
  r.cpu_shares = std::max(kMinShares, cpu_request * kSharesPerCpu / 1000);
  if (auto limit = Get(container.resources.limits, "cpu"); limit && *limit > 0) {
    r.cpu_period = kQuotaPeriod;
    r.cpu_quota = std::max(kMinQuota, *limit * kQuotaPeriod / 1000);
  }
  if (auto limit = Get(container.resources.limits, "memory")) r.memory_limit_in_bytes = *limit;
  // kubelet's oom_score_adj by QoS class.
  std::string qos = QosClass(pod);
  if (qos == "Guaranteed") {
    r.oom_score_adj = -997;
  } else if (qos == "BestEffort") {
    r.oom_score_adj = 1000;
  } else {
    int64_t capacity = NodeMemoryBytes();
    int64_t request = Request(container, "memory").value_or(0);
    int64_t adj = capacity > 0 ? 1000 - (1000 * request) / capacity : 999;
    r.oom_score_adj = std::clamp<int64_t>(adj, 2, 999);
  }
  return r;
}

// ---- Security context
// -----------------------------------------------------------------------------

namespace {

std::optional<SecurityProfile> ConvertSeccomp(const std::optional<SeccompProfile>& p) {
  if (!p) return std::nullopt;
  SecurityProfile out;
  if (p->type == "RuntimeDefault") {
    out.profile_type = 0;
  } else if (p->type == "Localhost") {
    out.profile_type = 2;
    out.localhost_ref = p->localhost_profile;
  } else {
    out.profile_type = 1;
  }
  return out;
}

// The uid the image's USER names: "uid", "uid:gid"; nullopt for a name (cannot be verified).
// The image is untrusted: a number that is no uid ("99999999999999999999") is an error.
Result<std::optional<int64_t>> NumericImageUser(const std::string& user) {
  std::string u = user.substr(0, user.find(':'));
  if (u.empty()) return std::optional<int64_t>(0);
  if (!std::all_of(u.begin(), u.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::optional<int64_t>();
  auto uid = ParseUid(u);
  if (!uid) {
    return Fail(ErrorCode::kFailedPrecondition, "image user: " + uid.error().message);
  }
  return std::optional<int64_t>(*uid);
}

}  // namespace

Result<LinuxContainerSecurityContext> ConvertSecurityContext(const Pod& pod,
                                                             const Container& container,
                                                             const std::string& image_user) {
  LinuxContainerSecurityContext out;
  const PodSecurityContext empty_pod;
  const SecurityContext empty_container;
  const PodSecurityContext& psc =
      pod.spec.security_context ? *pod.spec.security_context : empty_pod;
  const SecurityContext& csc =
      container.security_context ? *container.security_context : empty_container;

  out.run_as_user = csc.run_as_user ? csc.run_as_user : psc.run_as_user;
  out.run_as_group = csc.run_as_group ? csc.run_as_group : psc.run_as_group;
  // A group alone is refused by the runtime (the CRI says it MUST be); kubelet always names the
  // user, taking the image's when the pod does not: its uid, else its name, else root.
  if (out.run_as_group && !out.run_as_user) {
    auto uid = NumericImageUser(image_user);
    if (!uid) return std::unexpected(uid.error());
    if (*uid) {
      out.run_as_user = **uid;
    } else {
      out.run_as_username = image_user.substr(0, image_user.find(':'));
    }
  }
  out.supplemental_groups = psc.supplemental_groups;
  if (psc.fs_group) out.supplemental_groups.push_back(*psc.fs_group);
  if (psc.supplemental_groups_policy == "Strict") {
    out.supplemental_groups_policy = SupplementalGroupsPolicy::kStrict;
  }
  out.readonly_rootfs = csc.read_only_root_filesystem.value_or(false);
  out.privileged = csc.privileged.value_or(false);
  if (csc.capabilities) {
    Capability caps;
    caps.add_capabilities = csc.capabilities->add;
    caps.drop_capabilities = csc.capabilities->drop;
    out.capabilities = std::move(caps);
  }
  // allowPrivilegeEscalation: false is no_new_privs (kubelet: only when explicitly false).
  out.no_new_privs = csc.allow_privilege_escalation && !*csc.allow_privilege_escalation;
  out.seccomp = ConvertSeccomp(csc.seccomp_profile ? csc.seccomp_profile : psc.seccomp_profile);

  auto& ns = out.namespace_options;
  ns.network = pod.spec.host_network ? NamespaceMode::kNode : NamespaceMode::kPod;
  ns.ipc = pod.spec.host_ipc ? NamespaceMode::kNode : NamespaceMode::kPod;
  ns.pid = pod.spec.host_pid                  ? NamespaceMode::kNode
           : pod.spec.share_process_namespace ? NamespaceMode::kPod
                                              : NamespaceMode::kContainer;

  bool non_root = csc.run_as_non_root ? *csc.run_as_non_root : psc.run_as_non_root.value_or(false);
  if (non_root) {
    std::optional<int64_t> uid = out.run_as_user;
    if (!uid) {
      auto image_uid = NumericImageUser(image_user);
      if (!image_uid) return std::unexpected(image_uid.error());
      uid = *image_uid;
      if (!uid) {
        return Fail(ErrorCode::kFailedPrecondition,
                    "container has runAsNonRoot and image has non-numeric user (" + image_user +
                        "), cannot verify user is non-root");
      }
    }
    if (*uid == 0) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "container has runAsNonRoot and image will run as root");
    }
  }
  return out;
}

void ResolveLocalhostSeccomp(std::optional<SecurityProfile>& profile, const std::string& root) {
  constexpr int kLocalhost = 2;
  if (!profile || profile->profile_type != kLocalhost) return;
  profile->localhost_ref = root + "/" + profile->localhost_ref;
}

// ---- Volumes
// --------------------------------------------------------------------------------------

namespace {

bool IsMountPoint(const std::string& path) {
  struct stat self {
  }, parent{};
  if (::stat(path.c_str(), &self) != 0) return false;
  std::string up = fs::path(path).parent_path();
  if (::stat(up.c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

Status EnsureTmpfs(const std::string& dir, const std::optional<Quantity>& size) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return FailErrno("create " + dir, ec.value());
  if (IsMountPoint(dir)) return Ok();
  std::string options = "mode=0777";
  if (size && size->value > 0) options += ",size=" + std::to_string(size->value);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return FailErrno("mount tmpfs on " + dir);
  }
  return Ok();
}

Status CheckHostPath(const HostPathVolume& hp) {
  struct stat st {};
  bool exists = ::stat(hp.path.c_str(), &st) == 0;
  auto fail = [&](const std::string& what) {
    return Fail(ErrorCode::kFailedPrecondition,
                "hostPath type check failed: " + hp.path + " " + what);
  };
  const std::string& t = hp.type;
  if (t.empty()) return Ok();
  if (t == "DirectoryOrCreate") {
    if (exists) return S_ISDIR(st.st_mode) ? Status(Ok()) : fail("is not a directory");
    std::error_code ec;
    fs::create_directories(hp.path, ec);
    if (ec) return FailErrno("create hostPath " + hp.path, ec.value());
    ::chmod(hp.path.c_str(), 0755);
    return Ok();
  }
  if (t == "FileOrCreate") {
    if (exists) return S_ISREG(st.st_mode) ? Status(Ok()) : fail("is not a file");
    int fd = ::open(hp.path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return FailErrno("create hostPath " + hp.path);
    ::close(fd);
    return Ok();
  }
  if (!exists) return fail("does not exist");
  if (t == "Directory" && !S_ISDIR(st.st_mode)) return fail("is not a directory");
  if (t == "File" && !S_ISREG(st.st_mode)) return fail("is not a file");
  if (t == "Socket" && !S_ISSOCK(st.st_mode)) return fail("is not a socket");
  if (t == "CharDevice" && !S_ISCHR(st.st_mode)) return fail("is not a character device");
  if (t == "BlockDevice" && !S_ISBLK(st.st_mode)) return fail("is not a block device");
  return Ok();
}

// kubelet's SetVolumeOwnership, for fsGroup: group-owned by fsGroup, group-readable (and
// writable unless read-only), directories setgid.
void ApplyFsGroup(const std::string& dir, int64_t gid, bool read_only) {
  auto fix = [&](const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return;
    (void)::chown(p.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid));
    mode_t mode = st.st_mode & 07777;
    mode |= read_only ? S_IRGRP : (S_IRGRP | S_IWGRP);
    if (S_ISDIR(st.st_mode)) mode |= S_ISGID | S_IXGRP;
    ::chmod(p.c_str(), mode);
  };
  fix(dir);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fix(it->path());
  }
}

// The files of a configMap/secret volume: every key, or just the listed items.
Result<std::map<std::string, std::string>> ProjectKeys(
    const std::map<std::string, std::string>& data, const std::vector<KeyToPath>& items,
    const std::string& what, std::map<std::string, int32_t>& item_modes) {
  std::map<std::string, std::string> files;
  if (items.empty()) return data;
  for (const auto& item : items) {
    auto it = data.find(item.key);
    if (it == data.end()) {
      return Fail(ErrorCode::kNotFound, "configure " + what + ": key " + item.key + " not found");
    }
    files[item.path] = it->second;
    if (item.mode) item_modes[item.path] = *item.mode;
  }
  return files;
}

Status WriteProjected(const std::string& dir, const std::map<std::string, std::string>& files,
                      int32_t mode, const std::map<std::string, int32_t>& item_modes) {
  if (auto s = WriteAtomicVolume(dir, files, mode); !s) return s;
  for (const auto& [path, m] : item_modes) {
    std::string file = dir + "/" + path;
    if (::chmod(file.c_str(), static_cast<mode_t>(m)) != 0) return FailErrno("chmod " + file);
  }
  return Ok();
}

// The files of a downwardAPI volume or projection, each with its mode.
Status AddDownwardApiFiles(const Pod& pod, const PodRuntimeInfo& info,
                           const DownwardApiVolume& downward, int32_t default_mode,
                           std::map<std::string, VolumeFile>& files) {
  for (const DownwardApiFile& item : downward.items) {
    Result<std::string> value = std::string();
    if (item.field_ref) {
      value = FieldValue(pod, info, item.field_ref->field_path);
    } else if (item.resource_field_ref && !pod.spec.containers.empty()) {
      value = ResourceFieldValue(pod, pod.spec.containers.front(), *item.resource_field_ref);
    }
    if (!value) return std::unexpected(std::move(value.error()));
    files[item.path] = VolumeFile{std::move(*value), item.mode.value_or(default_mode)};
  }
  return Ok();
}

// The keys of a ConfigMap's or Secret's data as files: every key, or just the listed items (a
// listed key that is missing fails unless the source is optional, as kubelet's projection).
Status AddKeyFiles(const std::map<std::string, std::string>& data,
                   const std::vector<KeyToPath>& items, bool optional, const std::string& what,
                   int32_t default_mode, std::map<std::string, VolumeFile>& files) {
  if (items.empty()) {
    for (const auto& [key, value] : data) files[key] = VolumeFile{value, default_mode};
    return Ok();
  }
  for (const auto& item : items) {
    auto it = data.find(item.key);
    if (it == data.end()) {
      if (optional) continue;
      return Fail(ErrorCode::kNotFound, "configure " + what + ": key " + item.key + " not found");
    }
    files[item.path] = VolumeFile{it->second, item.mode.value_or(default_mode)};
  }
  return Ok();
}

Result<std::map<std::string, VolumeFile>> ProjectedFiles(const Pod& pod, const PodRuntimeInfo& info,
                                                         const ProjectedVolume& projected,
                                                         const ConfigObjects& objects,
                                                         const std::string& what) {
  const std::string& ns = pod.metadata.namespace_;
  int32_t mode = projected.default_mode.value_or(0644);
  std::map<std::string, VolumeFile> files;
  for (const auto& source : projected.sources) {
    Status added = Ok();
    if (const auto* cmv = std::get_if<ConfigMapVolume>(&source)) {
      const ConfigMap* cm = objects.FindConfigMap(ns, cmv->name);
      if (!cm && !cmv->optional) {
        return Fail(ErrorCode::kNotFound, "MountVolume.SetUp failed for " + what +
                                              ": configmap \"" + cmv->name + "\" not found");
      }
      if (cm) {
        std::map<std::string, std::string> data = cm->data;
        for (const auto& [k, v] : cm->binary_data) data[k] = v;
        added = AddKeyFiles(data, cmv->items, cmv->optional, what, mode, files);
      }
    } else if (const auto* sv = std::get_if<SecretVolume>(&source)) {
      const Secret* secret = objects.FindSecret(ns, sv->secret_name);
      if (!secret && !sv->optional) {
        return Fail(ErrorCode::kNotFound, "MountVolume.SetUp failed for " + what + ": secret \"" +
                                              sv->secret_name + "\" not found");
      }
      if (secret) added = AddKeyFiles(secret->data, sv->items, sv->optional, what, mode, files);
    } else if (const auto* downward = std::get_if<DownwardApiVolume>(&source)) {
      added = AddDownwardApiFiles(pod, info, *downward, mode, files);
    }
    if (!added) return std::unexpected(std::move(added.error()));
  }
  return files;
}

}  // namespace

Result<std::map<std::string, std::string>> SetUpVolumes(const Pod& pod, const PodPaths& paths,
                                                        const ConfigObjects& objects,
                                                        const PodRuntimeInfo& info) {
  std::map<std::string, std::string> result;
  const std::string& ns = pod.metadata.namespace_;
  std::optional<int64_t> fs_group;
  if (pod.spec.security_context) fs_group = pod.spec.security_context->fs_group;
  for (const auto& volume : pod.spec.volumes) {
    std::string dir = paths.VolumeDir(volume.name);
    std::string what = "volume \"" + volume.name + "\"";
    std::error_code ec;
    if (const auto* ed = std::get_if<EmptyDirVolume>(&volume.source_)) {
      if (ed->medium == "Memory") {
        if (auto s = EnsureTmpfs(dir, ed->size_limit); !s)
          return std::unexpected(std::move(s.error()).Context(what));
      } else {
        fs::create_directories(dir, ec);
        if (ec) return FailErrno("create " + dir, ec.value());
      }
      ::chmod(dir.c_str(), 0777);  // kubelet's emptyDir mode: every user of the pod may write
      if (fs_group) ApplyFsGroup(dir, *fs_group, false);
      result[volume.name] = dir;
    } else if (const auto* hp = std::get_if<HostPathVolume>(&volume.source_)) {
      if (auto s = CheckHostPath(*hp); !s)
        return std::unexpected(std::move(s.error()).Context(what));
      result[volume.name] = hp->path;
    } else if (const auto* cmv = std::get_if<ConfigMapVolume>(&volume.source_)) {
      const ConfigMap* cm = objects.FindConfigMap(ns, cmv->name);
      std::map<std::string, std::string> data;
      if (cm) {
        data = cm->data;
        for (const auto& [k, v] : cm->binary_data) data[k] = v;
      } else if (!cmv->optional) {
        return Fail(ErrorCode::kNotFound, "MountVolume.SetUp failed for " + what +
                                              ": configmap \"" + cmv->name + "\" not found");
      }
      std::map<std::string, int32_t> item_modes;
      auto files = ProjectKeys(data, cm ? cmv->items : std::vector<KeyToPath>{}, what, item_modes);
      if (!files) return std::unexpected(std::move(files.error()));
      fs::create_directories(dir, ec);
      if (auto s = WriteProjected(dir, *files, cmv->default_mode.value_or(0644), item_modes); !s) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
      if (fs_group) ApplyFsGroup(dir, *fs_group, true);
      result[volume.name] = dir;
    } else if (const auto* sv = std::get_if<SecretVolume>(&volume.source_)) {
      const Secret* secret = objects.FindSecret(ns, sv->secret_name);
      if (!secret && !sv->optional) {
        return Fail(ErrorCode::kNotFound, "MountVolume.SetUp failed for " + what + ": secret \"" +
                                              sv->secret_name + "\" not found");
      }
      // Secrets live in memory only, as kubelet keeps them.
      if (auto s = EnsureTmpfs(dir, std::nullopt); !s)
        return std::unexpected(std::move(s.error()).Context(what));
      ::chmod(dir.c_str(), 01777);
      std::map<std::string, int32_t> item_modes;
      auto files = ProjectKeys(secret ? secret->data : std::map<std::string, std::string>{},
                               secret ? sv->items : std::vector<KeyToPath>{}, what, item_modes);
      if (!files) return std::unexpected(std::move(files.error()));
      if (auto s = WriteProjected(dir, *files, sv->default_mode.value_or(0644), item_modes); !s) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
      if (fs_group) ApplyFsGroup(dir, *fs_group, true);
      result[volume.name] = dir;
    } else if (const auto* dv = std::get_if<DownwardApiVolume>(&volume.source_)) {
      std::map<std::string, VolumeFile> files;
      if (auto s = AddDownwardApiFiles(pod, info, *dv, dv->default_mode.value_or(0644), files);
          !s) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
      fs::create_directories(dir, ec);
      if (ec) return FailErrno("create " + dir, ec.value());
      if (auto s = WriteAtomicVolumeFiles(dir, files, fs_group); !s) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
      result[volume.name] = dir;
    } else if (const auto* pv = std::get_if<ProjectedVolume>(&volume.source_)) {
      auto files = ProjectedFiles(pod, info, *pv, objects, what);
      if (!files) return std::unexpected(std::move(files.error()));
      // A projection may hold secrets: in memory only, as kubelet keeps them.
      if (auto s = EnsureTmpfs(dir, std::nullopt); !s)
        return std::unexpected(std::move(s.error()).Context(what));
      ::chmod(dir.c_str(), 01777);
      if (auto s = WriteAtomicVolumeFiles(dir, *files, fs_group); !s) {
        return std::unexpected(std::move(s.error()).Context(what));
      }
      result[volume.name] = dir;
    } else if (std::holds_alternative<ImageVolume>(volume.source_)) {
      // Nothing on the pod's side: the runtime mounts the image for each container using it.
      result[volume.name] = "";
    }
  }
  return result;
}

Status TearDownVolumes(const PodPaths& paths) {
  std::error_code ec;
  std::string volumes = paths.root + "/volumes";
  for (auto it = fs::directory_iterator(volumes, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (IsMountPoint(it->path())) {
      if (::umount2(it->path().c_str(), MNT_DETACH) != 0) {
        return FailErrno("unmount " + it->path().string());
      }
    }
  }
  fs::remove_all(paths.root, ec);
  if (ec) return FailErrno("remove " + paths.root, ec.value());
  return Ok();
}

Result<std::vector<Mount>> ContainerMounts(const Pod& pod, const Container& container,
                                           const std::map<std::string, std::string>& volume_paths,
                                           const std::string& termination_file,
                                           const std::string& hosts_file,
                                           const std::map<std::string, std::string>& env) {
  std::vector<Mount> mounts;
  for (const auto& vm : container.volume_mounts) {
    auto it = volume_paths.find(vm.name);
    if (it == volume_paths.end()) {
      return Fail(ErrorCode::kInvalidArgument, "volumeMount " + vm.name + ": no such volume");
    }
    bool projected = false;
    const ImageVolume* image = nullptr;
    for (const auto& v : pod.spec.volumes) {
      if (v.name == vm.name) {
        image = std::get_if<ImageVolume>(&v.source_);
        projected = std::holds_alternative<ConfigMapVolume>(v.source_) ||
                    std::holds_alternative<SecretVolume>(v.source_) ||
                    std::holds_alternative<DownwardApiVolume>(v.source_) ||
                    std::holds_alternative<ProjectedVolume>(v.source_);
      }
    }
    Mount m;
    m.container_path = vm.mount_path;
    m.host_path = it->second;
    // configMap and secret volumes are always read-only, as kubelet mounts them.
    m.readonly = vm.read_only || projected;
    if (vm.mount_propagation == "HostToContainer")
      m.propagation = MountPropagation::kHostToContainer;
    if (vm.mount_propagation == "Bidirectional") m.propagation = MountPropagation::kBidirectional;
    // As kubelet: Enabled asks for recursive read-only (the manifest reader made sure it can
    // be), IfPossible takes it where the mount is read-only and private, else a plain read-only
    // mount. peapod's runtime always can (mount_setattr, Linux 5.12, which it needs anyway).
    m.recursive_read_only =
        m.readonly && m.propagation == MountPropagation::kPrivate &&
        (vm.recursive_read_only == "Enabled" || vm.recursive_read_only == "IfPossible");
    std::string sub_path = vm.sub_path;
    if (!vm.sub_path_expr.empty()) {
      auto expanded = ExpandSubPathExpr(vm.sub_path_expr, env);
      if (!expanded) return std::unexpected(std::move(expanded.error()));
      sub_path = *expanded;
    }
    if (image) {
      // The runtime resolves the sub path inside the image (CRI image_sub_path) and mounts it
      // read-only, as kubelet asks for every image volume.
      m.host_path.clear();
      m.image.emplace();
      m.image->image = image->reference;
      m.image_sub_path = sub_path;
      m.readonly = true;
      m.recursive_read_only =
          m.propagation == MountPropagation::kPrivate &&
          (vm.recursive_read_only == "Enabled" || vm.recursive_read_only == "IfPossible");
      mounts.push_back(std::move(m));
      continue;
    }
    if (!sub_path.empty()) {
      fs::path sub = fs::path(sub_path).lexically_normal();
      if (sub.is_absolute() || sub.empty() || *sub.begin() == "..") {
        return Fail(ErrorCode::kInvalidArgument,
                    "subPath " + sub_path + " must stay inside the volume");
      }
      fs::path base = fs::weakly_canonical(it->second);
      fs::path full = base / sub;
      std::error_code ec;
      if (!fs::exists(full, ec) && !projected) {
        fs::create_directories(full, ec);  // kubelet creates a missing subPath as a directory
        ::chmod(full.c_str(), 0777);
      }
      // A symlink inside the volume must not lead the mount out of it.
      fs::path resolved = fs::weakly_canonical(full, ec);
      auto rel = resolved.lexically_relative(base);
      if (ec || rel.empty() || *rel.begin() == "..") {
        return Fail(ErrorCode::kInvalidArgument,
                    "subPath " + sub_path + " resolves outside of volume " + vm.name);
      }
      m.host_path = resolved;
    }
    mounts.push_back(std::move(m));
  }
  if (!termination_file.empty() && !container.termination_message_path.empty()) {
    Mount m;
    m.container_path = container.termination_message_path;
    m.host_path = termination_file;
    mounts.push_back(std::move(m));
  }
  if (!hosts_file.empty()) {
    bool user_mounted = std::any_of(mounts.begin(), mounts.end(), [](const Mount& m) {
      return m.container_path == "/etc/hosts";
    });
    if (!user_mounted) {
      Mount m;
      m.container_path = "/etc/hosts";
      m.host_path = hosts_file;
      mounts.push_back(std::move(m));
    }
  }
  return mounts;
}

// ---- Sandbox
// --------------------------------------------------------------------------------------

std::string PodHostname(const Pod& pod) {
  std::string h = pod.spec.hostname.empty() ? pod.metadata.name : pod.spec.hostname;
  if (h.size() > 63) h.resize(63);
  while (!h.empty() && (h.back() == '-' || h.back() == '.')) h.pop_back();
  return h;
}

bool NeedsOwnHostsFile(const Pod& pod) {
  return !pod.spec.host_aliases.empty() || !pod.spec.subdomain.empty();
}

std::string BuildPodHostsFile(const Pod& pod, const std::vector<std::string>& ips,
                              const std::string& node_hosts) {
  std::string text;
  if (pod.spec.host_network) {
    text = node_hosts;
    if (!text.empty() && text.back() != '\n') text += '\n';
  } else {
    text =
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n";
    std::string hostname = PodHostname(pod);
    for (const auto& ip : ips) {
      if (pod.spec.subdomain.empty()) {
        text += ip + "\t" + hostname + "\n";
      } else {
        text += ip + "\t" + hostname + "." + pod.spec.subdomain + "." + pod.metadata.namespace_ +
                ".svc.cluster.local\t" + hostname + "\n";
      }
    }
  }
  if (!pod.spec.host_aliases.empty()) {
    text += "\n# Entries added by HostAliases.\n";
    for (const auto& alias : pod.spec.host_aliases) {
      text += alias.ip;
      for (const auto& name : alias.hostnames) text += "\t" + name;
      text += "\n";
    }
  }
  return text;
}

namespace {

DNSConfig ParseResolvConf(const std::string& text) {
  DNSConfig dns;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, word;
    words >> key;
    if (key == "nameserver") {
      if (words >> word) dns.servers.push_back(word);
    } else if (key == "search" || key == "domain") {
      dns.searches.clear();
      while (words >> word) dns.searches.push_back(word);
    } else if (key == "options") {
      while (words >> word) dns.options.push_back(word);
    }
  }
  return dns;
}

void AppendUnique(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& v : from) {
    if (std::find(to.begin(), to.end(), v) == to.end()) to.push_back(v);
  }
}

}  // namespace

PodSandboxConfig BuildSandboxConfig(const Pod& pod, const std::string& uid, uint32_t attempt,
                                    const std::string& log_directory,
                                    const std::string& node_resolv_conf) {
  PodSandboxConfig c;
  c.metadata = {pod.metadata.name, uid, pod.metadata.namespace_, attempt};
  c.hostname = PodHostname(pod);
  c.log_directory = log_directory;
  c.labels = pod.metadata.labels;
  c.labels[kLabelPodName] = pod.metadata.name;
  c.labels[kLabelPodNamespace] = pod.metadata.namespace_;
  c.labels[kLabelPodUid] = uid;
  c.labels[kLabelManaged] = "true";
  c.annotations = pod.metadata.annotations;
  c.linux.resources = PodLevelResources(pod);

  // There is no cluster DNS on a single node: ClusterFirst falls back to the node's resolver,
  // as kubelet does without --cluster-dns. dnsConfig is merged on top; None uses only it.
  DNSConfig dns;
  if (pod.spec.dns_policy != "None") dns = ParseResolvConf(node_resolv_conf);
  if (pod.spec.dns_config) {
    AppendUnique(dns.servers, pod.spec.dns_config->nameservers);
    AppendUnique(dns.searches, pod.spec.dns_config->searches);
    for (const auto& o : pod.spec.dns_config->options) {
      std::string opt = o.name + (o.value ? ":" + *o.value : "");
      std::string prefix = o.name;
      std::erase_if(dns.options, [&](const std::string& existing) {
        return existing == prefix || existing.starts_with(prefix + ":");
      });
      dns.options.push_back(opt);
    }
  }
  if (pod.spec.dns_policy == "None" || pod.spec.dns_config) c.dns_config = dns;

  for (const auto* list : {&pod.spec.init_containers, &pod.spec.containers}) {
    for (const auto& container : *list) {
      for (const auto& port : container.ports) {
        if (port.host_port <= 0) continue;
        PortMapping pm;
        pm.protocol = port.protocol == "UDP"    ? Protocol::kUdp
                      : port.protocol == "SCTP" ? Protocol::kSctp
                                                : Protocol::kTcp;
        pm.container_port = port.container_port;
        pm.host_port = port.host_port;
        pm.host_ip = port.host_ip;
        c.port_mappings.push_back(pm);
      }
    }
  }

  auto& sc = c.linux.security_context;
  sc.namespace_options.network = pod.spec.host_network ? NamespaceMode::kNode : NamespaceMode::kPod;
  sc.namespace_options.ipc = pod.spec.host_ipc ? NamespaceMode::kNode : NamespaceMode::kPod;
  sc.namespace_options.pid = pod.spec.host_pid                  ? NamespaceMode::kNode
                             : pod.spec.share_process_namespace ? NamespaceMode::kPod
                                                                : NamespaceMode::kContainer;
  if (const auto& psc = pod.spec.security_context) {
    sc.run_as_user = psc->run_as_user;
    // pause runs as root whatever the pod says, and a group without a user is refused (as
    // containerd refuses it), so a pod that names only a group still starts: the group goes to
    // its containers, each with the image's user.
    if (psc->run_as_user) sc.run_as_group = psc->run_as_group;
    sc.supplemental_groups = psc->supplemental_groups;
    if (psc->fs_group) sc.supplemental_groups.push_back(*psc->fs_group);
    if (psc->supplemental_groups_policy == "Strict") {
      sc.supplemental_groups_policy = SupplementalGroupsPolicy::kStrict;
    }
    sc.seccomp = ConvertSeccomp(psc->seccomp_profile);
    for (const auto& s : psc->sysctls) c.linux.sysctls[s.name] = s.value;
  }
  return c;
}

}  // namespace peapod::agent::controller
