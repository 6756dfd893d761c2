// RuntimeService sandbox verbs: RunPodSandbox, StopPodSandbox, RemovePodSandbox,
// PodSandboxStatus, ListPodSandbox.
#include <spdlog/spdlog.h>

#include <chrono>

#include "peapod/agent/agent.h"
#include "peapod/cri/convert_container.h"
#include "peapod/cri/convert_sandbox.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/runtime_service.h"

namespace peapod::cri {
namespace {

grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

grpc::Status CriRuntimeService::RunPodSandbox(Ctx*, const v1::RunPodSandboxRequest* req,
                                              v1::RunPodSandboxResponse* resp) {
  // Checked here as well as in the manager: an absent message must not reach it as "empty".
  if (!req->has_config()) return InvalidArgument("RunPodSandbox: config is missing");
  if (!req->config().has_metadata()) {
    return InvalidArgument("RunPodSandbox: config.metadata is missing");
  }
  if (!KnownRuntimeHandler(req->runtime_handler())) {
    return InvalidArgument("RunPodSandbox: runtime handler \"" + req->runtime_handler() +
                           "\" is not configured");
  }
  // Not carried into the agent's structs: nothing of it could be applied on Linux.
  if (req->config().has_windows() && req->config().windows().ByteSizeLong() > 0) {
    return InvalidArgument(
        "RunPodSandbox: config.windows cannot be honoured: peapod runs Linux pods only");
  }
  // The manager reserves the name+attempt before any side effect (ALREADY_EXISTS for a twin).
  auto id = agent_.sandboxes().RunPodSandbox(FromProto(req->config()), req->runtime_handler());
  if (!id) {
    spdlog::warn("RunPodSandbox {}/{}: {}", req->config().metadata().namespace_(),
                 req->config().metadata().name(), id.error().ToString());
    return ToGrpcStatus(id.error());
  }
  resp->set_pod_sandbox_id(*id);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::StopPodSandbox(Ctx*, const v1::StopPodSandboxRequest* req,
                                               v1::StopPodSandboxResponse*) {
  if (req->pod_sandbox_id().empty())
    return InvalidArgument("StopPodSandbox: pod_sandbox_id is empty");
  return ToGrpcStatus(agent_.sandboxes().StopPodSandbox(req->pod_sandbox_id()));
}

grpc::Status CriRuntimeService::RemovePodSandbox(Ctx*, const v1::RemovePodSandboxRequest* req,
                                                 v1::RemovePodSandboxResponse*) {
  if (req->pod_sandbox_id().empty()) {
    return InvalidArgument("RemovePodSandbox: pod_sandbox_id is empty");
  }
  return ToGrpcStatus(agent_.sandboxes().RemovePodSandbox(req->pod_sandbox_id()));
}

grpc::Status CriRuntimeService::PodSandboxStatus(Ctx*, const v1::PodSandboxStatusRequest* req,
                                                 v1::PodSandboxStatusResponse* resp) {
  if (req->pod_sandbox_id().empty()) {
    return InvalidArgument("PodSandboxStatus: pod_sandbox_id is empty");
  }
  auto status = agent_.sandboxes().PodSandboxStatus(req->pod_sandbox_id(), req->verbose());
  if (!status) return ToGrpcStatus(status.error());
  ToProto(status->status, resp->mutable_status());
  if (req->verbose()) resp->mutable_info()->insert(status->info.begin(), status->info.end());
  // As containerd: the pod's container statuses ride along, which kubelet's evented PLEG reads.
  for (const auto& id : agent_.containers().ContainersOf(status->status.id)) {
    if (auto c = agent_.containers().ContainerStatus(id)) {
      ToProto(c->status, resp->add_containers_statuses());
    }
  }
  resp->set_timestamp(NowNs());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::UpdatePodSandboxResources(
    Ctx*, const v1::UpdatePodSandboxResourcesRequest* req, v1::UpdatePodSandboxResourcesResponse*) {
  if (req->pod_sandbox_id().empty()) {
    return InvalidArgument("UpdatePodSandboxResources: pod_sandbox_id is empty");
  }
  std::optional<agent::LinuxContainerResources> overhead, resources;
  if (req->has_overhead()) overhead = FromProto(req->overhead());
  if (req->has_resources()) resources = FromProto(req->resources());
  return ToGrpcStatus(
      agent_.sandboxes().UpdatePodSandboxResources(req->pod_sandbox_id(), overhead, resources));
}

grpc::Status CriRuntimeService::ListPodSandbox(Ctx*, const v1::ListPodSandboxRequest* req,
                                               v1::ListPodSandboxResponse* resp) {
  agent::PodSandboxFilter filter;
  if (req->has_filter()) filter = FromProto(req->filter());
  for (const auto& sandbox : agent_.sandboxes().ListPodSandbox(filter)) {
    ToProto(sandbox, resp->add_items());
  }
  return grpc::Status::OK;
}

}  // namespace peapod::cri
