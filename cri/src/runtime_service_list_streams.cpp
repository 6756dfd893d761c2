// The Stream* twins of the RuntimeService List* verbs (KEP-5825, kubelet's CRIListStreaming):
// each runs its List* verb with the same filter and writes the answer in batches, so a node with
// more containers than fit in one 16 MiB message can still be listed.
#include "peapod/cri/list_stream.h"
#include "peapod/cri/runtime_service.h"

namespace peapod::cri {

grpc::Status CriRuntimeService::StreamPodSandboxes(
    Ctx* ctx, const v1::StreamPodSandboxesRequest* req,
    grpc::ServerWriter<v1::StreamPodSandboxesResponse>* writer) {
  v1::ListPodSandboxRequest list_req;
  if (req->has_filter()) *list_req.mutable_filter() = req->filter();
  v1::ListPodSandboxResponse list;
  if (auto s = ListPodSandbox(ctx, &list_req, &list); !s.ok()) return s;
  return WriteInBatches(list.mutable_items(), writer,
                        &v1::StreamPodSandboxesResponse::mutable_pod_sandboxes);
}

grpc::Status CriRuntimeService::StreamContainers(
    Ctx* ctx, const v1::StreamContainersRequest* req,
    grpc::ServerWriter<v1::StreamContainersResponse>* writer) {
  v1::ListContainersRequest list_req;
  if (req->has_filter()) *list_req.mutable_filter() = req->filter();
  v1::ListContainersResponse list;
  if (auto s = ListContainers(ctx, &list_req, &list); !s.ok()) return s;
  return WriteInBatches(list.mutable_containers(), writer,
                        &v1::StreamContainersResponse::mutable_containers);
}

grpc::Status CriRuntimeService::StreamContainerStats(
    Ctx* ctx, const v1::StreamContainerStatsRequest* req,
    grpc::ServerWriter<v1::StreamContainerStatsResponse>* writer) {
  v1::ListContainerStatsRequest list_req;
  if (req->has_filter()) *list_req.mutable_filter() = req->filter();
  v1::ListContainerStatsResponse list;
  if (auto s = ListContainerStats(ctx, &list_req, &list); !s.ok()) return s;
  return WriteInBatches(list.mutable_stats(), writer,
                        &v1::StreamContainerStatsResponse::mutable_container_stats);
}

grpc::Status CriRuntimeService::StreamPodSandboxStats(
    Ctx* ctx, const v1::StreamPodSandboxStatsRequest* req,
    grpc::ServerWriter<v1::StreamPodSandboxStatsResponse>* writer) {
  v1::ListPodSandboxStatsRequest list_req;
  if (req->has_filter()) *list_req.mutable_filter() = req->filter();
  v1::ListPodSandboxStatsResponse list;
  if (auto s = ListPodSandboxStats(ctx, &list_req, &list); !s.ok()) return s;
  return WriteInBatches(list.mutable_stats(), writer,
                        &v1::StreamPodSandboxStatsResponse::mutable_pod_sandbox_stats);
}

grpc::Status CriRuntimeService::StreamPodSandboxMetrics(
    Ctx* ctx, const v1::StreamPodSandboxMetricsRequest*,
    grpc::ServerWriter<v1::StreamPodSandboxMetricsResponse>* writer) {
  v1::ListPodSandboxMetricsRequest list_req;
  v1::ListPodSandboxMetricsResponse list;
  if (auto s = ListPodSandboxMetrics(ctx, &list_req, &list); !s.ok()) return s;
  return WriteInBatches(list.mutable_pod_metrics(), writer,
                        &v1::StreamPodSandboxMetricsResponse::mutable_pod_sandbox_metrics);
}

}  // namespace peapod::cri
