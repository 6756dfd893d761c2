// A container of a pod: image, command, env, ports, resources, mounts, probes, hooks and
// security context, validated as the API server validates containers.
#include <algorithm>
#include <cctype>
#include <set>

#include "manifest_reader.h"
#include "peapod/runtime/signal_name.h"

namespace peapod::agent::controller::manifest_internal {
namespace {

struct PortNames {
  std::set<std::string> names;
};

void ProbePort(Reader& r, const yaml::Node& node, const std::string& path,
               std::variant<int32_t, std::string>& out, const PortNames& ports) {
  if (!node.IsDefined() || node.IsNull()) {
    r.Error(LineOf(node), path, "required");
    return;
  }
  if (!r.IntOrString(node, path, out)) return;
  if (const int32_t* number = std::get_if<int32_t>(&out)) {
    PortNumber(r, node, path, *number, false);
    return;
  }
  const std::string& name = std::get<std::string>(out);
  if (auto problem = CheckIanaServiceName(name)) {
    r.Error(node, path, *problem);
  } else if (!ports.names.contains(name)) {
    r.Error(node, path, "no port named " + Quote(name) + " in this container");
  }
}

Handler ReadHandler(Reader& r, const yaml::Node& node, const std::string& path, bool probe,
                    const PortNames& ports) {
  Handler handler;
  int count = 0;
  const yaml::Node exec = node["exec"];
  if (r.Object(exec, Field(path, "exec"), {"command"})) {
    ExecAction action;
    std::string p = Field(Field(path, "exec"), "command");
    r.StringList(exec["command"], p, action.command);
    if (action.command.empty()) r.Error(exec, p, "required");
    handler = std::move(action);
    ++count;
  }
  const yaml::Node http = node["httpGet"];
  std::string http_path = Field(path, "httpGet");
  if (r.Object(http, http_path, {"path", "port", "host", "scheme", "httpHeaders"})) {
    HttpGetAction action;
    r.String(http["path"], Field(http_path, "path"), action.path);
    if (!action.path.empty() && action.path.front() != '/') {
      r.Error(http["path"], Field(http_path, "path"), "must be an absolute path");
    }
    if (!http["port"].IsDefined()) {
      r.Error(http, Field(http_path, "port"), "required");
    } else {
      ProbePort(r, http["port"], Field(http_path, "port"), action.port, ports);
    }
    r.String(http["host"], Field(http_path, "host"), action.host);
    if (http["scheme"].IsDefined()) {
      Enum(r, http["scheme"], Field(http_path, "scheme"), action.scheme, {"HTTP", "HTTPS"});
    }
    const yaml::Node headers = http["httpHeaders"];
    std::string headers_path = Field(http_path, "httpHeaders");
    if (r.List(headers, headers_path)) {
      for (size_t i = 0; i < headers.size(); ++i) {
        std::string p = Index(headers_path, i);
        if (!r.Object(headers[i], p, {"name", "value"})) continue;
        HttpHeader header;
        if (!r.String(headers[i]["name"], Field(p, "name"), header.name) || header.name.empty()) {
          r.Error(headers[i], Field(p, "name"), "required");
        }
        r.String(headers[i]["value"], Field(p, "value"), header.value);
        action.http_headers.push_back(std::move(header));
      }
    }
    handler = std::move(action);
    ++count;
  }
  const yaml::Node tcp = node["tcpSocket"];
  std::string tcp_path = Field(path, "tcpSocket");
  if (probe && r.Object(tcp, tcp_path, {"port", "host"})) {
    TcpSocketAction action;
    if (!tcp["port"].IsDefined()) {
      r.Error(tcp, Field(tcp_path, "port"), "required");
    } else {
      ProbePort(r, tcp["port"], Field(tcp_path, "port"), action.port, ports);
    }
    r.String(tcp["host"], Field(tcp_path, "host"), action.host);
    handler = std::move(action);
    ++count;
  }
  const yaml::Node grpc = node["grpc"];
  std::string grpc_path = Field(path, "grpc");
  if (probe && r.Object(grpc, grpc_path, {"port", "service"})) {
    GrpcAction action;
    if (!grpc["port"].IsDefined()) {
      r.Error(grpc, Field(grpc_path, "port"), "required");
    } else if (r.Int32(grpc["port"], Field(grpc_path, "port"), action.port)) {
      PortNumber(r, grpc["port"], Field(grpc_path, "port"), action.port, false);
    }
    r.String(grpc["service"], Field(grpc_path, "service"), action.service);
    handler = std::move(action);
    ++count;
  }
  const yaml::Node sleep = node["sleep"];
  std::string sleep_path = Field(path, "sleep");
  if (!probe && r.Object(sleep, sleep_path, {"seconds"})) {
    SleepAction action;
    if (!sleep["seconds"].IsDefined()) {
      r.Error(sleep, Field(sleep_path, "seconds"), "required");
    } else if (r.Int(sleep["seconds"], Field(sleep_path, "seconds"), action.seconds)) {
      NonNegative(r, sleep["seconds"], Field(sleep_path, "seconds"), action.seconds);
    }
    handler = std::move(action);
    ++count;
  }
  if (count == 0) r.Error(node, path, "must specify a handler type");
  if (count > 1) r.Error(node, path, "may not specify more than 1 handler type");
  return handler;
}

// `kind` is "liveness", "readiness" or "startup".
std::optional<Probe> ReadProbe(Reader& r, const yaml::Node& node, const std::string& path,
                               std::string_view kind, const PortNames& ports) {
  if (!r.Object(node, path,
                {"exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "timeoutSeconds",
                 "periodSeconds", "successThreshold", "failureThreshold",
                 "terminationGracePeriodSeconds"})) {
    return std::nullopt;
  }
  Probe probe;
  probe.source = r.Source(node);
  probe.handler = ReadHandler(r, node, path, true, ports);
  // 0 means "use the default" (ApplyDefaults); negative values are invalid.
  struct Threshold {
    const char* name;
    int32_t* out;
  };
  for (Threshold t : {Threshold{"initialDelaySeconds", &probe.initial_delay_seconds},
                      Threshold{"timeoutSeconds", &probe.timeout_seconds},
                      Threshold{"periodSeconds", &probe.period_seconds},
                      Threshold{"successThreshold", &probe.success_threshold},
                      Threshold{"failureThreshold", &probe.failure_threshold}}) {
    const yaml::Node value = node[t.name];
    if (r.Int32(value, Field(path, t.name), *t.out)) {
      NonNegative(r, value, Field(path, t.name), *t.out);
    }
  }
  const yaml::Node success = node["successThreshold"];
  if (kind != "readiness" && probe.success_threshold > 1) {
    r.Error(success, Field(path, "successThreshold"), "must be 1");
  }
  const yaml::Node grace = node["terminationGracePeriodSeconds"];
  std::string grace_path = Field(path, "terminationGracePeriodSeconds");
  if (r.Int64(grace, grace_path, probe.termination_grace_period_seconds)) {
    if (kind == "readiness") {
      r.Error(grace, grace_path, "must not be set for readinessProbes");
    } else if (*probe.termination_grace_period_seconds <= 0) {
      r.Error(grace, grace_path, "must be greater than 0");
    }
  }
  return probe;
}

std::optional<KeySelector> ReadKeySelector(Reader& r, const yaml::Node& node,
                                           const std::string& path, bool with_key) {
  bool ok = with_key ? r.Object(node, path, {"name", "key", "optional"})
                     : r.Object(node, path, {"name", "optional"});
  if (!ok) return std::nullopt;
  KeySelector selector;
  if (!r.String(node["name"], Field(path, "name"), selector.name) || selector.name.empty()) {
    r.Error(node, Field(path, "name"), "required");
  } else if (auto problem = CheckDns1123Subdomain(selector.name)) {
    r.Error(node["name"], Field(path, "name"), *problem);
  }
  if (with_key) {
    if (!r.String(node["key"], Field(path, "key"), selector.key) || selector.key.empty()) {
      r.Error(node, Field(path, "key"), "required");
    } else if (auto problem = CheckConfigMapKey(selector.key)) {
      r.Error(node["key"], Field(path, "key"), *problem);
    }
  }
  r.Bool(node["optional"], Field(path, "optional"), selector.optional);
  return selector;
}

void ReadEnvValueFrom(Reader& r, const yaml::Node& node, const std::string& path, EnvVar& env) {
  if (!r.Object(node, path, {"configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef"})) {
    return;
  }
  int sources = 0;
  env.config_map_key_ref =
      ReadKeySelector(r, node["configMapKeyRef"], Field(path, "configMapKeyRef"), true);
  env.secret_key_ref = ReadKeySelector(r, node["secretKeyRef"], Field(path, "secretKeyRef"), true);
  sources += env.config_map_key_ref.has_value() + env.secret_key_ref.has_value();
  env.field_ref = ReadFieldRef(r, node["fieldRef"], Field(path, "fieldRef"), false);
  env.resource_field_ref =
      ReadResourceFieldRef(r, node["resourceFieldRef"], Field(path, "resourceFieldRef"), false);
  sources += env.field_ref.has_value() + env.resource_field_ref.has_value();
  if (sources == 0) {
    r.Error(node, path,
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`");
  } else if (sources > 1) {
    r.Error(node, path, "may not have more than one field specified at a time");
  }
}

// KEP-5307 (alpha in 1.34): rules on a container's exit codes, checked before its restartPolicy.
void ReadRestartPolicyRules(Reader& r, const yaml::Node& node, const std::string& path, bool init,
                            Container& c) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (init) {
    r.Refuse(node, path, "is not supported by peapod on init containers");
    return;
  }
  if (!c.restart_policy) {
    r.Error(node, path, "may only be set together with the container's restartPolicy");
  }
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p, {"action", "exitCodes"})) continue;
    ContainerRestartRule rule;
    if (!item["action"].IsDefined()) {
      r.Error(item, Field(p, "action"), "required");
    } else {
      Enum(r, item["action"], Field(p, "action"), rule.action, {"Restart"});
    }
    const yaml::Node codes = item["exitCodes"];
    std::string codes_path = Field(p, "exitCodes");
    if (!codes.IsDefined() || codes.IsNull()) {
      r.Error(item, codes_path, "required");
    } else if (r.Object(codes, codes_path, {"operator", "values"})) {
      if (!codes["operator"].IsDefined()) {
        r.Error(codes, Field(codes_path, "operator"), "required");
      } else {
        Enum(r, codes["operator"], Field(codes_path, "operator"), rule.exit_codes_operator,
             {"In", "NotIn"});
      }
      const yaml::Node values = codes["values"];
      std::string values_path = Field(codes_path, "values");
      if (r.List(values, values_path)) {
        if (values.size() > 255) r.Error(values, values_path, "must have at most 255 items");
        for (size_t v = 0; v < values.size(); ++v) {
          int32_t code = 0;
          if (!r.Int32(values[v], Index(values_path, v), code)) continue;
          const auto& seen = rule.exit_codes_values;
          if (std::find(seen.begin(), seen.end(), code) != seen.end()) {
            r.Error(values[v], Index(values_path, v), "duplicate value " + std::to_string(code));
            continue;
          }
          rule.exit_codes_values.push_back(code);
        }
      }
    }
    c.restart_policy_rules.push_back(std::move(rule));
  }
}

void ReadEnv(Reader& r, const yaml::Node& node, const std::string& path, Container& c) {
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p, {"name", "value", "valueFrom"})) continue;
    EnvVar env;
    env.source = r.Source(item);
    if (!r.String(item["name"], Field(p, "name"), env.name) || env.name.empty()) {
      r.Error(item, Field(p, "name"), "required");
    } else if (auto problem = CheckEnvVarName(env.name)) {
      r.Error(item["name"], Field(p, "name"), *problem);
    }
    r.String(item["value"], Field(p, "value"), env.value);
    if (item["valueFrom"].IsDefined() && !item["valueFrom"].IsNull()) {
      if (env.value && !env.value->empty()) {
        r.Error(item["valueFrom"], Field(p, "valueFrom"),
                "may not be specified when `value` is not empty");
      }
      ReadEnvValueFrom(r, item["valueFrom"], Field(p, "valueFrom"), env);
    }
    c.env.push_back(std::move(env));
  }
}

void ReadEnvFrom(Reader& r, const yaml::Node& node, const std::string& path, Container& c) {
  if (!r.List(node, path)) return;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p, {"prefix", "configMapRef", "secretRef"})) continue;
    EnvFromSource source;
    if (r.String(item["prefix"], Field(p, "prefix"), source.prefix) && !source.prefix.empty()) {
      if (auto problem = CheckEnvVarName(source.prefix)) {
        r.Error(item["prefix"], Field(p, "prefix"), *problem);
      }
    }
    source.config_map_ref =
        ReadKeySelector(r, item["configMapRef"], Field(p, "configMapRef"), false);
    source.secret_ref = ReadKeySelector(r, item["secretRef"], Field(p, "secretRef"), false);
    int sources = source.config_map_ref.has_value() + source.secret_ref.has_value();
    if (sources == 0) r.Error(item, p, "must specify one of: `configMapRef` or `secretRef`");
    if (sources > 1) r.Error(item, p, "may not have more than one field specified at a time");
    c.env_from.push_back(std::move(source));
  }
}

void ReadPorts(Reader& r, const yaml::Node& node, const std::string& path, bool host_network,
               Container& c) {
  if (!r.List(node, path)) return;
  std::set<std::string> names;
  std::set<std::pair<int32_t, std::string>> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p, {"name", "containerPort", "hostPort", "hostIP", "protocol"}))
      continue;
    ContainerPort port;
    port.source = r.Source(item);
    if (r.String(item["name"], Field(p, "name"), port.name) && !port.name.empty()) {
      if (auto problem = CheckIanaServiceName(port.name)) {
        r.Error(item["name"], Field(p, "name"), *problem);
      } else if (!names.insert(port.name).second) {
        r.Error(item["name"], Field(p, "name"), "duplicate port name " + Quote(port.name));
      }
    }
    const yaml::Node container_port = item["containerPort"];
    if (!container_port.IsDefined() || container_port.IsNull()) {
      r.Error(item, Field(p, "containerPort"), "required");
    } else if (r.Int32(container_port, Field(p, "containerPort"), port.container_port)) {
      PortNumber(r, container_port, Field(p, "containerPort"), port.container_port, false);
      port.source = r.Source(container_port);
    }
    if (r.Int32(item["hostPort"], Field(p, "hostPort"), port.host_port)) {
      PortNumber(r, item["hostPort"], Field(p, "hostPort"), port.host_port, true);
      if (host_network && port.host_port != 0 && port.host_port != port.container_port) {
        r.Error(item["hostPort"], Field(p, "hostPort"),
                "must match `containerPort` when `hostNetwork` is true");
      }
    }
    if (r.String(item["hostIP"], Field(p, "hostIP"), port.host_ip) && !port.host_ip.empty() &&
        !IsIpAddress(port.host_ip)) {
      r.Error(item["hostIP"], Field(p, "hostIP"), "must be a valid IP address");
    }
    if (item["protocol"].IsDefined()) {
      Enum(r, item["protocol"], Field(p, "protocol"), port.protocol, {"TCP", "UDP", "SCTP"});
    }
    if (port.container_port != 0 && !seen.emplace(port.container_port, port.protocol).second) {
      r.Error(container_port, Field(p, "containerPort"),
              "duplicate port " + std::to_string(port.container_port) + "/" + port.protocol +
                  " in this container");
    }
    c.ports.push_back(std::move(port));
  }
}

void ReadResources(Reader& r, const yaml::Node& node, const std::string& path, Container& c) {
  if (!r.Object(node, path, {"requests", "limits"})) return;
  // A request for something else is a scheduling hint (a warning); a limit would be a promise
  // peapod cannot keep (an error).
  CheckResourceLimitNames(r, node["limits"], Field(path, "limits"));
  for (const char* section : {"requests", "limits"}) {
    const yaml::Node map = node[section];
    std::string p = Field(path, section);
    if (std::string_view(section) == "limits") {
      if (!map.IsDefined() || map.IsNull()) continue;
      if (!map.IsMap()) {
        r.Error(map, p, "must be an object");
        continue;
      }
    } else if (!r.Object(map, p, {"cpu", "memory"})) {
      continue;
    }
    auto& out = std::string_view(section) == "requests" ? c.resources.requests : c.resources.limits;
    for (const char* name : {"cpu", "memory"}) {
      Quantity quantity;
      if (!r.QuantityValue(map[name], Field(p, name), std::string_view(name) == "cpu", quantity)) {
        continue;
      }
      if (quantity.value < 0) {
        r.Error(map[name], Field(p, name), "must be greater than or equal to 0");
        continue;
      }
      out[name] = quantity;
    }
  }
  for (const auto& [name, request] : c.resources.requests) {
    auto limit = c.resources.limits.find(name);
    if (limit != c.resources.limits.end() && request.value > limit->second.value) {
      r.Error(node["requests"][name], Field(Field(path, "requests"), name),
              "must be less than or equal to " + name + " limit of " + limit->second.text);
    }
  }
}

// resizePolicy (KEP-1287): at most one entry per resource, cpu or memory.
void ReadResizePolicy(Reader& r, const yaml::Node& node, const std::string& path, Container& c) {
  if (!r.List(node, path)) return;
  std::set<std::string> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    const yaml::Node item = node[i];
    std::string p = Index(path, i);
    if (!ListItem(r, item, p, {"resourceName", "restartPolicy"})) continue;
    ContainerResizePolicy policy;
    Enum(r, item["resourceName"], Field(p, "resourceName"), policy.resource_name,
         {"cpu", "memory"});
    Enum(r, item["restartPolicy"], Field(p, "restartPolicy"), policy.restart_policy,
         {"NotRequired", "RestartContainer"});
    bool missing = false;
    for (const char* key : {"resourceName", "restartPolicy"}) {
      if (!item[key].IsDefined()) {
        r.Error(item, Field(p, key), "Required value");
        missing = true;
      }
    }
    if (missing || policy.resource_name.empty() || policy.restart_policy.empty()) continue;
    if (!seen.insert(policy.resource_name).second) {
      r.Error(item["resourceName"], Field(p, "resourceName"),
              "duplicate value \"" + policy.resource_name + "\"");
      continue;
    }
    c.resize_policy.push_back(std::move(policy));
  }
}

void ReadVolumeMounts(Reader& r, const yaml::Node& node, const std::string& path,
                      const std::set<std::string>& volumes, Container& c) {
  if (!r.List(node, path)) return;
  std::set<std::string> paths;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string p = Index(path, i);
    const yaml::Node item = node[i];
    if (!ListItem(r, item, p,
                  {"name", "mountPath", "subPath", "subPathExpr", "readOnly", "mountPropagation",
                   "recursiveReadOnly"}))
      continue;
    VolumeMount mount;
    mount.source = r.Source(item);
    if (!r.String(item["name"], Field(p, "name"), mount.name) || mount.name.empty()) {
      r.Error(item, Field(p, "name"), "required");
    } else if (!volumes.contains(mount.name)) {
      r.Error(item["name"], Field(p, "name"), "no volume named " + Quote(mount.name));
    }
    if (!r.String(item["mountPath"], Field(p, "mountPath"), mount.mount_path) ||
        mount.mount_path.empty()) {
      r.Error(item, Field(p, "mountPath"), "required");
    } else if (mount.mount_path.front() != '/') {
      r.Error(item["mountPath"], Field(p, "mountPath"), "must be an absolute path");
    } else if (!paths.insert(mount.mount_path).second) {
      r.Error(item["mountPath"], Field(p, "mountPath"), "must be unique");
    }
    if (r.String(item["subPath"], Field(p, "subPath"), mount.sub_path) && !mount.sub_path.empty()) {
      if (auto problem = CheckRelativePath(mount.sub_path)) {
        r.Error(item["subPath"], Field(p, "subPath"), *problem);
      }
    }
    if (r.String(item["subPathExpr"], Field(p, "subPathExpr"), mount.sub_path_expr) &&
        !mount.sub_path_expr.empty()) {
      if (!mount.sub_path.empty()) {
        r.Error(item["subPathExpr"], Field(p, "subPathExpr"),
                "subPathExpr and subPath are mutually exclusive");
      } else if (auto problem = CheckRelativePath(mount.sub_path_expr)) {
        r.Error(item["subPathExpr"], Field(p, "subPathExpr"), *problem);
      }
    }
    r.Bool(item["readOnly"], Field(p, "readOnly"), mount.read_only);
    if (item["mountPropagation"].IsDefined()) {
      Enum(r, item["mountPropagation"], Field(p, "mountPropagation"), mount.mount_propagation,
           {"None", "HostToContainer", "Bidirectional"});
    }
    ReadRecursiveReadOnly(r, item["recursiveReadOnly"], Field(p, "recursiveReadOnly"), mount);
    c.volume_mounts.push_back(std::move(mount));
  }
}

std::optional<SecurityContext> ReadSecurityContext(Reader& r, const yaml::Node& node,
                                                   const std::string& path) {
  if (!r.Object(node, path,
                {"runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "privileged",
                 "allowPrivilegeEscalation", "capabilities", "seccompProfile", "seLinuxOptions",
                 "appArmorProfile", "windowsOptions", "procMount"})) {
    return std::nullopt;
  }
  ReadSeLinuxOptions(r, node["seLinuxOptions"], Field(path, "seLinuxOptions"));
  ReadAppArmorProfile(r, node["appArmorProfile"], Field(path, "appArmorProfile"));
  ReadWindowsOptions(r, node["windowsOptions"], Field(path, "windowsOptions"));
  ReadProcMount(r, node["procMount"], Field(path, "procMount"));
  SecurityContext sc;
  IdField(r, node["runAsUser"], Field(path, "runAsUser"), sc.run_as_user);
  IdField(r, node["runAsGroup"], Field(path, "runAsGroup"), sc.run_as_group);
  r.Bool(node["runAsNonRoot"], Field(path, "runAsNonRoot"), sc.run_as_non_root);
  r.Bool(node["readOnlyRootFilesystem"], Field(path, "readOnlyRootFilesystem"),
         sc.read_only_root_filesystem);
  r.Bool(node["privileged"], Field(path, "privileged"), sc.privileged);
  r.Bool(node["allowPrivilegeEscalation"], Field(path, "allowPrivilegeEscalation"),
         sc.allow_privilege_escalation);
  const yaml::Node caps = node["capabilities"];
  std::string caps_path = Field(path, "capabilities");
  if (r.Object(caps, caps_path, {"add", "drop"})) {
    Capabilities capabilities;
    if (r.StringList(caps["add"], Field(caps_path, "add"), capabilities.add)) {
      CheckCapabilityNames(r, caps["add"], Field(caps_path, "add"), capabilities.add);
    }
    if (r.StringList(caps["drop"], Field(caps_path, "drop"), capabilities.drop)) {
      CheckCapabilityNames(r, caps["drop"], Field(caps_path, "drop"), capabilities.drop);
    }
    sc.capabilities = std::move(capabilities);
  }
  sc.seccomp_profile = ReadSeccomp(r, node["seccompProfile"], Field(path, "seccompProfile"));
  if (sc.privileged.value_or(false) && sc.allow_privilege_escalation.has_value() &&
      !*sc.allow_privilege_escalation) {
    r.Error(node["allowPrivilegeEscalation"], Field(path, "allowPrivilegeEscalation"),
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
  }
  return sc;
}

std::optional<Lifecycle> ReadLifecycle(Reader& r, const yaml::Node& node, const std::string& path,
                                       const PortNames& ports) {
  if (!r.Object(node, path, {"postStart", "preStop", "stopSignal"})) return std::nullopt;
  Lifecycle lifecycle;
  std::string signal_path = Field(path, "stopSignal");
  if (r.String(node["stopSignal"], signal_path, lifecycle.stop_signal) &&
      !lifecycle.stop_signal.empty() && !runtime::ParseSignal(lifecycle.stop_signal)) {
    r.Error(node["stopSignal"], signal_path,
            "unknown signal \"" + lifecycle.stop_signal +
                "\" (a name kill -l lists, such as SIGTERM or SIGRTMIN+3, or a number)");
  }
  for (const char* hook : {"postStart", "preStop"}) {
    const yaml::Node h = node[hook];
    std::string p = Field(path, hook);
    if (!r.Object(h, p, {"exec", "httpGet", "sleep"})) continue;
    Handler handler = ReadHandler(r, h, p, false, ports);
    (std::string_view(hook) == "postStart" ? lifecycle.post_start : lifecycle.pre_stop) =
        std::move(handler);
  }
  return lifecycle;
}

}  // namespace

namespace {

bool IsSupportedFieldPath(const std::string& path, bool volume) {
  static const std::set<std::string> kEnv = {
      "metadata.name", "metadata.namespace",      "metadata.uid",
      "spec.nodeName", "spec.serviceAccountName", "status.podIP",
      "status.podIPs", "status.hostIP",           "status.hostIPs"};
  // A volume file may hold every label or annotation, but no status: a file is written once
  // per change of the pod's metadata, as the API server allows
  // (validDownwardAPIFieldPathExpressions).
  static const std::set<std::string> kVolume = {"metadata.name", "metadata.namespace",
                                                "metadata.uid", "metadata.labels",
                                                "metadata.annotations"};
  if ((volume ? kVolume : kEnv).contains(path)) return true;
  for (std::string_view prefix : {"metadata.labels['", "metadata.annotations['"}) {
    if (path.starts_with(prefix) && path.ends_with("']") && path.size() > prefix.size() + 2) {
      std::string key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
      return !CheckLabelKey(key).has_value();
    }
  }
  return false;
}

}  // namespace

std::optional<FieldRef> ReadFieldRef(Reader& r, const yaml::Node& field, const std::string& path,
                                     bool volume) {
  if (!r.Object(field, path, {"fieldPath", "apiVersion"})) return std::nullopt;
  FieldRef ref;
  std::string api_version;
  if (r.String(field["apiVersion"], Field(path, "apiVersion"), api_version) &&
      api_version != "v1") {
    r.Error(field["apiVersion"], Field(path, "apiVersion"), "must be \"v1\"");
  }
  if (!r.String(field["fieldPath"], Field(path, "fieldPath"), ref.field_path) ||
      ref.field_path.empty()) {
    r.Error(field, Field(path, "fieldPath"), "required");
  } else if (!IsSupportedFieldPath(ref.field_path, volume)) {
    r.Error(field["fieldPath"], Field(path, "fieldPath"),
            "unsupported field path " + Quote(ref.field_path) +
                (volume ? " (supported in volumes: metadata.name, metadata.namespace, "
                          "metadata.uid, metadata.labels, metadata.annotations, "
                          "metadata.labels['<key>'], metadata.annotations['<key>'])"
                        : " (supported: metadata.name, metadata.namespace, metadata.uid, "
                          "metadata.labels['<key>'], metadata.annotations['<key>'], "
                          "spec.nodeName, spec.serviceAccountName, status.podIP, status.podIPs, "
                          "status.hostIP)"));
  }
  return ref;
}

std::optional<ResourceFieldRef> ReadResourceFieldRef(Reader& r, const yaml::Node& resource,
                                                     const std::string& path, bool volume) {
  if (!r.Object(resource, path, {"containerName", "resource", "divisor"})) return std::nullopt;
  ResourceFieldRef ref;
  r.String(resource["containerName"], Field(path, "containerName"), ref.container_name);
  // In a volume there is no "this container" to default to.
  if (volume && ref.container_name.empty()) {
    r.Error(resource, Field(path, "containerName"), "required");
  }
  if (!r.String(resource["resource"], Field(path, "resource"), ref.resource) ||
      ref.resource.empty()) {
    r.Error(resource, Field(path, "resource"), "required");
  } else if (ref.resource != "limits.cpu" && ref.resource != "limits.memory" &&
             ref.resource != "requests.cpu" && ref.resource != "requests.memory") {
    r.Error(resource["resource"], Field(path, "resource"),
            OneOf({"limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}));
  }
  Quantity divisor;
  if (r.QuantityValue(resource["divisor"], Field(path, "divisor"), ref.resource.ends_with("cpu"),
                      divisor)) {
    if (divisor.value <= 0) {
      r.Error(resource["divisor"], Field(path, "divisor"), "must be greater than 0");
    }
    ref.divisor = divisor.text;
  }
  return ref;
}

Container ReadContainer(Reader& r, const yaml::Node& node, const std::string& path, bool init,
                        const PodContext& pod) {
  Container c;
  c.source = r.Source(node);
  r.Object(node, path,
           {"name",
            "image",
            "imagePullPolicy",
            "command",
            "args",
            "workingDir",
            "env",
            "envFrom",
            "ports",
            "resources",
            "resizePolicy",
            "volumeMounts",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
            "securityContext",
            "restartPolicy",
            "restartPolicyRules",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "stdin",
            "stdinOnce",
            "tty"});
  if (!r.String(node["name"], Field(path, "name"), c.name) || c.name.empty()) {
    r.Error(node, Field(path, "name"), "required");
  } else if (auto problem = CheckDns1123Label(c.name)) {
    r.Error(node["name"], Field(path, "name"), *problem);
  }
  if (!r.String(node["image"], Field(path, "image"), c.image) || c.image.empty()) {
    r.Error(node, Field(path, "image"), "required");
  } else if (std::isspace(static_cast<unsigned char>(c.image.front())) ||
             std::isspace(static_cast<unsigned char>(c.image.back()))) {
    r.Error(node["image"], Field(path, "image"), "must not have leading or trailing whitespace");
  }
  if (node["imagePullPolicy"].IsDefined()) {
    Enum(r, node["imagePullPolicy"], Field(path, "imagePullPolicy"), c.image_pull_policy,
         {"Always", "IfNotPresent", "Never"});
  }
  r.StringList(node["command"], Field(path, "command"), c.command);
  r.StringList(node["args"], Field(path, "args"), c.args);
  r.String(node["workingDir"], Field(path, "workingDir"), c.working_dir);
  ReadEnv(r, node["env"], Field(path, "env"), c);
  ReadEnvFrom(r, node["envFrom"], Field(path, "envFrom"), c);
  ReadPorts(r, node["ports"], Field(path, "ports"), pod.host_network, c);
  ReadResources(r, node["resources"], Field(path, "resources"), c);
  ReadVolumeMounts(r, node["volumeMounts"], Field(path, "volumeMounts"), pod.volumes, c);

  PortNames ports;
  for (const ContainerPort& port : c.ports) {
    if (!port.name.empty()) ports.names.insert(port.name);
  }
  if (node["restartPolicy"].IsDefined()) {
    std::string policy;
    if (r.String(node["restartPolicy"], Field(path, "restartPolicy"), policy)) {
      if (init && policy != "Always") {
        r.Error(node["restartPolicy"], Field(path, "restartPolicy"), OneOf({"Always"}));
      } else if (!init && policy != "Always" && policy != "OnFailure" && policy != "Never") {
        r.Error(node["restartPolicy"], Field(path, "restartPolicy"),
                OneOf({"Always", "OnFailure", "Never"}));
      } else {
        c.restart_policy = policy;
      }
    }
  }
  ReadRestartPolicyRules(r, node["restartPolicyRules"], Field(path, "restartPolicyRules"), init, c);
  bool plain_init = init && !c.IsSidecar();
  const yaml::Node resize = node["resizePolicy"];
  if (plain_init && resize.IsDefined() && !resize.IsNull()) {
    r.Error(resize, Field(path, "resizePolicy"),
            "may not be set for init containers without restartPolicy=Always");
  } else {
    ReadResizePolicy(r, resize, Field(path, "resizePolicy"), c);
  }
  struct ProbeField {
    const char* name;
    std::string_view kind;
    std::optional<Probe>* out;
  };
  for (ProbeField f : {ProbeField{"livenessProbe", "liveness", &c.liveness_probe},
                       ProbeField{"readinessProbe", "readiness", &c.readiness_probe},
                       ProbeField{"startupProbe", "startup", &c.startup_probe}}) {
    const yaml::Node probe = node[f.name];
    if (plain_init && probe.IsDefined() && !probe.IsNull()) {
      r.Error(probe, Field(path, f.name),
              "may not be set for init containers without restartPolicy=Always");
      continue;
    }
    *f.out = ReadProbe(r, probe, Field(path, f.name), f.kind, ports);
  }
  const yaml::Node lifecycle = node["lifecycle"];
  if (plain_init && lifecycle.IsDefined() && !lifecycle.IsNull()) {
    r.Error(lifecycle, Field(path, "lifecycle"),
            "may not be set for init containers without restartPolicy=Always");
  } else {
    c.lifecycle = ReadLifecycle(r, lifecycle, Field(path, "lifecycle"), ports);
  }
  c.security_context =
      ReadSecurityContext(r, node["securityContext"], Field(path, "securityContext"));
  r.String(node["terminationMessagePath"], Field(path, "terminationMessagePath"),
           c.termination_message_path);
  if (node["terminationMessagePolicy"].IsDefined()) {
    Enum(r, node["terminationMessagePolicy"], Field(path, "terminationMessagePolicy"),
         c.termination_message_policy, {"File", "FallbackToLogsOnError"});
  }
  r.Bool(node["stdin"], Field(path, "stdin"), c.stdin);
  r.Bool(node["stdinOnce"], Field(path, "stdinOnce"), c.stdin_once);
  r.Bool(node["tty"], Field(path, "tty"), c.tty);
  return c;
}

}  // namespace peapod::agent::controller::manifest_internal
