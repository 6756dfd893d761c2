#include "peapod/agent/config.h"

namespace peapod::agent {

AgentConfig AgentConfig::WithDefaults() const {
  AgentConfig c = *this;
  if (c.cni.cache_dir.empty()) c.cni.cache_dir = c.state_root + "/cni/cache";
  if (c.image.root.empty()) c.image.root = c.state_root + "/image";
  return c;
}

}  // namespace peapod::agent
