// RunPodSandbox: pause in the pod's namespaces, the pod's /etc files, and its CNI network.
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "crash_point.h"
#include "entries.h"
#include "peapod/agent/container_security.h"
#include "peapod/agent/events.h"
#include "peapod/agent/sandbox_manager.h"
#include "peapod/agent/security_requests.h"
#include "peapod/agent/state_store.h"
#include "peapod/atomic_file.h"
#include "peapod/cni/cni_client.h"
#include "peapod/runtime/security.h"
#include "pod_files.h"

namespace peapod::agent {
namespace {

constexpr size_t kMaxHostnameLength = 64;  // HOST_NAME_MAX

Status ValidateSandboxConfig(const PodSandboxConfig& config) {
  const auto& m = config.metadata;
  if (m.name.empty()) return Fail(ErrorCode::kInvalidArgument, "sandbox config metadata.name is empty");
  if (m.uid.empty()) return Fail(ErrorCode::kInvalidArgument, "sandbox config metadata.uid is empty");
  if (m.namespace_.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "sandbox config metadata.namespace is empty");
  }
  // sethostname(2) takes at most 64 bytes; said here rather than as EINVAL from the pod's init.
  if (config.hostname.size() > kMaxHostnameLength) {
    return Fail(ErrorCode::kInvalidArgument, "sandbox config hostname \"" + config.hostname +
                                                 "\" is longer than " +
                                                 std::to_string(kMaxHostnameLength) + " bytes");
  }
  // The CRI says a group without a user MUST be an error (containerd and CRI-O refuse it too).
  const auto& sc = config.linux.security_context;
  if (sc.run_as_group && !sc.run_as_user) {
    return Fail(ErrorCode::kInvalidArgument, "sandbox security context: run_as_group " +
                                                 std::to_string(*sc.run_as_group) +
                                                 " is specified without run_as_user");
  }
  for (const auto& pm : config.port_mappings) {
    if (pm.host_port < 0 || pm.host_port > 65535 || pm.container_port <= 0 ||
        pm.container_port > 65535) {
      return Fail(ErrorCode::kInvalidArgument,
                  "port mapping " + std::to_string(pm.host_port) + "->" +
                      std::to_string(pm.container_port) + " is out of range");
    }
  }
  return Ok();
}

const char* ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kTcp: return "tcp";
    case Protocol::kUdp: return "udp";
    case Protocol::kSctp: return "sctp";
  }
  return "tcp";
}

