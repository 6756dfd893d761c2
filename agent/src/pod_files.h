// The files every container of a pod shares: /etc/hosts, /etc/resolv.conf, /etc/hostname.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "peapod/agent/cri_types.h"
#include "peapod/error.h"

namespace peapod::agent {

// kubelet's managed hosts file: the localhost lines, then "<ip>\t<hostname>" per pod IP.
std::string BuildHostsFile(const std::string& hostname, const std::vector<std::string>& ips);
// resolv.conf from the pod's DNSConfig (search, nameserver, options lines).
std::string BuildResolvConf(const DNSConfig& dns);
bool HasDnsConfig(const std::optional<DNSConfig>& dns);
// The node's hostname (uname nodename).
std::string NodeHostname();

}  // namespace peapod::agent
