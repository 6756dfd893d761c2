#include "peapod/cni/result_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "peapod/atomic_file.h"
#include "peapod/unique_fd.h"

namespace peapod::cni {

namespace {

using nlohmann::json;

constexpr const char* kKind = "peapod-cni-cache";

// Keeps file names safe whatever a caller puts in the id: anything outside [A-Za-z0-9.-]
// becomes '%XX', so '_' only ever separates the parts.
std::string Escape(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

json CacheEntryToJson(const CacheEntry& e) {
  json doc = {{"kind", kKind},      {"containerId", e.container_id},
              {"ifName", e.ifname}, {"networkName", e.network_name},
              {"netns", e.netns},   {"cniArgs", e.cni_args},
              {"config", e.config}, {"capabilityArgs", e.capability_args}};
  if (e.result) doc["result"] = *e.result;
  return doc;
}

Result<CacheEntry> CacheEntryFromJson(const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  // json::value() throws when "kind" is there but not a string: find it and check its type.
  auto kind = doc.is_object() ? doc.find("kind") : doc.end();
  if (kind == doc.end() || !kind->is_string() || kind->get_ref<const std::string&>() != kKind) {
    return Fail(ErrorCode::kInternal, "not a peapod CNI cache entry");
  }
  auto str = [&](const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  CacheEntry e;
  e.container_id = str("containerId");
  e.ifname = str("ifName");
  e.network_name = str("networkName");
  e.netns = str("netns");
  e.cni_args = str("cniArgs");
  if (e.container_id.empty() || e.network_name.empty() || !doc.contains("config") ||
      !doc["config"].is_object()) {
    return Fail(ErrorCode::kInternal, "CNI cache entry lacks containerId, networkName or config");
  }
  e.config = doc["config"];
  e.capability_args = doc.contains("capabilityArgs") ? doc["capabilityArgs"] : json::object();
  if (auto it = doc.find("result"); it != doc.end() && it->is_object()) e.result = *it;
  return e;
}

std::string ResultCache::PathFor(const CacheEntry& entry) const {
  return dir_ + "/" + Escape(entry.container_id) + "_" + Escape(entry.ifname) + "_" +
         Escape(entry.network_name) + ".json";
}

Status ResultCache::Write(const CacheEntry& entry) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return FailErrno("create CNI cache directory " + dir_, ec.value());
  std::string path = PathFor(entry);
  // Crash-safe, not power-loss-safe: after a power loss the entry only matters for releasing
  // the IPAM lease, and the plugins write their lease files without fsync either (as libcni
  // writes its cache). Two fsyncs per pod start were most of RunPodSandbox above the plugins.
  if (auto st = WriteFileAtomically(path, CacheEntryToJson(entry).dump(), 0600,
                                    Durability::kProcessCrash);
      !st) {
    return std::unexpected(std::move(st.error()).Context("write CNI cache"));
  }
  return Ok();
}

Result<std::vector<CacheEntry>> ResultCache::Find(const std::string& container_id,
                                                  const std::string& ifname) const {
  std::vector<CacheEntry> out;
  std::string prefix = Escape(container_id) + "_" + Escape(ifname) + "_";
  DIR* dir = ::opendir(dir_.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return out;
    return FailErrno("open CNI cache directory " + dir_);
  }
  std::vector<std::string> names;
  while (dirent* ent = ::readdir(dir)) {
    std::string name = ent->d_name;
    if (name.starts_with(prefix) && name.ends_with(".json")) names.push_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto entry = CacheEntryFromJson(ss.str());
    if (!entry || entry->container_id != container_id || entry->ifname != ifname) {
      spdlog::warn("cni: ignoring unreadable cache file {}/{}", dir_, name);
      continue;
    }
    out.push_back(std::move(*entry));
  }
  return out;
}

Status ResultCache::Remove(const CacheEntry& entry) const {
  std::string path = PathFor(entry);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return FailErrno("remove CNI cache " + path);
  return Ok();
}

}  // namespace peapod::cni
