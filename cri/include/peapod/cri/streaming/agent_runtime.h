// The streaming server's view of the node, backed by the Agent: exec through the container
// manager, attach to a container's console, and TCP dials inside a pod's network namespace.
#pragma once

#include <memory>

#include "peapod/cri/streaming/server.h"

namespace peapod::agent {
class Agent;
}

namespace peapod::cri::streaming {

std::unique_ptr<StreamingRuntime> MakeAgentStreamingRuntime(agent::Agent& agent);

// Connects to 127.0.0.1:port (then [::1]:port) from inside the network namespace pinned at
// `netns_path` ("" for the host's), from a short-lived thread that alone joins it.
Result<UniqueFd> DialInNetworkNamespace(const std::string& netns_path, uint16_t port);

}  // namespace peapod::cri::streaming
