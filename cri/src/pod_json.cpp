// PodView -> Kubernetes v1 Pod JSON. Field names and shapes are the API server's (camelCase,
// omitted when empty), so the document reads like `kubectl get pod -o json`.
#include "peapod/cri/pod_json.h"

#include <ctime>

namespace peapod::cri {
namespace {

using nlohmann::json;
namespace ctl = agent::controller;

template <typename Map>
void PutMap(json& out, const char* key, const Map& map) {
  if (map.empty()) return;
  json obj = json::object();
  for (const auto& [k, v] : map) obj[k] = v;
  out[key] = obj;
}

void PutString(json& out, const char* key, const std::string& value) {
  if (!value.empty()) out[key] = value;
}

void PutTime(json& out, const char* key, int64_t nanos) {
  if (nanos != 0) out[key] = Rfc3339(nanos);
}

json PortValue(const std::variant<int32_t, std::string>& port) {
  if (const auto* number = std::get_if<int32_t>(&port)) return *number;
  return std::get<std::string>(port);
}

json HandlerToJson(const ctl::Handler& handler) {
  json out = json::object();
  if (const auto* exec = std::get_if<ctl::ExecAction>(&handler)) {
    out["exec"] = {{"command", exec->command}};
  } else if (const auto* http = std::get_if<ctl::HttpGetAction>(&handler)) {
    json get = {{"path", http->path}, {"port", PortValue(http->port)}, {"scheme", http->scheme}};
    PutString(get, "host", http->host);
    out["httpGet"] = get;
  } else if (const auto* tcp = std::get_if<ctl::TcpSocketAction>(&handler)) {
    json socket = {{"port", PortValue(tcp->port)}};
    PutString(socket, "host", tcp->host);
    out["tcpSocket"] = socket;
  } else if (const auto* grpc = std::get_if<ctl::GrpcAction>(&handler)) {
    out["grpc"] = {{"port", grpc->port}, {"service", grpc->service}};
  } else if (const auto* sleep = std::get_if<ctl::SleepAction>(&handler)) {
    out["sleep"] = {{"seconds", sleep->seconds}};
  }
  return out;
}

json ProbeToJson(const ctl::Probe& probe) {
  json out = HandlerToJson(probe.handler);
  out["initialDelaySeconds"] = probe.initial_delay_seconds;
  out["timeoutSeconds"] = probe.timeout_seconds;
  out["periodSeconds"] = probe.period_seconds;
  out["successThreshold"] = probe.success_threshold;
  out["failureThreshold"] = probe.failure_threshold;
  return out;
}

json KeySelectorToJson(const ctl::KeySelector& ref, bool with_key) {
  json out = {{"name", ref.name}};
  if (with_key) out["key"] = ref.key;
  if (ref.optional) out["optional"] = true;
  return out;
}

json EnvToJson(const ctl::EnvVar& env) {
  json out = {{"name", env.name}};
  if (env.value) out["value"] = *env.value;
  json from = json::object();
  if (env.config_map_key_ref)
    from["configMapKeyRef"] = KeySelectorToJson(*env.config_map_key_ref, true);
  if (env.secret_key_ref) from["secretKeyRef"] = KeySelectorToJson(*env.secret_key_ref, true);
  if (env.field_ref) from["fieldRef"] = {{"fieldPath", env.field_ref->field_path}};
  if (env.resource_field_ref) {
    from["resourceFieldRef"] = {{"containerName", env.resource_field_ref->container_name},
                                {"resource", env.resource_field_ref->resource}};
  }
  if (!from.empty()) out["valueFrom"] = from;
  return out;
}

json ResourcesToJson(const ctl::ResourceRequirements& resources) {
  json out = json::object();
  for (const auto& [name, quantity] : resources.requests) out["requests"][name] = quantity.text;
  for (const auto& [name, quantity] : resources.limits) out["limits"][name] = quantity.text;
  return out;
}

json ContainerToJson(const ctl::Container& c) {
  json out = {{"name", c.name}, {"image", c.image}, {"imagePullPolicy", c.image_pull_policy}};
  if (!c.command.empty()) out["command"] = c.command;
  if (!c.args.empty()) out["args"] = c.args;
  PutString(out, "workingDir", c.working_dir);
  if (c.restart_policy) out["restartPolicy"] = *c.restart_policy;
  for (const auto& env : c.env) out["env"].push_back(EnvToJson(env));
  for (const auto& from : c.env_from) {
    json item = json::object();
    PutString(item, "prefix", from.prefix);
    if (from.config_map_ref) item["configMapRef"] = KeySelectorToJson(*from.config_map_ref, false);
    if (from.secret_ref) item["secretRef"] = KeySelectorToJson(*from.secret_ref, false);
    out["envFrom"].push_back(item);
  }
  for (const auto& port : c.ports) {
    json p = {{"containerPort", port.container_port}, {"protocol", port.protocol}};
    PutString(p, "name", port.name);
    if (port.host_port != 0) p["hostPort"] = port.host_port;
    PutString(p, "hostIP", port.host_ip);
    out["ports"].push_back(p);
  }
  out["resources"] = ResourcesToJson(c.resources);
  for (const auto& policy : c.resize_policy) {
    out["resizePolicy"].push_back(
        {{"resourceName", policy.resource_name}, {"restartPolicy", policy.restart_policy}});
  }
  for (const auto& mount : c.volume_mounts) {
    json m = {{"name", mount.name}, {"mountPath", mount.mount_path}};
    if (mount.read_only) m["readOnly"] = true;
    PutString(m, "subPath", mount.sub_path);
    PutString(m, "subPathExpr", mount.sub_path_expr);
    out["volumeMounts"].push_back(m);
  }
  if (c.liveness_probe) out["livenessProbe"] = ProbeToJson(*c.liveness_probe);
  if (c.readiness_probe) out["readinessProbe"] = ProbeToJson(*c.readiness_probe);
  if (c.startup_probe) out["startupProbe"] = ProbeToJson(*c.startup_probe);
  if (c.lifecycle) {
    json hooks = json::object();
    if (!std::holds_alternative<std::monostate>(c.lifecycle->post_start)) {
      hooks["postStart"] = HandlerToJson(c.lifecycle->post_start);
    }
    if (!std::holds_alternative<std::monostate>(c.lifecycle->pre_stop)) {
      hooks["preStop"] = HandlerToJson(c.lifecycle->pre_stop);
    }
    out["lifecycle"] = hooks;
  }
  out["terminationMessagePath"] = c.termination_message_path;
  out["terminationMessagePolicy"] = c.termination_message_policy;
  return out;
}

json ItemsToJson(const std::vector<ctl::KeyToPath>& items) {
  json out = json::array();
  for (const auto& item : items) {
    json i = {{"key", item.key}, {"path", item.path}};
    if (item.mode) i["mode"] = *item.mode;
    out.push_back(i);
  }
  return out;
}

json DownwardItemsToJson(const std::vector<ctl::DownwardApiFile>& items) {
  json out = json::array();
  for (const auto& item : items) {
    json i = {{"path", item.path}};
    if (item.field_ref) i["fieldRef"] = {{"fieldPath", item.field_ref->field_path}};
    if (item.resource_field_ref) {
      json r = {{"resource", item.resource_field_ref->resource}};
      PutString(r, "containerName", item.resource_field_ref->container_name);
      PutString(r, "divisor", item.resource_field_ref->divisor);
      i["resourceFieldRef"] = r;
    }
    if (item.mode) i["mode"] = *item.mode;
    out.push_back(i);
  }
  return out;
}

json VolumeToJson(const ctl::Volume& volume) {
  json out = {{"name", volume.name}};
  if (const auto* dir = std::get_if<ctl::EmptyDirVolume>(&volume.source_)) {
    json e = json::object();
    PutString(e, "medium", dir->medium);
    if (dir->size_limit) e["sizeLimit"] = dir->size_limit->text;
    out["emptyDir"] = e;
  } else if (const auto* host = std::get_if<ctl::HostPathVolume>(&volume.source_)) {
    json h = {{"path", host->path}};
    PutString(h, "type", host->type);
    out["hostPath"] = h;
  } else if (const auto* cm = std::get_if<ctl::ConfigMapVolume>(&volume.source_)) {
    json c = {{"name", cm->name}, {"defaultMode", cm->default_mode.value_or(0644)}};
    if (!cm->items.empty()) c["items"] = ItemsToJson(cm->items);
    if (cm->optional) c["optional"] = true;
    out["configMap"] = c;
  } else if (const auto* secret = std::get_if<ctl::SecretVolume>(&volume.source_)) {
    json s = {{"secretName", secret->secret_name},
              {"defaultMode", secret->default_mode.value_or(0644)}};
    if (!secret->items.empty()) s["items"] = ItemsToJson(secret->items);
    if (secret->optional) s["optional"] = true;
    out["secret"] = s;
  } else if (const auto* downward = std::get_if<ctl::DownwardApiVolume>(&volume.source_)) {
    out["downwardAPI"] = {{"items", DownwardItemsToJson(downward->items)},
                          {"defaultMode", downward->default_mode.value_or(0644)}};
  } else if (const auto* projected = std::get_if<ctl::ProjectedVolume>(&volume.source_)) {
    json sources = json::array();
    for (const auto& source : projected->sources) {
      if (const auto* pcm = std::get_if<ctl::ConfigMapVolume>(&source)) {
        json c = {{"name", pcm->name}};
        if (!pcm->items.empty()) c["items"] = ItemsToJson(pcm->items);
        if (pcm->optional) c["optional"] = true;
        sources.push_back({{"configMap", c}});
      } else if (const auto* psecret = std::get_if<ctl::SecretVolume>(&source)) {
        json c = {{"name", psecret->secret_name}};
        if (!psecret->items.empty()) c["items"] = ItemsToJson(psecret->items);
        if (psecret->optional) c["optional"] = true;
        sources.push_back({{"secret", c}});
      } else if (const auto* d = std::get_if<ctl::DownwardApiVolume>(&source)) {
        sources.push_back({{"downwardAPI", {{"items", DownwardItemsToJson(d->items)}}}});
      }
    }
    out["projected"] = {{"sources", sources},
                        {"defaultMode", projected->default_mode.value_or(0644)}};
  }
  return out;
}

json StateToJson(const ctl::ContainerStateView& state) {
  if (state.kind == "running") {
    json running = json::object();
    PutTime(running, "startedAt", state.started_at);
    return {{"running", running}};
  }
  if (state.kind == "terminated") {
    json t = {{"exitCode", state.exit_code}};
    if (state.signal != 0) t["signal"] = state.signal;
    PutString(t, "reason", state.reason);
    PutString(t, "message", state.message);
    PutTime(t, "startedAt", state.started_at);
    PutTime(t, "finishedAt", state.finished_at);
    PutString(t, "containerID", state.container_id.empty() ? "" : "peapod://" + state.container_id);
    return {{"terminated", t}};
  }
  json waiting = json::object();
  PutString(waiting, "reason", state.reason);
  PutString(waiting, "message", state.message);
  return {{"waiting", waiting}};
}

json ContainerStatusToJson(const ctl::ContainerStatusView& s) {
  json out = {{"name", s.name},
              {"image", s.image},
              {"imageID", s.image_id},
              {"state", StateToJson(s.state)},
              {"lastState", s.last_state ? StateToJson(*s.last_state) : json::object()},
              {"ready", s.ready},
              {"started", s.started},
              {"restartCount", s.restart_count}};
  if (!s.container_id.empty()) out["containerID"] = "peapod://" + s.container_id;
  if (!s.allocated_resources.empty()) {
    for (const auto& [name, quantity] : s.allocated_resources) {
      out["allocatedResources"][name] = quantity.text;
    }
  }
  if (s.resources) out["resources"] = ResourcesToJson(*s.resources);
  return out;
}

}  // namespace

std::string Rfc3339(int64_t unix_nanos) {
  if (unix_nanos == 0) return "";
  std::time_t seconds = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json PodSpecToJson(const ctl::Pod& pod) {
  const auto& spec = pod.spec;
  json out = json::object();
  for (const auto& c : spec.init_containers) out["initContainers"].push_back(ContainerToJson(c));
  out["containers"] = json::array();
  for (const auto& c : spec.containers) out["containers"].push_back(ContainerToJson(c));
  for (const auto& v : spec.volumes) out["volumes"].push_back(VolumeToJson(v));
  out["restartPolicy"] = spec.restart_policy;
  out["terminationGracePeriodSeconds"] = spec.termination_grace_period_seconds.value_or(30);
  if (spec.active_deadline_seconds) out["activeDeadlineSeconds"] = *spec.active_deadline_seconds;
  out["dnsPolicy"] = spec.dns_policy;
  if (spec.share_process_namespace) out["shareProcessNamespace"] = true;
  if (spec.host_network) out["hostNetwork"] = true;
  if (spec.host_pid) out["hostPID"] = true;
  if (spec.host_ipc) out["hostIPC"] = true;
  PutString(out, "hostname", spec.hostname);
  PutString(out, "subdomain", spec.subdomain);
  PutString(out, "runtimeClassName", spec.runtime_class_name);
  if (!spec.resources.requests.empty() || !spec.resources.limits.empty()) {
    out["resources"] = ResourcesToJson(spec.resources);
  }
  for (const auto& alias : spec.host_aliases) {
    out["hostAliases"].push_back({{"ip", alias.ip}, {"hostnames", alias.hostnames}});
  }
  return out;
}

json PodViewToJson(const ctl::PodView& view, int64_t now_nanos) {
  json metadata = {{"name", view.name}, {"namespace", view.namespace_}, {"uid", view.uid}};
  PutTime(metadata, "creationTimestamp", view.created_at);
  if (view.deleting) metadata["deletionTimestamp"] = Rfc3339(now_nanos);
  PutMap(metadata, "labels", view.spec.metadata.labels);
  PutMap(metadata, "annotations", view.spec.metadata.annotations);
  for (const auto& ref : view.spec.metadata.owner_references) {
    metadata["ownerReferences"].push_back({{"apiVersion", ref.api_version},
                                           {"kind", ref.kind},
                                           {"name", ref.name},
                                           {"uid", ref.uid},
                                           {"controller", true},
                                           {"blockOwnerDeletion", true}});
  }

  json spec = PodSpecToJson(view.spec);
  PutString(spec, "nodeName", view.node_name);

  json status = {{"phase", view.phase}};
  PutString(status, "reason", view.reason);
  PutString(status, "message", view.message);
  for (const auto& c : view.conditions) {
    json cond = {{"type", c.type}, {"status", c.status}};
    PutString(cond, "reason", c.reason);
    PutString(cond, "message", c.message);
    PutTime(cond, "lastTransitionTime", c.last_transition);
    status["conditions"].push_back(cond);
  }
  PutString(status, "hostIP", view.host_ip);
  PutString(status, "podIP", view.pod_ip);
  for (const auto& ip : view.pod_ips) status["podIPs"].push_back({{"ip", ip}});
  PutTime(status, "startTime", view.started_at);
  for (const auto& s : view.init_container_statuses) {
    status["initContainerStatuses"].push_back(ContainerStatusToJson(s));
  }
  for (const auto& s : view.container_statuses) {
    status["containerStatuses"].push_back(ContainerStatusToJson(s));
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", metadata},
          {"spec", spec},
          {"status", status}};
}

}  // namespace peapod::cri
