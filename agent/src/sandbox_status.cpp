// PodSandboxStatus: answered from memory (the exit monitor keeps the state current).
#include "entries.h"
#include "peapod/agent/sandbox_manager.h"

namespace peapod::agent {

Result<PodSandboxStatusResponse> SandboxManager::PodSandboxStatus(const std::string& id,
                                                                   bool verbose) {
  auto found = Lookup(id);
  if (!found) return std::unexpected(std::move(found.error()));
  const SandboxEntry& e = **found;
  PodSandboxStatusResponse response;
  auto& st = response.status;
  st.id = e.id;
  st.metadata = e.config.metadata;
  st.state = e.State();
  st.created_at = e.created_at;
  st.linux.namespaces = e.config.linux.security_context.namespace_options;
  st.labels = e.config.labels;
  st.annotations = e.config.annotations;
  st.runtime_handler = e.runtime_handler;
  {
    std::lock_guard lock(mu_);
    st.network.ip = e.ip;
    for (const auto& ip : e.additional_ips) st.network.additional_ips.push_back({ip});
  }
  if (verbose) {
    response.info["pid"] = std::to_string(e.pause.pid);
    response.info["runDir"] = e.pod_dir;
    response.info["hostNetwork"] = e.host_network ? "true" : "false";
    response.info["netns"] = e.host_network ? "" : e.pod_dir + "/ns/net";
  }
  return response;
}

}  // namespace peapod::agent
