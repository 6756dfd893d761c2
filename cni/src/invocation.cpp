#include "peapod/cni/invocation.h"

namespace peapod::cni {

using nlohmann::json;

std::string BuildCniArgs(const PodNetwork& pod) {
  // IgnoreUnknown lets plugins that do not know the K8S_ keys accept them.
  std::string args = "IgnoreUnknown=1";
  auto add = [&](const char* key, const std::string& value) {
    if (!value.empty()) args += std::string(";") + key + "=" + value;
  };
  add("K8S_POD_NAMESPACE", pod.pod_namespace);
  add("K8S_POD_NAME", pod.pod_name);
  add("K8S_POD_INFRA_CONTAINER_ID", pod.sandbox_id);
  add("K8S_POD_UID", pod.pod_uid);
  return args;
}

json CapabilityArgs(const PodNetwork& pod) {
  json args = json::object();
  json ports = json::array();
  for (const auto& p : pod.port_mappings) {
    if (p.host_port <= 0) continue;  // kubelet only maps ports with a hostPort
    json m = {{"hostPort", p.host_port},
              {"containerPort", p.container_port},
              {"protocol", p.protocol.empty() ? "tcp" : p.protocol}};
    if (!p.host_ip.empty()) m["hostIP"] = p.host_ip;
    ports.push_back(std::move(m));
  }
  if (!ports.empty()) args["portMappings"] = std::move(ports);
  if (pod.bandwidth) {
    args["bandwidth"] = {{"ingressRate", pod.bandwidth->ingress_rate},
                         {"ingressBurst", pod.bandwidth->ingress_burst},
                         {"egressRate", pod.bandwidth->egress_rate},
                         {"egressBurst", pod.bandwidth->egress_burst}};
  }
  if (!pod.ips.empty()) args["ips"] = pod.ips;
  if (!pod.mac.empty()) args["mac"] = pod.mac;
  if (pod.dns) {
    args["dns"] = {{"servers", pod.dns->nameservers},
                   {"searches", pod.dns->search},
                   {"options", pod.dns->options}};
  }
  return args;
}

json BuildPluginStdin(const NetworkConfigList& list, const PluginConfig& plugin,
                      const json& capability_args, const std::optional<json>& prev_result) {
  json conf = plugin.raw;
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  if (prev_result) {
    conf["prevResult"] = *prev_result;
  } else {
    conf.erase("prevResult");
  }
  json runtime = conf.contains("runtimeConfig") && conf["runtimeConfig"].is_object()
                     ? conf["runtimeConfig"]
                     : json::object();
  bool any = false;
  for (const auto& cap : plugin.capabilities) {
    auto it = capability_args.find(cap);
    if (it == capability_args.end()) continue;
    runtime[cap] = *it;
    any = true;
  }
  if (any) conf["runtimeConfig"] = std::move(runtime);
  return conf;
}

std::vector<std::string> BuildPluginEnv(const InvocationEnv& env) {
  std::string path;
  for (const auto& dir : env.plugin_dirs) path += (path.empty() ? "" : ":") + dir;
  std::vector<std::string> out = {
      "CNI_COMMAND=" + env.command,
      "CNI_CONTAINERID=" + env.container_id,
      "CNI_NETNS=" + env.netns,
      "CNI_IFNAME=" + env.ifname,
      "CNI_ARGS=" + env.cni_args,
      "CNI_PATH=" + path,
      // Plugins shell out to iptables, ip, modprobe...
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  };
  return out;
}

}  // namespace peapod::cni
