// The default network peapod installs: bridge + host-local + portmap.
#pragma once

#include <string>

#include "peapod/error.h"

namespace peapod::cni {

struct DefaultNetworkOptions {
  std::string network_name = "peapod";
  std::string bridge = "peapod0";
  std::string subnet = "10.88.0.0/16";
  bool ip_masq = false;
  std::string ipam_data_dir;  // empty: host-local's default, /var/lib/cni/networks
};

// The conflist text (10-peapod.conflist).
std::string DefaultConflist(const DefaultNetworkOptions& options = {});

// Writes <conf_dir>/10-peapod.conflist only when the directory holds no config file at all.
// Returns true when it wrote the file.
Result<bool> WriteDefaultConflistIfMissing(const std::string& conf_dir,
                                           const DefaultNetworkOptions& options = {});

}  // namespace peapod::cni
