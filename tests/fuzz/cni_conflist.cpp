// CNI network configuration files from the node's conf dir (.conflist and single .conf), and the
// stdin the agent builds from them for each plugin.
#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "peapod/cni/config.h"
#include "peapod/cni/invocation.h"

using namespace peapod::cni;

namespace {

void BuildEveryStdin(const NetworkConfigList& list) {
  nlohmann::json caps = {{"portMappings", nlohmann::json::array()}};
  nlohmann::json prev = {{"cniVersion", list.cni_version}, {"interfaces", nlohmann::json::array()}};
  for (const auto& plugin : list.plugins) {
    (void)BuildPluginStdin(list, plugin, caps, prev).dump();
    (void)list.HasCapability(plugin, "portMappings");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = peapod::fuzz::AsText(data, size);
  if (auto list = ParseConfigList(text)) BuildEveryStdin(*list);
  if (auto single = ParseSingleConfig(text)) BuildEveryStdin(*single);
  return 0;
}
