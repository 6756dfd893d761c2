// DaemonConfig: everything peapodd runs with, as its config file (/etc/peapod/config.yaml) and
// its flags say. The file is read first and the flags given on the command line override it, key
// by key; every flag has a key of the same name. Unknown keys and values of the wrong type are
// errors naming the file, line and column, so a typo never silently falls back to a default.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"
#include "peapod/image/registry_client.h"

namespace peapod::agent {

inline constexpr char kDefaultConfigPath[] = "/etc/peapod/config.yaml";

struct DaemonConfig {
  std::string listen = "/run/peapod/peapod.sock";
  std::string state_root = "/var/lib/peapod";
  std::string run_root = "/run/peapod";
  std::string cni_conf_dir = "/etc/cni/net.d";
  std::string cni_plugin_dirs = "/opt/cni/bin:/usr/lib/cni";  // colon-separated
  std::string pause_binary;  // empty: next to peapodd, else the build's
  std::vector<std::string> runtime_handlers;
  std::string log_level = "info";
  std::string cgroup_parent = "peapod";
  std::string stream_address = "127.0.0.1:0";
  int64_t stream_token_ttl_seconds = 60;
  std::string pid_file;
  // The pod controller (durations as "500ms", "10s", "5m").
  std::string backoff_initial = "10s";
  std::string backoff_max = "5m";
  std::string backoff_reset = "10m";
  std::string relist_period = "1s";
  std::string pod_log_root = "/var/log/pods";
  // Image unpack limits, as Kubernetes quantities ("10Gi", "1M"); "0" turns a limit off.
  std::string max_image_size = "10Gi";
  std::string max_image_entries = "1M";
  std::string image_fs_reserve = "512Mi";
  std::string seccomp_profile_root;  // empty: <state-root>/seccomp
  // Registry hosts: mirrors, fallback to the host itself, plain HTTP to it (the file's
  // `registries`; each --registry-mirror flag's host replaces the file's entry for that host).
  std::map<std::string, image::RegistryHostConfig> registries;
  // A docker config.json-style file of registry credentials; empty: none.
  std::string auth_file;

  // Reserved: read, checked and shown by --print-config, but not acted on yet (the warm pool
  // comes later).
  int64_t warm_pool_size = 0;
  // Log rotation of applied pods' containers and image garbage collection; defaults are
  // kubelet's (containerLogMaxSize, containerLogMaxFiles, imageGCHighThresholdPercent,
  // imageGCLowThresholdPercent, imageMinimumGCAge, imageMaximumGCAge).
  std::string container_log_max_size = "10Mi";
  int64_t container_log_max_files = 5;
  int64_t image_gc_high_threshold_percent = 85;
  int64_t image_gc_low_threshold_percent = 80;
  std::string image_minimum_gc_age = "2m";
  std::string image_maximum_gc_age = "0s";  // 0: no maximum

  // Where each reserved key the file set was written ("config.yaml:12: warm-pool-size"), so
  // the daemon can say that it has no effect yet.
  std::vector<std::string> reserved_keys_set;
};

// The keys a config file may hold, in the order --print-config shows them.
std::vector<std::string_view> DaemonConfigKeys();
// The reserved keys among them.
bool IsReservedDaemonConfigKey(std::string_view key);

// Applies the YAML text of a config file (named `path` in errors) onto `config`: keys the file
// has replace the values in `config`, the others stay. An empty file changes nothing. Errors are
// kInvalidArgument "<path>:<line>:<column>: <key>: <what is wrong>".
Status ApplyDaemonConfigText(std::string_view text, const std::string& path, DaemonConfig& config);
// Reads `path` and applies it; kNotFound when the file does not exist.
Status ApplyDaemonConfigFile(const std::string& path, DaemonConfig& config);

// Applies the `--registry-mirror HOST=URL[,fallback]` flags over `registries`: each host the
// flags name gets exactly the flags' mirrors, replacing what the file said about it.
Status ApplyRegistryMirrorFlags(const std::vector<std::string>& specs,
                                std::map<std::string, image::RegistryHostConfig>& registries);

// The configuration as a config file that reproduces it (every key, reserved ones included).
std::string FormatDaemonConfig(const DaemonConfig& config);

}  // namespace peapod::agent
