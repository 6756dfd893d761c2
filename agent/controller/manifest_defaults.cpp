// What the API server adds to a pod (defaults), quantities, and the spec hash the controller
// compares to tell a re-apply of the same pod from a changed one.
#include <cctype>
#include <nlohmann/json.hpp>

#include "peapod/agent/controller/manifest.h"
#include "peapod/image/digest.h"
#include "peapod/parse.h"

namespace peapod::agent::controller {
namespace {

// kubelet's rule (pkg/apis/core/v1/defaults.go): pull always for ":latest" or no tag at all;
// a digest without a tag counts as pinned.
std::string DefaultPullPolicy(const std::string& image) {
  std::string ref = image;
  size_t at = ref.find('@');
  bool has_digest = at != std::string::npos;
  if (has_digest) ref.resize(at);
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  if (!has_tag) return has_digest ? "IfNotPresent" : "Always";
  return ref.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void DefaultHandler(Handler& handler) {
  if (auto* http = std::get_if<HttpGetAction>(&handler)) {
    if (http->path.empty()) http->path = "/";
    if (http->scheme.empty()) http->scheme = "HTTP";
  }
}

// 0 in a probe field means "unset" in the v1 API; the API server then fills Kubernetes' value.
void DefaultProbe(std::optional<Probe>& probe) {
  if (!probe) return;
  if (probe->timeout_seconds == 0) probe->timeout_seconds = 1;
  if (probe->period_seconds == 0) probe->period_seconds = 10;
  if (probe->success_threshold == 0) probe->success_threshold = 1;
  if (probe->failure_threshold == 0) probe->failure_threshold = 3;
  DefaultHandler(probe->handler);
}

void DefaultContainer(Container& c) {
  if (c.image_pull_policy.empty()) c.image_pull_policy = DefaultPullPolicy(c.image);
  for (ContainerPort& port : c.ports) {
    if (port.protocol.empty()) port.protocol = "TCP";
  }
  DefaultProbe(c.liveness_probe);
  DefaultProbe(c.readiness_probe);
  DefaultProbe(c.startup_probe);
  if (c.lifecycle) {
    DefaultHandler(c.lifecycle->post_start);
    DefaultHandler(c.lifecycle->pre_stop);
  }
  if (c.termination_message_path.empty()) c.termination_message_path = "/dev/termination-log";
  if (c.termination_message_policy.empty()) c.termination_message_policy = "File";
}

// ---- canonical form for the hash ----------------------------------------------------------

using nlohmann::json;

template <typename T>
json Opt(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json PortJson(const std::variant<int32_t, std::string>& port) {
  if (const int32_t* number = std::get_if<int32_t>(&port)) return *number;
  return std::get<std::string>(port);
}

json HandlerJson(const Handler& handler) {
  struct Visitor {
    json operator()(std::monostate) const { return nullptr; }
    json operator()(const ExecAction& a) const { return {{"exec", a.command}}; }
    json operator()(const HttpGetAction& a) const {
      json headers = json::array();
      for (const HttpHeader& h : a.http_headers) headers.push_back({h.name, h.value});
      return {{"httpGet",
               {{"path", a.path},
                {"port", PortJson(a.port)},
                {"host", a.host},
                {"scheme", a.scheme},
                {"headers", headers}}}};
    }
    json operator()(const TcpSocketAction& a) const {
      return {{"tcpSocket", {{"port", PortJson(a.port)}, {"host", a.host}}}};
    }
    json operator()(const GrpcAction& a) const {
      return {{"grpc", {{"port", a.port}, {"service", a.service}}}};
    }
    json operator()(const SleepAction& a) const { return {{"sleep", a.seconds}}; }
  };
  return std::visit(Visitor{}, handler);
}

json ProbeJson(const std::optional<Probe>& probe) {
  if (!probe) return nullptr;
  return {{"handler", HandlerJson(probe->handler)},
          {"initialDelaySeconds", probe->initial_delay_seconds},
          {"timeoutSeconds", probe->timeout_seconds},
          {"periodSeconds", probe->period_seconds},
          {"successThreshold", probe->success_threshold},
          {"failureThreshold", probe->failure_threshold},
          {"terminationGracePeriodSeconds", Opt(probe->termination_grace_period_seconds)}};
}

json SelectorJson(const std::optional<KeySelector>& s) {
  if (!s) return nullptr;
  return {{"name", s->name}, {"key", s->key}, {"optional", s->optional}};
}

json QuantitiesJson(const std::map<std::string, Quantity>& quantities) {
  json out = json::object();
  // The value, not the text: "0.5" and "500m" are the same cpu.
  for (const auto& [name, q] : quantities) out[name] = q.value;
  return out;
}

json SeccompJson(const std::optional<SeccompProfile>& p) {
  if (!p) return nullptr;
  return {{"type", p->type}, {"localhostProfile", p->localhost_profile}};
}

json ContainerJson(const Container& c) {
  json env = json::array();
  for (const EnvVar& e : c.env) {
    json ref = nullptr;
    if (e.field_ref) ref = e.field_ref->field_path;
    json resource = nullptr;
    if (e.resource_field_ref) {
      resource = {e.resource_field_ref->container_name, e.resource_field_ref->resource,
                  e.resource_field_ref->divisor};
    }
    env.push_back({{"name", e.name},
                   {"value", Opt(e.value)},
                   {"configMapKeyRef", SelectorJson(e.config_map_key_ref)},
                   {"secretKeyRef", SelectorJson(e.secret_key_ref)},
                   {"fieldRef", ref},
                   {"resourceFieldRef", resource}});
  }
  json env_from = json::array();
  for (const EnvFromSource& e : c.env_from) {
    env_from.push_back({{"prefix", e.prefix},
                        {"configMapRef", SelectorJson(e.config_map_ref)},
                        {"secretRef", SelectorJson(e.secret_ref)}});
  }
  json ports = json::array();
  for (const ContainerPort& p : c.ports) {
    ports.push_back({p.name, p.container_port, p.host_port, p.host_ip, p.protocol});
  }
  json mounts = json::array();
  for (const VolumeMount& m : c.volume_mounts) {
    json mount = {m.name, m.mount_path, m.sub_path, m.read_only, m.mount_propagation};
    // Appended only when set, so the hash of a pod without it is what it was before.
    if (!m.sub_path_expr.empty()) mount.push_back({{"subPathExpr", m.sub_path_expr}});
    if (!m.recursive_read_only.empty()) mount.push_back(m.recursive_read_only);
    mounts.push_back(std::move(mount));
  }
  json lifecycle = nullptr;
  if (c.lifecycle) {
    lifecycle = {{"postStart", HandlerJson(c.lifecycle->post_start)},
                 {"preStop", HandlerJson(c.lifecycle->pre_stop)}};
    if (!c.lifecycle->stop_signal.empty()) lifecycle["stopSignal"] = c.lifecycle->stop_signal;
  }
  json security = nullptr;
  if (const auto& sc = c.security_context) {
    json caps = nullptr;
    if (sc->capabilities) caps = {{"add", sc->capabilities->add}, {"drop", sc->capabilities->drop}};
    security = {{"runAsUser", Opt(sc->run_as_user)},
                {"runAsGroup", Opt(sc->run_as_group)},
                {"runAsNonRoot", Opt(sc->run_as_non_root)},
                {"readOnlyRootFilesystem", Opt(sc->read_only_root_filesystem)},
                {"privileged", Opt(sc->privileged)},
                {"allowPrivilegeEscalation", Opt(sc->allow_privilege_escalation)},
                {"capabilities", caps},
                {"seccompProfile", SeccompJson(sc->seccomp_profile)}};
  }
  json out = {{"name", c.name},
              {"image", c.image},
              {"imagePullPolicy", c.image_pull_policy},
              {"command", c.command},
              {"args", c.args},
              {"workingDir", c.working_dir},
              {"env", env},
              {"envFrom", env_from},
              {"ports", ports},
              {"requests", QuantitiesJson(c.resources.requests)},
              {"limits", QuantitiesJson(c.resources.limits)},
              {"volumeMounts", mounts},
              {"livenessProbe", ProbeJson(c.liveness_probe)},
              {"readinessProbe", ProbeJson(c.readiness_probe)},
              {"startupProbe", ProbeJson(c.startup_probe)},
              {"lifecycle", lifecycle},
              {"securityContext", security},
              {"restartPolicy", Opt(c.restart_policy)},
              {"terminationMessagePath", c.termination_message_path},
              {"terminationMessagePolicy", c.termination_message_policy},
              {"stdin", c.stdin},
              {"stdinOnce", c.stdin_once},
              {"tty", c.tty}};
  // Only when set, so that the hash of every pod written before KEP-5307 stays what it was.
  if (!c.restart_policy_rules.empty()) {
    json rules = json::array();
    for (const auto& rule : c.restart_policy_rules) {
      rules.push_back(
          {{"action", rule.action},
           {"exitCodes",
            {{"operator", rule.exit_codes_operator}, {"values", rule.exit_codes_values}}}});
    }
    out["restartPolicyRules"] = std::move(rules);
  }
  return out;
}

// ContainerJson plus the fields added since hashes were first kept, each only when set, so the
// hash of a pod without them is what it was before.
json ContainerHashJson(const Container& c) {
  json out = ContainerJson(c);
  for (const ContainerResizePolicy& p : c.resize_policy) {
    out["resizePolicy"].push_back({p.resource_name, p.restart_policy});
  }
  return out;
}

json ItemsJson(const std::vector<KeyToPath>& items) {
  json out = json::array();
  for (const KeyToPath& i : items) out.push_back({i.key, i.path, Opt(i.mode)});
  return out;
}

json DownwardItemsJson(const std::vector<DownwardApiFile>& items) {
  json out = json::array();
  for (const DownwardApiFile& i : items) {
    json field = nullptr, resource = nullptr;
    if (i.field_ref) field = i.field_ref->field_path;
    if (i.resource_field_ref) {
      const ResourceFieldRef& r = *i.resource_field_ref;
      resource = {r.container_name, r.resource, r.divisor};
    }
    out.push_back({i.path, field, resource, Opt(i.mode)});
  }
  return out;
}

json VolumeJson(const Volume& v) {
  struct Visitor {
    json operator()(const DownwardApiVolume& s) const {
      return {{"downwardAPI",
               {{"items", DownwardItemsJson(s.items)}, {"defaultMode", Opt(s.default_mode)}}}};
    }
    json operator()(const ProjectedVolume& s) const {
      json sources = json::array();
      for (const auto& source : s.sources) {
        if (const auto* cm = std::get_if<ConfigMapVolume>(&source)) {
          sources.push_back({{"configMap",
                              {{"name", cm->name},
                               {"items", ItemsJson(cm->items)},
                               {"optional", cm->optional}}}});
        } else if (const auto* secret = std::get_if<SecretVolume>(&source)) {
          sources.push_back({{"secret",
                              {{"name", secret->secret_name},
                               {"items", ItemsJson(secret->items)},
                               {"optional", secret->optional}}}});
        } else if (const auto* downward = std::get_if<DownwardApiVolume>(&source)) {
          sources.push_back({{"downwardAPI", {{"items", DownwardItemsJson(downward->items)}}}});
        }
      }
      return {{"projected", {{"sources", sources}, {"defaultMode", Opt(s.default_mode)}}}};
    }
    json operator()(const EmptyDirVolume& s) const {
      json size = nullptr;
      if (s.size_limit) size = s.size_limit->value;
      return {{"emptyDir", {{"medium", s.medium}, {"sizeLimit", size}}}};
    }
    json operator()(const ImageVolume& s) const {
      return {{"image", {{"reference", s.reference}, {"pullPolicy", s.pull_policy}}}};
    }
    json operator()(const HostPathVolume& s) const {
      return {{"hostPath", {{"path", s.path}, {"type", s.type}}}};
    }
    json operator()(const ConfigMapVolume& s) const {
      return {{"configMap",
               {{"name", s.name},
                {"items", ItemsJson(s.items)},
                {"defaultMode", Opt(s.default_mode)},
                {"optional", s.optional}}}};
    }
    json operator()(const SecretVolume& s) const {
      return {{"secret",
               {{"secretName", s.secret_name},
                {"items", ItemsJson(s.items)},
                {"defaultMode", Opt(s.default_mode)},
                {"optional", s.optional}}}};
    }
  };
  return {{"name", v.name}, {"source", std::visit(Visitor{}, v.source_)}};
}

json PodJson(const Pod& pod) {
  const PodSpec& s = pod.spec;
  json init = json::array();
  for (const Container& c : s.init_containers) init.push_back(ContainerHashJson(c));
  json containers = json::array();
  for (const Container& c : s.containers) containers.push_back(ContainerHashJson(c));
  json volumes = json::array();
  for (const Volume& v : s.volumes) volumes.push_back(VolumeJson(v));
  json dns = nullptr;
  if (s.dns_config) {
    json options = json::array();
    for (const auto& o : s.dns_config->options) options.push_back({o.name, Opt(o.value)});
    dns = {{"nameservers", s.dns_config->nameservers},
           {"searches", s.dns_config->searches},
           {"options", options}};
  }
  json aliases = json::array();
  for (const HostAlias& a : s.host_aliases) aliases.push_back({a.ip, a.hostnames});
  json security = nullptr;
  if (const auto& sc = s.security_context) {
    json sysctls = json::array();
    for (const Sysctl& x : sc->sysctls) sysctls.push_back({x.name, x.value});
    security = {{"runAsUser", Opt(sc->run_as_user)},
                {"runAsGroup", Opt(sc->run_as_group)},
                {"runAsNonRoot", Opt(sc->run_as_non_root)},
                {"fsGroup", Opt(sc->fs_group)},
                {"supplementalGroups", sc->supplemental_groups},
                {"seccompProfile", SeccompJson(sc->seccomp_profile)},
                {"sysctls", sysctls}};
    if (!sc->supplemental_groups_policy.empty()) {
      security["supplementalGroupsPolicy"] = sc->supplemental_groups_policy;
    }
  }
  // uid is peapod's own (assigned at first apply), so it is not part of what the user wrote.
  json out = {{"metadata",
               {{"name", pod.metadata.name},
                {"namespace", pod.metadata.namespace_},
                {"labels", pod.metadata.labels},
                {"annotations", pod.metadata.annotations}}},
              {"spec",
               {{"initContainers", init},
                {"containers", containers},
                {"volumes", volumes},
                {"restartPolicy", s.restart_policy},
                {"terminationGracePeriodSeconds", Opt(s.termination_grace_period_seconds)},
                {"shareProcessNamespace", s.share_process_namespace},
                {"hostNetwork", s.host_network},
                {"hostPID", s.host_pid},
                {"hostIPC", s.host_ipc},
                {"hostname", s.hostname},
                {"subdomain", s.subdomain},
                {"dnsPolicy", s.dns_policy},
                {"dnsConfig", dns},
                {"hostAliases", aliases},
                {"securityContext", security},
                {"runtimeClassName", s.runtime_class_name}}}};
  // Appended only when set, so the hash of a pod without it is what it was before.
  if (s.active_deadline_seconds) out["spec"]["activeDeadlineSeconds"] = *s.active_deadline_seconds;
  if (!s.resources.requests.empty() || !s.resources.limits.empty()) {
    out["spec"]["resources"] = {{"requests", QuantitiesJson(s.resources.requests)},
                                {"limits", QuantitiesJson(s.resources.limits)}};
  }
  return out;
}

// Annotations that change how peapod runs the containers: a change to one is a spec change.
bool AnnotationActedOn(const std::string& key) {
  for (std::string_view prefix : {"io.peapod.", "container.apparmor.security.beta.kubernetes.io/",
                                  "seccomp.security.alpha.kubernetes.io/",
                                  "container.seccomp.security.alpha.kubernetes.io/"}) {
    if (key.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

void ApplyDefaults(Pod& pod) {
  if (pod.metadata.namespace_.empty()) pod.metadata.namespace_ = "default";
  PodSpec& spec = pod.spec;
  if (spec.restart_policy.empty()) spec.restart_policy = "Always";
  if (spec.dns_policy.empty()) spec.dns_policy = "ClusterFirst";
  if (!spec.termination_grace_period_seconds) spec.termination_grace_period_seconds = 30;
  for (Container& c : spec.init_containers) DefaultContainer(c);
  for (Container& c : spec.containers) DefaultContainer(c);
  for (Volume& volume : spec.volumes) {
    if (auto* cm = std::get_if<ConfigMapVolume>(&volume.source_)) {
      if (!cm->default_mode) cm->default_mode = 0644;
    }
    if (auto* secret = std::get_if<SecretVolume>(&volume.source_)) {
      if (!secret->default_mode) secret->default_mode = 0644;
    }
    if (auto* image = std::get_if<ImageVolume>(&volume.source_)) {
      if (image->pull_policy.empty()) image->pull_policy = DefaultPullPolicy(image->reference);
    }
  }
}

std::string SpecHash(const Pod& pod) {
  Pod defaulted = pod;
  ApplyDefaults(defaulted);
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  return image::DigestOf(PodJson(defaulted).dump());
}

std::string SpecHashWithoutMetadata(const Pod& pod) {
  Pod defaulted = pod;
  ApplyDefaults(defaulted);
  std::erase_if(defaulted.metadata.annotations,
                [](const auto& kv) { return !AnnotationActedOn(kv.first); });
  defaulted.metadata.labels.clear();
  return image::DigestOf(PodJson(defaulted).dump());
}

std::string SpecHashWithoutResources(const Pod& pod) {
  Pod stripped = pod;
  for (Container& c : stripped.spec.containers) c.resources = {};
  return SpecHashWithoutMetadata(stripped);
}

std::optional<Quantity> ParseQuantity(const std::string& text, bool cpu) {
  auto value = peapod::ParseQuantity(text, cpu ? QuantityScale::kMilli : QuantityScale::kUnits);
  if (!value) return std::nullopt;
  return Quantity{text, *value};
}

}  // namespace peapod::agent::controller
