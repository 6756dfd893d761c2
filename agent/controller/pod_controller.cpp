// PodController: skeleton (every method exists; filled in by the following commits).
#include "peapod/agent/controller/pod_controller.h"

#include "peapod/agent/agent.h"

namespace peapod::agent::controller {

struct PodController::Impl {
  Impl(Agent& a, ControllerConfig c) : agent(a), config(std::move(c)) {}
  Agent& agent;
  ControllerConfig config;
};

namespace {
std::unexpected<Error> NotYet() { return Fail(ErrorCode::kUnimplemented, "pod controller: not implemented yet"); }
}  // namespace

PodController::PodController(Agent& agent, ControllerConfig config)
    : impl_(std::make_unique<Impl>(agent, std::move(config))) {}
PodController::~PodController() = default;

Status PodController::Start() { return NotYet(); }
Result<ApplyResult> PodController::Apply(const std::vector<ManifestSource>&, bool) { return NotYet(); }
Result<std::vector<DeletedObject>> PodController::DeleteManifests(const std::vector<ManifestSource>&, bool) {
  return NotYet();
}
Status PodController::DeletePod(const std::string&, const std::string&, bool) { return NotYet(); }
std::vector<PodView> PodController::ListPods(const std::string&) { return {}; }
Result<PodView> PodController::GetPod(const std::string&, const std::string&) { return NotYet(); }
Result<std::string> PodController::LogPath(const std::string&, const std::string&, const std::string&, bool) {
  return NotYet();
}
Result<std::string> PodController::ContainerId(const std::string&, const std::string&, const std::string&) {
  return NotYet();
}

}  // namespace peapod::agent::controller
