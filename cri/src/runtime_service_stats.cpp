// RuntimeService stats and metrics verbs: ContainerStats, ListContainerStats, PodSandboxStats,
// ListPodSandboxStats, ListMetricDescriptors, ListPodSandboxMetrics.
#include "peapod/agent/agent.h"
#include "peapod/cri/convert_stats.h"
#include "peapod/cri/grpc_status.h"
#include "peapod/cri/runtime_service.h"

namespace peapod::cri {

grpc::Status CriRuntimeService::ContainerStats(Ctx*, const v1::ContainerStatsRequest* req,
                                               v1::ContainerStatsResponse* resp) {
  if (req->container_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "ContainerStats: container_id is empty");
  }
  auto stats = agent_.containers().ContainerStats(req->container_id());
  if (!stats) return ToGrpcStatus(stats.error());
  ToProto(*stats, resp->mutable_stats());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListContainerStats(Ctx*, const v1::ListContainerStatsRequest* req,
                                                   v1::ListContainerStatsResponse* resp) {
  agent::ContainerStatsFilter filter;
  if (req->has_filter()) filter = FromProto(req->filter());
  for (const auto& stats : agent_.containers().ListContainerStats(filter)) {
    ToProto(stats, resp->add_stats());
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::PodSandboxStats(Ctx*, const v1::PodSandboxStatsRequest* req,
                                                v1::PodSandboxStatsResponse* resp) {
  if (req->pod_sandbox_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "PodSandboxStats: pod_sandbox_id is empty");
  }
  auto stats = agent_.sandboxes().PodSandboxStats(req->pod_sandbox_id());
  if (!stats) return ToGrpcStatus(stats.error());
  ToProto(*stats, resp->mutable_stats());
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandboxStats(Ctx*, const v1::ListPodSandboxStatsRequest* req,
                                                    v1::ListPodSandboxStatsResponse* resp) {
  agent::PodSandboxStatsFilter filter;
  if (req->has_filter()) filter = FromProto(req->filter());
  for (const auto& stats : agent_.sandboxes().ListPodSandboxStats(filter)) {
    ToProto(stats, resp->add_stats());
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListMetricDescriptors(Ctx*, const v1::ListMetricDescriptorsRequest*,
                                                      v1::ListMetricDescriptorsResponse* resp) {
  for (const auto& descriptor : agent::MetricDescriptors()) {
    ToProto(descriptor, resp->add_descriptors());
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandboxMetrics(Ctx*, const v1::ListPodSandboxMetricsRequest*,
                                                      v1::ListPodSandboxMetricsResponse* resp) {
  for (const auto& metrics : agent_.sandboxes().ListPodSandboxMetrics()) {
    ToProto(metrics, resp->add_pod_metrics());
  }
  return grpc::Status::OK;
}

}  // namespace peapod::cri