std::string StripPrefixLength(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// containerd's sandbox name: one per pod and attempt.
std::string NameKey(const PodSandboxMetadata& m) {
  return m.name + "_" + m.namespace_ + "_" + m.uid + "_" + std::to_string(m.attempt);
}

// The mappings that take a port on the node: a host port, outside the node's network namespace.
std::vector<PortMapping> HostPortMappings(const PodSandboxConfig& config) {
  std::vector<PortMapping> out;
  if (config.linux.security_context.namespace_options.network == NamespaceMode::kNode) return out;
  for (const auto& pm : config.port_mappings) {
    if (pm.host_port > 0) out.push_back(pm);
  }
  return out;
}

bool IsWildcardAddress(const std::string& ip) {
  return ip.empty() || ip == "0.0.0.0" || ip == "::";
}

std::optional<PortMapping> Clash(const std::vector<PortMapping>& mine,
                                 const std::vector<PortMapping>& theirs) {
  for (const auto& a : mine) {
    for (const auto& b : theirs) {
      if (a.host_port != b.host_port || a.protocol != b.protocol) continue;
      if (IsWildcardAddress(a.host_ip) || IsWildcardAddress(b.host_ip) || a.host_ip == b.host_ip) {
        return a;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

Status SandboxManager::ReserveName(const std::string& key, const PodSandboxConfig& config) {
  std::lock_guard lock(mu_);
  std::vector<PortMapping> ports = HostPortMappings(config);
  auto port_taken = [&](const std::vector<PortMapping>& theirs, const std::string& by) -> Status {
    auto clash = Clash(ports, theirs);
    if (!clash) return Ok();
    std::string address = IsWildcardAddress(clash->host_ip) ? "" : clash->host_ip + ":";
    return Fail(ErrorCode::kFailedPrecondition,
                "host port " + address + std::to_string(clash->host_port) + "/" +
                    ProtocolName(clash->protocol) + " is already mapped by " + by);
  };
  for (const auto& [other, other_ports] : names_in_flight_) {
    if (auto s = port_taken(other_ports, "pod sandbox \"" + other + "\" (being created)"); !s) {
      return s;
    }
  }
  for (const auto& [id, e] : sandboxes_) {
    if (e->removed || e->phase != SandboxPhase::kReady) continue;
    const auto& m = e->config.metadata;
    if (auto s = port_taken(HostPortMappings(e->config),
                            "pod sandbox " + id + " (" + m.namespace_ + "/" + m.name + ")");
        !s) {
      return s;
    }
  }
  if (names_in_flight_.contains(key)) {
    return Fail(ErrorCode::kAlreadyExists,
                "sandbox name \"" + key + "\" is reserved by a RunPodSandbox in progress");
  }
  // A linear scan: RunPodSandbox is rare next to the List calls kubelet makes every second.
  for (const auto& [id, e] : sandboxes_) {
    if (!e->removed && NameKey(e->config.metadata) == key) {
      return Fail(ErrorCode::kAlreadyExists,
                  "sandbox name \"" + key + "\" is reserved by sandbox " + id);
    }
  }
  names_in_flight_.emplace(key, std::move(ports));
  return Ok();
}

void SandboxManager::ReleaseName(const std::string& key) {
  std::lock_guard lock(mu_);
  names_in_flight_.erase(key);
}

// The pod's CNI attachment, built the same way for ADD and DEL.
cni::PodNetwork PodNetworkOf(const SandboxEntry& entry, const std::string& netns_path) {
  cni::PodNetwork pod;
  pod.sandbox_id = entry.id;
  pod.netns_path = netns_path;
  pod.pod_name = entry.config.metadata.name;
  pod.pod_namespace = entry.config.metadata.namespace_;
  pod.pod_uid = entry.config.metadata.uid;
  for (const auto& pm : entry.config.port_mappings) {
    if (pm.host_port <= 0) continue;  // only hostPorts go to portmap
    cni::PortMapping m;
    m.protocol = ProtocolName(pm.protocol);
    m.host_port = pm.host_port;
    m.container_port = pm.container_port;
    m.host_ip = pm.host_ip;
    pod.port_mappings.push_back(std::move(m));
  }
  return pod;
}

Result<std::string> SandboxManager::RunPodSandbox(const PodSandboxConfig& config,
                                                  const std::string& runtime_handler) {
  if (auto s = ValidateSandboxConfig(config); !s) return std::unexpected(std::move(s.error()));
  if (auto s =
          CheckSandboxRequest(config, runtime_handler, config_.runtime_handlers, userns_support_);
      !s) {
    return std::unexpected(std::move(s.error()));
  }
  const auto& ns = config.linux.security_context.namespace_options;
  // Only sysctls that live in the pod's own namespaces may be set: anything else would be
  // written on the host (kernel.panic from a pod changes the node).
  auto sysctls = runtime::PrepareSysctls(
      config.linux.sysctls, {.own_network = ns.network != NamespaceMode::kNode,
                             .own_ipc = ns.ipc != NamespaceMode::kNode});
  if (!sysctls) return std::unexpected(std::move(sysctls.error()).Context("linux.sysctls"));
  // Before any side effect: two calls with the same name and attempt (a retry after a client
  // timeout) cannot both make a pod.
  const std::string name_key = NameKey(config.metadata);
  if (auto s = ReserveName(name_key, config); !s) return std::unexpected(std::move(s.error()));

  auto entry = std::make_shared<SandboxEntry>();
  entry->id = GenerateId();
  entry->config = config;
  entry->runtime_handler = runtime_handler;
  entry->created_at = runtime::NowRealtimeNs();
  entry->host_network = ns.network == NamespaceMode::kNode;
  entry->pod_dir = config_.PodRunDir(entry->id);
  // No hostname: the node's, as containerd gives (its UTS namespace starts as a copy of the
  // node's). The pod's name is no fallback: kubelet always sets one, and other clients' names
  // need not be valid hostnames (critest's are longer than sethostname's 64 bytes).
  std::string hostname = config.hostname;
  if (hostname.empty() || entry->host_network) hostname = NodeHostname();

  auto& spec = entry->spec;
  spec.id = entry->id;
  spec.run_dir = entry->pod_dir;
  spec.pause_binary = config_.pause_binary;
  spec.hostname = hostname;
  spec.new_network = !entry->host_network;
  spec.new_uts = !entry->host_network;  // hostNetwork pods also keep the node's hostname
  spec.new_ipc = ns.ipc != NamespaceMode::kNode;
  spec.new_pid = ns.pid != NamespaceMode::kNode;
  for (const auto& [key, value] : config.linux.sysctls) spec.sysctls.emplace_back(key, value);
  if (ns.userns_options.mode == NamespaceMode::kPod) {
    // pause is made in the pod's user namespace, which then owns its other namespaces.
    spec.uid_mappings = ToIdMaps(ns.userns_options.uids);
    spec.gid_mappings = ToIdMaps(ns.userns_options.gids);
  }

  const std::string& id = entry->id;
  std::string what = "run pod sandbox " + config.metadata.namespace_ + "/" + config.metadata.name;
  auto cgroups = PodCgroupManager(cgroup_driver_, config_, config);
  bool cgroup_created = false;
  // Undoes everything done so far, newest first; the record goes last so a crash in between
  // still finds it at start-up.
  auto rollback = [&](Error error) -> std::unexpected<Error> {
    if (entry->network_attached) {
      auto net = PodNetworkOf(*entry, entry->sandbox ? entry->sandbox->NamespacePath(
                                                           runtime::Namespace::kNetwork)
                                                     : "");
      if (auto s = cni_->Del(net); !s) {
        spdlog::warn("sandbox {}: rollback: CNI DEL: {}", id, s.error().ToString());
      }
    }
    if (entry->sandbox) {
      if (auto s = entry->sandbox->Destroy(); !s) {
        spdlog::warn("sandbox {}: rollback: destroy: {}", id, s.error().ToString());
      }
    }
    if (cgroup_created) {
      if (auto s = cgroups->Pod(id).Remove(); !s) {
        spdlog::warn("sandbox {}: rollback: remove cgroup: {}", id, s.error().ToString());
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(entry->pod_dir, ec);
    (void)store_->Remove(RecordKind::kSandbox, id);
    ReleaseName(name_key);
    spdlog::info("sandbox {}: {} failed: {}", id, what, error.ToString());
    return std::unexpected(std::move(error).Context(what));
  };

  // The record comes first: it names the run dir and (through the config) the pod cgroup, so
  // everything below is found and undone from it after a crash; a pause that crashed before
  // its pid was recorded is found by its ledger in the run dir.
  if (auto s = WriteRecord(*entry); !s) {
    ReleaseName(name_key);
    return std::unexpected(std::move(s.error()).Context(what));
  }
  CrashPoint("sandbox-after-record");

  std::error_code ec;
  std::filesystem::create_directories(entry->pod_dir, ec);
  if (ec) return rollback(FailErrno("create pod dir " + entry->pod_dir, ec.value()).error());
  auto resolv = HasDnsConfig(config.dns_config) ? Result<std::string>(BuildResolvConf(*config.dns_config))
                                                : ReadWholeFile("/etc/resolv.conf");
  if (!resolv) resolv = std::string();  // a node without resolv.conf: the pod gets none either
  for (auto [path, content] : {std::pair{entry->HostnamePath(), hostname + "\n"},
                               std::pair{entry->ResolvConfPath(), *resolv}}) {
    if (auto s = WriteFileAtomically(path, content); !s) return rollback(std::move(s.error()));
  }

  std::optional<runtime::Cgroup> pause_cgroup;
  if (cgroups) {
    cgroup_created = true;  // CreatePod may leave directories behind when it fails half-way
    runtime::Resources pod_limits;
    if (auto cri_limits = PodCgroupLimits(config.linux)) {
      auto converted = ToCgroupResources(*cri_limits);
      if (!converted) return rollback(std::move(converted.error()).Context("pod resources"));
      pod_limits = std::move(*converted);
    }
    auto pod_cgroup = cgroups->CreatePod(id, pod_limits);
    if (!pod_cgroup) return rollback(std::move(pod_cgroup.error()));
    auto created = cgroups->CreateContainer(id, id);
    if (!created) return rollback(std::move(created.error()));
    pause_cgroup = std::move(*created);
  }
  CrashPoint("sandbox-after-cgroup");

  // No lock on the entry: nobody else can see it until it is ready.
  auto sandbox = runtime::Sandbox::Start(spec);
  if (!sandbox) return rollback(std::move(sandbox.error()));
  entry->sandbox = std::move(*sandbox);
  entry->pause = entry->sandbox->pause();
  CrashPoint("sandbox-after-pause");
  // Pause cannot be held before its exec, so it joins right after; it runs nothing of the pod's.
  if (pause_cgroup) {
    if (auto s = pause_cgroup->AddProcess(entry->pause.pid); !s) {
      return rollback(std::move(s.error()).Context("put pause in its cgroup"));
    }
  }
  // One record for the pause and, before ADD, the network (a crash during ADD is DELeted): nothing
  // happens between the two, so one durable write does what two did.
  if (!entry->host_network) entry->network_attached = true;
  if (auto s = WriteRecord(*entry); !s) return rollback(std::move(s.error()));
  CrashPoint("sandbox-after-pause-record");

  std::vector<std::string> ips;
  if (!entry->host_network) {
    auto net = PodNetworkOf(*entry, entry->sandbox->NamespacePath(runtime::Namespace::kNetwork));
    auto added = cni_->Add(net);
    if (!added) return rollback(std::move(added.error()));
    CrashPoint("sandbox-after-cni-add");
    // IPv4 first, as containerd picks the primary pod IP.
    for (int family : {4, 6}) {
      for (const auto& ip : added->ips) {
        if (ip.family == family) ips.push_back(StripPrefixLength(ip.address));
      }
    }
  }

  std::string hosts;
  if (entry->host_network) {
    auto node_hosts = ReadWholeFile("/etc/hosts");
    hosts = node_hosts ? *node_hosts : BuildHostsFile(hostname, {});
  } else {
    hosts = BuildHostsFile(hostname, ips);
  }
  if (auto s = WriteFileAtomically(entry->HostsPath(), hosts); !s) return rollback(std::move(s.error()));

  {
    std::lock_guard lock(mu_);
    if (!ips.empty()) entry->ip = ips[0];
    for (size_t i = 1; i < ips.size(); ++i) entry->additional_ips.push_back(ips[i]);
  }
  entry->phase = SandboxPhase::kReady;
  if (auto s = WriteRecord(*entry); !s) return rollback(std::move(s.error()));
  CrashPoint("sandbox-after-ready-record");
  {
    std::lock_guard lock(mu_);
    sandboxes_[id] = entry;
    names_in_flight_.erase(name_key);  // the listed sandbox holds the name from now on
  }
  WatchPause(*entry);
  EmitEvent(ContainerEventType::kCreated, id);
  EmitEvent(ContainerEventType::kStarted, id);
  spdlog::info("sandbox {}: pod {}/{} ready (ip {})", id, config.metadata.namespace_,
               config.metadata.name, entry->ip.empty() ? "host" : entry->ip);
  return id;
}

}  // namespace peapod::agent
