// Network configuration: parsing .conflist/.conf files and choosing the one libcni would.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "peapod/error.h"

namespace peapod::cni {

struct PluginConfig {
  std::string type;                       // binary name searched on the plugin path
  std::vector<std::string> capabilities;  // keys of "capabilities" that are true
  nlohmann::json raw;                     // the plugin's object exactly as written
};

struct NetworkConfigList {
  std::string name;
  std::string cni_version;
  bool disable_check = false;
  std::vector<PluginConfig> plugins;
  std::string source_path;  // file it came from, empty when built from bytes
  nlohmann::json raw;       // the list as a .conflist object (a .conf is wrapped)

  bool HasCapability(const PluginConfig& plugin, std::string_view capability) const;
};

// Parses a .conflist document.
Result<NetworkConfigList> ParseConfigList(std::string_view bytes);
// Parses a single-plugin .conf document and wraps it into a one-plugin list, as libcni does.
Result<NetworkConfigList> ParseSingleConfig(std::string_view bytes);
// Reads and parses one file, choosing the parser by extension (.conflist, else .conf/.json).
Result<NetworkConfigList> LoadConfigFile(const std::string& path);

// Files that may hold a network config (.conf, .conflist, .json), sorted lexically.
Result<std::vector<std::string>> ListConfigFiles(const std::string& conf_dir);

struct ConfigSelection {
  std::optional<NetworkConfigList> network;  // the lexically first valid config, if any
  std::vector<std::string> skipped;          // "<file>: <reason>" for each invalid file before it
};
// The lexically first valid config in `conf_dir`; invalid files are skipped with a reason.
ConfigSelection SelectNetworkConfig(const std::string& conf_dir);

}  // namespace peapod::cni
