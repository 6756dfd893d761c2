#include "peapod/image/image_config.h"

#include <nlohmann/json.hpp>

#include "peapod/image/digest.h"

namespace peapod::image {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  if (it->is_string()) return {it->get<std::string>()};  // old Docker configs allow a string
  if (!it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::vector<std::string> Keys(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return out;
  for (auto& [k, v] : it->items()) out.push_back(k);
  return out;
}

}  // namespace

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kInvalidArgument, "image config is not a JSON object");
  ImageConfig c;
  c.os = Str(j, "os");
  c.architecture = Str(j, "architecture");
  c.variant = Str(j, "variant");
  c.created = Str(j, "created");
  c.author = Str(j, "author");
  if (auto it = j.find("config"); it != j.end() && it->is_object()) {
    const json& cfg = *it;
    ContainerDefaults& d = c.defaults;
    d.entrypoint = Strings(cfg, "Entrypoint");
    d.cmd = Strings(cfg, "Cmd");
    d.env = Strings(cfg, "Env");
    d.working_dir = Str(cfg, "WorkingDir");
    d.user = Str(cfg, "User");
    d.stop_signal = Str(cfg, "StopSignal");
    d.exposed_ports = Keys(cfg, "ExposedPorts");
    d.volumes = Keys(cfg, "Volumes");
    if (auto l = cfg.find("Labels"); l != cfg.end() && l->is_object()) {
      for (auto& [k, v] : l->items())
        if (v.is_string()) d.labels[k] = v.get<std::string>();
    }
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object())
    return Fail(ErrorCode::kInvalidArgument, "image config has no rootfs");
  c.diff_ids = Strings(*rootfs, "diff_ids");
  for (const auto& id : c.diff_ids) {
    if (auto st = CheckDigest(id); !st)
      return Fail(ErrorCode::kInvalidArgument, "image config: " + st.error().message);
  }
  return c;
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& id : diff_ids) {
    out.push_back(out.empty() ? id : DigestOf(out.back() + " " + id));
  }
  return out;
}

}  // namespace peapod::image
