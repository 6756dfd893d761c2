// Plain structs the CNI client speaks: what a pod asks of the network, and what it got back.
// No gRPC or protobuf here; the CRI layer translates.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace peapod::cni {

struct CniOptions {
  std::string conf_dir = "/etc/cni/net.d";
  std::vector<std::string> plugin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  // One JSON file per ADD lives here so DEL works after a restart or a conflist change.
  // Required, e.g. "<state root>/cni/cache".
  std::string cache_dir;
  // A plugin still running after this long is killed with its process group.
  std::chrono::milliseconds plugin_timeout{std::chrono::seconds(60)};
};

// A hostPort, passed to plugins declaring the "portMappings" capability.
struct PortMapping {
  std::string protocol = "tcp";  // tcp, udp or sctp
  int host_port = 0;
  int container_port = 0;
  std::string host_ip;  // empty: all host addresses
};

// Rates in bits per second, bursts in bits, as the CNI "bandwidth" capability conventions say.
struct Bandwidth {
  uint64_t ingress_rate = 0;
  uint64_t ingress_burst = 0;
  uint64_t egress_rate = 0;
  uint64_t egress_burst = 0;
};

struct DnsConfig {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

// One pod's attachment: who it is, where its network namespace is, and the capability
// arguments its spec asks for. Each capability is sent only to plugins that declare it.
struct PodNetwork {
  std::string sandbox_id;  // CNI_CONTAINERID
  std::string netns_path;  // CNI_NETNS
  std::string ifname = "eth0";
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::vector<PortMapping> port_mappings;
  std::optional<Bandwidth> bandwidth;
  std::vector<std::string> ips;  // "ips" capability: requested static addresses
  std::string mac;               // "mac" capability
  std::optional<DnsConfig> dns;  // "dns" capability
};

struct IpAddress {
  std::string address;  // CIDR form, "10.88.0.5/16"
  int family = 4;       // 4 or 6
  std::string gateway;  // may be empty
  int interface = -1;   // index into AddResult::interfaces, -1 when the plugin did not say
};

struct Interface {
  std::string name;
  std::string mac;
  std::string sandbox;  // netns path for interfaces inside the pod, empty on the host side
  int mtu = 0;
};

struct Route {
  std::string dst;
  std::string gw;
};

struct AddResult {
  std::string cni_version;
  std::vector<IpAddress> ips;
  std::vector<Interface> interfaces;
  std::vector<Route> routes;
  DnsConfig dns;
  std::string raw_json;  // the last plugin's answer, as it said it
  std::string network_name;
};

// The CRI NetworkReady condition.
struct NetworkStatus {
  bool ready = false;
  std::string reason;   // "NetworkPluginNotReady" when not ready
  std::string message;  // what is missing or broken
  std::string network_name;
  std::string config_path;
};

}  // namespace peapod::cni
