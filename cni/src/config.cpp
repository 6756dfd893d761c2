#include "peapod/cni/config.h"

#include <dirent.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "peapod/cni/version.h"

namespace peapod::cni {

namespace {

using nlohmann::json;

Result<json> ParseObject(std::string_view bytes) {
  json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Fail(ErrorCode::kInvalidArgument, "not valid JSON");
  if (!doc.is_object()) return Fail(ErrorCode::kInvalidArgument, "not a JSON object");
  return doc;
}

Result<std::string> RequiredString(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end()) return Fail(ErrorCode::kInvalidArgument, std::string("no \"") + key + "\"");
  if (!it->is_string() || it->get<std::string>().empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string("\"") + key + "\" is not a non-empty string");
  }
  return it->get<std::string>();
}

// Network names become file names (cache, host-local's dataDir), so keep them to the
// characters libcni allows.
bool ValidNetworkName(const std::string& name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Result<PluginConfig> ParsePlugin(const json& raw, size_t index) {
  if (!raw.is_object()) {
    return Fail(ErrorCode::kInvalidArgument,
                "plugin " + std::to_string(index) + " is not an object");
  }
  auto type = RequiredString(raw, "type");
  if (!type)
    return std::unexpected(std::move(type.error()).Context("plugin " + std::to_string(index)));
  if (type->find('/') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "plugin type \"" + *type + "\" contains a '/'");
  }
  PluginConfig plugin{*type, {}, raw};
  if (auto caps = raw.find("capabilities"); caps != raw.end()) {
    if (!caps->is_object()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "plugin \"" + *type + "\": capabilities is not an object");
    }
    for (const auto& [key, value] : caps->items()) {
      if (value.is_boolean() && value.get<bool>()) plugin.capabilities.push_back(key);
    }
  }
  return plugin;
}

Status ValidateHeader(const std::string& name, const std::string& version) {
  if (!ValidNetworkName(name)) {
    return Fail(ErrorCode::kInvalidArgument,
                "network name \"" + name + "\" has invalid characters");
  }
  if (!IsSupportedSpecVersion(version)) {
    return Fail(ErrorCode::kInvalidArgument, "unsupported cniVersion \"" + version + "\"");
  }
  return Ok();
}

}  // namespace

bool NetworkConfigList::HasCapability(const PluginConfig& plugin,
                                      std::string_view capability) const {
  return std::find(plugin.capabilities.begin(), plugin.capabilities.end(), capability) !=
         plugin.capabilities.end();
}

Result<NetworkConfigList> ParseConfigList(std::string_view bytes) {
  auto doc = ParseObject(bytes);
  if (!doc) return std::unexpected(doc.error());
  NetworkConfigList list;
  auto name = RequiredString(*doc, "name");
  if (!name) return std::unexpected(name.error());
  auto version = RequiredString(*doc, "cniVersion");
  if (!version) return std::unexpected(version.error());
  if (auto st = ValidateHeader(*name, *version); !st) return std::unexpected(st.error());
  list.name = *name;
  list.cni_version = *version;
  if (auto it = doc->find("disableCheck"); it != doc->end()) {
    // Some writers quote it ("true"); libcni accepts both.
    if (it->is_boolean())
      list.disable_check = it->get<bool>();
    else if (it->is_string())
      list.disable_check = it->get<std::string>() == "true";
  }
  auto plugins = doc->find("plugins");
  if (plugins == doc->end() || !plugins->is_array()) {
    return Fail(ErrorCode::kInvalidArgument, "no \"plugins\" array");
  }
  if (plugins->empty()) return Fail(ErrorCode::kInvalidArgument, "\"plugins\" is empty");
  if (plugins->size() > 1 && !SupportsChaining(list.cni_version)) {
    return Fail(ErrorCode::kInvalidArgument,
                "cniVersion " + list.cni_version + " cannot chain plugins (needs 0.3.0 or later)");
  }
  for (size_t i = 0; i < plugins->size(); ++i) {
    auto plugin = ParsePlugin((*plugins)[i], i);
    if (!plugin) return std::unexpected(plugin.error());
    list.plugins.push_back(std::move(*plugin));
  }
  list.raw = std::move(*doc);
  return list;
}

Result<NetworkConfigList> ParseSingleConfig(std::string_view bytes) {
  auto doc = ParseObject(bytes);
  if (!doc) return std::unexpected(doc.error());
  if (doc->contains("plugins")) return ParseConfigList(bytes);
  auto name = RequiredString(*doc, "name");
  if (!name) return std::unexpected(name.error());
  auto version = RequiredString(*doc, "cniVersion");
  if (!version) return std::unexpected(version.error());
  json wrapped = {{"cniVersion", *version}, {"name", *name}, {"plugins", json::array({*doc})}};
  return ParseConfigList(wrapped.dump());
}

Result<NetworkConfigList> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FailErrno("read network config " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  auto list = path.ends_with(".conflist") ? ParseConfigList(bytes) : ParseSingleConfig(bytes);
  if (!list) return list;
  list->source_path = path;
  return list;
}

Result<std::vector<std::string>> ListConfigFiles(const std::string& conf_dir) {
  DIR* dir = ::opendir(conf_dir.c_str());
  if (dir == nullptr) return FailErrno("open CNI config directory " + conf_dir);
  std::vector<std::string> files;
  while (dirent* ent = ::readdir(dir)) {
    std::string name = ent->d_name;
    if (name.starts_with(".")) continue;
    if (ent->d_type != DT_REG && ent->d_type != DT_LNK && ent->d_type != DT_UNKNOWN) continue;
    if (name.ends_with(".conflist") || name.ends_with(".conf") || name.ends_with(".json")) {
      files.push_back(conf_dir + "/" + name);
    }
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

ConfigSelection SelectNetworkConfig(const std::string& conf_dir) {
  ConfigSelection selection;
  auto files = ListConfigFiles(conf_dir);
  if (!files) {
    selection.skipped.push_back(files.error().ToString());
    return selection;
  }
  for (const auto& file : *files) {
    auto list = LoadConfigFile(file);
    if (list) {
      selection.network = std::move(*list);
      return selection;
    }
    spdlog::warn("cni: skipping network config {}: {}", file, list.error().ToString());
    selection.skipped.push_back(file + ": " + list.error().ToString());
  }
  return selection;
}

}  // namespace peapod::cni
