#include "peapod/cni/default_network.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "peapod/cni/config.h"
#include "peapod/unique_fd.h"

namespace peapod::cni {

using nlohmann::json;

std::string DefaultConflist(const DefaultNetworkOptions& o) {
  json ipam = {{"type", "host-local"},
               {"ranges", json::array({json::array({{{"subnet", o.subnet}}})})},
               {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}};
  if (!o.ipam_data_dir.empty()) ipam["dataDir"] = o.ipam_data_dir;
  json bridge = {{"type", "bridge"},    {"bridge", o.bridge},  {"isGateway", true},
                 {"ipMasq", o.ip_masq}, {"hairpinMode", true}, {"ipam", ipam}};
  json portmap = {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}};
  json list = {{"cniVersion", "1.0.0"},
               {"name", o.network_name},
               {"plugins", json::array({bridge, portmap})}};
  return list.dump(2) + "\n";
}

Result<bool> WriteDefaultConflistIfMissing(const std::string& conf_dir,
                                           const DefaultNetworkOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(conf_dir, ec);
  if (ec) return FailErrno("create CNI config directory " + conf_dir, ec.value());
  auto files = ListConfigFiles(conf_dir);
  if (!files) return std::unexpected(files.error());
  if (!files->empty()) return false;
  std::string path = conf_dir + "/10-peapod.conflist";
  std::string tmp = conf_dir + "/.10-peapod.conflist.tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return FailErrno("create " + tmp);
  std::string text = DefaultConflist(options);
  if (::write(fd.Get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.Get()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FailErrno("write " + tmp, err);
  }
  fd.Reset();
  // link() instead of rename(): a config someone dropped in meanwhile is never replaced.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) return false;
    return FailErrno("install " + path, err);
  }
  ::unlink(tmp.c_str());
  return true;
}

}  // namespace peapod::cni
