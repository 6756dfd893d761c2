// RuntimeService container verbs: CreateContainer, StartContainer, StopContainer,
// RemoveContainer, ListContainers, ContainerStatus, UpdateContainerResources.
#include <spdlog/spdlog.h>

#include "peapod/agent/agent.h"
#include "peapod/cri/convert_common.h"
#include "peapod/cri/convert_container.h"
#include "peapod/cri/convert_sandbox.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/runtime_service.h"

namespace peapod::cri {
namespace {

grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

grpc::Status CriRuntimeService::CreateContainer(Ctx*, const v1::CreateContainerRequest* req,
                                                v1::CreateContainerResponse* resp) {
  if (req->pod_sandbox_id().empty()) {
    return InvalidArgument("CreateContainer: pod_sandbox_id is empty");
  }
  if (!req->has_config()) return InvalidArgument("CreateContainer: config is missing");
  if (!req->config().has_metadata()) {
    return InvalidArgument("CreateContainer: config.metadata is missing");
  }
  if (!req->config().has_image())
    return InvalidArgument("CreateContainer: config.image is missing");
  if (req->config().has_windows() && req->config().windows().ByteSizeLong() > 0) {
    return InvalidArgument(
        "CreateContainer: config.windows cannot be honoured: peapod runs Linux containers only");
  }
  auto id = agent_.containers().CreateContainer(req->pod_sandbox_id(), FromProto(req->config()),
                                                FromProto(req->sandbox_config()));
  if (!id) {
    spdlog::warn("CreateContainer {} in sandbox {}: {}", req->config().metadata().name(),
                 req->pod_sandbox_id(), id.error().ToString());
    return ToGrpcStatus(id.error());
  }
  resp->set_container_id(*id);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::StartContainer(Ctx*, const v1::StartContainerRequest* req,
                                               v1::StartContainerResponse*) {
  if (req->container_id().empty()) return InvalidArgument("StartContainer: container_id is empty");
  return ToGrpcStatus(agent_.containers().StartContainer(req->container_id()));
}

grpc::Status CriRuntimeService::StopContainer(Ctx*, const v1::StopContainerRequest* req,
                                              v1::StopContainerResponse*) {
  if (req->container_id().empty()) return InvalidArgument("StopContainer: container_id is empty");
  if (req->timeout() < 0) return InvalidArgument("StopContainer: timeout is negative");
  return ToGrpcStatus(agent_.containers().StopContainer(req->container_id(), req->timeout()));
}

grpc::Status CriRuntimeService::RemoveContainer(Ctx*, const v1::RemoveContainerRequest* req,
                                                v1::RemoveContainerResponse*) {
  if (req->container_id().empty()) return InvalidArgument("RemoveContainer: container_id is empty");
  return ToGrpcStatus(agent_.containers().RemoveContainer(req->container_id()));
}

grpc::Status CriRuntimeService::ListContainers(Ctx*, const v1::ListContainersRequest* req,
                                               v1::ListContainersResponse* resp) {
  agent::ContainerFilter filter;
  if (req->has_filter()) filter = FromProto(req->filter());
  for (const auto& container : agent_.containers().ListContainers(filter)) {
    ToProto(container, resp->add_containers());
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ContainerStatus(Ctx*, const v1::ContainerStatusRequest* req,
                                                v1::ContainerStatusResponse* resp) {
  if (req->container_id().empty()) return InvalidArgument("ContainerStatus: container_id is empty");
  auto status = agent_.containers().ContainerStatus(req->container_id(), req->verbose());
  if (!status) return ToGrpcStatus(status.error());
  ToProto(status->status, resp->mutable_status());
  if (req->verbose()) resp->mutable_info()->insert(status->info.begin(), status->info.end());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::UpdateContainerResources(
    Ctx*, const v1::UpdateContainerResourcesRequest* req, v1::UpdateContainerResourcesResponse*) {
  if (req->container_id().empty()) {
    return InvalidArgument("UpdateContainerResources: container_id is empty");
  }
  // Only Linux limits apply here; a request without them changes nothing, as in containerd.
  if (!req->has_linux()) return grpc::Status::OK;
  return ToGrpcStatus(
      agent_.containers().UpdateContainerResources(req->container_id(), FromProto(req->linux())));
}

}  // namespace peapod::cri
